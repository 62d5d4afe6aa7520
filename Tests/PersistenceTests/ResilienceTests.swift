import Foundation
import LookoutTestSupport
import Testing

@testable import LookoutEngine

#if canImport(Glibc)
import Glibc
#endif

/// The "Must show" resilience cases of issue 3 with real processes: the engine binary, the bench
/// farm, PostgreSQL (through a cuttable proxy where it must go away) and a private `redis-server`
/// that is killed and started again. Each test has its own schema, temp directory and ports.
@Suite(
    "Resilience: database away, kill -9 mid-batch, Redis restart (real binaries)", .blocksThreads, .serialized,
    .enabled(if: ClusterTestEnvironment.shouldRun, ClusterTestEnvironment.skipReason))
struct ResilienceTests {

    // MARK: 1. PostgreSQL away for 10 s

    @Test("PostgreSQL away for 10 s loses nothing: rows == requests the farm saw, no duplicates, 0 dropped")
    func postgresAwayTenSeconds() throws {
        let began = Date()
        let base = try TestDatabase.url()
        var components = try #require(URLComponents(string: base), "DATABASE_URL is not a URI: \(base)")
        let databasePort = try #require(components.port, "DATABASE_URL has no port: \(base)")
        try #require(
            ["127.0.0.1", "localhost"].contains(components.host ?? ""),
            "the outage is made by a proxy on loopback: PostgreSQL must be on 127.0.0.1 (got \(base))")
        let proxy = try CuttableProxy(targetPort: databasePort)
        defer { proxy.stop() }
        components.host = "127.0.0.1"
        components.port = proxy.port
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema { (schema: TestSchema) throws in
            let proxied = TestDatabase.url(components.string!, schema: schema.name)
            try withTemporaryDirectory { (directory: String) throws in
                let monitorCount = 1_000
                try ResilienceSupport.writeMonitors(
                    farm, prefix: "away", count: monitorCount, interval: 1, to: directory + "/monitors.jsonl")
                let metricsPort = try ResilienceSupport.freePort()
                // --db-batch-rows 2000 --db-buffer-rows 2000 (the buffer holds at least one batch): a
                // 10 s outage holds 2,000 rows in memory and spills the rest, so the spill-and-drain
                // path is part of what is shown even on a machine that runs a few hundred checks/s.
                let engine = try ChildProcess(
                    name: "engine-away", executable: try Binaries.url(of: "lookout-engine"),
                    arguments: [
                        "--monitors", "monitors.jsonl", "--database", proxied, "--allow-private-targets",
                        "--spill-dir", directory + "/spill", "--metrics-port", String(metricsPort),
                        "--db-batch-rows", "2000", "--db-buffer-rows", "2000", "--summary-json", "summary.json",
                    ],
                    directory: directory)
                defer { engine.stop(SIGKILL) }
                func scrape() -> String? { ResilienceSupport.metrics(port: metricsPort) }

                let writing = ResilienceSupport.waitFor(timeout: 20) {
                    !engine.isRunning
                        || (scrape().flatMap { ResilienceSupport.metric($0, "lookout_engine_db_rows_written_total") }
                            ?? 0) > 0
                }
                try #require(writing && engine.isRunning, "the engine never wrote a row: \(engine.log)")
                Thread.sleep(forTimeInterval: 6)

                let farmBeforeCut = ResilienceSupport.farmRequests(farm, path: "/ok") ?? -1
                proxy.cut()
                let cutAt = Date()
                Thread.sleep(forTimeInterval: 1)
                let duringEarly = try #require(scrape(), "metrics endpoint answers during the outage")
                Thread.sleep(until: cutAt.addingTimeInterval(9.5))
                let duringLate = try #require(scrape(), "metrics endpoint answers during the outage")
                let farmAtLate = ResilienceSupport.farmRequests(farm, path: "/ok") ?? -1
                Thread.sleep(until: cutAt.addingTimeInterval(10))
                proxy.restore()
                let restoredAt = Date()
                let farmAtRestore = ResilienceSupport.farmRequests(farm, path: "/ok") ?? -1
                // The writer retries with back-off capped at 5 s (+20 % jitter): it is back within ~6 s.
                let reconnected = ResilienceSupport.waitFor(timeout: 10) {
                    scrape().flatMap { ResilienceSupport.metric($0, "lookout_engine_db_connected") } == 1
                }
                let reconnectSeconds = Date().timeIntervalSince(restoredAt)
                #expect(reconnected, "the writer reconnected within 10 s of the restore")
                Thread.sleep(until: restoredAt.addingTimeInterval(max(6, reconnectSeconds + 1)))
                let beforeStop = try #require(scrape(), "metrics endpoint answers after the outage")

                let stopped = engine.stop(SIGTERM, timeout: 30)
                let okRequests = try #require(ResilienceSupport.farmRequests(farm, path: "/ok"), "farm /__stats")

                // While the database was away: nothing was written, rows piled up (memory, then spill).
                func value(_ text: String, _ name: String) -> Double {
                    ResilienceSupport.metric(text, "lookout_engine_db_" + name) ?? -1
                }
                #expect(value(duringLate, "connected") == 0, "the writer noticed the outage")
                #expect(
                    value(duringLate, "rows_written_total") == value(duringEarly, "rows_written_total"),
                    "no row can be written through a cut proxy (between +1 s and +9.5 s)")
                // Every check that finished since the cut is held (and the unwritten rows of before it):
                // at least what the farm answered since the cut, less the checks still in flight
                // (one per monitor at most). Counted, not assumed: a loaded machine runs fewer checks.
                let heldLate = value(duringLate, "buffered_rows") + value(duringLate, "spilled_rows")
                let answeredSinceCut = farmAtLate - farmBeforeCut
                #expect(answeredSinceCut > 2_000, "the engine kept checking while the database was away")
                #expect(
                    heldLate >= Double(answeredSinceCut - monitorCount),
                    "the results of the outage are held: \(heldLate), the farm answered \(answeredSinceCut) since the cut"
                )
                #expect(value(duringLate, "spilled_rows") > 0, "beyond --db-buffer-rows rows go to the spill directory")
                #expect(value(beforeStop, "dropped_rows_total") == 0)

