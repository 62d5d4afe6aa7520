import Foundation
import LookoutTestSupport
import Testing

/// The `tcp`, `dns` and `tls` check kinds, end to end: the real `lookout-engine` binary against
/// real servers on loopback (a line server, the bench's DNS server with its fixed records, nginx
/// with test certificates).
@Suite("Check kinds: tcp", .blocksThreads, .serialized)
struct TCPCheckKindTests {
    @Test("connect, banner, send/expect: UP with connectMs; wrong reply DOWN; closed port ERROR")
    func upDownAndRefused() throws {
        let server = try LineServer(banner: "220 lookout-test ready\r\n")
        defer { server.stop() }
        let closed = try freeLoopbackPort()
        let run = try EngineRun.run(
            monitors: [
                ["id": "connect", "type": "tcp", "host": "127.0.0.1", "port": server.port],
                ["id": "banner", "type": "tcp", "host": "localhost", "port": server.port, "expect": "220 lookout"],
                [
                    "id": "ping", "type": "tcp", "host": "127.0.0.1", "port": server.port, "send": "PING\n",
                    "expect": "PONG PING",
                ],
                [
                    "id": "wrong", "type": "tcp", "host": "127.0.0.1", "port": server.port, "send": "PING\n",
                    "expect": "PONG OTHER",
                ],
                ["id": "refused", "type": "tcp", "host": "127.0.0.1", "port": closed],
            ],
            arguments: ["--once", "--allow-private-targets"])
        for id in ["connect", "banner", "ping"] {
            let check = try run.check(id)
            #expect(check.status == "UP", "\(id): \(check.fields)")
            #expect(check.milliseconds("connectMs") > 0, "\(id): \(check.fields)")
        }
        #expect(try run.check("ping").milliseconds("ttfbMs") >= run.check("ping").milliseconds("connectMs"))
        let wrong = try run.check("wrong")
        #expect(wrong.status == "DOWN")
        #expect(wrong.errorCode == "expect_missing")
        #expect(wrong.errorMessage?.contains("PONG PING") == true, "the message shows what came: \(wrong.fields)")
        let refused = try run.check("refused")
        #expect(refused.status == "ERROR")
        #expect(refused.errorCode == "connect_refused")
        #expect(run.exitStatus != 0, "not every monitor is UP")
    }

    @Test("a server that never answers ends at timeoutMs; a full backlog at connectTimeoutMs")
    func timeoutsAreBounded() throws {
        let silent = try LineServer(silent: true)
        defer { silent.stop() }
        let backlog = try FullBacklogListener()
        let run = try EngineRun.run(
            monitors: [
                [
                    "id": "silent", "type": "tcp", "host": "127.0.0.1", "port": silent.port, "expect": "220",
                    "timeoutMs": 600,
                ],
                [
                    "id": "backlog", "type": "tcp", "host": "127.0.0.1", "port": backlog.port, "timeoutMs": 2000,
                    "connectTimeoutMs": 300,
                ],
            ],
            arguments: ["--once", "--allow-private-targets"])
        let quiet = try run.check("silent")
        #expect(quiet.status == "TIMEOUT")
        #expect(quiet.errorCode == "timeout")
        #expect(quiet.milliseconds("totalMs") >= 590 && quiet.milliseconds("totalMs") < 1500, "\(quiet.fields)")
        let full = try run.check("backlog")
        #expect(full.status == "TIMEOUT")
        #expect(full.errorCode == "connect_timeout")
        #expect(full.milliseconds("totalMs") >= 290 && full.milliseconds("totalMs") < 1500, "\(full.fields)")
    }

    @Test("the target policy refuses a loopback target before any connection")
    func policyRefusesBeforeConnecting() throws {
        let witness = try ConnectionWitness()
        let run = try EngineRun.run(
            monitors: [
                ["id": "tcp", "type": "tcp", "host": "127.0.0.1", "port": witness.port],
                ["id": "tls", "type": "tls", "host": "localhost", "port": witness.port],
            ],
            arguments: ["--once"])
        for id in ["tcp", "tls"] {
            let check = try run.check(id)
            #expect(check.status == "ERROR", "\(id)")
            #expect(check.errorCode == "policy", "\(id): \(check.fields)")
        }
        #expect(witness.takeConnectionCount() == 0)
    }
}

