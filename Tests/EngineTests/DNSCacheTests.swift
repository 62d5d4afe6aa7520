import LookoutCore
import LookoutFFI
import Testing

@testable import LookoutEngine

private let second: Int64 = 1_000_000
private let exampleAddresses = DNSAnswer.addresses([.v4(0x5DB8_D822)])
private let nxdomain = DNSAnswer.failure(code: .dnsNXDomain, message: "example.invalid does not exist")

/// A cache holding `answer` for `name`, resolved at `now` with `ttl`.
private func cache(
    _ name: String = "example.com",
    answer: DNSAnswer = exampleAddresses,
    ttl: Int = 60,
    now: Int64 = 0,
    configuration: DNSCache.Configuration = .init()
) -> DNSCache {
    var cache = DNSCache(configuration: configuration)
    _ = cache.lookup(name, waiter: 1, now: now)
    _ = cache.complete(name, answer: answer, ttlSeconds: ttl, now: now)
    return cache
}

@Suite("DNSCache")
struct DNSCacheTests {
    @Test("defaults are the documented values")
    func defaults() {
        let configuration = DNSCache.Configuration()
        #expect(configuration.minimumTTL == 5)
        #expect(configuration.maximumTTL == 3_600)
        #expect(configuration.negativeTTL == 30)
        #expect(configuration.maximumEntries == 1_000_000)
    }

    @Test("the first lookup of a name asks the caller to query")
    func firstLookupQueries() {
        var cache = DNSCache()
        #expect(cache.lookup("example.com", waiter: 7, now: 0) == .query)
        #expect(cache.pendingQueries == 1)
        #expect(cache.entryCount == 0)
        #expect(cache.statistics == .init(hits: 0, negativeHits: 0, misses: 1, coalesced: 0))
    }

    @Test("answers from the cache before the TTL expires and queries again after")
    func hitBeforeExpiryMissAfter() {
        var cache = cache(ttl: 60, now: 10 * second)
        #expect(cache.entryCount == 1)
        #expect(cache.pendingQueries == 0)
        #expect(cache.lookup("example.com", waiter: 2, now: 10 * second) == .cached(exampleAddresses))
        #expect(cache.lookup("example.com", waiter: 3, now: 70 * second - 1) == .cached(exampleAddresses))
        #expect(cache.lookup("example.com", waiter: 4, now: 70 * second) == .query)  // expired exactly at now + TTL
        #expect(cache.entryCount == 0)
        #expect(cache.statistics == .init(hits: 2, negativeHits: 0, misses: 2, coalesced: 0))
    }

    @Test("names are cached independently")
    func namesAreIndependent() {
        var cache = cache("a.example")
        #expect(cache.lookup("b.example", waiter: 2, now: 0) == .query)
        #expect(cache.lookup("a.example", waiter: 3, now: 0) == .cached(exampleAddresses))
    }

    @Test(
        "positive TTLs are clamped to [minimumTTL, maximumTTL]",
        arguments: [
            (0, 5), (1, 5), (4, 5), (5, 5), (6, 6), (300, 300), (3_600, 3_600), (3_601, 3_600), (86_400, 3_600),
            (-10, 5),
        ]
    )
    func positiveTTLIsClamped(recordTTL: Int, effectiveTTL: Int) {
        var cache = cache(ttl: recordTTL)
        let expiry = Int64(effectiveTTL) * second
        #expect(cache.lookup("example.com", waiter: 2, now: expiry - 1) == .cached(exampleAddresses))
        #expect(cache.lookup("example.com", waiter: 3, now: expiry) == .query)
    }

    @Test("custom TTL bounds are honoured")
    func customTTLBounds() {
        let configuration = DNSCache.Configuration(
            minimumTTL: 30,
            maximumTTL: 120,
            negativeTTL: 10,
            maximumEntries: 100
        )
        var low = cache(ttl: 1, configuration: configuration)
        #expect(low.lookup("example.com", waiter: 2, now: 30 * second - 1) == .cached(exampleAddresses))
        #expect(low.lookup("example.com", waiter: 3, now: 30 * second) == .query)
        var high = cache(ttl: 100_000, configuration: configuration)
        #expect(high.lookup("example.com", waiter: 2, now: 120 * second - 1) == .cached(exampleAddresses))
        #expect(high.lookup("example.com", waiter: 3, now: 120 * second) == .query)
    }

    @Test("with minimumTTL 0 a zero-TTL answer is not cached at all")
    func zeroTTLNotCachedWhenFloorIsZero() {
        var cache = cache(ttl: 0, configuration: .init(minimumTTL: 0))
        #expect(cache.entryCount == 0)
        #expect(cache.lookup("example.com", waiter: 2, now: 0) == .query)
    }

