import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Synchronization
import Testing

@testable import LookoutEngine

/// A loop that takes a monitor in starts its state tracking from the monitor's confirmed state
/// (cluster mode: `monitor_states`, read on a take-over), and an edit of a monitor it already
/// checks keeps the loop's own state. The target is a closed loopback port: every check fails.
@Suite("CheckLoop seeded confirmed state", .blocksThreads)
struct CheckLoopStateSeedTests {
    private static func monitor(_ id: String, port: Int, state: MonitorState) throws -> PreparedMonitor {
        let prepared = try PreparedMonitor(Monitor(id: id, url: "http://127.0.0.1:\(port)/", intervalSeconds: 0.1))
        prepared.confirmedState = state
        return prepared
    }

    @Test(
        "seeded DOWN sends nothing while the monitor fails; UNKNOWN and UP confirm DOWN once; an edit keeps the state")
    func seededStateSuppressesRepeatedChanges() throws {
        CurlGlobal.initialize()
        AresGlobal.initialize()
        let port = CheckLoopCommandTests.closedPort()
        let events = Mutex<[StateChangeEvent]>([])
        let results = try ResultPipeline(path: nil)
        results.start()
        var configuration = CheckLoop.Configuration(
            maxInFlight: 10, policy: TargetPolicy(allowAll: true), caBundlePath: nil, dnsServer: "127.0.0.1:9",
            dnsTimeoutMs: 200, dnsTries: 1, dnsCache: DNSCache.Configuration(), once: false, userAgent: "test")
        configuration.stateEvents = { batch in events.withLock { $0.append(contentsOf: batch) } }
        configuration.engineId = "test"
        let loop = try CheckLoop(
            index: 0, monitors: [try Self.monitor("seeded-down", port: port, state: .down)],
            configuration: configuration, results: results)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            loop.run()
            finished.signal()
        }
        thread.start()
        // Taken in while running, as a hand-over does.
        loop.apply([
            .upsert(try Self.monitor("unknown", port: port, state: .unknown)),
            .upsert(try Self.monitor("seeded-up", port: port, state: .up)),
        ])
        func changes(_ id: String) -> [StateChangeEvent] { events.withLock { $0.filter { $0.monitorId == id } } }
        #expect(
            Self.wait { !changes("unknown").isEmpty && !changes("seeded-up").isEmpty },
            "UNKNOWN and UP monitors confirm DOWN")
        // An edit (same interval) of a monitor the loop has: its DOWN stays, even with a stale seed.
        loop.apply([.upsert(try Self.monitor("unknown", port: port, state: .unknown))])
        let started = loop.statistics.checksFinished.load(ordering: .relaxed)
        #expect(Self.wait { loop.statistics.checksFinished.load(ordering: .relaxed) >= started + 15 })
        loop.requestStop()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        results.close()

        #expect(changes("seeded-down").isEmpty, "a monitor seeded DOWN that fails sends nothing")
        #expect(changes("unknown").map { "\($0.from)→\($0.to)" } == ["UNKNOWN→DOWN"], "once, not again after the edit")
        #expect(changes("seeded-up").map { "\($0.from)→\($0.to)" } == ["UP→DOWN"])
    }

    /// Polls every 10 ms; `limit` only keeps a broken loop from hanging the suite.
    private static func wait(limit: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}
