import ArgumentParser
import Foundation
import Logging
import LookoutCore
import LookoutFFI

/// `lookout-engine import`: upserts a monitors file (JSON Lines, as `run` reads it) into the
/// database for one owner, so a fleet can be loaded without the API.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Upsert the monitors of a JSON Lines file into the database for one owner."
    )

    @Option(name: .long, help: "PostgreSQL connection URI, e.g. postgres://user@127.0.0.1:5432/lookout.")
    var database: String

    @Option(name: .long, help: "E-mail of the owning user (created if missing).")
    var owner: String

    @Flag(name: .long, help: "Import the valid lines of a file that has invalid ones (they are reported).")
    var skipInvalid = false

    @Argument(help: "The monitors file (JSON Lines, one monitor per line).")
    var file: String

    func validate() throws {
        if !MonitorImporter.isValidEmail(owner) {
            throw ValidationError("--owner '\(owner)' is not an e-mail address")
        }
    }

    func run() throws {
        let started = Clock.monotonicMicros()
        let log = Logger.engine()
        do throws(ImportError) {
            let (monitors, skipped) = try MonitorImporter.load(path: file, skipInvalid: skipInvalid)
            if !skipped.isEmpty {
                log.warning(
                    "skipping \(skipped.count) invalid line(s):\n  \(skipped.prefix(20).joined(separator: "\n  "))"
                )
            }
            let connection: PostgresConnection
            do throws(PostgresError) {
                (connection, _) = try DatabaseSetup.prepare(url: database, log: log)
            } catch {
                throw .database(error)
            }
            let outcome = try MonitorImporter().importMonitors(monitors, ownerEmail: owner, connection: connection)
            let seconds = Double(Clock.monotonicMicros() - started) / 1_000_000
            let summary =
                "lookout-engine: imported \(monitors.count) monitors for \(owner) (user \(outcome.ownerId)"
                + (outcome.ownerCreated ? ", created" : "")
                + "): \(outcome.inserted) inserted, \(outcome.updated) updated, "
                + "\(outcome.unchanged) unchanged"
                + (skipped.isEmpty ? "" : ", \(skipped.count) invalid line(s) skipped")
                + " in \(String(format: "%.2f", seconds)) s\n"
            FileHandle.standardError.write(Data(summary.utf8))
        } catch {
            FileHandle.standardError.write(Data("lookout-engine: import: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}
