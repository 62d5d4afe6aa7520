import Foundation
import Hummingbird

/// A status page as its owner sees it. Keys are always present; absent values are `null`.
struct StatusPageResource: ResponseEncodable, Sendable, Equatable {
    var id: Int64
    var title: String
    var slug: String
    var description: String?
    var published: Bool
    /// The monitors it shows, in display order.
    var monitorIds: [Int64]
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, title, slug, description, published, monitorIds, createdAt, updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(title, forKey: .title)
        try container.encode(slug, forKey: .slug)
        try container.encode(description, forKey: .description)
        try container.encode(published, forKey: .published)
        try container.encode(monitorIds, forKey: .monitorIds)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// A status page ready to store, read from `POST`, `PUT` or `PATCH /status-pages`.
struct StatusPageDraft: Sendable, Equatable {
    var title: String
    var slug: String
    var description: String?
    var published: Bool
    var monitorIds: [Int64]

    static let writableFields: Set<String> = ["title", "slug", "description", "published", "monitorIds"]
    /// Fields the server writes: refused with a message that says so.
    static let readOnlyFields: Set<String> = ["id", "createdAt", "updatedAt"]
    static let maximumTitleLength = 200
    static let maximumDescriptionLength = 5_000
    static let maximumMonitors = 500

    /// `POST` and `PUT`: `title` and `slug` are required, the rest take their defaults
    /// (`description` null, `published` true, `monitorIds` empty).
    static func read(from body: JSONObject) throws(APIError) -> StatusPageDraft {
        try refuseReadOnly(body)
        return StatusPageDraft(
            title: try title(body),
            slug: try slug(body),
            description: try description(body),
            published: try body.bool("published") ?? true,
            monitorIds: try monitorIds(body)
        )
    }

    /// `PATCH`: the fields present change (`description: null` clears it), the rest stay.
    func patched(with body: JSONObject) throws(APIError) -> StatusPageDraft {
        try Self.refuseReadOnly(body)
        var draft = self
        if body.has("title") { draft.title = try Self.title(body) }
        if body.has("slug") { draft.slug = try Self.slug(body) }
        if body.has("description") { draft.description = try Self.description(body) }
        if body.has("published") {
            guard let published = try body.bool("published") else {
                throw APIError.validation("published must be true or false", field: "published")
            }
            draft.published = published
        }
        if body.has("monitorIds") { draft.monitorIds = try Self.monitorIds(body) }
        return draft
    }

    /// Whether `slug` is a valid page address: `^[a-z0-9][a-z0-9-]{0,62}$`.
    static func isValidSlug(_ slug: String) -> Bool {
        let bytes = Array(slug.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return isLowerAlphanumeric(bytes[0]) && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    private static func refuseReadOnly(_ body: JSONObject) throws(APIError) {
        for key in readOnlyFields.sorted() where body.has(key) {
            throw APIError.validation("\(key) is set by the server and cannot be changed", field: key)
        }
    }

    private static func title(_ body: JSONObject) throws(APIError) -> String {
        let title = try body.requiredString("title").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...maximumTitleLength).contains(title.count) else {
            throw APIError.validation("title must be 1 to \(maximumTitleLength) characters", field: "title")
        }
        return title
    }

    private static func slug(_ body: JSONObject) throws(APIError) -> String {
        let slug = try body.requiredString("slug")
        guard isValidSlug(slug) else {
            throw APIError.validation(
                "slug must be 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit",
                field: "slug"
            )
        }
        return slug
    }

    private static func description(_ body: JSONObject) throws(APIError) -> String? {
        guard let text = try body.string("description") else { return nil }
        guard text.count <= maximumDescriptionLength else {
            throw APIError.validation(
                "description must be at most \(maximumDescriptionLength) characters",
                field: "description"
            )
        }
        return text
    }

    private static func monitorIds(_ body: JSONObject) throws(APIError) -> [Int64] {
        let ids = try body.ids("monitorIds") ?? []
        guard ids.count <= maximumMonitors else {
            throw APIError.validation("a status page shows at most \(maximumMonitors) monitors", field: "monitorIds")
        }
        return ids
    }
}
