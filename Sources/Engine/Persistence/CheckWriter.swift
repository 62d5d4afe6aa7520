import Foundation
import Logging
import LookoutCore
import LookoutFFI

/// The COPY batch writer: takes result batches from the results pipeline and gets every one of
/// them into `checks` exactly once, on a thread of its own (never a loop thread).
///
/// This class is the I/O shell; every decision (when to flush, retry, spill, drain, stop) is
/// made by `CheckWriterStateMachine`. The shell:
/// - takes batches from `submit` (any thread, one lock per batch), gives each result its check
///   id and resolves its monitor's database id (`MonitorIdDirectory`) — once, on arrival, so
///   retries and spill replays carry the same ids;
/// - carries out the machine's actions: COPY a batch (`CheckTableWriter`), append rows to or
///   load a chunk from the spill directory (`SpillDirectory`), wait;
/// - keeps partitions ahead (hourly `lookout_ensure_check_partitions()`, plus retention when
///   configured) and publishes its figures (`statistics`).
///
/// Connecting uses libpq's blocking connect on this thread: a `host=` that is a name costs a
/// blocking DNS lookup here, never on a loop thread.
final class CheckWriter: @unchecked Sendable {
    // @unchecked: `inbox`, `closeRequested` and `finished` are guarded by `condition`; the
    // machine, table writer, spill directory, encoder and id generator are used only by the
    // writer's thread (after `start()`); `statistics` is itself thread-safe.

    /// Settings of the writer (flags of `lookout-engine run`, see `RunCommand`).
    struct Configuration: Sendable {
        /// libpq connection URI (`--database`).
        var databaseURL: String
        /// Rows per COPY batch (`--db-batch-rows`). Default 5,000; 1 ... 1,000,000.
        var batchRows = 5000
        /// Longest a result waits before a smaller batch is written, ms (`--db-batch-ms`).
        /// Default 500; 1 ... 600,000.
        var batchMilliseconds = 500
        /// Rows held in memory while the database is away before they spill to disk
        /// (`--db-buffer-rows`). Default 1,000,000; at least `batchRows`.
        var bufferRows = 1_000_000
        /// Where rows go when memory is full (`--spill-dir`). Default `.lookout-spill` in the
        /// working directory; made only when the first row spills.
        var spillDirectory = ".lookout-spill"
        /// How long closing may keep draining the spill directory, ms. Default 10,000.
        var closeDrainMilliseconds = 10_000
        /// Drop check partitions older than this many days, hourly (`--retention-days`).
        /// Default nil: keep everything.
        var retentionDays: Int?
        /// `checks.engine_id` of every row. Default: the instance id in hex.
        var engineId: String?
        /// Seconds between partition maintenance runs. Default 3,600.
        var maintenanceIntervalSeconds = 3600
        /// Rows per spill segment file. Default 100,000.
        var spillSegmentRows = 100_000

        init(databaseURL: String) {
            self.databaseURL = databaseURL
        }

        /// Checks every value against its documented range.
        func validate() throws(EngineError) {
            if !(1...1_000_000).contains(batchRows) {
                throw .invalidOption(name: "--db-batch-rows", reason: "must be 1...1000000")
            }
            if !(1...600_000).contains(batchMilliseconds) {
                throw .invalidOption(name: "--db-batch-ms", reason: "must be 1...600000")
            }
            if bufferRows < batchRows || bufferRows > 100_000_000 {
                throw .invalidOption(
                    name: "--db-buffer-rows",
                    reason: "must be at least --db-batch-rows (\(batchRows)) and at most 100000000"
                )
            }
            if let retentionDays, !(1...36_500).contains(retentionDays) {
                throw .invalidOption(name: "--retention-days", reason: "must be 1...36500")
            }
            if spillDirectory.isEmpty { throw .invalidOption(name: "--spill-dir", reason: "must not be empty") }
        }

        var machineConfiguration: CheckWriterStateMachine<CheckRow>.Configuration {
            var configuration = CheckWriterStateMachine<CheckRow>.Configuration()
            configuration.batchRows = batchRows
            configuration.batchAgeMicros = Int64(batchMilliseconds) * 1000
            configuration.bufferRows = bufferRows
            configuration.closeDrainMicros = Int64(closeDrainMilliseconds) * 1000
            return configuration
        }
    }

    let configuration: Configuration
    let statistics = CheckWriterStatistics()
    /// The random engine-instance half of every check id this writer assigns.
    let instance: UInt64

    private let directory: MonitorIdDirectory
    private let log: Logger
    private let condition = NSCondition()
    private var inbox: [[CheckResult]] = []
    private var closeRequested = false
    private var started = false
    private var finished = false

    private var machine: CheckWriterStateMachine<CheckRow>
    private let table: CheckTableWriter
    private let spill: SpillDirectory
    private let encoder: CheckRowEncoder
    private let binaryEncoder: CheckRowBinaryEncoder
    private var ids: CheckIDGenerator
    private var encoded: [UInt8] = []
    /// The spill chunk being written (the machine only knows its row count).
    private var spillChunk: SpillDirectory.Chunk?
    private var nextMaintenance: Int64 = 0
    private var unknownMonitorIds = Set<String>()
    private var droppedUnknownMonitor = 0
    private var lastFailureLog = ""

