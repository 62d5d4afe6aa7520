import Foundation
import LookoutCore
import LookoutFFI
import Testing

@testable import LookoutControl

/// Rendering and classification of every channel, without I/O.
@Suite("Notification channels: rendering and classification")
struct ChannelRenderingTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let down = NotificationPayload(
        event: .monitorDown,
        occurredAt: Date(timeIntervalSince1970: 1_699_999_990.25),
        monitorId: 42,
        monitorName: "Shop <b>API</b> & co",
        url: "https://shop.example.com/health?x=1&y=2",
        status: .down,
        incidentId: 7,
        error: "connect_refused: connection refused: nothing listens on that port"
    )

    static func response(
        _ status: Int,
        headers: [(String, String)] = [],
        body: String = "",
        failure: CurlTransferFailure? = nil
    ) -> CurlTransferResponse {
        CurlTransferResponse(
            status: status,
            headers: headers.map { CurlHeaderField($0.0, $0.1) },
            body: Array(body.utf8),
            failure: failure
        )
    }

    // MARK: webhook

    @Test("webhook: POST of the payload JSON with the documented headers and signature")
    func webhookRequest() throws {
        let channel = WebhookChannel(
            url: "https://hooks.example.com/lookout",
            signingSecret: "whsec_test",
            timeoutMilliseconds: 15_000,
            connectTimeoutMilliseconds: 5_000
        )
        let request = try channel.render(Self.down, idempotencyKey: "outbox-17", now: Self.now)
        #expect(request.url == "https://hooks.example.com/lookout")
        #expect(request.method == "POST")
        #expect(request.body == Self.down.jsonBytes())
        #expect(request.policy == nil, "webhooks are held to the configured target policy")
        #expect(request.mail == nil)
        let headers = Dictionary(uniqueKeysWithValues: request.headers.map { ($0.name, $0.value) })
        #expect(headers["Content-Type"] == "application/json")
        #expect(headers["User-Agent"] == "Lookout-Webhook/1")
        #expect(headers["Idempotency-Key"] == "outbox-17")
        #expect(headers["X-Lookout-Event"] == "monitor.down")
        #expect(headers["X-Lookout-Timestamp"] == "1700000000")
        let signature = try #require(headers["X-Lookout-Signature"])
        #expect(
            signature == WebhookChannel.signature(secret: "whsec_test", timestamp: "1700000000", body: request.body)
        )
        // Known answer, computed with Python's hmac module.
        #expect(
            WebhookChannel.signature(secret: "whsec_test", timestamp: "1700000000", body: Array(#"{"a":1}"#.utf8))
                == "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        )
        let unsigned = WebhookChannel(
            url: "http://10.0.0.1/x",
            signingSecret: nil,
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        #expect(
            try !unsigned.render(Self.down, idempotencyKey: "k", now: Self.now).headers.contains {
                $0.name == "X-Lookout-Signature"
            }
        )
    }

    @Test("webhook: an idempotency key with unsafe bytes is sent percent-encoded, the same every time")
    func webhookKeyEncoding() throws {
        let channel = WebhookChannel(
            url: "https://h.example.com/",
            signingSecret: nil,
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        let key = "incident 7:down\r\nX-Evil: 1"
        let first = try channel.render(Self.down, idempotencyKey: key, now: Self.now)
        let second = try channel.render(Self.down, idempotencyKey: key, now: Self.now.addingTimeInterval(60))
        let value = try #require(first.headers.first { $0.name == "Idempotency-Key" }?.value)
        #expect(value == "incident%207:down%0D%0AX-Evil:%201")
        #expect(second.headers.first { $0.name == "Idempotency-Key" }?.value == value)
    }

    @Test("webhook: 2xx delivered; 408/425/429/5xx retry with Retry-After; 3xx and other 4xx permanent")
    func webhookClassification() {
        let channel = WebhookChannel(
            url: "https://h.example.com/",
            signingSecret: nil,
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        let now = Self.now
        #expect(channel.classify(Self.response(200), now: now) == .delivered)
        #expect(channel.classify(Self.response(204), now: now) == .delivered)
        for status in [408, 425, 429, 500, 502, 503, 504] {
            guard case .retry(nil, let reason) = channel.classify(Self.response(status), now: now) else {
                Issue.record("\(status) should be retried")
                continue
            }
            #expect(reason.contains("\(status)"))
        }
        #expect(
            channel.classify(Self.response(503, headers: [("Retry-After", "7")], body: "busy"), now: now)
                == .retry(after: 7, reason: "the webhook answered 503 Service Unavailable: busy")
        )
        let date = HTTPDate.format(now.addingTimeInterval(90))
        #expect(channel.classify(Self.response(429, headers: [("retry-after", date)]), now: now).retryAfter == 90)
        for status in [301, 302, 400, 401, 403, 404, 410, 422] {
            guard case .permanent(let reason) = channel.classify(Self.response(status), now: now) else {
                Issue.record("\(status) should be permanent")
                continue
            }
            #expect(reason.contains("\(status)"))
        }
        #expect(
            channel.classify(Self.response(410, body: "gone"), now: now)
                == .permanent(reason: "the webhook answered 410 Gone: gone")
        )
    }

    @Test("transport failures: policy and bad requests are permanent, the rest is retried")
    func transportFailures() {
        let channel = WebhookChannel(
            url: "https://h.example.com/",
            signingSecret: nil,
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        func outcome(_ code: CurlTransferFailure.Code) -> DeliveryOutcome {
            channel.classify(Self.response(0, failure: CurlTransferFailure(code, "detail")), now: Self.now)
        }
        guard case .permanent(let reason) = outcome(.policy) else {
            Issue.record("policy must be permanent")
            return
        }
        #expect(reason.contains("policy: detail") && reason.contains("--allow-private-targets"))
        #expect(outcome(.invalidRequest).isPermanent)
        for code in [
            CurlTransferFailure.Code.connectRefused, .connectTimeout, .timeout, .dnsNXDomain, .dnsTimeout, .reset,
            .tlsVerify, .busy, .shutdown,
        ] {
            #expect(outcome(code).isRetry, "\(code)")
        }
    }

    // MARK: Telegram

    @Test("telegram: sendMessage with chat id, escaped HTML text, parse mode and no preview")
    func telegramRequest() throws {
        let channel = TelegramChannel(
            chatId: "-1001234567890",
            botToken: "123456:ABCDEFGHIJ_klmnop-qr",
            apiBase: "http://127.0.0.1:8081/",
            timeoutMilliseconds: 15_000,
            connectTimeoutMilliseconds: 5_000
        )
        let request = try channel.render(Self.down, idempotencyKey: "k", now: Self.now)
        #expect(request.url == "http://127.0.0.1:8081/bot123456:ABCDEFGHIJ_klmnop-qr/sendMessage")
        #expect(request.policy == TargetPolicy(allowAll: true), "the operator's API base is not a user target")
        let body = try #require(JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect((body["chat_id"] as? NSNumber)?.int64Value == -1_001_234_567_890)
        #expect(body["parse_mode"] as? String == "HTML")
        #expect(body["disable_web_page_preview"] as? Bool == true)
        let text = try #require(body["text"] as? String)
        #expect(text.contains("<b>Shop &lt;b&gt;API&lt;/b&gt; &amp; co is DOWN</b>"))
        #expect(text.contains("URL: https://shop.example.com/health?x=1&amp;y=2"))
        #expect(text.contains("<code>connect_refused: connection refused: nothing listens on that port</code>"))
        #expect(text.contains("Incident: #7"))
        #expect(!text.contains("<b>API</b>"))
        let named = TelegramChannel(
            chatId: "@lookout_alerts",
            botToken: "1:ABCDEFGHIJKL",
            apiBase: "https://api.telegram.org",
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        let namedBody = try #require(
            JSONSerialization.jsonObject(
                with: Data(try named.render(Self.down, idempotencyKey: "k", now: Self.now).body)
            ) as? [String: Any]
        )
        #expect(namedBody["chat_id"] as? String == "@lookout_alerts")
        let broken = TelegramChannel(
            chatId: "1",
            botToken: "../admin",
            apiBase: "https://api.telegram.org",
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        #expect(throws: DeliveryRefusal.self) { try broken.render(Self.down, idempotencyKey: "k", now: Self.now) }
    }

    @Test("telegram: 429 retries after retry_after; 5xx retries; 400/401/403/404 are permanent")
    func telegramClassification() {
        let channel = TelegramChannel(
            chatId: "1",
            botToken: "1:ABCDEFGHIJKL",
            apiBase: "https://api.telegram.org",
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        let now = Self.now
        #expect(channel.classify(Self.response(200, body: #"{"ok":true,"result":{}}"#), now: now) == .delivered)
        let limited =
            #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#
        #expect(
            channel.classify(Self.response(429, headers: [("Retry-After", "9")], body: limited), now: now)
                == .retry(after: 3, reason: "Telegram answered 429: Too Many Requests: retry after 3")
        )
        #expect(channel.classify(Self.response(429, headers: [("Retry-After", "9")]), now: now).retryAfter == 9)
        #expect(channel.classify(Self.response(502), now: now).isRetry)
        for (status, description) in [
            (400, "Bad Request: chat not found"), (401, "Unauthorized"),
            (403, "Forbidden: bot was blocked by the user"), (404, "Not Found"),
        ] {
            let body = #"{"ok":false,"error_code":\#(status),"description":"\#(description)"}"#
            guard case .permanent(let reason) = channel.classify(Self.response(status, body: body), now: now) else {
                Issue.record("\(status) should be permanent")
                continue
            }
            #expect(reason.contains(description))
        }
    }

    // MARK: e-mail

    @Test("email: an SMTP transfer with envelope, login from the URL and a multipart message")
    func emailRequest() throws {
        let channel = EmailChannel(
            recipients: ["ops@example.com", "oncall@example.com"],
            server: .success(try SMTPServer(url: "smtp://alerts%40example.com:p%3Ass@mail.example.com:587")),
            from: "Lookout <alerts@example.com>",
            timeoutMilliseconds: 15_000,
            connectTimeoutMilliseconds: 5_000
        )
        let request = try channel.render(Self.down, idempotencyKey: "outbox-17", now: Self.now)
        #expect(request.url == "smtp://mail.example.com:587")
        #expect(request.username == "alerts@example.com")
        #expect(request.password == "p:ss")
        #expect(
            request.mail
                == CurlMailEnvelope(from: "alerts@example.com", recipients: ["ops@example.com", "oncall@example.com"])
        )
        #expect(request.policy == TargetPolicy(allowAll: true))
        let message = String(decoding: request.body, as: UTF8.self)
        let head = message.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(head.contains("From: Lookout <alerts@example.com>"))
        #expect(head.contains("To: ops@example.com, oncall@example.com"))
        #expect(head.contains("Subject: [Lookout] DOWN: Shop <b>API</b> & co"))
        #expect(head.contains("Date: Tue, 14 Nov 2023 22:13:20 +0000"))
        #expect(head.contains("MIME-Version: 1.0"))
        #expect(head.contains("X-Lookout-Idempotency-Key: outbox-17"))
        #expect(head.contains { $0.hasPrefix("Message-ID: <lookout.") && $0.hasSuffix("@example.com>") })
        #expect(head.contains("Content-Type: multipart/alternative;"))
        #expect(head.contains { $0.hasPrefix(" boundary=\"=_lookout_") })
        #expect(message.contains("Content-Type: text/plain; charset=utf-8"))
        #expect(message.contains("Content-Type: text/html; charset=utf-8"))
        #expect(message.contains("Shop &lt;b&gt;API&lt;/b&gt; &amp; co is DOWN"))
        #expect(message.split(separator: "\r\n", omittingEmptySubsequences: false).allSatisfy { $0.utf8.count <= 78 })
        #expect(!message.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "bare LF in the message")
        // The same key gives the same Message-ID on every attempt.
        let again = try channel.render(Self.down, idempotencyKey: "outbox-17", now: Self.now.addingTimeInterval(300))
        #expect(EmailMessage.messageIDLine(again.body) == EmailMessage.messageIDLine(request.body))
    }

    @Test("email: monitor names cannot add header lines; non-ASCII subjects are RFC 2047 encoded")
    func emailHeaderSafety() {
        var payload = Self.down
        payload.monitorName = "evil\r\nBcc: victim@example.com"
        let message = EmailMessage(
            payload: payload,
            idempotencyKey: "k",
            from: "a@b.example",
            to: ["c@d.example"],
            date: Self.now
        )
        let head = String(decoding: message.bytes(), as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        #expect(!head.contains("\r\nBcc:"))
        #expect(head.contains("Subject: [Lookout] DOWN: evil  Bcc: victim@example.com"))
        payload.monitorName = "Boutique für Grüße — 日本"
        let encoded = EmailMessage(
            payload: payload,
            idempotencyKey: "k",
            from: "a@b.example",
            to: ["c@d.example"],
            date: Self.now
        )
        let subjectLine = String(decoding: encoded.bytes(), as: UTF8.self).components(separatedBy: "\r\n").first {
            $0.hasPrefix("Subject: ")
        }
        #expect(subjectLine?.hasPrefix("Subject: =?UTF-8?B?") == true)
        #expect(String(decoding: encoded.bytes(), as: UTF8.self).utf8.allSatisfy { $0 < 0x80 }, "the message is 7-bit")
    }

    @Test("quoted-printable keeps lines short, escapes '=' and non-ASCII, and leading dots")
    func quotedPrintable() {
        #expect(EmailMessage.quotedPrintable("a=b") == "a=3Db")
        #expect(EmailMessage.quotedPrintable("é") == "=C3=A9")
        #expect(EmailMessage.quotedPrintable("trailing \nnext") == "trailing=20\r\nnext")
        #expect(EmailMessage.quotedPrintable(".\n.x") == "=2E\r\n=2Ex")
        let long = EmailMessage.quotedPrintable(String(repeating: "x", count: 200))
        #expect(long.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        #expect(long.replacingOccurrences(of: "=\r\n", with: "") == String(repeating: "x", count: 200))
    }

    @Test("email: 4xx replies retry, 5xx are permanent, no server configured is permanent")
    func emailClassification() throws {
        let channel = EmailChannel(
            recipients: ["ops@example.com"],
            server: .success(try SMTPServer(url: "smtp://127.0.0.1:2525")),
            from: "lookout@localhost",
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        let now = Self.now
        #expect(channel.classify(Self.response(250), now: now) == .delivered)
        var deferred = Self.response(451, failure: CurlTransferFailure(.rejected, "x"))
        deferred.serverReplies = ["250 OK", "451 4.3.0 mailbox busy"]
        #expect(
            channel.classify(deferred, now: now)
                == .retry(after: nil, reason: "the SMTP server deferred the message: 451 4.3.0 mailbox busy")
        )
        var refused = Self.response(550, failure: CurlTransferFailure(.rejected, "x"))
        refused.serverReplies = ["550 5.1.1 no such user"]
        #expect(
            channel.classify(refused, now: now)
                == .permanent(reason: "the SMTP server refused the message: 550 5.1.1 no such user")
        )
        #expect(
            channel.classify(Self.response(535, failure: CurlTransferFailure(.loginDenied, "x")), now: now).isPermanent
        )
        #expect(
            channel.classify(Self.response(0, failure: CurlTransferFailure(.connectRefused, "x")), now: now).isRetry
        )
        let unconfigured = Notifier.Settings(smtpURL: nil)
        let noServer = EmailChannel(
            recipients: ["ops@example.com"],
            server: unconfigured.smtpServer,
            from: "lookout@localhost",
            timeoutMilliseconds: 1_000,
            connectTimeoutMilliseconds: 1_000
        )
        do {
            _ = try noServer.render(Self.down, idempotencyKey: "k", now: now)
            Issue.record("rendered without an SMTP server")
        } catch {
            #expect(error.reason == "e-mail cannot be sent: --smtp-url is not set: e-mail channels need an SMTP server")
        }
    }

    @Test("--smtp-url: credentials split off and decoded; bad URLs named")
    func smtpURL() throws {
        let server = try SMTPServer(url: "smtps://user:s%2Fcret@smtp.example.com:465/lookout.example.com")
        #expect(server.url == "smtps://smtp.example.com:465/lookout.example.com")
        #expect(server.username == "user" && server.password == "s/cret" && server.isImplicitTLS)
        #expect(!server.description.contains("cret"))
        let plain = try SMTPServer(url: "smtp://127.0.0.1:2525")
        #expect(plain.username == nil && plain.password == nil && !plain.isImplicitTLS)
        #expect(throws: SMTPServerError.self) { try SMTPServer(url: "http://mail.example.com") }
        #expect(throws: SMTPServerError.self) { try SMTPServer(url: "smtp://") }
        #expect(throws: SMTPServerError.self) { try SMTPServer(url: "smtp://u:p@") }
    }

    // MARK: targets

    @Test("channel targets from stored rows: kind, config JSON and decrypted secret")
    func targets() throws {
        #expect(
            try ChannelTarget(kind: "email", config: Array(#"{"to":"ops@example.com"}"#.utf8), secret: nil)
                == .email(to: ["ops@example.com"])
        )
        #expect(
            try ChannelTarget(kind: "email", config: Array(#"{"to":"a@x.example, b@y.example"}"#.utf8), secret: nil)
                == .email(to: ["a@x.example", "b@y.example"])
        )
        #expect(
            try ChannelTarget(kind: "email", config: Array(#"{"to":["a@x.example"]}"#.utf8), secret: nil).kind == .email
        )
        #expect(
            try ChannelTarget(
                kind: "telegram",
                config: Array(#"{"chatId":-1001234567890}"#.utf8),
                secret: "123:ABCDEFGHIJKL"
            )
                == .telegram(chatId: "-1001234567890", botToken: "123:ABCDEFGHIJKL")
        )
        #expect(
            try ChannelTarget(kind: "webhook", config: Array(#"{"url":"https://h.example.com/x"}"#.utf8), secret: "s")
                == .webhook(url: "https://h.example.com/x", signingSecret: "s")
        )
        #expect(
            try ChannelTarget(kind: "webhook", config: Array(#"{"url":"https://h.example.com/x"}"#.utf8), secret: nil)
                == .webhook(url: "https://h.example.com/x", signingSecret: nil)
        )
        func refused(_ kind: String, _ config: String, _ secret: String? = nil) -> String? {
            do {
                _ = try ChannelTarget(kind: kind, config: Array(config.utf8), secret: secret)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(refused("sms", "{}") == "type")
        #expect(refused("email", "[]") == "config")
        #expect(refused("email", #"{"to":"not an address"}"#) == "config.to")
        #expect(refused("email", #"{"to":"a@b.example\r\nBcc: x@y.example"}"#) == "config.to")
        #expect(refused("telegram", #"{"chatId":"12"}"#) == "config.botToken")
        #expect(refused("telegram", #"{"chatId":"12"}"#, "12/../x") == "config.botToken")
        #expect(refused("telegram", #"{"chatId":"twelve"}"#, "1:ABCDEFGHIJKL") == "config.chatId")
        #expect(refused("webhook", #"{"url":"ftp://h.example.com/"}"#) == "config.url")
        #expect(refused("webhook", #"{"url":"/relative"}"#) == "config.url")
    }

    @Test("summaries: names, durations and single-line values")
    func summaries() {
        var up = Self.down
        up.event = .monitorUp
        up.status = .up
        up.downtimeSeconds = 303
        let summary = NotificationSummary(up)
        #expect(summary.headline == "Shop <b>API</b> & co is UP again")
        #expect(summary.facts.contains(NotificationSummary.Fact(label: "Downtime", value: "5 min 3 s")))
        #expect(NotificationSummary.duration(42) == "42 s")
        #expect(NotificationSummary.duration(7_500) == "2 h 5 min")
        #expect(NotificationSummary.duration(3 * 86_400 + 4 * 3600) == "3 d 4 h")
        #expect(
            NotificationSummary(NotificationPayload(event: .monitorDown, occurredAt: Self.now, monitorId: 9)).subject
                == "monitor #9"
        )
        #expect(NotificationSummary.singleLine("a\nb\tc", limit: 10) == "a b c")
        #expect(NotificationSummary.singleLine(String(repeating: "x", count: 20), limit: 10).count == 10)
    }
}

extension DeliveryOutcome {
    var isRetry: Bool {
        if case .retry = self { return true }
        return false
    }

    var isPermanent: Bool {
        if case .permanent = self { return true }
        return false
    }

    var retryAfter: Double? {
        if case .retry(let after, _) = self { return after }
        return nil
    }
}

extension EmailMessage {
    static func messageIDLine(_ bytes: [UInt8]) -> String? {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") }
    }
}
