import Foundation
import PostgresNIO

/// How a `checks` row becomes a `CheckRecord`, shared by the checks listing
/// (`MonitorDataRepository`) and a monitor's last check (`MonitorRepository`), so both show the
/// same members with the same values.
extension CheckRecord {
    /// The select list a record is read from, for the `checks` row aliased `alias`. The check's
    /// own status is `check_status` (a monitor row beside it has a status of its own).
    static func selectList(of alias: String) -> String {
        """
        \(alias).check_id::text AS check_id, \(alias).checked_at, \(alias).status AS check_status,
        \(alias).http_status, \(alias).dns_ms, \(alias).connect_ms, \(alias).tls_ms, \(alias).ttfb_ms,
        \(alias).total_ms, \(alias).lag_ms, \(alias).redirects, \(alias).error_code, \(alias).error_message,
        \(alias).cert_expires_at, \(alias).engine_id, \(alias).tls_issuer, \(alias).tls_protocol,
        \(alias).tls_cipher, \(alias).dns_answers::text AS dns_answers, \(alias).http_version,
        \(alias).tls_resumed
        """
    }

    /// The record in `cells`, selected with `selectList(of:)`.
    init(cells: PostgresRandomAccessRow, checkId: String, monitorId: Int64) throws {
        try self.init(
            checkId: checkId,
            monitorId: monitorId,
            checkedAt: cells["checked_at"].decode(Date.self),
            status: cells["check_status"].decode(String.self),
            httpStatus: cells["http_status"].decode(Int.self),
            dnsMs: MonitorDataRepository.decimal(cells["dns_ms"].decode(Float.self)),
            connectMs: MonitorDataRepository.decimal(cells["connect_ms"].decode(Float.self)),
            tlsMs: MonitorDataRepository.decimal(cells["tls_ms"].decode(Float.self)),
            ttfbMs: MonitorDataRepository.decimal(cells["ttfb_ms"].decode(Float.self)),
            totalMs: MonitorDataRepository.decimal(cells["total_ms"].decode(Float.self)),
            lagMs: MonitorDataRepository.decimal(cells["lag_ms"].decode(Float.self)),
            redirects: cells["redirects"].decode(Int.self),
            errorCode: cells["error_code"].decode(String?.self),
            errorMessage: cells["error_message"].decode(String?.self),
            certExpiresAt: cells["cert_expires_at"].decode(Date?.self),
            engineId: cells["engine_id"].decode(String?.self),
            tlsIssuer: cells["tls_issuer"].decode(String?.self),
            tlsProtocol: cells["tls_protocol"].decode(String?.self),
            tlsCipher: cells["tls_cipher"].decode(String?.self),
            dnsAnswers: cells["dns_answers"].decode(String?.self).flatMap(Self.answers(fromJSON:)),
            httpVersion: cells["http_version"].decode(String?.self),
            tlsResumed: cells["tls_resumed"].decode(Bool?.self)
        )
    }

    /// `checks.dns_answers` (a jsonb array of strings, read as text).
    static func answers(fromJSON text: String) -> [String]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String]
    }
}
