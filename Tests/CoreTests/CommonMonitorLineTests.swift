import Foundation
import Testing

@testable import LookoutCore

/// `CommonMonitorLine` reads the usual line of a large monitors file without a dictionary; the
/// general path (`StrictJSONReader` + `FieldReader`) stays the definition of what a line means.
@Suite("The common monitors-file line, read straight from its bytes")
struct CommonMonitorLineTests {
    private func common(_ line: String) -> ValidatedMonitor? {
        Array(line.utf8).withUnsafeBytes { CommonMonitorLine.decode($0) }
    }

    private func general(_ line: String) -> ValidatedMonitor? {
        switch Array(line.utf8).withUnsafeBytes({ MonitorFile.parseInGeneral(line: $0) }) {
        case .success(let validated): return validated
        case .failure: return nil
        }
    }

    @Test("the lines of a generated or exported file are read the common way, into the general path's monitor")
    func usualLinesTakeTheCommonWay() throws {
        let lines = [
            #"{"id":"m1","url":"http://127.0.0.1:8080/health","intervalSeconds":30}"#,
            #"{"id": "m2", "url": "https://example.com/", "intervalSeconds": 0.5, "timeoutMs": 3000}"#,
            #"  {"url":"http://example.com/a?b=c","id":"m3"}  "#,
            #"{"id":"m4","url":"http://example.com/","type":"http","method":"HEAD","keyword":"ok","#
                + #""followRedirects":false,"verifyTLS":false,"connectTimeoutMs":500,"timeoutMs":2000}"#,
            "{\"id\":\"m5\",\t\"url\":\"http://example.com/\"}\r",
        ]
        for line in lines {
            let fast = try #require(common(line), "read the common way: \(line)")
            let slow = try #require(general(line), "valid by the general path: \(line)")
            #expect(fast.monitor == slow.monitor, "\(line)")
            #expect(fast.target == slow.target, "\(line)")
        }
        #expect(common(lines[1])?.monitor.intervalSeconds == 0.5)
        #expect(common(lines[3])?.monitor.followRedirects == false)
    }

    @Test("lines of any other shape are left to the general path, which words the refusal")
    func otherShapesAreLeftToTheGeneralPath() {
        let lines = [
            #"{"id":"a","url":"http://example.com/","headers":{"X":"y"}}"#,  // a field it does not read
            #"{"id":"a\u0041","url":"http://example.com/"}"#,  // an escape
            #"{"id":"é","url":"http://example.com/"}"#,  // not ASCII
            #"{"id":"a","url":"http://example.com/","keyword":null}"#,
            #"{"id":"a","url":"http://example.com/","intervalSeconds":3e1}"#,
            #"{"id":"a","url":"http://example.com/","timeoutMs":3000.0}"#,  // valid, but not the common way
            #"{"id":"a","url":"http://example.com/","timeoutMs":1234567890123456}"#,
            #"{"id":"a","id":"b","url":"http://example.com/"}"#,
            #"{"id":"a","url":"http://example.com/",}"#,
            #"{"id":"a","url":"http://example.com/"} x"#,
            #"{"id":"a","url":"http://example.com/","type":"tcp"}"#,
            #"{"id":"a","url":"http://example.com/","method":"get"}"#,
            #"{"id":"a","url":"http://example.com/","intervalSeconds":"30"}"#,
            #"{"id":"a","url":"ftp://example.com/"}"#,
            #"{"id":"a"}"#,
            "{}",
            "[]",
        ]
        for line in lines { #expect(common(line) == nil, "left to the general path: \(line)") }
        // The ones the general path accepts are still monitors, read its way.
        #expect(general(lines[0]) != nil)
        #expect(general(lines[5])?.monitor.timeoutMs == 3000)
    }

    @Test("on 4,000 generated lines it accepts only what the general path accepts, and reads it the same")
    func agreesWithTheGeneralPathLineByLine() {
        // Seeded: a failure names a line that comes back on the next run.
        var random = SplitMix64(seed: 0x5EED)
        let values: [(key: String, choices: [String])] = [
            ("id", [#""m-1""#, #""a""#, #""""#, #""x y""#, #""é""#, #""q\"q""#, "7"]),
            (
                "url",
                [
                    #""http://127.0.0.1:8080/x""#, #""https://example.com/""#, #""http://0x7f000001/""#,
                    #""ftp://example.com/""#, #""http://""#, #""not a url""#, #""HTTP://Example.COM:80/a""#, "true",
                ]
            ),
            (
                "intervalSeconds",
                ["30", "0.5", "0", "-1", "1e3", #""30""#, "true", "86400", "100000000", "0.0001", "10.25"]
            ),
            ("timeoutMs", ["3000", "3000.0", "0", "-5", "999999999", #""3000""#, "1", "60000", "00"]),
            ("connectTimeoutMs", ["100", "5000", "0", "-1", "2.5"]),
            ("method", [#""GET""#, #""get""#, #""HEAD""#, #""BREW""#, #""POST""#, "null"]),
            ("keyword", [#""ok""#, #""""#, "1"]),
            ("followRedirects", ["true", "false", "1", "null"]),
            ("verifyTLS", ["true", "false", #""no""#]),
            ("type", [#""http""#, #""tcp""#, #""HTTP""#]),
            ("expectedStatus", ["200"]),
        ]
        let blanks = ["", " ", "\t", "  "]
        var accepted = 0
        for _ in 0..<4_000 {
            var pairs: [String] = []
            for field in values where random.next() % 3 == 0 || field.key == "id" || field.key == "url" {
                if field.key == "expectedStatus" && random.next() % 4 != 0 { continue }
                // The first choice is valid: half the time, so that many whole lines are.
                let pick = random.next() % 2 == 0 ? 0 : Int(random.next() % UInt64(field.choices.count))
                let value = field.choices[pick]
                let blank = blanks[Int(random.next() % UInt64(blanks.count))]
                pairs.append("\"\(field.key)\"\(blank):\(blank)\(value)")
            }
            if random.next() % 20 == 0, let first = pairs.first { pairs.append(first) }  // a repeated key
            pairs.shuffle(using: &random)
            var line = "{" + pairs.joined(separator: blanks[Int(random.next() % 4)] + ",") + "}"
            if random.next() % 25 == 0 { line = line.replacingOccurrences(of: "}", with: ",}") }
            guard let fast = common(line) else { continue }
            accepted += 1
            guard let slow = general(line) else {
                Issue.record("read the common way, refused by the general path: \(line)")
                continue
            }
            #expect(fast.monitor == slow.monitor, "\(line)")
            #expect(fast.target == slow.target, "\(line)")
        }
        // Enough of the generated lines are valid and common for the comparison to mean something.
        #expect(accepted > 500, "lines read the common way: \(accepted)")
    }
}
