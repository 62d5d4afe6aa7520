import Foundation
import LookoutFFI
import Synchronization
import Testing

/// The PostgreSQL the tests use: `DATABASE_URL`, else `PGHOST`/`PGPORT`/`PGUSER`/`PGDATABASE`
/// (scripts/test exports both). Without one, database tests are skipped with a message — unless
/// `CI` is set, where they run and fail.
package enum TestDatabase {
    package static let environment = ProcessInfo.processInfo.environment

    package static var baseURL: String? {
        if let url = environment["DATABASE_URL"], !url.isEmpty { return url }
        guard let host = environment["PGHOST"], !host.isEmpty else { return nil }
        let user = environment["PGUSER"] ?? "postgres"
        let port = environment["PGPORT"] ?? "5432"
        let database = environment["PGDATABASE"] ?? user
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }

    package static var isCI: Bool {
        guard let value = environment["CI"]?.lowercased(), !value.isEmpty else { return false }
        return value != "0" && value != "false"
    }

    /// Database suites run when a database is configured, and always under CI.
    package static var enabled: Bool { baseURL != nil || isCI }

    package static let skipReason: Comment = """
        no PostgreSQL configured: set DATABASE_URL (scripts/test does; locally `eval "$(scripts/services env)"`). \
        With CI set these tests fail instead of skipping.
        """

    package struct Missing: Error, CustomStringConvertible {
        package var description: String {
            "CI is set but no PostgreSQL is configured (DATABASE_URL / PGHOST): start it with scripts/services start"
        }
    }

    package static func url() throws -> String {
        guard let url = baseURL else { throw Missing() }
        return url
    }

    /// `url` with `options=-csearch_path=<schema>` added, so every connection made from it works
    /// in that schema.
    package static func url(_ base: String, schema: String) -> String {
        base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
    }
}

/// A private schema for one test (tests run in parallel): created empty, dropped afterwards.
package final class TestSchema: Sendable {
    package let name: String
    /// Connection URI whose connections use this schema.
    package let url: String
    private let baseURL: String

    /// Schemas are named `lookout_test_<epoch seconds>_<random>`, so schemas left by a test
    /// process that crashed (and never ran its cleanup) can be recognised and swept.
    private static let prefix = "lookout_test_"

    package init(migrated: Bool = true) throws {
        baseURL = try TestDatabase.url()
        name = Self.prefix + "\(Int(Date().timeIntervalSince1970))_" + String(UInt64.random(in: 1 ... .max), radix: 16)
        url = TestDatabase.url(baseURL, schema: name)
        let admin = try PostgresConnection(url: baseURL, applicationName: "lookout-tests")
        Self.sweepOnce(admin)
        try admin.execute("CREATE SCHEMA \(name)")
        if migrated { _ = try Migrator().migrate(try connect()) }
    }

    package func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url, applicationName: "lookout-tests")
    }

    private static let swept = Mutex(false)

    /// Drops test schemas older than an hour (once per test process).
    private static func sweepOnce(_ admin: PostgresConnection) {
        guard
            swept.withLock({ done in
                defer { done = true }
                return !done
            })
        else { return }
        guard
            let stale = try? admin.execute(
                """
                SELECT nspname::text FROM pg_namespace
                WHERE nspname ~ '^lookout_test_[0-9]+_' AND split_part(nspname, '_', 3)::bigint < $1::bigint
                """,
                [String(Int(Date().timeIntervalSince1970) - 3600)]
            )
        else { return }
        for row in 0..<stale.rowCount {
            if let schema = stale.string(row: row, column: 0) {
                _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            }
        }
    }

    /// One value from a query (tests only; the SQL is fixed text).
    package func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try connect().execute(sql, parameters).string(row: 0, column: 0)
    }

    package func count(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try scalar(sql, parameters) ?? "") ?? -1
    }

    package func drop() {
        if let admin = try? PostgresConnection(url: baseURL, applicationName: "lookout-tests") {
            _ = try? admin.execute("DROP SCHEMA IF EXISTS \(name) CASCADE")
        }
    }
}

/// Runs `body` with a fresh (migrated) schema and drops it afterwards, whatever happens.
package func withTestSchema<Result>(migrated: Bool = true, _ body: (TestSchema) throws -> Result) throws -> Result {
    let schema = try TestSchema(migrated: migrated)
    defer { schema.drop() }
    return try body(schema)
}

/// A private temporary directory, removed afterwards.
package func withTemporaryDirectory<Result>(_ body: (String) throws -> Result) throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lookout-persistence-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Polls `condition` every 20 ms for at most `timeout` seconds.
package func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
