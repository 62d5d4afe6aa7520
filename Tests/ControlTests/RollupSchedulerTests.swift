import Foundation
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Rollups: minutes every run, hours and days as they close, one instance at a time (real PostgreSQL)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct RollupSchedulerTests {
    @Test("checks become minute, hour and day buckets; a second run recomputes, never duplicates")
    func rollsUp() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            // Ten checks one minute apart in the previous hour, three of them failed.
            let now = Date()
            let hour = RollupScheduler.truncate(now, toMultipleOf: 3_600)
            for index in 0..<10 {
                let at = hour.addingTimeInterval(-3_000 + Double(index) * 60)
                _ = try api.schema.scalar(
                    "INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms) VALUES (gen_random_uuid(), $1::int8, to_timestamp($2::float8), $3, $4::real) RETURNING 1",
                    [
                        String(monitorId), String(at.timeIntervalSince1970), index < 3 ? "DOWN" : "UP",
                        String(10 + index),
                    ]
                )
            }
            let scheduler = RollupScheduler(database: api.dependencies.database, logger: ControlHarness.logger)
            // The first run sets progress marks at "now"; run it as of three hours ago so the
            // previous hour and today's checks are ahead of the marks, then catch up to now.
            #expect(try await scheduler.runOnce(now: hour.addingTimeInterval(-3 * 3_600)))
            #expect(try await scheduler.runOnce(now: now))
            let hourRow = try api.schema.scalar(
                "SELECT count || '/' || up_count FROM metrics WHERE monitor_id = $1::int8 AND bucket = 'hour'",
                [String(monitorId)]
            )
            #expect(hourRow == "10/7")
            #expect(
                try api.schema.count(
                    "SELECT count(*) FROM metrics WHERE bucket = 'minute' AND monitor_id = $1::int8",
                    [String(monitorId)])
                    == 10
            )
            #expect(try await scheduler.runOnce(now: now))
            #expect(
                try api.schema.count(
                    "SELECT count(*) FROM metrics WHERE bucket = 'minute' AND monitor_id = $1::int8",
                    [String(monitorId)])
                    == 10, "recomputed, not duplicated")
            let uptime = try await api.request(.get, "/api/v1/monitors/\(monitorId)/uptime", token: token)
            let day = try #require(uptime.object["24h"] as? [String: Any])
            #expect((day["checks"] as? NSNumber)?.intValue == 10)
            #expect((day["upChecks"] as? NSNumber)?.intValue == 7)
        }
    }

    @Test("while one instance holds the rollup lock, another skips its run")
    func oneAtATime() async throws {
        try await ControlHarness.withApplication { api in
            let scheduler = RollupScheduler(database: api.dependencies.database, logger: ControlHarness.logger)
            let holder = try api.schema.connect()
            try holder.execute("BEGIN")
            try holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('lookout.rollups.' || current_schema(), 0))")
            #expect(try await scheduler.runOnce() == false)
            try holder.execute("COMMIT")
            #expect(try await scheduler.runOnce() == true)
        }
    }
}
