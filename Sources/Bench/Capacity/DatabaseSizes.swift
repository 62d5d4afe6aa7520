import Foundation

/// Row sizes measured in the real database through `psql` (the bench links no PostgreSQL
/// client): bytes per check row and per rollup row, heap and indexes, from
/// `pg_total_relation_size` over the rows present, or from `pg_column_size` of a synthetic row
/// when there are too few rows for the total to mean anything.
struct DatabaseSizes: Sendable, Equatable {
    var checkRows: Int
    var checkRowBytes: Double
    var checkSource: String
    var rollupRows: Int
    var rollupRowBytes: Double
    var rollupSource: String

    /// Fewer rows than this and fixed costs (empty partitions, index meta pages) dominate the
    /// total: the per-row figure comes from a synthetic row instead.
    static let minimumRows = 1000
    /// Per-row overhead beside the tuple: line pointer (4), tuple header (24 with alignment)
    /// and one B-tree entry of the primary key (~ 16 + key).
    static let rowOverheadBytes = 4.0 + 24 + 16

    static let query = """
        SELECT (SELECT count(*) FROM checks),
               (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i
                 WHERE i.inhparent = 'checks'::regclass),
               (SELECT coalesce(avg(pg_column_size(t.*)), 0) FROM (SELECT * FROM checks LIMIT 10000) t),
               (SELECT count(*) FROM metrics),
               pg_total_relation_size('metrics'),
               pg_column_size(ROW(1::bigint, 'minute'::text, now(), 1, 1, 1::real, 1::real, 1::real, 1::real, now()));
        """

    /// Runs `query` with psql against `databaseURL`.
    static func measure(databaseURL: String, workDirectory: String) throws(CapacityError) -> DatabaseSizes {
        guard let psql = Executables.find("psql") else {
            throw .database("psql is not on the PATH (Debian: postgresql-client); it measures the row sizes")
        }
        let output = workDirectory + "/psql.out"
        let errors = workDirectory + "/psql.err"
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: psql,
                arguments: ["-X", "-A", "-t", "-q", "-F", " ", "-v", "ON_ERROR_STOP=1", databaseURL, "-c", query],
                stdoutPath: output, stderrPath: errors)
        } catch {
            throw .run(error)
        }
        let (exit, _) = child.wait(deadline: ChildProcess.now() + 60, shouldStop: { false })
        guard exit.succeeded else {
            throw .database(
                "psql \(exit) measuring row sizes; is the database migrated (run a capacity step with --database)?\n"
                    + ThroughputDriver.tail(of: errors))
        }
        let text = (FileManager.default.contents(atPath: output).map { String(decoding: $0, as: UTF8.self) }) ?? ""
        guard let sizes = parse(text) else { throw .database("unexpected psql output: \(text.prefix(200))") }
        return sizes
    }

    /// Reads the one line of `query`'s six columns.
    static func parse(_ text: String) -> DatabaseSizes? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
        guard fields.count == 6 else { return nil }
        let checkRows = Int(fields[0])
        let checkTotal = fields[1]
        let checkTuple = fields[2]
        let rollupRows = Int(fields[3])
        let rollupTotal = fields[4]
        let rollupTuple = fields[5]
        let checkBytes: Double
        let checkSource: String
        if checkRows >= minimumRows {
            checkBytes = checkTotal / Double(checkRows)
            checkSource =
                "measured: pg_total_relation_size of the checks partitions / \(PlanFormat.count(checkRows)) rows"
        } else {
            checkBytes = (checkTuple > 0 ? checkTuple : 120) + rowOverheadBytes
            checkSource = "estimated: pg_column_size of a check row + \(Int(rowOverheadBytes)) bytes of overhead"
        }
        let rollupBytes: Double
        let rollupSource: String
        if rollupRows >= minimumRows {
            rollupBytes = rollupTotal / Double(rollupRows)
            rollupSource = "measured: pg_total_relation_size(metrics) / \(PlanFormat.count(rollupRows)) rows"
        } else {
            rollupBytes = rollupTuple + rowOverheadBytes + 24  // the key is wider than a check's
            rollupSource =
                "estimated: pg_column_size of a synthetic rollup row + overhead (only \(rollupRows) rollup rows present)"
        }
        return DatabaseSizes(
            checkRows: checkRows, checkRowBytes: (checkBytes * 10).rounded() / 10, checkSource: checkSource,
            rollupRows: rollupRows, rollupRowBytes: (rollupBytes * 10).rounded() / 10, rollupSource: rollupSource)
    }
}

/// Finding programs on the PATH (and in the few places Debian puts plugins).
enum Executables {
    static func find(_ name: String, extraDirectories: [String] = []) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] + extraDirectories
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
