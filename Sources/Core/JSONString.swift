/// JSON string literals (RFC 8259) written by hand, for the messages Lookout builds without an
/// encoder (results lines, Redis messages, live updates, notifications, the bench's output):
/// `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or `\u00XX`, U+2028 and U+2029 as
/// `\u2028`/`\u2029` (so the text can also sit in a script), everything else copied as UTF-8.
/// Runs of plain bytes are copied at once.
///
/// (The control plane's `JSONOutput` keeps its own writer: it must match `JSONEncoder` byte for
/// byte, which also escapes `/`.)
public enum JSONString {
    /// Appends `text` as a JSON string literal, quotes included.
    public static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                let length: Int
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                    length = 1
                } else if byte == 0xE2, index + 2 < utf8.count, utf8[index + 1] == 0x80, utf8[index + 2] & 0xFE == 0xA8
                {
                    length = 3
                } else {
                    index += 1
                    continue
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                appendEscape(of: byte, lineSeparator: length == 3 ? utf8[index + 2] : 0, to: &bytes)
                index += length
                runStart = index
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes `text` as a JSON string literal, quotes included, at `target`, which has room for
    /// `2 + 6 * text.utf8.count` bytes (the worst case: every byte a `\u00XX`); returns the
    /// number of bytes written. The same output as `appendQuoted`, for writers that fill a
    /// buffer through a pointer (the results file, once per check).
    public static func writeQuoted(_ text: String, to target: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        target[count] = UInt8(ascii: "\"")
        count += 1
        var text = text
        text.withUTF8 { utf8 in
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                    count += writeEscape(of: byte, lineSeparator: 0, to: target + count)
                    index += 1
                } else if byte == 0xE2, index + 2 < utf8.count, utf8[index + 1] == 0x80, utf8[index + 2] & 0xFE == 0xA8
                {
                    count += writeEscape(of: byte, lineSeparator: utf8[index + 2], to: target + count)
                    index += 3
                } else {
                    target[count] = byte
                    count += 1
                    index += 1
                }
            }
        }
        target[count] = UInt8(ascii: "\"")
        return count + 1
    }

    /// The escape `appendEscape` appends, written at `target`; returns its length (2 or 6).
    private static func writeEscape(of byte: UInt8, lineSeparator: UInt8, to target: UnsafeMutablePointer<UInt8>) -> Int
    {
        var escape: [UInt8] = []
        appendEscape(of: byte, lineSeparator: lineSeparator, to: &escape)
        for (offset, character) in escape.enumerated() { target[offset] = character }
        return escape.count
    }

    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func appendEscape(of byte: UInt8, lineSeparator: UInt8, to bytes: inout [UInt8]) {
        let hexDigits: StaticString = "0123456789abcdef"
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0xE2:
            // U+2028 (…A8) or U+2029 (…A9).
            bytes.append(contentsOf: Array("\\u202".utf8))
            bytes.append(lineSeparator == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
        default:
            bytes.append(contentsOf: Array("\\u00".utf8))
            hexDigits.withUTF8Buffer { table in
                bytes.append(table[Int(byte >> 4)])
                bytes.append(table[Int(byte & 0x0F)])
            }
        }
    }
}
