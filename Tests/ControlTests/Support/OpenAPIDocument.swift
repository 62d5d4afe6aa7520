import Foundation
import Testing

@testable import LookoutControl

/// The OpenAPI document as the tests read it: its operations with their documented statuses,
/// parameters, request schemas and examples, and a small structural check of a JSON value
/// against one of its schemas (types, `required` keys, no undocumented key where
/// `additionalProperties` is false, `enum`/`const`, following `$ref`, `oneOf` and `anyOf`).
/// Formats, patterns and ranges are left to the server's own validation tests.
struct OpenAPIDocument: @unchecked Sendable {
    // @unchecked: an immutable JSONSerialization tree, only read after init.
    let root: [String: Any]

    /// The document kept in the repository (the one the control plane bundles and serves).
    static let repositoryURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // ControlTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()
        .appendingPathComponent("Sources/Control/Resources/openapi.json")

    static func repository() throws -> OpenAPIDocument {
        try OpenAPIDocument(bytes: Array(Data(contentsOf: repositoryURL)))
    }

    init(bytes: [UInt8]) throws {
        root = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// One documented operation.
    struct Operation: @unchecked Sendable, CustomStringConvertible {
        /// Upper-case HTTP method.
        var method: String
        /// The path template (`/api/v1/monitors/{id}`).
        var path: String
        var object: [String: Any]

        var description: String { "\(method) \(path)" }
        var operationId: String { object["operationId"] as? String ?? description }
        /// `security: []`: no token needed.
        var isPublic: Bool { (object["security"] as? [Any])?.isEmpty == true }
        var responses: [String: Any] { object["responses"] as? [String: Any] ?? [:] }
        var statuses: Set<Int> { Set(responses.keys.compactMap { Int($0) }) }
        var requestBody: [String: Any]? {
            (((object["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"])
                as? [String: Any]
        }
        /// The request body's example: a minimal valid request.
        var requestExample: [String: Any]? { requestBody?["example"] as? [String: Any] }
    }

    /// Every operation under `paths`, in path then method order.
    var operations: [Operation] {
        let paths = root["paths"] as? [String: Any] ?? [:]
        var result: [Operation] = []
        for (path, item) in paths {
            for (method, object) in item as? [String: Any] ?? [:] {
                guard let object = object as? [String: Any] else { continue }
                result.append(Operation(method: method.uppercased(), path: path, object: object))
            }
        }
        return result.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    /// Follows `$ref` (local references only) until a plain object.
    func resolve(_ object: [String: Any]) -> [String: Any] {
        var current = object
        var hops = 0
        while let reference = current["$ref"] as? String, reference.hasPrefix("#/"), hops < 20 {
            var node: Any = root
            for part in reference.dropFirst(2).split(separator: "/") {
                node = (node as? [String: Any])?[String(part)] ?? [:]
            }
            current = node as? [String: Any] ?? [:]
            hops += 1
        }
        return current
    }

    /// The operation's parameters, resolved.
    func parameters(of operation: Operation) -> [[String: Any]] {
        (operation.object["parameters"] as? [[String: Any]] ?? []).map(resolve)
    }

    /// The documented response for `status`, resolved: its media type and schema (nil: no body).
    func response(of operation: Operation, status: Int) -> (mediaType: String, schema: [String: Any])? {
        guard let entry = operation.responses[String(status)] as? [String: Any] else { return nil }
        let content = resolve(entry)["content"] as? [String: Any] ?? [:]
        guard let (mediaType, media) = content.first, let media = media as? [String: Any] else { return nil }
        return (mediaType, media["schema"] as? [String: Any] ?? [:])
    }

    /// The properties an object schema may have, merging the options of a `oneOf`/`anyOf`.
    func properties(of schema: [String: Any]) -> [String: [String: Any]] {
        let resolved = resolve(schema)
        var result: [String: [String: Any]] = [:]
        for (key, value) in resolved["properties"] as? [String: Any] ?? [:] {
            result[key] = value as? [String: Any] ?? [:]
        }
        for option in options(of: resolved) {
            result.merge(properties(of: option)) { first, _ in first }
        }
        return result
    }

    /// The JSON types a schema allows (`string`, `integer`, ..., `null`), over all its options.
    func types(of schema: [String: Any]) -> Set<String> {
        let resolved = resolve(schema)
        var result: Set<String> = []
        if let name = resolved["type"] as? String { result.insert(name) }
        if let names = resolved["type"] as? [String] { result.formUnion(names) }
        if resolved["type"] == nil, resolved["const"] is String { result.insert("string") }
        for option in options(of: resolved) { result.formUnion(types(of: option)) }
        return result
    }

    private func options(of schema: [String: Any]) -> [[String: Any]] {
        (schema["oneOf"] as? [[String: Any]] ?? []) + (schema["anyOf"] as? [[String: Any]] ?? [])
    }

    /// What is wrong with `value` against `schema`; empty when it fits.
    func problems(_ value: Any, against schema: [String: Any], at location: String = "$") -> [String] {
        let resolved = resolve(schema)
        let choices = options(of: resolved)
        if !choices.isEmpty {
            var closest: [String]?
            for choice in choices {
                let found = problems(value, against: choice, at: location)
                if found.isEmpty { return [] }
                if closest == nil || found.count < closest!.count { closest = found }
            }
            return closest ?? []
        }
        var names: [String] = []
        if let name = resolved["type"] as? String { names = [name] }
        if let list = resolved["type"] as? [String] { names = list }
        if !names.isEmpty, !names.contains(where: { Self.value(value, isOfType: $0) }) {
            return [
                "\(location): \(Self.typeName(of: value)) where the document says \(names.joined(separator: " or "))"
            ]
        }
        if let constant = resolved["const"], !Self.equal(constant, value) {
            return ["\(location): \(value) is not \(constant)"]
        }
        if let allowed = resolved["enum"] as? [Any], !allowed.contains(where: { Self.equal($0, value) }) {
            return ["\(location): \(value) is not one of \(allowed)"]
        }
        var found: [String] = []
        if let object = value as? [String: Any] {
            let properties = resolved["properties"] as? [String: Any] ?? [:]
            for key in resolved["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(location): required key '\(key)' is missing")
            }
            for (key, item) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] as? [String: Any] {
                    found += problems(item, against: property, at: "\(location).\(key)")
                } else if let additional = resolved["additionalProperties"] as? [String: Any] {
                    found += problems(item, against: additional, at: "\(location).\(key)")
                } else if resolved["additionalProperties"] as? Bool == false {
                    found.append("\(location): key '\(key)' is not documented")
                }
            }
        }
        if let array = value as? [Any], let items = resolved["items"] as? [String: Any] {
            for (index, item) in array.enumerated() {
                found += problems(item, against: items, at: "\(location)[\(index)]")
            }
        }
        return found
    }

    static func value(_ value: Any, isOfType name: String) -> Bool {
        switch name {
        case "null": return value is NSNull
        case "string": return value is String
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "boolean":
            guard let number = value as? NSNumber else { return false }
            return JSONNumberKind.isBoolean(number)
        case "number":
            guard let number = value as? NSNumber else { return false }
            return !JSONNumberKind.isBoolean(number)
        case "integer":
            guard let number = value as? NSNumber, !JSONNumberKind.isBoolean(number) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        default: return false
        }
    }

    static func typeName(of value: Any) -> String {
        for name in ["null", "string", "object", "array", "boolean", "integer", "number"]
        where Self.value(value, isOfType: name) {
            return name
        }
        return "\(type(of: value))"
    }

    static func equal(_ left: Any, _ right: Any) -> Bool {
        switch (left, right) {
        case (is NSNull, is NSNull): return true
        case (let left as String, let right as String): return left == right
        case (let left as NSNumber, let right as NSNumber): return left == right
        default: return false
        }
    }
}
