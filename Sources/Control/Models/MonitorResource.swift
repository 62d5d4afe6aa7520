import Foundation
import Hummingbird
import LookoutCore

/// A monitor as the API shows it: the monitors file's fields (every one explicit) plus what the
/// control plane adds. Keys are always present; absent values are `null`.
struct MonitorResource: Sendable, Equatable, ResponseEncodable {
    var id: Int64
    var externalId: String
    var name: String
    var monitor: Monitor
    var failureThreshold: Int
    var recoveryThreshold: Int
    var paused: Bool
    var notificationChannelIds: [Int64]
    /// Confirmed state: `UP`, `DOWN` or `UNKNOWN`.
    var status: String
    var flapping: Bool
    var lastCheck: CheckRecord?
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, externalId, name, url, method, headers, body, intervalSeconds, timeoutMs, connectTimeoutMs
        case expectedStatus, keyword, keywordAbsent, jsonPath, jsonEquals, followRedirects, maxRedirects
        case verifyTLS, maxBodyBytes, lowSpeedBytesPerSecond, lowSpeedSeconds, reuseConnection
        case tlsSessionReuse, tlsFullHandshakeSeconds, httpVersion, acceptEncoding
        case type, host, port, send, expect, dnsName, recordType, server, expectedValues, certMinDaysLeft
        case failureThreshold, recoveryThreshold, paused, notificationChannelIds, status, flapping, lastCheck
        case createdAt, updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(externalId, forKey: .externalId)
        try container.encode(name, forKey: .name)
        // Fields another kind does not have are null (so a GET body can be PUT back unchanged).
        let http = monitor.kind == .http
        try container.encode(monitor.url, forKey: .url)
        try container.encode(http ? monitor.method : nil, forKey: .method)
        try container.encode(http ? monitor.headers : nil, forKey: .headers)
        try container.encode(http ? monitor.body : nil, forKey: .body)
        try container.encode(monitor.intervalSeconds, forKey: .intervalSeconds)
        try container.encode(monitor.timeoutMs, forKey: .timeoutMs)
        try container.encode(monitor.connectTimeoutMs, forKey: .connectTimeoutMs)
        try container.encode(http ? monitor.expectedStatus : nil, forKey: .expectedStatus)
        try container.encode(http ? monitor.keyword : nil, forKey: .keyword)
        try container.encode(http ? monitor.keywordAbsent : nil, forKey: .keywordAbsent)
        try container.encode(http ? monitor.jsonPath : nil, forKey: .jsonPath)
        try container.encode(http ? monitor.jsonEquals : nil, forKey: .jsonEquals)
        try container.encode(http ? monitor.followRedirects : nil, forKey: .followRedirects)
        try container.encode(http ? monitor.maxRedirects : nil, forKey: .maxRedirects)
        try container.encode(http || monitor.kind == .tls ? monitor.verifyTLS : nil, forKey: .verifyTLS)
        try container.encode(http ? monitor.maxBodyBytes : nil, forKey: .maxBodyBytes)
        try container.encode(http ? monitor.lowSpeedBytesPerSecond : nil, forKey: .lowSpeedBytesPerSecond)
        try container.encode(http ? monitor.lowSpeedSeconds : nil, forKey: .lowSpeedSeconds)
        try container.encode(http ? monitor.reuseConnection : nil, forKey: .reuseConnection)
        try container.encode(http ? monitor.tlsSessionReuse : nil, forKey: .tlsSessionReuse)
        try container.encode(http ? monitor.tlsFullHandshakeSeconds : nil, forKey: .tlsFullHandshakeSeconds)
        try container.encode(http ? monitor.httpVersion.rawValue : nil, forKey: .httpVersion)
        try container.encode(http ? monitor.acceptEncoding : nil, forKey: .acceptEncoding)
        let kind = monitor.kind
        try container.encode(kind.rawValue, forKey: .type)
        try container.encode(monitor.host, forKey: .host)
        try container.encode(monitor.port, forKey: .port)
        try container.encode(monitor.send, forKey: .send)
        try container.encode(monitor.expect, forKey: .expect)
        try container.encode(monitor.dnsName, forKey: .dnsName)
        try container.encode(kind == .dns ? monitor.recordType.rawValue : nil, forKey: .recordType)
        try container.encode(monitor.dnsServer, forKey: .server)
        try container.encode(kind == .dns ? monitor.expectedValues : nil, forKey: .expectedValues)
        try container.encode(kind == .tls ? monitor.certMinDaysLeft : nil, forKey: .certMinDaysLeft)
        try container.encode(failureThreshold, forKey: .failureThreshold)
        try container.encode(recoveryThreshold, forKey: .recoveryThreshold)
        try container.encode(paused, forKey: .paused)
        try container.encode(notificationChannelIds, forKey: .notificationChannelIds)
        try container.encode(status, forKey: .status)
        try container.encode(flapping, forKey: .flapping)
        try container.encode(lastCheck, forKey: .lastCheck)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// One check as the API shows it: the results file's object plus its id.
struct CheckRecord: Sendable, Equatable, Codable, ResponseEncodable {
    var checkId: String
    var monitorId: Int64
    var checkedAt: Date
    var status: String
    var httpStatus: Int
    var dnsMs: Double
    var connectMs: Double
    var tlsMs: Double
    var ttfbMs: Double
    var totalMs: Double
    var lagMs: Double
    var redirects: Int
    var errorCode: String?
    var errorMessage: String?
    var certExpiresAt: Date?
    var engineId: String?
    /// `tls` checks: the leaf's issuer, the protocol and cipher (`checks.tls_*`).
    var tlsIssuer: String? = nil
    var tlsProtocol: String? = nil
    var tlsCipher: String? = nil
    /// `dns` checks: the answers (`checks.dns_answers`).
    var dnsAnswers: [String]? = nil
    /// HTTP checks: the version of the final answer, `"1.1"`, `"2"` (`checks.http_version`); nil
    /// when there was no answer, for the other kinds and for checks stored before migration 4.
    var httpVersion: String? = nil
    /// HTTPS checks: whether the final hop resumed a TLS session (`checks.tls_resumed`); nil
    /// without a completed handshake.
    var tlsResumed: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case checkId, monitorId, checkedAt, status, httpStatus, dnsMs, connectMs, tlsMs, ttfbMs, totalMs, lagMs
        case redirects, errorCode, errorMessage, certExpiresAt, engineId, tlsIssuer, tlsProtocol, tlsCipher
        case dnsAnswers, httpVersion, tlsResumed
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checkId, forKey: .checkId)
        try container.encode(monitorId, forKey: .monitorId)
        try container.encode(checkedAt, forKey: .checkedAt)
        try container.encode(status, forKey: .status)
        try container.encode(httpStatus, forKey: .httpStatus)
        try container.encode(dnsMs, forKey: .dnsMs)
        try container.encode(connectMs, forKey: .connectMs)
        try container.encode(tlsMs, forKey: .tlsMs)
        try container.encode(ttfbMs, forKey: .ttfbMs)
        try container.encode(totalMs, forKey: .totalMs)
        try container.encode(lagMs, forKey: .lagMs)
        try container.encode(redirects, forKey: .redirects)
        try container.encode(errorCode, forKey: .errorCode)
        try container.encode(errorMessage, forKey: .errorMessage)
        try container.encode(certExpiresAt, forKey: .certExpiresAt)
        try container.encode(engineId, forKey: .engineId)
        try container.encode(tlsIssuer, forKey: .tlsIssuer)
        try container.encode(tlsProtocol, forKey: .tlsProtocol)
        try container.encode(tlsCipher, forKey: .tlsCipher)
        try container.encode(dnsAnswers, forKey: .dnsAnswers)
        try container.encode(httpVersion, forKey: .httpVersion)
        try container.encode(tlsResumed, forKey: .tlsResumed)
    }
}

