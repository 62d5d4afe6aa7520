import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

/// Keeps the check loops' monitors equal to "the monitors of the shards this engine owns" as
/// stored in PostgreSQL. It acts on the coordinator's events (owned shards changed, monitor
/// change notifications, notifications resumed after a Redis disconnect) and on a periodic
/// reconcile that catches anything a notification missed. It also routes "check now" requests
/// to the loop of their monitor: it is the one place that knows which monitors are loaded, and
/// handling them in the same queue as the changes keeps their order.
///
/// Threads: `deliver` from any thread (the coordinator's); everything else runs on the sync
/// thread, which owns the database connection (libpq blocks; never on a loop thread), except
/// the decoding of loaded pages, which runs on Dispatch's workers and reads nothing but the
/// page's result (`MonitorPageDecoding`). Loops get their changes through `CheckLoop.apply`,
/// their own queue + ev_async.
final class ClusterMonitorSync: @unchecked Sendable {
    // @unchecked: `mailbox` is locked; the rest is confined to the sync thread.
    struct Configuration: Sendable {
        var databaseURL: String
        /// Seconds between full reconciles with the database. Default 30.
        var reconcileSeconds: Double = 30
        /// Rows read per query when monitors are loaded (keyset pages on `id`). Each page goes to
        /// the loops as soon as it is decoded, so a take-over of a million monitors starts
        /// checking after its first page, and the engine never holds more than about two pages
        /// of rows (a page of 20,000 is some 8 MB of libpq result). Default 20,000.
        var pageRows: Int = 20_000
        /// Rows of the first page of a load, smaller so the first checks start sooner.
        /// Default 2,000 (never more than `pageRows`).
        var firstPageRows: Int = 2_000
        /// Workers that decode a page (parse `settings`, validate, prepare) while the next one
        /// is read. Default: one per core.
        var decodeParallelism: Int = MonitorFile.defaultParallelism
        /// Called on the sync thread after each page of a load went to the loops, with the
        /// database ids of its rows in page order (tests and progress reports; nil: nothing).
        var pageHandedOver: (@Sendable ([Int64]) -> Void)? = nil
    }

    /// A loaded monitor, as the reconcile compares it with its row.
    private struct RunningMonitor {
        var shard: Int32
        /// `monitors.updated_at` in epoch µs (`MonitorPageDecoding.versionExpression`).
        var version: Int64
    }

    private struct Mailbox {
        var events: [ClusterCoordinator.Event] = []
        var stop = false
    }

    private let configuration: Configuration
    private let loops: [CheckLoop]
    private let log: Logger
    private let mailbox = Mutex(Mailbox())
    private let signal = NSCondition()
    private let finished = DispatchSemaphore(value: 0)

    // Sync-thread state.
    private var connection: PostgresConnection?
    private var ownedShards: Set<Int> = []
    /// Running monitors by database id.
    private var running: [Int64: RunningMonitor] = [:]
    private var reconcileDue = false

    /// Monitors loaded right now (for metrics and tests).
    let monitorCount = Atomic<Int>(0)

    init(configuration: Configuration, loops: [CheckLoop], log: Logger) {
        self.configuration = configuration
        self.loops = loops
        self.log = log
    }

    func start() {
        NamedThread.start("lookout-sync") { [self] in
            self.run()
            self.finished.signal()
        }
    }

    /// Thread-safe hand-off from the coordinator thread; never blocks on the database.
    func deliver(_ event: ClusterCoordinator.Event) {
        mailbox.withLock { $0.events.append(event) }
        signal.lock()
        signal.signal()
        signal.unlock()
    }

    func stop() {
        mailbox.withLock { $0.stop = true }
        signal.lock()
        signal.signal()
        signal.unlock()
        finished.wait()
    }

    // MARK: sync thread

    private func run() {
        var nextReconcile = Date().addingTimeInterval(configuration.reconcileSeconds)
        while true {
            let (events, stop) = mailbox.withLock { box -> ([ClusterCoordinator.Event], Bool) in
                defer { box.events.removeAll() }
                return (box.events, box.stop)
            }
            if stop { return }
            for event in events { handle(event) }
            if reconcileDue || Date() >= nextReconcile {
                reconcileDue = false
                reconcile()
                nextReconcile = Date().addingTimeInterval(configuration.reconcileSeconds)
            }
            signal.lock()
            if mailbox.withLock({ $0.events.isEmpty && !$0.stop }) {
                _ = signal.wait(until: min(nextReconcile, Date().addingTimeInterval(reconcileDue ? 1 : 3600)))
            }
            signal.unlock()
        }
    }

