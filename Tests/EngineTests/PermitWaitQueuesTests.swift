import Testing

@testable import LookoutEngine

@Suite("Per-host permit wait queues")
struct PermitWaitQueuesTests {
    @Test("slots wait first in, first out per bucket, and buckets do not mix")
    func firstInFirstOutPerBucket() {
        var queues = PermitWaitQueues(bucketCount: 8)
        queues.append(3, bucket: 1)
        queues.append(5, bucket: 2)
        queues.append(4, bucket: 1)
        #expect(queues.count == 3)
        #expect(heads(&queues, [1, 2, 0]) == [3, 5, nil])
        let removedFirst = queues.remove(3, bucket: 1)
        #expect(removedFirst)
        #expect(heads(&queues, [1]) == [4])
        let removedSecond = queues.remove(4, bucket: 1)
        #expect(removedSecond)
        #expect(heads(&queues, [1]) == [nil])
        #expect(queues.count == 1)
    }

    @Test("a slot that gives up in the middle of a queue is skipped, and the others keep their order")
    func leavingFromTheMiddle() {
        var queues = PermitWaitQueues(bucketCount: 4)
        for slot: Int32 in [10, 11, 12, 13] { queues.append(slot, bucket: 3) }
        let left = queues.remove(12, bucket: 3)
        let leftAgain = queues.remove(12, bucket: 3)
        let neverWaited = queues.remove(99, bucket: 3)
        #expect(left)
        #expect(!leftAgain, "a slot leaves once")
        #expect(!neverWaited, "a slot that never waited is not there")
        var order: [Int32] = []
        while let head = queues.first(inBucket: 3) {
            order.append(head)
            queues.remove(head, bucket: 3)
        }
        #expect(order == [10, 11, 13])
        #expect(queues.count == 0)
    }

    @Test("waiting buckets are listed once each, and emptied ones are forgotten")
    func waitingBuckets() {
        var queues = PermitWaitQueues(bucketCount: 16)
        queues.append(1, bucket: 7)
        queues.append(2, bucket: 7)
        queues.append(3, bucket: 2)
        let both = queues.waitingBuckets()
        #expect(both.sorted() == [2, 7])
        queues.remove(3, bucket: 2)
        let one = queues.waitingBuckets()
        #expect(one == [7])
        // A queue emptied and filled again reuses its storage and keeps its order.
        queues.remove(1, bucket: 7)
        queues.remove(2, bucket: 7)
        queues.append(9, bucket: 7)
        queues.append(8, bucket: 7)
        #expect(heads(&queues, [7]) == [9])
        let again = queues.waitingBuckets()
        #expect(again == [7])
        #expect(queues.count == 2)
    }

    /// The slot at the front of each bucket's queue.
    private func heads(_ queues: inout PermitWaitQueues, _ buckets: [Int]) -> [Int32?] {
        buckets.map { queues.first(inBucket: $0) }
    }
}
