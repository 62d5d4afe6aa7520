import LookoutCore
import LookoutFFI

/// The engine's DNS cache: TTL-respecting positive entries, negative entries for failures, and
/// coalescing of concurrent lookups of one name (one query in flight per name, every check
/// waiting for it is answered together). Pure: the caller passes the time and does the I/O.
struct DNSCache {
    struct Configuration: Sendable, Equatable {
        /// Floor for positive TTLs, seconds. Default 5: a TTL of 0 would otherwise mean a query
        /// per check. (Operators who want every check to resolve afresh set it to 0.)
        var minimumTTL: Int = 5
        /// Ceiling for positive TTLs, seconds. Default 3600.
        var maximumTTL: Int = 3600
        /// How long a failed lookup (NXDOMAIN, no address, timeout) is remembered, seconds. Default 30.
        var negativeTTL: Int = 30
        /// Entries kept before expired ones are swept. Default 1,000,000.
        var maximumEntries: Int = 1_000_000
    }

    enum Decision: Equatable {
        /// Answer from the cache.
        case cached(DNSAnswer)
        /// A query for this name is already in flight; the waiter was queued.
        case joined
        /// No entry: the caller must start a query (the waiter was queued).
        case query
    }

    struct Statistics: Equatable {
        var hits = 0
        var negativeHits = 0
        var misses = 0
        var coalesced = 0
    }

    private struct Entry {
        var answer: DNSAnswer
        var expiresAt: Int64
    }

    let configuration: Configuration
    private var entries: [String: Entry] = [:]
    private var waiters: [String: [Int32]] = [:]
    private(set) var statistics = Statistics()

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    var entryCount: Int { entries.count }
    var pendingQueries: Int { waiters.count }

    /// Looks `name` up for `waiter` at `now` (microseconds).
    mutating func lookup(_ name: String, waiter: Int32, now: Int64) -> Decision {
        if let entry = entries[name] {
            if entry.expiresAt > now {
                if case .failure = entry.answer { statistics.negativeHits += 1 } else { statistics.hits += 1 }
                return .cached(entry.answer)
            }
            entries[name] = nil
        }
        if waiters[name] != nil {
            waiters[name]!.append(waiter)
            statistics.coalesced += 1
            return .joined
        }
        statistics.misses += 1
        waiters[name] = [waiter]
        return .query
    }

    /// Records the answer to a query and returns everyone who waited for it.
    /// `ttlSeconds` is the record's TTL (ignored for failures, which use the negative TTL).
    mutating func complete(_ name: String, answer: DNSAnswer, ttlSeconds: Int, now: Int64) -> [Int32] {
        let ttl: Int
        switch answer {
        case .addresses:
            ttl = min(max(ttlSeconds, configuration.minimumTTL), configuration.maximumTTL)
        case .failure(let code, _):
            // A timeout says nothing about the name; remember it only briefly.
            ttl = code == .dnsTimeout ? min(configuration.negativeTTL, 5) : configuration.negativeTTL
        }
        if ttl > 0 {
            if entries.count >= configuration.maximumEntries { sweep(now: now) }
            entries[name] = Entry(answer: answer, expiresAt: now + Int64(ttl) * 1_000_000)
        }
        return waiters.removeValue(forKey: name) ?? []
    }

    /// Forgets a waiter that gave up (its check was cancelled); the query goes on for the others.
    mutating func removeWaiter(_ waiter: Int32, of name: String) {
        waiters[name]?.removeAll { $0 == waiter }
    }

    private mutating func sweep(now: Int64) {
        entries = entries.filter { $0.value.expiresAt > now }
        if entries.count >= configuration.maximumEntries { entries.removeAll(keepingCapacity: true) }
    }
}
