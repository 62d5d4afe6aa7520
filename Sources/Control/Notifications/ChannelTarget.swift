import Foundation

/// The kinds of notification channel (`notification_channels.kind`).
enum ChannelKind: String, Codable, Sendable, CaseIterable {
    case email
    case telegram
    case webhook
}

/// Where one notification goes: a channel's kind, its non-secret configuration and its
/// decrypted secret. The outbox dispatcher builds it from a `notification_channels` row with
/// `init(kind:config:secret:)` and hands it to `Notifier.deliver`, knowing nothing else of it.
enum ChannelTarget: Sendable, Equatable {
    /// E-mail to one or more addresses (config `{"to": "ops@example.com"}`, a comma-separated
    /// list or an array). No secret: the SMTP server is the operator's (`--smtp-url`).
    case email(to: [String])
    /// A Telegram chat (config `{"chatId": -100123…}` or `"@channel"`); the secret is the bot token.
    case telegram(chatId: String, botToken: String)
    /// An HTTP(S) endpoint (config `{"url": "https://…"}`); the secret, when there is one, signs
    /// every request (`X-Lookout-Signature`).
    case webhook(url: String, signingSecret: String?)

    var kind: ChannelKind {
        switch self {
        case .email: return .email
        case .telegram: return .telegram
        case .webhook: return .webhook
        }
    }

    /// Builds a target from a channel row: `kind` (`email`, `telegram`, `webhook`), `config` (the
    /// jsonb, what is not secret) and `secret` (decrypted by `SecretBox`; nil when none is stored).
    init(kind: String, config: some DataProtocol, secret: String?) throws(ChannelTargetError) {
        guard let kind = ChannelKind(rawValue: kind) else {
            throw ChannelTargetError(
                field: "type",
                reason: "'\(kind)' is not a channel type (email, telegram, webhook)"
            )
        }
        let fields: ConfigFields
        do {
            fields = try JSONDecoder().decode(ConfigFields.self, from: Data(config))
        } catch {
            throw ChannelTargetError(field: "config", reason: "must be a JSON object with the channel's settings")
        }
        try self.init(kind: kind, to: fields.to?.values, chatId: fields.chatId?.text, url: fields.url, secret: secret)
    }

    /// Builds a target from configuration values: `to` for e-mail (each item may itself be a
    /// comma-separated list), `chatId` for Telegram, `url` for webhooks.
    init(
        kind: ChannelKind,
        to: [String]? = nil,
        chatId: String? = nil,
        url: String? = nil,
        secret: String?
    ) throws(ChannelTargetError) {
        switch kind {
        case .email:
            let addresses = (to ?? []).flatMap { $0.split(separator: ",") }.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            self = .email(to: try Self.validatedAddresses(addresses))
        case .telegram:
            guard let chatId = chatId?.trimmingCharacters(in: .whitespaces), !chatId.isEmpty else {
                throw ChannelTargetError(field: "config.chatId", reason: "is required: a chat id or @channel name")
            }
            guard Self.isValidChatId(chatId) else {
                throw ChannelTargetError(
                    field: "config.chatId",
                    reason: "must be a numeric chat id or an @channel name"
                )
            }
            guard let secret, !secret.isEmpty else {
                throw ChannelTargetError(field: "config.botToken", reason: "is required: the bot token from @BotFather")
            }
            guard Self.isValidBotToken(secret) else {
                throw ChannelTargetError(
                    field: "config.botToken",
                    reason: "does not look like a bot token (123456:ABC-…)"
                )
            }
            self = .telegram(chatId: chatId, botToken: secret)
        case .webhook:
            guard let url else {
                throw ChannelTargetError(field: "config.url", reason: "is required: an http:// or https:// URL")
            }
            guard Self.isValidWebhookURL(url) else {
                throw ChannelTargetError(field: "config.url", reason: "must be an absolute http:// or https:// URL")
            }
            self = .webhook(url: url, signingSecret: secret.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// The non-secret settings as stored in `notification_channels.config`.
    private struct ConfigFields: Decodable {
        var to: OneOrMany?
        var chatId: TextOrInteger?
        var url: String?
    }

    /// `"a@x, b@y"` or `["a@x", "b@y"]`.
    private struct OneOrMany: Decodable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                values = [one]
            } else {
                values = try container.decode([String].self)
            }
        }
    }

    /// Telegram chat ids are integers (`-1001234567890`) or `@channel` names.
    private struct TextOrInteger: Decodable {
        var text: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self) {
                text = String(number)
            } else {
                text = try container.decode(String.self)
            }
        }
    }

    // MARK: validation (shared with the API's request checks)

    /// 1 … 10 plain ASCII addresses `local@domain` (no display names, no line breaks).
    static func validatedAddresses(_ addresses: [String]) throws(ChannelTargetError) -> [String] {
        let cleaned = addresses.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else {
            throw ChannelTargetError(field: "config.to", reason: "is required: an e-mail address")
        }
        guard cleaned.count <= 10 else { throw ChannelTargetError(field: "config.to", reason: "at most 10 addresses") }
        for address in cleaned where !isValidEmailAddress(address) {
            throw ChannelTargetError(field: "config.to", reason: "'\(address)' is not an e-mail address")
        }
        return cleaned
    }

    static func isValidEmailAddress(_ address: String) -> Bool {
        let bytes = Array(address.utf8)
        guard bytes.count <= 254, let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1 else {
            return false
        }
        // Printable ASCII without spaces, angle brackets, commas, quotes or parentheses.
        let forbidden = Set("<>,;:\"()[]\\ ".utf8)
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) && !forbidden.contains($0) }) else { return false }
        let domain = bytes[(at + 1)...]
        return !domain.contains(UInt8(ascii: "@")) && domain.first != UInt8(ascii: ".")
            && domain.last != UInt8(ascii: ".")
    }

    static func isValidChatId(_ chatId: String) -> Bool {
        if chatId.hasPrefix("@") {
            let name = chatId.utf8.dropFirst()
            return (4...64).contains(name.count)
                && name.allSatisfy {
                    $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0)
                        || (97...122).contains($0)
                }
        }
        return Int64(chatId) != nil
    }

    /// `<bot id>:<secret>`: digits, a colon, then letters, digits, `_` and `-` (it goes in a URL path).
    static func isValidBotToken(_ token: String) -> Bool {
        let parts = token.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (48...57).contains($0) }),
            (10...200).contains(parts[1].utf8.count)
        else { return false }
        return parts[1].utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (48...57).contains($0) || (65...90).contains($0)
                || (97...122).contains($0)
        }
    }

    static func isValidWebhookURL(_ url: String) -> Bool {
        guard url.utf8.count <= 2048, url.utf8.allSatisfy({ (0x21...0x7E).contains($0) }),
            let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return false }
        return true
    }
}

/// A channel configuration that cannot be used, naming the field (`config.to`, ...).
struct ChannelTargetError: Error, Sendable, Equatable, CustomStringConvertible {
    var field: String
    var reason: String
    var description: String { "\(field) \(reason)" }
}
