import Testing

@testable import LookoutEngine

/// Pops everything due at `now`.
private func drain(_ scheduler: inout CheckScheduler, now: Int64) -> [CheckScheduler.Entry] {
    var popped: [CheckScheduler.Entry] = []
    while let entry = scheduler.popDue(now: now) { popped.append(entry) }
    return popped
}

@Suite("CheckScheduler (min-heap of due times)")
struct CheckSchedulerTests {
    @Test("an empty scheduler has nothing due")
    func emptyScheduler() {
        var scheduler = CheckScheduler()
        #expect(scheduler.isEmpty)
        #expect(scheduler.count == 0)
        #expect(scheduler.nextDue == nil)
        #expect(scheduler.popDue(now: .max) == nil)
    }

    @Test("pops in due order for random input, matching a sort", arguments: [1, 2, 3, 10, 100, 1_000, 10_000])
    func popsInDueOrder(count: Int) {
        var random = SeededGenerator(seed: UInt64(count))
        var scheduler = CheckScheduler(capacity: count)
        var dues: [Int64] = []
        for index in 0..<count {
            // A narrow range forces many equal due times as well.
            let due = Int64.random(in: 0...Int64(count / 2 + 1) * 1_000, using: &random)
            dues.append(due)
            scheduler.schedule(monitor: Int32(index), due: due)
        }
        #expect(scheduler.count == count)
        #expect(scheduler.nextDue == dues.min())
        let popped = drain(&scheduler, now: .max)
        #expect(popped.map(\.due) == dues.sorted())
        // Every monitor comes out once, with the due time it was scheduled for.
        #expect(popped.map(\.monitor).sorted() == Array(0..<Int32(count)))
        for entry in popped { #expect(dues[Int(entry.monitor)] == entry.due) }
        #expect(scheduler.isEmpty)
    }

    @Test("popDue returns nothing before the earliest due time and exactly the due entries at now")
    func popDueRespectsNow() {
        var scheduler = CheckScheduler()
        scheduler.schedule(monitor: 1, due: 300)
        scheduler.schedule(monitor: 2, due: 100)
        scheduler.schedule(monitor: 3, due: 200)
        #expect(scheduler.popDue(now: 99) == nil)
        #expect(scheduler.count == 3)
        #expect(scheduler.popDue(now: 100) == .init(due: 100, monitor: 2))  // due == now is due
        #expect(scheduler.popDue(now: 199) == nil)
        #expect(scheduler.nextDue == 200)
        #expect(drain(&scheduler, now: 1_000) == [.init(due: 200, monitor: 3), .init(due: 300, monitor: 1)])
    }

    @Test("entries with equal due times all come out at that time")
    func equalDueTimes() {
        var scheduler = CheckScheduler()
        for monitor in Int32(0)..<50 { scheduler.schedule(monitor: monitor, due: 5_000) }
        scheduler.schedule(monitor: 99, due: 4_999)
        scheduler.schedule(monitor: 100, due: 5_001)
        #expect(scheduler.popDue(now: 4_999)?.monitor == 99)
        let atDue = drain(&scheduler, now: 5_000)
        #expect(atDue.count == 50)
        #expect(Set(atDue.map(\.monitor)) == Set(0..<50))
        #expect(atDue.allSatisfy { $0.due == 5_000 })
        #expect(scheduler.count == 1)
        #expect(scheduler.nextDue == 5_001)
    }

    @Test("interleaved schedule and pop keep the heap ordered (simulated run)")
    func interleavedScheduleAndPop() {
        var random = SeededGenerator(seed: 7)
        var scheduler = CheckScheduler()
        for monitor in Int32(0)..<500 {
            let due = Int64.random(in: 0..<1_000_000, using: &random)
            scheduler.schedule(monitor: monitor, due: due)
        }
        var now: Int64 = 0
        var lastPopped = Int64.min
        for _ in 0..<5_000 {
            now += Int64.random(in: 0..<5_000, using: &random)
            while let entry = scheduler.popDue(now: now) {
                #expect(entry.due <= now)
                #expect(entry.due >= lastPopped, "popped \(entry.due) after \(lastPopped)")
                lastPopped = entry.due
                // Reschedule like the loop does: strictly later than the popped entry.
                scheduler.schedule(
                    monitor: entry.monitor,
                    due: entry.due + Int64.random(in: 1...1_000_000, using: &random)
                )
            }
            if let next = scheduler.nextDue { #expect(next > now) }
        }
        #expect(scheduler.count == 500)
    }
}
