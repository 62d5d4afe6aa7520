import Crypto
import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Notification channels: secrets at rest, test sends through the outbox (real PostgreSQL, Redis, receivers)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct ChannelAPITests {
    @Test("a webhook channel's generated secret is shown once, stored encrypted, and signs the test message")
    func webhookTestSend() async throws {
        let receiver = try FixtureProcess(script: "http_receiver.py")
        defer { receiver.stop() }
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let created = try await api.request(
                .post,
                "/api/v1/notification-channels",
                token: token,
                json: [
                    "type": "webhook", "name": "ops hook", "config": ["url": "http://127.0.0.1:\(receiver.port)/hook"],
                ]
            )
            #expect(created.status == .created, "\(created.text)")
            let secret = try #require(created.object["signingSecret"] as? String)
            let channel = try #require(created.object["channel"] as? [String: Any])
            let id = try #require(channel.int64("id"))
            let config = try #require(channel["config"] as? [String: Any])
            #expect(config["secret"] as? String == "••••" + String(secret.suffix(4)))
            let stored = try #require(
                try api.schema.scalar("SELECT encode(secret_ciphertext, 'escape') FROM notification_channels"))
            #expect(!stored.contains(secret), "the secret is not stored in clear")
            let listed = try await api.request(.get, "/api/v1/notification-channels", token: token)
            #expect(!listed.text.contains(secret))

            let test = try await api.request(.post, "/api/v1/notification-channels/\(id)/test", token: token)
            #expect(test.status == .ok, "\(test.text)")
            #expect(test.object["delivered"] as? Bool == true)
            let requests = try receiver.records(as: ReceivedRequest.self)
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            #expect(request.headers["x-lookout-event"] == "channel.test")
            let timestamp = try #require(request.headers["x-lookout-timestamp"])
            let signature = try #require(request.headers["x-lookout-signature"])
            #expect(signature == "sha256=" + Self.hmac(secret: secret, message: "\(timestamp).\(request.body)"))
        }
    }

    @Test("bad channel settings are 400s naming the field; a stranger's channel is 404")
    func validation() async throws {
        try await ControlHarness.withApplication(configure: { $0.notifications.allowPrivateTargets = false }) { api in
            let (token, _) = try await api.register()
            let badToken = try await api.request(
                .post, "/api/v1/notification-channels", token: token,
                json: ["type": "telegram", "config": ["chatId": "42", "botToken": "nope"]])
            #expect(badToken.status == .badRequest)
            #expect(badToken.errorField == "config.botToken")
            let privateHook = try await api.request(
                .post, "/api/v1/notification-channels", token: token,
                json: ["type": "webhook", "config": ["url": "http://10.0.0.5/hook"]])
            #expect(privateHook.errorField == "config.url")
            let badType = try await api.request(
                .post, "/api/v1/notification-channels", token: token, json: ["type": "sms", "config": [:]])
            #expect(badType.errorField == "type")
            let unknown = try await api.request(
                .post, "/api/v1/notification-channels", token: token,
                json: ["type": "email", "config": ["to": "ops@example.com", "cc": "x@example.com"]])
            #expect(unknown.errorField == "config.cc")
            let email = try await api.request(
                .post, "/api/v1/notification-channels", token: token,
                json: ["type": "email", "name": "ops", "config": ["to": "ops@example.com"]])
            #expect(email.status == .created)
            let id = try #require((email.object["channel"] as? [String: Any])?.int64("id"))

            let (stranger, _) = try await api.register()
            for (method, path) in [
                (HTTPRequest.Method.get, "/api/v1/notification-channels/\(id)"),
                (.patch, "/api/v1/notification-channels/\(id)"),
                (.delete, "/api/v1/notification-channels/\(id)"),
                (.post, "/api/v1/notification-channels/\(id)/test"),
            ] {
                let response = try await api.request(
                    method, path, token: stranger, json: method == .patch ? ["name": "x"] : nil)
                #expect(response.status == .notFound, "\(method) \(path) answered \(response.status)")
            }
            let renamed = try await api.request(
                .patch, "/api/v1/notification-channels/\(id)", token: token, json: ["name": "renamed"])
            #expect(renamed.object["name"] as? String == "renamed")
            #expect((renamed.object["config"] as? [String: Any])?["to"] as? [String] == ["ops@example.com"])
        }
    }

    static func hmac(secret: String, message: String) -> String {
        let key = SymmetricKeyBytes(Array(secret.utf8))
        return key.hmacSHA256Hex(Array(message.utf8))
    }
}

/// HMAC-SHA256 for the test's own signature check.
struct SymmetricKeyBytes {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hmacSHA256Hex(_ message: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: bytes))
        return code.map { String(format: "%02x", $0) }.joined()
    }
}
