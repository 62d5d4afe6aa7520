import LookoutCore

/// The decisions of the COPY batch writer, as a value-type state machine with an injected clock:
/// events go in (rows received, write succeeded or failed, spill written, close requested), and
/// `nextAction(now:)` says what the I/O shell (`CheckWriter`) must do next. No I/O, no time
/// source, no threads: unit tests drive it with plain integers as rows.
///
/// Rules it enforces:
/// - **Batching.** A batch is cut when `batchRows` rows wait (size), or when the oldest waiting
///   row has waited `batchAgeMicros` (age). At most one batch is being written at a time.
/// - **No loss, no duplicates.** A failed batch is kept as it is (same rows, so the same check
///   ids) and retried after an exponential back-off (`backoffInitialMicros`, doubling, capped at
///   `backoffMaxMicros`, optional jitter); the database drops the rows it already has
///   (`ON CONFLICT DO NOTHING`).
/// - **Bounded memory.** Rows in memory (waiting + the batch being written) never stay above
///   `bufferRows`: the oldest waiting rows go to the spill file (at least a batch's worth at a
///   time, to avoid tiny appends). Spilled rows are always older than the rows in memory.
/// - **Draining.** While rows sit in the spill file and the database works, chunks of the spill
///   (oldest first) alternate with batches from memory, so a long drain does not starve fresh
///   results.
/// - **Closing.** `requestClose` flushes everything in memory at once (age ignored), then keeps
///   draining the spill, for at most `closeDrainMicros`. A write that fails while closing is
///   retried with the usual back-off until that deadline; then everything still in memory is
///   spilled and the writer finishes: the next start drains it.
/// - **Drops** happen only when appending to the spill file fails; they are counted.
struct CheckWriterStateMachine<Row> {
    struct Configuration: Sendable, Equatable {
        /// Rows per batch; a batch is written as soon as this many wait. Default 5,000.
        var batchRows = 5000
        /// Longest a row waits before a (smaller) batch is cut, µs. Default 500 ms.
        var batchAgeMicros: Int64 = 500_000
        /// Rows held in memory at most before the oldest go to the spill file. Default 1,000,000.
        var bufferRows = 1_000_000
        /// First retry delay after a failed write, µs. Default 100 ms.
        var backoffInitialMicros: Int64 = 100_000
        /// Longest retry delay, µs. Default 5 s.
        var backoffMaxMicros: Int64 = 5_000_000
        /// Random extra delay, as a fraction of the back-off (0 ... 1). Default 0.2, so many
        /// engines do not retry in lockstep against a database that just came back.
        var backoffJitter = 0.2
        /// How long closing may take, µs: retrying failed writes and draining the spill file.
        /// Default 10 s; what is left then is spilled and drained by the next start.
        var closeDrainMicros: Int64 = 10_000_000
    }

    /// Where a batch's rows come from.
    enum BatchSource: Equatable {
        /// Rows the machine holds (`rows`).
        case memory
        /// A chunk the shell loaded from the spill file (`spillRows` rows, bytes kept by the shell).
        case spill
    }

    /// A batch being written. A retry is the same batch with `attempt` + 1.
    struct Batch {
        let source: BatchSource
        /// The rows of a memory batch (empty for a spill chunk).
        let rows: [Row]
        /// Rows in a spill chunk (0 for a memory batch).
        let spillRows: Int
        /// 1 for the first write, 2 for the first retry ...
        fileprivate(set) var attempt: Int

        var count: Int { source == .memory ? rows.count : spillRows }
    }

    enum Action {
        /// Write this batch (in one transaction); then call `writeSucceeded` or `writeFailed`.
        case write(Batch)
        /// Append these rows (oldest first) to the spill file; then `spillSucceeded` or `spillFailed`.
        case spill([Row])
        /// Load the oldest chunk of at most `maxRows` rows from the spill file; then `spillLoaded`.
        case loadSpill(maxRows: Int)
        /// Nothing to do until `until` (µs, same clock as `now`) or the next event; nil = no deadline.
        case wait(until: Int64?)
        /// Closed, and nothing is left that this run can write: stop.
        case finish
    }

    private enum Phase: Equatable {
        case idle, writing, spilling, loading, finished
    }

    let configuration: Configuration

    /// Rows waiting in memory, oldest first (`pending[pendingHead...]`).
    private var pending: [Row] = []
    private var pendingHead = 0
    /// When the rows of `pending` arrived: (time, rows) groups, oldest first.
    private var arrivals: [(time: Int64, count: Int)] = []
    private var arrivalsHead = 0

