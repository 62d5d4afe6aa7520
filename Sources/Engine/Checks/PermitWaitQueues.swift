/// The checks of one loop that wait for a per-host permit (`--max-per-host`): first in, first
/// out per `HostPermits` bucket.
///
/// Indexed by bucket number, not hashed: a wait and its end cost a few array operations per
/// check, never a scan or a shift of the whole queue (hundreds of checks may wait for one busy
/// address). A check that leaves a queue from its middle (its budget ran out while waiting) is
/// marked and skipped when it reaches the front.
struct PermitWaitQueues {
    private struct Queue {
        /// Slot numbers; `leftQueue` marks a slot that stopped waiting before its turn.
        var slots: [Int32] = []
        var head = 0
        var isEmpty: Bool { head == slots.count }
    }

    private static let leftQueue: Int32 = -1
    private var queues: [Queue]
    /// Buckets whose queue may hold a waiting slot (each at most once).
    private var listedBuckets: [Int] = []
    private var isListed: [Bool]

    /// Slots waiting, over every bucket.
    private(set) var count = 0

    init(bucketCount: Int) {
        queues = Array(repeating: Queue(), count: bucketCount)
        isListed = Array(repeating: false, count: bucketCount)
    }

    /// Puts `slot` at the back of `bucket`'s queue.
    mutating func append(_ slot: Int32, bucket: Int) {
        if queues[bucket].isEmpty {
            // Reuse the storage from the start instead of letting it grow.
            queues[bucket].slots.removeAll(keepingCapacity: true)
            queues[bucket].head = 0
        }
        queues[bucket].slots.append(slot)
        count += 1
        if !isListed[bucket] {
            isListed[bucket] = true
            listedBuckets.append(bucket)
        }
    }

    /// The slot whose turn it is in `bucket`, if any.
    mutating func first(inBucket bucket: Int) -> Int32? {
        skipLeftSlots(bucket)
        // Read in place: a copy of the queue would retain and release its storage.
        let head = queues[bucket].head
        return head < queues[bucket].slots.count ? queues[bucket].slots[head] : nil
    }

    /// Takes `slot` out of `bucket`'s queue, at the front or (a check that gave up) anywhere.
    /// Returns whether it was there.
    @discardableResult
    mutating func remove(_ slot: Int32, bucket: Int) -> Bool {
        let head = queues[bucket].head
        if head < queues[bucket].slots.count, queues[bucket].slots[head] == slot {
            queues[bucket].head += 1
            skipLeftSlots(bucket)
        } else {
            guard let position = queues[bucket].slots[head...].firstIndex(of: slot) else { return false }
            queues[bucket].slots[position] = Self.leftQueue
        }
        count -= 1
        return true
    }

    /// The buckets with a waiting slot, and forgets the buckets that have none any more.
    mutating func waitingBuckets() -> [Int] {
        var kept = 0
        for position in listedBuckets.indices {
            let bucket = listedBuckets[position]
            skipLeftSlots(bucket)
            if queues[bucket].isEmpty {
                isListed[bucket] = false
            } else {
                listedBuckets[kept] = bucket
                kept += 1
            }
        }
        listedBuckets.removeLast(listedBuckets.count - kept)
        return listedBuckets
    }

    private mutating func skipLeftSlots(_ bucket: Int) {
        while queues[bucket].head < queues[bucket].slots.count,
            queues[bucket].slots[queues[bucket].head] == Self.leftQueue
        {
            queues[bucket].head += 1
        }
    }
}
