import Logging
import NIOCore
import Synchronization

/// Every live-update connection of this instance and the rooms they joined. Fan-out takes the
/// targets of an update under one short lock and queues the update's encoded frame on each
/// (`RealtimeConnection.enqueue`, which never waits): one slow client costs the others nothing.
final class RealtimeHub: Sendable {
    /// One update encoded once per protocol; the same bytes go to every client of that protocol.
    struct Update: Sendable {
        var webSocket: ByteBuffer
        var socketIO: ByteBuffer
    }

    private struct State {
        var nextId: UInt64 = 1
        var connections: [UInt64: RealtimeConnection] = [:]
        var rooms: [Room: [UInt64: RealtimeConnection]] = [:]
        var joined: [UInt64: Set<Room>] = [:]
        var perAddress: [String: Int] = [:]
        var perKind: [RealtimeConnection.Kind: Int] = [:]
    }

    let configuration: ControlConfiguration.Realtime
    let statistics: RealtimeStatistics
    private let state = Mutex(State())

    init(configuration: ControlConfiguration.Realtime, statistics: RealtimeStatistics) {
        self.configuration = configuration
        self.statistics = statistics
    }

    /// A new connection from `address`, or nil when that address has its limit of connections.
    func register(kind: RealtimeConnection.Kind, address: String) -> RealtimeConnection? {
        let firstPing = ContinuousClock.now + .milliseconds(configuration.pingIntervalMilliseconds)
        let registered = state.withLock { state -> (RealtimeConnection, Int)? in
            let open = state.perAddress[address, default: 0]
            guard open < configuration.connectionsPerIP else { return nil }
            state.perAddress[address] = open + 1
            let connection = RealtimeConnection(
                id: state.nextId,
                kind: kind,
                address: address,
                maxMessages: configuration.queueMessages,
                maxBytes: configuration.queueBytes,
                firstPingAt: firstPing
            )
            state.nextId += 1
            state.connections[connection.id] = connection
            state.perKind[kind, default: 0] += 1
            return (connection, state.perKind[kind, default: 0])
        }
        guard let (connection, count) = registered else { return nil }
        statistics.clientCount(kind, count)
        return connection
    }

    /// Forgets a connection that ended, with its rooms.
    func unregister(_ connection: RealtimeConnection) {
        let count = state.withLock { state -> Int? in
            guard state.connections.removeValue(forKey: connection.id) != nil else { return nil }
            Self.leaveAll(connection, &state)
            let open = state.perAddress[connection.address, default: 1] - 1
            state.perAddress[connection.address] = open > 0 ? open : nil
            state.perKind[connection.kind, default: 1] -= 1
            return state.perKind[connection.kind, default: 0]
        }
        if let count { statistics.clientCount(connection.kind, count) }
    }

    /// Joins `room`; refused past the per-connection limit. Joining twice is harmless.
    func join(_ connection: RealtimeConnection, _ room: Room) -> Result<Void, RealtimeRefusal> {
        state.withLock { state in
            guard state.connections[connection.id] != nil else {
                return .failure(RealtimeRefusal(.badRequest, "the connection is closing"))
            }
            var rooms = state.joined[connection.id, default: []]
            if rooms.contains(room) { return .success(()) }
            guard rooms.count < configuration.maxSubscriptions else {
                return .failure(
                    RealtimeRefusal(
                        .forbidden,
                        "subscription limit reached: one connection may join \(configuration.maxSubscriptions) rooms; unsubscribe first"
                    ))
            }
            rooms.insert(room)
            state.joined[connection.id] = rooms
            state.rooms[room, default: [:]][connection.id] = connection
            return .success(())
        }
    }

    /// Leaves `room` (nothing happens when the connection was not in it).
    func leave(_ connection: RealtimeConnection, _ room: Room) {
        state.withLock { state in
            guard state.joined[connection.id]?.remove(room) != nil else { return }
            state.rooms[room]?[connection.id] = nil
            if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
        }
    }

