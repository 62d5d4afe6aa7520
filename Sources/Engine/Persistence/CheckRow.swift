import LookoutCore

/// A check result on its way to `checks`: the result, its check id (assigned once, when the
/// writer first received it) and the monitor's database id.
struct CheckRow: Sendable, Equatable {
    let checkId: CheckID
    let monitorId: Int64
    let result: CheckResult
}

extension CheckDetails {
    /// `checks.dns_answers`: the answers as a JSON array of strings; nil when not a dns check.
    var dnsAnswersJSON: String? {
        dnsAnswers.map { "[" + $0.map(JSONString.quoted).joined(separator: ",") + "]" }
    }
}

/// Hands out check ids: one random 64-bit id per engine instance (process start) and a counter.
/// Used only by the writer's thread.
struct CheckIDGenerator {
    /// The random instance part (also the default `engine_id`).
    let instance: UInt64
    private var next: UInt64 = 0

    init(instance: UInt64 = UInt64.random(in: .min ... .max)) {
        self.instance = instance
    }

    mutating func make() -> CheckID {
        defer { next &+= 1 }
        return CheckID(instance: instance, sequence: next)
    }

    /// The instance id as 16 lowercase hex digits.
    var instanceHex: String {
        let hex = String(instance, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// PostgreSQL COPY text format (`FORMAT text`): columns separated by tabs, rows by newlines,
/// `\N` for NULL, and backslash escapes for backslash, tab, newline and carriage return.
/// NUL bytes cannot be stored in a PostgreSQL text value and are dropped.
enum CopyText {
    static let null: StaticString = "\\N"

    /// Appends `text` escaped for a COPY text column.
    static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\t"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "r"))
            case 0: continue
            default: bytes.append(byte)
            }
        }
    }

    static func appendOptional(_ text: String?, to bytes: inout [UInt8]) {
        if let text { appendEscaped(text, to: &bytes) } else { appendStatic(null, to: &bytes) }
    }

    @inline(__always)
    static func appendStatic(_ text: StaticString, to bytes: inout [UInt8]) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    static func appendInteger(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            // Int64.min has no positive twin; no column here can hold it anyway.
            appendInteger(value == .min ? .max : -value, to: &bytes)
            return
        }
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        let start = bytes.count
        var rest = value
        while rest > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        bytes[start...].reverse()
    }

    /// Microseconds as milliseconds with three decimals (`12.034`).
    static func appendMilliseconds(micros: Int64, to bytes: inout [UInt8]) {
        var value = micros
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            value = -value
        }
        appendInteger(value / 1000, to: &bytes)
        let fraction = Int(value % 1000)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8((fraction / 10) % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }
}

/// Encodes check rows as COPY text lines in `LookoutSchema.checkColumns` order. The same lines
/// are the spill file format, so a spill file can be loaded by hand with
/// `\copy checks_staging FROM 'file'` if ever needed.
struct CheckRowEncoder {
    /// `checks.engine_id` of every row (nil = NULL).
    let engineId: String?
    private let engineIdBytes: [UInt8]

    init(engineId: String?) {
        self.engineId = engineId
        var bytes: [UInt8] = []
        CopyText.appendOptional(engineId, to: &bytes)
        engineIdBytes = bytes
    }

    static let copyColumnList = LookoutSchema.checkColumns.joined(separator: ", ")

