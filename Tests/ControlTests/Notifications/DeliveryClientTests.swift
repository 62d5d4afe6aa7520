import Foundation
import LookoutCore
import LookoutFFI
import Synchronization
import Testing

@testable import LookoutControl

/// The transfer machinery itself: limits, cancellation, shutdown, response capture.
@Suite("Delivery client: curl on its own loop thread, bridged to async/await")
struct DeliveryClientTests {
    @Test("at most maxInFlight transfers run at once; the others wait and all complete")
    func inFlightBound() async throws {
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"*": [{"status": 200, "delayMs": 150}]}"#]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true, maxInFlight: 2)
        defer { client.shutdown() }
        let statuses = await withTaskGroup(of: Int.self) { group in
            for index in 0..<6 {
                group.addTask {
                    let request = CurlTransferRequest(
                        url: "http://127.0.0.1:\(receiver.port)/n/\(index)",
                        body: Array("{}".utf8)
                    )
                    return await client.perform(request).status
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 6))
        let requests: [ReceivedRequest] = try receiver.records()
        #expect(requests.count == 6)
        #expect(requests.map(\.concurrent).max() ?? 0 <= 2)
    }

    @Test("a full queue answers busy at once")
    func busy() async throws {
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"*": [{"status": 200, "delayMs": 300}]}"#]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true, maxInFlight: 1, maxQueued: 1)
        defer { client.shutdown() }
        let failures = await withTaskGroup(of: CurlTransferFailure.Code?.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await client.perform(CurlTransferRequest(url: "http://127.0.0.1:\(receiver.port)/")).failure?.code
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(failures.filter { $0 == nil }.count == 2)
        #expect(failures.filter { $0 == .busy }.count == 1)
    }

    @Test("a cancelled task stops its transfer at once")
    func cancellation() async throws {
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"*": [{"status": 200, "delayMs": 10000}]}"#]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let task = Task {
            await client.perform(CurlTransferRequest(url: "http://127.0.0.1:\(receiver.port)/slow", timeoutMs: 30_000))
        }
        try await receiver.waitUntil { receiver.arrivals() >= 1 }
        task.cancel()
        let response = await task.value
        #expect(response.failure?.code == .cancelled)
        // The receiver logs a request once it has answered (after its 10 s delay): the
        // transfer ended before that, so the cancellation stopped it rather than waited for it.
        #expect(try receiver.records(as: ReceivedRequest.self).isEmpty)
    }

    @Test("shutdown ends transfers in flight and refuses new ones")
    func shutdown() async throws {
        let receiver = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"*": [{"status": 200, "delayMs": 10000}]}"#]
        )
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        let pending = Task {
            await client.perform(CurlTransferRequest(url: "http://127.0.0.1:\(receiver.port)/slow", timeoutMs: 30_000))
        }
        try await receiver.waitUntil { receiver.arrivals() >= 1 }
        client.shutdown()
        #expect(await pending.value.failure?.code == .shutdown)
        #expect(
            await client.perform(CurlTransferRequest(url: "http://127.0.0.1:\(receiver.port)/")).failure?.code
                == .shutdown
        )
        client.shutdown()
    }

    @Test("response status, headers and a body capped at maxResponseBytes")
    func responseCapture() async throws {
        let script =
            #"{"*": [{"status": 201, "headers": {"X-Answer": "42", "Retry-After": "5"}, "body": "0123456789", "repeatBody": 10000}]}"#
        let receiver = try FixtureProcess(script: "http_receiver.py", arguments: ["--script", script])
        defer { receiver.stop() }
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let response = await client.perform(
            CurlTransferRequest(
                url: "http://127.0.0.1:\(receiver.port)/big",
                method: "PUT",
                headers: [CurlHeaderField("X-Test", "yes")],
                body: Array("payload".utf8),
                maxResponseBytes: 1_000
            )
        )
        #expect(response.failure == nil)
        #expect(response.status == 201)
        #expect(response.header("x-answer") == "42")
        #expect(response.header("RETRY-AFTER") == "5")
        #expect(response.body.count == 1_000)
        #expect(response.bodyTruncated)
        #expect(response.connectedAddress == "127.0.0.1")
        let requests: [ReceivedRequest] = try receiver.records()
        #expect(requests.first?.method == "PUT")
        #expect(requests.first?.body == "payload")
        #expect(requests.first?.headers["x-test"] == "yes")
    }

    @Test("requests that cannot be sent are refused before any connection")
    func invalidRequests() async throws {
        let client = try DeliveryTestSupport.client(allowPrivateTargets: true)
        defer { client.shutdown() }
        let witness = try ConnectionWitness()
        let cases: [CurlTransferRequest] = [
            CurlTransferRequest(url: "ftp://127.0.0.1:\(witness.port)/x"),
            CurlTransferRequest(url: "file:///etc/passwd"),
            CurlTransferRequest(url: "not a url"),
            CurlTransferRequest(
                url: "http://127.0.0.1:\(witness.port)/",
                headers: [CurlHeaderField("X-A", "b\r\nX-Injected: 1")]
            ),
            CurlTransferRequest(url: "http://127.0.0.1:\(witness.port)/", method: "GET /evil"),
            CurlTransferRequest(
                url: "smtp://127.0.0.1:\(witness.port)",
                mail: CurlMailEnvelope(from: "a@b.test", recipients: ["x@y.test>\r\nRCPT TO:<z@z.test"])
            ),
            CurlTransferRequest(
                url: "http://127.0.0.1:\(witness.port)/",
                mail: CurlMailEnvelope(from: "a@b.test", recipients: ["c@d.test"])
            ),
        ]
        for request in cases {
            let response = await client.perform(request)
            #expect(response.failure?.code == .invalidRequest, "\(request.url)")
        }
        #expect(witness.takeConnectionCount() == 0)
    }

    @Test("an unusable CA file or DNS server stops the client from starting, naming the setting")
    func startupErrors() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent(
            "no-such-ca-\(UUID().uuidString).pem"
        )
        do {
            _ = try DeliveryTestSupport.client(allowPrivateTargets: false, caFile: missing.path)
            Issue.record("started with a missing CA file")
        } catch {
            #expect(String(describing: error).contains("--ca-file"))
        }
        do {
            _ = try DeliveryTestSupport.client(allowPrivateTargets: false, dnsServer: "dns.example.com")
            Issue.record("started with a DNS server name")
        } catch {
            #expect(String(describing: error).contains("dns.example.com"))
        }
    }

    @Test("settings come from ControlConfiguration.Notifications")
    func settingsFromConfiguration() {
        var notifications = ControlConfiguration.Notifications()
        notifications.smtpURL = "smtp://user:pw@mail.example.com:587"
        notifications.allowPrivateTargets = true
        notifications.dnsServer = "127.0.0.1:53"
        notifications.dispatcherConcurrency = 0
        notifications.timeoutMilliseconds = 20_000
        let client = DeliveryClient.Configuration(notifications)
        #expect(client.policy == TargetPolicy(allowAll: true))
        #expect(client.dnsServer == "127.0.0.1:53")
        #expect(client.maxInFlight == 4)
        let settings = Notifier.Settings(notifications)
        #expect(settings.smtpServer == .success(try! SMTPServer(url: "smtp://user:pw@mail.example.com:587")))
        #expect(settings.smtpFrom == "lookout@localhost")
        #expect(settings.telegramAPIBase == "https://api.telegram.org")
        #expect(settings.timeoutMilliseconds == 20_000 && settings.connectTimeoutMilliseconds == 5_000)
    }
}