    /// Leaves every room (a Socket.IO client disconnected from the namespace).
    func leaveAll(_ connection: RealtimeConnection) {
        state.withLock { Self.leaveAll(connection, &$0) }
    }

    private static func leaveAll(_ connection: RealtimeConnection, _ state: inout State) {
        for room in state.joined.removeValue(forKey: connection.id) ?? [] {
            state.rooms[room]?[connection.id] = nil
            if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
        }
    }

    /// Whether any connection has joined any room (when none has, live results are not read).
    var hasSubscribers: Bool { state.withLock { !$0.rooms.isEmpty } }

    /// Whether anyone listens to updates of `monitorId`, owned by `ownerId`.
    func isWatched(monitorId: Int64, ownerId: Int64) -> Bool {
        state.withLock { $0.rooms[.monitor(monitorId)] != nil || $0.rooms[.user(ownerId)] != nil }
    }

    /// Queues `update` on every connection in `monitor:<monitorId>` or `user:<ownerId>` (once
    /// each, even when it is in both). Returns how many connections it was queued on.
    @discardableResult
    func deliver(_ update: Update, monitorId: Int64, ownerId: Int64) -> Int {
        var targets: [RealtimeConnection] = []
        state.withLock { state in
            let byMonitor = state.rooms[.monitor(monitorId)]
            let byUser = state.rooms[.user(ownerId)]
            targets.reserveCapacity((byMonitor?.count ?? 0) + (byUser?.count ?? 0))
            if let byMonitor { targets.append(contentsOf: byMonitor.values) }
            if let byUser {
                if let byMonitor {
                    for (id, connection) in byUser where byMonitor[id] == nil { targets.append(connection) }
                } else {
                    targets.append(contentsOf: byUser.values)
                }
            }
        }
        for connection in targets {
            let frame = connection.kind == .webSocket ? update.webSocket : update.socketIO
            if connection.enqueue(frame) == .overflow { dropped(connection) }
        }
        return targets.count
    }

    /// Queues one frame on one connection (a reply); a client too slow for its replies is
    /// dropped like any other.
    func send(_ frame: ByteBuffer, to connection: RealtimeConnection) {
        if connection.enqueue(frame) == .overflow { dropped(connection) }
    }

    private func dropped(_ connection: RealtimeConnection) {
        statistics.slowClientDropped(connection.kind)
        state.withLock { Self.leaveAll(connection, &$0) }
    }

    /// Connected clients by protocol.
    func count(_ kind: RealtimeConnection.Kind) -> Int { state.withLock { $0.perKind[kind, default: 0] } }

    /// Runs the timers of every connection: closes those that did not authenticate within the
    /// idle timeout, pings Socket.IO clients and closes those whose pong is late.
    func sweep(now: ContinuousClock.Instant = .now) {
        let connections = state.withLock { Array($0.connections.values) }
        let authDeadline = Duration.seconds(configuration.idleTimeoutSeconds)
        let interval = Duration.milliseconds(configuration.pingIntervalMilliseconds)
        let timeout = Duration.milliseconds(configuration.pingTimeoutMilliseconds)
        for connection in connections where connection.isOpen {
            if connection.userId == nil, now - connection.createdAt >= authDeadline {
                let refusal = RealtimeRefusal(
                    .unauthenticated, "no authentication within \(configuration.idleTimeoutSeconds) s")
                if connection.kind == .webSocket { send(WSServerMessage.error(refusal), to: connection) }
                connection.close(.policyViolation, "authentication timeout")
                continue
            }
            guard connection.kind == .socketIO else { continue }
            switch connection.heartbeat(now: now, interval: interval, timeout: timeout) {
            case .none: break
            case .ping: send(ByteBuffer(string: "2"), to: connection)
            case .timedOut: connection.close(.goingAway, "ping timeout")
            }
        }
    }
}
