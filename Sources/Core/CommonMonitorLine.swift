/// The line a generated or exported monitors file repeats a million times, read straight from
/// its bytes: one JSON object of `id` and `url`, and any of `intervalSeconds`, `timeoutMs`,
/// `connectTimeoutMs`, `method`, `keyword`, `followRedirects`, `verifyTLS` and `"type":"http"`,
/// with ASCII strings without escapes or control characters, plain numbers and booleans.
///
/// Anything else — another field, an escape or a non-ASCII byte in a string, `null`, an array
/// or object, an exponent, a fraction in a whole-number field, a repeated key, a value of the
/// wrong type, a monitor `validate()` refuses — gives nil, and the line takes the general path
/// (`StrictJSONReader` into a dictionary, then `FieldReader`), which also words every refusal.
/// On the lines this reader accepts the two give the same monitor (CommonMonitorLineTests
/// compares them line by line). Why it exists: the general path hashed every known field name and cast
/// every value out of `Any` for each line, about half of the CPU of loading a million monitors
/// (docs/BENCHMARKS.md, "Start-up").
enum CommonMonitorLine {
    /// The validated monitor of `line`, or nil when the line needs the general path.
    static func decode(_ line: UnsafeRawBufferPointer) -> ValidatedMonitor? {
        guard let fields = fields(of: line), let id = fields.id, let url = fields.url else { return nil }
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
        return try? monitor.validated()
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
        /// Only `http` (other kinds carry other fields: the general path reads them).
        var type: String?
    }

    /// `{ "key": value, ... }` and nothing after it; nil for anything else.
    private static func fields(of line: UnsafeRawBufferPointer) -> Fields? {
        var scanner = PlainJSONScanner(line)
        var fields = Fields()
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        repeat {
            guard let name = scanner.plainStringBytes(), scanner.consume(UInt8(ascii: ":")) else { return nil }
            guard read(Key(name), from: &scanner, into: &fields) else { return nil }
        } while scanner.consume(UInt8(ascii: ","))
        guard scanner.consume(UInt8(ascii: "}")), scanner.atEnd() else { return nil }
        return fields
    }

    /// Reads the value of the field `key` names; false for an unknown key, a repeated one, or a
    /// value of another form than the field's.
    private static func read(_ key: Key, from scanner: inout PlainJSONScanner, into fields: inout Fields) -> Bool {
        switch key {
        case .id: return fill(&fields.id, asciiString(&scanner))
        case .url: return fill(&fields.url, asciiString(&scanner))
        case .method: return fill(&fields.method, asciiString(&scanner))
        case .keyword: return fill(&fields.keyword, asciiString(&scanner))
        case .type: return fill(&fields.type, asciiString(&scanner)) && fields.type == MonitorKind.http.rawValue
        case .intervalSeconds: return fill(&fields.intervalSeconds, scanner.double())
        case .timeoutMs: return fill(&fields.timeoutMs, scanner.integer())
        case .connectTimeoutMs: return fill(&fields.connectTimeoutMs, scanner.integer())
        case .followRedirects: return fill(&fields.followRedirects, scanner.bool())
        case .verifyTLS: return fill(&fields.verifyTLS, scanner.bool())
        case .other: return false
        }
    }

    /// Stores `value` in a field not given before; false if it was, or if there is no value.
    private static func fill<Value>(_ field: inout Value?, _ value: Value?) -> Bool {
        guard field == nil, let value else { return false }
        field = value
        return true
    }

    /// A plain string of ASCII only (the full reader decides what other text means).
    private static func asciiString(_ scanner: inout PlainJSONScanner) -> String? {
        guard let raw = scanner.plainStringBytes(), raw.allSatisfy({ $0 < 0x80 }) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }

    /// The field names this reader knows, told apart by their bytes.
    private enum Key {
        case id, url, intervalSeconds, timeoutMs, connectTimeoutMs, method, keyword, followRedirects, verifyTLS, type
        case other

        init(_ bytes: UnsafeRawBufferPointer) {
            // Each case has already matched the length.
            func named(_ name: StaticString) -> Bool {
                bytes.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
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
