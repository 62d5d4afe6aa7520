import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutControl

#if canImport(Glibc)
import Glibc
#endif

/// The real binaries together: `lookout-engine` in cluster mode checks a loopback target whose
/// answers follow a script, `lookout-control` turns the engine's confirmed state changes into
/// incidents and notifications, and real receivers on loopback take them: an SMTP server
/// (aiosmtpd), a Telegram Bot API stand-in and a webhook receiver that verifies signatures.
@Suite(
    "Control plane end to end: engine, incidents, e-mail, Telegram and webhooks",
    .serialized,
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct ControlEndToEndTests {
    static let botToken = "123456:ABC-lookout_test_token"
    static let webhookSecret = "whsec_end_to_end_secret"

    /// Receivers for the three channels, stopped by `stop()`.
    struct Receivers {
        let smtp: FixtureProcess
        let telegram: FixtureProcess
        let webhook: FixtureProcess

        init(webhookScript: String) throws {
            smtp = try FixtureProcess(script: "smtp_sink.py")
            telegram = try FixtureProcess(
                script: "http_receiver.py",
                arguments: ["--script", #"{"*": [{"status": 200, "body": "{\"ok\":true,\"result\":{}}"}]}"#])
            webhook = try FixtureProcess(
                script: "http_receiver.py",
                arguments: ["--secret", ControlEndToEndTests.webhookSecret, "--script", webhookScript])
        }

        func stop() {
            smtp.stop()
            telegram.stop()
            webhook.stop()
        }

        var mails: [ReceivedMail] { (try? smtp.records(as: ReceivedMail.self)) ?? [] }
        var telegramMessages: [ReceivedRequest] { (try? telegram.records(as: ReceivedRequest.self)) ?? [] }
        var webhookRequests: [ReceivedRequest] { (try? webhook.records(as: ReceivedRequest.self)) ?? [] }
    }

    /// `lookout-control` with the receivers as its SMTP server and Telegram API.
    static func startControl(
        schema: TestSchema,
        prefix: String,
        receivers: Receivers,
        directory: String,
        name: String,
        extra: [String] = []
    ) throws -> (ChildProcess, LiveAPI) {
        let port = try freeLoopbackPort()
        let process = try ChildProcess(
            "lookout-control",
            arguments: [
                "--database", schema.url, "--redis", try #require(RedisTest.url), "--redis-prefix", prefix,
                "--port", String(port), "--bcrypt-cost", "10", "--instance-id", name,
                "--smtp-url", "smtp://127.0.0.1:\(receivers.smtp.port)", "--smtp-from", "lookout@test.example",
                "--telegram-api-base", "http://127.0.0.1:\(receivers.telegram.port)",
                "--allow-private-targets", "--outbox-poll-ms", "100", "--no-rollups", "--claim-idle-ms", "2000",
            ] + extra,
            directory: directory,
            name: name
        )
        return (process, LiveAPI(port: port))
    }

    /// A user with the three channels; returns its token.
    static func setUpAccount(_ api: LiveAPI, receivers: Receivers) async throws -> String {
        let token = try await api.register("ops-\(UInt32.random(in: 0...UInt32.max))@example.com")
        let channels: [[String: Any]] = [
            ["type": "email", "name": "mail", "config": ["to": "ops@example.com"]],
            ["type": "telegram", "name": "tg", "config": ["chatId": "4242", "botToken": botToken]],
            [
                "type": "webhook", "name": "hook",
                "config": ["url": "http://127.0.0.1:\(receivers.webhook.port)/hook", "secret": webhookSecret],
            ],
        ]
        for channel in channels {
            let response = try await api.request(.post, "/api/v1/notification-channels", token: token, json: channel)
            try #require(response.status == .created, "channel: \(response.text)")
        }
        return token
    }

    @Test(
        "a failing target opens one incident and sends one e-mail, Telegram message and signed webhook (one retry, same key); recovery sends one more each; a single failed check sends nothing"
    )
    func incidentLifecycle() async throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("e2e")
        // The target answers by the number of requests, not by time: 4 good, 1 bad (a single
        // failure: no incident), 4 good, 6 bad (confirmed DOWN), then good for ever.
        let answers =
            Array(repeating: #"{"status": 200}"#, count: 4) + [#"{"status": 500}"#]
            + Array(repeating: #"{"status": 200}"#, count: 4) + Array(repeating: #"{"status": 500}"#, count: 6)
            + [#"{"status": 200}"#]
        let target = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"/target": ["# + answers.joined(separator: ",") + "]}"]
        )
        defer { target.stop() }
        let receivers = try Receivers(
            webhookScript: #"{"/hook": [{"status": 503, "headers": {"Retry-After": "1"}}, {"status": 200}]}"#
        )
        defer { receivers.stop() }

        let (control, api) = try Self.startControl(
            schema: schema, prefix: prefix, receivers: receivers, directory: directory, name: "control-a")
        defer { control.stop() }
        try await api.waitUntilReady(control)
        let token = try await Self.setUpAccount(api, receivers: receivers)
        let created = try await api.request(
            .post,
            "/api/v1/monitors",
            token: token,
            json: [
                "name": "Checkout", "url": "http://127.0.0.1:\(target.port)/target", "intervalSeconds": 0.5,
                "timeoutMs": 2000, "failureThreshold": 2, "recoveryThreshold": 1,
            ]
        )
        try #require(created.status == .created, "\(created.text)")
        let monitorId = try #require(created.object.int64("id"))

        let engine = try ChildProcess(
            "lookout-engine",
            arguments: [
                "--database", schema.url, "--redis", try #require(RedisTest.url), "--redis-prefix", prefix,
                "--engine-id", "engine-e2e", "--allow-private-targets", "--loops", "1", "--reconcile-seconds", "2",
                "--spill-dir", directory + "/spill",
            ],
            directory: directory,
            name: "engine"
        )
        defer { engine.stop() }

        // Down, then up again: one incident, opened and resolved.
        let resolved = await waitFor(.seconds(60)) {
            (try? schema.count("SELECT count(*) FROM incidents WHERE resolved_at IS NOT NULL")) == 1
        }
        try #require(
            resolved,
            "no resolved incident; engine: \(engine.standardError.suffix(2000)) control: \(control.standardError.suffix(2000))"
        )
        let delivered = await waitFor(.seconds(30)) {
            (try? schema.count("SELECT count(*) FROM notification_outbox WHERE state = 'delivered'")) == 6
        }
        #expect(
            delivered,
            "outbox: \((try? schema.scalar("SELECT string_agg(event_type || ' ' || state || ' ' || coalesce(last_error, ''), '; ') FROM notification_outbox")) ?? "")"
        )
        #expect(try schema.count("SELECT count(*) FROM incidents") == 1)
        #expect(
            try schema.count("SELECT count(*) FROM notification_outbox") == 6, "down + up for each of three channels")

        // E-mail: one DOWN, one UP, readable.
        let mails = receivers.mails
        #expect(mails.count == 2)
        #expect(mails.map(\.subject).sorted().first?.contains("DOWN") == true, "\(mails.map(\.subject))")
        #expect(mails.contains { $0.subject.contains("UP") })
        // Telegram: two sendMessage calls with the bot token in the path.
        let messages = receivers.telegramMessages
        #expect(messages.count == 2)
        #expect(messages.allSatisfy { $0.path == "/bot\(Self.botToken)/sendMessage" })
        // Webhook: 503 once, then the same key again, then the recovery; every signature valid.
        let hooks = receivers.webhookRequests
        #expect(hooks.count == 3, "\(hooks.map { $0.headers["x-lookout-event"] ?? "?" })")
        #expect(hooks.allSatisfy { $0.signatureValid == true })
        let keys = hooks.map { $0.headers["idempotency-key"] ?? "" }
        #expect(keys.count == 3 && keys[0] == keys[1] && keys[1] != keys[2], "\(keys)")
        let bodies = hooks.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
        #expect(bodies.map { $0["event"] as? String } == ["monitor.down", "monitor.down", "monitor.up"])
        #expect(bodies.first?["monitorId"] as? Int == Int(monitorId))
        #expect(bodies.first?["monitorName"] as? String == "Checkout")
        #expect((bodies.last?["downtimeSeconds"] as? Double ?? 0) > 0)

        // The API shows it too.
        let incidents = try await api.request(.get, "/api/v1/incidents?monitorId=\(monitorId)", token: token)
        #expect((incidents.object["data"] as? [Any])?.count == 1)
        let monitor = try await api.request(.get, "/api/v1/monitors/\(monitorId)", token: token)
        #expect(monitor.object["status"] as? String == "UP")
        #expect(monitor.object["lastCheck"] is [String: Any])
    }

    @Test(
        "SIGKILL after the incident commit and before the send: after a restart each channel is notified exactly once")
    func killBeforeSend() async throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("kill")
        let receivers = try Receivers(webhookScript: #"{"*": [{"status": 200}]}"#)
        defer { receivers.stop() }

        // This instance consumes the stream but sends nothing (no dispatcher), so the incident
        // and its notifications are committed and wait in the outbox when it is killed.
        let (first, api) = try Self.startControl(
            schema: schema, prefix: prefix, receivers: receivers, directory: directory, name: "control-consumer",
            extra: ["--dispatcher-concurrency", "0"])
        try await api.waitUntilReady(first)
        let token = try await Self.setUpAccount(api, receivers: receivers)
        let monitor = try await api.request(
            .post, "/api/v1/monitors", token: token, json: ["name": "API", "url": "http://127.0.0.1:9/health"])
        let monitorId = try #require(monitor.object.int64("id"))
        try await Self.appendStateChange(prefix: prefix, monitorId: monitorId, to: .down)
        let queued = await waitFor(.seconds(20)) {
            (try? schema.count("SELECT count(*) FROM notification_outbox WHERE state = 'pending'")) == 3
        }
        try #require(queued, "no notifications queued: \(first.standardError.suffix(2000))")
        first.stop(signal: SIGKILL)
        #expect(receivers.mails.isEmpty && receivers.telegramMessages.isEmpty && receivers.webhookRequests.isEmpty)

        let (second, _) = try Self.startControl(
            schema: schema, prefix: prefix, receivers: receivers, directory: directory, name: "control-restarted")
        defer { second.stop() }
        let sent = await waitFor(.seconds(30)) {
            (try? schema.count("SELECT count(*) FROM notification_outbox WHERE state = 'delivered'")) == 3
        }
        #expect(sent, "after the restart: \(second.standardError.suffix(2000))")
        #expect(receivers.mails.count == 1)
        #expect(receivers.telegramMessages.count == 1)
        #expect(receivers.webhookRequests.count == 1)
        #expect(try schema.count("SELECT count(*) FROM incidents") == 1)
    }

    @Test("two control planes consuming the stream at once: one incident and one notification per channel per change")
    func twoControlPlanes() async throws {
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("pair")
        let receivers = try Receivers(webhookScript: #"{"*": [{"status": 200}]}"#)
        defer { receivers.stop() }
        let (first, api) = try Self.startControl(
            schema: schema, prefix: prefix, receivers: receivers, directory: directory, name: "control-1")
        defer { first.stop() }
        let (second, secondAPI) = try Self.startControl(
            schema: schema, prefix: prefix, receivers: receivers, directory: directory, name: "control-2")
        defer { second.stop() }
        try await api.waitUntilReady(first)
        try await secondAPI.waitUntilReady(second)
        let token = try await Self.setUpAccount(api, receivers: receivers)
        var monitorIds: [Int64] = []
        for index in 0..<10 {
            let monitor = try await api.request(
                .post, "/api/v1/monitors", token: token,
                json: ["name": "m\(index)", "url": "http://127.0.0.1:9/\(index)"])
            monitorIds.append(try #require(monitor.object.int64("id")))
        }
        // Every event twice (an engine re-sending after a lost reply), both instances reading.
        for monitorId in monitorIds {
            let event = Self.event(monitorId: monitorId, to: .down)
            try await Self.append([event, event], prefix: prefix)
        }
        let sent = await waitFor(.seconds(30)) {
            (try? schema.count("SELECT count(*) FROM notification_outbox WHERE state = 'delivered'")) == 30
        }
        #expect(sent, "\(first.standardError.suffix(1000)) \(second.standardError.suffix(1000))")
        #expect(try schema.count("SELECT count(*) FROM incidents") == 10)
        #expect(try schema.count("SELECT count(*) FROM notification_outbox") == 30)
        #expect(receivers.mails.count == 10)
        #expect(receivers.telegramMessages.count == 10)
        #expect(receivers.webhookRequests.count == 10)
    }

    // MARK: helpers

    static func event(monitorId: Int64, to state: MonitorState) -> StateChangeEvent {
        StateChangeEvent(
            monitorId: String(monitorId),
            from: state == .down ? .up : .down,
            to: state,
            atMs: Int64(Date().timeIntervalSince1970 * 1000),
            checkId: UUID().uuidString.lowercased(),
            engineId: "engine-test",
            reason: state == .down ? "connect_refused" : "up",
            message: state == .down ? "connection refused: nothing listens on that port" : ""
        )
    }

    static func appendStateChange(prefix: String, monitorId: Int64, to state: MonitorState) async throws {
        try await append([event(monitorId: monitorId, to: state)], prefix: prefix)
    }

    /// XADDs events to the state stream the way an engine does.
    static func append(_ events: [StateChangeEvent], prefix: String) async throws {
        let redis = try RedisClient(
            endpoint: try RedisTest.endpoint(), clientName: "e2e-writer", logger: ControlHarness.logger)
        defer { redis.shutdown() }
        try #require(await redis.waitUntilReady(seconds: 5))
        let contract = try ClusterContract(prefix: prefix)
        for event in events {
            let argv =
                ["XADD", contract.stateStream, "MAXLEN", "~", "100000", "*"]
                + event.streamFields.flatMap { [$0.0, $0.1] }
            let reply = try await redis.commands.command(argv)
            if case .error(let text) = reply { Issue.record("XADD refused: \(text)") }
        }
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lookout-control-e2e-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
