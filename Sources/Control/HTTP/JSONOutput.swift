import Foundation
import Hummingbird
import LookoutCore
import NIOCore

/// A JSON writer into a byte buffer, for the responses that dominate the API's load (the monitor
/// list: a page of 50 monitors of 31 fields each). Foundation's `JSONEncoder` spent a third of
/// the control plane's CPU on that list (it builds a tree, then sorts every object's keys);
/// writing the bytes directly, keys already in order, costs a small fraction of it
/// (`lookout-bench control`, README "Measured").
///
/// The output is the same JSON the encoder wrote: keys in the same (sorted) order, absent values
/// as `null`, dates as RFC 3339 UTC with milliseconds. `JSONOutputTests` compares the two.
struct JSONOutput {
    private(set) var bytes: [UInt8] = []
    /// Per open object or array: whether it has a member already (a comma goes before the next).
    private var needsComma: [Bool] = []
    /// A key was just written: the next value is its value, with no comma before it.
    private var afterKey = false

    init(reservingCapacity capacity: Int = 4_096) {
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        beginValue()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    mutating func beginArray() {
        beginValue()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma.removeLast()
    }

    /// The key of the next member of the current object (a value call follows).
    mutating func key(_ name: StaticString) {
        beginMember()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// A key known only at run time (header names), escaped like a string.
    mutating func key(_ name: String) {
        beginMember()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func beginMember() {
        if needsComma.last == true { bytes.append(UInt8(ascii: ",")) }
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
        afterKey = true
    }

    /// Before a value: the comma it needs in an array, none after a key.
    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        if needsComma.last == true { bytes.append(UInt8(ascii: ",")) }
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
    }

    mutating func string(_ value: String) {
        beginValue()
        appendQuoted(value)
    }

    mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func integer(_ value: Int64) {
        beginValue()
        appendDigits(value)
    }

    mutating func integer(_ value: Int) { integer(Int64(value)) }

    /// A number as JSONEncoder writes it: whole values without a fraction, others in Swift's
    /// shortest round-trip form.
    mutating func number(_ value: Double) {
        beginValue()
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            appendDigits(Int64(value))
        } else if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    mutating func bool(_ value: Bool) {
        beginValue()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// `true`, `false` or `null`.
    mutating func bool(_ value: Bool?) {
        if let value { bool(value) } else { null() }
    }

    mutating func null() {
        beginValue()
        bytes.append(contentsOf: "null".utf8)
    }

    mutating func date(_ value: Date) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        RFC3339.append(epochMilliseconds: Int64((value.timeIntervalSince1970 * 1000).rounded(.down)), to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func date(_ value: Date?) {
        if let value { date(value) } else { null() }
    }

    private mutating func appendDigits(_ value: Int64) {
        if value == Int64.min {
            bytes.append(contentsOf: String(value).utf8)
            return
        }
        var magnitude = value < 0 ? -value : value
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t` ... or `\u00XX`,
    /// `/` left alone (as the API's encoder writes it).
    private mutating func appendQuoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = value
        text.withUTF8 { utf8 in
            // Runs of bytes that need no escape are copied at once.
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                appendEscaped(byte)
                runStart = index + 1
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0x0F)])
        }
    }

    /// A 200 `application/json` response with these bytes.
    func response(status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Types written by `JSONOutput` rather than `JSONEncoder`.
protocol JSONOutputWritable {
    func write(to output: inout JSONOutput)
}

extension MonitorResource: JSONOutputWritable {
    /// The same members as `encode(to:)`, in sorted key order.
    func write(to output: inout JSONOutput) {
        output.beginObject()
        let kind = monitor.kind
        // Fields another kind does not have are null, as in `encode(to:)`.
        let http = kind == .http
        output.key("acceptEncoding")
        if http { output.bool(monitor.acceptEncoding) } else { output.null() }
        output.key("body")
        if http {
            output.string(monitor.body)
        } else {
            output.null()
        }
        output.key("certMinDaysLeft")
        if kind == .tls { output.integer(monitor.certMinDaysLeft) } else { output.null() }
        output.key("connectTimeoutMs")
        output.integer(monitor.connectTimeoutMs)
        output.key("createdAt")
        output.date(createdAt)
        output.key("dnsName")
        output.string(monitor.dnsName)
        output.key("expect")
        output.string(monitor.expect)
        output.key("expectedStatus")
        if http {
            output.beginArray()
            for status in monitor.expectedStatus { output.integer(status) }
            output.endArray()
        } else {
            output.null()
        }
        output.key("expectedValues")
        if kind == .dns {
            output.beginArray()
            for value in monitor.expectedValues { output.string(value) }
            output.endArray()
        } else {
            output.null()
        }
        output.key("externalId")
        output.string(externalId)
        output.key("failureThreshold")
        output.integer(failureThreshold)
        output.key("flapping")
        output.bool(flapping)
        output.key("followRedirects")
        if http {
            output.bool(monitor.followRedirects)
        } else {
            output.null()
        }
        output.key("headers")
        if http {
            output.beginObject()
            for name in monitor.headers.keys.sorted() {
                output.key(name)
                output.string(monitor.headers[name] ?? "")
            }
            output.endObject()
        } else {
            output.null()
        }
        output.key("host")
        output.string(monitor.host)
        output.key("httpVersion")
        if http { output.string(monitor.httpVersion.rawValue) } else { output.null() }
        output.key("id")
        output.integer(id)
        output.key("intervalSeconds")
        output.number(monitor.intervalSeconds)
        output.key("jsonEquals")
        if http {
            output.string(monitor.jsonEquals)
        } else {
            output.null()
        }
        output.key("jsonPath")
        if http {
            output.string(monitor.jsonPath)
        } else {
            output.null()
        }
        output.key("keyword")
        if http {
            output.string(monitor.keyword)
        } else {
            output.null()
        }
        output.key("keywordAbsent")
        if http {
            output.string(monitor.keywordAbsent)
        } else {
            output.null()
        }
        output.key("lastCheck")
        if let lastCheck { lastCheck.write(to: &output) } else { output.null() }
        output.key("lowSpeedBytesPerSecond")
        if http {
            output.integer(monitor.lowSpeedBytesPerSecond)
        } else {
            output.null()
        }
        output.key("lowSpeedSeconds")
        if http {
            output.integer(monitor.lowSpeedSeconds)
        } else {
            output.null()
        }
        output.key("maxBodyBytes")
        if http {
            output.integer(monitor.maxBodyBytes)
        } else {
            output.null()
        }
        output.key("maxRedirects")
        if http {
            output.integer(monitor.maxRedirects)
        } else {
            output.null()
        }
        output.key("method")
        if http {
            output.string(monitor.method)
        } else {
            output.null()
        }
        output.key("name")
        output.string(name)
        output.key("notificationChannelIds")
        output.beginArray()
        for channel in notificationChannelIds { output.integer(channel) }
        output.endArray()
        output.key("paused")
        output.bool(paused)
        output.key("port")
        if let port = monitor.port { output.integer(port) } else { output.null() }
        output.key("recordType")
        output.string(kind == .dns ? monitor.recordType.rawValue : nil)
        output.key("recoveryThreshold")
        output.integer(recoveryThreshold)
        output.key("reuseConnection")
        if http {
            output.bool(monitor.reuseConnection)
        } else {
            output.null()
        }
        output.key("send")
        output.string(monitor.send)
        output.key("server")
        output.string(monitor.dnsServer)
        output.key("status")
        output.string(status)
        output.key("timeoutMs")
        output.integer(monitor.timeoutMs)
        output.key("tlsFullHandshakeSeconds")
        if http { output.integer(monitor.tlsFullHandshakeSeconds) } else { output.null() }
        output.key("tlsSessionReuse")
        if http { output.bool(monitor.tlsSessionReuse) } else { output.null() }
        output.key("type")
        output.string(kind.rawValue)
        output.key("updatedAt")
        output.date(updatedAt)
        output.key("url")
        output.string(monitor.url)
        output.key("verifyTLS")
        if http || kind == .tls {
            output.bool(monitor.verifyTLS)
        } else {
            output.null()
        }
        output.endObject()
    }
}

extension CheckRecord: JSONOutputWritable {
    /// The same members as `encode(to:)`, in sorted key order.
    func write(to output: inout JSONOutput) {
        output.beginObject()
        output.key("certExpiresAt")
        output.date(certExpiresAt)
        output.key("checkId")
        output.string(checkId)
        output.key("checkedAt")
        output.date(checkedAt)
        output.key("connectMs")
        output.number(connectMs)
        output.key("dnsAnswers")
        if let dnsAnswers {
            output.beginArray()
            for answer in dnsAnswers { output.string(answer) }
            output.endArray()
        } else {
            output.null()
        }
        output.key("dnsMs")
        output.number(dnsMs)
        output.key("engineId")
        output.string(engineId)
        output.key("errorCode")
        output.string(errorCode)
        output.key("errorMessage")
        output.string(errorMessage)
        output.key("httpStatus")
        output.integer(httpStatus)
        output.key("httpVersion")
        output.string(httpVersion)
        output.key("lagMs")
        output.number(lagMs)
        output.key("monitorId")
        output.integer(monitorId)
        output.key("redirects")
        output.integer(redirects)
        output.key("status")
        output.string(status)
        output.key("tlsCipher")
        output.string(tlsCipher)
        output.key("tlsIssuer")
        output.string(tlsIssuer)
        output.key("tlsMs")
        output.number(tlsMs)
        output.key("tlsProtocol")
        output.string(tlsProtocol)
        output.key("tlsResumed")
        output.bool(tlsResumed)
        output.key("totalMs")
        output.number(totalMs)
        output.key("ttfbMs")
        output.number(ttfbMs)
        output.endObject()
    }
}

/// A page written by `JSONOutput`: `{"data": [...], "nextCursor": ...}`.
struct WrittenPage<Item: JSONOutputWritable & Sendable>: ResponseGenerator, Sendable {
    var data: [Item]
    var nextCursor: String?

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var output = JSONOutput(reservingCapacity: 1_024 + data.count * 1_024)
        output.beginObject()
        output.key("data")
        output.beginArray()
        for item in data { item.write(to: &output) }
        output.endArray()
        output.key("nextCursor")
        output.string(nextCursor)
        output.endObject()
        return output.response()
    }
}

/// One resource written by `JSONOutput`.
struct WrittenResource<Item: JSONOutputWritable & Sendable>: ResponseGenerator, Sendable {
    var item: Item
    var status: HTTPResponse.Status = .ok

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var output = JSONOutput()
        item.write(to: &output)
        return output.response(status: status)
    }
}
