import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Checks, metrics and uptime of a monitor (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct MonitorDataTests {
    @Test("checks come newest first, page by page, without a gap or a repeat, even with ties and new rows meanwhile")
    func checksPagination() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token, ["name": "api"]).int64("id"))
            let otherId = try #require(try await api.createMonitor(token, ["name": "other"]).int64("id"))
            try api.sql("SELECT lookout_create_check_partitions((now() AT TIME ZONE 'UTC')::date - 3, 4)")
            // 120 checks over the last hour: groups of three share a time to the microsecond, and
            // every third one is a microsecond later; every fifth is DOWN.
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, http_status, total_ms, error_code, error_message)
                SELECT gen_random_uuid(), $1::int8,
                       now() - interval '1 hour' + (g / 3) * interval '70 seconds'
                           + CASE WHEN g % 3 = 2 THEN interval '1 microsecond' ELSE interval '0' END,
                       CASE WHEN g % 5 = 0 THEN 'DOWN' ELSE 'UP' END, CASE WHEN g % 5 = 0 THEN 500 ELSE 200 END,
                       12.3, CASE WHEN g % 5 = 0 THEN 'HTTP_STATUS' END, CASE WHEN g % 5 = 0 THEN 'status 500' END
                FROM generate_series(0, 119) AS g
                """,
                [String(monitorId)]
            )
            // Outside the default range (older than 24 h), and another monitor's rows.
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                VALUES (gen_random_uuid(), $1::int8, now() - interval '30 hours', 'UP', 1),
                       (gen_random_uuid(), $2::int8, now() - interval '5 minutes', 'UP', 1)
                """,
                [String(monitorId), String(otherId)]
            )
            let expected = try #require(
                try api.sql(
                    """
                    SELECT string_agg(check_id::text, ',' ORDER BY checked_at DESC, check_id DESC) FROM checks
                    WHERE monitor_id = $1::int8 AND checked_at >= now() - interval '24 hours'
                    """,
                    [String(monitorId)]
                )
            ).split(separator: ",").map(String.init)
            #expect(expected.count == 120)

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let path = "/api/v1/monitors/\(monitorId)/checks?limit=7" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.request(.get, path, token: token)
                try #require(page.status == .ok, "\(page.text)")
                seen += page.items.compactMap { $0["checkId"] as? String }
                #expect(page.items.allSatisfy { $0.int64("monitorId") == monitorId })
                cursor = page.nextCursor
                pages += 1
                if pages == 2 {
                    // Newer rows arriving meanwhile do not shift the pages that follow.
                    try api.sql(
                        """
                        INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                        SELECT gen_random_uuid(), $1::int8, now(), 'UP', 1 FROM generate_series(1, 5)
                        """,
                        [String(monitorId)]
                    )
                }
            } while cursor != nil && pages < 100
            #expect(pages == 18)
            #expect(seen == expected, "pages skipped, repeated or reordered rows")
            #expect(Set(seen).count == seen.count)

            let first = try await api.request(
                .get,
                "/api/v1/monitors/\(monitorId)/checks?limit=1&status=DOWN",
                token: token
            )
            let check = try #require(first.items.first)
            #expect(check["totalMs"] as? Double == 12.3)
            #expect(check["status"] as? String == "DOWN")
            #expect(check.int64("httpStatus") == 500)
            #expect(check["errorMessage"] as? String == "status 500")
            #expect(check["certExpiresAt"] is NSNull)
        }
    }

    @Test("checks and a monitor's last check carry httpVersion and tlsResumed, null where nothing was recorded")
    func checksCarryHTTPVersionAndResumption() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token, ["name": "https"]).int64("id"))
            try api.sql("SELECT lookout_create_check_partitions((now() AT TIME ZONE 'UTC')::date - 1, 2)")
            // Oldest first: a row stored before migration 4 (both NULL), an HTTP/1.1 answer after
            // a full handshake, an HTTP/2 answer on a resumed session (the newest: lastCheck).
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, http_status, total_ms, http_version,
                                    tls_resumed)
                VALUES (gen_random_uuid(), $1::int8, now() - interval '3 minutes', 'UP', 200, 1, NULL, NULL),
                       (gen_random_uuid(), $1::int8, now() - interval '2 minutes', 'UP', 200, 1, '1.1', false),
                       (gen_random_uuid(), $1::int8, now() - interval '1 minute', 'UP', 200, 1, '2', true)
                """,
                [String(monitorId)]
            )
            let page = try await api.request(.get, "/api/v1/monitors/\(monitorId)/checks", token: token)
            #expect(page.status == .ok, "\(page.text)")
            let checks = try #require(page.object["data"] as? [[String: Any]])
            #expect(checks.count == 3)
            #expect(checks.map { $0["httpVersion"] as? String } == ["2", "1.1", nil])
            #expect(checks.map { $0["tlsResumed"] as? Bool } == [true, false, nil])
            #expect(checks[2]["httpVersion"] is NSNull && checks[2]["tlsResumed"] is NSNull, "present, as null")
            let monitor = try await api.request(.get, "/api/v1/monitors/\(monitorId)", token: token)
            #expect(monitor.status == .ok, "\(monitor.text)")
            let lastCheck = try #require(monitor.object["lastCheck"] as? [String: Any])
            #expect(lastCheck["httpVersion"] as? String == "2")
            #expect(lastCheck["tlsResumed"] as? Bool == true)
            #expect(Set(lastCheck.keys) == Set(checks[0].keys), "the same members as the checks listing")
        }
    }

    @Test("checks filter by status and by an explicit range; bad parameters are 400s naming them")
    func checksFilters() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let minute = try #require(
                try api.sql(
                    "SELECT to_char(date_trunc('minute', now(), 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                )
            )
            let start = try #require(RFC3339Date.parse(minute))
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                SELECT gen_random_uuid(), $1::int8, $2::timestamptz - g * interval '1 minute',
                       (ARRAY['UP', 'DOWN', 'TIMEOUT', 'ERROR'])[g % 4 + 1], 5
                FROM generate_series(1, 40) AS g
                """,
                [String(monitorId), minute]
            )
            let base = "/api/v1/monitors/\(monitorId)/checks"
            let down = try await api.request(.get, base + "?status=down&limit=500", token: token)
            #expect(down.items.count == 10)
            #expect(down.items.allSatisfy { $0["status"] as? String == "DOWN" })
            let failing = try await api.request(.get, base + "?status=DOWN,TIMEOUT,ERROR&limit=500", token: token)
            #expect(failing.items.count == 30)

            // [minute − 10 min, minute − 5 min): minutes 6 ... 10 before.
            let from = queryValue(rfc3339(start.addingTimeInterval(-600)))
            let to = queryValue(rfc3339(start.addingTimeInterval(-300)))
            let ranged = try await api.request(.get, base + "?from=\(from)&to=\(to)", token: token)
            #expect(ranged.items.count == 5)
            #expect(ranged.nextCursor == nil)

            for (query, field) in [
                ("status=SLOW", "status"), ("cursor=nope", "cursor"), ("from=yesterday", "from"),
                ("to=2026-13-01T00:00:00Z", "to"),
                ("from=\(to)&to=\(from)", "from"), ("limit=0", "limit"),
            ] {
                let response = try await api.request(.get, base + "?" + query, token: token)
                #expect(response.status == .badRequest, "\(query): \(response.status)")
                #expect(response.errorField == field, "\(query): \(response.text)")
            }
            let badId = try await api.request(.get, "/api/v1/monitors/abc/checks", token: token)
            #expect(badId.status == .badRequest)
            #expect(try await api.request(.get, "/api/v1/monitors/999999/checks", token: token).status == .notFound)
        }
    }

    @Test("metrics are the rollups lookout_rollup_metrics computed from the checks, oldest first")
    func metricsFromRollups() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            // Five whole minutes, 40 to 35 minutes ago: 4 checks each, the last one DOWN.
            let startText = try #require(
                try api.sql(
                    """
                    SELECT to_char(date_trunc('minute', now() - interval '40 minutes') AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    """
                )
            )
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                SELECT gen_random_uuid(), $1::int8, $2::timestamptz + m * interval '1 minute' + c * interval '10 seconds',
                       CASE WHEN c = 3 THEN 'DOWN' ELSE 'UP' END, 10 * (c + 1) + m
                FROM generate_series(0, 4) AS m, generate_series(0, 3) AS c
                """,
                [String(monitorId), startText]
            )
            let written = try api.sql(
                "SELECT lookout_rollup_metrics('minute', $1::timestamptz, $1::timestamptz + interval '5 minutes')",
                [startText]
            )
            #expect(written == "5")
            let start = try #require(RFC3339Date.parse(startText))
            let from = queryValue(rfc3339(start.addingTimeInterval(30)))  // inside the first bucket
            let to = queryValue(rfc3339(start.addingTimeInterval(300)))
            let series = try await api.getObject(
                "/api/v1/monitors/\(monitorId)/metrics?bucket=minute&from=\(from)&to=\(to)",
                token: token
            )
            #expect(series["bucket"] as? String == "minute")
            let points = try #require(series["data"] as? [[String: Any]])
            try #require(points.count == 5)
            for (index, point) in points.enumerated() {
                #expect(point["bucketStart"] as? String == rfc3339(start.addingTimeInterval(Double(index) * 60)))
                #expect(point.int64("count") == 4)
                #expect(point.int64("upCount") == 3)
                #expect(point["uptime"] as? Double == 0.75)
                #expect(point["latencyMaxMs"] as? Double == Double(30 + index))
                #expect(point["latencyAvgMs"] as? Double == Double(20 + index))
                #expect(point.keys.contains("latencyP95Ms") && point.keys.contains("latencyP50Ms"))
            }

            // Defaults: hour buckets over 48 hours (none written here).
            let hours = try await api.getObject("/api/v1/monitors/\(monitorId)/metrics", token: token)
            #expect(hours["bucket"] as? String == "hour")
            #expect((hours["data"] as? [Any])?.isEmpty == true)
            let bad = try await api.request(.get, "/api/v1/monitors/\(monitorId)/metrics?bucket=week", token: token)
            #expect(bad.errorField == "bucket")
            let tooLong = try await api.request(
                .get,
                "/api/v1/monitors/\(monitorId)/metrics?bucket=minute&from=\(queryValue(rfc3339(Date().addingTimeInterval(-3 * 86_400))))",
                token: token
            )
            #expect(tooLong.status == .badRequest)
            #expect(tooLong.errorField == "from")
        }
    }

    @Test("uptime is summed from minute, hour and day rollups by the documented windows")
    func uptimeArithmetic() async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            // T = 2021-06-15T10:30:30Z: M = 10:30, H = 10:00, D = 2021-06-15 (long past, so the
            // live route below never counts these rows).
            let now = try #require(RFC3339Date.parse("2021-06-15T10:30:30Z"))
            let rows: [(String, String, Int, Int)] = [
                ("minute", "2021-06-15T10:30:00Z", 2, 2),  // current minute: every window
                ("minute", "2021-06-15T10:05:00Z", 10, 9),  // current hour: every window
                ("minute", "2021-06-15T09:59:00Z", 5, 0),  // 24 h only (7 d takes the hour bucket)
                ("minute", "2021-06-14T10:30:00Z", 1, 1),  // M − 24 h: 24 h
                ("minute", "2021-06-14T10:29:00Z", 100, 0),  // before M − 24 h: nowhere
                ("hour", "2021-06-15T10:00:00Z", 999, 0),  // current hour, partial: nowhere
                ("hour", "2021-06-15T09:00:00Z", 60, 60),  // today: 7 d, 30 d, 90 d
                ("hour", "2021-06-14T12:00:00Z", 30, 15),  // yesterday: 7 d (30/90 d take the day)
                ("hour", "2021-06-08T10:00:00Z", 4, 4),  // H − 168 h: 7 d
                ("hour", "2021-06-08T09:00:00Z", 8, 0),  // before: nowhere
                ("day", "2021-06-15T00:00:00Z", 7_777, 0),  // today, partial: nowhere
                ("day", "2021-06-14T00:00:00Z", 1_000, 990),  // 30 d, 90 d
                ("day", "2021-05-17T00:00:00Z", 10, 10),  // D − 29 days: 30 d, 90 d
                ("day", "2021-05-16T00:00:00Z", 20, 0),  // D − 30 days: 90 d
                ("day", "2021-03-18T00:00:00Z", 3, 3),  // D − 89 days: 90 d
                ("day", "2021-03-17T00:00:00Z", 50, 0),  // D − 90 days: nowhere
            ]
            for row in rows {
                try api.insertMetric(monitorId: monitorId, bucket: row.0, start: row.1, count: row.2, up: row.3)
            }
            let repository = MonitorDataRepository(database: api.dependencies.database)
            let summary = try #require(try await repository.uptime(ownerId: userId, monitorId: monitorId, at: now))
            #expect(summary.last24Hours == UptimeFigure(checks: 18, upChecks: 12))
            #expect(summary.last7Days == UptimeFigure(checks: 106, upChecks: 90))
            #expect(summary.last30Days == UptimeFigure(checks: 1_082, upChecks: 1_071))
            #expect(summary.last90Days == UptimeFigure(checks: 1_105, upChecks: 1_074))
            #expect(summary.last24Hours.uptime == 12.0 / 18.0)
            #expect(try await repository.uptime(ownerId: userId + 1, monitorId: monitorId, at: now) == nil)

            // Through the route (now): a minute bucket two minutes ago counts in the last 24 h;
            // nothing else was written near now, so the other windows hold at most that bucket.
            try api.insertMetric(
                monitorId: monitorId,
                bucket: "minute",
                start: rfc3339(Date().addingTimeInterval(-120)),
                count: 4,
                up: 3
            )
            let live = try await api.getObject("/api/v1/monitors/\(monitorId)/uptime", token: token)
            #expect(Set(live.keys) == ["24h", "7d", "30d", "90d"])
            let day = try #require(live["24h"] as? [String: Any])
            #expect(day.int64("checks") == 4 && day.int64("upChecks") == 3)
            #expect(day["uptime"] as? Double == 0.75)
            let empty = try await api.createMonitor(token)
            let none = try await api.getObject(
                "/api/v1/monitors/\(try #require(empty.int64("id")))/uptime",
                token: token
            )
            let noneDay = try #require(none["90d"] as? [String: Any])
            #expect(noneDay["uptime"] is NSNull)
            #expect(noneDay.int64("checks") == 0)
        }
    }
}
