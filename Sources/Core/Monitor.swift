/// What to check, how often and what counts as healthy. The same value is read from a monitors
/// file (JSON Lines), the database and the API; every default is documented here and in the README.
public struct Monitor: Sendable, Equatable {
    /// Caller-chosen identifier, unique within a file or account: 1...200 printable characters.
    public var id: String
    /// What the monitor checks (`type`). Default `http`.
    public var kind: MonitorKind
    /// Absolute `http` or `https` URL. Required for HTTP monitors; for the other kinds it is
    /// their canonical form (`canonicalURL`), derived from the fields below.
    public var url: String
    /// Seconds between checks. Default 60; at least 0.1, at most 86,400.
    public var intervalSeconds: Double
    /// Whole-check time budget (DNS + connect + TLS + request + body), ms. Default 10,000; 100...120,000.
    public var timeoutMs: Int
    /// TCP + TLS connect budget, ms. Default: min(timeoutMs, 5,000).
    public var connectTimeoutMs: Int
    /// HTTP method. Default `GET`. One of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.
    public var method: String
    /// Extra request headers. Default none. `Host` and `Content-Length` are refused (the engine sets them).
    public var headers: [String: String]
    /// Request body (sent as given; set `Content-Type` in `headers`). Default none.
    public var body: String?
    /// Accepted HTTP statuses. Default: empty, meaning any 2xx.
    public var expectedStatus: [Int]
    /// The body must contain this text (case-sensitive). Default none.
    public var keyword: String?
    /// The body must NOT contain this text. Default none.
    public var keywordAbsent: String?
    /// A simple JSON path (`$.a.b[0].c`) whose value must equal `jsonEquals`. Default none.
    public var jsonPath: String?
    /// Expected value at `jsonPath`, compared as text (`"ok"`, `true`, `3`). Required with `jsonPath`.
    public var jsonEquals: String?
    /// Follow 3xx redirects. Default true.
    public var followRedirects: Bool
    /// Most redirects followed before `too_many_redirects`. Default 5; 0...20.
    public var maxRedirects: Int
    /// Verify the TLS certificate chain and host name. Default true.
    public var verifyTLS: Bool
    /// Most body bytes accepted before `too_large`. Default 1 MiB; 1 KiB...64 MiB.
    public var maxBodyBytes: Int
    /// Abort as `low_speed` when the transfer stays below this many bytes/s ... Default 0 (off).
    public var lowSpeedBytesPerSecond: Int
    /// ... for this many seconds. Default 10 (used only when `lowSpeedBytesPerSecond` > 0).
    public var lowSpeedSeconds: Int
    /// Allow a kept-alive connection to be reused by the next check. Default false: every check
    /// opens a fresh connection (real connect/TLS timings) and asks the server to close it.
    public var reuseConnection: Bool
    /// The fields of the `tcp`, `dns` and `tls` kinds, out of line: the engine copies a monitor
    /// for every check, and an HTTP monitor then carries one nil reference instead of nine fields
    /// (measured: about 1.8k more instructions per HTTP check with them inline).
    private var probeFields: ProbeFieldsBox?
    /// `tcp`, `tls`: the host name or IP address to connect to. Required for those kinds.
    public var host: String? {
        get { (probeFields?.value ?? ProbeFields()).host }
        set { updateProbeFields { $0.host = newValue } }
    }
    /// `tcp`, `tls`: the port. Required for those kinds.
    public var port: Int? {
        get { (probeFields?.value ?? ProbeFields()).port }
        set { updateProbeFields { $0.port = newValue } }
    }
    /// `tcp`: text written once connected (sent as given: end it with `\\n` for a line protocol).
    /// Default none: the check is the connect alone.
    public var send: String? {
        get { (probeFields?.value ?? ProbeFields()).send }
        set { updateProbeFields { $0.send = newValue } }
    }
    /// `tcp`: the reply (first 64 KiB) must contain this text, else DOWN `expect_missing`.
    /// Default none. Without `send`, what the server says first (a banner) is read.
    public var expect: String? {
        get { (probeFields?.value ?? ProbeFields()).expect }
        set { updateProbeFields { $0.expect = newValue } }
    }
    /// `dns`: the name queried (monitors-file key `name`). Required for that kind.
    public var dnsName: String? {
        get { (probeFields?.value ?? ProbeFields()).dnsName }
        set { updateProbeFields { $0.dnsName = newValue } }
    }
    /// `dns`: the record type asked for. Default `A`.
    public var recordType: DNSRecordType {
        get { (probeFields?.value ?? ProbeFields()).recordType }
        set { updateProbeFields { $0.recordType = newValue } }
    }
    /// `dns`: the server asked, an IP address with an optional port (`1.1.1.1`, `[::1]:5353`).
    /// Default: the engine's resolver (`--dns-server`, else the machine's).
    public var dnsServer: String? {
        get { (probeFields?.value ?? ProbeFields()).dnsServer }
        set { updateProbeFields { $0.dnsServer = newValue } }
    }
    /// `dns`: values that must all be among the answers (compared without case and without a
    /// final dot; an MX answer reads `10 mail.example.com`). Default none: any answer is UP.
    public var expectedValues: [String] {
        get { (probeFields?.value ?? ProbeFields()).expectedValues }
        set { updateProbeFields { $0.expectedValues = newValue } }
    }
    /// `tls`: DOWN (`cert_expiring`) when the certificate expires within this many days. Default
    /// 14; 0 turns the check off.
    public var certMinDaysLeft: Int {
        get { (probeFields?.value ?? ProbeFields()).certMinDaysLeft }
        set { updateProbeFields { $0.certMinDaysLeft = newValue } }
    }

