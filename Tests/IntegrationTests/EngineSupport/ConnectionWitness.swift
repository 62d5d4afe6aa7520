import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback listener that only counts the connections made to it (it never answers): proof
/// that a refused target was never connected to.
final class ConnectionWitness {
    let port: Int
    private let listener: Int32

    init() throws {
        (listener, port) = try listenOnLoopback(backlog: 64)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
    }

    /// Connections accepted since the last call.
    func takeConnectionCount() -> Int {
        var count = 0
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }

    deinit { close(listener) }
}

/// A TCP listener on 127.0.0.1 with a kernel-chosen port.
func listenOnLoopback(backlog: Int32) throws -> (descriptor: Int32, port: Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, length) == 0 && listen(listener, backlog) == 0 && getsockname(listener, $0, &length) == 0
        }
    }
    guard ok else {
        close(listener)
        throw EngineRun.Failure(description: "cannot listen on loopback: \(String(cString: strerror(errno)))")
    }
    return (listener, Int(UInt16(bigEndian: address.sin_port)))
}

/// 127.0.0.1:port as a sockaddr_in.
func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return address
}
