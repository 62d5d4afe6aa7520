import Foundation
import Testing

@testable import LookoutControl

/// E-mail through libcurl's SMTP to a real SMTP server on loopback (python3-aiosmtpd), which
/// parses what it receives with Python's email package.
@Suite("E-mail delivery against a loopback SMTP server")
struct EmailDeliveryTests {
    @Test("one readable multipart message with the right envelope, headers, text and HTML")
    func delivered() async throws {
        let sink = try FixtureProcess(script: "smtp_sink.py")
        defer { sink.stop() }
        // The operator's SMTP server is on loopback while user targets are held to the strict policy.
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client, smtpURL: "smtp://127.0.0.1:\(sink.port)")

        let attempt = await notifier.deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "outbox-31",
            to: .email(to: ["ops@example.test"])
        )

        #expect(attempt.outcome == .delivered)
        #expect(attempt.status == 250)
        let mails: [ReceivedMail] = try sink.records()
        try #require(mails.count == 1)
        let mail = mails[0]
        #expect(mail.mailFrom == "alerts@lookout.test")
        #expect(mail.rcptTos == ["ops@example.test"])
        #expect(mail.login == nil)
        #expect(!mail.tls)
        #expect(mail.from == "Lookout <alerts@lookout.test>")
        #expect(mail.to == "ops@example.test")
        #expect(mail.subject == "[Lookout] DOWN: Shop <API> & co")
        #expect(mail.idempotencyKey == "outbox-31")
        #expect(mail.messageId.hasPrefix("<lookout.") && mail.messageId.hasSuffix("@lookout.test>"))
        #expect(mail.date != "None")
        #expect(mail.contentType == "multipart/alternative")
        #expect(mail.partEncodings == ["quoted-printable", "quoted-printable"])
        #expect(mail.longestLine <= 78)
        let text = try #require(mail.text)
        #expect(text.contains("Shop <API> & co is DOWN"))
        #expect(text.contains("https://shop.example.com/health"))
        #expect(text.contains("connect_refused: connection refused: nothing listens on that port"))
        #expect(text.contains("Incident: #7"))
        #expect(text.contains("2025-01-02 03:04:05 UTC"))
        let html = try #require(mail.html)
        #expect(html.contains("<h2>Shop &lt;API&gt; &amp; co is DOWN</h2>"))
        #expect(html.contains("<code>connect_refused: connection refused: nothing listens on that port</code>"))
        #expect(!html.contains("<API>"))
    }

    @Test("user and password from --smtp-url log in; a recovery mail says how long it was down")
    func authenticated() async throws {
        let sink = try FixtureProcess(
            script: "smtp_sink.py",
            arguments: ["--user", "alerts@lookout.test", "--password", "p@ss:w/rd"]
        )
        defer { sink.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(
            client,
            smtpURL: "smtp://alerts%40lookout.test:p%40ss%3Aw%2Frd@127.0.0.1:\(sink.port)"
        )
        let attempt = await notifier.deliver(
            DeliveryTestSupport.up,
            idempotencyKey: "outbox-32",
            to: .email(to: ["a@example.test", "b@example.test"])
        )
        #expect(attempt.outcome == .delivered)
        let mails: [ReceivedMail] = try sink.records()
        try #require(mails.count == 1)
        #expect(mails[0].login == "alerts@lookout.test")
        #expect(mails[0].rcptTos == ["a@example.test", "b@example.test"])
        #expect(mails[0].subject == "[Lookout] UP: Shop <API> & co")
        #expect(mails[0].text?.contains("Downtime: 5 min") == true)

        let wrong = DeliveryTestSupport.notifier(
            client,
            smtpURL: "smtp://alerts%40lookout.test:nope@127.0.0.1:\(sink.port)"
        )
        let refused = await wrong.deliver(
            DeliveryTestSupport.up,
            idempotencyKey: "outbox-33",
            to: .email(to: ["a@example.test"])
        )
        guard case .permanent(let reason) = refused.outcome else {
            Issue.record("a refused login should be permanent, got \(refused.outcome)")
            return
        }
        #expect(reason.contains("535"))
        #expect(!reason.contains("nope"))
        #expect(try sink.records(as: ReceivedMail.self).count == 1)
    }

    @Test("4xx replies are retried, 5xx replies are permanent; nothing is accepted")
    func serverReplies() async throws {
        let sink = try FixtureProcess(script: "smtp_sink.py")
        defer { sink.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client, smtpURL: "smtp://127.0.0.1:\(sink.port)")

        let deferred = await notifier.deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k1",
            to: .email(to: ["tempfail@example.test"])
        )
        #expect(
            deferred.outcome
                == .retry(
                    after: nil,
                    reason: "the SMTP server deferred the message: 451 4.3.0 mailbox busy, try again later"
                )
        )
        #expect(deferred.status == 451)
        let refused = await notifier.deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k2",
            to: .email(to: ["reject@example.test"])
        )
        #expect(
            refused.outcome == .permanent(reason: "the SMTP server refused the message: 550 5.1.1 no such user here")
        )
        #expect(refused.status == 550)
        #expect(try sink.records(as: ReceivedMail.self).isEmpty)
    }

    @Test("no --smtp-url is permanent with a clear message; an unreachable server is retried")
    func unconfiguredAndUnreachable() async throws {
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let unconfigured = await DeliveryTestSupport.notifier(client).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k",
            to: .email(to: ["ops@example.test"])
        )
        #expect(
            unconfigured.outcome
                == .permanent(
                    reason: "e-mail cannot be sent: --smtp-url is not set: e-mail channels need an SMTP server"
                )
        )
        let closed = try closedLoopbackPort()
        let unreachable = await DeliveryTestSupport.notifier(client, smtpURL: "smtp://127.0.0.1:\(closed)").deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k",
            to: .email(to: ["ops@example.test"])
        )
        guard case .retry(nil, let reason) = unreachable.outcome else {
            Issue.record("expected a retry, got \(unreachable.outcome)")
            return
        }
        #expect(reason.contains("connect_refused"))
    }

    @Test("smtp:// upgrades with STARTTLS when offered, verified against --ca-file")
    func startTLS() async throws {
        let sink = try FixtureProcess(script: "smtp_sink.py", arguments: ["--tls", "starttls"])
        defer { sink.stop() }
        let caFile = sink.directory.appendingPathComponent("ca.pem").path
        let trusting = try DeliveryTestSupport.client(allowPrivateTargets: false, caFile: caFile)
        defer { trusting.shutdown() }
        let attempt = await DeliveryTestSupport.notifier(trusting, smtpURL: "smtp://127.0.0.1:\(sink.port)").deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-starttls",
            to: .email(to: ["ops@example.test"])
        )
        #expect(attempt.outcome == .delivered)
        let mails: [ReceivedMail] = try sink.records()
        #expect(mails.count == 1 && mails.first?.tls == true)

        // The system store alone does not trust the test CA: the upgrade fails, nothing is sent in clear.
        let strict = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { strict.shutdown() }
        let untrusted = await DeliveryTestSupport.notifier(strict, smtpURL: "smtp://127.0.0.1:\(sink.port)").deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-untrusted",
            to: .email(to: ["ops@example.test"])
        )
        guard case .retry(nil, let reason) = untrusted.outcome else {
            Issue.record("expected a retry, got \(untrusted.outcome)")
            return
        }
        #expect(reason.contains("tls_verify"))
        #expect(try sink.records(as: ReceivedMail.self).count == 1)
    }

    @Test("smtps:// speaks TLS from the first byte")
    func implicitTLS() async throws {
        let sink = try FixtureProcess(script: "smtp_sink.py", arguments: ["--tls", "implicit"])
        defer { sink.stop() }
        let client = try DeliveryTestSupport.client(
            allowPrivateTargets: false,
            caFile: sink.directory.appendingPathComponent("ca.pem").path
        )
        defer { client.shutdown() }
        let attempt = await DeliveryTestSupport.notifier(client, smtpURL: "smtps://127.0.0.1:\(sink.port)").deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-smtps",
            to: .email(to: ["ops@example.test"])
        )
        #expect(attempt.outcome == .delivered)
        let mails: [ReceivedMail] = try sink.records()
        #expect(mails.count == 1 && mails.first?.tls == true)
    }
}
