/// The cap on DNS queries in flight on one loop, with the queue of names waiting for a turn.
///
/// A burst of thousands of outstanding UDP queries overflows the socket buffers (the kernel caps
/// SO_RCVBUF) and turns into false `dns_timeout` errors, so at most `limit` queries are sent at
/// once; the rest wait here, oldest first, and each answer lets the next one go. Pure: the caller
/// sends the queries.
struct DNSQueryQueue {
    /// Queries in flight at most (at least 1).
    let limit: Int
    private(set) var inFlight = 0
    private var waiting: [String] = []
    private var head = 0

    init(limit: Int) {
        precondition(limit >= 1, "the DNS query cap is validated by the configuration")
        self.limit = limit
    }

    /// Names waiting for a turn.
    var waitingCount: Int { waiting.count - head }

    /// A query for `name` is needed: true if it may be sent now (it counts as in flight), false
    /// if it was queued behind the cap.
    mutating func submit(_ name: String) -> Bool {
        if inFlight < limit {
            inFlight += 1
            return true
        }
        waiting.append(name)
        return false
    }

    /// A query was answered (or failed): the oldest waiting name, which now counts as in flight
    /// and must be sent, or nil when none waits.
    mutating func answered() -> String? {
        guard head < waiting.count else {
            inFlight -= 1
            return nil
        }
        let name = waiting[head]
        head += 1
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        }
        return name
    }
}
