import LookoutCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One check of a results file, reduced to what the reports use (24 bytes, so millions fit).
struct ScannedCheck: Sendable {
    /// Start of the check, epoch milliseconds.
    var checkedAtMs: Int64
    var lagMicros: Int32
    var totalMicros: Int32
    /// `CheckStatus.rawValue`, or `ScannedCheck.unknownStatus`.
    var status: UInt8
    /// Index into `ResultsScanner.errorCodes`; 0 = no error code.
    var errorCodeIndex: UInt8

    static let unknownStatus: UInt8 = 255
}

/// Reads the engine's results file (JSON Lines, README "Results file") fast enough for millions of
/// lines: a byte scan for the five fields the reports need instead of a JSON parser per line
/// (JSONSerialization costs ~10 µs a line here; this about 0.3 µs).
///
/// It relies on the file being the engine's own output: one object per line, field names as
/// written by `ResultLineEncoder`. A quote inside a string value is always escaped (`\"`), so a
/// pattern such as `"lagMs":` can never match inside a message. Lines without `checkedAt` or
/// `status` are counted as malformed and skipped.
struct ResultsScanner {
    private(set) var checks: [ScannedCheck] = []
    /// Error codes seen, in order of first appearance; index 0 is "none".
    private(set) var errorCodes: [String] = [""]
    private(set) var malformedLines = 0
    private var errorCodeIndex: [String: UInt8] = [:]

    /// More distinct codes than this are counted under the last one, `(other)`.
    static let maxDistinctErrorCodes = 250

    private static let checkedAtKey = Array("\"checkedAt\":\"".utf8)
    private static let statusKey = Array("\"status\":\"".utf8)
    private static let totalKey = Array("\"totalMs\":".utf8)
    private static let lagKey = Array("\"lagMs\":".utf8)
    private static let errorCodeKey = Array("\"errorCode\":".utf8)

    init() {}