                // After the run: every request the farm saw is exactly one row.
                #expect(stopped.exitedNormally && stopped.status == 0, "engine exit: \(stopped), stderr: \(engine.log)")
                let rows = try schema.count("SELECT count(*) FROM checks")
                let duplicates = try schema.count("SELECT count(*) - count(DISTINCT check_id) FROM checks")
                #expect(rows == okRequests, "rows in checks \(rows) == requests the farm saw for /ok \(okRequests)")
                #expect(duplicates == 0, "duplicate check ids: \(duplicates)")
                #expect(okRequests > 10_000, "the engine ran 1,000 monitors at 1 s for ~22 s: \(okRequests) requests")
                // The outage's checks are stored with their own times: the rows timed between the cut
                // and the restore are about the requests the farm saw then (in-flight checks at the
                // two edges, and a clock read a little before or after the request, make the rest).
                let outageRows = try schema.count(
                    "SELECT count(*) FROM checks WHERE checked_at >= to_timestamp($1::double precision) AND checked_at < to_timestamp($2::double precision)",
                    [String(cutAt.timeIntervalSince1970), String(restoredAt.timeIntervalSince1970)])
                let answeredDuringOutage = farmAtRestore - farmBeforeCut
                #expect(
                    outageRows * 100 >= answeredDuringOutage * 85,
                    "checks made while the database was away are stored: \(outageRows) rows timed in the outage, the farm answered \(answeredDuringOutage)"
                )

                let summary = try ResilienceSupport.json(directory + "/summary.json")
                let database = try #require(summary["database"] as? [String: Any], "summary has database figures")
                #expect(
                    summary["checks"] as? Int == okRequests,
                    "summary checks \(summary["checks"] ?? "nil") == farm requests")
                // A COMMIT whose acknowledgement the cut swallowed is retried and then counted as
                // duplicates: written + duplicates is what reached the table.
                let written = (database["rowsWritten"] as? Int ?? -1) + (database["rowsDuplicate"] as? Int ?? 0)
                #expect(written == rows, "summary rowsWritten + rowsDuplicate \(written) == rows \(rows)")
                #expect(database["droppedRows"] as? Int == 0)
                #expect(database["spilledRowsPending"] as? Int == 0)
                #expect((database["spilledRowsTotal"] as? Int ?? 0) > 0)
                #expect((database["writeErrors"] as? Int ?? 0) > 0)
                let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/spill")) ?? []
                #expect(leftovers.filter { $0.hasSuffix(".copy") }.isEmpty, "spill files left: \(leftovers)")
                print(
                    "[resilience] postgres away 10 s: \(okRequests) farm requests (\(answeredDuringOutage) during the outage, \(outageRows) rows timed in it),"
                        + " \(rows) rows, \(duplicates) duplicates, held at +9.5 s \(Int(heldLate)) (spilled \(Int(value(duringLate, "spilled_rows")))),"
                        + " spilled total \(database["spilledRowsTotal"] ?? "?"), duplicates skipped \(database["rowsDuplicate"] ?? "?"),"
                        + " write errors \(database["writeErrors"] ?? "?"), reconnected \(String(format: "%.1f", reconnectSeconds)) s after the restore, dropped \(database["droppedRows"] ?? "?"),"
                        + " stop took \(String(format: "%.1f", stopped.seconds)) s, test \(String(format: "%.1f", Date().timeIntervalSince(began))) s"
                )
            }
        }
    }

    // MARK: 2. kill -9 in the middle of a batch

    @Test("kill -9 in the middle of a batch, restart: no duplicates, nothing counted as written is missing")
    func killMidBatchAndRestart() throws {
        let began = Date()
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                try ResilienceSupport.writeMonitors(
                    farm, prefix: "kill", count: 500, interval: 0.5, to: directory + "/monitors.jsonl")
                let metricsPort = try ResilienceSupport.freePort()
                let arguments = [
                    "--monitors", "monitors.jsonl", "--database", schema.url, "--allow-private-targets",
                    "--db-batch-rows", "200", "--metrics-port", String(metricsPort), "--spill-dir",
                    directory + "/spill",
                    "--summary-json", "summary.json",
                ]
                let binary = try Binaries.url(of: "lookout-engine")
                func rowsWritten() -> Double? {
                    ResilienceSupport.metrics(port: metricsPort).flatMap {
                        ResilienceSupport.metric($0, "lookout_engine_db_rows_written_total")
                    }
                }

                let first = try ChildProcess(
                    name: "engine-first", executable: binary, arguments: arguments, directory: directory)
                defer { first.stop(SIGKILL) }
                let startedAt = Date()
                try #require(
                    ResilienceSupport.waitFor(timeout: 20) { !first.isRunning || (rowsWritten() ?? 0) > 0 }
                        && first.isRunning,
                    "the first engine never wrote a row: \(first.log)")

                // The writer's backend: the `lookout-engine writer` session that holds a lock on this
                // schema's checks (it does from its INSERT until its COMMIT).
                let watcher = try schema.connect()
                var writerBackend: String?
                _ = ResilienceSupport.waitFor(timeout: 10) {
                    let found = try? watcher.execute(
                        """
                        SELECT l.pid::text FROM pg_locks l
                        JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                        JOIN pg_stat_activity a ON a.pid = l.pid
                        WHERE n.nspname = $1 AND c.relname LIKE 'checks%' AND a.application_name = 'lookout-engine writer'
                        LIMIT 1
                        """, [schema.name])
                    if let found, found.rowCount > 0 { writerBackend = found.string(row: 0, column: 0) }
                    return writerBackend != nil
                }
                let backend = try #require(writerBackend, "could not find the engine's writer session in pg_locks")
                Thread.sleep(until: startedAt.addingTimeInterval(4))

                // Scrape W, and SIGKILL as soon as the writer's session is inside a batch's
                // transaction (BEGIN … COPY … INSERT … COMMIT): state 'active' or 'idle in transaction'.
                var counted = -1.0
                var midBatch = false
                let killDeadline = Date().addingTimeInterval(4)
                while Date() < killDeadline {
                    guard let scraped = rowsWritten() else { continue }
                    counted = scraped
                    let state = try? watcher.execute(
                        "SELECT state FROM pg_stat_activity WHERE pid = $1::int", [backend])
                    if let state, state.rowCount > 0, let text = state.string(row: 0, column: 0), text != "idle" {
                        midBatch = true
                        break
                    }
                }
                if counted < 0 { counted = rowsWritten() ?? -1 }
                let killed = first.stop(SIGKILL)
                #expect(!killed.exitedNormally, "the first engine died of SIGKILL: \(killed)")
                #expect(midBatch, "the kill landed inside a batch transaction (writer backend \(backend))")
                #expect(counted > 0, "rows-written counter scraped before the kill: \(counted)")
                // The killed client's backend rolls back (or finishes its COMMIT) and goes away.
                _ = ResilienceSupport.waitFor(timeout: 10) {
                    ((try? watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", [backend]))?.rowCount
                        ?? 1) == 0
                }
                let farmAtKill = ResilienceSupport.farmRequests(farm, path: "/ok") ?? -1
                let rowsAfterKill = try schema.count("SELECT count(*) FROM checks")
                #expect(
                    rowsAfterKill >= Int(counted),
                    "rows \(rowsAfterKill) >= rows the engine counted as written \(Int(counted))")
                #expect(
                    rowsAfterKill <= farmAtKill,
                    "no row without a request: rows \(rowsAfterKill) <= farm requests \(farmAtKill)")

                // Same arguments, same spill directory.
                let second = try ChildProcess(
                    name: "engine-second", executable: binary, arguments: arguments, directory: directory)
                defer { second.stop(SIGKILL) }
                try #require(
                    ResilienceSupport.waitFor(timeout: 20) { !second.isRunning || (rowsWritten() ?? 0) > 0 }
                        && second.isRunning,
                    "the second engine never wrote a row: \(second.log)")
                Thread.sleep(forTimeInterval: 3)
                let stopped = second.stop(SIGTERM, timeout: 30)
                #expect(
                    stopped.exitedNormally && stopped.status == 0,
                    "second engine exit: \(stopped), stderr: \(second.log)")

                let summary = try ResilienceSupport.json(directory + "/summary.json")
                let database = try #require(summary["database"] as? [String: Any], "summary has database figures")
                let secondWritten = try #require(database["rowsWritten"] as? Int, "summary rowsWritten")
                let rows = try schema.count("SELECT count(*) FROM checks")
                let duplicates = try schema.count("SELECT count(*) - count(DISTINCT check_id) FROM checks")
                #expect(duplicates == 0, "duplicate check ids: \(duplicates)")
                #expect(
                    rows >= Int(counted) + secondWritten,
                    "rows \(rows) >= W \(Int(counted)) + second run's \(secondWritten)")
                #expect(
                    rows == rowsAfterKill + secondWritten,
                    "rows \(rows) == rows after the kill \(rowsAfterKill) + second run's \(secondWritten)")
                #expect(
                    summary["checks"] as? Int == secondWritten, "the second run (clean stop) wrote each of its checks")
                #expect(database["droppedRows"] as? Int == 0)
                let okRequests = ResilienceSupport.farmRequests(farm, path: "/ok") ?? -1
                #expect(rows <= okRequests, "rows \(rows) <= farm requests \(okRequests)")
                // Per engine instance (check ids embed it; engine_id is its hex): first run, then second.
                let perEngine = try schema.connect().execute(
                    "SELECT count(*)::text FROM checks GROUP BY engine_id ORDER BY min(checked_at)")
                let counts = (0..<perEngine.rowCount).compactMap {
                    perEngine.string(row: $0, column: 0).flatMap { Int($0) }
                }
                #expect(counts == [rowsAfterKill, secondWritten], "rows per engine instance: \(counts)")
                print(
                    "[resilience] kill -9 mid-batch: W \(Int(counted)) counted written, \(rowsAfterKill) rows after the kill"
                        + " (\(farmAtKill) farm requests by then, mid-batch \(midBatch)), second run wrote \(secondWritten),"
                        + " \(rows) rows, \(duplicates) duplicates, test \(String(format: "%.1f", Date().timeIntervalSince(began))) s"
                )
            }
        }
    }

    // MARK: 3. Redis restarts under load

    @Test("Redis restarts under load: engines re-register, no monitor is checked twice per interval afterwards")
    func redisRestartUnderLoad() throws {
        let began = Date()
        let redisServer = try RedisServerProcess()
        defer { redisServer.stop() }
        try redisServer.start()
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                let monitorCount = 300
                try ResilienceSupport.writeMonitors(
                    farm, prefix: "redis", count: monitorCount, interval: 1, to: directory + "/monitors.jsonl")
                let imported = try Run.run(
                    "lookout-engine",
                    ["import", "--database", schema.url, "--owner", "ops@example.com", directory + "/monitors.jsonl"],
                    in: directory)
                try #require(imported.status == 0, "import: \(imported.standardError)")
                #expect(try schema.count("SELECT count(*) FROM monitors") == monitorCount)

                let prefix = "lookout-resilience-\(UInt32.random(in: 0 ... .max))"
                let binary = try Binaries.url(of: "lookout-engine")
                func engine(_ id: String) throws -> ChildProcess {
                    try ChildProcess(
                        name: id, executable: binary,
                        arguments: [
                            "--database", schema.url, "--redis", redisServer.url, "--redis-prefix", prefix,
                            "--engine-id", id, "--lease-ms", "1000", "--allow-private-targets",
                            "--results", directory + "/results-\(id).jsonl", "--spill-dir", directory + "/spill-\(id)",
                            "--reconcile-seconds", "5", "--loops", "1",
                        ],
                        directory: directory)
                }
                let first = try engine("engine-a")
                defer { first.stop(SIGKILL) }
                let second = try engine("engine-b")
                defer { second.stop(SIGKILL) }
                func checks(_ id: String) -> [ResilienceSupport.Check] {
                    ResilienceSupport.results(directory + "/results-\(id).jsonl")
                }

                // Under load with a normal split first: both engines checking, every monitor once
                // per interval between them, over 1.5 s that ended 0.5 s ago (results reach the
                // files within a few milliseconds; the margin is for a loaded machine).
                func split(_ from: Double, _ to: Double) -> (a: Set<String>, b: Set<String>) {
                    func share(_ id: String) -> Set<String> {
                        Set(checks(id).filter { $0.at >= from && $0.at < to }.map(\.monitor))
                    }
                    return (share("engine-a"), share("engine-b"))
                }
                var before: (a: Set<String>, b: Set<String>) = ([], [])
                let settled = ResilienceSupport.waitFor(timeout: 60) {
                    let now = Date().timeIntervalSince1970
                    before = split(now - 2, now - 0.5)
                    return !before.a.isEmpty && !before.b.isEmpty && before.a.isDisjoint(with: before.b)
                        && before.a.union(before.b).count == monitorCount
                }
                #expect(
                    settled,
                    "before the restart both engines had a share, an exact split: \(before.a.count) + \(before.b.count), \(before.a.intersection(before.b).count) on both"
                )
                let killedAt = Date().timeIntervalSince1970
                redisServer.kill()
                Thread.sleep(forTimeInterval: 1.5)
                try redisServer.start()
                let restartedAt = Date().timeIntervalSince1970
                Thread.sleep(forTimeInterval: 5)
                let windowStart = Date().timeIntervalSince1970
                Thread.sleep(forTimeInterval: 2)
                let windowEnd = Date().timeIntervalSince1970
                // Both engines registered again in the new (empty) Redis: lease key and membership.
                let registered = ["engine-a", "engine-b"].map { id in
                    (
                        redisServer.command("EXISTS \(prefix):engine:\(id)") == ":1",
                        (redisServer.command("ZSCORE \(prefix):engines \(id)") ?? "$-1") != "$-1"
                    )
                }
                // The window's last results in both files: each engine has written a check started
                // after it (every monitor is checked each second).
                let windowWritten = ResilienceSupport.waitFor(timeout: 10) {
                    ["engine-a", "engine-b"].allSatisfy { id in checks(id).contains { $0.at >= windowEnd + 0.2 } }
                }
                #expect(windowWritten, "both engines wrote checks after the window")

                let byEngine = ["engine-a": checks("engine-a"), "engine-b": checks("engine-b")]
                func monitors(_ id: String, _ from: Double, _ to: Double) -> Set<String> {
                    Set(byEngine[id]!.filter { $0.at >= from && $0.at < to }.map(\.monitor))
                }
                // While Redis was away the engines kept their shards: checks went on.
                let awayA = monitors("engine-a", killedAt + 0.1, restartedAt)
                let awayB = monitors("engine-b", killedAt + 0.1, restartedAt)
                #expect(
                    awayA.union(awayB).count == monitorCount,
                    "while Redis was away every monitor was still checked: \(awayA.union(awayB).count)")

                #expect(
                    registered.allSatisfy { $0.0 && $0.1 },
                    "both engines registered again (lease key, member): \(registered)")
                let windowA = monitors("engine-a", windowStart, windowEnd)
                let windowB = monitors("engine-b", windowStart, windowEnd)
                #expect(
                    windowA.union(windowB).count == monitorCount,
                    "every monitor is checked in the window: \(windowA.count) + \(windowB.count)")
                #expect(
                    windowA.isDisjoint(with: windowB),
                    "no monitor is checked by both engines: \(windowA.intersection(windowB).sorted().prefix(5))")
                #expect(
                    !windowA.isEmpty && !windowB.isEmpty,
                    "both engines got a share again: \(windowA.count) + \(windowB.count)")
                let inWindow = (byEngine["engine-a"]! + byEngine["engine-b"]!).filter {
                    $0.at >= windowStart && $0.at < windowEnd
                }
                let perMonitor = Dictionary(grouping: inWindow, by: \.monitor).mapValues { $0.map(\.at).sorted() }
                let overChecked = perMonitor.filter { $0.value.count > 3 }
                #expect(
                    overChecked.isEmpty,
                    "at most 3 checks per monitor in 2 s at a 1 s interval: \(overChecked.keys.sorted().prefix(5))")
                let gaps = perMonitor.values.flatMap { times in zip(times.dropFirst(), times).map { $0 - $1 } }
                let smallestGap = gaps.min() ?? 1

                let stoppedA = first.stop(SIGTERM)
                let stoppedB = second.stop(SIGTERM)
                #expect(
                    stoppedA.exitedNormally && stoppedA.status == 0, "engine-a exit: \(stoppedA), stderr: \(first.log)")
                #expect(
                    stoppedB.exitedNormally && stoppedB.status == 0, "engine-b exit: \(stoppedB), stderr: \(second.log)"
                )
                let lines = checks("engine-a").count + checks("engine-b").count
                #expect(
                    try schema.count("SELECT count(*) FROM checks") == lines,
                    "a row per result line of both engines (\(lines))")
                #expect(
                    try schema.count("SELECT count(*) - count(DISTINCT check_id) FROM checks") == 0, "no duplicate rows"
                )
                print(
                    "[resilience] redis restart: before \(before.a.count)+\(before.b.count), while away \(awayA.count)+\(awayB.count),"
                        + " window \(windowA.count)+\(windowB.count) monitors, \(inWindow.count) checks in 2 s,"
                        + " max \(perMonitor.values.map(\.count).max() ?? 0) per monitor, smallest gap \(String(format: "%.3f", smallestGap)) s,"
                        + " \(lines) rows, test \(String(format: "%.1f", Date().timeIntervalSince(began))) s"
                )
                if !(windowA.isDisjoint(with: windowB) && overChecked.isEmpty) {
                    print("[resilience] engine-a stderr:\n\(first.log)\n[resilience] engine-b stderr:\n\(second.log)")
                }
            }
        }
    }
}

