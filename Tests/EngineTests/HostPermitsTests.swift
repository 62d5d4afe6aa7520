import Dispatch
import LookoutCore
import Synchronization
import Testing

@testable import LookoutEngine

@Suite("Per-host permits")
struct HostPermitsTests {
    private let farm = IPAddress.v4(0x7F00_0101)

    @Test("at most `limit` permits per address; a released one is taken again")
    func limitPerAddress() throws {
        let permits = HostPermits(limit: 3)
        let taken = (0..<3).compactMap { _ in permits.acquire(farm) }
        #expect(taken.count == 3)
        #expect(permits.acquire(farm) == nil)
        #expect(permits.inFlight(to: farm) == 3)
        permits.release(taken[0])
        let again = try #require(permits.acquire(farm))
        #expect(permits.acquire(farm) == nil)
        for permit in taken.dropFirst() + [again] { permits.release(permit) }
        #expect(permits.inFlight(to: farm) == 0)
    }

    @Test("another address has its own permits (unless it shares the bucket)")
    func addressesAreIndependent() throws {
        let permits = HostPermits(limit: 1)
        let held = try #require(permits.acquire(farm))
        // Some address in another bucket: the hash is seeded per process.
        let other = try #require(
            (2..<1000).map { IPAddress.v4(0x7F00_0100 + UInt32($0)) }.first {
                permits.bucket(of: $0) != permits.bucket(of: farm)
            })
        let otherPermit = try #require(permits.acquire(other))
        #expect(permits.acquire(farm) == nil)
        permits.release(held)
        permits.release(otherPermit)
    }

    @Test("a collision makes the cap stricter, never looser")
    func collisionSharesTheLimit() {
        let permits = HostPermits(limit: 2, bucketCount: 1)
        let second = IPAddress.v6(high: 0x2001_0db8_0000_0000, low: 1)
        #expect(permits.acquire(farm) != nil)
        #expect(permits.acquire(second) != nil)
        #expect(permits.acquire(farm) == nil)
        #expect(permits.acquire(second) == nil)
    }

    @Test("threads racing for permits never exceed the limit")
    func concurrentAcquireRelease() {
        let permits = HostPermits(limit: 4)
        let holders = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let address = farm
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<20_000 {
                guard let permit = permits.acquire(address) else { continue }
                let now = holders.wrappingAdd(1, ordering: .relaxed).newValue
                _ = peak.max(now, ordering: .relaxed)
                holders.wrappingSubtract(1, ordering: .relaxed)
                permits.release(permit)
            }
        }
        #expect(peak.load(ordering: .relaxed) <= 4)
        #expect(peak.load(ordering: .relaxed) >= 1)
        #expect(permits.inFlight(to: address) == 0)
    }
}
