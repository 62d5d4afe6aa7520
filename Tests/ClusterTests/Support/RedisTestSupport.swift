import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Synchronization
import Testing

@testable import LookoutEngine

#if canImport(Glibc)
import Glibc
#endif

extension RedisTest {
    /// Runs one command on a fresh connection and returns its reply.
    static func command(_ argv: [String]) async throws -> RedisReply {
        try await commands([argv])[0]
    }

    /// Runs commands (pipelined) on a fresh connection and returns their replies.
    static func commands(_ list: [[String]], endpoint given: RedisEndpoint? = nil) async throws -> [RedisReply] {
        let endpoint = try given ?? endpoint()
        let replies = Locked<[RedisReply]>([])
        let failure = Locked<RedisError?>(nil)
        let finished = await LoopHarness.run(timeoutSeconds: 5) { loop, control in
            let connection = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
            control.keep(connection)
            connection.onReady = {
                var remaining = list.count
                for argv in list {
                    connection.send(argv) { result in
                        switch result {
                        case .success(let reply): replies.mutate { $0.append(reply) }
                        case .failure(let error): failure.set(error)
                        }
                        remaining -= 1
                        if remaining == 0 { control.finish() }
                    }
                }
            }
            connection.start()
        }
        if let error = failure.value { throw error }
        guard finished, replies.value.count == list.count else { throw HarnessTimeout(what: "Redis commands \(list)") }
        return replies.value
    }

    /// Deletes every key under `prefix` (test clean-up).
    static func deleteKeys(prefix: String) async throws {
        guard case .array(let keys) = try await command(["KEYS", prefix + ":*"]) else { return }
        let names = keys.compactMap(\.text)
        if !names.isEmpty { _ = try await command(["DEL"] + names) }
    }

    /// Ids of the clients whose name starts with `namePrefix` (from CLIENT LIST).
    static func clientIds(namePrefix: String) async throws -> [String] {
        guard let list = try await command(["CLIENT", "LIST"]).text else { return [] }
        var ids: [String] = []
        for line in list.split(separator: "\n") {
            var id: Substring?
            var name: Substring?
            for field in line.split(separator: " ") {
                if field.hasPrefix("id=") { id = field.dropFirst(3) }
                if field.hasPrefix("name=") { name = field.dropFirst(5) }
            }
            if let id, let name, name.hasPrefix(namePrefix) { ids.append(String(id)) }
        }
        return ids
    }
}

struct HarnessTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// A value shared between the test and a loop thread.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: Value
    init(_ value: Value) { storage = value }
    var value: Value { lock.withLock { storage } }
    func set(_ value: Value) { lock.withLock { storage = value } }
    func mutate<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&storage) } }
}

/// Runs a test body on its own thread with a fresh `EventLoop`, until the body calls
/// `control.finish()` or the time runs out. Connections handed to `keep` are closed at the end.
final class LoopHarness: @unchecked Sendable {
    final class Control {
        let loop: EventLoop
        private(set) var finished = false
        fileprivate var kept: [RedisConnection] = []
        fileprivate var timers: [LoopTimer] = []
        init(loop: EventLoop) { self.loop = loop }
        func keep(_ connection: RedisConnection) { kept.append(connection) }
        /// Runs `body` after `seconds` on the loop thread.
        func after(_ seconds: Double, _ body: @escaping () -> Void) {
            let timer = LoopTimer(loop: loop, handler: body)
            timers.append(timer)
            timer.schedule(after: seconds)
        }
        func finish() {
            finished = true
            loop.breakLoop()
        }
    }

    /// Returns false when the time ran out before `finish()`.
    static func run(timeoutSeconds: Double, _ body: @escaping @Sendable (EventLoop, Control) -> Void) async -> Bool {
        ignoreSIGPIPE
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let thread = Thread {
                let loop = try! EventLoop()
                let control = Control(loop: loop)
                let deadline = LoopTimer(loop: loop) { loop.breakLoop() }
                deadline.schedule(after: timeoutSeconds)
                body(loop, control)
                if !control.finished { loop.run() }
                let finished = control.finished
                for connection in control.kept { connection.close() }
                control.kept = []
                control.timers = []
                deadline.cancel()
                continuation.resume(returning: finished)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// hiredis may write to a socket the server closed (CLIENT KILL): EPIPE, not a dead test run.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns the time it took.
@discardableResult
func eventually(within seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws -> Double {
    let start = Clock.monotonicMicros()
    while true {
        if try await condition() { return Double(Clock.monotonicMicros() - start) / 1_000_000 }
        if Double(Clock.monotonicMicros() - start) / 1_000_000 > seconds {
            throw HarnessTimeout(what: "\(what) within \(seconds) s")
        }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}
