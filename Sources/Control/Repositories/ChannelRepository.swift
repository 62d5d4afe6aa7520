import Foundation
import Hummingbird
import PostgresNIO

/// A notification channel as the API shows it: its secret (bot token, signing secret) only as
/// its last four characters.
struct ChannelResource: Sendable, Equatable, ResponseEncodable {
    var id: Int64
    var type: String
    var name: String
    var enabled: Bool
    /// Non-secret settings, plus the masked secret under its field name.
    var config: [String: ChannelConfigValue]
    /// `ok`, or `failing` once a delivery failed permanently (until one succeeds again).
    var status: String
    var lastError: String?
    var failingSince: Date?
    var lastDeliveredAt: Date?
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, type, name, enabled, config, status, lastError, failingSince, lastDeliveredAt, createdAt, updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encode(name, forKey: .name)
        try container.encode(enabled, forKey: .enabled)
        try container.encode(config, forKey: .config)
        try container.encode(status, forKey: .status)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(failingSince, forKey: .failingSince)
        try container.encode(lastDeliveredAt, forKey: .lastDeliveredAt)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// A value of a channel's `config`: text or a list of addresses.
enum ChannelConfigValue: Sendable, Equatable, Encodable {
    case text(String)
    case list([String])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .list(let list): try container.encode(list)
        }
    }
}

/// What is stored for a channel.
struct ChannelRecord: Sendable {
    var kind: ChannelKind
    var name: String
    var enabled: Bool
    /// `notification_channels.config` (JSON object text).
    var configJSON: String
    var sealedSecret: SecretBox.Sealed?
}

/// Notification channels (`notification_channels`). Every method but `deliveryTarget` takes the
/// owner's id.
struct ChannelRepository: Sendable {
    let database: Database
    let secrets: SecretBox

    private static let select = """
        SELECT id, kind, name, enabled, config::text AS config, secret_ciphertext, secret_key_id, failing_since,
               last_error, last_delivered_at, created_at, updated_at
        FROM notification_channels
        """

    func create(ownerId: Int64, record: ChannelRecord) async throws -> ChannelResource {
        guard
            let id = try await database.values(
                """
                INSERT INTO notification_channels (owner_id, kind, name, config, secret_ciphertext, secret_key_id, enabled)
                VALUES (\(ownerId), \(record.kind.rawValue), \(record.name), \(record.configJSON)::jsonb,
                    \(record.sealedSecret.map { ByteBuffer(bytes: $0.ciphertext) }), \(record.sealedSecret?.keyId),
                    \(record.enabled))
                RETURNING id
                """,
                as: Int64.self
            ).first,
            let created = try await get(ownerId: ownerId, id: id)
        else { throw APIError.unexpected }
        return created
    }

    func list(ownerId: Int64) async throws -> [ChannelResource] {
        try await resources("\(unescaped: Self.select) WHERE owner_id = \(ownerId) ORDER BY id")
    }

    func get(ownerId: Int64, id: Int64) async throws -> ChannelResource? {
        try await resources("\(unescaped: Self.select) WHERE owner_id = \(ownerId) AND id = \(id)").first
    }

    /// The stored record with its secret decrypted (for PATCH merging).
    func stored(ownerId: Int64, id: Int64) async throws -> (record: ChannelRecord, secret: String?)? {
        guard
            let row = try await database.first(
                """
                SELECT kind, name, enabled, config::text, secret_ciphertext, secret_key_id
                FROM notification_channels WHERE owner_id = \(ownerId) AND id = \(id)
                """,
                as: (String, String, Bool, String, ByteBuffer?, String?).self
            ), let kind = ChannelKind(rawValue: row.0)
        else { return nil }
        var secret: String?
        if let ciphertext = row.4, let keyId = row.5 {
            secret = try secrets.openString(Array(ciphertext.readableBytesView), keyId: keyId)
        }
        return (ChannelRecord(kind: kind, name: row.1, enabled: row.2, configJSON: row.3, sealedSecret: nil), secret)
    }

    /// Replaces a channel's settings; a changed channel starts again as `ok`.
    func update(ownerId: Int64, id: Int64, record: ChannelRecord) async throws -> ChannelResource? {
        guard
            try await database.values(
                """
                UPDATE notification_channels SET kind = \(record.kind.rawValue), name = \(record.name),
                    config = \(record.configJSON)::jsonb,
                    secret_ciphertext = \(record.sealedSecret.map { ByteBuffer(bytes: $0.ciphertext) }),
                    secret_key_id = \(record.sealedSecret?.keyId), enabled = \(record.enabled),
                    failing_since = NULL, last_error = NULL, updated_at = now()
                WHERE owner_id = \(ownerId) AND id = \(id)
                RETURNING id
                """,
                as: Int64.self
            ).first != nil
        else { return nil }
        return try await get(ownerId: ownerId, id: id)
    }

