import Foundation
import Logging
import ServiceLifecycle

/// Keeps `metrics` current from `checks` with `lookout_rollup_metrics` (docs/DATABASE.md):
/// every minute the minute buckets since the last run (the last two again, for checks that
/// arrived late), and hour and day buckets as they close. One instance does it at a time: each
/// run holds a transaction-level advisory lock, and instances that do not get it skip the run.
/// Progress is kept in `rollup_progress`, so a restart or a hand-over resumes where the last run
/// stopped (at most a day of minutes and a week of hours and days are caught up at once).
///
/// Minute buckets older than `minuteRetentionHours` are deleted: uptime over 24 h reads them,
/// longer windows read hour and day buckets.
struct RollupScheduler: Service {
    let database: Database
    let logger: Logger
    /// Seconds between runs. Default 60.
    var intervalSeconds: Double = 60
    /// Minute buckets kept, hours. Default 48.
    var minuteRetentionHours = 48

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await runOnce()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("rollups: \(error); retrying at the next run")
                }
                try? await Task.sleep(for: .milliseconds(Int(intervalSeconds * 1000)))
            }
        }
    }

    /// One run: returns false when another instance holds the lock.
    @discardableResult
    func runOnce(now: Date = Date()) async throws -> Bool {
        try await database.transaction { transaction in
            let locked =
                try await transaction.values(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended('lookout.rollups.' || current_schema(), 0))",
                    as: Bool.self
                ).first ?? false
            guard locked else { return false }
            let minute = Self.truncate(now, toMultipleOf: 60)
            let hourClosed = Self.truncate(now, toMultipleOf: 3_600)
            let dayClosed = Self.truncate(now, toMultipleOf: 86_400)
            try await transaction.execute(
                """
                INSERT INTO rollup_progress (bucket, done_until) VALUES
                    ('minute', \(minute.addingTimeInterval(-120))), ('hour', \(hourClosed.addingTimeInterval(-3_600))),
                    ('day', \(dayClosed.addingTimeInterval(-86_400)))
                ON CONFLICT (bucket) DO NOTHING
                """
            )
            // Minutes: from two minutes before the last run (late checks) to now, at most a day.
            try await transaction.execute(
                """
                SELECT lookout_rollup_metrics('minute',
                    greatest(done_until - interval '2 minutes', \(now.addingTimeInterval(-86_400))), \(now))
                FROM rollup_progress WHERE bucket = 'minute'
                """
            )
            try await transaction.execute(
                "UPDATE rollup_progress SET done_until = \(minute), updated_at = now() WHERE bucket = 'minute'"
            )
            // Hours and days (UTC): the ones that closed since the last run, at most a week back.
            for (bucket, closed) in [("hour", hourClosed), ("day", dayClosed)] {
                try await transaction.execute(
                    """
                    SELECT lookout_rollup_metrics(\(bucket), greatest(done_until, \(closed.addingTimeInterval(-7 * 86_400))),
                        \(closed))
                    FROM rollup_progress WHERE bucket = \(bucket) AND done_until < \(closed)
                    """
                )
                try await transaction.execute(
                    """
                    UPDATE rollup_progress SET done_until = \(closed), updated_at = now()
                    WHERE bucket = \(bucket) AND done_until < \(closed)
                    """
                )
            }
            try await transaction.execute(
                """
                DELETE FROM metrics WHERE bucket = 'minute'
                  AND bucket_start < \(now) - \(Double(minuteRetentionHours * 3600)) * interval '1 second'
                """
            )
            return true
        }
    }

    /// The start of the UTC bucket of `seconds` that holds `date` (epoch-aligned, so minutes,
    /// hours and UTC days).
    static func truncate(_ date: Date, toMultipleOf seconds: Double) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / seconds).rounded(.down) * seconds)
    }
}