    private func handle(_ event: ClusterCoordinator.Event) {
        switch event {
        case .ownedShardsChanged(let shards):
            let lost = ownedShards.subtracting(shards)
            let gained = shards.subtracting(ownedShards)
            ownedShards = shards
            if !lost.isEmpty {
                let leaving = running.filter { lost.contains(Int($0.value.shard)) }.map(\.key)
                remove(leaving)
            }
            if !gained.isEmpty {
                reserveRoom(forShards: gained.count)
                load(
                    where: "monitors.shard = ANY($1::smallint[])", [Self.arrayLiteral(gained.sorted())],
                    collectingIds: false)
            }
            log.info("owning \(shards.count) shards (+\(gained.count) −\(lost.count)), \(running.count) monitors")
        case .ownedShardsWillChange(let shards, let atWallMicros):
            // Agreed hand-over: the monitors given up are checked until the instant, the gained
            // ones are loaded now and checked from it.
            let lost = ownedShards.subtracting(shards)
            let gained = shards.subtracting(ownedShards)
            ownedShards = shards
            if !lost.isEmpty {
                let leaving = running.filter { lost.contains(Int($0.value.shard)) }.map(\.key)
                remove(leaving, atWallMicros: atWallMicros)
            }
            if !gained.isEmpty {
                reserveRoom(forShards: gained.count)
                load(
                    where: "monitors.shard = ANY($1::smallint[])", [Self.arrayLiteral(gained.sorted())],
                    checkFrom: atWallMicros,
                    collectingIds: false)
            }
            let inMs = (atWallMicros - Clock.wallMicros()) / 1000
            log.info(
                "owning \(shards.count) shards from the hand-over in \(inMs) ms (+\(gained.count) −\(lost.count)), \(running.count) monitors"
            )
        case .monitorsChanged(let changes):
            let ids = Set(changes.compactMap { Int64($0.monitorId) })
            // Re-read them: the row is the truth (a notification may be late or out of order).
            let present = load(where: "monitors.id = ANY($1::bigint[])", [Self.arrayLiteral(ids.sorted())])
            if let present { remove(ids.filter { !present.contains($0) && running[$0] != nil }) }
        case .monitorNotificationsResumed:
            reconcileDue = true
        case .checksRequested(let requests):
            checkNow(requests)
        }
    }

    /// Asks the loops to check these monitors at once. A monitor that is not loaded yet (created
    /// a moment ago, its change notification still on its way) is loaded from the database first;
    /// one that is not there (paused, deleted, invalid, or in a shard this engine does not own)
    /// is not checked, and the log names the request.
    private func checkNow(_ requests: [CheckRequest]) {
        let notLoaded = Set(requests.compactMap { Int64($0.monitorId) }.filter { running[$0] == nil })
        var readable = true
        if !notLoaded.isEmpty {
            readable = load(where: "monitors.id = ANY($1::bigint[])", [Self.arrayLiteral(notLoaded.sorted())]) != nil
        }
        var commands = Array(repeating: [MonitorCommand](), count: loops.count)
        for request in requests {
            guard let id = Int64(request.monitorId), running[id] != nil else {
                let reason =
                    readable
                    ? "it is paused, deleted, invalid or not in a shard of this engine"
                    : "the database could not be read"
                log.info("check request \(request.requestId) for monitor \(request.monitorId) not run: \(reason)")
                continue
            }
            commands[loopIndex(for: request.monitorId)].append(.checkNow(id: request.monitorId))
        }
        // After the upserts `load` queued: each loop applies its commands in order.
        for (index, batch) in commands.enumerated() { loops[index].apply(batch) }
    }

