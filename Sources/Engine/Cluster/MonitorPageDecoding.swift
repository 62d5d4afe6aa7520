import Dispatch
import LookoutCore
import LookoutFFI

/// One page of `monitors` rows being made into what the loops run, on every core, while the
/// sync thread reads the next page from PostgreSQL (`ClusterMonitorSync.load`).
///
/// The columns are `MonitorPageDecoding.columns`, in that order. Threads: made and waited for on
/// the sync thread; the workers only read the result (a PGresult is read-only once made, so
/// several threads may read it at once) and each writes its own slot of `pieces`.
///
/// A worker puts each monitor it makes straight into the command batch of the monitor's loop:
/// the sync thread passes the batches on without touching a monitor. (When it held each monitor
/// in a row, letting go of the row was the first touch of that object's reference count on
/// another core: 3% of a take-over's CPU.)
final class MonitorPageDecoding: @unchecked Sendable {
    // @unchecked: `result` is only read; each worker writes one slot of `pieces`, which the sync
    // thread reads after `group.wait()`.

    /// The select list every page query uses (`monitors LEFT JOIN monitor_states`: no row =
    /// UNKNOWN); `Row` is read from these positions. `$5` is `defaultHTTPSettings`: a row whose
    /// settings are exactly that document comes back with NULL settings, read as `{}` (every
    /// field at its default, the same monitor). Turning jsonb into text was most of the
    /// database's work on a take-over (~3 µs a row, docs/BENCHMARKS.md "Start-up"); comparing
    /// two jsonb values is not.
    static let columns = """
        monitors.id, monitors.external_id, monitors.url, monitors.method, monitors.interval_seconds,
        monitors.timeout_ms, monitors.connect_timeout_ms,
        CASE WHEN monitors.settings = $5::jsonb THEN NULL ELSE monitors.settings::text END, monitors.shard,
        \(versionExpression), monitors.confirmation_threshold, monitors.recovery_threshold, monitor_states.state
        """

    /// The settings an HTTP monitor with every field at its default is stored with (the importer
    /// and the API write every field, docs/DATABASE.md): most rows of a large fleet.
    static let defaultHTTPSettings = MonitorRecord(Monitor(id: "default", url: "http://default.invalid/")).settingsJSON

    /// What a NULL `settings` column stands for (see `columns`).
    private static let settingsAtDefaults: [UInt8] = Array("{}".utf8)

    /// `updated_at` as epoch µs: what `ClusterMonitorSync` compares to see that a row changed (a
    /// number per running monitor rather than a string of 29 bytes).
    static let versionExpression = "coalesce((extract(epoch FROM monitors.updated_at) * 1000000)::bigint, 0)"

    /// One row, decoded: what the sync thread keeps of it (the monitor went to its loop's batch).
    struct Row {
        var id: Int64
        var shard: Int32
        /// `updated_at` in epoch µs.
        var version: Int64
        /// The loop the monitor belongs to (a stable hash of its id).
        var loop: Int
        /// Set when the row does not describe a valid monitor: logged and not checked.
        var invalid: Invalid?
    }

    struct Invalid {
        var externalId: String
        var reason: String
    }

    /// What one worker made of its share of the page, in page order.
    struct Piece {
        var rows: [Row] = []
        /// Per loop: an upsert for each valid row of that loop.
        var upserts: [[MonitorCommand]]
    }

    /// Rows a worker decodes at least: below this a page is decoded by one worker.
    static let rowsPerWorker = 1_000

    private let result: PostgresResult
    private let group = DispatchGroup()
    private let pieces: UnsafeMutableBufferPointer<Piece>

