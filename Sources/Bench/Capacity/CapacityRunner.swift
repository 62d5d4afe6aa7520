import Foundation
import LookoutCore

/// Runs single steps of a capacity sweep: N monitors at one interval, split over one or more
/// real engine processes (`--loops 1` each), against the in-process farm, and measures them from
/// the engines' results files and rusage and from the farm's own request counter.
///
/// One farm serves every step (its counters are reset before each), so that ports and threads
/// stay put; every engine started is reaped or stopped before `runStep` returns.
final class CapacityRunner {
    let farm: Farm
    let enginePath: String
    let databaseURL: String?
    /// Redis of the cluster scenarios (an IP address: hiredis resolves names blocking).
    let redis: RedisEndpoint?
    let redisURL: String?
    let files: RunFiles
    let shutdown: ShutdownSignal
    /// Per-check timeout written into the monitors files, ms.
    let timeoutMs = 5_000
    /// Owner of the monitors the engines upsert when they write to the database.
    static let databaseOwner = "capacity@lookout.bench"
    /// Cluster steps run so far: names each step's schema and Redis prefix.
    var clusterSteps = 0

    init(
        enginePath: String, databaseURL: String?, redisURL: String? = nil, farmThreads: Int, shutdown: ShutdownSignal
    ) throws(CapacityError) {
        if let redisURL {
            do throws(RedisEndpointError) {
                redis = try RedisEndpoint(url: redisURL)
            } catch {
                throw .report("--redis: \(error.description)")
            }
        } else {
            redis = nil
        }
        self.redisURL = redisURL
        do {
            files = try RunFiles(keepIn: nil)
        } catch {
            throw .run(error)
        }
        do {
            var configuration = try FarmConfiguration(addressCount: 16, httpPort: 0, dnsPort: 0, threads: farmThreads)
            configuration.tls = try FarmTLS.selfSigned(
                in: files.directory, addresses: configuration.addresses, httpsPort: 0)
            farm = try Farm.start(configuration)
        } catch {
            files.cleanUp()
            throw .run(.farm(error))
        }
        self.enginePath = enginePath
        self.databaseURL = databaseURL
        self.shutdown = shutdown
    }

    /// Stops the farm and removes the run's files.
    func close() {
        farm.stop()
        files.cleanUp()
    }

