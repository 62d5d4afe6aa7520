/// The parts of a monitor URL the engine needs before it asks curl anything: scheme, host and
/// port (to resolve the name itself and hand curl the address). Deliberately strict: only
/// absolute `http`/`https` URLs with an ASCII host are accepted.
///
/// An IPv4 host is read once, here, in every form browsers and curl accept (`0x7f000001`,
/// `2130706433`, `0177.0.0.1`, `127.1`: see `URLHostIPv4`), and kept as its address: the target
/// policy judges `address` and the engine connects to that same address.
public struct MonitorURL: Sendable, Equatable {
    /// The two schemes a monitor may use.
    public enum Scheme: String, Sendable { case http, https }

    /// `http` or `https`.
    public var scheme: Scheme
    /// Host, lower-cased, without IPv6 brackets. An IPv4 host is written in its canonical dotted
    /// form whatever form the URL used (`http://0x7f000001/` has the host `127.0.0.1`).
    public var host: String
    /// The port, explicit or the scheme's default (80, 443).
    public var port: Int
    /// The address of an IPv4 or IPv6 literal host (no DNS lookup); nil for a name.
    public var address: IPAddress?
    /// The host is an IPv4 or IPv6 literal: no DNS lookup.
    public var hostIsIPLiteral: Bool { address != nil }
    /// The host is written with brackets (IPv6 literal).
    public var hostIsBracketed: Bool
    /// The URL as it is requested: the text as given, except that an IPv4 host in another form
    /// is written in its canonical dotted form, so curl, the `Host` header and the policy all
    /// see one address.
    public var requestURL: String

    /// Parses `text`; throws with `field` set to the given name so callers can report where.
    public init(_ text: String, field: String = "url") throws(MonitorValidationError) {
        func fail(_ reason: String) -> MonitorValidationError { MonitorValidationError(field: field, reason: reason) }
        if text.utf8.count > 2048 { throw fail("must be at most 2048 characters") }
        if text.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            throw fail(
                "must not contain spaces, control or non-ASCII characters (percent-encode them, use punycode hosts)")
        }
        guard let schemeEnd = text.range(of: "://") else {
            throw fail("must be an absolute URL such as https://example.com/health")
        }
        let schemeText = text[..<schemeEnd.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw fail("scheme '\(schemeText)' is not supported: use http or https")
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var hostPart: Substring
        var portPart: Substring?
        var bracketed = false
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("IPv6 host is missing ']'") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let afterClose = authority[authority.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.hasPrefix(":") else { throw fail("unexpected text after IPv6 host") }
                portPart = afterClose.dropFirst()
            }
            bracketed = true
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        if hostPart.isEmpty { throw fail("has no host") }
        let host = hostPart.lowercased()
        var port = scheme == .https ? 443 : 80
        if let portPart {
            guard !portPart.isEmpty, portPart.allSatisfy(\.isASCIIDigit), portPart.count <= 5,
                let value = Int(portPart), (1...65535).contains(value)
            else {
                throw fail("port '\(portPart)' must be a number from 1 to 65535")
            }
            port = value
        }
        var address: IPAddress?
        var canonicalHost = host
        if bracketed {
            guard let parsed = IPAddress(parsing: host), parsed.isIPv6 else {
                throw fail("'\(host)' is not an IPv6 address")
            }
            address = parsed
        } else {
            switch URLHostIPv4.parse(Substring(host)) {
            case .address(let value):
                address = .v4(value)
                canonicalHost = IPAddress.v4(value).description
            case .invalid(let reason):
                throw fail("host '\(host)' ends in a number but is not an IPv4 address: \(reason)")
            case .notIPv4:
                let allowed = host.utf8.allSatisfy { byte in
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                }
                if !allowed || host.hasPrefix(".") || host.contains("..") || host.utf8.count > 253 {
                    throw fail("host '\(host)' is not a valid DNS name")
                }
            }
        }
        self.scheme = scheme
        self.host = canonicalHost
        self.port = port
        self.address = address
        self.hostIsBracketed = bracketed
        if canonicalHost == hostPart {
            self.requestURL = text
        } else {
            self.requestURL = String(text[..<hostPart.startIndex]) + canonicalHost + String(text[hostPart.endIndex...])
        }
    }

    /// Throws, naming `field`, when `text` is not a monitor URL.
    public static func validate(_ text: String, field: String) throws(MonitorValidationError) {
        _ = try MonitorURL(text, field: field)
    }
}
