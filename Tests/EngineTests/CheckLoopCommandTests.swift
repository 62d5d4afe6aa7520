import Foundation
import LookoutCore
import LookoutFFI
import Testing

@testable import LookoutEngine

/// A running loop takes monitor changes from another thread (cluster mode: API edits and shard
/// hand-overs) without a restart. The targets are closed loopback ports: every check is a real,
/// fast `connect_refused`.
@Suite("CheckLoop monitor changes")
struct CheckLoopCommandTests {
    private static func monitor(_ id: String, port: Int, interval: Double = 0.1) throws -> PreparedMonitor {
        try PreparedMonitor(Monitor(id: id, url: "http://127.0.0.1:\(port)/", intervalSeconds: interval))
    }

    /// A port nothing listens on (bound and released).
    private static func closedPort() -> Int {
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

        Thread.sleep(forTimeInterval: 0.5)
        loop.apply([.upsert(try Self.monitor("second", port: port))])
        Thread.sleep(forTimeInterval: 0.5)
        loop.apply([.remove(id: "first"), .upsert(try Self.monitor("second", port: port, interval: 60))])
        let removedAt = Date()
        Thread.sleep(forTimeInterval: 0.7)
        loop.requestStop()
        #expect(finished.wait(timeout: .now() + 10) == .success, "the loop stops when asked")
        results.close()

        let lines = try String(contentsOfFile: resultsPath, encoding: .utf8).split(separator: "\n")
        let checks = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func checkedAt(_ check: [String: Any]) -> Date {
            formatter.date(from: check["checkedAt"] as? String ?? "") ?? .distantPast
        }
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
