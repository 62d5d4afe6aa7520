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

/// Start-up of a standalone engine with a database: the writer is made first (unconnected, with
/// an empty external id → `monitors.id` directory), then `importMonitors` migrates, keeps
/// partitions ahead, upserts the monitors file for the owner (reusing the importer) and fills
/// the directory. Both run on the main thread, before the writer is started and before the
/// first result reaches it: a result row needs its monitor's id.
///
/// Two steps, because a large file starts checking before it has been read to the end
/// (`EngineRuntime.beginLoadingMonitors`): its monitors are upserted only once the whole file
/// has proved valid, so a bad line leaves the database untouched.
struct StandaloneDatabase {
    /// The COPY writer, not started.
    let writer: CheckWriter
    private let directory = MonitorIdDirectory()
    private let options: DatabaseRunOptions
    private let log: Logger

    init(options: DatabaseRunOptions, log: Logger) throws(EngineError) {
        self.options = options
        self.log = log
        self.writer = try CheckWriter(configuration: options.writer, directory: directory, log: log)
    }

    /// Connects, migrates, upserts `monitors` for the owner and records their ids for the writer.
    func importMonitors(_ monitors: [Monitor]) throws(EngineError) {
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
        directory.update(outcome.ids)
    }
}
