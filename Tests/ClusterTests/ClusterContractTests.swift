import Foundation
import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("ClusterContract (names and message formats)")
struct ClusterContractTests {
    @Test("every name carries the prefix")
    func names() throws {
        let contract = try ClusterContract(prefix: "lookout")
        #expect(contract.engineKey("web-1") == "lookout:engine:web-1")
        #expect(contract.enginesKey == "lookout:engines")
        #expect(contract.monitorsChangedChannel == "lookout:monitors:changed")
        #expect(contract.liveChannel == "lookout:checks:live")
        #expect(contract.checkRequestedChannel == "lookout:checks:requested")
        #expect(contract.stateStream == "lookout:events:state")
        #expect(try ClusterContract(prefix: "t:1").enginesKey == "t:1:engines")
        #expect(throws: ClusterContractError.self) { try ClusterContract(prefix: "") }
        #expect(throws: ClusterContractError.self) { try ClusterContract(prefix: "a b") }
        #expect(throws: ClusterContractError.self) { try ClusterContract.validateEngineId("a:b") }
        #expect(ClusterContract.defaultEngineId(host: "web 3.example", pid: 7) == "web-3.example-7")
        try ClusterContract.validateEngineId(ClusterContract.defaultEngineId(host: "ü", pid: 1))
    }

