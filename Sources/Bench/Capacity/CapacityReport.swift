import Foundation

/// A sweep's results for tools (the JSON of issue 9, exactly), for people (Markdown) and as
/// SVG charts.
struct CapacityReport: Codable, Sendable {
    var results: [ScenarioResult]
    /// Where and how it was measured, one line each (cores, date, settings, load on the machine).
    var conditions: [String]

    // MARK: - JSON

    /// `{"scenarios": [{name, protocol, engines, database, saturation: {checksPerSecond,
    /// monitors, intervalSeconds, lagP99Ms, farmChecksPerSecond, cpuMicrosPerCheck}}]}`;
    /// `saturation` is null for a scenario in which no step passed or that did not run.
    struct Document: Codable, Sendable, Equatable {
        struct Scenario: Codable, Sendable, Equatable {
            var name: String
            var `protocol`: String
            var engines: Int
            var database: Bool
            /// Present (true) only for scenarios whose HTTPS monitors resume TLS sessions.
            var tlsSessionReuse: Bool?
            /// Present (true) only for cluster-mode scenarios (engines with --database and --redis).
            var cluster: Bool?
            var saturation: Saturation?

            /// `saturation` is written as `null` when there is none (the key is always there).
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encode(self.protocol, forKey: .protocol)
                try container.encode(engines, forKey: .engines)
                try container.encode(database, forKey: .database)
                try container.encodeIfPresent(tlsSessionReuse, forKey: .tlsSessionReuse)
                try container.encodeIfPresent(cluster, forKey: .cluster)
                try container.encode(saturation, forKey: .saturation)
            }
        }

        struct Saturation: Codable, Sendable, Equatable {
            var checksPerSecond: Double
            var monitors: Int
            var intervalSeconds: Double
            var lagP99Ms: Double
            var farmChecksPerSecond: Double
            /// Engine CPU (user + system, every engine of the scenario) per check at the
            /// saturation step, µs: what `plan --from` sizes cores with. Absent in reports
            /// written before it was added (plan then derives it from checks/s per core).
            var cpuMicrosPerCheck: Double?
            /// Cluster scenarios only: what the saturation step cost PostgreSQL and Redis.
            var services: ServiceCost?
        }

