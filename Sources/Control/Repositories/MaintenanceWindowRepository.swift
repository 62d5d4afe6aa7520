import Foundation
import PostgresNIO

/// Maintenance windows (`maintenance_windows`, `maintenance_window_monitors`). Every method that
/// serves the API takes the owner's id; a window only ever covers its owner's monitors (checked
/// when it is written, and joined on `owner_id` again whenever it is read). `isInMaintenance`
/// and `activeMonitorIds` serve the incident consumer, which acts for the system on monitor ids
/// from the engines' state stream, not for a caller.
struct MaintenanceWindowRepository: Sendable {
    let database: Database

    /// SQL that is true when the window aliased `window` (a row of `maintenance_windows`) is in
    /// force at `time` (an SQL expression of type `timestamptz`). Both arguments are names and
    /// expressions written in the code, never input; a time from outside arrives as a bound
    /// parameter the caller aliases (see `isInMaintenance`).
    ///
    /// - `repeat = 'none'`: `startsAt ≤ T < endsAt`.
    /// - `repeat = 'weekly'`: `T ≥ startsAt` and `(T − startsAt) mod 7 days < endsAt − startsAt`,
    ///   with a week of exactly 604,800 seconds: the window comes back at the same UTC time every
    ///   week (and so moves by an hour in local time across a daylight-saving change).
    static func activePredicate(window: String, at time: String) -> String {
        """
        (\(time) >= \(window).starts_at AND CASE \(window).repeat
            WHEN 'weekly' THEN mod(extract(epoch FROM \(time) - \(window).starts_at)::numeric, 604800)
                < extract(epoch FROM \(window).ends_at - \(window).starts_at)::numeric
            ELSE \(time) < \(window).ends_at END)
        """
    }

    /// Whether `monitorId` is covered by a window in force at `time`.
    func isInMaintenance(monitorId: Int64, at time: Date) async throws -> Bool {
        try await database.first(Self.inMaintenanceQuery(monitorId: monitorId, at: time), as: Bool.self) ?? false
    }

    /// Which of `monitorIds` are covered by a window in force at `time`.
    func activeMonitorIds(among monitorIds: [Int64], at time: Date) async throws -> Set<Int64> {
        guard !monitorIds.isEmpty else { return [] }
        return Set(try await database.values(Self.activeMonitorIdsQuery(among: monitorIds, at: time), as: Int64.self))
    }

    static func inMaintenanceQuery(monitorId: Int64, at time: Date) -> PostgresQuery {
        """
        SELECT EXISTS (
            SELECT 1
            FROM (SELECT \(time)::timestamptz AS at) p
            CROSS JOIN maintenance_window_monitors wm
            JOIN maintenance_windows w ON w.id = wm.window_id
            JOIN monitors m ON m.id = wm.monitor_id AND m.owner_id = w.owner_id
            WHERE wm.monitor_id = \(monitorId) AND \(unescaped: activePredicate(window: "w", at: "p.at"))
        )
        """
    }

    static func activeMonitorIdsQuery(among monitorIds: [Int64], at time: Date) -> PostgresQuery {
        """
        SELECT DISTINCT wm.monitor_id
        FROM (SELECT \(time)::timestamptz AS at) p
        CROSS JOIN maintenance_window_monitors wm
        JOIN maintenance_windows w ON w.id = wm.window_id
        JOIN monitors m ON m.id = wm.monitor_id AND m.owner_id = w.owner_id
        WHERE wm.monitor_id = ANY(\(monitorIds)::int8[]) AND \(unescaped: activePredicate(window: "w", at: "p.at"))
        """
    }

    // MARK: the API

    private static let select = """
        SELECT w.id, w.name, w.starts_at, w.ends_at, w.repeat,
               \(activePredicate(window: "w", at: "now()")) AS active, w.created_at, w.updated_at,
               ARRAY(SELECT wm.monitor_id FROM maintenance_window_monitors wm
                     JOIN monitors mm ON mm.id = wm.monitor_id AND mm.owner_id = w.owner_id
                     WHERE wm.window_id = w.id ORDER BY wm.monitor_id) AS monitor_ids
        FROM maintenance_windows w
        """

    /// One page in id order, after the id `cursor`.
    func list(
        ownerId: Int64,
        after cursor: Int64,
        limit: Int
    ) async throws -> ([MaintenanceWindowResource], nextCursor: Int64?) {
        let rows = try await windows(
            "\(unescaped: Self.select) WHERE w.owner_id = \(ownerId) AND w.id > \(cursor) ORDER BY w.id LIMIT \(limit + 1)"
        )
        if rows.count > limit { return (Array(rows.prefix(limit)), rows[limit - 1].id) }
        return (rows, nil)
    }

