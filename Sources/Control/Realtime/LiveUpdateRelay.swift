import Foundation
import Logging
import LookoutCore
import LookoutFFI
import NIOCore
import ServiceLifecycle
import Synchronization

/// Brings the cluster's live updates to this instance's clients, like Socket.IO's Redis adapter:
/// every instance subscribes to the engines' `<prefix>:checks:live`, to the incident consumer's
/// `<prefix>:incidents:live` and to `<prefix>:monitors:changed` (owner-cache invalidation), so a
/// client on any instance receives every update of its rooms.
///
/// The subscriber's callback runs on the Redis thread and only appends to an inbox; this
/// service reads the inbox in order, resolves owners (`MonitorDirectory`, one query per message
/// for misses), encodes each update once per protocol and queues it on its rooms' connections.
/// It also runs the connections' timers (`RealtimeHub.sweep`).
struct LiveUpdateRelay: Service {
    let redis: RedisClient
    let contract: ClusterContract
    let hub: RealtimeHub
    let directory: MonitorDirectory
    let inbox: Inbox
    let logger: Logger

    init(redis: RedisClient, contract: ClusterContract, hub: RealtimeHub, directory: MonitorDirectory, logger: Logger) {
        self.redis = redis
        self.contract = contract
        self.hub = hub
        self.directory = directory
        self.inbox = Inbox(capacity: hub.configuration.inboxCapacity, statistics: hub.statistics)
        self.logger = logger
    }