        var scenarios: [Scenario]
    }

    var document: Document {
        Document(
            scenarios: results.map { result in
                Document.Scenario(
                    name: result.scenario.name,
                    protocol: result.scenario.checkProtocol.rawValue,
                    engines: result.scenario.engines,
                    database: result.scenario.database,
                    tlsSessionReuse: result.scenario.tlsSessionReuse ? true : nil,
                    cluster: result.scenario.cluster ? true : nil,
                    saturation: result.saturation.map {
                        Document.Saturation(
                            checksPerSecond: $0.checksPerSecond, monitors: $0.monitors,
                            intervalSeconds: $0.intervalSeconds, lagP99Ms: $0.lagP99Ms,
                            farmChecksPerSecond: $0.farmChecksPerSecond, cpuMicrosPerCheck: $0.cpuMicrosPerCheck,
                            services: $0.services)
                    })
            })
    }

    func json() throws(CapacityError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(document)
            data.append(UInt8(ascii: "\n"))
            return data
        } catch {
            throw .report("cannot encode the capacity report: \(error)")
        }
    }

    // MARK: - Markdown

    /// The report: conditions, the saturation table, every step, and the charts when
    /// `chartsLink` (a path relative to the Markdown file) is given.
    func markdown(chartsLink: String?) -> String {
        let f = PlanFormat.self
        var text = "# Lookout capacity report\n\n"
        for condition in conditions { text += "- \(condition)\n" }
        text += "\n## Saturation points\n\n"
        text +=
            "Highest achieved checks/s with p99 lag ≤ 1 s, 0 lost results, 0 false failures and at least 95% of the offered rate.\n\n"
        text +=
            "| scenario | engines | database | checks/s | farm-counted checks/s | farm / engine | monitors × interval | lag p50 / p99 ms | CPU µs/check | peak RSS MiB |\n"
        text += "|---|---:|---|---:|---:|---:|---|---|---:|---:|\n"
        for result in results {
            let s = result.scenario
            guard let sat = result.saturation else {
                text +=
                    "| \(s.name) | \(s.engines) | \(Self.storage(s)) | \(result.notRun.map { "not run: \($0)" } ?? "no step passed") | | | | | | |\n"
                continue
            }
            let agreement = sat.checksPerSecond > 0 ? sat.farmChecksPerSecond / sat.checksPerSecond : 0
            text +=
                "| \(s.name) | \(s.engines) | \(Self.storage(s)) | \(f.number(sat.checksPerSecond, 0)) | \(f.number(sat.farmChecksPerSecond, 0)) | \(f.number(agreement, 3)) | \(f.count(sat.monitors)) × \(ThroughputReport.number(sat.intervalSeconds)) s | \(f.number(sat.lagP50Ms, 1)) / \(f.number(sat.lagP99Ms, 1)) | \(f.number(sat.cpuMicrosPerCheck, 0)) | \(f.number(sat.peakRSSMiB, 1)) |\n"
        }
        text += clusterCostSection()
        text += "\n## Every step\n"
        for result in results where !result.steps.isEmpty {
            text += "\n### \(result.scenario.name)\n\n"
            text +=
                "| offered/s | achieved/s | farm/s | lag p50 / p99 ms | CPU µs/check | RSS MiB | rows/s | farm cores | verdict |\n"
            text += "|---:|---:|---:|---|---:|---:|---:|---:|---|\n"
            for step in result.steps {
                text +=
                    "| \(f.number(step.offeredChecksPerSecond, 0)) | \(f.number(step.checksPerSecond, 0)) | \(f.number(step.farmChecksPerSecond, 0)) | \(f.number(step.lagP50Ms, 1)) / \(f.number(step.lagP99Ms, 1)) | \(f.number(step.cpuMicrosPerCheck, 0)) | \(f.number(step.peakRSSMiB, 1)) | \(step.rowsPerSecond.map { f.number($0, 0) } ?? "–") | \(f.number(step.farmCoresBusy, 2)) | \(step.passed ? "pass" : step.failures.joined(separator: "; ")) |\n"
            }
        }
        if let chartsLink {
            text += "\n## Charts\n\n"
            for chart in Self.chartNames {
                text += "![\(chart.title)](\(chartsLink)/\(chart.file))\n\n"
            }
        }
        return text
    }

    /// "PostgreSQL", "PostgreSQL + Redis (cluster)" or "–".
    static func storage(_ scenario: CapacityScenario) -> String {
        scenario.cluster ? "PostgreSQL + Redis (cluster)" : scenario.database ? "PostgreSQL" : "–"
    }

    /// What every cluster step cost the shared services, per check; empty without cluster steps.
    func clusterCostSection() -> String {
        let f = PlanFormat.self
        let clusterResults = results.filter { $0.scenario.cluster && $0.steps.contains { $0.services != nil } }
        guard !clusterResults.isEmpty else { return "" }
        var text = "\n## Cluster mode: PostgreSQL and Redis per check\n\n"
        text +=
            "Per step, in a schema of its own: bytes per check row (pg_total_relation_size of the check partitions / rows), "
            + "bytes per rollup row (pg_total_relation_size(metrics) / rows after lookout_rollup_metrics('minute', …) rolled "
            + "the step's checks up), and Redis commands and CPU per check (INFO deltas of the whole server).\n\n"
        text +=
            "| scenario | offered/s | achieved/s | engine CPU µs/check | Redis commands/check | Redis CPU µs/check | check row bytes | rollup rows | rollup row bytes |\n"
        text += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for result in clusterResults {
            for step in result.steps {
                guard let cost = step.services else { continue }
                text +=
                    "| \(result.scenario.name) | \(f.number(step.offeredChecksPerSecond, 0)) | \(f.number(step.checksPerSecond, 0)) | \(f.number(step.cpuMicrosPerCheck, 0)) | \(f.number(cost.redisCommandsPerCheck, 2)) | \(f.number(cost.redisCPUMicrosPerCheck, 1)) | \(f.number(cost.checkRowBytes, 0)) | \(f.count(cost.rollupRows)) | \(f.number(cost.rollupRowBytes, 0)) |\n"
            }
        }
        return text
    }

    // MARK: - Charts

    static let chartNames: [(file: String, title: String)] = [
        ("achieved-vs-offered.svg", "Achieved vs offered checks/s"),
        ("lag-vs-load.svg", "Scheduling lag p50 / p99 vs offered load"),
        ("cpu-per-check.svg", "Engine CPU µs per check vs offered load"),
        ("rss-vs-monitors.svg", "Engine peak RSS vs monitors"),
        ("postgresql-rows.svg", "Rows/s into PostgreSQL vs offered load"),
    ]

    /// The five charts, by file name.
    var charts: [(file: String, svg: String)] {
        let ran = results.filter { !$0.steps.isEmpty }
        func series(
            _ value: (CapacityStep) -> Double?, x: (CapacityStep) -> Double = { $0.offeredChecksPerSecond },
            suffix: String = "", dashed: Bool = false, only: (ScenarioResult) -> Bool = { _ in true }
        ) -> [SVGChart.Series] {
            ran.filter(only).map { result in
                SVGChart.Series(
                    name: result.scenario.name + suffix,
                    points: result.steps.compactMap { step in value(step).map { SVGChart.Point(x: x(step), y: $0) } },
                    dashed: dashed)
            }
        }
        let achieved = SVGChart(
            title: Self.chartNames[0].title, xLabel: "offered checks/s", yLabel: "achieved checks/s",
            series: series { $0.checksPerSecond } + series({ $0.farmChecksPerSecond }, suffix: " (farm)", dashed: true),
            identityLine: true)
        let lag = SVGChart(
            title: Self.chartNames[1].title, xLabel: "offered checks/s", yLabel: "lag ms (capped at 2,000)",
            series: series({ min($0.lagP99Ms, 2000) }, suffix: " p99")
                + series({ min($0.lagP50Ms, 2000) }, suffix: " p50", dashed: true))
        let cpu = SVGChart(
            title: Self.chartNames[2].title, xLabel: "offered checks/s", yLabel: "CPU µs per check (all engines)",
            series: series { $0.cpuMicrosPerCheck })
        let rss = SVGChart(
            title: Self.chartNames[3].title, xLabel: "monitors", yLabel: "peak RSS MiB (all engines)",
            series: series({ $0.peakRSSMiB }, x: { Double($0.monitors) }))
        let rows = SVGChart(
            title: Self.chartNames[4].title, xLabel: "offered checks/s", yLabel: "rows/s written",
            series: series({ $0.rowsPerSecond }, only: { $0.scenario.database }))
        return zip(Self.chartNames, [achieved, lag, cpu, rss, rows]).map { ($0.0.file, $0.1.render()) }
    }

    /// Writes the charts into `directory` (created if missing).
    func writeCharts(to directory: String) throws(CapacityError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .report("cannot create the charts directory \(directory): \(error.localizedDescription)")
        }
        for chart in charts {
            let path = directory + "/" + chart.file
            guard FileManager.default.createFile(atPath: path, contents: Data(chart.svg.utf8)) else {
                throw .report("cannot write the chart \(path)")
            }
        }
    }
}
