import Foundation
import PostgresNIO

/// Incidents (`incidents`) of the owner's monitors. Incidents have no owner column: every query
/// joins `monitors` on `owner_id`, so a stranger's incident is simply not found.
struct IncidentRepository: Sendable {
    let database: Database

    /// Longest `notes`, in characters.
    static let maximumNotesLength = 10_000

    /// One page, newest first (`started_at DESC, id DESC`), after `cursor`. A `monitorId` that is
    /// not the owner's matches nothing.
    func list(
        ownerId: Int64,
        filter: IncidentFilter,
        after cursor: TimeKeyCursor?,
        limit: Int,
        now: Date
    ) async throws -> (incidents: [IncidentResource], next: TimeKeyCursor?) {
        let query: PostgresQuery
        if let cursor {
            let key = try cursor.idKey()
            query = """
                \(unescaped: Self.select)
                CROSS JOIN (SELECT to_timestamp(0) + \(cursor.microseconds)::float8 * interval '1 microsecond' AS at) k
                WHERE m.owner_id = \(ownerId)
                  AND (\(filter.monitorId)::int8 IS NULL OR i.monitor_id = \(filter.monitorId))
                  AND (\(filter.open)::boolean IS NULL OR (i.resolved_at IS NULL) = \(filter.open))
                  AND i.started_at <= k.at AND (i.started_at < k.at OR i.id < \(key))
                ORDER BY i.started_at DESC, i.id DESC
                LIMIT \(limit + 1)
                """
        } else {
            query = """
                \(unescaped: Self.select)
                WHERE m.owner_id = \(ownerId)
                  AND (\(filter.monitorId)::int8 IS NULL OR i.monitor_id = \(filter.monitorId))
                  AND (\(filter.open)::boolean IS NULL OR (i.resolved_at IS NULL) = \(filter.open))
                ORDER BY i.started_at DESC, i.id DESC
                LIMIT \(limit + 1)
                """
        }
        let rows = try await incidents(query, now: now)
        guard rows.count > limit else { return (rows.map(\.0), nil) }
        return (rows.prefix(limit).map(\.0), rows[limit - 1].1)
    }

    func get(ownerId: Int64, id: Int64, now: Date) async throws -> IncidentResource? {
        try await incidents(
            "\(unescaped: Self.select) WHERE m.owner_id = \(ownerId) AND i.id = \(id)",
            now: now
        ).first?.0
    }

    /// Records the first acknowledgement (time and user); later ones change nothing. False when
    /// the owner has no such incident.
    func acknowledge(ownerId: Int64, id: Int64, by userId: Int64) async throws -> Bool {
        try await database.first(
            """
            UPDATE incidents i SET
                acknowledged_by = CASE WHEN i.acknowledged_at IS NULL THEN \(userId) ELSE i.acknowledged_by END,
                acknowledged_at = coalesce(i.acknowledged_at, now()),
                updated_at = CASE WHEN i.acknowledged_at IS NULL THEN now() ELSE i.updated_at END
            FROM monitors m
            WHERE i.id = \(id) AND m.id = i.monitor_id AND m.owner_id = \(ownerId)
            RETURNING i.id
            """,
            as: (Int64).self
        ) != nil
    }

    /// Replaces the notes (nil clears them). False when the owner has no such incident.
    func setNotes(ownerId: Int64, id: Int64, notes: String?) async throws -> Bool {
        try await database.first(
            """
            UPDATE incidents i SET notes = \(notes), updated_at = now()
            FROM monitors m
            WHERE i.id = \(id) AND m.id = i.monitor_id AND m.owner_id = \(ownerId)
            RETURNING i.id
            """,
            as: (Int64).self
        ) != nil
    }

    // MARK: rows

    // The consumer usually opens an incident before the engine's COPY batch with the confirming
    // check lands, so `http_status` is often NULL in the row; it is then read from that check
    // (found by the (monitor_id, checked_at) index from the incident's start, first match).
    private static let select = """
        SELECT i.id, i.monitor_id, m.name, i.started_at, i.resolved_at, i.cause_status, i.cause_code,
               i.cause_message,
               coalesce(i.http_status, (
                   SELECT nullif(c.http_status, 0) FROM checks c
                   WHERE c.monitor_id = i.monitor_id AND c.checked_at >= i.started_at
                     AND c.check_id = i.first_check_id
                   ORDER BY c.checked_at LIMIT 1)) AS http_status,
               i.acknowledged_at, i.notes,
               \(TimeKeyCursor.position(of: "i.started_at")) AS position
        FROM incidents i JOIN monitors m ON m.id = i.monitor_id
        """

    private func incidents(_ query: PostgresQuery, now: Date) async throws -> [(IncidentResource, TimeKeyCursor)] {
        try await database.rows(
            query,
            as: (Int64, Int64, String, Date, Date?, String, String?, String?, Int?, Date?, String?, Int64).self
        ).map { row in
            let incident = IncidentResource(
                id: row.0,
                monitorId: row.1,
                monitorName: row.2,
                startedAt: row.3,
                resolvedAt: row.4,
                durationSeconds: IncidentResource.duration(from: row.3, to: row.4 ?? now),
                causeStatus: row.5,
                causeCode: row.6,
                causeMessage: row.7,
                httpStatus: row.8,
                acknowledgedAt: row.9,
                notes: row.10
            )
            return (incident, TimeKeyCursor(microseconds: row.11, key: String(row.0)))
        }
    }
}
