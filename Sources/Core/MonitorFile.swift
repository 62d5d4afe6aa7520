import Dispatch
import Foundation

/// Reads the standalone monitors file: JSON Lines, one monitor object per line.
///
/// Blank lines and lines starting with `#` are ignored. Every bad line is reported with its
/// number and reason (all of them, not just the first), so an operator fixes a file in one pass.
public enum MonitorFile {
    /// One refused line.
    public struct LineError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The line number, from 1.
        public var line: Int
        /// The column (from 1, in characters) of a JSON syntax error; nil when the line is JSON
        /// but not a valid monitor.
        public var column: Int?
        /// Why the line was refused.
        public var reason: String
        /// A refusal of line `line` (at `column`, for a syntax error).
        public init(line: Int, column: Int? = nil, reason: String) {
            self.line = line
            self.column = column
            self.reason = reason
        }
        /// `line N: reason`, or `line N, column C: reason`.
        public var description: String {
            if let column { return "line \(line), column \(column): \(reason)" }
            return "line \(line): \(reason)"
        }
    }

    /// What a file holds: the valid monitors and the refused lines.
    public struct Parsed: Sendable {
        /// The monitors of the valid lines, in file order, each with the target its validation
        /// parsed (the engine checks them without parsing their URLs again).
        public var validated: [ValidatedMonitor]
        /// Every refused line.
        public var errors: [LineError]
        /// The monitors of the valid lines, in file order.
        public var monitors: [Monitor] { validated.map(\.monitor) }
    }

    /// What `parse(_:parallelism:making:)` makes of a file: one entry per valid line, and the
    /// refused lines.
    public struct ParsedEntries<Entry: Sendable>: Sendable {
        /// What was made of each valid line's monitor, in file order.
        public var entries: [Entry]
        /// Every refused line.
        public var errors: [LineError]
    }

    /// Every key a monitor object may carry; anything else is refused (a typo would otherwise
    /// silently fall back to a default).
    public static let knownKeys: Set<String> = [
        "id", "url", "intervalSeconds", "timeoutMs", "connectTimeoutMs", "method", "headers", "body",
        "expectedStatus", "keyword", "keywordAbsent", "jsonPath", "jsonEquals", "followRedirects",
        "maxRedirects", "verifyTLS", "maxBodyBytes", "lowSpeedBytesPerSecond", "lowSpeedSeconds",
        "reuseConnection", "tlsSessionReuse", "tlsFullHandshakeSeconds", "httpVersion", "acceptEncoding", "type",
        "host", "port", "send", "expect", "name", "recordType", "server", "expectedValues", "certMinDaysLeft",
    ]

    /// Keys every kind of monitor may carry.
    static let commonKeys: Set<String> = ["id", "type", "intervalSeconds", "timeoutMs", "connectTimeoutMs"]

    /// The keys a monitor of each kind may carry: the common ones, its own, and `url` (judged in
    /// `probeMonitor` for the kinds other than HTTP). Made once: built per line, these sets were
    /// a fifth of the CPU of reading a million monitors.
    static let allowedKeys: [MonitorKind: Set<String>] = Dictionary(
        uniqueKeysWithValues: MonitorKind.allCases.map { ($0, commonKeys.union(Monitor.kindKeys($0)).union(["url"])) })

    /// Why a file without a single monitor line is refused (an engine that checks nothing is
    /// not what anyone meant to start).
    public static let emptyFileReason =
        #"it has no monitors (only blank lines and # comments): write one JSON object per line, e.g. {"id":"home","url":"https://example.com/"}"#

    /// Reads a whole file, reporting every bad line.
    ///
    /// Large files are cut at line boundaries into one piece per core and the pieces parsed at
    /// once (a million monitors is a 100 MB file); the result is the same as reading it in one
    /// piece: file order, line numbers and the duplicate-id check span the whole file.
    /// `parallelism`: pieces to cut the file into; nil = one per core for a file over 1 MiB.
    public static func parse(_ data: Data, parallelism: Int? = nil) -> Parsed {
        let parsed = parse(data, parallelism: parallelism) { $0 }
        return Parsed(validated: parsed.entries, errors: parsed.errors)
    }

    /// `parse(_:parallelism:)`, with each valid monitor turned into an `Entry` by `make` on the
    /// core that read its line, as soon as it is read: the engine makes its prepared monitors
    /// there, and a million monitors are never held as values and as prepared monitors at once.
    public static func parse<Entry: Sendable>(
        _ data: Data, parallelism: Int? = nil, making make: @escaping @Sendable (ValidatedMonitor) -> Entry
    ) -> ParsedEntries<Entry> {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let automatic = raw.count < 1 << 20 ? 1 : defaultParallelism
            let pieces = pieceBounds(of: raw, count: max(1, parallelism ?? automatic))
            let parsedPieces = PieceResults<Entry>(count: pieces.count)
            // Read-only for the duration of `concurrentPerform`, which returns only when every
            // worker has finished.
            nonisolated(unsafe) let file = raw
            DispatchQueue.concurrentPerform(iterations: pieces.count) { index in
                parsedPieces.store(parse(UnsafeRawBufferPointer(rebasing: file[pieces[index]]), make), at: index)
            }
            return merge(parsedPieces)
        }
    }

    /// One processor per piece: the machine's active cores.
    public static var defaultParallelism: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// One piece of a file as read on its own: line numbers count from the piece's start.
    private struct Piece<Entry> {
        var monitors: [(entry: Entry, id: String, line: Int)] = []
        var errors: [LineError] = []
        var lineCount = 0
    }

    /// Written by `concurrentPerform`'s workers, one slot each, read after all have finished.
    /// Raw storage rather than an array: two workers mutating one array property at once would
    /// be overlapping accesses.
    private final class PieceResults<Entry>: @unchecked Sendable {
        private let slots: UnsafeMutableBufferPointer<Piece<Entry>>
        init(count: Int) {
            slots = .allocate(capacity: count)
            slots.initialize(repeating: Piece())
        }
        deinit {
            slots.deinitialize()
            slots.deallocate()
        }
        func store(_ piece: Piece<Entry>, at index: Int) { slots[index] = piece }
        var count: Int { slots.count }
        var monitorCount: Int { slots.reduce(0) { $0 + $1.monitors.count } }
        /// The piece at `index`, moved out: its slot no longer holds its monitors.
        func take(_ index: Int) -> Piece<Entry> {
            defer { slots[index] = Piece() }
            return slots[index]
        }
    }

    /// `count` byte ranges covering `raw`, each ending just after a newline (the last at the end).
    private static func pieceBounds(of raw: UnsafeRawBufferPointer, count: Int) -> [Range<Int>] {
        var bounds: [Range<Int>] = []
        var start = 0
        for index in 1...count {
            var end = index == count ? raw.count : max(start, raw.count * index / count)
            while end < raw.count && end > 0 && raw[end - 1] != UInt8(ascii: "\n") { end += 1 }
            bounds.append(start..<end)
            start = end
        }
        return bounds
    }

    private static func parse<Entry>(
        _ raw: UnsafeRawBufferPointer, _ make: (ValidatedMonitor) -> Entry
    ) -> Piece<Entry> {
        var piece = Piece<Entry>()
        var start = 0
        let count = raw.count
        while start < count {
            var end = start
            while end < count && raw[end] != UInt8(ascii: "\n") { end += 1 }
            piece.lineCount += 1
            let lineNumber = piece.lineCount
            let line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
            start = end + 1
            let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            switch parse(line: line) {
            case .success(let validated):
                piece.monitors.append((make(validated), validated.monitor.id, lineNumber))
            case .failure(.syntax(let error)):
                piece.errors.append(LineError(line: lineNumber, column: error.column, reason: error.reason))
            case .failure(.invalid(let error)):
                piece.errors.append(LineError(line: lineNumber, reason: error.description))
            }
        }
        return piece
    }

    /// The pieces in file order, line numbers made absolute, a repeated id refused where it
    /// repeats. Each piece is freed once merged: a million monitors would otherwise be held
    /// twice at the peak of start-up.
    private static func merge<Entry>(_ pieces: PieceResults<Entry>) -> ParsedEntries<Entry> {
        var monitors: [Entry] = []
        monitors.reserveCapacity(pieces.monitorCount)
        var errors: [LineError] = []
        var seenIds: [String: Int] = [:]
        seenIds.reserveCapacity(monitors.capacity)
        var linesBefore = 0
        for index in 0..<pieces.count {
            let piece = pieces.take(index)
            var pieceErrors = piece.errors.makeIterator()
            var nextError = pieceErrors.next()
            for (entry, id, line) in piece.monitors {
                while let error = nextError, error.line < line {
                    errors.append(LineError(line: error.line + linesBefore, column: error.column, reason: error.reason))
                    nextError = pieceErrors.next()
                }
                let absoluteLine = line + linesBefore
                if let first = seenIds.updateValue(absoluteLine, forKey: id) {
                    seenIds[id] = first
                    errors.append(LineError(line: absoluteLine, reason: "id '\(id)' already used on line \(first)"))
                    continue
                }
                monitors.append(entry)
            }
            while let error = nextError {
                errors.append(LineError(line: error.line + linesBefore, column: error.column, reason: error.reason))
                nextError = pieceErrors.next()
            }
            linesBefore += piece.lineCount
        }
        return ParsedEntries(entries: monitors, errors: errors)
    }

    /// Why one line is refused: its JSON (with the column), or its content.
    enum LineProblem: Error {
        case syntax(StrictJSONReader.SyntaxError)
        case invalid(MonitorValidationError)
    }

    private static func parse(line: UnsafeRawBufferPointer) -> Result<ValidatedMonitor, LineProblem> {
        if let common = CommonMonitorLine.decode(line) { return .success(common) }
        return parseInGeneral(line: line)
    }

    /// Any line, through a dictionary: every field and every refusal (see `CommonMonitorLine`
    /// for the shape most lines have, read without one).
    static func parseInGeneral(line: UnsafeRawBufferPointer) -> Result<ValidatedMonitor, LineProblem> {
        let object: Any
        do throws(StrictJSONReader.SyntaxError) {
            object = try StrictJSONReader.parse(line)
        } catch {
            return .failure(.syntax(error))
        }
        guard let fields = object as? [String: Any] else {
            return .failure(
                .invalid(MonitorValidationError(field: "line", reason: "must be a JSON object (one monitor per line)")))
        }
        do throws(MonitorValidationError) {
            return .success(try validatedMonitor(from: fields))
        } catch {
            return .failure(.invalid(error))
        }
    }

    /// Parses and validates one JSON object (strict JSON: see `StrictJSONReader`); a syntax
    /// error is reported as `line: column N: reason`.
    public static func parseLine(_ data: Data) throws(MonitorValidationError) -> Monitor {
        let result = data.withUnsafeBytes { parse(line: $0) }
        switch result {
        case .success(let validated): return validated.monitor
        case .failure(.syntax(let error)): throw MonitorValidationError(field: "line", reason: error.description)
        case .failure(.invalid(let error)): throw error
        }
    }

    /// Validates one decoded JSON object (unknown keys refused) into a monitor.
    public static func monitor(from fields: [String: Any]) throws(MonitorValidationError) -> Monitor {
        try validatedMonitor(from: fields).monitor
    }

    /// `monitor(from:)` with the target its validation parsed.
    static func validatedMonitor(from fields: [String: Any]) throws(MonitorValidationError) -> ValidatedMonitor {
        // Keys are sorted only for a line that has a bad one: the first reported is then the same
        // whatever order the line wrote them in.
        if fields.keys.contains(where: { !knownKeys.contains($0) }) {
            for key in fields.keys.sorted() where !knownKeys.contains(key) {
                let suggestion = closestKnownKey(to: key).map { " (did you mean '\($0)'?)" } ?? ""
                throw MonitorValidationError(field: key, reason: "unknown field" + suggestion)
            }
        }
        let reader = FieldReader(fields: fields)
        let kind = try reader.kind("type") ?? .http
        let allowed = allowedKeys[kind] ?? []
        if fields.keys.contains(where: { !allowed.contains($0) }) {
            for key in fields.keys.sorted() where !allowed.contains(key) {
                let owners = MonitorKind.allCases.filter { Monitor.kindKeys($0).contains(key) }.map(\.rawValue)
                throw MonitorValidationError(
                    field: key,
                    reason: "applies to \(owners.joined(separator: " and ")) monitors, not to type \(kind.rawValue)")
            }
        }
        if kind != .http { return try probeMonitor(kind, from: reader) }
        let id = try reader.string("id", required: true)!
        let url = try reader.string("url", required: true)!
        let timeout = try reader.integer("timeoutMs") ?? Monitor.defaultTimeoutMs
        let monitor = Monitor(
            id: id,
            url: url,
            intervalSeconds: try reader.number("intervalSeconds") ?? Monitor.defaultIntervalSeconds,
            timeoutMs: timeout,
            connectTimeoutMs: try reader.integer("connectTimeoutMs"),
            method: try reader.method("method") ?? "GET",
            headers: try reader.stringDictionary("headers") ?? [:],
            body: try reader.string("body"),
            expectedStatus: try reader.statusList("expectedStatus") ?? [],
            keyword: try reader.string("keyword"),
            keywordAbsent: try reader.string("keywordAbsent"),
            jsonPath: try reader.string("jsonPath"),
            jsonEquals: try reader.scalarText("jsonEquals"),
            followRedirects: try reader.bool("followRedirects") ?? true,
            maxRedirects: try reader.integer("maxRedirects") ?? Monitor.defaultMaxRedirects,
            verifyTLS: try reader.bool("verifyTLS") ?? true,
            maxBodyBytes: try reader.integer("maxBodyBytes") ?? Monitor.defaultMaxBodyBytes,
            lowSpeedBytesPerSecond: try reader.integer("lowSpeedBytesPerSecond") ?? 0,
            lowSpeedSeconds: try reader.integer("lowSpeedSeconds") ?? 10,
            reuseConnection: try reader.bool("reuseConnection") ?? false,
            tlsSessionReuse: try reader.bool("tlsSessionReuse") ?? false,
            tlsFullHandshakeSeconds: try reader.integer("tlsFullHandshakeSeconds")
                ?? Monitor.defaultTLSFullHandshakeSeconds,
            httpVersion: try reader.httpVersion("httpVersion") ?? .http1_1,
            acceptEncoding: try reader.bool("acceptEncoding") ?? false
        )
        return try monitor.validated()
    }

    /// A `tcp`, `dns` or `tls` monitor. A field of another kind is refused by name (an HTTP
    /// `keyword` on a TCP monitor would otherwise be silently ignored); `url` is accepted only as
    /// the monitor's own canonical form, which is how the database and the API hand it back.
    private static func probeMonitor(
        _ kind: MonitorKind, from reader: FieldReader
    ) throws(MonitorValidationError) -> ValidatedMonitor {
        let id = try reader.string("id", required: true)!
        let monitor = Monitor.probe(
            id: id,
            kind: kind,
            intervalSeconds: try reader.number("intervalSeconds") ?? Monitor.defaultIntervalSeconds,
            timeoutMs: try reader.integer("timeoutMs") ?? Monitor.defaultTimeoutMs,
            connectTimeoutMs: try reader.integer("connectTimeoutMs"),
            host: try reader.string("host"),
            port: try reader.integer("port"),
            send: try reader.string("send"),
            expect: try reader.string("expect"),
            dnsName: try reader.string("name"),
            recordType: try reader.recordType("recordType") ?? .A,
            dnsServer: try reader.string("server"),
            expectedValues: try reader.stringList("expectedValues") ?? [],
            certMinDaysLeft: try reader.integer("certMinDaysLeft") ?? Monitor.defaultCertMinDaysLeft,
            verifyTLS: try reader.bool("verifyTLS") ?? true
        )
        let validated = try monitor.validate()
        if let url = try reader.string("url"), url != monitor.url {
            throw MonitorValidationError(
                field: "url",
                reason: "a \(kind.rawValue) monitor has no url of its own (it is \(monitor.url)): remove it")
        }
        return validated
    }
}

