import Testing

@testable import LookoutCore

@Suite("MonitorURL")
struct MonitorURLTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        var text: String
        var scheme: MonitorURL.Scheme
        var host: String
        var port: Int
        var isIPLiteral: Bool = false
        var isBracketed: Bool = false
        var testDescription: String { text }
    }

    @Test(
        "accepts absolute http and https URLs and extracts scheme, host and port",
        arguments: [
            Accepted(text: "http://example.com", scheme: .http, host: "example.com", port: 80),
            Accepted(text: "https://example.com/health", scheme: .https, host: "example.com", port: 443),
            Accepted(text: "HTTPS://Example.COM/Path", scheme: .https, host: "example.com", port: 443),
            Accepted(text: "http://example.com:8080/x?y=1#z", scheme: .http, host: "example.com", port: 8080),
            Accepted(text: "https://example.com:1", scheme: .https, host: "example.com", port: 1),
            Accepted(text: "https://example.com:65535/", scheme: .https, host: "example.com", port: 65535),
            Accepted(text: "http://example.com?q", scheme: .http, host: "example.com", port: 80),
            Accepted(text: "http://example.com#frag", scheme: .http, host: "example.com", port: 80),
            Accepted(
                text: "https://user:secret@api.example.com:8443/v1",
                scheme: .https,
                host: "api.example.com",
                port: 8443
            ),
            Accepted(text: "http://a@b@example.com/", scheme: .http, host: "example.com", port: 80),
            Accepted(text: "http://my_host-1.internal./", scheme: .http, host: "my_host-1.internal.", port: 80),
            Accepted(text: "http://localhost/", scheme: .http, host: "localhost", port: 80),
            Accepted(
                text: "http://93.184.216.34/",
                scheme: .http,
                host: "93.184.216.34",
                port: 80,
                isIPLiteral: true
            ),
            Accepted(
                text: "http://127.0.0.1:9000/",
                scheme: .http,
                host: "127.0.0.1",
                port: 9000,
                isIPLiteral: true
            ),
            Accepted(
                text: "http://[::1]/",
                scheme: .http,
                host: "::1",
                port: 80,
                isIPLiteral: true,
                isBracketed: true
            ),
            Accepted(
                text: "https://[2001:DB8::1]:8443/x",
                scheme: .https,
                host: "2001:db8::1",
                port: 8443,
                isIPLiteral: true,
                isBracketed: true
            ),
            Accepted(
                text: "http://[::ffff:127.0.0.1]",
                scheme: .http,
                host: "::ffff:127.0.0.1",
                port: 80,
                isIPLiteral: true,
                isBracketed: true
            ),
        ]
    )
    func accepts(expected: Accepted) throws {
        let url = try MonitorURL(expected.text)
        #expect(url.scheme == expected.scheme)
        #expect(url.host == expected.host)
        #expect(url.port == expected.port)
        #expect(url.hostIsIPLiteral == expected.isIPLiteral)
        #expect(url.hostIsBracketed == expected.isBracketed)
    }

    @Test(
        "refuses schemes other than http and https",
        arguments: [
            "ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "ws://example.com/", "httpx://a/",
        ]
    )
    func refusesOtherSchemes(text: String) {
        let error = validationError { try MonitorURL.validate(text, field: "url") }
        #expect(error?.field == "url")
        #expect(error?.reason.hasPrefix("scheme '") == true)
    }

    @Test(
        "refuses relative and scheme-less URLs",
        arguments: ["example.com", "/health", "//example.com/", "http:/example.com", "mailto:a@example.com", ""]
    )
    func refusesRelativeURLs(text: String) {
        #expect(validationError { try MonitorURL.validate(text, field: "url") } != nil)
    }

    @Test(
        "refuses ports outside 1...65535 or not a number",
        arguments: [
            "http://example.com:0/", "http://example.com:65536/", "http://example.com:99999999999999999999/",
            "http://example.com:/", "http://example.com:http/", "http://example.com:-1/", "http://[::1]:/",
            "http://[::1]:0/", "http://example.com:80:80/",
        ]
    )
    func refusesBadPorts(text: String) {
        #expect(validationError { try MonitorURL.validate(text, field: "url") }?.field == "url")
    }

    /// `Int(_:)` accepts a leading "+", which curl and RFC 3986 (port = *DIGIT) do not.
    @Test("refuses a port written with a sign", arguments: ["http://example.com:+80/", "http://[::1]:+8080/"])
    func refusesSignedPorts(text: String) {
        #expect(validationError { try MonitorURL.validate(text, field: "url") } != nil)
    }

    @Test(
        "refuses hosts that are not DNS names or bracketed IPv6 literals",
        arguments: [
            "http:///path", "http://user@/", "http://:80/", "http://exa mple.com/", "http://exa$mple.com/",
            "http://.example.com/", "http://a..b/", "http://ex%41mple.com/", "http://::1/", "http://[::1/",
            "http://[::1]x/", "http://[1.2.3.4]/", "http://[example.com]/", "http://[]/", "http://[fe80::1::2]/",
            "http://exämple.com/", "http://example.com\t/",
        ]
    )
    func refusesInvalidHosts(text: String) {
        #expect(validationError { try MonitorURL.validate(text, field: "url") }?.field == "url")
    }

    @Test("refuses a host longer than 253 characters")
    func refusesOverlongHost() {
        let label = String(repeating: "a", count: 50)
        let host = Array(repeating: label, count: 5).joined(separator: ".") + ".com"  // 258 characters
        #expect(validationError { try MonitorURL.validate("http://\(host)/", field: "url") } != nil)
        let fits = String(host.prefix(253))
        #expect(throws: Never.self) { try MonitorURL("http://\(fits)/") }
    }

    @Test("refuses URLs longer than 2048 characters")
    func refusesOverlongURL() {
        let prefix = "https://example.com/"
        let atLimit = prefix + String(repeating: "a", count: 2048 - prefix.utf8.count)
        #expect(throws: Never.self) { try MonitorURL(atLimit) }
        #expect(validationError { try MonitorURL.validate(atLimit + "a", field: "url") } != nil)
    }

    @Test("reports errors under the field name the caller gives")
    func reportsUnderTheCallersFieldName() {
        let error = validationError { try MonitorURL.validate("ftp://example.com/", field: "redirect") }
        #expect(
            error
                == MonitorValidationError(field: "redirect", reason: "scheme 'ftp' is not supported: use http or https")
        )
    }
}

