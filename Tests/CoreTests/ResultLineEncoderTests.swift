import Foundation
import Testing

@testable import LookoutCore

/// The one line `result` encodes to, as text.
private func encode(_ result: CheckResult) -> String {
    var encoder = ResultLineEncoder()
    encoder.append(result)
    return String(decoding: encoder.bytes, as: UTF8.self)
}

/// The line decoded by Foundation: the encoder's output must be plain, valid JSON.
private func decode(_ line: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [])
    return try #require(object as? [String: Any])
}

/// The raw JSON text of one numeric field, e.g. `12.034` for `"dnsMs":12.034`.
private func rawField(_ name: String, in line: String) -> String? {
    guard let range = line.range(of: "\"\(name)\":") else { return nil }
    return String(line[range.upperBound...].prefix { $0 != "," && $0 != "}" })
}

@Suite("ResultLineEncoder")
struct ResultLineEncoderTests {
    static let full = CheckResult(
        monitorId: "api-eu",
        checkedAtMs: 1_795_962_106_123,
        status: .down,
        httpStatus: 503,
        dnsMicros: 1_234,
        connectMicros: 12_034,
        tlsMicros: 5,
        ttfbMicros: 250_000,
        totalMicros: 1_000_000,
        lagMicros: -1_500,
        redirects: 2,
        errorCode: .statusMismatch,
        errorMessage: "HTTP 503, expected any 2xx",
        certExpiresAt: 1_893_456_000,
        httpVersion: 20,
        tlsResumed: true
    )

