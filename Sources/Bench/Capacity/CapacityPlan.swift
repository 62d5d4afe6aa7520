/// What a fleet of monitors needs: engines and cores, PostgreSQL write rate and storage, Redis
/// operations and memory, and the live fan-out each control plane receives. Pure arithmetic
/// over a `Calibration`; every figure carries the assumptions it was computed from.
struct CapacityPlan: Sendable {
    /// What the operator asks about, and the knobs of the model. Every default is the one
    /// `lookout-bench plan` uses.
    struct Input: Sendable, Equatable {
        /// Monitors in the fleet. Required; 1...1,000,000,000.
        var monitors: Int
        /// Seconds between two checks of one monitor. Required; 1...86,400.
        var intervalSeconds: Double
        /// Share of the monitors checked over HTTPS with a full handshake, 0...1. Default 0.
        var httpsShare: Double = 0
        /// Engine loops (cores) per engine process. Default 2.
        var coresPerEngine: Int = 2
        /// Highest share of an engine core's saturation throughput a plan uses, so a
        /// burst, a slow target or a lost engine does not turn into lag. Default 0.7.
        var targetUtilisation: Double = 0.7
        /// Days of check rows kept (`--retention-days`). Default 30.
        var checkRetentionDays: Int = 30
        /// Hours minute rollups are kept (the control plane's rollup scheduler). Default 48.
        var minuteRollupRetentionHours: Int = 48
        /// Days hour and day rollups are kept. Default 400 (a year and the 90-day bars).
        var rollupRetentionDays: Int = 400
        /// Control-plane instances, each subscribed to every live message. Default 2.
        var controlPlanes: Int = 2

        init(
            monitors: Int,
            intervalSeconds: Double,
            httpsShare: Double = 0,
            coresPerEngine: Int = 2,
            targetUtilisation: Double = 0.7,
            checkRetentionDays: Int = 30,
            minuteRollupRetentionHours: Int = 48,
            rollupRetentionDays: Int = 400,
            controlPlanes: Int = 2
        ) throws(CapacityError) {
            guard (1...1_000_000_000).contains(monitors) else {
                throw .invalidOption("--monitors must be between 1 and 1000000000, got \(monitors)")
            }
            guard intervalSeconds.isFinite, (1...86_400).contains(intervalSeconds) else {
                throw .invalidOption("--interval must be between 1 and 86400 seconds")
            }
            guard httpsShare.isFinite, (0...1).contains(httpsShare) else {
                throw .invalidOption("--https-share must be between 0 and 1, e.g. 0.8 for 80% HTTPS")
            }
            guard (1...256).contains(coresPerEngine) else {
                throw .invalidOption("--cores-per-engine must be between 1 and 256")
            }
            guard targetUtilisation.isFinite, targetUtilisation > 0, targetUtilisation <= 1 else {
                throw .invalidOption("--utilisation must be above 0 and at most 1")
            }
            guard (1...3650).contains(checkRetentionDays) else {
                throw .invalidOption("--retention-days must be between 1 and 3650")
            }
            guard (1...8760).contains(minuteRollupRetentionHours), (1...3650).contains(rollupRetentionDays) else {
                throw .invalidOption("rollup retention must be 1...8760 hours of minutes and 1...3650 days")
            }
            guard (1...1000).contains(controlPlanes) else {
                throw .invalidOption("--control-planes must be between 1 and 1000")
            }
            self.monitors = monitors
            self.intervalSeconds = intervalSeconds
            self.httpsShare = httpsShare
            self.coresPerEngine = coresPerEngine
            self.targetUtilisation = targetUtilisation
            self.checkRetentionDays = checkRetentionDays
            self.minuteRollupRetentionHours = minuteRollupRetentionHours
            self.rollupRetentionDays = rollupRetentionDays
            self.controlPlanes = controlPlanes
        }
    }

    /// One line of the plan: a figure, its value in words, and how it was reached.
    struct Line: Sendable, Equatable {
        var section: String
        var figure: String
        var value: String
        var assumption: String
    }

    let input: Input
    let calibration: Calibration