    private mutating func updateProbeFields(_ change: (inout ProbeFields) -> Void) {
        var fields = probeFields?.value ?? ProbeFields()
        change(&fields)
        probeFields = fields == ProbeFields() ? nil : ProbeFieldsBox(fields)
    }

    // Transport options (issue 8): TLS session reuse, HTTP version, content decoding.
    /// Resume this monitor's TLS session on later checks (curl's share interface) instead of a
    /// full handshake each time: no key exchange or certificate verification on a resumed check.
    /// Default false.
    public var tlsSessionReuse: Bool
    /// With `tlsSessionReuse`: the longest time between full handshakes, seconds (a full
    /// handshake reads and verifies the certificate again, so `certExpiresAt` stays current).
    /// Default 3,600; 1...604,800.
    public var tlsFullHandshakeSeconds: Int
    /// The HTTP version to speak. Default `1.1` (HTTP/1.1 only).
    public var httpVersion: MonitorHTTPVersion
    /// Ask for compressed bodies (`Accept-Encoding` with every encoding curl decodes: gzip,
    /// deflate, br, zstd) and decode them; `maxBodyBytes` counts decoded bytes. Default false.
    public var acceptEncoding: Bool

    /// Default seconds between checks.
    public static let defaultIntervalSeconds = 60.0
    /// Default whole-check timeout, ms.
    public static let defaultTimeoutMs = 10_000
    /// The connect timeout defaults to the timeout, but at most this many ms.
    public static let defaultConnectTimeoutCapMs = 5_000
    /// Default redirects followed.
    public static let defaultMaxRedirects = 5
    /// Default body cap, bytes (1 MiB).
    public static let defaultMaxBodyBytes = 1 << 20
    /// Default longest time between full TLS handshakes with `tlsSessionReuse`, seconds.
    public static let defaultTLSFullHandshakeSeconds = 3_600
    /// The HTTP methods a monitor may use.
    public static let allowedMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// A monitor; omitted values take the documented defaults (not validated: call `validate()`).
    public init(
        id: String, url: String, intervalSeconds: Double = Monitor.defaultIntervalSeconds,
        timeoutMs: Int = Monitor.defaultTimeoutMs, connectTimeoutMs: Int? = nil, method: String = "GET",
        headers: [String: String] = [:], body: String? = nil, expectedStatus: [Int] = [],
        keyword: String? = nil, keywordAbsent: String? = nil, jsonPath: String? = nil, jsonEquals: String? = nil,
        followRedirects: Bool = true, maxRedirects: Int = Monitor.defaultMaxRedirects, verifyTLS: Bool = true,
        maxBodyBytes: Int = Monitor.defaultMaxBodyBytes, lowSpeedBytesPerSecond: Int = 0, lowSpeedSeconds: Int = 10,
        reuseConnection: Bool = false,
        tlsSessionReuse: Bool = false, tlsFullHandshakeSeconds: Int = Monitor.defaultTLSFullHandshakeSeconds,
        httpVersion: MonitorHTTPVersion = .http1_1, acceptEncoding: Bool = false,
        kind: MonitorKind = .http, host: String? = nil, port: Int? = nil,
        send: String? = nil, expect: String? = nil, dnsName: String? = nil, recordType: DNSRecordType = .A,
        dnsServer: String? = nil, expectedValues: [String] = [],
        certMinDaysLeft: Int = Monitor.defaultCertMinDaysLeft
    ) {
        self.id = id
        self.kind = kind
        self.url = url
        self.intervalSeconds = intervalSeconds
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs ?? min(timeoutMs, Monitor.defaultConnectTimeoutCapMs)
        self.method = method
        self.headers = headers
        self.body = body
        self.expectedStatus = expectedStatus
        self.keyword = keyword
        self.keywordAbsent = keywordAbsent
        self.jsonPath = jsonPath
        self.jsonEquals = jsonEquals
        self.followRedirects = followRedirects
        self.maxRedirects = maxRedirects
        self.verifyTLS = verifyTLS
        self.maxBodyBytes = maxBodyBytes
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
        self.lowSpeedSeconds = lowSpeedSeconds
        self.reuseConnection = reuseConnection
        self.tlsSessionReuse = tlsSessionReuse
        self.tlsFullHandshakeSeconds = tlsFullHandshakeSeconds
        self.httpVersion = httpVersion
        self.acceptEncoding = acceptEncoding
        let fields = ProbeFields(
            host: host, port: port, send: send, expect: expect, dnsName: dnsName, recordType: recordType,
            dnsServer: dnsServer, expectedValues: expectedValues, certMinDaysLeft: certMinDaysLeft)
        self.probeFields = fields == ProbeFields() ? nil : ProbeFieldsBox(fields)
        if kind != .http && url.isEmpty { self.url = canonicalURL }
    }

