import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback listener that never accepts and whose accept queue is already full, so the kernel
/// drops new SYNs: the only way to make a connect time out without sending anything off the
/// machine.
final class FullBacklogListener {
    let port: Int
    private let listener: Int32
    private var fillers: [Int32] = []

    init() throws {
        (listener, port) = try listenOnLoopback(backlog: 0)
        var address = loopbackAddress(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // Fill the accept queue (backlog 0 admits one; a few more make sure it is full).
        for _ in 0..<3 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
            }
            fillers.append(client)
        }
        usleep(100_000)
    }

    deinit {
        for fd in fillers { close(fd) }
        close(listener)
    }
}
