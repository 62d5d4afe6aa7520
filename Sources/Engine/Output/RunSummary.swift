import LookoutCore

/// What the engine did, aggregated off the loop threads from every result: the end-of-run line
/// on stderr, `--summary-json`, and the Prometheus histograms all read it.
struct RunSummary: Sendable {
    var checks = 0
    var byStatus: [Int] = Array(repeating: 0, count: CheckStatus.allCases.count)
    var byErrorCode: [String: Int] = [:]
    var lagMicros = LatencyHistogram()
    var totalMicros = LatencyHistogram()
    /// Cumulative Prometheus bucket counts for lag and duration, in seconds.
    var lagBuckets = Array(repeating: 0, count: RunSummary.bucketBounds.count)
    var durationBuckets = Array(repeating: 0, count: RunSummary.bucketBounds.count)
    var lagSumMicros: Int64 = 0
    var durationSumMicros: Int64 = 0

    /// Upper bounds of the exported histogram buckets, seconds.
    static let bucketBounds: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    private static let boundMicros: [Int64] = bucketBounds.map { Int64($0 * 1_000_000) }

    /// Records every result of a batch. Only its plain fields are read and passed on: handing a
    /// whole result to this mutating method copied it (retaining its strings) for each.
    mutating func record(contentsOf results: [CheckResult]) {
        for index in results.indices {
            record(
                status: results[index].status, errorCode: results[index].errorCode,
                lagMicros: results[index].lagMicros, totalMicros: results[index].totalMicros)
        }
    }

    mutating func record(_ result: CheckResult) {
        record(
            status: result.status, errorCode: result.errorCode, lagMicros: result.lagMicros,
            totalMicros: result.totalMicros)
    }

    private mutating func record(
        status: CheckStatus, errorCode: CheckErrorCode?, lagMicros lag32: Int32, totalMicros total32: Int32
    ) {
        checks += 1
        byStatus[Int(status.rawValue)] += 1
        if let code = errorCode { byErrorCode[code.rawValue, default: 0] += 1 }
        let lag = Int64(lag32)
        let total = Int64(total32)
        lagMicros.record(lag)
        totalMicros.record(total)
        lagSumMicros += max(lag, 0)
        durationSumMicros += total
        if let index = Self.boundMicros.firstIndex(where: { lag <= $0 }) { lagBuckets[index] += 1 }
        if let index = Self.boundMicros.firstIndex(where: { total <= $0 }) { durationBuckets[index] += 1 }
    }

    func count(_ status: CheckStatus) -> Int { byStatus[Int(status.rawValue)] }
}
