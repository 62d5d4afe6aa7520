import Crypto
import Foundation
import Hummingbird

/// `/notification-channels`: CRUD and `POST /{id}/test`. Secrets (bot token, webhook signing
/// secret) are encrypted at rest and shown only masked; a webhook created without a secret
/// gets a generated one, returned once in `signingSecret`.
struct ChannelController: Sendable {
    let channels: ChannelRepository
    let secrets: SecretBox
    let signal: OutboxSignal
    let database: Database
    let allowPrivateTargets: Bool
    let maxAttempts: Int
    let deliveryTimeoutMilliseconds: Int
    let bodyLimit: Int

    static let fields: Set<String> = ["type", "name", "config", "enabled"]

    struct Created: ResponseEncodable {
        var channel: ChannelResource
        /// A generated webhook signing secret: shown now and never again.
        var signingSecret: String?

        enum CodingKeys: String, CodingKey { case channel, signingSecret }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(channel, forKey: .channel)
            try container.encode(signingSecret, forKey: .signingSecret)
        }
    }

    struct TestResult: ResponseEncodable {
        var outboxId: Int64
        /// `delivered`, `failed`, or `pending` (still retrying or not attempted yet).
        var state: String
        var delivered: Bool
        var attempts: Int
        var lastStatus: Int?
        var lastError: String?

        enum CodingKeys: String, CodingKey { case outboxId, state, delivered, attempts, lastStatus, lastError }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(outboxId, forKey: .outboxId)
            try container.encode(state, forKey: .state)
            try container.encode(delivered, forKey: .delivered)
            try container.encode(attempts, forKey: .attempts)
            try container.encode(lastStatus, forKey: .lastStatus)
            try container.encode(lastError, forKey: .lastError)
        }
    }

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("notification-channels", use: list)
        group.post("notification-channels", use: create)
        group.get("notification-channels/{id}", use: get)
        group.put("notification-channels/{id}") { request, context in try await change(request, context, replace: true)
        }
        group.patch("notification-channels/{id}") { request, context in
            try await change(request, context, replace: false)
        }
        group.delete("notification-channels/{id}", use: delete)
        group.post("notification-channels/{id}/test", use: test)
    }

    @Sendable func list(_ request: Request, context: ControlRequestContext) async throws -> Page<ChannelResource> {
        Page(data: try await channels.list(ownerId: try context.requireIdentity().userId), nextCursor: nil)
    }

    @Sendable func get(_ request: Request, context: ControlRequestContext) async throws -> ChannelResource {
        let identity = try context.requireIdentity()
        guard let channel = try await channels.get(ownerId: identity.userId, id: try PathID.parse(context, "id")) else {
            throw APIError.notFound("notification channel")
        }
        return channel
    }

    @Sendable func create(_ request: Request, context: ControlRequestContext) async throws -> EditedResponse<Created> {
        let identity = try context.requireIdentity()
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: Self.fields)
        let (record, generated) = try makeRecord(body, current: nil)
        let channel = try await channels.create(ownerId: identity.userId, record: record)
        return EditedResponse(status: .created, response: Created(channel: channel, signingSecret: generated))
    }

    private func change(
        _ request: Request, _ context: ControlRequestContext, replace: Bool
    ) async throws
        -> ChannelResource
    {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: Self.fields)
        guard let current = try await channels.stored(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("notification channel")
        }
        let (record, _) = try makeRecord(body, current: replace ? nil : current, keepingSecret: current.secret)
        guard let updated = try await channels.update(ownerId: identity.userId, id: id, record: record) else {
            throw APIError.notFound("notification channel")
        }
        return updated
    }

    @Sendable func delete(_ request: Request, context: ControlRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        guard try await channels.delete(ownerId: identity.userId, id: try PathID.parse(context, "id")) else {
            throw APIError.notFound("notification channel")
        }
        return Response(status: .noContent)
    }

    /// Queues a test message through the outbox (the same path as real notifications) and
    /// waits for its first attempt: 200 with the outcome, or 202 when no dispatcher answered in
    /// time (it is still queued).
    @Sendable func test(_ request: Request, context: ControlRequestContext) async throws -> EditedResponse<TestResult> {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard let outboxId = try await channels.enqueueTest(ownerId: identity.userId, id: id, maxAttempts: maxAttempts)
        else { throw APIError.notFound("notification channel") }
        signal.notify()
        let deadline = ContinuousClock.now + .milliseconds(deliveryTimeoutMilliseconds + 3_000)
        while true {
            let row = try await database.first(
                """
                SELECT state, attempts, last_status, last_error FROM notification_outbox WHERE id = \(outboxId)
                """,
                as: (String, Int, Int?, String?).self
            )
            guard let row else { throw APIError.notFound("notification channel") }
            let attempted = row.0 == "delivered" || row.0 == "failed" || (row.0 == "pending" && row.1 > 0)
            if attempted || ContinuousClock.now >= deadline {
                let state = row.0 == "delivering" ? "pending" : row.0
                return EditedResponse(
                    status: attempted ? .ok : .accepted,
                    response: TestResult(
                        outboxId: outboxId,
                        state: state,
                        delivered: row.0 == "delivered",
                        attempts: row.1,
                        lastStatus: row.2,
                        lastError: row.3
                    )
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The stored form of a body. `current` (PATCH) supplies what the body omits.
    private func makeRecord(
        _ body: JSONObject,
        current: (record: ChannelRecord, secret: String?)?,
        keepingSecret oldSecret: String? = nil
    ) throws(APIError) -> (ChannelRecord, generatedSecret: String?) {
        let kindText = try body.string("type", required: current == nil) ?? current?.record.kind.rawValue ?? ""
        guard let kind = ChannelKind(rawValue: kindText) else {
            throw APIError.validation("type must be email, telegram or webhook", field: "type")
        }
        let name =
            try body.string("name")?.trimmingCharacters(in: .whitespacesAndNewlines)
            ?? current?.record.name ?? kind.rawValue
        guard (1...100).contains(name.count) else {
            throw APIError.validation("name must be 1 to 100 characters", field: "name")
        }
        let enabled = try body.bool("enabled") ?? current?.record.enabled ?? true
        var stored: [String: Any] = [:]
        if let current, current.record.kind == kind,
            let object = try? JSONSerialization.jsonObject(with: Data(current.record.configJSON.utf8)) as? [String: Any]
        {
            stored = object
        }
        let secretField = ChannelSecretField.name(for: kind.rawValue)
        var secret = current?.record.kind == kind ? oldSecret : nil
        if let config = try body.object("config") {
            let allowed: Set<String>
            switch kind {
            case .email: allowed = ["to"]
            case .telegram: allowed = ["chatId", "botToken"]
            case .webhook: allowed = ["url", "secret"]
            }
            try config.refuseUnknown(allowed: allowed)
            for (key, value) in config.fields {
                if key == secretField {
                    guard let text = value as? String else {
                        throw APIError.validation("config.\(key) must be a string", field: "config.\(key)")
                    }
                    secret = text
                } else if value is NSNull {
                    stored.removeValue(forKey: key)
                } else {
                    stored[key] = value
                }
            }
        } else if current == nil {
            throw APIError.validation("config is required", field: "config")
        }
        var generated: String?
        if kind == .webhook && (secret ?? "").isEmpty {
            let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            secret = "whsec_" + bytes.map { String(format: "%02x", $0) }.joined()
            generated = secret
        }
        let to: [String]? = (stored["to"] as? String).map { [$0] } ?? (stored["to"] as? [String])
        if stored["to"] != nil && to == nil {
            throw APIError.validation("config.to must be an address or a list of addresses", field: "config.to")
        }
        var chatId = stored["chatId"] as? String
        if let number = stored["chatId"] as? NSNumber, let integer = JSONNumberKind.integer(number) {
            chatId = String(integer)
        }
        if stored["chatId"] != nil && chatId == nil {
            throw APIError.validation("config.chatId must be a chat id or an @channel name", field: "config.chatId")
        }
        let url = stored["url"] as? String
        if stored["url"] != nil && url == nil {
            throw APIError.validation("config.url must be a string", field: "config.url")
        }
        let target: ChannelTarget
        do {
            target = try ChannelTarget(kind: kind, to: to, chatId: chatId, url: url, secret: secret)
        } catch {
            throw APIError.validation("\(error.field) \(error.reason)", field: error.field)
        }
        if case .webhook(let url, _) = target {
            try PublicTarget.check(url, field: "config.url", allowPrivate: allowPrivateTargets)
        }
        var normalised: [String: Any] = [:]
        switch target {
        case .email(let addresses): normalised["to"] = addresses
        case .telegram(let chatId, _): normalised["chatId"] = chatId
        case .webhook(let url, _): normalised["url"] = url
        }
        let configData =
            (try? JSONSerialization.data(withJSONObject: normalised, options: [.sortedKeys])) ?? Data("{}".utf8)
        var sealed: SecretBox.Sealed?
        if let secret, !secret.isEmpty, kind != .email {
            do { sealed = try secrets.seal(secret) } catch { throw APIError.unexpected }
        }
        return (
            ChannelRecord(
                kind: kind,
                name: name,
                enabled: enabled,
                configJSON: String(decoding: configData, as: UTF8.self),
                sealedSecret: sealed
            ),
            generated
        )
    }
}