@Suite("Check kinds: dns", .blocksThreads, .serialized)
struct DNSCheckKindTests {
    @Test("every record type, with and without expectedValues, through an explicit server")
    func recordTypes() throws {
        let farm = try FarmProcess.start()
        defer { farm.stop() }
        let server = "127.0.0.1:\(farm.dnsPort)"
        func monitor(_ id: String, _ name: String, _ type: String, _ expected: [String] = []) -> [String: Any] {
            ["id": id, "type": "dns", "name": name, "recordType": type, "server": server, "expectedValues": expected]
        }
        let run = try EngineRun.run(
            monitors: [
                monitor("a", "fixed.bench.test", "A", ["192.0.2.10"]),
                monitor("aaaa", "fixed.bench.test", "AAAA", ["2001:db8::10"]),
                monitor("mx", "fixed.bench.test", "MX", ["10 mail.bench.test.", "20 Backup.bench.test"]),
                monitor("txt", "fixed.bench.test", "TXT", ["v=spf1 -all", "hello world"]),
                monitor("ns", "fixed.bench.test", "NS", ["ns1.bench.test", "ns2.bench.test"]),
                monitor("cname", "alias.bench.test", "CNAME", ["target.bench.test"]),
                monitor("soa", "bench.test", "SOA"),
                monitor("alias-a", "alias.bench.test", "A", ["192.0.2.20"]),
            ],
            arguments: ["--once", "--allow-private-targets"])
        #expect(run.exitStatus == 0, "all UP: \(run.checks.map(\.fields))")
        func answers(_ id: String) throws -> [String] { try run.check(id).fields["dnsAnswers"] as? [String] ?? [] }
        #expect(try answers("mx") == ["10 mail.bench.test", "20 backup.bench.test"])
        #expect(try answers("txt") == ["v=spf1 -all", "hello world"])
        #expect(try answers("soa") == ["ns.bench.test hostmaster.bench.test 1 3600 600 86400 30"])
        #expect(try answers("alias-a") == ["192.0.2.20"])
        #expect(try run.check("a").milliseconds("dnsMs") > 0)
    }

    @Test("mismatch is DOWN, NXDOMAIN and NODATA are ERROR, silence ends at timeoutMs")
    func failures() throws {
        let farm = try FarmProcess.start()
        defer { farm.stop() }
        let run = try EngineRun.run(
            monitors: [
                [
                    "id": "mismatch", "type": "dns", "name": "fixed.bench.test", "recordType": "MX",
                    "expectedValues": ["5 other.example"],
                ],
                ["id": "nx", "type": "dns", "name": "nx-1.bench.test"],
                ["id": "nodata", "type": "dns", "name": "fixed.bench.test", "recordType": "CNAME"],
                ["id": "silent", "type": "dns", "name": "timeout-1.bench.test", "timeoutMs": 500],
            ],
            // The engine's resolver (no `server`): the bench's DNS server, as the operator chose.
            arguments: ["--once", "--dns-server", "127.0.0.1:\(farm.dnsPort)", "--dns-timeout-ms", "5000"])
        let mismatch = try run.check("mismatch")
        #expect(mismatch.status == "DOWN")
        #expect(mismatch.errorCode == "dns_mismatch")
        #expect((mismatch.fields["dnsAnswers"] as? [String])?.count == 2)
        #expect(try run.check("nx").errorCode == "dns_nxdomain")
        #expect(try run.check("nodata").errorCode == "dns_no_address")
        let silent = try run.check("silent")
        #expect(silent.errorCode == "dns_timeout")
        #expect(silent.milliseconds("totalMs") >= 490 && silent.milliseconds("totalMs") < 1500, "\(silent.fields)")
    }

    @Test("an explicit server is judged by the target policy")
    func serverPolicy() throws {
        let farm = try FarmProcess.start()
        defer { farm.stop() }
        let run = try EngineRun.run(
            monitors: [
                ["id": "private", "type": "dns", "name": "fixed.bench.test", "server": "127.0.0.1:\(farm.dnsPort)"]
            ],
            arguments: ["--once"])
        #expect(try run.check("private").errorCode == "policy")
        #expect(try farm.stats().dnsQueries == 0)
    }
}

