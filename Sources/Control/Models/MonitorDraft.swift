import Foundation
import LookoutCore

/// A monitor ready to store: validated exactly like a line of a monitors file (the engine's
/// own `MonitorFile` rules, with the field named in every error), plus the control plane's
/// fields.
struct MonitorDraft: Sendable, Equatable {
    var monitor: Monitor
    var name: String
    var failureThreshold: Int
    var recoveryThreshold: Int
    var paused: Bool
    /// nil: leave the monitor's channel list as it is (PATCH without the field).
    var notificationChannelIds: [Int64]?

    var externalId: String { monitor.id }
}

/// Reads monitor bodies (`POST`, `PUT`, `PATCH`, and the items of `POST /monitors/bulk`).
struct MonitorBodyReader: Sendable {
    /// Allow targets on private, loopback and link-local addresses (`--allow-private-targets`).
    let allowPrivateTargets: Bool

    /// Fields of the control plane (the rest are the monitors file's, except its `id`).
    static let controlFields: Set<String> = [
        "name", "externalId", "failureThreshold", "recoveryThreshold", "paused", "notificationChannelIds",
    ]
    /// Fields the server writes; a body that sets them is refused rather than silently ignored.
    static let readOnlyFields: Set<String> = ["id", "status", "flapping", "lastCheck", "createdAt", "updatedAt"]
    /// Every field a monitor body may carry. A `dns` monitor's queried name is `dnsName` here
    /// (the monitors file's `name`): in the API `name` is the monitor's display name.
    static let writableFields: Set<String> = MonitorFile.knownKeys.subtracting(["id", "name"]).union(controlFields)
        .union(["dnsName"])

    /// A new monitor (`POST`) or a full replacement (`PUT`): omitted fields take their defaults.
    /// `existing` is the replaced monitor's external id and name, kept when the body omits them.
    func draft(
        from object: JSONObject, replacing existing: (externalId: String, name: String)? = nil
    ) throws(APIError)
        -> MonitorDraft
    {
        try refuseUnknown(object)
        var fields = object.fields.filter { !Self.controlFields.contains($0.key) && !($0.value is NSNull) }
        let externalId = try object.string("externalId") ?? existing?.externalId ?? Self.newExternalId()
        fields["id"] = externalId
        let monitor = try validated(fields, path: object.path)
        return MonitorDraft(
            monitor: monitor,
            name: try name(object, fallback: existing?.name ?? monitor.url),
            failureThreshold: try threshold(object, "failureThreshold") ?? 2,
            recoveryThreshold: try threshold(object, "recoveryThreshold") ?? 1,
            paused: try object.bool("paused") ?? false,
            notificationChannelIds: try object.ids("notificationChannelIds") ?? []
        )
    }

    /// `PATCH`: the fields present change, `null` resets an optional field to its default, the
    /// rest stay as stored.
    func patch(_ current: MonitorDraft, with object: JSONObject) throws(APIError) -> MonitorDraft {
        try refuseUnknown(object)
        var fields = Self.fileFields(of: current.monitor)
        for (key, value) in object.fields where !Self.controlFields.contains(key) {
            if value is NSNull { fields.removeValue(forKey: key) } else { fields[key] = value }
        }
        if object.has("externalId") {
            fields["id"] = try object.requiredString("externalId")
        }
        // A connect timeout that was only the default follows a new whole-check timeout.
        let old = current.monitor
        if object.has("timeoutMs"), !object.has("connectTimeoutMs"),
            old.connectTimeoutMs == min(old.timeoutMs, Monitor.defaultConnectTimeoutCapMs)
        {
            fields.removeValue(forKey: "connectTimeoutMs")
        }
        let monitor = try validated(fields, path: object.path)
        var draft = current
        draft.monitor = monitor
        if object.has("name") { draft.name = try name(object, fallback: current.name) }
        if let value = try threshold(object, "failureThreshold") { draft.failureThreshold = value }
        if let value = try threshold(object, "recoveryThreshold") { draft.recoveryThreshold = value }
        if let paused = try object.bool("paused") { draft.paused = paused }
        draft.notificationChannelIds =
            object.has("notificationChannelIds")
            ? (try object.ids("notificationChannelIds") ?? []) : nil
        return draft
    }

