import LookoutCore

/// Everything one throughput run measured, as plain numbers: the input of the text and JSON
/// reports, and of the capacity reports and charts built on several runs. Codable so a saved
/// `--json` file can be read back.
struct ThroughputMeasurement: Codable, Sendable {
    /// What was asked for.
    struct Setup: Codable, Sendable {
        var monitors: Int
        var intervalSeconds: Double
        var durationSeconds: Double
        var loops: Int?
        var maxInFlight: Int?
        var names: ThroughputConfiguration.Names
        var path: String
        var timeoutMs: Int
        var farmThreads: Int
        var farmAddresses: Int
        var enginePath: String
        /// monitors / interval.
        var targetChecksPerSecond: Double
    }

    /// Percentiles of a latency, milliseconds (within ~1.6%, `LatencyHistogram`).
    struct Percentiles: Codable, Sendable {
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
        var mean: Double

        init(_ histogram: LatencyHistogram) {
            func ms(_ micros: Int64) -> Double { rounded(Double(micros) / 1000) }
            p50 = ms(histogram.value(atPercentile: 50))
            p90 = ms(histogram.value(atPercentile: 90))
            p99 = ms(histogram.value(atPercentile: 99))
            max = ms(histogram.maxValue)
            mean = rounded(histogram.mean / 1000)
        }
    }

    /// The checks of one time window.
    struct Window: Codable, Sendable {
        /// Window start and end (first and last `checkedAt` in it), RFC 3339.
        var from: String
        var to: String
        var seconds: Double
        var checks: Int
        var checksPerSecond: Double
        /// UP / DOWN / TIMEOUT / ERROR (and `unknown` for anything else the engine wrote).
        var statusCounts: [String: Int]
        var errorCounts: [String: Int]
        var lagMs: Percentiles
        var totalMs: Percentiles
    }

    /// The engine process, from wait4's rusage.
    struct Engine: Codable, Sendable {
        var wallSeconds: Double
        var userCPUSeconds: Double
        var systemCPUSeconds: Double
        var cpuSeconds: Double
        /// CPU seconds / wall seconds: 1.0 = one core busy.
        var coresBusy: Double
        var cpuMicrosPerCheck: Double
        /// CPU seconds per 1,000 checks, which is also cores needed per 1,000 checks/s.
        var cpuSecondsPerThousandChecks: Double
        var peakRSSMiB: Double
        var rssKiBPerMonitor: Double
    }

    /// The engine's DNS cache (from its summary), for runs with synthetic names.
    struct DNSCache: Codable, Sendable {
        var lookups: Int
        var hits: Int
        var misses: Int
        var coalesced: Int
        /// Distinct names in the monitors file: each must miss once.
        var distinctNames: Int
        /// Hits among the lookups after each name's first: 1 − (misses − names) / (lookups − names).
        var hitRatioAfterFirstLookup: Double
    }

    /// What the target farm saw.
    struct Farm: Codable, Sendable {
        var requests: Int
        var dnsQueries: Int
        /// farm requests / checks in the results file (1.0 when every check made one request).
        var requestsPerCheck: Double
        var byPath: [String: Int]
        /// CPU the farm (this process) used while the engine ran.
        var cpuSeconds: Double
        /// `cpuSeconds` / engine wall time; close to `farmThreads` means the farm, not the
        /// engine, was the limit.
        var coresBusy: Double
        /// True when `coresBusy` reached 90% of the farm's threads.
        var saturated: Bool
    }

    var setup: Setup
    /// Every check in the results file. `checksPerSecond` here is checks / `durationSeconds`.
    var overall: Window
    /// Checks started at least one interval after the first check (the schedule is then spread
    /// evenly and start-up effects are over); nil when the run is too short to have one.
    /// `checksPerSecond` is checks / the window's span.
    var steadyState: Window?
    var engine: Engine
    var farm: Farm
    var dnsCache: DNSCache?
    /// Lines of the results file that were not check results.
    var malformedResultLines: Int
    /// The engine's `--summary-json`, as it wrote it (nil when it wrote none).
    var engineSummary: JSONValue?
    /// When the run ended, RFC 3339.
    var measuredAt: String
}