/// IPv4 hosts in every form browsers and curl accept (WHATWG URL Standard, IPv4 parser): the
/// policy and the connection must see the same address the browser would.
@Suite("MonitorURL: numeric IPv4 hosts")
struct MonitorURLIPv4FormTests {
    struct Form: Sendable, CustomTestStringConvertible {
        var host: String
        /// The canonical dotted address, or nil when the host must be refused.
        var address: String?
        var testDescription: String { host }
    }

    @Test(
        "reads every IPv4 form once, to one canonical address",
        arguments: [
            Form(host: "127.0.0.1", address: "127.0.0.1"),
            Form(host: "0x7f000001", address: "127.0.0.1"),
            Form(host: "0X7F000001", address: "127.0.0.1"),
            Form(host: "2130706433", address: "127.0.0.1"),
            Form(host: "017700000001", address: "127.0.0.1"),
            Form(host: "0177.0.0.1", address: "127.0.0.1"),
            Form(host: "0x7f.0.0.1", address: "127.0.0.1"),
            Form(host: "0x7f.1", address: "127.0.0.1"),
            Form(host: "127.1", address: "127.0.0.1"),
            Form(host: "127.0.1", address: "127.0.0.1"),
            Form(host: "127.0.0.1.", address: "127.0.0.1"),
            Form(host: "0x7f.0.0x0.01", address: "127.0.0.1"),
            Form(host: "0177.0x00.0.0x1", address: "127.0.0.1"),
            Form(host: "10.0.0.010", address: "10.0.0.8"),
            Form(host: "192.168.0x100", address: "192.168.1.0"),
            Form(host: "169.254.43518", address: "169.254.169.254"),
            Form(host: "0xa9fea9fe", address: "169.254.169.254"),
            Form(host: "0", address: "0.0.0.0"),
            Form(host: "0x", address: "0.0.0.0"),
            Form(host: "00", address: "0.0.0.0"),
            Form(host: "4294967295", address: "255.255.255.255"),
            Form(host: "0xffffffff", address: "255.255.255.255"),
            Form(host: "1.2.3.4", address: "1.2.3.4"),
            Form(host: "4294967296", address: nil),
            Form(host: "0x100000000", address: nil),
            Form(host: "256.0.0.1", address: nil),
            Form(host: "1.2.3.256", address: nil),
            Form(host: "1.2.65536", address: nil),
            Form(host: "1.16777216", address: nil),
            Form(host: "1.2.3.4.5", address: nil),
            Form(host: "1..2.3", address: nil),
            Form(host: "09.0.0.1", address: nil),
            Form(host: "0x7g.0.0.1", address: nil),
            Form(host: "example.123", address: nil),
            Form(host: "0x1.0x2.0x3.0x4.0x5", address: nil),
            Form(host: "99999999999999999999999", address: nil),
        ]
    )
    func readsForm(form: Form) throws {
        let text = "http://\(form.host):8080/health?x=1"
        guard let expected = form.address else {
            let error = validationError { try MonitorURL.validate(text, field: "url") }
            #expect(error?.field == "url")
            #expect(error?.reason.contains("is not an IPv4 address") == true, "\(String(describing: error))")
            return
        }
        let url = try MonitorURL(text)
        #expect(url.host == expected)
        #expect(url.address == IPAddress(parsing: expected))
        #expect(url.hostIsIPLiteral)
        #expect(url.port == 8080)
        #expect(url.requestURL == "http://\(expected):8080/health?x=1")
    }

