// libpq, wrapped. Everything unsafe about libpq lives in this file; it is the only file that
// imports CEngineShims for PostgreSQL.
//
// Ownership:
// - `PostgresConnection` owns one PGconn: created (and connected, blocking) in init, PQfinish'ed
//   in deinit. A connection is confined to the thread that uses it (the COPY writer's thread,
//   or the main thread of a command); it is not Sendable.
// - `PostgresResult` owns one PGresult and PQclear's it in deinit. Strings read from it are
//   copied into Swift strings at once.
// - The notice processor is a C function pointer without context: it discards NOTICEs
//   ("relation already exists, skipping" ...), which libpq would otherwise print to stderr.
//
// Blocking: every call here blocks the calling thread (connect, query, COPY). They never run on
// an engine loop thread. A `host=` given as a name is resolved with a blocking getaddrinfo
// inside PQconnectdbParams — acceptable on the writer's own thread; use an IP address
// (or `hostaddr=`) to avoid it altogether.
//
// SQL injection: values only ever travel as parameters of PQexecParams. `executeScript` (PQexec)
// exists for the schema's static migration scripts and fixed statements, never for input.
import CEngineShims
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// A failure talking to PostgreSQL. Carries the SQLSTATE and the server's own words for the
/// log (`logDescription`), and a sentence a person can act on (`description`, which never
/// echoes SQL or server text).
package struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, broadly. Extensible: new codes can be added without breaking callers.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionFailed, connectionLost, statementFailed, copyFailed, unexpectedResult
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection could not be established (address, authentication, database).
        package static let connectionFailed = Code(.connectionFailed)
        /// An established connection broke (server restart, backend terminated, network).
        package static let connectionLost = Code(.connectionLost)
        /// The server refused a statement (the SQLSTATE says why).
        package static let statementFailed = Code(.statementFailed)
        /// COPY FROM STDIN failed or was aborted.
        package static let copyFailed = Code(.copyFailed)
        /// The server answered with something the caller did not expect.
        package static let unexpectedResult = Code(.unexpectedResult)

        package var description: String {
            switch base {
            case .connectionFailed: return "connection failed"
            case .connectionLost: return "connection lost"
            case .statementFailed: return "statement failed"
            case .copyFailed: return "COPY failed"
            case .unexpectedResult: return "unexpected result"
            }
        }
    }

    package var code: Code
    /// What the caller was doing ("COPY into checks_staging", "connect").
    package var operation: String
    /// Five-character SQLSTATE, when the server sent one.
    package var sqlState: String?
    /// The server's (or libpq's) primary message: for logs only.
    package var serverMessage: String?
    /// The server's DETAIL and HINT fields, when present: for logs only.
    package var serverDetail: String?
    package var serverHint: String?

    /// An error; only `code` and `operation` are required.
    package init(
        code: Code,
        operation: String,
        sqlState: String? = nil,
        serverMessage: String? = nil,
        serverDetail: String? = nil,
        serverHint: String? = nil
    ) {
        self.code = code
        self.operation = operation
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        self.serverDetail = serverDetail
        self.serverHint = serverHint
    }

    /// True when retrying on a new connection may succeed: the connection broke, or the server
    /// is starting, stopping or out of resources.
    package var isTransient: Bool {
        if code == .connectionFailed || code == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("53") || sqlState.hasPrefix("57P")
            || sqlState == "40001" || sqlState == "40P01" || sqlState == "55P03"
    }

    /// An actionable sentence, without SQL or server text.
    package var description: String {
        let advice: String
        switch sqlState {
        case "28P01", "28000":
            advice = "PostgreSQL refused the login: check the user and password in --database"
        case "3D000":
            advice = "the database named in --database does not exist: create it (createdb) or fix the name"
        case "42P01", "42883":
            advice = "a Lookout table or function is missing: run `lookout-engine migrate --database URL`"
        case "42501":
            advice = "permission denied: the database user needs rights on the Lookout schema"
        case "23514":
            advice =
                "a row was refused by a constraint (for checks: no partition for its day; the writer creates it and retries)"
        case let state? where state.hasPrefix("53"):
            advice = "the PostgreSQL server is out of resources (disk, memory or connections)"
        case let state? where state.hasPrefix("57P"):
            advice = "the PostgreSQL server is shutting down, restarting or not yet ready"
        case let state? where state.hasPrefix("08"):
            advice = "the connection to PostgreSQL broke"
        default:
            switch code {
            case .connectionFailed:
                advice =
                    "cannot connect to PostgreSQL: check that it runs and that --database (host, port, user, database) is right"
            case .connectionLost:
                advice = "the connection to PostgreSQL was lost"
            default:
                advice = "PostgreSQL refused the statement" + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
            }
        }
        return "\(operation): \(advice)"
    }

    /// Everything, for the operator's log: the advice, the SQLSTATE and the server's message.
    package var logDescription: String {
        var text = description
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        if let serverMessage, !serverMessage.isEmpty { text += " — server: \(serverMessage)" }
        if let serverDetail, !serverDetail.isEmpty { text += " DETAIL: \(serverDetail)" }
        if let serverHint, !serverHint.isEmpty { text += " HINT: \(serverHint)" }
        return text
    }
}