    @Test("monitor changes: one object, an array, integer ids; bad ones refused")
    func monitorChanges() throws {
        let one = try MonitorChange.parse(Array(#"{"monitorId":"m-1","shard":17,"op":"upsert"}"#.utf8))
        #expect(one == [MonitorChange(monitorId: "m-1", shard: 17, operation: .upsert)])
        let list = try MonitorChange.parse(
            Array(
                #" [{"monitorId":42,"shard":0,"op":"delete"},{"monitorId":"x","shard":1023,"op":"pause","extra":1}]"#
                    .utf8
            )
        )
        #expect(list.map(\.monitorId) == ["42", "x"])
        #expect(list.map(\.operation) == [.delete, .pause])
        for bad in [
            #"{"monitorId":"m","shard":1024,"op":"upsert"}"#, #"{"monitorId":"m","shard":-1,"op":"upsert"}"#,
            #"{"monitorId":"m","shard":1,"op":"resume"}"#, #"{"monitorId":"","shard":1,"op":"upsert"}"#,
            #"{"monitorId":true,"shard":1,"op":"upsert"}"#, #"{"shard":1,"op":"upsert"}"#, "not json", "[1]",
        ] {
            #expect(throws: ClusterContractError.self, "\(bad)") { try MonitorChange.parse(Array(bad.utf8)) }
        }
        let change = MonitorChange(monitorId: "a\"b", shard: 5, operation: .pause)
        #expect(try MonitorChange.parse(Array(change.json.utf8)) == [change])
    }

    @Test("check requests: one object or an array, integer or decimal-text ids, extra fields ignored")
    func checkRequestsParse() throws {
        let one = try CheckRequest.parse(Array(#"{"monitorId":"42","shard":617,"requestId":"r-1"}"#.utf8))
        #expect(one == [CheckRequest(monitorId: "42", shard: 617, requestId: "r-1")])
        let list = try CheckRequest.parse(
            Array(
                #"""
                 [{"monitorId":7,"shard":0,"requestId":"a"},
                  {"monitorId":"0009","shard":1023,"requestId":"b","priority":"high"}]
                """#.utf8
            )
        )
        #expect(list.map(\.monitorId) == ["7", "9"], "ids are read as canonical decimal text")
        #expect(list.map(\.shard) == [0, 1023])
        #expect(list.map(\.requestId) == ["a", "b"])
        #expect(try CheckRequest.parse(Array("[]".utf8)).isEmpty)
        let longest = String(repeating: "é", count: CheckRequest.maximumRequestIdLength)
        let accepted = try CheckRequest.parse(Array(#"{"monitorId":1,"shard":1,"requestId":"\#(longest)"}"#.utf8))
        #expect(accepted.first?.requestId == longest, "64 characters, counted as characters, not bytes")
    }

    @Test("check requests: the JSON a publisher sends round-trips, with special characters escaped")
    func checkRequestsRoundTrip() throws {
        let request = CheckRequest(monitorId: "9223372036854775807", shard: 5, requestId: "ui \"quoted\" / ü")
        let parsed = try JSONSerialization.jsonObject(with: Data(request.json.utf8)) as? [String: Any]
        #expect(parsed?.keys.sorted() == ["monitorId", "requestId", "shard"])
        #expect(try CheckRequest.parse(Array(request.json.utf8)) == [request])
        #expect(try CheckRequest.parse(Array("[\(request.json),\(request.json)]".utf8)) == [request, request])
    }

    @Test(
        "check requests: bad ids, shards and request ids are refused with a message naming the field",
        arguments: [
            (#"{"shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":true,"shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":"","shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":"m-1","shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":-4,"shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":"0","shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":"99999999999999999999","shard":1,"requestId":"r"}"#, "monitorId"),
            (#"{"monitorId":1,"requestId":"r"}"#, "shard"),
            (#"{"monitorId":1,"shard":1024,"requestId":"r"}"#, "shard"),
            (#"{"monitorId":1,"shard":-1,"requestId":"r"}"#, "shard"),
            (#"{"monitorId":1,"shard":"7","requestId":"r"}"#, "shard"),
            (#"{"monitorId":1,"shard":7}"#, "requestId"),
            (#"{"monitorId":1,"shard":7,"requestId":""}"#, "requestId"),
            (#"{"monitorId":1,"shard":7,"requestId":42}"#, "requestId"),
            (#"{"monitorId":1,"shard":7,"requestId":"line\nbreak"}"#, "requestId"),
            (#"{"monitorId":1,"shard":7,"requestId":"\#(String(repeating: "x", count: 65))"}"#, "requestId"),
            (#"[{"monitorId":1,"shard":7,"requestId":"ok"},{"monitorId":2,"shard":7}]"#, "requestId"),
            ("not json", "check request must be"),
            ("[1]", "check request must be"),
            (#"{"monitorId":1,"shard":7,"requestId":"r""#, "check request must be"),
        ]
    )
    func checkRequestsRefused(payload: String, named field: String) {
        do {
            let parsed = try CheckRequest.parse(Array(payload.utf8))
            Issue.record("accepted \(payload) as \(parsed)")
        } catch {
            #expect(error.description.contains(field), "\(payload): \(error.description)")
        }
    }

    @Test("state change events round-trip through their stream fields")
    func stateEvents() throws {
        let event = StateChangeEvent(
            monitorId: "m-1",
            from: .up,
            to: .down,
            atMs: 1_764_426_106_123,
            checkId: "c-9",
            engineId: "web-1",
            reason: "timeout",
            message: "no answer in 10 s"
        )
        let fields = event.streamFields
        #expect(fields.map(\.0) == ["monitorId", "from", "to", "at", "checkId", "engineId", "reason", "message"])
        #expect(fields[3].1 == "2025-11-29T14:21:46.123Z")
        let back = StateChangeEvent(streamFields: Dictionary(uniqueKeysWithValues: fields))
        #expect(back == event)
        #expect(StateChangeEvent(streamFields: ["monitorId": "m"]) == nil)
        #expect(RFC3339.parseEpochMilliseconds("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parseEpochMilliseconds("2000-02-29T23:59:59.5Z") == 951_868_799_500)
        #expect(RFC3339.parseEpochMilliseconds("2000-02-29 23:59:59Z") == nil)
    }

    @Test("live results are a JSON array of results-file objects")
    func liveResults() throws {
        var encoder = LiveResultsEncoder()
        let results = [
            CheckResult(monitorId: "a", checkedAtMs: 1_000, status: .up, httpStatus: 200, totalMicros: 1_500),
            CheckResult(
                monitorId: "b\n",
                checkedAtMs: 2_000,
                status: .timeout,
                errorCode: .timeout,
                errorMessage: "slow\nline"
            ),
        ]
        let bytes = encoder.encode(results[...])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]])
        #expect(parsed.count == 2)
        #expect(parsed[0]["monitorId"] as? String == "a")
        #expect(parsed[0]["totalMs"] as? Double == 1.5)
        #expect(parsed[1]["errorMessage"] as? String == "slow\nline")
        #expect(parsed[1]["status"] as? String == "TIMEOUT")
        #expect(encoder.encode([][...]) == Array("[]".utf8))
    }

    @Test("the engine record is JSON with the documented fields")
    func engineRecord() throws {
        let record = EngineRecord(
            engineId: "web-1",
            host: "web\"1",
            pid: 42,
            startedAtMs: 0,
            leaseMs: 600,
            ownedShards: 12,
            version: "1.0"
        )
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(record.json.utf8)) as? [String: Any])
        #expect(Set(parsed.keys) == ["engineId", "host", "pid", "startedAt", "leaseMs", "ownedShards", "version"])
        #expect(parsed["host"] as? String == "web\"1")
        #expect(parsed["startedAt"] as? String == "1970-01-01T00:00:00.000Z")
    }
}

@Suite("RedisEndpoint, ReconnectBackoff, StateEventOutbox")
struct ClusterSupportTests {
    @Test("Redis URLs: IP addresses only, ports, databases, passwords")
    func endpoints() throws {
        let plain = try RedisEndpoint(url: "redis://127.0.0.1:56379")
        #expect(plain.host == "127.0.0.1" && plain.port == 56379 && plain.database == 0 && plain.password == nil)
        let full = try RedisEndpoint(url: "redis://user:p%40ss@10.0.0.5:7000/3")
        #expect(full.username == "user" && full.password == "p@ss" && full.database == 3 && full.port == 7000)
        #expect(full.description == "redis://user:***@10.0.0.5:7000/3")
        let v6 = try RedisEndpoint(url: "redis://:secret@[::1]/2")
        #expect(v6.host == "::1" && v6.port == 6379 && v6.password == "secret" && v6.username == nil)
        #expect(v6.description == "redis://:***@[::1]:6379/2")
        do {
            _ = try RedisEndpoint(url: "redis://localhost:6379")
            Issue.record("a host name was accepted")
        } catch {
            #expect(error.description.contains("not an IP address"))
        }
        for bad in [
            "rediss://127.0.0.1", "redis://127.0.0.1:0", "redis://127.0.0.1:x", "redis://127.0.0.1/-1", "redis://",
            "redis://[::1",
        ] {
            #expect(throws: RedisEndpointError.self, "\(bad)") { try RedisEndpoint(url: bad) }
        }
        do {
            _ = try RedisEndpoint(url: "redis://:topsecret@redis.internal")
        } catch {
            #expect(!error.description.contains("topsecret"))
        }
    }

    @Test("back-off doubles up to the cap, with bounded jitter, and resets")
    func backoff() throws {
        var backoff = ReconnectBackoff(
            configuration: try .init(initialSeconds: 0.1, maximumSeconds: 1, jitter: 0.2),
            seed: 7
        )
        let delays = (0..<8).map { _ in backoff.nextDelay() }
        let bases = [0.1, 0.2, 0.4, 0.8, 1, 1, 1, 1]
        for (delay, base) in zip(delays, bases) {
            #expect(delay <= base + 1e-9 && delay >= base * 0.8 - 1e-9, "\(delay) for base \(base)")
        }
        backoff.reset()
        #expect(backoff.nextDelay() <= 0.1)
        #expect(throws: ReconnectBackoffError.self) {
            try ReconnectBackoff.Configuration(initialSeconds: 2, maximumSeconds: 1)
        }
    }

    @Test("the outbox keeps failed events in order, and drops the oldest when full")
    func outbox() {
        func event(_ n: Int) -> StateChangeEvent {
            StateChangeEvent(
                monitorId: "m\(n)",
                from: .up,
                to: .down,
                atMs: Int64(n),
                checkId: "\(n)",
                engineId: "e",
                reason: "timeout"
            )
        }
        var outbox = StateEventOutbox(limit: 5)
        outbox.append((0..<3).map(event))
        let first = outbox.nextBatch(max: 2).map(Array.init) ?? []
        #expect(first.map(\.monitorId) == ["m0", "m1"])
        #expect(outbox.nextBatch(max: 2) == nil)  // one batch at a time
        outbox.append((3..<7).map(event))  // 7 > 5: the oldest not in flight (m2, m3) go
        #expect(outbox.dropped == 2)
        #expect(outbox.queue.map(\.monitorId) == ["m0", "m1", "m4", "m5", "m6"])
        #expect(outbox.batchFinished(acknowledged: [false, true]) == 1)
        #expect(outbox.queue.map(\.monitorId) == ["m0", "m4", "m5", "m6"])
        let second = outbox.nextBatch(max: 10).map(Array.init) ?? []
        #expect(second.map(\.monitorId) == ["m0", "m4", "m5", "m6"])
        #expect(outbox.batchFinished(acknowledged: [true, true, true, true]) == 4)
        #expect(outbox.isEmpty)
    }
}
