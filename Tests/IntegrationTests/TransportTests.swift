import Foundation
import LookoutTestSupport
import Testing

/// HTTP versions, content decoding and TLS session reuse (`httpVersion`, `acceptEncoding`,
/// `tlsSessionReuse`) with the real engine against Debian's nginx on loopback.
@Suite("Transport options against nginx", .blocksThreads, .serialized)
struct TransportTests {
    private func engineArguments(_ nginx: NginxTLSServer) -> [String] {
        ["--allow-private-targets", "--ca-file", nginx.caFile, "--loops", "1"]
    }

    @Test("httpVersion: which version answers, and what a server without HTTP/2 gets")
    func httpVersions() throws {
        let nginx = try NginxTLSServer()
        defer { nginx.stop() }
        let h2 = "https://127.0.0.1:\(nginx.http2Port)/"
        let h1 = "https://127.0.0.1:\(nginx.validPort)/"
        let h2c = "http://127.0.0.1:\(nginx.cleartextHTTP2Port)/"
        let plain = "http://127.0.0.1:\(nginx.plainPort)/"
        // id: (url, httpVersion or nil for the default, status, errorCode, answered version, keyword)
        let cases: [(String, String, String?, String, String?, String?, String?)] = [
            ("default-on-h2", h2, nil, "UP", nil, "1.1", "HTTP/1.1"),
            ("1.1-on-h2", h2, "1.1", "UP", nil, "1.1", "HTTP/1.1"),
            ("2-on-h2", h2, "2", "UP", nil, "2", "HTTP/2.0"),
            ("auto-on-h2", h2, "auto", "UP", nil, "2", "HTTP/2.0"),
            ("2-on-h1", h1, "2", "ERROR", "bad_response", "1.1", nil),
            ("auto-on-h1", h1, "auto", "UP", nil, "1.1", "HTTP/1.1"),
            ("2-on-h2c", h2c, "2", "UP", nil, "2", "HTTP/2.0"),
            // A server speaking the other version than the one sent either closes at once or
            // answers something unreadable: empty_response or bad_response (see below).
            ("auto-on-h2c", h2c, "auto", "ERROR", "bad_response", nil, nil),
            ("2-on-plain", plain, "2", "ERROR", "bad_response", nil, nil),
            ("auto-on-plain", plain, "auto", "UP", nil, "1.1", "HTTP/1.1"),
        ]
        var monitors: [[String: Any]] = []
        for (id, url, version, _, _, _, keyword) in cases {
            var monitor: [String: Any] = ["id": id, "url": url]
            if let version { monitor["httpVersion"] = version }
            if let keyword { monitor["keyword"] = keyword }
            monitors.append(monitor)
        }
        let run = try EngineRun.run(monitors: monitors, arguments: ["--once"] + engineArguments(nginx))
        for (id, _, _, status, errorCode, answered, _) in cases {
            let check = try run.check(id)
            #expect(check.status == status, "\(id): \(check.fields)")
            if id == "auto-on-h2c" || id == "2-on-plain" {
                #expect(["bad_response", "empty_response"].contains(check.errorCode), "\(id): \(check.fields)")
            } else {
                #expect(check.errorCode == errorCode, "\(id): \(check.fields)")
            }
            if let answered {
                #expect(check.fields["httpVersion"] as? String == answered, "\(id): \(check.fields)")
            }
        }
        // The refusal says what came back and what to do.
        let refused = try run.check("2-on-h1")
        #expect(refused.errorMessage?.contains("answered in HTTP/1.1") == true, "\(refused.fields)")
        #expect(refused.errorMessage?.contains("\"auto\"") == true, "\(refused.fields)")
    }

    @Test("acceptEncoding decodes gzip, and the body cap counts decoded bytes (a compression bomb stops there)")
    func contentDecoding() throws {
        let nginx = try NginxTLSServer()
        defer { nginx.stop() }
        let text = "http://127.0.0.1:\(nginx.plainPort)/files/text"
        let zeros = "http://127.0.0.1:\(nginx.plainPort)/files/zeros"
        let word = NginxTLSServer.textEndWord
        let monitors: [[String: Any]] = [
            // The server does compress this route: asked by hand and not decoded, the word is not there.
            ["id": "gzip-undecoded", "url": text, "headers": ["Accept-Encoding": "gzip"], "keyword": word],
            ["id": "gzip-decoded", "url": text, "acceptEncoding": true, "keyword": word],
            [
                "id": "gzip-decoded-h2", "url": "https://127.0.0.1:\(nginx.http2Port)/files/text",
                "httpVersion": "2", "acceptEncoding": true, "keyword": word,
            ],
            // 64 KiB decoded, well under 1 KiB on the wire: over a 32 KiB cap once decoded.
            ["id": "decoded-over-cap", "url": text, "acceptEncoding": true, "maxBodyBytes": 32_768],
            // 8 MiB of zeros, a few KiB gzipped: cut at the 1 MiB cap.
            ["id": "bomb", "url": zeros, "acceptEncoding": true, "maxBodyBytes": 1 << 20],
            // The same bytes not decoded fit under the cap (the cap counts what the check reads).
            ["id": "bomb-undecoded", "url": zeros, "headers": ["Accept-Encoding": "gzip"], "maxBodyBytes": 1 << 20],
        ]
        let run = try EngineRun.run(monitors: monitors, arguments: ["--once"] + engineArguments(nginx))
        let expected: [(String, String, String?)] = [
            ("gzip-undecoded", "DOWN", "keyword_missing"),
            ("gzip-decoded", "UP", nil),
            ("gzip-decoded-h2", "UP", nil),
            ("decoded-over-cap", "ERROR", "too_large"),
            ("bomb", "ERROR", "too_large"),
            ("bomb-undecoded", "UP", nil),
        ]
        for (id, status, errorCode) in expected {
            let check = try run.check(id)
            #expect(check.status == status, "\(id): \(check.fields)")
            #expect(check.errorCode == errorCode, "\(id): \(check.fields)")
        }
        #expect(try run.check("gzip-decoded-h2").fields["httpVersion"] as? String == "2")
    }

