import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// Makes a `monitors` row into a `Monitor` straight from the UTF-8 bytes of its `settings`
/// (jsonb as text), for the rows a take-over reads by the million.
///
/// `MonitorRecord.monitor()` is the definition: it decodes `settings` into a `[String: Any]` and
/// validates it field by field with messages that name the field. That costs tens of µs per row
/// (a dictionary, boxed numbers and dynamic casts per field); this reader handles the form the
/// importer and the API write for an HTTP monitor (plain strings, whole numbers, booleans, a
/// list of statuses, an object of headers) in a few µs and gives up (`nil`) on anything else:
/// another monitor type, an unknown or repeated key, an escaped string, a fraction, a `null`, a
/// value of an unexpected type, a monitor that `validate()` refuses. The caller then asks
/// `MonitorRecord.monitor()`, so every row it does not understand is judged, and every refusal
/// worded, exactly as before. A monitor it returns is validated and equal to the one
/// `MonitorRecord.monitor()` returns for the same row (`StoredMonitorDecoderTests`).
enum StoredMonitorDecoder {
    /// The row's columns other than `settings`, as `MonitorRecord` holds them.
    struct Columns {
        var externalId: String
        var url: String
        var method: String
        var intervalSeconds: Double
        var timeoutMs: Int
        var connectTimeoutMs: Int
    }

    /// The validated monitor of a row (its URL parsed once, on the way), or nil when the full
    /// reader must decide.
    ///
    /// `checkedAs`: the id the monitor is checked under (cluster mode: the database id), given
    /// to it from the start, so it is not copied afterwards to be renamed (a take-over reads a
    /// million); the external id is then held to `validate()`'s rules on its own. nil: the
    /// external id.
    static func monitor(
        _ columns: Columns, settings: UnsafeRawBufferPointer, checkedAs id: String? = nil
    ) -> ValidatedMonitor? {
        // `FieldReader.method` refuses "get" with advice: leave such a row to it.
        guard !columns.method.utf8.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else {
            return nil
        }
        if id != nil, Monitor.idProblem(columns.externalId) != nil { return nil }
        var reader = SettingsReader(bytes: settings)
        guard let fields = reader.readHTTPSettings() else { return nil }
        let monitor = Monitor(
            id: id ?? columns.externalId,
            url: columns.url,
            intervalSeconds: columns.intervalSeconds,
            timeoutMs: columns.timeoutMs,
            connectTimeoutMs: columns.connectTimeoutMs,
            method: columns.method,
            headers: fields.headers ?? [:],
            body: fields.body,
            expectedStatus: fields.expectedStatus ?? [],
            keyword: fields.keyword,
            keywordAbsent: fields.keywordAbsent,
            jsonPath: fields.jsonPath,
            jsonEquals: fields.jsonEquals,
            followRedirects: fields.followRedirects ?? true,
            maxRedirects: fields.maxRedirects ?? Monitor.defaultMaxRedirects,
            verifyTLS: fields.verifyTLS ?? true,
            maxBodyBytes: fields.maxBodyBytes ?? Monitor.defaultMaxBodyBytes,
            lowSpeedBytesPerSecond: fields.lowSpeedBytesPerSecond ?? 0,
            lowSpeedSeconds: fields.lowSpeedSeconds ?? 10,
            reuseConnection: fields.reuseConnection ?? false,
            tlsSessionReuse: fields.tlsSessionReuse ?? false,
            tlsFullHandshakeSeconds: fields.tlsFullHandshakeSeconds ?? Monitor.defaultTLSFullHandshakeSeconds,
            httpVersion: fields.httpVersion ?? .http1_1,
            acceptEncoding: fields.acceptEncoding ?? false
        )
        return try? monitor.validated()  // nil: the full reader words the refusal
    }
}

/// The settings of an HTTP monitor, each nil when absent.
private struct HTTPSettings {
    var acceptEncoding: Bool?
    var body: String?
    var expectedStatus: [Int]?
    var followRedirects: Bool?
    var headers: [String: String]?
    var httpVersion: MonitorHTTPVersion?
    var jsonEquals: String?
    var jsonPath: String?
    var keyword: String?
    var keywordAbsent: String?
    var lowSpeedBytesPerSecond: Int?
    var lowSpeedSeconds: Int?
    var maxBodyBytes: Int?
    var maxRedirects: Int?
    var reuseConnection: Bool?
    var tlsFullHandshakeSeconds: Int?
    var tlsSessionReuse: Bool?
    var verifyTLS: Bool?
}

/// A forward-only reader over the bytes of one JSON object. Every method returns nil (and the
/// whole read gives up) at the first thing outside the simple form described on
/// `StoredMonitorDecoder`.
private struct SettingsReader {
    private var scanner: PlainJSONScanner

    init(bytes: UnsafeRawBufferPointer) { scanner = PlainJSONScanner(bytes) }

    /// The keys this reader knows, in one bit each, so a repeated key is noticed.
    private enum Key: Int {
        case acceptEncoding, body, expectedStatus, followRedirects, headers, httpVersion, jsonEquals, jsonPath
        case keyword, keywordAbsent, lowSpeedBytesPerSecond, lowSpeedSeconds, maxBodyBytes, maxRedirects
        case reuseConnection, tlsFullHandshakeSeconds, tlsSessionReuse, verifyTLS, type

