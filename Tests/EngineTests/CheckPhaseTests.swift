import Foundation
import Testing

@testable import LookoutEngine

@Suite("CheckPhase (where in its interval a monitor runs)")
struct CheckPhaseTests {
    static let second: Int64 = 1_000_000

    @Test(
        "stableHash is 64-bit FNV-1a of the UTF-8 bytes (published test vectors)",
        arguments: [
            ("", UInt64(0xcbf2_9ce4_8422_2325)),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("abc", 0xe71f_a219_0541_574b),
            ("foobar", 0x8594_4171_f739_67e8),
        ]
    )
    func stableHashIsFNV1a(text: String, hash: UInt64) {
        #expect(CheckPhase.stableHash(text) == hash)
    }

    @Test("the offset is pinned for a known id, so every engine and every restart agree")
    func offsetIsPinned() {
        #expect(CheckPhase.offset(id: "abc", intervalMicros: 10 * Self.second) == 5_433_931)
        #expect(CheckPhase.offset(id: "abc", intervalMicros: 60 * Self.second) == 25_433_931)
        #expect(
            CheckPhase.offset(id: "abc", intervalMicros: 10 * Self.second)
                == CheckPhase.offset(id: "abc", intervalMicros: 10 * Self.second)
        )
    }

    @Test("the offset is always in [0, interval)")
    func offsetIsWithinInterval() {
        var random = SeededGenerator(seed: 11)
        for index in 0..<5_000 {
            let interval = Int64.random(in: 1...86_400 * Self.second, using: &random)
            let offset = CheckPhase.offset(id: "monitor-\(index)", intervalMicros: interval)
            #expect(offset >= 0 && offset < interval, "offset \(offset) for interval \(interval)")
        }
        #expect(CheckPhase.offset(id: "x", intervalMicros: 1) == 0)
        #expect(CheckPhase.offset(id: "x", intervalMicros: 0) == 0)  // guarded, no division by zero
    }

    @Test(
        "10,000 monitors with one interval spread evenly: every tenth of the interval holds 8-12% of them",
        arguments: ["monitor-%", "%", "api-%.example.com"]
    )
    func monitorsSpreadEvenly(pattern: String) {
        let interval = 10 * Self.second
        var buckets = Array(repeating: 0, count: 10)
        for index in 0..<10_000 {
            let id = pattern.replacingOccurrences(of: "%", with: String(index))
            buckets[Int(CheckPhase.offset(id: id, intervalMicros: interval) / Self.second)] += 1
        }
        for (bucket, count) in buckets.enumerated() {
            #expect((800...1_200).contains(count), "second \(bucket) holds \(count) of 10,000")
        }
    }

    @Test("firstDue is the next grid point k*interval+offset of the wall clock, never in the past")
    func firstDueIsOnTheGridAndNotInThePast() {
        var random = SeededGenerator(seed: 12)
        for _ in 0..<10_000 {
            let interval = Int64.random(in: 1...3_600 * Self.second, using: &random)
            let offset = Int64.random(in: 0..<interval, using: &random)
            let wallNow = Int64.random(in: 1_600_000_000 * Self.second...2_000_000_000 * Self.second, using: &random)
            let monotonicNow = Int64.random(in: 0...1_000_000 * Self.second, using: &random)
            let due = CheckPhase.firstDue(
                offset: offset,
                intervalMicros: interval,
                wallNow: wallNow,
                monotonicNow: monotonicNow
            )
            let dueWall = wallNow + (due - monotonicNow)
            #expect(dueWall % interval == offset, "not on the grid")
            #expect(due >= monotonicNow, "in the past")
            #expect(due < monotonicNow + interval, "a whole interval or more away")
        }
    }

    @Test("firstDue examples: a slot later in this interval, a slot already passed, exactly now")
    func firstDueExamples() {
        let minute = 60 * Self.second
        // 20 s into a minute: 1_699_999_980 = 60 * 28_333_333.
        let wallNow = 1_699_999_980 * Self.second + 20 * Self.second
        // Offset 30 s: 10 s from now.
        #expect(
            CheckPhase.firstDue(offset: 30 * Self.second, intervalMicros: minute, wallNow: wallNow, monotonicNow: 500)
                == 500 + 10 * Self.second
        )
        // Offset 5 s: passed 15 s ago, so the next minute's slot, 45 s from now.
        #expect(
            CheckPhase.firstDue(offset: 5 * Self.second, intervalMicros: minute, wallNow: wallNow, monotonicNow: 500)
                == 500 + 45 * Self.second
        )
        // Offset 20 s: due right now.
        #expect(
            CheckPhase.firstDue(offset: 20 * Self.second, intervalMicros: minute, wallNow: wallNow, monotonicNow: 500)
                == 500
        )
    }

    @Test("nextDue is one interval later when the engine keeps up")
    func nextDueWhenOnTime() {
        let interval = 10 * Self.second
        #expect(
            CheckPhase.nextDue(after: 100 * Self.second, intervalMicros: interval, now: 100 * Self.second) == 110
                * Self.second
        )
        // Started late, but by less than an interval: the next slot is still the next grid point.
        #expect(
            CheckPhase.nextDue(after: 100 * Self.second, intervalMicros: interval, now: 105 * Self.second) == 110
                * Self.second
        )
        // Popped early (clock read before the due time): still one interval later.
        #expect(
            CheckPhase.nextDue(after: 100 * Self.second, intervalMicros: interval, now: 90 * Self.second) == 110
                * Self.second
        )
    }

    @Test("nextDue skips missed slots when far behind, stays on the grid and runs at most one catch-up")
    func nextDueSkipsMissedSlots() {
        let interval = 10 * Self.second
        // 95 s behind: slots 110...190 are missed; the latest one not after now (190) is next.
        #expect(
            CheckPhase.nextDue(after: 100 * Self.second, intervalMicros: interval, now: 195 * Self.second) == 190
                * Self.second
        )
        // Exactly two intervals behind.
        #expect(
            CheckPhase.nextDue(after: 100 * Self.second, intervalMicros: interval, now: 120 * Self.second) == 120
                * Self.second
        )

        var random = SeededGenerator(seed: 13)
        for _ in 0..<10_000 {
            let interval = Int64.random(in: 1...600 * Self.second, using: &random)
            let due = Int64.random(in: 0...1_000_000 * Self.second, using: &random)
            let now =
                due + Int64.random(in: 0...(interval * Int64.random(in: 0...1_000, using: &random)), using: &random)
            let next = CheckPhase.nextDue(after: due, intervalMicros: interval, now: now)
            #expect((next - due) % interval == 0, "off the grid")
            #expect(next >= due + interval, "did not advance")
            #expect(next > now - interval, "more than one interval behind after skipping")
            if due + interval > now - interval {
                #expect(next == due + interval, "skipped although less than an interval behind")
            }
        }
    }
}
