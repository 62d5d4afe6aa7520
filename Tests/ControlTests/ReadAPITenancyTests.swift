import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Tenancy of checks, metrics, incidents, status pages and maintenance windows (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct ReadAPITenancyTests {
    @Test("user B gets 404 on every one of user A's ids and cannot attach A's monitors")
    func strangerIsRefused() async throws {
        try await ControlHarness.withApplication { api in
            let (alice, _) = try await api.register()
            let (bob, _) = try await api.register()
            let monitor = try #require(try await api.createMonitor(alice, ["name": "alice's"]).int64("id"))
            let bobsMonitor = try #require(try await api.createMonitor(bob).int64("id"))
            try api.sql(
                "INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms) VALUES (gen_random_uuid(), $1::int8, now(), 'UP', 1)",
                [String(monitor)]
            )
            try api.insertMetric(monitorId: monitor, bucket: "minute", start: rfc3339(Date()), count: 1, up: 1)
            let incident = try api.insertIncident(monitorId: monitor, startedAt: "now() - interval '1 minute'")
            let page = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: alice,
                json: ["title": "A", "slug": "alice", "monitorIds": [monitor]]
            )
            let pageId = try #require(page.object.int64("id"))
            let window = try await api.request(
                .post,
                "/api/v1/maintenance-windows",
                token: alice,
                json: ["monitorIds": [monitor], "startsAt": rfc3339(Date()), "endsAt": rfc3339(Date() + 3_600)]
            )
            let windowId = try #require(window.object.int64("id"))

            let pageBody: [String: Any] = ["title": "B", "slug": "bob-takes-over", "monitorIds": [bobsMonitor]]
            let windowBody: [String: Any] = [
                "monitorIds": [bobsMonitor], "startsAt": rfc3339(Date()), "endsAt": rfc3339(Date() + 60),
            ]
            let attempts: [(HTTPRequest.Method, String, [String: Any]?)] = [
                (.get, "/api/v1/monitors/\(monitor)/checks", nil),
                (.get, "/api/v1/monitors/\(monitor)/metrics?bucket=minute", nil),
                (.get, "/api/v1/monitors/\(monitor)/uptime", nil),
                (.get, "/api/v1/incidents/\(incident)", nil),
                (.patch, "/api/v1/incidents/\(incident)", ["notes": "mine now"]),
                (.post, "/api/v1/incidents/\(incident)/acknowledge", nil),
                (.get, "/api/v1/status-pages/\(pageId)", nil),
                (.put, "/api/v1/status-pages/\(pageId)", pageBody),
                (.patch, "/api/v1/status-pages/\(pageId)", ["title": "B"]),
                (.delete, "/api/v1/status-pages/\(pageId)", nil),
                (.get, "/api/v1/maintenance-windows/\(windowId)", nil),
                (.put, "/api/v1/maintenance-windows/\(windowId)", windowBody),
                (.patch, "/api/v1/maintenance-windows/\(windowId)", ["name": "B"]),
                (.delete, "/api/v1/maintenance-windows/\(windowId)", nil),
            ]
            for (method, path, body) in attempts {
                let response = try await api.request(method, path, token: bob, json: body)
                #expect(response.status == .notFound, "\(method) \(path) answered \(response.status)")
                #expect(response.errorCode == "not_found", "\(method) \(path): \(response.text)")
            }
            // Lists show none of A's things, even when filtered by A's monitor.
            #expect(try await api.request(.get, "/api/v1/incidents", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/incidents?monitorId=\(monitor)", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/status-pages", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/maintenance-windows", token: bob).items.isEmpty)

            // A's monitors cannot be attached by reference, on create or on change of B's own.
            let stolenPage = try await api.request(
                .post,
                "/api/v1/status-pages",
                token: bob,
                json: ["title": "B", "slug": "bob", "monitorIds": [bobsMonitor, monitor]]
            )
            #expect(stolenPage.status == .badRequest && stolenPage.errorField == "monitorIds[1]")
            let stolenWindow = try await api.request(
                .post,
                "/api/v1/maintenance-windows",
                token: bob,
                json: ["monitorIds": [monitor], "startsAt": rfc3339(Date()), "endsAt": rfc3339(Date() + 60)]
            )
            #expect(stolenWindow.status == .badRequest && stolenWindow.errorField == "monitorIds[0]")
            let bobsPage = try await api.request(.post, "/api/v1/status-pages", token: bob, json: pageBody)
            let bobsPageId = try #require(bobsPage.object.int64("id"))
            let patched = try await api.request(
                .patch,
                "/api/v1/status-pages/\(bobsPageId)",
                token: bob,
                json: ["monitorIds": [monitor]]
            )
            #expect(patched.status == .badRequest && patched.errorField == "monitorIds[0]")
            let bobsWindow = try await api.request(.post, "/api/v1/maintenance-windows", token: bob, json: windowBody)
            let bobsWindowId = try #require(bobsWindow.object.int64("id"))
            let patchedWindow = try await api.request(
                .patch,
                "/api/v1/maintenance-windows/\(bobsWindowId)",
                token: bob,
                json: ["monitorIds": [monitor]]
            )
            #expect(patchedWindow.status == .badRequest && patchedWindow.errorField == "monitorIds[0]")
            #expect(
                try api.count(
                    "SELECT count(*) FROM status_page_monitors WHERE monitor_id = $1::int8",
                    [String(monitor)]
                ) == 1
            )
            #expect(
                try api.count(
                    "SELECT count(*) FROM maintenance_window_monitors WHERE monitor_id = $1::int8",
                    [String(monitor)]
                ) == 1
            )

            // A's things are as A left them.
            let aliceIncident = try await api.getObject("/api/v1/incidents/\(incident)", token: alice)
            #expect(aliceIncident["acknowledgedAt"] is NSNull && aliceIncident["notes"] is NSNull)
            #expect(try await api.getObject("/api/v1/status-pages/\(pageId)", token: alice)["title"] as? String == "A")
            #expect(try await api.request(.get, "/api/v1/maintenance-windows/\(windowId)", token: alice).status == .ok)
            #expect(try await api.request(.get, "/api/v1/monitors/\(monitor)/checks", token: alice).items.count == 1)

            // And without a token, nothing but the public page.
            for path in [
                "/api/v1/incidents", "/api/v1/status-pages", "/api/v1/maintenance-windows",
                "/api/v1/monitors/\(monitor)/uptime",
            ] {
                #expect(try await api.request(.get, path).status == .unauthorized, "\(path)")
            }
            #expect(try await api.request(.get, "/api/v1/public/status-pages/alice").status == .ok)
        }
    }
}