    /// Prepares the writer: checks the spill directory and counts rows a previous run left in
    /// it (drained first). Does not connect yet.
    init(
        configuration: Configuration,
        directory: MonitorIdDirectory,
        log: Logger,
        hooks: CheckTableWriter.Hooks = CheckTableWriter.Hooks(),
        instance: UInt64 = UInt64.random(in: .min ... .max)
    ) throws(EngineError) {
        try configuration.validate()
        self.configuration = configuration
        self.directory = directory
        self.log = log
        self.instance = instance
        self.ids = CheckIDGenerator(instance: instance)
        self.encoder = CheckRowEncoder(engineId: configuration.engineId ?? ids.instanceHex)
        self.binaryEncoder = CheckRowBinaryEncoder(engineId: configuration.engineId ?? ids.instanceHex)
        self.table = CheckTableWriter(url: configuration.databaseURL, hooks: hooks)
        do {
            self.spill = try SpillDirectory(
                path: configuration.spillDirectory,
                instance: ids.instanceHex,
                segmentRows: configuration.spillSegmentRows
            )
        } catch {
            throw .invalidOption(name: "--spill-dir", reason: error.description)
        }
        let leftOver = spill.scan()
        self.machine = CheckWriterStateMachine(
            configuration: configuration.machineConfiguration,
            spilledRows: leftOver,
            jitterSeed: instance
        )
        if leftOver > 0 {
            log.info(
                "\(leftOver) check rows left in \(configuration.spillDirectory) by an earlier run will be written first"
            )
        }
        statistics.update { $0.spilledRows = leftOver }
    }

    /// Starts the writer's thread.
    func start() {
        condition.lock()
        started = true
        condition.unlock()
        NamedThread.start("lookout-db") { [self] in self.run() }
    }

    /// Hands over a batch of results (any thread; one lock per batch).
    func submit(_ batch: [CheckResult]) {
        guard !batch.isEmpty else { return }
        condition.lock()
        inbox.append(batch)
        condition.signal()
        condition.unlock()
    }

    /// Writes (or spills) everything submitted so far, stops the thread and returns the final
    /// figures. Blocks the caller: at most the close-drain time plus one batch when the database
    /// works, about one write attempt when it does not.
    @discardableResult
    func close() -> CheckWriterFigures {
        condition.lock()
        closeRequested = true
        condition.broadcast()
        while started && !finished { condition.wait() }
        condition.unlock()
        return statistics.snapshot
    }

    // MARK: the writer's thread

