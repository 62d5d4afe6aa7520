import Foundation
import LookoutTestSupport
import Testing

/// Start-up work stays out of the figures of checks: the CA store is parsed when a loop is made,
/// so the first HTTPS check of a loop reports a handshake like every later one.
@Suite("TLS timings", .blocksThreads, .serialized)
struct TLSTimingTests {
    @Test("the first HTTPS check's tlsMs is within a small factor of the later ones")
    func firstHandshakeCarriesNoStartUpWork() throws {
        let nginx = try NginxTLSServer()
        defer { nginx.stop() }
        // One loop, one check at a time: the checks run one after the other, the first one first.
        let count = 8
        let monitors = (0..<count).map {
            ["id": "tls-\($0)", "url": "https://127.0.0.1:\(nginx.validPort)/"] as [String: Any]
        }
        let formatter = ISO8601DateFormatter.withFractionalSeconds
        // Three engine runs, each with its own first check: the median of their ratios is not moved
        // by one run that shared its cores with something else.
        var ratios: [Double] = []
        var figures: [[Double]] = []
        for _ in 0..<3 {
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: [
                    "--once", "--allow-private-targets", "--ca-file", nginx.caFile, "--loops", "1",
                    "--max-in-flight", "1",
                ])
            #expect(run.exitStatus == 0, "all UP: \(run.standardError)")
            #expect(run.checks.count == count)
            let ordered = run.checks.sorted {
                (($0.fields["checkedAt"] as? String).flatMap(formatter.date(from:)) ?? .distantPast)
                    < (($1.fields["checkedAt"] as? String).flatMap(formatter.date(from:)) ?? .distantPast)
            }
            let tls = ordered.map { $0.milliseconds("tlsMs") }
            figures.append(tls)
            #expect(tls.allSatisfy { $0 > 0 }, "every check did a handshake: \(tls)")
            let later = tls.dropFirst().sorted()
            ratios.append(tls[0] / max(later[later.count / 2], 0.001))
        }
        // Before the store was loaded at start-up, the first handshake took about 17× the others.
        let median = ratios.sorted()[1]
        #expect(median <= 3, "first tlsMs / median of the later ones, per run: \(ratios); tlsMs: \(figures)")
    }
}