    private func refuseUnknown(_ object: JSONObject) throws(APIError) {
        for key in object.fields.keys.sorted() where Self.readOnlyFields.contains(key) {
            throw APIError.validation("\(key) is read-only", field: object.path + key)
        }
        try object.refuseUnknown(allowed: Self.writableFields)
    }

    private func validated(_ fields: [String: Any], path: String) throws(APIError) -> Monitor {
        var fields = fields
        if let dnsName = fields.removeValue(forKey: "dnsName") { fields["name"] = dnsName }
        let monitor: Monitor
        do {
            monitor = try MonitorFile.monitor(from: fields)
        } catch {
            let field = error.field == "id" ? "externalId" : error.field == "name" ? "dnsName" : error.field
            throw APIError.validation("\(path)\(field): \(error.reason)", field: path + field)
        }
        switch monitor.kind {
        case .http:
            try PublicTarget.check(monitor.url, field: path + "url", allowPrivate: allowPrivateTargets)
        case .tcp, .tls, .dns:
            // The host (or the DNS server) as a URL, judged like an HTTP monitor's host.
            if let target = try? monitor.connectTarget() {
                let field = path + (monitor.kind == .dns ? "server" : "host")
                try PublicTarget.check(target.requestURL, field: field, allowPrivate: allowPrivateTargets)
            }
        }
        return monitor
    }

    private func name(_ object: JSONObject, fallback: String) throws(APIError) -> String {
        guard let raw = try object.string("name") else { return String(fallback.prefix(200)) }
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(name.count) else {
            throw APIError.validation("name must be 1 to 200 characters", field: object.path + "name")
        }
        return name
    }

    private func threshold(_ object: JSONObject, _ key: String) throws(APIError) -> Int? {
        guard let value = try object.integer(key) else { return nil }
        guard (1...100).contains(value) else {
            throw APIError.validation("\(key) must be 1...100 consecutive checks", field: object.path + key)
        }
        return Int(value)
    }

    /// `api-` and 16 random hex digits: unique per owner in practice, and stable once stored.
    static func newExternalId() -> String {
        "api-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// The monitors-file object of a stored monitor (for merging a PATCH into it).
    static func fileFields(of monitor: Monitor) -> [String: Any] {
        let record = MonitorRecord(monitor)
        var fields =
            (try? JSONSerialization.jsonObject(with: Data(record.settingsJSON.utf8)) as? [String: Any]) ?? [:]
        fields["id"] = monitor.id
        if monitor.kind == .http {
            fields["url"] = monitor.url
            fields["method"] = monitor.method
        } else if let dnsName = fields.removeValue(forKey: "name") {
            // The url of another kind is derived from its fields (a PATCH of `host` changes it).
            fields["dnsName"] = dnsName
        }
        fields["intervalSeconds"] = monitor.intervalSeconds
        fields["timeoutMs"] = monitor.timeoutMs
        fields["connectTimeoutMs"] = monitor.connectTimeoutMs
        return fields
    }
}

/// The default target policy applied to addresses people type into the API (monitor URLs,
/// webhook URLs): with `--allow-private-targets` off, a URL whose host is `localhost` or a
/// private, loopback, link-local ... address is refused at once, with the field named, instead
/// of failing later at every check or delivery. Names are judged again, after resolution, by
/// the engines and the delivery client.
enum PublicTarget {
    static func check(_ url: String, field: String, allowPrivate: Bool) throws(APIError) {
        guard !allowPrivate else { return }
        let parsed: MonitorURL
        do { parsed = try MonitorURL(url, field: field) } catch {
            throw APIError.validation("\(field): \(error.reason)", field: field)
        }
        if parsed.host == "localhost" || parsed.host.hasSuffix(".localhost") {
            throw APIError.validation(
                "\(field): localhost is not a public target (the server runs without --allow-private-targets)",
                field: field
            )
        }
        if parsed.hostIsIPLiteral, let address = IPAddress(parsing: parsed.host),
            let range = TargetPolicy.nonPublicRangeName(address)
        {
            throw APIError.validation(
                "\(field): \(parsed.host) is a \(range) address; only public targets are allowed (the server runs without --allow-private-targets)",
                field: field
            )
        }
    }
}
