import Foundation
import LookoutCore

/// Runs one throughput measurement: starts the farm in this process, writes a monitors file,
/// runs the real engine binary as a child for the configured duration, then reads its results
/// and rusage.
///
/// The engine is a child (not linked in) because its CPU time and peak memory are the point of
/// the measurement and only `wait4` reports them for one process alone. The farm runs in this
/// process, on its own event-loop threads, so its CPU never counts against the engine.
struct ThroughputDriver {
    let configuration: ThroughputConfiguration
    /// Progress lines (stderr by default), so stdout carries only the report.
    var log: (String) -> Void = { StandardStreams.error("lookout-bench throughput: \($0)") }

    init(configuration: ThroughputConfiguration) {
        self.configuration = configuration
    }

    func run(shutdown: ShutdownSignal) throws(ThroughputError) -> ThroughputMeasurement {
        let enginePath = try Self.resolveEngine(configuration.enginePath)
        let files = try RunFiles(keepIn: configuration.keepFilesDirectory)
        defer { files.cleanUp() }

        let farm: Farm
        do {
            let farmConfiguration = try FarmConfiguration(
                addressCount: configuration.farmAddresses,
                httpPort: 0,
                dnsPort: 0,
                threads: configuration.farmThreads
            )
            farm = try Farm.start(farmConfiguration)
        } catch {
            throw .farm(error)
        }
        defer { farm.stop() }
        log(
            "farm listening on \(farm.addresses.first!)...\(farm.addresses.last!) port \(farm.httpPort), DNS 127.0.0.1:\(farm.dnsPort)"
        )

        try writeMonitors(to: files.monitors, farm: farm)

        var arguments = [
            "--monitors", files.monitors,
            "--results", files.results,
            "--duration", ThroughputReport.number(configuration.durationSeconds),
            "--allow-private-targets",
            "--dns-server", "127.0.0.1:\(farm.dnsPort)",
            // The farm's few addresses stand in for many hosts: no per-host politeness.
            "--max-per-host", "0",
        ]
        if let loops = configuration.loops { arguments += ["--loops", String(loops)] }
        if let maxInFlight = configuration.maxInFlight { arguments += ["--max-in-flight", String(maxInFlight)] }
        arguments += ["--summary-json", files.summary]
        if let database = configuration.databaseURL {
            arguments += [
                "--database", database, "--owner", "bench@lookout.local", "--spill-dir", files.directory + "/spill",
            ]
        }

        log(
            "running \(enginePath) with \(configuration.monitors) monitors for \(ThroughputReport.number(configuration.durationSeconds)) s"
        )
        // This process does little but the farm while the engine runs (the main thread sleeps in
        // `wait`), so its CPU time over the run is the farm's: a saturated farm would cap the
        // engine and the report says so.
        let cpuBefore = ChildProcess.selfCPUSeconds()
        let child = try ChildProcess(
            executable: enginePath,
            arguments: arguments,
            stdoutPath: files.engineStdout,
            stderrPath: files.engineStderr
        )
        defer { child.terminate() }  // a no-op once reaped; covers every early exit below
        let deadline = ChildProcess.now() + configuration.durationSeconds + configuration.exitGraceSeconds
        let (exit, stopped) = child.wait(deadline: deadline, shouldStop: { shutdown.isRequested })
        let farmCPUSeconds = ChildProcess.selfCPUSeconds() - cpuBefore
        if let reason = shutdown.requestedReason { throw .interrupted(reason) }
        if stopped {
            throw .engineHung(seconds: configuration.exitGraceSeconds, stderrTail: Self.tail(of: files.engineStderr))
        }
        guard exit.succeeded else {
            let hint =
                files.isTemporary
                ? "rerun with --keep-files DIR to keep its logs and inputs" : "full log: \(files.engineStderr)"
            throw .engineFailed(exit: exit, stderrTail: Self.tail(of: files.engineStderr), logHint: hint)
        }
        log("engine finished in \(ThroughputReport.fixed(exit.wallSeconds, 1)) s; reading results")

        let farmStats: FarmStats
        do {
            farmStats = try farm.stats().wait()
        } catch {
            throw .files("cannot read the farm's counters: \(error)")
        }
        var scanner = ResultsScanner()
        try scanner.scanFile(atPath: files.results)
        let summary = FileManager.default.contents(atPath: files.summary).flatMap { JSONValue(data: $0) }

        let setup = ThroughputMeasurement.Setup(
            monitors: configuration.monitors,
            intervalSeconds: configuration.intervalSeconds,
            durationSeconds: configuration.durationSeconds,
            loops: configuration.loops,
            maxInFlight: configuration.maxInFlight,
            names: configuration.names,
            path: configuration.path,
            timeoutMs: configuration.timeoutMs,
            farmThreads: configuration.farmThreads,
            farmAddresses: configuration.farmAddresses,
            enginePath: enginePath,
            targetChecksPerSecond: configuration.targetChecksPerSecond
        )
        return ThroughputMeasurement(
            setup: setup,
            scan: scanner,
            exit: exit,
            farmStats: farmStats,
            farmCPUSeconds: farmCPUSeconds,
            engineSummary: summary,
            measuredAtMs: Int64((Date().timeIntervalSince1970 * 1000).rounded())
        )
    }

