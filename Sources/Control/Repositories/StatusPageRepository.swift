import Foundation
import PostgresNIO

/// Status pages (`status_pages`, `status_page_monitors`). Every method but `publicPage` takes the
/// owner's id; a page only ever lists its owner's monitors (checked when it is written, and
/// joined on `owner_id` again whenever it is read).
struct StatusPageRepository: Sendable {
    let database: Database

    private static let select = """
        SELECT p.id, p.title, p.slug, p.description, p.published, p.created_at, p.updated_at,
               ARRAY(SELECT spm.monitor_id FROM status_page_monitors spm
                     JOIN monitors mm ON mm.id = spm.monitor_id AND mm.owner_id = p.owner_id
                     WHERE spm.status_page_id = p.id ORDER BY spm.position, spm.monitor_id) AS monitor_ids
        FROM status_pages p
        """

    /// One page in id order, after the id `cursor`.
    func list(
        ownerId: Int64,
        after cursor: Int64,
        limit: Int
    ) async throws -> ([StatusPageResource], nextCursor: Int64?) {
        let rows = try await pages(
            "\(unescaped: Self.select) WHERE p.owner_id = \(ownerId) AND p.id > \(cursor) ORDER BY p.id LIMIT \(limit + 1)"
        )
        if rows.count > limit { return (Array(rows.prefix(limit)), rows[limit - 1].id) }
        return (rows, nil)
    }

    func get(ownerId: Int64, id: Int64) async throws -> StatusPageResource? {
        try await pages("\(unescaped: Self.select) WHERE p.owner_id = \(ownerId) AND p.id = \(id)").first
    }

    /// Stores a new page; returns its id. A taken slug is a 409 naming `slug`.
    func create(ownerId: Int64, draft: StatusPageDraft) async throws -> Int64 {
        try await database.transaction { transaction in
            try await transaction.requireOwnedMonitors(draft.monitorIds, ownerId: ownerId, field: "monitorIds")
            let row = try await Self.slugChecked(draft.slug) {
                try await transaction.first(
                    """
                    INSERT INTO status_pages (owner_id, slug, title, description, published)
                    VALUES (\(ownerId), \(draft.slug), \(draft.title), \(draft.description), \(draft.published))
                    RETURNING id
                    """,
                    as: (Int64).self
                )
            }
            guard let id = row else { throw APIError.unexpected }
            try await Self.replaceMonitors(pageId: id, with: draft.monitorIds, in: transaction)
            return id
        }
    }

    /// Replaces a page; false when the owner has no such page.
    func update(ownerId: Int64, id: Int64, draft: StatusPageDraft) async throws -> Bool {
        try await database.transaction { transaction in
            try await transaction.requireOwnedMonitors(draft.monitorIds, ownerId: ownerId, field: "monitorIds")
            let row = try await Self.slugChecked(draft.slug) {
                try await transaction.first(
                    """
                    UPDATE status_pages SET slug = \(draft.slug), title = \(draft.title),
                        description = \(draft.description), published = \(draft.published), updated_at = now()
                    WHERE id = \(id) AND owner_id = \(ownerId)
                    RETURNING id
                    """,
                    as: (Int64).self
                )
            }
            guard row != nil else { return false }
            try await Self.replaceMonitors(pageId: id, with: draft.monitorIds, in: transaction)
            return true
        }
    }

    func delete(ownerId: Int64, id: Int64) async throws -> Bool {
        try await database.first(
            "DELETE FROM status_pages WHERE id = \(id) AND owner_id = \(ownerId) RETURNING id",
            as: (Int64).self
        ) != nil
    }