    @Test("writes every field, in the documented order, as one line")
    func writesTheDocumentedLine() {
        #expect(
            encode(Self.full)
                == #"{"monitorId":"api-eu","checkedAt":"2026-11-29T14:21:46.123Z","status":"DOWN","httpStatus":503,"#
                + #""dnsMs":1.234,"connectMs":12.034,"tlsMs":0.005,"ttfbMs":250.000,"totalMs":1000.000,"lagMs":-1.500,"#
                + #""redirects":2,"errorCode":"status_mismatch","errorMessage":"HTTP 503, expected any 2xx","#
                + #""certExpiresAt":"2030-01-01T00:00:00.000Z","httpVersion":"2","tlsResumed":true}"# + "\n"
        )
    }

    @Test("an UP result writes null for errorCode, errorMessage, certExpiresAt and tlsResumed")
    func upResultWritesNulls() throws {
        let line = encode(CheckResult(monitorId: "a", checkedAtMs: 0, status: .up, httpStatus: 200, httpVersion: 11))
        #expect(
            line.hasSuffix(
                #""errorCode":null,"errorMessage":null,"certExpiresAt":null,"httpVersion":"1.1","tlsResumed":null}"#
                    + "\n"))
        let object = try decode(line)
        #expect(object["errorCode"] is NSNull)
        #expect(object["errorMessage"] is NSNull)
        #expect(object["certExpiresAt"] is NSNull)
        #expect(object["status"] as? String == "UP")
        #expect(object["checkedAt"] as? String == "1970-01-01T00:00:00.000Z")
        #expect(object.count == 16)
    }

    @Test("httpVersion in the results file is httpVersionName, the spelling the database and the API use")
    func httpVersionSpelling() throws {
        let expected: [UInt8: String?] = [0: nil, 10: "1.0", 11: "1.1", 20: "2", 30: "3", 21: "2.1", 40: "4.0"]
        for (version, name) in expected {
            let result = CheckResult(monitorId: "a", checkedAtMs: 0, status: .up, httpVersion: version)
            #expect(result.httpVersionName == name, "\(version)")
            let written = try decode(encode(result))["httpVersion"]
            if let name {
                #expect(written as? String == name, "\(version)")
            } else {
                #expect(written is NSNull, "\(version)")
            }
        }
    }

    @Test("decodes with Foundation to the same values")
    func decodesToTheSameValues() throws {
        let object = try decode(encode(Self.full))
        #expect(object["monitorId"] as? String == "api-eu")
        #expect(object["status"] as? String == "DOWN")
        #expect((object["httpStatus"] as? NSNumber)?.intValue == 503)
        #expect((object["dnsMs"] as? NSNumber)?.doubleValue == 1.234)
        #expect((object["connectMs"] as? NSNumber)?.doubleValue == 12.034)
        #expect((object["lagMs"] as? NSNumber)?.doubleValue == -1.5)
        #expect((object["redirects"] as? NSNumber)?.intValue == 2)
        #expect(object["errorCode"] as? String == "status_mismatch")
        #expect(object["errorMessage"] as? String == "HTTP 503, expected any 2xx")
        #expect(object["certExpiresAt"] as? String == "2030-01-01T00:00:00.000Z")
    }

    @Test(
        "milliseconds have exactly three decimals (microsecond precision)",
        arguments: [
            (Int32(0), "0.000"), (1, "0.001"), (5, "0.005"), (10, "0.010"), (999, "0.999"), (1_000, "1.000"),
            (1_001, "1.001"), (12_034, "12.034"), (100_000, "100.000"), (123_456_789, "123456.789"),
            (Int32.max, "2147483.647"), (-1, "-0.001"), (-1_500, "-1.500"), (-2_000_000, "-2000.000"),
        ]
    )
    func millisecondsHaveThreeDecimals(micros: Int32, text: String) {
        let result = CheckResult(
            monitorId: "m",
            checkedAtMs: 0,
            status: .up,
            dnsMicros: micros,
            connectMicros: micros,
            tlsMicros: micros,
            ttfbMicros: micros,
            totalMicros: micros,
            lagMicros: micros
        )
        let line = encode(result)
        for field in ["dnsMs", "connectMs", "tlsMs", "ttfbMs", "totalMs", "lagMs"] {
            #expect(rawField(field, in: line) == text, "\(field)")
        }
    }

    @Test(
        "integers are written in full, including negatives and extremes",
        arguments: [
            (Int32(0), Int16(0)), (7, 9), (10, 10), (200, 20), (99_999, 32_767), (Int32.max, Int16.max),
            (-1, -1), (Int32.min, Int16.min),
        ]
    )
    func integersAreWrittenInFull(httpStatus: Int32, redirects: Int16) throws {
        let line = encode(
            CheckResult(monitorId: "m", checkedAtMs: 0, status: .error, httpStatus: httpStatus, redirects: redirects)
        )
        #expect(rawField("httpStatus", in: line) == String(httpStatus))
        #expect(rawField("redirects", in: line) == String(redirects))
        let object = try decode(line)
        #expect((object["httpStatus"] as? NSNumber)?.int64Value == Int64(httpStatus))
        #expect((object["redirects"] as? NSNumber)?.int64Value == Int64(redirects))
    }

    @Test(
        "escapes quotes, backslashes, newlines and control characters in monitorId and errorMessage",
        arguments: [
            #"say "hi""#, #"C:\path\to"#, "line1\nline2", "cr\rlf\n", "tab\there", "nul\u{0}byte", "bell\u{7}",
            "esc\u{1B}[31m", "unit\u{1F}sep", "del\u{7F}", "ünïcödé ✓ 日本 🚀", "\\\"\n\t", #"</script>"#, "",
        ]
    )
    func escapesStrings(text: String) throws {
        let result = CheckResult(
            monitorId: text,
            checkedAtMs: 0,
            status: .error,
            errorCode: .internalError,
            errorMessage: text
        )
        let line = encode(result)
        // One line: the only newline byte is the terminator, and no raw control byte is left.
        #expect(line.utf8.filter { $0 == 0x0A }.count == 1)
        #expect(line.last == "\n")
        #expect(!line.utf8.dropLast().contains { $0 < 0x20 })
        let object = try decode(line)
        #expect(object["monitorId"] as? String == text)
        #expect(object["errorMessage"] as? String == text)
    }

    @Test("uses the short escapes for \\n, \\r, \\t and \\u00XX for other control characters")
    func escapeSpelling() {
        let line = encode(CheckResult(monitorId: "a\"b\\c\nd\re\tf\u{1}g\u{1F}", checkedAtMs: 0, status: .up))
        #expect(line.hasPrefix(#"{"monitorId":"a\"b\\c\nd\re\tf\u0001g\u001f","#))
    }

    @Test("appends lines back to back and removeAll empties the buffer")
    func appendsLinesBackToBack() throws {
        var encoder = ResultLineEncoder(reservingCapacity: 16)
        encoder.append(CheckResult(monitorId: "a", checkedAtMs: 0, status: .up))
        encoder.append(
            CheckResult(monitorId: "b", checkedAtMs: 1, status: .timeout, errorCode: .timeout, errorMessage: "t")
        )
        let lines = String(decoding: encoder.bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(try decode(String(lines[0]))["monitorId"] as? String == "a")
        #expect(try decode(String(lines[1]))["status"] as? String == "TIMEOUT")
        encoder.removeAll()
        #expect(encoder.bytes.isEmpty)
        encoder.append(CheckResult(monitorId: "c", checkedAtMs: 0, status: .up))
        #expect(encoder.bytes.first == UInt8(ascii: "{"))
        #expect(encoder.bytes.filter { $0 == 0x0A }.count == 1)
    }

    @Test("writes every status by its wire name", arguments: CheckStatus.allCases)
    func writesStatusNames(status: CheckStatus) throws {
        let object = try decode(encode(CheckResult(monitorId: "m", checkedAtMs: 0, status: status)))
        #expect(object["status"] as? String == status.name)
    }
}

