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

    /// Appends each of `results` as one JSON line.
    ///
    /// Each result is read where it lies, through a pointer into the batch: passed by value (to
    /// any function, inlined or not) each was copied whole first, retaining and releasing its
    /// strings — about 250 instructions a check.
    public mutating func append(contentsOf results: [CheckResult]) {
        results.withUnsafeBufferPointer { results in
            guard let first = results.baseAddress else { return }
            for index in results.indices { appendLine(of: first + index) }
        }
    }

    /// Appends `result` as one JSON line.
    public mutating func append(_ result: CheckResult) {
        withUnsafePointer(to: result) { appendLine(of: $0) }
    }

    /// The line is written through a pointer into a scratch buffer sized for the worst case, then
    /// appended in one copy: byte-wise `Array.append` paid a uniqueness and capacity check per
    /// byte, about 7k instructions per check (docs/BENCHMARKS.md, "Instructions per check").
    private mutating func appendLine(of result: UnsafePointer<CheckResult>) {
        let capacity = Self.maximumLineLength(result)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
            var line = LineWriter(start: scratch.baseAddress!)
            line.write(result)
            precondition(line.count <= capacity, "results line longer than its bound")
            bytes.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress!, count: line.count))
        }
    }

    /// An upper bound of the encoded length of `result`: the fixed text and numbers fit in 512
    /// bytes; an escaped string byte takes at most 6 (`\u00XX`).
    static func maximumLineLength(_ result: UnsafePointer<CheckResult>) -> Int {
        var length =
            512 + 6 * result.pointee.monitorId.utf8.count + 6 * (result.pointee.errorMessage?.utf8.count ?? 0)
            + (result.pointee.errorCode?.rawValue.utf8.count ?? 0)
        if let details = result.pointee.details {
            // Names, quotes and separators: under 96; each answer adds its quotes and a comma.
            length += 96 + 6 * (details.tlsIssuer?.utf8.count ?? 0) + 6 * (details.tlsProtocol?.utf8.count ?? 0)
            length += 6 * (details.tlsCipher?.utf8.count ?? 0)
            for answer in details.dnsAnswers ?? [] { length += 3 + 6 * answer.utf8.count }
        }
        return length
    }
}

/// Writes one results line at a pointer with room enough (see `maximumLineLength`).
private struct LineWriter {
    let start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0

    init(start: UnsafeMutablePointer<UInt8>) { self.start = start }

    /// Reads the result through a pointer, field by field: a result passed by value was copied
    /// whole at every call (its strings retained and released), whatever the inlining.
    mutating func write(_ result: UnsafePointer<CheckResult>) {
        ascii("{\"monitorId\":")
        count += JSONString.writeQuoted(result.pointee.monitorId, to: start + count)
        ascii(",\"checkedAt\":\"")
        count += RFC3339.write(epochMilliseconds: result.pointee.checkedAtMs, to: start + count)
        ascii("\",\"status\":\"")
        switch result.pointee.status {
        case .up: ascii("UP")
        case .down: ascii("DOWN")
        case .timeout: ascii("TIMEOUT")
        case .error: ascii("ERROR")
        }
        ascii("\",\"httpStatus\":")
        integer(Int64(result.pointee.httpStatus))
        ascii(",\"dnsMs\":")
        milliseconds(micros: Int64(result.pointee.dnsMicros))
        ascii(",\"connectMs\":")
        milliseconds(micros: Int64(result.pointee.connectMicros))
        ascii(",\"tlsMs\":")
        milliseconds(micros: Int64(result.pointee.tlsMicros))
        ascii(",\"ttfbMs\":")
        milliseconds(micros: Int64(result.pointee.ttfbMicros))
        ascii(",\"totalMs\":")
        milliseconds(micros: Int64(result.pointee.totalMicros))
        ascii(",\"lagMs\":")
        milliseconds(micros: Int64(result.pointee.lagMicros))
        ascii(",\"redirects\":")
        integer(Int64(result.pointee.redirects))
        ascii(",\"errorCode\":")
        if let code = result.pointee.errorCode {
            byte(UInt8(ascii: "\""))
            asciiText(code.rawValue)
            byte(UInt8(ascii: "\""))
        } else {
            ascii("null")
        }
        ascii(",\"errorMessage\":")
        if let message = result.pointee.errorMessage {
            count += JSONString.writeQuoted(message, to: start + count)
        } else {
            ascii("null")
        }
        ascii(",\"certExpiresAt\":")
        if let expiry = result.pointee.certExpiresAt {
            byte(UInt8(ascii: "\""))
            count += RFC3339.write(epochMilliseconds: expiry * 1000, to: start + count)
            byte(UInt8(ascii: "\""))
        } else {
            ascii("null")
        }
        ascii(",\"httpVersion\":")
        switch result.pointee.httpVersion {
        case 0: ascii("null")
        case 10: ascii("\"1.0\"")
        case 11: ascii("\"1.1\"")
        case 20: ascii("\"2\"")
        case 30: ascii("\"3\"")
        default:
            byte(UInt8(ascii: "\""))
            integer(Int64(result.pointee.httpVersion / 10))
            byte(UInt8(ascii: "."))
            integer(Int64(result.pointee.httpVersion % 10))
            byte(UInt8(ascii: "\""))
        }
        ascii(",\"tlsResumed\":")
        switch result.pointee.tlsResumed {
        case .some(true): ascii("true")
        case .some(false): ascii("false")
        case .none: ascii("null")
        }
        if let details = result.pointee.details { write(details) }
        ascii("}\n")
    }

