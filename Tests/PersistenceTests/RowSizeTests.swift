import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// The bytes a check row and a rollup row really take, measured over rows written the way
/// production writes them (the engine's COPY writer, then the control plane's
/// `lookout_rollup_metrics`), so the figures `lookout-bench plan` prints for storage rest on
/// a measurement and this test notices when a migration makes rows wider. Its figures (215 and
/// 138 bytes here; 215 both before and after migration 4, whose two columns fit the heap tuple's
/// alignment padding) are `Calibration.documented`'s row sizes; `capacity`'s cluster scenarios
/// measure the same way on the operator's database.
@Suite("Row sizes (real PostgreSQL)", .blocksThreads, .enabled(if: TestDatabase.enabled, TestDatabase.skipReason))
struct RowSizeTests {
    @Test("check and rollup rows written through the real path: bytes per row from pg_total_relation_size")
    func rowSizes() throws {
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (spill: String) throws in
                let monitorCount = 2_000
                let checkCount = 24_000
                let monitors = (0..<monitorCount).map { Monitor(id: "m\($0)", url: "http://127.0.0.1:9/\($0)") }
                let outcome = try MonitorImporter().importMonitors(
                    monitors, ownerEmail: "sizes@example.com", connection: try schema.connect())
                var configuration = CheckWriter.Configuration(databaseURL: schema.url)
                configuration.spillDirectory = spill
                let writer = try CheckWriter(
                    configuration: configuration, directory: MonitorIdDirectory(outcome.ids),
                    log: LogCollector().log)
                writer.start()
                // Every monitor checked every 10 s over 2 minutes, like a fleet at a 10 s interval:
                // HTTP/1.1 answers, every other monitor over HTTPS with a full handshake (so
                // http_version is set on every row and tls_resumed on half of them).
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let results = (0..<checkCount).map { index in
                    let https = index % 2 == 0
                    return CheckResult(
                        monitorId: "m\(index % monitorCount)", checkedAtMs: now - Int64(checkCount - index) * 5,
                        status: .up, httpStatus: 200, dnsMicros: 120, connectMicros: 250, tlsMicros: https ? 600 : 0,
                        ttfbMicros: 900, totalMicros: Int32(1_000 + index % 700), lagMicros: 40, redirects: 0,
                        errorCode: nil, errorMessage: nil, httpVersion: 11, tlsResumed: https ? false : nil)
                }
                writer.submit(results)
                let figures = writer.close()
                #expect(figures.rowsWritten == checkCount)

                let expectedRollups = try schema.count(
                    "SELECT count(DISTINCT (monitor_id, date_trunc('minute', checked_at, 'UTC'))) FROM checks")
                let written = try schema.scalar(
                    "SELECT lookout_rollup_metrics('minute', min(checked_at), max(checked_at) + interval '1 second') FROM checks"
                )
                #expect(written == String(expectedRollups))
                #expect(try schema.count("SELECT count(*) FROM metrics") == expectedRollups)
                #expect(expectedRollups >= 2 * monitorCount, "two minutes or more of checks per monitor")

                let checkBytes =
                    Double(
                        try schema.count(
                            "SELECT sum(pg_total_relation_size(i.inhrelid))::bigint FROM pg_inherits i WHERE i.inhparent = 'checks'::regclass"
                        )) / Double(checkCount)
                let checkTuple =
                    Double(try schema.scalar("SELECT avg(pg_column_size(c.*))::int FROM checks c") ?? "0") ?? 0
                let rollupBytes =
                    Double(try schema.count("SELECT pg_total_relation_size('metrics')")) / Double(expectedRollups)
                let rollupTuple =
                    Double(try schema.scalar("SELECT avg(pg_column_size(m.*))::int FROM metrics m") ?? "0") ?? 0
                // Heap tuple + line pointer + index entries: more than the tuple, and not more
                // than the tuple plus a few index entries and page slack.
                #expect(
                    checkBytes > checkTuple + 4 && checkBytes < checkTuple + 250, "\(checkBytes) vs tuple \(checkTuple)"
                )
                #expect(
                    rollupBytes > rollupTuple + 4 && rollupBytes < rollupTuple + 200,
                    "\(rollupBytes) vs tuple \(rollupTuple)")
                print(
                    "RowSizeTests: \(checkCount) check rows, \(String(format: "%.1f", checkBytes)) bytes each (tuple \(Int(checkTuple))); "
                        + "\(expectedRollups) rollup rows, \(String(format: "%.1f", rollupBytes)) bytes each (tuple \(Int(rollupTuple)))"
                )
            }
        }
    }
}
