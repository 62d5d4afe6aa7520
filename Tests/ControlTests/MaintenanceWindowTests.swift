import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Maintenance windows (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct MaintenanceWindowTests {
    @Test("CRUD with `active` for one-off and weekly windows; bad windows are 400s naming the field")
    func crudAndActive() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let now = Date()
            let hour: TimeInterval = 3_600
            let week: TimeInterval = 7 * 86_400
            func create(_ name: String, _ start: Date, _ end: Date, _ rule: String) async throws -> [String: Any] {
                let response = try await api.request(
                    .post,
                    "/api/v1/maintenance-windows",
                    token: token,
                    json: [
                        "name": name, "monitorIds": [monitorId], "startsAt": rfc3339(start), "endsAt": rfc3339(end),
                        "repeat": rule,
                    ]
                )
                try #require(response.status == .created, "\(response.text)")
                return response.object
            }
            let current = try await create("now", now - hour, now + hour, "none")
            let future = try await create("later", now + hour, now + 2 * hour, "none")
            let past = try await create("earlier", now - 2 * hour, now - hour, "none")
            // Started a week and an hour ago for two hours: its second occurrence is on now.
            let weeklyOn = try await create("weekly on", now - week - hour, now - week + hour, "weekly")
            // Its occurrences cover [−1 h 59 min ... −1 min] around now each week: off now.
            let weeklyOff = try await create("weekly off", now - week - 2 * hour, now - week - 60, "weekly")
            #expect(current["active"] as? Bool == true)
            #expect(future["active"] as? Bool == false)
            #expect(past["active"] as? Bool == false)
            #expect(weeklyOn["active"] as? Bool == true)
            #expect(weeklyOff["active"] as? Bool == false)
            #expect(weeklyOn["repeat"] as? String == "weekly")
            #expect((current["monitorIds"] as? [NSNumber])?.map(\.int64Value) == [monitorId])
            let id = try #require(current.int64("id"))

            let list = try await api.request(.get, "/api/v1/maintenance-windows?limit=2", token: token)
            #expect(list.items.count == 2)
            let rest = try await api.request(
                .get,
                "/api/v1/maintenance-windows?cursor=\(try #require(list.nextCursor))",
                token: token
            )
            #expect(rest.items.count == 3 && rest.nextCursor == nil)

            let renamed = try await api.request(
                .patch,
                "/api/v1/maintenance-windows/\(id)",
                token: token,
                json: ["name": "db upgrade"]
            )
            #expect(renamed.object["name"] as? String == "db upgrade")
            #expect(renamed.object["startsAt"] as? String == current["startsAt"] as? String)
            #expect(renamed.object["active"] as? Bool == true)
            let moved = try await api.request(
                .put,
                "/api/v1/maintenance-windows/\(id)",
                token: token,
                json: ["startsAt": rfc3339(now + hour), "endsAt": rfc3339(now + 3 * hour)]
            )
            #expect(moved.object["active"] as? Bool == false)
            #expect(moved.object["name"] as? String == "")
            #expect(moved.object["repeat"] as? String == "none")
            #expect((moved.object["monitorIds"] as? [Any])?.isEmpty == true)
            let tooLongForWeekly = try await api.request(
                .patch,
                "/api/v1/maintenance-windows/\(id)",
                token: token,
                json: ["endsAt": rfc3339(now + 9 * 86_400), "repeat": "weekly"]
            )
            #expect(tooLongForWeekly.errorField == "endsAt")

            let start = rfc3339(now)
            let cases: [([String: Any], String)] = [
                (["endsAt": start], "startsAt"),
                (["startsAt": start], "endsAt"),
                (["startsAt": start, "endsAt": start], "endsAt"),
                (["startsAt": start, "endsAt": rfc3339(now - 60)], "endsAt"),
                (["startsAt": start, "endsAt": rfc3339(now + week + 1), "repeat": "weekly"], "endsAt"),
                (["startsAt": start, "endsAt": rfc3339(now + 60), "repeat": "daily"], "repeat"),
                (["startsAt": "tomorrow", "endsAt": rfc3339(now + 60)], "startsAt"),
                (
                    ["startsAt": start, "endsAt": rfc3339(now + 60), "monitorIds": [monitorId + 10_000]],
                    "monitorIds[0]"
                ),
                (["startsAt": start, "endsAt": rfc3339(now + 60), "ownerId": 1], "ownerId"),
                (["startsAt": start, "endsAt": rfc3339(now + 60), "active": true], "active"),
            ]
            for (body, field) in cases {
                let response = try await api.request(.post, "/api/v1/maintenance-windows", token: token, json: body)
                #expect(response.status == .badRequest, "\(body) answered \(response.status)")
                #expect(response.errorField == field, "\(body): \(response.text)")
            }
            // Exactly a week is allowed for a weekly window.
            let fullWeek = try await api.request(
                .post,
                "/api/v1/maintenance-windows",
                token: token,
                json: ["startsAt": start, "endsAt": rfc3339(now + week), "repeat": "weekly"]
            )
            #expect(fullWeek.status == .created)

            #expect(
                try await api.request(.delete, "/api/v1/maintenance-windows/\(id)", token: token).status == .noContent
            )
            #expect(try await api.request(.get, "/api/v1/maintenance-windows/\(id)", token: token).status == .notFound)
        }
    }

    @Test(
        "isInMaintenance and activeMonitorIds answer for one-off and weekly windows at any time, in a transaction too"
    )
    func inMaintenance() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let (strangerToken, _) = try await api.register()
            let weekly = try #require(try await api.createMonitor(token).int64("id"))
            let oneOff = try #require(try await api.createMonitor(token).int64("id"))
            let uncovered = try #require(try await api.createMonitor(token).int64("id"))
            let strangers = try #require(try await api.createMonitor(strangerToken).int64("id"))
            let start = try #require(RFC3339Date.parse("2026-01-05T10:00:00Z"))
            let hour: TimeInterval = 3_600
            let week: TimeInterval = 7 * 86_400
            for (monitor, end, rule) in [(weekly, start + 2 * hour, "weekly"), (oneOff, start + hour, "none")] {
                let response = try await api.request(
                    .post,
                    "/api/v1/maintenance-windows",
                    token: token,
                    json: ["monitorIds": [monitor], "startsAt": rfc3339(start), "endsAt": rfc3339(end), "repeat": rule]
                )
                try #require(response.status == .created, "\(response.text)")
            }
            // A window row that links a stranger's monitor (never possible through the API) is ignored.
            try api.sql(
                """
                WITH w AS (
                    INSERT INTO maintenance_windows (owner_id, starts_at, ends_at)
                    SELECT owner_id, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z' FROM monitors WHERE id = $1::int8
                    RETURNING id)
                INSERT INTO maintenance_window_monitors (window_id, monitor_id) SELECT w.id, $2::int8 FROM w
                """,
                [String(weekly), String(strangers)]
            )
            let repository = MaintenanceWindowRepository(database: api.dependencies.database)
            let expectations: [(Int64, TimeInterval, Bool)] = [
                (weekly, -1, false),
                (weekly, 0, true),
                (weekly, 2 * hour - 1, true),
                (weekly, 2 * hour, false),
                (weekly, 14 * 86_400 + 30 * 60, true),
                (weekly, 14 * 86_400 + 3 * hour, false),
                (weekly, 52 * week + hour, true),
                (weekly, 52 * week - 1, false),
                (oneOff, 30 * 60, true),
                (oneOff, hour, false),
                (oneOff, week + 30 * 60, false),
                (uncovered, 30 * 60, false),
                (strangers, 30 * 60, false),
            ]
            for (monitor, offset, expected) in expectations {
                let at = start + offset
                #expect(
                    try await repository.isInMaintenance(monitorId: monitor, at: at) == expected,
                    "monitor \(monitor) at +\(offset) s"
                )
                let inTransaction = try await api.dependencies.database.transaction { transaction in
                    try await transaction.isInMaintenance(monitorId: monitor, at: at)
                }
                #expect(inTransaction == expected, "monitor \(monitor) at +\(offset) s, in a transaction")
            }
            let all = [weekly, oneOff, uncovered, strangers]
            #expect(try await repository.activeMonitorIds(among: all, at: start + 30 * 60) == [weekly, oneOff])
            #expect(try await repository.activeMonitorIds(among: all, at: start + week + 30 * 60) == [weekly])
            let inTransaction = try await api.dependencies.database.transaction { transaction in
                try await transaction.activeMonitorIds(among: all, at: start + 5 * hour)
            }
            #expect(inTransaction.isEmpty)
        }
    }
}
