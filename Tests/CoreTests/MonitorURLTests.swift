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
