import Foundation
import LookoutCore
import NIOCore

/// Reads a `<prefix>:checks:live` message (a JSON array of results-file objects) without
/// building any JSON value: it finds each object, its members' byte ranges, and the two values
/// fan-out needs (`monitorId`, `checkedAt`). The objects' bytes are then copied as they are
/// into the `check:update` data, so every field of the results file reaches clients unchanged.
struct LiveResultsScanner {
    /// One result of the message.
    struct Result {
        /// `monitorId` as a database id (nil: not a positive decimal id, e.g. a standalone
        /// engine's file id).
        var monitorId: Int64?
        /// `checkedAt`, epoch milliseconds.
        var checkedAtMs: Int64?
        /// Every member but `monitorId`, as byte ranges of the payload (`"status":"UP"`).
        var members: [Range<Int>]
    }

    /// The results of `payload`, in order; nil when it is not a JSON array of objects.
    static func scan(_ payload: [UInt8]) -> [Result]? {
        var scanner = Cursor(bytes: payload)
        scanner.skipWhitespace()
        guard scanner.take(UInt8(ascii: "[")) else { return nil }
        var results: [Result] = []
        scanner.skipWhitespace()
        if scanner.take(UInt8(ascii: "]")) { return results }
        while true {
            scanner.skipWhitespace()
            guard let result = scanner.object() else { return nil }
            results.append(result)
            scanner.skipWhitespace()
            if scanner.take(UInt8(ascii: ",")) { continue }
            guard scanner.take(UInt8(ascii: "]")) else { return nil }
            return results
        }
    }

    /// The `check:update` data of one result: the results-file object with `monitorId` as a
    /// JSON integer and its `status` (the check's own outcome) renamed `checkStatus`, then
    /// `monitorName`, the monitor's confirmed `status` and, when the confirmed state changed with
    /// this check, `statusChange`. Every name appears once (a repeated `status` would leave the
    /// choice between the two values to each client's JSON parser).
    static func checkUpdate(
        _ result: Result, monitorId: Int64, payload: [UInt8], monitorName: String, status: MonitorState,
        change: (from: MonitorState, to: MonitorState)?
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(payload.count / 2 + 128)
        buffer.writeStaticString("{\"monitorId\":")
        buffer.writeString(String(monitorId))
        for member in result.members {
            buffer.writeInteger(UInt8(ascii: ","))
            if payload[member].starts(with: statusName) {
                buffer.writeStaticString("\"checkStatus\"")
                buffer.writeBytes(payload[(member.lowerBound + statusName.count)..<member.upperBound])
            } else {
                buffer.writeBytes(payload[member])
            }
        }
        buffer.writeStaticString(",\"monitorName\":")
        RealtimeJSON.appendQuoted(monitorName, to: &buffer)
        buffer.writeStaticString(",\"status\":\"")
        buffer.writeString(status.rawValue)
        buffer.writeInteger(UInt8(ascii: "\""))
        if let change {
            buffer.writeString(
                ",\"statusChange\":{\"from\":\"\(change.from.rawValue)\",\"to\":\"\(change.to.rawValue)\"}")
        }
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    /// The results file's `"status"` member name, quotes included (a member's range starts with it).
    private static let statusName = Array("\"status\"".utf8)

    private struct Cursor {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count,
                bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D
                    || bytes[index] == 0x09
            {
                index += 1
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// One object, with its members.
        mutating func object() -> Result? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var result = Result(monitorId: nil, checkedAtMs: nil, members: [])
            // An HTTP line has 15 members besides monitorId, a tls line 18.
            result.members.reserveCapacity(18)
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return result }
            while true {
                skipWhitespace()
                let memberStart = index
                guard let key = string() else { return nil }
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipWhitespace()
                let valueStart = index
                guard skipValue() else { return nil }
                let value = valueStart..<index
                if bytes[key].elementsEqual("monitorId".utf8) {
                    result.monitorId = Self.databaseId(bytes, value)
                } else {
                    if bytes[key].elementsEqual("checkedAt".utf8), value.count >= 2 {
                        result.checkedAtMs = RFC3339.parseEpochMilliseconds(
                            String(decoding: bytes[(value.lowerBound + 1)..<(value.upperBound - 1)], as: UTF8.self))
                    }
                    result.members.append(memberStart..<index)
                }
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return result
            }
        }

        /// A string's content range (without the quotes); the cursor moves past it. The closing
        /// quote is found with `memchr` (an error message can be kilobytes long): a quote ends
        /// the string unless an odd number of backslashes precedes it.
        mutating func string() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            let end = bytes.withUnsafeBufferPointer { buffer -> Int? in
                guard let base = buffer.baseAddress else { return nil }
                var position = start
                while position < buffer.count {
                    guard let found = memchr(base + position, 0x22, buffer.count - position) else { return nil }
                    let quote = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                    var backslashes = 0
                    while quote - backslashes - 1 >= start, buffer[quote - backslashes - 1] == 0x5C { backslashes += 1 }
                    if backslashes % 2 == 0 { return quote }
                    position = quote + 1
                }
                return nil
            }
            guard let end else {
                index = bytes.count
                return nil
            }
            index = end + 1
            return start..<end
        }

        /// Moves past one value of any kind.
        mutating func skipValue() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default: break
                    }
                    index += 1
                }
                return false
            default:
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "}"),
                    bytes[index] != UInt8(ascii: "]"), bytes[index] > 0x20
                {
                    index += 1
                }
                return index > start
            }
        }

        /// `"42"` or `42` as a positive id.
        static func databaseId(_ bytes: [UInt8], _ value: Range<Int>) -> Int64? {
            var digits = value
            if digits.count >= 2, bytes[digits.lowerBound] == UInt8(ascii: "\"") {
                digits = (digits.lowerBound + 1)..<(digits.upperBound - 1)
            }
            guard (1...18).contains(digits.count) else { return nil }
            var id: Int64 = 0
            for index in digits {
                let byte = bytes[index]
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                id = id * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return id > 0 ? id : nil
        }
    }
}
