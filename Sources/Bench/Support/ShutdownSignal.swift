import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns SIGTERM, SIGINT and (optionally) the end of stdin into one "please stop" event that a
/// command waits for or polls, so every long-running subcommand shuts down through one path and
/// stops what it started.
///
/// The stdin rule exists for tests: a test process that dies closes the pipe it holds to the
/// farm's stdin, and the farm then exits instead of lingering on its ports.
final class ShutdownSignal: @unchecked Sendable {
    // @unchecked: `sources` is written once in `init` and only kept alive afterwards;
    // `reason` is behind its own lock.
    private let semaphore = DispatchSemaphore(value: 0)
    private let reason = LockedBox<String?>(nil)
    private var sources: [any DispatchSourceSignal] = []

    /// - Parameter watchStandardInput: also request shutdown when stdin reaches end of file.
    init(watchStandardInput: Bool) {
        for signalNumber in [SIGTERM, SIGINT] {
            // Ignore the default action so the dispatch source sees the signal instead of the
            // process dying without stopping its children and listeners.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            let name = signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"
            source.setEventHandler { [weak self] in self?.request(name) }
            source.resume()
            sources.append(source)
        }
        if watchStandardInput {
            let thread = Thread { [weak self] in
                var buffer = [UInt8](repeating: 0, count: 512)
                while true {
                    let count = read(0, &buffer, buffer.count)
                    if count > 0 { continue }  // Input is ignored; only its end matters.
                    if count < 0 && errno == EINTR { continue }
                    self?.request("standard input closed")
                    return
                }
            }
            thread.name = "stdin-watch"
            thread.start()
        }
    }

    /// Records the first reason and wakes `wait()`; later requests are ignored.
    func request(_ why: String) {
        let first = reason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = why
            return true
        }
        if first { semaphore.signal() }
    }

    var isRequested: Bool { reason.current != nil }

    var requestedReason: String? { reason.current }

    /// Blocks until shutdown is requested; returns why.
    func wait() -> String {
        semaphore.wait()
        semaphore.signal()  // Let any other waiter through as well.
        return reason.current ?? "shutdown requested"
    }
}