    @Test(
        "failures are cached for negativeTTL, whatever the record TTL",
        arguments: [CheckErrorCode.dnsNXDomain, .dnsNoAddress, .dnsFailure]
    )
    func failuresAreCachedForNegativeTTL(code: CheckErrorCode) {
        let failure = DNSAnswer.failure(code: code, message: "failed")
        var cache = cache(answer: failure, ttl: 3_600)
        #expect(cache.lookup("example.com", waiter: 2, now: 30 * second - 1) == .cached(failure))
        #expect(cache.lookup("example.com", waiter: 3, now: 30 * second) == .query)
        #expect(cache.statistics.negativeHits == 1)
        #expect(cache.statistics.hits == 0)
    }

    @Test("negative caching follows a custom negativeTTL")
    func customNegativeTTL() {
        var cache = cache(answer: nxdomain, configuration: .init(negativeTTL: 120))
        #expect(cache.lookup("example.com", waiter: 2, now: 120 * second - 1) == .cached(nxdomain))
        #expect(cache.lookup("example.com", waiter: 3, now: 120 * second) == .query)
    }

    @Test("a negativeTTL of 0 disables negative caching")
    func zeroNegativeTTL() {
        var cache = cache(answer: nxdomain, configuration: .init(negativeTTL: 0))
        #expect(cache.entryCount == 0)
        #expect(cache.lookup("example.com", waiter: 2, now: 0) == .query)
    }

    @Test(
        "a DNS timeout is remembered for at most 5 s (it says nothing about the name)",
        arguments: [(30, 5), (5, 5), (3, 3), (600, 5)]
    )
    func timeoutsAreCachedBriefly(negativeTTL: Int, effectiveTTL: Int) {
        let timeout = DNSAnswer.failure(code: .dnsTimeout, message: "no answer within 2 s")
        var cache = cache(answer: timeout, configuration: .init(negativeTTL: negativeTTL))
        let expiry = Int64(effectiveTTL) * second
        #expect(cache.lookup("example.com", waiter: 2, now: expiry - 1) == .cached(timeout))
        #expect(cache.lookup("example.com", waiter: 3, now: expiry) == .query)
    }

    @Test("concurrent lookups of a pending name join the query in flight")
    func concurrentLookupsJoin() {
        var cache = DNSCache()
        #expect(cache.lookup("example.com", waiter: 1, now: 0) == .query)
        #expect(cache.lookup("example.com", waiter: 2, now: 1) == .joined)
        #expect(cache.lookup("example.com", waiter: 3, now: 2) == .joined)
        #expect(cache.lookup("other.example", waiter: 4, now: 2) == .query)
        #expect(cache.pendingQueries == 2)
        #expect(cache.statistics == .init(hits: 0, negativeHits: 0, misses: 2, coalesced: 2))
    }

    @Test("complete returns every waiter in arrival order and ends the pending query")
    func completeReturnsAllWaitersInOrder() {
        var cache = DNSCache()
        for waiter: Int32 in [5, 3, 9, 1] { _ = cache.lookup("example.com", waiter: waiter, now: 0) }
        #expect(cache.complete("example.com", answer: exampleAddresses, ttlSeconds: 60, now: 0) == [5, 3, 9, 1])
        #expect(cache.pendingQueries == 0)
        #expect(cache.lookup("example.com", waiter: 6, now: 1) == .cached(exampleAddresses))
    }

    @Test("a failed query also answers every waiter")
    func failedQueryAnswersWaiters() {
        var cache = DNSCache()
        _ = cache.lookup("example.invalid", waiter: 1, now: 0)
        _ = cache.lookup("example.invalid", waiter: 2, now: 0)
        #expect(cache.complete("example.invalid", answer: nxdomain, ttlSeconds: 0, now: 0) == [1, 2])
        #expect(cache.lookup("example.invalid", waiter: 3, now: 0) == .cached(nxdomain))
    }

    @Test("completing a name nobody waits for returns no waiters but still caches")
    func completeWithoutWaiters() {
        var cache = DNSCache()
        #expect(cache.complete("example.com", answer: exampleAddresses, ttlSeconds: 60, now: 0) == [])
        #expect(cache.lookup("example.com", waiter: 1, now: 0) == .cached(exampleAddresses))
    }

