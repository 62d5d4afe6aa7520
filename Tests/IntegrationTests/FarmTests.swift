import Foundation
import LookoutTestSupport
import Testing

/// The target farm (`lookout-bench farm`) as a real child process, probed over loopback with raw
/// TCP and UDP, so each test sees exactly what the engine will see on the wire.
@Suite("Target farm", .blocksThreads)
struct FarmTests {
    @Test("/ok and /status/N answer with the right status and body")
    func okAndStatus() throws {
        try withFarm { farm in
            let ok = try HTTPProbe.get(host: farm.addresses[1], port: farm.httpPort, path: "/ok").requireResponse()
            #expect(ok.status == 200)
            #expect(ok.text == "ok")
            #expect(ok.header("content-length") == "2")
            #expect(ok.header("connection") == "close")  // the probe asked for it

            let unavailable = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/status/503")
                .requireResponse()
            #expect(unavailable.status == 503)
            #expect(unavailable.text.contains("503"))

            let missing = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/no-such-path")
                .requireResponse()
            #expect(missing.status == 404)
        }
    }

    @Test("every address answers on the same port")
    func allAddressesListen() throws {
        try withFarm(FarmProcess.Options(addresses: 3)) { farm in
            #expect(farm.addresses == ["127.0.1.1", "127.0.1.2", "127.0.1.3"])
            for address in farm.addresses {
                let response = try HTTPProbe.get(host: address, port: farm.httpPort, path: "/ok").requireResponse()
                #expect(response.status == 200, "address \(address)")
            }
        }
    }

