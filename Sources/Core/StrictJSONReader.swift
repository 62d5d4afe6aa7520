import Foundation

/// A strict JSON (RFC 8259) reader for the monitors file: no trailing commas, no comments, no
/// single quotes, no duplicate keys, valid UTF-8 only, and every refusal says where (a 1-based
/// column, counted in characters) and how to fix it. Foundation's `JSONSerialization` accepts
/// some of these and reports no position.
///
/// Values come back as `JSONSerialization` would hand them over (`String`, `NSNumber` — a Bool
/// for `true`/`false`, an Int64 for whole numbers written without fraction or exponent, a
/// Double otherwise — `NSNull`, `[Any]`, `[String: Any]`), so the field readers work on both.
public struct StrictJSONReader {
    /// Where and why a text is not JSON.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        /// 1-based column of the offending character, in characters (not bytes).
        public var column: Int
        /// What is wrong, and how to fix it when that is clear.
        public var reason: String
        /// `column N: reason`.
        public var description: String { "column \(column): \(reason)" }
    }

    /// Deepest nesting of objects and arrays accepted.
    public static let maximumDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private var depth = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Reads one JSON value that makes up the whole of `bytes` (blanks around it allowed).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> Any {
        var reader = StrictJSONReader(bytes)
        reader.skipBlanks()
        if reader.offset == bytes.count { throw reader.error("the line holds no JSON value") }
        let value = try reader.value()
        reader.skipBlanks()
        if reader.offset < bytes.count {
            throw reader.error("unexpected \(reader.describeCurrent()) after the end of the value")
        }
        return value
    }

    /// `parse` on the bytes of `data`.
    public static func parse(_ data: Data) throws(SyntaxError) -> Any {
        let result: Result<Any, SyntaxError> = data.withUnsafeBytes { raw in
            do throws(SyntaxError) {
                return .success(try parse(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: grammar

    private mutating func value() throws(SyntaxError) -> Any {
        guard offset < bytes.count else { throw error("unexpected end of the line: a value is missing") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "t"): return try literal("true", NSNumber(value: true))
        case UInt8(ascii: "f"): return try literal("false", NSNumber(value: false))
        case UInt8(ascii: "n"): return try literal("null", NSNull())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case UInt8(ascii: "'"): throw error("strings are written in double quotes (\"), not single quotes")
        case UInt8(ascii: "/"), UInt8(ascii: "#"): throw error("JSON has no comments inside a line")
        case UInt8(ascii: "T"), UInt8(ascii: "F"), UInt8(ascii: "N"):
            throw error("unexpected \(describeCurrent()): expected a value (true, false and null are lower case)")
        default: throw error("unexpected \(describeCurrent()): expected a value")
        }
    }

    private mutating func object() throws(SyntaxError) -> [String: Any] {
        try enter()
        offset += 1  // {
        var fields: [String: Any] = [:]
        skipBlanks()
        if peek(UInt8(ascii: "}")) {
            offset += 1
            depth -= 1
            return fields
        }
        while true {
            skipBlanks()
            guard offset < bytes.count else {
                throw error("unexpected end of the line: the object is not closed with }")
            }
            if bytes[offset] == UInt8(ascii: "}") { throw error("trailing comma before }: remove the comma") }
            guard bytes[offset] == UInt8(ascii: "\"") else {
                if bytes[offset] == UInt8(ascii: "'") {
                    throw error("keys are written in double quotes (\"), not single quotes")
                }
                throw error("unexpected \(describeCurrent()): expected a key in double quotes")
            }
            let keyOffset = offset
            let key = try string()
            skipBlanks()
            guard peek(UInt8(ascii: ":")) else { throw error("expected : after the key \"\(key)\"") }
            offset += 1
            skipBlanks()
            let item = try value()
            if fields.updateValue(item, forKey: key) != nil {
                throw error("the key \"\(key)\" appears twice", at: keyOffset)
            }
            skipBlanks()
            guard offset < bytes.count else {
                throw error("unexpected end of the line: the object is not closed with }")
            }
            switch bytes[offset] {
            case UInt8(ascii: ","):
                offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                depth -= 1
                return fields
            default:
                throw error("unexpected \(describeCurrent()): expected , or } after the value of \"\(key)\"")
            }
        }
    }

    private mutating func array() throws(SyntaxError) -> [Any] {
        try enter()
        offset += 1  // [
        var items: [Any] = []
        skipBlanks()
        if peek(UInt8(ascii: "]")) {
            offset += 1
            depth -= 1
            return items
        }
        while true {
            skipBlanks()
            if peek(UInt8(ascii: "]")) { throw error("trailing comma before ]: remove the comma") }
            items.append(try value())
            skipBlanks()
            guard offset < bytes.count else { throw error("unexpected end of the line: the list is not closed with ]") }
            switch bytes[offset] {
            case UInt8(ascii: ","):
                offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                depth -= 1
                return items
            default:
                throw error("unexpected \(describeCurrent()): expected , or ] in a list")
            }
        }
    }

    private mutating func enter() throws(SyntaxError) {
        depth += 1
        if depth > Self.maximumDepth { throw error("nested more than \(Self.maximumDepth) levels deep") }
    }

    private mutating func literal(_ word: StaticString, _ result: Any) throws(SyntaxError) -> Any {
        let count = word.utf8CodeUnitCount
        let matches =
            offset + count <= bytes.count
            && word.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[offset + $0] == expected[$0] }
            }
        guard matches else {
            throw error("unexpected \(describeCurrent()): expected a value")
        }
        offset += count
        return result
    }

    private mutating func number() throws(SyntaxError) -> NSNumber {
        let start = offset
        var isInteger = true
        if peek(UInt8(ascii: "-")) { offset += 1 }
        guard offset < bytes.count, isDigit(bytes[offset]) else { throw error("a number needs a digit after -") }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if offset < bytes.count, isDigit(bytes[offset]) {
                throw error("a number does not start with 0 (write \(Int(digitsText(from: start)) ?? 0))", at: start)
            }
        } else {
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        }
        if peek(UInt8(ascii: ".")) {
            isInteger = false
            offset += 1
            guard offset < bytes.count, isDigit(bytes[offset]) else { throw error("a number needs a digit after .") }
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            isInteger = false
            offset += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { offset += 1 }
            guard offset < bytes.count, isDigit(bytes[offset]) else {
                throw error("a number needs a digit in its exponent")
            }
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        if isInteger, let integer = Int64(text) { return NSNumber(value: integer) }
        guard let double = Double(text), double.isFinite else {
            throw error("the number \(text) is too large", at: start)
        }
        return NSNumber(value: double)
    }

    private func digitsText(from start: Int) -> String {
        var end = start
        while end < bytes.count, isDigit(bytes[end]) || bytes[end] == UInt8(ascii: "-") { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private mutating func string() throws(SyntaxError) -> String {
        let opening = offset
        offset += 1  // "
        var scalars: [UInt8] = []
        var runStart = offset
        while true {
            guard offset < bytes.count else { throw error("the string is not closed with \"", at: opening) }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                scalars.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]))
                offset += 1
                break
            }
            if byte < 0x20 {
                throw error("a control character (U+00\(hex2(byte))) must be escaped inside a string")
            }
            if byte != UInt8(ascii: "\\") {
                offset += 1
                continue
            }
            scalars.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]))
            offset += 1
            guard offset < bytes.count else { throw error("the string is not closed with \"", at: opening) }
            let escape = bytes[offset]
            offset += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try unicodeEscape()
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                offset -= 2
                let written = escape >= 0x21 && escape < 0x7F ? "\\\(Character(Unicode.Scalar(escape)))" : "this"
                throw error("\(written) is not a JSON escape (write \\\\ for a backslash)")
            }
            runStart = offset
        }
        guard let text = String(validating: scalars, as: UTF8.self) else {
            throw error("the string is not valid UTF-8", at: opening)
        }
        return text
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair.
    private mutating func unicodeEscape() throws(SyntaxError) -> Unicode.Scalar {
        let start = offset - 2
        let high = try hexQuad(escapeStart: start)
        if (0xD800...0xDBFF).contains(high) {
            guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
            else { throw error("\\u\(hex4(high)) starts a surrogate pair that has no second half", at: start) }
            offset += 2
            let low = try hexQuad(escapeStart: offset - 2)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw error("\\u\(hex4(high)) must be followed by a low surrogate (\\uDC00…\\uDFFF)", at: start)
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            return Unicode.Scalar(value)!
        }
        guard let scalar = Unicode.Scalar(high) else {
            throw error("\\u\(hex4(high)) is half of a surrogate pair without its first half", at: start)
        }
        return scalar
    }

    private mutating func hexQuad(escapeStart: Int) throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard offset < bytes.count, let digit = hexValue(bytes[offset]) else {
                throw error("\\u needs four hexadecimal digits", at: escapeStart)
            }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }

    // MARK: helpers

    private mutating func skipBlanks() { offset = PlainJSONScanner.endOfBlanks(in: bytes, from: offset) }

    private func peek(_ byte: UInt8) -> Bool { offset < bytes.count && bytes[offset] == byte }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private func hex2(_ byte: UInt8) -> String {
        let text = String(byte, radix: 16, uppercase: true)
        return text.count == 1 ? "0" + text : text
    }

    private func hex4(_ value: UInt32) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }

    /// The character at the current offset, as a person would name it.
    private func describeCurrent() -> String {
        guard offset < bytes.count else { return "end of the line" }
        return describe(bytes[offset])
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "space" }
        if byte >= 0x80 { return "non-ASCII text" }
        return "control character U+00\(hex2(byte))"
    }

    private func error(_ reason: String, at position: Int? = nil) -> SyntaxError {
        let end = min(position ?? offset, bytes.count)
        // Columns count characters: every byte that does not continue a UTF-8 sequence.
        var column = 1
        for index in 0..<end where bytes[index] & 0xC0 != 0x80 { column += 1 }
        return SyntaxError(column: column, reason: reason)
    }
}
