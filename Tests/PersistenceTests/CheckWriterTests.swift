import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Synchronization
import Testing

@testable import LookoutEngine

/// `count` results spread over `monitors` monitors, one per millisecond ending now.
private func results(_ count: Int, monitors: Int = 10, offset: Int = 0) -> [CheckResult] {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    return (0..<count).map { index in
        let number = index + offset
        let failed = number % 7 == 0
        return CheckResult(
            monitorId: "m\(number % monitors)",
            checkedAtMs: now - Int64(count - index),
            status: failed ? .error : .up,
            httpStatus: failed ? 0 : 200,
            dnsMicros: 100,
            connectMicros: 200,
            tlsMicros: 0,
            ttfbMicros: 900,
            totalMicros: Int32(1_000 + number % 5_000),
            lagMicros: 50,
            redirects: 0,
            errorCode: failed ? .connectRefused : nil,
            errorMessage: failed ? "connection refused\t(\"quoted\" \\ back-slashed)\nsecond line" : nil
        )
    }
}

/// Imports monitors m0 ... m(count-1) and returns the directory the writer resolves ids with.
private func monitorDirectory(_ schema: TestSchema, count: Int = 10) throws -> MonitorIdDirectory {
    let monitors = (0..<count).map { Monitor(id: "m\($0)", url: "http://127.0.0.1:9/\($0)") }
    let outcome = try MonitorImporter().importMonitors(
        monitors,
        ownerEmail: "writer@example.com",
        connection: try schema.connect()
    )
    return MonitorIdDirectory(outcome.ids)
}

private func configuration(
    _ schema: TestSchema,
    spill: String,
    batchRows: Int = 1_000,
    batchMs: Int = 50
)
    -> CheckWriter.Configuration
{
    var configuration = CheckWriter.Configuration(databaseURL: schema.url)
    configuration.batchRows = batchRows
    configuration.batchMilliseconds = batchMs
    configuration.spillDirectory = spill
    return configuration
}

private func submit(_ rows: [CheckResult], to writer: CheckWriter, chunk: Int = 317) {
    var start = 0
    while start < rows.count {
        writer.submit(Array(rows[start..<min(start + chunk, rows.count)]))
        start += chunk
    }
}

private func spillFiles(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".copy") }
}