    @Test("/redirect/2 leads through /redirect/1 and /redirect/0 to 200")
    func redirectChain() throws {
        try withFarm { farm in
            var path = "/redirect/2"
            var hops: [String] = []
            for _ in 0..<5 {
                let response = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: path)
                    .requireResponse()
                guard response.status == 302 else {
                    #expect(response.status == 200)
                    #expect(response.text == "ok")
                    break
                }
                let location = try #require(response.header("location"))
                hops.append(location)
                path = location
            }
            #expect(hops == ["/redirect/1", "/redirect/0"])

            let loop = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/redirect-loop")
                .requireResponse()
            #expect(loop.status == 302)
            #expect(loop.header("location") == "/redirect-loop")
        }
    }

    @Test("/reset aborts with a TCP RST, /close closes without a byte, /garbage is not HTTP")
    func brokenConnections() throws {
        try withFarm { farm in
            let reset = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/reset")
            #expect(reset.ending == .reset)
            #expect(reset.bytes.isEmpty)

            let closed = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/close")
            #expect(closed.ending == .closed)
            #expect(closed.bytes.isEmpty)

            let garbage = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/garbage")
            #expect(garbage.ending == .closed)
            #expect(String(decoding: garbage.bytes, as: UTF8.self) == "this is not http\r\n\r\n")
            #expect(garbage.response == nil)
        }
    }

    @Test("HEAD gets the headers of a huge body and no body; /json and /echo return their documents")
    func headJSONAndEcho() throws {
        try withFarm { farm in
            let head = try HTTPProbe.get(
                host: farm.addresses[0],
                port: farm.httpPort,
                path: "/huge?bytes=1000000000",
                method: "HEAD"
            ).requireResponse()
            #expect(head.status == 200)
            #expect(head.header("content-length") == "1000000000")
            #expect(head.body.isEmpty)

            let json = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/json?status=degraded")
                .requireResponse()
            #expect(json.header("content-type") == "application/json")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
            #expect(document["status"] as? String == "degraded")
            #expect(document["version"] as? Int == 3)

            let echo = try HTTPProbe.get(
                host: farm.addresses[0],
                port: farm.httpPort,
                path: "/echo?x=1",
                headers: [("X-Lookout", "yes")],
                method: "POST",
                body: "hello"
            ).requireResponse()
            let echoed = try #require(try JSONSerialization.jsonObject(with: Data(echo.body)) as? [String: Any])
            #expect(echoed["method"] as? String == "POST")
            #expect(echoed["path"] as? String == "/echo?x=1")
            #expect(echoed["body"] as? String == "hello")
            #expect((echoed["headers"] as? [String: String])?["x-lookout"] == "yes")
        }
    }

    @Test("/huge streams exactly the requested bytes")
    func hugeBody() throws {
        try withFarm { farm in
            let bytes = 3 * 1024 * 1024 + 17
            let response = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/huge?bytes=\(bytes)")
                .requireResponse()
            #expect(response.header("content-length") == String(bytes))
            #expect(response.body.count == bytes)
        }
    }

    @Test("/__stats counts requests by path, not itself, and /__stats/reset zeroes it")
    func stats() throws {
        try withFarm { farm in
            try farm.resetStats()
            for _ in 0..<3 { _ = try HTTPProbe.get(host: farm.addresses[0], port: farm.httpPort, path: "/ok") }
            _ = try HTTPProbe.get(host: farm.addresses[1], port: farm.httpPort, path: "/status/500")
            _ = try HTTPProbe.get(host: farm.addresses[2], port: farm.httpPort, path: "/reset")
            _ = try farm.stats()  // reading does not count
            let stats = try farm.stats()
            #expect(stats.requests == 5)
            #expect(stats.byPath == ["/ok": 3, "/status/500": 1, "/reset": 1])

            try farm.resetStats()
            #expect(try farm.stats() == FarmProcess.Stats(requests: 0, byPath: [:], dnsQueries: 0))
        }
    }

    @Test("DNS: zone names map to farm addresses by the documented hash; special prefixes")
    func dnsAnswers() throws {
        try withFarm(FarmProcess.Options(addresses: 4, dnsTTL: 120)) { farm in
            for name in ["h1.bench.test", "h2.bench.test", "api.example.bench.test"] {
                let answer = try #require(try DNSProbe.query(name, port: farm.dnsPort), "no answer for \(name)")
                #expect(answer.rcode == 0)
                #expect(answer.isAuthoritative)
                #expect(answer.recursionDesired)  // copied from the query
                #expect(answer.answers.count == 1)
                let expected = farm.addresses[DNSProbe.expectedAddressIndex(of: name, addressCount: 4)]
                #expect(answer.answers.first?.ipv4 == expected, "\(name)")
                #expect(answer.answers.first?.ttl == 120)
            }
            // Case-insensitive, same address.
            let upper = try #require(try DNSProbe.query("H1.BENCH.TEST", port: farm.dnsPort))
            let lower = try #require(try DNSProbe.query("h1.bench.test", port: farm.dnsPort))
            #expect(upper.answers.first?.ipv4 == lower.answers.first?.ipv4)

            let nx = try #require(try DNSProbe.query("nx-missing.bench.test", port: farm.dnsPort))
            #expect(nx.rcode == 3)
            #expect(nx.answers.isEmpty)
            #expect(nx.authority.first?.type == DNSProbe.typeSOA)
            #expect(nx.authority.first?.ttl == 30)

            let literal = try #require(try DNSProbe.query("ip-10-0-0-1.bench.test", port: farm.dnsPort))
            #expect(literal.rcode == 0)
            #expect(literal.answers.first?.ipv4 == "10.0.0.1")
            let metadata = try #require(try DNSProbe.query("ip-169-254-169-254.bench.test", port: farm.dnsPort))
            #expect(metadata.answers.first?.ipv4 == "169.254.169.254")

            let servfail = try #require(try DNSProbe.query("servfail-x.bench.test", port: farm.dnsPort))
            #expect(servfail.rcode == 2)

            let empty = try #require(try DNSProbe.query("empty-x.bench.test", port: farm.dnsPort))
            #expect(empty.rcode == 0)
            #expect(empty.answers.isEmpty)
            #expect(empty.authorityCount == 1)

            let v6 = try #require(try DNSProbe.query("v6-x.bench.test", type: DNSProbe.typeAAAA, port: farm.dnsPort))
            #expect(v6.answers.first?.data == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            let noAAAA = try #require(try DNSProbe.query("h1.bench.test", type: DNSProbe.typeAAAA, port: farm.dnsPort))
            #expect(noAAAA.rcode == 0)
            #expect(noAAAA.answers.isEmpty)

            let outside = try #require(try DNSProbe.query("example.com", port: farm.dnsPort))
            #expect(outside.rcode == 5)
            #expect(!outside.isAuthoritative)

            #expect(try DNSProbe.query("timeout-x.bench.test", port: farm.dnsPort, timeout: 0.5) == nil)

            #expect(try farm.stats().dnsQueries == 14)  // timeout-* counts too: it was received
        }
    }

    @Test("DNS spreads many names over every address")
    func dnsSpread() throws {
        try withFarm(FarmProcess.Options(addresses: 4)) { farm in
            var perAddress: [String: Int] = [:]
            for index in 0..<400 {
                let answer = try #require(try DNSProbe.query("h\(index).bench.test", port: farm.dnsPort))
                perAddress[answer.answers.first?.ipv4 ?? "none", default: 0] += 1
            }
            #expect(Set(perAddress.keys) == Set(farm.addresses))
            // 100 expected per address; FNV over these names stays well within ±40%.
            #expect(perAddress.values.allSatisfy { (60...140).contains($0) }, "\(perAddress)")
        }
    }

    @Test("the farm exits by itself when its stdin closes, and on SIGTERM")
    func exitPaths() throws {
        let first = try FarmProcess.start()
        defer { first.stop() }
        first.closeStandardInput()
        #expect(first.waitForExit(timeout: 5))
        #expect(first.terminationStatus == 0)

        // An address no other test uses, so nobody else can be listening on it afterwards.
        let second = try FarmProcess.start(FarmProcess.Options(addresses: 1, baseAddress: "127.0.9.1"))
        let port = second.httpPort
        second.stop()
        #expect(!second.isRunning)
        #expect(second.terminationStatus == 0)
        // Nothing listens any more.
        #expect(throws: HTTPProbe.ProbeError.self) {
            try HTTPProbe.get(host: "127.0.9.1", port: port, path: "/ok", timeout: 1)
        }
    }
}
