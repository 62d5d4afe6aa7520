/// Writes check results as JSON Lines into a reused byte buffer.
///
/// Hand-written because it runs once per check: Foundation's `JSONEncoder` costs about 3 µs per
/// record here, this about 0.5 µs (docs/PLATFORM.md, "hot path budget"). The field names are a contract
/// (README, "Results file"): `monitorId`, `checkedAt` (RFC 3339, ms, UTC), `status`, `httpStatus`,
/// `dnsMs`, `connectMs`, `tlsMs`, `ttfbMs`, `totalMs`, `lagMs`, `redirects`, `errorCode`,
/// `errorMessage`, `certExpiresAt` (RFC 3339 or null), `httpVersion` (`"1.1"`, `"2"` or null),
/// `tlsResumed` (true, false or null); then, only for the checks that have
/// them, `tlsIssuer`, `tlsProtocol`, `tlsCipher` (`tls` checks) and `dnsAnswers` (`dns` checks).
public struct ResultLineEncoder {
    /// The encoded lines so far (each ends with a newline).
    public private(set) var bytes: [UInt8] = []

    /// An encoder whose buffer starts with `capacity` bytes.
    public init(reservingCapacity capacity: Int = 64 * 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its capacity.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends `result` as one JSON line.
    public mutating func append(_ result: CheckResult) {
        appendASCII("{\"monitorId\":")
        appendJSONString(result.monitorId)
        appendASCII(",\"checkedAt\":\"")
        RFC3339.append(epochMilliseconds: result.checkedAtMs, to: &bytes)
        appendASCII("\",\"status\":\"")
        appendASCII(result.status.name)
        appendASCII("\",\"httpStatus\":")
        appendInteger(Int64(result.httpStatus))
        appendASCII(",\"dnsMs\":")
        appendMilliseconds(micros: Int64(result.dnsMicros))
        appendASCII(",\"connectMs\":")
        appendMilliseconds(micros: Int64(result.connectMicros))
        appendASCII(",\"tlsMs\":")
        appendMilliseconds(micros: Int64(result.tlsMicros))
        appendASCII(",\"ttfbMs\":")
        appendMilliseconds(micros: Int64(result.ttfbMicros))
        appendASCII(",\"totalMs\":")
        appendMilliseconds(micros: Int64(result.totalMicros))
        appendASCII(",\"lagMs\":")
        appendMilliseconds(micros: Int64(result.lagMicros))
        appendASCII(",\"redirects\":")
        appendInteger(Int64(result.redirects))
        appendASCII(",\"errorCode\":")
        if let code = result.errorCode {
            bytes.append(UInt8(ascii: "\""))
            appendASCII(code.rawValue)
            bytes.append(UInt8(ascii: "\""))
        } else {
            appendASCII("null")
        }
        appendASCII(",\"errorMessage\":")
        if let message = result.errorMessage { appendJSONString(message) } else { appendASCII("null") }
        appendASCII(",\"certExpiresAt\":")
        if let expiry = result.certExpiresAt {
            bytes.append(UInt8(ascii: "\""))
            RFC3339.append(epochMilliseconds: expiry * 1000, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        } else {
            appendASCII("null")
        }
        appendASCII(",\"httpVersion\":")
        switch result.httpVersion {
        case 0: appendASCII("null")
        case 10: appendASCII("\"1.0\"")
        case 11: appendASCII("\"1.1\"")
        case 20: appendASCII("\"2\"")
        case 30: appendASCII("\"3\"")
        default:
            bytes.append(UInt8(ascii: "\""))
            appendInteger(Int64(result.httpVersion / 10))
            bytes.append(UInt8(ascii: "."))
            appendInteger(Int64(result.httpVersion % 10))
            bytes.append(UInt8(ascii: "\""))
        }
        appendASCII(",\"tlsResumed\":")
        switch result.tlsResumed {
        case .some(true): appendASCII("true")
        case .some(false): appendASCII("false")
        case .none: appendASCII("null")
        }
        if let details = result.details { append(details) }
        appendASCII("}\n")
    }

    private mutating func append(_ details: CheckDetails) {
        for (name, value) in [
            ("tlsIssuer", details.tlsIssuer), ("tlsProtocol", details.tlsProtocol), ("tlsCipher", details.tlsCipher),
        ] {
            guard let value else { continue }
            appendASCII(",\"\(name)\":")
            appendJSONString(value)
        }
        if let answers = details.dnsAnswers {
            appendASCII(",\"dnsAnswers\":[")
            for (index, answer) in answers.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendJSONString(answer)
            }
            bytes.append(UInt8(ascii: "]"))
        }
    }

    @inline(__always)
    private mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    private mutating func appendASCII(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Milliseconds with three decimals (microsecond precision), e.g. `12.034`.
    private mutating func appendMilliseconds(micros: Int64) {
        var value = micros
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            value = -value
        }
        appendInteger(value / 1000)
        let fraction = Int(value % 1000)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8((fraction / 10) % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    private mutating func appendInteger(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendInteger(-value)
            return
        }
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                bytes.append(buffer[count])
            }
        }
    }

    private mutating func appendJSONString(_ string: String) {
        JSONString.appendQuoted(string, to: &bytes)
    }
}
