import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lookout-bench capacity`: the saturation point of every scenario, found by a search, with
/// the farm's own count beside the engines', as JSON, Markdown and SVG charts.
struct CapacityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract:
            "Find the engine's saturation point per scenario (HTTP, 1 and 2 engines, with and without PostgreSQL; HTTPS; cluster mode).",
        discussion: """
            For each scenario, offers monitors/interval checks/s to real lookout-engine processes
            (--loops 1 each) against the in-process farm, ramping ×2 until a step fails and then
            bisecting. A step passes with p99 lag ≤ 1 s, 0 lost results, 0 false failures and at
            least 95% of the offered rate. The farm counts the requests it answers, independently
            of the engines' results files. Progress goes to stderr; the JSON report is
              {"scenarios":[{name, protocol, engines, database, [tlsSessionReuse,]
                saturation:{checksPerSecond, monitors, intervalSeconds, lagP99Ms, farmChecksPerSecond,
                cpuMicrosPerCheck}}]}
            Scenarios with PostgreSQL run only with --database (they write check rows into it: use
            a database of its own). Cluster scenarios (http-1-engine-cluster, http-2-engines-cluster)
            also need --redis: per step, the monitors are imported with `lookout-engine import` into
            a schema of the step's own, the engines run with --database and --redis (lease 3 s) and
            split them by shard; after the step the checks are rolled up with the control plane's
            lookout_rollup_metrics and the step reports bytes per check row and per rollup row (from
            pg_total_relation_size) and Redis commands and CPU per check (INFO, the whole server);
            then the schema and the Redis keys are dropped. HTTPS scenarios check the farm's HTTPS listener (a self-signed
            certificate made at start, given to the engines with --ca-file): https-1-engine with a
            full handshake per check, https-reuse-1-engine with tlsSessionReuse. The farm's TLS
            (NIOSSL) shares the machine's cores with the engine, so on a small machine it can be
            the bottleneck: compare the farm's cores busy in the step table.
            """
    )

    @Flag(help: "Coarse sweep: 5 s steps at a 1 s interval, 20% precision, at most 5 steps per scenario.")
    var quick = false

    @Option(help: "Write the JSON report here.")
    var json: String?

    @Option(help: "Write the Markdown report here.")
    var markdown: String?

    @Option(help: "Write the SVG charts into this directory.")
    var charts: String?

    @Option(help: "Write every step of every scenario (and the conditions) as JSON here, for --replot.")
    var details: String?

    @Option(help: "Run nothing: redraw --charts and --markdown from a --details file of an earlier run.")
    var replot: String?

    @Option(help: "PostgreSQL URI for the scenarios with a database (a database of its own: rows are written).")
    var database: String?

    @Option(
        help:
            "Redis URL redis://IP:PORT[/db] for the cluster scenarios (each step uses a key prefix of its own and deletes it)."
    )
    var redis: String?

    @Option(help: "Run only these scenarios (comma-separated names, e.g. http-1-engine,http-2-engines).")
    var only: String?

    @Option(help: "Seconds per step (default 12, --quick 5).")
    var stepSeconds: Double?

    @Option(help: "Engine binary (default: lookout-engine next to this executable).")
    var engine: String?

    @Option(help: "Event-loop threads of the in-process farm.")
    var farmThreads = 1

    static let scenarios: [CapacityScenario] = [
        CapacityScenario(.http, engines: 1, database: false),
        CapacityScenario(.http, engines: 2, database: false),
        CapacityScenario(.http, engines: 1, database: true),
        CapacityScenario(.http, engines: 2, database: true),
        CapacityScenario(.https, engines: 1, database: false),
        CapacityScenario(.https, engines: 1, database: false, tlsSessionReuse: true),
        CapacityScenario(.http, engines: 1, database: true, cluster: true),
        CapacityScenario(.http, engines: 2, database: true, cluster: true),
    ]

    func run() throws {
        var settings = quick ? SweepSettings.quick : SweepSettings.full
        if let stepSeconds {
            guard stepSeconds.isFinite, (2...600).contains(stepSeconds) else {
                throw ValidationError("--step-seconds must be between 2 and 600")
            }
            settings.stepSeconds = stepSeconds
        }
        guard (1...16).contains(farmThreads) else { throw ValidationError("--farm-threads must be between 1 and 16") }
        var scenarios = Self.scenarios
        if let only {
            let names = only.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            for name in names where !Self.scenarios.contains(where: { $0.name == name }) {
                throw ValidationError(
                    "--only: unknown scenario '\(name)'; known: \(Self.scenarios.map(\.name).joined(separator: ", "))")
            }
            scenarios = Self.scenarios.filter { names.contains($0.name) }
        }
        let report: CapacityReport
        if let replot {
            guard let data = FileManager.default.contents(atPath: replot),
                let saved = try? JSONDecoder().decode(CapacityReport.self, from: data)
            else {
                throw ValidationError("--replot: cannot read \(replot) as a `capacity --details` file")
            }
            report = saved
        } else {
            signal(SIGPIPE, SIG_IGN)
            let shutdown = ShutdownSignal(watchStandardInput: false)
            let conditions = Self.conditions(settings: settings, quick: quick, farmThreads: farmThreads)
            do {
                let results = try Self.sweep(
                    scenarios: scenarios, settings: settings, engine: engine, database: database, redis: redis,
                    farmThreads: farmThreads, shutdown: shutdown, progressPrefix: "lookout-bench capacity")
                report = CapacityReport(results: results, conditions: conditions)
            } catch {
                StandardStreams.error("lookout-bench capacity: \(error)")
                if case .interrupted = error { throw ExitCode(130) }
                throw ExitCode.failure
            }
        }
        do {
            if let json { try Self.write(try report.json(), to: json) }
            if let details {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                guard let data = try? encoder.encode(report) else {
                    throw CapacityError.report("cannot encode --details")
                }
                try Self.write(data, to: details)
            }
            if let charts { try report.writeCharts(to: charts) }
            if let markdown {
                let link = charts.map { Self.relativePath(of: $0, fromDirectoryOf: markdown) }
                try Self.write(Data(report.markdown(chartsLink: link).utf8), to: markdown)
            }
        } catch {
            StandardStreams.error("lookout-bench capacity: \(error)")
            throw ExitCode.failure
        }
        print(report.markdown(chartsLink: nil), terminator: "")
    }

    /// Runs the sweep with a farm of its own, stopped on every path.
    static func sweep(
        scenarios: [CapacityScenario], settings: SweepSettings, engine: String?, database: String?,
        redis: String? = nil, farmThreads: Int,
        shutdown: ShutdownSignal, progressPrefix: String
    ) throws(CapacityError) -> [ScenarioResult] {
        let enginePath: String
        do { enginePath = try ThroughputDriver.resolveEngine(engine) } catch { throw .run(error) }
        let runner = try CapacityRunner(
            enginePath: enginePath, databaseURL: database, redisURL: redis, farmThreads: farmThreads,
            shutdown: shutdown)
        defer { runner.close() }
        let sweep = CapacitySweep(runner: runner, settings: settings, progress: ProgressDisplay(prefix: progressPrefix))
        return try sweep.run(scenarios)
    }

    /// The conditions of a run, for the report.
    static func conditions(settings: SweepSettings, quick: Bool, farmThreads: Int) -> [String] {
        var uts = utsname()
        uname(&uts)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
        let date = RFC3339Text.now()
        return [
            "measured \(date) on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(field(uts.sysname)) \(field(uts.release)) \(field(uts.machine)); load average at start \(load)",
            "sweep: \(quick ? "--quick, " : "")\(ThroughputReport.number(settings.stepSeconds)) s per step, monitors at a \(ThroughputReport.number(settings.intervalSeconds)) s interval, ramp ×2 from \(PlanFormat.number(settings.startChecksPerSecond, 0)) checks/s then bisection to \(PlanFormat.number(settings.precision * 100, 0))%, at most \(settings.maxStepsPerScenario) steps per scenario",
            "engines: lookout-engine --loops 1 each, plain HTTP (https scenarios: HTTPS, verification on, the farm's self-signed certificate via --ca-file) to the farm's /ok over 16 loopback addresses (fresh connection per check), the bench's loopback DNS server; farm: \(farmThreads) thread\(farmThreads == 1 ? "" : "s") in the bench process, sharing the machine's cores with the engines",
        ]
    }

    static func write(_ data: Data, to path: String) throws(CapacityError) {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { try data.write(to: url) } catch {
            throw .report("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// `docs/capacity` seen from `docs/BENCHMARKS.md` is `capacity`, and `.` from a file inside
    /// it; anything not below the Markdown file's directory is given as an absolute path.
    static func relativePath(of target: String, fromDirectoryOf file: String) -> String {
        let directory = URL(fileURLWithPath: file).standardizedFileURL.deletingLastPathComponent().path
        let absolute = URL(fileURLWithPath: target).standardizedFileURL.path
        if absolute == directory { return "." }
        if absolute.hasPrefix(directory + "/") { return String(absolute.dropFirst(directory.count + 1)) }
        return absolute
    }
}

/// The current time as RFC 3339 (UTC, seconds).
enum RFC3339Text {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}
