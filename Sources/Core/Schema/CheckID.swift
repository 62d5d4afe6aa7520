/// The primary key of one check result (`checks.check_id`): a UUID (RFC 9562 version 8, the
/// "custom" layout) made of a 64-bit random id of the engine instance and a 64-bit counter.
///
/// The writer assigns it when it first receives the result, so a retried batch or a replayed
/// spill file carries the same ids, and `INSERT ... ON CONFLICT DO NOTHING` makes every write
/// idempotent. Layout: bytes 0-7 = instance id (4 bits replaced by the version `8`), bytes 8-15
/// = counter (2 bits replaced by the variant `10`): 60 random bits per instance, 2^62 checks
/// per instance before the counter wraps.
public struct CheckID: Hashable, Sendable, CustomStringConvertible {
    /// Bytes 0-7, big-endian.
    public let high: UInt64
    /// Bytes 8-15, big-endian.
    public let low: UInt64

    /// The id of check number `sequence` of engine instance `instance`.
    public init(instance: UInt64, sequence: UInt64) {
        high = (instance & ~0xF000) | 0x8000
        low = (sequence & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
    }

    /// Raw halves, e.g. read back from the database.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the canonical text form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, either case).
    public init?(parsing text: String) {
        var value: (UInt64, UInt64) = (0, 0)
        var digits = 0
        for (index, byte) in text.utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            if digits < 16 {
                value.0 = value.0 << 4 | UInt64(nibble)
            } else {
                value.1 = value.1 << 4 | UInt64(nibble)
            }
            digits += 1
        }
        guard digits == 32, text.utf8.count == 36 else { return nil }
        high = value.0
        low = value.1
    }

    /// The engine instance part (with the version bits).
    public var instance: UInt64 { high }
    /// The counter part (without the variant bits).
    public var sequence: UInt64 { low & 0x3FFF_FFFF_FFFF_FFFF }

    /// Appends the canonical lowercase text form (36 bytes) without allocating.
    public func append(to bytes: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { table in
            for shift in stride(from: 60, through: 0, by: -4) {
                if shift == 28 || shift == 12 { bytes.append(UInt8(ascii: "-")) }
                bytes.append(table[Int((high >> UInt64(shift)) & 0xF)])
            }
            for shift in stride(from: 60, through: 0, by: -4) {
                if shift == 60 || shift == 44 { bytes.append(UInt8(ascii: "-")) }
                bytes.append(table[Int((low >> UInt64(shift)) & 0xF)])
            }
        }
    }

    /// `xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx`.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
