// hiredis 0.14 (async API + libev adapter), wrapped. Everything unsafe about hiredis lives here.
//
// Ownership:
// - `RedisConnection` owns at most one `redisAsyncContext` at a time (one per connection
//   attempt: hiredis frees a context itself when the connection fails or drops, and we free it
//   on close, on a connect timeout and on a command timeout). The context's `data` field holds an
//   *unretained* pointer to the connection; the connection clears it before freeing the context
//   from `deinit`, and every C callback returns at once when it is nil.
// - Regular commands pass no pointer at all: their `privdata` is a sequence number (as a pointer
//   bit pattern) and their completions wait in a FIFO inside the connection, because Redis
//   answers in order. hiredis calls every command callback exactly once, with a NULL reply for
//   the commands still pending when the context goes away, so the FIFO always drains.
// - Subscriptions pass NULL `privdata`: the channel handlers live in the connection, keyed by
//   channel name, and are re-subscribed after every reconnect.
// - The libev adapter (`adapters/libev.h`, attached through the shim) owns the ev_io watchers
//   of the context's socket and frees them in its cleanup hook when hiredis frees the context.
// - hiredis has no timers: the connect timeout, the command timeout and the reconnect back-off
//   are `LoopTimer`s owned by the connection.
// - Everything here runs on the thread of the `EventLoop` the connection was created with.
//
// Never call `redisAsyncFree` on a context from inside its connect callback (hiredis keeps using
// it after the callback returns); the handshake always sends at least a PING, so "ready" is
// reported from a reply callback, where hiredis defers a free until the callback returns.
import CEngineShims
import LookoutCore

/// A reply from Redis (RESP2).
package enum RedisReply: Sendable, Equatable, CustomStringConvertible {
    /// A simple string (`+OK`).
    case status(String)
    /// An error reply (`-ERR ...`): the command reached Redis and was refused.
    case error(String)
    /// An integer (`:1`).
    case integer(Int64)
    /// A bulk string (binary safe).
    case string([UInt8])
    /// A multi-bulk reply.
    case array([RedisReply])
    /// The nil bulk string or nil array (`$-1`, `*-1`).
    case null

    /// Bulk or status text as UTF-8; nil for other kinds.
    package var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// `+OK`.
    package var isOK: Bool { self == .status("OK") }

    package var description: String {
        switch self {
        case .status(let text): return "+\(text)"
        case .error(let text): return "-\(text)"
        case .integer(let value): return ":\(value)"
        case .string(let bytes): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .array(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .null: return "nil"
        }
    }

    /// Copies a hiredis reply (hiredis frees it after the callback returns).
    fileprivate init(_ reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = value.str, value.len > 0 else { return [] }
            return UnsafeRawBufferPointer(start: str, count: value.len).map { $0 }
        }
        switch value.type {
        case REDIS_REPLY_STATUS: self = .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(value.integer))
        case REDIS_REPLY_STRING: self = .string(bytes())
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(value.elements)
            if let elements = value.element {
                for index in 0..<value.elements {
                    if let element = elements[index] { items.append(RedisReply(element)) } else { items.append(.null) }
                }
            }
            self = .array(items)
        default: self = .null
        }
    }
}

/// A message received on a subscribed channel.
package struct RedisMessage: Sendable, Equatable {
    package var channel: String
    package var payload: [UInt8]
}

/// Why a command or a connection failed without a reply from Redis. Error *replies* are not
/// errors here: they arrive as `RedisReply.error`.
package struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason; new ones may be added.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case connectFailed = "connect_failed"
            case connectTimeout = "connect_timeout"
            case handshakeFailed = "handshake_failed"
            case connectionLost = "connection_lost"
            case commandTimeout = "command_timeout"
            case notConnected = "not_connected"
            case subscribed = "subscribed"
            case closed = "closed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The TCP connection could not be opened (refused, unreachable ...).
        package static let connectFailed = Code(.connectFailed)
        /// No connection within the connect timeout.
        package static let connectTimeout = Code(.connectTimeout)
        /// AUTH, SELECT or CLIENT SETNAME was refused.
        package static let handshakeFailed = Code(.handshakeFailed)
        /// The connection dropped (server gone, CLIENT KILL, network) before the reply came.
        package static let connectionLost = Code(.connectionLost)
        /// A reply took longer than the command timeout; the connection was reset.
        package static let commandTimeout = Code(.commandTimeout)
        /// The command was not sent: the connection is not ready (connecting or reconnecting).
        package static let notConnected = Code(.notConnected)
        /// The command was not sent: this connection is in subscriber mode.
        package static let subscribed = Code(.subscribed)
        /// `close()` was called.
        package static let closed = Code(.closed)

        package var description: String { base.rawValue }
    }

    package var code: Code
    /// Detail for the log (hiredis' error text, the server's refusal ...).
    package var detail: String

    package init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    package var description: String { "redis \(code): \(detail)" }
}

