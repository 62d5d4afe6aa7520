import Logging
import LookoutCore
import LookoutFFI

/// The `--database` settings of `lookout-engine run` (flags in `RunCommand`).
struct DatabaseRunOptions: Sendable {
    /// The COPY writer's settings (URL, batch size and age, buffer, spill directory, retention).
    var writer: CheckWriter.Configuration
    /// Owner of the monitors file's monitors (`--owner`, default `standalone@lookout.local`).
    var ownerEmail = LookoutSchema.standaloneOwnerEmail
}

/// Start-up of a standalone engine with a database: migrate, keep partitions ahead, upsert the
/// monitors file for the owner (reusing the importer), and build the writer with the external
/// id → `monitors.id` directory. Runs on the main thread before any loop starts.
enum StandaloneDatabase {
    static func startWriter(
        monitors: [Monitor],
        options: DatabaseRunOptions,
        log: Logger
    )
        throws(EngineError) -> CheckWriter
    {
        let outcome: MonitorImporter.Outcome
        do throws(ImportError) {
            let connection: PostgresConnection
            do throws(PostgresError) {
                (connection, _) = try DatabaseSetup.prepare(url: options.writer.databaseURL, log: log)
            } catch {
                throw .database(error)
            }
            outcome = try MonitorImporter().importMonitors(
                monitors,
                ownerEmail: options.ownerEmail,
                connection: connection
            )
        } catch {
            throw .invalidOption(name: "--database", reason: error.description)
        }
        if outcome.inserted > 0 || outcome.updated > 0 {
            log.info(
                "monitors of \(options.ownerEmail) in the database: \(outcome.inserted) inserted, \(outcome.updated) updated, \(outcome.unchanged) unchanged"
            )
        }
        let writer = try CheckWriter(
            configuration: options.writer,
            directory: MonitorIdDirectory(outcome.ids),
            log: log
        )
        return writer
    }
}
