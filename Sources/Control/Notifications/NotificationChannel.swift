import Foundation
import LookoutFFI

/// One way of sending a notification (e-mail, Telegram, webhook). Each channel turns a payload
/// into one transfer (`render`) and the answer into an outcome (`classify`); both are pure, so
/// they are tested without I/O. `send` does the rest. The outbox dispatcher never sees a
/// channel: it calls `Notifier.deliver`.
protocol NotificationChannel: Sendable {
    /// The kind this channel sends.
    var kind: ChannelKind { get }

    /// The transfer that delivers `payload` at `now`, or why it cannot be sent at all.
    func render(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        now: Date
    ) throws(DeliveryRefusal)
        -> CurlTransferRequest

    /// What the receiver's answer (or the lack of one) means at `now`.
    func classify(_ response: CurlTransferResponse, now: Date) -> DeliveryOutcome
}

/// A notification that cannot be sent as configured (permanent).
struct DeliveryRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

extension NotificationChannel {
    /// Renders, sends through `transport` and classifies one attempt.
    func send(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        through transport: any DeliveryTransport,
        clock: @Sendable () -> Date = { Date() }
    ) async -> DeliveryAttempt {
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let duration = ContinuousClock.now - started
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        let request: CurlTransferRequest
        do {
            request = try render(payload, idempotencyKey: idempotencyKey, now: clock())
        } catch {
            return DeliveryAttempt(
                channel: kind,
                outcome: .permanent(reason: error.reason),
                status: nil,
                durationSeconds: 0
            )
        }
        let response = await transport.perform(request)
        return DeliveryAttempt(
            channel: kind,
            outcome: classify(response, now: clock()),
            status: response.status == 0 ? nil : response.status,
            durationSeconds: elapsed()
        )
    }
}

/// What HTTP channels (Telegram, webhooks) share when reading an answer.
enum HTTPAnswer {
    /// `Retry-After` as seconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3);
    /// nil when absent or unreadable; never negative.
    static func retryAfter(_ response: CurlTransferResponse, now: Date) -> Double? {
        guard let value = response.header("Retry-After") else { return nil }
        return retryAfter(value, now: now)
    }

    static func retryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (48...57).contains($0) }) {
            return Double(String(trimmed.prefix(9)))
        }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return max(date.timeIntervalSince(now), 0)
    }

    /// `503 Service Unavailable: <first 200 characters of the body>`, one line.
    static func summary(_ response: CurlTransferResponse) -> String {
        var text = "\(response.status)"
        if let phrase = reasonPhrases[response.status] { text += " \(phrase)" }
        let body = String(decoding: response.body.prefix(400), as: UTF8.self)
            .split(whereSeparator: { $0.isNewline }).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        if !body.isEmpty { text += ": " + String(body.prefix(200)) }
        return text
    }

    private static let reasonPhrases: [Int: String] = [
        300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
        307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
        403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
        410: "Gone", 411: "Length Required", 413: "Content Too Large", 415: "Unsupported Media Type",
        422: "Unprocessable Content", 425: "Too Early", 429: "Too Many Requests", 500: "Internal Server Error",
        501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    ]
}

/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func format(_ date: Date) -> String {
        let civil = CivilTime(epochSeconds: Int64(date.timeIntervalSince1970.rounded(.down)))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[civil.weekday]), \(two(civil.day)) \(monthNames[civil.month - 1]) \(civil.year) "
            + "\(two(civil.hour)):\(two(civil.minute)):\(two(civil.second)) GMT"
    }

    static func parse(_ text: String) -> Date? {
        // Tokens without the weekday: IMF `06 Nov 1994 08:49:37 GMT`, RFC 850 `06-Nov-94 08:49:37 GMT`,
        // asctime `Nov  6 08:49:37 1994`.
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        guard tokens.count >= 4 else { return nil }
        tokens.removeFirst()  // weekday
        var day: Int?
        var month: Int?
        var year: Int?
        var time: String?
        if tokens.count >= 4, let parsedDay = Int(tokens[0]) {
            // IMF-fixdate.
            day = parsedDay
            month = months.firstIndex(of: tokens[1].lowercased()).map { $0 + 1 }
            year = Int(tokens[2])
            time = tokens[3]
        } else if tokens.count >= 2, tokens[0].contains("-") {
            // RFC 850: 06-Nov-94.
            let parts = tokens[0].split(separator: "-").map(String.init)
            guard parts.count == 3 else { return nil }
            day = Int(parts[0])
            month = months.firstIndex(of: parts[1].lowercased()).map { $0 + 1 }
            if let short = Int(parts[2]) { year = short < 100 ? (short < 70 ? 2000 + short : 1900 + short) : short }
            time = tokens[1]
        } else if tokens.count >= 4 {
            // asctime: Nov 6 08:49:37 1994.
            month = months.firstIndex(of: tokens[0].lowercased()).map { $0 + 1 }
            day = Int(tokens[1])
            time = tokens[2]
            year = Int(tokens[3])
        }
        guard let day, let month, let year, let time, (1...31).contains(day) else { return nil }
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, clock[0] < 24, clock[1] < 60, clock[2] < 61 else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        return Date(
            timeIntervalSince1970: Double(Int64(days) * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2]))
        )
    }
}
