import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// Loops that learn of monitors after they started: a `once` run over a large monitors file
/// (its last lines arrive while the first are checked), and the TLS session shares of monitors
/// that come and go. The targets are closed loopback ports: every check is a real, fast
/// `connect_refused`.
@Suite("CheckLoop with monitors that arrive or leave while it runs", .blocksThreads)
struct CheckLoopLateMonitorsTests {
    /// A loop on its own thread writing results to a private file.
    private final class RunningLoop {
        let loop: CheckLoop
        let results: ResultPipeline
        let resultsPath: String
        private let finished = DispatchSemaphore(value: 0)

        init(monitors: [PreparedMonitor], once: Bool, onceAwaitsAllMonitors: Bool = false) throws {
            CurlGlobal.initialize()
            AresGlobal.initialize()
            resultsPath =
                FileManager.default.temporaryDirectory.appendingPathComponent("loop-\(UUID().uuidString).jsonl").path
            results = try ResultPipeline(path: resultsPath)
            results.start()
            var configuration = CheckLoop.Configuration(
                maxInFlight: 10, policy: TargetPolicy(allowAll: true), caBundlePath: nil, dnsServer: "127.0.0.1:9",
                dnsTimeoutMs: 200, dnsTries: 1, dnsCache: DNSCache.Configuration(), once: once, userAgent: "test")
            configuration.onceAwaitsAllMonitors = onceAwaitsAllMonitors
            loop = try CheckLoop(index: 0, monitors: monitors, configuration: configuration, results: results)
            let thread = Thread { [loop, finished] in
                loop.run()
                finished.signal()
            }
            thread.start()
        }

        deinit { try? FileManager.default.removeItem(atPath: resultsPath) }

        /// Waits (up to `limit` seconds) for the loop to leave `run()`.
        func ended(within limit: Double) -> Bool { finished.wait(timeout: .now() + limit) == .success }

        /// Polls the run summary until it counts `checks` results (false after `limit` seconds).
        func waitForChecks(_ checks: Int, limit: Double = 20) -> Bool {
            let deadline = Date().addingTimeInterval(limit)
            while Date() < deadline {
                if results.summary.checks >= checks { return true }
                usleep(10_000)
            }
            return false
        }

        /// Monitor id of every result written, once the pipeline is closed.
        func checkedIds() throws -> [String] {
            results.close()
            return try String(contentsOfFile: resultsPath, encoding: .utf8).split(separator: "\n").map { line in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return try #require(object["monitorId"] as? String)
            }
        }
    }

    private static func monitor(
        _ id: String, port: Int, scheme: String = "http", interval: Double = 86_400, tlsSessionReuse: Bool = false
    ) throws -> PreparedMonitor {
        try PreparedMonitor(
            Monitor(
                id: id, url: "\(scheme)://127.0.0.1:\(port)/", intervalSeconds: interval,
                tlsSessionReuse: tlsSessionReuse))
    }

    @Test("a once loop that awaits more monitors checks the late ones once each and ends after the last")
    func onceLoopWaitsForLateMonitors() throws {
        let port = CheckLoopCommandTests.closedPort()
        let running = try RunningLoop(
            monitors: [try Self.monitor("first", port: port)], once: true, onceAwaitsAllMonitors: true)
        // The first monitor's check is done and reported; the loop must still be there to take
        // the others (a loop that ended here would never check them, and the test would fail below).
        #expect(running.waitForChecks(1), "the first monitor is checked at once")
        running.loop.apply([
            .upsert(try Self.monitor("second", port: port)), .upsert(try Self.monitor("third", port: port)),
            // An edit of a monitor already checked is not a second monitor to check.
            .upsert(try Self.monitor("first", port: port, interval: 60)),
        ])
        #expect(running.waitForChecks(3), "late monitors are checked at once, whatever their interval")
        running.loop.apply([.allMonitorsGiven])
        #expect(running.ended(within: 20), "the loop ends once it was told every monitor was given")
        #expect(try running.checkedIds().sorted() == ["first", "second", "third"])
    }

    @Test("a once loop that expects no more monitors ends after its own, and ignores allMonitorsGiven")
    func onceLoopWithoutLateMonitorsEnds() throws {
        let port = CheckLoopCommandTests.closedPort()
        let running = try RunningLoop(
            monitors: [try Self.monitor("a", port: port), try Self.monitor("b", port: port)], once: true)
        running.loop.apply([.allMonitorsGiven])
        #expect(running.ended(within: 20))
        #expect(try running.checkedIds().sorted() == ["a", "b"])
    }

    @Test("removed and handed-over monitors leave no TLS session share behind; an edit to no reuse drops it")
    func removalForgetsTLSSessions() throws {
        let port = CheckLoopCommandTests.closedPort()
        let names = ["removed", "retired", "edited", "kept"]
        let running = try RunningLoop(
            monitors: try names.map {
                try Self.monitor($0, port: port, scheme: "https", interval: 0.1, tlsSessionReuse: true)
            },
            once: false)
        // Each monitor's first transfer makes its share (the connection is then refused): four
        // checks each, on average, by the 16th.
        #expect(running.waitForChecks(16))
        running.loop.apply([
            .remove(id: "removed"),
            .retire(id: "retired", atWallMicros: Clock.wallMicros()),
            .upsert(try Self.monitor("edited", port: port, scheme: "https", interval: 0.1, tlsSessionReuse: false)),
        ])
        // The retired monitor leaves at its next due time (≤ 0.1 s); wait well past it.
        let checksSoFar = running.results.summary.checks
        #expect(running.waitForChecks(checksSoFar + 8))
        running.loop.requestStop()
        #expect(running.ended(within: 20))
        // Read on this thread only now that the loop thread has ended.
        #expect(running.loop.tlsSessions.monitorCount == 1, "only `kept` still has a share")
    }
}
