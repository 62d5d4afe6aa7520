/// The IPv4 forms a URL host may take, read the way browsers and curl read them (the WHATWG
/// URL Standard's "ends in a number" test and IPv4 parser): one to four dot-separated parts,
/// each decimal, octal (a leading `0`) or hexadecimal (`0x`); the last part fills the bytes the
/// others leave (`127.1` is 127.0.0.1, `2130706433` and `0x7f000001` are 127.0.0.1, `0177.0.0.1`
/// is 127.0.0.1); one trailing dot is allowed.
///
/// A host whose last part is a number is an IPv4 address or an error, never a DNS name: a
/// browser would not look `http://0x7f000001/` up either. `IPAddress(parsing:)` stays strict
/// (four decimal octets) for the addresses people type into flags and settings.
public enum URLHostIPv4: Sendable, Equatable {
    /// The host is a name, not an IPv4 form.
    case notIPv4
    /// The host is this IPv4 address.
    case address(UInt32)
    /// The host ends in a number but is not a valid IPv4 form; the reason says why.
    case invalid(String)

    /// Reads `host` (lower-cased, without brackets). Allocates nothing: it runs for every
    /// monitor at start-up.
    public static func parse(_ host: Substring) -> URLHostIPv4 {
        if let quick = host.utf8.withContiguousStorageIfAvailable(quickRead), let quick { return quick }
        return parseInGeneral(host)
    }

    /// The definition (WHATWG's IPv4 parser, every form); `parse` answers the usual cases
    /// quicker and a test holds the two to the same answers.
    package static func parseInGeneral(_ host: Substring) -> URLHostIPv4 {
        let bytes = host.utf8
        var end = bytes.endIndex
        if bytes.count > 1, bytes.last == UInt8(ascii: ".") { end = bytes.index(before: end) }
        let lastStart =
            bytes[..<end].lastIndex(of: UInt8(ascii: ".")).map { bytes.index(after: $0) } ?? bytes.startIndex
        guard endsInNumber(bytes[lastStart..<end]) else { return .notIPv4 }
        var numbers = SIMD4<UInt64>()
        var count = 0
        var partStart = bytes.startIndex
        while true {
            let partEnd = bytes[partStart..<end].firstIndex(of: UInt8(ascii: ".")) ?? end
            if count == 4 { return .invalid("an IPv4 address has at most four parts") }
            let part = bytes[partStart..<partEnd]
            guard let number = number(part) else {
                // Name the first bad part, unless a later one makes it more than four parts.
                let parts = bytes[..<end].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
                if parts.count > 4 { return .invalid("an IPv4 address has at most four parts") }
                let text = String(decoding: part, as: UTF8.self)
                return .invalid(
                    text.isEmpty
                        ? "an IPv4 address has no empty parts"
                        : "'\(text)' is not a decimal, octal (0…) or hexadecimal (0x…) number")
            }
            numbers[count] = number
            count += 1
            if partEnd == end { break }
            partStart = bytes.index(after: partEnd)
        }
        for index in 0..<(count - 1) where numbers[index] > 255 {
            return .invalid("every part but the last must be 0…255")
        }
        let lastLimit: UInt64 = 1 << (8 * UInt64(5 - count))
        guard numbers[count - 1] < lastLimit else {
            return .invalid("the last part must be below \(lastLimit) with \(count) part(s)")
        }
        var value = numbers[count - 1]
        for index in 0..<(count - 1) {
            value += numbers[index] << (8 * UInt64(3 - index))
        }
        return .address(UInt32(value))
    }

    /// The two usual cases in one pass over the bytes (a take-over reads a million hosts): a
    /// name whose last byte cannot end a number (`example.com`), and four decimal parts of
    /// 0…255 without leading zeros (`10.0.0.1`). nil for anything else, which the general
    /// reading decides.
    private static func quickRead(_ bytes: UnsafeBufferPointer<UInt8>) -> URLHostIPv4? {
        guard let last = bytes.last else { return nil }
        let lowered = last | 0x20
        let canEndNumber =
            (last >= UInt8(ascii: "0") && last <= UInt8(ascii: "9"))
            || (lowered >= UInt8(ascii: "a") && lowered <= UInt8(ascii: "f")) || lowered == UInt8(ascii: "x")
            || last == UInt8(ascii: ".")
        if !canEndNumber { return .notIPv4 }
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            } else {
                let digit = byte &- UInt8(ascii: "0")
                // A leading zero makes the part octal: the general reading's.
                guard digit < 10, digits == 0 || part != 0 else { return nil }
                part = part * 10 + UInt32(digit)
                digits += 1
                guard part <= 255 else { return nil }
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return .address(value << 8 | part)
    }

    /// WHATWG "ends in a number": the last part is all decimal digits, or `0x` and hex digits.
    private static func endsInNumber(_ last: Substring.UTF8View.SubSequence) -> Bool {
        if last.isEmpty { return false }
        if last.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { return true }
        guard last.count >= 2, last.first == UInt8(ascii: "0"), last.dropFirst().first == UInt8(ascii: "x") else {
            return false
        }
        return last.dropFirst(2).allSatisfy(isHexDigit)
    }

    /// WHATWG "IPv4 number parser"; nil on failure. Values that do not fit 64 bits are failures
    /// too (no valid address needs them).
    private static func number(_ part: Substring.UTF8View.SubSequence) -> UInt64? {
        if part.isEmpty { return nil }
        var digits = part[...]
        var radix: UInt64 = 10
        if digits.count >= 2, digits.first == UInt8(ascii: "0"), digits.dropFirst().first == UInt8(ascii: "x") {
            digits = digits.dropFirst(2)
            radix = 16
        } else if digits.count >= 2, digits.first == UInt8(ascii: "0") {
            digits = digits.dropFirst()
            radix = 8
        }
        var value: UInt64 = 0
        for byte in digits {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
            if overflow || shifted > UInt64.max - digit { return nil }
            value = shifted + digit
        }
        return value
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}
