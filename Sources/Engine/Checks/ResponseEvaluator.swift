import Foundation
import LookoutCore

/// Decides UP or DOWN for a complete HTTP answer: expected status first, then keyword
/// present / absent, then the JSON-path assertion. Pure; tested without I/O.
enum ResponseEvaluator {
    struct Verdict: Equatable {
        var status: CheckStatus
        var errorCode: CheckErrorCode?
        var message: String?

        static let up = Verdict(status: .up, errorCode: nil, message: nil)

        static func down(_ code: CheckErrorCode, _ message: String) -> Verdict {
            Verdict(status: .down, errorCode: code, message: message)
        }
    }

    static func evaluate(_ monitor: Monitor, httpStatus: Int, body: [UInt8]) -> Verdict {
        if !monitor.accepts(httpStatus: httpStatus) {
            let expected =
                monitor.expectedStatus.isEmpty
                ? "any 2xx" : monitor.expectedStatus.map(String.init).joined(separator: " or ")
            return .down(.statusMismatch, "HTTP \(httpStatus), expected \(expected)")
        }
        if let keyword = monitor.keyword, !contains(body, Array(keyword.utf8)) {
            return .down(.keywordMissing, "the body does not contain '\(keyword)'")
        }
        if let keyword = monitor.keywordAbsent, contains(body, Array(keyword.utf8)) {
            return .down(.keywordPresent, "the body contains '\(keyword)', which must be absent")
        }
        if let pathText = monitor.jsonPath, let expected = monitor.jsonEquals {
            guard let path = try? JSONPath(pathText) else {
                return .down(.jsonInvalid, "jsonPath '\(pathText)' is invalid")
            }
            guard let document = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
            else {
                return .down(.jsonInvalid, "the body is not valid JSON")
            }
            guard let actual = path.textValue(in: document) else {
                return .down(.jsonMismatch, "\(pathText) is absent from the body")
            }
            if actual != expected {
                return .down(.jsonMismatch, "\(pathText) is '\(actual)', expected '\(expected)'")
            }
        }
        return .up
    }

    /// Naive substring search: bodies are capped (1 MiB by default) and keywords short.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        let lastStart = haystack.count - needle.count
        return haystack.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                var index = 0
                while index <= lastStart {
                    if hay[index] == first {
                        var matched = 1
                        while matched < pin.count && hay[index + matched] == pin[matched] { matched += 1 }
                        if matched == pin.count { return true }
                    }
                    index += 1
                }
                return false
            }
        }
    }
}
