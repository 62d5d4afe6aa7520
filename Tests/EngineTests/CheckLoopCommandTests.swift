import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// A running loop takes monitor changes from another thread (cluster mode: API edits and shard
/// hand-overs) without a restart. The targets are closed loopback ports: every check is a real,
/// fast `connect_refused`.
@Suite("CheckLoop monitor changes", .blocksThreads)
struct CheckLoopCommandTests {
    private static func monitor(_ id: String, port: Int, interval: Double = 0.1) throws -> PreparedMonitor {
        try PreparedMonitor(Monitor(id: id, url: "http://127.0.0.1:\(port)/", intervalSeconds: interval))
    }

    /// A port nothing listens on (bound and released).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("monitors added, edited and removed while the loop runs are checked accordingly")
    func appliesChangesWhileRunning() throws {
        CurlGlobal.initialize()
        AresGlobal.initialize()
        let port = Self.closedPort()
        let resultsPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "loop-\(UUID().uuidString).jsonl"
        ).path
        defer { try? FileManager.default.removeItem(atPath: resultsPath) }
        let results = try ResultPipeline(path: resultsPath)
        results.start()
        let configuration = CheckLoop.Configuration(
            maxInFlight: 10,
            policy: TargetPolicy(allowAll: true),
            caBundlePath: nil,
            dnsServer: "127.0.0.1:9",
            dnsTimeoutMs: 200,
            dnsTries: 1,
            dnsCache: DNSCache.Configuration(),
            once: false,
            userAgent: "test"
        )
        let loop = try CheckLoop(
            index: 0,
            monitors: [try Self.monitor("first", port: port)],
            configuration: configuration,
            results: results
        )
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            loop.run()
            finished.signal()
        }
        thread.start()

        // The results file as written so far (the loop hands results on every 100 ms or so).
        func written() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: resultsPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func checkedAt(_ check: [String: Any]) -> Date {
            formatter.date(from: check["checkedAt"] as? String ?? "") ?? .distantPast
        }
        func checks(of id: String, after start: Date = .distantPast) -> Int {
            written().filter { $0["monitorId"] as? String == id && checkedAt($0) > start }.count
        }

        #expect(eventually(timeout: 20) { checks(of: "first") >= 8 }, "first is checked every 0.1 s")
        loop.apply([.upsert(try Self.monitor("second", port: port))])
        #expect(eventually(timeout: 20) { checks(of: "second") >= 3 }, "second is checked once added")
        // `witness`, added with the change, shows how long the loop ran after it: half a second
        // of its checks is half a second in which first and second (every 0.1 s before) were not.
        loop.apply([
            .remove(id: "first"), .upsert(try Self.monitor("second", port: port, interval: 60)),
            .upsert(try Self.monitor("witness", port: port)),
        ])
        let removedAt = Date()
        #expect(
            eventually(timeout: 20) { checks(of: "witness", after: removedAt.addingTimeInterval(0.1)) >= 5 },
            "the loop goes on after the change")
        loop.requestStop()
        #expect(finished.wait(timeout: .now() + 10) == .success, "the loop stops when asked")
        results.close()

        let checks = written()
        let first = checks.filter { $0["monitorId"] as? String == "first" }
        let second = checks.filter { $0["monitorId"] as? String == "second" }
        #expect(first.count >= 8, "first ran every 0.1 s for about a second: \(first.count)")
        #expect(
            first.allSatisfy { checkedAt($0) < removedAt.addingTimeInterval(0.05) },
            "no check of a removed monitor starts after its removal"
        )
        #expect(second.count >= 3, "second was added and checked: \(second.count)")
        let secondAfterEdit = second.filter { checkedAt($0) > removedAt.addingTimeInterval(0.05) }
        #expect(
            secondAfterEdit.count <= 1,
            "after the edit to a 60 s interval, second is not checked every 0.1 s any more"
        )
        #expect(checks.allSatisfy { $0["errorCode"] as? String == "connect_refused" })
    }
}

/// "Check now" (`MonitorCommand.checkNow`): a running loop checks a monitor at once, off its
/// schedule, and never runs two checks of one monitor at a time because of requests.
@Suite("CheckLoop check-now requests", .blocksThreads)
struct CheckLoopCheckNowTests {
    private static let dayInterval = 86_400.0

