import Foundation

/// The position of a row in a list ordered newest first by a time and then by a unique key:
/// `(checked_at, check_id)` for checks, `(started_at, id)` for incidents. The next page starts
/// strictly after it, so rows sharing a time are neither skipped nor repeated.
///
/// The time travels as whole microseconds since the Unix epoch, exactly as PostgreSQL stores a
/// `timestamptz` (`position` below): never through a `Date`, whose `Double` could round it to
/// the neighbouring microsecond and make a page skip or repeat a row.
struct TimeKeyCursor: Sendable, Equatable {
    /// Microseconds since 1970-01-01T00:00:00Z.
    var microseconds: Int64
    /// The tie-breaking key, as text (a UUID, or a decimal id).
    var key: String

    /// The opaque cursor a client sends back.
    var encoded: String { Cursor.encode("\(microseconds)~\(key)") }

    /// SQL for a row's position, the first half of the cursor: `position(of: "c.checked_at")`.
    /// `column` is a column name written in the code, never input. (`extract` answers an exact
    /// `numeric` since PostgreSQL 14; before, a `double` within 0.2 µs, which the cast rounds to
    /// the right microsecond for any date this side of 2100.) Queries turn a cursor's count back into a `timestamptz`
    /// with `to_timestamp(0) + <count>::float8 * interval '1 microsecond'`, exact below 2^53 µs.
    static func position(of column: String) -> String {
        "(extract(epoch FROM \(column)) * 1000000)::int8"
    }

    /// Reads a client's `cursor` (nil when absent). A cursor this server did not write is a 400.
    static func decode(_ cursor: String?) throws(APIError) -> TimeKeyCursor? {
        guard let cursor else { return nil }
        let text = try Cursor.decode(cursor)
        let parts = text.split(separator: "~", maxSplits: 1, omittingEmptySubsequences: false)
        // Positions the server writes lie well within ±10^16 µs (years 1653 ... 2286); anything
        // beyond is forged, and would overflow the timestamp arithmetic of the query.
        guard parts.count == 2, let microseconds = Int64(parts[0]),
            (-9_999_999_999_999_999...9_999_999_999_999_999).contains(microseconds),
            !parts[1].isEmpty
        else { throw invalid }
        return TimeKeyCursor(microseconds: microseconds, key: String(parts[1]))
    }

    /// The key as a UUID (checks).
    func uuidKey() throws(APIError) -> UUID {
        guard let uuid = UUID(uuidString: key) else { throw Self.invalid }
        return uuid
    }

    /// The key as a positive id (incidents).
    func idKey() throws(APIError) -> Int64 {
        guard let id = Int64(key), id > 0 else { throw Self.invalid }
        return id
    }

    private static var invalid: APIError { APIError.validation("cursor is not one this server wrote", field: "cursor") }
}