    /// One step: `offered` checks/s as `offered × interval` monitors for `durationSeconds`.
    func runStep(
        scenario: CapacityScenario, offered: Double, intervalSeconds: Double, durationSeconds: Double
    ) throws(CapacityError) -> CapacityStep {
        let monitors = max(scenario.engines, Int((offered * intervalSeconds).rounded()))
        let engines = scenario.engines
        var monitorFiles: [String] = []
        // Cluster mode: one file of every monitor, imported into a schema of the step's own;
        // the engines split it by shard.
        var cluster: ClusterStep?
        defer { cluster?.close() }
        if scenario.cluster {
            let path = files.directory + "/monitors-all.jsonl"
            try writeMonitors(
                to: path, scenario: scenario, engine: 0, of: 1, monitors: monitors, interval: intervalSeconds)
            cluster = try ClusterStep(runner: self, monitorsFile: path)
        } else {
            for engine in 0..<engines {
                let path = files.directory + "/monitors-\(engine).jsonl"
                try writeMonitors(
                    to: path, scenario: scenario, engine: engine, of: engines, monitors: monitors,
                    interval: intervalSeconds)
                monitorFiles.append(path)
            }
        }
        do { try farm.resetStats().wait() } catch { throw .report("cannot reset the farm's counters: \(error)") }

        let redisBefore = try cluster?.redisCounters()
        let cpuBefore = ChildProcess.selfCPUSeconds()
        let startedAt = ChildProcess.now()
        var children: [ChildProcess] = []
        defer { for child in children { child.terminate() } }
        for engine in 0..<engines {
            var arguments = [
                "--results", resultsPath(engine),
                "--duration", ThroughputReport.number(durationSeconds),
                "--allow-private-targets",
                "--dns-server", "127.0.0.1:\(farm.dnsPort)",
                "--loops", "1",
                // The farm's few addresses stand in for many hosts: no per-host politeness.
                "--max-per-host", "0",
                "--summary-json", summaryPath(engine),
            ]
            if scenario.checkProtocol == .https, let tls = farm.configuration.tls {
                arguments += ["--ca-file", tls.certificatePath]
            }
            if let cluster {
                arguments +=
                    cluster.engineArguments(engine: engine) + ["--spill-dir", files.directory + "/spill-\(engine)"]
            } else {
                arguments += ["--monitors", monitorFiles[engine]]
            }
            if !scenario.cluster, scenario.database, let databaseURL {
                arguments += [
                    "--database", databaseURL, "--owner", Self.databaseOwner,
                    "--spill-dir", files.directory + "/spill-\(engine)",
                ]
            }
            for path in [resultsPath(engine), summaryPath(engine)] { try? FileManager.default.removeItem(atPath: path) }
            do {
                children.append(
                    try ChildProcess(
                        executable: enginePath, arguments: arguments,
                        stdoutPath: files.directory + "/engine-\(engine).stdout.log",
                        stderrPath: stderrPath(engine)))
            } catch {
                throw .run(error)
            }
        }

        // Sample the farm's counter while the engines run (its own count of checks over time), and
        // the engines' CPU, so that both can be read over the steady window only.
        var samples: [(epochMs: Int64, value: Int)] = []
        var cpuSamples: [(epochMs: Int64, value: Int)] = []
        var cpuByEngine = Array(repeating: 0, count: engines)
        let deadline = startedAt + durationSeconds + Double(timeoutMs) / 1000 + 30
        var exits: [ChildExit?] = Array(repeating: nil, count: engines)
        while exits.contains(where: { $0 == nil }) {
            if let reason = shutdown.requestedReason { throw .interrupted(reason) }
            if ChildProcess.now() > deadline {
                throw .run(
                    .engineHung(seconds: deadline - startedAt, stderrTail: ThroughputDriver.tail(of: stderrPath(0))))
            }
            for (index, child) in children.enumerated() where exits[index] == nil {
                // Read before polling: a reaped child has no /proc entry left (its last reading stays).
                if let micros = child.cpuMicrosSoFar { cpuByEngine[index] = micros }
                exits[index] = child.poll()
            }
            let sampledAt = Self.epochMilliseconds()
            cpuSamples.append((sampledAt, cpuByEngine.reduce(0, +)))
            if let stats = try? farm.stats().wait() {
                samples.append((Self.epochMilliseconds(), stats.requests))
            }
            usleep(100_000)
        }
        let wallSeconds = ChildProcess.now() - startedAt
        let redisAfter = try cluster?.redisCounters()
        let farmCPUSeconds = ChildProcess.selfCPUSeconds() - cpuBefore
        let finalStats: FarmStats
        do { finalStats = try farm.stats().wait() } catch { throw .report("cannot read the farm's counters: \(error)") }
        let ended = exits.compactMap { $0 }
        for (index, exit) in ended.enumerated() where !exit.succeeded {
            throw .run(
                .engineFailed(
                    exit: exit, stderrTail: ThroughputDriver.tail(of: stderrPath(index)),
                    logHint: "the engine's arguments are in CapacityRunner.runStep"))
        }

        var scanner = ResultsScanner()
        for engine in 0..<engines {
            do { try scanner.scanFile(atPath: resultsPath(engine)) } catch { throw .run(error) }
        }
        var rowsWritten = 0
        var rowsLost = 0
        if scenario.database {
            for engine in 0..<engines {
                let summary = FileManager.default.contents(atPath: summaryPath(engine)).flatMap { JSONValue(data: $0) }
                guard case .object(let root)? = summary, case .object(let database)? = root["database"],
                    case .number(let written)? = database["rowsWritten"],
                    case .number(let duplicates)? = database["rowsDuplicate"],
                    case .number(let dropped)? = database["droppedRows"],
                    case .number(let checks)? = root["checks"]
                else {
                    throw .report("engine \(engine) wrote no database figures in its --summary-json")
                }
                rowsWritten += Int(written)
                rowsLost += max(0, Int(checks) - Int(written) - Int(duplicates)) + Int(dropped)
            }
        }
        let cpuSeconds = ended.reduce(0) { $0 + $1.cpuSeconds }
        let peakRSSKiB = ended.reduce(0) { $0 + $1.peakRSSKiB }
        var services: ServiceCost?
        if let cluster, let redisBefore, let redisAfter {
            services = try cluster.serviceCost(
                redisBefore: redisBefore, redisAfter: redisAfter, checks: scanner.checks.count)
        }
        var step = Self.measure(
            scanner: scanner, samples: samples, engineCPUSamples: cpuSamples, finalFarmRequests: finalStats.requests,
            offered: offered,
            monitors: monitors, intervalSeconds: intervalSeconds, cpuSeconds: cpuSeconds, peakRSSKiB: peakRSSKiB,
            rowsWritten: scenario.database ? rowsWritten : nil, rowsLost: rowsLost, wallSeconds: wallSeconds,
            farmCPUSeconds: farmCPUSeconds)
        step.services = services
        return step
    }

