import Foundation
import LookoutCore
import LookoutFFI

/// Problems of `lookout-engine import` and of a standalone run's start-up import, each with a
/// message a person can act on.
enum ImportError: Error, CustomStringConvertible {
    case file(path: String, reason: String)
    case invalidMonitors([String])
    case invalidOwner(String)
    case database(PostgresError)

    var description: String {
        switch self {
        case .file(let path, let reason):
            return "cannot read monitors file \(path): \(reason)"
        case .invalidMonitors(let lines):
            return "the monitors file has \(lines.count) invalid line(s):\n  "
                + lines.prefix(50).joined(separator: "\n  ")
                + (lines.count > 50 ? "\n  ... and \(lines.count - 50) more" : "")
                + "\nfix them, or pass --skip-invalid to import the valid ones"
        case .invalidOwner(let email):
            return "--owner '\(email)' is not an e-mail address (name@domain, at most 254 characters)"
        case .database(let error):
            return error.logDescription
        }
    }
}

/// Upserts monitors for one owner, by (owner, external id), in one transaction:
///
///     INSERT INTO users (email) ... ON CONFLICT DO NOTHING          -- the owner, if missing
///     CREATE TEMP TABLE monitors_import (...) ON COMMIT DROP;
///     COPY monitors_import FROM STDIN;                               -- every monitor
///     INSERT INTO monitors ... SELECT ... WHERE NOT EXISTS (...)     -- new ones
///     UPDATE monitors ... FROM monitors_import WHERE <something changed>
///
/// An import changes what a monitors file says (url, method, timing, settings); it leaves the
/// name, pause state and thresholds an operator may have set through the API alone, and never
/// deletes monitors missing from the file.
struct MonitorImporter {
    struct Outcome: Sendable, Equatable {
        var ownerId: Int64
        var ownerCreated: Bool
        var inserted: Int
        var updated: Int
        var unchanged: Int
        /// external id → monitors.id, for every monitor of the import.
        var ids: [String: Int64]
    }

