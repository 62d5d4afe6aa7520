import Foundation
import Testing

@testable import LookoutControl

/// Telegram's Bot API, played by a loopback receiver (`--telegram-api-base`).
@Suite("Telegram delivery against a loopback Bot API stand-in")
struct TelegramDeliveryTests {
    static let token = "123456:ABCdefGHIjklMNOpqr_stu-VWX"

    @Test("sendMessage arrives at /bot<token>/sendMessage with the chat, escaped HTML and options")
    func delivered() async throws {
        let api = try FixtureProcess(
            script: "http_receiver.py",
            arguments: [
                "--script", #"{"*": [{"status": 200, "body": "{\"ok\":true,\"result\":{\"message_id\":1}}"}]}"#,
            ]
        )
        defer { api.stop() }
        // The operator's API base is on loopback while user targets are held to the strict policy.
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client, telegramAPIBase: "http://127.0.0.1:\(api.port)")

        let attempt = await notifier.deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-tg",
            to: .telegram(chatId: "-1001234567890", botToken: Self.token)
        )

        #expect(attempt.outcome == .delivered)
        #expect(attempt.channel == .telegram)
        let requests: [ReceivedRequest] = try api.records()
        try #require(requests.count == 1)
        #expect(requests[0].method == "POST")
        #expect(requests[0].path == "/bot\(Self.token)/sendMessage")
        #expect(requests[0].headers["content-type"] == "application/json")
        let body = try #require(JSONSerialization.jsonObject(with: Data(requests[0].body.utf8)) as? [String: Any])
        #expect((body["chat_id"] as? NSNumber)?.int64Value == -1_001_234_567_890)
        #expect(body["parse_mode"] as? String == "HTML")
        #expect(body["disable_web_page_preview"] as? Bool == true)
        let text = try #require(body["text"] as? String)
        #expect(text.contains("<b>Shop &lt;API&gt; &amp; co is DOWN</b>"))
        #expect(text.contains("<code>connect_refused: connection refused: nothing listens on that port</code>"))
        #expect(!text.contains("<API>"))
    }

    @Test("429 with parameters.retry_after is retried after that long; 400 is permanent")
    func rateLimitedThenRefused() async throws {
        let limited =
            #"{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 3\",\"parameters\":{\"retry_after\":3}}"#
        let notFound = #"{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}"#
        let script =
            #"{"*": [{"status": 429, "headers": {"Retry-After": "3"}, "body": "\#(limited)"}, {"status": 400, "body": "\#(notFound)"}]}"#
        let api = try FixtureProcess(script: "http_receiver.py", arguments: ["--script", script])
        defer { api.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client, telegramAPIBase: "http://127.0.0.1:\(api.port)/")
        let target = ChannelTarget.telegram(chatId: "42", botToken: Self.token)

        let first = await notifier.deliver(DeliveryTestSupport.down, idempotencyKey: "k", to: target)
        #expect(first.outcome == .retry(after: 3, reason: "Telegram answered 429: Too Many Requests: retry after 3"))
        #expect(first.status == 429)
        let second = await notifier.deliver(DeliveryTestSupport.down, idempotencyKey: "k", to: target)
        #expect(second.outcome == .permanent(reason: "Telegram answered 400: Bad Request: chat not found"))
        #expect(try api.records(as: ReceivedRequest.self).count == 2)
    }
}
