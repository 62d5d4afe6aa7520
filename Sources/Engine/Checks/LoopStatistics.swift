import Synchronization

/// Counters a loop updates and the metrics endpoint reads from another thread. Relaxed atomics:
/// each is an independent counter, and a scrape may see them a few checks apart.
final class LoopStatistics: Sendable {
    let checksStarted = Atomic<Int>(0)
    let checksFinished = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    let dnsCacheHits = Atomic<Int>(0)
    let dnsCacheMisses = Atomic<Int>(0)
    let dnsCoalesced = Atomic<Int>(0)
    let dnsCacheEntries = Atomic<Int>(0)
    let skippedBusy = Atomic<Int>(0)
    let monitors = Atomic<Int>(0)
    /// Checks waiting for a per-host permit now (`--max-per-host`), and how often one had to.
    let waitingForHost = Atomic<Int>(0)
    let hostWaits = Atomic<Int>(0)

    @inline(__always)
    static func add(_ counter: borrowing Atomic<Int>, _ value: Int = 1) {
        counter.wrappingAdd(value, ordering: .relaxed)
    }
}
