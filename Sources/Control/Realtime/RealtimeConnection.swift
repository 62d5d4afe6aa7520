import NIOCore
import NIOWebSocket
import Synchronization

/// One live-update client: its bounded send queue and what the session knows about it.
///
/// Fan-out never waits on a client: `enqueue` appends under a short lock and returns. The
/// connection's own writer task (`nextStep`) takes what is queued and writes it, waiting on the
/// socket as long as it must. When a client stops reading, its queue grows; past
/// `maxMessages` or `maxBytes` it is dropped at once: the queue is emptied, nothing more is
/// queued, and the session's `abort` closes it (1008, or 4008 for Socket.IO, with a reason).
final class RealtimeConnection: Sendable {
    /// Closes the socket on the server's initiative. With a code and reason (a dropped client)
    /// it sends the close frame at once, ahead of nothing queued; with nil it only arms the
    /// watchdog (the writer sends the close frame after the queue). Either way the socket is
    /// closed after a grace period if the client never reads it.
    typealias Closer = @Sendable (_ abort: (code: WebSocketErrorCode, reason: String)?) -> Void

    /// Which protocol the client speaks.
    enum Kind: String, Sendable, CaseIterable {
        /// `/ws`, the JSON protocol.
        case webSocket = "ws"
        /// `/socket.io/`, Socket.IO 5 over Engine.IO 4.
        case socketIO = "socketio"
    }

    /// What the writer task does next.
    enum WriterStep {
        /// Write these frames, in order.
        case write([ByteBuffer])
        /// Everything queued is written: send this close frame and stop.
        case close(WebSocketErrorCode, String)
        /// Stop at once (the connection was aborted or has ended).
        case stop
    }

    /// What became of a message given to `enqueue`.
    enum EnqueueOutcome: Equatable {
        case queued
        /// The queue overflowed with this message: the client is now dropped (reported once).
        case overflow
        /// The connection is closing or closed: the message was discarded.
        case discarded
    }

    private enum Phase {
        case open
        /// Write what is queued, then this close frame.
        case closing(WebSocketErrorCode, String)
        case aborted
    }

    private struct State {
        var queue: [ByteBuffer] = []
        var spare: [ByteBuffer] = []
        var queuedBytes = 0
        var phase = Phase.open
        var waiter: CheckedContinuation<Void, Never>?
        var userId: Int64?
        /// Engine.IO heartbeat: when the last ping went out and whether its pong came.
        var pingSentAt: ContinuousClock.Instant?
        var pongPending = false
        var nextPingAt: ContinuousClock.Instant
        /// Called once when the server closes the connection: sends the close frame of a dropped
        /// client (when the socket takes it) and closes the socket after a grace period.
        var closer: Closer?
    }

    let id: UInt64
    let kind: Kind
    /// The client's address (per-IP limit).
    let address: String
    let createdAt: ContinuousClock.Instant
    private let maxMessages: Int
    private let maxBytes: Int
    private let state: Mutex<State>

    init(id: UInt64, kind: Kind, address: String, maxMessages: Int, maxBytes: Int, firstPingAt: ContinuousClock.Instant)
    {
        self.id = id
        self.kind = kind
        self.address = address
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        createdAt = .now
        state = Mutex(State(nextPingAt: firstPingAt))
    }

    /// The authenticated user, nil before authentication.
    var userId: Int64? { state.withLock { $0.userId } }

    func authenticated(as userId: Int64) { state.withLock { $0.userId = userId } }

    /// Whether the connection still takes messages.
    var isOpen: Bool {
        state.withLock {
            if case .open = $0.phase { return true }
            return false
        }
    }

    /// Installs the function that closes the socket (the session's, which owns it).
    func setCloser(_ closer: @escaping Closer) {
        state.withLock { $0.closer = closer }
    }