    /// Reads and validates a monitors file like `lookout-engine run` does: every bad line is
    /// reported; with `skipInvalid` they are returned as warnings instead of refusing the file.
    static func load(path: String, skipInvalid: Bool) throws(ImportError) -> (monitors: [Monitor], skipped: [String]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .file(
                path: path,
                reason: FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
            )
        }
        let parsed = MonitorFile.parse(data)
        if parsed.monitors.isEmpty && parsed.errors.isEmpty {
            throw .file(path: path, reason: MonitorFile.emptyFileReason)
        }
        let problems = parsed.errors.map(\.description)
        if !problems.isEmpty && !skipInvalid { throw .invalidMonitors(problems) }
        return (parsed.monitors, problems)
    }

    /// A plausible e-mail address: one `@` with text on both sides, no spaces or control
    /// characters, at most 254 bytes.
    static func isValidEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return email.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && !email.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
    }

    /// New monitors. ON CONFLICT DO NOTHING: a concurrent import of the same owner may have
    /// inserted one meanwhile; the UPDATE below then brings it to this file's definition.
    private static let insertSQL = """
        INSERT INTO monitors (owner_id, external_id, name, url, method, interval_seconds, timeout_ms,
                              connect_timeout_ms, settings, shard)
        SELECT $1::bigint, i.external_id, i.external_id, i.url, i.method, i.interval_seconds, i.timeout_ms,
               i.connect_timeout_ms, i.settings, i.shard
        FROM monitors_import i
        WHERE NOT EXISTS (SELECT 1 FROM monitors m WHERE m.owner_id = $1::bigint AND m.external_id = i.external_id)
        ON CONFLICT (owner_id, external_id) DO NOTHING
        """

    /// Changed monitors only: unchanged rows are neither written nor locked (an
    /// `ON CONFLICT DO UPDATE ... WHERE` would lock every one of them).
    private static let updateSQL = """
        UPDATE monitors m SET
            url = i.url, method = i.method, interval_seconds = i.interval_seconds, timeout_ms = i.timeout_ms,
            connect_timeout_ms = i.connect_timeout_ms, settings = i.settings, updated_at = now()
        FROM monitors_import i
        WHERE m.owner_id = $1::bigint AND m.external_id = i.external_id
          AND (m.url, m.method, m.interval_seconds, m.timeout_ms, m.connect_timeout_ms, m.settings)
              IS DISTINCT FROM (i.url, i.method, i.interval_seconds, i.timeout_ms, i.connect_timeout_ms, i.settings)
        """

    /// Upserts `monitors` for the owner `ownerEmail` (created if missing) in one transaction.
    func importMonitors(
        _ monitors: [Monitor],
        ownerEmail: String,
        connection: PostgresConnection
    )
        throws(ImportError) -> Outcome
    {
        guard Self.isValidEmail(ownerEmail) else { throw .invalidOwner(ownerEmail) }
        let operation = "import monitors"
        do throws(PostgresError) {
            try connection.execute("BEGIN", operation: operation)
            let created = try connection.execute(
                "INSERT INTO users (email) VALUES ($1) ON CONFLICT ((lower(email))) DO NOTHING RETURNING id",
                [ownerEmail],
                operation: "create the owner"
            )
            let ownerCreated = created.rowCount == 1
            let ownerId: Int64
            if let id = created.int64(row: 0, column: 0), ownerCreated {
                ownerId = id
            } else {
                let existing = try connection.execute(
                    "SELECT id FROM users WHERE lower(email) = lower($1)",
                    [ownerEmail],
                    operation: "find the owner"
                )
                guard let id = existing.int64(row: 0, column: 0) else {
                    throw PostgresError(
                        code: .unexpectedResult,
                        operation: "find the owner",
                        serverMessage: "owner vanished"
                    )
                }
                ownerId = id
            }
            try connection.execute(
                """
                CREATE TEMP TABLE monitors_import (
                    external_id text NOT NULL, url text NOT NULL, method text NOT NULL,
                    interval_seconds double precision NOT NULL, timeout_ms integer NOT NULL,
                    connect_timeout_ms integer NOT NULL, settings jsonb NOT NULL, shard smallint NOT NULL
                ) ON COMMIT DROP
                """,
                operation: operation
            )
            var data: [UInt8] = []
            data.reserveCapacity(monitors.count * 256)
            for monitor in monitors {
                let record = MonitorRecord(monitor)
                CopyText.appendEscaped(record.externalId, to: &data)
                data.append(0x09)
                CopyText.appendEscaped(record.url, to: &data)
                data.append(0x09)
                CopyText.appendEscaped(record.method, to: &data)
                data.append(0x09)
                // Shortest round-trip text of the Double, so `IS DISTINCT FROM` sees equal values.
                data.append(contentsOf: "\(record.intervalSeconds)".utf8)
                data.append(0x09)
                CopyText.appendInteger(Int64(record.timeoutMs), to: &data)
                data.append(0x09)
                CopyText.appendInteger(Int64(record.connectTimeoutMs), to: &data)
                data.append(0x09)
                CopyText.appendEscaped(record.settingsJSON, to: &data)
                data.append(0x09)
                CopyText.appendInteger(
                    Int64(MonitorShard.shard(ownerId: ownerId, externalId: record.externalId)),
                    to: &data
                )
                data.append(0x0A)
            }
            try connection.copyIn("COPY monitors_import FROM STDIN", data: data, operation: "COPY into monitors_import")
            try connection.execute("ANALYZE monitors_import", operation: operation)
            let inserted = try connection.execute(Self.insertSQL, [String(ownerId)], operation: "insert monitors")
                .affectedRows
            let updated = try connection.execute(Self.updateSQL, [String(ownerId)], operation: "update monitors")
                .affectedRows
            let idRows = try connection.execute(
                """
                SELECT m.external_id, m.id FROM monitors m
                JOIN monitors_import i ON i.external_id = m.external_id
                WHERE m.owner_id = $1::bigint
                """,
                [String(ownerId)],
                operation: "read monitor ids"
            )
            var ids: [String: Int64] = [:]
            ids.reserveCapacity(idRows.rowCount)
            for row in 0..<idRows.rowCount {
                if let external = idRows.string(row: row, column: 0), let id = idRows.int64(row: row, column: 1) {
                    ids[external] = id
                }
            }
            try connection.execute("COMMIT", operation: operation)
            return Outcome(
                ownerId: ownerId,
                ownerCreated: ownerCreated,
                inserted: inserted,
                updated: updated,
                unchanged: monitors.count - inserted - updated,
                ids: ids
            )
        } catch {
            if connection.isHealthy { _ = try? connection.execute("ROLLBACK", operation: operation) }
            throw .database(error)
        }
    }
}
