import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Status pages, private and public (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct StatusPageTests {
    @Test("create, list, read, replace, change and delete; monitorIds keep their order")
    func crud() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let first = try #require(try await api.createMonitor(token, ["name": "web"]).int64("id"))
            let second = try #require(try await api.createMonitor(token, ["name": "api"]).int64("id"))
            let created = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: token,
                json: ["title": "  Acme status ", "slug": "acme", "monitorIds": [second, first]]
            )
            #expect(created.status == .created)
            let id = try #require(created.object.int64("id"))
            #expect(created.object["title"] as? String == "Acme status")
            #expect(created.object["published"] as? Bool == true)
            #expect(created.object["description"] is NSNull)
            #expect((created.object["monitorIds"] as? [NSNumber])?.map(\.int64Value) == [second, first])

            let list = try await api.request(.get, "/api/v1/status-pages", token: token)
            #expect(list.items.compactMap { $0.int64("id") } == [id])

            let replaced = try await api.request(
                .put,
                "/api/v1/status-pages/\(id)",
                token: token,
                json: ["title": "Acme", "slug": "acme-2", "description": "All systems", "monitorIds": [first]]
            )
            #expect(replaced.status == .ok)
            #expect(replaced.object["slug"] as? String == "acme-2")
            #expect((replaced.object["monitorIds"] as? [NSNumber])?.map(\.int64Value) == [first])

            let changed = try await api.request(
                .patch,
                "/api/v1/status-pages/\(id)",
                token: token,
                json: ["published": false]
            )
            #expect(changed.object["published"] as? Bool == false)
            #expect(changed.object["description"] as? String == "All systems")
            #expect((changed.object["monitorIds"] as? [NSNumber])?.map(\.int64Value) == [first])
            let reordered = try await api.request(
                .patch,
                "/api/v1/status-pages/\(id)",
                token: token,
                json: ["monitorIds": [second, first], "description": NSNull()]
            )
            #expect((reordered.object["monitorIds"] as? [NSNumber])?.map(\.int64Value) == [second, first])
            #expect(reordered.object["description"] is NSNull)

            #expect(try await api.request(.delete, "/api/v1/status-pages/\(id)", token: token).status == .noContent)
            #expect(try await api.request(.get, "/api/v1/status-pages/\(id)", token: token).status == .notFound)
            #expect(try await api.request(.delete, "/api/v1/status-pages/\(id)", token: token).status == .notFound)
        }
    }

    @Test("slugs are unique across users (409 on slug), validated, and bodies refuse unknown and owner fields")
    func validation() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let (otherToken, _) = try await api.register()
            let page = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: token,
                json: ["title": "A", "slug": "shared"]
            )
            #expect(page.status == .created)
            let taken = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: otherToken,
                json: ["title": "B", "slug": "shared"]
            )
            #expect(taken.status == .conflict)
            #expect(taken.errorField == "slug")
            let mine = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: otherToken,
                json: ["title": "B", "slug": "mine"]
            )
            let mineId = try #require(mine.object.int64("id"))
            let renamed = try await api.request(
                .patch,
                "/api/v1/status-pages/\(mineId)",
                token: otherToken,
                json: ["slug": "shared"]
            )
            #expect(renamed.status == .conflict && renamed.errorField == "slug")

            let cases: [([String: Any], String)] = [
                (["title": "x", "slug": "-starts-with-dash"], "slug"),
                (["title": "x", "slug": "Upper"], "slug"),
                (["title": "x", "slug": String(repeating: "a", count: 64)], "slug"),
                (["title": "x", "slug": "has space"], "slug"),
                (["title": "x"], "slug"),
                (["title": "", "slug": "ok"], "title"),
                (["title": "x", "slug": "ok", "published": "yes"], "published"),
                (["title": "x", "slug": "ok", "theme": "dark"], "theme"),
                (["title": "x", "slug": "ok", "ownerId": 1], "ownerId"),
                (["title": "x", "slug": "ok", "userId": 1], "userId"),
                (["title": "x", "slug": "ok", "id": 5], "id"),
                (["title": "x", "slug": "ok", "monitorIds": [0]], "monitorIds[0]"),
                (["title": "x", "slug": "ok", "monitorIds": [987_654]], "monitorIds[0]"),
                (["title": "x", "slug": "ok", "monitorIds": "1"], "monitorIds"),
            ]
            for (body, field) in cases {
                let response = try await api.request(.post, "/api/v1/status-pages", token: token, json: body)
                #expect(response.status == .badRequest, "\(body) answered \(response.status)")
                #expect(response.errorField == field, "\(body): \(response.text)")
            }
            #expect(
                try await api.request(.post, "/api/v1/status-pages", token: token, raw: Array("{".utf8)).status
                    == .badRequest
            )
            let longest = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: token,
                json: ["title": "x", "slug": "0" + String(repeating: "a-", count: 31)]
            )
            #expect(longest.status == .created, "\(longest.text)")
        }
    }

    @Test("the public page shows names, states, 90 days and incidents, and nothing private; ETag and 304")
    func publicPage() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let named = try #require(
                try await api.createMonitor(token, ["name": "Public API", "url": "http://127.0.0.1:9/secret-path"])
                    .int64("id")
            )
            let unnamed = try #require(
                try await api.createMonitor(token, ["url": "http://127.0.0.1:9/internal-admin"]).int64("id")
            )
            let paused = try #require(
                try await api.createMonitor(token, ["name": "Batch", "paused": true]).int64("id")
            )
            try api.sql(
                """
                INSERT INTO monitor_states (monitor_id, state, changed_at)
                VALUES ($1::int8, 'UP', now()), ($2::int8, 'DOWN', now()), ($3::int8, 'UP', now())
                """,
                [String(named), String(unnamed), String(paused)]
            )
            // Day rollups 5 and 4 days ago; the dates as the page writes them.
            let days = try #require(
                try api.sql(
                    """
                    WITH d AS (SELECT date_trunc('day', now(), 'UTC') AS d),
                    ins AS (
                        INSERT INTO metrics (monitor_id, bucket, bucket_start, count, up_count)
                        SELECT $1::int8, 'day', d.d - k * interval '24 hours', 100, 100 - (k - 4) FROM d, (VALUES (5), (4)) AS v(k)
                        RETURNING bucket_start)
                    SELECT string_agg(to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), ',' ORDER BY bucket_start) FROM ins
                    """,
                    [String(named)]
                )
            ).split(separator: ",").map(String.init)
            _ = try api.insertIncident(
                monitorId: unnamed,
                startedAt: "now() - interval '1 hour'",
                message: "password=hunter2"
            )
            _ = try api.insertIncident(
                monitorId: unnamed,
                startedAt: "now() - interval '100 days'",
                resolvedAt: "now() - interval '99 days'"
            )
            let created = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: token,
                json: [
                    "title": "Acme", "slug": "acme-status", "description": "Our services",
                    "monitorIds": [named, unnamed, paused],
                ]
            )
            let pageId = try #require(created.object.int64("id"))

            let response = try await api.request(.get, "/api/v1/public/status-pages/acme-status")
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "public, max-age=30")
            let etag = try #require(response.headers[.eTag])
            let page = response.object
            #expect(page["title"] as? String == "Acme")
            #expect(page["description"] as? String == "Our services")
            #expect(page["status"] as? String == "degraded")
            let monitors = try #require(page["monitors"] as? [[String: Any]])
            #expect(monitors.map { $0["name"] as? String } == ["Public API", "Monitor 2", "Batch"])
            #expect(monitors.map { $0["status"] as? String } == ["UP", "DOWN", "PAUSED"])
            #expect(monitors[0]["uptime90d"] as? Double == 199.0 / 200.0)
            #expect(monitors[1]["uptime90d"] is NSNull)
            let series = try #require(monitors[0]["days"] as? [[String: Any]])
            #expect(series.count == 90)
            let dates = series.compactMap { $0["date"] as? String }
            #expect(dates == dates.sorted() && Set(dates).count == 90)
            #expect(series.first { $0["date"] as? String == days[0] }?["uptime"] as? Double == 0.99)
            #expect(series.first { $0["date"] as? String == days[1] }?["uptime"] as? Double == 1.0)
            #expect(series.filter { !($0["uptime"] is NSNull) }.count == 2)
            let incidents = try #require(page["incidents"] as? [[String: Any]])
            #expect(incidents.count == 1)
            #expect(incidents.first?["monitorName"] as? String == "Monitor 2")
            #expect(incidents.first?["causeStatus"] as? String == "DOWN")
            #expect(incidents.first?["resolvedAt"] is NSNull)
            #expect(
                Set(incidents.first?.keys.map { $0 } ?? []) == [
                    "startedAt", "resolvedAt", "monitorName", "causeStatus",
                ]
            )

            // Nothing private: no URL, no error text, no id of any kind.
            for secret in ["127.0.0.1", "http", "secret-path", "internal-admin", "hunter2", "CONNECT_FAILED"] {
                #expect(!response.text.contains(secret), "the public page reveals \(secret)")
            }
            #expect(
                Self.keys(in: response.json).isDisjoint(with: [
                    "id", "monitorId", "ownerId", "userId", "url", "slug", "causeMessage", "httpStatus", "causeCode",
                ])
            )

            let cached = try await api.request(
                .get,
                "/api/v1/public/status-pages/acme-status",
                headers: [.ifNoneMatch: etag]
            )
            #expect(cached.status == .notModified)
            #expect(cached.body.isEmpty)
            #expect(cached.headers[.eTag] == etag)
            let weak = try await api.request(
                .get,
                "/api/v1/public/status-pages/acme-status",
                headers: [.ifNoneMatch: "\"x\", W/\(etag)"]
            )
            #expect(weak.status == .notModified)
            let stale = try await api.request(
                .get,
                "/api/v1/public/status-pages/acme-status",
                headers: [.ifNoneMatch: "\"x\""]
            )
            #expect(stale.status == .ok)

            _ = try await api.request(
                .patch,
                "/api/v1/status-pages/\(pageId)",
                token: token,
                json: ["title": "Acme Inc."]
            )
            let retitled = try await api.request(
                .get,
                "/api/v1/public/status-pages/acme-status",
                headers: [.ifNoneMatch: etag]
            )
            #expect(retitled.status == .ok)
            #expect(retitled.headers[.eTag] != etag)

            _ = try await api.request(
                .patch,
                "/api/v1/status-pages/\(pageId)",
                token: token,
                json: ["published": false]
            )
            #expect(try await api.request(.get, "/api/v1/public/status-pages/acme-status").status == .notFound)
            #expect(try await api.request(.get, "/api/v1/public/status-pages/no-such-page").status == .notFound)
            #expect(try await api.request(.get, "/api/v1/public/status-pages/NOT_A_SLUG").status == .notFound)

            // An empty page is "unknown".
            _ = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: token,
                json: ["title": "Empty", "slug": "empty"]
            )
            let empty = try await api.request(.get, "/api/v1/public/status-pages/empty")
            #expect(empty.object["status"] as? String == "unknown")
        }
    }

    /// Every key of every object in a JSON value.
    static func keys(in value: Any?) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(keys(in: $1.value)) }
        }
        if let array = value as? [Any] { return array.reduce(into: Set<String>()) { $0.formUnion(keys(in: $1)) } }
        return []
    }
}