    /// A monitor of another kind than HTTP; its `url` is its canonical form.
    public static func probe(
        id: String, kind: MonitorKind, intervalSeconds: Double = Monitor.defaultIntervalSeconds,
        timeoutMs: Int = Monitor.defaultTimeoutMs, connectTimeoutMs: Int? = nil, host: String? = nil,
        port: Int? = nil, send: String? = nil, expect: String? = nil, dnsName: String? = nil,
        recordType: DNSRecordType = .A, dnsServer: String? = nil, expectedValues: [String] = [],
        certMinDaysLeft: Int = Monitor.defaultCertMinDaysLeft, verifyTLS: Bool = true
    ) -> Monitor {
        Monitor(
            id: id, url: "", intervalSeconds: intervalSeconds, timeoutMs: timeoutMs,
            connectTimeoutMs: connectTimeoutMs, verifyTLS: verifyTLS, kind: kind, host: host, port: port, send: send,
            expect: expect, dnsName: dnsName, recordType: recordType, dnsServer: dnsServer,
            expectedValues: expectedValues, certMinDaysLeft: certMinDaysLeft)
    }

    /// True when a check must read the body (an assertion looks at it).
    public var needsBody: Bool { keyword != nil || keywordAbsent != nil || jsonPath != nil }

    /// Whether `status` counts as healthy for this monitor.
    public func accepts(httpStatus status: Int) -> Bool {
        expectedStatus.isEmpty ? (200...299).contains(status) : expectedStatus.contains(status)
    }
}

/// The HTTP version a monitor speaks (`httpVersion`).
public enum MonitorHTTPVersion: String, Sendable, CaseIterable {
    /// HTTP/1.1 only (the default; what every check did before the option existed).
    case http1_1 = "1.1"
    /// HTTP/2 required. Over https it is agreed by ALPN and a server that answers in HTTP/1.1
    /// fails the check as `bad_response`; over plain http it is spoken from the first byte
    /// ("prior knowledge", RFC 9113 §3.3: no `Upgrade: h2c` round trip), so a server without
    /// cleartext HTTP/2 fails the check as `bad_response` too.
    case http2 = "2"
    /// HTTP/2 when an https server offers it by ALPN, else HTTP/1.1; plain http stays HTTP/1.1.
    case automatic = "auto"
}

/// The fields of the `tcp`, `dns` and `tls` kinds (documented on `Monitor`), with their defaults.
struct ProbeFields: Sendable, Equatable {
    var host: String? = nil
    var port: Int? = nil
    var send: String? = nil
    var expect: String? = nil
    var dnsName: String? = nil
    var recordType: DNSRecordType = .A
    var dnsServer: String? = nil
    var expectedValues: [String] = []
    var certMinDaysLeft: Int = Monitor.defaultCertMinDaysLeft
}

/// `ProbeFields` behind one reference; immutable (a change makes a new box).
final class ProbeFieldsBox: Sendable, Equatable {
    let value: ProbeFields
    init(_ value: ProbeFields) { self.value = value }
    static func == (lhs: ProbeFieldsBox, rhs: ProbeFieldsBox) -> Bool { lhs.value == rhs.value }
}

