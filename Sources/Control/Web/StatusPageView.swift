import Foundation

/// What the public status page template (`status.mustache`) shows, made from the same
/// `PublicStatusPage` as `GET /api/v1/public/status-pages/{slug}`, so the page can show nothing
/// the public JSON does not: names, statuses, daily uptime and incident times, never URLs, ids
/// or error texts. Every value is final text or a CSS class name: the template has no logic.
///
/// Nothing here depends on the time of rendering (an ongoing incident says since when, not for
/// how long), so the page's ETag changes only when its data does.
struct StatusPageView: Sendable {
    var title: String
    var description: String?
    var slug: String
    /// `operational`, `degraded`, `down` or `unknown`: a CSS class and the headline's key.
    var status: String
    var headline: String
    var monitors: [MonitorView]
    var incidents: [IncidentView]
    var hasIncidents: Bool
    var hasMonitors: Bool
    /// The asset version for the stylesheet and script URLs.
    var version: String
    /// The first and last day the bars cover (`YYYY-MM-DD`, UTC).
    var firstDay: String
    var lastDay: String

    struct MonitorView: Sendable {
        var name: String
        /// `up`, `down`, `paused` or `unknown` (CSS class).
        var status: String
        var statusLabel: String
        /// "99.95%" or "no data".
        var uptime: String
        var bars: [BarView]
        /// A sentence for the bars as one image (screen readers).
        var barsLabel: String
    }

    struct BarView: Sendable {
        /// x of the day's bar in the SVG's user units.
        var x: Int
        /// `up`, `partial`, `down` or `none` (CSS class).
        var level: String
        /// "2026-12-01: 99.95%" (tooltip).
        var label: String
    }

    struct IncidentView: Sendable {
        var monitorName: String
        var cause: String
        var startedAt: String
        var startedAtISO: String
        var resolvedAt: String?
        var resolvedAtISO: String?
        var duration: String?
        var ongoing: Bool
    }

    /// Width of one day's bar plus its gap, in the SVG's user units.
    static let barPitch = 5

    init(page: PublicStatusPage, slug: String, version: String) {
        title = page.title
        description = page.description.flatMap { $0.isEmpty ? nil : $0 }
        self.slug = slug
        status = page.status
        headline = Self.headline(page.status)
        self.version = version
        monitors = page.monitors.map { monitor in
            let bars = monitor.days.enumerated().map { index, day in
                BarView(
                    x: index * Self.barPitch,
                    level: Self.level(day.uptime),
                    label: "\(day.date): \(day.uptime.map(Self.percent) ?? "no data")"
                )
            }
            let uptime = monitor.uptime90d.map(Self.percent) ?? "no data"
            return MonitorView(
                name: monitor.name,
                status: monitor.status.lowercased(),
                statusLabel: Self.statusLabel(monitor.status),
                uptime: uptime,
                bars: bars,
                barsLabel: "Daily uptime of \(monitor.name) over \(monitor.days.count) days: \(uptime) overall"
            )
        }
        hasMonitors = !monitors.isEmpty
        incidents = page.incidents.map { incident in
            IncidentView(
                monitorName: incident.monitorName,
                cause: Self.cause(incident.causeStatus),
                startedAt: Self.display(incident.startedAt),
                startedAtISO: Self.iso(incident.startedAt),
                resolvedAt: incident.resolvedAt.map(Self.display),
                resolvedAtISO: incident.resolvedAt.map(Self.iso),
                duration: incident.resolvedAt.map { Self.duration($0.timeIntervalSince(incident.startedAt)) },
                ongoing: incident.resolvedAt == nil
            )
        }
        hasIncidents = !incidents.isEmpty
        firstDay = page.monitors.first?.days.first?.date ?? ""
        lastDay = page.monitors.first?.days.last?.date ?? ""
    }

    static func headline(_ status: String) -> String {
        switch status {
        case "operational": return "All systems operational"
        case "degraded": return "Partial outage"
        case "down": return "Major outage"
        default: return "Status unknown"
        }
    }

    static func statusLabel(_ status: String) -> String {
        switch status {
        case "UP": return "Operational"
        case "DOWN": return "Down"
        case "PAUSED": return "Paused"
        default: return "Unknown"
        }
    }

    static func cause(_ status: String) -> String {
        switch status {
        case "TIMEOUT": return "Timed out"
        case "ERROR": return "Unreachable"
        default: return "Down"
        }
    }

    /// The bar's colour class: at least 99.9% up, at least 95%, less, or no check that day.
    static func level(_ uptime: Double?) -> String {
        guard let uptime else { return "none" }
        if uptime >= 0.999 { return "up" }
        if uptime >= 0.95 { return "partial" }
        return "down"
    }

    /// Two decimals, never rounded up to 100% (99.996% shows as 99.99%).
    static func percent(_ uptime: Double) -> String {
        let hundredths = (uptime * 10_000).rounded(.down)
        return String(format: "%.2f%%", hundredths / 100)
    }

    /// "3 h 12 min", "4 min", "12 s".
    static func duration(_ seconds: TimeInterval) -> String {
        let total = max(Int(seconds.rounded()), 0)
        let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60)
        if days > 0 { return "\(days) d \(hours) h" }
        if hours > 0 { return "\(hours) h \(minutes) min" }
        if minutes > 0 { return "\(minutes) min" }
        return "\(total) s"
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }()

    /// "2026-12-01 14:05 UTC".
    static func display(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d UTC", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    /// "2026-12-01T14:05:09Z" (for `<time datetime>`).
    static func iso(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0,
            c.minute ?? 0, c.second ?? 0)
    }
}
