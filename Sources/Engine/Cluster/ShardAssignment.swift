import LookoutCore

/// Which live engine owns which shard: rendezvous (highest-random-weight) hashing.
///
/// For shard `s`, every engine `e` gets the weight `ClusterContract.stableHash("e:s")`; the
/// engine with the highest weight owns the shard (ties, which need a 64-bit collision, go to the
/// smaller id). Properties that follow, and that the tests check:
/// - every shard has exactly one owner, and every engine computes the same owner from the same
///   member set: no coordination beyond agreeing on the members;
/// - when an engine joins, it takes about 1/n of the shards, each from its previous owner, and no
///   other shard moves; when one leaves, only its shards move, spread over the others.
/// Pure and deterministic: the weights depend only on the strings.
enum ShardAssignment {
    /// The owner of every shard, indexed by shard. Empty when `engines` is empty.
    static func owners(engines: some Collection<String>, shardCount: Int = ClusterContract.shardCount) -> [String] {
        let ids = Array(Set(engines)).sorted()
        guard !ids.isEmpty else { return [] }
        // Hash "id:" once per engine, then continue FNV-1a over the shard digits: the same value
        // as stableHash("id:shard") at a fraction of the cost.
        let seeds = ids.map { FNV1a64.hash($0 + ":") }
        var owners: [String] = []
        owners.reserveCapacity(shardCount)
        for shard in 0..<shardCount {
            let digits = Array(String(shard).utf8)
            var best = 0
            var bestWeight: UInt64 = 0
            for (index, seed) in seeds.enumerated() {
                let weight = weight(seed: seed, digits: digits)
                if index == 0 || weight > bestWeight {
                    best = index
                    bestWeight = weight
                }
            }
            owners.append(ids[best])
        }
        return owners
    }

    /// The shards `engine` owns among `engines` (it is counted as live even if missing there).
    static func shards(
        ownedBy engine: String,
        engines: some Collection<String>,
        shardCount: Int = ClusterContract.shardCount
    )
        -> Set<Int>
    {
        var members = Set(engines)
        members.insert(engine)
        var owned = Set<Int>()
        for (shard, owner) in owners(engines: members, shardCount: shardCount).enumerated() where owner == engine {
            owned.insert(shard)
        }
        return owned
    }

    /// The weight of one engine for one shard: `ClusterContract.stableHash("engineId:shard")`.
    static func weight(engine: String, shard: Int) -> UInt64 {
        ClusterContract.stableHash("\(engine):\(shard)")
    }

    @inline(__always)
    private static func weight(seed: UInt64, digits: [UInt8]) -> UInt64 {
        var hash = FNV1a64(continuingFrom: seed)
        hash.add(digits)
        return ClusterContract.mix(hash.value)
    }
}