    func get(ownerId: Int64, id: Int64) async throws -> MaintenanceWindowResource? {
        try await windows("\(unescaped: Self.select) WHERE w.owner_id = \(ownerId) AND w.id = \(id)").first
    }

    /// Stores a new window; returns its id.
    func create(ownerId: Int64, draft: MaintenanceWindowDraft) async throws -> Int64 {
        try await database.transaction { transaction in
            try await transaction.requireOwnedMonitors(draft.monitorIds, ownerId: ownerId, field: "monitorIds")
            guard
                let id = try await transaction.first(
                    """
                    INSERT INTO maintenance_windows (owner_id, name, starts_at, ends_at, repeat)
                    VALUES (\(ownerId), \(draft.name), \(draft.startsAt), \(draft.endsAt), \(draft.repeatRule))
                    RETURNING id
                    """,
                    as: (Int64).self
                )
            else { throw APIError.unexpected }
            try await Self.replaceMonitors(windowId: id, with: draft.monitorIds, in: transaction)
            return id
        }
    }

    /// Replaces a window; false when the owner has no such window.
    func update(ownerId: Int64, id: Int64, draft: MaintenanceWindowDraft) async throws -> Bool {
        try await database.transaction { transaction in
            try await transaction.requireOwnedMonitors(draft.monitorIds, ownerId: ownerId, field: "monitorIds")
            guard
                try await transaction.first(
                    """
                    UPDATE maintenance_windows SET name = \(draft.name), starts_at = \(draft.startsAt),
                        ends_at = \(draft.endsAt), repeat = \(draft.repeatRule), updated_at = now()
                    WHERE id = \(id) AND owner_id = \(ownerId)
                    RETURNING id
                    """,
                    as: (Int64).self
                ) != nil
            else { return false }
            try await Self.replaceMonitors(windowId: id, with: draft.monitorIds, in: transaction)
            return true
        }
    }

    func delete(ownerId: Int64, id: Int64) async throws -> Bool {
        try await database.first(
            "DELETE FROM maintenance_windows WHERE id = \(id) AND owner_id = \(ownerId) RETURNING id",
            as: (Int64).self
        ) != nil
    }

    // MARK: helpers

    private func windows(_ query: PostgresQuery) async throws -> [MaintenanceWindowResource] {
        let rows = try await database.rows(
            query,
            as: (Int64, String, Date, Date, String, Bool, Date, Date, [Int64]).self
        )
        return rows.map { row in
            MaintenanceWindowResource(
                id: row.0,
                name: row.1,
                monitorIds: row.8,
                startsAt: row.2,
                endsAt: row.3,
                repeatRule: row.4,
                active: row.5,
                createdAt: row.6,
                updatedAt: row.7
            )
        }
    }

    private static func replaceMonitors(
        windowId: Int64,
        with ids: [Int64],
        in transaction: Database.Transaction
    )
        async throws
    {
        try await transaction.execute(
            "DELETE FROM maintenance_window_monitors WHERE window_id = \(windowId) AND monitor_id <> ALL(\(ids)::int8[])"
        )
        guard !ids.isEmpty else { return }
        try await transaction.execute(
            """
            INSERT INTO maintenance_window_monitors (window_id, monitor_id)
            SELECT \(windowId), unnest(\(ids)::int8[])
            ON CONFLICT DO NOTHING
            """
        )
    }
}

extension Database.Transaction {
    /// Whether `monitorId` is covered by a maintenance window in force at `time`, inside this
    /// transaction (for the incident consumer, deciding whether a change it records is notified).
    func isInMaintenance(monitorId: Int64, at time: Date) async throws -> Bool {
        try await first(MaintenanceWindowRepository.inMaintenanceQuery(monitorId: monitorId, at: time), as: Bool.self)
            ?? false
    }

    /// Which of `monitorIds` are covered by a maintenance window in force at `time`.
    func activeMonitorIds(among monitorIds: [Int64], at time: Date) async throws -> Set<Int64> {
        guard !monitorIds.isEmpty else { return [] }
        return Set(
            try await values(
                MaintenanceWindowRepository.activeMonitorIdsQuery(among: monitorIds, at: time),
                as: Int64.self
            )
        )
    }
}
