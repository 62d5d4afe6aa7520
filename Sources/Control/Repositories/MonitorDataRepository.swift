import Foundation
import PostgresNIO

/// What a monitor produced: its checks (`checks`), its rollups (`metrics`) and the uptime figures
/// computed from them. Every method takes the owner's id and answers nil when the owner has no
/// such monitor, so a stranger's monitor is simply not found.
struct MonitorDataRepository: Sendable {
    let database: Database

    /// The four check statuses, the default of the `status` filter.
    static let checkStatuses = ["UP", "DOWN", "TIMEOUT", "ERROR"]

    /// One page of checks in `range`, newest first (`checked_at DESC, check_id DESC`), after
    /// `cursor`. The monitor's `(monitor_id, checked_at)` index serves the scan in each daily
    /// partition the range touches; the cursor's time bounds it from above.
    func checks(
        ownerId: Int64,
        monitorId: Int64,
        range: TimeRange,
        statuses: [String] = checkStatuses,
        after cursor: TimeKeyCursor?,
        limit: Int
    ) async throws -> (checks: [CheckRecord], next: TimeKeyCursor?)? {
        guard try await ownsMonitor(ownerId: ownerId, monitorId: monitorId) else { return nil }
        let query: PostgresQuery
        if let cursor {
            let key = try cursor.uuidKey()
            query = """
                \(unescaped: Self.checkColumns)
                FROM checks c
                CROSS JOIN (SELECT to_timestamp(0) + \(cursor.microseconds)::float8 * interval '1 microsecond' AS at) k
                WHERE c.monitor_id = \(monitorId) AND c.checked_at >= \(range.from) AND c.checked_at < \(range.to)
                  AND c.status = ANY(\(statuses))
                  AND c.checked_at <= k.at AND (c.checked_at < k.at OR c.check_id < \(key))
                ORDER BY c.checked_at DESC, c.check_id DESC
                LIMIT \(limit + 1)
                """
        } else {
            query = """
                \(unescaped: Self.checkColumns)
                FROM checks c
                WHERE c.monitor_id = \(monitorId) AND c.checked_at >= \(range.from) AND c.checked_at < \(range.to)
                  AND c.status = ANY(\(statuses))
                ORDER BY c.checked_at DESC, c.check_id DESC
                LIMIT \(limit + 1)
                """
        }
        let sequence = try await database.client.query(query, logger: database.logger)
        var rows: [(CheckRecord, TimeKeyCursor)] = []
        for try await row in sequence { rows.append(try Self.check(row, monitorId: monitorId)) }
        guard rows.count > limit else { return (rows.map(\.0), nil) }
        return (rows.prefix(limit).map(\.0), rows[limit - 1].1)
    }

    /// The monitor's rollups of `bucket` that start in `range` (and the one `range.from` falls
    /// in), oldest first, at most `RollupBucket.maximumBuckets`.
    func metrics(
        ownerId: Int64,
        monitorId: Int64,
        bucket: RollupBucket,
        range: TimeRange
    ) async throws -> [MetricPoint]? {
        guard try await ownsMonitor(ownerId: ownerId, monitorId: monitorId) else { return nil }
        return try await database.rows(
            """
            SELECT x.bucket_start, x.count, x.up_count, x.latency_avg_ms, x.latency_p50_ms, x.latency_p95_ms,
                   x.latency_max_ms
            FROM metrics x
            WHERE x.monitor_id = \(monitorId) AND x.bucket = \(bucket.rawValue)
              AND x.bucket_start >= date_trunc(\(bucket.rawValue), \(range.from)::timestamptz, 'UTC')
              AND x.bucket_start < \(range.to)
            ORDER BY x.bucket_start
            LIMIT \(RollupBucket.maximumBuckets)
            """,
            as: (Date, Int, Int, Float?, Float?, Float?, Float?).self
        ).map { row in
            MetricPoint(
                bucketStart: row.0,
                count: row.1,
                upCount: row.2,
                latencyAvgMs: row.3.map(Self.decimal),
                latencyP50Ms: row.4.map(Self.decimal),
                latencyP95Ms: row.5.map(Self.decimal),
                latencyMaxMs: row.6.map(Self.decimal)
            )
        }
    }