    private struct SetupFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// A loop on its own thread, writing results to a private file.
    fileprivate final class RunningLoop {
        let loop: CheckLoop
        let results: ResultPipeline
        let resultsPath: String
        private let finished = DispatchSemaphore(value: 0)

        init(
            monitors: [PreparedMonitor], maxInFlight: Int,
            scheduleSlackMicros: Int64 = CheckLoop.defaultScheduleSlackMicros
        ) throws {
            CurlGlobal.initialize()
            AresGlobal.initialize()
            resultsPath =
                FileManager.default.temporaryDirectory.appendingPathComponent(
                    "loop-\(UUID().uuidString).jsonl"
                ).path
            results = try ResultPipeline(path: resultsPath)
            results.start()
            var configuration = CheckLoop.Configuration(
                maxInFlight: maxInFlight,
                policy: TargetPolicy(allowAll: true),
                caBundlePath: nil,
                dnsServer: "127.0.0.1:9",
                dnsTimeoutMs: 200,
                dnsTries: 1,
                dnsCache: DNSCache.Configuration(),
                once: false,
                userAgent: "test"
            )
            configuration.scheduleSlackMicros = scheduleSlackMicros
            loop = try CheckLoop(index: 0, monitors: monitors, configuration: configuration, results: results)
            let thread = Thread { [loop, finished] in
                loop.run()
                finished.signal()
            }
            thread.start()
        }

        var started: Int { loop.statistics.checksStarted.load(ordering: .relaxed) }
        var finishedChecks: Int { loop.statistics.checksFinished.load(ordering: .relaxed) }
        var inFlight: Int { loop.statistics.inFlight.load(ordering: .relaxed) }

        /// Stops the loop, flushes the results and returns them (one dictionary per check).
        func stop() throws -> [[String: Any]] {
            loop.requestStop()
            #expect(finished.wait(timeout: .now() + 10) == .success, "the loop stops when asked")
            results.close()
            defer { try? FileManager.default.removeItem(atPath: resultsPath) }
            let text = (try? String(contentsOfFile: resultsPath, encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
    }

    /// A loopback server that takes connections (the kernel completes them into the backlog)
    /// and never answers: a check of it stays in flight until its timeout.
    private final class SilentServer {
        let port: Int
        private let fd: Int32

        init() throws {
            let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let listening = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(socketFD, $0, length) == 0 && listen(socketFD, 16) == 0
                        && getsockname(socketFD, $0, &length) == 0
                }
            }
            guard socketFD >= 0, listening else {
                if socketFD >= 0 { close(socketFD) }
                throw SetupFailure(description: "cannot listen on a loopback port")
            }
            fd = socketFD
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        func stop() { close(fd) }
    }

    /// A monitor with a day-long interval whose first scheduled check is more than two minutes
    /// away: any check the test sees is a requested one. The phase depends on the id, so the
    /// id gets a numeric suffix until it is far enough from now.
    private static func unscheduledMonitor(_ name: String, url: String, timeoutMs: Int) throws -> PreparedMonitor {
        let intervalMicros = Int64(dayInterval * 1_000_000)
        let wallNow = Clock.wallMicros()
        for suffix in 0..<100 {
            let id = "\(name)-\(suffix)"
            let offset = CheckPhase.offset(id: id, intervalMicros: intervalMicros)
            let untilDue = CheckPhase.firstDue(
                offset: offset,
                intervalMicros: intervalMicros,
                wallNow: wallNow,
                monotonicNow: 0
            )
            if untilDue > 120_000_000 {
                return try PreparedMonitor(
                    Monitor(id: id, url: url, intervalSeconds: dayInterval, timeoutMs: timeoutMs)
                )
            }
        }
        throw SetupFailure(description: "no id \(name)-0...99 has its first check two minutes away")
    }

    /// Waits for `condition`, polling every 10 ms, at most `seconds`.
    fileprivate static func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test("a requested check runs at once and the monitor's regular checks stay on their grid")
    func requestedCheckKeepsThePhase() throws {
        // A closed port: every check is a quick connect_refused.
        let port = CheckLoopCommandTests.closedPort()
        let monitor = try PreparedMonitor(
            Monitor(id: "steady", url: "http://127.0.0.1:\(port)/", intervalSeconds: 1)
        )
        let running = try RunningLoop(monitors: [monitor], maxInFlight: 10)
        #expect(Self.wait(5) { running.finishedChecks >= 1 }, "the first scheduled check")

        // Place the request half an interval away from the grid, so a check at the request time
        // cannot be mistaken for a scheduled one (this positions the request; it waits for nothing).
        let offset = Double(monitor.phaseOffsetMicros) / 1_000_000
        let now = Date().timeIntervalSince1970
        var midpoint = (now - offset).rounded(.down) + offset + 0.5
        if midpoint < now + 0.1 { midpoint += 1 }
        Thread.sleep(until: Date(timeIntervalSince1970: midpoint))
        let requestedAt = Date().timeIntervalSince1970
        let startedBefore = running.started
        running.loop.apply([.checkNow(id: "steady")])
        #expect(Self.wait(5) { running.started >= startedBefore + 4 }, "the requested check and three scheduled ones")
        let checks = try running.stop()

        func checkedAt(_ check: [String: Any]) -> Double {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: check["checkedAt"] as? String ?? "")?.timeIntervalSince1970 ?? 0
        }
        /// Distance from the monitor's grid (k + offset), in seconds, -0.5 ..< 0.5.
        func gridError(_ time: Double) -> Double {
            let phase = (time - offset).truncatingRemainder(dividingBy: 1)
            let positive = phase < 0 ? phase + 1 : phase
            return positive >= 0.5 ? positive - 1 : positive
        }
        let offGrid = checks.filter { abs(gridError(checkedAt($0))) > 0.25 }
        #expect(offGrid.count == 1, "exactly one check off the grid, the requested one: \(checks.map(checkedAt))")
        if let requested = offGrid.first {
            #expect(abs(checkedAt(requested) - requestedAt) < 0.25, "the requested check ran at once")
        }
        let scheduledAfter = checks.filter { checkedAt($0) > requestedAt + 0.25 }
        #expect(scheduledAfter.count >= 3, "scheduled checks went on after the request")
        #expect(
            scheduledAfter.allSatisfy { abs(gridError(checkedAt($0))) < 0.25 },
            "the regular schedule was not moved to the request's time: \(scheduledAfter.map(checkedAt))"
        )
    }

