import LookoutCore

/// Shared by every process that migrates (the engine's `migrate` and start-up, the control plane's
/// start-up), so they all take the same lock and agree on what version N means.
///
/// Applies `LookoutSchema.migrations` that a database lacks, each in its own transaction:
///
///     BEGIN;
///     SELECT set_config('search_path', <current schema>, true);   -- pin the target schema
///     SELECT pg_advisory_xact_lock(<hash of 'lookout.migrations.' || schema>);
///     CREATE TABLE IF NOT EXISTS schema_migrations (...);
///     -- skip if the version is already recorded, else run the script and record it
///     COMMIT;
///
/// The advisory lock serialises every process migrating the same schema (engines starting
/// together, the control plane), and the version check after the lock makes the losers no-ops.
/// The schema is the first existing one of the connection's `search_path` (`public` by default;
/// `?options=-csearch_path%3Dname` in the URL picks another).
package struct Migrator {
    /// What `migrate` did.
    package struct Outcome: Sendable, Equatable {
        /// The schema migrated.
        package var schema: String
        /// Versions applied by this call (empty when the database was up to date).
        package var applied: [Int]
        /// The highest version recorded afterwards.
        package var currentVersion: Int
    }

    package let migrations: [SchemaMigration]

    package init(migrations: [SchemaMigration] = LookoutSchema.migrations) {
        self.migrations = migrations
    }

    package func migrate(_ connection: PostgresConnection) throws(PostgresError) -> Outcome {
        let schemaResult = try connection.execute("SELECT current_schema()", operation: "find the schema")
        guard let schema = schemaResult.string(row: 0, column: 0) else {
            throw PostgresError(
                code: .unexpectedResult,
                operation: "migrate",
                serverMessage: "no schema of search_path exists: create one, or fix search_path"
            )
        }
        var applied: [Int] = []
        for migration in migrations {
            if try apply(migration, schema: schema, on: connection) { applied.append(migration.version) }
        }
        let current = try connection.execute(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            operation: "read schema_migrations"
        )
        return Outcome(schema: schema, applied: applied, currentVersion: Int(current.int64(row: 0, column: 0) ?? 0))
    }

    /// Applies one migration unless it is recorded; true if this call applied it.
    private func apply(
        _ migration: SchemaMigration,
        schema: String,
        on connection: PostgresConnection
    ) throws(PostgresError)
        -> Bool
    {
        let operation = "migration \(migration.version) (\(migration.name))"
        try connection.execute("BEGIN", operation: operation)
        do throws(PostgresError) {
            try connection.execute(
                "SELECT set_config('search_path', quote_ident($1), true)",
                [schema],
                operation: operation
            )
            try connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('lookout.migrations.' || $1, 0))",
                [schema],
                operation: operation
            )
            try connection.execute(LookoutSchema.migrationsTableSQL, operation: operation)
            let recorded = try connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                [String(migration.version)],
                operation: operation
            )
            if recorded.rowCount > 0 {
                try connection.execute("COMMIT", operation: operation)
                return false
            }
            try connection.executeScript(migration.sql, operation: operation)
            try connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                [String(migration.version), migration.name],
                operation: operation
            )
            try connection.execute("COMMIT", operation: operation)
            return true
        } catch {
            if connection.isHealthy { _ = try? connection.execute("ROLLBACK", operation: operation) }
            throw error
        }
    }
}
