import Foundation
import PostgresNIO
import Synchronization

/// Writing notifications into `notification_outbox`, inside the caller's transaction, one row
/// per channel with an idempotency key derived from the event (so a redelivered event, or two
/// instances applying it at once, can never write a second row for one channel).
enum Outbox {
    /// Rows for every channel that serves the monitor: the channels it lists, or when it lists
    /// none, every enabled channel of its owner. Returns the number of rows written.
    static func enqueue(
        _ payload: NotificationPayload,
        ownerId: Int64,
        monitorId: Int64?,
        incidentId: Int64?,
        keyPrefix: String,
        maxAttempts: Int,
        _ transaction: Database.Transaction
    ) async throws -> Int {
        let json = String(decoding: payload.jsonBytes(), as: UTF8.self)
        let rows = try await transaction.values(
            """
            WITH listed AS (
                SELECT c.id FROM monitor_notification_channels mc
                JOIN notification_channels c ON c.id = mc.channel_id
                WHERE mc.monitor_id = \(monitorId) AND c.enabled
            ), chosen AS (
                SELECT id FROM listed
                UNION ALL
                SELECT c.id FROM notification_channels c
                WHERE c.owner_id = \(ownerId) AND c.enabled
                  AND NOT EXISTS (SELECT 1 FROM monitor_notification_channels mc WHERE mc.monitor_id = \(monitorId))
            )
            INSERT INTO notification_outbox (channel_id, monitor_id, incident_id, event_type, idempotency_key, payload,
                max_attempts)
            SELECT id, \(monitorId), \(incidentId), \(payload.event.rawValue), \(keyPrefix) || ':' || id, \(json)::jsonb, \(maxAttempts)
            FROM chosen
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
            """,
            as: Int64.self
        )
        return rows.count
    }
}

/// Wakes the outbox dispatcher of this instance as soon as a transaction wrote rows, so a
/// notification leaves within milliseconds instead of at the next poll.
final class OutboxSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Something was written.
    func notify() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next `notify()` (at once if one came since the last wait) or after `timeout`.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        state.waiter?.resume()
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.notify() }
            }
            await group.next()
            group.cancelAll()
        }
        state.withLock { $0.pending = false }
    }
}