    @Test("a check in flight or already waiting answers a request; unknown monitors are ignored")
    func requestsNeverDoubleACheck() throws {
        let server = try SilentServer()
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/"
        // Each check of the silent server lasts its whole 1.5 s timeout.
        let hanging = try Self.unscheduledMonitor("hanging", url: url, timeoutMs: 1500)
        let waiting = try Self.unscheduledMonitor("waiting", url: url, timeoutMs: 1500)
        // One slot: the second monitor's request has to wait for the first check to end.
        let running = try RunningLoop(monitors: [hanging, waiting], maxInFlight: 1)
        let hangingId = hanging.monitor.id
        let waitingId = waiting.monitor.id

        running.loop.apply([.checkNow(id: "no-such-monitor"), .checkNow(id: hangingId)])
        #expect(Self.wait(5) { running.inFlight == 1 }, "the requested check started")
        // In flight: answered by the running check. Waiting for the slot: the second request
        // joins the first.
        running.loop.apply([.checkNow(id: hangingId)])
        running.loop.apply([.checkNow(id: waitingId), .checkNow(id: waitingId)])
        #expect(Self.wait(10) { running.finishedChecks >= 2 }, "both checks ran to their timeout")
        // Requests after the checks ended start new ones (and wait for nothing else).
        running.loop.apply([.checkNow(id: waitingId)])
        #expect(Self.wait(10) { running.finishedChecks >= 3 }, "a later request is a new check")
        let checks = try running.stop()

        let monitors = checks.map { $0["monitorId"] as? String ?? "" }
        #expect(monitors == [hangingId, waitingId, waitingId], "one check per request that found none running")
        #expect(checks.allSatisfy { $0["status"] as? String == "TIMEOUT" })
        let waitedMs = checks.count > 1 ? (checks[1]["lagMs"] as? Double ?? 0) : 0
        #expect(waitedMs > 1000, "the waiting request's lag is its wait for the slot: \(waitedMs) ms")
        #expect(running.started == 3)
    }