extension ThroughputMeasurement {
    /// Aggregates scanned checks into the overall and steady-state windows.
    init(
        setup: Setup,
        scan: ResultsScanner,
        exit: ChildExit,
        farmStats: FarmStats,
        farmCPUSeconds: Double,
        engineSummary: JSONValue?,
        measuredAtMs: Int64
    ) {
        var overall = WindowAccumulator(errorCodeCount: scan.errorCodes.count)
        var steady = WindowAccumulator(errorCodeCount: scan.errorCodes.count)
        let firstMs = scan.checks.lazy.map(\.checkedAtMs).min() ?? 0
        let steadyStartMs = firstMs + Int64((setup.intervalSeconds * 1000).rounded())
        for check in scan.checks {
            overall.add(check)
            if check.checkedAtMs >= steadyStartMs { steady.add(check) }
        }
        let checks = scan.checks.count
        self.setup = setup
        self.overall = overall.window(errorCodes: scan.errorCodes, seconds: setup.durationSeconds)
        // At least a second of steady state, or the rate is mostly rounding.
        if steady.checks > 0, steady.lastMs - steadyStartMs >= 1000 {
            self.steadyState = steady.window(
                errorCodes: scan.errorCodes,
                seconds: Double(steady.lastMs - steadyStartMs) / 1000,
                fromMs: steadyStartMs
            )
        } else {
            self.steadyState = nil
        }
        let perCheck = checks > 0 ? exit.cpuSeconds / Double(checks) : 0
        let farmCores = exit.wallSeconds > 0 ? farmCPUSeconds / exit.wallSeconds : 0
        self.engine = Engine(
            wallSeconds: rounded(exit.wallSeconds),
            userCPUSeconds: rounded(exit.userCPUSeconds),
            systemCPUSeconds: rounded(exit.systemCPUSeconds),
            cpuSeconds: rounded(exit.cpuSeconds),
            coresBusy: rounded(exit.wallSeconds > 0 ? exit.cpuSeconds / exit.wallSeconds : 0),
            cpuMicrosPerCheck: rounded(perCheck * 1e6),
            cpuSecondsPerThousandChecks: rounded(perCheck * 1000, places: 4),
            peakRSSMiB: rounded(Double(exit.peakRSSKiB) / 1024),
            rssKiBPerMonitor: rounded(Double(exit.peakRSSKiB) / Double(max(setup.monitors, 1)))
        )
        self.farm = Farm(
            requests: farmStats.requests,
            dnsQueries: farmStats.dnsQueries,
            requestsPerCheck: rounded(checks > 0 ? Double(farmStats.requests) / Double(checks) : 0, places: 4),
            byPath: farmStats.byPath,
            cpuSeconds: rounded(farmCPUSeconds),
            coresBusy: rounded(farmCores),
            saturated: farmCores >= 0.9 * Double(setup.farmThreads)
        )
        self.malformedResultLines = scan.malformedLines
        self.engineSummary = engineSummary
        if setup.names == .dns, case .object(let summary)? = engineSummary, case .object(let dns)? = summary["dns"],
            case .number(let hits)? = dns["cacheHits"], case .number(let misses)? = dns["cacheMisses"],
            case .number(let coalesced)? = dns["coalesced"]
        {
            let lookups = Int(hits + misses + coalesced)
            let names = setup.monitors
            let later = lookups - names
            let laterMisses = Int(misses) - names
            self.dnsCache = DNSCache(
                lookups: lookups, hits: Int(hits), misses: Int(misses), coalesced: Int(coalesced), distinctNames: names,
                hitRatioAfterFirstLookup: later > 0
                    ? rounded(1 - Double(max(laterMisses, 0)) / Double(later), places: 5) : 0)
        } else {
            self.dnsCache = nil
        }
        self.measuredAt = RFC3339.string(epochMilliseconds: measuredAtMs)
    }
}

/// Counts and histograms of one window while scanning.
private struct WindowAccumulator {
    var checks = 0
    var statusCounts = [Int](repeating: 0, count: CheckStatus.allCases.count + 1)  // last = unknown
    var errorCounts: [Int]
    var lag = LatencyHistogram()
    var total = LatencyHistogram()
    var firstMs = Int64.max
    var lastMs = Int64.min

    init(errorCodeCount: Int) {
        errorCounts = [Int](repeating: 0, count: errorCodeCount)
    }

    mutating func add(_ check: ScannedCheck) {
        checks += 1
        statusCounts[min(Int(check.status), statusCounts.count - 1)] += 1
        errorCounts[Int(check.errorCodeIndex)] += 1
        lag.record(Int64(check.lagMicros))
        total.record(Int64(check.totalMicros))
        firstMs = min(firstMs, check.checkedAtMs)
        lastMs = max(lastMs, check.checkedAtMs)
    }

    func window(errorCodes: [String], seconds: Double, fromMs: Int64? = nil) -> ThroughputMeasurement.Window {
        var statuses: [String: Int] = [:]
        for status in CheckStatus.allCases { statuses[status.name] = statusCounts[Int(status.rawValue)] }
        if let unknown = statusCounts.last, unknown > 0 { statuses["unknown"] = unknown }
        var errors: [String: Int] = [:]
        for (index, count) in errorCounts.enumerated() where index > 0 && count > 0 {
            errors[errorCodes[index]] = count
        }
        let start = checks > 0 ? (fromMs ?? firstMs) : 0
        return ThroughputMeasurement.Window(
            from: RFC3339.string(epochMilliseconds: start),
            to: RFC3339.string(epochMilliseconds: checks > 0 ? lastMs : 0),
            seconds: rounded(seconds),
            checks: checks,
            checksPerSecond: rounded(seconds > 0 ? Double(checks) / seconds : 0, places: 1),
            statusCounts: statuses,
            errorCounts: errors,
            lagMs: ThroughputMeasurement.Percentiles(lag),
            totalMs: ThroughputMeasurement.Percentiles(total)
        )
    }
}

/// Rounds for reports: more digits than this are noise in a benchmark and clutter the JSON.
private func rounded(_ value: Double, places: Int = 3) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (value * scale).rounded() / scale
}
