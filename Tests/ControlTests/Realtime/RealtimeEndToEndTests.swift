import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutControl

#if canImport(Glibc)
import Glibc
#endif

/// Live updates with the real binaries: two `lookout-control` instances on one database and
/// Redis prefix, a cluster-mode `lookout-engine` checking a loopback target, a stock Socket.IO
/// client (python-socketio) on one instance and a plain WebSocket client (websocket-client) on
/// the other; and clients that stop reading.
@Suite(
    "Live updates end to end: Socket.IO and WebSocket clients on two instances, slow clients dropped",
    .serialized,
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason),
    .enabled(if: RealtimeClients.available, RealtimeClients.skipReason)
)
struct RealtimeEndToEndTests {
    @Test(
        "both clients receive check:update within 2 s of the check and incident:update when the target fails; another user's monitor is refused"
    )
    func twoInstances() async throws {
        let python = try RealtimeClients.python()
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try ControlEndToEndTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("live")
        // Healthy for 8 checks, then failing for ever.
        let answers = Array(repeating: #"{"status": 200}"#, count: 8) + [#"{"status": 500}"#]
        let target = try FixtureProcess(
            script: "http_receiver.py",
            arguments: ["--script", #"{"/target": ["# + answers.joined(separator: ",") + "]}"])
        defer { target.stop() }

        let (first, api) = try Self.startControl(
            schema: schema, prefix: prefix, directory: directory, name: "control-1")
        defer { first.stop() }
        let (second, secondAPI) = try Self.startControl(
            schema: schema, prefix: prefix, directory: directory, name: "control-2")
        defer { second.stop() }
        try await api.waitUntilReady(first)
        try await secondAPI.waitUntilReady(second)

        let token = try await api.register("live-\(UInt32.random(in: 0...UInt32.max))@example.com")
        let created = try await api.request(
            .post, "/api/v1/monitors", token: token,
            json: [
                "name": "Checkout", "url": "http://127.0.0.1:\(target.port)/target", "intervalSeconds": 0.5,
                "timeoutMs": 2000, "failureThreshold": 2, "recoveryThreshold": 1,
            ])
        try #require(created.status == .created, "\(created.text)")
        let monitorId = try #require(created.object.int64("id"))
        let strangerToken = try await secondAPI.register("stranger-\(UInt32.random(in: 0...UInt32.max))@example.com")
        let foreign = try await secondAPI.request(
            .post, "/api/v1/monitors", token: strangerToken,
            json: ["name": "Not yours", "url": "http://127.0.0.1:9/", "paused": true])
        let foreignId = try #require(foreign.object.int64("id"))

        let socketIO = try FixtureProcess(
            script: "realtime_client.py",
            arguments: [
                "--mode", "socketio", "--url", "http://127.0.0.1:\(api.port)", "--token", token, "--monitor",
                String(monitorId), "--foreign", String(foreignId),
            ],
            interpreter: python)
        defer { socketIO.stop() }
        let webSocket = try FixtureProcess(
            script: "realtime_client.py",
            arguments: [
                "--mode", "ws", "--url", "http://127.0.0.1:\(secondAPI.port)", "--token", token, "--monitor",
                String(monitorId), "--foreign", String(foreignId),
            ],
            interpreter: python)
        defer { webSocket.stop() }

        // Refused: the stranger's monitor answers exactly like a missing one.
        let acks = RealtimeClients.records(socketIO).filter { $0["kind"] as? String == "ack" }
        #expect(acks.count == 2)
        #expect((acks.first?["reply"] as? [String: Any])?["ok"] as? Bool == true)
        let refusal = (acks.last?["reply"] as? [String: Any])
        #expect(refusal?["ok"] as? Bool == false)
        #expect(
            (refusal?["error"] as? [String: Any])?["code"] as? String == "not_found", "\(String(describing: refusal))")
        let wsError = RealtimeClients.messages(webSocket).first { $0["type"] as? String == "error" }
        #expect(wsError?["code"] as? String == "not_found", "\(String(describing: wsError))")

        let engine = try ChildProcess(
            "lookout-engine",
            arguments: [
                "--database", schema.url, "--redis", try #require(RedisTest.url), "--redis-prefix", prefix,
                "--engine-id", "engine-live", "--allow-private-targets", "--loops", "1", "--reconcile-seconds", "2",
                "--spill-dir", directory + "/spill",
            ],
            directory: directory,
            name: "engine"
        )
        defer { engine.stop() }

        // The incident comes from the consumer, the check that carries the UP → DOWN change from
        // the live channel (the first check at or after the confirmation): either may come first.
        func sawDown(_ client: FixtureProcess) -> Bool {
            RealtimeClients.updates(client, "incident:update").contains { $0["event"] as? String == "opened" }
                && RealtimeClients.updates(client, "check:update").contains {
                    ($0["statusChange"] as? [String: String]) == ["from": "UP", "to": "DOWN"]
                }
        }
        let both = await waitFor(.seconds(60)) { sawDown(socketIO) && sawDown(webSocket) }
        try #require(
            both,
            """
            no opened incident + UP → DOWN check on both; socket.io: \(RealtimeClients.records(socketIO).suffix(3)) \
            ws: \(RealtimeClients.records(webSocket).suffix(3)) engine: \(engine.standardError.suffix(1500)) \
            control-1: \(first.standardError.suffix(1500)) control-2: \(second.standardError.suffix(1500))
            """
        )

        for (name, client) in [("socket.io", socketIO), ("ws", webSocket)] {
            let checks = RealtimeClients.timedUpdates(client, "check:update")
            #expect(checks.count >= 8, "\(name): \(checks.count) check:update")
            for (data, receivedAt) in checks {
                #expect(data["monitorId"] as? Int == Int(monitorId), "\(name): \(data)")
                #expect(data["monitorName"] as? String == "Checkout")
                #expect(["UP", "DOWN", "UNKNOWN"].contains(data["status"] as? String ?? ""))
                // The engine's measurement reaches the client: the receiver answers HTTP/1.1, no TLS.
                #expect(data["httpVersion"] as? String == "1.1", "\(name): \(data)")
                #expect(data["tlsResumed"] is NSNull, "\(name): \(data)")
                let checkedAt = try #require(
                    RFC3339.parseEpochMilliseconds(data["checkedAt"] as? String ?? ""), "\(name): \(data)")
                let delay = receivedAt - Double(checkedAt) / 1000
                // From the check's start: its own duration, the engine's batching (≤ 100 ms) and fan-out.
                #expect(delay < 2.0, "\(name): check:update \(delay) s after its check")
            }
            #expect(
                checks.contains { ($0.0["statusChange"] as? [String: String]) == ["from": "UP", "to": "DOWN"] },
                "\(name): no check:update carried the UP → DOWN change")
            #expect(checks.contains { $0.0["status"] as? String == "DOWN" })
            let incident = try #require(RealtimeClients.updates(client, "incident:update").first)
            #expect(incident["monitorId"] as? Int == Int(monitorId))
            #expect(incident["monitorName"] as? String == "Checkout")
            #expect(incident["event"] as? String == "opened")
            #expect(incident["incidentId"] is Int)
            #expect(incident["causeStatus"] as? String == "DOWN")
            #expect(incident["causeCode"] as? String == "status_mismatch")
            #expect(incident["startedAt"] is String)
            #expect(incident["resolvedAt"] is NSNull)
        }
        let metrics = try await api.request(.get, "/metrics").text
        #expect(metrics.contains("lookout_control_realtime_clients{protocol=\"socketio\"} 1"), "\(metrics)")
        #expect(metrics.contains("lookout_control_realtime_messages_sent_total{protocol=\"socketio\"}"))
        let secondMetrics = try await secondAPI.request(.get, "/metrics").text
        #expect(secondMetrics.contains("lookout_control_realtime_clients{protocol=\"ws\"} 1"))
    }

    @Test(
        "a client that stops reading is dropped with 1008 (/ws) or 4008 (Socket.IO) and a reason, while another client's latency stays the same"
    )
    func slowClientsAreDropped() async throws {
        let python = try RealtimeClients.python()
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try ControlEndToEndTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("slow")
        let (control, api) = try Self.startControl(
            schema: schema, prefix: prefix, directory: directory, name: "control-slow",
            extra: ["--realtime-queue-messages", "200", "--realtime-queue-bytes", "131072"])
        defer { control.stop() }
        try await api.waitUntilReady(control)
        let token = try await api.register("slow-\(UInt32.random(in: 0...UInt32.max))@example.com")
        var ids: [Int64] = []
        for name in ["flood", "probe"] {
            let monitor = try await api.request(
                .post, "/api/v1/monitors", token: token,
                json: ["name": name, "url": "http://127.0.0.1:9/\(name)", "paused": true])
            ids.append(try #require(monitor.object.int64("id")))
        }
        let (flood, probe) = (ids[0], ids[1])

        // The reader subscribes to the probe monitor only; the stalled ones to the flooded one.
        let reader = try FixtureProcess(
            script: "realtime_client.py",
            arguments: [
                "--mode", "ws", "--url", "http://127.0.0.1:\(api.port)", "--token", token, "--monitor", String(probe),
            ],
            interpreter: python)
        defer { reader.stop() }
        var stalled: [String: FixtureProcess] = [:]
        for path in ["/ws", "/socket.io/"] {
            stalled[path] = try FixtureProcess(
                script: "realtime_client.py",
                arguments: [
                    "--mode", "stalled", "--url", "127.0.0.1:\(api.port)", "--token", token, "--monitor",
                    String(flood), "--path", path,
                ],
                interpreter: python)
        }
        defer { for process in stalled.values { process.stop() } }

        let publisher = try await LivePublisher(prefix: prefix)
        defer { publisher.shutdown() }
        // Latency before: probes alone.
        let baseline = try await publisher.probe(monitorId: probe, count: 30, reader: reader, tag: "before")
        // The flood: 600 updates of ~10 kB (6 MB) for the stalled clients, more than the kernel's
        // socket buffers and their queues (128 kB) hold, with a probe for the reader after each
        // batch. Few and large, so that fanning them out costs the reader little by itself.
        let during = try await publisher.flood(
            monitorId: flood, batches: 12, perBatch: 50, probeMonitorId: probe, reader: reader, tag: "during")
        let dropped = await waitFor(.seconds(20)) {
            let text = (try? await api.request(.get, "/metrics"))?.text ?? ""
            return text.contains("lookout_control_realtime_slow_clients_dropped_total{protocol=\"ws\"} 1")
                && text.contains("lookout_control_realtime_slow_clients_dropped_total{protocol=\"socketio\"} 1")
        }
        try #require(dropped, "the stalled clients were not dropped: \(control.standardError.suffix(2000))")
        let after = try await publisher.probe(monitorId: probe, count: 30, reader: reader, tag: "after")

        for (path, process) in stalled {
            process.send(line: "read")
            let drained = await waitFor(.seconds(30)) {
                RealtimeClients.records(process).contains { $0["kind"] as? String == "drained" }
            }
            try #require(drained, "\(path): the stalled client never saw its connection end")
            let record = try #require(RealtimeClients.records(process).first { $0["kind"] as? String == "drained" })
            let close = try #require(record["close"] as? [String: Any], "\(path): no close frame: \(record)")
            #expect(close["code"] as? Int == (path == "/ws" ? 1008 : 4008), "\(path): \(close)")
            #expect((close["reason"] as? String)?.contains("slow consumer") == true, "\(path): \(close)")
        }

        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let base = median(baseline)
        // Every probe arrived, and the reader's latency did not move with the stalled clients. A
        // reader held up behind a stalled socket would wait for its drop grace period (10 s); the
        // 0.5 s floor keeps a busy machine's scheduling noise from being read as that.
        #expect(baseline.count == 30 && during.count == 12 && after.count == 30)
        #expect(median(during) < max(0.5, base * 3), "p50 before \(base) s, during the flood \(median(during)) s")
        #expect(median(after) < max(0.5, base * 3), "p50 before \(base) s, after \(median(after)) s")
        #expect(control.isRunning)
    }

    @Test("tls and dns findings, httpVersion and tlsResumed published on Redis reach a /ws client unchanged")
    func findingsReachClients() async throws {
        let python = try RealtimeClients.python()
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try ControlEndToEndTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("findings")
        let (control, api) = try Self.startControl(
            schema: schema, prefix: prefix, directory: directory, name: "control-findings")
        defer { control.stop() }
        try await api.waitUntilReady(control)
        let token = try await api.register("findings-\(UInt32.random(in: 0...UInt32.max))@example.com")
        let monitor = try await api.request(
            .post, "/api/v1/monitors", token: token,
            json: ["name": "findings", "url": "http://127.0.0.1:9/", "paused": true])
        let monitorId = try #require(monitor.object.int64("id"))
        let reader = try FixtureProcess(
            script: "realtime_client.py",
            arguments: [
                "--mode", "ws", "--url", "http://127.0.0.1:\(api.port)", "--token", token, "--monitor",
                String(monitorId),
            ],
            interpreter: python)
        defer { reader.stop() }
        let publisher = try await LivePublisher(prefix: prefix)
        defer { publisher.shutdown() }

        let now = Int64(LivePublisher.now() * 1000)
        try await publisher.publish([
            CheckResult(
                monitorId: String(monitorId), checkedAtMs: now, status: .up, httpStatus: 200, tlsMicros: 400,
                httpVersion: 20, tlsResumed: true),
            CheckResult(
                monitorId: String(monitorId), checkedAtMs: now + 1, status: .up, tlsMicros: 1_200,
                details: CheckDetails(
                    tlsIssuer: "CN=Lookout Test CA", tlsProtocol: "TLSv1.3", tlsCipher: "TLS_AES_256_GCM_SHA384")),
            CheckResult(
                monitorId: String(monitorId), checkedAtMs: now + 2, status: .up, dnsMicros: 700,
                details: CheckDetails(dnsAnswers: ["10 mail.example.com", "20 backup.example.com"])),
        ])
        let arrived = await waitFor(.seconds(10)) { RealtimeClients.updates(reader, "check:update").count >= 3 }
        let updates = RealtimeClients.updates(reader, "check:update")
        try #require(arrived, "\(updates.count) of 3 check:update; control: \(control.standardError.suffix(1500))")
        #expect(updates[0]["httpVersion"] as? String == "2" && updates[0]["tlsResumed"] as? Bool == true)
        #expect(updates[1]["tlsIssuer"] as? String == "CN=Lookout Test CA")
        #expect(updates[1]["tlsProtocol"] as? String == "TLSv1.3")
        #expect(updates[1]["tlsCipher"] as? String == "TLS_AES_256_GCM_SHA384")
        #expect(updates[1]["httpVersion"] is NSNull && updates[1]["tlsResumed"] is NSNull)
        #expect(updates[2]["dnsAnswers"] as? [String] == ["10 mail.example.com", "20 backup.example.com"])
        #expect(
            updates.allSatisfy { $0["monitorId"] as? Int == Int(monitorId) && $0["checkStatus"] as? String == "UP" })
    }

    @Test("plain HTTP to the WebSocket paths: Socket.IO long-polling is refused in Engine.IO's error shape")
    func pollingRefused() async throws {
        try await ControlHarness.withApplication(.live) { api in
            let polling = try await api.request(.get, "/socket.io/?EIO=4&transport=polling")
            #expect(polling.status == .badRequest)
            #expect(polling.object["code"] as? Int == 0)
            #expect((polling.object["message"] as? String)?.contains("transports: ['websocket']") == true)
            let oldProtocol = try await api.request(.get, "/socket.io/?EIO=3&transport=polling")
            #expect(oldProtocol.object["code"] as? Int == 5)
            let plain = try await api.request(.get, "/ws")
            #expect(plain.status.code == 426)
            #expect(plain.errorCode == "upgrade_required")
            #expect(try await api.request(.get, "/nowhere").status == .notFound)
        }
    }

    // MARK: helpers

    static func startControl(
        schema: TestSchema, prefix: String, directory: String, name: String, extra: [String] = []
    ) throws -> (ChildProcess, LiveAPI) {
        let port = try freeLoopbackPort()
        let process = try ChildProcess(
            "lookout-control",
            arguments: [
                "--database", schema.url, "--redis", try #require(RedisTest.url), "--redis-prefix", prefix,
                "--port", String(port), "--bcrypt-cost", "10", "--instance-id", name, "--allow-private-targets",
                "--no-rollups", "--dispatcher-concurrency", "0", "--claim-idle-ms", "2000",
            ] + extra,
            directory: directory,
            name: name
        )
        return (process, LiveAPI(port: port))
    }
}

