import Foundation
import Hummingbird
import HummingbirdCore

/// A request's query string read the way browsers write it (`application/x-www-form-urlencoded`,
/// as `URLSearchParams` and HTML forms encode): `+` is a space and `%2B` a plus.
///
/// Hummingbird's `queryParameters` percent-decodes but keeps `+` as it is, so the dashboard's
/// search for two words (`q=Browser+target`) looked for the text "Browser+target" and found
/// nothing. Every route reads its query through this type instead.
struct QueryParameters: Sendable {
    /// In the order of the query string; a repeated name keeps every value.
    let pairs: [(name: String, value: String)]

    init(_ uri: URI) {
        self.init(query: uri.query)
    }

    /// `query` is the text after `?`, as sent.
    init(query: String?) {
        guard let query, !query.isEmpty else {
            pairs = []
            return
        }
        pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { field in
            let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// The first value given for `name` (a later repetition is ignored), or nil when absent.
    func get(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// `+` to a space, then percent-decoding; text that is not valid percent-encoded UTF-8 is
    /// kept as written, for the route's own validation to name it.
    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

extension Request {
    /// The query string, read as a form (see `QueryParameters`).
    var queryParameters: QueryParameters { QueryParameters(uri) }
}
