import Testing

@testable import LookoutEngine

private typealias Machine = CheckWriterStateMachine<Int>

/// Small numbers so every rule shows: 4 rows a batch, 1 ms age, 10 rows of memory.
private func configuration(
    batchRows: Int = 4,
    batchAge: Int64 = 1_000,
    bufferRows: Int = 10,
    closeDrain: Int64 = 5_000
) -> Machine.Configuration {
    var configuration = Machine.Configuration()
    configuration.batchRows = batchRows
    configuration.batchAgeMicros = batchAge
    configuration.bufferRows = bufferRows
    configuration.backoffInitialMicros = 100
    configuration.backoffMaxMicros = 1_000
    configuration.backoffJitter = 0
    configuration.closeDrainMicros = closeDrain
    return configuration
}

/// The rows of a `.write` of a memory batch, or nil.
private func writtenRows(_ action: Machine.Action) -> [Int]? {
    if case .write(let batch) = action, batch.source == .memory { return batch.rows }
    return nil
}

private func attempt(_ action: Machine.Action) -> Int? {
    if case .write(let batch) = action { return batch.attempt }
    return nil
}

private func waitDeadline(_ action: Machine.Action) -> Int64?? {
    if case .wait(let until) = action { return .some(until) }
    return nil
}

private func spilled(_ action: Machine.Action) -> [Int]? {
    if case .spill(let rows) = action { return rows }
    return nil
}

private func isLoad(_ action: Machine.Action) -> Bool {
    if case .loadSpill = action { return true }
    return false
}

private func isFinish(_ action: Machine.Action) -> Bool {
    if case .finish = action { return true }
    return false
}

@Suite("COPY writer state machine (pure, injected clock)")
struct CheckWriterStateMachineTests {
    @Test("a full batch is written at once; the rest waits for its age")
    func sizeFlush() {
        var machine = Machine(configuration: configuration())
        machine.enqueue([0, 1, 2], now: 0)
        #expect(waitDeadline(machine.nextAction(now: 0)) == .some(1_000))
        machine.enqueue([3, 4], now: 10)
        let action = machine.nextAction(now: 10)
        #expect(writtenRows(action) == [0, 1, 2, 3])
        #expect(attempt(action) == 1)
        machine.writeSucceeded(now: 20)
        // Row 4 arrived at 10: due at 1,010.
        #expect(waitDeadline(machine.nextAction(now: 20)) == .some(1_010))
        #expect(machine.pendingRows == 1)
    }

    @Test("a partial batch is written when its oldest row reaches the age limit")
    func ageFlush() {
        var machine = Machine(configuration: configuration())
        #expect(waitDeadline(machine.nextAction(now: 0)) == .some(nil))
        machine.enqueue([7], now: 0)
        #expect(waitDeadline(machine.nextAction(now: 999)) == .some(1_000))
        machine.enqueue([8], now: 500)
        #expect(writtenRows(machine.nextAction(now: 1_000)) == [7, 8])
        machine.writeSucceeded(now: 1_001)
        #expect(waitDeadline(machine.nextAction(now: 1_001)) == .some(nil))
    }

    @Test("failed writes retry the same batch with exponential back-off, capped, reset by success")
    func backoffGrowth() {
        var machine = Machine(configuration: configuration())
        machine.enqueue([1, 2, 3, 4], now: 0)
        #expect(writtenRows(machine.nextAction(now: 0)) == [1, 2, 3, 4])
        var now: Int64 = 0
        var delays: [Int64] = []
        for expectedAttempt in 2...8 {
            machine.writeFailed(now: now)
            guard case .wait(let until?) = machine.nextAction(now: now) else {
                Issue.record("expected a wait after a failure")
                return
            }
            delays.append(until - now)
            // Nothing happens before the retry time.
            #expect(waitDeadline(machine.nextAction(now: until - 1)) == .some(until))
            now = until
            let retry = machine.nextAction(now: now)
            #expect(writtenRows(retry) == [1, 2, 3, 4], "a retry carries exactly the same rows")
            #expect(attempt(retry) == expectedAttempt)
        }
        #expect(delays == [100, 200, 400, 800, 1_000, 1_000, 1_000])
        #expect(machine.consecutiveFailures == 7)
        machine.writeSucceeded(now: now)
        #expect(!machine.isFailing)
        machine.enqueue([5, 6, 7, 8], now: now)
        _ = machine.nextAction(now: now)
        machine.writeFailed(now: now)
        #expect(waitDeadline(machine.nextAction(now: now)) == .some(now + 100), "back-off starts over")
    }