/// The outcome of one statement. Owns its PGresult.
package final class PostgresResult {
    private let raw: OpaquePointer

    fileprivate init(raw: OpaquePointer) { self.raw = raw }

    deinit { PQclear(raw) }

    package var rowCount: Int { Int(PQntuples(raw)) }
    package var columnCount: Int { Int(PQnfields(raw)) }

    /// The text value at (row, column), nil for SQL NULL.
    package func string(row: Int, column: Int) -> String? {
        guard PQgetisnull(raw, Int32(row), Int32(column)) == 0, let value = PQgetvalue(raw, Int32(row), Int32(column))
        else { return nil }
        return String(cString: value)
    }

    /// The value at (row, column) as a whole number, nil for SQL NULL or text that is not one.
    /// Read from the C text directly: no Swift string per value (a take-over reads millions).
    package func int64(row: Int, column: Int) -> Int64? {
        withBytes(row: row, column: column) { bytes -> Int64? in
            var index = 0
            let negative = bytes.first == UInt8(ascii: "-")
            if negative { index = 1 }
            guard index < bytes.count else { return nil }
            var value: Int64 = 0
            while index < bytes.count {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (next, overflowB) =
                    negative
                    ? times10.subtractingReportingOverflow(Int64(digit)) : times10.addingReportingOverflow(Int64(digit))
                guard !overflowA && !overflowB else { return nil }
                value = next
                index += 1
            }
            return value
        } ?? nil
    }

    /// Calls `body` with the bytes of the text value at (row, column) (no terminating NUL); nil
    /// for SQL NULL. The bytes belong to the result: read them inside `body`, never keep them.
    /// Safe from several threads at once: a PGresult is read-only once made (libpq docs,
    /// "Behavior in Threaded Programs").
    package func withBytes<Value>(row: Int, column: Int, _ body: (UnsafeRawBufferPointer) -> Value) -> Value? {
        guard let bytes = bytes(row: row, column: column) else { return nil }
        return body(bytes)
    }

    /// `withBytes`, with `nullBytes` standing in for NULL: one result type, where the optional one
    /// nested the body's own optional result (and unwrapping that copied it).
    package func withBytes<Value>(
        row: Int, column: Int, ifNull nullBytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> Value
    ) -> Value {
        guard let bytes = bytes(row: row, column: column) else { return nullBytes.withUnsafeBytes(body) }
        return body(bytes)
    }

    /// The field's bytes inside the result, nil for SQL NULL.
    private func bytes(row: Int, column: Int) -> UnsafeRawBufferPointer? {
        let row32 = Int32(row)
        let column32 = Int32(column)
        guard PQgetisnull(raw, row32, column32) == 0, let value = PQgetvalue(raw, row32, column32) else { return nil }
        return UnsafeRawBufferPointer(start: value, count: Int(PQgetlength(raw, row32, column32)))
    }

    /// Rows affected by INSERT / UPDATE / DELETE / COPY (`PQcmdTuples`), 0 when not applicable.
    package var affectedRows: Int {
        guard let text = PQcmdTuples(raw) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }
}

