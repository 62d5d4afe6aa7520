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
    ///
    /// Works on the UTF-8 bytes (the text is ASCII once the first check passes): a million
    /// monitors are parsed at start-up, and Character-indexed `String` searches cost most of it.
    public init(_ text: String, field: String = "url") throws(MonitorValidationError) {
        var text = text
        let parsed = text.withUTF8 { bytes -> Result<Parts, MonitorValidationError> in
            do throws(MonitorValidationError) {
                return .success(try Self.parse(bytes, field: field))
            } catch {
                return .failure(error)
            }
        }
        let parts = try parsed.get()
        self.scheme = parts.scheme
        self.host = parts.host
        self.port = parts.port
        self.address = parts.address
        self.hostIsBracketed = parts.bracketed
        if let hostRange = parts.rewrittenHostRange {
            var rewritten = ""
            rewritten.reserveCapacity(text.utf8.count + 8)
            text.withUTF8 { bytes in
                rewritten += String(decoding: bytes[..<hostRange.lowerBound], as: UTF8.self)
                rewritten += parts.host
                rewritten += String(decoding: bytes[hostRange.upperBound...], as: UTF8.self)
            }
            self.requestURL = rewritten
        } else {
            self.requestURL = text
        }
    }

    /// What `parse` finds; `rewrittenHostRange` is where the host sits in the text when the
    /// request URL must spell it differently (an IPv4 host in another form).
    private struct Parts {
        var scheme: Scheme
        var host: String
        var port: Int
        var address: IPAddress?
        var bracketed: Bool
        var rewrittenHostRange: Range<Int>?
    }

    private static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, field: String
    ) throws(MonitorValidationError)
        -> Parts
    {
        func fail(_ reason: String) -> MonitorValidationError { MonitorValidationError(field: field, reason: reason) }
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        if bytes.count > 2048 { throw fail("must be at most 2048 characters") }
        if bytes.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            throw fail(
                "must not contain spaces, control or non-ASCII characters (percent-encode them, use punycode hosts)")
        }
        guard let schemeEnd = firstIndex(of: "://", in: bytes) else {
            throw fail("must be an absolute URL such as https://example.com/health")
        }
        let scheme: Scheme
        if equalsIgnoringCase(bytes[0..<schemeEnd], "https") {
            scheme = .https
        } else if equalsIgnoringCase(bytes[0..<schemeEnd], "http") {
            scheme = .http
        } else {
            throw fail("scheme '\(text(0..<schemeEnd).lowercased())' is not supported: use http or https")
        }
        let authorityStart = schemeEnd + 3
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count {
            let byte = bytes[authorityEnd]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
            authorityEnd += 1
        }
        var hostStart = authorityStart
        for index in stride(from: authorityEnd - 1, through: authorityStart, by: -1)
        where bytes[index] == UInt8(ascii: "@") {
            hostStart = index + 1
            break
        }
        var hostEnd = authorityEnd
        var portRange: Range<Int>?
        var bracketed = false
        if hostStart < authorityEnd && bytes[hostStart] == UInt8(ascii: "[") {
            guard let close = (hostStart..<authorityEnd).first(where: { bytes[$0] == UInt8(ascii: "]") }) else {
                throw fail("IPv6 host is missing ']'")
            }
            let afterClose = close + 1
            if afterClose < authorityEnd {
                guard bytes[afterClose] == UInt8(ascii: ":") else { throw fail("unexpected text after IPv6 host") }
                portRange = (afterClose + 1)..<authorityEnd
            }
            hostStart += 1
            hostEnd = close
            bracketed = true
        } else if let colon = (hostStart..<authorityEnd).last(where: { bytes[$0] == UInt8(ascii: ":") }) {
            hostEnd = colon
            portRange = (colon + 1)..<authorityEnd
        }
        if hostStart == hostEnd { throw fail("has no host") }
        let host = lowercased(bytes[hostStart..<hostEnd])
        var port = scheme == .https ? 443 : 80
        if let portRange {
            var value = 0
            let digitsOnly = portRange.allSatisfy { bytes[$0] >= UInt8(ascii: "0") && bytes[$0] <= UInt8(ascii: "9") }
            if digitsOnly && !portRange.isEmpty && portRange.count <= 5 {
                for index in portRange { value = value * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
            }
            guard digitsOnly, !portRange.isEmpty, portRange.count <= 5, (1...65535).contains(value) else {
                throw fail("port '\(text(portRange))' must be a number from 1 to 65535")
            }
            port = value
        }
        if bracketed {
            guard let parsed = IPAddress(parsing: host), parsed.isIPv6 else {
                throw fail("'\(host)' is not an IPv6 address")
            }
            let spelledAsGiven = host.utf8.elementsEqual(bytes[hostStart..<hostEnd])
            return Parts(
                scheme: scheme, host: host, port: port, address: parsed, bracketed: true,
                rewrittenHostRange: spelledAsGiven ? nil : hostStart..<hostEnd)
        }
        switch URLHostIPv4.parse(Substring(host)) {
        case .address(let value):
            let canonical = IPAddress.v4(value).description
            let spelledCanonically = canonical.utf8.elementsEqual(bytes[hostStart..<hostEnd])
            return Parts(
                scheme: scheme, host: canonical, port: port, address: .v4(value), bracketed: false,
                rewrittenHostRange: spelledCanonically ? nil : hostStart..<hostEnd)
        case .invalid(let reason):
            throw fail("host '\(host)' ends in a number but is not an IPv4 address: \(reason)")
        case .notIPv4:
            var previousWasDot = true  // a leading dot is refused like an empty label
            var valid = host.utf8.count <= 253
            for byte in host.utf8 where valid {
                let isDot = byte == UInt8(ascii: ".")
                let allowed =
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || isDot
                valid = allowed && !(isDot && previousWasDot)
                previousWasDot = isDot
            }
            if !valid { throw fail("host '\(host)' is not a valid DNS name") }
            let spelledAsGiven = host.utf8.elementsEqual(bytes[hostStart..<hostEnd])
            return Parts(
                scheme: scheme, host: host, port: port, address: nil, bracketed: false,
                rewrittenHostRange: spelledAsGiven ? nil : hostStart..<hostEnd)
        }
    }

    /// Where `needle` (ASCII) first occurs in `bytes`.
    private static func firstIndex(of needle: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count)
        where bytes[start] == pattern[0] && bytes[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start
        }
        return nil
    }

    private static func equalsIgnoringCase(_ bytes: Slice<UnsafeBufferPointer<UInt8>>, _ word: StaticString) -> Bool {
        let pattern = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        return bytes.count == pattern.count && zip(bytes, pattern).allSatisfy { $0 | 0x20 == $1 }
    }

    private static func lowercased(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        if !bytes.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(
            decoding: bytes.lazy.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 },
            as: UTF8.self)
    }

    /// Throws, naming `field`, when `text` is not a monitor URL.
    public static func validate(_ text: String, field: String) throws(MonitorValidationError) {
        _ = try MonitorURL(text, field: field)
    }
}