    /// The published page at `slug`, as anyone may see it; nil when there is none or it is not
    /// published. `days` and `uptime90d` follow the 90-day rule of `MonitorDataRepository.uptime`:
    /// day buckets of the 89 days before today, then today's hour buckets and the current hour's
    /// minute buckets.
    func publicPage(slug: String, now: Date) async throws -> PublicStatusPage? {
        guard
            let page = try await database.first(
                """
                SELECT id, owner_id, title, description FROM status_pages
                WHERE slug = \(slug) AND published
                """,
                as: (Int64, Int64, String, String?).self
            )
        else { return nil }
        let (pageId, ownerId) = (page.0, page.1)
        // A monitor's own name is its URL when it was never named: never shown, "Monitor 2" instead.
        let monitors = try await database.rows(
            """
            SELECT m.id, CASE WHEN spm.display_name IS NOT NULL THEN spm.display_name
                              WHEN m.name = m.url THEN NULL ELSE m.name END,
                   m.paused, coalesce(s.state, 'UNKNOWN')
            FROM status_page_monitors spm
            JOIN monitors m ON m.id = spm.monitor_id AND m.owner_id = \(ownerId)
            LEFT JOIN monitor_states s ON s.monitor_id = m.id
            WHERE spm.status_page_id = \(pageId)
            ORDER BY spm.position, spm.monitor_id
            """,
            as: (Int64, String?, Bool, String).self
        )
        let ids = monitors.map(\.0)
        var names: [Int64: String] = [:]
        for (index, monitor) in monitors.enumerated() { names[monitor.0] = monitor.1 ?? "Monitor \(index + 1)" }

        let lastDay = String(PublicStatusPage.days - 1)
        let dayRows =
            ids.isEmpty
            ? []
            : try await database.rows(
                """
                WITH b AS (
                    SELECT date_trunc('day', t, 'UTC') AS d FROM (SELECT \(now)::timestamptz AS t) n
                ), days AS (
                    SELECT g, b.d - (\(unescaped: lastDay) - g) * interval '24 hours' AS day_start
                    FROM b, generate_series(0, \(unescaped: lastDay)) AS g
                ), rollups AS (
                    -- The 89 days before today from day buckets, today from hour buckets, the
                    -- current hour from minute buckets: one index range per bucket size.
                    SELECT x.monitor_id, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = ANY(\(ids)) AND x.bucket = 'day'
                      AND x.bucket_start >= date_trunc('day', \(now)::timestamptz, 'UTC')
                          - \(unescaped: lastDay) * interval '24 hours'
                      AND x.bucket_start < date_trunc('day', \(now)::timestamptz, 'UTC')
                    UNION ALL
                    SELECT x.monitor_id, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = ANY(\(ids)) AND x.bucket = 'hour'
                      AND x.bucket_start >= date_trunc('day', \(now)::timestamptz, 'UTC')
                      AND x.bucket_start < date_trunc('hour', \(now)::timestamptz, 'UTC')
                    UNION ALL
                    SELECT x.monitor_id, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = ANY(\(ids)) AND x.bucket = 'minute'
                      AND x.bucket_start >= date_trunc('hour', \(now)::timestamptz, 'UTC')
                      AND x.bucket_start <= \(now)::timestamptz
                ), sums AS (
                    SELECT monitor_id, date_trunc('day', bucket_start, 'UTC') AS day_start,
                           sum(count)::int8 AS checks, sum(up_count)::int8 AS up
                    FROM rollups GROUP BY 1, 2
                )
                SELECT mid, to_char(days.day_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                       coalesce(sums.checks, 0), coalesce(sums.up, 0)
                FROM unnest(\(ids)::int8[]) AS mid
                CROSS JOIN days
                LEFT JOIN sums ON sums.monitor_id = mid AND sums.day_start = days.day_start
                ORDER BY mid, days.g
                """,
                as: (Int64, String, Int64, Int64).self
            )
        var days: [Int64: [(date: String, checks: Int64, up: Int64)]] = [:]
        for row in dayRows { days[row.0, default: []].append((row.1, row.2, row.3)) }

        let incidents =
            ids.isEmpty
            ? []
            : try await database.rows(
                """
                SELECT i.monitor_id, i.started_at, i.resolved_at, i.cause_status
                FROM incidents i
                WHERE i.monitor_id = ANY(\(ids))
                  AND (i.resolved_at IS NULL OR i.resolved_at >= \(now)::timestamptz - interval '2160 hours')
                ORDER BY i.started_at DESC, i.id DESC
                LIMIT \(PublicStatusPage.maximumIncidents)
                """,
                as: (Int64, Date, Date?, String).self
            )

        let shown = monitors.map { monitor in
            let series = days[monitor.0] ?? []
            let checks = series.reduce(0) { $0 + $1.checks }
            let up = series.reduce(0) { $0 + $1.up }
            return PublicStatusPage.Monitor(
                name: names[monitor.0] ?? "",
                status: monitor.2 ? "PAUSED" : monitor.3,
                uptime90d: checks > 0 ? Double(up) / Double(checks) : nil,
                days: series.map {
                    .init(date: $0.date, uptime: $0.checks > 0 ? Double($0.up) / Double($0.checks) : nil)
                }
            )
        }
        return PublicStatusPage(
            title: page.2,
            description: page.3,
            status: PublicStatusPage.overallStatus(of: shown.map(\.status)),
            monitors: shown,
            incidents: incidents.map { row in
                .init(startedAt: row.1, resolvedAt: row.2, monitorName: names[row.0] ?? "", causeStatus: row.3)
            }
        )
    }

    // MARK: helpers

    private func pages(_ query: PostgresQuery) async throws -> [StatusPageResource] {
        let rows = try await database.rows(query, as: (Int64, String, String, String?, Bool, Date, Date, [Int64]).self)
        return rows.map { row in
            StatusPageResource(
                id: row.0,
                title: row.1,
                slug: row.2,
                description: row.3,
                published: row.4,
                monitorIds: row.7,
                createdAt: row.5,
                updatedAt: row.6
            )
        }
    }

    /// Runs a statement that writes `slug`; a slug another page (anyone's) has is a 409.
    private static func slugChecked<Value>(_ slug: String, _ statement: () async throws -> Value) async throws -> Value
    {
        do {
            return try await statement()
        } catch {
            guard error.sqlState == "23505", error.constraintName == "status_pages_slug_key" else { throw error }
            throw APIError.conflict("the slug '\(slug)' is taken: choose another", field: "slug")
        }
    }

    private static func replaceMonitors(
        pageId: Int64,
        with ids: [Int64],
        in transaction: Database.Transaction
    )
        async throws
    {
        try await transaction.execute(
            "DELETE FROM status_page_monitors WHERE status_page_id = \(pageId) AND monitor_id <> ALL(\(ids)::int8[])"
        )
        guard !ids.isEmpty else { return }
        // An upsert keeps what else a listed monitor's row holds (its display name).
        try await transaction.execute(
            """
            INSERT INTO status_page_monitors (status_page_id, monitor_id, position)
            SELECT \(pageId), item.id, item.position - 1
            FROM unnest(\(ids)::int8[]) WITH ORDINALITY AS item(id, position)
            ON CONFLICT (status_page_id, monitor_id) DO UPDATE SET position = EXCLUDED.position
            """
        )
    }
}
