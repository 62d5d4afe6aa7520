import LookoutCore
import Synchronization

/// Per-destination politeness (`--max-per-host`): how many checks are in flight to one address,
/// counted across every loop of the process.
///
/// A fixed power-of-two table of atomic counters indexed by a hash of the address, shared by the
/// loops; no lock, no allocation per check. Two addresses that hash to the same bucket share its
/// limit: a collision only makes the cap stricter for both, never looser. With 4,096 buckets
/// that needs thousands of busy addresses at once to matter.
///
/// The hash is SplitMix64's finaliser over the address and a random per-process seed: every
/// loop of the process sees the same one, an address cannot be chosen to collide on purpose
/// across runs, and it costs a few multiplications per check (Swift's `Hasher` cost ~500
/// instructions).
final class HostPermits: Sendable {
    /// A permit's handle: the bucket it was taken from, to give it back.
    struct Permit: Sendable, Equatable {
        let bucket: Int
    }

    /// Checks in flight to one address at most (at least 1).
    let limit: Int
    /// The loops that share the table: with more than one, a permit one loop gives back may be
    /// what another loop's waiting check needs (the loops retry their queues periodically).
    let loopCount: Int
    private let counts: [Counter]
    private let seed = UInt64.random(in: 0 ... .max)

    /// Buckets in the table (a power of two); `bucket(of:)` is below it.
    var bucketCount: Int { counts.count }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// `bucketCount` is rounded up to a power of two.
    init(limit: Int, loopCount: Int = 1, bucketCount: Int = 4096) {
        precondition(limit >= 1, "the per-host limit is validated by the command line")
        self.limit = limit
        self.loopCount = loopCount
        var size = 1
        while size < bucketCount { size <<= 1 }
        self.counts = (0..<size).map { _ in Counter() }
    }

    func bucket(of address: IPAddress) -> Int {
        let mixed: UInt64
        switch address {
        case .v4(let value): mixed = SplitMix64.mix(UInt64(value) ^ seed)
        case .v6(let high, let low): mixed = SplitMix64.mix(SplitMix64.mix(high ^ seed) ^ low)
        }
        return Int(truncatingIfNeeded: mixed) & (counts.count - 1)
    }

    /// A permit for one check to `address`, or nil when `limit` checks to it (or to an address
    /// sharing its bucket) are in flight.
    func acquire(_ address: IPAddress) -> Permit? {
        acquire(bucket: bucket(of: address))
    }

    /// A permit from `bucket` (see `bucket(of:)`), or nil when `limit` are taken.
    func acquire(bucket: Int) -> Permit? {
        let counter = counts[bucket]
        var current = counter.value.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = counter.value.weakCompareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return Permit(bucket: bucket) }
            current = original
        }
        return nil
    }

    /// Gives back a permit `acquire` returned (exactly once).
    func release(_ permit: Permit) {
        counts[permit.bucket].value.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Checks in flight to `address`'s bucket (for tests and diagnostics).
    func inFlight(to address: IPAddress) -> Int {
        counts[bucket(of: address)].value.load(ordering: .relaxed)
    }
}