@Suite("Check kinds: tls", .blocksThreads, .serialized)
struct TLSCheckKindTests {
    @Test("valid UP with expiry, issuer, protocol, cipher; soon-expiring DOWN; expired, wrong name, self-signed ERROR")
    func certificates() throws {
        let nginx = try NginxTLSServer()
        defer { nginx.stop() }
        func monitor(
            _ id: String, _ port: Int, host: String = "127.0.0.1", _ extra: [String: Any] = [:]
        )
            -> [String: Any]
        {
            ["id": id, "type": "tls", "host": host, "port": port].merging(extra) { $1 }
        }
        let run = try EngineRun.run(
            monitors: [
                monitor("valid", nginx.validPort),
                monitor("valid-name", nginx.validPort, host: "localhost"),
                monitor("soon", nginx.soonExpiringPort),
                monitor("soon-allowed", nginx.soonExpiringPort, ["certMinDaysLeft": 2]),
                monitor("expired", nginx.expiredPort),
                monitor("wrong-name", nginx.wrongNamePort),
                monitor("self-signed", nginx.selfSignedPort),
                monitor("expired-unverified", nginx.expiredPort, ["verifyTLS": false]),
            ],
            arguments: ["--once", "--allow-private-targets", "--ca-file", nginx.caFile])
        let now = Date()
        func expiry(_ check: EngineRun.Check) -> Double {
            guard let text = check.certExpiresAt, let date = ISO8601DateFormatter.withFractionalSeconds.date(from: text)
            else { return .nan }
            return date.timeIntervalSince(now) / 86_400
        }
        for id in ["valid", "valid-name", "soon-allowed"] {
            let check = try run.check(id)
            #expect(check.status == "UP", "\(id): \(check.fields)")
            #expect(check.milliseconds("connectMs") > 0 && check.milliseconds("tlsMs") > 0, "\(id)")
            #expect((check.fields["tlsIssuer"] as? String)?.contains("CN=Lookout Test CA") == true, "\(check.fields)")
            #expect((check.fields["tlsProtocol"] as? String)?.hasPrefix("TLSv1.") == true, "\(check.fields)")
            #expect(!((check.fields["tlsCipher"] as? String) ?? "").isEmpty, "\(check.fields)")
        }
        #expect(abs(expiry(try run.check("valid")) - 20) < 0.1)
        let soon = try run.check("soon")
        #expect(soon.status == "DOWN")
        #expect(soon.errorCode == "cert_expiring")
        #expect(abs(expiry(soon) - 3) < 0.1)
        let expired = try run.check("expired")
        #expect(expired.status == "ERROR")
        #expect(expired.errorCode == "tls_expired")
        #expect(expiry(expired) < 0, "an expired certificate is still described: \(expired.fields)")
        let wrongName = try run.check("wrong-name")
        #expect(wrongName.errorCode == "tls_verify")
        #expect(wrongName.errorMessage?.contains("not valid for 127.0.0.1") == true, "\(wrongName.fields)")
        #expect(try run.check("self-signed").errorCode == "tls_verify")
        let unverified = try run.check("expired-unverified")
        #expect(unverified.status == "DOWN", "verifyTLS false still judges the expiry: \(unverified.fields)")
        #expect(unverified.errorCode == "cert_expiring")
    }

    @Test("a server that never completes the handshake ends at timeoutMs")
    func handshakeTimeout() throws {
        let silent = try LineServer(silent: true)
        defer { silent.stop() }
        let run = try EngineRun.run(
            monitors: [["id": "silent", "type": "tls", "host": "127.0.0.1", "port": silent.port, "timeoutMs": 600]],
            arguments: ["--once", "--allow-private-targets"])
        let check = try run.check("silent")
        #expect(check.status == "TIMEOUT")
        #expect(check.errorCode == "timeout")
        #expect(check.milliseconds("totalMs") >= 590 && check.milliseconds("totalMs") < 1500, "\(check.fields)")
    }
}
