import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("ShardAssignment (rendezvous hashing)")
struct ShardAssignmentTests {
    private let all = Set(0..<ClusterContract.shardCount)

    @Test("every shard has exactly one owner, and owners only come from the member set")
    func everyShardOneOwner() {
        let engines = ["engine-a", "engine-b", "engine-c"]
        let owners = ShardAssignment.owners(engines: engines)
        #expect(owners.count == ClusterContract.shardCount)
        #expect(Set(owners).isSubset(of: Set(engines)))
        var union = Set<Int>()
        var total = 0
        for engine in engines {
            let owned = ShardAssignment.shards(ownedBy: engine, engines: engines)
            #expect(union.isDisjoint(with: owned))
            union.formUnion(owned)
            total += owned.count
            // Balanced: 1024 / 3 = 341 each, within 15 %.
            #expect(abs(owned.count - 341) < 52, "\(engine) owns \(owned.count)")
        }
        #expect(union == all)
        #expect(total == ClusterContract.shardCount)
    }

    @Test("a single engine owns everything; no engines own nothing")
    func degenerateSets() {
        #expect(ShardAssignment.shards(ownedBy: "solo", engines: ["solo"]) == all)
        #expect(ShardAssignment.shards(ownedBy: "solo", engines: []) == all)
        #expect(ShardAssignment.owners(engines: [String]()).isEmpty)
    }

    @Test("adding a third engine moves about 1/3 of the shards, all of them to the new engine")
    func joinMovesOnlyToNewcomer() {
        let before = ShardAssignment.owners(engines: ["engine-a", "engine-b"])
        let after = ShardAssignment.owners(engines: ["engine-a", "engine-b", "engine-c"])
        var moved = 0
        for shard in 0..<ClusterContract.shardCount where before[shard] != after[shard] {
            moved += 1
            #expect(after[shard] == "engine-c", "shard \(shard) moved from \(before[shard]) to \(after[shard])")
        }
        let fraction = Double(moved) / Double(ClusterContract.shardCount)
        #expect(fraction > 0.27 && fraction < 0.40, "moved \(moved)")
    }

    @Test("removing an engine moves only its shards")
    func leaveMovesOnlyLeaversShards() {
        let engines = ["e1", "e2", "e3", "e4"]
        let before = ShardAssignment.owners(engines: engines)
        let after = ShardAssignment.owners(engines: ["e1", "e2", "e4"])
        for shard in 0..<ClusterContract.shardCount {
            if before[shard] == "e3" {
                #expect(after[shard] != "e3")
            } else {
                #expect(after[shard] == before[shard], "shard \(shard) moved although its owner stayed")
            }
        }
    }

    @Test("deterministic: independent of order and duplicates, pinned across runs and versions")
    func deterministic() {
        let one = ShardAssignment.owners(engines: ["b", "a", "c"])
        let two = ShardAssignment.owners(engines: ["c", "a", "b", "a"])
        #expect(one == two)
        // The fast path (hash of "id:" continued over the digits) equals the documented weight.
        for shard in [0, 1, 9, 10, 511, 1023] {
            for engine in ["a", "engine-7"] {
                let weight = ClusterContract.stableHash("\(engine):\(shard)")
                #expect(ShardAssignment.weight(engine: engine, shard: shard) == weight)
            }
        }
        // Pinned values (computed by an independent implementation): a change here reassigns every
        // shard of every running cluster, and the control plane computes shards the same way.
        #expect(ClusterContract.stableHash("") == 0xC381_7C01_6BA4_FF30)
        #expect(ClusterContract.stableHash("engine-a:0") == 0x23DC_AD51_E1FB_5F2E)
        #expect(ClusterContract.shardCount == MonitorShard.count)
        let owners = ShardAssignment.owners(engines: ["engine-a", "engine-b"])
        #expect(
            owners.prefix(8).joined(separator: ",")
                == "engine-b,engine-b,engine-a,engine-a,engine-a,engine-a,engine-b,engine-a"
        )
    }
}
