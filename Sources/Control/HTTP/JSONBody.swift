import Foundation
import Hummingbird
import LookoutCore

/// Reading request bodies: a byte limit per route, JSON that must be an object, unknown fields
/// refused, and every type error reported with the field's name — so a malformed body is a 4xx
/// that says what to fix, never a 500.
enum JSONBody {
    /// The body's bytes, refusing more than `limit` with 413.
    static func bytes(of request: Request, limit: Int) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError.tooLarge(limit: limit)
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.tooLarge(limit: limit)
        }
    }

    /// The body parsed as one JSON value (any kind). Text containing U+0000 is refused here,
    /// once for every route: PostgreSQL's text and jsonb cannot store it.
    static func value(of request: Request, limit: Int) async throws -> Any {
        let data = try await bytes(of: request, limit: limit)
        guard !data.isEmpty else { throw APIError.malformed("the request needs a JSON body") }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(data), options: [.fragmentsAllowed])
        } catch {
            throw APIError.malformed("the body is not valid JSON")
        }
        if let path = firstNulCharacter(in: value, path: "") {
            throw APIError.validation(
                "\(path.isEmpty ? "the body" : path) must not contain U+0000", field: path.isEmpty ? nil : path)
        }
        return value
    }

    /// The path (`name`, `monitors[3].keyword`) of the first key or string holding U+0000.
    static func firstNulCharacter(in value: Any, path: String) -> String? {
        switch value {
        case let text as String:
            return text.unicodeScalars.contains("\u{0}") ? path : nil
        case let object as [String: Any]:
            for (key, item) in object {
                let itemPath = path.isEmpty ? key : path + "." + key
                if key.unicodeScalars.contains("\u{0}") { return itemPath }
                if let found = firstNulCharacter(in: item, path: itemPath) { return found }
            }
            return nil
        case let list as [Any]:
            for (index, item) in list.enumerated() {
                if let found = firstNulCharacter(in: item, path: "\(path)[\(index)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }

    /// The body as a JSON object whose keys are all in `allowed`.
    static func object(of request: Request, limit: Int, allowed: Set<String>) async throws -> JSONObject {
        guard let fields = try await value(of: request, limit: limit) as? [String: Any] else {
            throw APIError.malformed("the body must be a JSON object")
        }
        let object = JSONObject(fields)
        try object.refuseUnknown(allowed: allowed)
        return object
    }
}

/// A decoded JSON object with typed, field-named accessors. Absent and `null` both read as nil;
/// a present value of the wrong type is a 400 naming the field.
struct JSONObject: @unchecked Sendable {
    // @unchecked: holds JSONSerialization's immutable value tree, read-only after init.
    let fields: [String: Any]
    /// Prefix for field names in errors (`items[3].`).
    var path = ""

    init(_ fields: [String: Any], path: String = "") {
        self.fields = fields
        self.path = path
    }

    func has(_ key: String) -> Bool { fields[key] != nil }

    func isNull(_ key: String) -> Bool { fields[key] is NSNull }

    private func name(_ key: String) -> String { path + key }

    func refuseUnknown(allowed: Set<String>) throws(APIError) {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            if key == "ownerId" || key == "userId" {
                throw APIError.validation("\(key) cannot be set: everything you create is yours", field: name(key))
            }
            throw APIError.validation("unknown field '\(key)'", field: name(key))
        }
    }

    private func present(_ key: String) -> Any? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        return value
    }

    func string(_ key: String, required: Bool = false) throws(APIError) -> String? {
        guard let value = present(key) else {
            if required { throw APIError.validation("\(name(key)) is required", field: name(key)) }
            return nil
        }
        guard let text = value as? String else {
            throw APIError.validation("\(name(key)) must be a string", field: name(key))
        }
        return text
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let text = try string(key, required: true) else {
            throw APIError.validation("\(name(key)) is required", field: name(key))
        }
        return text
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard let number = value as? NSNumber, JSONNumberKind.isBoolean(number) else {
            throw APIError.validation("\(name(key)) must be true or false", field: name(key))
        }
        return number.boolValue
    }

    func integer(_ key: String) throws(APIError) -> Int64? {
        guard let value = present(key) else { return nil }
        guard let number = value as? NSNumber, let integer = JSONNumberKind.integer(number) else {
            throw APIError.validation("\(name(key)) must be a whole number", field: name(key))
        }
        return integer
    }

    /// A list of resource ids (`[1, 2]`; ids are positive integers).
    func ids(_ key: String) throws(APIError) -> [Int64]? {
        guard let value = present(key) else { return nil }
        guard let items = value as? [Any] else {
            throw APIError.validation("\(name(key)) must be a list of ids", field: name(key))
        }
        var result: [Int64] = []
        for (index, item) in items.enumerated() {
            guard let number = item as? NSNumber, let id = JSONNumberKind.integer(number), id > 0 else {
                throw APIError.validation(
                    "\(name(key))[\(index)] must be a positive id", field: "\(name(key))[\(index)]")
            }
            result.append(id)
        }
        guard Set(result).count == result.count else {
            throw APIError.validation("\(name(key)) lists an id twice", field: name(key))
        }
        return result
    }

    func object(_ key: String) throws(APIError) -> JSONObject? {
        guard let value = present(key) else { return nil }
        guard let object = value as? [String: Any] else {
            throw APIError.validation("\(name(key)) must be an object", field: name(key))
        }
        return JSONObject(object, path: name(key) + ".")
    }

    /// An RFC 3339 timestamp.
    func date(_ key: String) throws(APIError) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = RFC3339Date.parse(text) else {
            throw APIError.validation(
                "\(name(key)) must be an RFC 3339 time like 2026-12-01T10:00:00Z",
                field: name(key)
            )
        }
        return date
    }
}

/// Telling JSON booleans from numbers after JSONSerialization (both arrive as NSNumber).
enum JSONNumberKind {
    static func isBoolean(_ number: NSNumber) -> Bool {
        #if canImport(Darwin)
        return CFGetTypeID(number) == CFBooleanGetTypeID()
        #else
        return String(cString: number.objCType) == "c"
        #endif
    }

    /// The exact integer of a JSON number: integers as parsed (all 64 bits, never through a
    /// Double), fractional numbers only when they are whole; nil for booleans.
    static func integer(_ number: NSNumber) -> Int64? {
        if isBoolean(number) { return nil }
        switch String(cString: number.objCType) {
        case "q", "l", "i", "s": return number.int64Value
        case "Q", "L", "I", "S":
            return number.uint64Value <= UInt64(Int64.max) ? Int64(number.uint64Value) : nil
        default: return Int64(exactly: number.doubleValue)
        }
    }
}

/// RFC 3339 times as the API writes and reads them (UTC, milliseconds).
enum RFC3339Date {
    static func string(_ date: Date) -> String {
        RFC3339.string(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    static func parse(_ text: String) -> Date? {
        if let millis = RFC3339.parseEpochMilliseconds(text) {
            return Date(timeIntervalSince1970: Double(millis) / 1000)
        }
        // Offsets other than Z.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

/// The encoder of every response body: camelCase as declared, RFC 3339 dates with
/// milliseconds, keys sorted (stable output), slashes unescaped.
enum APIJSON {
    /// Shared: its settings never change after start-up, and encoding keeps no state in it.
    static let encoder = makeEncoder()

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339Date.string(date))
        }
        return encoder
    }
}
