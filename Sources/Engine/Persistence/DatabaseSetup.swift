import Logging
import LookoutCore
import LookoutFFI

/// What every `--database` command does first: connect, apply missing migrations, and make sure
/// the check partitions of yesterday ... a week ahead exist.
enum DatabaseSetup {
    struct Outcome: Sendable {
        var migration: Migrator.Outcome
        var partitionsCreated: Int
    }

    /// Returns an open connection on the migrated schema (blocking; call off the loop threads).
    static func prepare(url: String, log: Logger) throws(PostgresError) -> (PostgresConnection, Outcome) {
        let connection = try PostgresConnection(url: url, applicationName: "lookout-engine setup")
        let migration = try Migrator().migrate(connection)
        if !migration.applied.isEmpty {
            log.info(
                "database schema \(migration.schema): applied migration(s) \(migration.applied.map(String.init).joined(separator: ", ")), now at version \(migration.currentVersion)"
            )
        }
        if migration.currentVersion > LookoutSchema.latestVersion {
            log.warning(
                "database schema \(migration.schema) is at version \(migration.currentVersion), newer than this engine knows (\(LookoutSchema.latestVersion)): upgrade lookout-engine"
            )
        }
        let created =
            try connection.execute(
                "SELECT lookout_ensure_check_partitions($1::integer)",
                [String(LookoutSchema.partitionDaysAhead)],
                operation: "create check partitions"
            ).int64(row: 0, column: 0) ?? 0
        return (connection, Outcome(migration: migration, partitionsCreated: Int(created)))
    }
}