// MARK: - support (this file only)

/// A child process whose standard output and error go to a file; stopped by PID.
private final class ChildProcess {
    struct Outcome: CustomStringConvertible {
        /// Exited (rather than killed by a signal).
        let exitedNormally: Bool
        /// Exit status, or the signal number.
        let status: Int32
        /// From the signal to the end.
        let seconds: Double
        var description: String {
            exitedNormally ? "exit \(status) after \(String(format: "%.1f", seconds)) s" : "signal \(status)"
        }
    }

    let name: String
    let logPath: String
    private let process = Process()

    init(name: String, executable: URL, arguments: [String], directory: String) throws {
        self.name = name
        logPath = directory + "/\(name)-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` (if it still runs) and waits at most `timeout` seconds, then SIGKILL.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM, timeout: Double = 25) -> Outcome {
        let start = Date()
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = start.addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Outcome(
            exitedNormally: process.terminationReason == .exit, status: process.terminationStatus,
            seconds: Date().timeIntervalSince(start))
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// A private `redis-server` on a free loopback port (the shared one of scripts/services stays
/// untouched), killed with SIGKILL like a crash and started again on the same port.
private final class RedisServerProcess {
    let port: Int
    var url: String { "redis://127.0.0.1:\(port)" }
    private let directory: String
    private var server: ChildProcess?

    init() throws {
        port = try ResilienceSupport.freePort()
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "lookout-resilience-redis-\(UUID().uuidString)"
            ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Starts it and waits (at most 10 s) until it answers PING.
    func start() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let binary = try #require(
            path.split(separator: ":").map { "\($0)/redis-server" }.first {
                FileManager.default.isExecutableFile(atPath: $0)
            },
            "redis-server is not on PATH (scripts/setup installs it)")
        server = try ChildProcess(
            name: "redis-server", executable: URL(fileURLWithPath: binary),
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", directory,
            ],
            directory: directory)
        let up = ResilienceSupport.waitFor(timeout: 10) { command("PING") == "+PONG" }
        try #require(up, "private redis-server on port \(port) did not answer PING: \(server?.log ?? "")")
    }

