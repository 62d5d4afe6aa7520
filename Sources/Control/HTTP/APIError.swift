import Foundation
import HTTPTypes
import Hummingbird

/// The one error type of the API: every failure a client sees is rendered from it as
/// `{"error": {"code": ..., "message": ..., "field": ...}}` with its status. Nothing else builds
/// error bodies; an unexpected error is logged and becomes a 500 `internal_error` whose message
/// never echoes SQL or server text.
struct APIError: HTTPResponseError, Sendable, Equatable {
    /// HTTP status.
    var status: HTTPResponse.Status
    /// Stable machine-readable code (`validation_failed`, `not_found` ...).
    var code: String
    /// A sentence a person can act on.
    var message: String
    /// The request field at fault (`url`, `intervalSeconds`, `monitorIds[3]`), when there is one.
    var field: String?
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    var headers: HTTPFields = [:]
    /// Per-item errors of a bulk request.
    var items: [BulkItemError]?

    init(
        _ status: HTTPResponse.Status,
        _ code: String,
        _ message: String,
        field: String? = nil,
        headers: HTTPFields = [:],
        items: [BulkItemError]? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        self.items = items
    }

    /// One refused item of a bulk request.
    struct BulkItemError: Codable, Sendable, Equatable {
        /// Position of the item in the request's array, from 0.
        var index: Int
        var code: String
        var message: String
        var field: String?
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try APIJSON.encoder.encode(
            ErrorBody(error: .init(code: code, message: message, field: field, items: items)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    static func validation(_ message: String, field: String?) -> APIError {
        APIError(.badRequest, "validation_failed", message, field: field)
    }

    static func malformed(_ message: String) -> APIError {
        APIError(.badRequest, "malformed_request", message)
    }

    /// Not found — also what a stranger's id answers, so ids reveal nothing.
    static func notFound(_ what: String) -> APIError {
        APIError(.notFound, "not_found", "\(what) not found")
    }

    static let unauthenticated = APIError(
        .unauthorized,
        "unauthenticated",
        "send a valid token: Authorization: Bearer <session token or API key>",
        headers: [.wwwAuthenticate: "Bearer"]
    )

    static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, "forbidden", message)
    }

    static func conflict(_ message: String, field: String? = nil) -> APIError {
        APIError(.conflict, "conflict", message, field: field)
    }

    static func tooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, "body_too_large", "the request body exceeds \(limit) bytes")
    }

    static func rateLimited(retryAfterSeconds: Int) -> APIError {
        APIError(
            .tooManyRequests,
            "rate_limited",
            "too many requests: try again in \(retryAfterSeconds) s",
            headers: [.retryAfter: String(retryAfterSeconds)]
        )
    }

    static func unavailable(_ message: String) -> APIError {
        APIError(.serviceUnavailable, "unavailable", message, headers: [.retryAfter: "5"])
    }

    static let unexpected = APIError(
        .internalServerError,
        "internal_error",
        "the server failed to answer this request; it has been logged"
    )
}

/// `{"error": {...}}`.
private struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var code: String
        var message: String
        var field: String?
        var items: [APIError.BulkItemError]?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(code, forKey: .code)
            try container.encode(message, forKey: .message)
            // `field` is always present (null when no single field is at fault).
            try container.encode(field, forKey: .field)
            try container.encodeIfPresent(items, forKey: .items)
        }

        enum CodingKeys: String, CodingKey { case code, message, field, items }
    }
    var error: Detail
}
