import LookoutCore
import Testing

@testable import LookoutEngine

private func prepared(
    _ id: String, url: String = "http://93.184.216.34/", interval: Double = 60, confirmedState: MonitorState = .unknown
) throws -> PreparedMonitor {
    let monitor = try PreparedMonitor(Monitor(id: id, url: url, intervalSeconds: interval))
    monitor.confirmedState = confirmedState
    return monitor
}

@Suite("MonitorTable")
struct MonitorTableTests {
    @Test("the monitors a loop starts with are numbered in order, generation 0, idle, with their literal addresses")
    func initialNumbering() throws {
        let table = MonitorTable([try prepared("a"), try prepared("b", url: "http://example.com/")])
        #expect(table.count == 2 && table.capacity == 2)
        #expect(table.index(of: "a") == 0 && table.index(of: "b") == 1)
        #expect(table.generations == [0, 0])
        #expect(table.busy == [false, false])
        #expect(table.literalAddresses == [.v4(0x5DB8_D822), nil])
        #expect(table.retireAt == [.max, .max])
        #expect(table.index(of: "c") == nil)
    }

    @Test("a new monitor gets the next number and needs a first due time")
    func upsertNew() throws {
        var table = MonitorTable([try prepared("a")])
        let change = table.upsert(try prepared("b", confirmedState: .down))
        #expect(change == MonitorTable.Upsert(index: 1, generation: 0, needsSchedule: true))
        #expect(table.health[1] == MonitorHealth(state: .down), "a new monitor starts from its confirmed state")
    }

    @Test("room made ahead (a take-over's announced size) changes nothing the table answers")
    func reservedRoom() throws {
        var reserved = MonitorTable([try prepared("a")])
        var plain = MonitorTable([try prepared("a")])
        reserved.reserveCapacity(additional: 1_000)
        for id in ["b", "c", "a", "d"] {
            #expect(reserved.upsert(try prepared(id)) == plain.upsert(try prepared(id)))
        }
        #expect(reserved.remove(id: "c") && plain.remove(id: "c"))
        #expect(reserved.upsert(try prepared("e")) == plain.upsert(try prepared("e")), "the freed number is reused")
        #expect(reserved.count == 4 && reserved.capacity == plain.capacity)
        let ids = ["a", "b", "d", "e"]
        #expect(ids.map { reserved.index(of: $0) } == ids.map { plain.index(of: $0) })
    }

    @Test("an edit that keeps the interval keeps the number, generation and schedule; a new interval starts over")
    func upsertEdit() throws {
        var table = MonitorTable([try prepared("a", interval: 60)])
        table.health[0] = MonitorHealth(state: .up)
        let sameInterval = table.upsert(try prepared("a", url: "http://example.com/", interval: 60))
        #expect(
            sameInterval
                == MonitorTable.Upsert(
                    index: 0, generation: 0, needsSchedule: false, replaced: try prepared("a", interval: 60)))
        #expect(table.literalAddresses[0] == nil, "the new URL's host is a name")
        let newInterval = table.upsert(try prepared("a", interval: 30))
        #expect(
            newInterval
                == MonitorTable.Upsert(
                    index: 0, generation: 1, needsSchedule: true,
                    replaced: try prepared("a", url: "http://example.com/", interval: 60)),
            "the edit hands back the definition it replaced")
        #expect(table.health[0] == MonitorHealth(state: .up), "an edit keeps the loop's own confirmed state")
        #expect(table.count == 1)
    }

    @Test("removing an idle monitor frees its number; re-adding reuses it with a new generation and fresh state")
    func removeAndReAdd() throws {
        var table = MonitorTable([try prepared("a"), try prepared("b")])
        table.health[0] = MonitorHealth(state: .down)
        let removed = table.remove(id: "a")
        let removedAgain = table.remove(id: "a")
        #expect(removed)
        #expect(!removedAgain, "a second removal finds nothing")
        #expect(table.monitors[0] == nil)
        #expect(table.generations[0] == 1, "scheduler entries of the removed monitor are stale now")
        #expect(table.count == 1)
        let change = table.upsert(try prepared("c", confirmedState: .up))
        #expect(change == MonitorTable.Upsert(index: 0, generation: 2, needsSchedule: true))
        #expect(table.health[0] == MonitorHealth(state: .up))
        #expect(table.index(of: "c") == 0 && table.holds(id: "c", at: 0) && !table.holds(id: "a", at: 0))
        #expect(table.capacity == 2)
    }

    @Test("a monitor removed while its check runs keeps its number until the check ends")
    func removeWhileBusy() throws {
        var table = MonitorTable([try prepared("a")])
        table.checkStarted(index: 0)
        #expect(table.busy[0])
        table.remove(id: "a")
        let meanwhile = table.upsert(try prepared("b"))
        #expect(meanwhile.index == 1, "the busy number is not handed out")
        table.checkEnded(index: 0)
        #expect(!table.busy[0])
        let after = table.upsert(try prepared("c"))
        #expect(after.index == 0, "freed when the check ended")
        #expect(after.generation == 2)
    }

    @Test("a check ending for a monitor that stays frees nothing")
    func checkEndedKeepsTheMonitor() throws {
        var table = MonitorTable([try prepared("a")])
        table.checkStarted(index: 0)
        table.checkEnded(index: 0)
        let added = table.upsert(try prepared("b"))
        #expect(added.index == 1)
        #expect(table.holds(id: "a", at: 0))
    }

    @Test("retiring sets the hand-over instant; an upsert of the monitor takes it back")
    func retire() throws {
        var table = MonitorTable([try prepared("a")])
        let retired = table.retire(id: "a", at: 5_000_000)
        let unknown = table.retire(id: "unknown", at: 5_000_000)
        #expect(retired)
        #expect(!unknown)
        #expect(table.retireAt[0] == 5_000_000)
        _ = table.upsert(try prepared("a"))
        #expect(table.retireAt[0] == .max)
    }
}
