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
/// thread, which owns the database connection (libpq blocks; never on a loop thread). Loops get
/// their changes through `CheckLoop.apply`, their own queue + ev_async.
final class ClusterMonitorSync: @unchecked Sendable {
    // @unchecked: `mailbox` is locked; the rest is confined to the sync thread.
    struct Configuration: Sendable {
        var databaseURL: String
        /// Seconds between full reconciles with the database. Default 30.
        var reconcileSeconds: Double = 30
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
    /// Running monitors: database id → (shard, updated_at as text).
    private var running: [Int64: (shard: Int, version: String)] = [:]
    private var reconcileDue = false

    /// Monitors loaded right now (for metrics and tests).
    let monitorCount = Atomic<Int>(0)

    init(configuration: Configuration, loops: [CheckLoop], log: Logger) {
        self.configuration = configuration
        self.loops = loops
        self.log = log
    }

    func start() {
        let thread = Thread { [self] in
            self.run()
            self.finished.signal()
        }
        thread.name = "lookout-cluster-sync"
        thread.start()
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
                let leaving = running.filter { lost.contains($0.value.shard) }.map(\.key)
                remove(leaving)
            }
            if !gained.isEmpty {
                load(where: "shard = ANY($1::int[])", [Self.arrayLiteral(gained.sorted())])
            }
            log.info("owning \(shards.count) shards (+\(gained.count) −\(lost.count)), \(running.count) monitors")
        case .ownedShardsWillChange(let shards, let atWallMicros):
            // Agreed hand-over: the monitors given up are checked until the instant, the gained
            // ones are loaded now and checked from it.
            let lost = ownedShards.subtracting(shards)
            let gained = shards.subtracting(ownedShards)
            ownedShards = shards
            if !lost.isEmpty {
                let leaving = running.filter { lost.contains($0.value.shard) }.map(\.key)
                remove(leaving, atWallMicros: atWallMicros)
            }
            if !gained.isEmpty {
                load(where: "shard = ANY($1::int[])", [Self.arrayLiteral(gained.sorted())], checkFrom: atWallMicros)
            }
            let inMs = (atWallMicros - Clock.wallMicros()) / 1000
            log.info(
                "owning \(shards.count) shards from the hand-over in \(inMs) ms (+\(gained.count) −\(lost.count)), \(running.count) monitors"
            )
        case .monitorsChanged(let changes):
            let ids = Set(changes.compactMap { Int64($0.monitorId) })
            // Re-read them: the row is the truth (a notification may be late or out of order).
            let present = load(where: "id = ANY($1::bigint[])", [Self.arrayLiteral(ids.sorted())])
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
            readable = load(where: "id = ANY($1::bigint[])", [Self.arrayLiteral(notLoaded.sorted())]) != nil
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
        let sql = "SELECT id, shard, updated_at::text FROM monitors WHERE shard = ANY($1::int[]) AND NOT paused"
        guard let result = query(sql, [Self.arrayLiteral(ownedShards.sorted())]) else { return }
        var stored: [Int64: (shard: Int, version: String)] = [:]
        for row in 0..<result.rowCount {
            guard let id = result.int64(row: row, column: 0), let shard = result.int64(row: row, column: 1) else {
                continue
            }
            stored[id] = (Int(shard), result.string(row: row, column: 2) ?? "")
        }
        remove(running.keys.filter { stored[$0] == nil })
        let changed = stored.filter { running[$0.key]?.version != $0.value.version }.map(\.key)
        if !changed.isEmpty {
            load(where: "id = ANY($1::bigint[])", [Self.arrayLiteral(changed.sorted())])
        }
    }

    /// Loads the monitors matching `condition` among the owned shards and upserts them into
    /// their loops, each with the confirmed state the control plane recorded for it
    /// (`monitor_states`; no row = UNKNOWN): a loop that takes a monitor in starts from that
    /// state, so a hand-over sends no state change the monitor did not make. Returns the ids
    /// found (nil when the database could not be read).
    @discardableResult
    private func load(where condition: String, _ parameters: [String?], checkFrom: Int64? = nil) -> Set<Int64>? {
        let sql = """
            SELECT id, external_id, url, method, interval_seconds, timeout_ms, connect_timeout_ms,
                   settings::text, shard, updated_at::text, confirmation_threshold, recovery_threshold,
                   (SELECT state FROM monitor_states WHERE monitor_states.monitor_id = monitors.id)
            FROM monitors
            WHERE \(condition) AND shard = ANY($2::int[]) AND NOT paused
            """
        guard let result = query(sql, parameters + [Self.arrayLiteral(ownedShards.sorted())]) else { return nil }
        var found: Set<Int64> = []
        var commands = Array(repeating: [MonitorCommand](), count: loops.count)
        for row in 0..<result.rowCount {
            guard let id = result.int64(row: row, column: 0), let shard = result.int64(row: row, column: 8) else {
                continue
            }
            found.insert(id)
            let record = MonitorRecord(
                externalId: result.string(row: row, column: 1) ?? "",
                url: result.string(row: row, column: 2) ?? "",
                method: result.string(row: row, column: 3) ?? "GET",
                intervalSeconds: Double(result.string(row: row, column: 4) ?? "") ?? Monitor.defaultIntervalSeconds,
                timeoutMs: Int(result.int64(row: row, column: 5) ?? Int64(Monitor.defaultTimeoutMs)),
                connectTimeoutMs: Int(result.int64(row: row, column: 6) ?? 5000),
                settingsJSON: result.string(row: row, column: 7) ?? "{}"
            )
            do {
                var monitor = try record.monitor()
                // In cluster mode results carry the database id: the writer and the control
                // plane key everything on it.
                monitor.id = String(id)
                let prepared = try PreparedMonitor(monitor)
                if let failure = result.int64(row: row, column: 10), let recovery = result.int64(row: row, column: 11),
                    let thresholds = try? HealthThresholds(failure: Int(failure), recovery: Int(recovery))
                {
                    prepared.thresholds = thresholds
                }
                prepared.confirmedState =
                    result.string(row: row, column: 12).flatMap(MonitorState.init(rawValue:)) ?? .unknown
                prepared.checkFromWallMicros = checkFrom
                commands[loopIndex(for: monitor.id)].append(.upsert(prepared))
                running[id] = (Int(shard), result.string(row: row, column: 9) ?? "")
            } catch {
                log.warning("monitor \(id) (\(record.externalId)) is invalid and not checked: \(error.description)")
                if running[id] != nil { commands[loopIndex(for: String(id))].append(.remove(id: String(id))) }
                running[id] = nil
            }
        }
        for (index, batch) in commands.enumerated() { loops[index].apply(batch) }
        monitorCount.store(running.count, ordering: .relaxed)
        return found
    }

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
                connection = try PostgresConnection(
                    url: configuration.databaseURL,
                    applicationName: "lookout-engine-sync"
                )
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
