/// The parts of a monitor URL the engine needs before it asks curl anything: scheme, host and
/// port (to resolve the name itself and hand curl the address). Deliberately strict: only
/// absolute `http`/`https` URLs with an ASCII host are accepted.
public struct MonitorURL: Sendable, Equatable {
    /// The two schemes a monitor may use.
    public enum Scheme: String, Sendable { case http, https }

    /// `http` or `https`.
    public var scheme: Scheme
    /// Host as written, lower-cased, without IPv6 brackets.
    public var host: String
    /// The port, explicit or the scheme's default (80, 443).
    public var port: Int
    /// The host is an IPv4 or IPv6 literal: no DNS lookup.
    public var hostIsIPLiteral: Bool
    /// The host is written with brackets (IPv6 literal).
    public var hostIsBracketed: Bool

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
        let isIP: Bool
        if bracketed {
            guard IPAddress(parsing: host)?.isIPv6 == true else { throw fail("'\(host)' is not an IPv6 address") }
            isIP = true
        } else if IPAddress(parsing: host) != nil {
            isIP = true
        } else {
            let allowed = host.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            }
            if !allowed || host.hasPrefix(".") || host.contains("..") || host.utf8.count > 253 {
                throw fail("host '\(host)' is not a valid DNS name")
            }
            isIP = false
        }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.hostIsIPLiteral = isIP
        self.hostIsBracketed = bracketed
    }

    /// Throws, naming `field`, when `text` is not a monitor URL.
    public static func validate(_ text: String, field: String) throws(MonitorValidationError) {
        _ = try MonitorURL(text, field: field)
    }
}
