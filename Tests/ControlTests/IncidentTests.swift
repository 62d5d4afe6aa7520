import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite("Incidents API (real PostgreSQL and Redis)", .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct IncidentTests {
    @Test("list newest first with state and monitor filters, page by page; read one with its duration")
    func listAndFilters() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let (strangerToken, _) = try await api.register()
            let first = try #require(try await api.createMonitor(token, ["name": "first"]).int64("id"))
            let second = try #require(try await api.createMonitor(token, ["name": "second"]).int64("id"))
            let third = try #require(try await api.createMonitor(token, ["name": "third"]).int64("id"))
            let strangers = try #require(try await api.createMonitor(strangerToken).int64("id"))
            // One statement, one now(): `tie` starts at the same instant as `resolved`.
            let ids = try #require(
                try api.sql(
                    """
                    WITH rows (monitor_id, started_at, resolved_at, cause_status) AS (VALUES
                        ($1::int8, now() - interval '3 hours', now() - interval '2 hours', 'DOWN'),
                        ($2::int8, now() - interval '10 minutes', NULL, 'TIMEOUT'),
                        ($1::int8, now() - interval '1 day', now() - interval '1 day' + interval '90 seconds', 'ERROR'),
                        ($3::int8, now() - interval '3 hours', now() - interval '1 hour', 'DOWN'),
                        ($4::int8, now() - interval '5 minutes', NULL, 'DOWN'))
                    , inserted AS (
                        INSERT INTO incidents (monitor_id, started_at, resolved_at, cause_status, cause_message, http_status)
                        SELECT monitor_id, started_at, resolved_at, cause_status, 'status 503', 503 FROM rows
                        RETURNING id, monitor_id, started_at)
                    SELECT string_agg(id::text, ',' ORDER BY monitor_id, started_at) FROM inserted
                    """,
                    [String(first), String(second), String(third), String(strangers)]
                )
            ).split(separator: ",").compactMap { Int64($0) }
            // By (monitor, start): first's day-old one, first's 3-hour-old one, second's, third's, the stranger's.
            let (old, resolved, open, tie) = (ids[0], ids[1], ids[2], ids[3])
            let newestFirst = [open] + [resolved, tie].sorted(by: >) + [old]

            let all = try await api.request(.get, "/api/v1/incidents", token: token)
            #expect(all.items.compactMap { $0.int64("id") } == newestFirst)
            var walked: [Int64] = []
            var cursor: String?
            repeat {
                let page = try await api.request(
                    .get,
                    "/api/v1/incidents?limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""),
                    token: token
                )
                walked += page.items.compactMap { $0.int64("id") }
                cursor = page.nextCursor
            } while cursor != nil && walked.count < 10
            #expect(walked == newestFirst)

            let openOnly = try await api.request(.get, "/api/v1/incidents?state=open", token: token)
            #expect(openOnly.items.compactMap { $0.int64("id") } == [open])
            let resolvedOnly = try await api.request(.get, "/api/v1/incidents?state=resolved", token: token)
            #expect(resolvedOnly.items.compactMap { $0.int64("id") } == [resolved, tie].sorted(by: >) + [old])
            let byMonitor = try await api.request(.get, "/api/v1/incidents?monitorId=\(first)", token: token)
            #expect(byMonitor.items.compactMap { $0.int64("id") } == [resolved, old])
            let byStrangersMonitor = try await api.request(
                .get,
                "/api/v1/incidents?monitorId=\(strangers)",
                token: token
            )
            #expect(byStrangersMonitor.status == .ok && byStrangersMonitor.items.isEmpty)

            let one = try await api.getObject("/api/v1/incidents/\(resolved)", token: token)
            #expect(one.int64("monitorId") == first)
            #expect(one["monitorName"] as? String == "first")
            #expect(one["state"] as? String == "resolved")
            #expect(one["durationSeconds"] as? Double == 3_600)
            #expect(one["causeStatus"] as? String == "DOWN")
            #expect(one["causeMessage"] as? String == "status 503")
            #expect(one.int64("httpStatus") == 503)
            for key in ["resolvedAt", "startedAt", "acknowledgedAt", "notes", "causeCode"] {
                #expect(one.keys.contains(key), "\(key) missing")
            }
            let running = try await api.getObject("/api/v1/incidents/\(open)", token: token)
            #expect(running["resolvedAt"] is NSNull)
            let duration = try #require(running["durationSeconds"] as? Double)
            #expect(duration >= 600 && duration < 900, "open for about 10 minutes, not \(duration)")

            for (query, field) in [("state=closed", "state"), ("monitorId=x", "monitorId"), ("cursor=bad", "cursor")] {
                let response = try await api.request(.get, "/api/v1/incidents?" + query, token: token)
                #expect(response.status == .badRequest)
                #expect(response.errorField == field)
            }
        }
    }

    @Test("an incident opened before its confirming check was written shows that check's HTTP status")
    func httpStatusFromTheConfirmingCheck() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token, ["name": "late row"]).int64("id"))
            let checkId = UUID().uuidString.lowercased()
            let incidentId = try #require(
                try api.sql(
                    """
                    INSERT INTO incidents (monitor_id, started_at, cause_status, cause_code, first_check_id)
                    VALUES ($1::int8, now() - interval '2 minutes', 'DOWN', 'status_mismatch', $2::uuid) RETURNING id
                    """,
                    [String(monitorId), checkId]
                ).flatMap { Int64($0) })
            let before = try await api.getObject("/api/v1/incidents/\(incidentId)", token: token)
            #expect(before["httpStatus"] is NSNull, "no check row yet: \(before)")
            // The engine's batch lands: an earlier failure of the streak, then the confirming check.
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, http_status, total_ms, error_code)
                VALUES (gen_random_uuid(), $1::int8, now() - interval '2 minutes', 'DOWN', 500, 3, 'status_mismatch'),
                       ($2::uuid, $1::int8, now() - interval '1 minute', 'DOWN', 503, 3, 'status_mismatch')
                """,
                [String(monitorId), checkId]
            )
            let after = try await api.getObject("/api/v1/incidents/\(incidentId)", token: token)
            #expect(after.int64("httpStatus") == 503, "\(after)")
            let listed = try await api.request(.get, "/api/v1/incidents?monitorId=\(monitorId)", token: token)
            #expect(listed.items.first?.int64("httpStatus") == 503)
        }
    }

    @Test("acknowledge records the first time and user only; notes are set and cleared with PATCH")
    func acknowledgeAndNotes() async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let id = try api.insertIncident(monitorId: monitorId, startedAt: "now() - interval '5 minutes'")

            let acknowledged = try await api.request(.post, "/api/v1/incidents/\(id)/acknowledge", token: token)
            #expect(acknowledged.status == .ok)
            let at = try #require(acknowledged.object["acknowledgedAt"] as? String)
            let again = try await api.request(.post, "/api/v1/incidents/\(id)/acknowledge", token: token)
            #expect(again.object["acknowledgedAt"] as? String == at)
            #expect(
                try api.sql("SELECT acknowledged_by FROM incidents WHERE id = $1::int8", [String(id)]) == String(userId)
            )

            let noted = try await api.request(
                .patch,
                "/api/v1/incidents/\(id)",
                token: token,
                json: ["notes": "DNS provider outage"]
            )
            #expect(noted.status == .ok)
            #expect(noted.object["notes"] as? String == "DNS provider outage")
            #expect(noted.object["acknowledgedAt"] as? String == at)
            let cleared = try await api.request(
                .patch,
                "/api/v1/incidents/\(id)",
                token: token,
                json: ["notes": NSNull()]
            )
            #expect(cleared.object["notes"] is NSNull)

            let empty = try await api.request(.patch, "/api/v1/incidents/\(id)", token: token, json: [String: Any]())
            #expect(empty.errorField == "notes")
            let unknown = try await api.request(
                .patch,
                "/api/v1/incidents/\(id)",
                token: token,
                json: ["notes": "x", "resolvedAt": "now"]
            )
            #expect(unknown.status == .badRequest && unknown.errorField == "resolvedAt")
            let wrongType = try await api.request(.patch, "/api/v1/incidents/\(id)", token: token, json: ["notes": 3])
            #expect(wrongType.errorField == "notes")
            let tooLong = try await api.request(
                .patch,
                "/api/v1/incidents/\(id)",
                token: token,
                json: ["notes": String(repeating: "x", count: 10_001)]
            )
            #expect(tooLong.errorField == "notes")
            #expect(
                try await api.request(.post, "/api/v1/incidents/\(id + 1000)/acknowledge", token: token).status
                    == .notFound
            )
        }
    }
}
