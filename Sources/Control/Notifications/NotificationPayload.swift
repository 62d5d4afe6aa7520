import Foundation
import LookoutCore

/// What a notification says: the `payload` of a `notification_outbox` row and, byte for byte,
/// the body of a webhook.
///
/// The JSON always has every key (null when a value is absent) and sorted keys, so the same
/// payload always encodes to the same bytes (webhook signatures are computed over them):
///
/// ```json
/// {"downtimeSeconds":null,"error":"connect_refused: connection refused: nothing listens on that port",
///  "event":"monitor.down","incidentId":7,"monitorId":42,"monitorName":"API","occurredAt":"2025-01-02T03:04:05.678Z",
///  "status":"DOWN","url":"https://example.com/health"}
/// ```
struct NotificationPayload: Codable, Sendable, Equatable {
    /// What happened.
    enum Event: String, Codable, Sendable, CaseIterable {
        /// A monitor's confirmed state became DOWN (an incident opened).
        case monitorDown = "monitor.down"
        /// A monitor's confirmed state became UP again (its incident was resolved).
        case monitorUp = "monitor.up"
        /// A monitor changes state too often: further changes are not notified until it is stable.
        case monitorFlapping = "monitor.flapping"
        /// A flapping monitor has stopped changing.
        case monitorStable = "monitor.stable"
        /// An operator asked for a test message.
        case channelTest = "channel.test"
    }

    /// A monitor's confirmed state.
    enum Status: String, Codable, Sendable, CaseIterable {
        case up = "UP"
        case down = "DOWN"
    }

    var event: Event
    /// When it happened; encoded as RFC 3339 UTC with milliseconds (`2025-01-02T03:04:05.678Z`).
    var occurredAt: Date
    var monitorId: Int64?
    var monitorName: String?
    var url: String?
    var status: Status?
    var incidentId: Int64?
    /// The failing check's error, `code: message`
    /// (`connect_refused: connection refused: nothing listens on that port`).
    var error: String?
    /// How long the monitor was down (on `monitor.up`), seconds.
    var downtimeSeconds: Double?

    init(
        event: Event,
        occurredAt: Date,
        monitorId: Int64? = nil,
        monitorName: String? = nil,
        url: String? = nil,
        status: Status? = nil,
        incidentId: Int64? = nil,
        error: String? = nil,
        downtimeSeconds: Double? = nil
    ) {
        self.event = event
        self.occurredAt = NotificationTimestamp.truncatedToMilliseconds(occurredAt)
        self.monitorId = monitorId
        self.monitorName = monitorName
        self.url = url
        self.status = status
        self.incidentId = incidentId
        self.error = error
        self.downtimeSeconds = downtimeSeconds
    }

    private enum CodingKeys: String, CodingKey {
        case event, occurredAt, monitorId, monitorName, url, status, incidentId, error, downtimeSeconds
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        event = try container.decode(Event.self, forKey: .event)
        let text = try container.decode(String.self, forKey: .occurredAt)
        guard let date = NotificationTimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .occurredAt,
                in: container,
                debugDescription: "'\(text)' is not an RFC 3339 UTC time like 2025-01-02T03:04:05.678Z"
            )
        }
        occurredAt = date
        monitorId = try container.decodeIfPresent(Int64.self, forKey: .monitorId)
        monitorName = try container.decodeIfPresent(String.self, forKey: .monitorName)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        status = try container.decodeIfPresent(Status.self, forKey: .status)
        incidentId = try container.decodeIfPresent(Int64.self, forKey: .incidentId)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        downtimeSeconds = try container.decodeIfPresent(Double.self, forKey: .downtimeSeconds)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(event, forKey: .event)
        try container.encode(NotificationTimestamp.format(occurredAt), forKey: .occurredAt)
        // Every key is always present: absent values are explicit nulls.
        func encode<Value: Encodable>(_ value: Value?, _ key: CodingKeys) throws {
            if let value { try container.encode(value, forKey: key) } else { try container.encodeNil(forKey: key) }
        }
        try encode(monitorId, .monitorId)
        try encode(monitorName, .monitorName)
        try encode(url, .url)
        try encode(status, .status)
        try encode(incidentId, .incidentId)
        try encode(error, .error)
        try encode(downtimeSeconds, .downtimeSeconds)
    }

    /// The canonical JSON: sorted keys, no insignificant whitespace, `/` not escaped.
    func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, integers and finite numbers cannot fail; a non-finite downtime is
        // the only way, and it is written as null rather than crash a delivery.
        if let data = try? encoder.encode(self) { return Array(data) }
        var copy = self
        copy.downtimeSeconds = nil
        return (try? encoder.encode(copy)).map { Array($0) } ?? []
    }

    /// Reads an outbox row's `payload`.
    static func decode(_ bytes: some DataProtocol) throws -> NotificationPayload {
        try JSONDecoder().decode(NotificationPayload.self, from: Data(bytes))
    }
}

/// RFC 3339 UTC timestamps with milliseconds, as notifications write them (LookoutCore's
/// `RFC3339`, from and to `Date`).
enum NotificationTimestamp {
    /// `2025-01-02T03:04:05.678Z` (milliseconds truncated, never rounded up).
    static func format(_ date: Date) -> String {
        RFC3339.string(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff…]Z` (UTC only, as written by `format`).
    static func parse(_ text: String) -> Date? {
        RFC3339.parseEpochMilliseconds(text).map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    /// `date` without its sub-millisecond part (what survives a round trip through JSON).
    static func truncatedToMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}

/// Calendar fields of a UTC instant (proleptic Gregorian), from integers.
struct CivilTime: Equatable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int
    /// 0 = Sunday.
    var weekday: Int

    init(epochSeconds: Int64) {
        var days = epochSeconds / 86_400
        var secondOfDay = epochSeconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        hour = Int(secondOfDay / 3600)
        minute = Int(secondOfDay % 3600 / 60)
        second = Int(secondOfDay % 60)
        weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        let civil = RFC3339.civilDate(daysSinceEpoch: days)
        (year, month, day) = (Int(civil.year), Int(civil.month), Int(civil.day))
    }

    /// Days since 1970-01-01 of a calendar date (days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        Int(RFC3339.daysSinceEpoch(year: Int64(year), month: Int64(month), day: Int64(day)))
    }
}
