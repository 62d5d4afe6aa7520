import ArgumentParser
import Foundation
import Logging
import LookoutCore
import LookoutFFI

/// `lookout-engine migrate`: brings a database to the current schema (docs/DATABASE.md),
/// creates the check partitions ahead, and optionally applies retention. Safe to run while
/// engines run, and from several processes at once.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the database schema, create check partitions ahead, optionally drop old ones."
    )

    @Option(name: .long, help: "PostgreSQL connection URI, e.g. postgres://user@127.0.0.1:5432/lookout.")
    var database: String

    @Option(name: .long, help: "Drop check partitions older than this many days (rollups stay).")
    var retentionDays: Int?

    func validate() throws {
        if let retentionDays, !(1...36_500).contains(retentionDays) {
            throw ValidationError("--retention-days must be 1...36500")
        }
    }

    func run() throws {
        let log = Logger.engine()
        do throws(PostgresError) {
            let (connection, outcome) = try DatabaseSetup.prepare(url: database, log: log)
            var line =
                "lookout-engine: schema \(outcome.migration.schema) at version \(outcome.migration.currentVersion)"
            line +=
                outcome.migration.applied.isEmpty
                ? " (up to date)" : " (applied \(outcome.migration.applied.map(String.init).joined(separator: ", ")))"
            line += "; check partitions created: \(outcome.partitionsCreated)"
            if let retentionDays {
                let dropped =
                    try connection.execute(
                        "SELECT lookout_drop_old_check_partitions($1::integer)",
                        [String(retentionDays)],
                        operation: "drop old check partitions"
                    ).int64(row: 0, column: 0) ?? 0
                line += "; partitions older than \(retentionDays) days dropped: \(dropped)"
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } catch {
            FileHandle.standardError.write(Data("lookout-engine: migrate: \(error.logDescription)\n".utf8))
            throw ExitCode(2)
        }
    }
}
