import Foundation
import LookoutFFI
import Testing

@testable import LookoutControl

/// Webhooks through libcurl to a real receiver on loopback, which checks the signature itself.
@Suite("Webhook delivery against a loopback receiver")
struct WebhookDeliveryTests {
    @Test("a signed POST arrives with the payload, the key and the documented headers")
    func delivered() async throws {
        let receiver = try FixtureProcess(script: "http_receiver.py", arguments: ["--secret", "whsec_loopback"])
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client)
        let target = ChannelTarget.webhook(
            url: "http://127.0.0.1:\(receiver.port)/hooks/lookout",
            signingSecret: "whsec_loopback"
        )

        let attempt = await notifier.deliver(DeliveryTestSupport.down, idempotencyKey: "outbox-1", to: target)

        #expect(attempt.outcome == .delivered)
        #expect(attempt.status == 200)
        #expect(attempt.channel == .webhook)
        let requests: [ReceivedRequest] = try receiver.records()
        try #require(requests.count == 1)
        let request = requests[0]
        #expect(request.method == "POST")
        #expect(request.path == "/hooks/lookout")
        #expect(request.signatureValid == true)
        #expect(request.body == String(decoding: DeliveryTestSupport.down.jsonBytes(), as: UTF8.self))
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["user-agent"] == "Lookout-Webhook/1")
        #expect(request.headers["idempotency-key"] == "outbox-1")
        #expect(request.headers["x-lookout-event"] == "monitor.down")
        let timestamp = try #require(request.headers["x-lookout-timestamp"].flatMap { Double($0) })
        #expect(abs(timestamp - Date().timeIntervalSince1970) < 60)
        #expect(request.headers["expect"] == nil)
        #expect(request.headers["x-lookout-signature"]?.hasPrefix("sha256=") == true)
    }

    @Test("503 with Retry-After is retried after that long; the next attempt has the same key")
    func retryAfterThenDelivered() async throws {
        let script =
            #"{"/hook": [{"status": 503, "headers": {"Retry-After": "7"}, "body": "maintenance"}, {"status": 202}]}"#
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--secret", "s3cret", "--script", script]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let notifier = DeliveryTestSupport.notifier(client)
        let target = ChannelTarget.webhook(url: "http://127.0.0.1:\(receiver.port)/hook", signingSecret: "s3cret")

        let first = await notifier.deliver(
            DeliveryTestSupport.up,
            idempotencyKey: "incident-7:up:channel-3",
            to: target
        )
        #expect(first.outcome == .retry(after: 7, reason: "the webhook answered 503 Service Unavailable: maintenance"))
        #expect(first.status == 503)
        let second = await notifier.deliver(
            DeliveryTestSupport.up,
            idempotencyKey: "incident-7:up:channel-3",
            to: target
        )
        #expect(second.outcome == .delivered)
        #expect(second.status == 202)

        let requests: [ReceivedRequest] = try receiver.records()
        #expect(requests.count == 2)
        #expect(
            requests.map { $0.headers["idempotency-key"] } == ["incident-7:up:channel-3", "incident-7:up:channel-3"]
        )
        #expect(requests.allSatisfy { $0.signatureValid == true })
        #expect(
            requests.map(\.body)
                == Array(repeating: String(decoding: DeliveryTestSupport.up.jsonBytes(), as: UTF8.self), count: 2)
        )
    }

    @Test("410 Gone is permanent")
    func gone() async throws {
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"*": [{"status": 410, "body": "gone"}]}"#]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let attempt = await DeliveryTestSupport.notifier(client).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-410",
            to: .webhook(url: "http://127.0.0.1:\(receiver.port)/x", signingSecret: nil)
        )
        #expect(attempt.outcome == .permanent(reason: "the webhook answered 410 Gone: gone"))
        #expect(attempt.status == 410)
        let requests: [ReceivedRequest] = try receiver.records()
        #expect(requests.count == 1 && requests[0].signatureValid == nil)
    }

    @Test("the target policy refuses a loopback webhook before any connection is made")
    func policyRefusesLoopback() async throws {
        let witness = try ConnectionWitness()
        let client = try DeliveryTestSupport.client(allowPrivateTargets: false)
        defer { client.shutdown() }
        let attempt = await DeliveryTestSupport.notifier(client).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-policy",
            to: .webhook(url: "http://127.0.0.1:\(witness.port)/hook", signingSecret: "s")
        )
        guard case .permanent(let reason) = attempt.outcome else {
            Issue.record("expected a permanent refusal, got \(attempt.outcome)")
            return
        }
        #expect(reason.contains("policy: connection to 127.0.0.1 refused by the target policy (loopback address)"))
        #expect(reason.contains("--allow-private-targets"))
        #expect(attempt.status == nil)
        #expect(witness.takeConnectionCount() == 0)
    }

    @Test("names are resolved by c-ares on the loopback DNS stub; the policy judges the answer")
    func namesThroughDNS() async throws {
        let dns = try FixtureProcess(script: "dns_stub.py")
        defer { dns.stop() }
        let receiver = try FixtureProcess(script: "http_receiver.py")
        defer { receiver.stop() }
        let witness = try ConnectionWitness()

        // Allowed: hooks.lookout.test resolves to 127.0.0.1 and curl connects there (CONNECT_TO).
        let open = try DeliveryTestSupport.client(allowPrivateTargets: true, dnsServer: "127.0.0.1:\(dns.port)")
        defer { open.shutdown() }
        let delivered = await DeliveryTestSupport.notifier(open).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-dns",
            to: .webhook(url: "http://hooks.lookout.test:\(receiver.port)/via-dns", signingSecret: nil)
        )
        #expect(delivered.outcome == .delivered)
        let requests: [ReceivedRequest] = try receiver.records()
        #expect(requests.map(\.path) == ["/via-dns"])
        #expect(requests.first?.headers["host"] == "hooks.lookout.test:\(receiver.port)")
        let questions: [ReceivedQuestion] = try dns.records()
        #expect(questions.contains(ReceivedQuestion(name: "hooks.lookout.test", type: "A")))

        // Refused: the same kind of name, but the policy does not allow loopback.
        let strict = try DeliveryTestSupport.client(allowPrivateTargets: false, dnsServer: "127.0.0.1:\(dns.port)")
        defer { strict.shutdown() }
        let refused = await DeliveryTestSupport.notifier(strict).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-dns-policy",
            to: .webhook(url: "http://internal.lookout.test:\(witness.port)/x", signingSecret: nil)
        )
        guard case .permanent(let reason) = refused.outcome else {
            Issue.record("expected a permanent refusal, got \(refused.outcome)")
            return
        }
        #expect(reason.contains("internal.lookout.test resolves to 127.0.0.1"))
        #expect(witness.takeConnectionCount() == 0)

        // A name that does not exist: retried (DNS may recover), with the DNS error named.
        let missing = await DeliveryTestSupport.notifier(open).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-nx",
            to: .webhook(url: "http://nx-gone.lookout.test/x", signingSecret: nil)
        )
        guard case .retry(nil, let missingReason) = missing.outcome else {
            Issue.record("expected a retry, got \(missing.outcome)")
            return
        }
        #expect(missingReason.contains("dns_nxdomain"))
    }

    @Test("connection refused and no answer in time are retried")
    func connectionFailures() async throws {
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let closed = try closedLoopbackPort()
        let refused = await DeliveryTestSupport.notifier(client).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-refused",
            to: .webhook(url: "http://127.0.0.1:\(closed)/x", signingSecret: nil)
        )
        guard case .retry(nil, let reason) = refused.outcome else {
            Issue.record("expected a retry, got \(refused.outcome)")
            return
        }
        #expect(reason.contains("connect_refused"))

        // A listener that accepts (in the kernel) but never answers.
        let silent = try ConnectionWitness()
        let timedOut = await DeliveryTestSupport.notifier(client, timeoutMilliseconds: 400).deliver(
            DeliveryTestSupport.down,
            idempotencyKey: "k-timeout",
            to: .webhook(url: "http://127.0.0.1:\(silent.port)/x", signingSecret: nil)
        )
        guard case .retry(nil, let timeoutReason) = timedOut.outcome else {
            Issue.record("expected a retry, got \(timedOut.outcome)")
            return
        }
        #expect(timeoutReason.contains("timeout"))
        #expect(silent.takeConnectionCount() == 1)
    }
}
