import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Synchronization
import Testing

@testable import LookoutEngine

@Suite("Migrations (real PostgreSQL)", .blocksThreads, .enabled(if: TestDatabase.enabled, TestDatabase.skipReason))
struct MigratorTests {
    @Test("migrations apply once; a second run changes nothing")
    func appliesTwice() throws {
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            let first = try Migrator().migrate(try schema.connect())
            #expect(first.schema == schema.name)
            #expect(first.applied == LookoutSchema.migrations.map(\.version))
            #expect(first.currentVersion == LookoutSchema.latestVersion)
            let second = try Migrator().migrate(try schema.connect())
            #expect(second.applied.isEmpty)
            #expect(second.currentVersion == LookoutSchema.latestVersion)
            #expect(try schema.count("SELECT count(*) FROM schema_migrations") == LookoutSchema.migrations.count)
            #expect(try schema.scalar("SELECT name FROM schema_migrations WHERE version = 1") == "initial")
            // Every table of the contract exists in the test's schema.
            for table in [
                "users", "monitors", "checks", "metrics", "incidents", "status_pages", "notification_channels",
                "notification_outbox", "schema_migrations", "api_keys", "monitor_states", "monitor_state_changes",
                "maintenance_windows", "maintenance_window_monitors", "control_settings", "rollup_progress",
            ] {
                #expect(
                    try schema.scalar("SELECT to_regclass($1)::text", ["\(schema.name).\(table)"]) != nil,
                    "table \(table) is missing"
                )
            }
        }
    }

    @Test("four processes migrating one database at once: no error, applied exactly once")
    func concurrentMigrations() throws {
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            let applied = Mutex<[[Int]]>([])
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                Thread.detachNewThread {
                    defer { group.leave() }
                    do {
                        let outcome = try Migrator().migrate(try schema.connect())
                        applied.withLock { $0.append(outcome.applied) }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            group.wait()
            #expect(failures.withLock { $0 } == [])
            let all = applied.withLock { $0 }
            #expect(all.count == 4)
            #expect(
                all.flatMap { $0 }.sorted() == LookoutSchema.migrations.map(\.version),
                "each version applied by exactly one"
            )
            #expect(try schema.count("SELECT count(*) FROM schema_migrations") == LookoutSchema.migrations.count)
        }
    }

    @Test("migration 4 on a database with checks: stored rows read NULL, the writer fills the new columns")
    func migration4KeepsStoredChecks() throws {
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            let before = try Migrator(migrations: Array(LookoutSchema.migrations.prefix(3))).migrate(
                try schema.connect())
            #expect(before.currentVersion == 3)
            try withTemporaryDirectory { (spill: String) throws in
                let outcome = try MonitorImporter().importMonitors(
                    [Monitor(id: "m", url: "http://127.0.0.1:9/")], ownerEmail: "upgrade@example.com",
                    connection: try schema.connect())
                let monitorId = try #require(outcome.ids["m"])
                _ = try schema.scalar("SELECT lookout_ensure_check_partitions()")
                _ = try schema.scalar(
                    """
                    INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms)
                    VALUES (gen_random_uuid(), $1::int8, now() - interval '1 minute', 'UP', 3) RETURNING 1
                    """, [String(monitorId)])
                let after = try Migrator().migrate(try schema.connect())
                #expect(after.applied == [4] && after.currentVersion == 4)
                #expect(
                    try schema.scalar("SELECT name FROM schema_migrations WHERE version = 4")
                        == "http_version_tls_resumed")
                #expect(
                    try schema.count("SELECT count(*) FROM checks WHERE http_version IS NULL AND tls_resumed IS NULL")
                        == 1)

                var configuration = CheckWriter.Configuration(databaseURL: schema.url)
                configuration.spillDirectory = spill
                let writer = try CheckWriter(
                    configuration: configuration, directory: MonitorIdDirectory(outcome.ids), log: LogCollector().log)
                writer.start()
                writer.submit([
                    CheckResult(
                        monitorId: "m", checkedAtMs: Int64(Date().timeIntervalSince1970 * 1000), status: .up,
                        httpStatus: 200, httpVersion: 20, tlsResumed: false)
                ])
                #expect(writer.close().rowsWritten == 1)
                #expect(
                    try schema.count("SELECT count(*) FROM checks WHERE http_version = '2' AND NOT tls_resumed") == 1)
            }
        }
    }

    @Test("a migration that fails leaves nothing behind and names itself")
    func failedMigrationRollsBack() throws {
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            let broken = Migrator(migrations: [
                SchemaMigration(version: 1, name: "broken", sql: "CREATE TABLE half_done (x int); SELECT 1/0;")
            ])
            do {
                _ = try broken.migrate(try schema.connect())
                Issue.record("the broken migration did not fail")
            } catch let error as PostgresError {
                #expect(error.sqlState == "22012")
                #expect(error.description.contains("migration 1 (broken)"))
                #expect(error.logDescription.contains("division by zero"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
            #expect(try schema.scalar("SELECT to_regclass($1)::text", ["\(schema.name).half_done"]) == nil)
            // Even schema_migrations, created in the same transaction, is gone.
            #expect(try schema.count("SELECT count(*) FROM pg_tables WHERE schemaname = $1", [schema.name]) == 0)
        }
    }

    @Test("connection errors are typed and actionable")
    func connectionError() {
        do {
            _ = try PostgresConnection(url: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
            Issue.record("connected to port 1?")
        } catch {
            #expect(error.code == .connectionFailed)
            #expect(error.isTransient)
            #expect(error.description.contains("cannot connect to PostgreSQL"))
            #expect(error.serverMessage?.isEmpty == false)
        }
    }
}
