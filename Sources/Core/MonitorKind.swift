/// What a monitor checks. The monitors-file key is `type`; HTTP is the default.
///
/// - `http`: a request to `url` (every HTTP field applies).
/// - `tcp`: a TCP connect to `host`:`port`, optionally a line sent (`send`) and a reply that must
///   contain `expect`.
/// - `dns`: one query for `name` and `recordType` through c-ares (never the engine's DNS cache),
///   to `server` or the engine's resolver; optionally the answers must include `expectedValues`.
/// - `tls`: a TCP connect and TLS handshake to `host`:`port`, nothing sent after it; chain and
///   name verified, DOWN when the certificate expires within `certMinDaysLeft` days.
public enum MonitorKind: String, Sendable, CaseIterable {
    case http, tcp, dns, tls
}

/// The DNS record types a `dns` monitor may ask for.
public enum DNSRecordType: String, Sendable, CaseIterable {
    // swift-format-ignore: AlwaysUseLowerCamelCase
    case A, AAAA, CNAME, MX, TXT, NS, SOA

    /// The record type's number on the wire (RFC 1035, RFC 3596).
    public var code: UInt16 {
        switch self {
        case .A: return 1
        case .NS: return 2
        case .CNAME: return 5
        case .SOA: return 6
        case .MX: return 15
        case .TXT: return 16
        case .AAAA: return 28
        }
    }
}

extension Monitor {
    /// Default `certMinDaysLeft` of a `tls` monitor: DOWN two weeks before expiry, time enough to
    /// renew by hand (automated renewal starts at 30 days, so a healthy ACME setup never trips it).
    public static let defaultCertMinDaysLeft = 14
    /// Longest `send` text of a `tcp` monitor, bytes.
    public static let maxSendBytes = 4096
    /// Most bytes a `tcp` monitor reads while looking for `expect`.
    public static let maxExpectReadBytes = 64 * 1024

    /// The monitors-file keys that only a `type` of `http` may carry.
    public static let httpOnlyKeys: Set<String> = [
        "method", "headers", "body", "expectedStatus", "keyword", "keywordAbsent", "jsonPath", "jsonEquals",
        "followRedirects", "maxRedirects", "maxBodyBytes", "lowSpeedBytesPerSecond", "lowSpeedSeconds",
        "reuseConnection", "tlsSessionReuse", "tlsFullHandshakeSeconds", "httpVersion", "acceptEncoding",
    ]

    /// The keys each kind may carry besides the common ones (`id`, `type`, `intervalSeconds`,
    /// `timeoutMs`, `connectTimeoutMs`).
    public static func kindKeys(_ kind: MonitorKind) -> Set<String> {
        switch kind {
        case .http: return httpOnlyKeys.union(["url", "verifyTLS"])
        case .tcp: return ["host", "port", "send", "expect"]
        case .dns: return ["name", "recordType", "server", "expectedValues"]
        case .tls: return ["host", "port", "certMinDaysLeft", "verifyTLS"]
        }
    }

    /// The `url` of a monitor of another kind than HTTP: `tcp://host:port`, `tls://host:port`,
    /// `dns://name?type=MX` or, with a server, `dns://server/name?type=MX` (RFC 4501's form).
    /// Stored in `monitors.url` and shown by the API and the dashboard; never parsed by the engine.
    public var canonicalURL: String {
        switch kind {
        case .http:
            return url
        case .tcp, .tls:
            return "\(kind.rawValue)://\(Self.bracketed(host ?? "")):\(port ?? 0)"
        case .dns:
            let authority = dnsServer.map { Self.bracketed($0) + "/" } ?? ""
            return "dns://\(authority)\(dnsName ?? "")?type=\(recordType.rawValue)"
        }
    }

    /// `host` (or `host:port`) with brackets when it is a bare IPv6 literal.
    public static func bracketed(_ host: String) -> String {
        // Two colons or more: an IPv6 address (`host:port` has one).
        host.utf8.filter { $0 == UInt8(ascii: ":") }.count > 1 && !host.hasPrefix("[") ? "[\(host)]" : host
    }

