import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// Coordinators against the real Redis of `scripts/services`, with a 1.5 s lease (heartbeat
/// every 500 ms). Each test has its own key prefix, so tests run in parallel.
@Suite(
    "ClusterCoordinator (Redis membership, shards, live results, state events)",
    .enabled(if: RedisTest.shouldRun, RedisTest.skipMessage)
)
struct ClusterCoordinatorTests {
    private let all = Set(0..<ClusterContract.shardCount)
    // Generous enough for a loaded CI machine running every suite at once on 2 cores.
    private let lease = 1.5

    private func split(_ a: CoordinatorProbe, _ b: CoordinatorProbe) -> Bool {
        guard let ownedA = a.owned.value, let ownedB = b.owned.value else { return false }
        return ownedA.isDisjoint(with: ownedB) && ownedA.union(ownedB) == all && !ownedA.isEmpty && !ownedB.isEmpty
    }

    @Test(
        "two engines see each other within a heartbeat, split the shards, and one takes all after the other is killed"
    )
    func twoEnginesSplitAndTakeOver() async throws {
        try await withPrefix("split") { prefix in
            let contract = try ClusterContract(prefix: prefix)
            let a = try CoordinatorProbe(engineId: "engine-a", prefix: prefix)
            let b = try CoordinatorProbe(engineId: "engine-b", prefix: prefix)
            defer {
                a.coordinator.stop(deregister: false)
                b.coordinator.stop(deregister: false)
            }
            try a.start()
            try await eventually(within: 3, "engine-a registered") { a.owned.value == all }
            try b.start()
            try await eventually(within: 3, "engine-b registered") { b.owned.value != nil }
            // B registered and read A at once; A learns of B at its next heartbeat (lease / 3).
            let agreed = try await eventually(within: lease, "both agree on the split") { split(a, b) }
            #expect(a.statistics.members.load(ordering: .relaxed) == 2)
            #expect(b.statistics.members.load(ordering: .relaxed) == 2)
            #expect(agreed <= lease)

            // Registration as documented in the contract.
            let record = try await RedisTest.command(["GET", contract.engineKey("engine-a")])
            let json = try #require(record.text)
            #expect(json.contains("\"engineId\":\"engine-a\"") && json.contains("\"leaseMs\":1500"))
            let ttl = try await RedisTest.command(["PTTL", contract.engineKey("engine-a")])
            if case .integer(let ms) = ttl { #expect(ms > 0 && ms <= 1500) } else { Issue.record("PTTL: \(ttl)") }
            guard case .array(let members) = try await RedisTest.command(["ZRANGE", contract.enginesKey, "0", "-1"])
            else {
                Issue.record("no engines set")
                return
            }
            #expect(members.compactMap(\.text).sorted() == ["engine-a", "engine-b"])

            // A monitor change reaches only the owner of its shard.
            let shardA = try #require(a.owned.value?.min())
            let shardB = try #require(b.owned.value?.min())
            let changeA = MonitorChange(monitorId: "m-a", shard: shardA, operation: .upsert)
            let changeB = MonitorChange(monitorId: "m-b", shard: shardB, operation: .pause)
            _ = try await RedisTest.command([
                "PUBLISH", contract.monitorsChangedChannel, "[\(changeA.json),\(changeB.json)]",
            ])
            try await eventually(within: 1, "monitor changes delivered") {
                a.changes.value == [changeA] && b.changes.value == [changeB]
            }

            // kill -9 B: it never deregisters; A must own everything within two lease periods.
            b.coordinator.stop(deregister: false)
            let takeover = try await eventually(within: 2 * lease, "engine-a takes over every shard") {
                a.owned.value == all
            }
            #expect(takeover <= 2 * lease)
            #expect(a.statistics.members.load(ordering: .relaxed) == 1)
        }
    }

    @Test("a check request reaches only the owner of its shard, after the monitor changes published before it")
    func checkRequestsReachTheOwner() async throws {
        try await withPrefix("check-now") { prefix in
            let contract = try ClusterContract(prefix: prefix)
            let a = try CoordinatorProbe(engineId: "engine-a", prefix: prefix)
            let b = try CoordinatorProbe(engineId: "engine-b", prefix: prefix)
            defer {
                a.coordinator.stop(deregister: false)
                b.coordinator.stop(deregister: false)
            }
            try a.start()
            try b.start()
            try await eventually(within: 3, "both agree on the split") { split(a, b) }
            try await eventually(within: 3, "both subscribed to both channels") {
                let replies = try await RedisTest.commands([
                    ["PUBSUB", "NUMSUB", contract.monitorsChangedChannel, contract.checkRequestedChannel]
                ])
                guard case .array(let items) = replies[0], items.count == 4 else { return false }
                return items[1] == .integer(2) && items[3] == .integer(2)
            }

            let shardA = try #require(a.owned.value?.min())
            let shardB = try #require(b.owned.value?.min())
            let edit = MonitorChange(monitorId: "11", shard: shardA, operation: .upsert)
            let requestA = CheckRequest(monitorId: "11", shard: shardA, requestId: "req-a")
            let requestB = CheckRequest(monitorId: "22", shard: shardB, requestId: "req-b")
            // One connection, in this order: what the control plane does for "edit, then check now".
            _ = try await RedisTest.commands([
                ["PUBLISH", contract.monitorsChangedChannel, edit.json],
                ["PUBLISH", contract.checkRequestedChannel, "[\(requestA.json),\(requestB.json)]"],
                ["PUBLISH", contract.checkRequestedChannel, #"{"monitorId":"11","shard":5}"#],
            ])
            try await eventually(within: 1, "each request delivered to the owner of its shard") {
                a.checkRequests.value == [requestA] && b.checkRequests.value == [requestB]
            }
            #expect(a.arrivals.value == ["change 11", "check 11"], "the edit is delivered before the request")
            #expect(b.arrivals.value == ["check 22"])
            #expect(a.statistics.checkRequestsReceived.load(ordering: .relaxed) == 1)
            #expect(b.statistics.checkRequestsReceived.load(ordering: .relaxed) == 1)
            try await eventually(within: 1, "the request without a requestId is refused by both") {
                a.statistics.checkRequestsInvalid.load(ordering: .relaxed) == 1
                    && b.statistics.checkRequestsInvalid.load(ordering: .relaxed) == 1
            }
            #expect(a.logs.value.contains { $0.contains("monitor 11 (request req-a)") }, "the log names the request")
            let scrape = MetricsSource(
                loops: [],
                results: try ResultPipeline(path: nil),
                startedMonotonic: 0,
                cluster: a.statistics
            ).render()
            #expect(scrape.contains("\nlookout_engine_cluster_check_requests_total 1\n"), "the metric counts it")
            #expect(
                a.resumed.value == 0 && b.resumed.value == 0,
                "subscribing to a second channel is not a resumed subscription (no reconcile)"
            )
        }
    }

    @Test("a graceful stop deregisters at once: the other engine takes over at its next heartbeat")
    func gracefulStop() async throws {
        try await withPrefix("graceful") { prefix in
            let contract = try ClusterContract(prefix: prefix)
            let a = try CoordinatorProbe(engineId: "engine-a", prefix: prefix)
            let b = try CoordinatorProbe(engineId: "engine-b", prefix: prefix)
            defer {
                a.coordinator.stop(deregister: false)
                b.coordinator.stop(deregister: false)
            }
            try a.start()
            try b.start()
            try await eventually(within: 3, "both agree on the split") { split(a, b) }
            b.coordinator.stop(deregister: true)
            #expect(try await RedisTest.command(["EXISTS", contract.engineKey("engine-b")]) == .integer(0))
            #expect(try await RedisTest.command(["ZSCORE", contract.enginesKey, "engine-b"]) == .null)
            // Next heartbeat of A (every 200 ms), well before B's lease would have run out.
            let takeover = try await eventually(within: lease, "engine-a takes over") { a.owned.value == all }
            #expect(takeover < lease)
        }
    }

    @Test("a killed Redis connection: the coordinator reconnects, registers again and re-subscribes")
    func survivesClientKill() async throws {
        try await withPrefix("kill") { prefix in
            let contract = try ClusterContract(prefix: prefix)
            let engineId = "engine-\(UInt32.random(in: 0...UInt32.max))"
            let a = try CoordinatorProbe(engineId: engineId, prefix: prefix)
            defer { a.coordinator.stop(deregister: false) }
            try a.start()
            try await eventually(within: 3, "registered") { a.owned.value == all }
            try await eventually(within: 3, "subscribed") {
                try await RedisTest.clientIds(namePrefix: "lookout-engine:\(engineId)").count == 2
            }
            // Kill both connections and wipe the registration, as a Redis restart would.
            let ids = try await RedisTest.clientIds(namePrefix: "lookout-engine:\(engineId)")
            #expect(ids.count == 2)
            _ = try await RedisTest.commands(
                ids.map { ["CLIENT", "KILL", "ID", $0] } + [
                    ["DEL", contract.engineKey(engineId)], ["ZREM", contract.enginesKey, engineId],
                ]
            )
            try await eventually(within: 2, "registered again") {
                try await RedisTest.command(["EXISTS", contract.engineKey(engineId)]) == .integer(1)
            }
            try await eventually(within: 2, "subscription resumed") { a.resumed.value >= 1 }
            #expect(a.statistics.reRegistrations.load(ordering: .relaxed) >= 1)
            #expect(a.statistics.reconnects.load(ordering: .relaxed) >= 1)
            #expect(a.logs.value.contains { $0.contains("registering again") })
            #expect(a.owned.value == all)  // kept throughout
            // The new subscription works.
            let change = MonitorChange(monitorId: "after-kill", shard: 3, operation: .delete)
            _ = try await RedisTest.command(["PUBLISH", contract.monitorsChangedChannel, change.json])
            try await eventually(within: 1, "change after reconnect") { a.changes.value == [change] }
            let request = CheckRequest(monitorId: "7", shard: 3, requestId: "after-kill")
            _ = try await RedisTest.command(["PUBLISH", contract.checkRequestedChannel, request.json])
            try await eventually(within: 1, "check request after reconnect") { a.checkRequests.value == [request] }
        }
    }

    @Test("live results are published in batches; state changes land in the stream with the documented fields")
    func liveResultsAndStateEvents() async throws {
        try await withPrefix("live") { prefix in
            let contract = try ClusterContract(prefix: prefix)
            let endpoint = try RedisTest.endpoint()
            let a = try CoordinatorProbe(engineId: "engine-live", prefix: prefix)
            defer { a.coordinator.stop(deregister: false) }
            try a.start()
            try await eventually(within: 3, "registered") { a.owned.value != nil }

            let results = (0..<250).map {
                CheckResult(
                    monitorId: "m-\($0)",
                    checkedAtMs: 1_764_000_000_000 + Int64($0),
                    status: .up,
                    httpStatus: 200
                )
            }
            let messages = Locked<[[UInt8]]>([])
            let coordinator = a.coordinator
            let finished = await LoopHarness.run(timeoutSeconds: 5) { loop, control in
                let subscriber = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
                control.keep(subscriber)
                subscriber.subscribe([contract.liveChannel]) { message in
                    messages.mutate { $0.append(message.payload) }
                    if messages.value.count == 2 { control.finish() }
                }
                subscriber.onSubscribed = { _ in coordinator.publishLive(results) }
                subscriber.start()
            }
            #expect(finished)
            var received: [String] = []
            for payload in messages.value {
                let array = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [[String: Any]])
                received += array.compactMap { $0["monitorId"] as? String }
            }
            #expect(messages.value.count == 2)  // 200 + 50: batched by count, the rest by time
            #expect(received == results.map(\.monitorId))
            #expect(a.statistics.liveResultsPublished.load(ordering: .relaxed) == 250)

            let events = [
                StateChangeEvent(
                    monitorId: "m-1",
                    from: .up,
                    to: .down,
                    atMs: 1_764_000_000_123,
                    checkId: "c-1",
                    engineId: "engine-live",
                    reason: "timeout",
                    message: "no answer within 10 s"
                ),
                StateChangeEvent(
                    monitorId: "m-1",
                    from: .down,
                    to: .up,
                    atMs: 1_764_000_060_123,
                    checkId: "c-2",
                    engineId: "engine-live",
                    reason: "up"
                ),
            ]
            a.coordinator.recordStateChanges(events)
            var entries: [StateChangeEvent] = []
            try await eventually(within: 2, "state changes in the stream") {
                guard case .array(let list) = try await RedisTest.command(["XRANGE", contract.stateStream, "-", "+"])
                else {
                    return false
                }
                entries = list.compactMap { entry -> StateChangeEvent? in
                    guard case .array(let parts) = entry, parts.count == 2, case .array(let flat) = parts[1] else {
                        return nil
                    }
                    var fields: [String: String] = [:]
                    var index = 0
                    while index + 1 < flat.count {
                        fields[flat[index].text ?? ""] = flat[index + 1].text ?? ""
                        index += 2
                    }
                    return StateChangeEvent(streamFields: fields)
                }
                return entries.count == 2
            }
            #expect(entries == events)
            #expect(a.statistics.stateEventsWritten.load(ordering: .relaxed) == 2)
            #expect(a.statistics.stateEventsPending.load(ordering: .relaxed) == 0)
        }
    }
}

@Suite("ClusterCoordinator.Configuration")
struct ClusterCoordinatorConfigurationTests {
    @Test("configuration is validated")
    func configuration() throws {
        let endpoint = try RedisEndpoint(host: "127.0.0.1")
        let contract = try ClusterContract()
        #expect(throws: ClusterConfigurationError.self) {
            try ClusterCoordinator.Configuration(redis: endpoint, contract: contract, engineId: "bad:id")
        }
        #expect(throws: ClusterConfigurationError.self) {
            try ClusterCoordinator.Configuration(redis: endpoint, contract: contract, engineId: "e", leaseMs: 100)
        }
        #expect(throws: ClusterConfigurationError.self) {
            try ClusterCoordinator.Configuration(
                redis: endpoint,
                contract: contract,
                engineId: "e",
                leaseMs: 1000,
                commandTimeoutSeconds: 1
            )
        }
        let valid = try ClusterCoordinator.Configuration(
            redis: endpoint,
            contract: contract,
            engineId: "e",
            leaseMs: 2000,
            commandTimeoutSeconds: 1
        )
        #expect(valid.backoff.maximumSeconds == 1)  // capped at half the lease
    }
}
