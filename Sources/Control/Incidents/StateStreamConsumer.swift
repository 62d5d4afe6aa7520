import Foundation
import Logging
import LookoutCore
import LookoutFFI
import ServiceLifecycle

/// Reads the engines' confirmed state changes (`<prefix>:events:state`) with a consumer group,
/// so that with several control planes each entry is handled by one of them:
///
///     XGROUP CREATE <stream> lookout-control 0 MKSTREAM       -- once; BUSYGROUP is fine
///     XREADGROUP GROUP lookout-control <instance> COUNT 100 BLOCK 1000 STREAMS <stream> >
///     ... apply each entry in its own transaction (IncidentRecorder), then XACK it
///     XAUTOCLAIM <stream> lookout-control <instance> <claim idle> 0-0 COUNT 100
///         -- entries a dead or stuck instance read and never acknowledged
///
/// Delivery is at least once; the recorder makes a redelivered entry a no-op. An entry whose
/// transaction failed (database away) stays pending and is retried from this instance's pending
/// list (`... STREAMS <stream> 0`) after a back-off. A malformed entry is acknowledged and
/// logged, never retried forever.
struct StateStreamConsumer: Service {
    static let group = ClusterContract.stateConsumerGroup

    let lane: RedisLane
    let contract: ClusterContract
    let consumerName: String
    let recorder: IncidentRecorder
    let signal: OutboxSignal
    let claimIdleMilliseconds: Int
    let statistics: ControlStatistics
    let logger: Logger
    /// Called after each applied entry (tests, live updates).
    var onApplied: @Sendable (StateChangeEvent, IncidentRecorder.Outcome) async -> Void = { _, _ in }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.loop()
        }
    }

    private func loop() async {
        var groupReady = false
        var backoff = ReconnectBackoff(configuration: .standard, seed: UInt64.random(in: 0...UInt64.max))
        var lastClaim = ContinuousClock.now - .seconds(3600)
        var readPendingFirst = true
        while !Task.isCancelled {
            do {
                if !groupReady {
                    try await createGroup()
                    groupReady = true
                }
                if ContinuousClock.now - lastClaim > .milliseconds(max(claimIdleMilliseconds / 2, 500)) {
                    try await claimAbandoned()
                    lastClaim = ContinuousClock.now
                }
                let entries = try await read(pending: readPendingFirst)
                readPendingFirst = false
                let failed = await handle(entries)
                if failed {
                    readPendingFirst = true
                    try await Task.sleep(for: .milliseconds(Int(backoff.nextDelay() * 1000)))
                } else {
                    backoff.reset()
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                statistics.consumerErrors.increment()
                logger.warning("state stream: \(error); retrying", metadata: ["stream": "\(contract.stateStream)"])
                groupReady = groupReady && !(error is RedisError)
                readPendingFirst = true
                try? await Task.sleep(for: .milliseconds(Int(backoff.nextDelay() * 1000)))
            }
        }
    }

    private func createGroup() async throws {
        let reply = try await lane.command(["XGROUP", "CREATE", contract.stateStream, Self.group, "0", "MKSTREAM"])
        if case .error(let text) = reply, !text.hasPrefix("BUSYGROUP") {
            throw ConsumerError("XGROUP CREATE refused: \(text)")
        }
    }

    /// New entries (`>`, blocking up to 1 s), or this consumer's own unacknowledged ones (`0`).
    private func read(pending: Bool) async throws -> [StreamEntry] {
        var argv = ["XREADGROUP", "GROUP", Self.group, consumerName, "COUNT", "100"]
        if !pending { argv += ["BLOCK", "1000"] }
        argv += ["STREAMS", contract.stateStream, pending ? "0" : ">"]
        let reply = try await lane.command(argv)
        if case .error(let text) = reply {
            if text.hasPrefix("NOGROUP") { throw RedisError(.connectionLost, "consumer group missing: \(text)") }
            throw ConsumerError("XREADGROUP refused: \(text)")
        }
        // [[stream, [[id, [field, value, ...]], ...]]] or nil on timeout.
        guard let streams = reply.arrayValue, let first = streams.first?.arrayValue, first.count == 2,
            let items = first[1].arrayValue
        else { return [] }
        return items.compactMap(StreamEntry.init)
    }

    /// Takes over entries another consumer has held longer than the claim idle time.
    private func claimAbandoned() async throws {
        var cursor = "0-0"
        for _ in 0..<10 {
            let reply = try await lane.command([
                "XAUTOCLAIM", contract.stateStream, Self.group, consumerName, String(claimIdleMilliseconds), cursor,
                "COUNT", "100",
            ])
            if case .error(let text) = reply { throw ConsumerError("XAUTOCLAIM refused: \(text)") }
            guard let parts = reply.arrayValue, parts.count >= 2, let next = parts[0].text,
                let items = parts[1].arrayValue
            else { return }
            let entries = items.compactMap(StreamEntry.init)
            if !entries.isEmpty {
                statistics.consumerClaimed.increment(by: entries.count)
                logger.notice("state stream: took over \(entries.count) entries another instance left unacknowledged")
                _ = await handle(entries)
            }
            if next == "0-0" { return }
            cursor = next
        }
    }

    /// Applies entries in order; acknowledges each after its commit. Returns true when one
    /// failed (it stays pending and is read again after a back-off).
    private func handle(_ entries: [StreamEntry]) async -> Bool {
        for entry in entries {
            guard let event = StateChangeEvent(streamFields: entry.fields) else {
                logger.error("state stream: malformed entry \(entry.id) acknowledged and skipped: \(entry.fields)")
                _ = try? await lane.command(["XACK", contract.stateStream, Self.group, entry.id])
                continue
            }
            do {
                let outcome = try await recorder.apply(event)
                if case .applied(_, _, let notifications) = outcome, notifications > 0 { signal.notify() }
                statistics.eventsApplied.increment()
                let checkedAt = Date(timeIntervalSince1970: Double(event.atMs) / 1000)
                statistics.consumerLagSeconds.record(max(0, Date().timeIntervalSince(checkedAt)))
                _ = try await lane.command(["XACK", contract.stateStream, Self.group, entry.id])
                await onApplied(event, outcome)
            } catch {
                statistics.consumerErrors.increment()
                logger.warning(
                    "state stream: could not apply entry \(entry.id) (monitor \(event.monitorId)); it stays pending",
                    metadata: ["error": "\(error)"]
                )
                return true
            }
        }
        return false
    }

    struct ConsumerError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// One stream entry: its id and fields.
struct StreamEntry: Sendable, Equatable {
    var id: String
    var fields: [String: String]

    /// Reads `[id, [field, value, ...]]`; nil for anything else (a deleted entry comes back as
    /// `[id, nil]` from XAUTOCLAIM in Redis 7 and is skipped).
    init?(_ reply: RedisReply) {
        guard let pair = reply.arrayValue, pair.count == 2, let id = pair[0].text, let flat = pair[1].arrayValue else {
            return nil
        }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let key = flat[index].text, let value = flat[index + 1].text { fields[key] = value }
            index += 2
        }
        self.id = id
        self.fields = fields
    }
}
