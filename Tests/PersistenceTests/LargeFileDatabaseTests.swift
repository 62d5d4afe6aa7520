import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

/// `--database` with a monitors file large enough (≥ 4 MiB) to be read in two steps: checks start
/// with the first lines, while the monitors get their rows only once the whole file has proved
/// valid, and no result row is written before its monitor's row exists.
@Suite(
    "End to end: a large monitors file with --database (real binaries)", .blocksThreads,
    .enabled(if: TestDatabase.enabled, TestDatabase.skipReason), .serialized
)
struct LargeFileDatabaseTests {
    /// 10,000 monitors of about 450 bytes each (over 4 MiB), every one on the farm's `/ok`.
    private func monitorLines(_ farm: Farm) -> [String] {
        let padding = String(repeating: "p", count: 400)
        return (0..<10_000).map { #"{"id":"big-\#($0)","url":"\#(farm.url("/ok"))?pad=\#(padding)"}"# }
    }

    /// Runs `lookout-engine --monitors monitors.jsonl --database … --allow-private-targets
    /// --spill-dir spill ARGUMENTS` on a farm and a fresh schema, the file made of
    /// `monitorLines` plus `extraLines`, then hands `check` the run, the schema, the farm and the
    /// working directory.
    private func runLargeFile(
        migrated: Bool, extraLines: [String] = [], _ arguments: [String],
        check: (Run, TestSchema, Farm, String) throws -> Void
    ) throws {
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema(migrated: migrated) { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                let text = (monitorLines(farm) + extraLines).joined(separator: "\n") + "\n"
                try #require(text.utf8.count > 4 << 20, "the file must be large enough to be read in two steps")
                try text.write(toFile: directory + "/monitors.jsonl", atomically: true, encoding: .utf8)
                let run = try Run.run(
                    "lookout-engine",
                    [
                        "--monitors", "monitors.jsonl", "--database", schema.url, "--allow-private-targets",
                        "--spill-dir", "spill",
                    ] + arguments,
                    in: directory, timeout: 300
                )
                try check(run, schema, farm, directory)
            }
        }
    }

    @Test("--once: every monitor gets its row and one check row, and the first checks began before the rows existed")
    func onceWritesEveryMonitorAndCheck() throws {
        try runLargeFile(migrated: false, ["--once", "--owner", "big@example.com"]) {
            (run: Run, schema: TestSchema, _: Farm, _: String) throws in
            #expect(run.status == 0, "stderr: \(run.standardError)")
            #expect(run.standardError.contains("10000 monitors on"), "\(run.standardError)")
            #expect(try schema.count("SELECT count(*) FROM monitors") == 10_000)
            #expect(try schema.count("SELECT count(*) FROM checks") == 10_000)
            #expect(try schema.count("SELECT count(DISTINCT monitor_id) FROM checks") == 10_000)
            #expect(
                try schema.count(
                    "SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id WHERE m.external_id = 'big-9999'"
                ) == 1,
                "the last line's monitor was checked and its row points at the monitor")
            // The checks of the first lines started while the rest of the file was read, before
            // the import transaction that made the monitors' rows (`created_at` is its start).
            #expect(
                try schema.count(
                    "SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id WHERE c.checked_at < m.created_at"
                ) > 0,
                "checking started before the monitors had rows")
        }
    }

    @Test("a run for a duration (not --once) stores every check once, each row pointing at its monitor")
    func durationRunWritesHeldResults() throws {
        try runLargeFile(migrated: false, ["--duration", "3", "--summary-json", "summary.json"]) {
            (run: Run, schema: TestSchema, _: Farm, directory: String) throws in
            #expect(run.status == 0, "stderr: \(run.standardError)")
            #expect(try schema.count("SELECT count(*) FROM monitors") == 10_000)
            let summary = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: directory + "/summary.json")))
                    as? [String: Any])
            let checks = try #require(summary["checks"] as? Int)
            // Phases spread the 60 s interval: a few hundred checks in 3 s.
            #expect(checks > 0)
            #expect(try schema.count("SELECT count(*) FROM checks") == checks, "every check stored once")
            #expect(
                try schema.count("SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id") == checks,
                "every row points at its monitor")
        }
    }

    @Test("a bad last line refuses the file: no monitor row, no check row, though checks were made meanwhile")
    func badLastLineWritesNothing() throws {
        let broken = #"{"id":"broken","url":"ftp://example.com/"}"#
        try runLargeFile(migrated: true, extraLines: [broken], ["--once"]) {
            (run: Run, schema: TestSchema, farm: Farm, _: String) throws in
            #expect(run.status == 2, "stderr: \(run.standardError)")
            #expect(
                run.standardError.contains("line 10001: url: scheme 'ftp' is not supported"), "\(run.standardError)"
            )
            #expect(try schema.count("SELECT count(*) FROM monitors") == 0)
            #expect(try schema.count("SELECT count(*) FROM checks") == 0)
            let requests = try #require(ResilienceSupport.farmRequests(farm, path: "/ok"), "farm /__stats")
            #expect(requests > 0, "the first lines were checked while the file was read")
        }
    }
}