/// Publishes results on the live channel the way engines do, each carrying its send time, and
/// measures how long the reader took to receive them.
final class LivePublisher: Sendable {
    let redis: RedisClient
    let contract: ClusterContract

    init(prefix: String) async throws {
        redis = try RedisClient(
            endpoint: try RedisTest.endpoint(), clientName: "live-publisher", logger: ControlHarness.logger)
        contract = try ClusterContract(prefix: prefix)
        try #require(await redis.waitUntilReady(seconds: 5))
    }

    func shutdown() { redis.shutdown() }

    static func now() -> Double { Date().timeIntervalSince1970 }

    func publish(_ results: [CheckResult]) async throws {
        var encoder = LiveResultsEncoder()
        let message = encoder.encode(results[...])
        _ = try await redis.commands.command([Array("PUBLISH".utf8), Array(contract.liveChannel.utf8), message])
    }

    static func result(_ monitorId: Int64, tag: String, padding: Int = 0) -> CheckResult {
        CheckResult(
            monitorId: String(monitorId), checkedAtMs: Int64(now() * 1000), status: .down, httpStatus: 500,
            errorCode: .statusMismatch,
            errorMessage: "\(tag) sent:\(String(format: "%.6f", now()))" + String(repeating: " ", count: padding))
    }

    /// Publishes `count` probes 30 ms apart; the reader's latency of each, in seconds.
    func probe(monitorId: Int64, count: Int, reader: FixtureProcess, tag: String) async throws -> [Double] {
        for index in 0..<count {
            try await publish([Self.result(monitorId, tag: "\(tag)-\(index)")])
            try await Task.sleep(for: .milliseconds(30))
        }
        return await latencies(reader, tag: tag, expected: count)
    }

