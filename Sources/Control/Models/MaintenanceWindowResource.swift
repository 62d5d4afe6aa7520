import Foundation
import Hummingbird

/// A maintenance window as its owner sees it: during it, its monitors' state changes are recorded
/// and not notified. Keys are always present.
struct MaintenanceWindowResource: ResponseEncodable, Sendable, Equatable {
    var id: Int64
    var name: String
    var monitorIds: [Int64]
    var startsAt: Date
    var endsAt: Date
    /// `none` or `weekly` (the window comes back every 7 × 24 hours after `startsAt`).
    var repeatRule: String
    /// Whether the window is in force now.
    var active: Bool
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, monitorIds, startsAt, endsAt
        case repeatRule = "repeat"
        case active, createdAt, updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(monitorIds, forKey: .monitorIds)
        try container.encode(startsAt, forKey: .startsAt)
        try container.encode(endsAt, forKey: .endsAt)
        try container.encode(repeatRule, forKey: .repeatRule)
        try container.encode(active, forKey: .active)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// A maintenance window ready to store, read from `POST`, `PUT` or `PATCH /maintenance-windows`.
struct MaintenanceWindowDraft: Sendable, Equatable {
    var name: String
    var monitorIds: [Int64]
    var startsAt: Date
    var endsAt: Date
    var repeatRule: String

    static let writableFields: Set<String> = ["name", "monitorIds", "startsAt", "endsAt", "repeat"]
    /// Fields the server writes: refused with a message that says so.
    static let readOnlyFields: Set<String> = ["id", "active", "createdAt", "updatedAt"]
    static let repeatRules = ["none", "weekly"]
    static let maximumNameLength = 200
    static let maximumMonitors = 10_000
    /// A weekly window lasts at most a week (it would overlap its own next occurrence).
    static let maximumWeeklySeconds: TimeInterval = 7 * 86_400

    /// `POST` and `PUT`: `startsAt` and `endsAt` are required; `name` defaults to "",
    /// `monitorIds` to none and `repeat` to `none`.
    static func read(from body: JSONObject) throws(APIError) -> MaintenanceWindowDraft {
        try refuseReadOnly(body)
        guard let startsAt = try body.date("startsAt") else {
            throw APIError.validation("startsAt is required", field: "startsAt")
        }
        guard let endsAt = try body.date("endsAt") else {
            throw APIError.validation("endsAt is required", field: "endsAt")
        }
        let draft = MaintenanceWindowDraft(
            name: try name(body) ?? "",
            monitorIds: try monitorIds(body),
            startsAt: startsAt,
            endsAt: endsAt,
            repeatRule: try repeatRule(body) ?? "none"
        )
        try draft.validate()
        return draft
    }

    /// `PATCH`: the fields present change, the rest stay; the result is checked as a whole.
    func patched(with body: JSONObject) throws(APIError) -> MaintenanceWindowDraft {
        try Self.refuseReadOnly(body)
        var draft = self
        if body.has("name") { draft.name = try Self.name(body) ?? "" }
        if body.has("monitorIds") { draft.monitorIds = try Self.monitorIds(body) }
        if body.has("startsAt") {
            guard let startsAt = try body.date("startsAt") else {
                throw APIError.validation("startsAt cannot be null", field: "startsAt")
            }
            draft.startsAt = startsAt
        }
        if body.has("endsAt") {
            guard let endsAt = try body.date("endsAt") else {
                throw APIError.validation("endsAt cannot be null", field: "endsAt")
            }
            draft.endsAt = endsAt
        }
        if body.has("repeat") { draft.repeatRule = try Self.repeatRule(body) ?? "none" }
        try draft.validate()
        return draft
    }

    private func validate() throws(APIError) {
        guard endsAt > startsAt else { throw APIError.validation("endsAt must be after startsAt", field: "endsAt") }
        if repeatRule == "weekly", endsAt.timeIntervalSince(startsAt) > Self.maximumWeeklySeconds {
            throw APIError.validation("a weekly window lasts at most 7 days", field: "endsAt")
        }
    }

    private static func refuseReadOnly(_ body: JSONObject) throws(APIError) {
        for key in readOnlyFields.sorted() where body.has(key) {
            throw APIError.validation("\(key) is set by the server and cannot be changed", field: key)
        }
    }

    private static func name(_ body: JSONObject) throws(APIError) -> String? {
        guard let name = try body.string("name")?.trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        guard name.count <= maximumNameLength else {
            throw APIError.validation("name must be at most \(maximumNameLength) characters", field: "name")
        }
        return name
    }

    private static func monitorIds(_ body: JSONObject) throws(APIError) -> [Int64] {
        let ids = try body.ids("monitorIds") ?? []
        guard ids.count <= maximumMonitors else {
            throw APIError.validation("a window covers at most \(maximumMonitors) monitors", field: "monitorIds")
        }
        return ids
    }

    private static func repeatRule(_ body: JSONObject) throws(APIError) -> String? {
        guard let rule = try body.string("repeat") else { return nil }
        guard repeatRules.contains(rule) else {
            throw APIError.validation("repeat must be \"none\" or \"weekly\"", field: "repeat")
        }
        return rule
    }
}
