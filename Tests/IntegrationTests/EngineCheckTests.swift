import Foundation
import LookoutTestSupport
import Testing

/// The check engine against real servers on loopback: the bench farm (HTTP and its
/// authoritative DNS server for *.bench.test), Debian's nginx for TLS, and plain sockets.
/// Every status and error code the engine reports is produced here by a real server.
@Suite("Engine checks against real servers", .blocksThreads, .serialized)
struct EngineCheckTests {
    /// One monitor and what its single check must report.
    struct Case {
        let id: String
        let monitor: [String: Any]
        let status: String
        let errorCode: String?
    }

    @Test("every status and error code comes from a real server")
    func statusAndErrorTaxonomy() throws {
        try withFarm { farm in
            let nginx = try NginxTLSServer()
            defer { nginx.stop() }
            let backlog = try FullBacklogListener()
            let refusedPort = try freeLoopbackPort()
            let port = farm.httpPort
            func http(_ path: String) -> String { farm.url(path: path) }
            func named(_ host: String, _ path: String = "/ok") -> String { "http://\(host):\(port)\(path)" }
            func tls(_ serverPort: Int, host: String = "127.0.0.1") -> String { "https://\(host):\(serverPort)/" }
            let encodedFTP = "ftp%3A%2F%2F127.0.0.1%2Ffile"

            let cases: [Case] = [
                Case(id: "up", monitor: ["url": http("/ok")], status: "UP", errorCode: nil),
                Case(
                    id: "status-mismatch", monitor: ["url": http("/status/503")], status: "DOWN",
                    errorCode: "status_mismatch"),
                Case(
                    id: "expected-503", monitor: ["url": http("/status/503"), "expectedStatus": [503]], status: "UP",
                    errorCode: nil),
                Case(
                    id: "keyword-present", monitor: ["url": http("/keyword?word=healthy"), "keyword": "healthy"],
                    status: "UP", errorCode: nil),
                Case(
                    id: "keyword-missing", monitor: ["url": http("/keyword?word=degraded"), "keyword": "healthy"],
                    status: "DOWN", errorCode: "keyword_missing"),
                Case(
                    id: "keyword-absent-violated",
                    monitor: ["url": http("/keyword?word=error"), "keywordAbsent": "error"], status: "DOWN",
                    errorCode: "keyword_present"),
                Case(
                    id: "json-equal",
                    monitor: ["url": http("/json"), "jsonPath": "$.checks[0].ok", "jsonEquals": true], status: "UP",
                    errorCode: nil),
                Case(
                    id: "json-mismatch",
                    monitor: ["url": http("/json?status=degraded"), "jsonPath": "$.status", "jsonEquals": "ok"],
                    status: "DOWN", errorCode: "json_mismatch"),
                Case(
                    id: "json-invalid",
                    monitor: ["url": http("/keyword?word=x"), "jsonPath": "$.status", "jsonEquals": "ok"],
                    status: "DOWN", errorCode: "json_invalid"),
                Case(
                    id: "timeout", monitor: ["url": http("/delay/3000"), "timeoutMs": 400], status: "TIMEOUT",
                    errorCode: "timeout"),
                Case(
                    id: "slow-body-timeout",
                    monitor: ["url": http("/trickle?bytes=50&intervalMs=100"), "timeoutMs": 1000], status: "TIMEOUT",
                    errorCode: "timeout"),
                Case(
                    id: "low-speed",
                    monitor: [
                        "url": http("/trickle?bytes=40&intervalMs=200"), "lowSpeedBytesPerSecond": 100,
                        "lowSpeedSeconds": 1,
                    ], status: "TIMEOUT", errorCode: "low_speed"),
                Case(
                    id: "connect-timeout",
                    monitor: ["url": "http://127.0.0.1:\(backlog.port)/", "connectTimeoutMs": 300, "timeoutMs": 2000],
                    status: "TIMEOUT", errorCode: "connect_timeout"),
                Case(
                    id: "too-large-announced",
                    monitor: ["url": http("/huge?bytes=5000000"), "maxBodyBytes": 1_048_576], status: "ERROR",
                    errorCode: "too_large"),
                Case(
                    id: "too-large-chunked",
                    monitor: ["url": http("/huge-chunked?bytes=5000000"), "maxBodyBytes": 1_048_576], status: "ERROR",
                    errorCode: "too_large"),
                Case(id: "redirects-followed", monitor: ["url": http("/redirect/3")], status: "UP", errorCode: nil),
                Case(
                    id: "redirect-loop", monitor: ["url": http("/redirect-loop")], status: "ERROR",
                    errorCode: "redirect_loop"),
                Case(
                    id: "too-many-redirects", monitor: ["url": http("/redirect/8"), "maxRedirects": 3], status: "ERROR",
                    errorCode: "too_many_redirects"),
                Case(
                    id: "redirect-to-ftp", monitor: ["url": http("/redirect-to?url=\(encodedFTP)")], status: "ERROR",
                    errorCode: "unsupported_scheme"),
                Case(
                    id: "redirect-not-followed",
                    monitor: ["url": http("/redirect/1"), "followRedirects": false, "expectedStatus": [302]],
                    status: "UP", errorCode: nil),
                Case(
                    id: "refused", monitor: ["url": "http://127.0.0.1:\(refusedPort)/"], status: "ERROR",
                    errorCode: "connect_refused"),
                Case(id: "reset", monitor: ["url": http("/reset")], status: "ERROR", errorCode: "reset"),
                Case(
                    id: "empty-response", monitor: ["url": http("/close")], status: "ERROR", errorCode: "empty_response"
                ),
                Case(id: "not-http", monitor: ["url": http("/garbage")], status: "ERROR", errorCode: "bad_response"),
                Case(id: "dns-name", monitor: ["url": named("web-1.bench.test")], status: "UP", errorCode: nil),
                Case(
                    id: "dns-nxdomain", monitor: ["url": named("nx-missing.bench.test")], status: "ERROR",
                    errorCode: "dns_nxdomain"),
                Case(
                    id: "dns-no-address", monitor: ["url": named("empty-host.bench.test")], status: "ERROR",
                    errorCode: "dns_no_address"),
                Case(
                    id: "dns-servfail", monitor: ["url": named("servfail-host.bench.test")], status: "ERROR",
                    errorCode: "dns_error"),
                Case(
                    id: "dns-timeout", monitor: ["url": named("timeout-host.bench.test")], status: "ERROR",
                    errorCode: "dns_timeout"),
                Case(
                    id: "tls-valid", monitor: ["url": tls(nginx.validPort), "keyword": "secure ok"], status: "UP",
                    errorCode: nil),
                Case(
                    id: "tls-valid-by-name", monitor: ["url": tls(nginx.validPort, host: "localhost")], status: "UP",
                    errorCode: nil),
                Case(
                    id: "tls-self-signed", monitor: ["url": tls(nginx.selfSignedPort)], status: "ERROR",
                    errorCode: "tls_verify"),
                Case(
                    id: "tls-expired", monitor: ["url": tls(nginx.expiredPort)], status: "ERROR",
                    errorCode: "tls_expired"),
                Case(
                    id: "tls-unverified", monitor: ["url": tls(nginx.selfSignedPort), "verifyTLS": false], status: "UP",
                    errorCode: nil),
                Case(
                    id: "tls-to-plain-port", monitor: ["url": "https://\(farm.addresses[0]):\(port)/ok"],
                    status: "ERROR", errorCode: "tls_handshake"),
            ]
            let monitors = cases.map { item -> [String: Any] in
                var monitor = item.monitor
                monitor["id"] = item.id
                return monitor
            }
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: [
                    "--once", "--allow-private-targets", "--dns-server", "127.0.0.1:\(farm.dnsPort)",
                    "--dns-timeout-ms", "1500", "--dns-tries", "1", "--ca-file", nginx.caFile, "--loops", "2",
                ])
            #expect(run.checks.count == cases.count, "one result per monitor; stderr: \(run.standardError)")
            for item in cases {
                let check = try run.check(item.id)
                #expect(check.status == item.status, "\(item.id): \(check.fields)")
                #expect(check.errorCode == item.errorCode, "\(item.id): \(check.fields)")
                // Whatever the target does, the check ends within its budget (default 10 s) + 100 ms.
                let timeoutMs = Double(item.monitor["timeoutMs"] as? Int ?? 10_000)
                #expect(check.milliseconds("totalMs") <= timeoutMs + 100, "\(item.id): \(check.fields)")
                if item.status == "UP" {
                    #expect(check.errorMessage == nil, "\(item.id)")
                } else {
                    #expect((check.errorMessage ?? "").count > 10, "\(item.id) needs a message a person can act on")
                }
            }
            #expect(run.exitStatus == 1, "--once exits 1 when a check was not UP")
            #expect(run.standardError.contains("checks in"), "summary line on stderr: \(run.standardError)")

            // Details that only some checks carry.
            #expect(try run.check("redirects-followed").redirects == 3)
            #expect(try run.check("redirect-loop").httpStatus == 302)
            #expect(try run.check("status-mismatch").httpStatus == 503)
            #expect(try run.check("dns-name").milliseconds("dnsMs") > 0)
            #expect(try run.check("up").milliseconds("dnsMs") == 0, "IP literals skip DNS")
            let secure = try run.check("tls-valid")
            #expect(secure.milliseconds("tlsMs") > 0)
            #expect(secure.milliseconds("connectMs") > 0)
            #expect(secure.milliseconds("totalMs") >= secure.milliseconds("ttfbMs"))
            let expiry = try #require(
                secure.certExpiresAt.flatMap { ISO8601DateFormatter.withFractionalSeconds.date(from: $0) })
            let daysLeft = expiry.timeIntervalSinceNow / 86_400
            #expect(daysLeft > 19 && daysLeft < 21, "the fixture certificate expires in 20 days, got \(daysLeft)")
            #expect(try run.check("up").certExpiresAt == nil)
        }
    }

    @Test("a monitors file with bad lines is refused with every line number and reason")
    func refusesMalformedFile() throws {
        let text = """
            {"id":"good","url":"http://127.0.0.1:1/"}
            {"id":"bad-scheme","url":"ftp://example.com/"}
            not json at all

            # a comment
            {"id":"bad-interval","url":"http://127.0.0.1:1/","intervalSeconds":0.01}
            {"url":"http://127.0.0.1:1/"}
            """
        let refused = try EngineRun.run(monitorsText: text, arguments: ["--once", "--allow-private-targets"])
        #expect(refused.exitStatus == 2)
        #expect(refused.checks.isEmpty, "nothing runs when the file is refused")
        for fragment in ["line 2: url", "line 3, column 1:", "line 6: intervalSeconds", "line 7: id", "--skip-invalid"]
        {
            #expect(refused.standardError.contains(fragment), "stderr names '\(fragment)': \(refused.standardError)")
        }
        let skipped = try EngineRun.run(
            monitorsText: text, arguments: ["--once", "--allow-private-targets", "--skip-invalid"])
        #expect(skipped.checks.map(\.monitorId) == ["good"])
        #expect(try skipped.check("good").errorCode == "connect_refused")
    }

    /// `count` monitors of `/delay/300` checked once with `arguments`; every one must be UP.
    /// Returns the run and its lags (ms, ascending).
    private func runSlowChecks(
        on farm: FarmProcess, count: Int, timeoutMs: Int, arguments: [String]
    ) throws -> (EngineRun, [Double]) {
        let monitors = (0..<count).map {
            ["id": "slow-\($0)", "url": farm.url(path: "/delay/300"), "timeoutMs": timeoutMs] as [String: Any]
        }
        let run = try EngineRun.run(
            monitors: monitors, arguments: ["--once", "--allow-private-targets"] + arguments)
        #expect(run.exitStatus == 0, "all UP: \(run.standardError)")
        #expect(run.checks.count == count)
        #expect(run.checks.allSatisfy { $0.status == "UP" })
        return (run, run.checks.map { $0.milliseconds("lagMs") }.sorted())
    }

    @Test("waiting for a free slot shows as lag and never as a timeout")
    func overloadIsLagNotTimeout() throws {
        try withFarm { farm in
            // Five checks of 300 ms each through one slot: the last waits about 1.2 s, far
            // more than its 800 ms timeout, and must still be UP.
            let (run, lags) = try runSlowChecks(
                on: farm, count: 5, timeoutMs: 800, arguments: ["--max-in-flight", "1", "--loops", "1"])
            #expect(lags.last! > 1000, "the last check waited for four others: lags \(lags)")
            #expect(run.checks.allSatisfy { $0.milliseconds("totalMs") < 800 }, "waiting is not part of the check")
        }
    }

    @Test("--max-per-host caps the checks in flight to one address across loops; the wait is lag")
    func perHostLimit() throws {
        try withFarm { farm in
            // 40 checks of 300 ms to one address, 4 at a time over two loops: ten rounds, so
            // the last checks wait about 2.7 s, and still every one is UP.
            let (run, lags) = try runSlowChecks(
                on: farm, count: 40, timeoutMs: 20_000, arguments: ["--max-per-host", "4", "--loops", "2"])
            let stats = try farm.stats()
            #expect(run.checks.allSatisfy { $0.errorCode == nil })
            #expect(stats.byPath["/delay/300"] == 40)
            #expect(stats.maxInProgress <= 4, "the farm saw \(stats.maxInProgress) requests at once")
            #expect(stats.maxInProgress >= 2, "both loops' checks overlapped")
            #expect(lags.last! > 2000, "the last checks waited for nine rounds: lags \(lags)")
            #expect(run.checks.allSatisfy { $0.milliseconds("totalMs") < 2000 }, "the wait is lag, not duration")

            // The control: without a limit the farm sees (nearly) all 40 at once.
            try farm.resetStats()
            _ = try runSlowChecks(
                on: farm, count: 40, timeoutMs: 20_000, arguments: ["--max-per-host", "0", "--loops", "2"])
            #expect(try farm.stats().maxInProgress > 4, "the farm counts concurrent requests")
        }
    }

    @Test("a check whose budget passes while waiting for a per-host permit ends as a timeout")
    func perHostWaitRespectsTheBudget() throws {
        try withFarm { farm in
            // One loop: the first monitor of the file starts first and holds the only permit.
            let monitors: [[String: Any]] = [
                ["id": "holder", "url": farm.url(path: "/delay/1500"), "timeoutMs": 10_000],
                ["id": "waiter", "url": farm.url(path: "/ok"), "timeoutMs": 400],
            ]
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: ["--once", "--allow-private-targets", "--max-per-host", "1", "--loops", "1"])
            #expect(try run.check("holder").status == "UP")
            let waiter = try run.check("waiter")
            #expect(waiter.status == "TIMEOUT")
            #expect(waiter.errorCode == "timeout")
            #expect(waiter.errorMessage?.contains("--max-per-host 1") == true, "\(waiter.errorMessage ?? "")")
            #expect(waiter.milliseconds("lagMs") >= 390, "the wait shows as lag")
            #expect(try farm.stats().byPath["/ok"] == nil, "the waiter never connected")
        }
    }

    @Test("SIGTERM stops admitting, finishes checks in flight and flushes every result")
    func gracefulStopOnSignal() throws {
        try withFarm { farm in
            let monitors = (0..<20).map {
                ["id": "m\($0)", "url": farm.url(path: "/delay/200"), "intervalSeconds": 0.5] as [String: Any]
            }
            let run = try EngineRun.run(
                monitors: monitors, arguments: ["--allow-private-targets"], timeout: 20
            ) { pid in
                usleep(1_500_000)
                kill(pid, SIGTERM)
            }
            #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
            #expect(run.checks.count >= 20, "every monitor ran at least once in 1.5 s")
            #expect(run.checks.allSatisfy { $0.status == "UP" }, "checks in flight were finished, not cut off")
            #expect(run.standardError.contains("checks in"))
            let stats = try farm.stats()
            #expect(
                stats.byPath["/delay/200", default: 0] == run.checks.count,
                "every request the farm answered has a result line")
        }
    }

    @Test("one pooled handle serving monitors with different methods, bodies and headers sends each its own")
    func pooledHandleKeepsNoOptionsOfAnotherMonitor() throws {
        // The engine keeps a handle's curl options from one check to the next while the checks
        // share their option profile, and sets them anew when it changes. One slot makes every
        // check use the same handle, in an order the phases choose; the farm echoes each request
        // and every monitor asserts on what arrived, so an option left over from the previous
        // check (a POST body, HEAD's no-body, a method) turns a check DOWN.
        try withFarm { farm in
            let echo = farm.url(path: "/echo")
            let monitors: [[String: Any]] = [
                ["id": "get", "url": echo + "?m=get", "jsonPath": "$.method", "jsonEquals": "GET"],
                [
                    "id": "post", "url": echo, "method": "POST", "body": "alpha", "jsonPath": "$.body",
                    "jsonEquals": "alpha",
                ],
                ["id": "head", "url": echo, "method": "HEAD"],
                [
                    "id": "put", "url": echo, "method": "PUT", "body": "beta", "jsonPath": "$.method",
                    "jsonEquals": "PUT",
                ],
                [
                    "id": "get-header", "url": echo + "?m=header", "headers": ["X-Probe": "one"],
                    "jsonPath": "$.headers.x-probe", "jsonEquals": "one",
                ],
                ["id": "get-after", "url": echo + "?m=after", "jsonPath": "$.method", "jsonEquals": "GET"],
            ].map { $0.merging(["intervalSeconds": 0.5]) { first, _ in first } }
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: ["--allow-private-targets", "--loops", "1", "--max-in-flight", "1", "--duration", "3"])
            #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
            for monitor in monitors {
                let id = monitor["id"] as! String
                let checks = run.checks(of: id)
                #expect(checks.count >= 4, "\(id) checked every 0.5 s for 3 s: \(checks.count)")
                for check in checks { #expect(check.status == "UP", "\(id): \(check.fields)") }
            }
        }
    }

    @Test("checks of monitors spread over the interval instead of bursting")
    func phasesSpreadChecks() throws {
        try withFarm { farm in
            let monitors = (0..<200).map {
                ["id": "spread-\($0)", "url": farm.url(path: "/ok"), "intervalSeconds": 2] as [String: Any]
            }
            let run = try EngineRun.run(
                monitors: monitors, arguments: ["--allow-private-targets", "--duration", "4.5"])
            #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
            // Count checks per 500 ms bucket of their start time over two full intervals.
            let formatter = ISO8601DateFormatter.withFractionalSeconds
            let starts = run.checks.compactMap { ($0.fields["checkedAt"] as? String).flatMap(formatter.date(from:)) }
            #expect(starts.count >= 400, "200 monitors at 2 s for 4.5 s: \(starts.count) checks")
            let first = starts.min()!.timeIntervalSince1970
            var buckets = [Int](repeating: 0, count: 8)
            for start in starts {
                let index = Int((start.timeIntervalSince1970 - first) / 0.5)
                if index < 8 { buckets[index] += 1 }
            }
            // 200 checks per 2 s = 50 per 500 ms on average; a burst would put 200 in one bucket.
            #expect(buckets.allSatisfy { $0 < 100 }, "checks per 500 ms: \(buckets)")
            #expect(run.checks.allSatisfy { $0.milliseconds("lagMs") < 200 }, "idle engine has no lag")
        }
    }
}

extension ISO8601DateFormatter {
    /// RFC 3339 with milliseconds, as the results file writes it.
    static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
