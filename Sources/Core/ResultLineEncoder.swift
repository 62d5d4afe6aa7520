/// Writes check results as JSON Lines into a reused byte buffer.
///
/// Hand-written because it runs once per check: Foundation's `JSONEncoder` costs about 3 µs per
/// record here, this about 0.5 µs (docs/PLATFORM.md, "hot path budget"). The field names are a contract
/// (README, "Results file"): `monitorId`, `checkedAt` (RFC 3339, ms, UTC), `status`, `httpStatus`,
/// `dnsMs`, `connectMs`, `tlsMs`, `ttfbMs`, `totalMs`, `lagMs`, `redirects`, `errorCode`,
/// `errorMessage`, `certExpiresAt` (RFC 3339 or null).
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
        appendASCII("}\n")
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

/// RFC 3339 timestamps from integers (no formatter, no allocation): `2026-11-29T14:21:46.123Z`.
public enum RFC3339 {
    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func append(epochMilliseconds: Int64, to bytes: inout [UInt8]) {
        var millis = epochMilliseconds % 1000
        var seconds = epochMilliseconds / 1000
        if millis < 0 {
            millis += 1000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        appendDigits(year, count: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3600, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits((secondOfDay / 60) % 60, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(millis, count: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func string(epochMilliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        append(epochMilliseconds: epochMilliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func appendDigits(_ value: Int64, count: Int, to bytes: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<count { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
