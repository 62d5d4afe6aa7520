import Foundation
import LookoutCore
import PostgresNIO
import Synchronization

/// Filters of `GET /monitors`.
struct MonitorFilter: Sendable, Equatable {
    /// `UP`, `DOWN` or `UNKNOWN`.
    var status: String?
    var paused: Bool?
    /// Text found in the name or URL (case-insensitive).
    var text: String?
}

/// Monitors (`monitors`, with their state, channels and last check). Every method takes the
/// owner's id: a stranger's monitor is simply not found.
struct MonitorRepository: Sendable {
    let database: Database
    /// Stored definitions already read back (shared by the requests of one instance).
    var definitions = MonitorDefinitionCache()

    /// Columns of `MonitorResource`, joined with the confirmed state, the channel list and the
    /// newest check (one backward index probe per partition).
    private static let select = """
        SELECT m.id, m.external_id, m.name, m.url, m.method, m.interval_seconds, m.timeout_ms,
               m.connect_timeout_ms, m.settings::text AS settings, m.confirmation_threshold,
               m.recovery_threshold, m.paused, m.created_at, m.updated_at,
               coalesce(s.state, 'UNKNOWN') AS state, coalesce(s.flapping, false) AS flapping,
               ARRAY(SELECT mc.channel_id FROM monitor_notification_channels mc
                     WHERE mc.monitor_id = m.id ORDER BY mc.channel_id) AS channel_ids,
               \(CheckRecord.selectList(of: "lc"))
        FROM monitors m
        LEFT JOIN monitor_states s ON s.monitor_id = m.id
        LEFT JOIN LATERAL (
            SELECT * FROM checks c WHERE c.monitor_id = m.id ORDER BY c.checked_at DESC LIMIT 1
        ) lc ON true
        """

    func get(ownerId: Int64, id: Int64) async throws -> MonitorResource? {
        try await resources("\(unescaped: Self.select) WHERE m.owner_id = \(ownerId) AND m.id = \(id)").first
    }

    /// One page in id order, after the id `cursor`.
    func list(
        ownerId: Int64, filter: MonitorFilter, after cursor: Int64, limit: Int
    ) async throws -> (
        [MonitorResource], nextCursor: Int64?
    ) {
        let pattern = filter.text.map { "%" + Self.escapeLike($0) + "%" }
        // The page's ids first, then their joins: the joins then run for one page of rows,
        // whatever the planner believes about the table (a fresh bulk import has no statistics).
        let ids = try await database.values(
            """
            SELECT m.id FROM monitors m LEFT JOIN monitor_states s ON s.monitor_id = m.id
            WHERE m.owner_id = \(ownerId) AND m.id > \(cursor)
              AND (\(filter.status)::text IS NULL OR coalesce(s.state, 'UNKNOWN') = \(filter.status))
              AND (\(filter.paused)::boolean IS NULL OR m.paused = \(filter.paused))
              AND (\(pattern)::text IS NULL OR m.name ILIKE \(pattern) OR m.url ILIKE \(pattern))
            ORDER BY m.id LIMIT \(limit + 1)
            """,
            as: Int64.self
        )
        let rows =
            ids.isEmpty
            ? []
            : try await resources(
                "\(unescaped: Self.select) WHERE m.owner_id = \(ownerId) AND m.id = ANY(\(ids)) ORDER BY m.id"
            )
        if rows.count > limit { return (Array(rows.prefix(limit)), rows[limit - 1].id) }
        return (rows, nil)
    }

    /// The stored definition, for PATCH.
    func draft(ownerId: Int64, id: Int64) async throws -> MonitorDraft? {
        guard let resource = try await get(ownerId: ownerId, id: id) else { return nil }
        return MonitorDraft(
            monitor: resource.monitor,
            name: resource.name,
            failureThreshold: resource.failureThreshold,
            recoveryThreshold: resource.recoveryThreshold,
            paused: resource.paused,
            notificationChannelIds: resource.notificationChannelIds
        )
    }