/// A page of a list: `{"data": [...], "nextCursor": "..." | null}`.
struct Page<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    var data: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey { case data, nextCursor }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// Opaque pagination cursors: base64url of a small text the server wrote (`42`,
/// `1733050000123:uuid`). A cursor the server did not write is a 400, never a 500.
enum Cursor {
    static func encode(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) throws(APIError) -> String {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard cursor.utf8.count <= 200, let data = Data(base64Encoded: base64),
            let text = String(data: data, encoding: .utf8)
        else { throw APIError.validation("cursor is not one this server wrote", field: "cursor") }
        return text
    }

    /// A cursor holding one id.
    static func decodeID(_ cursor: String?) throws(APIError) -> Int64 {
        guard let cursor else { return 0 }
        guard let id = Int64(try decode(cursor)), id >= 0 else {
            throw APIError.validation("cursor is not one this server wrote", field: "cursor")
        }
        return id
    }
}

/// `limit` of a list request: 1...500, default 50.
enum PageLimit {
    static func parse(_ request: Request, default fallback: Int = 50, maximum: Int = 500) throws(APIError) -> Int {
        guard let text = request.queryParameters.get("limit") else { return fallback }
        guard let value = Int(text), (1...maximum).contains(value) else {
            throw APIError.validation("limit must be 1...\(maximum)", field: "limit")
        }
        return value
    }
}
