import Foundation
import LookoutCore
import Testing

@testable import LookoutEngine

/// `--format table`: one readable line per check.
@Suite("Result table encoder")
struct ResultTableEncoderTests {
    private static func text(_ results: [CheckResult], colour: Bool = false) -> String {
        var encoder = ResultTableEncoder(colour: colour)
        for result in results { encoder.append(result) }
        return String(decoding: encoder.bytes, as: UTF8.self)
    }

    private static let at: Int64 = 1_767_312_123_456  // …:02:03.456 in any whole-hour time zone

    @Test("time, monitor, status, HTTP status, total ms and the error, one line per check")
    func columns() {
        let lines = Self.text([
            CheckResult(monitorId: "api", checkedAtMs: Self.at, status: .up, httpStatus: 200, totalMicros: 12_345),
            CheckResult(
                monitorId: "payments-service", checkedAtMs: Self.at, status: .down, httpStatus: 503,
                totalMicros: 40_060, errorCode: .statusMismatch, errorMessage: "HTTP 503, expected any 2xx"),
            CheckResult(
                monitorId: "dns", checkedAtMs: Self.at, status: .error, totalMicros: 3_000_000,
                errorCode: .dnsTimeout, errorMessage: "no DNS answer"),
        ]).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[3].isEmpty, "\(lines)")
        #expect(lines[0].hasSuffix(":03.456  api           UP      200      12.3 ms"), "\(lines[0])")
        #expect(
            lines[1].hasSuffix(
                ":03.456  payments-service  DOWN    503      40.1 ms  status_mismatch: HTTP 503, expected any 2xx"),
            "\(lines[1])")
        #expect(
            lines[2].hasSuffix(":03.456  dns               ERROR     -    3000.0 ms  dns_timeout: no DNS answer"),
            "\(lines[2])")
        #expect(lines[0].range(of: #"^\d\d:\d\d:03\.456"#, options: .regularExpression) != nil)
    }

    @Test("an UP dns or tls check says what it found")
    func findings() {
        let lines = Self.text([
            CheckResult(
                monitorId: "mx", checkedAtMs: Self.at, status: .up, totalMicros: 3_000,
                details: CheckDetails(dnsAnswers: ["10 mail.example.com", "20 b.example.com"])),
            CheckResult(
                monitorId: "cert", checkedAtMs: Self.at, status: .up, totalMicros: 9_000,
                certExpiresAt: 1_800_000_000,
                details: CheckDetails(tlsIssuer: "CN=R11,O=Let's Encrypt,C=US", tlsProtocol: "TLSv1.3", tlsCipher: "X")),
        ]).split(separator: "\n")
        #expect(lines[0].hasSuffix("UP        -       3.0 ms  10 mail.example.com, 20 b.example.com"), "\(lines[0])")
        #expect(lines[1].hasSuffix("9.0 ms  TLSv1.3, expires 2027-01-15, CN=R11,O=Let's Encrypt,C=US"), "\(lines[1])")
    }

    @Test("colour marks the status only, and only when asked")
    func colour() {
        let result = CheckResult(monitorId: "m", checkedAtMs: Self.at, status: .timeout, totalMicros: 1_000)
        #expect(Self.text([result], colour: true).contains("\u{1B}[33mTIMEOUT\u{1B}[0m"))
        #expect(!Self.text([result]).contains("\u{1B}"))
    }

    @Test("control characters in ids and messages cannot reach the terminal; long ids are cut")
    func hostileText() {
        let long = String(repeating: "x", count: 60)
        let text = Self.text([
            CheckResult(
                monitorId: "evil\u{1B}[2J", checkedAtMs: Self.at, status: .error, errorCode: .internalError,
                errorMessage: "line\nbreak\u{1B}]0;title\u{07}"),
            CheckResult(monitorId: long, checkedAtMs: Self.at, status: .up, httpStatus: 200),
        ])
        #expect(!text.contains("\u{1B}") && !text.contains("\u{07}"))
        #expect(text.split(separator: "\n").count == 2)
        #expect(text.contains(String(repeating: "x", count: 39) + "…"))
        #expect(!text.contains(long))
    }
}
