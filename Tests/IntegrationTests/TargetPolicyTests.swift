import Foundation
import LookoutTestSupport
import Testing

/// The SSRF policy end to end: refused targets produce `policy` errors and are never connected
/// to, whether they come from the URL, from DNS or from a redirect. Nothing here leaves the
/// machine: every refused address is either loopback (watched by a witness listener) or
/// stopped by the policy before any socket exists.
@Suite("Target policy end to end", .blocksThreads, .serialized)
struct TargetPolicyTests {
    @Test("refused targets are reported as policy errors and never connected to")
    func refusedTargetsAreNeverConnected() throws {
        try withFarm { farm in
            let witness = try ConnectionWitness()
            let port = farm.httpPort
            let farmAddress = farm.addresses[0]
            let blockedLoopback = "http://127.0.0.1:\(witness.port)/"
            let monitors: [[String: Any]] = [
                ["id": "farm-allowed", "url": farm.url(path: "/ok")],
                ["id": "loopback-literal", "url": blockedLoopback],
                ["id": "mapped-ipv6-literal", "url": "http://[::ffff:127.0.0.1]:\(witness.port)/"],
                ["id": "metadata-by-name", "url": "http://ip-169-254-169-254.bench.test:\(port)/latest/meta-data/"],
                ["id": "private-by-name", "url": "http://ip-10-0-0-1.bench.test:\(port)/"],
                [
                    "id": "redirect-to-loopback",
                    "url": farm.url(path: "/redirect-to?url=" + Self.encode(blockedLoopback)),
                ],
                [
                    "id": "redirect-to-private-name",
                    "url": farm.url(
                        path: "/redirect-to?url=" + Self.encode("http://ip-192-168-1-1.bench.test:\(port)/")),
                ],
            ]
            // Only the farm's own addresses are allowed; 127.0.0.1 (the witness) is not.
            let run = try EngineRun.run(
                monitors: monitors,
                arguments: [
                    "--once", "--allow-target", "\(farmAddress)/32", "--dns-server", "127.0.0.1:\(farm.dnsPort)",
                ])
            #expect(try run.check("farm-allowed").status == "UP", "an allowed range still works: \(run.standardError)")
            for id in [
                "loopback-literal", "mapped-ipv6-literal", "metadata-by-name", "private-by-name",
                "redirect-to-loopback", "redirect-to-private-name",
            ] {
                let check = try run.check(id)
                #expect(check.status == "ERROR", "\(id): \(check.fields)")
                #expect(check.errorCode == "policy", "\(id): \(check.fields)")
            }
            #expect(try run.check("metadata-by-name").errorMessage?.contains("169.254.169.254") == true)
            #expect(try run.check("redirect-to-loopback").httpStatus == 302, "the first hop was answered")
            #expect(witness.takeConnectionCount() == 0, "no connection reached a refused address")
        }
    }

    @Test("a proxy named in the environment is never used: the check goes to the target the policy judged")
    func environmentProxyIsIgnored() throws {
        try withFarm { farm in
            // Were curl to honour these, every check would go to the witness instead (and the
            // policy would judge the proxy's address, not the target's).
            let proxy = try ConnectionWitness()
            let proxyURL = "http://127.0.0.1:\(proxy.port)"
            let run = try EngineRun.run(
                monitors: [["id": "through-no-proxy", "url": farm.url(path: "/ok"), "timeoutMs": 2000]],
                arguments: ["--once", "--allow-private-targets", "--dns-server", "127.0.0.1:\(farm.dnsPort)"],
                environment: [
                    "http_proxy": proxyURL, "HTTP_PROXY": proxyURL, "all_proxy": proxyURL, "ALL_PROXY": proxyURL,
                ])
            let check = try run.check("through-no-proxy")
            #expect(check.status == "UP", "\(check.fields); \(run.standardError)")
            #expect(proxy.takeConnectionCount() == 0, "nothing connected to the proxy")
        }
    }

    @Test("without any allowance even loopback is refused")
    func defaultPolicyRefusesLoopback() throws {
        try withFarm { farm in
            let run = try EngineRun.run(
                monitors: [["id": "farm", "url": farm.url(path: "/ok")]], arguments: ["--once"])
            #expect(run.exitStatus == 1)
            #expect(try run.check("farm").errorCode == "policy")
            #expect(try farm.stats().byPath["/ok", default: 0] == 0, "the farm never saw the request")
        }
    }

    @Test("every numeric spelling of a loopback address is refused by the policy, with no DNS lookup and no connection")
    func numericIPv4FormsAreAddresses() throws {
        let witness = try ConnectionWitness()
        let dns = try SilentDNSServer()
        let port = witness.port
        let forms = [
            // one part (hex, integer, octal), two, three and four parts, mixed bases, a trailing dot
            "0x7f000001", "2130706433", "017700000001", "127.1", "0x7f.1", "127.0.1", "0177.0.0x1", "0177.0.0.1",
            "0x7F.0.0.0x1", "127.0.0.1.",
        ]
        let monitors = forms.enumerated().map { index, host -> [String: Any] in
            ["id": "form-\(index)", "url": "http://\(host):\(port)/", "timeoutMs": 3000]
        }
        // The default policy; a lookup would go to the silent server and end in dns_timeout.
        let run = try EngineRun.run(monitors: monitors, arguments: ["--once", "--dns-server", dns.address])
        #expect(run.exitStatus == 1, "stderr: \(run.standardError)")
        for (index, host) in forms.enumerated() {
            let check = try run.check("form-\(index)")
            #expect(check.errorCode == "policy", "\(host): \(check.fields)")
            #expect(check.errorMessage?.contains("127.0.0.1") == true, "\(host) is named as 127.0.0.1: \(check.fields)")
            #expect(check.milliseconds("dnsMs") == 0, "\(host) is an address, not a name")
        }
        #expect(dns.queryCount == 0, "no DNS query was sent")
        #expect(witness.takeConnectionCount() == 0, "no connection reached the refused address")
    }

    @Test("an allowed numeric spelling connects to the address the policy judged")
    func numericIPv4FormConnectsToItsAddress() throws {
        try withFarm { farm in
            // The farm listens on 127.0.1.x only: a check that reached any other address fails.
            let parts = farm.addresses[0].split(separator: ".").compactMap { UInt32($0) }
            let value = parts.reduce(UInt32(0)) { $0 << 8 | $1 }
            let hex = "0x" + String(value, radix: 16)
            let dns = try SilentDNSServer()
            let run = try EngineRun.run(
                monitors: [
                    ["id": "hex", "url": "http://\(hex):\(farm.httpPort)/ok"],
                    ["id": "integer", "url": "http://\(value):\(farm.httpPort)/ok"],
                ],
                arguments: [
                    "--once", "--allow-target", "\(farm.addresses[0])/32", "--dns-server", dns.address,
                ])
            #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
            let hexCheck = try run.check("hex")
            let integerCheck = try run.check("integer")
            #expect(hexCheck.status == "UP", "\(hexCheck.fields)")
            #expect(integerCheck.status == "UP", "\(integerCheck.fields)")
            #expect(dns.queryCount == 0)
        }
    }

    private static func encode(_ url: String) -> String {
        url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? url
    }
}
