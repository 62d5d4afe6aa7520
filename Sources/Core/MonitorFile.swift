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
        /// Why the line was refused.
        public var reason: String
        /// `line N: reason`.
        public var description: String { "line \(line): \(reason)" }
    }

    /// What a file holds: the valid monitors and the refused lines.
    public struct Parsed: Sendable {
        /// The monitors of the valid lines, in file order.
        public var monitors: [Monitor]
        /// Every refused line.
        public var errors: [LineError]
    }

    /// Every key a monitor object may carry; anything else is refused (a typo would otherwise
    /// silently fall back to a default).
    public static let knownKeys: Set<String> = [
        "id", "url", "intervalSeconds", "timeoutMs", "connectTimeoutMs", "method", "headers", "body",
        "expectedStatus", "keyword", "keywordAbsent", "jsonPath", "jsonEquals", "followRedirects",
        "maxRedirects", "verifyTLS", "maxBodyBytes", "lowSpeedBytesPerSecond", "lowSpeedSeconds",
        "reuseConnection",
    ]

    /// Reads a whole file, reporting every bad line.
    public static func parse(_ data: Data) -> Parsed {
        var monitors: [Monitor] = []
        var errors: [LineError] = []
        var seenIds: [String: Int] = [:]
        var lineNumber = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var start = 0
            let count = raw.count
            while start <= count {
                var end = start
                while end < count && raw[end] != UInt8(ascii: "\n") { end += 1 }
                lineNumber += 1
                if start == count { break }
                let line = Data(raw[start..<end])
                start = end + 1
                let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
                if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
                do throws(MonitorValidationError) {
                    let monitor = try parseLine(Data(trimmed))
                    if let first = seenIds[monitor.id] {
                        errors.append(
                            LineError(line: lineNumber, reason: "id '\(monitor.id)' already used on line \(first)"))
                        continue
                    }
                    seenIds[monitor.id] = lineNumber
                    monitors.append(monitor)
                } catch {
                    errors.append(LineError(line: lineNumber, reason: error.description))
                }
            }
        }
        return Parsed(monitors: monitors, errors: errors)
    }

    /// Parses and validates one JSON object.
    public static func parseLine(_ data: Data) throws(MonitorValidationError) -> Monitor {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw MonitorValidationError(field: "line", reason: "not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw MonitorValidationError(field: "line", reason: "must be a JSON object")
        }
        return try monitor(from: fields)
    }

    /// Validates one decoded JSON object (unknown keys refused) into a monitor.
    public static func monitor(from fields: [String: Any]) throws(MonitorValidationError) -> Monitor {
        for key in fields.keys where !knownKeys.contains(key) {
            throw MonitorValidationError(field: key, reason: "unknown field")
        }
        let reader = FieldReader(fields: fields)
        let id = try reader.string("id", required: true)!
        let url = try reader.string("url", required: true)!
        let timeout = try reader.integer("timeoutMs") ?? Monitor.defaultTimeoutMs
        let monitor = Monitor(
            id: id,
            url: url,
            intervalSeconds: try reader.number("intervalSeconds") ?? Monitor.defaultIntervalSeconds,
            timeoutMs: timeout,
            connectTimeoutMs: try reader.integer("connectTimeoutMs"),
            method: (try reader.string("method") ?? "GET").uppercased(),
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
            reuseConnection: try reader.bool("reuseConnection") ?? false
        )
        try monitor.validate()
        return monitor
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
