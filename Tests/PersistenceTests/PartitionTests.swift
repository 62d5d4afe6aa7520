import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

@Suite(
    "Check partitions, retention and rollups (real PostgreSQL)", .blocksThreads,
    .enabled(if: TestDatabase.enabled, TestDatabase.skipReason)
)
struct PartitionTests {
    private func partitions(_ schema: TestSchema) throws -> [String] {
        let result = try schema.connect().execute(
            """
            SELECT child.relname::text FROM pg_inherits i
            JOIN pg_class parent ON parent.oid = i.inhparent JOIN pg_class child ON child.oid = i.inhrelid
            JOIN pg_namespace n ON n.oid = parent.relnamespace
            WHERE parent.relname = 'checks' AND n.nspname = $1 ORDER BY 1
            """,
            [schema.name]
        )
        return (0..<result.rowCount).compactMap { result.string(row: $0, column: 0) }
    }

    private static func day(offset: Int) -> String {
        let milliseconds = (Int64(Date().timeIntervalSince1970) + Int64(offset) * 86_400) * 1000
        return CheckRowEncoder.day(epochMilliseconds: milliseconds)
    }

    private static func partitionName(offset: Int) -> String {
        "checks_p" + day(offset: offset).replacingOccurrences(of: "-", with: "")
    }

    @Test("the migration creates yesterday ... a week ahead; ensuring again creates nothing")
    func partitionsAhead() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let names = try partitions(schema)
            #expect(names == (-1...7).map { Self.partitionName(offset: $0) })
            #expect(try schema.scalar("SELECT lookout_ensure_check_partitions()") == "0")
            #expect(try schema.scalar("SELECT lookout_create_check_partitions(current_date + 20, 2)") == "2")
            #expect(try partitions(schema).count == 11)
        }
    }

    @Test("retention drops old partitions, keeps recent ones, and rollups outlive them")
    func retention() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let connection = try schema.connect()
            try connection.execute("INSERT INTO users (email) VALUES ('r@example.com')")
            try connection.execute(
                "INSERT INTO monitors (owner_id, external_id, name, url, shard) VALUES (1, 'a', 'a', 'http://a/', 1)"
            )
            let oldDay = Self.day(offset: -40)
            #expect(try schema.scalar("SELECT lookout_create_check_partitions($1::date, 3)", [oldDay]) == "3")
            // 10 UP checks of 10 ... 100 ms and 2 DOWN ones in one minute of that day.
            try connection.execute(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                SELECT gen_random_uuid(), 1, $1::date + time '10:00' + make_interval(secs => g),
                       CASE WHEN g > 10 THEN 'DOWN' ELSE 'UP' END, CASE WHEN g > 10 THEN 5000 ELSE g * 10 END
                FROM generate_series(1, 12) g
                """,
                [oldDay]
            )
            let recent = Self.partitionName(offset: -5)
            _ = try schema.scalar("SELECT lookout_create_check_partitions(current_date - 5, 1)")
            #expect(try schema.scalar("SELECT lookout_drop_old_check_partitions(30)") == "3")
            let names = try partitions(schema)
            #expect(!names.contains(Self.partitionName(offset: -40)))
            #expect(names.contains(recent))
            #expect(names.contains(Self.partitionName(offset: 0)))
            #expect(try schema.count("SELECT count(*) FROM checks") == 0)
            let rollup = try connection.execute(
                """
                SELECT bucket, count, up_count, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms
                FROM metrics WHERE monitor_id = 1 ORDER BY bucket
                """
            )
            #expect(rollup.rowCount == 2)
            for row in 0..<rollup.rowCount {
                #expect(["day", "hour"].contains(rollup.string(row: row, column: 0)))
                #expect(rollup.string(row: row, column: 1) == "12")
                #expect(rollup.string(row: row, column: 2) == "10")
                #expect(rollup.string(row: row, column: 3) == "55")
                #expect(rollup.string(row: row, column: 4) == "55")
                #expect(rollup.string(row: row, column: 5) == "95.5")
                #expect(rollup.string(row: row, column: 6) == "100")
            }
            #expect(try schema.scalar("SELECT lookout_drop_old_check_partitions(30)") == "0")
            #expect(throws: PostgresError.self) {
                try connection.execute("SELECT lookout_drop_old_check_partitions(0)")
            }
        }
    }

    @Test("minute rollups: whole buckets, recomputed idempotently")
    func minuteRollups() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let connection = try schema.connect()
            try connection.execute("INSERT INTO users (email) VALUES ('m@example.com')")
            try connection.execute(
                "INSERT INTO monitors (owner_id, external_id, name, url, shard) VALUES (1, 'a', 'a', 'http://a/', 1)"
            )
            // Two minutes: 4 checks in the first (one TIMEOUT), 1 in the second.
            try connection.execute(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms) VALUES
                  (gen_random_uuid(), 1, date_trunc('hour', now()) + interval '1 min 1 s', 'UP', 10),
                  (gen_random_uuid(), 1, date_trunc('hour', now()) + interval '1 min 2 s', 'UP', 20),
                  (gen_random_uuid(), 1, date_trunc('hour', now()) + interval '1 min 3 s', 'UP', 30),
                  (gen_random_uuid(), 1, date_trunc('hour', now()) + interval '1 min 4 s', 'TIMEOUT', 10000),
                  (gen_random_uuid(), 1, date_trunc('hour', now()) + interval '2 min 1 s', 'UP', 7),
                  (gen_random_uuid(), 999, date_trunc('hour', now()) + interval '1 min 1 s', 'UP', 7)
                """
            )
            // A window that starts and ends inside the minutes still covers both whole minutes.
            let sql = """
                SELECT lookout_rollup_metrics('minute', date_trunc('hour', now()) + interval '1 min 30 s',
                                              date_trunc('hour', now()) + interval '2 min 10 s')
                """
            #expect(try schema.scalar(sql) == "2", "monitor 999 does not exist and is skipped")
            #expect(try schema.scalar(sql) == "2")
            let first = try connection.execute(
                "SELECT count, up_count, latency_avg_ms, latency_max_ms FROM metrics WHERE bucket = 'minute' ORDER BY bucket_start"
            )
            #expect(first.rowCount == 2)
            #expect(first.string(row: 0, column: 0) == "4")
            #expect(first.string(row: 0, column: 1) == "3")
            #expect(first.string(row: 0, column: 2) == "20")
            #expect(first.string(row: 0, column: 3) == "30")
            #expect(first.string(row: 1, column: 0) == "1")
            #expect(throws: PostgresError.self) {
                try connection.execute("SELECT lookout_rollup_metrics('week', now(), now())")
            }
        }
    }
}
