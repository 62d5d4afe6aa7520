import Foundation

/// A deliberately small JSON path: `$`, then `.name`, `["name"]` or `[index]` steps.
/// Enough for health endpoints (`$.status`, `$.checks[0].ok`); no wildcards or filters.
public struct JSONPath: Sendable, Equatable {
    /// One step of a path: an object key or an array index.
    public enum Step: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// A path that is not of the supported form.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What is wrong, for a person.
        public var description: String
    }

    /// The steps, in order.
    public let steps: [Step]

    /// Parses `$.a.b[0].c`.
    public init(_ text: String) throws(ParseError) {
        var characters = Substring(text)
        guard characters.first == "$" else {
            throw ParseError(description: "must start with '$' (for example $.status)")
        }
        characters = characters.dropFirst()
        var steps: [Step] = []
        while let first = characters.first {
            if first == "." {
                characters = characters.dropFirst()
                let name = characters.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw ParseError(description: "empty name after '.'") }
                steps.append(.key(String(name)))
                characters = characters.dropFirst(name.count)
            } else if first == "[" {
                guard let close = characters.firstIndex(of: "]") else { throw ParseError(description: "missing ']'") }
                let inner = characters[characters.index(after: characters.startIndex)..<close]
                if inner.count >= 2, let quote = inner.first, quote == "\"" || quote == "'", inner.last == quote {
                    steps.append(.key(String(inner.dropFirst().dropLast())))
                } else if !inner.isEmpty, inner.allSatisfy(\.isASCIIDigit), let index = Int(inner) {
                    steps.append(.index(index))
                } else {
                    throw ParseError(description: "'[\(inner)]' must be a non-negative index or a quoted name")
                }
                characters = characters[characters.index(after: close)...]
            } else {
                throw ParseError(description: "unexpected '\(first)'; use .name or [index]")
            }
        }
        self.steps = steps
    }

    /// The value at this path in `document` rendered as text (strings without quotes, numbers,
    /// `true`/`false`, `null`, or compact JSON for objects and arrays); nil when the path is absent.
    public func textValue(in document: Any) -> String? {
        var current: Any = document
        for step in steps {
            switch step {
            case .key(let name):
                guard let object = current as? [String: Any], let next = object[name] else { return nil }
                current = next
            case .index(let index):
                guard let array = current as? [Any], index < array.count else { return nil }
                current = array[index]
            }
        }
        return JSONPath.render(current)
    }

    static func render(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let string as String: return string
        case let number as NSNumber:
            if JSONValueKind.isBoolean(number) { return number.boolValue ? "true" : "false" }
            if let exact = Int64(exactly: number.doubleValue), number.doubleValue.rounded() == number.doubleValue {
                return String(exact)
            }
            return String(number.doubleValue)
        default:
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return String(describing: value)
        }
    }
}