    /// Appends one line (with its newline).
    func append(_ row: CheckRow, to bytes: inout [UInt8]) {
        let result = row.result
        row.checkId.append(to: &bytes)
        bytes.append(0x09)
        CopyText.appendInteger(row.monitorId, to: &bytes)
        bytes.append(0x09)
        RFC3339.append(epochMilliseconds: result.checkedAtMs, to: &bytes)
        bytes.append(0x09)
        bytes.append(contentsOf: result.status.name.utf8)
        bytes.append(0x09)
        CopyText.appendInteger(Int64(min(max(result.httpStatus, 0), Int32(Int16.max))), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.dnsMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.connectMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.tlsMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.ttfbMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.totalMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendMilliseconds(micros: Int64(result.lagMicros), to: &bytes)
        bytes.append(0x09)
        CopyText.appendInteger(Int64(result.redirects), to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(result.errorCode?.rawValue, to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(result.errorMessage, to: &bytes)
        bytes.append(0x09)
        if let expiry = result.certExpiresAt {
            RFC3339.append(epochMilliseconds: expiry &* 1000, to: &bytes)
        } else {
            CopyText.appendStatic(CopyText.null, to: &bytes)
        }
        bytes.append(0x09)
        bytes.append(contentsOf: engineIdBytes)
        let details = result.details
        bytes.append(0x09)
        CopyText.appendOptional(details?.tlsIssuer, to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(details?.tlsProtocol, to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(details?.tlsCipher, to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(details?.dnsAnswersJSON, to: &bytes)
        bytes.append(0x09)
        CopyText.appendOptional(result.httpVersionName, to: &bytes)
        bytes.append(0x09)
        switch result.tlsResumed {
        case .some(true): bytes.append(UInt8(ascii: "t"))
        case .some(false): bytes.append(UInt8(ascii: "f"))
        case .none: CopyText.appendStatic(CopyText.null, to: &bytes)
        }
        bytes.append(0x0A)
    }

    /// The UTC day (`YYYY-MM-DD`) of epoch milliseconds: the name of a check partition's day.
    static func day(epochMilliseconds: Int64) -> String {
        String(RFC3339.string(epochMilliseconds: epochMilliseconds).prefix(10))
    }

    /// The day of a COPY line's `checked_at` (third column), or nil if the line is malformed.
    static func day(ofLine line: UnsafeRawBufferPointer) -> String? {
        var tabs = 0
        var index = 0
        while index < line.count && tabs < 2 {
            if line[index] == 0x09 { tabs += 1 }
            index += 1
        }
        guard tabs == 2, index + 10 <= line.count else { return nil }
        let day = UnsafeRawBufferPointer(rebasing: line[index..<index + 10])
        guard day[4] == UInt8(ascii: "-"), day[7] == UInt8(ascii: "-"),
            day.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || (0x30...0x39).contains($0.element) })
        else { return nil }
        return String(decoding: day, as: UTF8.self)
    }
}

/// Encodes check rows in PostgreSQL's binary COPY format (`FORMAT binary`), the format of
/// memory batches: the server skips parsing text (timestamps, UUIDs, floats), which costs it
/// several µs per row in text format. Column order and types are those of `checks`
/// (`LookoutSchema.checkColumns`): uuid, int8, timestamptz, text, int2, 6 × float4, int2,
/// text, text, timestamptz, text, then text × 3 and jsonb (migration 3), text and bool
/// (migration 4). The spill file stays in text format (`CheckRowEncoder`).
struct CheckRowBinaryEncoder {
    private let engineIdBytes: [UInt8]?

    init(engineId: String?) {
        engineIdBytes = engineId.map { Array($0.utf8.filter { $0 != 0 }) }
    }

    /// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC).
    static let postgresEpochMicros: Int64 = 946_684_800_000_000

    /// `PGCOPY\n\377\r\n\0`, flags 0, header extension length 0.
    static let header: [UInt8] =
        [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// A field count of -1 ends the data.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    func append(_ row: CheckRow, to bytes: inout [UInt8]) {
        let result = row.result
        Self.int16(Int16(LookoutSchema.checkColumns.count), &bytes)
        Self.int32(16, &bytes)
        Self.int64(Int64(bitPattern: row.checkId.high), &bytes)
        Self.int64(Int64(bitPattern: row.checkId.low), &bytes)
        Self.int32(8, &bytes)
        Self.int64(row.monitorId, &bytes)
        Self.timestamp(epochMilliseconds: result.checkedAtMs, &bytes)
        let status = result.status.name.utf8
        Self.int32(Int32(status.count), &bytes)
        bytes.append(contentsOf: status)
        Self.int32(2, &bytes)
        Self.int16(Int16(clamping: max(result.httpStatus, 0)), &bytes)
        Self.milliseconds(micros: result.dnsMicros, &bytes)
        Self.milliseconds(micros: result.connectMicros, &bytes)
        Self.milliseconds(micros: result.tlsMicros, &bytes)
        Self.milliseconds(micros: result.ttfbMicros, &bytes)
        Self.milliseconds(micros: result.totalMicros, &bytes)
        Self.milliseconds(micros: result.lagMicros, &bytes)
        Self.int32(2, &bytes)
        Self.int16(result.redirects, &bytes)
        Self.text(result.errorCode?.rawValue, &bytes)
        Self.text(result.errorMessage, &bytes)
        if let expiry = result.certExpiresAt {
            Self.timestamp(epochMilliseconds: expiry &* 1000, &bytes)
        } else {
            Self.int32(-1, &bytes)
        }
        if let engineIdBytes {
            Self.int32(Int32(engineIdBytes.count), &bytes)
            bytes.append(contentsOf: engineIdBytes)
        } else {
            Self.int32(-1, &bytes)
        }
        let details = result.details
        Self.text(details?.tlsIssuer, &bytes)
        Self.text(details?.tlsProtocol, &bytes)
        Self.text(details?.tlsCipher, &bytes)
        if let answers = details?.dnsAnswersJSON {
            // jsonb's binary form: a version byte (1), then the JSON text.
            Self.text("\u{1}" + answers, &bytes)
        } else {
            Self.int32(-1, &bytes)
        }
        Self.text(result.httpVersionName, &bytes)
        if let resumed = result.tlsResumed {
            Self.int32(1, &bytes)
            bytes.append(resumed ? 1 : 0)
        } else {
            Self.int32(-1, &bytes)
        }
    }

    @inline(__always)
    private static func int16(_ value: Int16, _ bytes: inout [UInt8]) {
        let bits = UInt16(bitPattern: value)
        bytes.append(UInt8(bits >> 8))
        bytes.append(UInt8(bits & 0xFF))
    }

    @inline(__always)
    private static func int32(_ value: Int32, _ bytes: inout [UInt8]) {
        let bits = UInt32(bitPattern: value)
        bytes.append(UInt8(bits >> 24))
        bytes.append(UInt8((bits >> 16) & 0xFF))
        bytes.append(UInt8((bits >> 8) & 0xFF))
        bytes.append(UInt8(bits & 0xFF))
    }

    @inline(__always)
    private static func int64(_ value: Int64, _ bytes: inout [UInt8]) {
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((bits >> UInt64(shift)) & 0xFF)) }
    }

    /// A `real` (float4) field: microseconds as milliseconds.
    @inline(__always)
    private static func milliseconds(micros: Int32, _ bytes: inout [UInt8]) {
        int32(4, &bytes)
        int32(Int32(bitPattern: Float(Double(micros) / 1000).bitPattern), &bytes)
    }

    @inline(__always)
    private static func timestamp(epochMilliseconds: Int64, _ bytes: inout [UInt8]) {
        int32(8, &bytes)
        int64(epochMilliseconds &* 1000 &- postgresEpochMicros, &bytes)
    }

    /// A text field: UTF-8 without NUL bytes (PostgreSQL text cannot hold them), or NULL.
    private static func text(_ value: String?, _ bytes: inout [UInt8]) {
        guard let value else {
            int32(-1, &bytes)
            return
        }
        let lengthAt = bytes.count
        int32(0, &bytes)
        var length: Int32 = 0
        for byte in value.utf8 where byte != 0 {
            bytes.append(byte)
            length += 1
        }
        let bits = UInt32(bitPattern: length)
        bytes[lengthAt] = UInt8(bits >> 24)
        bytes[lengthAt + 1] = UInt8((bits >> 16) & 0xFF)
        bytes[lengthAt + 2] = UInt8((bits >> 8) & 0xFF)
        bytes[lengthAt + 3] = UInt8(bits & 0xFF)
    }
}
