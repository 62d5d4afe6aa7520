import Foundation
import HTTPTypes
import Testing

@testable import LookoutControl

/// Fixture rows for the read API's tests: checks, rollups, incidents and states are written by
/// the engines and the consumer, so the tests insert them with SQL on the test's own schema.
extension APIClient {
    /// Runs one statement (fixed text, values as parameters) and returns its first value.
    @discardableResult
    func sql(_ text: String, _ parameters: [String?] = []) throws -> String? {
        try schema.scalar(text, parameters)
    }

    /// A count from a query.
    func count(_ text: String, _ parameters: [String?] = []) throws -> Int { try schema.count(text, parameters) }

    /// Inserts an incident; returns its id. Times are SQL expressions written by the test.
    func insertIncident(
        monitorId: Int64,
        startedAt: String,
        resolvedAt: String = "NULL",
        cause: String = "DOWN",
        message: String? = "connection refused"
    ) throws -> Int64 {
        let id = try sql(
            """
            INSERT INTO incidents (monitor_id, started_at, resolved_at, cause_status, cause_code, cause_message, http_status)
            VALUES ($1::int8, \(startedAt), \(resolvedAt), $2, 'CONNECT_FAILED', $3, 503) RETURNING id
            """,
            [String(monitorId), cause, message]
        )
        return try #require(id.flatMap { Int64($0) })
    }

    /// Inserts one `metrics` row.
    func insertMetric(monitorId: Int64, bucket: String, start: String, count: Int, up: Int) throws {
        try sql(
            """
            INSERT INTO metrics (monitor_id, bucket, bucket_start, count, up_count, latency_avg_ms, latency_max_ms)
            VALUES ($1::int8, $2, $3::timestamptz, $4::int, $5::int, 12.5, 40)
            """,
            [String(monitorId), bucket, start, String(count), String(up)]
        )
    }

    /// `GET` with a token, expecting 200; returns the body object.
    func getObject(_ path: String, token: String) async throws -> [String: Any] {
        let response = try await request(.get, path, token: token)
        try #require(response.status == .ok, "GET \(path) answered \(response.status): \(response.text)")
        return response.object
    }
}

extension APIResponse {
    /// `data` of a list answer.
    var items: [[String: Any]] { object["data"] as? [[String: Any]] ?? [] }
    /// `nextCursor` of a list answer.
    var nextCursor: String? { object["nextCursor"] as? String }
}

/// RFC 3339 text of a date, as query parameters and bodies want it.
func rfc3339(_ date: Date) -> String { RFC3339Date.string(date) }

/// A query parameter value, percent-encoded (RFC 3339 offsets carry `+` and `:`).
func queryValue(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}
