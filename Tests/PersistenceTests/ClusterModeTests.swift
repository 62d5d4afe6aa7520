import Foundation
import LookoutTestSupport
import Testing

@testable import LookoutEngine

#if canImport(Glibc)
import Glibc
#endif

/// Two real engine processes in cluster mode, sharing one PostgreSQL schema and one Redis key
/// prefix: they split the monitors with no overlap and no gap, and when one is killed with
/// SIGKILL the other takes its monitors over within two lease periods.
enum ClusterTestEnvironment {
    static let redisURL = ProcessInfo.processInfo.environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static var shouldRun: Bool { (redisURL != nil && TestDatabase.baseURL != nil) || TestDatabase.isCI }
    static let skipReason: Comment =
        "needs REDIS_URL and DATABASE_URL (scripts/test sets both); with CI set it runs and fails"
}

@Suite(
    "Cluster mode end to end", .blocksThreads, .serialized,
    .enabled(if: ClusterTestEnvironment.shouldRun, ClusterTestEnvironment.skipReason))
struct ClusterModeTests {

    /// A cluster engine running in the background, writing its results to a file.
    final class Engine {
        let id: String
        let resultsPath: String
        let process = Process()

        init(
            id: String, databaseURL: String, redisURL: String, prefix: String, leaseMs: Int, directory: String,
            extraArguments: [String] = []
        ) throws {
            self.id = id
            resultsPath = directory + "/results-\(id).jsonl"
            process.executableURL = try Binaries.url(of: "lookout-engine")
            process.arguments =
                [
                    "--database", databaseURL, "--redis", redisURL, "--redis-prefix", prefix, "--engine-id", id,
                    "--lease-ms", String(leaseMs), "--allow-private-targets", "--results", resultsPath,
                    "--spill-dir", directory + "/spill-\(id)", "--loops", "1",
                ] + (extraArguments.isEmpty ? ["--reconcile-seconds", "5"] : extraArguments)
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            let stderrPath = directory + "/engine-\(id).stderr"
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// (monitorId, checkedAt epoch seconds, HTTP status, lag seconds) of every result line
        /// written so far.
        func checks() -> [(monitor: String, at: Double, httpStatus: Int, lag: Double)] {
            guard let text = try? String(contentsOfFile: resultsPath, encoding: .utf8) else { return [] }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return text.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let monitor = object["monitorId"] as? String, let at = object["checkedAt"] as? String,
                    let date = formatter.date(from: at)
                else { return nil }
                return (
                    monitor, date.timeIntervalSince1970, object["httpStatus"] as? Int ?? 0,
                    (object["lagMs"] as? Double ?? 0) / 1000
                )
            }
        }

        func stop(signal: Int32 = SIGTERM) {
            if process.isRunning { kill(process.processIdentifier, signal) }
            let deadline = Date().addingTimeInterval(15)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Polls `condition` every 50 ms until it holds; fails after `seconds` (a bound, not a pause).
    func waitUntil(_ seconds: Double, _ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else {
                Issue.record("timed out after \(seconds) s waiting for \(what)")
                throw CancellationError()
            }
            usleep(50_000)
        }
    }

    /// Writes `lines` as a monitors file and imports it into `schema` with `lookout-engine import`.
    static func importMonitors(_ lines: [String], into schema: TestSchema, directory: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: directory + "/monitors.jsonl", atomically: true, encoding: .utf8)
        let imported = try Run.run(
            "lookout-engine",
            ["import", "--database", schema.url, "--owner", "ops@example.com", directory + "/monitors.jsonl"],
            in: directory)
        #expect(imported.status == 0, "import: \(imported.standardError)")
    }