extension MonitorFile {
    /// The known key `key` was probably meant to be (case-insensitive): the nearest by edit
    /// distance when it is a typo away (at most 2 edits, and fewer than half the key's length),
    /// else one that starts with it (`interval` → `intervalSeconds`); nil when none is close.
    static func closestKnownKey(to key: String) -> String? {
        let typed = Array(key.lowercased().utf8)
        var best: (key: String, distance: Int)?
        for known in knownKeys.sorted() {
            let distance = editDistance(typed, Array(known.lowercased().utf8))
            if distance < (best?.distance ?? Int.max) { best = (known, distance) }
        }
        if let best, best.distance <= 2, best.distance * 2 < typed.count { return best.key }
        guard typed.count >= 4 else { return nil }
        return knownKeys.sorted().first { Array($0.lowercased().utf8).starts(with: typed) }
    }

    /// Levenshtein distance with adjacent transpositions (optimal string alignment).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}

/// Typed access to a decoded JSON object with errors that name the field.
struct FieldReader {
    let fields: [String: Any]

    private func fail(_ key: String, _ reason: String) -> MonitorValidationError {
        MonitorValidationError(field: key, reason: reason)
    }

    private func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return JSONValueKind.isBoolean(number)
    }

    func string(_ key: String, required: Bool = false) throws(MonitorValidationError) -> String? {
        guard let value = fields[key], !(value is NSNull) else {
            if required { throw fail(key, "is required") }
            return nil
        }
        guard let string = value as? String else { throw fail(key, "must be a string") }
        return string
    }