    /// Queues one frame's text for the writer. Never waits.
    func enqueue(_ frame: ByteBuffer) -> EnqueueOutcome {
        let (outcome, waiter, closer) = state.withLock {
            state -> (EnqueueOutcome, CheckedContinuation<Void, Never>?, Closer?) in
            guard case .open = state.phase else { return (.discarded, nil, nil) }
            if state.queue.count + 1 > maxMessages || state.queuedBytes + frame.readableBytes > maxBytes {
                state.phase = .aborted
                state.queue.removeAll()
                state.queuedBytes = 0
                defer {
                    state.waiter = nil
                    state.closer = nil
                }
                return (.overflow, state.waiter, state.closer)
            }
            state.queue.append(frame)
            state.queuedBytes += frame.readableBytes
            defer { state.waiter = nil }
            return (.queued, state.waiter, nil)
        }
        waiter?.resume()
        if outcome == .overflow {
            closer?(
                (
                    slowCloseCode,
                    "slow consumer: more than \(maxMessages) messages or \(maxBytes) bytes were waiting to be sent"
                )
            )
        }
        return outcome
    }

    /// The close code of a client dropped for not reading: 1008 (policy violation), 4008 for
    /// Socket.IO (whose clients read codes of 4000 and up as the application's).
    var slowCloseCode: WebSocketErrorCode {
        kind == .socketIO ? WebSocketErrorCode(codeNumber: 4008) : .policyViolation
    }

    /// Writes what is queued, then closes with `code` (an error reply before the close, say).
    func close(_ code: WebSocketErrorCode, _ reason: String) {
        let (waiter, closer) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Closer?) in
            guard case .open = state.phase else { return (nil, nil) }
            state.phase = .closing(code, reason)
            defer {
                state.waiter = nil
                state.closer = nil
            }
            return (state.waiter, state.closer)
        }
        waiter?.resume()
        // The close frame itself is sent by the writer after the queue; the closer only arms
        // the watchdog that closes a socket the client never drains.
        closer?(nil)
    }

    /// Ends the connection without writing anything more (the session is over).
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.phase = .aborted
            state.queue.removeAll()
            state.queuedBytes = 0
            defer {
                state.waiter = nil
                state.closer = nil
            }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The writer's next step; waits while nothing is queued.
    func nextStep() async -> WriterStep {
        while true {
            let step = state.withLock { state -> WriterStep? in
                if !state.queue.isEmpty {
                    let batch = state.queue
                    swap(&state.queue, &state.spare)
                    state.queue.removeAll(keepingCapacity: true)
                    state.queuedBytes = 0
                    return .write(batch)
                }
                switch state.phase {
                case .open: return nil
                case .closing(let code, let reason):
                    state.phase = .aborted
                    return .close(code, reason)
                case .aborted: return .stop
                }
            }
            if let step { return step }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if case .open = state.phase, state.queue.isEmpty {
                        state.waiter = continuation
                        return false
                    }
                    return true
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Gives back the writer's last batch array so its storage is reused.
    func recycle(_ batch: [ByteBuffer]) {
        var batch = batch
        batch.removeAll(keepingCapacity: true)
        state.withLock { state in
            if state.spare.capacity < batch.capacity { state.spare = batch }
        }
    }

    // MARK: Engine.IO heartbeat

    /// What the heartbeat sweep should do for this connection at `now`.
    enum Heartbeat: Equatable {
        case none
        case ping
        case timedOut
    }

    func heartbeat(now: ContinuousClock.Instant, interval: Duration, timeout: Duration) -> Heartbeat {
        state.withLock { state in
            if state.pongPending, let sent = state.pingSentAt, now - sent >= timeout { return .timedOut }
            guard now >= state.nextPingAt else { return .none }
            state.pingSentAt = now
            state.pongPending = true
            state.nextPingAt = now + interval
            return .ping
        }
    }

    /// The client answered the ping.
    func receivedPong() { state.withLock { $0.pongPending = false } }
}
