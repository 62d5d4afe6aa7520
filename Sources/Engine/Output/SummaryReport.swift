import Foundation
import LookoutCore

/// The end-of-run report: one line on stderr, and the same figures as JSON (`--summary-json`).
struct SummaryReport {
    let summary: RunSummary
    let monitors: Int
    let loops: Int
    let elapsedSeconds: Double
    let cpuMicros: Int64
    let maxResidentKiB: Int64
    /// DNS cache figures summed over the loops.
    var dnsHits = 0
    var dnsMisses = 0
    var dnsCoalesced = 0
    /// The COPY writer's final figures (`--database` runs only).
    var database: CheckWriterFigures? = nil

    var checksPerSecond: Double { elapsedSeconds > 0 ? Double(summary.checks) / elapsedSeconds : 0 }
    var cpuMicrosPerCheck: Double { summary.checks > 0 ? Double(cpuMicros) / Double(summary.checks) : 0 }

    private func milliseconds(_ micros: Int64) -> String { String(format: "%.1f", Double(micros) / 1000) }

    var line: String {
        let statuses = CheckStatus.allCases.map { "\($0.name) \(summary.count($0))" }.joined(separator: " ")
        return "lookout-engine: \(summary.checks) checks in \(String(format: "%.1f", elapsedSeconds)) s"
            + " (\(String(format: "%.1f", checksPerSecond))/s); \(statuses);"
            + " lag p50 \(milliseconds(summary.lagMicros.value(atPercentile: 50))) ms"
            + " p99 \(milliseconds(summary.lagMicros.value(atPercentile: 99))) ms;"
            + " total p50 \(milliseconds(summary.totalMicros.value(atPercentile: 50))) ms"
            + " p99 \(milliseconds(summary.totalMicros.value(atPercentile: 99))) ms;"
            + " cpu \(String(format: "%.1f", cpuMicrosPerCheck)) µs/check; peak rss \(maxResidentKiB / 1024) MiB"
            + databaseLine
    }

    /// `; db rows written N (duplicates D) in B batches, spilled S pending, dropped X` (`--database` runs).
    private var databaseLine: String {
        guard let database else { return "" }
        return
            "; db rows written \(database.rowsWritten) (duplicates \(database.rowsDuplicate)) in \(database.batches) batches,"
            + " spilled \(database.spilledRows) pending, dropped \(database.droppedRows)"
    }

    var json: Data {
        func percentiles(_ histogram: LatencyHistogram) -> [String: Double] {
            [
                "p50": Double(histogram.value(atPercentile: 50)) / 1000,
                "p90": Double(histogram.value(atPercentile: 90)) / 1000,
                "p99": Double(histogram.value(atPercentile: 99)) / 1000,
                "max": Double(histogram.maxValue) / 1000,
            ]
        }
        var byStatus: [String: Int] = [:]
        for status in CheckStatus.allCases { byStatus[status.name] = summary.count(status) }
        var object: [String: Any] = [
            "monitors": monitors,
            "loops": loops,
            "checks": summary.checks,
            "durationSeconds": elapsedSeconds,
            "checksPerSecond": checksPerSecond,
            "byStatus": byStatus,
            "byErrorCode": summary.byErrorCode,
            "lagMs": percentiles(summary.lagMicros),
            "totalMs": percentiles(summary.totalMicros),
            "cpuSeconds": Double(cpuMicros) / 1_000_000,
            "cpuMicrosPerCheck": cpuMicrosPerCheck,
            "maxResidentKiB": maxResidentKiB,
            "dns": ["cacheHits": dnsHits, "cacheMisses": dnsMisses, "coalesced": dnsCoalesced],
        ]
        if let database {
            object["database"] = [
                "rowsReceived": database.rowsReceived, "rowsWritten": database.rowsWritten,
                "rowsDuplicate": database.rowsDuplicate, "batches": database.batches,
                "writeErrors": database.writeErrors, "spilledRowsPending": database.spilledRows,
                "spilledRowsTotal": database.spilledRowsTotal, "droppedRows": database.droppedRows,
            ]
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }
}