    private func run() {
        var closeDelivered = false
        loop: while true {
            let now = Clock.monotonicMicros()
            let (batches, close) = takeInbox()
            intake(batches, now: now)
            if close && !closeDelivered {
                closeDelivered = true
                machine.requestClose(now: now)
            }
            let action = machine.nextAction(now: now)
            switch action {
            case .write(let batch):
                perform(batch)
            case .spill(let rows):
                spillRows(rows)
            case .loadSpill(let maxRows):
                loadSpill(maxRows: maxRows)
            case .wait(let until):
                publish()
                if !machine.isFailing && now >= nextMaintenance { maintain(now: now) }
                let wakeAt = min(until ?? .max, machine.isFailing ? .max : nextMaintenance)
                waitForWork(until: wakeAt, closeDelivered: closeDelivered)
            case .finish:
                break loop
            }
        }
        table.disconnect()
        spill.close()
        publish()
        if spill.truncatedRows > 0 {
            log.error(
                "\(spill.truncatedRows) spilled check row(s) were torn by an earlier crash and could not be replayed"
            )
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func takeInbox() -> ([[CheckResult]], Bool) {
        condition.lock()
        defer { condition.unlock() }
        let batches = inbox
        inbox.removeAll(keepingCapacity: true)
        return (batches, closeRequested)
    }

    private func waitForWork(until deadline: Int64, closeDelivered: Bool) {
        condition.lock()
        defer { condition.unlock() }
        while inbox.isEmpty && (closeDelivered || !closeRequested) {
            let now = Clock.monotonicMicros()
            if now >= deadline { return }
            let seconds = deadline == .max ? 3600 : Double(deadline - now) / 1_000_000
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
    }

    /// Gives each result its check id and database monitor id, and queues it in the machine.
    private func intake(_ batches: [[CheckResult]], now: Int64) {
        guard !batches.isEmpty else { return }
        var received = 0
        var dropped = 0
        for batch in batches {
            received += batch.count
            let monitorIds = directory.resolve(batch.map(\.monitorId))
            var rows: [CheckRow] = []
            rows.reserveCapacity(batch.count)
            for (result, monitorId) in zip(batch, monitorIds) {
                guard let monitorId else {
                    dropped += 1
                    if unknownMonitorIds.count < 20, unknownMonitorIds.insert(result.monitorId).inserted {
                        log.error("check of monitor '\(result.monitorId)' dropped: the monitor has no database id")
                    }
                    continue
                }
                rows.append(CheckRow(checkId: result.checkId ?? ids.make(), monitorId: monitorId, result: result))
            }
            machine.enqueue(rows, now: now)
        }
        droppedUnknownMonitor += dropped
        statistics.update { $0.rowsReceived += received }
    }

    private func perform(_ batch: CheckWriterStateMachine<CheckRow>.Batch) {
        let started = Clock.monotonicMicros()
        let data: [UInt8]
        let days: Set<String>
        switch batch.source {
        case .memory:
            encoded.removeAll(keepingCapacity: true)
            encoded.append(contentsOf: CheckRowBinaryEncoder.header)
            var dayNumbers = Set<Int64>()
            var lastDay = Int64.min
            for row in batch.rows {
                binaryEncoder.append(row, to: &encoded)
                let day = Self.floorDivide(row.result.checkedAtMs, 86_400_000)
                if day != lastDay {
                    dayNumbers.insert(day)
                    lastDay = day
                }
            }
            encoded.append(contentsOf: CheckRowBinaryEncoder.trailer)
            data = encoded
            days = Set(dayNumbers.map { CheckRowEncoder.day(epochMilliseconds: $0 * 86_400_000) })
        case .spill:
            data = spillChunk?.bytes ?? []
            days = spillChunk?.days ?? []
        }
        do {
            // Fresh rows on their first attempt cannot be in the table yet (see CheckTableWriter).
            let inserted = try table.write(
                data,
                format: batch.source == .memory ? .binary : .text,
                rows: batch.count,
                days: days,
                deduplicate: batch.source == .spill || batch.attempt > 1,
                attempt: batch.attempt
            )
            let elapsed = Clock.monotonicMicros() - started
            if machine.isFailing {
                log.info(
                    "database writes work again after \(machine.consecutiveFailures) failed attempt(s); \(machine.bufferedRows) rows in memory, \(machine.spilledRows) spilled"
                )
                lastFailureLog = ""
            }
            if batch.source == .spill, let chunk = spillChunk {
                spill.acknowledge(chunk)
                spillChunk = nil
            }
            machine.writeSucceeded(now: Clock.monotonicMicros())
            statistics.update {
                $0.rowsWritten += inserted
                $0.rowsDuplicate += batch.count - inserted
                $0.batches += 1
                $0.lastBatchRows = batch.count
                $0.connected = true
                $0.recordLatency(micros: elapsed)
            }
        } catch {
            machine.writeFailed(now: Clock.monotonicMicros())
            statistics.update {
                $0.writeErrors += 1
                $0.connected = false
            }
            let message = error.logDescription
            let failures = machine.consecutiveFailures
            if message != lastFailureLog || failures % 50 == 0 {
                log.warning(
                    "writing \(batch.count) check rows failed (attempt \(batch.attempt)): \(message); retrying with back-off, nothing is lost"
                )
                lastFailureLog = message
            }
        }
        publish()
    }

    private func spillRows(_ rows: [CheckRow]) {
        encoded.removeAll(keepingCapacity: true)
        for row in rows { encoder.append(row, to: &encoded) }
        do {
            try spill.append(encoded, rows: rows.count)
            if machine.spilledRowsTotal == 0 {
                log.warning(
                    "more than \(configuration.bufferRows) check rows waiting for the database (--db-buffer-rows): spilling the oldest to \(configuration.spillDirectory)"
                )
            }
            machine.spillSucceeded(now: Clock.monotonicMicros())
        } catch {
            log.error("\(rows.count) check rows LOST: \(error.description)")
            machine.spillFailed(now: Clock.monotonicMicros())
        }
        publish()
    }

    private func loadSpill(maxRows: Int) {
        do {
            spillChunk = try spill.loadChunk(maxRows: maxRows)
        } catch {
            log.error("cannot read the spill directory: \(error.description)")
            spillChunk = nil
        }
        machine.spillLoaded(rows: spillChunk?.rows ?? 0, now: Clock.monotonicMicros())
    }

    private func maintain(now: Int64) {
        do {
            let (created, dropped) = try table.maintain(retentionDays: configuration.retentionDays)
            if created > 0 || dropped > 0 {
                log.info(
                    "check partitions: \(created) created, \(dropped) dropped (retention \(configuration.retentionDays.map(String.init) ?? "off"))"
                )
            }
            nextMaintenance = now + Int64(configuration.maintenanceIntervalSeconds) * 1_000_000
        } catch {
            log.warning("partition maintenance failed: \(error.logDescription); retrying in a minute")
            nextMaintenance = now + 60_000_000
        }
    }

    private func publish() {
        let buffered = machine.bufferedRows
        let spilled = machine.spilledRows
        let spilledTotal = machine.spilledRowsTotal
        let dropped = machine.droppedRows + spill.truncatedRows + droppedUnknownMonitor
        statistics.update {
            $0.bufferedRows = buffered
            $0.spilledRows = spilled
            $0.spilledRowsTotal = spilledTotal
            $0.droppedRows = dropped
        }
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}
