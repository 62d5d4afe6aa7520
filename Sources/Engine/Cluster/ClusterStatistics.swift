import Synchronization

/// Counters and gauges of the cluster coordinator, for the metrics endpoint. Written by the
/// coordinator thread (and by producers for the drop counters), read by any thread. Relaxed
/// atomics: each value is independent.
final class ClusterStatistics: Sendable {
    /// 1 while the command connection to Redis is ready.
    let connected = Atomic<Int>(0)
    /// Live engines in our view, ourselves included.
    let members = Atomic<Int>(0)
    /// Shards this engine owns.
    let ownedShards = Atomic<Int>(0)
    /// Monotonic microseconds of the last lease renewal (0: never). Lease age = now - this.
    let leaseRenewedAtMicros = Atomic<Int64>(0)
    /// Registrations sent (the first, and every re-registration).
    let registrations = Atomic<Int>(0)
    /// Re-registrations after a reconnect or a lost lease.
    let reRegistrations = Atomic<Int>(0)
    /// Times the command connection became ready after the first.
    let reconnects = Atomic<Int>(0)
    /// Heartbeats that got no positive reply.
    let heartbeatFailures = Atomic<Int>(0)
    /// Results published on the live channel, and the messages that carried them.
    let liveResultsPublished = Atomic<Int>(0)
    let liveMessagesPublished = Atomic<Int>(0)
    /// Results not published: Redis away, too many publishes in flight, or the hand-off queue full.
    let liveResultsDropped = Atomic<Int>(0)
    /// State changes acknowledged by Redis (`XADD`).
    let stateEventsWritten = Atomic<Int>(0)
    /// State changes waiting for Redis.
    let stateEventsPending = Atomic<Int>(0)
    /// State changes dropped because the outbox was full.
    let stateEventsDropped = Atomic<Int>(0)
    /// Monitor change notifications received, and those that were not valid.
    let monitorChangesReceived = Atomic<Int>(0)
    let monitorChangesInvalid = Atomic<Int>(0)
    /// "Check now" requests received for shards this engine owns (requests for other shards are
    /// not counted: every engine receives every request).
    let checkRequestsReceived = Atomic<Int>(0)
    /// Check request messages that were not valid.
    let checkRequestsInvalid = Atomic<Int>(0)

    /// Seconds since our lease was renewed, or nil if it never was.
    func leaseAgeSeconds(nowMicros: Int64) -> Double? {
        let renewed = leaseRenewedAtMicros.load(ordering: .relaxed)
        return renewed == 0 ? nil : Double(nowMicros - renewed) / 1_000_000
    }

    @inline(__always)
    static func add(_ counter: borrowing Atomic<Int>, _ value: Int = 1) {
        counter.wrappingAdd(value, ordering: .relaxed)
    }
}