    /// The target of a `tcp` or `tls` monitor, or the explicit server of a `dns` monitor, as a
    /// parsed URL: host (canonical), port, and the address of a literal host. nil for HTTP
    /// monitors and `dns` monitors that use the engine's resolver.
    public func connectTarget() throws(MonitorValidationError) -> MonitorURL? {
        switch kind {
        case .http:
            return nil
        case .tcp, .tls:
            guard let host, let port else { return nil }
            return try MonitorURL("http://\(Self.bracketed(host)):\(port)/", field: "host")
        case .dns:
            guard let dnsServer else { return nil }
            let target = try MonitorURL("http://\(Self.serverAuthority(dnsServer))/", field: "server")
            guard target.address != nil else {
                throw MonitorValidationError(
                    field: "server", reason: "'\(dnsServer)' must be an IP address (with an optional :port)")
            }
            return target
        }
    }

    /// `server` with the DNS port when none is given: `1.1.1.1` → `1.1.1.1:53`, `::1` → `[::1]:53`.
    static func serverAuthority(_ server: String) -> String {
        if server.hasPrefix("[") { return server.contains("]:") ? server : server + ":53" }
        if server.contains(":") {
            // Two or more colons: a bare IPv6 address.
            return server.filter { $0 == ":" }.count > 1 ? "[\(server)]:53" : server
        }
        return server + ":53"
    }

    /// Checks the fields of a monitor that is not HTTP; returns its `connectTarget()`.
    func validateKindFields() throws(MonitorValidationError) -> MonitorURL? {
        func fail(_ field: String, _ reason: String) -> MonitorValidationError {
            MonitorValidationError(field: field, reason: reason)
        }
        switch kind {
        case .http:
            return nil
        case .tcp, .tls:
            guard let host, !host.isEmpty else { throw fail("host", "is required for a \(kind.rawValue) monitor") }
            guard let port else { throw fail("port", "is required for a \(kind.rawValue) monitor") }
            if !(1...65535).contains(port) { throw fail("port", "must be between 1 and 65535") }
            if host.contains("/") || host.contains("@") || host.contains("?") {
                throw fail("host", "must be a host name or IP address, not a URL")
            }
            let target = try connectTarget()
            if let send {
                if send.isEmpty || send.utf8.count > Self.maxSendBytes {
                    throw fail("send", "must be 1 to \(Self.maxSendBytes) bytes")
                }
            }
            if let expect, expect.isEmpty { throw fail("expect", "must not be empty") }
            if kind == .tls && (certMinDaysLeft < 0 || certMinDaysLeft > 3650) {
                throw fail("certMinDaysLeft", "must be between 0 (off) and 3650 days")
            }
            return target
        case .dns:
            guard let dnsName, !dnsName.isEmpty else { throw fail("name", "is required for a dns monitor") }
            try Self.validateDNSName(dnsName)
            let target = try connectTarget()
            for value in expectedValues where value.isEmpty {
                throw fail("expectedValues", "must not contain an empty string")
            }
            return target
        }
    }

    /// A DNS name as a query carries it: 1 to 253 characters, labels of 1 to 63, letters, digits,
    /// `-` and `_` (service labels such as `_dmarc`), an optional final dot.
    static func validateDNSName(_ name: String) throws(MonitorValidationError) {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        let valid =
            !trimmed.isEmpty && trimmed.utf8.count <= 253
            && trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63
                    && label.utf8.allSatisfy { byte in
                        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                    }
            }
        if !valid {
            throw MonitorValidationError(
                field: "name",
                reason: "'\(name)' is not a DNS name (labels of letters, digits, '-' or '_', up to 253 characters)")
        }
    }
}

extension Monitor {
    /// The `expectedValues` of a `dns` monitor missing from `answers`, compared without case and
    /// without a final dot (`Mail.Example.com.` matches `mail.example.com`).
    public func missingExpectedValues(in answers: [String]) -> [String] {
        func normalized(_ text: String) -> String {
            let lowered = text.lowercased()
            return lowered.hasSuffix(".") ? String(lowered.dropLast()) : lowered
        }
        let present = Set(answers.map(normalized))
        return expectedValues.filter { !present.contains(normalized($0)) }
    }
}