    /// An HTTP method, written as HTTP writes it (upper case): `"get"` is refused with the fix
    /// rather than changed silently.
    func method(_ key: String) throws(MonitorValidationError) -> String? {
        guard let method = try string(key) else { return nil }
        let upper = method.uppercased()
        if method != upper && Monitor.allowedMethods.contains(upper) {
            throw fail(key, "'\(method)' must be written in capitals: \"\(upper)\"")
        }
        return method
    }

    /// `"1.1"`, `"2"` or `"auto"`, as a string (a bare `2` or `1.1` is refused with the fix: the
    /// number 1.1 would not survive every JSON reader as written).
    func httpVersion(_ key: String) throws(MonitorValidationError) -> MonitorHTTPVersion? {
        // Spelled out only for a refusal: read for every line of a million-monitor file.
        var choices: String { MonitorHTTPVersion.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
        if let value = fields[key], value is NSNumber, !isBoolean(value) {
            throw fail(key, "must be a string: one of \(choices)")
        }
        guard let text = try string(key) else { return nil }
        guard let version = MonitorHTTPVersion(rawValue: text) else {
            throw fail(key, "'\(text)' is not one of \(choices)")
        }
        return version
    }

    /// The monitor type, written in lower case as the README spells it.
    func kind(_ key: String) throws(MonitorValidationError) -> MonitorKind? {
        guard let text = try string(key) else { return nil }
        if let kind = MonitorKind(rawValue: text) { return kind }
        let names = MonitorKind.allCases.map(\.rawValue).joined(separator: ", ")
        if let kind = MonitorKind(rawValue: text.lowercased()) {
            throw fail(key, "'\(text)' must be written in lower case: \"\(kind.rawValue)\"")
        }
        throw fail(key, "'\(text)' is not a monitor type: use one of \(names)")
    }

    /// A DNS record type, written in capitals as zone files and `dig` write it.
    func recordType(_ key: String) throws(MonitorValidationError) -> DNSRecordType? {
        guard let text = try string(key) else { return nil }
        if let type = DNSRecordType(rawValue: text) { return type }
        let names = DNSRecordType.allCases.map(\.rawValue).joined(separator: ", ")
        if let type = DNSRecordType(rawValue: text.uppercased()) {
            throw fail(key, "'\(text)' must be written in capitals: \"\(type.rawValue)\"")
        }
        throw fail(key, "'\(text)' is not supported: use one of \(names)")
    }

    /// A string or a list of strings: `"1.2.3.4"` or `["1.2.3.4", "5.6.7.8"]`.
    func stringList(_ key: String) throws(MonitorValidationError) -> [String]? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        if let single = value as? String { return [single] }
        guard let items = value as? [Any] else { throw fail(key, "must be a string or a list of strings") }
        var result: [String] = []
        for item in items {
            guard let text = item as? String else { throw fail(key, "must be a string or a list of strings") }
            result.append(text)
        }
        return result
    }

