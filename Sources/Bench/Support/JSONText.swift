import LookoutCore

/// Small helpers to write JSON by hand where Foundation's encoders are too slow (per request on
/// the farm) or would reorder or escape output that tests and scripts match on (the ready line).
enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    static func quoted(_ text: String) -> String { JSONString.quoted(text) }

    /// A JSON object from already-encoded values, keys sorted so output is stable.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    static func array(_ values: [String]) -> String {
        "[" + values.joined(separator: ",") + "]"
    }
}
