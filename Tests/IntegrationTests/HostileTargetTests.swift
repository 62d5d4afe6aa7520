import Foundation
import LookoutTestSupport
import Testing

/// Targets that misbehave on purpose, against the real engine: each is classified with the
/// right status and error code within its `timeoutMs` + 100 ms, by the duration the engine itself
/// reports (`totalMs`), however it misbehaves (hanging before or after the connection, a body
/// that trickles or never ends, resets, redirect loops and schemes, bad TLS, a DNS server that
/// never answers).
@Suite("Hostile targets", .blocksThreads, .serialized)
struct HostileTargetTests {
    struct Case {
        let id: String
        let url: String
        var extra: [String: Any] = [:]
        let status: String
        let errorCode: String
        /// The target holds the check until its budget runs out: it must end no earlier than
        /// `timeoutMs` either (proof that the budget, not an earlier failure, ended it).
        var usesTheWholeBudget = false
        var timeoutMs = HostileTargetTests.timeoutMs
    }

    /// Short enough for a quick test, long enough for loopback scheduling noise.
    static let timeoutMs = 1000

    @Test("every hostile target is classified within timeoutMs + 100 ms, by the engine's own duration")
    func hostileTargetsAreClassifiedWithinTheBudget() throws {
        try withFarm { farm in
            let nginx = try NginxTLSServer()
            defer { nginx.stop() }
            // Accepts connections (the kernel's backlog) and never says a word.
            let silentServer = try ConnectionWitness()
            // Never completes a TCP handshake.
            let backlog = try FullBacklogListener()
            let dns = try SilentDNSServer()
            func http(_ path: String, address: Int = 0) -> String {
                farm.url(path: path, address: farm.addresses[address % farm.addresses.count])
            }
            func redirect(to url: String) -> String {
                http("/redirect-to?url=" + (url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? url))
            }
            let silent = "127.0.0.1:\(silentServer.port)"
            let cases: [Case] = [
                Case(
                    id: "hangs-after-accept", url: "http://\(silent)/", status: "TIMEOUT", errorCode: "timeout",
                    usesTheWholeBudget: true),
                // curl counts the TLS handshake as part of connecting (its connect timeout covers
                // both), and reports no connect time until the handshake is done.
                Case(
                    id: "hangs-in-tls-handshake", url: "https://\(silent)/", status: "TIMEOUT",
                    errorCode: "connect_timeout", usesTheWholeBudget: true),
                Case(
                    id: "never-accepts", url: "http://127.0.0.1:\(backlog.port)/", status: "TIMEOUT",
                    errorCode: "connect_timeout", usesTheWholeBudget: true),
                Case(
                    id: "answers-too-late", url: http("/delay/600000"), status: "TIMEOUT", errorCode: "timeout",
                    usesTheWholeBudget: true),
                Case(
                    id: "slow-body", url: http("/trickle?bytes=100000&intervalMs=20", address: 1), status: "TIMEOUT",
                    errorCode: "timeout", usesTheWholeBudget: true),
                Case(
                    id: "slow-body-below-low-speed", url: http("/trickle?bytes=100000&intervalMs=200", address: 2),
                    extra: ["lowSpeedBytesPerSecond": 100, "lowSpeedSeconds": 1], status: "TIMEOUT",
                    errorCode: "low_speed", timeoutMs: 3000),
                Case(
                    id: "huge-announced-body", url: http("/huge?bytes=1073741824", address: 3),
                    extra: ["maxBodyBytes": 1_048_576], status: "ERROR", errorCode: "too_large"),
                Case(
                    id: "huge-chunked-body", url: http("/huge-chunked?bytes=1073741824", address: 1),
                    extra: ["maxBodyBytes": 1_048_576], status: "ERROR", errorCode: "too_large"),
                Case(id: "reset", url: http("/reset", address: 2), status: "ERROR", errorCode: "reset"),
                Case(
                    id: "closes-silently", url: http("/close", address: 3), status: "ERROR", errorCode: "empty_response"
                ),
                Case(id: "not-http", url: http("/garbage", address: 1), status: "ERROR", errorCode: "bad_response"),
                Case(
                    id: "redirect-loop", url: http("/redirect-loop", address: 2), status: "ERROR",
                    errorCode: "redirect_loop"),
                Case(
                    id: "endless-redirects", url: http("/redirect/1000", address: 3), status: "ERROR",
                    errorCode: "too_many_redirects"),
                Case(
                    id: "redirect-to-ftp", url: redirect(to: "ftp://127.0.0.1/file"), status: "ERROR",
                    errorCode: "unsupported_scheme"),
                Case(
                    id: "redirect-to-file", url: redirect(to: "file:///etc/passwd"), status: "ERROR",
                    errorCode: "unsupported_scheme"),
                Case(
                    id: "redirect-then-hang", url: redirect(to: http("/delay/600000", address: 1)), status: "TIMEOUT",
                    errorCode: "timeout", usesTheWholeBudget: true),
                Case(
                    id: "redirect-to-silent-dns", url: redirect(to: "http://redirected.never-answered.test/"),
                    status: "ERROR", errorCode: "dns_timeout", usesTheWholeBudget: true),
                Case(
                    id: "tls-self-signed", url: "https://127.0.0.1:\(nginx.selfSignedPort)/", status: "ERROR",
                    errorCode: "tls_verify"),
                Case(
                    id: "tls-expired", url: "https://127.0.0.1:\(nginx.expiredPort)/", status: "ERROR",
                    errorCode: "tls_expired"),
                Case(
                    id: "tls-to-plain-http", url: "https://\(farm.addresses[0]):\(farm.httpPort)/ok", status: "ERROR",
                    errorCode: "tls_handshake"),
                Case(
                    id: "dns-never-answers", url: "http://never-answered.test/", status: "ERROR",
                    errorCode: "dns_timeout", usesTheWholeBudget: true),
            ]
            let monitors = cases.map { item -> [String: Any] in
                var monitor = item.extra
                monitor["id"] = item.id
                monitor["url"] = item.url
                monitor["timeoutMs"] = item.timeoutMs
                return monitor
            }
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: [
                    "--once", "--allow-private-targets", "--max-per-host", "0", "--dns-server", dns.address,
                    "--dns-timeout-ms", "5000", "--dns-tries", "2", "--ca-file", nginx.caFile,
                ])
            #expect(run.checks.count == cases.count, "one result per target; stderr: \(run.standardError)")
            for item in cases {
                let check = try run.check(item.id)
                let limit = Double(item.timeoutMs)
                #expect(check.status == item.status, "\(item.id): \(check.fields)")
                #expect(check.errorCode == item.errorCode, "\(item.id): \(check.fields)")
                let total = check.milliseconds("totalMs")
                #expect(total >= 0 && total <= limit + 100, "\(item.id): totalMs \(total) for timeoutMs \(limit)")
                if item.usesTheWholeBudget {
                    #expect(total >= limit - 1, "\(item.id): ended by its budget, totalMs \(total)")
                }
            }
            #expect(try run.check("redirect-then-hang").redirects == 1)
            #expect(try run.check("redirect-to-silent-dns").httpStatus == 302)
            #expect(dns.queryCount >= 1, "the engine did ask the silent server")
        }
    }
}