    @Test(
        "names that merely contain numbers stay names",
        arguments: ["1.2.3.example", "0x7f.example", "123abc", "1e3", "0x7g", "example.com."]
    )
    func namesStayNames(host: String) throws {
        let url = try MonitorURL("https://\(host)/")
        #expect(url.address == nil)
        #expect(!url.hostIsIPLiteral)
    }

    @Test("the policy judges the canonical address of every form")
    func policySeesTheAddress() throws {
        let policy = TargetPolicy()
        for host in ["0x7f000001", "2130706433", "0177.0.0.1", "127.1", "0xa9fea9fe", "10.1", "0300.0250.0.1"] {
            let url = try MonitorURL("http://\(host)/")
            let address = try #require(url.address, "\(host)")
            #expect(policy.refusal(for: address) != nil, "\(host) is \(address) and must be refused")
        }
        #expect(try MonitorURL("http://0x5db8d822/").address.flatMap(policy.refusal(for:)) == nil)
    }

    @Test("user information, path, query and fragment survive the rewrite of the host")
    func rewriteKeepsTheRest() throws {
        let url = try MonitorURL("https://user:pw@0x7f000001:8443/a/b?c=0x7f000001#d")
        #expect(url.requestURL == "https://user:pw@127.0.0.1:8443/a/b?c=0x7f000001#d")
        #expect(try MonitorURL("https://example.com/x").requestURL == "https://example.com/x")
    }
}

@Suite("URLHostIPv4: the quick reading agrees with the definition")
struct URLHostIPv4QuickReadingTests {
    @Test("hosts made of digits, dots, hex letters, x and other letters: parse equals parseInGeneral")
    func quickAgreesWithGeneral() {
        var random = SplitMix64(seed: 20_261_202)
        let alphabet = Array("0123456789....abcdefx-mz".utf8)
        var addresses = 0
        var names = 0
        for round in 0..<20_000 {
            let host: String
            if round % 4 == 0 {
                // The usual spelling, sometimes spoilt: four decimal parts, some out of range,
                // some with a leading zero (octal).
                let parts = (0..<4).map { _ in (random.next() % 6 == 0 ? "0" : "") + String(random.next() % 300) }
                host = parts.joined(separator: ".") + (random.next() % 8 == 0 ? "." : "")
            } else {
                let length = 1 + Int(random.next() % 16)
                host = String(
                    decoding: (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] },
                    as: UTF8.self)
            }
            let quick = URLHostIPv4.parse(host[...])
            #expect(quick == URLHostIPv4.parseInGeneral(host[...]), "\(host)")
            if case .address = quick { addresses += 1 }
            if case .notIPv4 = quick { names += 1 }
        }
        // Both quick cases and the general one were exercised.
        #expect(addresses > 1_000 && names > 1_000 && addresses + names < 20_000)
    }
}