    func number(_ key: String) throws(MonitorValidationError) -> Double? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(value) else { throw fail(key, "must be a number") }
        return number.doubleValue
    }

    func integer(_ key: String) throws(MonitorValidationError) -> Int? {
        guard let value = try number(key) else { return nil }
        guard value.rounded() == value, let integer = Int(exactly: value) else {
            throw fail(key, "must be a whole number")
        }
        return integer
    }

    func bool(_ key: String) throws(MonitorValidationError) -> Bool? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard isBoolean(value), let number = value as? NSNumber else { throw fail(key, "must be true or false") }
        return number.boolValue
    }

    func stringDictionary(_ key: String) throws(MonitorValidationError) -> [String: String]? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw fail(key, "must be an object of strings") }
        var result: [String: String] = [:]
        for (name, item) in object {
            guard let text = item as? String else { throw fail(key, "value of '\(name)' must be a string") }
            result[name] = text
        }
        return result
    }

    /// A status or list of statuses: `200` or `[200, 204]`.
    func statusList(_ key: String) throws(MonitorValidationError) -> [Int]? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        let items: [Any] = (value as? [Any]) ?? [value]
        var result: [Int] = []
        for item in items {
            guard let number = item as? NSNumber, !isBoolean(item), let status = Int(exactly: number.doubleValue) else {
                throw fail(key, "must be a status code or a list of status codes")
            }
            result.append(status)
        }
        return result
    }

    /// Strings as they are; numbers and booleans as their JSON text (so `"jsonEquals": true` works).
    func scalarText(_ key: String) throws(MonitorValidationError) -> String? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        if let string = value as? String { return string }
        if value is NSNumber { return JSONPath.render(value) }
        throw fail(key, "must be a string, number or boolean")
    }
}

/// Telling JSON booleans from numbers after `JSONSerialization`, which hands both over as `NSNumber`.
enum JSONValueKind {
    static func isBoolean(_ number: NSNumber) -> Bool {
        #if canImport(Darwin)
        return CFGetTypeID(number) == CFBooleanGetTypeID()
        #else
        // swift-corelibs-foundation boxes JSON booleans as NSNumber(value: Bool), whose objCType is "c"
        // while JSON integers and floats are "q" / "d".
        return String(cString: number.objCType) == "c"
        #endif
    }
}
