import Foundation
import LookoutCore
import LookoutFFI

/// A Telegram message through the Bot API: `POST {base}/bot{token}/sendMessage` with
/// `{chat_id, text, parse_mode: "HTML", disable_web_page_preview: true}`, the text HTML-escaped.
/// The API base is the operator's (`--telegram-api-base`), so the target policy does not apply.
///
/// Outcomes: `ok` → delivered; 429 → retry after `parameters.retry_after` (or `Retry-After`);
/// 5xx → retry; 400, 401, 403, 404 and other 4xx → permanent (wrong token, unknown chat, bot
/// blocked), with Telegram's `description`; no connection → retry.
struct TelegramChannel: NotificationChannel {
    var chatId: String
    var botToken: String
    /// `https://api.telegram.org` (no trailing slash needed).
    var apiBase: String
    var timeoutMilliseconds: Int
    var connectTimeoutMilliseconds: Int

    var kind: ChannelKind { .telegram }

    /// Telegram refuses longer messages.
    static let maxTextLength = 4096

    func render(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        now: Date
    ) throws(DeliveryRefusal)
        -> CurlTransferRequest
    {
        guard ChannelTarget.isValidBotToken(botToken) else {
            throw DeliveryRefusal(reason: "the Telegram bot token is malformed (expected 123456:ABC-…)")
        }
        guard ChannelTarget.isValidChatId(chatId) else {
            throw DeliveryRefusal(reason: "the Telegram chat id '\(chatId)' is not a number or @channel name")
        }
        var base = apiBase
        while base.hasSuffix("/") { base.removeLast() }
        let body: [String: TelegramValue] = [
            "chat_id": Int64(chatId).map(TelegramValue.integer) ?? .text(chatId),
            "text": .text(Self.messageText(payload)),
            "parse_mode": .text("HTML"),
            "disable_web_page_preview": .boolean(true),
        ]
        return CurlTransferRequest(
            url: "\(base)/bot\(botToken)/sendMessage",
            method: "POST",
            headers: [
                CurlHeaderField("Content-Type", "application/json"),
                CurlHeaderField("User-Agent", "Lookout-Notifier/1"),
            ],
            body: TelegramValue.object(body),
            timeoutMs: timeoutMilliseconds,
            connectTimeoutMs: connectTimeoutMilliseconds,
            // The operator's Bot API base (the public API, or a local stand-in): not a user target.
            policy: TargetPolicy(allowAll: true)
        )
    }

    func classify(_ response: CurlTransferResponse, now: Date) -> DeliveryOutcome {
        if let failure = response.failure { return .transportFailure(failure, receiver: "Telegram Bot API") }
        let answer = try? JSONDecoder().decode(TelegramAnswer.self, from: Data(response.body))
        let description = answer?.description.map { NotificationSummary.singleLine($0, limit: 300) }
        let said =
            description.map { "Telegram answered \(response.status): \($0)" }
            ?? "Telegram answered \(HTTPAnswer.summary(response))"
        switch response.status {
        case 200...299:
            if answer?.ok == false { return .permanent(reason: said) }
            return .delivered
        case 429:
            let after = answer?.parameters?.retryAfter.map(Double.init) ?? HTTPAnswer.retryAfter(response, now: now)
            return .retry(after: after, reason: said)
        case 500...599:
            return .retry(after: HTTPAnswer.retryAfter(response, now: now), reason: said)
        case 401:
            return .permanent(reason: "\(said) (the bot token was refused)")
        case 403:
            return .permanent(reason: "\(said) (the bot may not write to this chat)")
        case 404:
            return .permanent(reason: "\(said) (wrong bot token or API base)")
        default:
            return .permanent(reason: said)
        }
    }

    /// The message in Telegram's HTML mode: only `&`, `<`, `>` need escaping there.
    static func messageText(_ payload: NotificationPayload) -> String {
        let summary = NotificationSummary(payload)
        let icon: String
        switch payload.event {
        case .monitorDown: icon = "\u{1F534}"
        case .monitorUp: icon = "\u{2705}"
        case .monitorFlapping: icon = "\u{1F7E0}"
        case .monitorStable: icon = "\u{1F7E2}"
        case .channelTest: icon = "\u{1F514}"
        }
        var lines = ["\(icon) <b>\(HTMLText.escape(summary.headline))</b>"]
        for fact in summary.facts where fact.label != "Monitor" {
            let value = HTMLText.escape(fact.value)
            lines.append("\(fact.label): " + (fact.isCode ? "<code>\(value)</code>" : value))
        }
        if let note = summary.note { lines.append("<i>\(HTMLText.escape(note))</i>") }
        let text = lines.joined(separator: "\n")
        // The summary caps every value (name 200, URL 500, error 1,000 characters), so this
        // stays far below Telegram's limit; the headline alone is the safe fallback.
        return text.count <= maxTextLength ? text : lines[0]
    }
}

/// The part of a Bot API answer that matters here.
private struct TelegramAnswer: Decodable {
    struct Parameters: Decodable {
        var retryAfter: Int?
        enum CodingKeys: String, CodingKey { case retryAfter = "retry_after" }
    }
    var ok: Bool?
    var description: String?
    var parameters: Parameters?
}

/// The few JSON values a `sendMessage` body needs, encoded with sorted keys.
enum TelegramValue: Sendable {
    case text(String)
    case integer(Int64)
    case boolean(Bool)

    static func object(_ fields: [String: TelegramValue]) -> [UInt8] {
        var output = "{"
        for (index, key) in fields.keys.sorted().enumerated() {
            if index > 0 { output += "," }
            output += JSONString.quoted(key) + ":"
            switch fields[key]! {
            case .text(let text): output += JSONString.quoted(text)
            case .integer(let value): output += String(value)
            case .boolean(let value): output += value ? "true" : "false"
            }
        }
        return Array((output + "}").utf8)
    }
}
