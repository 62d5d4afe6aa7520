/// 64-bit FNV-1a: a hash of bytes that is the same in every process, on every machine and in
/// every version (unlike `hashValue`), so it can decide shards, phases and DNS answers that
/// several processes must agree on. Feed it bytes, read `value`.
public struct FNV1a64: Sendable, Equatable {
    /// The hash of everything fed so far (the offset basis when nothing was).
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    /// An empty hash.
    public init() {}

    /// A hash continued from an earlier `value` (e.g. a shared prefix hashed once).
    public init(continuingFrom value: UInt64) { self.value = value }

    /// Feeds one byte.
    @inline(__always)
    public mutating func add(_ byte: UInt8) {
        value ^= UInt64(byte)
        value &*= 0x0000_0100_0000_01b3
    }

    /// Feeds bytes in order.
    @inline(__always)
    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { add(byte) }
    }

    /// The hash of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        var hash = FNV1a64()
        hash.add(text.utf8)
        return hash.value
    }
}

/// SplitMix64: a small, fast, seedable random number generator, so jitter (back-off, retry
/// schedules) is reproducible in tests from its seed; its finaliser (`mix`) also spreads the
/// weak low bits of FNV-1a.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A stream starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.finalise(state)
    }

    /// The next value in [0, 1), from the top 53 bits.
    @inline(__always)
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    /// The finaliser applied to `value` plus the stream's increment (one step of a stream
    /// seeded with `value`).
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        finalise(value &+ 0x9E37_79B9_7F4A_7C15)
    }

    @inline(__always)
    private static func finalise(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