    @Test("a request after an edit is not answered by the old definition's check in flight: the new one runs after it")
    func requestAfterAnEditWaitsForTheOldCheck() throws {
        let server = try SilentServer()
        defer { server.stop() }
        // The old definition hangs until its 1.5 s timeout; the new one is refused at once.
        let old = try Self.unscheduledMonitor("edited", url: "http://127.0.0.1:\(server.port)/", timeoutMs: 1500)
        let id = old.monitor.id
        let edited = try PreparedMonitor(
            Monitor(
                id: id, url: "http://127.0.0.1:\(CheckLoopCommandTests.closedPort())/",
                intervalSeconds: Self.dayInterval, timeoutMs: 1500))
        let running = try RunningLoop(monitors: [old], maxInFlight: 4)
        running.loop.apply([.checkNow(id: id)])
        #expect(Self.wait(5) { running.inFlight == 1 }, "the old definition's check started")
        running.loop.apply([.upsert(edited), .checkNow(id: id)])
        #expect(Self.wait(10) { running.finishedChecks >= 2 }, "the requested check ran after the one in flight")
        let checks = try running.stop()
        #expect(checks.map { $0["errorCode"] as? String } == ["timeout", "connect_refused"], "\(checks)")
        #expect(running.started == 2, "never two checks of the monitor at once")
    }
}

/// The schedule's slack (`--schedule-slack-ms`): checks due close together start in one wake-up
/// of the loop, none later than the slack; a due time further away is kept.
@Suite("CheckLoop schedule slack", .blocksThreads)
struct CheckLoopScheduleSlackTests {
    @Test("a due time further away than the slack is met exactly; a sooner one waits for the slack")
    func wakeDelay() {
        #expect(CheckLoop.wakeDelay(untilDue: 40_000, slack: 5_000) == 40_000)
        #expect(CheckLoop.wakeDelay(untilDue: 5_000, slack: 5_000) == 5_000)
        #expect(CheckLoop.wakeDelay(untilDue: 300, slack: 5_000) == 5_000)
        #expect(CheckLoop.wakeDelay(untilDue: -10, slack: 5_000) == 5_000)
        #expect(CheckLoop.wakeDelay(untilDue: 300, slack: 0) == 300, "no slack: each due time on time")
        #expect(CheckLoop.wakeDelay(untilDue: -10, slack: 0) == 0)
    }

    @Test("monitors due 60 ms or more apart start in shared wake-ups with 300 ms of slack, none later than that")
    func dueTimesCloseTogetherShareAWakeUp() throws {
        let port = CheckLoopCommandTests.closedPort()
        let interval: Int64 = 1_000_000
        // Ten monitors whose phases in a 1 s interval are at least 60 ms apart: without slack
        // each check would start in a wake-up of its own.
        var monitors: [PreparedMonitor] = []
        var offsets: [Int64] = []
        for n in 0..<10_000 where monitors.count < 10 {
            let id = "spread-\(n)"
            let offset = CheckPhase.offset(id: id, intervalMicros: interval)
            let apart = offsets.allSatisfy { other in
                let distance = abs(other - offset)
                return min(distance, interval - distance) >= 60_000
            }
            guard apart else { continue }
            offsets.append(offset)
            monitors.append(
                try PreparedMonitor(Monitor(id: id, url: "http://127.0.0.1:\(port)/", intervalSeconds: 1)))
        }
        try #require(monitors.count == 10)
        let running = try CheckLoopCheckNowTests.RunningLoop(
            monitors: monitors, maxInFlight: 20, scheduleSlackMicros: 300_000)
        #expect(CheckLoopCheckNowTests.wait(30) { running.finishedChecks >= 40 }, "four rounds of checks")
        let checks = try running.stop()

        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let starts = checks.compactMap { formatter.date(from: $0["checkedAt"] as? String ?? "") }.sorted()
        try #require(starts.count >= 40)
        // A wake-up's checks start within a few ms of each other (each is a quick
        // connect_refused); checks of different wake-ups at least ~60 ms apart.
        var wakeUps = 1
        for (earlier, later) in zip(starts, starts.dropFirst()) where later.timeIntervalSince(earlier) > 0.03 {
            wakeUps += 1
        }
        #expect(wakeUps * 2 <= starts.count, "\(starts.count) checks in \(wakeUps) wake-ups")
        let lags = checks.map { $0["lagMs"] as? Double ?? -1 }
        #expect(
            lags.allSatisfy { $0 >= 0 && $0 < 300 + 500 },
            "at most the slack late (and a loaded machine's delay): \(lags)")
    }
}
