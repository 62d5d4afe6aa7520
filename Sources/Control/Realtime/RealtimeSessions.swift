import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// The two live-update protocols on one WebSocket each: `/ws` (JSON messages) and
/// `/socket.io/` (Socket.IO 5 over Engine.IO 4). Both share the hub, the authentication and the
/// room rules; each session runs its reader in the handler's task and a writer task that drains
/// the connection's send queue.
struct RealtimeSessions: Sendable {
    let hub: RealtimeHub
    let authenticator: RealtimeAuthenticator
    let monitors: MonitorRepository
    let logger: Logger

    var configuration: ControlConfiguration.Realtime { hub.configuration }

    // MARK: /ws

    /// A `/ws` client, authenticated by `token` (`?token=`) or by its first message.
    func webSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, address: String,
        token: String?
    ) async {
        guard let connection = admit(.webSocket, address: address, outbound: outbound, channel: channel) else {
            try? await outbound.close(.policyViolation, reason: tooMany(address))
            return
        }
        defer { hub.unregister(connection) }
        async let writing: Void = write(connection, to: outbound)
        if let token { await authenticateWS(connection, token) }
        do {
            for try await message in inbound.messages(maxSize: configuration.maxPayloadBytes) {
                guard case .text(let text) = message else {
                    hub.send(
                        WSServerMessage.error(RealtimeRefusal(.badRequest, "messages are JSON text, not binary")),
                        to: connection)
                    continue
                }
                await handleWS(connection, text)
            }
        } catch {
            logger.debug("live updates: /ws connection ended", metadata: ["error": "\(error)"])
        }
        connection.finish()
        await writing
    }

    private func authenticateWS(_ connection: RealtimeConnection, _ token: String) async {
        switch await authenticator.authenticate(token) {
        case .success(let userId):
            connection.authenticated(as: userId)
            hub.send(WSServerMessage.ready(userId: userId), to: connection)
        case .failure(let refusal):
            hub.send(WSServerMessage.error(refusal), to: connection)
            connection.close(.policyViolation, "unauthenticated")
        }
    }

    private func handleWS(_ connection: RealtimeConnection, _ text: String) async {
        let message: WSClientMessage
        switch WSClientMessage.parse(text) {
        case .success(let parsed): message = parsed
        case .failure(let refusal):
            hub.send(WSServerMessage.error(refusal), to: connection)
            return
        }
        if case .auth(let token) = message {
            if connection.userId != nil {
                hub.send(WSServerMessage.error(RealtimeRefusal(.badRequest, "already authenticated")), to: connection)
            } else {
                await authenticateWS(connection, token)
            }
            return
        }
        switch await perform(message, on: connection) {
        case .success(.subscribed(let room)): hub.send(WSServerMessage.subscribed(room), to: connection)
        case .success(.unsubscribed(let room)): hub.send(WSServerMessage.unsubscribed(room), to: connection)
        case .success(.pong): hub.send(WSServerMessage.pong(), to: connection)
        case .failure(let refusal): hub.send(WSServerMessage.error(refusal), to: connection)
        }
    }

    // MARK: /socket.io/

    /// A Socket.IO client (Engine.IO 4, WebSocket transport only). `token` is the URL's
    /// `?token=`, used when the CONNECT packet carries none in its auth payload.
    func socketIO(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, address: String,
        token: String?
    ) async {
        guard let connection = admit(.socketIO, address: address, outbound: outbound, channel: channel) else {
            try? await outbound.close(.policyViolation, reason: tooMany(address))
            return
        }
        defer { hub.unregister(connection) }
        async let writing: Void = write(connection, to: outbound)
        hub.send(
            ByteBuffer(
                string: EngineIOPacket.handshake(
                    sid: Self.randomId(),
                    pingInterval: configuration.pingIntervalMilliseconds,
                    pingTimeout: configuration.pingTimeoutMilliseconds,
                    maxPayload: configuration.maxPayloadBytes
                ).encoded),
            to: connection
        )
        var socketId: String?
        do {
            for try await message in inbound.messages(maxSize: configuration.maxPayloadBytes) {
                guard case .text(let text) = message, let packet = EngineIOPacket.decode(text) else {
                    connection.close(.unacceptableData, "not an Engine.IO text packet")
                    continue
                }
                switch packet {
                case .ping(let data): hub.send(ByteBuffer(string: EngineIOPacket.pong(data).encoded), to: connection)
                case .pong: connection.receivedPong()
                case .close: connection.close(.normalClosure, "client closed")
                case .message(let body):
                    await handleSocketIO(connection, body, socketId: &socketId, queryToken: token)
                case .open, .upgrade, .noop: break
                }
            }
        } catch {
            logger.debug("live updates: Socket.IO connection ended", metadata: ["error": "\(error)"])
        }
        connection.finish()
        await writing
    }

    private func handleSocketIO(
        _ connection: RealtimeConnection, _ body: Substring, socketId: inout String?, queryToken: String?
    ) async {
        let packet: SocketIOPacket
        do {
            packet = try SocketIOPacket.decode(body)
        } catch {
            connection.close(.unacceptableData, "invalid Socket.IO packet: \(error)")
            return
        }
        switch packet.kind {
        case .connect:
            guard packet.namespace == "/" else {
                hub.send(
                    SocketIOServerMessage.connectError(namespace: packet.namespace, "Invalid namespace"), to: connection
                )
                return
            }
            guard socketId == nil else { return }
            guard let token = packet.authToken ?? queryToken else {
                hub.send(
                    SocketIOServerMessage.connectError(
                        "unauthenticated: connect with auth {token: <session token or API key>}"),
                    to: connection)
                return
            }
            switch await authenticator.authenticate(token) {
            case .success(let userId):
                connection.authenticated(as: userId)
                let id = Self.randomId()
                socketId = id
                hub.send(SocketIOServerMessage.connected(sid: id), to: connection)
            case .failure(let refusal):
                hub.send(
                    SocketIOServerMessage.connectError("\(refusal.code.rawValue): \(refusal.message)"), to: connection)
            }
        case .disconnect:
            guard packet.namespace == "/", socketId != nil else { return }
            socketId = nil
            hub.leaveAll(connection)
        case .event:
            // Packets for a namespace the client has not joined are ignored, as Socket.IO does.
            guard packet.namespace == "/", socketId != nil else { return }
            let result: Result<Reply, RealtimeRefusal>
            switch packet.payload.flatMap(SocketIOEvent.decode)?.request
                ?? .failure(RealtimeRefusal(.badRequest, "an event is [\"name\", arguments...]"))
            {
            case .success(let request): result = await perform(request, on: connection)
            case .failure(let refusal): result = .failure(refusal)
            }
            switch (result, packet.ackId) {
            case (.success, let ackId?): hub.send(SocketIOServerMessage.ackOK(ackId), to: connection)
            case (.failure(let refusal), let ackId?):
                hub.send(SocketIOServerMessage.ackRefused(ackId, refusal), to: connection)
            case (.failure(let refusal), nil): hub.send(SocketIOServerMessage.errorEvent(refusal), to: connection)
            case (.success, nil): break
            }
        case .ack, .connectError, .binaryEvent, .binaryAck:
            break
        }
    }

    // MARK: shared

    enum Reply {
        case subscribed(Room)
        case unsubscribed(Room)
        case pong
    }

    /// Carries out a request of an authenticated client. Joining a monitor's room asks
    /// PostgreSQL whether the monitor is the user's (`MonitorRepository.exists`, owner id in the
    /// call): another user's monitor is `not_found`, exactly like a missing one.
    func perform(_ request: WSClientMessage, on connection: RealtimeConnection) async -> Result<Reply, RealtimeRefusal>
    {
        if case .ping = request { return .success(.pong) }
        guard let userId = connection.userId else {
            return .failure(
                RealtimeRefusal(.unauthenticated, "authenticate first: {\"type\":\"auth\",\"token\":…} or ?token="))
        }
        switch request {
        case .subscribeMonitor(let monitorId):
            do {
                guard try await monitors.exists(ownerId: userId, id: monitorId) else {
                    return .failure(RealtimeRefusal(.notFound, "monitor \(monitorId) not found"))
                }
            } catch {
                logger.warning("live updates: could not check a monitor's owner", metadata: ["error": "\(error)"])
                return .failure(RealtimeRefusal(.unavailable, "could not check the monitor right now; try again"))
            }
            return hub.join(connection, .monitor(monitorId)).map { .subscribed(.monitor(monitorId)) }
        case .unsubscribeMonitor(let monitorId):
            hub.leave(connection, .monitor(monitorId))
            return .success(.unsubscribed(.monitor(monitorId)))
        case .subscribeUser:
            return hub.join(connection, .user(userId)).map { .subscribed(.user(userId)) }
        case .unsubscribeUser:
            hub.leave(connection, .user(userId))
            return .success(.unsubscribed(.user(userId)))
        case .auth, .ping:
            return .success(.pong)
        }
    }

    /// Registers the connection (nil past the per-address limit) and gives it the closer: a
    /// dropped client's close frame goes out at once, and a socket the client never drains is
    /// closed after the grace period.
    private func admit(
        _ kind: RealtimeConnection.Kind, address: String, outbound: WebSocketOutboundWriter, channel: any Channel
    ) -> RealtimeConnection? {
        guard let connection = hub.register(kind: kind, address: address) else { return nil }
        let grace = configuration.dropGraceSeconds
        connection.setCloser { abort in
            if let abort {
                Task { try? await outbound.close(abort.code, reason: abort.reason) }
            }
            Task {
                try? await Task.sleep(for: .milliseconds(Int(grace * 1000)))
                channel.close(mode: .all, promise: nil)
            }
        }
        return connection
    }

    /// Drains the connection's queue into the socket, a frame at a time, waiting on the socket
    /// (never on fan-out).
    private func write(_ connection: RealtimeConnection, to outbound: WebSocketOutboundWriter) async {
        while true {
            switch await connection.nextStep() {
            case .write(let frames):
                for frame in frames {
                    do {
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: frame)))
                    } catch {
                        connection.finish()
                        return
                    }
                }
                hub.statistics.messagesSent(connection.kind, frames.count)
                connection.recycle(frames)
            case .close(let code, let reason):
                try? await outbound.close(code, reason: reason)
                return
            case .stop:
                return
            }
        }
    }

    private func tooMany(_ address: String) -> String {
        "too many connections from \(address) (at most \(configuration.connectionsPerIP))"
    }

    /// 20 random URL-safe characters (Engine.IO session ids, Socket.IO socket ids).
    static func randomId() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
