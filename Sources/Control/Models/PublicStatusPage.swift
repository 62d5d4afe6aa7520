import Foundation

/// `GET /public/status-pages/{slug}`: what anyone may see of a published status page. It names
/// monitors by their display name only: no owner, no internal id, no URL, no error message.
/// Keys are always present; absent values are `null`.
struct PublicStatusPage: Encodable, Sendable, Equatable {
    var title: String
    var description: String?
    /// `operational`, `degraded`, `down` or `unknown` (see `overallStatus`).
    var status: String
    var monitors: [Monitor]
    /// Incidents of these monitors that were open at some time in the last 90 days, newest first.
    var incidents: [Incident]

    /// How many days `days` covers (today, UTC, included).
    static let days = 90
    /// Most incidents listed.
    static let maximumIncidents = 100

    struct Monitor: Encodable, Sendable, Equatable {
        var name: String
        /// `UP`, `DOWN`, `UNKNOWN`, or `PAUSED`.
        var status: String
        /// Over `days`; null when no check ran.
        var uptime90d: Double?
        /// One entry per UTC day, oldest first, today last.
        var days: [Day]

        enum CodingKeys: String, CodingKey { case name, status, uptime90d, days }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(status, forKey: .status)
            try container.encode(uptime90d, forKey: .uptime90d)
            try container.encode(days, forKey: .days)
        }
    }

    struct Day: Encodable, Sendable, Equatable {
        /// `YYYY-MM-DD` (UTC).
        var date: String
        /// null when no check ran that day.
        var uptime: Double?

        enum CodingKeys: String, CodingKey { case date, uptime }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(date, forKey: .date)
            try container.encode(uptime, forKey: .uptime)
        }
    }

    struct Incident: Encodable, Sendable, Equatable {
        var startedAt: Date
        var resolvedAt: Date?
        var monitorName: String
        var causeStatus: String

        enum CodingKeys: String, CodingKey { case startedAt, resolvedAt, monitorName, causeStatus }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(startedAt, forKey: .startedAt)
            try container.encode(resolvedAt, forKey: .resolvedAt)
            try container.encode(monitorName, forKey: .monitorName)
            try container.encode(causeStatus, forKey: .causeStatus)
        }
    }

    enum CodingKeys: String, CodingKey { case title, description, status, monitors, incidents }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(title, forKey: .title)
        try container.encode(description, forKey: .description)
        try container.encode(status, forKey: .status)
        try container.encode(monitors, forKey: .monitors)
        try container.encode(incidents, forKey: .incidents)
    }

    /// The page's headline from its monitors' statuses, paused monitors left out: `unknown` when
    /// no monitor is UP or DOWN, `operational` when none is DOWN, `down` when none is UP, and
    /// `degraded` when some are UP and some DOWN.
    static func overallStatus(of statuses: [String]) -> String {
        let up = statuses.filter { $0 == "UP" }.count
        let down = statuses.filter { $0 == "DOWN" }.count
        switch (up, down) {
        case (0, 0): return "unknown"
        case (_, 0): return "operational"
        case (0, _): return "down"
        default: return "degraded"
        }
    }
}
