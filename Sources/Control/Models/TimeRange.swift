import Foundation
import Hummingbird

/// The `from` and `to` query parameters of a time-series route: RFC 3339 times, `from` included
/// and `to` excluded. Without `to` the range ends now; without `from` it starts `defaultSpan`
/// before its end.
struct TimeRange: Sendable, Equatable {
    var from: Date
    var to: Date

    var span: TimeInterval { to.timeIntervalSince(from) }

    static func parse(
        _ request: Request,
        now: Date,
        defaultSpan: TimeInterval,
        maximumSpan: TimeInterval? = nil
    ) throws(APIError) -> TimeRange {
        let query = request.queryParameters
        let from = try date(query.get("from"), field: "from")
        let to = try date(query.get("to"), field: "to")
        let range: TimeRange
        switch (from, to) {
        case (let from?, let to?): range = TimeRange(from: from, to: to)
        case (let from?, nil): range = TimeRange(from: from, to: now)
        case (nil, let to?): range = TimeRange(from: to.addingTimeInterval(-defaultSpan), to: to)
        case (nil, nil): range = TimeRange(from: now.addingTimeInterval(-defaultSpan), to: now)
        }
        guard range.from < range.to else { throw APIError.validation("from must be before to", field: "from") }
        if let maximumSpan, range.span > maximumSpan {
            throw APIError.validation(
                "from and to may be at most \(Self.describe(maximumSpan)) apart here",
                field: "from"
            )
        }
        return range
    }

    private static func date(_ text: String?, field: String) throws(APIError) -> Date? {
        guard let text else { return nil }
        guard let date = RFC3339Date.parse(text) ?? RFC3339Date.parse(restoringPlusOffset(text)) else {
            throw APIError.validation("\(field) must be an RFC 3339 time like 2026-12-01T10:00:00Z", field: field)
        }
        return date
    }

    /// `…T10:00:00 01:00` as `…T10:00:00+01:00`: a `+` offset typed unencoded into a query string
    /// reads as a space (form encoding), and the time it meant is unambiguous.
    static func restoringPlusOffset(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > 6, bytes[bytes.count - 6] == UInt8(ascii: " ") else { return text }
        return String(decoding: bytes[..<(bytes.count - 6)], as: UTF8.self) + "+"
            + String(decoding: bytes[(bytes.count - 5)...], as: UTF8.self)
    }

    /// `36 hours`, `90 days`.
    static func describe(_ seconds: TimeInterval) -> String {
        if seconds >= 172_800, seconds.truncatingRemainder(dividingBy: 86_400) == 0 {
            return "\(Int(seconds / 86_400)) days"
        }
        if seconds >= 3_600, seconds.truncatingRemainder(dividingBy: 3_600) == 0 {
            return "\(Int(seconds / 3_600)) hours"
        }
        return "\(Int(seconds)) seconds"
    }
}