    private var phase = Phase.idle
    /// The batch being written or waiting to be retried.
    private var current: Batch?
    /// When the next retry of `current` may start (set only after a failure).
    private var retryAt: Int64?
    private var backoff: Int64
    private var jitterRandom: SplitMix64
    /// The rows handed out with the last `.spill` action (not yet confirmed).
    private var spillingCount = 0
    /// Alternates spill chunks and memory batches while draining.
    private var preferSpill = true
    private var closeRequested = false
    private var closeDeadline: Int64 = .max
    /// Set when closing while the database fails: memory goes to the spill file, then finish.
    private var databaseAbandoned = false

    /// Rows in the spill file not yet written to the database (as far as the machine knows).
    private(set) var spilledRows = 0
    /// Rows lost because the spill file could not take them.
    private(set) var droppedRows = 0
    /// Rows ever handed to the spill file successfully.
    private(set) var spilledRowsTotal = 0
    /// Consecutive failed writes (0 when the last write succeeded).
    private(set) var consecutiveFailures = 0

    /// - Parameters:
    ///   - spilledRows: rows found in spill files left by earlier runs (drained first).
    ///   - jitterSeed: seed of the back-off jitter (any value; tests use 0 jitter).
    init(configuration: Configuration, spilledRows: Int = 0, jitterSeed: UInt64 = 0) {
        self.configuration = configuration
        self.spilledRows = spilledRows
        self.backoff = configuration.backoffInitialMicros
        self.jitterRandom = SplitMix64(seed: jitterSeed)
    }

    // MARK: figures

    /// Rows waiting in memory, not yet in a batch.
    var pendingRows: Int { pending.count - pendingHead }
    /// Rows held in memory: waiting rows plus a memory batch being written or retried.
    var bufferedRows: Int { pendingRows + (current?.source == .memory ? current!.count : 0) }
    /// True between a failed write and the next successful one.
    var isFailing: Bool { consecutiveFailures > 0 }
    var isFinished: Bool { phase == .finished }

    // MARK: events

    /// Rows arrived (from the results pipeline), at `now`.
    mutating func enqueue(_ rows: [Row], now: Int64) {
        guard !rows.isEmpty else { return }
        precondition(phase != .finished, "rows enqueued after the writer finished")
        pending.append(contentsOf: rows)
        arrivals.append((now, rows.count))
    }

    /// Shutdown: write what is in memory now, drain the spill while time allows, then finish.
    mutating func requestClose(now: Int64) {
        guard !closeRequested else { return }
        closeRequested = true
        closeDeadline = now &+ configuration.closeDrainMicros
    }

    /// The batch from the last `.write` is committed.
    mutating func writeSucceeded(now: Int64) {
        precondition(phase == .writing && current != nil, "writeSucceeded without a write in progress")
        phase = .idle
        if current!.source == .spill { spilledRows = max(0, spilledRows - current!.spillRows) }
        preferSpill = current!.source == .memory
        current = nil
        retryAt = nil
        consecutiveFailures = 0
        backoff = configuration.backoffInitialMicros
    }

    /// The batch from the last `.write` failed: it is kept and retried after the back-off.
    mutating func writeFailed(now: Int64) {
        precondition(phase == .writing && current != nil, "writeFailed without a write in progress")
        phase = .idle
        consecutiveFailures += 1
        let delay =
            consecutiveFailures == 1
            ? configuration.backoffInitialMicros : min(backoff * 2, configuration.backoffMaxMicros)
        backoff = delay
        retryAt = now &+ delay &+ jitter(delay)
    }

    /// The rows from the last `.spill` are safely in the spill file.
    mutating func spillSucceeded(now: Int64) {
        precondition(phase == .spilling, "spillSucceeded without a spill in progress")
        phase = .idle
        spilledRows += spillingCount
        spilledRowsTotal += spillingCount
        spillingCount = 0
    }

    /// The rows from the last `.spill` could not be written anywhere: they are lost (counted).
    mutating func spillFailed(now: Int64) {
        precondition(phase == .spilling, "spillFailed without a spill in progress")
        phase = .idle
        droppedRows += spillingCount
        spillingCount = 0
    }

    /// The shell loaded a chunk of `rows` rows from the spill file after `.loadSpill`
    /// (0 = the spill file is empty, whatever the machine believed).
    mutating func spillLoaded(rows: Int, now: Int64) {
        precondition(phase == .loading, "spillLoaded without a load in progress")
        phase = .idle
        if rows == 0 {
            spilledRows = 0
            preferSpill = false
            return
        }
        // Rows may have been found that the machine did not know about (another run's file).
        spilledRows = max(spilledRows, rows)
        current = Batch(source: .spill, rows: [], spillRows: rows, attempt: 0)
    }