    /// Turns what a step recorded into its figures. Pure: the unit tests feed it made-up scans.
    /// `samples`: the farm's request count over time; `engineCPUSamples`: the engines' CPU so far
    /// (µs, all engines) over time, read over the steady window like the farm's count; without
    /// two of them `cpuSeconds` (the engines' whole run, start-up included) stands in.
    static func measure(
        scanner: ResultsScanner, samples: [(epochMs: Int64, value: Int)],
        engineCPUSamples: [(epochMs: Int64, value: Int)] = [], finalFarmRequests: Int,
        offered: Double, monitors: Int, intervalSeconds: Double, cpuSeconds: Double, peakRSSKiB: Int,
        rowsWritten: Int?, rowsLost: Int, wallSeconds: Double, farmCPUSeconds: Double
    ) -> CapacityStep {
        let checks = scanner.checks
        let firstMs = checks.lazy.map(\.checkedAtMs).min() ?? 0
        let lastMs = checks.lazy.map(\.checkedAtMs).max() ?? 0
        // The steady window starts one interval after the first check (every monitor has then
        // been scheduled once), but never so late that less than a second is left.
        let steadyStartMs = min(firstMs + Int64((intervalSeconds * 1000).rounded()), max(firstMs, lastMs - 1000))
        var lag = LatencyHistogram()
        var steadyChecks = 0
        var notUp = 0
        for check in checks {
            if check.status != CheckStatus.up.rawValue { notUp += 1 }
            guard check.checkedAtMs >= steadyStartMs else { continue }
            steadyChecks += 1
            lag.record(Int64(check.lagMicros))
        }
        let windowSeconds = Double(lastMs - steadyStartMs) / 1000
        let achieved = windowSeconds > 0 ? Double(steadyChecks) / windowSeconds : 0
        let farmInWindow =
            interpolate(samples, atMs: lastMs) - interpolate(samples, atMs: steadyStartMs)
        let farmRate = windowSeconds > 0 ? farmInWindow / windowSeconds : 0
        let cpuInWindow =
            interpolate(engineCPUSamples, atMs: lastMs) - interpolate(engineCPUSamples, atMs: steadyStartMs)
        let cpuMicrosPerCheck: Double
        if engineCPUSamples.count >= 2, steadyChecks > 0, cpuInWindow > 0 {
            cpuMicrosPerCheck = cpuInWindow / Double(steadyChecks)
        } else {
            cpuMicrosPerCheck = checks.isEmpty ? 0 : cpuSeconds * 1e6 / Double(checks.count)
        }
        let lost = max(0, finalFarmRequests - checks.count) + rowsLost
        let lagP99 = Double(lag.value(atPercentile: 99)) / 1000
        return CapacityStep(
            offeredChecksPerSecond: offered,
            monitors: monitors,
            intervalSeconds: intervalSeconds,
            checksPerSecond: round1(achieved),
            farmChecksPerSecond: round1(farmRate),
            lagP50Ms: round1(Double(lag.value(atPercentile: 50)) / 1000),
            lagP99Ms: round1(lagP99),
            checks: checks.count,
            farmRequests: finalFarmRequests,
            falseFailures: notUp,
            lostResults: lost,
            cpuMicrosPerCheck: round1(cpuMicrosPerCheck),
            peakRSSMiB: round1(Double(peakRSSKiB) / 1024),
            rowsPerSecond: rowsWritten.map { round1(wallSeconds > 0 ? Double($0) / wallSeconds : 0) },
            farmCoresBusy: wallSeconds > 0 ? (farmCPUSeconds / wallSeconds * 100).rounded() / 100 : 0,
            failures: CapacityStep.judge(
                offered: offered, achieved: achieved, lagP99Ms: lagP99, lost: lost, falseFailures: notUp,
                checks: checks.count)
        )
    }

    /// A sampled counter (the farm's requests, the engines' CPU) at `ms`, linear between the two
    /// samples around it.
    static func interpolate(_ samples: [(epochMs: Int64, value: Int)], atMs ms: Int64) -> Double {
        guard let first = samples.first, let last = samples.last else { return 0 }
        if ms <= first.epochMs { return Double(first.value) }
        if ms >= last.epochMs { return Double(last.value) }
        var index = 1
        while samples[index].epochMs < ms { index += 1 }
        let before = samples[index - 1]
        let after = samples[index]
        let span = Double(after.epochMs - before.epochMs)
        guard span > 0 else { return Double(after.value) }
        let share = Double(ms - before.epochMs) / span
        return Double(before.value) + share * Double(after.value - before.value)
    }

    private func writeMonitors(
        to path: String, scenario: CapacityScenario, engine: Int, of engines: Int, monitors: Int, interval: Double
    ) throws(CapacityError) {
        let addresses = farm.addresses
        let intervalText = ThroughputReport.number(interval)
        let origin: String
        if scenario.checkProtocol == .https {
            guard let httpsPort = farm.httpsPort else { throw .report("the farm has no HTTPS listener") }
            origin = "https://%@:\(httpsPort)"
        } else {
            origin = "http://%@:\(farm.httpPort)"
        }
        let reuse = scenario.tlsSessionReuse ? ",\"tlsSessionReuse\":true" : ""
        var text = ""
        text.reserveCapacity(monitors / engines * 130)
        var index = engine
        while index < monitors {
            let host = addresses[index % addresses.count]
            let url = origin.replacingOccurrences(of: "%@", with: host) + "/ok"
            text +=
                "{\"id\":\"c\(index)\",\"url\":\"\(url)\",\"intervalSeconds\":\(intervalText),\"timeoutMs\":\(timeoutMs)\(reuse)}\n"
            index += engines
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw .report("cannot write the monitors file \(path)")
        }
    }

    private func resultsPath(_ engine: Int) -> String { files.directory + "/results-\(engine).jsonl" }
    private func summaryPath(_ engine: Int) -> String { files.directory + "/summary-\(engine).json" }
    private func stderrPath(_ engine: Int) -> String { files.directory + "/engine-\(engine).stderr.log" }

    static func epochMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

private func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
