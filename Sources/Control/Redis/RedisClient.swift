import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

/// Redis for the control plane: LookoutFFI's hiredis connections on one libev thread of their own
/// (`LoopThread`), bridged to async/await, so no NIO event loop and no Swift concurrency thread
/// ever waits on Redis I/O.
///
/// Connections ("lanes") are separate TCP connections on that one thread:
/// - `commands`: every short command (rate limits, PUBLISH, XACK ...), pipelined;
/// - lanes made with `makeLane` for blocking commands (`XREADGROUP ... BLOCK`), which would
///   otherwise hold up every command queued behind them;
/// - one subscriber connection, made on the first `subscribe`.
/// Each reconnects by itself with back-off. A command sent while its lane is not connected fails
/// at once with `notConnected`: callers decide whether to retry, fail open or answer 503.
final class RedisClient: Sendable {
    let endpoint: RedisEndpoint
    /// The lane for short commands.
    let commands: RedisLane

    private let thread: LoopThread
    private let clientName: String
    private let subscriber: Mutex<RedisLane?> = Mutex(nil)
    /// Lanes made with `makeLane`, closed by `shutdown()`.
    private let extraLanes: Mutex<[RedisLane]> = Mutex([])
    private let logger: Logger

    /// Starts the loop thread and the command lane (connecting in the background).
    init(endpoint: RedisEndpoint, clientName: String, logger: Logger) throws(EventLoopError) {
        self.endpoint = endpoint
        self.clientName = clientName
        self.logger = logger
        thread = try LoopThread(name: "lookout-redis")
        commands = RedisLane(
            thread: thread,
            configuration: .init(endpoint: endpoint, clientName: clientName + ":commands"),
            logger: logger
        )
    }

    /// A new connection of its own, for blocking commands. `commandTimeoutSeconds` must exceed the
    /// longest BLOCK it will send.
    func makeLane(purpose: String, commandTimeoutSeconds: Double) -> RedisLane {
        let lane = RedisLane(
            thread: thread,
            configuration: .init(
                endpoint: endpoint,
                clientName: clientName + ":" + purpose,
                commandTimeoutSeconds: commandTimeoutSeconds
            ),
            logger: logger
        )
        extraLanes.withLock { $0.append(lane) }
        return lane
    }

    /// Subscribes to `channels` on the subscriber connection (renewed after every reconnect);
    /// `handler` runs on the Redis thread for every message and must return quickly.
    func subscribe(_ channels: [String], handler: @escaping @Sendable (RedisMessage) -> Void) {
        let lane = subscriber.withLock { lane in
            if let lane { return lane }
            let created = RedisLane(
                thread: thread,
                configuration: .init(endpoint: endpoint, clientName: clientName + ":subscriber"),
                logger: logger
            )
            lane = created
            return created
        }
        lane.subscribe(channels, handler: handler)
    }

    /// Whether the command lane is connected now.
    var isReady: Bool { commands.isReady }

    /// Waits until the command lane is connected, at most `seconds`; true when it is.
    func waitUntilReady(seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !commands.isReady {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Closes every connection and stops the thread. Commands still waiting fail with `closed`.
    func shutdown() {
        commands.close()
        subscriber.withLock { $0?.close() }
        for lane in extraLanes.withLock({ $0 }) { lane.close() }
        thread.shutdown()
    }
}

/// One Redis connection on a `RedisClient`'s thread. Sendable: every call hops onto the thread.
final class RedisLane: Sendable {
    private let thread: LoopThread
    private let connection: LoopConfined<RedisConnection?>
    private let ready = ReadyFlag()

    fileprivate init(thread: LoopThread, configuration: RedisConnection.Configuration, logger: Logger) {
        self.thread = thread
        let connection = LoopConfined<RedisConnection?>(nil)
        self.connection = connection
        thread.execute { [self] loop in
            let created = RedisConnection(loop: loop, configuration: configuration)
            created.onReady = { [self] in
                self.ready.set(true)
                logger.info("redis connected", metadata: ["redis.lane": "\(configuration.clientName ?? "")"])
            }
            created.onDown = { [self] error in
                let wasReady = self.ready.exchange(false)
                if wasReady {
                    logger.warning(
                        "redis connection lost; reconnecting",
                        metadata: ["redis.lane": "\(configuration.clientName ?? "")", "redis.error": "\(error)"]
                    )
                }
            }
            connection.value = created
            created.start()
        }
    }

    /// Connected now.
    var isReady: Bool { ready.value }

    /// Sends one command and waits for its reply (an error *reply* is a `.error` value, not a throw).
    func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await command(arguments.map { Array($0.utf8) })
    }

    /// Binary-safe form of `command`.
    func command(_ arguments: [[UInt8]]) async throws(RedisError) -> RedisReply {
        let result: Result<RedisReply, RedisError> = await withCheckedContinuation { continuation in
            let submitted = thread.execute { [connection] _ in
                guard let live = connection.value else {
                    continuation.resume(returning: .failure(RedisError(.closed, "redis connection closed")))
                    return
                }
                live.send(arguments) { result in continuation.resume(returning: result) }
            }
            if !submitted { continuation.resume(returning: .failure(RedisError(.closed, "redis client shut down"))) }
        }
        return try result.get()
    }

    /// Sends several commands in one write and waits for every reply, in order.
    func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        let result: Result<[RedisReply], RedisError> = await withCheckedContinuation { continuation in
            let submitted = thread.execute { [connection] _ in
                guard let live = connection.value else {
                    continuation.resume(returning: .failure(RedisError(.closed, "redis connection closed")))
                    return
                }
                var replies = [RedisReply?](repeating: nil, count: commands.count)
                var remaining = commands.count
                var failure: RedisError?
                if remaining == 0 {
                    continuation.resume(returning: .success([]))
                    return
                }
                for (index, argv) in commands.enumerated() {
                    live.send(argv) { result in
                        switch result {
                        case .success(let reply): replies[index] = reply
                        case .failure(let error): failure = failure ?? error
                        }
                        remaining -= 1
                        if remaining == 0 {
                            if let failure {
                                continuation.resume(returning: .failure(failure))
                            } else {
                                continuation.resume(returning: .success(replies.map { $0 ?? .null }))
                            }
                        }
                    }
                }
            }
            if !submitted { continuation.resume(returning: .failure(RedisError(.closed, "redis client shut down"))) }
        }
        return try result.get()
    }

    fileprivate func subscribe(_ channels: [String], handler: @escaping @Sendable (RedisMessage) -> Void) {
        thread.execute { [connection] _ in connection.value?.subscribe(channels, handler: handler) }
    }

    /// Closes the connection for good (commands waiting fail with `closed`).
    func close() {
        thread.execute { [connection, ready] _ in
            connection.value?.close()
            connection.value = nil
            ready.set(false)
        }
    }
}

/// A flag read from any thread and written on the Redis thread.
private final class ReadyFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var value: Bool { flag.load(ordering: .acquiring) }
    func set(_ value: Bool) { flag.store(value, ordering: .releasing) }
    func exchange(_ value: Bool) -> Bool { flag.exchange(value, ordering: .acquiringAndReleasing) }
}

/// A value that lives on one loop thread: only closures run by that thread's `execute` touch it.
/// The type cannot check that; the rule is kept by `RedisLane`, the only user.
final class LoopConfined<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

extension RedisReply {
    /// The integer of an integer reply.
    var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The items of an array reply.
    var arrayValue: [RedisReply]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
