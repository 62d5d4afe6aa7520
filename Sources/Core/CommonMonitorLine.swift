/// The line a generated or exported monitors file repeats a million times, read straight from
/// its bytes: one JSON object of `id` and `url`, and any of `intervalSeconds`, `timeoutMs`,
/// `connectTimeoutMs`, `method`, `keyword`, `followRedirects`, `verifyTLS` and `"type":"http"`,
/// with strings of printable ASCII and no escapes, plain numbers and booleans.
///
/// Anything else — another field, an escape or a non-ASCII byte in a string, `null`, an array
/// or object, an exponent, a fraction in a whole-number field, a repeated key, a value of the
/// wrong type, a monitor `validate()` refuses — gives nil, and the line takes the general path
/// (`StrictJSONReader` into a dictionary, then `FieldReader`), which also words every refusal.
/// On the lines this reader accepts the two give the same monitor (MonitorFileTests compares
/// them line by line). Why it exists: the general path hashed every known field name and cast
/// every value out of `Any` for each line, about half of the CPU of loading a million monitors
/// (docs/BENCHMARKS.md, "Start-up").
enum CommonMonitorLine {
    /// The validated monitor of `line`, or nil when the line needs the general path.
    static func decode(_ line: UnsafeRawBufferPointer) -> ValidatedMonitor? {
        var scanner = Scanner(bytes: line)
        guard let fields = scanner.object() else { return nil }
        guard let id = fields.id, let url = fields.url else { return nil }
        let monitor = Monitor(
            id: id,
            url: url,
            intervalSeconds: fields.intervalSeconds ?? Monitor.defaultIntervalSeconds,
            timeoutMs: fields.timeoutMs ?? Monitor.defaultTimeoutMs,
            connectTimeoutMs: fields.connectTimeoutMs,
            method: fields.method ?? "GET",
            keyword: fields.keyword,
            followRedirects: fields.followRedirects ?? true,
            verifyTLS: fields.verifyTLS ?? true
        )
        return try? monitor.validate()
    }

    /// The fields read so far; each may be given once.
    private struct Fields {
        var id: String?
        var url: String?
        var intervalSeconds: Double?
        var timeoutMs: Int?
        var connectTimeoutMs: Int?
        var method: String?
        var keyword: String?
        var followRedirects: Bool?
        var verifyTLS: Bool?
        var typeGiven = false
    }

    /// One JSON value of the accepted kinds.
    private enum Value {
        case string(UnsafeRawBufferPointer)
        /// The number's text and whether it has a fraction.
        case number(UnsafeRawBufferPointer, fractional: Bool)
        case boolean(Bool)
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        /// `{ "key": value, ... }` with blanks around every token, and nothing after it.
        mutating func object() -> Fields? {
            skipBlanks()
            guard take(UInt8(ascii: "{")) else { return nil }
            var fields = Fields()
            skipBlanks()
            if take(UInt8(ascii: "}")) { return nil }  // {} has no id: the general path says so
            while true {
                skipBlanks()
                guard let key = string() else { return nil }
                skipBlanks()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipBlanks()
                guard let value = value(), Self.store(value, key: key, in: &fields) else { return nil }
                skipBlanks()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                skipBlanks()
                return offset == bytes.count ? fields : nil
            }
        }

