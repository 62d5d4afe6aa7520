import LookoutCore
import LookoutFFI

extension ClusterCoordinator {
    /// Settings of the cluster coordinator. Every default is documented; `init` validates.
    struct Configuration: Sendable {
        /// Where Redis listens (an IP address: see `RedisEndpoint`).
        var redis: RedisEndpoint
        /// Key prefix and names shared with the control plane.
        var contract: ClusterContract
        /// This engine's id: unique among live engines, 1...64 characters of `A-Z a-z 0-9 . _ -`.
        var engineId: String
        /// Lease, ms. Default 10,000: an engine that dies loses its shards within about one lease
        /// (and one heartbeat), heartbeats go out every lease / 3. At least 300.
        var leaseMs: Int
        /// TCP connect + handshake budget, seconds. Default 2.
        var connectTimeoutSeconds: Double
        /// Reply budget per command, seconds; a late reply resets the connection. Default 2, at
        /// most lease / 2 (a stuck heartbeat must not outlive the lease).
        var commandTimeoutSeconds: Double
        /// Reconnect delays. Default 0.1 s doubling to 5 s (capped at lease / 2).
        var backoff: ReconnectBackoff.Configuration
        /// Results per live message at most. Default 200.
        var liveBatchMaxResults: Int
        /// Longest a result waits before its live message goes out, ms. Default 100.
        var liveBatchMaxDelayMs: Int
        /// Results waiting for the coordinator thread at most; beyond it they are dropped (and
        /// counted) so a Redis outage never grows memory or slows the check loops. Default 100,000.
        var liveQueueLimit: Int
        /// Commands in flight on the connection above which live batches are dropped instead of
        /// queued (back-pressure from a slow Redis). Default 1,000.
        var livePendingCommandLimit: Int
        /// State changes held while Redis is away. Default 100,000 (oldest dropped beyond).
        var stateEventLimit: Int
        /// `XADD`s per pipelined batch. Default 256.
        var stateEventBatch: Int
        /// Wait before re-sending state changes Redis refused, seconds. Default 1.
        var stateEventRetrySeconds: Double
        /// Host name written into the engine record. Default: the machine's host name.
        var host: String
        /// Process id written into the engine record. Default: this process.
        var pid: Int32
        /// Process start written into the engine record, epoch ms. Default: now.
        var startedAtMs: Int64
        /// Software version written into the engine record.
        var version: String

        init(
            redis: RedisEndpoint,
            contract: ClusterContract,
            engineId: String,
            leaseMs: Int = 10_000,
            connectTimeoutSeconds: Double = 2,
            commandTimeoutSeconds: Double = 2,
            backoff: ReconnectBackoff.Configuration = .standard,
            liveBatchMaxResults: Int = 200,
            liveBatchMaxDelayMs: Int = 100,
            liveQueueLimit: Int = 100_000,
            livePendingCommandLimit: Int = 1_000,
            stateEventLimit: Int = 100_000,
            stateEventBatch: Int = 256,
            stateEventRetrySeconds: Double = 1,
            host: String = ClusterCoordinator.hostName(),
            pid: Int32 = ClusterCoordinator.processId(),
            startedAtMs: Int64 = Clock.wallMicros() / 1000,
            version: String = "0.1.0"
        ) throws(ClusterConfigurationError) {
            do {
                try ClusterContract.validateEngineId(engineId)
            } catch {
                throw ClusterConfigurationError("--engine-id: \(error.description)")
            }
            guard leaseMs >= 300, leaseMs <= 3_600_000 else {
                throw ClusterConfigurationError("lease must be between 300 ms and 1 hour, got \(leaseMs) ms")
            }
            guard connectTimeoutSeconds > 0, connectTimeoutSeconds.isFinite else {
                throw ClusterConfigurationError("Redis connect timeout must be positive")
            }
            guard commandTimeoutSeconds > 0, commandTimeoutSeconds * 1000 <= Double(leaseMs) / 2 else {
                throw ClusterConfigurationError(
                    "Redis command timeout (\(commandTimeoutSeconds) s) must be positive and at most half the lease (\(leaseMs) ms)"
                )
            }
            guard liveBatchMaxResults >= 1, liveBatchMaxDelayMs >= 0, liveQueueLimit >= 1, livePendingCommandLimit >= 1
            else {
                throw ClusterConfigurationError("live batch settings must be positive")
            }
            guard stateEventLimit >= 1, stateEventBatch >= 1, stateEventRetrySeconds > 0 else {
                throw ClusterConfigurationError("state event settings must be positive")
            }
            self.redis = redis
            self.contract = contract
            self.engineId = engineId
            self.leaseMs = leaseMs
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.commandTimeoutSeconds = commandTimeoutSeconds
            var capped = backoff
            capped.maximumSeconds = min(backoff.maximumSeconds, max(Double(leaseMs) / 2000, backoff.initialSeconds))
            self.backoff = capped
            self.liveBatchMaxResults = liveBatchMaxResults
            self.liveBatchMaxDelayMs = liveBatchMaxDelayMs
            self.liveQueueLimit = liveQueueLimit
            self.livePendingCommandLimit = livePendingCommandLimit
            self.stateEventLimit = stateEventLimit
            self.stateEventBatch = stateEventBatch
            self.stateEventRetrySeconds = stateEventRetrySeconds
            self.host = host
            self.pid = pid
            self.startedAtMs = startedAtMs
            self.version = version
        }
    }
}

/// A cluster setting out of range; the message names it.
struct ClusterConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