    /// Uptime over the last 24 hours, 7, 30 and 90 days, from the rollups only (never a scan of
    /// raw checks), in one query. With `T = now` and `M`, `H`, `D` the starts of the UTC minute,
    /// hour and day `T` falls in, the windows are:
    ///
    /// - `24h`: minute buckets that start in `[M − 24 h, T]` (1,440 whole minutes and the
    ///   current one so far);
    /// - `7d`: hour buckets that start in `[H − 168 h, H)`, plus minute buckets in `[H, T]`;
    /// - `30d` and `90d`: the last 30 or 90 UTC calendar days, today included — day buckets
    ///   that start in `[D − (N − 1) × 24 h, D)`, plus today's hour buckets in `[D, H)`, plus the
    ///   current hour's minute buckets in `[H, T]`. The `days` of a public status page are the
    ///   same 90 days, so its `uptime90d` is this figure.
    ///
    /// So each window reads at most about 1,440 + 168 + 90 rows of `metrics` through its primary
    /// key. A bucket the rollup scheduler has not written yet (the minute that just closed, the
    /// hour or day in the minute after it closes) is missing from the figure until it is.
    func uptime(ownerId: Int64, monitorId: Int64, at now: Date) async throws -> UptimeSummary? {
        guard
            let row = try await database.first(
                """
                WITH b AS (
                    SELECT date_trunc('hour', t, 'UTC') AS h, date_trunc('day', t, 'UTC') AS d
                    FROM (SELECT \(now)::timestamptz AS t) n
                ), w AS (
                    -- One index range per bucket size (bounds computed from the parameter, so
                    -- they are index conditions): [M − 24 h, T] of minutes, [H − 168 h, H) of
                    -- hours, [D − 89 days, D) of days.
                    SELECT x.bucket, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = \(monitorId) AND x.bucket = 'minute'
                      AND x.bucket_start >= date_trunc('minute', \(now)::timestamptz, 'UTC') - interval '24 hours'
                      AND x.bucket_start <= \(now)::timestamptz
                    UNION ALL
                    SELECT x.bucket, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = \(monitorId) AND x.bucket = 'hour'
                      AND x.bucket_start >= date_trunc('hour', \(now)::timestamptz, 'UTC') - interval '168 hours'
                      AND x.bucket_start < date_trunc('hour', \(now)::timestamptz, 'UTC')
                    UNION ALL
                    SELECT x.bucket, x.bucket_start, x.count, x.up_count FROM metrics x
                    WHERE x.monitor_id = \(monitorId) AND x.bucket = 'day'
                      AND x.bucket_start >= date_trunc('day', \(now)::timestamptz, 'UTC') - interval '2136 hours'
                      AND x.bucket_start < date_trunc('day', \(now)::timestamptz, 'UTC')
                ), f AS (
                    SELECT w.count, w.up_count,
                           w.bucket = 'minute' AS in_24h,
                           w.bucket = 'hour' OR (w.bucket = 'minute' AND w.bucket_start >= b.h) AS in_7d,
                           (w.bucket = 'day' AND w.bucket_start >= b.d - interval '696 hours')
                               OR (w.bucket = 'hour' AND w.bucket_start >= b.d)
                               OR (w.bucket = 'minute' AND w.bucket_start >= b.h) AS in_30d,
                           w.bucket = 'day' OR (w.bucket = 'hour' AND w.bucket_start >= b.d)
                               OR (w.bucket = 'minute' AND w.bucket_start >= b.h) AS in_90d
                    FROM w, b
                )
                SELECT coalesce(sum(f.count) FILTER (WHERE f.in_24h), 0)::int8,
                       coalesce(sum(f.up_count) FILTER (WHERE f.in_24h), 0)::int8,
                       coalesce(sum(f.count) FILTER (WHERE f.in_7d), 0)::int8,
                       coalesce(sum(f.up_count) FILTER (WHERE f.in_7d), 0)::int8,
                       coalesce(sum(f.count) FILTER (WHERE f.in_30d), 0)::int8,
                       coalesce(sum(f.up_count) FILTER (WHERE f.in_30d), 0)::int8,
                       coalesce(sum(f.count) FILTER (WHERE f.in_90d), 0)::int8,
                       coalesce(sum(f.up_count) FILTER (WHERE f.in_90d), 0)::int8
                FROM monitors mo LEFT JOIN f ON true
                WHERE mo.id = \(monitorId) AND mo.owner_id = \(ownerId)
                GROUP BY mo.id
                """,
                as: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self
            )
        else { return nil }
        return UptimeSummary(
            last24Hours: UptimeFigure(checks: row.0, upChecks: row.1),
            last7Days: UptimeFigure(checks: row.2, upChecks: row.3),
            last30Days: UptimeFigure(checks: row.4, upChecks: row.5),
            last90Days: UptimeFigure(checks: row.6, upChecks: row.7)
        )
    }

    private func ownsMonitor(ownerId: Int64, monitorId: Int64) async throws -> Bool {
        try await database.first(
            "SELECT 1 FROM monitors WHERE id = \(monitorId) AND owner_id = \(ownerId)",
            as: (Int).self
        ) != nil
    }

    // MARK: rows

    /// A `real` column as the decimal it was written as (`12.3`, not `12.300000190734863`).
    static func decimal(_ value: Float) -> Double {
        Double(value.description) ?? Double(value)
    }

    private static let checkColumns = """
        SELECT \(CheckRecord.selectList(of: "c")), \(TimeKeyCursor.position(of: "c.checked_at")) AS position
        """

    private static func check(_ row: PostgresRow, monitorId: Int64) throws -> (CheckRecord, TimeKeyCursor) {
        let cells = row.makeRandomAccess()
        let checkId = try cells["check_id"].decode(String.self)
        let record = try CheckRecord(cells: cells, checkId: checkId, monitorId: monitorId)
        return (record, TimeKeyCursor(microseconds: try cells["position"].decode(Int64.self), key: checkId))
    }
}