    /// Publishes `batches` messages of `perBatch` results for the flooded monitor, one probe
    /// after each; the probes' latencies.
    func flood(
        monitorId: Int64, batches: Int, perBatch: Int, probeMonitorId: Int64, reader: FixtureProcess, tag: String
    ) async throws -> [Double] {
        for index in 0..<batches {
            try await publish((0..<perBatch).map { _ in Self.result(monitorId, tag: "flood", padding: 10_000) })
            try await publish([Self.result(probeMonitorId, tag: "\(tag)-\(index)")])
            try await Task.sleep(for: .milliseconds(30))
        }
        return await latencies(reader, tag: tag, expected: batches)
    }

    private func latencies(_ reader: FixtureProcess, tag: String, expected: Int) async -> [Double] {
        var found: [Double] = []
        _ = await waitFor(.seconds(10)) {
            found = RealtimeClients.timedUpdates(reader, "check:update").compactMap { data, receivedAt in
                guard let message = data["errorMessage"] as? String, message.hasPrefix(tag + "-"),
                    let sent = message.split(separator: ":").last.flatMap({ Double($0) })
                else { return nil }
                return receivedAt - sent
            }
            return found.count >= expected
        }
        return found
    }
}

/// The Python clients of these tests: the project virtualenv's interpreter (`scripts/setup`
/// makes `.local/venv` with python-socketio and websocket-client) and their logs.
enum RealtimeClients {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var interpreter: URL {
        if let configured = ProcessInfo.processInfo.environment["LOOKOUT_TEST_VENV"], !configured.isEmpty {
            return URL(fileURLWithPath: configured).appendingPathComponent("bin/python")
        }
        return root.appendingPathComponent(".local/venv/bin/python")
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: interpreter.path) || TestDatabase.isCI }
    static let skipReason: Comment =
        "the project virtualenv .local/venv (python-socketio, websocket-client) is missing: run scripts/setup (with CI set this fails)"

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "CI is set but \(RealtimeClients.interpreter.path) does not exist: scripts/setup creates the project virtualenv .local/venv with python-socketio and websocket-client"
        }
    }

    static func python() throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: interpreter.path) else { throw Missing() }
        return interpreter
    }

    /// Every JSON line the client logged so far.
    static func records(_ client: FixtureProcess) -> [[String: Any]] {
        guard let data = try? Data(contentsOf: client.logFile) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap {
            try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
        }
    }

    /// The `/ws` messages a `ws` client received.
    static func messages(_ client: FixtureProcess) -> [[String: Any]] {
        records(client).compactMap { $0["message"] as? [String: Any] }
    }

    /// The data of every `event` received (either protocol), with the time it arrived.
    static func timedUpdates(_ client: FixtureProcess, _ event: String) -> [([String: Any], Double)] {
        records(client).compactMap { record in
            let receivedAt = record["receivedAt"] as? Double ?? 0
            if record["kind"] as? String == "event", record["event"] as? String == event,
                let data = record["data"] as? [String: Any]
            {
                return (data, receivedAt)
            }
            if let message = record["message"] as? [String: Any], message["type"] as? String == event,
                let data = message["data"] as? [String: Any]
            {
                return (data, receivedAt)
            }
            return nil
        }
    }

    static func updates(_ client: FixtureProcess, _ event: String) -> [[String: Any]] {
        timedUpdates(client, event).map(\.0)
    }
}
