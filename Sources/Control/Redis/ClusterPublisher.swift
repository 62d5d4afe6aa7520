import Logging
import LookoutCore
import LookoutFFI

/// Tells the engines about changes, on the cluster contract's channels, after the database
/// transaction committed. Pub/sub is fire-and-forget: a message lost while Redis is away only
/// delays a change until the engines' next reconcile (ClusterContract), so failures are logged,
/// not returned to the API caller whose change is already stored.
struct ClusterPublisher: Sendable {
    let redis: RedisClient
    let contract: ClusterContract
    let logger: Logger

    /// Publishes `changes` on `<prefix>:monitors:changed` (one object, or arrays of up to 1,000).
    func monitorsChanged(_ changes: [MonitorChange]) async {
        guard !changes.isEmpty else { return }
        var messages: [String] = []
        if changes.count == 1 {
            messages.append(changes[0].json)
        } else {
            var start = 0
            while start < changes.count {
                let slice = changes[start..<min(start + 1_000, changes.count)]
                messages.append("[" + slice.map(\.json).joined(separator: ",") + "]")
                start += 1_000
            }
        }
        do {
            _ = try await redis.commands.pipeline(messages.map { ["PUBLISH", contract.monitorsChangedChannel, $0] })
        } catch {
            logger.warning(
                "could not publish monitor changes; engines pick them up at their next reconcile",
                metadata: ["redis.error": "\(error)", "changes": "\(changes.count)"]
            )
        }
    }

    /// Asks the engine that owns the monitor's shard to check it now (`<prefix>:checks:requested`).
    /// Returns how many engines received the request (0: no engine is running).
    func checkRequested(_ request: CheckRequest) async throws(RedisError) -> Int64 {
        let reply = try await redis.commands.command(["PUBLISH", contract.checkRequestedChannel, request.json])
        return reply.integerValue ?? 0
    }
}
