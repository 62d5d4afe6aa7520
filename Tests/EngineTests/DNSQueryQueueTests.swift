import Testing

@testable import LookoutEngine

@Suite("DNSQueryQueue")
struct DNSQueryQueueTests {
    @Test("queries up to the cap go out at once; the rest wait")
    func capLimitsQueriesInFlight() {
        var queue = DNSQueryQueue(limit: 2)
        let sent = ["a.test", "b.test", "c.test"].map { queue.submit($0) }
        #expect(sent == [true, true, false])
        #expect(queue.inFlight == 2)
        #expect(queue.waitingCount == 1)
    }

    @Test("each answer lets the oldest waiting name go, in the order they were queued")
    func answersReleaseInOrder() {
        var queue = DNSQueryQueue(limit: 1)
        let sent = ["first.test", "second.test", "third.test", "fourth.test"].map { queue.submit($0) }
        #expect(sent == [true, false, false, false])
        var released = [queue.answered()]
        let fifthSent = queue.submit("fifth.test")
        #expect(!fifthSent, "still at the cap: the next name queues behind the others")
        for _ in 0..<3 { released.append(queue.answered()) }
        #expect(released == ["second.test", "third.test", "fourth.test", "fifth.test"])
        #expect(queue.inFlight == 1, "a released name counts as in flight")
        let none = queue.answered()
        #expect(none == nil)
        #expect(queue.inFlight == 0)
        #expect(queue.waitingCount == 0)
        let again = queue.submit("again.test")
        #expect(again, "below the cap again")
    }
}