    /// What a `tls` or `dns` check learnt, after the fields every line has.
    private mutating func write(_ details: CheckDetails) {
        if let issuer = details.tlsIssuer {
            ascii(",\"tlsIssuer\":")
            count += JSONString.writeQuoted(issuer, to: start + count)
        }
        if let version = details.tlsProtocol {
            ascii(",\"tlsProtocol\":")
            count += JSONString.writeQuoted(version, to: start + count)
        }
        if let cipher = details.tlsCipher {
            ascii(",\"tlsCipher\":")
            count += JSONString.writeQuoted(cipher, to: start + count)
        }
        if let answers = details.dnsAnswers {
            ascii(",\"dnsAnswers\":[")
            for (index, answer) in answers.enumerated() {
                if index > 0 { byte(UInt8(ascii: ",")) }
                count += JSONString.writeQuoted(answer, to: start + count)
            }
            byte(UInt8(ascii: "]"))
        }
    }

    @inline(__always)
    private mutating func byte(_ value: UInt8) {
        start[count] = value
        count += 1
    }

    @inline(__always)
    private mutating func ascii(_ text: StaticString) {
        (start + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    /// Named apart from `ascii(_: StaticString)`: a literal would otherwise pick this overload (a
    /// string literal's default type is `String`) and pay a release per fixed piece of the line.
    @inline(__always)
    private mutating func asciiText(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else { return }
            (start + count).update(from: base, count: utf8.count)
            count += utf8.count
        }
    }

    /// Milliseconds with three decimals (microsecond precision), e.g. `12.034`.
    private mutating func milliseconds(micros: Int64) {
        var value = micros
        if value < 0 {
            byte(UInt8(ascii: "-"))
            value = -value
        }
        integer(value / 1000)
        let fraction = Int(value % 1000)
        start[count] = UInt8(ascii: ".")
        start[count + 1] = UInt8(ascii: "0") + UInt8(fraction / 100)
        start[count + 2] = UInt8(ascii: "0") + UInt8((fraction / 10) % 10)
        start[count + 3] = UInt8(ascii: "0") + UInt8(fraction % 10)
        count += 4
    }

    private mutating func integer(_ value: Int64) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            // Int64.min has no positive twin: its magnitude as an unsigned number.
            unsigned(UInt64(bitPattern: 0 &- value))
            return
        }
        unsigned(UInt64(value))
    }

    private mutating func unsigned(_ value: UInt64) {
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && value >= scale {
            digits += 1
            scale = scale &* 10
        }
        var rest = value
        var position = count + digits
        while position > count {
            position -= 1
            start[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        count += digits
    }
}