    /// Compares the running set with the database and fixes every difference.
    private func reconcile() {
        guard !ownedShards.isEmpty else {
            remove(Array(running.keys))
            return
        }
        let sql = """
            SELECT id, shard, \(MonitorPageDecoding.versionExpression)
            FROM monitors WHERE shard = ANY($1::smallint[]) AND NOT paused
            """
        guard let result = query(sql, [Self.arrayLiteral(ownedShards.sorted())]) else { return }
        var stored: [Int64: RunningMonitor] = [:]
        stored.reserveCapacity(result.rowCount)
        for row in 0..<result.rowCount {
            guard let id = result.int64(row: row, column: 0), let shard = result.int64(row: row, column: 1) else {
                continue
            }
            stored[id] = RunningMonitor(
                shard: Int32(truncatingIfNeeded: shard), version: result.int64(row: row, column: 2) ?? 0)
        }
        remove(running.keys.filter { stored[$0] == nil })
        let changed = stored.filter { running[$0.key]?.version != $0.value.version }.map(\.key)
        if !changed.isEmpty {
            load(where: "monitors.id = ANY($1::bigint[])", [Self.arrayLiteral(changed.sorted())])
        }
    }

    // Shard lists are bound as smallint[], the column's type: PostgreSQL hashes `= ANY(array)`
    // only when both sides share a hash function, and `smallint = ANY(int[])` scanned the 1,024
    // owned shards for every row (4 s of server CPU per 200,000 rows here, 0.16 s hashed).

    /// Loads the monitors matching `condition` (on `monitors.` columns) among the owned shards and upserts them into
    /// their loops, each with the confirmed state the control plane recorded for it
    /// (`monitor_states`; no row = UNKNOWN): a loop that takes a monitor in starts from that
    /// state, so a hand-over sends no state change the monitor did not make. Returns the ids
    /// found (empty unless `collectingIds`: a take-over of a million rows needs no such set;
    /// nil when the database could not be read: the pages read before stay loaded and the
    /// reconcile that follows loads the rest).
    ///
    /// Streaming: the rows come in keyset pages on `id` (`pageRows`); while the sync thread
    /// reads a page, the previous one is decoded on every core (`MonitorPageDecoding`), then
    /// handed to the loops, which check its monitors while the rest is read. Events that arrive
    /// meanwhile wait in the mailbox and are handled, in order, after the load: each re-reads
    /// its rows, so a change to a row already loaded is applied then, and a row read after the
    /// change was committed is read with it.
    @discardableResult
    private func load(
        where condition: String, _ parameters: [String?], checkFrom: Int64? = nil, collectingIds: Bool = true
    ) -> Set<Int64>? {
        let sql = """
            SELECT \(MonitorPageDecoding.columns)
            FROM monitors LEFT JOIN monitor_states ON monitor_states.monitor_id = monitors.id
            WHERE \(condition) AND monitors.shard = ANY($2::smallint[]) AND NOT monitors.paused
                AND monitors.id > $3::bigint
            ORDER BY monitors.id
            LIMIT $4::int
            """
        let shards = Self.arrayLiteral(ownedShards.sorted())
        let pageRows = max(1, configuration.pageRows)
        var limit = max(1, min(configuration.firstPageRows, pageRows))
        var after = Int64.min
        var found: Set<Int64> = []
        var decoding: MonitorPageDecoding?
        while true {
            let result = query(
                sql, parameters + [shards, String(after), String(limit), MonitorPageDecoding.defaultHTTPSettings])
            // The previous page was decoded while this one was read: its monitors go first,
            // handed over while the workers already decode this one.
            let decoded = decoding?.takePieces()
            decoding = nil
            guard let result else {
                if let decoded { handOver(decoded, found: &found, collectingIds: collectingIds) }
                return nil
            }
            let rowCount = result.rowCount
            guard rowCount > 0, let last = result.int64(row: rowCount - 1, column: 0) else {
                if let decoded { handOver(decoded, found: &found, collectingIds: collectingIds) }
                break
            }
            let page = MonitorPageDecoding(
                result, checkFrom: checkFrom, loopCount: loops.count, parallelism: configuration.decodeParallelism)
            if let decoded { handOver(decoded, found: &found, collectingIds: collectingIds) }
            if rowCount < limit {
                handOver(page.takePieces(), found: &found, collectingIds: collectingIds)
                break
            }
            decoding = page
            after = last
            limit = pageRows
        }
        return found
    }

