/// A forward-only reader over JSON bytes for the fast paths that read the same shape a million
/// times (a monitors-file line, `CommonMonitorLine`; a stored monitor's `settings`, the engine's
/// `StoredMonitorDecoder`). It reads only the plain forms — strings without escapes or control
/// characters, whole numbers of at most 15 digits, decimals without an exponent, `true` and
/// `false` — and every method gives nil (or false) at anything else, so the caller hands the text
/// to the full reader (`StrictJSONReader`), which reads all of JSON and words each refusal.
/// Blanks before a token are skipped by the method that reads it.
package struct PlainJSONScanner {
    package let bytes: UnsafeRawBufferPointer
    package private(set) var offset = 0

    package init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Skips blanks, then takes `byte` if it comes next.
    package mutating func consume(_ byte: UInt8) -> Bool {
        skipBlanks()
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    /// Whether only blanks are left.
    package mutating func atEnd() -> Bool {
        skipBlanks()
        return offset == bytes.count
    }

    /// The bytes between the quotes of a string without escapes or control characters.
    package mutating func plainStringBytes() -> UnsafeRawBufferPointer? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<(offset - 1)])
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            offset += 1
        }
        return nil
    }

    /// A plain string, its UTF-8 validated.
    package mutating func string() -> String? {
        guard let raw = plainStringBytes() else { return nil }
        return String(validating: raw, as: UTF8.self)
    }

    package mutating func bool() -> Bool? {
        skipBlanks()
        if matches("true") { return true }
        if matches("false") { return false }
        return nil
    }

    /// A whole number written without fraction or exponent, of at most 15 digits (where a
    /// `Double`, which the full reader goes through, holds it exactly).
    package mutating func integer() -> Int? {
        guard let number = number(), number.isWhole else { return nil }
        return Self.integer(number.text)
    }

    /// A number without an exponent, as the full reader reads it: whole numbers of at most 15
    /// digits exactly, decimals by `Double(String)`.
    package mutating func double() -> Double? {
        guard let number = number() else { return nil }
        guard number.isWhole else { return Double(String(decoding: number.text, as: UTF8.self)).flatMap(\.finite) }
        return Self.integer(number.text).map(Double.init)
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?`: JSON's number without its exponent (a leading zero is
    /// refused, as JSON refuses it).
    private mutating func number() -> (text: UnsafeRawBufferPointer, isWhole: Bool)? {
        skipBlanks()
        let start = offset
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count, isDigit(bytes[offset]) else { return nil }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if offset < bytes.count, isDigit(bytes[offset]) { return nil }
        } else {
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        }
        var isWhole = true
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            isWhole = false
            offset += 1
            guard offset < bytes.count, isDigit(bytes[offset]) else { return nil }
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") { return nil }
        return (UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), isWhole)
    }

    /// The value of a whole number's text (sign and digits), if it has at most 15 digits.
    private static func integer(_ text: UnsafeRawBufferPointer) -> Int? {
        var digits = text[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard digits.count <= 15 else { return nil }
        var value = 0
        for digit in digits { value = value * 10 + Int(digit &- UInt8(ascii: "0")) }
        return negative ? -value : value
    }

    private mutating func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - offset >= count else { return false }
        for index in 0..<count where bytes[offset + index] != word.utf8Start[index] { return false }
        offset += count
        return true
    }

    private mutating func skipBlanks() { offset = Self.endOfBlanks(in: bytes, from: offset) }

    /// Where the JSON blanks (space, tab, line feed, carriage return) from `offset` end.
    package static func endOfBlanks(in bytes: UnsafeRawBufferPointer, from offset: Int) -> Int {
        var end = offset
        while end < bytes.count {
            switch bytes[end] {
            case 0x20, 0x09, 0x0A, 0x0D: end += 1
            default: return end
            }
        }
        return end
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

extension Double {
    /// The value, if it is finite.
    fileprivate var finite: Double? { isFinite ? self : nil }
}
