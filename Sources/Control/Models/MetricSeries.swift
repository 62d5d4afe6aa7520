import Foundation
import Hummingbird

/// A rollup bucket size of `metrics` (UTC buckets).
enum RollupBucket: String, Sendable, CaseIterable {
    case minute
    case hour
    case day

    var seconds: TimeInterval {
        switch self {
        case .minute: return 60
        case .hour: return 3_600
        case .day: return 86_400
        }
    }

    /// The range `GET /monitors/{id}/metrics` shows without `from`: 1 hour of minutes, 48 hours
    /// of hours, 90 days of days.
    var defaultSpan: TimeInterval {
        switch self {
        case .minute: return 3_600
        case .hour: return 48 * 3_600
        case .day: return 90 * 86_400
        }
    }

    /// Most buckets one request may cover (36 hours of minutes, 90 days of hours, about 6 years
    /// of days): a series stays small enough to encode and to draw.
    static let maximumBuckets = 2_160

    var maximumSpan: TimeInterval { Double(Self.maximumBuckets) * seconds }
}

/// `GET /monitors/{id}/metrics`: the monitor's rollups of one bucket size, oldest first. Buckets
/// without checks have no row (a gap in the series means no check ran).
struct MetricSeries: ResponseEncodable, Sendable, Equatable {
    var monitorId: Int64
    var bucket: String
    /// The range asked for: buckets that start in it, plus the one `from` falls in.
    var from: Date
    var to: Date
    var data: [MetricPoint]
}

/// One row of `metrics`. Latency figures are over the bucket's UP checks (null when none was UP).
struct MetricPoint: Encodable, Sendable, Equatable {
    var bucketStart: Date
    var count: Int
    var upCount: Int
    var latencyAvgMs: Double?
    var latencyP50Ms: Double?
    var latencyP95Ms: Double?
    var latencyMaxMs: Double?

    /// `upCount / count`; null for an empty bucket.
    var uptime: Double? { count > 0 ? Double(upCount) / Double(count) : nil }

    enum CodingKeys: String, CodingKey {
        case bucketStart, count, upCount, uptime, latencyAvgMs, latencyP50Ms, latencyP95Ms, latencyMaxMs
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bucketStart, forKey: .bucketStart)
        try container.encode(count, forKey: .count)
        try container.encode(upCount, forKey: .upCount)
        try container.encode(uptime, forKey: .uptime)
        try container.encode(latencyAvgMs, forKey: .latencyAvgMs)
        try container.encode(latencyP50Ms, forKey: .latencyP50Ms)
        try container.encode(latencyP95Ms, forKey: .latencyP95Ms)
        try container.encode(latencyMaxMs, forKey: .latencyMaxMs)
    }
}

/// `GET /monitors/{id}/uptime`: `{"24h": {...}, "7d": ..., "30d": ..., "90d": ...}`, computed from
/// the rollups (see `MonitorDataRepository.uptime` for the exact windows).
struct UptimeSummary: ResponseEncodable, Sendable, Equatable {
    var last24Hours: UptimeFigure
    var last7Days: UptimeFigure
    var last30Days: UptimeFigure
    var last90Days: UptimeFigure

    enum CodingKeys: String, CodingKey {
        case last24Hours = "24h"
        case last7Days = "7d"
        case last30Days = "30d"
        case last90Days = "90d"
    }
}

/// Checks and UP checks over a window, and their ratio.
struct UptimeFigure: Encodable, Sendable, Equatable {
    var checks: Int64
    var upChecks: Int64

    /// `upChecks / checks`; null when no check ran in the window.
    var uptime: Double? { checks > 0 ? Double(upChecks) / Double(checks) : nil }

    enum CodingKeys: String, CodingKey { case uptime, checks, upChecks }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uptime, forKey: .uptime)
        try container.encode(checks, forKey: .checks)
        try container.encode(upChecks, forKey: .upChecks)
    }
}