    // Checks
    let checksPerSecond: Double
    let httpChecksPerSecond: Double
    let httpsChecksPerSecond: Double
    // Engines
    /// Engine cores busy at saturation throughput (100%).
    let engineCoresAtSaturation: Double
    /// Engine cores with the utilisation headroom, rounded up.
    let engineCores: Int
    let engines: Int
    let monitorsPerEngine: Int
    let rssPerEngineMiB: Double
    /// The same cores from CPU µs per check instead of saturation throughput: a cross-check.
    let engineCoresFromCPUCost: Double
    // PostgreSQL
    let rowsPerSecond: Double
    let copyStreams: Int
    let checkBytesPerDay: Double
    let checkBytesRetained: Double
    let rollupRowsPerSecond: Double
    let rollupBytesRetained: Double
    // Redis
    let liveMessagesPerSecond: Double
    let stateEventsPerSecond: Double
    let heartbeatsPerSecond: Double
    let redisOpsPerSecond: Double
    let redisIngressBytesPerSecond: Double
    let redisMemoryBytes: Double
    // Control planes
    let fanOutBytesPerSecondPerControlPlane: Double

    /// Live messages a coordinator sends at least per second while it has results: its batch
    /// timer (`liveBatchMaxDelayMs` 100) fires ten times a second.
    static let liveTimerFlushesPerSecond = 10.0
    /// Redis commands per engine per second for membership (heartbeat, lease renewal).
    static let heartbeatOpsPerEnginePerSecond = 1.0
    /// Entries the state stream keeps (`ClusterContract.stateStreamMaxLength`).
    static let stateStreamEntries = 100_000.0
    /// Bytes Redis spends per stream entry (fields plus listpack overhead).
    static let stateStreamEntryBytes = 320.0

    init(input: Input, calibration c: Calibration) {
        self.input = input
        self.calibration = c
        let checks = Double(input.monitors) / input.intervalSeconds
        checksPerSecond = checks
        httpsChecksPerSecond = checks * input.httpsShare
        httpChecksPerSecond = checks - httpsChecksPerSecond

        engineCoresAtSaturation =
            httpChecksPerSecond / c.httpChecksPerSecondPerCore.value + httpsChecksPerSecond
            / c.httpsChecksPerSecondPerCore.value
        engineCores = max(1, Int((engineCoresAtSaturation / input.targetUtilisation).rounded(.up)))
        engines = max(1, Int((Double(engineCores) / Double(input.coresPerEngine)).rounded(.up)))
        monitorsPerEngine = Int((Double(input.monitors) / Double(engines)).rounded(.up))
        rssPerEngineMiB = c.rssBaseMiB.value + Double(monitorsPerEngine) * c.rssKiBPerMonitor.value / 1024
        engineCoresFromCPUCost =
            (httpChecksPerSecond * c.httpCPUMicrosPerCheck.value + httpsChecksPerSecond
                * c.httpsCPUMicrosPerCheck.value) / 1e6

        rowsPerSecond = checks
        copyStreams = max(1, Int((checks / c.copyRowsPerSecondPerStream.value).rounded(.up)))
        checkBytesPerDay = checks * 86_400 * c.checkRowBytes.value
        checkBytesRetained = checkBytesPerDay * Double(input.checkRetentionDays)
        // One minute row per monitor and minute with a check in it, one hour row, one day row.
        let minutesWithChecks = min(1440, 86_400 / input.intervalSeconds)
        let monitors = Double(input.monitors)
        let minuteRowsPerDay = monitors * minutesWithChecks
        let hourRowsPerDay = monitors * min(24, 86_400 / input.intervalSeconds)
        let dayRowsPerDay = monitors
        rollupRowsPerSecond = (minuteRowsPerDay + hourRowsPerDay + dayRowsPerDay) / 86_400
        let minuteRowsKept = minuteRowsPerDay * Double(input.minuteRollupRetentionHours) / 24
        let longRowsKept = (hourRowsPerDay + dayRowsPerDay) * Double(input.rollupRetentionDays)
        rollupBytesRetained = (minuteRowsKept + longRowsKept) * c.rollupRowBytes.value

        let perEngine = checks / Double(engines)
        let messagesPerEngine =
            perEngine / c.liveResultsPerMessage.value >= Self.liveTimerFlushesPerSecond
            ? perEngine / c.liveResultsPerMessage.value : min(perEngine, Self.liveTimerFlushesPerSecond)
        liveMessagesPerSecond = messagesPerEngine * Double(engines)
        stateEventsPerSecond = checks * c.stateChangeShare.value
        heartbeatsPerSecond = Double(engines) * Self.heartbeatOpsPerEnginePerSecond
        redisOpsPerSecond = liveMessagesPerSecond + stateEventsPerSecond + heartbeatsPerSecond
        redisIngressBytesPerSecond = checks * c.liveResultBytes.value
        redisMemoryBytes = Self.stateStreamEntries * Self.stateStreamEntryBytes + Double(engines) * 1024
        fanOutBytesPerSecondPerControlPlane = checks * c.liveResultBytes.value
    }

