import Foundation
import Testing

@testable import LookoutCore

@Suite("JSON string literals written by hand")
struct JSONStringTests {
    @Test(
        "quotes, backslashes, control characters and the line separators are escaped; the rest is copied",
        arguments: [
            ("plain", #""plain""#),
            ("", #""""#),
            ("a\"b\\c", #""a\"b\\c""#),
            ("line\nfeed\r\ttab", #""line\nfeed\r\ttab""#),
            ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
            ("é ✓ 😀 /", "\"é ✓ 😀 /\""),
            ("a\u{2028}b\u{2029}c\u{2027}", #""a\u2028b\u2029c"# + "\u{2027}\""),
        ])
    func escapes(text: String, expected: String) {
        #expect(JSONString.quoted(text) == expected)
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        JSONString.appendQuoted(text, to: &bytes)
        #expect(bytes == Array(("[" + expected).utf8))
    }

    @Test("any text reads back as itself through JSONSerialization")
    func roundTrip() throws {
        var generator = SplitMix64(seed: 11)
        let alphabet: [Unicode.Scalar] = [
            "a", "\"", "\\", "\n", "\u{0}", "\u{7F}", "é", "\u{2028}", "\u{2029}", "😀", "\u{E2}",
        ]
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<Int.random(in: 0...20, using: &generator) {
                text.unicodeScalars.append(alphabet.randomElement(using: &generator)!)
            }
            let json = "[" + JSONString.quoted(text) + "]"
            let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
            #expect(decoded == [text], "\(json)")
        }
    }
}
