extension Calibration {
    /// The documented figures with those a sweep measured on this machine put in their place:
    /// checks/s per core from the best standalone saturation point per protocol (divided by its
    /// engines, one core each) and CPU per check from that step; the slope of peak RSS over
    /// monitors is printed beside the documented memory per monitor.
    static func measured(from results: [ScenarioResult], sizes: DatabaseSizes?, label: String) -> Calibration {
        var calibration = Calibration.documented
        for checkProtocol in [CapacityScenario.CheckProtocol.http, .https] {
            var best: (scenario: CapacityScenario, step: CapacityStep, perCore: Double)?
            // The plan's HTTPS figures assume a full handshake per check: reuse scenarios are not them.
            for result in results
            where result.scenario.checkProtocol == checkProtocol && !result.scenario.database
                && !result.scenario.tlsSessionReuse
            {
                guard let saturation = result.saturation else { continue }
                let perCore = saturation.checksPerSecond / Double(max(result.scenario.engines, 1))
                if perCore > best?.perCore ?? 0 { best = (result.scenario, saturation, perCore) }
            }
            guard let best else { continue }
            let perCore = best.perCore
            let source = "measured: \(label), \(best.scenario.name) saturation"
            if checkProtocol == .http {
                calibration.httpChecksPerSecondPerCore = Figure(perCore, source)
                calibration.httpCPUMicrosPerCheck = Figure(best.step.cpuMicrosPerCheck, source)
            } else {
                calibration.httpsChecksPerSecondPerCore = Figure(perCore, source)
                calibration.httpsCPUMicrosPerCheck = Figure(best.step.cpuMicrosPerCheck, source)
            }
        }
        // Memory: per engine process, so divide by the engines of each step.
        var points: [(x: Double, y: Double)] = []
        for result in results {
            let engines = Double(result.scenario.engines)
            for step in result.steps { points.append((Double(step.monitors) / engines, step.peakRSSMiB / engines)) }
        }
        // A sweep runs at one interval, so in-flight checks grow with the monitors and the slope
        // holds both: it is an upper bound of the memory per monitor. The plan keeps the
        // documented per-monitor figure (many monitors at a long interval) and prints the slope.
        if let fit = LinearFit(points), fit.slope > 0 {
            let slope = PlanFormat.number(fit.slope * 1024, 2)
            calibration.rssKiBPerMonitor.source +=
                "; \(label) measured \(slope) KiB per monitor over \(points.count) steps at a fixed interval, an upper bound with load"
        }
        let clusterSteps = results.filter(\.scenario.cluster).compactMap { result in
            result.saturation.map { (result.scenario.name, $0.services) }
        }
        calibration.useRowSizes(of: clusterSteps, label: label)
        if let sizes { calibration.useDatabaseSizes(sizes) }
        return calibration
    }

    /// Row sizes of `plan --database`: a size measured over enough rows always wins; an
    /// estimate (too few rows in that database) only replaces a documented default, never a
    /// size a cluster scenario measured.
    mutating func useDatabaseSizes(_ sizes: DatabaseSizes) {
        if sizes.checkRows >= DatabaseSizes.minimumRows || checkRowBytes.source.hasPrefix("default") {
            checkRowBytes = Figure(sizes.checkRowBytes, sizes.checkSource)
        }
        if sizes.rollupRows >= DatabaseSizes.minimumRows || rollupRowBytes.source.hasPrefix("default") {
            rollupRowBytes = Figure(sizes.rollupRowBytes, sizes.rollupSource)
        }
    }

    /// Row sizes measured at a cluster scenario's saturation step (real rows in the step's
    /// schema: checks written by the engines' COPY writer, rollups by lookout_rollup_metrics);
    /// the one with the most rollup rows wins, since fixed costs weigh least there. A database
    /// given to `plan --database` with enough rows of its own still overrides them.
    mutating func useRowSizes(of saturations: [(scenario: String, services: ServiceCost?)], label: String) {
        let measured = saturations.compactMap { item in item.services.map { (item.scenario, $0) } }
        guard let (scenario, cost) = measured.max(by: { $0.1.rollupRows < $1.1.rollupRows }),
            cost.checkRowBytes > 0, cost.rollupRowBytes > 0
        else { return }
        checkRowBytes = Figure(
            cost.checkRowBytes,
            "measured: \(label), \(scenario) saturation, pg_total_relation_size of its check partitions / rows")
        measuredRedisCommandsPerCheck = Figure(
            cost.redisCommandsPerCheck,
            "measured: \(label), \(scenario) saturation, Redis INFO total_commands_processed over the step")
        rollupRowBytes = Figure(
            cost.rollupRowBytes,
            "measured: \(label), \(scenario) saturation, pg_total_relation_size(metrics) / \(PlanFormat.count(cost.rollupRows)) rows from lookout_rollup_metrics"
        )
    }

    /// From a saved `capacity --json` report, which carries saturation points only: checks/s per
    /// core from them and the engine CPU per check measured at that point (a report written
    /// before it carried that figure: derived as one busy core's second over those checks); the
    /// rest stays documented.
    static func measured(from document: CapacityReport.Document, label: String) -> Calibration {
        var calibration = Calibration.documented
        for checkProtocol in ["http", "https"] {
            var best: (scenario: CapacityReport.Document.Scenario, perCore: Double)?
            for scenario in document.scenarios
            where scenario.protocol == checkProtocol && !scenario.database && scenario.tlsSessionReuse != true {
                guard let saturation = scenario.saturation, saturation.checksPerSecond > 0 else { continue }
                let perCore = saturation.checksPerSecond / Double(max(scenario.engines, 1))
                if perCore > best?.perCore ?? 0 { best = (scenario, perCore) }
            }
            guard let best else { continue }
            let perCore = best.perCore
            let name = best.scenario.name
            let source = "measured: \(label), \(name) saturation"
            let measuredCPU = best.scenario.saturation?.cpuMicrosPerCheck.flatMap { $0 > 0 ? $0 : nil }
            let cpu =
                measuredCPU.map { Figure($0, "measured: \(label), \(name) saturation, engine user + system CPU") }
                ?? Figure((1e6 / perCore).rounded(), "derived: one core busy at \(name) saturation (\(label))")
            if checkProtocol == "http" {
                calibration.httpChecksPerSecondPerCore = Figure(perCore, source)
                calibration.httpCPUMicrosPerCheck = cpu
            } else {
                calibration.httpsChecksPerSecondPerCore = Figure(perCore, source)
                calibration.httpsCPUMicrosPerCheck = cpu
            }
        }
        calibration.useRowSizes(
            of: document.scenarios.filter { $0.cluster == true }.map { ($0.name, $0.saturation?.services) },
            label: label)
        return calibration
    }
}

/// Least-squares line through points; nil for fewer than two distinct x.
struct LinearFit: Sendable, Equatable {
    var slope: Double
    var intercept: Double

    init?(_ points: [(x: Double, y: Double)]) {
        let n = Double(points.count)
        guard points.count >= 2 else { return nil }
        let meanX = points.reduce(0) { $0 + $1.x } / n
        let meanY = points.reduce(0) { $0 + $1.y } / n
        let sxx = points.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
        guard sxx > 0 else { return nil }
        let sxy = points.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) }
        slope = sxy / sxx
        intercept = meanY - slope * meanX
    }
}