    /// Every figure with its assumptions, in the order the report prints them.
    var lines: [Line] {
        let c = calibration
        let i = input
        var lines: [Line] = []
        func add(_ section: String, _ figure: String, _ value: String, _ assumption: String) {
            lines.append(Line(section: section, figure: figure, value: value, assumption: assumption))
        }
        let f = PlanFormat.self
        add(
            "checks", "checks/s", f.number(checksPerSecond, 1),
            "\(f.count(i.monitors)) monitors / \(f.number(i.intervalSeconds, 0)) s interval")
        add(
            "checks", "HTTP / HTTPS checks/s",
            "\(f.number(httpChecksPerSecond, 1)) / \(f.number(httpsChecksPerSecond, 1))",
            "HTTPS share \(f.number(i.httpsShare * 100, 0))%, full TLS handshake per check")
        add(
            "engines", "engine cores at saturation", f.number(engineCoresAtSaturation, 2),
            "\(f.number(c.httpChecksPerSecondPerCore.value, 0)) HTTP checks/s per core (\(c.httpChecksPerSecondPerCore.source)); \(f.number(c.httpsChecksPerSecondPerCore.value, 0)) HTTPS checks/s per core (\(c.httpsChecksPerSecondPerCore.source))"
        )
        add(
            "engines", "engine cores to provision", String(engineCores),
            "saturation cores / \(f.number(i.targetUtilisation * 100, 0))% target utilisation, rounded up")
        add(
            "engines", "engine processes", String(engines),
            "\(i.coresPerEngine) loops (cores) per engine process; shards spread by rendezvous hashing")
        add(
            "engines", "cross-check: cores from CPU per check", f.number(engineCoresFromCPUCost, 2),
            "\(f.number(c.httpCPUMicrosPerCheck.value, 0)) µs per HTTP check (\(c.httpCPUMicrosPerCheck.source)); \(f.number(c.httpsCPUMicrosPerCheck.value, 0)) µs per HTTPS check (\(c.httpsCPUMicrosPerCheck.source))"
        )
        add(
            "engines", "memory per engine",
            "\(f.number(rssPerEngineMiB, 0)) MiB for \(f.count(monitorsPerEngine)) monitors",
            "\(f.number(c.rssBaseMiB.value, 0)) MiB base (\(c.rssBaseMiB.source)) + \(f.number(c.rssKiBPerMonitor.value, 2)) KiB per monitor (\(c.rssKiBPerMonitor.source))"
        )
        add("postgresql", "check rows/s (COPY)", f.number(rowsPerSecond, 0), "one row per check")
        add(
            "postgresql", "COPY streams (engines writing at once)", String(copyStreams),
            "\(f.number(c.copyRowsPerSecondPerStream.value, 0)) rows/s per stream (\(c.copyRowsPerSecondPerStream.source))"
        )
        add(
            "postgresql", "check storage per day", f.bytes(checkBytesPerDay),
            "\(f.number(c.checkRowBytes.value, 0)) bytes per row, heap + indexes (\(c.checkRowBytes.source))")
        add(
            "postgresql", "check storage retained", f.bytes(checkBytesRetained),
            "\(i.checkRetentionDays) days of daily partitions (older ones dropped)")
        add(
            "postgresql", "rollup rows/s (upserts)", f.number(rollupRowsPerSecond, 1),
            "one minute, hour and day row per monitor per bucket with a check")
        add(
            "postgresql", "rollup storage retained", f.bytes(rollupBytesRetained),
            "\(f.number(c.rollupRowBytes.value, 0)) bytes per row (\(c.rollupRowBytes.source)); minutes kept \(i.minuteRollupRetentionHours) h, hours and days \(i.rollupRetentionDays) days"
        )
        add(
            "redis", "live PUBLISH/s", f.number(liveMessagesPerSecond, 1),
            "\(f.number(c.liveResultsPerMessage.value, 0)) results per message (\(c.liveResultsPerMessage.source)), at least \(f.number(Self.liveTimerFlushesPerSecond, 0))/s per busy engine"
        )
        add(
            "redis", "state XADD/s", f.number(stateEventsPerSecond, 1),
            "\(f.number(c.stateChangeShare.value * 100, 2))% of checks change state (\(c.stateChangeShare.source))")
        add(
            "redis", "operations/s", f.number(redisOpsPerSecond, 1),
            "PUBLISH + XADD + \(f.number(Self.heartbeatOpsPerEnginePerSecond, 0)) membership command per engine per second"
        )
        if let measured = c.measuredRedisCommandsPerCheck {
            add(
                "redis", "cross-check: commands/s measured", f.number(checksPerSecond * measured.value, 0),
                "\(f.number(measured.value, 2)) commands per check (\(measured.source)); the whole server's, so an upper bound when other clients share that Redis"
            )
        }
        add(
            "redis", "ingress", "\(f.bytes(redisIngressBytesPerSecond))/s",
            "\(f.number(c.liveResultBytes.value, 0)) bytes per live result (\(c.liveResultBytes.source))")
        add(
            "redis", "memory", f.bytes(redisMemoryBytes),
            "state stream capped at \(f.count(Int(Self.stateStreamEntries))) entries × \(f.number(Self.stateStreamEntryBytes, 0)) bytes; pub/sub keeps nothing"
        )
        add(
            "control plane", "live fan-in per control plane", "\(f.bytes(fanOutBytesPerSecondPerControlPlane))/s",
            "every instance subscribes to every live message; \(i.controlPlanes) instances = \(f.bytes(fanOutBytesPerSecondPerControlPlane * Double(i.controlPlanes)))/s of Redis egress"
        )
        return lines
    }

