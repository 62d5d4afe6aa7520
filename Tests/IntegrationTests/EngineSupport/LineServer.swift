import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small line-protocol server on 127.0.0.1 for `tcp` checks: on every connection it writes
/// `banner` (if any), then, unless `silent`, reads one line and answers `PONG <line>` and closes.
/// A `silent` server accepts and keeps the connection open saying nothing (until stopped). One
/// thread; stopped by `stop()` (shutting the listener down ends the accept).
final class LineServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let banner: String?
    private let silent: Bool
    private let thread: Thread
    /// Connections a silent server keeps open, closed by `stop()`.
    private final class OpenConnections: @unchecked Sendable {
        private let lock = NSLock()
        private var descriptors: [Int32] = []
        func add(_ descriptor: Int32) { lock.withLock { descriptors.append(descriptor) } }
        func takeAll() -> [Int32] { lock.withLock { descriptors } }
    }

    private let open = OpenConnections()
    private let finished = DispatchSemaphore(value: 0)

    init(banner: String? = nil, silent: Bool = false) throws {
        (listener, port) = try listenOnLoopback(backlog: 64)
        self.banner = banner
        self.silent = silent
        let listener = listener
        let open = open
        let finished = finished
        thread = Thread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { break }
                if let banner { _ = banner.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
                if silent {
                    open.add(client)
                    continue
                }
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while recv(client, &byte, 1, 0) == 1 && byte != UInt8(ascii: "\n") { line.append(byte) }
                let reply = "PONG " + String(decoding: line, as: UTF8.self) + "\n"
                _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(client)
            }
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        close(listener)
        for client in open.takeAll() { close(client) }
    }
}
