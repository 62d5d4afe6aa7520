import Foundation
import Logging
import ServiceLifecycle

/// Ends flapping: a flapping monitor that has not changed state for `stableSeconds` is stable
/// again, and its channels get one `monitor.stable` message saying which state it settled in
/// (the changes in between were recorded and not notified, `IncidentPolicy`). Every instance
/// may run it: each monitor is taken by one `UPDATE ... RETURNING`, and the outbox rows carry an
/// idempotency key made of the monitor and the start of its flapping.
struct FlapSweeper: Service {
    let database: Database
    let signal: OutboxSignal
    let stableSeconds: Int
    let maxAttempts: Int
    let logger: Logger
    /// Seconds between sweeps. Default 30.
    var intervalSeconds: Double = 30

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let settled = try await sweep()
                    if settled > 0 { signal.notify() }
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("flapping sweep: \(error); retrying at the next sweep")
                }
                try? await Task.sleep(for: .milliseconds(Int(intervalSeconds * 1000)))
            }
        }
    }

    /// Settles every flapping monitor that has been quiet long enough; returns how many.
    @discardableResult
    func sweep(now: Date = Date()) async throws -> Int {
        try await database.transaction { transaction in
            let settled = try await transaction.rows(
                """
                WITH quiet AS (
                    SELECT s.monitor_id, s.flapping_since FROM monitor_states s
                    WHERE s.flapping AND NOT EXISTS (
                        SELECT 1 FROM monitor_state_changes c
                        WHERE c.monitor_id = s.monitor_id AND c.effective
                          AND c.changed_at > \(now.addingTimeInterval(-Double(stableSeconds))))
                    FOR UPDATE SKIP LOCKED)
                UPDATE monitor_states s SET flapping = false, flapping_since = NULL, updated_at = now()
                FROM quiet q, monitors m
                WHERE s.monitor_id = q.monitor_id AND m.id = s.monitor_id
                RETURNING s.monitor_id, m.owner_id, m.name, m.url, s.state, q.flapping_since
                """,
                as: (Int64, Int64, String, String, String, Date?).self
            )
            for (monitorId, ownerId, name, url, state, since) in settled {
                let payload = NotificationPayload(
                    event: .monitorStable,
                    occurredAt: now,
                    monitorId: monitorId,
                    monitorName: name,
                    url: url,
                    status: state == "DOWN" ? .down : .up
                )
                let since = Int64(((since ?? now).timeIntervalSince1970 * 1000).rounded())
                _ = try await Outbox.enqueue(
                    payload,
                    ownerId: ownerId,
                    monitorId: monitorId,
                    incidentId: nil,
                    keyPrefix: "monitor.stable:\(monitorId):\(since)",
                    maxAttempts: maxAttempts,
                    transaction
                )
            }
            return settled.count
        }
    }
}
