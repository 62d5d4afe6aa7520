import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// Redis itself crashes and comes back empty (no persistence), on a private `redis-server`.
@Suite("Redis restart (private redis-server)", .enabled(if: PrivateRedis.shouldRun, PrivateRedis.skipMessage))
struct RedisRestartTests {
    private let all = Set(0..<ClusterContract.shardCount)

    @Test("engines keep their shards through the outage, re-register, and never overlap")
    func restartUnderTwoEngines() async throws {
        let redis = try PrivateRedis()
        try await redis.start()
        let prefix = "lookout"
        let contract = try ClusterContract(prefix: prefix)
        let a = try CoordinatorProbe(engineId: "engine-a", prefix: prefix, redis: redis.endpoint)
        let b = try CoordinatorProbe(engineId: "engine-b", prefix: prefix, redis: redis.endpoint)
        defer {
            a.coordinator.stop(deregister: false)
            b.coordinator.stop(deregister: false)
        }
        try a.start()
        try b.start()
        /// Exactly one owner per shard.
        func isPartition() -> Bool {
            guard let ownedA = a.owned.value, let ownedB = b.owned.value else { return false }
            return ownedA.isDisjoint(with: ownedB) && ownedA.union(ownedB) == all && !ownedA.isEmpty && !ownedB.isEmpty
        }
        let failures = Locked(0)
        /// Records (once) a moment where the shards were not split exactly.
        func checkPartition() {
            guard !isPartition() else { return }
            if failures.mutate({ count in
                count += 1
                return count == 1
            }) {
                Issue.record(
                    "not a partition at \(Clock.monotonicMicros() / 1000 % 100_000) ms: A \(a.owned.value?.count ?? -1), B \(b.owned.value?.count ?? -1)\nA:\n\(a.logs.value.joined(separator: "\n"))\nB:\n\(b.logs.value.joined(separator: "\n"))"
                )
            }
        }
        // A learns of B at its next heartbeat; until then both own B's share (a join overlaps
        // for at most lease / 3).
        try await eventually(within: 3, "split") { isPartition() }
        let before = (a.owned.value, b.owned.value)

        redis.kill()
        // Longer than the lease (600 ms): nobody can renew, everyone keeps its shards.
        let outageEnd = Clock.monotonicMicros() + 1_200_000
        while Clock.monotonicMicros() < outageEnd {
            checkPartition()
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(a.owned.value == before.0 && b.owned.value == before.1)
        #expect(a.statistics.connected.load(ordering: .relaxed) == 0)

        try await redis.start()
        let endpoint = redis.endpoint
        try await eventually(within: 3, "both registered again") {
            let replies = try await RedisTest.commands(
                [["EXISTS", contract.engineKey("engine-a")], ["EXISTS", contract.engineKey("engine-b")]],
                endpoint: endpoint
            )
            return replies == [.integer(1), .integer(1)]
        }
        // A few heartbeats after the restart: still the same split, no moment of overlap.
        let settleEnd = Clock.monotonicMicros() + 1_000_000
        while Clock.monotonicMicros() < settleEnd {
            checkPartition()
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(a.owned.value == before.0 && b.owned.value == before.1)
        #expect(a.statistics.reRegistrations.load(ordering: .relaxed) >= 1)
        #expect(b.statistics.reRegistrations.load(ordering: .relaxed) >= 1)
        try await eventually(within: 2, "subscriptions resumed") { a.resumed.value >= 1 && b.resumed.value >= 1 }
    }
}