    /// The plan as aligned text: section, figure, value, then the assumptions it rests on.
    var text: String {
        var output =
            "lookout-bench plan: \(PlanFormat.count(input.monitors)) monitors every \(PlanFormat.number(input.intervalSeconds, 0)) s, \(PlanFormat.number(input.httpsShare * 100, 0))% HTTPS\n"
        var section = ""
        let width = lines.map { $0.figure.count }.max() ?? 0
        let valueWidth = lines.map { $0.value.count }.max() ?? 0
        for line in lines {
            if line.section != section {
                section = line.section
                output += "\n\(section)\n"
            }
            output +=
                "  " + line.figure.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                + line.value.padding(toLength: valueWidth + 2, withPad: " ", startingAt: 0) + "← " + line.assumption
                + "\n"
        }
        return output
    }
}

/// Number formatting of plans and capacity reports (no locale: reports must read the same
/// everywhere).
enum PlanFormat {
    static func count(_ value: Int) -> String { ThroughputReport.count(value) }

    /// Fixed decimals with thousands separators: 12345.6 → "12,345.6".
    static func number(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        let text = ThroughputReport.fixed(abs(value), places)
        let parts = text.split(separator: ".", maxSplits: 1)
        let whole = count(Int(parts[0]) ?? 0)
        let sign = value < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "-" : ""
        return sign + whole + (parts.count > 1 ? "." + parts[1] : "")
    }

    /// Bytes in binary units: 1536 → "1.5 KiB".
    static func bytes(_ value: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = value
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return unit == 0 ? "\(number(scaled, 0)) bytes" : "\(number(scaled, 1)) \(units[unit])"
    }
}