@Suite("COPY writer (real PostgreSQL)", .blocksThreads, .enabled(if: TestDatabase.enabled, TestDatabase.skipReason))
struct CheckWriterTests {
    @Test("N results become exactly N rows, with their values")
    func writesEveryRow() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let directory = try monitorDirectory(schema)
                let logs = LogCollector()
                let writer = try CheckWriter(
                    configuration: configuration(schema, spill: spill),
                    directory: directory,
                    log: logs.log
                )
                writer.start()
                let input = results(12_345)
                submit(input, to: writer)
                let figures = writer.close()
                #expect(figures.rowsReceived == 12_345)
                #expect(figures.rowsWritten == 12_345)
                #expect(figures.rowsDuplicate == 0 && figures.droppedRows == 0 && figures.writeErrors == 0)
                #expect(figures.batches >= 13)
                #expect(figures.bufferedRows == 0 && figures.spilledRows == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == 12_345)
                #expect(try schema.count("SELECT count(DISTINCT check_id) FROM checks") == 12_345)
                #expect(try schema.count("SELECT count(DISTINCT monitor_id) FROM checks") == 10)
                #expect(
                    try schema.count("SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id") == 12_345
                )
                // Values survive COPY: statuses, escapes, NULLs, milliseconds.
                #expect(
                    try schema.count("SELECT count(*) FROM checks WHERE status = 'ERROR'")
                        == input.filter { $0.status == .error }.count
                )
                #expect(
                    try schema.scalar("SELECT error_message FROM checks WHERE status = 'ERROR' LIMIT 1")
                        == "connection refused\t(\"quoted\" \\ back-slashed)\nsecond line"
                )
                #expect(
                    try schema.count(
                        "SELECT count(*) FROM checks WHERE status = 'UP' AND error_code IS NULL AND http_status = 200"
                    ) > 0
                )
                #expect(try schema.scalar("SELECT min(dns_ms)::text FROM checks") == "0.1")
                #expect(try schema.scalar("SELECT count(DISTINCT engine_id) FROM checks") == "1")
                #expect(spillFiles(spill).isEmpty)
                #expect(logs.all.isEmpty, "unexpected log lines: \(logs.all)")
            }
        }
    }

    @Test("a backend killed after COPY, before COMMIT: the batch is retried, exactly N rows")
    func backendKilledBeforeCommit() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let kills = Mutex(0)
                let calls = Mutex(0)
                let url = schema.url
                var hooks = CheckTableWriter.Hooks()
                hooks.beforeCommit = { pid, attempt in
                    let call = calls.withLock { value -> Int in
                        value += 1
                        return value
                    }
                    // Kill the first attempt of the 1st, 3rd and 5th write from a second connection.
                    guard attempt == 1, [1, 3, 5].contains(call) else { return }
                    if let admin = try? PostgresConnection(url: url, applicationName: "lookout-tests killer"),
                        (try? admin.execute("SELECT pg_terminate_backend($1::integer, 5000)", [String(pid)]))?
                            .string(row: 0, column: 0) == "t"
                    {
                        kills.withLock { $0 += 1 }
                    }
                }
                let writer = try CheckWriter(
                    configuration: configuration(schema, spill: spill),
                    directory: try monitorDirectory(schema),
                    log: LogCollector().log,
                    hooks: hooks
                )
                writer.start()
                submit(results(5_000), to: writer)
                let figures = writer.close()
                #expect(kills.withLock { $0 } == 3)
                #expect(figures.writeErrors == 3)
                #expect(figures.rowsWritten == 5_000)
                #expect(figures.rowsDuplicate == 0, "nothing of a killed transaction was committed")
                #expect(figures.droppedRows == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == 5_000)
                #expect(try schema.count("SELECT count(DISTINCT check_id) FROM checks") == 5_000)
            }
        }
    }

    @Test("an acknowledgement lost after COMMIT: the retry inserts nothing twice")
    func acknowledgementLost() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let lost = Mutex(0)
                var hooks = CheckTableWriter.Hooks()
                hooks.afterCommit = { attempt in
                    // Every first attempt "loses" its acknowledgement: each batch is written twice.
                    guard attempt == 1 else { return true }
                    lost.withLock { $0 += 1 }
                    return false
                }
                let writer = try CheckWriter(
                    configuration: configuration(schema, spill: spill, batchRows: 700),
                    directory: try monitorDirectory(schema),
                    log: LogCollector().log,
                    hooks: hooks
                )
                writer.start()
                submit(results(3_000), to: writer)
                let figures = writer.close()
                #expect(lost.withLock { $0 } == figures.batches)
                #expect(
                    figures.rowsWritten == 0,
                    "every row was inserted by a first attempt whose acknowledgement was lost"
                )
                #expect(figures.rowsDuplicate == 3_000)
                #expect(try schema.count("SELECT count(*) FROM checks") == 3_000)
                #expect(try schema.count("SELECT count(DISTINCT check_id) FROM checks") == 3_000)
            }
        }
    }

    @Test("database away: memory fills, rows spill to disk, and drain when it returns")
    func awaySpillsAndDrains() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let away = Atomic(true)
                var hooks = CheckTableWriter.Hooks()
                hooks.beforeWrite = { _ in !away.load(ordering: .relaxed) }
                var config = configuration(schema, spill: spill, batchRows: 500, batchMs: 20)
                config.bufferRows = 1_000
                config.spillSegmentRows = 700
                let logs = LogCollector()
                let writer = try CheckWriter(
                    configuration: config,
                    directory: try monitorDirectory(schema),
                    log: logs.log,
                    hooks: hooks
                )
                writer.start()
                submit(results(6_000), to: writer, chunk: 250)
                // The burst is larger than the memory bound: most of it spills at once; the rest
                // waits in memory while the writes fail.
                #expect(
                    eventually(timeout: 20) {
                        let figures = writer.statistics.snapshot
                        return figures.spilledRows >= 5_000 && figures.writeErrors >= 2
                    }
                )
                let during = writer.statistics.snapshot
                #expect(during.bufferedRows <= 1_000, "memory stays within --db-buffer-rows")
                #expect(during.rowsWritten == 0 && during.writeErrors > 0 && !during.connected)
                #expect(!spillFiles(spill).isEmpty)
                away.store(false, ordering: .relaxed)
                #expect(
                    eventually(timeout: 30) {
                        let figures = writer.statistics.snapshot
                        return figures.rowsWritten == 6_000 && figures.spilledRows == 0
                    }
                )
                let figures = writer.close()
                #expect(figures.rowsWritten == 6_000 && figures.droppedRows == 0 && figures.rowsDuplicate == 0)
                #expect(figures.spilledRowsTotal >= 5_000)
                #expect(try schema.count("SELECT count(*) FROM checks") == 6_000)
                #expect(try schema.count("SELECT count(DISTINCT check_id) FROM checks") == 6_000)
                #expect(spillFiles(spill).isEmpty)
                #expect(logs.all.contains { $0.contains("spilling the oldest to") })
                #expect(logs.all.contains { $0.contains("work again") })
            }
        }
    }

    @Test("closing while the database is away spills everything; the next start writes it, same ids")
    func nextStartDrains() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let directory = try monitorDirectory(schema)
                var hooks = CheckTableWriter.Hooks()
                hooks.beforeWrite = { _ in false }
                var closing = configuration(schema, spill: spill)
                closing.closeDrainMilliseconds = 300
                let first = try CheckWriter(
                    configuration: closing,
                    directory: directory,
                    log: LogCollector().log,
                    hooks: hooks,
                    instance: 0x1111_2222_3333_4444
                )
                first.start()
                submit(results(3_000), to: first)
                let stopped = first.close()
                #expect(stopped.spilledRows == 3_000 && stopped.bufferedRows == 0 && stopped.droppedRows == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == 0)
                #expect(!spillFiles(spill).isEmpty)

                let logs = LogCollector()
                let second = try CheckWriter(
                    configuration: configuration(schema, spill: spill),
                    directory: directory,
                    log: logs.log,
                    instance: 0x5555_6666_7777_8888
                )
                #expect(second.statistics.snapshot.spilledRows == 3_000)
                second.start()
                submit(results(500, offset: 3_000), to: second)
                let figures = second.close()
                #expect(figures.rowsWritten == 3_500 && figures.droppedRows == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == 3_500)
                // The replayed rows kept the ids the first writer gave them.
                #expect(
                    try schema.count("SELECT count(*) FROM checks WHERE check_id::text LIKE '11112222-3333-8444-%'")
                        == 3_000
                )
                #expect(
                    try schema.count("SELECT count(*) FROM checks WHERE check_id::text LIKE '55556666-7777-8888-%'")
                        == 500
                )
                #expect(spillFiles(spill).isEmpty)
                #expect(logs.all.contains { $0.contains("left in") })
            }
        }
    }

    @Test("httpVersion and tlsResumed reach http_version and tls_resumed, from memory (binary) and the spill (text)")
    func httpVersionAndResumption() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let directory = try monitorDirectory(schema, count: 4)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                /// An HTTP/1.1 check, an HTTPS HTTP/2 check that resumed its session, an HTTPS
                /// HTTP/1.1 one with a full handshake and a refused one (no answer, no handshake).
                func sample(at time: Int64) -> [CheckResult] {
                    [
                        CheckResult(monitorId: "m0", checkedAtMs: time, status: .up, httpStatus: 200, httpVersion: 11),
                        CheckResult(
                            monitorId: "m1", checkedAtMs: time, status: .up, httpStatus: 200, tlsMicros: 300,
                            httpVersion: 20, tlsResumed: true),
                        CheckResult(
                            monitorId: "m2", checkedAtMs: time, status: .up, httpStatus: 204, tlsMicros: 900,
                            httpVersion: 11, tlsResumed: false),
                        CheckResult(
                            monitorId: "m3", checkedAtMs: time, status: .error, errorCode: .connectRefused,
                            errorMessage: "connection refused"),
                    ]
                }
                // Memory batches: binary COPY.
                let direct = try CheckWriter(
                    configuration: configuration(schema, spill: spill), directory: directory, log: LogCollector().log)
                direct.start()
                direct.submit(sample(at: now - 2_000))
                #expect(direct.close().rowsWritten == 4)
                // The database away at close: the rows spill as COPY text, and the next start drains them.
                var hooks = CheckTableWriter.Hooks()
                hooks.beforeWrite = { _ in false }
                var closing = configuration(schema, spill: spill)
                closing.closeDrainMilliseconds = 300
                let away = try CheckWriter(
                    configuration: closing, directory: directory, log: LogCollector().log, hooks: hooks)
                away.start()
                away.submit(sample(at: now - 1_000))
                #expect(away.close().spilledRows == 4)
                let drainer = try CheckWriter(
                    configuration: configuration(schema, spill: spill), directory: directory, log: LogCollector().log)
                drainer.start()
                #expect(drainer.close().rowsWritten == 4)
                #expect(spillFiles(spill).isEmpty)

                let stored = try schema.scalar(
                    """
                    SELECT string_agg(m.external_id || ' ' || coalesce(c.http_version, 'null') || ' '
                                      || coalesce(c.tls_resumed::text, 'null'), ', ' ORDER BY c.checked_at, m.external_id)
                    FROM checks c JOIN monitors m ON m.id = c.monitor_id
                    """)
                let once = "m0 1.1 null, m1 2 true, m2 1.1 false, m3 null null"
                #expect(stored == once + ", " + once)
            }
        }
    }

    @Test("spill lines of engines before migrations 3 and 4 are stored, their newer columns NULL")
    func spillFromEarlierEngines() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let directory = try monitorDirectory(schema, count: 2)
                let ids = directory.resolve(["m0", "m1"]).map { $0! }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                // Lines as the earlier engines wrote them: today's line cut to their width.
                var generator = CheckIDGenerator(instance: 0xAAAA_BBBB_CCCC_DDDD)
                let encoder = CheckRowEncoder(engineId: "old-engine")
                var segment: [UInt8] = []
                for (index, width) in [16, 20].enumerated() {
                    var line: [UInt8] = []
                    let result = CheckResult(
                        monitorId: "m\(index)", checkedAtMs: now - 1_000, status: .up, httpStatus: 200,
                        totalMicros: 4_500, httpVersion: 11)
                    encoder.append(
                        CheckRow(checkId: generator.make(), monitorId: ids[index], result: result), to: &line)
                    let columns = line.dropLast().split(separator: 0x09, omittingEmptySubsequences: false)
                    #expect(columns.count == LookoutSchema.checkColumns.count)
                    segment += Array(columns.prefix(width).joined(separator: [0x09])) + [0x0A]
                }
                try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
                #expect(
                    FileManager.default.createFile(
                        atPath: spill + "/checks-0000000000001-aaaabbbbccccdddd-000001.copy", contents: Data(segment)))
                let writer = try CheckWriter(
                    configuration: configuration(schema, spill: spill), directory: directory, log: LogCollector().log)
                #expect(writer.statistics.snapshot.spilledRows == 2)
                writer.start()
                let figures = writer.close()
                #expect(figures.rowsWritten == 2 && figures.droppedRows == 0 && figures.writeErrors == 0)
                #expect(spillFiles(spill).isEmpty)
                #expect(
                    try schema.count(
                        """
                        SELECT count(*) FROM checks
                        WHERE engine_id = 'old-engine' AND total_ms = 4.5 AND http_status = 200
                          AND http_version IS NULL AND tls_resumed IS NULL AND tls_issuer IS NULL AND dns_answers IS NULL
                        """) == 2)
            }
        }
    }

    @Test("rows on a day without a partition create it; unknown monitors are counted as dropped")
    func partitionsAndUnknownMonitors() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let logs = LogCollector()
                let writer = try CheckWriter(
                    configuration: configuration(schema, spill: spill),
                    directory: try monitorDirectory(schema),
                    log: logs.log
                )
                writer.start()
                let longAgo = Int64(Date().timeIntervalSince1970 * 1000) - 20 * 86_400_000
                writer.submit([
                    CheckResult(
                        monitorId: "m1",
                        checkedAtMs: longAgo,
                        status: .up,
                        httpStatus: 200,
                        totalMicros: 5_000
                    ),
                    CheckResult(
                        monitorId: "nobody",
                        checkedAtMs: longAgo,
                        status: .up,
                        httpStatus: 200,
                        totalMicros: 5_000
                    ),
                ])
                let figures = writer.close()
                #expect(figures.rowsWritten == 1)
                #expect(figures.droppedRows == 1)
                #expect(logs.all.contains { $0.contains("'nobody'") })
                let day = CheckRowEncoder.day(epochMilliseconds: longAgo).replacingOccurrences(of: "-", with: "")
                #expect(try schema.scalar("SELECT to_regclass($1)::text", ["\(schema.name).checks_p\(day)"]) != nil)
            }
        }
    }

    @Test("COPY throughput into checks, 5,000-row batches (figures printed, not asserted)")
    func throughput() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let directory = try monitorDirectory(schema, count: 1_000)
            let ids = directory.resolve((0..<1_000).map { "m\($0)" }).map { $0! }
            let table = CheckTableWriter(url: schema.url)
            let text = CheckRowEncoder(engineId: "bench")
            let binary = CheckRowBinaryEncoder(engineId: "bench")
            var generator = CheckIDGenerator()
            let input = results(5_000, monitors: 1_000)
            let days: Set<String> = [
                CheckRowEncoder.day(epochMilliseconds: input[0].checkedAtMs),
                CheckRowEncoder.day(epochMilliseconds: input.last!.checkedAtMs),
            ]
            _ = try table.write([], format: .text, rows: 0, days: days, attempt: 1)  // connect, staging, partitions
            let direct = try schema.connect()
            enum Variant: String, CaseIterable {
                case textDeduplicating = "text COPY -> staging -> INSERT ON CONFLICT DO NOTHING"
                case binaryDeduplicating = "binary COPY -> staging -> INSERT ON CONFLICT DO NOTHING (retries, spill)"
                case binaryPlain = "binary COPY -> staging -> INSERT (first attempt of fresh rows)"
                case binaryDirect = "binary COPY straight into checks (reference, not idempotent)"
            }
            var writeMicros: [Variant: Int64] = [:]
            var encodeMicros: [Variant: Int64] = [:]
            let rounds = 8
            for _ in 0..<rounds {
                for variant in Variant.allCases {
                    let encodeStart = Clock.monotonicMicros()
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(5_000 * 200)
                    if variant != .textDeduplicating { bytes += CheckRowBinaryEncoder.header }
                    for (index, result) in input.enumerated() {
                        let row = CheckRow(checkId: generator.make(), monitorId: ids[index % 1_000], result: result)
                        if variant == .textDeduplicating {
                            text.append(row, to: &bytes)
                        } else {
                            binary.append(row, to: &bytes)
                        }
                    }
                    if variant != .textDeduplicating { bytes += CheckRowBinaryEncoder.trailer }
                    let writeStart = Clock.monotonicMicros()
                    let inserted: Int
                    switch variant {
                    case .textDeduplicating:
                        inserted = try table.write(bytes, format: .text, rows: 5_000, days: days, attempt: 1)
                    case .binaryDeduplicating:
                        inserted = try table.write(bytes, format: .binary, rows: 5_000, days: days, attempt: 1)
                    case .binaryPlain:
                        inserted = try table.write(
                            bytes,
                            format: .binary,
                            rows: 5_000,
                            days: days,
                            deduplicate: false,
                            attempt: 1
                        )
                    case .binaryDirect:
                        try direct.execute("BEGIN")
                        inserted = try direct.copyIn(
                            "COPY checks (\(CheckRowEncoder.copyColumnList)) FROM STDIN (FORMAT binary)",
                            data: bytes,
                            operation: "COPY"
                        )
                        try direct.execute("COMMIT")
                    }
                    writeMicros[variant, default: 0] += Clock.monotonicMicros() - writeStart
                    encodeMicros[variant, default: 0] += writeStart - encodeStart
                    #expect(inserted == 5_000)
                }
            }
            let rows = Double(rounds * 5_000)
            for variant in Variant.allCases {
                let write = Double(writeMicros[variant]!)
                print(
                    "[persistence] \(variant.rawValue): \(Int(rows / (write / 1_000_000))) rows/s, "
                        + "\(String(format: "%.1f", write / 1000 / Double(rounds))) ms per 5000-row batch; "
                        + "client encoding \(String(format: "%.2f", Double(encodeMicros[variant]!) / rows)) µs/row"
                )
            }
            #expect(try schema.count("SELECT count(*) FROM checks") == rounds * 5_000 * Variant.allCases.count)
        }
    }
}
