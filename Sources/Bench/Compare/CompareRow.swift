import Foundation

/// One tool on one protocol in `lookout-bench compare`: what it reached, or why it did not run.
struct CompareRow: Codable, Sendable, Equatable {
    var tool: String
    var `protocol`: String
    /// Checks (or requests, for wrk and ab) per second; nil when the tool is missing or failed.
    var checksPerSecond: Double?
    /// The tool's own CPU (user + system) per check, µs.
    var cpuMicrosPerCheck: Double?
    /// checks/s ÷ the C yardstick's checks/s on the same protocol in the same run.
    var ratioToYardstick: Double?
    /// Why there is no figure ("missing: ...", "failed: ..."), or what to know about it.
    var note: String?

    enum CodingKeys: String, CodingKey {
        case tool, `protocol`, checksPerSecond, cpuMicrosPerCheck, ratioToYardstick, note
    }

    /// Every figure key is written, `null` when there is no figure, so a missing peer is visible
    /// in the JSON too.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tool, forKey: .tool)
        try container.encode(self.protocol, forKey: .protocol)
        try container.encode(checksPerSecond, forKey: .checksPerSecond)
        try container.encode(cpuMicrosPerCheck, forKey: .cpuMicrosPerCheck)
        try container.encode(ratioToYardstick, forKey: .ratioToYardstick)
        try container.encodeIfPresent(note, forKey: .note)
    }
}

/// What one measurement of a peer produced.
struct PeerMeasurement: Sendable, Equatable {
    var checks: Int
    var seconds: Double
    var cpuSeconds: Double
    var failed: Int

    var checksPerSecond: Double { seconds > 0 ? Double(checks) / seconds : 0 }
    var cpuMicrosPerCheck: Double { checks > 0 ? cpuSeconds * 1e6 / Double(checks) : 0 }
}

/// Parsers of the peers' own output. Pure, unit-tested with captured output.
enum PeerOutput {
    /// wrk: "  123456 requests in 8.00s, ..." and "Non-2xx or 3xx responses: N" and
    /// "Socket errors: connect A, read B, write C, timeout D".
    static func wrk(_ text: String) -> (requests: Int, seconds: Double, failed: Int)? {
        var requests: Int?
        var seconds: Double?
        var failed = 0
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let index = words.firstIndex(of: "requests"), index > 0, words.count > index + 2,
                words[index + 1] == "in"
            {
                requests = Int(words[index - 1])
                seconds = parseDuration(
                    String(words[index + 2].trimmingCharacters(in: CharacterSet(charactersIn: ","))))
            } else if line.contains("Non-2xx or 3xx responses:"), let last = words.last, let count = Int(last) {
                failed += count
            } else if line.contains("Socket errors:") {
                for word in words {
                    if let count = Int(word.trimmingCharacters(in: CharacterSet(charactersIn: ","))) { failed += count }
                }
            }
        }
        guard let requests, let seconds else { return nil }
        return (requests, seconds, failed)
    }

    /// ab: "Complete requests:      50000", "Failed requests:        0", "Time taken for tests:   2.5 seconds".
    static func ab(_ text: String) -> (requests: Int, seconds: Double, failed: Int)? {
        func value(_ key: String) -> String? {
            for line in text.split(separator: "\n") where line.hasPrefix(key) {
                return line.dropFirst(key.count).split(separator: " ").first.map(String.init)
            }
            return nil
        }
        guard let requests = value("Complete requests:").flatMap({ Int($0) }),
            let seconds = value("Time taken for tests:").flatMap({ Double($0) })
        else { return nil }
        let failed = value("Failed requests:").flatMap { Int($0) } ?? 0
        let non2xx = value("Non-2xx responses:").flatMap { Int($0) } ?? 0
        return (requests, seconds, failed + non2xx)
    }

    /// The yardstick: "RATE CPU_MICROS FAILED".
    static func yardstick(_ text: String) -> (rate: Double, cpuMicros: Double, failed: Int)? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 3, let rate = Double(fields[0]), let cpu = Double(fields[1]), let failed = Int(fields[2])
        else { return nil }
        return (rate, cpu, failed)
    }

    /// "8.00s" → 8, "1.00m" → 60, "500.00ms" → 0.5.
    static func parseDuration(_ text: String) -> Double? {
        if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1000 } }
        if text.hasSuffix("us") { return Double(text.dropLast(2)).map { $0 / 1e6 } }
        if text.hasSuffix("s") { return Double(text.dropLast()) }
        if text.hasSuffix("m") { return Double(text.dropLast()).map { $0 * 60 } }
        if text.hasSuffix("h") { return Double(text.dropLast()).map { $0 * 3600 } }
        return nil
    }
}