    func run() async throws {
        let inbox = self.inbox
        redis.subscribe([contract.liveChannel, contract.incidentsLiveChannel, contract.monitorsChangedChannel]) {
            message in inbox.push(message)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sweepLoop() }
            group.addTask { await self.relayLoop() }
            await withGracefulShutdownHandler {
                await group.next()
            } onGracefulShutdown: {
                inbox.close()
            }
            inbox.close()
            group.cancelAll()
        }
    }

    private func relayLoop() async {
        while let messages = await inbox.next() {
            for message in messages {
                if message.channel == contract.liveChannel {
                    await relayResults(message.payload)
                } else if message.channel == contract.incidentsLiveChannel {
                    relayStateUpdate(message.payload)
                } else if message.channel == contract.monitorsChangedChannel {
                    if let changes = try? MonitorChange.parse(message.payload) { directory.invalidate(changes) }
                }
            }
        }
    }

    private func sweepLoop() async {
        let period = Duration.milliseconds(
            min(1_000, max(50, hub.configuration.pingIntervalMilliseconds / 5)))
        while !Task.isCancelled && !inbox.isClosed {
            hub.sweep()
            try? await Task.sleep(for: period)
        }
    }

    /// One `<prefix>:checks:live` message.
    func relayResults(_ payload: [UInt8]) async {
        guard hub.hasSubscribers else { return }
        guard let results = LiveResultsScanner.scan(payload) else {
            logger.warning("live results: a message on \(contract.liveChannel) is not a JSON array of objects")
            return
        }
        let ids = results.compactMap(\.monitorId)
        guard !ids.isEmpty else { return }
        let entries: [Int64: MonitorDirectory.Entry]
        do {
            entries = try await directory.resolve(ids)
        } catch {
            logger.warning(
                "live results: could not read monitor owners; skipping a batch", metadata: ["error": "\(error)"])
            return
        }
        for result in results {
            guard let monitorId = result.monitorId, let entry = entries[monitorId],
                hub.isWatched(monitorId: monitorId, ownerId: entry.ownerId)
            else { continue }
            let (status, change) = directory.status(of: monitorId, checkedAtMs: result.checkedAtMs ?? .max)
            let data = LiveResultsScanner.checkUpdate(
                result, monitorId: monitorId, payload: payload, monitorName: entry.name, status: status, change: change)
            let update = RealtimeHub.Update(
                webSocket: WSServerMessage.event("check:update", data: data.readableBytesView),
                socketIO: SocketIOServerMessage.event("check:update", data: data.readableBytesView)
            )
            hub.deliver(update, monitorId: monitorId, ownerId: entry.ownerId)
            hub.statistics.checkUpdates.increment()
        }
    }

    /// One `<prefix>:incidents:live` message.
    func relayStateUpdate(_ payload: [UInt8]) {
        let update: LiveStateUpdate
        do {
            update = try LiveStateUpdate.parse(payload)
        } catch {
            logger.warning("live state update refused: \(error)")
            return
        }
        directory.apply(update)
        guard let incident = update.incident, hub.isWatched(monitorId: update.monitorId, ownerId: update.ownerId)
        else { return }
        let data = ByteBuffer(string: Self.incidentData(update, incident))
        hub.deliver(
            RealtimeHub.Update(
                webSocket: WSServerMessage.event("incident:update", data: data.readableBytesView),
                socketIO: SocketIOServerMessage.event("incident:update", data: data.readableBytesView)
            ),
            monitorId: update.monitorId,
            ownerId: update.ownerId
        )
        hub.statistics.incidentUpdates.increment()
    }

    /// `{incidentId, monitorId, monitorName, event, startedAt, resolvedAt, durationSeconds,
    /// causeStatus, causeCode, causeMessage}`.
    static func incidentData(_ update: LiveStateUpdate, _ incident: LiveStateUpdate.Incident) -> String {
        func quotedOrNull(_ text: String?) -> String { text.map(RealtimeJSON.quoted) ?? "null" }
        let resolvedAt = incident.resolvedAtMs.map { "\"\(RFC3339.string(epochMilliseconds: $0))\"" } ?? "null"
        let duration = incident.durationSeconds.map { LiveStateUpdate.number($0) } ?? "null"
        return "{\"incidentId\":\(incident.incidentId),\"monitorId\":\(update.monitorId),"
            + "\"monitorName\":\(RealtimeJSON.quoted(update.monitorName)),\"event\":\"\(incident.event.rawValue)\","
            + "\"startedAt\":\"\(RFC3339.string(epochMilliseconds: incident.startedAtMs))\",\"resolvedAt\":\(resolvedAt),"
            + "\"durationSeconds\":\(duration),\"causeStatus\":\(quotedOrNull(incident.causeStatus)),"
            + "\"causeCode\":\(quotedOrNull(incident.causeCode)),\"causeMessage\":\(quotedOrNull(incident.causeMessage))}"
    }

    /// Messages from the Redis thread, in arrival order. Bounded: past `capacity` the oldest live
    /// results are dropped (and counted); state updates and monitor changes are always kept.
    final class Inbox: Sendable {
        private struct State {
            var messages: [RedisMessage] = []
            var liveCount = 0
            var waiter: CheckedContinuation<Void, Never>?
            var closed = false
        }

        private let state = Mutex(State())
        private let capacity: Int
        private let statistics: RealtimeStatistics
        private let liveSuffix = ":checks:live"

        init(capacity: Int, statistics: RealtimeStatistics) {
            self.capacity = capacity
            self.statistics = statistics
        }

        func push(_ message: RedisMessage) {
            let isLive = message.channel.hasSuffix(liveSuffix)
            let (waiter, dropped) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
                guard !state.closed else { return (nil, false) }
                var dropped = false
                if isLive, state.liveCount >= capacity,
                    let oldest = state.messages.firstIndex(where: { $0.channel.hasSuffix(liveSuffix) })
                {
                    state.messages.remove(at: oldest)
                    state.liveCount -= 1
                    dropped = true
                }
                state.messages.append(message)
                if isLive { state.liveCount += 1 }
                defer { state.waiter = nil }
                return (state.waiter, dropped)
            }
            if dropped { statistics.inboxDropped.increment() }
            waiter?.resume()
        }

        /// Everything waiting, in order; nil once closed.
        func next() async -> [RedisMessage]? {
            while true {
                let taken = state.withLock { state -> [RedisMessage]?? in
                    if !state.messages.isEmpty {
                        defer {
                            state.messages.removeAll(keepingCapacity: true)
                            state.liveCount = 0
                        }
                        return .some(state.messages)
                    }
                    return state.closed ? .some(nil) : nil
                }
                if let taken { return taken }
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if state.messages.isEmpty && !state.closed {
                            state.waiter = continuation
                            return false
                        }
                        return true
                    }
                    if ready { continuation.resume() }
                }
            }
        }

        var isClosed: Bool { state.withLock { $0.closed } }

        func close() {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.closed = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
