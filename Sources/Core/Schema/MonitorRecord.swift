import Foundation

/// A monitor as stored in the `monitors` table: the scheduling fields as columns, everything
/// else in `settings` (jsonb) under the same camelCase keys as the monitors file.
///
/// Every process that writes or reads monitors goes through this type, so a monitor written by
/// the engine's importer reads back identically in the control plane and vice versa.
/// `settings` always holds every remaining field explicitly (defaults included): a later change
/// of a default never changes what a stored monitor does.
public struct MonitorRecord: Sendable, Equatable {
    /// `monitors.external_id`: the id of the monitors file (or one the API chose).
    public var externalId: String
    /// `monitors.url`.
    public var url: String
    /// `monitors.method`.
    public var method: String
    /// `monitors.interval_seconds`.
    public var intervalSeconds: Double
    /// `monitors.timeout_ms`.
    public var timeoutMs: Int
    /// `monitors.connect_timeout_ms`.
    public var connectTimeoutMs: Int
    /// `monitors.settings`, as JSON text (an object; keys sorted).
    public var settingsJSON: String

    /// Keys of the monitors file that are columns rather than `settings` entries.
    public static let columnKeys: Set<String> = [
        "id", "url", "method", "intervalSeconds", "timeoutMs", "connectTimeoutMs",
    ]

    /// The stored form of `monitor`.
    public init(_ monitor: Monitor) {
        externalId = monitor.id
        url = monitor.url
        method = monitor.method
        intervalSeconds = monitor.intervalSeconds
        timeoutMs = monitor.timeoutMs
        connectTimeoutMs = monitor.connectTimeoutMs
        settingsJSON = Self.settingsJSON(of: monitor)
    }

    /// `settings` written by hand (Foundation's sorted-keys writer compares keys with the locale
    /// and made a 100,000-monitor import take seconds): keys in alphabetical order, every field
    /// explicit, optional text fields omitted when nil.
    static func settingsJSON(of monitor: Monitor) -> String {
        var out = "{"
        var first = true
        func key(_ name: String) {
            if !first { out += "," }
            first = false
            out += "\"" + name + "\":"
        }
        func text(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            appendJSONString(value, to: &out)
        }
        if monitor.kind != .http {
            for (name, value) in probeSettings(of: monitor) {
                key(name)
                out += value
            }
            return out + "}"
        }
        key("acceptEncoding")
        out += monitor.acceptEncoding ? "true" : "false"
        text("body", monitor.body)
        key("expectedStatus")
        out += "[" + monitor.expectedStatus.map(String.init).joined(separator: ",") + "]"
        key("followRedirects")
        out += monitor.followRedirects ? "true" : "false"
        key("headers")
        out += "{"
        for (index, name) in monitor.headers.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            appendJSONString(name, to: &out)
            out += ":"
            appendJSONString(monitor.headers[name]!, to: &out)
        }
        out += "}"
        key("httpVersion")
        appendJSONString(monitor.httpVersion.rawValue, to: &out)
        text("jsonEquals", monitor.jsonEquals)
        text("jsonPath", monitor.jsonPath)
        text("keyword", monitor.keyword)
        text("keywordAbsent", monitor.keywordAbsent)
        key("lowSpeedBytesPerSecond")
        out += String(monitor.lowSpeedBytesPerSecond)
        key("lowSpeedSeconds")
        out += String(monitor.lowSpeedSeconds)
        key("maxBodyBytes")
        out += String(monitor.maxBodyBytes)
        key("maxRedirects")
        out += String(monitor.maxRedirects)
        key("reuseConnection")
        out += monitor.reuseConnection ? "true" : "false"
        key("tlsFullHandshakeSeconds")
        out += String(monitor.tlsFullHandshakeSeconds)
        key("tlsSessionReuse")
        out += monitor.tlsSessionReuse ? "true" : "false"
        key("verifyTLS")
        out += monitor.verifyTLS ? "true" : "false"
        out += "}"
        return out
    }

    /// The settings of a `tcp`, `dns` or `tls` monitor as (key, JSON value) pairs: its own fields
    /// only (the HTTP ones do not apply and would be refused when read back), alphabetical,
    /// `type` included, optional text omitted when nil.
    private static func probeSettings(of monitor: Monitor) -> [(String, String)] {
        var pairs: [(String, String)] = []
        func text(_ name: String, _ value: String?) {
            if let value { pairs.append((name, JSONString.quoted(value))) }
        }
        switch monitor.kind {
        case .http:
            return []
        case .tcp:
            text("expect", monitor.expect)
            text("host", monitor.host)
            pairs.append(("port", String(monitor.port ?? 0)))
            text("send", monitor.send)
        case .dns:
            pairs.append(
                ("expectedValues", "[" + monitor.expectedValues.map(JSONString.quoted).joined(separator: ",") + "]"))
            text("name", monitor.dnsName)
            text("recordType", monitor.recordType.rawValue)
            text("server", monitor.dnsServer)
        case .tls:
            pairs.append(("certMinDaysLeft", String(monitor.certMinDaysLeft)))
            text("host", monitor.host)
            pairs.append(("port", String(monitor.port ?? 0)))
        }
        text("type", monitor.kind.rawValue)
        if monitor.kind == .tls { pairs.append(("verifyTLS", monitor.verifyTLS ? "true" : "false")) }
        return pairs
    }

    private static func appendJSONString(_ value: String, to out: inout String) {
        out += JSONString.quoted(value)
    }

    /// A row as read from the database.
    public init(
        externalId: String,
        url: String,
        method: String,
        intervalSeconds: Double,
        timeoutMs: Int,
        connectTimeoutMs: Int,
        settingsJSON: String
    ) {
        self.externalId = externalId
        self.url = url
        self.method = method
        self.intervalSeconds = intervalSeconds
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.settingsJSON = settingsJSON
    }

    /// The monitor this row describes, validated like a line of a monitors file (a row edited by
    /// hand into something invalid is refused with the field that is wrong).
    public func monitor() throws(MonitorValidationError) -> Monitor {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(settingsJSON.utf8))
        } catch {
            throw MonitorValidationError(field: "settings", reason: "not valid JSON")
        }
        guard var fields = object as? [String: Any] else {
            throw MonitorValidationError(field: "settings", reason: "must be a JSON object")
        }
        for key in fields.keys where Self.columnKeys.contains(key) {
            throw MonitorValidationError(field: "settings", reason: "'\(key)' is a column, not a setting")
        }
        fields["id"] = externalId
        fields["url"] = url
        // The method column means nothing to a monitor of another kind (it holds GET).
        if (fields["type"] as? String ?? "http") == "http" { fields["method"] = method }
        fields["intervalSeconds"] = intervalSeconds
        fields["timeoutMs"] = timeoutMs
        fields["connectTimeoutMs"] = connectTimeoutMs
        return try MonitorFile.monitor(from: fields)
    }
}
