import LookoutFFI
import Testing

/// `LoopTimer` on a real libev loop, run on the test's own thread. The loop returns from `run()`
/// when nothing is left to watch, or when a handler breaks it; a guard timer breaks it after
/// `guardSeconds` so that a broken timer fails the test instead of hanging it.
@Suite("LoopTimer (one-shot libev timer)")
struct LoopTimerTests {
    private static let guardSeconds = 5.0

    @Test("fires once and is no longer scheduled inside its own handler")
    func firesOnce() throws {
        let loop = try EventLoop()
        var fired = 0
        var scheduledInHandler: Bool?
        var timer: LoopTimer!
        timer = LoopTimer(loop: loop) {
            fired += 1
            // A timer that libev re-armed as a repeating one would still be scheduled here.
            scheduledInHandler = timer.isScheduled
            loop.breakLoop()
        }
        let guardTimer = LoopTimer(loop: loop) { loop.breakLoop() }
        guardTimer.schedule(after: Self.guardSeconds)
        timer.schedule(after: 0.001)
        #expect(timer.isScheduled)
        loop.run()
        #expect(fired == 1)
        #expect(scheduledInHandler == false)
        #expect(!timer.isScheduled)
    }

    /// Schedules one timer with each of `delays` in turn (each re-arming the running timer) and
    /// returns how long after the first schedule it fired, by the loop's clock.
    private func secondsUntilFired(schedulingInTurn delays: [Double]) throws -> Double {
        let loop = try EventLoop()
        var firedAt: Double?
        let timer = LoopTimer(loop: loop) {
            firedAt = loop.now
            loop.breakLoop()
        }
        let guardTimer = LoopTimer(loop: loop) { loop.breakLoop() }
        guardTimer.schedule(after: Self.guardSeconds)
        let start = loop.now
        for delay in delays { timer.schedule(after: delay) }
        loop.run()
        let fired = try #require(firedAt, "the re-armed timer did not fire before the guard")
        #expect(!timer.isScheduled)
        return fired - start
    }

    @Test("re-arming a running timer to an earlier time fires it at the earlier time")
    func rearmEarlier() throws {
        // Had the first delay stuck, the guard would end the loop first.
        let seconds = try secondsUntilFired(schedulingInTurn: [Self.guardSeconds * 2, 0.01])
        #expect(seconds >= 0.01 - 0.001)
    }

    @Test("re-arming a running timer to a later time does not fire it at the earlier time")
    func rearmLater() throws {
        let seconds = try secondsUntilFired(schedulingInTurn: [0.001, 0.1])
        // libev's clock may round a little; the first delay would show up as about 0.001.
        #expect(seconds >= 0.1 - 0.002)
    }

    @Test("a zero delay fires on the next iteration, also when the timer was running")
    func zeroDelayWhileRunning() throws {
        let loop = try EventLoop()
        var fired = 0
        let timer = LoopTimer(loop: loop) {
            fired += 1
            loop.breakLoop()
        }
        let guardTimer = LoopTimer(loop: loop) { loop.breakLoop() }
        guardTimer.schedule(after: Self.guardSeconds)
        timer.schedule(after: Self.guardSeconds * 2)
        timer.schedule(after: 0)
        loop.run()
        #expect(fired == 1)
        #expect(!timer.isScheduled)
    }

    @Test("a cancelled timer does not fire")
    func cancelled() throws {
        let loop = try EventLoop()
        var fired = 0
        let timer = LoopTimer(loop: loop) { fired += 1 }
        timer.schedule(after: 0.001)
        timer.cancel()
        #expect(!timer.isScheduled)
        // Nothing is active, so run() returns at once; had the cancel failed, the timer would
        // fire first.
        loop.run()
        #expect(fired == 0)
    }

    @Test("a timer re-armed from its own handler fires again, then stops")
    func rearmFromHandler() throws {
        let loop = try EventLoop()
        var fired = 0
        var timer: LoopTimer!
        timer = LoopTimer(loop: loop) {
            fired += 1
            if fired < 3 {
                timer.schedule(after: 0.001)
            } else {
                loop.breakLoop()
            }
        }
        let guardTimer = LoopTimer(loop: loop) { loop.breakLoop() }
        guardTimer.schedule(after: Self.guardSeconds)
        timer.schedule(after: 0.001)
        loop.run()
        #expect(fired == 3)
        #expect(!timer.isScheduled)
    }
}
