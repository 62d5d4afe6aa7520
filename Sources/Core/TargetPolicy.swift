/// Which addresses a check may connect to (SSRF protection).
///
/// By default only globally routable unicast addresses pass. Refused: loopback, private
/// (RFC 1918, IPv6 ULA), link-local (169.254/16 — cloud metadata lives at 169.254.169.254 —
/// and fe80::/10), CGNAT (100.64/10), multicast, broadcast, unspecified, reserved and
/// documentation ranges, and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
/// 6to4, Teredo) unless the embedded address itself is public (for NAT64 and 6to4 only; mapped
/// and compatible forms are never used by a public server and are always refused).
///
/// Operators of self-hosted set-ups, tests and benchmarks widen it with `allowAll`
/// (`--allow-private-targets`) or specific ranges (`--allow-target CIDR`).
public struct TargetPolicy: Sendable, Equatable {
    /// Every address is allowed (`--allow-private-targets`).
    public var allowAll: Bool
    /// Ranges allowed even though they are not public.
    public var allowedRanges: [CIDRRange]

    /// A policy allowing public addresses, plus everything with `allowAll`, plus `allowedRanges`.
    public init(allowAll: Bool = false, allowedRanges: [CIDRRange] = []) {
        self.allowAll = allowAll
        self.allowedRanges = allowedRanges
    }

    /// nil when `address` may be connected to; otherwise the name of the refused range
    /// (for the error message, e.g. "loopback").
    public func refusal(for address: IPAddress) -> String? {
        if allowAll { return nil }
        if allowedRanges.contains(where: { $0.contains(address) }) { return nil }
        return TargetPolicy.nonPublicRangeName(address)
    }

    /// The name of the special-purpose range `address` is in, or nil for a public address.
    public static func nonPublicRangeName(_ address: IPAddress) -> String? {
        switch address {
        case .v4(let a):
            return ipv4RangeName(a)
        case .v6(let high, let low):
            if high == 0 && low == 0 { return "unspecified" }
            if high == 0 && low == 1 { return "loopback" }
            if high == 0 && (low >> 32) == 0xFFFF { return "IPv4-mapped IPv6" }
            if high == 0 && (low >> 32) == 0 { return "IPv4-compatible IPv6" }
            let first16 = UInt16(high >> 48)
            if high == 0x0064_FF9B_0000_0000 && (low >> 32) == 0 {
                if let inner = ipv4RangeName(UInt32(truncatingIfNeeded: low)) { return "NAT64 of \(inner)" }
                return nil
            }
            if (high >> 48) == 0x0064 && ((high >> 32) & 0xFFFF) == 0xFF9B && ((high >> 16) & 0xFFFF) == 0x0001 {
                return "NAT64 local-use"
            }
            if first16 == 0x2002 {
                let inner = UInt32(truncatingIfNeeded: high >> 16)
                if let name = ipv4RangeName(inner) { return "6to4 of \(name)" }
                return nil
            }
            if (high >> 32) == 0x2001_0000 { return "Teredo" }
            if (high >> 32) == 0x2001_0DB8 { return "documentation" }
            if high == 0x0100_0000_0000_0000 { return "discard-only" }
            if first16 & 0xFE00 == 0xFC00 { return "unique local (private)" }
            if first16 & 0xFFC0 == 0xFE80 { return "link-local" }
            if first16 & 0xFFC0 == 0xFEC0 { return "site-local" }
            if first16 & 0xFF00 == 0xFF00 { return "multicast" }
            // Only 2000::/3 is allocated global unicast.
            if first16 & 0xE000 != 0x2000 { return "reserved" }
            return nil
        }
    }

    private static func ipv4RangeName(_ a: UInt32) -> String? {
        func inRange(_ base: UInt32, _ prefix: UInt32) -> Bool {
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            return a & mask == base & mask
        }
        if inRange(0x0000_0000, 8) { return a == 0 ? "unspecified" : "this-network" }
        if inRange(0x7F00_0000, 8) { return "loopback" }
        if inRange(0x0A00_0000, 8) || inRange(0xAC10_0000, 12) || inRange(0xC0A8_0000, 16) { return "private" }
        if inRange(0xA9FE_0000, 16) { return "link-local (cloud metadata)" }
        if inRange(0x6440_0000, 10) { return "carrier-grade NAT" }
        if inRange(0xE000_0000, 4) { return "multicast" }
        if a == 0xFFFF_FFFF { return "broadcast" }
        if inRange(0xF000_0000, 4) { return "reserved" }
        if inRange(0xC000_0000, 24) { return "IETF protocol assignments" }
        if inRange(0xC000_0200, 24) || inRange(0xC633_6400, 24) || inRange(0xCB00_7100, 24) { return "documentation" }
        if inRange(0xC612_0000, 15) { return "benchmarking" }
        if inRange(0xC058_6300, 24) { return "6to4 relay anycast" }
        return nil
    }
}

/// An address range such as `127.0.0.0/8` or `fd00::/8`.
public struct CIDRRange: Sendable, Equatable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public var base: IPAddress
    /// Leading bits that must match: 0...32 for IPv4, 0...128 for IPv6.
    public var prefixLength: Int

    /// Parses `10.20.0.0/16` or `fd00::/8`; a bare address is a single-address range.
    public init(_ text: String) throws(MonitorValidationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = IPAddress(parsing: String(parts[0])) else {
            throw MonitorValidationError(field: "cidr", reason: "'\(text)' is not an address or CIDR range")
        }
        let maxLength = base.isIPv6 ? 128 : 32
        var length = maxLength
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isASCIIDigit), let value = Int(parts[1]), (0...maxLength).contains(value) else {
                throw MonitorValidationError(
                    field: "cidr", reason: "prefix length in '\(text)' must be 0...\(maxLength)")
            }
            length = value
        }
        self.base = base
        self.prefixLength = length
    }

    /// Whether `address` (of the same family) lies in the range.
    public func contains(_ address: IPAddress) -> Bool {
        switch (base, address) {
        case (.v4(let b), .v4(let a)):
            let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
            return a & mask == b & mask
        case (.v6(let bh, let bl), .v6(let ah, let al)):
            let highBits = min(prefixLength, 64)
            let lowBits = max(prefixLength - 64, 0)
            let highMask: UInt64 = highBits == 0 ? 0 : ~UInt64(0) << UInt64(64 - highBits)
            let lowMask: UInt64 = lowBits == 0 ? 0 : ~UInt64(0) << UInt64(64 - lowBits)
            return ah & highMask == bh & highMask && al & lowMask == bl & lowMask
        default:
            return false
        }
    }

    /// `base/prefixLength`.
    public var description: String { "\(base)/\(prefixLength)" }
}
