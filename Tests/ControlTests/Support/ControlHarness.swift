import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import LookoutCore
import LookoutTestSupport
import NIOCore
import Testing

@testable import LookoutControl

/// Runs the real control plane for a test: a fresh PostgreSQL schema (migrated by the same code
/// as production), a Redis prefix of its own, and the application's router (in memory, `.router`)
/// or a live server on a free port (`.live`). Dropped afterwards, whatever happens.
enum ControlHarness {
    /// Whether the suites that need PostgreSQL and Redis can run (always true under CI, where a
    /// missing service is a failure).
    static var enabled: Bool { TestDatabase.enabled && RedisTest.shouldRun }
    static let skipReason: Comment =
        "PostgreSQL or Redis not configured (scripts/test sets DATABASE_URL and REDIS_URL; with CI set this fails)"

    /// A configuration for tests: loopback, fast bcrypt, private targets allowed unless a test
    /// says otherwise.
    static func configuration(schema: TestSchema) throws -> ControlConfiguration {
        var configuration = ControlConfiguration(
            databaseURL: schema.url,
            redis: try RedisTest.endpoint(),
            cluster: try ClusterContract(prefix: RedisTest.uniquePrefix("control")),
            instanceId: "test-\(UInt32.random(in: 0...UInt32.max))"
        )
        configuration.http.port = 0
        configuration.auth.bcryptCost = 10
        configuration.notifications.allowPrivateTargets = true
        configuration.incidents.rollupsEnabled = false
        return configuration
    }

    static let logger: Logger = {
        var logger = Logger(label: "lookout-control-test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["LOOKOUT_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }()

    /// Builds the application on a fresh schema and runs `body` with a client.
    static func withApplication<Value: Sendable>(
        _ setup: TestingSetup = .router,
        configure: (inout ControlConfiguration) -> Void = { _ in },
        _ body: @Sendable (APIClient) async throws -> Value
    ) async throws -> Value {
        let schema = try TestSchema()
        defer { schema.drop() }
        var configuration = try configuration(schema: schema)
        configure(&configuration)
        let dependencies = try await ControlApplication.makeDependencies(configuration: configuration, logger: logger)
        let application = ControlApplication.makeApplication(dependencies)
        return try await application.test(setup) { client in
            try await body(APIClient(client: client, schema: schema, dependencies: dependencies))
        }
    }
}

/// A JSON response as a test reads it.
struct APIResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: [UInt8]

    /// The body parsed as JSON (nil when empty or not JSON).
    var json: Any? {
        body.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }
    /// The body as a JSON object (empty when it is not one).
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    /// `error.code` of an error body.
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    /// `error.field` of an error body.
    var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A test's view of the API: JSON in, JSON out, with a bearer token when given.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let schema: TestSchema
    let dependencies: ControlApplication.Dependencies

    @discardableResult
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String? = nil,
        json: Any? = nil,
        raw: [UInt8]? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed])
            body = ByteBuffer(bytes: data)
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(bytes: raw)
            headers[.contentType] = "application/json"
        }
        return try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
            APIResponse(
                status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    /// Registers a new user; returns its session token and id.
    func register(
        _ email: String = "user-\(UInt32.random(in: 0...UInt32.max))@example.com", password: String = "correct horse"
    )
        async throws -> (token: String, userId: Int64)
    {
        let response = try await request(
            .post, "/api/v1/auth/register", json: ["email": email, "password": password, "name": "Test"])
        try #require(response.status == .created, "register answered \(response.status): \(response.text)")
        let token = try #require(response.object["token"] as? String)
        let user = try #require(response.object["user"] as? [String: Any])
        let id = try #require((user["id"] as? NSNumber)?.int64Value)
        return (token, id)
    }

    /// Creates a monitor and returns its JSON.
    func createMonitor(_ token: String, _ fields: [String: Any] = [:]) async throws -> [String: Any] {
        var body: [String: Any] = ["url": "http://127.0.0.1:9/health", "intervalSeconds": 60]
        for (key, value) in fields { body[key] = value }
        let response = try await request(.post, "/api/v1/monitors", token: token, json: body)
        try #require(response.status == .created, "create monitor answered \(response.status): \(response.text)")
        return response.object
    }
}

extension Dictionary where Key == String, Value == Any {
    /// An integer field (ids).
    func int64(_ key: String) -> Int64? { (self[key] as? NSNumber)?.int64Value }
}
