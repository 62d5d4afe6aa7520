import Foundation

/// What every channel says about a payload, before it is formatted for e-mail, HTML or Telegram:
/// a headline and a few labelled facts. Pure and shared, so the channels tell the same story.
struct NotificationSummary: Sendable, Equatable {
    /// One labelled line (`URL: https://…`).
    struct Fact: Sendable, Equatable {
        var label: String
        var value: String
        /// Shown in a monospace font (error texts).
        var isCode = false
    }

    /// `DOWN`, `UP`, `FLAPPING`, `STABLE` or `TEST` (e-mail subjects).
    var tag: String
    /// The monitor as people know it: its name, else its URL, else `monitor #id`.
    var subject: String
    /// `API is DOWN`.
    var headline: String
    var facts: [Fact]
    /// A sentence under the facts, if any.
    var note: String?

    init(_ payload: NotificationPayload) {
        let name =
            payload.monitorName.flatMap { $0.isEmpty ? nil : $0 } ?? payload.url
            ?? payload.monitorId.map { "monitor #\($0)" } ?? "a monitor"
        subject = Self.singleLine(name, limit: 200)
        var facts: [Fact] = []
        if let name = payload.monitorName, !name.isEmpty {
            facts.append(Fact(label: "Monitor", value: Self.singleLine(name, limit: 200)))
        }
        if let url = payload.url { facts.append(Fact(label: "URL", value: Self.singleLine(url, limit: 500))) }
        if let status = payload.status { facts.append(Fact(label: "Status", value: status.rawValue)) }
        switch payload.event {
        case .monitorDown:
            tag = "DOWN"
            headline = "\(subject) is DOWN"
        case .monitorUp:
            tag = "UP"
            headline = "\(subject) is UP again"
            if let downtime = payload.downtimeSeconds {
                facts.append(Fact(label: "Downtime", value: Self.duration(downtime)))
            }
        case .monitorFlapping:
            tag = "FLAPPING"
            headline = "\(subject) is flapping"
            note = "It changes state too often: further changes are not notified until it is stable again."
        case .monitorStable:
            tag = "STABLE"
            headline = "\(subject) is stable again"
            note = "Changes of state are notified again."
        case .channelTest:
            tag = "TEST"
            headline = "Test notification from Lookout"
            note = "This channel works: Lookout's alerts will arrive here."
        }
        if let error = payload.error, !error.isEmpty {
            facts.append(Fact(label: "Error", value: Self.singleLine(error, limit: 1_000), isCode: true))
        }
        if let incident = payload.incidentId { facts.append(Fact(label: "Incident", value: "#\(incident)")) }
        facts.append(Fact(label: "Time", value: Self.readableTime(payload.occurredAt)))
        self.facts = facts
    }

    /// `2025-01-02 03:04:05 UTC`.
    static func readableTime(_ date: Date) -> String {
        let text = NotificationTimestamp.format(date)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8)) + " UTC"
    }

    /// `42 s`, `5 min 3 s`, `2 h 5 min`, `3 d 4 h`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "unknown" }
        let total = Int(seconds.rounded())
        let days = total / 86_400
        let hours = total % 86_400 / 3600
        let minutes = total % 3600 / 60
        let rest = total % 60
        if days > 0 { return hours > 0 ? "\(days) d \(hours) h" : "\(days) d" }
        if hours > 0 { return minutes > 0 ? "\(hours) h \(minutes) min" : "\(hours) h" }
        if minutes > 0 { return rest > 0 ? "\(minutes) min \(rest) s" : "\(minutes) min" }
        return "\(rest) s"
    }

    /// `text` on one line (line breaks and other control characters become spaces), at most
    /// `limit` characters (an ellipsis marks a cut).
    static func singleLine(_ text: String, limit: Int) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let isControl =
                scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            scalars.append(isControl ? " " : scalar)
        }
        let line = String(scalars)
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }
}

/// HTML escaping for e-mail and Telegram text.
enum HTMLText {
    /// Escapes `&`, `<`, `>` (Telegram's HTML mode accepts exactly these entities) and, with
    /// `quotes`, `"` and `'` for attribute values.
    static func escape(_ text: String, quotes: Bool = false) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"" where quotes: escaped += "&quot;"
            case "'" where quotes: escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
