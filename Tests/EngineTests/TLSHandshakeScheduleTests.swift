import LookoutCore
import LookoutFFI
import Testing

@testable import LookoutEngine

@Suite("TLSHandshakeSchedule")
struct TLSHandshakeScheduleTests {
    /// Stores are numbered in the order they are made.
    private struct Counter {
        var made = 0
        mutating func make() -> Int {
            made += 1
            return made
        }
    }

    private let second: Int64 = 1_000_000

    @Test("the first check of a monitor is a full handshake, later ones resume until the period ends")
    func fullThenResumeThenFullAgain() {
        var schedule = TLSHandshakeSchedule<Int>()
        var counter = Counter()
        func next(_ id: String, at seconds: Double, every: Int = 10) -> (Int, TLSHandshakeSchedule<Int>.Handshake) {
            let result = schedule.store(
                for: id, fullHandshakeEverySeconds: every, now: Int64(seconds * 1_000_000),
                makeStore: { counter.make() })
            return (result.store, result.handshake)
        }
        #expect(next("a", at: 0) == (1, .full))
        #expect(next("a", at: 1) == (1, .resume))
        #expect(next("a", at: 9.999_999) == (1, .resume))
        // Exactly one period after the last full handshake: a new, empty store.
        #expect(next("a", at: 10) == (2, .full))
        #expect(next("a", at: 15) == (2, .resume))
        #expect(next("a", at: 20) == (3, .full))
        // Another monitor has its own store and period.
        #expect(next("b", at: 20, every: 1) == (4, .full))
        #expect(next("b", at: 20.5, every: 1) == (4, .resume))
        #expect(next("b", at: 21, every: 1) == (5, .full))
        #expect(next("a", at: 21) == (3, .resume))
    }

    @Test("a changed tlsFullHandshakeSeconds starts the monitor over")
    func changedPeriodStartsOver() {
        var schedule = TLSHandshakeSchedule<Int>()
        var counter = Counter()
        #expect(schedule.store(for: "a", fullHandshakeEverySeconds: 3600, now: 0) { counter.make() }.handshake == .full)
        #expect(
            schedule.store(for: "a", fullHandshakeEverySeconds: 3600, now: second) { counter.make() }.handshake
                == .resume)
        #expect(
            schedule.store(for: "a", fullHandshakeEverySeconds: 60, now: 2 * second) { counter.make() }.handshake
                == .full)
        #expect(counter.made == 2)
    }

    @Test("entries whose full handshake is due are swept once the table has doubled")
    func sweepsDueEntries() {
        var schedule = TLSHandshakeSchedule<Int>(minimumSweepCount: 4)
        var counter = Counter()
        // Three monitors at t = 0 (period 1 s); none is swept: the table is below 4.
        for id in ["a", "b", "c"] {
            _ = schedule.store(for: id, fullHandshakeEverySeconds: 1, now: 0) { counter.make() }
        }
        #expect(schedule.count == 3)
        // The fourth, 2 s later, reaches the threshold: a, b and c are due and dropped.
        _ = schedule.store(for: "d", fullHandshakeEverySeconds: 1, now: 2 * second) { counter.make() }
        #expect(schedule.count == 1)
        // d is not due yet, so it keeps its store.
        #expect(
            schedule.store(for: "d", fullHandshakeEverySeconds: 1, now: 2 * second + 1) { counter.make() }.store == 4)
        // Monitors that are not due survive a sweep.
        var busy = TLSHandshakeSchedule<Int>(minimumSweepCount: 2)
        _ = busy.store(for: "x", fullHandshakeEverySeconds: 60, now: 0) { 1 }
        _ = busy.store(for: "y", fullHandshakeEverySeconds: 60, now: second) { 2 }
        #expect(busy.count == 2)
        #expect(busy.store(for: "x", fullHandshakeEverySeconds: 60, now: 2 * second) { 3 }.store == 1)
    }

    @Test("a forgotten monitor holds no store, and starts over with a full handshake if it comes back")
    func forgetDropsTheEntry() {
        var schedule = TLSHandshakeSchedule<Int>()
        var counter = Counter()
        _ = schedule.store(for: "gone", fullHandshakeEverySeconds: 3600, now: 0) { counter.make() }
        _ = schedule.store(for: "kept", fullHandshakeEverySeconds: 3600, now: 0) { counter.make() }
        schedule.forget("gone")
        schedule.forget("never-seen")
        #expect(schedule.count == 1)
        // Well within its period: without `forget` this would resume store 1.
        let back = schedule.store(for: "gone", fullHandshakeEverySeconds: 3600, now: second) { counter.make() }
        #expect(back.handshake == .full && back.store == 3)
        #expect(
            schedule.store(for: "kept", fullHandshakeEverySeconds: 3600, now: second) { counter.make() } == (2, .resume)
        )
    }
}

/// A loop's TLS session shares follow its monitors: cluster mode removes, hands over and edits
/// monitors all the time, and a share of a monitor that left must not stay behind.
@Suite("TLSSessionReuse")
struct TLSSessionReuseTests {
    private func prepared(
        _ id: String, url: String = "https://example.com/", reuse: Bool = true
    ) throws
        -> PreparedMonitor
    {
        try PreparedMonitor(Monitor(id: id, url: url, tlsSessionReuse: reuse))
    }

    @Test("a monitor's share is made at its first transfer and dropped when the loop forgets it")
    func sharesFollowTheMonitors() throws {
        CurlGlobal.initialize()
        let reuse = TLSSessionReuse()
        let easy = CurlEasy(
            policy: TargetPolicy(allowAll: true), caBundlePath: nil, userAgent: "test", restingShare: reuse.restingShare
        )
        for id in ["a", "b", "c"] { reuse.prepare(easy, for: try prepared(id), now: 0) }
        reuse.prepare(easy, for: try prepared("plain", reuse: false), now: 0)
        #expect(reuse.monitorCount == 3, "one share per monitor that resumes, none for the others")
        reuse.forget(monitorId: "b")
        reuse.forget(monitorId: "c")
        #expect(reuse.monitorCount == 1)
        reuse.forget(monitorId: "a")
        #expect(reuse.monitorCount == 0, "every monitor left: no share is kept")
    }
}