    /// SIGKILL: no shutdown, every client connection is cut, every key is gone.
    func kill() { server?.stop(SIGKILL) }

    func stop() { server?.stop(SIGKILL) }

    /// One inline command; the first line of the reply (`+PONG`, `:1`, `$-1` …).
    func command(_ text: String) -> String? {
        guard
            let reply = ResilienceSupport.exchange(port: port, Array((text + "\r\n").utf8), until: { $0.contains(10) })
        else { return nil }
        return reply.split(separator: "\r\n", omittingEmptySubsequences: false).first.map(String.init)
    }
}

enum ResilienceSupport {
    struct Check {
        let monitor: String
        let at: Double
    }

    static func writeMonitors(_ farm: Farm, prefix: String, count: Int, interval: Double, to path: String) throws {
        let lines = (0..<count).map {
            "{\"id\":\"\(prefix)-\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":\(interval)}"
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is a JSON object")
    }

    /// (monitorId, checkedAt) of every line of a results file.
    static func results(_ path: String) -> [Check] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let monitor = object["monitorId"] as? String, let at = object["checkedAt"] as? String,
                let date = formatter.date(from: at)
            else { return nil }
            return Check(monitor: monitor, at: date.timeIntervalSince1970)
        }
    }

    /// Polls `condition` every 20 ms for at most `timeout` seconds.
    static func waitFor(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// The engine's `/metrics` text, nil when it does not answer.
    static func metrics(port: Int) -> String? {
        get(host: "127.0.0.1", port: port, path: "/metrics")
    }

    /// The value of an unlabelled sample `name` in Prometheus text.
    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Requests the farm saw for `path` (`GET /__stats`).
    static func farmRequests(_ farm: Farm, path: String) -> Int? {
        guard let body = get(host: farm.address, port: farm.httpPort, path: "/__stats"),
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let byPath = object["byPath"] as? [String: Any]
        else { return nil }
        return (byPath[path] as? Int) ?? 0
    }

    /// `GET path` over HTTP/1.1 with `Connection: close`; the body of a 200 answer, else nil.
    static func get(host: String, port: Int, path: String, timeout: Double = 3) -> String? {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard let reply = exchange(host: host, port: port, request, timeout: timeout, until: { _ in false }),
            let split = reply.range(of: "\r\n\r\n")
        else { return nil }
        let statusLine = reply[..<split.lowerBound].split(separator: "\r\n").first ?? ""
        guard statusLine.split(separator: " ").dropFirst().first == "200" else { return nil }
        return String(reply[split.upperBound...])
    }

    /// Connects to host:port (IPv4), sends `request` and reads until EOF, `until` holds for the
    /// bytes so far, or `timeout` seconds pass.
    static func exchange(
        host: String = "127.0.0.1", port: Int, _ request: [UInt8], timeout: Double = 3, until: ([UInt8]) -> Bool
    ) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return nil }
            offset += sent
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            if until(bytes) { break }
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// A loopback TCP port that was free a moment ago.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Binaries.NotFound(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Binaries.NotFound(description: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