    func delete(ownerId: Int64, id: Int64) async throws -> Bool {
        try await database.values(
            "DELETE FROM notification_channels WHERE owner_id = \(ownerId) AND id = \(id) RETURNING id",
            as: Int64.self
        ).first != nil
    }

    /// Queues a test message for the channel; returns the outbox row's id.
    func enqueueTest(ownerId: Int64, id: Int64, maxAttempts: Int) async throws -> Int64? {
        let payload = NotificationPayload(
            event: .channelTest,
            occurredAt: Date(),
            monitorName: "Lookout test notification",
            url: nil,
            status: nil,
            error: nil
        )
        let json = String(decoding: payload.jsonBytes(), as: UTF8.self)
        let key = "channel.test:\(UUID().uuidString.lowercased()):\(id)"
        return try await database.values(
            """
            INSERT INTO notification_outbox (channel_id, event_type, idempotency_key, payload, max_attempts)
            SELECT id, 'channel.test', \(key), \(json)::jsonb, \(maxAttempts)
            FROM notification_channels WHERE owner_id = \(ownerId) AND id = \(id)
            RETURNING id
            """,
            as: Int64.self
        ).first
    }

    /// Where an outbox row of this channel goes: its target with the secret decrypted, or why it
    /// cannot be delivered. Internal to the dispatcher (the row was written for this channel).
    func deliveryTarget(channelId: Int64) async throws -> Result<ChannelTarget, ChannelUnusable>? {
        guard
            let row = try await database.first(
                """
                SELECT kind, enabled, config::text, secret_ciphertext, secret_key_id
                FROM notification_channels WHERE id = \(channelId)
                """,
                as: (String, Bool, String, ByteBuffer?, String?).self
            )
        else { return nil }
        guard row.1 else { return .failure(ChannelUnusable("the channel is disabled")) }
        var secret: String?
        if let ciphertext = row.3, let keyId = row.4 {
            do {
                secret = try secrets.openString(Array(ciphertext.readableBytesView), keyId: keyId)
            } catch {
                return .failure(
                    ChannelUnusable("cannot decrypt the channel's secret (\(error)); was --secret-key changed?"))
            }
        }
        do {
            return .success(try ChannelTarget(kind: row.0, config: Array(row.2.utf8), secret: secret))
        } catch {
            return .failure(ChannelUnusable("the channel's settings are invalid: \(error)"))
        }
    }

    private func resources(_ query: PostgresQuery) async throws -> [ChannelResource] {
        let rows = try await database.client.query(query, logger: database.logger)
        var result: [ChannelResource] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let kind = try cells["kind"].decode(String.self)
            var config: [String: ChannelConfigValue] = [:]
            if let object = try JSONSerialization.jsonObject(with: Data(try cells["config"].decode(String.self).utf8))
                as? [String: Any]
            {
                for (key, value) in object {
                    if let text = value as? String {
                        config[key] = .text(text)
                    } else if let list = value as? [String] {
                        config[key] = .list(list)
                    } else if let number = value as? NSNumber {
                        config[key] = .text(number.stringValue)
                    }
                }
            }
            if let ciphertext = try cells["secret_ciphertext"].decode(ByteBuffer?.self),
                let keyId = try cells["secret_key_id"].decode(String?.self)
            {
                let secret = (try? secrets.openString(Array(ciphertext.readableBytesView), keyId: keyId)) ?? ""
                config[ChannelSecretField.name(for: kind)] = .text(ChannelSecretField.masked(secret))
            }
            let failingSince = try cells["failing_since"].decode(Date?.self)
            result.append(
                ChannelResource(
                    id: try cells["id"].decode(Int64.self),
                    type: kind,
                    name: try cells["name"].decode(String.self),
                    enabled: try cells["enabled"].decode(Bool.self),
                    config: config,
                    status: failingSince == nil ? "ok" : "failing",
                    lastError: try cells["last_error"].decode(String?.self),
                    failingSince: failingSince,
                    lastDeliveredAt: try cells["last_delivered_at"].decode(Date?.self),
                    createdAt: try cells["created_at"].decode(Date.self),
                    updatedAt: try cells["updated_at"].decode(Date.self)
                )
            )
        }
        return result
    }
}

/// Why a queued notification cannot go out at all.
struct ChannelUnusable: Error, Sendable, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where each kind keeps its secret in the API's `config`.
enum ChannelSecretField {
    static func name(for kind: String) -> String {
        switch kind {
        case "telegram": return "botToken"
        case "webhook": return "secret"
        default: return "password"
        }
    }

    /// `••••wxyz`: enough to recognise a secret, never enough to use it.
    static func masked(_ secret: String) -> String {
        guard secret.count > 8 else { return "••••" }
        return "••••" + String(secret.suffix(4))
    }
}