    mutating func scanFile(atPath path: String) throws(ThroughputError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .noResults(path: path) }
            throw .files("cannot read results file \(path): \(SystemError.message(code))")
        }
        defer { close(descriptor) }
        let chunkSize = 4 << 20
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var filled = 0  // bytes of an unfinished line carried over at the buffer's start
        while true {
            if filled == buffer.count {
                // A line longer than the buffer: grow rather than cut it.
                buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count))
            }
            let count = buffer.withUnsafeMutableBytes { raw in
                read(descriptor, raw.baseAddress! + filled, raw.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .files("cannot read results file \(path): \(SystemError.message(errno))")
            }
            let end = filled + count
            let consumed = buffer.withUnsafeBytes { raw -> Int in
                var lineStart = 0
                var index = 0
                while index < end {
                    if raw[index] == UInt8(ascii: "\n") {
                        if index > lineStart { scan(line: UnsafeRawBufferPointer(rebasing: raw[lineStart..<index])) }
                        lineStart = index + 1
                    }
                    index += 1
                }
                if count == 0 && lineStart < end {  // last line without a newline
                    scan(line: UnsafeRawBufferPointer(rebasing: raw[lineStart..<end]))
                    lineStart = end
                }
                return lineStart
            }
            if count == 0 { break }
            // Move the unfinished line to the front.
            let rest = end - consumed
            if rest > 0 && consumed > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + consumed, rest)
                }
            }
            filled = rest
        }
    }

    mutating func scan(line: UnsafeRawBufferPointer) {
        guard let checkedAtStart = Self.find(Self.checkedAtKey, in: line, from: 0),
            let checkedAt = Self.parseTimestamp(line, from: checkedAtStart),
            let statusStart = Self.find(Self.statusKey, in: line, from: 0)
        else {
            malformedLines += 1
            return
        }
        let status = Self.parseStatus(line, from: statusStart)
        var total: Int64 = 0
        if let start = Self.find(Self.totalKey, in: line, from: statusStart)
            ?? Self.find(Self.totalKey, in: line, from: 0)
        {
            total = Self.parseMilliseconds(line, from: start)
        }
        var lag: Int64 = 0
        if let start = Self.find(Self.lagKey, in: line, from: statusStart) ?? Self.find(Self.lagKey, in: line, from: 0)
        {
            lag = Self.parseMilliseconds(line, from: start)
        }
        var codeIndex: UInt8 = 0
        if let start = Self.find(Self.errorCodeKey, in: line, from: 0), start < line.count,
            line[start] == UInt8(ascii: "\"")
        {
            var end = start + 1
            while end < line.count && line[end] != UInt8(ascii: "\"") { end += 1 }
            codeIndex = index(
                ofErrorCode: String(decoding: UnsafeRawBufferPointer(rebasing: line[(start + 1)..<end]), as: UTF8.self)
            )
        }
        checks.append(
            ScannedCheck(
                checkedAtMs: checkedAt,
                lagMicros: Int32(clamping: lag),
                totalMicros: Int32(clamping: total),
                status: status,
                errorCodeIndex: codeIndex
            )
        )
    }

    private mutating func index(ofErrorCode code: String) -> UInt8 {
        if let index = errorCodeIndex[code] { return index }
        if errorCodes.count > Self.maxDistinctErrorCodes {
            return index(ofOverflow: "(other)")
        }
        let index = UInt8(errorCodes.count)
        errorCodes.append(code)
        errorCodeIndex[code] = index
        return index
    }

    private mutating func index(ofOverflow name: String) -> UInt8 {
        if let index = errorCodeIndex[name] { return index }
        let index = UInt8(errorCodes.count)
        errorCodes.append(name)
        errorCodeIndex[name] = index
        return index
    }

    // MARK: - Byte-level parsing

    /// The offset just past `pattern` in `line`, searching from `from`.
    static func find(_ pattern: [UInt8], in line: UnsafeRawBufferPointer, from: Int) -> Int? {
        let first = pattern[0]
        let last = line.count - pattern.count
        var index = from
        while index <= last {
            if line[index] == first {
                var matched = 1
                while matched < pattern.count && line[index + matched] == pattern[matched] { matched += 1 }
                if matched == pattern.count { return index + pattern.count }
            }
            index += 1
        }
        return nil
    }

    static func parseStatus(_ line: UnsafeRawBufferPointer, from start: Int) -> UInt8 {
        var end = start
        while end < line.count && line[end] != UInt8(ascii: "\"") { end += 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
        for status in CheckStatus.allCases where value.elementsEqual(status.name.utf8) {
            return status.rawValue
        }
        return ScannedCheck.unknownStatus
    }

    /// `12.034` (milliseconds) → 12034 µs; `null` or garbage → 0.
    static func parseMilliseconds(_ line: UnsafeRawBufferPointer, from start: Int) -> Int64 {
        var index = start
        var negative = false
        if index < line.count && line[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var whole: Int64 = 0
        while index < line.count, line[index] >= 48, line[index] <= 57 {
            whole = whole &* 10 &+ Int64(line[index] - 48)
            index += 1
        }
        var micros: Int64 = 0
        var digits = 0
        if index < line.count && line[index] == UInt8(ascii: ".") {
            index += 1
            while index < line.count, line[index] >= 48, line[index] <= 57 {
                if digits < 3 {
                    micros = micros * 10 + Int64(line[index] - 48)
                    digits += 1
                }
                index += 1
            }
        }
        while digits < 3 {
            micros *= 10
            digits += 1
        }
        let value = whole &* 1000 &+ micros
        return negative ? -value : value
    }

    /// `2026-11-29T14:21:46.123Z` (or `+hh:mm` / `-hh:mm`) → epoch milliseconds.
    static func parseTimestamp(_ line: UnsafeRawBufferPointer, from start: Int) -> Int64? {
        var index = start
        func number(_ count: Int) -> Int64? {
            guard index + count <= line.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<count {
                let byte = line[index]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
                index += 1
            }
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard index < line.count, line[index] == character.asciiValue else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("T"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var millis: Int64 = 0
        if expect(".") {
            var digits = 0
            while index < line.count, line[index] >= 48, line[index] <= 57 {
                if digits < 3 {
                    millis = millis * 10 + Int64(line[index] - 48)
                    digits += 1
                }
                index += 1
            }
            while digits < 3 {
                millis *= 10
                digits += 1
            }
        }
        var offsetSeconds: Int64 = 0
        if !expect("Z") {
            guard index < line.count else { return nil }
            let sign: Int64 = line[index] == UInt8(ascii: "-") ? -1 : 1
            guard expect("+") || expect("-"), let offsetHours = number(2), expect(":"), let offsetMinutes = number(2)
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1000 + millis
    }

    /// Howard Hinnant's days-from-civil (the inverse of `RFC3339.civilDate`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
