import LookoutCore
import LookoutFFI

/// Writes batches of check rows into `checks` on one connection (the writer's thread only).
///
/// One batch, one transaction:
///
///     BEGIN;
///     COPY checks_staging (check_id, ...) FROM STDIN (FORMAT binary);  -- TEMP table of this connection
///     INSERT INTO checks (...) SELECT ... FROM checks_staging ON CONFLICT DO NOTHING;
///     COMMIT;                                                          -- staging is emptied ON COMMIT
///
/// so a batch that is retried after any failure (even one after the COMMIT reached the server)
/// inserts each check id at most once. The first attempt of a batch of fresh rows (ids this
/// process assigned and never sent before) cannot meet its own rows, so it may skip the
/// conflict arbitration (`deduplicate: false`): a plain INSERT is cheaper for the server; every
/// retry and every spill replay deduplicates. (Should a plain INSERT ever meet a duplicate, it
/// fails with a unique violation and its retry deduplicates.) Before a batch whose rows fall on a UTC day not yet seen,
/// the day's partition is created if missing (`lookout_create_check_partitions`). The connection
/// is opened lazily and dropped after any failure that may have broken it.
final class CheckTableWriter {
    /// Test seams (see the persistence tests): called on the writer's thread.
    struct Hooks: Sendable {
        /// Before a write touches the database; returning false fails it as if the database were
        /// away (nothing is sent).
        var beforeWrite: (@Sendable (_ attempt: Int) -> Bool)?
        /// After COPY and INSERT, before COMMIT, with the backend's PID (tests terminate it here).
        var beforeCommit: (@Sendable (_ backendPID: Int32, _ attempt: Int) -> Void)?
        /// After COMMIT succeeded; returning false reports the batch as failed anyway (an
        /// acknowledgement lost on the way back), so it is retried.
        var afterCommit: (@Sendable (_ attempt: Int) -> Bool)?

        init() {}
    }

    private let url: String
    private let hooks: Hooks
    private var connection: PostgresConnection?
    private var knownDays = Set<String>()

    private static let createStaging = """
        CREATE TEMP TABLE IF NOT EXISTS checks_staging (LIKE checks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
        """
    private static let copyTextSQL = "COPY checks_staging (\(CheckRowEncoder.copyColumnList)) FROM STDIN"
    private static let copyBinarySQL =
        "COPY checks_staging (\(CheckRowEncoder.copyColumnList)) FROM STDIN (FORMAT binary)"
    private static let insertSQL = """
        INSERT INTO checks (\(CheckRowEncoder.copyColumnList))
        SELECT \(CheckRowEncoder.copyColumnList) FROM checks_staging
        """
    private static let insertDeduplicatingSQL = insertSQL + " ON CONFLICT DO NOTHING"

    /// The encoding of a batch's bytes.
    enum Format: Sendable {
        /// COPY text lines (`CheckRowEncoder`): spill chunks.
        case text
        /// Binary COPY with header and trailer (`CheckRowBinaryEncoder`): memory batches.
        case binary
    }

    init(url: String, hooks: Hooks = Hooks()) {
        self.url = url
        self.hooks = hooks
    }

    var isConnected: Bool { connection?.isHealthy == true }

    /// Writes one batch in one transaction; returns the rows inserted (with `deduplicate`, rows
    /// already present are skipped and not counted).
    func write(
        _ data: [UInt8],
        format: Format,
        rows: Int,
        days: Set<String>,
        deduplicate: Bool = true,
        attempt: Int
    ) throws(PostgresError) -> Int {
        if let beforeWrite = hooks.beforeWrite, !beforeWrite(attempt) {
            throw PostgresError(
                code: .connectionLost,
                operation: "write checks",
                serverMessage: "test hook: database away"
            )
        }
        let connection = try connected()
        do throws(PostgresError) {
            try ensurePartitions(days, on: connection)
            try connection.execute("BEGIN", operation: "write checks")
            let copied = try connection.copyIn(
                format == .binary ? Self.copyBinarySQL : Self.copyTextSQL,
                data: data,
                operation: "COPY into checks_staging"
            )
            if copied != rows {
                throw PostgresError(
                    code: .unexpectedResult,
                    operation: "COPY into checks_staging",
                    serverMessage: "copied \(copied) rows, expected \(rows)"
                )
            }
            let inserted = try connection.execute(
                deduplicate ? Self.insertDeduplicatingSQL : Self.insertSQL,
                operation: "INSERT INTO checks"
            ).affectedRows
            hooks.beforeCommit?(connection.backendPID, attempt)
            try connection.execute("COMMIT", operation: "COMMIT checks")
            if let afterCommit = hooks.afterCommit, !afterCommit(attempt) {
                throw PostgresError(
                    code: .connectionLost,
                    operation: "COMMIT checks",
                    serverMessage: "test hook: acknowledgement lost"
                )
            }
            return inserted
        } catch {
            recover(from: error)
            throw error
        }
    }

    /// Creates missing partitions for yesterday ... a week ahead, and drops partitions older than
    /// `retentionDays` (when set). Returns (created, dropped).
    func maintain(retentionDays: Int?) throws(PostgresError) -> (created: Int, dropped: Int) {
        let connection = try connected()
        do throws(PostgresError) {
            let created =
                try connection.execute(
                    "SELECT lookout_ensure_check_partitions($1::integer)",
                    [String(LookoutSchema.partitionDaysAhead)],
                    operation: "create check partitions"
                ).int64(row: 0, column: 0) ?? 0
            var dropped: Int64 = 0
            if let retentionDays {
                dropped =
                    try connection.execute(
                        "SELECT lookout_drop_old_check_partitions($1::integer)",
                        [String(retentionDays)],
                        operation: "drop old check partitions"
                    ).int64(row: 0, column: 0) ?? 0
                knownDays.removeAll()
            }
            return (Int(created), Int(dropped))
        } catch {
            recover(from: error)
            throw error
        }
    }

    func disconnect() {
        connection = nil
    }

    // MARK: internals

    private func connected() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isHealthy { return connection }
        connection = nil
        let fresh = try PostgresConnection(url: url, applicationName: "lookout-engine writer")
        try fresh.execute(Self.createStaging, operation: "create checks_staging")
        connection = fresh
        return fresh
    }

    private func ensurePartitions(_ days: Set<String>, on connection: PostgresConnection) throws(PostgresError) {
        for day in days where !knownDays.contains(day) {
            try connection.execute(
                "SELECT lookout_create_check_partitions($1::date, 1)",
                [day],
                operation: "create check partition"
            )
            knownDays.insert(day)
        }
    }

    /// After a failure: roll back on a healthy connection, otherwise forget it.
    private func recover(from error: PostgresError) {
        if error.sqlState == "23514" { knownDays.removeAll() }
        guard let connection else { return }
        if !connection.isHealthy || error.isTransient {
            self.connection = nil
            return
        }
        do throws(PostgresError) {
            try connection.execute("ROLLBACK", operation: "ROLLBACK")
        } catch {
            self.connection = nil
        }
    }
}
