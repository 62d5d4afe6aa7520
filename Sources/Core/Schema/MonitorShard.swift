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
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in String(ownerId).utf8 { mix(byte) }
        mix(UInt8(ascii: ":"))
        for byte in externalId.utf8 { mix(byte) }
        return Int16(hash % UInt64(count))
    }
}