    /// Starts decoding `result` on up to `parallelism` workers and returns at once.
    /// - Parameters:
    ///   - checkFrom: the hand-over instant the monitors are checked from (nil: from now).
    ///   - loopCount: how many loops the monitors are spread over.
    init(_ result: PostgresResult, checkFrom: Int64?, loopCount: Int, parallelism: Int) {
        self.result = result
        let rowCount = result.rowCount
        let workers = max(1, min(parallelism, rowCount / Self.rowsPerWorker))
        pieces = .allocate(capacity: workers)
        pieces.initialize(repeating: Piece(upserts: []))
        for worker in 0..<workers {
            let range = (rowCount * worker / workers)..<(rowCount * (worker + 1) / workers)
            DispatchQueue.global(qos: .userInitiated).async(group: group) { [self] in
                var piece = Piece(upserts: Array(repeating: [], count: loopCount))
                piece.rows.reserveCapacity(range.count)
                for loop in 0..<loopCount { piece.upserts[loop].reserveCapacity(range.count / loopCount + 16) }
                for row in range {
                    Self.decode(self.result, row: row, checkFrom: checkFrom, loopCount: loopCount, into: &piece)
                }
                pieces[worker] = piece
            }
        }
    }

    deinit {
        group.wait()
        pieces.deinitialize()
        pieces.deallocate()
    }

    /// Waits for the workers and takes what they made, one piece per worker in page order (rows
    /// without an id or shard left out).
    func takePieces() -> [Piece] {
        group.wait()
        var taken: [Piece] = []
        taken.reserveCapacity(pieces.count)
        for worker in pieces.indices {
            var piece = Piece(upserts: [])
            swap(&piece, &pieces[worker])
            taken.append(piece)
        }
        return taken
    }

    private static func decode(
        _ result: PostgresResult, row: Int, checkFrom: Int64?, loopCount: Int, into piece: inout Piece
    ) {
        guard let id = result.int64(row: row, column: 0), let shard = result.int64(row: row, column: 8) else {
            return
        }
        // In cluster mode results carry the database id: the writer and the control plane key
        // everything on it, and the loop is chosen by it as in a standalone run.
        let monitorId = String(id)
        let loop = Int(CheckPhase.stableHash(monitorId) % UInt64(loopCount))
        let version = result.int64(row: row, column: 9) ?? 0
        let columns = StoredMonitorDecoder.Columns(
            externalId: result.string(row: row, column: 1) ?? "",
            url: result.string(row: row, column: 2) ?? "",
            method: result.string(row: row, column: 3) ?? "GET",
            intervalSeconds: result.string(row: row, column: 4).flatMap(Double.init) ?? Monitor.defaultIntervalSeconds,
            timeoutMs: Int(result.int64(row: row, column: 5) ?? Int64(Monitor.defaultTimeoutMs)),
            connectTimeoutMs: Int(result.int64(row: row, column: 6) ?? 5000)
        )
        var decoded = Row(id: id, shard: Int32(truncatingIfNeeded: shard), version: version, loop: loop)
        do {
            let prepared: PreparedMonitor
            var quick = result.withBytes(row: row, column: 7, ifNull: settingsAtDefaults) {
                StoredMonitorDecoder.monitor(columns, settings: $0, checkedAs: monitorId)
            }
            // Taken out, not bound: the validated monitor moves into the prepared one.
            if let validated = quick.take() {
                prepared = PreparedMonitor(validated)
            } else {
                // Anything the quick reader does not know is judged (and a refusal worded) here.
                let record = MonitorRecord(
                    externalId: columns.externalId, url: columns.url, method: columns.method,
                    intervalSeconds: columns.intervalSeconds, timeoutMs: columns.timeoutMs,
                    connectTimeoutMs: columns.connectTimeoutMs,
                    settingsJSON: result.string(row: row, column: 7) ?? "{}")
                var monitor = try record.monitor()
                monitor.id = monitorId
                prepared = try PreparedMonitor(monitor)
            }
            if let failure = result.int64(row: row, column: 10), let recovery = result.int64(row: row, column: 11),
                let thresholds = try? HealthThresholds(failure: Int(failure), recovery: Int(recovery))
            {
                prepared.thresholds = thresholds
            }
            // The confirmed state the control plane recorded (no row = UNKNOWN): a loop that
            // takes the monitor in starts from it, so a hand-over sends no change the monitor
            // did not make.
            prepared.confirmedState =
                result.string(row: row, column: 12).flatMap(MonitorState.init(rawValue:)) ?? .unknown
            prepared.checkFromWallMicros = checkFrom
            piece.upserts[loop].append(.upsert(prepared))
        } catch {
            decoded.invalid = Invalid(externalId: columns.externalId, reason: error.description)
        }
        piece.rows.append(decoded)
    }
}