/// Writes the data of one COPY FROM STDIN (see `PostgresConnection.copyIn`).
package struct PostgresCopyIn {
    fileprivate let connection: PostgresConnection
    fileprivate let operation: String

    /// Sends bytes of COPY data (whole rows or not: the server reassembles the stream).
    package func write(_ bytes: UnsafeRawBufferPointer) throws(PostgresError) {
        try connection.putCopyData(bytes, operation: operation)
    }

    package func write(_ bytes: [UInt8]) throws(PostgresError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out by hand.
        var failure: PostgresError?
        bytes.withUnsafeBytes { buffer in
            do throws(PostgresError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// One connection to PostgreSQL, used from one thread at a time.
package final class PostgresConnection {
    private let raw: OpaquePointer

    /// Opens a connection (blocking).
    ///
    /// - Parameters:
    ///   - url: a libpq connection URI (`postgres://user@host:port/db?...`) or `key=value`
    ///     string. Its settings win over the defaults below.
    ///   - applicationName: shown in `pg_stat_activity`.
    /// Defaults: `connect_timeout=5`, TCP keepalives after 10 s idle (3 probes 5 s apart) and
    /// `tcp_user_timeout=15000`, so a server that vanishes without closing is noticed in
    /// seconds instead of hanging a writer for the kernel's default (minutes).
    package init(url: String, applicationName: String = "lookout-engine") throws(PostgresError) {
        let keywords = [
            "application_name", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
            "keepalives_count", "tcp_user_timeout", "dbname",
        ]
        let values = [applicationName, "5", "1", "10", "5", "3", "15000", url]
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, operation: "connect", serverMessage: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, operation: "connect", serverMessage: message)
        }
        raw = connection
        _ = PQsetNoticeProcessor(raw, postgresDiscardNotice, nil)
    }

    deinit { PQfinish(raw) }

    /// True while the connection is usable (false once the server or network broke it).
    package var isHealthy: Bool { PQstatus(raw) == CONNECTION_OK }

    /// The server process serving this connection (for `pg_terminate_backend` in tests and logs).
    package var backendPID: Int32 { PQbackendPID(raw) }

    /// Runs one statement with text parameters `$1, $2 ...` (PQexecParams: values never become
    /// SQL text). nil parameters are SQL NULL.
    @discardableResult
    package func execute(
        _ sql: String,
        _ parameters: [String?] = [],
        operation: String? = nil
    ) throws(PostgresError)
        -> PostgresResult
    {
        let result = withCStringArray(parameters) { pointers in
            PQexecParams(raw, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
        }
        return try check(result, operation: operation ?? "query", expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
    }

    /// Runs a static script of several statements (PQexec, simple protocol): migrations and fixed
    /// statements only — nothing here may come from input.
    package func executeScript(_ sql: String, operation: String) throws(PostgresError) {
        let result = PQexec(raw, sql)
        _ = try check(result, operation: operation, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        // PQexec returns the last statement's result; earlier failures stop the script.
    }

    /// `COPY ... FROM STDIN`: starts the copy with `sql`, lets `body` send the data, then ends
    /// it (CopyDone) and returns the number of rows the server took. If `body` throws, the copy
    /// is aborted (CopyFail, so the server discards it) and the error is rethrown — the shape of
    /// PostgresNIO's `copyFrom`.
    @discardableResult
    package func copyIn(
        _ sql: String,
        operation: String,
        _ body: (PostgresCopyIn) throws(PostgresError) -> Void
    ) throws(PostgresError) -> Int {
        let start = PQexec(raw, sql)
        _ = try check(start, operation: operation, expecting: [PGRES_COPY_IN])
        let writer = PostgresCopyIn(connection: self, operation: operation)
        do {
            try body(writer)
        } catch {
            if isHealthy {
                _ = PQputCopyEnd(raw, "aborted by the client: \(error.code)")
                drainResults()
            }
            throw error
        }
        guard PQputCopyEnd(raw, nil) == 1 else {
            throw failure(code: .copyFailed, operation: operation, result: nil)
        }
        var rows = 0
        var firstError: PostgresError?
        while let result = PQgetResult(raw) {
            do {
                let checked = try check(result, operation: operation, expecting: [PGRES_COMMAND_OK])
                rows = checked.affectedRows
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Convenience: COPY a complete buffer.
    @discardableResult
    package func copyIn(_ sql: String, data: [UInt8], operation: String) throws(PostgresError) -> Int {
        try copyIn(sql, operation: operation) { (copy) throws(PostgresError) in
            try copy.write(data)
        }
    }

    // MARK: internals

    fileprivate func putCopyData(_ bytes: UnsafeRawBufferPointer, operation: String) throws(PostgresError) {
        guard let base = bytes.baseAddress else { return }
        // PQputCopyData takes an int length: send large buffers in slices.
        let slice = 1 << 20
        var offset = 0
        while offset < bytes.count {
            let length = min(slice, bytes.count - offset)
            let sent = PQputCopyData(raw, (base + offset).assumingMemoryBound(to: CChar.self), Int32(length))
            guard sent == 1 else {
                throw failure(code: isHealthy ? .copyFailed : .connectionLost, operation: operation, result: nil)
            }
            offset += length
        }
    }

    /// Reads and frees results until libpq has none left (after an aborted COPY or an error).
    private func drainResults() {
        while let result = PQgetResult(raw) { PQclear(result) }
    }

    private func check(
        _ result: OpaquePointer?,
        operation: String,
        expecting: [ExecStatusType]
    ) throws(PostgresError)
        -> PostgresResult
    {
        guard let result else {
            throw failure(code: isHealthy ? .statementFailed : .connectionLost, operation: operation, result: nil)
        }
        let status = PQresultStatus(result)
        if expecting.contains(status) { return PostgresResult(raw: result) }
        let code: PostgresError.Code
        if !isHealthy {
            code = .connectionLost
        } else if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
            code = expecting.contains(PGRES_COPY_IN) ? .copyFailed : .statementFailed
        } else {
            code = .unexpectedResult
        }
        let error = failure(code: code, operation: operation, result: result)
        PQclear(result)
        // A failed COPY start leaves nothing to drain; anything else is drained so the
        // connection is ready for the next statement.
        drainResults()
        throw error
    }

    private func failure(code: PostgresError.Code, operation: String, result: OpaquePointer?) -> PostgresError {
        func field(_ name: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(name.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        var error = PostgresError(code: code, operation: operation)
        error.sqlState = field("C")
        error.serverMessage = field("M") ?? Self.trimmed(PQerrorMessage(raw))
        error.serverDetail = field("D")
        error.serverHint = field("H")
        return error
    }

    /// libpq's messages end in a newline and continue on tab-indented lines: one line for logs.
    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String? {
        guard let message else { return nil }
        let words = String(cString: message).split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == " " })
        return words.joined(separator: " ")
    }
}

/// Runs `body` with a C array of C strings (NULL entries for nil), freed afterwards.
private func withCStringArray<Result>(
    _ strings: [String?],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result
) -> Result {
    var pointers: [UnsafePointer<CChar>?] = strings.map { string in
        string.map { UnsafePointer(strdup($0)!) }
    }
    pointers.append(nil)
    defer {
        for pointer in pointers { free(UnsafeMutablePointer(mutating: pointer)) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withCStringArray<Result>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result
) -> Result {
    withCStringArray(strings.map { Optional($0) }, body)
}

/// libpq's notice processor: NOTICE and WARNING messages are dropped (the engine reports its own
/// problems; the server log keeps the rest).
private let postgresDiscardNotice: PQnoticeProcessor = { _, _ in }
