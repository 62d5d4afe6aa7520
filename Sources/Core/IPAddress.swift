extension Character {
    /// 0-9 only (Character.isNumber also accepts other scripts' digits).
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// An IPv4 or IPv6 address as raw bytes (network order), parsed without the C library so that
/// Core stays portable and the target policy can be tested as a pure function.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    /// 16 bytes, network order.
    case v6(high: UInt64, low: UInt64)

    /// Whether this is an IPv6 address.
    public var isIPv6: Bool { if case .v6 = self { return true } else { return false } }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (no brackets, no zone); nil for anything else.
    public init?(parsing text: String) {
        if let v4 = IPAddress.parseIPv4(Substring(text)) {
            self = .v4(v4)
        } else if let v6 = IPAddress.parseIPv6(text) {
            self = v6
        } else {
            return nil
        }
    }

    /// The address in `bytes`: 4 network-order bytes for IPv4, 16 for IPv6; nil for any other
    /// count. Read in place, at any alignment: no array per address (the engine reads every
    /// connection's address this way).
    public init?(networkOrder bytes: UnsafeRawBufferPointer) {
        if bytes.count == 4 {
            self = .v4(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))
        } else if bytes.count == 16 {
            let high = UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
            let low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            self = .v6(high: high, low: low)
        } else {
            return nil
        }
    }

    /// The address in `bytes` (4 or 16, network order); nil for any other count.
    public init?(bytes: [UInt8]) {
        guard let address = bytes.withUnsafeBytes({ IPAddress(networkOrder: $0) }) else { return nil }
        self = address
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            // Refuse leading zeros: "010" is octal to some parsers and decimal to others.
            if part.count > 1 && part.hasPrefix("0") { return nil }
            value = value << 8 | octet
            parts += 1
        }
        return parts == 4 ? value : nil
    }

    static func parseIPv6(_ text: String) -> IPAddress? {
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        guard text.contains(":") else { return nil }
        var groups: [UInt16] = []
        var gapAt: Int?
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: String, allowTrailingIPv4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, allowTrailingIPv4, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xFFFF))
                } else {
                    guard !piece.isEmpty, piece.count <= 4, piece.allSatisfy(\.isHexDigit),
                        let value = UInt16(piece, radix: 16)
                    else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        if halves.count == 2 {
            guard let head = parseGroups(halves[0], allowTrailingIPv4: false),
                let tail = parseGroups(halves[1], allowTrailingIPv4: true), head.count + tail.count <= 7
            else { return nil }
            groups = head
            gapAt = head.count
            groups += Array(repeating: 0, count: 8 - head.count - tail.count)
            groups += tail
        } else {
            guard let all = parseGroups(halves[0], allowTrailingIPv4: true), all.count == 8 else { return nil }
            groups = all
        }
        _ = gapAt
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return .v6(high: high, low: low)
    }

    /// Canonical text: dotted quad, or RFC 5952 IPv6.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
        case .v6(let high, let low):
            var groups: [UInt16] = []
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(UInt16((high >> UInt64(shift)) & 0xFFFF))
            }
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(UInt16((low >> UInt64(shift)) & 0xFFFF))
            }
            // Compress the longest run of zero groups (RFC 5952).
            var bestStart = -1
            var bestLength = 0
            var index = 0
            while index < 8 {
                if groups[index] == 0 {
                    var end = index
                    while end < 8 && groups[end] == 0 { end += 1 }
                    if end - index > bestLength && end - index > 1 {
                        bestStart = index
                        bestLength = end - index
                    }
                    index = end
                } else {
                    index += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }
}
