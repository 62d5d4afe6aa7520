/// RFC 3339 timestamps from integers (no formatter, no allocation): `2026-11-29T14:21:46.123Z`.
public enum RFC3339 {
    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func append(epochMilliseconds: Int64, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { scratch in
            let written = write(epochMilliseconds: epochMilliseconds, to: scratch.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress!, count: written))
        }
    }

    /// The length of every timestamp this type writes.
    public static let length = 24

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) at `target`, which has room for `length` bytes;
    /// returns `length`.
    public static func write(epochMilliseconds: Int64, to target: UnsafeMutablePointer<UInt8>) -> Int {
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
        writeDigits(year, count: 4, to: target)
        target[4] = UInt8(ascii: "-")
        writeDigits(month, count: 2, to: target + 5)
        target[7] = UInt8(ascii: "-")
        writeDigits(day, count: 2, to: target + 8)
        target[10] = UInt8(ascii: "T")
        writeDigits(secondOfDay / 3600, count: 2, to: target + 11)
        target[13] = UInt8(ascii: ":")
        writeDigits((secondOfDay / 60) % 60, count: 2, to: target + 14)
        target[16] = UInt8(ascii: ":")
        writeDigits(secondOfDay % 60, count: 2, to: target + 17)
        target[19] = UInt8(ascii: ".")
        writeDigits(millis, count: 3, to: target + 20)
        target[23] = UInt8(ascii: "Z")
        return length
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func string(epochMilliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        append(epochMilliseconds: epochMilliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    public static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
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

    /// The last `count` decimal digits of `value` (zero-padded) at `target`.
    @inline(__always)
    private static func writeDigits(_ value: Int64, count: Int, to target: UnsafeMutablePointer<UInt8>) {
        var rest = value
        var position = count
        while position > 0 {
            position -= 1
            target[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }

    /// Reads `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC only, as Lookout writes it) into epoch milliseconds.
    public static func parseEpochMilliseconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
                    return nil
                }
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var millis: Int64 = 0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = bytes.count - 1 - 20
            guard (1...9).contains(digits), let fraction = number(20..<(bytes.count - 1)) else { return nil }
            var scaled = fraction
            if digits < 3 {
                for _ in digits..<3 { scaled *= 10 }
            } else {
                for _ in 3..<digits { scaled /= 10 }
            }
            millis = scaled
        } else if bytes.count != 20 {
            return nil
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis
    }

    /// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar): days since
    /// 1970-01-01 of a calendar date.
    public static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
