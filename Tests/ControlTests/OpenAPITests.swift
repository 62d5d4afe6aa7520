import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import LookoutControl

/// The OpenAPI document is a contract: served as kept in the repository, listing exactly the
/// router's routes, and true to what each route answers, malformed input included.
@Suite(
    "The OpenAPI document: served, complete, and true to the API (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct OpenAPITests {
    @Test("GET /openapi.json serves the repository's document: JSON, OpenAPI 3.1, cacheable with an ETag")
    func served() async throws {
        let file = try Array(Data(contentsOf: OpenAPIDocument.repositoryURL))
        try await ControlHarness.withApplication { api in
            let response = try await api.request(.get, "/openapi.json")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.body == file, "the served document is not the repository's (rebuild?)")
            let document = try OpenAPIDocument(bytes: response.body)
            let version = try #require(document.root["openapi"] as? String)
            #expect(version.hasPrefix("3.1."))
            #expect(document.root["webhooks"] is [String: Any])
            #expect(response.headers[.cacheControl] == OpenAPIController.cacheControl)
            let tag = try #require(response.headers[.eTag])
            #expect(tag.hasPrefix("\"") && tag.count > 2)

            let revalidated = try await api.request(.get, "/openapi.json", headers: [.ifNoneMatch: tag])
            #expect(revalidated.status == .notModified)
            #expect(revalidated.body.isEmpty)
            #expect(revalidated.headers[.eTag] == tag)
            let changed = try await api.request(.get, "/openapi.json", headers: [.ifNoneMatch: "\"other\""])
            #expect(changed.status == .ok)
        }
    }

    @Test("every route of the router is documented, and every documented operation is a route")
    func routesAreDocumented() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication { api in
            let router = ControlApplication.makeRouter(api.dependencies)
            let all = router.routes.map { "\($0.method.rawValue) \($0.path)" }
            // The HTML pages (dashboard, its files, public status pages) are not the API: exactly
            // the routes WebController names are left out, and none of them is under /api.
            #expect(Set(WebController.routes).isSubset(of: Set(all)), "WebController.routes is out of date: \(all)")
            #expect(WebController.routes.allSatisfy { !$0.contains(" /api/") && $0.hasPrefix("GET ") })
            let routed = all.filter { !WebController.routes.contains($0) }
            let documented = document.operations.map(\.description)
            #expect(Set(routed).count == routed.count)
            #expect(Set(documented).count == documented.count)
            let routes = Set(routed.map(Self.normalised))
            let operations = Set(documented.map(Self.normalised))
            #expect(routes.subtracting(operations).isEmpty, "routes missing from the document")
            #expect(operations.subtracting(routes).isEmpty, "documented operations the router does not have")
            // Parameter names too: a path parameter is documented under the name the handler reads.
            #expect(Set(routed) == Set(documented))
            #expect(routes.contains("GET /api/v1/monitors/{}"))
        }
    }

    @Test("every documented operation answers a minimal valid request as documented")
    func everyOperationAnswers() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            let operations = document.operations.sorted {
                (Self.phase($0.method), $0.path) < (Self.phase($1.method), $1.path)
            }
            for operation in operations {
                let response = try await api.request(
                    try Self.method(operation),
                    fixtures.fill(operation.path),
                    token: operation.isPublic ? nil : fixtures.token,
                    json: fixtures.body(for: operation)
                )
                let problems = Self.problems(response, operation, document)
                #expect(problems.isEmpty, "\(operation) answered \(response.status.code) \(response.text.prefix(300))")
                let expected = Self.expectedStatus[operation.operationId]
                if let expected {
                    #expect(response.status.code == expected, "\(operation): \(response.text.prefix(300))")
                } else {
                    #expect((200..<300).contains(response.status.code), "\(operation): \(response.text.prefix(300))")
                }
            }
        }
    }

    @Test("documented query parameters are accepted with valid values, and refused with a 400 naming them")
    func queryParameters() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            for operation in document.operations where operation.method == "GET" {
                let queries = document.parameters(of: operation).filter { $0["in"] as? String == "query" }
                guard !queries.isEmpty else { continue }
                let path = fixtures.fill(operation.path)
                let valid = queries.compactMap { parameter -> String? in
                    guard let name = parameter["name"] as? String, let value = Self.validValue(parameter) else {
                        return nil
                    }
                    return "\(name)=\(queryValue(value))"
                }
                let accepted = try await api.request(
                    .get,
                    path + "?" + valid.joined(separator: "&"),
                    token: fixtures.token
                )
                #expect(accepted.status == .ok, "\(operation) ?\(valid): \(accepted.text.prefix(300))")
                #expect(Self.problems(accepted, operation, document).isEmpty, "\(operation) ?\(valid)")

                for parameter in queries {
                    let name = try #require(parameter["name"] as? String)
                    for value in Self.invalidValues(parameter) {
                        let refused = try await api.request(
                            .get,
                            path + "?\(name)=\(queryValue(value))",
                            token: fixtures.token
                        )
                        #expect(refused.status == .badRequest, "\(operation) ?\(name)=\(value): \(refused.text)")
                        #expect(refused.errorField == name, "\(operation) ?\(name)=\(value): \(refused.text)")
                        #expect(Self.problems(refused, operation, document).isEmpty, "\(operation) ?\(name)=\(value)")
                    }
                }
            }
        }
    }

    @Test("a routed path asked with a method it does not answer is a 405 with Allow; an unknown path a 404")
    func wrongMethodIsNotAllowed() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.post, "/api/v1/monitors/\(monitorId)", "DELETE, GET, PATCH, PUT"),
                (.delete, "/api/v1/monitors", "GET, POST"),
                (.get, "/api/v1/monitors/\(monitorId)/pause", "POST"),
                (.put, "/health", "GET"),
            ]
            for (method, path, allow) in cases {
                let response = try await api.request(method, path, token: token)
                #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.status)")
                #expect(response.headers[.allow] == allow, "\(method) \(path)")
                #expect(response.errorCode == "method_not_allowed")
            }
            for path in ["/api/v1/nowhere", "/api/v1/monitors/\(monitorId)/pause/extra", "/api"] {
                let response = try await api.request(.get, path, token: token)
                #expect(response.status == .notFound, "\(path): \(response.status)")
                #expect(response.errorCode == "not_found")
            }
        }
    }

    @Test("path ids: not a positive integer is a 400 naming the parameter, an unknown one a 404")
    func pathParameters() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            for operation in document.operations where operation.path.contains("{") {
                let method = try Self.method(operation)
                let token = operation.isPublic ? nil : fixtures.token
                let json = fixtures.body(for: operation)
                if operation.path.contains("{id}") {
                    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999"] {
                        let path = fixtures.fill(operation.path.replacingOccurrences(of: "{id}", with: bad))
                        let response = try await api.request(method, path, token: token, json: json)
                        #expect(response.status == .badRequest, "\(operation) with id \(bad): \(response.text)")
                        #expect(response.errorCode == "invalid_id" && response.errorField == "id", "\(operation)")
                        #expect(Self.problems(response, operation, document).isEmpty, "\(operation) with id \(bad)")
                    }
                }
                let unknown = fixtures.fill(
                    operation.path.replacingOccurrences(of: "{id}", with: "987654321")
                        .replacingOccurrences(of: "{slug}", with: "no-such-page")
                )
                let response = try await api.request(method, unknown, token: token, json: json)
                #expect(response.status == .notFound, "\(operation) at \(unknown): \(response.text)")
                #expect(Self.problems(response, operation, document).isEmpty, "\(operation) at \(unknown)")
            }
        }
    }

    @Test("security as documented: no token is a 401 except on public routes, a read-only key cannot write")
    func security() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            let key = try await api.request(
                .post,
                "/api/v1/api-keys",
                token: fixtures.token,
                json: ["name": "read only", "scopes": ["read"]]
            )
            let readOnly = try #require(key.object["secret"] as? String)
            for operation in document.operations {
                let method = try Self.method(operation)
                let path = fixtures.fill(operation.path)
                let anonymous = try await api.request(method, path, json: fixtures.body(for: operation))
                if operation.isPublic {
                    #expect(anonymous.status != .unauthorized, "\(operation) is documented as public")
                    continue
                }
                #expect(anonymous.status == .unauthorized, "\(operation) without a token: \(anonymous.text)")
                #expect(anonymous.errorCode == "unauthenticated")
                #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
                #expect(Self.problems(anonymous, operation, document).isEmpty, "\(operation) without a token")
                guard operation.method != "GET" else { continue }
                let reader = try await api.request(method, path, token: readOnly, json: fixtures.body(for: operation))
                #expect(reader.status == .forbidden, "\(operation) with a read-only key: \(reader.text)")
                #expect(Self.problems(reader, operation, document).isEmpty, "\(operation) with a read-only key")
            }
        }
    }

    @Test("malformed bodies are documented 4xx with the error body, never a 5xx")
    func malformedBodies() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            let limits = api.dependencies.configuration.http
            for operation in document.operations {
                guard let schema = operation.requestBody?["schema"] as? [String: Any] else { continue }
                let example = try #require(
                    fixtures.body(for: operation) as? [String: Any],
                    "\(operation) documents no example body"
                )
                let method = try Self.method(operation)
                let path = fixtures.fill(operation.path)
                let token = operation.isPublic ? nil : fixtures.token
                func send(_ label: String, json: Any? = nil, raw: [UInt8]? = nil) async throws -> APIResponse {
                    let response = try await api.request(method, path, token: token, json: json, raw: raw)
                    #expect(
                        (400..<500).contains(response.status.code),
                        "\(operation) with \(label): \(response.status.code) \(response.text.prefix(300))"
                    )
                    #expect(Self.problems(response, operation, document).isEmpty, "\(operation) with \(label)")
                    return response
                }

                #expect(
                    try await send("broken JSON", raw: Array(#"{"broken": "#.utf8)).errorCode == "malformed_request"
                )
                #expect(try await send("no body", raw: []).errorCode == "malformed_request")
                #expect(try await send("an array", json: [example]).errorCode == "malformed_request")
                #expect(try await send("a string", json: "text").errorCode == "malformed_request")
                for key in ["notAField", "ownerId", "userId"] {
                    var body = example
                    body[key] = 1
                    let response = try await send("the unknown field \(key)", json: body)
                    #expect(
                        response.status == .badRequest && response.errorField == key,
                        "\(operation): \(response.text)"
                    )
                }
                for (property, propertySchema) in document.properties(of: schema).sorted(by: { $0.key < $1.key }) {
                    let wrong = Self.wrongValue(for: document.types(of: propertySchema))
                    var body = example
                    body[property] = wrong
                    let response = try await send("\(property): \(wrong)", json: body)
                    #expect(response.status == .badRequest, "\(operation) \(property): \(response.text)")
                    #expect(Self.names(response.errorField, property), "\(operation) \(property): \(response.text)")
                }
                let limit = operation.path.hasSuffix("/bulk") ? limits.maxBulkBodyBytes : limits.maxBodyBytes
                let oversized =
                    Array(#"{"name": ""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: limit) + [34, 125]
                #expect(try await send("\(oversized.count) bytes", raw: oversized).status == .contentTooLarge)

                // Bulk items are read like single monitors: every refusal names its item.
                guard operation.operationId == "createMonitorsInBulk",
                    let items = document.properties(of: schema)["monitors"]?["items"] as? [String: Any]
                else { continue }
                let item = try #require((example["monitors"] as? [[String: Any]])?.first)
                let notObject = try await send("an item that is not an object", json: ["monitors": [5]])
                #expect(Self.itemErrors(notObject).first?.int64("index") == 0)
                for (property, propertySchema) in document.properties(of: items).sorted(by: { $0.key < $1.key }) {
                    var broken = item
                    broken[property] = Self.wrongValue(for: document.types(of: propertySchema))
                    let response = try await send(
                        "monitors[0].\(property) of a wrong type",
                        json: ["monitors": [broken]]
                    )
                    let first = Self.itemErrors(response).first
                    #expect(first?.int64("index") == 0, "\(property): \(response.text)")
                    #expect(Self.names(first?["field"] as? String, property), "\(property): \(response.text)")
                }
            }
        }
    }

    @Test("text holding U+0000, and cursors at the ends of time, are refused with a 4xx, never a 5xx")
    func hostileInput() async throws {
        let document = try OpenAPIDocument.repository()
        try await ControlHarness.withApplication(configure: Self.generousLimits) { api in
            let fixtures = try await Fixtures.make(api)
            var serverErrors: [String] = []
            for operation in document.operations {
                guard let schema = operation.requestBody?["schema"] as? [String: Any],
                    let example = fixtures.body(for: operation) as? [String: Any]
                else { continue }
                for (property, propertySchema) in document.properties(of: schema).sorted(by: { $0.key < $1.key })
                where document.types(of: propertySchema).contains("string") {
                    var body = example
                    body[property] = "a\u{0}b"
                    let response = try await api.request(
                        try Self.method(operation),
                        fixtures.fill(operation.path),
                        token: operation.isPublic ? nil : fixtures.token,
                        json: body
                    )
                    if response.status.code >= 500 { serverErrors.append("\(operation.operationId) \(property)") }
                }
            }
            let monitor = "/api/v1/monitors/\(fixtures.monitorId)"
            let zeroUUID = "00000000-0000-0000-0000-000000000000"
            let queries: [(label: String, path: String)] = [
                ("listMonitors q", "/api/v1/monitors?q=a%00b"),
                ("listChecks cursor max", "\(monitor)/checks?cursor=\(Cursor.encode("\(Int64.max)~\(zeroUUID)"))"),
                ("listChecks cursor min", "\(monitor)/checks?cursor=\(Cursor.encode("\(Int64.min)~\(zeroUUID)"))"),
                ("listIncidents cursor max", "/api/v1/incidents?cursor=\(Cursor.encode("\(Int64.max)~1"))"),
                ("listIncidents cursor min", "/api/v1/incidents?cursor=\(Cursor.encode("\(Int64.min)~1"))"),
            ]
            for (label, path) in queries {
                let response = try await api.request(.get, path, token: fixtures.token)
                if response.status.code >= 500 { serverErrors.append(label) }
            }
            // PostgreSQL's text and jsonb cannot hold U+0000 and a forged cursor's time would
            // overflow timestamp arithmetic: both must be refused before the database, as 400s.
            #expect(serverErrors.isEmpty, "5xx answers: \(serverErrors.sorted())")
        }
    }

    // MARK: helpers

    /// Budgets large enough for a sweep of hundreds of requests from one client.
    static func generousLimits(_ configuration: inout ControlConfiguration) {
        configuration.rateLimits.registrationsPerIP = 10_000
        configuration.rateLimits.loginsPerIP = 10_000
        configuration.rateLimits.loginsPerEmail = 10_000
        configuration.rateLimits.requestsPerToken = 100_000
    }

    /// Statuses other than 2xx that a minimal valid request gets in this test, and why.
    static let expectedStatus: [String: Int] = [
        // No engine runs in these tests, so nobody can take the request: 503, as documented.
        "checkMonitorNow": 503
    ]

    /// Reads first, then actions and creations, then changes, deletions last.
    static func phase(_ method: String) -> Int {
        ["GET": 0, "POST": 1, "PATCH": 2, "PUT": 3, "DELETE": 4][method] ?? 5
    }

    static func method(_ operation: OpenAPIDocument.Operation) throws -> HTTPRequest.Method {
        try #require(HTTPRequest.Method(operation.method))
    }

    /// `/api/v1/monitors/{id}` → `/api/v1/monitors/{}`.
    static func normalised(_ route: String) -> String {
        route.replacingOccurrences(of: #"\{[^}]*\}"#, with: "{}", options: .regularExpression)
    }

    /// Whether an error's `field` names `property` (itself, or one of its parts).
    static func names(_ field: String?, _ property: String) -> Bool {
        guard let field else { return false }
        return field == property || field.hasPrefix(property + ".") || field.hasPrefix(property + "[")
    }

    static func itemErrors(_ response: APIResponse) -> [[String: Any]] {
        ((response.object["error"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
    }

    /// A JSON value of none of `types`.
    static func wrongValue(for types: Set<String>) -> Any {
        if !types.contains("object") { return ["wrong": true] }
        if !types.contains("array") { return [true] }
        if !types.contains("boolean") { return true }
        return "wrong"
    }

    /// A value the parameter's schema allows (nil: leave the parameter out).
    static func validValue(_ parameter: [String: Any]) -> String? {
        let name = parameter["name"] as? String
        let schema = parameter["schema"] as? [String: Any] ?? [:]
        if name == "cursor" { return nil }
        if let items = schema["items"] as? [String: Any], let first = (items["enum"] as? [String])?.first {
            return first
        }
        if let first = (schema["enum"] as? [String])?.first { return first }
        switch schema["type"] as? String {
        case "boolean": return "false"
        case "integer": return String((schema["minimum"] as? NSNumber)?.intValue ?? 1)
        case "string" where schema["format"] as? String == "date-time":
            return rfc3339(Date().addingTimeInterval(name == "to" ? 0 : -3_600))
        default: return "a"
        }
    }

    /// Values the parameter's schema refuses.
    static func invalidValues(_ parameter: [String: Any]) -> [String] {
        let schema = parameter["schema"] as? [String: Any] ?? [:]
        var values: [String] = []
        if schema["enum"] != nil || schema["items"] != nil { values.append("no-such-value") }
        switch schema["type"] as? String {
        case "boolean": values.append("maybe")
        case "integer":
            values += ["abc", "1.5"]
            if let minimum = (schema["minimum"] as? NSNumber)?.intValue { values.append(String(minimum - 1)) }
            if let maximum = (schema["maximum"] as? NSNumber)?.intValue { values.append(String(maximum + 1)) }
        case "string" where schema["format"] as? String == "date-time":
            values += ["yesterday", "2026-13-01T00:00:00Z"]
        default: break
        }
        if ((schema["minLength"] as? NSNumber)?.intValue ?? 0) > 0 { values.append("") }
        if let maximum = (schema["maxLength"] as? NSNumber)?.intValue {
            values.append(String(repeating: "a", count: maximum + 1))
        }
        if parameter["name"] as? String == "cursor" { values += ["!!!", "bm90IGEgY3Vyc29y"] }
        return values
    }

    /// How `response` departs from what the document says `operation` answers (empty: it does not).
    static func problems(
        _ response: APIResponse,
        _ operation: OpenAPIDocument.Operation,
        _ document: OpenAPIDocument
    ) -> [String] {
        let status = Int(response.status.code)
        guard operation.statuses.contains(status) else {
            return ["status \(status) is not documented (\(operation.statuses.sorted()))"]
        }
        guard let (mediaType, schema) = document.response(of: operation, status: status) else {
            return response.body.isEmpty ? [] : ["a body where the document says none"]
        }
        let contentType = response.headers[.contentType] ?? ""
        guard contentType.hasPrefix(mediaType) else { return ["Content-Type \(contentType), not \(mediaType)"] }
        guard mediaType == "application/json" else { return [] }
        guard let json = response.json else { return ["the body is not JSON"] }
        return document.problems(json, against: schema)
    }
}

/// What the documented paths need: an account and one of each resource, with their ids.
struct Fixtures: Sendable {
    var email: String
    var password: String
    var token: String
    var monitorId: Int64
    var channelId: Int64
    var incidentId: Int64
    var statusPageId: Int64
    var slug: String
    var windowId: Int64
    var apiKeyId: Int64

    /// Where the fixture channel's webhooks go: nothing listens there, so a test message is
    /// attempted (and refused) at once.
    static let localHook = "http://127.0.0.1:9/hook"

    static func make(_ api: APIClient) async throws -> Fixtures {
        let email = "docs-\(UInt32.random(in: 0...UInt32.max))@example.com"
        let password = "correct horse"
        let (token, _) = try await api.register(email, password: password)
        func created(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
            let response = try await api.request(.post, path, token: token, json: body)
            try #require(response.status == .created, "POST \(path): \(response.text)")
            return response.object
        }
        let channel = try await created(
            "/api/v1/notification-channels",
            ["type": "webhook", "name": "local", "config": ["url": localHook]]
        )
        let channelId = try #require((channel["channel"] as? [String: Any])?.int64("id"))
        let monitorId = try #require(
            try await api.createMonitor(token, ["name": "docs", "notificationChannelIds": [channelId]]).int64("id")
        )
        try api.sql("SELECT lookout_create_check_partitions((now() AT TIME ZONE 'UTC')::date - 1, 3)")
        try api.sql(
            """
            INSERT INTO checks (check_id, monitor_id, checked_at, status, http_status, total_ms, error_code, error_message)
            VALUES (gen_random_uuid(), $1::int8, now() - interval '2 minutes', 'DOWN', 503, 12.5, 'HTTP_STATUS', 'status 503')
            """,
            [String(monitorId)]
        )
        let now = Date().timeIntervalSince1970
        for (bucket, seconds) in [("minute", 60.0), ("hour", 3_600), ("day", 86_400)] {
            let start = Date(timeIntervalSince1970: (now / seconds).rounded(.down) * seconds - seconds)
            try api.insertMetric(monitorId: monitorId, bucket: bucket, start: rfc3339(start), count: 4, up: 3)
        }
        let incidentId = try api.insertIncident(monitorId: monitorId, startedAt: "now() - interval '1 hour'")
        let slug = "docs-\(UInt32.random(in: 0...UInt32.max))"
        let page = try await created(
            "/api/v1/status-pages",
            ["title": "Docs", "slug": slug, "monitorIds": [monitorId]]
        )
        let window = try await created(
            "/api/v1/maintenance-windows",
            [
                "name": "docs", "monitorIds": [monitorId], "startsAt": rfc3339(Date().addingTimeInterval(-3_600)),
                "endsAt": rfc3339(Date().addingTimeInterval(3_600)),
            ]
        )
        let key = try await created("/api/v1/api-keys", ["name": "docs", "scopes": ["read", "write"]])
        return Fixtures(
            email: email,
            password: password,
            token: token,
            monitorId: monitorId,
            channelId: channelId,
            incidentId: incidentId,
            statusPageId: try #require(page.int64("id")),
            slug: slug,
            windowId: try #require(window.int64("id")),
            apiKeyId: try #require((key["apiKey"] as? [String: Any])?.int64("id"))
        )
    }

    /// The path with its parameters filled in with the fixtures' ids.
    func fill(_ template: String) -> String {
        let ids: [(prefix: String, id: Int64)] = [
            ("/api/v1/api-keys/", apiKeyId), ("/api/v1/monitors/", monitorId), ("/api/v1/incidents/", incidentId),
            ("/api/v1/status-pages/", statusPageId), ("/api/v1/notification-channels/", channelId),
            ("/api/v1/maintenance-windows/", windowId),
        ]
        var path = template.replacingOccurrences(of: "{slug}", with: slug)
        if let match = ids.first(where: { template.hasPrefix($0.prefix) }) {
            path = path.replacingOccurrences(of: "{id}", with: String(match.id))
        }
        return path
    }

    /// The documented example body, adjusted where it must fit these fixtures.
    func body(for operation: OpenAPIDocument.Operation) -> Any? {
        guard var body = operation.requestExample else { return nil }
        switch operation.operationId {
        case "login":
            body = ["email": email, "password": password]
        case "replaceStatusPage":
            // The example's slug belongs to the page that createStatusPage made.
            body["slug"] = slug
        case "replaceNotificationChannel":
            body["config"] = ["url": Self.localHook]
        default:
            break
        }
        return body
    }
}
