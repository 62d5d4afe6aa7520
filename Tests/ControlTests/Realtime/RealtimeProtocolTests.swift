import Foundation
import LookoutCore
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

@testable import LookoutControl

/// The live-update wire formats without I/O: Engine.IO and Socket.IO packets, the `/ws`
/// messages, the live-results scanner, the state-update contract, and the send queue and rooms.
@Suite("Live updates: Engine.IO / Socket.IO packet codec, /ws messages, fan-out building blocks")
struct RealtimeProtocolTests {
    static func json(_ buffer: ByteBuffer) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [.fragmentsAllowed])
    }

    static func object(_ text: some StringProtocol) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(text).utf8))) as? [String: Any] ?? [:]
    }

    // MARK: Engine.IO

    @Test("Engine.IO packets decode by their type digit and encode back")
    func engineIOPackets() throws {
        #expect(EngineIOPacket.decode("2") == .ping(""))
        #expect(EngineIOPacket.decode("2probe") == .ping("probe"))
        #expect(EngineIOPacket.decode("3") == .pong(""))
        #expect(EngineIOPacket.decode("1") == .close)
        #expect(EngineIOPacket.decode("40{\"token\":\"t\"}") == .message("0{\"token\":\"t\"}"))
        #expect(EngineIOPacket.decode("5") == .upgrade)
        #expect(EngineIOPacket.decode("6") == .noop)
        #expect(EngineIOPacket.decode("") == nil)
        #expect(EngineIOPacket.decode("9") == nil)
        #expect(EngineIOPacket.decode("x") == nil)
        #expect(EngineIOPacket.pong("probe").encoded == "3probe")
        #expect(EngineIOPacket.message("2[\"a\"]").encoded == "42[\"a\"]")
    }

    @Test("the open packet carries sid, no upgrades, the heartbeat and maxPayload")
    func handshake() throws {
        let packet = EngineIOPacket.handshake(
            sid: "abc", pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 1_000_000)
        let text = packet.encoded
        #expect(text.hasPrefix("0{"))
        let object = Self.object(text.dropFirst())
        #expect(object["sid"] as? String == "abc")
        #expect((object["upgrades"] as? [Any])?.isEmpty == true)
        #expect(object["pingInterval"] as? Int == 25_000)
        #expect(object["pingTimeout"] as? Int == 20_000)
        #expect(object["maxPayload"] as? Int == 1_000_000)
    }

    @Test("an Engine.IO request must be EIO=4 over the websocket transport, without a polling sid")
    func engineIOQuery() throws {
        #expect(EngineIOHTTPError.check(query: ["EIO": "4", "transport": "websocket"]) == nil)
        let polling = try #require(EngineIOHTTPError.check(query: ["EIO": "4", "transport": "polling"]))
        #expect(polling.code == .unknownTransport)
        #expect(polling.message.contains("transports: ['websocket']"))
        let body = Self.object(polling.json)
        #expect(body["code"] as? Int == 0)
        #expect((body["message"] as? String)?.contains("websocket") == true)
        #expect(
            EngineIOHTTPError.check(query: ["EIO": "3", "transport": "websocket"])?.code == .unsupportedProtocolVersion)
        #expect(EngineIOHTTPError.check(query: ["transport": "websocket"])?.code == .unsupportedProtocolVersion)
        #expect(
            EngineIOHTTPError.check(query: ["EIO": "4", "transport": "websocket", "sid": "x"])?.code == .unknownSid)
    }

    // MARK: Socket.IO

    @Test("Socket.IO packets: type, namespace, ack id and JSON payload")
    func socketIODecode() throws {
        let connect = try SocketIOPacket.decode("0{\"token\":\"abc\"}")
        #expect(connect.kind == .connect && connect.namespace == "/" && connect.ackId == nil)
        #expect(connect.authToken == "abc")
        let bare = try SocketIOPacket.decode("0")
        #expect(bare.kind == .connect && bare.payload == nil && bare.authToken == nil)
        let admin = try SocketIOPacket.decode("0/admin,")
        #expect(admin.namespace == "/admin" && admin.payload == nil)
        let adminWithAuth = try SocketIOPacket.decode("0/admin,{\"token\":\"t\"}")
        #expect(adminWithAuth.namespace == "/admin" && adminWithAuth.authToken == "t")
        let event = try SocketIOPacket.decode("2[\"subscribe:monitor\",{\"monitorId\":1}]")
        #expect(event.kind == .event && event.ackId == nil)
        #expect(event.event?.name == "subscribe:monitor")
        let acked = try SocketIOPacket.decode("212[\"subscribe:user\"]")
        #expect(acked.ackId == 12 && acked.event?.name == "subscribe:user")
        let namespacedAck = try SocketIOPacket.decode("2/admin,7[\"x\"]")
        #expect(namespacedAck.namespace == "/admin" && namespacedAck.ackId == 7)
        let ack = try SocketIOPacket.decode("33[{\"ok\":true}]")
        #expect(ack.kind == .ack && ack.ackId == 3)
        #expect(try SocketIOPacket.decode("1").kind == .disconnect)
    }

    @Test("malformed and binary Socket.IO packets are refused")
    func socketIORefused() {
        for text in [
            "", "9", "x", "51-[\"a\",{\"_placeholder\":true,\"num\":0}]", "2{\"not\":\"an array\"}", "2[1,2]",
            "2[\"a\"", "3[\"no id\"]", "0[\"array\"]", "2", "21234567890123456[\"a\"]",
        ] {
            #expect(throws: SocketIOPacket.DecodingError.self, "\(text)") { try SocketIOPacket.decode(Substring(text)) }
        }
    }

    @Test("Socket.IO packets encode back to their text")
    func socketIOEncode() throws {
        for text in [
            "0{\"token\":\"a\"}", "0/admin,", "212[\"subscribe:user\"]", "2/x,5[\"e\",1]", "1", "44{\"message\":\"m\"}",
        ] {
            #expect(try SocketIOPacket.decode(Substring(text)).encoded == text)
        }
        #expect(String(buffer: SocketIOServerMessage.connected(sid: "s1")) == "40{\"sid\":\"s1\"}")
        #expect(
            String(buffer: SocketIOServerMessage.connectError("no \"token\"")) == "44{\"message\":\"no \\\"token\\\"\"}"
        )
        #expect(
            String(buffer: SocketIOServerMessage.connectError(namespace: "/admin", "Invalid namespace"))
                == "44/admin,{\"message\":\"Invalid namespace\"}")
        #expect(String(buffer: SocketIOServerMessage.ackOK(12)) == "4312[{\"ok\":true}]")
        let refused = String(
            buffer: SocketIOServerMessage.ackRefused(3, RealtimeRefusal(.notFound, "monitor 9 not found")))
        #expect(refused == "433[{\"ok\":false,\"error\":{\"code\":\"not_found\",\"message\":\"monitor 9 not found\"}}]")
        let data = ByteBuffer(string: "{\"a\":1}")
        #expect(
            String(buffer: SocketIOServerMessage.event("check:update", data: data.readableBytesView))
                == "42[\"check:update\",{\"a\":1}]")
    }

    @Test("Socket.IO events map to the same requests as /ws messages")
    func socketIOEvents() {
        #expect(
            SocketIOEvent.decode("[\"subscribe:monitor\",{\"monitorId\":7}]")?.request == .success(.subscribeMonitor(7))
        )
        #expect(
            SocketIOEvent.decode("[\"subscribe:monitor\",{\"monitorId\":\"8\"}]")?.request
                == .success(.subscribeMonitor(8)))
        #expect(
            SocketIOEvent.decode("[\"unsubscribe:monitor\",{\"monitorId\":7}]")?.request
                == .success(.unsubscribeMonitor(7)))
        #expect(SocketIOEvent.decode("[\"subscribe:user\"]")?.request == .success(.subscribeUser))
        #expect(SocketIOEvent.decode("[\"unsubscribe:user\",{}]")?.request == .success(.unsubscribeUser))
        #expect(SocketIOEvent.decode("[\"ping\"]")?.request == .success(.ping))
        if case .failure(let refusal) = SocketIOEvent.decode("[\"subscribe:monitor\",{\"monitorId\":-1}]")?.request {
            #expect(refusal.code == .badRequest)
        } else {
            Issue.record("a negative monitorId must be refused")
        }
        if case .failure(let refusal) = SocketIOEvent.decode("[\"drop:tables\"]")?.request {
            #expect(refusal.code == .badRequest)
        } else {
            Issue.record("an unknown event must be refused")
        }
    }

    // MARK: /ws

    @Test("/ws client messages")
    func wsClientMessages() {
        #expect(WSClientMessage.parse("{\"type\":\"auth\",\"token\":\"lk_x\"}") == .success(.auth(token: "lk_x")))
        #expect(
            WSClientMessage.parse("{\"type\":\"subscribe:monitor\",\"monitorId\":42}")
                == .success(.subscribeMonitor(42)))
        #expect(
            WSClientMessage.parse("{\"type\":\"subscribe:monitor\",\"monitorId\":\"42\"}")
                == .success(.subscribeMonitor(42)))
        #expect(
            WSClientMessage.parse("{\"type\":\"unsubscribe:monitor\",\"monitorId\":42,\"extra\":true}")
                == .success(.unsubscribeMonitor(42)))
        #expect(WSClientMessage.parse("{\"type\":\"subscribe:user\"}") == .success(.subscribeUser))
        #expect(WSClientMessage.parse("{\"type\":\"unsubscribe:user\"}") == .success(.unsubscribeUser))
        #expect(WSClientMessage.parse("{\"type\":\"ping\"}") == .success(.ping))
        for bad in [
            "", "not json", "[]", "{}", "{\"type\":7}", "{\"type\":\"nope\"}", "{\"type\":\"auth\"}",
            "{\"type\":\"auth\",\"token\":\"\"}", "{\"type\":\"subscribe:monitor\"}",
            "{\"type\":\"subscribe:monitor\",\"monitorId\":0}", "{\"type\":\"subscribe:monitor\",\"monitorId\":-3}",
            "{\"type\":\"subscribe:monitor\",\"monitorId\":true}",
            "{\"type\":\"subscribe:monitor\",\"monitorId\":\"x\"}",
            "{\"type\":\"subscribe:monitor\",\"monitorId\":1.5}",
        ] {
            guard case .failure(let refusal) = WSClientMessage.parse(bad) else {
                Issue.record("\(bad) must be refused")
                continue
            }
            #expect(refusal.code == .badRequest, "\(bad)")
        }
    }

    @Test("/ws server messages are JSON objects with a type")
    func wsServerMessages() throws {
        let ready = try #require(Self.json(WSServerMessage.ready(userId: 7)) as? [String: Any])
        #expect(ready["type"] as? String == "ready" && ready["userId"] as? Int == 7)
        let subscribed = try #require(Self.json(WSServerMessage.subscribed(.monitor(42))) as? [String: Any])
        #expect(subscribed["type"] as? String == "subscribed" && subscribed["room"] as? String == "monitor:42")
        #expect(
            String(buffer: WSServerMessage.unsubscribed(.user(3))) == "{\"type\":\"unsubscribed\",\"room\":\"user:3\"}")
        let error = try #require(
            Self.json(WSServerMessage.error(RealtimeRefusal(.notFound, "monitor \"9\"\n not found"))) as? [String: Any])
        #expect(error["type"] as? String == "error" && error["code"] as? String == "not_found")
        #expect(error["message"] as? String == "monitor \"9\"\n not found")
        let data = ByteBuffer(string: "{\"monitorId\":1}")
        let event = try #require(
            Self.json(WSServerMessage.event("check:update", data: data.readableBytesView)) as? [String: Any])
        #expect(event["type"] as? String == "check:update")
        #expect((event["data"] as? [String: Any])?["monitorId"] as? Int == 1)
    }

    // MARK: live results

    static func results() -> [CheckResult] {
        [
            CheckResult(
                monitorId: "42", checkedAtMs: 1_700_000_000_123, status: .down, httpStatus: 503, totalMicros: 1_500,
                errorCode: .statusMismatch, errorMessage: "HTTP 503, \"expected\" any 2xx"),
            CheckResult(monitorId: "7", checkedAtMs: 1_700_000_000_456, status: .up, httpStatus: 200, httpVersion: 11),
            CheckResult(monitorId: "file-id", checkedAtMs: 1_700_000_000_789, status: .up, httpStatus: 200),
        ]
    }

    /// An HTTPS check that resumed its session, a `tls` check and a `dns` check: every optional
    /// member of a results line is set in one of them.
    static func detailedResults() -> [CheckResult] {
        [
            CheckResult(
                monitorId: "11", checkedAtMs: 1_700_000_001_000, status: .up, httpStatus: 200, tlsMicros: 2_000,
                certExpiresAt: 1_900_000_000, httpVersion: 20, tlsResumed: true),
            CheckResult(
                monitorId: "12", checkedAtMs: 1_700_000_002_000, status: .up, connectMicros: 300, tlsMicros: 1_200,
                certExpiresAt: 1_900_000_000,
                details: CheckDetails(
                    tlsIssuer: "CN=Lookout Test CA,O=Lookout \"QA\"", tlsProtocol: "TLSv1.3",
                    tlsCipher: "TLS_AES_256_GCM_SHA384")),
            CheckResult(
                monitorId: "13", checkedAtMs: 1_700_000_003_000, status: .up, dnsMicros: 800,
                details: CheckDetails(dnsAnswers: ["10 mail.example.com", "v=spf1 [\"-all\"]"])),
        ]
    }

    /// The member names of a scanned result, in order (`"name":value` ranges).
    static func memberNames(_ result: LiveResultsScanner.Result, in payload: [UInt8]) -> [String] {
        result.members.map { range in
            let member = payload[range]
            let end = member.dropFirst().firstIndex(of: UInt8(ascii: "\"")) ?? member.endIndex
            return String(decoding: payload[(range.lowerBound + 1)..<end], as: UTF8.self)
        }
    }

    /// The members of each object of the engine's message, parsed by Foundation (monitorId aside).
    static func expectedNames(_ results: [CheckResult]) throws -> [Set<String>] {
        try results.map { result in
            var line = ResultLineEncoder()
            line.append(result)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any])
            return Set(object.keys).subtracting(["monitorId"])
        }
    }

    @Test("the scanner finds each result, its monitor id and checkedAt in an engine's live message")
    func scanner() throws {
        var encoder = LiveResultsEncoder()
        let payload = encoder.encode(Self.results()[...])
        let scanned = try #require(LiveResultsScanner.scan(payload))
        #expect(scanned.count == 3)
        #expect(scanned.map(\.monitorId) == [42, 7, nil])
        #expect(scanned.map(\.checkedAtMs) == [1_700_000_000_123, 1_700_000_000_456, 1_700_000_000_789])
        // Every member of each results line but monitorId, each once, whatever the line holds.
        let expected = try Self.expectedNames(Self.results())
        for (index, result) in scanned.enumerated() {
            let names = Self.memberNames(result, in: payload)
            #expect(Set(names) == expected[index] && names.count == expected[index].count, "\(names)")
            #expect(names.contains("httpVersion") && names.contains("tlsResumed"))
        }
        #expect(LiveResultsScanner.scan(Array("[]".utf8))?.isEmpty == true)
        #expect(
            LiveResultsScanner.scan(Array(" [ {\"monitorId\":\"5\",\"x\":[1,{\"y\":\"]\"}]} ] ".utf8))?.first?.monitorId
                == 5)
        for bad in ["", "{}", "[1]", "[{\"a\":}]", "[{\"a\":\"unterminated}]", "[{}"] {
            #expect(LiveResultsScanner.scan(Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test("check:update data: the results-file object with an integer monitorId, the name, status and its change")
    func checkUpdateData() throws {
        var encoder = LiveResultsEncoder()
        let payload = encoder.encode(Self.results()[...])
        let scanned = try #require(LiveResultsScanner.scan(payload))
        let data = LiveResultsScanner.checkUpdate(
            scanned[0], monitorId: 42, payload: payload, monitorName: "Pay \"API\"", status: .down,
            change: (from: .up, to: .down))
        let object = try #require(Self.json(data) as? [String: Any])
        #expect(object["monitorId"] as? Int == 42)
        #expect(object["checkedAt"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(object["status"] as? String == "DOWN")
        #expect(object["checkStatus"] as? String == "DOWN")
        #expect(object["httpStatus"] as? Int == 503)
        #expect(object["totalMs"] as? Double == 1.5)
        #expect(object["errorCode"] as? String == "status_mismatch")
        #expect(object["errorMessage"] as? String == "HTTP 503, \"expected\" any 2xx")
        #expect(object["monitorName"] as? String == "Pay \"API\"")
        #expect(object["statusChange"] as? [String: String] == ["from": "UP", "to": "DOWN"])
        // Every field of the results file is there.
        for field in [
            "dnsMs", "connectMs", "tlsMs", "ttfbMs", "lagMs", "redirects", "certExpiresAt", "httpVersion", "tlsResumed",
        ] {
            #expect(object.keys.contains(field), "\(field)")
        }
        let plain = LiveResultsScanner.checkUpdate(
            scanned[1], monitorId: 7, payload: payload, monitorName: "m", status: .up, change: nil)
        let plainObject = try #require(Self.json(plain) as? [String: Any])
        #expect(plainObject["statusChange"] == nil && plainObject["status"] as? String == "UP")
        // No name twice: the check's own status is `checkStatus`, the confirmed one `status`.
        for encoded in [data, plain] {
            let text = String(buffer: encoded)
            #expect(text.components(separatedBy: "\"status\":").count == 2, "\(text)")
            #expect(text.components(separatedBy: "\"checkStatus\":").count == 2, "\(text)")
        }
    }

    @Test("check:update carries httpVersion, tlsResumed and the tls and dns findings of the results file")
    func checkUpdateCarriesDetails() throws {
        var encoder = LiveResultsEncoder()
        let results = Self.detailedResults()
        let payload = encoder.encode(results[...])
        let scanned = try #require(LiveResultsScanner.scan(payload))
        #expect(scanned.map(\.monitorId) == [11, 12, 13])
        let expected = try Self.expectedNames(results)
        #expect(expected[1].isSuperset(of: ["tlsIssuer", "tlsProtocol", "tlsCipher"]))
        #expect(expected[2].contains("dnsAnswers"))
        var updates: [[String: Any]] = []
        for (index, result) in scanned.enumerated() {
            #expect(Set(Self.memberNames(result, in: payload)) == expected[index])
            let data = LiveResultsScanner.checkUpdate(
                result, monitorId: result.monitorId ?? 0, payload: payload, monitorName: "m", status: .up, change: nil)
            let object = try #require(Self.json(data) as? [String: Any])
            // The results-file members (status renamed checkStatus) plus monitorId, monitorName, status.
            let members = expected[index].subtracting(["status"]).union([
                "checkStatus", "monitorId", "monitorName", "status",
            ])
            #expect(Set(object.keys) == members)
            updates.append(object)
        }
        #expect(updates[0]["httpVersion"] as? String == "2")
        #expect(updates[0]["tlsResumed"] as? Bool == true)
        #expect(updates[0]["tlsIssuer"] == nil)
        #expect(updates[1]["httpVersion"] is NSNull && updates[1]["tlsResumed"] is NSNull)
        #expect(updates[1]["tlsIssuer"] as? String == "CN=Lookout Test CA,O=Lookout \"QA\"")
        #expect(updates[1]["tlsProtocol"] as? String == "TLSv1.3")
        #expect(updates[1]["tlsCipher"] as? String == "TLS_AES_256_GCM_SHA384")
        #expect(updates[1]["certExpiresAt"] as? String == "2030-03-17T17:46:40.000Z")
        #expect(updates[2]["dnsAnswers"] as? [String] == ["10 mail.example.com", "v=spf1 [\"-all\"]"])
        #expect(updates[2]["dnsMs"] as? Double == 0.8)
        #expect(updates[2]["checkStatus"] as? String == "UP")
    }

    @Test("a live state update round-trips through its JSON")
    func liveStateUpdate() throws {
        let opened = LiveStateUpdate(
            monitorId: 42, ownerId: 7, monitorName: "Pay \"API\"", from: .up, to: .down, atMs: 1_700_000_000_123,
            incident: .init(
                incidentId: 9, event: .opened, startedAtMs: 1_700_000_000_000, causeStatus: "ERROR",
                causeCode: "connect_refused", causeMessage: "refused"))
        #expect(try LiveStateUpdate.parse(Array(opened.json.utf8)) == opened)
        let resolved = LiveStateUpdate(
            monitorId: 42, ownerId: 7, monitorName: "n", from: .down, to: .up, atMs: 1_700_000_100_000,
            incident: .init(
                incidentId: 9, event: .resolved, startedAtMs: 1_700_000_000_000, resolvedAtMs: 1_700_000_100_000,
                durationSeconds: 100))
        #expect(try LiveStateUpdate.parse(Array(resolved.json.utf8)) == resolved)
        let first = LiveStateUpdate(
            monitorId: 1, ownerId: 2, monitorName: "n", from: .unknown, to: .up, atMs: 1_000, incident: nil)
        #expect(try LiveStateUpdate.parse(Array(first.json.utf8)) == first)
        #expect(throws: ClusterContractError.self) { try LiveStateUpdate.parse(Array("{\"monitorId\":1}".utf8)) }

        let data = LiveUpdateRelay.incidentData(resolved, try #require(resolved.incident))
        let object = Self.object(data)
        for key in [
            "incidentId", "monitorId", "monitorName", "event", "startedAt", "resolvedAt", "durationSeconds",
            "causeStatus", "causeCode", "causeMessage",
        ] {
            #expect(object.keys.contains(key), "\(key)")
        }
        #expect(object["event"] as? String == "resolved" && object["durationSeconds"] as? Double == 100)
    }

    // MARK: send queue and rooms

    static func hub(_ configure: (inout ControlConfiguration.Realtime) -> Void = { _ in }) -> RealtimeHub {
        var configuration = ControlConfiguration.Realtime()
        configure(&configuration)
        return RealtimeHub(
            configuration: configuration, statistics: RealtimeStatistics(factory: ControlStatistics().factory))
    }

    @Test("a client whose queue overflows (messages or bytes) is dropped once, with 1008, or 4008 for Socket.IO")
    func slowClientDrop() async throws {
        let hub = Self.hub {
            $0.queueMessages = 3
            $0.queueBytes = 1_024
        }
        let closes = CloseLog()
        let ws = try #require(hub.register(kind: .webSocket, address: "127.0.0.1"))
        ws.setCloser { closes.append($0?.code) }
        ws.authenticated(as: 1)
        #expect(throws: Never.self) { try hub.join(ws, .user(1)).get() }
        let update = RealtimeHub.Update(webSocket: ByteBuffer(string: "w"), socketIO: ByteBuffer(string: "s"))
        for _ in 0..<3 { #expect(hub.deliver(update, monitorId: 5, ownerId: 1) == 1) }
        #expect(hub.deliver(update, monitorId: 5, ownerId: 1) == 1)  // the fourth overflows
        #expect(closes.codes == [.policyViolation])
        #expect(hub.deliver(update, monitorId: 5, ownerId: 1) == 0, "a dropped client left its rooms")
        #expect(ws.enqueue(ByteBuffer(string: "late")) == .discarded)
        #expect(await ws.nextStep().isStop)

        let sio = try #require(hub.register(kind: .socketIO, address: "127.0.0.1"))
        sio.setCloser { closes.append($0?.code) }
        #expect(sio.enqueue(ByteBuffer(repeating: 0x41, count: 1_000)) == .queued)
        #expect(sio.enqueue(ByteBuffer(repeating: 0x41, count: 100)) == .overflow)
        #expect(closes.codes == [.policyViolation, WebSocketErrorCode(codeNumber: 4008)])
    }

    @Test("the writer gets what is queued in order, then the close frame after it")
    func writerSteps() async throws {
        let hub = Self.hub()
        let connection = try #require(hub.register(kind: .webSocket, address: "10.0.0.1"))
        #expect(connection.enqueue(ByteBuffer(string: "a")) == .queued)
        #expect(connection.enqueue(ByteBuffer(string: "b")) == .queued)
        guard case .write(let frames) = await connection.nextStep() else {
            Issue.record("expected frames")
            return
        }
        #expect(frames.map { String(buffer: $0) } == ["a", "b"])
        async let waiting = connection.nextStep()
        try await Task.sleep(for: .milliseconds(20))
        #expect(connection.enqueue(ByteBuffer(string: "c")) == .queued)
        guard case .write(let later) = await waiting else {
            Issue.record("expected the frame queued while waiting")
            return
        }
        #expect(later.map { String(buffer: $0) } == ["c"])
        #expect(connection.enqueue(ByteBuffer(string: "d")) == .queued)
        connection.close(.policyViolation, "unauthenticated")
        guard case .write(let last) = await connection.nextStep(),
            case .close(let code, let reason) = await connection.nextStep()
        else {
            Issue.record("expected the queue, then the close")
            return
        }
        #expect(last.map { String(buffer: $0) } == ["d"])
        #expect(code == .policyViolation && reason == "unauthenticated")
    }

    @Test("rooms: one delivery per connection in both rooms, a subscription limit, a per-address limit")
    func rooms() throws {
        let hub = Self.hub {
            $0.maxSubscriptions = 2
            $0.connectionsPerIP = 2
        }
        let first = try #require(hub.register(kind: .webSocket, address: "192.0.2.1"))
        let second = try #require(hub.register(kind: .socketIO, address: "192.0.2.1"))
        #expect(hub.register(kind: .webSocket, address: "192.0.2.1") == nil)
        #expect(hub.register(kind: .webSocket, address: "192.0.2.2") != nil)
        #expect(hub.count(.webSocket) == 2 && hub.count(.socketIO) == 1)
        #expect(throws: Never.self) { try hub.join(first, .monitor(5)).get() }
        #expect(throws: Never.self) { try hub.join(first, .user(1)).get() }
        #expect(throws: Never.self) { try hub.join(first, .user(1)).get() }  // again: harmless
        if case .failure(let refusal) = hub.join(first, .monitor(6)) {
            #expect(refusal.code == .forbidden)
        } else {
            Issue.record("the third room must be refused")
        }
        #expect(throws: Never.self) { try hub.join(second, .user(1)).get() }
        let update = RealtimeHub.Update(webSocket: ByteBuffer(string: "w"), socketIO: ByteBuffer(string: "s"))
        #expect(hub.deliver(update, monitorId: 5, ownerId: 1) == 2)
        #expect(hub.deliver(update, monitorId: 6, ownerId: 2) == 0)
        #expect(hub.isWatched(monitorId: 99, ownerId: 1) && !hub.isWatched(monitorId: 99, ownerId: 3))
        hub.leave(first, .user(1))
        hub.unregister(second)
        #expect(hub.deliver(update, monitorId: 7, ownerId: 1) == 0)
        hub.unregister(first)
        #expect(hub.register(kind: .webSocket, address: "192.0.2.1") != nil, "the address has room again")
    }

    @Test("the sweep closes a connection that never authenticated and pings Socket.IO clients")
    func sweep() async throws {
        let hub = Self.hub {
            $0.idleTimeoutSeconds = 2
            $0.pingIntervalMilliseconds = 1_000
            $0.pingTimeoutMilliseconds = 500
        }
        let silent = try #require(hub.register(kind: .webSocket, address: "a"))
        let socket = try #require(hub.register(kind: .socketIO, address: "b"))
        socket.authenticated(as: 1)
        hub.sweep(now: .now + .milliseconds(1_100))
        #expect(silent.isOpen)
        guard case .write(let ping) = await socket.nextStep() else {
            Issue.record("expected a ping")
            return
        }
        #expect(ping.map { String(buffer: $0) } == ["2"])
        hub.sweep(now: .now + .milliseconds(1_700))
        #expect(!socket.isOpen, "no pong within the timeout")
        hub.sweep(now: .now + .seconds(3))
        #expect(!silent.isOpen)
    }
}

/// Close codes seen by a test's closer.
final class CloseLog: Sendable {
    private let codes_ = Mutex<[WebSocketErrorCode?]>([])
    func append(_ code: WebSocketErrorCode?) { codes_.withLock { $0.append(code) } }
    var codes: [WebSocketErrorCode?] { codes_.withLock { $0 } }
}

extension RealtimeConnection.WriterStep {
    var isStop: Bool {
        if case .stop = self { return true }
        return false
    }
}
