import Foundation
import Hummingbird

/// An incident as the API shows it: a confirmed outage of one monitor. Keys are always present;
/// absent values are `null`.
struct IncidentResource: ResponseEncodable, Sendable, Equatable {
    var id: Int64
    var monitorId: Int64
    var monitorName: String
    var startedAt: Date
    var resolvedAt: Date?
    /// `resolvedAt − startedAt`, or `now − startedAt` while open, in seconds (to the millisecond).
    var durationSeconds: Double
    /// `DOWN`, `TIMEOUT` or `ERROR`.
    var causeStatus: String
    var causeCode: String?
    var causeMessage: String?
    var httpStatus: Int?
    var acknowledgedAt: Date?
    var notes: String?

    /// `open` or `resolved`.
    var state: String { resolvedAt == nil ? "open" : "resolved" }

    enum CodingKeys: String, CodingKey {
        case id, monitorId, monitorName, state, startedAt, resolvedAt, durationSeconds, causeStatus, causeCode
        case causeMessage, httpStatus, acknowledgedAt, notes
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(monitorId, forKey: .monitorId)
        try container.encode(monitorName, forKey: .monitorName)
        try container.encode(state, forKey: .state)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(resolvedAt, forKey: .resolvedAt)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(causeStatus, forKey: .causeStatus)
        try container.encode(causeCode, forKey: .causeCode)
        try container.encode(causeMessage, forKey: .causeMessage)
        try container.encode(httpStatus, forKey: .httpStatus)
        try container.encode(acknowledgedAt, forKey: .acknowledgedAt)
        try container.encode(notes, forKey: .notes)
    }

    /// Seconds between two times, to the millisecond (times arrive as microseconds in a `Double`).
    static func duration(from start: Date, to end: Date) -> Double {
        (max(0, end.timeIntervalSince(start)) * 1000).rounded() / 1000
    }
}

/// Filters of `GET /incidents`.
struct IncidentFilter: Sendable, Equatable {
    /// true: open only; false: resolved only; nil: both.
    var open: Bool?
    var monitorId: Int64?
}