        /// Each key's name; the first byte and the length already tell most apart.
        static let names: [(key: Key, bytes: [UInt8])] = {
            let spelled: [(Key, StaticString)] = [
                (.acceptEncoding, "acceptEncoding"), (.body, "body"), (.expectedStatus, "expectedStatus"),
                (.followRedirects, "followRedirects"), (.headers, "headers"), (.httpVersion, "httpVersion"),
                (.jsonEquals, "jsonEquals"), (.jsonPath, "jsonPath"), (.keyword, "keyword"),
                (.keywordAbsent, "keywordAbsent"), (.lowSpeedBytesPerSecond, "lowSpeedBytesPerSecond"),
                (.lowSpeedSeconds, "lowSpeedSeconds"), (.maxBodyBytes, "maxBodyBytes"),
                (.maxRedirects, "maxRedirects"), (.reuseConnection, "reuseConnection"),
                (.tlsFullHandshakeSeconds, "tlsFullHandshakeSeconds"), (.tlsSessionReuse, "tlsSessionReuse"),
                (.verifyTLS, "verifyTLS"), (.type, "type"),
            ]
            return spelled.map { key, name in
                (key, Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)))
            }
        }()

        /// `names` by their first byte (ASCII), so a key is compared with one or two names.
        static let byFirstByte: [[(key: Key, bytes: [UInt8])]] = {
            var table = Array(repeating: [(key: Key, bytes: [UInt8])](), count: 128)
            for entry in names { table[Int(entry.bytes[0])].append(entry) }
            return table
        }()

        init?(_ name: UnsafeRawBufferPointer) {
            guard let first = name.first, first < 128, let base = name.baseAddress else { return nil }
            for (key, bytes) in Self.byFirstByte[Int(first)] where bytes.count == name.count {
                if bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, name.count) }) == 0 {
                    self = key
                    return
                }
            }
            return nil
        }
    }

    mutating func readHTTPSettings() -> HTTPSettings? {
        var settings = HTTPSettings()
        var seen = 0
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        if scanner.consume(UInt8(ascii: "}")) { return scanner.atEnd() ? settings : nil }
        repeat {
            guard let name = scanner.plainStringBytes(), scanner.consume(UInt8(ascii: ":")), let key = Key(name) else {
                return nil
            }
            guard seen & (1 << key.rawValue) == 0 else { return nil }
            seen |= 1 << key.rawValue
            switch key {
            case .acceptEncoding:
                guard let value = scanner.bool() else { return nil }
                settings.acceptEncoding = value
            case .followRedirects:
                guard let value = scanner.bool() else { return nil }
                settings.followRedirects = value
            case .reuseConnection:
                guard let value = scanner.bool() else { return nil }
                settings.reuseConnection = value
            case .tlsSessionReuse:
                guard let value = scanner.bool() else { return nil }
                settings.tlsSessionReuse = value
            case .verifyTLS:
                guard let value = scanner.bool() else { return nil }
                settings.verifyTLS = value
            case .body:
                guard let value = scanner.string() else { return nil }
                settings.body = value
            case .jsonEquals:
                guard let value = scanner.string() else { return nil }
                settings.jsonEquals = value
            case .jsonPath:
                guard let value = scanner.string() else { return nil }
                settings.jsonPath = value
            case .keyword:
                guard let value = scanner.string() else { return nil }
                settings.keyword = value
            case .keywordAbsent:
                guard let value = scanner.string() else { return nil }
                settings.keywordAbsent = value
            case .lowSpeedBytesPerSecond:
                guard let value = scanner.integer() else { return nil }
                settings.lowSpeedBytesPerSecond = value
            case .lowSpeedSeconds:
                guard let value = scanner.integer() else { return nil }
                settings.lowSpeedSeconds = value
            case .maxBodyBytes:
                guard let value = scanner.integer() else { return nil }
                settings.maxBodyBytes = value
            case .maxRedirects:
                guard let value = scanner.integer() else { return nil }
                settings.maxRedirects = value
            case .tlsFullHandshakeSeconds:
                guard let value = scanner.integer() else { return nil }
                settings.tlsFullHandshakeSeconds = value
            case .httpVersion:
                guard let text = scanner.string(), let version = MonitorHTTPVersion(rawValue: text) else { return nil }
                settings.httpVersion = version
            case .type:
                // Other kinds carry other keys: the full reader knows them.
                guard scanner.string() == MonitorKind.http.rawValue else { return nil }
            case .expectedStatus:
                guard let value = statusList() else { return nil }
                settings.expectedStatus = value
            case .headers:
                guard let value = stringObject() else { return nil }
                settings.headers = value
            }
        } while scanner.consume(UInt8(ascii: ","))
        guard scanner.consume(UInt8(ascii: "}")) else { return nil }
        return scanner.atEnd() ? settings : nil
    }

    // MARK: values

    /// `200` or `[200, 204]` (as `FieldReader.statusList` accepts them).
    private mutating func statusList() -> [Int]? {
        guard scanner.consume(UInt8(ascii: "[")) else { return scanner.integer().map { [$0] } }
        var statuses: [Int] = []
        if scanner.consume(UInt8(ascii: "]")) { return statuses }
        repeat {
            guard let status = scanner.integer() else { return nil }
            statuses.append(status)
        } while scanner.consume(UInt8(ascii: ","))
        return scanner.consume(UInt8(ascii: "]")) ? statuses : nil
    }

    /// `{"Name": "value", ...}` with plain strings and no name twice.
    private mutating func stringObject() -> [String: String]? {
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        var object: [String: String] = [:]
        if scanner.consume(UInt8(ascii: "}")) { return object }
        repeat {
            guard let name = scanner.string(), scanner.consume(UInt8(ascii: ":")), let value = scanner.string(),
                object.updateValue(value, forKey: name) == nil
            else { return nil }
        } while scanner.consume(UInt8(ascii: ","))
        return scanner.consume(UInt8(ascii: "}")) ? object : nil
    }
}
