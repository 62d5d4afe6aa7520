import Foundation

/// Renders a `ThroughputMeasurement` for people (a text table) and for tools (JSON).
///
/// Kept apart from the measuring so that capacity reports and charts can reuse the measurement
/// (or a saved JSON file) without running anything.
enum ThroughputReport {
    static func json(_ measurement: ThroughputMeasurement) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(measurement)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    static func text(_ m: ThroughputMeasurement) -> String {
        let setup = m.setup
        var lines: [String] = []
        let loops = setup.loops.map(String.init) ?? "engine default"
        let inFlight = setup.maxInFlight.map(String.init) ?? "engine default"
        lines.append(
            "lookout-bench throughput: \(count(setup.monitors)) monitors every \(number(setup.intervalSeconds)) s for \(number(setup.durationSeconds)) s"
        )
        lines.append(
            "  names \(setup.names.rawValue), path \(setup.path), loops \(loops), max in flight \(inFlight), farm threads \(setup.farmThreads), \(setup.farmAddresses) farm addresses"
        )
        lines.append("  engine \(setup.enginePath)")
        lines.append("")

        let steady = m.steadyState
        let steadyTitle = steady == nil ? "steady state: run too short" : "steady state (after the first interval)"
        var table: [[String]] = [["", "overall", steadyTitle]]
        func row(_ title: String, _ value: (ThroughputMeasurement.Window) -> String) {
            table.append([title, value(m.overall), steady.map(value) ?? "-"])
        }
        row("checks") { count($0.checks) }
        row("checks/s") { fixed($0.checksPerSecond, 1) }
        table.append(["target checks/s", fixed(setup.targetChecksPerSecond, 1), ""])
        for status in ["UP", "DOWN", "TIMEOUT", "ERROR", "unknown"] {
            if status == "unknown" && m.overall.statusCounts[status] == nil { continue }
            row(status) { count($0.statusCounts[status] ?? 0) }
        }
        row("lag ms p50 / p90 / p99 / max") { percentiles($0.lagMs, withMax: true) }
        row("total ms p50 / p90 / p99") { percentiles($0.totalMs, withMax: false) }
        row("window") { "\(fixed($0.seconds, 1)) s" }
        lines += columns(table)

        if !m.overall.errorCounts.isEmpty {
            lines.append("")
            let errors = m.overall.errorCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            lines.append(
                "error codes (overall): " + errors.map { "\($0.key) \(count($0.value))" }.joined(separator: ", ")
            )
        }
        if m.malformedResultLines > 0 {
            lines.append("results lines that were not checks: \(count(m.malformedResultLines))")
        }

        let engine = m.engine
        lines.append("")
        lines.append(
            "engine   wall \(fixed(engine.wallSeconds, 1)) s, CPU \(fixed(engine.cpuSeconds, 2)) s (user \(fixed(engine.userCPUSeconds, 2)) + sys \(fixed(engine.systemCPUSeconds, 2))) = \(fixed(engine.coresBusy, 2)) cores busy"
        )
        lines.append(
            "         \(fixed(engine.cpuMicrosPerCheck, 1)) µs CPU per check = \(fixed(engine.cpuSecondsPerThousandChecks, 3)) CPU s per 1,000 checks (cores per 1,000 checks/s)"
        )
        lines.append(
            "         peak RSS \(fixed(engine.peakRSSMiB, 1)) MiB = \(fixed(engine.rssKiBPerMonitor, 2)) KiB per monitor"
        )
        if case .object(let summary)? = m.engineSummary, case .object(let database)? = summary["database"],
            case .number(let written)? = database["rowsWritten"], case .number(let dropped)? = database["droppedRows"]
        {
            let seconds = max(m.engine.wallSeconds, 0.001)
            lines.append(
                "database \(count(Int(written))) rows written = \(fixed(written / seconds, 1)) rows/s over the engine's run, \(count(Int(dropped))) dropped"
            )
        }
        if let dns = m.dnsCache {
            lines.append(
                "dns      \(count(dns.lookups)) lookups: \(count(dns.hits)) hits, \(count(dns.misses)) misses, \(count(dns.coalesced)) coalesced; \(count(dns.distinctNames)) names; hit ratio after each name's first lookup \(fixed(dns.hitRatioAfterFirstLookup * 100, 3))%"
            )
        }
        lines.append(
            "farm     \(count(m.farm.requests)) requests (\(fixed(m.farm.requestsPerCheck, 3)) per check), \(count(m.farm.dnsQueries)) DNS queries"
        )
        lines.append("         CPU \(fixed(m.farm.cpuSeconds, 2)) s = \(fixed(m.farm.coresBusy, 2)) cores busy")
        if m.farm.saturated {
            lines.append("")
            lines.append(
                "WARNING: the farm was saturated (\(fixed(m.farm.coresBusy, 2)) cores for \(setup.farmThreads) threads): these numbers may measure the farm, not the engine. Rerun with more --farm-threads or fewer checks/s."
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Formatting

    private static func columns(_ rows: [[String]]) -> [String] {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }
    }

    private static func percentiles(_ p: ThroughputMeasurement.Percentiles, withMax: Bool) -> String {
        var parts = [fixed(p.p50, 2), fixed(p.p90, 2), fixed(p.p99, 2)]
        if withMax { parts.append(fixed(p.max, 2)) }
        return parts.joined(separator: " / ")
    }

    /// 1234567 → "1,234,567".
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return value < 0 ? "-" + result : result
    }

    static func fixed(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }

    /// 10.0 → "10", 2.5 → "2.5".
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
