import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ThroughputConfiguration.Names: ExpressibleByArgument {}

/// `lookout-bench throughput`: how many checks per second the engine sustains for a given fleet,
/// at what lag, CPU and memory cost.
struct ThroughputCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Run the engine against the in-process farm and report checks/s, lag, CPU and memory.",
        discussion: """
            Starts the farm on free loopback ports, writes N monitors (JSON Lines), runs
              lookout-engine --monitors F --results R --duration D --allow-private-targets
                             --dns-server 127.0.0.1:PORT [--loops L] [--max-in-flight M] --summary-json S
            and reports from the results file and the engine's rusage. Progress goes to stderr,
            the report to stdout.
            """
    )

    @Option(help: "Number of monitors.")
    var monitors: Int

    @Option(help: "Seconds between checks of one monitor.")
    var interval: Double

    @Option(help: "Seconds the engine runs.")
    var duration: Double

    @Option(help: "Engine loops (default: the engine's).")
    var loops: Int?

    @Option(help: "Engine cap on checks in flight (default: the engine's).")
    var maxInFlight: Int?

    @Option(help: "Target host names: ip (farm addresses) or dns (h<i>.bench.test via the farm's DNS server).")
    var names: ThroughputConfiguration.Names = .ip

    @Option(help: "Path (and query) every monitor requests, e.g. /ok or '/bench?latencyMs=20'.")
    var path = "/ok"

    @Option(help: "Per-check timeout written into the monitors file, ms.")
    var timeoutMs = 10_000

    @Option(help: "Engine binary (default: lookout-engine next to this executable).")
    var engine: String?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Option(help: "Keep monitors, results, summary and engine logs in this directory.")
    var keepFiles: String?

    @Option(help: "Event-loop threads of the farm.")
    var farmThreads = 1

    @Option(help: "Loopback addresses of the farm.")
    var farmAddresses = 8

    @Option(help: "PostgreSQL URI: the engine also writes every check to the database (rows/s in the report).")
    var database: String?

    func run() throws {
        let configuration: ThroughputConfiguration
        do {
            configuration = try ThroughputConfiguration(
                monitors: monitors,
                intervalSeconds: interval,
                durationSeconds: duration,
                loops: loops,
                maxInFlight: maxInFlight,
                names: names,
                path: path,
                timeoutMs: timeoutMs,
                enginePath: engine,
                jsonPath: json,
                keepFilesDirectory: keepFiles,
                farmThreads: farmThreads,
                farmAddresses: farmAddresses
            )
        } catch {
            throw ValidationError(error.description)
        }
        var withDatabase = configuration
        withDatabase.databaseURL = database
        signal(SIGPIPE, SIG_IGN)
        let shutdown = ShutdownSignal(watchStandardInput: false)
        let measurement: ThroughputMeasurement
        do {
            measurement = try ThroughputDriver(configuration: withDatabase).run(shutdown: shutdown)
        } catch {
            StandardStreams.error("lookout-bench throughput: \(error)")
            if case .interrupted = error { throw ExitCode(130) }
            throw ExitCode.failure
        }
        print(ThroughputReport.text(measurement), terminator: "")
        if let json = configuration.jsonPath {
            do {
                try ThroughputReport.json(measurement).write(to: URL(fileURLWithPath: json))
            } catch {
                StandardStreams.error("lookout-bench throughput: cannot write \(json): \(error.localizedDescription)")
                throw ExitCode.failure
            }
        }
    }
}
