import NIOCore
import Synchronization

/// Requests and DNS queries counted on one event loop. Only ever touched on that loop, so the
/// per-request cost is a dictionary increment with no lock or atomic.
final class LoopCounters {
    var requests = 0
    var byPath: [String: Int] = [:]
    var dnsQueries = 0

    /// Distinct paths tracked per loop before the rest are lumped together; a client sending
    /// random paths must not grow the farm's memory without bound.
    static let maxDistinctPaths = 10_000
    static let overflowKey = "(other)"
    /// Longer paths are counted under their first bytes.
    static let maxPathLength = 200

    func countRequest(path: Substring) {
        requests += 1
        let key = path.utf8.count <= Self.maxPathLength ? String(path) : String(path.prefix(Self.maxPathLength))
        if let current = byPath[key] {
            byPath[key] = current + 1
        } else if byPath.count < Self.maxDistinctPaths {
            byPath[key] = 1
        } else {
            byPath[Self.overflowKey, default: 0] += 1
        }
    }

    func reset() {
        requests = 0
        byPath.removeAll(keepingCapacity: true)
        dnsQueries = 0
    }

    var snapshot: FarmStats { FarmStats(requests: requests, byPath: byPath, dnsQueries: dnsQueries) }
}

/// Requests in progress across every event loop, and the most at once since the last reset:
/// what a test of per-host politeness compares with the engine's limit. A request is in progress
/// from its head to the moment its response's last byte is handed to the socket (or the
/// connection ends), so the client cannot see the response end before the count drops.
final class ConcurrencyGauge: Sendable {
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    func begin() {
        let now = current.wrappingAdd(1, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.weakCompareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func end() {
        current.wrappingSubtract(1, ordering: .relaxed)
    }

    var inProgress: Int { current.load(ordering: .relaxed) }
    var maxInProgress: Int { peak.load(ordering: .relaxed) }

    /// The peak starts over from the requests in progress now.
    func reset() {
        peak.store(current.load(ordering: .relaxed), ordering: .relaxed)
    }
}

/// The farm's counters merged over every event loop: what `/__stats` returns and what the load
/// driver compares with the engine's results ("rows in the database == requests the farm saw").
struct FarmStats: Sendable, Equatable {
    /// Counted HTTP requests (everything but `/__stats` itself), counted when the request head
    /// arrives, so `/reset`, `/close` and timed-out requests are included.
    var requests: Int = 0
    var byPath: [String: Int] = [:]
    /// DNS queries received and understood (answered or, for `timeout-*`, deliberately not).
    var dnsQueries: Int = 0
    /// Counted requests in progress now, and the most at once since start or reset (all loops).
    var inProgress: Int = 0
    var maxInProgress: Int = 0

    mutating func merge(_ other: FarmStats) {
        requests += other.requests
        dnsQueries += other.dnsQueries
        byPath.merge(other.byPath, uniquingKeysWith: +)
    }

    /// `{"requests":N,"byPath":{...},"dnsQueries":N,"inProgress":N,"maxInProgress":N}`
    var json: String {
        let paths = byPath.sorted { $0.key < $1.key }.map { (JSONText.quoted($0.key), String($0.value)) }
        let pathsObject = "{" + paths.map { $0.0 + ":" + $0.1 }.joined(separator: ",") + "}"
        return JSONText.object([
            ("requests", String(requests)), ("byPath", pathsObject), ("dnsQueries", String(dnsQueries)),
            ("inProgress", String(inProgress)), ("maxInProgress", String(maxInProgress)),
        ])
    }
}

/// Every loop's counters, reachable from any thread: reads and resets hop onto each loop, so the
/// counting side never synchronises.
struct FarmCounters: Sendable {
    private let perLoop: [ObjectIdentifier: NIOLoopBoundBox<LoopCounters>]
    /// Shared by every loop (two relaxed atomics per request).
    let concurrency = ConcurrencyGauge()

    init(group: any EventLoopGroup) {
        var perLoop: [ObjectIdentifier: NIOLoopBoundBox<LoopCounters>] = [:]
        for loop in group.makeIterator() {
            // `sending`: the fresh counters move into the box, so creating it off the loop is safe.
            perLoop[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(LoopCounters(), eventLoop: loop)
        }
        self.perLoop = perLoop
    }

    /// The counters of `loop`; call on that loop only (the box checks it).
    func local(on loop: any EventLoop) -> LoopCounters {
        guard let bound = perLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop is not part of the farm's group")
        }
        return bound.value
    }

    func snapshot(on loop: any EventLoop) -> EventLoopFuture<FarmStats> {
        let parts = perLoop.values.map { bound in bound.eventLoop.submit { bound.value.snapshot } }
        var start = FarmStats()
        start.inProgress = concurrency.inProgress
        start.maxInProgress = concurrency.maxInProgress
        return EventLoopFuture.reduce(start, parts, on: loop) { total, part in
            var merged = total
            merged.merge(part)
            return merged
        }
    }

    func reset(on loop: any EventLoop) -> EventLoopFuture<Void> {
        let parts = perLoop.values.map { bound in bound.eventLoop.submit { bound.value.reset() } }
        concurrency.reset()
        return EventLoopFuture.andAllSucceed(parts, on: loop)
    }
}
