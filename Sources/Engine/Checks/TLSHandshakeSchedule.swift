/// When each monitor with `tlsSessionReuse` does a full TLS handshake again.
///
/// A monitor starts over (a new, empty session store: the next handshake is a full one, which
/// reads and verifies the certificate again) on its first check and whenever its last start is
/// `tlsFullHandshakeSeconds` old; in between its checks resume the session the last handshake
/// left. Pure bookkeeping on an injected monotonic clock (microseconds); `Store` is whatever
/// holds a monitor's sessions (a curl share in the engine, anything in tests).
///
/// Entries are keyed by monitor id. The owner forgets a monitor that leaves (`forget`); as a
/// safety net for any it misses, an entry whose full handshake is due holds nothing worth
/// keeping (it would be started over anyway), so such entries are swept when the table has
/// doubled since the last sweep.
struct TLSHandshakeSchedule<Store> {
    /// What the caller's transfer should do.
    enum Handshake: Equatable {
        /// Resume with the monitor's existing store.
        case resume
        /// The store is new: the handshake will be a full one.
        case full
    }

    private struct Entry {
        var store: Store
        var startedAt: Int64
        var everyMicros: Int64
    }

    private var entries: [String: Entry] = [:]
    private var sweepAtCount: Int
    private let minimumSweepCount: Int

    /// `minimumSweepCount`: the table size below which it is never swept.
    init(minimumSweepCount: Int = 1_024) {
        self.minimumSweepCount = minimumSweepCount
        self.sweepAtCount = minimumSweepCount
    }

    /// Monitors with an entry.
    var count: Int { entries.count }

    /// The store for a check of `monitorId` that starts at `now`, and whether it is new (a full
    /// handshake). `makeStore` is called only when the monitor starts over.
    mutating func store(
        for monitorId: String,
        fullHandshakeEverySeconds seconds: Int,
        now: Int64,
        makeStore: () -> Store
    ) -> (store: Store, handshake: Handshake) {
        let everyMicros = Int64(seconds) * 1_000_000
        if let entry = entries[monitorId], now - entry.startedAt < everyMicros, entry.everyMicros == everyMicros {
            return (entry.store, .resume)
        }
        let store = makeStore()
        entries[monitorId] = Entry(store: store, startedAt: now, everyMicros: everyMicros)
        if entries.count >= sweepAtCount { sweep(now: now) }
        return (store, .full)
    }

    /// Drops the monitor's entry: its next check, if it comes back, starts over.
    mutating func forget(_ monitorId: String) {
        entries[monitorId] = nil
    }

    /// Drops every entry whose full handshake is due at `now`.
    mutating func sweep(now: Int64) {
        entries = entries.filter { now - $0.value.startedAt < $0.value.everyMicros }
        sweepAtCount = max(minimumSweepCount, entries.count * 2)
    }
}