/// One Redis connection driven by an `EventLoop`, reconnecting by itself with back-off.
///
/// Commands are pipelined: everything sent in one loop iteration leaves in one write, and
/// replies complete in order. A command sent while the connection is not ready fails at once
/// with `notConnected` (nothing is queued across reconnects: the caller decides what to retry).
/// A connection that subscribed to a channel is a subscriber (RESP2): it refuses other commands.
package final class RedisConnection {
    package struct Configuration: Sendable {
        package var endpoint: RedisEndpoint
        /// Sent with `CLIENT SETNAME` (no spaces), so `CLIENT LIST` shows who is who. Default none.
        package var clientName: String?
        /// Time allowed for TCP connect + handshake, seconds. Default 2.
        package var connectTimeoutSeconds: Double
        /// Time allowed for a reply, seconds; on expiry the connection is reset (every pending
        /// command fails with `commandTimeout`) and re-established. Default 5.
        package var commandTimeoutSeconds: Double
        /// Delays between reconnection attempts.
        package var backoff: ReconnectBackoff.Configuration

        package init(
            endpoint: RedisEndpoint,
            clientName: String? = nil,
            connectTimeoutSeconds: Double = 2,
            commandTimeoutSeconds: Double = 5,
            backoff: ReconnectBackoff.Configuration = .standard
        ) {
            self.endpoint = endpoint
            self.clientName = clientName
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.commandTimeoutSeconds = commandTimeoutSeconds
            self.backoff = backoff
        }
    }

    package enum State: Equatable {
        /// Created, `start()` not called yet.
        case idle
        /// TCP connect in progress.
        case connecting
        /// Connected; AUTH / SELECT / CLIENT SETNAME / PING in flight.
        case handshaking
        /// Commands may be sent.
        case ready
        /// Waiting for the back-off timer before the next attempt.
        case waiting
        /// `close()` was called.
        case closed
    }

    package typealias Completion = (Result<RedisReply, RedisError>) -> Void

    /// Called each time the connection becomes ready (first connect and every reconnect).
    package var onReady: (() -> Void)?
    /// Called when an attempt fails or a ready connection is lost; a reconnect is already scheduled.
    package var onDown: ((RedisError) -> Void)?
    /// Called when Redis confirms a subscription (after every reconnect too).
    package var onSubscribed: ((String) -> Void)?

    package let configuration: Configuration
    package private(set) var state: State = .idle
    /// Successful connections so far (1 after the first).
    package private(set) var connections = 0
    /// Failed attempts since the last successful connection.
    package var failedAttempts: Int { backoff.attempt }

    private let loop: EventLoop
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    /// Set while we free a context ourselves: the error its pending commands receive.
    private var closingError: RedisError?
    /// hiredis started tearing the current context down (a NULL reply arrived for it).
    private var tearingDown = false
    private var backoff: ReconnectBackoff
    private var connectTimer: LoopTimer!
    private var commandTimer: LoopTimer!
    private var reconnectTimer: LoopTimer!

    private struct Pending {
        var sequence: UInt
        var deadline: Double
        var completion: Completion?
    }
    private var pending: [Pending] = []
    private var pendingHead = 0
    private var nextSequence: UInt = 1
    private var handshakeRemaining = 0
    private var subscriptions: [String: (RedisMessage) -> Void] = [:]

    package init(loop: EventLoop, configuration: Configuration) {
        self.loop = loop
        self.configuration = configuration
        self.backoff = ReconnectBackoff(
            configuration: configuration.backoff,
            seed: UInt64(truncatingIfNeeded: Clock.monotonicMicros())
                ^ UInt64(UInt(bitPattern: ObjectIdentifier(loop).hashValue))
        )
        connectTimer = LoopTimer(loop: loop) { [unowned self] in self.connectTimedOut() }
        commandTimer = LoopTimer(loop: loop) { [unowned self] in self.checkCommandTimeouts() }
        reconnectTimer = LoopTimer(loop: loop) { [unowned self] in self.openContext() }
    }

    /// A connection released without `close()` drops its pending completions without calling them.
    deinit {
        if let context {
            context.pointee.data = nil
            self.context = nil
            redisAsyncFree(context)
        }
    }

    /// Number of commands sent and not yet answered.
    package var pendingCount: Int { pending.count - pendingHead }

    package var isReady: Bool { state == .ready }

    // MARK: lifecycle

    /// Starts connecting (on the next loop iteration); reconnects by itself until `close()`.
    package func start() {
        guard state == .idle else { return }
        state = .waiting
        reconnectTimer.schedule(after: 0)
    }

    /// Closes the connection for good: pending commands fail with `closed`, no reconnect.
    /// Callbacks (`onDown`) are not called.
    package func close() {
        guard state != .closed else { return }
        state = .closed
        connectTimer.cancel()
        reconnectTimer.cancel()
        commandTimer.cancel()
        freeContext(because: RedisError(.closed, "connection closed"))
        failAllPending(RedisError(.closed, "connection closed"))
    }

    // MARK: commands

    /// Sends one command (binary-safe arguments). The completion runs on the loop thread: later,
    /// or at once when the command cannot be sent. A nil completion sends and forgets (the reply
    /// is still awaited for the command timeout).
    package func send(_ argv: [[UInt8]], completion: Completion?) {
        guard state == .ready, !tearingDown, let context else {
            completion?(.failure(RedisError(.notConnected, "not connected to \(configuration.endpoint)")))
            return
        }
        guard subscriptions.isEmpty else {
            completion?(.failure(RedisError(.subscribed, "a subscriber connection cannot run \(Self.name(of: argv))")))
            return
        }
        issue(context: context, argv: argv, completion: completion)
    }

    /// Sends one command given as text arguments.
    package func send(_ argv: [String], completion: Completion?) {
        send(argv.map { Array($0.utf8) }, completion: completion)
    }

    /// Subscribes to `channels`; `handler` receives their messages on the loop thread. The
    /// subscription is remembered and renewed after every reconnect. Once a connection has
    /// subscribed, it refuses regular commands.
    package func subscribe(_ channels: [String], handler: @escaping (RedisMessage) -> Void) {
        for channel in channels { subscriptions[channel] = handler }
        if state == .ready, !tearingDown, let context {
            issueSubscribe(context: context, channels: channels)
        }
    }

    private func issue(context: UnsafeMutablePointer<redisAsyncContext>, argv: [[UInt8]], completion: Completion?) {
        let sequence = nextSequence
        nextSequence = nextSequence &+ 1
        if nextSequence == 0 { nextSequence = 1 }
        let status = Self.withArgv(argv) { count, pointers, lengths in
            redisAsyncCommandArgv(
                context,
                redisCommandCallback,
                UnsafeMutableRawPointer(bitPattern: sequence),
                count,
                pointers,
                lengths
            )
        }
        guard status == REDIS_OK else {
            completion?(.failure(RedisError(.notConnected, "hiredis refused the command (connection closing)")))
            return
        }
        if pendingCount == 0 { commandTimer.schedule(after: configuration.commandTimeoutSeconds) }
        pending.append(
            Pending(
                sequence: sequence,
                deadline: loop.now + configuration.commandTimeoutSeconds,
                completion: completion
            )
        )
    }

    private func issueSubscribe(context: UnsafeMutablePointer<redisAsyncContext>, channels: [String]) {
        guard !channels.isEmpty else { return }
        let argv = [Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }
        _ = Self.withArgv(argv) { count, pointers, lengths in
            redisAsyncCommandArgv(context, redisSubscribeCallback, nil, count, pointers, lengths)
        }
    }

    /// Calls `body` with argc/argv/argvlen pointing into one contiguous copy of the arguments
    /// (hiredis copies them into its output buffer before returning).
    private static func withArgv(
        _ argv: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Int32
    ) -> Int32 {
        var lengths = argv.map(\.count)
        var flat: [UInt8] = []
        flat.reserveCapacity(lengths.reduce(1, +))
        for argument in argv { flat.append(contentsOf: argument) }
        flat.append(0)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(argv.count)
            var offset = 0
            for length in lengths {
                pointers.append(base + offset)
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { pointerBuffer in
                lengths.withUnsafeMutableBufferPointer { lengthBuffer in
                    body(Int32(argv.count), pointerBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    private static func name(of argv: [[UInt8]]) -> String {
        argv.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "an empty command"
    }

    // MARK: connecting

    private func openContext() {
        guard state == .waiting else { return }
        let endpoint = configuration.endpoint
        guard let created = redisAsyncConnect(endpoint.host, Int32(endpoint.port)) else {
            attemptFailed(RedisError(.connectFailed, "hiredis could not allocate a context"))
            return
        }
        if created.pointee.err != 0 {
            let detail = Self.errorText(created)
            redisAsyncFree(created)
            attemptFailed(RedisError(.connectFailed, "\(endpoint): \(detail)"))
            return
        }
        created.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        if CEngineShims_redis_libev_attach(loop.raw, created) != REDIS_OK {
            created.pointee.data = nil
            redisAsyncFree(created)
            attemptFailed(RedisError(.connectFailed, "could not attach the connection to the event loop"))
            return
        }
        _ = redisAsyncSetConnectCallback(created, redisConnectCallback)
        _ = redisAsyncSetDisconnectCallback(created, redisDisconnectCallback)
        context = created
        tearingDown = false
        closingError = nil
        state = .connecting
        connectTimer.schedule(after: configuration.connectTimeoutSeconds)
    }

    fileprivate func connectFinished(_ context: UnsafePointer<redisAsyncContext>, status: Int32) {
        guard UnsafePointer(self.context) == context, state == .connecting else { return }
        guard status == REDIS_OK else {
            // hiredis frees this context when the callback returns.
            let detail = Self.errorText(context)
            self.context = nil
            connectTimer.cancel()
            attemptFailed(RedisError(.connectFailed, "\(configuration.endpoint): \(detail)"))
            return
        }
        state = .handshaking
        var steps: [[String]] = []
        let endpoint = configuration.endpoint
        if let password = endpoint.password {
            steps.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { steps.append(["SELECT", String(endpoint.database)]) }
        if let name = configuration.clientName { steps.append(["CLIENT", "SETNAME", name]) }
        steps.append(["PING"])
        handshakeRemaining = steps.count
        guard let live = self.context else { return }
        for step in steps {
            issue(context: live, argv: step.map { Array($0.utf8) }) { [unowned self] result in
                self.handshakeStepFinished(step[0], result)
            }
        }
    }

    private func handshakeStepFinished(_ command: String, _ result: Result<RedisReply, RedisError>) {
        guard state == .handshaking else { return }
        switch result {
        case .success(.error(let text)):
            failContext(RedisError(.handshakeFailed, "\(command) refused by \(configuration.endpoint): \(text)"))
        case .success:
            handshakeRemaining -= 1
            if handshakeRemaining == 0 { becomeReady() }
        case .failure:
            // The connection went away; the disconnect path reports it.
            break
        }
    }

    private func becomeReady() {
        connectTimer.cancel()
        state = .ready
        connections += 1
        backoff.reset()
        if let context, !subscriptions.isEmpty {
            issueSubscribe(context: context, channels: subscriptions.keys.sorted())
        }
        onReady?()
    }

    private func connectTimedOut() {
        guard state == .connecting || state == .handshaking else { return }
        failContext(
            RedisError(
                .connectTimeout,
                "no connection to \(configuration.endpoint) within \(configuration.connectTimeoutSeconds) s"
            )
        )
    }

    // MARK: replies

    fileprivate func replyArrived(
        _ context: UnsafeMutablePointer<redisAsyncContext>,
        reply: UnsafeMutableRawPointer?,
        sequence: UInt
    ) {
        guard pendingHead < pending.count else { return }
        let entry = pending[pendingHead]
        assert(entry.sequence == sequence, "hiredis replies out of order")
        pending[pendingHead].completion = nil
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead >= 1024 && pendingHead * 2 >= pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        if let reply {
            entry.completion?(.success(RedisReply(reply.assumingMemoryBound(to: redisReply.self))))
            return
        }
        // NULL reply: the context is being freed (by hiredis after an error, or by us).
        let error: RedisError
        if context == self.context {
            tearingDown = true
            error = RedisError(.connectionLost, "\(configuration.endpoint): \(Self.errorText(context))")
        } else {
            error = closingError ?? RedisError(.connectionLost, "connection reset")
        }
        entry.completion?(.failure(error))
    }

    fileprivate func subscriptionReply(_ reply: UnsafeMutableRawPointer?) {
        guard let reply else { return }
        guard case .array(let items) = RedisReply(reply.assumingMemoryBound(to: redisReply.self)), items.count >= 3,
            let kind = items[0].text, let channel = items[1].text
        else { return }
        switch kind {
        case "message":
            guard case .string(let payload) = items[2], let handler = subscriptions[channel] else { return }
            handler(RedisMessage(channel: channel, payload: payload))
        case "subscribe":
            onSubscribed?(channel)
        default:
            break
        }
    }

    private func checkCommandTimeouts() {
        guard pendingHead < pending.count else { return }
        let now = loop.now
        let oldest = pending[pendingHead].deadline
        if oldest > now {
            commandTimer.schedule(after: oldest - now)
            return
        }
        failContext(
            RedisError(
                .commandTimeout,
                "no reply from \(configuration.endpoint) within \(configuration.commandTimeoutSeconds) s; connection reset"
            )
        )
    }

    // MARK: disconnecting

    fileprivate func disconnected(_ context: UnsafePointer<redisAsyncContext>, status: Int32) {
        // A context we freed ourselves reports here too; only the current one matters.
        guard UnsafePointer(self.context) == context else { return }
        let detail = status == REDIS_OK ? "closed by the server" : Self.errorText(context)
        self.context = nil
        attemptFailed(RedisError(.connectionLost, "\(configuration.endpoint): \(detail)"))
    }

    /// Frees the current context ourselves (timeout, refused handshake) and schedules a reconnect.
    private func failContext(_ error: RedisError) {
        freeContext(because: error)
        attemptFailed(error)
    }

    private func freeContext(because error: RedisError) {
        guard let context else { return }
        self.context = nil
        closingError = error
        // Pending callbacks run now with NULL replies (or, inside a hiredis callback, right after it).
        redisAsyncFree(context)
    }

    private func attemptFailed(_ error: RedisError) {
        connectTimer.cancel()
        commandTimer.cancel()
        failAllPending(error)
        guard state != .closed else { return }
        state = .waiting
        tearingDown = false
        reconnectTimer.schedule(after: backoff.nextDelay())
        onDown?(error)
    }

    /// Completions still waiting once their context is gone (only when hiredis deferred the free).
    private func failAllPending(_ error: RedisError) {
        guard context == nil, pendingHead < pending.count else { return }
        // When a free is deferred (we are inside a hiredis callback), its NULL replies arrive
        // later and find the FIFO empty; the completions are answered here instead.
        let waiting = pending[pendingHead...].map(\.completion)
        pending.removeAll(keepingCapacity: true)
        pendingHead = 0
        for completion in waiting { completion?(.failure(error)) }
    }

    private static func errorText(_ context: UnsafePointer<redisAsyncContext>) -> String {
        if let text = context.pointee.errstr, text.pointee != 0 { return String(cString: text) }
        return "error \(context.pointee.err)"
    }
}

// MARK: C callbacks: each forwards to a Swift method at once.

private func connection(of context: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
    guard let context, let data = context.pointee.data else { return nil }
    return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
}

private let redisConnectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = {
    context,
    status in
    guard let context else { return }
    connection(of: context)?.connectFinished(context, status: status)
}

private let redisDisconnectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = {
    context,
    status in
    guard let context else { return }
    connection(of: context)?.disconnected(context, status: status)
}

private let redisCommandCallback:
    @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) ->
        Void = {
            context,
            reply,
            privdata in
            guard let context else { return }
            connection(of: context)?.replyArrived(context, reply: reply, sequence: UInt(bitPattern: privdata))
        }

private let redisSubscribeCallback:
    @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) ->
        Void = {
            context,
            reply,
            _ in
            connection(of: context)?.subscriptionReply(reply)
        }