    /// Upserts a decoded page into the loops (an invalid row is logged and, if it was loaded,
    /// removed) and records what runs.
    private func handOver(_ pieces: [MonitorPageDecoding.Piece], found: inout Set<Int64>, collectingIds: Bool) {
        var removals = Array(repeating: [MonitorCommand](), count: loops.count)
        for piece in pieces {
            for row in piece.rows {
                if collectingIds { found.insert(row.id) }
                if let invalid = row.invalid {
                    log.warning(
                        "monitor \(row.id) (\(invalid.externalId)) is invalid and not checked: \(invalid.reason)")
                    if running[row.id] != nil { removals[row.loop].append(.remove(id: String(row.id))) }
                    running[row.id] = nil
                } else {
                    running[row.id] = RunningMonitor(shard: row.shard, version: row.version)
                }
            }
            // The workers' batches go on as they are (an id is in a page once, so upserts and
            // removals of one page never meet).
            for (loop, upserts) in piece.upserts.enumerated() { loops[loop].apply(upserts) }
        }
        for (loop, batch) in removals.enumerated() { loops[loop].apply(batch) }
        monitorCount.store(running.count, ordering: .relaxed)
        if let pageHandedOver = configuration.pageHandedOver {
            pageHandedOver(pieces.flatMap { $0.rows.map(\.id) })
        }
    }

    /// Before a load of `shards` gained shards: tells the loops (and the running map) about how
    /// many monitors are coming, from PostgreSQL's row estimate for `monitors` (free to read; a
    /// `count(*)` of a million rows costs ~0.4 s), so their tables grow once. An estimate that is
    /// missing (never analysed) or small changes nothing; one that is off only sizes the room.
    private func reserveRoom(forShards shards: Int) {
        guard
            let result = query("SELECT reltuples::bigint FROM pg_class WHERE oid = 'monitors'::regclass", []),
            result.rowCount == 1, let estimate = result.int64(row: 0, column: 0), estimate > 0
        else { return }
        let coming = Int(Double(estimate) * Double(shards) / Double(ClusterContract.shardCount))
        guard coming >= Self.reserveThreshold else { return }
        running.reserveCapacity(running.count + coming)
        let perLoop = coming / max(loops.count, 1) + coming / max(loops.count, 1) / 16
        for loop in loops { loop.apply([.reserve(monitors: perLoop)]) }
    }

    /// Below this many monitors, growing step by step costs less than a guess could waste.
    private static let reserveThreshold = 10_000

    /// Stops checking `ids`: at once, or (a hand-over) from their first due time at or after
    /// `atWallMicros`.
    private func remove(_ ids: some Collection<Int64>, atWallMicros: Int64? = nil) {
        guard !ids.isEmpty else { return }
        var commands = Array(repeating: [MonitorCommand](), count: loops.count)
        for id in ids {
            running[id] = nil
            let command: MonitorCommand =
                atWallMicros.map { .retire(id: String(id), atWallMicros: $0) } ?? .remove(id: String(id))
            commands[loopIndex(for: String(id))].append(command)
        }
        for (index, batch) in commands.enumerated() { loops[index].apply(batch) }
        monitorCount.store(running.count, ordering: .relaxed)
    }

    /// The same placement as a standalone run: a stable hash of the id.
    private func loopIndex(for id: String) -> Int {
        Int(CheckPhase.stableHash(id) % UInt64(loops.count))
    }

    private func query(_ sql: String, _ parameters: [String?]) -> PostgresResult? {
        do {
            if connection == nil || connection?.isHealthy == false {
                let fresh = try PostgresConnection(
                    url: configuration.databaseURL,
                    applicationName: "lookout-engine-sync"
                )
                // Pages are short index scans: compiling them (JIT) took 35-50 ms a page here
                // and parallel workers added a gather, for nothing (docs/BENCHMARKS.md, start-up).
                try fresh.executeScript(
                    "SET jit = off; SET max_parallel_workers_per_gather = 0", operation: "configure the session")
                connection = fresh
            }
            return try connection!.execute(sql, parameters, operation: "load monitors")
        } catch {
            log.warning("reading monitors failed, retrying: \(error.description)")
            connection = nil
            reconcileDue = true
            return nil
        }
    }

    private static func arrayLiteral(_ values: [some BinaryInteger]) -> String {
        "{" + values.map { String($0) }.joined(separator: ",") + "}"
    }
}