    @Test("removeWaiter forgets one waiter; the query goes on for the others")
    func removeWaiterForgetsOneWaiter() {
        var cache = DNSCache()
        for waiter: Int32 in [1, 2, 3] { _ = cache.lookup("example.com", waiter: waiter, now: 0) }
        cache.removeWaiter(2, of: "example.com")
        #expect(cache.pendingQueries == 1)
        #expect(cache.complete("example.com", answer: exampleAddresses, ttlSeconds: 60, now: 0) == [1, 3])
    }

    @Test("when every waiter gave up the query is still pending: a new lookup joins it")
    func removingEveryWaiterKeepsQueryPending() {
        var cache = DNSCache()
        _ = cache.lookup("example.com", waiter: 1, now: 0)
        cache.removeWaiter(1, of: "example.com")
        cache.removeWaiter(42, of: "unknown.example")  // no effect
        #expect(cache.pendingQueries == 1)
        #expect(cache.lookup("example.com", waiter: 2, now: 1) == .joined)
        #expect(cache.complete("example.com", answer: exampleAddresses, ttlSeconds: 60, now: 2) == [2])
    }

    @Test("an expired entry is replaced by a fresh query whose answer is cached anew")
    func expiredEntryIsRefreshed() {
        let newAnswer = DNSAnswer.addresses([.v4(0x0101_0101), .v6(high: 0x2606_4700_0000_0000, low: 0x1111)])
        var cache = cache(ttl: 10)
        #expect(cache.lookup("example.com", waiter: 2, now: 10 * second) == .query)
        #expect(cache.lookup("example.com", waiter: 3, now: 10 * second) == .joined)
        #expect(cache.complete("example.com", answer: newAnswer, ttlSeconds: 10, now: 11 * second) == [2, 3])
        #expect(cache.lookup("example.com", waiter: 4, now: 20 * second) == .cached(newAnswer))
        #expect(cache.lookup("example.com", waiter: 5, now: 21 * second) == .query)
    }

    @Test("statistics count hits, negative hits, misses and coalesced lookups separately")
    func statisticsCounters() {
        var cache = DNSCache()
        _ = cache.lookup("a.example", waiter: 1, now: 0)  // miss
        _ = cache.lookup("a.example", waiter: 2, now: 0)  // coalesced
        _ = cache.complete("a.example", answer: exampleAddresses, ttlSeconds: 60, now: 0)
        _ = cache.lookup("a.example", waiter: 3, now: 1)  // hit
        _ = cache.lookup("a.example", waiter: 4, now: 2)  // hit
        _ = cache.lookup("b.example", waiter: 5, now: 0)  // miss
        _ = cache.complete("b.example", answer: nxdomain, ttlSeconds: 60, now: 0)
        _ = cache.lookup("b.example", waiter: 6, now: 1)  // negative hit
        #expect(cache.statistics == .init(hits: 2, negativeHits: 1, misses: 2, coalesced: 1))
    }

    @Test("at maximumEntries expired entries are swept before a new one is stored")
    func sweepsExpiredEntriesAtCapacity() {
        var cache = DNSCache(configuration: .init(maximumEntries: 3))
        _ = cache.complete("short.example", answer: exampleAddresses, ttlSeconds: 5, now: 0)
        _ = cache.complete("long1.example", answer: exampleAddresses, ttlSeconds: 600, now: 0)
        _ = cache.complete("long2.example", answer: exampleAddresses, ttlSeconds: 600, now: 0)
        #expect(cache.entryCount == 3)
        _ = cache.complete("new.example", answer: exampleAddresses, ttlSeconds: 600, now: 10 * second)
        #expect(cache.entryCount == 3)
        #expect(cache.lookup("long1.example", waiter: 1, now: 10 * second) == .cached(exampleAddresses))
        #expect(cache.lookup("new.example", waiter: 2, now: 10 * second) == .cached(exampleAddresses))
        #expect(cache.lookup("short.example", waiter: 3, now: 10 * second) == .query)
    }

    @Test("at maximumEntries with nothing expired the cache starts over rather than grow")
    func clearsWhenFullOfLiveEntries() {
        var cache = DNSCache(configuration: .init(maximumEntries: 2))
        _ = cache.complete("a.example", answer: exampleAddresses, ttlSeconds: 600, now: 0)
        _ = cache.complete("b.example", answer: exampleAddresses, ttlSeconds: 600, now: 0)
        _ = cache.complete("c.example", answer: exampleAddresses, ttlSeconds: 600, now: 0)
        #expect(cache.entryCount == 1)
        #expect(cache.lookup("c.example", waiter: 1, now: 1) == .cached(exampleAddresses))
        #expect(cache.lookup("a.example", waiter: 2, now: 1) == .query)
    }
}
