import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// One simulated dashboard: a WebSocket client of `/ws` or of `/socket.io/` (Engine.IO framing
/// written here: open packet, `40` connect with the token, `421["subscribe:user"]` acked, `2`
/// answered with `3`), subscribed to its user's room. It times every `check:update` from the
/// `sent:<epoch µs>` the bench wrote into the result to its arrival.
struct RealtimeBenchClient: Sendable {
    enum Kind: Sendable {
        case webSocket
        case socketIO
    }

    let kind: Kind
    let port: Int
    let token: String
    let shared: RealtimeBenchShared

    /// Runs until the bench stops it; the latencies it measured, in microseconds.
    func run(logger: Logger) async -> [Int32] {
        let url =
            kind == .webSocket
            ? "ws://127.0.0.1:\(port)/ws?token=\(token)"
            : "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket"
        let latencies = LockedLatencies()
        do {
            try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await shared.waitForStop()
                        try? await outbound.close(.normalClosure, reason: "bench over")
                    }
                    var subscribed = false
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    if kind == .webSocket {
                        try await outbound.write(.text("{\"type\":\"subscribe:user\"}"))
                    }
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message else { continue }
                        if let micros = Self.sentMicros(text) {
                            latencies.append(Int32(clamping: Self.nowMicros() - micros))
                            continue
                        }
                        switch kind {
                        case .webSocket:
                            if !subscribed, text.contains("\"type\":\"subscribed\"") {
                                subscribed = true
                                shared.subscribed()
                            } else if text.contains("\"type\":\"error\"") {
                                shared.failed("ws: \(text)")
                            }
                        case .socketIO:
                            if text.hasPrefix("0{") {
                                try await outbound.write(.text("40{\"token\":\"\(token)\"}"))
                            } else if text.hasPrefix("40{") {
                                try await outbound.write(.text("421[\"subscribe:user\"]"))
                            } else if text.hasPrefix("431[{\"ok\":true") {
                                subscribed = true
                                shared.subscribed()
                            } else if text == "2" {
                                try await outbound.write(.text("3"))
                            } else if text.hasPrefix("44") || text.hasPrefix("431") {
                                shared.failed("socket.io: \(text)")
                            }
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch {
            shared.failed("\(kind) client: \(error)")
        }
        return latencies.values
    }

    /// The `sent:<µs>` stamp of a check:update, nil for other messages.
    static func sentMicros(_ text: String) -> Int64? {
        guard let range = text.range(of: "sent:") else { return nil }
        var value: Int64 = 0
        var digits = 0
        for byte in text[range.upperBound...].utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { break }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }
}

/// Latencies of one client (appended by its own task only; the lock is never contended).
final class LockedLatencies: Sendable {
    private let storage = Mutex<[Int32]>([])
    func append(_ value: Int32) { storage.withLock { $0.append(value) } }
    var values: [Int32] { storage.withLock { $0 } }
}

/// What every client of a run shares: how many are subscribed, the first failure, and the stop.
final class RealtimeBenchShared: Sendable {
    private struct State {
        var subscribed = 0
        var failures: [String] = []
        var stopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func subscribed() { state.withLock { $0.subscribed += 1 } }
    func failed(_ reason: String) { state.withLock { if $0.failures.count < 5 { $0.failures.append(reason) } } }
    var subscribedCount: Int { state.withLock { $0.subscribed } }
    var failures: [String] { state.withLock { $0.failures } }

    func stop() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func waitForStop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }
}