/// Why a monitor definition is refused; `field` names the offending key.
public struct MonitorValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The monitors-file key at fault.
    public var field: String
    /// What is wrong with it.
    public var reason: String
    /// A refusal of `field`.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}

extension Monitor {
    /// Why `id` cannot name a monitor (1 to 200 characters, no control characters), or nil.
    public static func idProblem(_ id: String) -> String? {
        if id.isEmpty || id.utf8.count > 200 { return "must be 1 to 200 characters" }
        // On the UTF-8 bytes: a control character (C0 or DEL) is one byte below 0x20 or 0x7F,
        // and no byte of a longer sequence is below 0x80. (The scalar view decoded every id
        // first: 1.7% of a take-over's CPU.)
        if id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return "must not contain control characters"
        }
        return nil
    }

    /// Checks every field against its documented range; throws the first problem found. The
    /// result carries the target parsed on the way (see `ValidatedMonitor`).
    @discardableResult
    public func validate() throws(MonitorValidationError) -> ValidatedMonitor {
        try validated()
    }

    /// `validate()` for a monitor the caller is done with: the definition moves into the result
    /// instead of being copied (a copy retains each of its strings and collections, once per
    /// monitor of a million at start-up).
    public consuming func validated() throws(MonitorValidationError) -> ValidatedMonitor {
        func fail(_ field: String, _ reason: String) -> MonitorValidationError {
            MonitorValidationError(field: field, reason: reason)
        }
        if let problem = Self.idProblem(id) { throw fail("id", problem) }
        let target = kind == .http ? try MonitorURL(url, field: "url") : try validateKindFields()
        if !intervalSeconds.isFinite || intervalSeconds < 0.1 || intervalSeconds > 86_400 {
            throw fail("intervalSeconds", "must be between 0.1 and 86400 seconds")
        }
        if timeoutMs < 100 || timeoutMs > 120_000 { throw fail("timeoutMs", "must be between 100 and 120000") }
        if connectTimeoutMs < 100 || connectTimeoutMs > timeoutMs {
            throw fail("connectTimeoutMs", "must be between 100 and timeoutMs (\(timeoutMs))")
        }
        if !Monitor.allowedMethods.contains(method) {
            throw fail("method", "must be one of \(Monitor.allowedMethods.sorted().joined(separator: ", "))")
        }
        for (name, value) in headers {
            if name.isEmpty || !name.utf8.allSatisfy(Self.isHeaderNameByte) {
                throw fail("headers", "'\(name)' is not a valid header name")
            }
            let lowered = name.lowercased()
            if lowered == "host" || lowered == "content-length" || lowered == "transfer-encoding" {
                throw fail("headers", "'\(name)' is set by the engine and cannot be overridden")
            }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                throw fail("headers", "value of '\(name)' must not contain CR, LF or NUL")
            }
        }
        if let body, body.utf8.count > 1 << 20 { throw fail("body", "must be at most 1 MiB") }
        if body != nil && (method == "GET" || method == "HEAD") {
            throw fail("body", "a \(method) request carries no body: use POST, PUT, PATCH, DELETE or OPTIONS")
        }
        for status in expectedStatus where !(100...599).contains(status) {
            throw fail("expectedStatus", "\(status) is not an HTTP status (100...599)")
        }
        if let keyword, keyword.isEmpty { throw fail("keyword", "must not be empty") }
        if let keywordAbsent, keywordAbsent.isEmpty { throw fail("keywordAbsent", "must not be empty") }
        if (jsonPath == nil) != (jsonEquals == nil) {
            throw fail(jsonPath == nil ? "jsonPath" : "jsonEquals", "jsonPath and jsonEquals go together")
        }
        if let jsonPath {
            do { _ = try JSONPath(jsonPath) } catch { throw fail("jsonPath", error.description) }
        }
        if maxRedirects < 0 || maxRedirects > 20 { throw fail("maxRedirects", "must be between 0 and 20") }
        if maxBodyBytes < 1024 || maxBodyBytes > 64 << 20 {
            throw fail("maxBodyBytes", "must be between 1024 and 67108864")
        }
        if lowSpeedBytesPerSecond < 0 { throw fail("lowSpeedBytesPerSecond", "must not be negative") }
        if lowSpeedSeconds < 1 || lowSpeedSeconds > 120 { throw fail("lowSpeedSeconds", "must be between 1 and 120") }
        if tlsFullHandshakeSeconds < 1 || tlsFullHandshakeSeconds > 604_800 {
            throw fail("tlsFullHandshakeSeconds", "must be between 1 and 604800 (7 days)")
        }
        return ValidatedMonitor(monitor: self, target: target)
    }

    private static func isHeaderNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
