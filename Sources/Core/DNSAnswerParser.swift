/// Reads the answer section of a DNS response (RFC 1035 §4) into the text `dig +short` shows,
/// for the record types a `dns` monitor asks for. Pure Swift over the bytes c-ares hands back,
/// so it is tested without a network and one parser serves every record type (c-ares 1.18 has
/// no parser for CNAME answers and a different result shape for each of the others).
public enum DNSAnswerParser {
    /// Why a response could not be read.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was wrong, for the check's error message.
        public var description: String
    }

    /// The answers of type `type` in `response`, in the server's order: `192.0.2.1`, `2001:db8::1`,
    /// `target.example.com` (names without the final dot), `10 mail.example.com` (MX),
    /// `v=spf1 -all` (TXT: its strings joined), `ns.example.com hostmaster.example.com 2024010101
    /// 7200 3600 1209600 300` (SOA). Records of other types (the CNAME chain of an A query) are
    /// skipped.
    public static func answers(of type: DNSRecordType, in response: [UInt8]) throws(Malformed) -> [String] {
        var reader = Reader(bytes: response)
        let questions = try reader.uint16(at: 4)
        let answerCount = try reader.uint16(at: 6)
        reader.offset = 12
        for _ in 0..<questions {
            _ = try reader.name()
            reader.offset += 4
        }
        var answers: [String] = []
        for _ in 0..<answerCount {
            _ = try reader.name()
            let recordType = try reader.uint16(at: reader.offset)
            let length = Int(try reader.uint16(at: reader.offset + 8))
            let start = reader.offset + 10
            let end = start + length
            guard end <= response.count else { throw Malformed(description: "record data runs past the response") }
            reader.offset = start
            if recordType == type.code {
                answers.append(try render(type, reader: &reader, end: end))
            }
            reader.offset = end
        }
        return answers
    }

    private static func render(_ type: DNSRecordType, reader: inout Reader, end: Int) throws(Malformed) -> String {
        let start = reader.offset
        switch type {
        case .A:
            guard end - start == 4, let address = IPAddress(bytes: Array(reader.bytes[start..<end])) else {
                throw Malformed(description: "an A record is not 4 bytes")
            }
            return address.description
        case .AAAA:
            guard end - start == 16, let address = IPAddress(bytes: Array(reader.bytes[start..<end])) else {
                throw Malformed(description: "an AAAA record is not 16 bytes")
            }
            return address.description
        case .CNAME, .NS:
            return try reader.name()
        case .MX:
            let preference = try reader.uint16(at: start)
            reader.offset = start + 2
            return "\(preference) \(try reader.name())"
        case .TXT:
            var text: [UInt8] = []
            var position = start
            while position < end {
                let length = Int(reader.bytes[position])
                guard position + 1 + length <= end else {
                    throw Malformed(description: "a TXT string runs past its record")
                }
                text.append(contentsOf: reader.bytes[(position + 1)..<(position + 1 + length)])
                position += 1 + length
            }
            return String(decoding: text, as: UTF8.self)
        case .SOA:
            let primary = try reader.name()
            let mailbox = try reader.name()
            var numbers: [String] = []
            for index in 0..<5 {
                let at = reader.offset + index * 4
                let value = UInt32(try reader.uint16(at: at)) << 16 | UInt32(try reader.uint16(at: at + 2))
                numbers.append(String(value))
            }
            return ([primary, mailbox] + numbers).joined(separator: " ")
        }
    }

    /// A cursor over the response; names follow compression pointers (bounded, so a pointer loop
    /// in a hostile answer ends as `Malformed`).
    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        func uint16(at position: Int) throws(Malformed) -> UInt16 {
            guard position >= 0, position + 1 < bytes.count else {
                throw Malformed(description: "the response is cut short")
            }
            return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        }

        /// Reads the name at `offset` and moves past it (past the first pointer, if any).
        mutating func name() throws(Malformed) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { throw Malformed(description: "a name runs past the response") }
                let length = Int(bytes[position])
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                if length & 0xC0 == 0xC0 {
                    let target = Int(try uint16(at: position) & 0x3FFF)
                    if !jumped { offset = position + 2 }
                    jumped = true
                    jumps += 1
                    guard jumps <= 64, target < bytes.count else {
                        throw Malformed(description: "a name's compression pointers loop")
                    }
                    position = target
                    continue
                }
                guard position + 1 + length <= bytes.count else {
                    throw Malformed(description: "a label runs past the response")
                }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
            return labels.joined(separator: ".")
        }
    }
}