    @Test("two engines split the monitors exactly; a killed engine's monitors move within two leases")
    func twoEnginesShareAndTakeOver() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                let monitorCount = 2000
                let lines = (0..<monitorCount).map {
                    "{\"id\":\"cluster-\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":2}"
                }
                try Self.importMonitors(lines, into: schema, directory: directory)
                #expect(try schema.count("SELECT count(*) FROM monitors") == monitorCount)

                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                let leaseMs = 1500
                let first = try Engine(
                    id: "engine-a", databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: leaseMs,
                    directory: directory)
                let second = try Engine(
                    id: "engine-b", databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: leaseMs,
                    directory: directory)
                defer {
                    first.stop(signal: SIGKILL)
                    second.stop()
                }

                // Checks are placed by their due time (start less lag): on a busy machine a check may
                // start late, which says nothing about which engine owns the monitor.
                func monitors(_ engine: Engine, dueFrom from: Double, to: Double) -> Set<String> {
                    Set(engine.checks().filter { $0.at - $0.lag >= from && $0.at - $0.lag < to }.map(\.monitor))
                }
                func latestDue(_ engine: Engine) -> Double { engine.checks().map { $0.at - $0.lag }.max() ?? 0 }
                // Both registered and each checking its share; then a window of two intervals,
                // read once both have checked past its end.
                try waitUntil(60, "both engines checking") { latestDue(first) > 0 && latestDue(second) > 0 }
                let windowStart = Date().timeIntervalSince1970 + 2 * Double(leaseMs) / 1000
                let windowEnd = windowStart + 4
                try waitUntil(60, "both engines checking past the window") {
                    min(latestDue(first), latestDue(second)) > windowEnd + 0.5
                }
                let byFirst = monitors(first, dueFrom: windowStart, to: windowEnd)
                let bySecond = monitors(second, dueFrom: windowStart, to: windowEnd)
                #expect(
                    byFirst.isDisjoint(with: bySecond),
                    "no monitor is checked by both engines: \(byFirst.intersection(bySecond).prefix(5))")
                #expect(
                    byFirst.union(bySecond).count == monitorCount,
                    "every monitor is checked: \(byFirst.count) + \(bySecond.count)")
                #expect(!byFirst.isEmpty && !bySecond.isEmpty, "both engines got a share")
                let perMonitor = Dictionary(
                    grouping: (first.checks() + second.checks()).filter {
                        $0.at - $0.lag >= windowStart && $0.at - $0.lag < windowEnd
                    },
                    by: \.monitor)
                #expect(
                    perMonitor.values.allSatisfy { (1...3).contains($0.count) },
                    "about one check per interval per monitor")

                // SIGKILL the first engine: its lease runs out and the second takes everything.
                first.stop(signal: SIGKILL)
                let killedAt = Date().timeIntervalSince1970
                let takeover = Double(2 * leaseMs) / 1000
                // Owning every monitor within two leases means checking each at its next due time
                // on its grid once loaded: every one due within the 3 s after them (an interval,
                // and a second for reading the rows).
                let deadline = killedAt + takeover
                try waitUntil(60, "the survivor checking past two leases and an interval") {
                    latestDue(second) > deadline + 3 + 0.5
                }
                let afterTakeover = monitors(second, dueFrom: deadline, to: deadline + 3)
                #expect(
                    afterTakeover.count == monitorCount,
                    "the survivor checks all \(monitorCount) monitors within two leases: \(afterTakeover.count)")

                second.stop()
                // Every check the survivor reported is a row (it stopped cleanly and flushed).
                let rows = try schema.count("SELECT count(*) FROM checks WHERE engine_id = 'engine-b'")
                #expect(
                    rows == second.checks().count,
                    "rows of engine-b \(rows) == its result lines \(second.checks().count)")
                #expect(
                    try schema.count("SELECT count(*) - count(DISTINCT check_id) FROM checks") == 0, "no duplicate rows"
                )
            }
        }
    }

    @Test("a confirmed state change reaches the Redis stream once, after a quick re-check, naming its check row")
    func stateChangesReachTheStream() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                // A 10 s interval: without the quick re-check (5 s) DOWN could not be confirmed
                // within the 8 s this test waits.
                let monitors = [
                    "{\"id\":\"healthy\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":10}",
                    "{\"id\":\"broken\",\"url\":\"\(farm.url("/status/503"))\",\"intervalSeconds\":10}",
                ]
                try Self.importMonitors(monitors, into: schema, directory: directory)
                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                let broken = try #require(try schema.scalar("SELECT id FROM monitors WHERE external_id = 'broken'"))
                let healthy = try #require(try schema.scalar("SELECT id FROM monitors WHERE external_id = 'healthy'"))
                let engine = try Engine(
                    id: "engine-s", databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: 1500,
                    directory: directory)
                defer { engine.stop() }
                // The first check falls anywhere in the first 10 s (the monitor's phase); the
                // re-check must follow it about 5 s later, long before the next interval.
                func brokenChecks() -> [(monitor: String, at: Double, httpStatus: Int, lag: Double)] {
                    engine.checks().filter { $0.monitor == broken }
                }
                let firstSeen = eventually(timeout: 15) { brokenChecks().count >= 1 }
                #expect(firstSeen, "the broken monitor was checked within its first interval")
                _ = eventually(timeout: 7) { brokenChecks().count >= 2 }
                // The loop flushes state events every 50 ms: wait for the DOWN event to be on the stream.
                _ = try eventually(timeout: 10) {
                    let stream = try Self.redisCLI(redis, ["XRANGE", "\(prefix):events:state", "-", "+"])
                    return Self.streamEvents(stream).contains { $0["monitorId"] == broken }
                }
                engine.stop()

                let stream = try Self.redisCLI(redis, ["XRANGE", "\(prefix):events:state", "-", "+"])
                _ = try Self.redisCLI(redis, ["DEL", "\(prefix):events:state"])
                let events = Self.streamEvents(stream)
                let brokenEvents = events.filter { $0["monitorId"] == broken }
                let healthyEvents = events.filter { $0["monitorId"] == healthy }
                #expect(brokenEvents.count == 1, "one DOWN event for the broken monitor: \(events)")
                #expect(brokenEvents.first?["to"] == "DOWN")
                #expect(brokenEvents.first?["reason"] == "status_mismatch")
                #expect(healthyEvents.count <= 1 && healthyEvents.allSatisfy { $0["to"] == "UP" }, "\(events)")
                let checks = brokenChecks()
                #expect(checks.count == 2, "first failure plus the quick re-check: \(checks)")
                if checks.count == 2 {
                    let gap = checks[1].at - checks[0].at
                    #expect(
                        gap > 4 && gap < 7, "the re-check came \(gap) s after the first failure (5 s expected, not 10)")
                }
                if let checkId = brokenEvents.first?["checkId"] {
                    #expect(
                        try schema.count("SELECT count(*) FROM checks WHERE check_id = $1::uuid", [checkId]) == 1,
                        "the event names the row of the confirming check")
                }
            }
        }
    }

    @Test("a monitor changed or deleted in the database reaches its engine within a second")
    func changeNotificationsApplyWithinASecond() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                let monitors = ["edited", "deleted", "kept"].map {
                    "{\"id\":\"\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":0.5}"
                }
                try Self.importMonitors(monitors, into: schema, directory: directory)
                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                // A long reconcile period: only the notification can explain a change within a second.
                let engine = try Engine(
                    id: "engine-n", databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: 1500,
                    directory: directory, extraArguments: ["--reconcile-seconds", "600"])
                defer { engine.stop() }

                let connection = try schema.connect()
                func row(_ externalId: String) throws -> (id: String, shard: String) {
                    let result = try connection.execute(
                        "SELECT id, shard FROM monitors WHERE external_id = $1", [externalId])
                    return (result.string(row: 0, column: 0) ?? "", result.string(row: 0, column: 1) ?? "")
                }
                let edited = try row("edited")
                let deleted = try row("deleted")
                let kept = try row("kept")
                try waitUntil(30, "the engine checking all three monitors") {
                    Set(engine.checks().map(\.monitor)).isSuperset(of: [edited.id, deleted.id, kept.id])
                }
                try connection.execute(
                    "UPDATE monitors SET url = $1, updated_at = now() WHERE id = $2::bigint",
                    [farm.url("/status/503"), edited.id])
                try connection.execute("DELETE FROM monitors WHERE id = $1::bigint", [deleted.id])
                let changed = Date().timeIntervalSince1970
                let message =
                    "[{\"monitorId\":\"\(edited.id)\",\"shard\":\(edited.shard),\"op\":\"upsert\"},"
                    + "{\"monitorId\":\"\(deleted.id)\",\"shard\":\(deleted.shard),\"op\":\"delete\"}]"
                _ = try Self.redisCLI(redis, ["PUBLISH", "\(prefix):monitors:changed", message])
                // Three checks of the edited monitor from a second after the change on (every
                // 0.5 s): a second in which the deleted one would have been checked twice.
                try waitUntil(30, "three checks of the edited monitor a second after the change") {
                    engine.checks().filter { $0.monitor == edited.id && $0.at >= changed + 1.0 }.count >= 3
                }
                engine.stop()

                let late = engine.checks().filter { $0.at >= changed + 1.0 }
                let editedLate = late.filter { $0.monitor == edited.id }
                #expect(!editedLate.isEmpty, "the edited monitor is still checked")
                #expect(
                    editedLate.allSatisfy { $0.httpStatus == 503 },
                    "checks a second after the change use the new URL: \(editedLate)")
                #expect(late.filter { $0.monitor == deleted.id }.isEmpty, "the deleted monitor is no longer checked")
                #expect(
                    late.contains { $0.monitor == kept.id && $0.httpStatus == 200 }, "the untouched monitor goes on")
            }
        }
    }

    /// Runs redis-cli against `url` and returns its raw output.
    static func redisCLI(_ url: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-cli", "-u", url, "--raw"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Field maps of the entries in `redis-cli --raw XRANGE` output: an entry id line
    /// (`<ms>-<seq>`), then field and value lines.
    static func streamEvents(_ text: String) -> [[String: String]] {
        var events: [[String: String]] = []
        var values: [String]?
        func isEntryId(_ line: Substring) -> Bool {
            let parts = line.split(separator: "-", omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if isEntryId(line) {
                if let values { events.append(pairs(values)) }
                values = []
            } else if !line.isEmpty {
                values?.append(String(line))
            }
        }
        if let values { events.append(pairs(values)) }
        return events
    }

    private static func pairs(_ values: [String]) -> [String: String] {
        var map: [String: String] = [:]
        var index = 0
        while index + 1 < values.count {
            map[values[index]] = values[index + 1]
            index += 2
        }
        return map
    }
}
