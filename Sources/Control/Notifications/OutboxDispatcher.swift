import Foundation
import Logging
import LookoutCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Delivers `notification_outbox` rows. Any instance may run one: rows are claimed with
/// `FOR UPDATE SKIP LOCKED` and leased (`locked_by`, `locked_until`), so two dispatchers never
/// send one row at the same time, and a row whose instance died is taken again when its lease
/// runs out. Each row keeps its idempotency key on every attempt (`Idempotency-Key` for
/// webhooks), so a receiver can drop the rare duplicate of a delivery that succeeded just
/// before its instance died.
///
/// After an attempt the row is delivered, scheduled again (`RetryPolicy`: back-off with jitter,
/// `Retry-After` honoured), or failed — and a permanent failure marks its channel as failing
/// until a delivery succeeds. The dispatcher knows nothing of any channel: `Notifier` does.
///
/// On graceful shutdown it stops claiming and lets the deliveries in flight finish (each is
/// bounded by the delivery timeout).
struct OutboxDispatcher: Service {
    let database: Database
    let channels: ChannelRepository
    let notifier: Notifier
    let retryPolicy: RetryPolicy
    let signal: OutboxSignal
    let instanceId: String
    let concurrency: Int
    let leaseSeconds: Int
    let pollMilliseconds: Int
    let statistics: ControlStatistics
    let logger: Logger

    /// One claimed row.
    struct Claimed: Sendable {
        var id: Int64
        var channelId: Int64
        var idempotencyKey: String
        var payload: String
        var attempts: Int
    }

    func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await loop(stopping)
        } onGracefulShutdown: {
            stopping.set()
            signal.notify()
        }
    }

    private func loop(_ stopping: StopFlag) async {
        var generator = SystemRandomNumberGenerator()
        await withTaskGroup(of: Bool.self) { group in
            var running = 0
            var wakerRunning = false
            while !(stopping.isSet && running == 0) {
                if !stopping.isSet && running < concurrency {
                    do {
                        for row in try await claim(limit: concurrency - running) {
                            running += 1
                            let seed = generator.next()
                            group.addTask {
                                var rowGenerator = SplitMix64(seed: seed)
                                await deliver(row, using: &rowGenerator)
                                return true
                            }
                        }
                    } catch {
                        logger.warning("outbox: cannot claim notifications: \(error)")
                    }
                }
                if !wakerRunning && !stopping.isSet {
                    wakerRunning = true
                    let poll = pollMilliseconds
                    group.addTask {
                        await signal.wait(timeout: .milliseconds(poll))
                        return false
                    }
                }
                guard let finishedDelivery = await group.next() else { break }
                if finishedDelivery { running -= 1 } else { wakerRunning = false }
            }
            group.cancelAll()
        }
    }

    /// Leases up to `limit` due rows to this instance.
    func claim(limit: Int) async throws -> [Claimed] {
        try await database.rows(
            """
            UPDATE notification_outbox o
            SET state = 'delivering', locked_by = \(instanceId),
                locked_until = now() + \(leaseSeconds) * interval '1 second', attempts = o.attempts + 1
            WHERE o.id IN (
                SELECT id FROM notification_outbox
                WHERE state IN ('pending', 'delivering') AND next_attempt_at <= now()
                  AND (locked_until IS NULL OR locked_until < now())
                ORDER BY next_attempt_at, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            RETURNING o.id, o.channel_id, o.idempotency_key, o.payload::text, o.attempts
            """,
            as: (Int64, Int64, String, String, Int).self
        ).map { Claimed(id: $0.0, channelId: $0.1, idempotencyKey: $0.2, payload: $0.3, attempts: $0.4) }
    }

    /// One attempt at one row, and its bookkeeping.
    func deliver(_ row: Claimed, using generator: inout some RandomNumberGenerator) async {
        do {
            guard let target = try await channels.deliveryTarget(channelId: row.channelId) else { return }
            let payload: NotificationPayload
            do {
                payload = try NotificationPayload.decode(Array(row.payload.utf8))
            } catch {
                try await fail(row, kind: "unknown", status: nil, reason: "the stored payload is unreadable: \(error)")
                return
            }
            switch target {
            case .failure(let refusal):
                try await fail(row, kind: "unknown", status: nil, reason: refusal.description)
            case .success(let channelTarget):
                let attempt = await notifier.deliver(payload, idempotencyKey: row.idempotencyKey, to: channelTarget)
                let kind = channelTarget.kind.rawValue
                switch retryPolicy.decision(after: attempt.outcome, attempt: row.attempts, using: &generator) {
                case .delivered:
                    try await delivered(row, kind: kind, status: attempt.status)
                case .retry(let seconds):
                    let reason: String
                    if case .retry(_, let text) = attempt.outcome { reason = text } else { reason = "retry" }
                    try await reschedule(row, kind: kind, status: attempt.status, afterSeconds: seconds, reason: reason)
                case .giveUp(let reason):
                    try await fail(row, kind: kind, status: attempt.status, reason: reason)
                }
            }
        } catch {
            // The database is away: the lease runs out and the row is attempted again.
            logger.warning("outbox: could not record the attempt on notification \(row.id): \(error)")
        }
    }

    private func delivered(_ row: Claimed, kind: String, status: Int?) async throws {
        statistics.recordDelivery(kind: kind, result: "delivered")
        try await database.transaction { transaction in
            try await transaction.execute(
                """
                UPDATE notification_outbox SET state = 'delivered', delivered_at = now(), locked_by = NULL,
                    locked_until = NULL, last_status = \(status), last_error = NULL
                WHERE id = \(row.id) AND locked_by = \(instanceId)
                """
            )
            try await transaction.execute(
                """
                UPDATE notification_channels SET last_delivered_at = now(), failing_since = NULL, last_error = NULL
                WHERE id = \(row.channelId)
                """
            )
        }
    }

    private func reschedule(
        _ row: Claimed, kind: String, status: Int?, afterSeconds: Double, reason: String
    ) async throws {
        statistics.recordDelivery(kind: kind, result: "retry")
        logger.info(
            "outbox: notification \(row.id) will be attempted again in \(Int(afterSeconds.rounded())) s: \(reason)",
            metadata: ["channel.id": "\(row.channelId)", "attempt": "\(row.attempts)"]
        )
        try await database.execute(
            """
            UPDATE notification_outbox SET state = 'pending', locked_by = NULL, locked_until = NULL,
                next_attempt_at = now() + \(afterSeconds) * interval '1 second', last_status = \(status),
                last_error = \(reason)
            WHERE id = \(row.id) AND locked_by = \(instanceId)
            """
        )
    }

    private func fail(_ row: Claimed, kind: String, status: Int?, reason: String) async throws {
        statistics.recordDelivery(kind: kind, result: "failed")
        logger.warning(
            "outbox: notification \(row.id) failed for good: \(reason)",
            metadata: ["channel.id": "\(row.channelId)", "attempt": "\(row.attempts)"]
        )
        try await database.transaction { transaction in
            try await transaction.execute(
                """
                UPDATE notification_outbox SET state = 'failed', locked_by = NULL, locked_until = NULL,
                    last_status = \(status), last_error = \(reason)
                WHERE id = \(row.id) AND locked_by = \(instanceId)
                """
            )
            try await transaction.execute(
                """
                UPDATE notification_channels SET failing_since = coalesce(failing_since, now()), last_error = \(reason)
                WHERE id = \(row.channelId)
                """
            )
        }
    }
}

/// Set once, read from any task.
private final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
