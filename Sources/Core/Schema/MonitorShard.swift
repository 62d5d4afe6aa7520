/// The shard of a monitor: which of the 1,024 slices of the fleet it belongs to. Engines own
/// shards (rendezvous hashing over the live engines), never single monitors, so the number must
/// be computed the same way by every process that creates monitors (the engine's importer, the
/// API). It is stored in `monitors.shard` and never recomputed.
///
/// Definition (a contract; docs/DATABASE.md): FNV-1a 64-bit over the bytes of
/// `"<owner_id in decimal>:<external_id in UTF-8>"`, modulo 1,024. Reference values: owner 1,
/// external id `m-0` → 16; owner 1, `api-1` → 688.
public enum MonitorShard {
    /// Shards in the whole system (`monitors.shard` is 0 ..< count).
    public static let count = 1024

    /// The shard of the monitor `externalId` of user `ownerId`.
    public static func shard(ownerId: Int64, externalId: String) -> Int16 {
        var hash = FNV1a64()
        hash.add(String(ownerId).utf8)
        hash.add(UInt8(ascii: ":"))
        hash.add(externalId.utf8)
        return Int16(hash.value % UInt64(count))
    }
}
