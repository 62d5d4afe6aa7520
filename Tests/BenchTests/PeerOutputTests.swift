import Foundation
import Testing

@testable import LookoutBench

/// The peers' output, as captured from wrk 4.1, ab 2.3 and the yardstick on Debian 12.
@Suite("Peer output parsers")
struct PeerOutputTests {
    @Test("wrk: requests, duration and errors")
    func wrk() throws {
        let text = """
            Running 8s test @ http://127.0.0.1:8080/
              2 threads and 200 connections
              Thread Stats   Avg      Stdev     Max   +/- Stdev
                Latency     9.10ms    2.20ms  40.00ms   80.00%
                Req/Sec    11.00k     1.00k   13.00k    70.00%
              175432 requests in 8.00s, 25.10MB read
              Socket errors: connect 0, read 3, write 0, timeout 2
              Non-2xx or 3xx responses: 4
            Requests/sec:  21929.00
            Transfer/sec:      3.14MB
            """
        let parsed = try #require(PeerOutput.wrk(text))
        #expect(parsed.requests == 175_432)
        #expect(parsed.seconds == 8)
        #expect(parsed.failed == 9)
        #expect(PeerOutput.wrk("garbage") == nil)
        #expect(PeerOutput.parseDuration("500.00ms") == 0.5)
        #expect(PeerOutput.parseDuration("1.00m") == 60)
    }

    @Test("ab: complete, failed and non-2xx requests, time taken")
    func ab() throws {
        let text = """
            Concurrency Level:      200
            Time taken for tests:   8.002 seconds
            Complete requests:      87654
            Failed requests:        1
               (Connect: 0, Receive: 0, Length: 1, Exceptions: 0)
            Non-2xx responses:      2
            Requests per second:    10953.88 [#/sec] (mean)
            """
        let parsed = try #require(PeerOutput.ab(text))
        #expect(parsed.requests == 87_654)
        #expect(parsed.seconds == 8.002)
        #expect(parsed.failed == 3)
    }

    @Test("The yardstick's one line")
    func yardstick() throws {
        let parsed = try #require(PeerOutput.yardstick("5543.2 179.4 0\n"))
        #expect(parsed.rate == 5543.2)
        #expect(parsed.cpuMicros == 179.4)
        #expect(parsed.failed == 0)
    }

    @Test("A missing peer keeps every key, as null")
    func missingRow() throws {
        let row = CompareRow(
            tool: "check_http", protocol: "http", checksPerSecond: nil, cpuMicrosPerCheck: nil, ratioToYardstick: nil,
            note: "missing: check_http")
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(row)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "tool", "protocol", "checksPerSecond", "cpuMicrosPerCheck", "ratioToYardstick", "note",
            ])
        #expect(object["checksPerSecond"] is NSNull)
    }

    @Test("The table names a missing peer")
    func table() {
        let rows = [
            CompareRow(
                tool: "C yardstick (1 loop)", protocol: "http", checksPerSecond: 5000, cpuMicrosPerCheck: 180,
                ratioToYardstick: 1),
            CompareRow(
                tool: "check_http", protocol: "http", checksPerSecond: nil, cpuMicrosPerCheck: nil,
                ratioToYardstick: nil, note: "missing: check_http"),
        ]
        let text = CompareCommand.table(rows, seconds: 8, concurrency: 200)
        #expect(text.contains("| C yardstick (1 loop) | http | 5,000 | 180 | 1.00 |"))
        #expect(text.contains("| check_http | http | – | – | – | missing: check_http |"))
    }
}