        /// Puts `value` in the field `key` names; false for an unknown key, a repeated one, or a
        /// value of another type than the field's.
        private static func store(_ value: Value, key: UnsafeRawBufferPointer, in fields: inout Fields) -> Bool {
            switch (Key(key), value) {
            case (.id, .string(let text)) where fields.id == nil:
                fields.id = String(decoding: text, as: UTF8.self)
            case (.url, .string(let text)) where fields.url == nil:
                fields.url = String(decoding: text, as: UTF8.self)
            case (.method, .string(let text)) where fields.method == nil:
                fields.method = String(decoding: text, as: UTF8.self)
            case (.keyword, .string(let text)) where fields.keyword == nil:
                fields.keyword = String(decoding: text, as: UTF8.self)
            case (.type, .string(let text)) where !fields.typeGiven:
                guard text.elementsEqual("http".utf8) else { return false }
                fields.typeGiven = true
            case (.intervalSeconds, .number(let text, let fractional)) where fields.intervalSeconds == nil:
                let seconds =
                    fractional ? Double(String(decoding: text, as: UTF8.self)) : integer(text).map(Double.init)
                guard let seconds, seconds.isFinite else { return false }
                fields.intervalSeconds = seconds
            case (.timeoutMs, .number(let text, fractional: false)) where fields.timeoutMs == nil:
                guard let value = integer(text) else { return false }
                fields.timeoutMs = value
            case (.connectTimeoutMs, .number(let text, fractional: false)) where fields.connectTimeoutMs == nil:
                guard let value = integer(text) else { return false }
                fields.connectTimeoutMs = value
            case (.followRedirects, .boolean(let flag)) where fields.followRedirects == nil:
                fields.followRedirects = flag
            case (.verifyTLS, .boolean(let flag)) where fields.verifyTLS == nil:
                fields.verifyTLS = flag
            default:
                return false
            }
            return true
        }

        /// A whole number of at most 15 digits (exact as a Double, as the general path reads it).
        private static func integer(_ text: UnsafeRawBufferPointer) -> Int? {
            var digits = text[...]
            let negative = digits.first == UInt8(ascii: "-")
            if negative { digits = digits.dropFirst() }
            guard !digits.isEmpty, digits.count <= 15 else { return nil }
            var value = 0
            for digit in digits { value = value * 10 + Int(digit &- UInt8(ascii: "0")) }
            return negative ? -value : value
        }

        private mutating func value() -> Value? {
            guard offset < bytes.count else { return nil }
            switch bytes[offset] {
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true") ? .boolean(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .boolean(false) : nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return nil
            }
        }

        /// A string of printable ASCII without escapes; its bytes between the quotes.
        private mutating func string() -> UnsafeRawBufferPointer? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = offset
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    offset += 1
                    return UnsafeRawBufferPointer(rebasing: bytes[start..<offset - 1])
                }
                guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
                offset += 1
            }
            return nil
        }

        /// `-?(0|[1-9][0-9]*)(.[0-9]+)?`: JSON's number without an exponent.
        private mutating func number() -> Value? {
            let start = offset
            _ = take(UInt8(ascii: "-"))
            guard offset < bytes.count, isDigit(bytes[offset]) else { return nil }
            if take(UInt8(ascii: "0")) {
                if offset < bytes.count, isDigit(bytes[offset]) { return nil }
            } else {
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            var fractional = false
            if take(UInt8(ascii: ".")) {
                fractional = true
                guard offset < bytes.count, isDigit(bytes[offset]) else { return nil }
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") { return nil }
            return .number(UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), fractional: fractional)
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard offset + count <= bytes.count else { return false }
            let text = UnsafeRawBufferPointer(start: word.utf8Start, count: count)
            guard UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]).elementsEqual(text) else {
                return false
            }
            offset += count
            return true
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard offset < bytes.count, bytes[offset] == byte else { return false }
            offset += 1
            return true
        }

        private mutating func skipBlanks() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    }

    /// The field names this reader knows, told apart by their bytes.
    private enum Key {
        case id, url, intervalSeconds, timeoutMs, connectTimeoutMs, method, keyword, followRedirects, verifyTLS, type
        case other

        init(_ bytes: UnsafeRawBufferPointer) {
            func named(_ name: StaticString) -> Bool {
                bytes.count == name.utf8CodeUnitCount
                    && bytes.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            }
            switch bytes.count {
            case 2 where named("id"): self = .id
            case 3 where named("url"): self = .url
            case 4 where named("type"): self = .type
            case 6 where named("method"): self = .method
            case 7 where named("keyword"): self = .keyword
            case 9 where named("timeoutMs"): self = .timeoutMs
            case 9 where named("verifyTLS"): self = .verifyTLS
            case 15 where named("intervalSeconds"): self = .intervalSeconds
            case 15 where named("followRedirects"): self = .followRedirects
            case 16 where named("connectTimeoutMs"): self = .connectTimeoutMs
            default: self = .other
            }
        }
    }
}