    /// One JSON object per line; monitor i targets farm address i mod N (or its own DNS name).
    private func writeMonitors(to path: String, farm: Farm) throws(ThroughputError) {
        let interval = ThroughputReport.number(configuration.intervalSeconds)
        let pathAndQuery = configuration.path
        var text = ""
        text.reserveCapacity(configuration.monitors * 120)
        for index in 0..<configuration.monitors {
            let host: String
            switch configuration.names {
            case .ip: host = farm.addresses[index % farm.addresses.count]
            case .dns: host = "h\(index).bench.test"
            }
            text +=
                "{\"id\":\"m\(index)\",\"url\":\"http://\(host):\(farm.httpPort)\(pathAndQuery)\",\"intervalSeconds\":\(interval),\"timeoutMs\":\(configuration.timeoutMs)}\n"
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw .files("cannot write the monitors file \(path)")
        }
    }

    /// The engine binary: `--engine`, else `lookout-engine` beside this executable (both
    /// products land in the same `.build/<configuration>` directory).
    static func resolveEngine(_ configured: String?) throws(ThroughputError) -> String {
        let path: String
        if let configured {
            path = configured
        } else {
            let executable =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
            path =
                URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("lookout-engine")
                .path
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isExecutableFile(atPath: path)
        else { throw .engineMissing(path: path) }
        return path
    }

    /// The last lines of a log, for error messages.
    static func tail(of path: String, lines: Int = 20) -> String {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            return "  (stderr was empty)"
        }
        let text = String(decoding: data.suffix(16 * 1024), as: UTF8.self)
        var all = text.split(separator: "\n", omittingEmptySubsequences: false)
        while all.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { all.removeLast() }
        return all.suffix(lines)
            .map { "  " + $0 }.joined(separator: "\n")
    }
}

/// The files of one run, in `--keep-files DIR` or a temporary directory removed at the end.
struct RunFiles {
    let directory: String
    let isTemporary: Bool

    var monitors: String { directory + "/monitors.jsonl" }
    var results: String { directory + "/results.jsonl" }
    var summary: String { directory + "/summary.json" }
    var engineStdout: String { directory + "/engine.stdout.log" }
    var engineStderr: String { directory + "/engine.stderr.log" }

    init(keepIn keepDirectory: String?) throws(ThroughputError) {
        let manager = FileManager.default
        if let keepDirectory {
            directory = URL(fileURLWithPath: keepDirectory).standardizedFileURL.path
            isTemporary = false
        } else {
            let name = "lookout-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
            directory = manager.temporaryDirectory.appendingPathComponent(name).path
            isTemporary = true
        }
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .files("cannot create the run directory \(directory): \(error.localizedDescription)")
        }
        if !isTemporary {
            // Stale results from an earlier run would be read as this run's.
            for file in [results, summary] where manager.fileExists(atPath: file) {
                try? manager.removeItem(atPath: file)
            }
        }
    }

    func cleanUp() {
        if isTemporary { try? FileManager.default.removeItem(atPath: directory) }
    }
}
