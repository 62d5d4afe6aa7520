import Foundation
import LookoutTestSupport
import Testing

/// The whole-check timeout (`timeoutMs`) bounds every phase, DNS included: a hostile target is
/// classified within timeoutMs + 100 ms, by the figures the engine itself reports.
@Suite("Whole-check time budget", .blocksThreads, .serialized)
struct TimeBudgetTests {
    @Test("a DNS server that never answers ends the check with dns_timeout within timeoutMs + 100 ms")
    func silentDNSServerIsBoundedByTheTimeout() throws {
        let dns = try SilentDNSServer()
        // c-ares alone would wait 2 s + 4 s (two tries of --dns-timeout-ms 2000, doubled).
        let monitors: [[String: Any]] = [
            ["id": "silent-3000", "url": "http://never-answered.test/", "timeoutMs": 3000],
            ["id": "silent-1000", "url": "http://also-never-answered.test/", "timeoutMs": 1000],
            // Joins the first one's query (same name): bounded by its own, shorter budget.
            ["id": "silent-joined-500", "url": "http://never-answered.test/other", "timeoutMs": 500],
        ]
        let run = try EngineRun.run(
            monitors: monitors,
            arguments: ["--once", "--dns-server", dns.address, "--dns-timeout-ms", "2000", "--dns-tries", "2"])
        #expect(run.exitStatus == 1, "stderr: \(run.standardError)")
        for (id, timeoutMs) in [("silent-3000", 3000.0), ("silent-1000", 1000.0), ("silent-joined-500", 500.0)] {
            let check = try run.check(id)
            #expect(check.status == "ERROR", "\(id): \(check.fields)")
            #expect(check.errorCode == "dns_timeout", "\(id): \(check.fields)")
            let total = check.milliseconds("totalMs")
            #expect(total >= timeoutMs - 1 && total <= timeoutMs + 100, "\(id): totalMs \(total) for \(timeoutMs)")
            #expect(check.milliseconds("dnsMs") >= timeoutMs - 1, "\(id): the time went to DNS: \(check.fields)")
            #expect(check.errorMessage?.contains("\(Int(timeoutMs)) ms") == true, "\(id): \(check.fields)")
        }
        #expect(dns.queryCount >= 2, "the engine did ask: \(dns.queryCount) queries")
    }
}
