import LookoutCore

/// State changes waiting for their `XADD`: a bounded FIFO with one batch in flight at a time.
///
/// At least once: an event leaves the queue only when Redis acknowledged its entry; failed ones
/// stay at the front, in order, for the next batch. When the queue is full (Redis away for long),
/// the oldest events not in flight are dropped and counted: the monitor's state in the database
/// (written with every check) stays right, only the notification is lost, and the metric says so.
struct StateEventOutbox {
    /// Most events held. Default 100,000.
    let limit: Int
    /// Oldest first; the first `inFlight` are being sent.
    private(set) var queue: [StateChangeEvent] = []
    private(set) var inFlight = 0
    /// Events dropped because the queue was full, ever.
    private(set) var dropped = 0

    init(limit: Int = 100_000) {
        self.limit = max(limit, 1)
    }

    var count: Int { queue.count }
    var isEmpty: Bool { queue.isEmpty }

    mutating func append(_ events: [StateChangeEvent]) {
        queue.append(contentsOf: events)
        let excess = queue.count - limit
        guard excess > 0 else { return }
        let removable = min(excess, queue.count - inFlight)
        queue.removeSubrange(inFlight..<(inFlight + removable))
        dropped += removable
    }

    /// The next events to send, or nil while a batch is in flight or nothing waits.
    mutating func nextBatch(max: Int) -> ArraySlice<StateChangeEvent>? {
        guard inFlight == 0, !queue.isEmpty else { return nil }
        inFlight = min(Swift.max(max, 1), queue.count)
        return queue[0..<inFlight]
    }

    /// The batch in flight is answered: `acknowledged[i]` for its i-th event. Returns how many
    /// were acknowledged.
    @discardableResult
    mutating func batchFinished(acknowledged: [Bool]) -> Int {
        let sent = min(inFlight, acknowledged.count)
        var failed: [StateChangeEvent] = []
        for index in 0..<sent where !acknowledged[index] { failed.append(queue[index]) }
        queue.replaceSubrange(0..<inFlight, with: failed + queue[sent..<inFlight])
        inFlight = 0
        return sent - failed.count
    }
}