    /// Stores a new monitor; returns its id and shard.
    func create(ownerId: Int64, draft: MonitorDraft) async throws -> (id: Int64, shard: Int) {
        try await database.transaction { transaction in
            if let channels = draft.notificationChannelIds, !channels.isEmpty {
                try await Self.checkChannels(
                    channels, ownerId: ownerId, field: "notificationChannelIds", in: transaction)
            }
            let record = MonitorRecord(draft.monitor)
            let shard = MonitorShard.shard(ownerId: ownerId, externalId: draft.externalId)
            let row: (Int64)?
            do {
                row = try await transaction.first(
                    """
                    INSERT INTO monitors (owner_id, external_id, name, url, method, interval_seconds, timeout_ms,
                        connect_timeout_ms, settings, confirmation_threshold, recovery_threshold, shard, paused)
                    VALUES (\(ownerId), \(record.externalId), \(draft.name), \(record.url), \(record.method),
                        \(record.intervalSeconds), \(record.timeoutMs), \(record.connectTimeoutMs),
                        \(record.settingsJSON)::jsonb, \(draft.failureThreshold), \(draft.recoveryThreshold),
                        \(Int(shard)), \(draft.paused))
                    RETURNING id
                    """,
                    as: (Int64).self
                )
            } catch  where error.sqlState == "23505" {
                throw APIError.conflict(
                    "you already have a monitor with externalId '\(draft.externalId)'", field: "externalId")
            }
            guard let id = row else { throw APIError.unexpected }
            try await Self.replaceChannels(monitorId: id, with: draft.notificationChannelIds ?? [], in: transaction)
            return (id, Int(shard))
        }
    }

    /// Stores many monitors in one transaction, all or none. Items whose externalId is taken
    /// or whose channels are not the owner's come back as per-item errors (nothing is stored).
    func createMany(ownerId: Int64, drafts: [MonitorDraft]) async throws -> [(id: Int64, shard: Int)] {
        try await database.transaction { transaction in
            var errors: [APIError.BulkItemError] = []
            let externalIds = drafts.map(\.externalId)
            let taken = Set(
                try await transaction.values(
                    "SELECT external_id FROM monitors WHERE owner_id = \(ownerId) AND external_id = ANY(\(externalIds))",
                    as: String.self
                )
            )
            var seen: [String: Int] = [:]
            for (index, draft) in drafts.enumerated() {
                if taken.contains(draft.externalId) {
                    errors.append(
                        .init(
                            index: index, code: "conflict", message: "externalId '\(draft.externalId)' is taken",
                            field: "externalId")
                    )
                } else if let first = seen[draft.externalId] {
                    errors.append(
                        .init(
                            index: index,
                            code: "conflict",
                            message: "externalId '\(draft.externalId)' is also item \(first)",
                            field: "externalId"
                        )
                    )
                }
                seen[draft.externalId] = seen[draft.externalId] ?? index
            }
            let wanted = Set(drafts.flatMap { $0.notificationChannelIds ?? [] })
            if !wanted.isEmpty {
                let owned = Set(
                    try await transaction.values(
                        "SELECT id FROM notification_channels WHERE owner_id = \(ownerId) AND id = ANY(\(Array(wanted)))",
                        as: Int64.self
                    )
                )
                for (index, draft) in drafts.enumerated() {
                    if let missing = (draft.notificationChannelIds ?? []).first(where: { !owned.contains($0) }) {
                        errors.append(
                            .init(
                                index: index,
                                code: "validation_failed",
                                message: "notification channel \(missing) not found",
                                field: "notificationChannelIds"
                            )
                        )
                    }
                }
            }
            if !errors.isEmpty {
                throw APIError(
                    .badRequest,
                    "validation_failed",
                    "\(errors.count) of \(drafts.count) monitors were refused; nothing was stored",
                    items: errors.sorted { $0.index < $1.index }
                )
            }
            let records = drafts.map { MonitorRecord($0.monitor) }
            let shards = drafts.map { Int(MonitorShard.shard(ownerId: ownerId, externalId: $0.externalId)) }
            let inserted = try await transaction.rows(
                """
                INSERT INTO monitors (owner_id, external_id, name, url, method, interval_seconds, timeout_ms,
                    connect_timeout_ms, settings, confirmation_threshold, recovery_threshold, shard, paused)
                SELECT \(ownerId), e, n, u, me, i, t, ct, s::jsonb, ft, rt, sh, p
                FROM unnest(\(externalIds)::text[], \(drafts.map(\.name))::text[], \(records.map(\.url))::text[],
                    \(records.map(\.method))::text[], \(records.map(\.intervalSeconds))::float8[],
                    \(records.map(\.timeoutMs))::int[], \(records.map(\.connectTimeoutMs))::int[],
                    \(records.map(\.settingsJSON))::text[], \(drafts.map(\.failureThreshold))::int[],
                    \(drafts.map(\.recoveryThreshold))::int[], \(shards)::int[], \(drafts.map(\.paused))::bool[])
                    AS item(e, n, u, me, i, t, ct, s, ft, rt, sh, p)
                RETURNING id, external_id
                """,
                as: (Int64, String).self
            )
            let idByExternal = Dictionary(uniqueKeysWithValues: inserted.map { ($0.1, $0.0) })
            var linkMonitors: [Int64] = []
            var linkChannels: [Int64] = []
            var result: [(id: Int64, shard: Int)] = []
            for (index, draft) in drafts.enumerated() {
                guard let id = idByExternal[draft.externalId] else { throw APIError.unexpected }
                result.append((id, shards[index]))
                for channel in draft.notificationChannelIds ?? [] {
                    linkMonitors.append(id)
                    linkChannels.append(channel)
                }
            }
            if !linkMonitors.isEmpty {
                try await transaction.execute(
                    """
                    INSERT INTO monitor_notification_channels (monitor_id, channel_id)
                    SELECT * FROM unnest(\(linkMonitors)::bigint[], \(linkChannels)::bigint[])
                    """
                )
            }
            return result
        }
    }

