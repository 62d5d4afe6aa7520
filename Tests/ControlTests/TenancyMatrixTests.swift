import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Tenancy: user B against everything of user A (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct TenancyMatrixTests {
    @Test(
        "user B gets 404 on every one of user A's ids — monitors, checks, incidents, channels, status pages, maintenance windows, API keys — and cannot reach them by reference"
    )
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
            let channel = try await api.request(
                .post,
                "/api/v1/notification-channels",
                token: alice,
                json: ["type": "email", "name": "alice mail", "config": ["to": "alice@example.com"]]
            )
            let channelId = try #require((channel.object["channel"] as? [String: Any])?.int64("id"))
            let key = try await api.request(.post, "/api/v1/api-keys", token: alice, json: ["name": "alice ci"])
            let keyId = try #require((key.object["apiKey"] as? [String: Any])?.int64("id"))

            let pageBody: [String: Any] = ["title": "B", "slug": "bob-takes-over", "monitorIds": [bobsMonitor]]
            let windowBody: [String: Any] = [
                "monitorIds": [bobsMonitor], "startsAt": rfc3339(Date()), "endsAt": rfc3339(Date() + 60),
            ]
            let attempts: [(HTTPRequest.Method, String, [String: Any]?)] = [
                (.get, "/api/v1/monitors/\(monitor)", nil),
                (.put, "/api/v1/monitors/\(monitor)", ["url": "http://127.0.0.1:9/mine"]),
                (.patch, "/api/v1/monitors/\(monitor)", ["name": "mine now"]),
                (.post, "/api/v1/monitors/\(monitor)/pause", nil),
                (.post, "/api/v1/monitors/\(monitor)/resume", nil),
                (.post, "/api/v1/monitors/\(monitor)/check", nil),
                (.delete, "/api/v1/monitors/\(monitor)", nil),
                (.get, "/api/v1/notification-channels/\(channelId)", nil),
                (
                    .put, "/api/v1/notification-channels/\(channelId)",
                    ["type": "email", "config": ["to": "bob@example.com"]]
                ),
                (.patch, "/api/v1/notification-channels/\(channelId)", ["name": "mine"]),
                (.post, "/api/v1/notification-channels/\(channelId)/test", nil),
                (.delete, "/api/v1/notification-channels/\(channelId)", nil),
                (.delete, "/api/v1/api-keys/\(keyId)", nil),
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
            #expect(try await api.request(.get, "/api/v1/monitors", token: bob).items.count == 1, "only B's own")
            #expect(try await api.request(.get, "/api/v1/notification-channels", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/api-keys", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/incidents", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/incidents?monitorId=\(monitor)", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/status-pages", token: bob).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/maintenance-windows", token: bob).items.isEmpty)

            // A's channel cannot be attached to B's monitors, on create, change or bulk import.
            let stolenChannel = try await api.request(
                .post, "/api/v1/monitors", token: bob,
                json: ["url": "http://127.0.0.1:9/b", "notificationChannelIds": [channelId]])
            #expect(stolenChannel.status == .badRequest && stolenChannel.errorField == "notificationChannelIds")
            let patchedChannel = try await api.request(
                .patch, "/api/v1/monitors/\(bobsMonitor)", token: bob, json: ["notificationChannelIds": [channelId]])
            #expect(patchedChannel.status == .badRequest && patchedChannel.errorField == "notificationChannelIds")
            let bulk = try await api.request(
                .post, "/api/v1/monitors/bulk", token: bob,
                json: ["monitors": [["url": "http://127.0.0.1:9/c", "notificationChannelIds": [channelId]]]])
            #expect(bulk.status == .badRequest)
            #expect(try api.count("SELECT count(*) FROM monitor_notification_channels") == 0)
            // Naming an owner in a body is refused, never obeyed.
            for (path, body) in [
                ("/api/v1/monitors", ["url": "http://127.0.0.1:9/d", "ownerId": 1] as [String: Any]),
                ("/api/v1/status-pages", ["title": "x", "slug": "x-owner", "monitorIds": [Int64](), "userId": 1]),
                ("/api/v1/notification-channels", ["type": "email", "config": ["to": "x@example.com"], "ownerId": 1]),
            ] {
                let response = try await api.request(.post, path, token: bob, json: body)
                #expect(response.status == .badRequest, "\(path): \(response.text)")
                #expect(["ownerId", "userId"].contains(response.errorField ?? ""), "\(path): \(response.text)")
            }

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
            let aliceMonitor = try await api.getObject("/api/v1/monitors/\(monitor)", token: alice)
            #expect(aliceMonitor["name"] as? String == "alice's" && aliceMonitor["paused"] as? Bool == false)
            #expect(
                try await api.request(.get, "/api/v1/notification-channels/\(channelId)", token: alice).status == .ok)
            let aliceKeys = try await api.request(.get, "/api/v1/api-keys", token: alice).items
            #expect(aliceKeys.count == 1 && aliceKeys.first?["revokedAt"] == nil)
            let aliceIncident = try await api.getObject("/api/v1/incidents/\(incident)", token: alice)
            #expect(aliceIncident["acknowledgedAt"] is NSNull && aliceIncident["notes"] is NSNull)
            #expect(try await api.getObject("/api/v1/status-pages/\(pageId)", token: alice)["title"] as? String == "A")
            #expect(try await api.request(.get, "/api/v1/maintenance-windows/\(windowId)", token: alice).status == .ok)
            #expect(try await api.request(.get, "/api/v1/monitors/\(monitor)/checks", token: alice).items.count == 1)

            // And without a token, nothing but the public page.
            for path in [
                "/api/v1/incidents", "/api/v1/status-pages", "/api/v1/maintenance-windows",
                "/api/v1/monitors/\(monitor)/uptime", "/api/v1/monitors", "/api/v1/notification-channels",
                "/api/v1/api-keys",
            ] {
                #expect(try await api.request(.get, path).status == .unauthorized, "\(path)")
            }
            #expect(try await api.request(.get, "/api/v1/public/status-pages/alice").status == .ok)
        }
    }
}