    @Test("the bench farm's HTTPS listener answers the engine and resumes TLS sessions")
    func farmHTTPS() throws {
        try withFarm(FarmProcess.Options(addresses: 2, https: true)) { farm in
            let port = try #require(farm.httpsPort)
            let caFile = try #require(farm.caFile)
            let url = "https://\(farm.addresses[1]):\(port)/ok"
            let monitors: [[String: Any]] = [
                ["id": "farm-full", "url": url, "intervalSeconds": 0.2, "keyword": "ok"],
                ["id": "farm-reuse", "url": url, "intervalSeconds": 0.2, "tlsSessionReuse": true],
            ]
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: ["--duration", "1.5", "--allow-private-targets", "--ca-file", caFile, "--loops", "1"])
            #expect(run.exitStatus == 0, "\(run.standardError)")
            let full = run.checks(of: "farm-full")
            let reuse = run.checks(of: "farm-reuse")
            #expect(full.count >= 4 && reuse.count >= 4, "\(full.count) and \(reuse.count) checks")
            #expect(
                (full + reuse).allSatisfy { $0.status == "UP" && $0.certExpiresAt != nil },
                "\(run.checks.map(\.fields))")
            #expect(full.allSatisfy { $0.fields["tlsResumed"] as? Bool == false })
            #expect(reuse.filter { $0.fields["tlsResumed"] as? Bool == true }.count >= reuse.count - 1)
        }
    }

    @Test("tlsSessionReuse resumes, with a full handshake again every tlsFullHandshakeSeconds; others never resume")
    func sessionReuse() throws {
        let nginx = try NginxTLSServer()
        defer { nginx.stop() }
        let url = "https://127.0.0.1:\(nginx.validPort)/"
        let monitors: [[String: Any]] = [
            ["id": "reuse", "url": url, "intervalSeconds": 0.2, "tlsSessionReuse": true, "tlsFullHandshakeSeconds": 1],
            ["id": "full", "url": url, "intervalSeconds": 0.2],
        ]
        let run = try EngineRun.run(
            monitors: monitors, arguments: ["--duration", "3.5", "--max-in-flight", "4"] + engineArguments(nginx))
        #expect(run.exitStatus == 0, "\(run.standardError)")
        let formatter = ISO8601DateFormatter.withFractionalSeconds
        func ordered(_ id: String) -> [(at: Date, resumed: Bool?, tlsMs: Double, check: EngineRun.Check)] {
            run.checks(of: id).map {
                (
                    ($0.fields["checkedAt"] as? String).flatMap(formatter.date(from:)) ?? .distantPast,
                    $0.fields["tlsResumed"] as? Bool, $0.milliseconds("tlsMs"), $0
                )
            }.sorted { $0.at < $1.at }
        }
        let reuse = ordered("reuse")
        let full = ordered("full")
        #expect(reuse.count >= 12 && full.count >= 12, "checks: \(reuse.count) reuse, \(full.count) full")
        #expect(reuse.allSatisfy { $0.check.status == "UP" && $0.check.certExpiresAt != nil })
        #expect(full.allSatisfy { $0.check.status == "UP" })
        // Pooled handles keep no session for a monitor without reuse: a full handshake every time.
        #expect(full.allSatisfy { $0.resumed == false }, "\(full.map(\.resumed))")

        #expect(reuse.first?.resumed == false, "the first check has no session to resume")
        let fullHandshakes = reuse.filter { $0.resumed == false }.map(\.at)
        let resumed = reuse.filter { $0.resumed == true }
        #expect(resumed.count >= reuse.count / 2, "resumed: \(reuse.map(\.resumed))")
        // Over 3.5 s with a 1 s period: a full handshake at the start and again after each period.
        #expect(fullHandshakes.count >= 3, "full handshakes at \(fullHandshakes)")
        for (earlier, later) in zip(fullHandshakes, fullHandshakes.dropFirst()) {
            let gap = later.timeIntervalSince(earlier)
            #expect(gap >= 0.99, "full handshakes \(gap) s apart: \(fullHandshakes)")
            #expect(gap < 1.8, "a full handshake is due 1 s after the last: \(fullHandshakes)")
        }
        let medianResumed = resumed.map(\.tlsMs).sorted()[resumed.count / 2]
        let medianFull = full.map(\.tlsMs).sorted()[full.count / 2]
        print("tlsMs median: resumed \(medianResumed), full handshake \(medianFull)")
    }
}