    @Test("jitter adds at most the configured fraction")
    func jitterBounds() {
        var config = configuration()
        config.backoffJitter = 0.5
        var machine = Machine(configuration: config, jitterSeed: 42)
        machine.enqueue([1, 2, 3, 4], now: 0)
        _ = machine.nextAction(now: 0)
        var now: Int64 = 0
        for step in 0..<10 {
            machine.writeFailed(now: now)
            guard case .wait(let until?) = machine.nextAction(now: now) else { return }
            let base = min(100 << Int64(step), 1_000)
            #expect(until - now >= base && until - now <= base + base / 2)
            now = until
            _ = machine.nextAction(now: now)
        }
    }

    @Test("memory above the bound spills the oldest waiting rows, at least a batch at a time")
    func bufferBoundSpills() {
        var machine = Machine(configuration: configuration())
        machine.enqueue([0, 1, 2, 3], now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeFailed(now: 0)
        machine.enqueue(Array(4...9), now: 10)
        // 4 in the failed batch + 6 waiting = 10: at the bound, nothing spills.
        #expect(waitDeadline(machine.nextAction(now: 10)) == .some(100))
        #expect(machine.bufferedRows == 10)
        machine.enqueue([10], now: 20)
        #expect(spilled(machine.nextAction(now: 20)) == [4, 5, 6, 7])
        machine.spillSucceeded(now: 21)
        #expect(machine.spilledRows == 4)
        #expect(machine.bufferedRows == 7)
        #expect(waitDeadline(machine.nextAction(now: 21)) == .some(100))
    }

    @Test("after recovery the spill drains oldest first, alternating with memory batches")
    func drainOrder() {
        var machine = Machine(configuration: configuration(bufferRows: 8))
        machine.enqueue([0, 1, 2, 3], now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeFailed(now: 0)
        machine.enqueue(Array(4...15), now: 10)
        // 4 + 12 = 16 > 8: the 8 oldest waiting rows spill.
        #expect(spilled(machine.nextAction(now: 10)) == [4, 5, 6, 7, 8, 9, 10, 11])
        machine.spillSucceeded(now: 10)
        #expect(waitDeadline(machine.nextAction(now: 10)) == .some(100))
        // The database is back: the failed batch first.
        #expect(writtenRows(machine.nextAction(now: 100)) == [0, 1, 2, 3])
        machine.writeSucceeded(now: 100)
        // Then a spill chunk (oldest rows) ...
        guard case .loadSpill(let maxRows) = machine.nextAction(now: 100) else {
            Issue.record("expected a spill load")
            return
        }
        #expect(maxRows == 4)
        machine.spillLoaded(rows: 4, now: 100)
        guard case .write(let chunk) = machine.nextAction(now: 100) else {
            Issue.record("expected the chunk to be written")
            return
        }
        #expect(chunk.source == .spill && chunk.count == 4)
        machine.writeSucceeded(now: 101)
        #expect(machine.spilledRows == 4)
        // ... then a full memory batch (fresh rows are not starved) ...
        #expect(writtenRows(machine.nextAction(now: 101)) == [12, 13, 14, 15])
        machine.writeSucceeded(now: 102)
        // ... then the rest of the spill.
        #expect(isLoad(machine.nextAction(now: 102)))
        machine.spillLoaded(rows: 4, now: 102)
        _ = machine.nextAction(now: 102)
        machine.writeSucceeded(now: 103)
        #expect(machine.spilledRows == 0)
        #expect(waitDeadline(machine.nextAction(now: 103)) == .some(nil))
    }

    @Test("rows left in the spill by an earlier run are drained first")
    func startupDrain() {
        var machine = Machine(configuration: configuration(), spilledRows: 6)
        machine.enqueue([1, 2, 3, 4], now: 0)
        #expect(isLoad(machine.nextAction(now: 0)))
        machine.spillLoaded(rows: 4, now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeSucceeded(now: 1)
        #expect(writtenRows(machine.nextAction(now: 1)) == [1, 2, 3, 4])
    }

    @Test("an empty spill load corrects a stale count instead of looping")
    func emptySpillLoad() {
        var machine = Machine(configuration: configuration(), spilledRows: 5)
        #expect(isLoad(machine.nextAction(now: 0)))
        machine.spillLoaded(rows: 0, now: 0)
        #expect(machine.spilledRows == 0)
        #expect(waitDeadline(machine.nextAction(now: 0)) == .some(nil))
    }

    @Test("close writes waiting rows at once, drains the spill, then finishes")
    func closeFlushes() {
        var machine = Machine(configuration: configuration(), spilledRows: 2)
        machine.enqueue([1, 2, 3, 4, 5], now: 0)
        machine.requestClose(now: 0)
        #expect(writtenRows(machine.nextAction(now: 0)) == [1, 2, 3, 4])
        machine.writeSucceeded(now: 0)
        #expect(writtenRows(machine.nextAction(now: 0)) == [5], "no waiting for the age limit when closing")
        machine.writeSucceeded(now: 0)
        #expect(isLoad(machine.nextAction(now: 0)))
        machine.spillLoaded(rows: 2, now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeSucceeded(now: 0)
        #expect(isFinish(machine.nextAction(now: 0)))
        #expect(machine.isFinished)
    }

    @Test("close stops draining the spill after the drain time")
    func closeDrainDeadline() {
        var machine = Machine(configuration: configuration(closeDrain: 1_000), spilledRows: 100)
        machine.requestClose(now: 0)
        #expect(isLoad(machine.nextAction(now: 0)))
        machine.spillLoaded(rows: 4, now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeSucceeded(now: 1_000)
        #expect(isFinish(machine.nextAction(now: 1_000)))
        #expect(machine.spilledRows == 96, "the rest stays for the next start")
    }

    @Test("closing retries a failed write until the deadline")
    func closeRetriesUntilDeadline() {
        var machine = Machine(configuration: configuration(closeDrain: 5_000))
        machine.enqueue([1, 2, 3, 4, 5], now: 0)
        #expect(writtenRows(machine.nextAction(now: 0)) == [1, 2, 3, 4])
        machine.writeFailed(now: 0)
        machine.requestClose(now: 5)
        #expect(waitDeadline(machine.nextAction(now: 5)) == .some(100))
        let retry = machine.nextAction(now: 100)
        #expect(writtenRows(retry) == [1, 2, 3, 4] && attempt(retry) == 2)
        machine.writeSucceeded(now: 100)
        #expect(writtenRows(machine.nextAction(now: 100)) == [5])
        machine.writeSucceeded(now: 100)
        #expect(isFinish(machine.nextAction(now: 100)))
    }

    @Test("closing while the database keeps failing spills everything in memory at the deadline")
    func closeWhileFailing() {
        var machine = Machine(configuration: configuration(closeDrain: 1_000))
        machine.enqueue([1, 2, 3, 4, 5, 6], now: 0)
        #expect(writtenRows(machine.nextAction(now: 0)) == [1, 2, 3, 4])
        machine.writeFailed(now: 0)
        machine.requestClose(now: 5)
        var now: Int64 = 5
        var spilledRows: [Int]?
        // Retries until the deadline (1,005), never waiting past it, then spills.
        loop: for _ in 0..<100 {
            switch machine.nextAction(now: now) {
            case .wait(let until?):
                #expect(until <= 1_005)
                now = until
            case .write:
                machine.writeFailed(now: now)
            case .spill(let rows):
                spilledRows = rows
                break loop
            default:
                Issue.record("unexpected action")
                break loop
            }
        }
        #expect(now == 1_005)
        #expect(spilledRows == [1, 2, 3, 4, 5, 6])
        machine.spillSucceeded(now: now)
        #expect(machine.bufferedRows == 0)
        #expect(isFinish(machine.nextAction(now: now)))
        #expect(machine.spilledRows == 6)
        #expect(machine.droppedRows == 0)
    }

    @Test("a failing spill chunk is not spilled again when closing")
    func closeWithSpillChunkFailing() {
        var machine = Machine(configuration: configuration(closeDrain: 50), spilledRows: 4)
        machine.enqueue([9], now: 0)
        #expect(isLoad(machine.nextAction(now: 0)))
        machine.spillLoaded(rows: 4, now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeFailed(now: 0)
        machine.requestClose(now: 1)
        #expect(waitDeadline(machine.nextAction(now: 1)) == .some(51))
        #expect(spilled(machine.nextAction(now: 51)) == [9])
        machine.spillSucceeded(now: 51)
        #expect(isFinish(machine.nextAction(now: 51)))
        #expect(machine.spilledRows == 5)
    }

    @Test("rows the spill file cannot take are counted as dropped")
    func spillFailureCountsDrops() {
        var machine = Machine(configuration: configuration(bufferRows: 4))
        machine.enqueue([1, 2, 3, 4], now: 0)
        _ = machine.nextAction(now: 0)
        machine.writeFailed(now: 0)
        machine.enqueue([5, 6, 7, 8, 9], now: 1)
        #expect(spilled(machine.nextAction(now: 1)) == [5, 6, 7, 8, 9])
        machine.spillFailed(now: 1)
        #expect(machine.droppedRows == 5)
        #expect(machine.spilledRows == 0)
    }

    /// A fake shell: a database that fails at random, a spill file as a FIFO. Whatever happens,
    /// every row ends up written exactly once or still in the spill file — never lost, never
    /// written twice.
    @Test("random failures never lose or duplicate a row", arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func conservation(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var machine = Machine(
            configuration: configuration(
                batchRows: Int.random(in: 1...8, using: &random),
                bufferRows: Int.random(in: 8...40, using: &random)
            )
        )
        var spillFile: [Int] = []
        var loadedChunk: [Int] = []
        var written: [Int] = []
        var nextRow = 0
        var now: Int64 = 0
        let failureRate = Double.random(in: 0...0.7, using: &random)
        for step in 0..<3_000 {
            now += Int64.random(in: 0...300, using: &random)
            if step < 2_500, Bool.random(using: &random) {
                let count = Int.random(in: 0...6, using: &random)
                machine.enqueue(Array(nextRow..<nextRow + count), now: now)
                nextRow += count
            }
            if step == 2_500 { machine.requestClose(now: now) }
            // Carry out actions until the machine waits.
            for _ in 0..<20 {
                let action = machine.nextAction(now: now)
                switch action {
                case .write(let batch):
                    if Double.random(in: 0..<1, using: &random) < failureRate && step < 2_700 {
                        machine.writeFailed(now: now)
                    } else {
                        if batch.source == .memory {
                            written += batch.rows
                        } else {
                            written += loadedChunk
                            spillFile.removeFirst(loadedChunk.count)
                            loadedChunk = []
                        }
                        machine.writeSucceeded(now: now)
                    }
                case .spill(let rows):
                    spillFile += rows
                    machine.spillSucceeded(now: now)
                case .loadSpill(let maxRows):
                    loadedChunk = Array(spillFile.prefix(maxRows))
                    machine.spillLoaded(rows: loadedChunk.count, now: now)
                case .wait, .finish:
                    break
                }
                if case .wait = action { break }
                if case .finish = action { break }
            }
            if machine.isFinished { break }
        }
        // Whatever is left (finished or not) is either written, in the spill, or in memory.
        #expect(Set(written).count == written.count, "a row was written twice")
        #expect(Set(spillFile).count == spillFile.count, "a row was spilled twice")
        #expect(Set(written).isDisjoint(with: spillFile), "a row was both written and left in the spill")
        #expect(written.count + spillFile.count + machine.bufferedRows == nextRow, "a row went missing")
        #expect(machine.droppedRows == 0)
        if machine.isFinished { #expect(machine.bufferedRows == 0) }
    }
}

/// SplitMix64, so random scenarios are reproducible.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