    /// Replaces a monitor's definition; nil when the owner has no such monitor.
    func update(ownerId: Int64, id: Int64, draft: MonitorDraft) async throws -> Int? {
        try await database.transaction { transaction in
            if let channels = draft.notificationChannelIds, !channels.isEmpty {
                try await Self.checkChannels(
                    channels, ownerId: ownerId, field: "notificationChannelIds", in: transaction)
            }
            let record = MonitorRecord(draft.monitor)
            let row: (Int)?
            do {
                row = try await transaction.first(
                    """
                    UPDATE monitors SET external_id = \(record.externalId), name = \(draft.name), url = \(record.url),
                        method = \(record.method), interval_seconds = \(record.intervalSeconds),
                        timeout_ms = \(record.timeoutMs), connect_timeout_ms = \(record.connectTimeoutMs),
                        settings = \(record.settingsJSON)::jsonb, confirmation_threshold = \(draft.failureThreshold),
                        recovery_threshold = \(draft.recoveryThreshold), paused = \(draft.paused), updated_at = now()
                    WHERE id = \(id) AND owner_id = \(ownerId)
                    RETURNING shard
                    """,
                    as: (Int).self
                )
            } catch  where error.sqlState == "23505" {
                throw APIError.conflict(
                    "you already have a monitor with externalId '\(draft.externalId)'", field: "externalId")
            }
            guard let shard = row else { return nil }
            if let channels = draft.notificationChannelIds {
                try await Self.replaceChannels(monitorId: id, with: channels, in: transaction)
            }
            return shard
        }
    }

    /// Pauses or resumes; returns the shard, nil when the owner has no such monitor.
    func setPaused(ownerId: Int64, id: Int64, paused: Bool) async throws -> Int? {
        try await database.first(
            """
            UPDATE monitors SET paused = \(paused),
                updated_at = CASE WHEN paused = \(paused) THEN updated_at ELSE now() END
            WHERE id = \(id) AND owner_id = \(ownerId) RETURNING shard
            """,
            as: (Int).self
        )
    }

    /// Deletes a monitor with its incidents, rollups and links; returns its shard.
    func delete(ownerId: Int64, id: Int64) async throws -> Int? {
        try await database.first(
            "DELETE FROM monitors WHERE id = \(id) AND owner_id = \(ownerId) RETURNING shard",
            as: (Int).self
        )
    }

    /// The monitor's shard and pause state (for check-now).
    func shard(ownerId: Int64, id: Int64) async throws -> (shard: Int, paused: Bool)? {
        try await database.first(
            "SELECT shard, paused FROM monitors WHERE id = \(id) AND owner_id = \(ownerId)",
            as: (Int, Bool).self
        ).map { ($0.0, $0.1) }
    }

    /// Whether the owner has this monitor (for sub-resources such as checks and metrics).
    func exists(ownerId: Int64, id: Int64) async throws -> Bool {
        try await database.first("SELECT 1 FROM monitors WHERE id = \(id) AND owner_id = \(ownerId)", as: (Int).self)
            != nil
    }