    // MARK: decisions

    /// What the shell does next. Call after every event (and when a wait ends).
    mutating func nextAction(now: Int64) -> Action {
        precondition(phase == .idle || phase == .finished, "nextAction while an action is in progress")
        if phase == .finished { return .finish }
        if databaseAbandoned { return giveUpOnDatabase() }

        if var batch = current {
            if let retryAt {
                if closeRequested && now >= closeDeadline { return giveUpOnDatabase() }
                if now >= retryAt {
                    batch.attempt += 1
                    current = batch
                    phase = .writing
                    return .write(batch)
                }
                if let spill = spillExcess() { return spill }
                return .wait(until: closeRequested ? min(retryAt, closeDeadline) : retryAt)
            }
            // A chunk just loaded from the spill file: write it.
            batch.attempt += 1
            current = batch
            phase = .writing
            return .write(batch)
        }

        if let spill = spillExcess() { return spill }

        let canDrain = spilledRows > 0 && (!closeRequested || now < closeDeadline)
        let fullBatch = pendingRows >= configuration.batchRows
        let dueBatch = pendingRows > 0 && (closeRequested || now >= oldestArrival! &+ configuration.batchAgeMicros)
        if closeRequested {
            // Memory first (it would have to be spilled), then the spill while time allows.
            if pendingRows > 0 { return startMemoryBatch() }
            if canDrain { return startLoad() }
            phase = .finished
            return .finish
        }
        if canDrain && (preferSpill || !(fullBatch || dueBatch)) { return startLoad() }
        if fullBatch || dueBatch { return startMemoryBatch() }
        if canDrain { return startLoad() }
        if pendingRows > 0 { return .wait(until: oldestArrival! &+ configuration.batchAgeMicros) }
        return .wait(until: nil)
    }

    // MARK: helpers

    private var oldestArrival: Int64? { arrivalsHead < arrivals.count ? arrivals[arrivalsHead].time : nil }

    private mutating func startMemoryBatch() -> Action {
        let rows = takePending(min(configuration.batchRows, pendingRows))
        let batch = Batch(source: .memory, rows: rows, spillRows: 0, attempt: 1)
        current = batch
        phase = .writing
        return .write(batch)
    }

    private mutating func startLoad() -> Action {
        phase = .loading
        return .loadSpill(maxRows: configuration.batchRows)
    }

    /// Spills the oldest waiting rows when memory holds more than `bufferRows`.
    private mutating func spillExcess() -> Action? {
        let excess = bufferedRows - configuration.bufferRows
        guard excess > 0, pendingRows > 0 else { return nil }
        let count = min(pendingRows, max(excess, configuration.batchRows))
        return startSpill(takePending(count))
    }

    /// Closing while the database fails: everything in memory goes to the spill file.
    private mutating func giveUpOnDatabase() -> Action {
        databaseAbandoned = true
        var rows: [Row] = []
        if let batch = current, batch.source == .memory { rows = batch.rows }
        // A spill chunk being retried is still in the spill file: nothing to do for it.
        current = nil
        retryAt = nil
        rows.append(contentsOf: takePending(pendingRows))
        if rows.isEmpty {
            phase = .finished
            return .finish
        }
        return startSpill(rows)
    }

    private mutating func startSpill(_ rows: [Row]) -> Action {
        spillingCount = rows.count
        phase = .spilling
        return .spill(rows)
    }

    /// Removes the `count` oldest waiting rows (and their arrival records).
    private mutating func takePending(_ count: Int) -> [Row] {
        let rows = Array(pending[pendingHead..<pendingHead + count])
        pendingHead += count
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead > 4096 && pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        var remaining = count
        while remaining > 0 && arrivalsHead < arrivals.count {
            if arrivals[arrivalsHead].count <= remaining {
                remaining -= arrivals[arrivalsHead].count
                arrivalsHead += 1
            } else {
                arrivals[arrivalsHead].count -= remaining
                remaining = 0
            }
        }
        if arrivalsHead == arrivals.count {
            arrivals.removeAll(keepingCapacity: true)
            arrivalsHead = 0
        } else if arrivalsHead > 1024 && arrivalsHead * 2 > arrivals.count {
            arrivals.removeFirst(arrivalsHead)
            arrivalsHead = 0
        }
        return rows
    }

    /// A pseudo-random extra delay in [0, jitter × delay] (SplitMix64: deterministic per seed).
    private mutating func jitter(_ delay: Int64) -> Int64 {
        guard configuration.backoffJitter > 0 else { return 0 }
        return Int64(Double(delay) * configuration.backoffJitter * jitterRandom.nextUnit())
    }
}
