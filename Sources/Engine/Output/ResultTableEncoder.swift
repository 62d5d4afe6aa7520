import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// How results are written (`--format`).
enum ResultFormat: String, CaseIterable, Sendable {
    /// One JSON object per line (the documented results file).
    case json
    /// One line per check for people: time, monitor, status, HTTP status, total ms, error.
    case table

    /// `table` when the results go to a terminal (`--results -` on a TTY), else `json`.
    static func `default`(forPath path: String?) -> ResultFormat {
        path == "-" && isatty(STDOUT_FILENO) == 1 ? .table : .json
    }

    /// Colour for a table written to `descriptor`: only on a terminal, and not when `NO_COLOR`
    /// is set (https://no-color.org) or the terminal is `dumb`.
    static func wantsColour(descriptor: Int32) -> Bool {
        guard isatty(descriptor) == 1 else { return false }
        if let noColour = getenv("NO_COLOR"), noColour.pointee != 0 { return false }
        if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
        return true
    }
}

/// Writes results as one readable line per check, for `--format table`:
///
///     12:03:04.512  api-health        UP       200     12.4 ms
///     12:03:05.020  payments          DOWN     503     40.1 ms  status_mismatch: HTTP 503, expected any 2xx
///     12:03:05.114  mx                UP         -      3.0 ms  10 mail.example.com, 20 b.example.com
///
/// The time is the check's start in local time; the monitor column widens to the longest id
/// seen (at most 40 characters; longer ids are cut with `…`). With `colour`, the status is
/// green (UP), red (DOWN, ERROR) or yellow (TIMEOUT). Used only by the results writer thread.
struct ResultTableEncoder {
    private(set) var bytes: [UInt8] = []
    private let colour: Bool
    private var monitorWidth = 12

    static let maximumMonitorWidth = 40

    init(colour: Bool) {
        self.colour = colour
        bytes.reserveCapacity(1 << 16)
    }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends one line for each of `results` (for a person at a terminal: not the hot path).
    mutating func append(contentsOf results: [CheckResult]) {
        for result in results { append(result) }
    }

    mutating func append(_ result: CheckResult) {
        appendTime(epochMilliseconds: result.checkedAtMs)
        bytes += "  ".utf8
        appendMonitor(result.monitorId)
        bytes += "  ".utf8
        let status = result.status.name
        if colour { bytes += Self.colourCode(result.status).utf8 }
        bytes += status.utf8
        if colour { bytes += "\u{1B}[0m".utf8 }
        appendSpaces(8 - status.utf8.count)
        let http = result.httpStatus == 0 ? "-" : String(result.httpStatus)
        appendSpaces(3 - http.utf8.count)
        bytes += http.utf8
        let total = Self.milliseconds(result.totalMicros)
        appendSpaces(max(1, 10 - total.utf8.count))
        bytes += total.utf8
        bytes += " ms".utf8
        if let code = result.errorCode {
            bytes += "  ".utf8
            bytes += code.rawValue.utf8
            if let message = result.errorMessage, !message.isEmpty {
                bytes += ": ".utf8
                appendPrintable(message)
            }
        } else if let details = result.details {
            bytes += "  ".utf8
            appendPrintable(Self.summary(of: details, certExpiresAt: result.certExpiresAt))
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// What an UP `dns` or `tls` check found, in a few words: `10 mail.example.com, 20 b.example.com`,
    /// `TLSv1.3, expires 2027-01-15, CN=R11,O=Let's Encrypt,C=US`.
    static func summary(of details: CheckDetails, certExpiresAt: Int64?) -> String {
        if let answers = details.dnsAnswers { return answers.joined(separator: ", ") }
        var parts: [String] = []
        if let version = details.tlsProtocol { parts.append(version) }
        if let expiry = certExpiresAt {
            parts.append("expires " + RFC3339.string(epochMilliseconds: expiry * 1000).prefix(10))
        }
        if let issuer = details.tlsIssuer { parts.append(issuer) }
        return parts.joined(separator: ", ")
    }

    /// `12.4`: tenths of a millisecond.
    static func milliseconds(_ micros: Int32) -> String {
        let tenths = (Int64(micros) + 50) / 100
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func colourCode(_ status: CheckStatus) -> String {
        switch status {
        case .up: return "\u{1B}[32m"
        case .timeout: return "\u{1B}[33m"
        case .down, .error: return "\u{1B}[31m"
        }
    }

    private mutating func appendTime(epochMilliseconds: Int64) {
        var seconds = time_t(epochMilliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        appendDigits(Int(parts.tm_hour), 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), 2)
        bytes.append(UInt8(ascii: "."))
        appendDigits(Int(epochMilliseconds % 1000), 3)
    }

    private mutating func appendMonitor(_ id: String) {
        var characters = Array(id.unicodeScalars)
        if characters.count > Self.maximumMonitorWidth {
            characters = Array(characters.prefix(Self.maximumMonitorWidth - 1)) + ["…"]
        }
        monitorWidth = max(monitorWidth, characters.count)
        var text = ""
        text.unicodeScalars.append(contentsOf: characters)
        appendPrintable(text)
        appendSpaces(monitorWidth - characters.count)
    }

    /// Text with control characters (an id or a message could hold any) shown as `?`, so a
    /// result cannot move the terminal's cursor or change its colours.
    private mutating func appendPrintable(_ text: String) {
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                bytes.append(UInt8(ascii: "?"))
            } else {
                bytes += String(scalar).utf8
            }
        }
    }

    private mutating func appendSpaces(_ count: Int) {
        if count > 0 { bytes += repeatElement(UInt8(ascii: " "), count: count) }
    }

    private mutating func appendDigits(_ value: Int, _ count: Int) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: count)
        var rest = value
        for index in stride(from: count - 1, through: 0, by: -1) {
            digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        bytes += digits
    }
}