    /// The owner's monitors among `ids` (status pages, maintenance windows).
    func owned(ownerId: Int64, among ids: [Int64]) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        return Set(
            try await database.values(
                "SELECT id FROM monitors WHERE owner_id = \(ownerId) AND id = ANY(\(ids))",
                as: Int64.self
            )
        )
    }

    // MARK: helpers

    private func resources(_ query: PostgresQuery) async throws -> [MonitorResource] {
        let sequence = try await database.client.query(query, logger: database.logger)
        var result: [MonitorResource] = []
        for try await row in sequence { result.append(try resource(row)) }
        return result
    }

    private func resource(_ row: PostgresRow) throws -> MonitorResource {
        let cells = row.makeRandomAccess()
        let record = MonitorRecord(
            externalId: try cells["external_id"].decode(String.self),
            url: try cells["url"].decode(String.self),
            method: try cells["method"].decode(String.self),
            intervalSeconds: try cells["interval_seconds"].decode(Double.self),
            timeoutMs: try cells["timeout_ms"].decode(Int.self),
            connectTimeoutMs: try cells["connect_timeout_ms"].decode(Int.self),
            settingsJSON: try cells["settings"].decode(String.self)
        )
        let id = try cells["id"].decode(Int64.self)
        var lastCheck: CheckRecord?
        if let checkId = try cells["check_id"].decode(String?.self) {
            lastCheck = try CheckRecord(cells: cells, checkId: checkId, monitorId: id)
        }
        let monitor: Monitor
        do { monitor = try definitions.monitor(id: id, stored: record) } catch {
            // A row edited by hand into something invalid: report it, do not crash the listing.
            throw APIError(
                .internalServerError,
                "invalid_stored_monitor",
                "monitor \(id) is stored with an invalid \(error.field): fix it with PUT"
            )
        }
        return MonitorResource(
            id: id,
            externalId: record.externalId,
            name: try cells["name"].decode(String.self),
            monitor: monitor,
            failureThreshold: try cells["confirmation_threshold"].decode(Int.self),
            recoveryThreshold: try cells["recovery_threshold"].decode(Int.self),
            paused: try cells["paused"].decode(Bool.self),
            notificationChannelIds: try cells["channel_ids"].decode([Int64].self),
            status: try cells["state"].decode(String.self),
            flapping: try cells["flapping"].decode(Bool.self),
            lastCheck: lastCheck,
            createdAt: try cells["created_at"].decode(Date.self),
            updatedAt: try cells["updated_at"].decode(Date.self)
        )
    }

    static func checkChannels(
        _ ids: [Int64],
        ownerId: Int64,
        field: String,
        in transaction: Database.Transaction
    ) async throws {
        let owned = Set(
            try await transaction.values(
                "SELECT id FROM notification_channels WHERE owner_id = \(ownerId) AND id = ANY(\(ids))",
                as: Int64.self
            )
        )
        if let missing = ids.first(where: { !owned.contains($0) }) {
            throw APIError.validation("notification channel \(missing) not found", field: field)
        }
    }

    private static func replaceChannels(
        monitorId: Int64, with ids: [Int64], in transaction: Database.Transaction
    )
        async throws
    {
        try await transaction.execute("DELETE FROM monitor_notification_channels WHERE monitor_id = \(monitorId)")
        guard !ids.isEmpty else { return }
        try await transaction.execute(
            """
            INSERT INTO monitor_notification_channels (monitor_id, channel_id)
            SELECT \(monitorId), unnest(\(ids)::bigint[])
            """
        )
    }

    /// `%`, `_` and `\` are literal in a search text.
    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}

/// Monitors read back from their rows, by id. Parsing and validating a row's `settings` took a
/// quarter of the monitor list's CPU (`lookout-bench control`); a row whose stored columns are
/// exactly those seen before reuses the monitor made from them, so only changed rows are read
/// again. Bounded: past `capacity` entries the cache starts over.
final class MonitorDefinitionCache: Sendable {
    private let entries = Mutex<[Int64: (record: MonitorRecord, monitor: Monitor)]>([:])
    /// Entries kept at most. Default 200,000 (a few hundred MiB at the very most).
    let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    /// The monitor of `stored`, validated like any monitors-file line.
    func monitor(id: Int64, stored: MonitorRecord) throws(MonitorValidationError) -> Monitor {
        if let hit = entries.withLock({ $0[id] }), hit.record == stored { return hit.monitor }
        let monitor = try stored.monitor()
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[id] = (stored, monitor)
        }
        return monitor
    }
}