@Suite("RFC3339 timestamps")
struct RFC3339Tests {
    @Test(
        "formats epoch milliseconds as UTC with milliseconds",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (999, "1970-01-01T00:00:00.999Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (86_400_000, "1970-01-02T00:00:00.000Z"),
            (946_684_799_999, "1999-12-31T23:59:59.999Z"),
            (946_684_800_000, "2000-01-01T00:00:00.000Z"),
            (951_825_600_000, "2000-02-29T12:00:00.000Z"),  // 2000 is a leap year (divisible by 400)
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
            (1_795_962_106_123, "2026-11-29T14:21:46.123Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),  // 2100 is not (divisible by 100)
            (4_107_456_000_000, "2100-02-28T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (-999, "1969-12-31T23:59:59.001Z"),
            (-1_000, "1969-12-31T23:59:59.000Z"),
            (-1_001, "1969-12-31T23:59:58.999Z"),
            (-86_400_000, "1969-12-31T00:00:00.000Z"),
            (-86_400_001, "1969-12-30T23:59:59.999Z"),
            (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        ]
    )
    func formats(epochMilliseconds: Int64, expected: String) {
        #expect(RFC3339.string(epochMilliseconds: epochMilliseconds) == expected)
    }

    @Test("agrees with Foundation's Gregorian calendar on random instants from 1900 to 2200")
    func agreesWithFoundation() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var random = SeededGenerator(seed: 3339)
        for _ in 0..<2_000 {
            let millis = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &random)
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000  // floor
            let c = calendar.dateComponents(
                [.year, .month, .day, .hour, .minute, .second],
                from: Date(timeIntervalSince1970: TimeInterval(seconds))
            )
            func pad(_ value: Int?, _ width: Int) -> String {
                let digits = String(value ?? -1)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            let expected =
                "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):"
                + "\(pad(c.second, 2)).\(pad(Int(millis - seconds * 1000), 3))Z"
            #expect(RFC3339.string(epochMilliseconds: millis) == expected, "\(millis)")
        }
    }

    @Test("append writes the same bytes after existing content")
    func appendAfterExistingContent() {
        var bytes = Array("at ".utf8)
        RFC3339.append(epochMilliseconds: 1_709_164_800_000, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "at 2024-02-29T00:00:00.000Z")
    }
}
