import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw HTTP/1.1 exchange over a plain TCP socket, for tests that need to see exactly what a
/// server did on the wire: a status line, a reset (ECONNRESET), a close without a byte.
/// Loopback only, one request per connection, bounded by a receive timeout and a size cap.
enum HTTPProbe {
    struct ProbeError: Error, CustomStringConvertible {
        var description: String
    }

    /// How the connection ended after the request was sent.
    enum Ending: Equatable, Sendable {
        /// The server closed cleanly (FIN).
        case closed
        /// The server aborted the connection (RST).
        case reset
        /// Nothing more arrived within the timeout.
        case timedOut
        /// The size cap was reached.
        case truncated
    }

    struct Exchange: Sendable {
        var bytes: [UInt8]
        var ending: Ending

        /// The parsed response; nil when the bytes are not an HTTP response.
        var response: HTTPResponse? { HTTPResponse(parsing: bytes) }

        func requireResponse() throws -> HTTPResponse {
            guard let response else {
                throw ProbeError(description: "not an HTTP response (\(ending), \(bytes.count) bytes)")
            }
            return response
        }
    }

    static func get(
        host: String,
        port: Int,
        path: String,
        headers: [(String, String)] = [],
        method: String = "GET",
        body: String? = nil,
        timeout: Double = 5
    ) throws -> Exchange {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        return try exchange(host: host, port: port, request: Array(request.utf8), timeout: timeout)
    }

    /// Sends `request`, then reads until the server closes, resets, goes quiet for `timeout`
    /// seconds or `maxBytes` arrived.
    static func exchange(
        host: String,
        port: Int,
        request: [UInt8],
        timeout: Double = 5,
        maxBytes: Int = 8 << 20
    ) throws -> Exchange {
        guard host.hasPrefix("127.") else { throw ProbeError(description: "tests talk to loopback only, not \(host)") }
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else {
            throw ProbeError(description: "socket: \(String(cString: strerror(errno)))")
        }
        defer { close(socketDescriptor) }
        var wait = timeval(tv_sec: .init(timeout), tv_usec: .init((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(socketDescriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socketDescriptor, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw ProbeError(description: "\(host) is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw ProbeError(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(socketDescriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw ProbeError(description: "send: \(String(cString: strerror(errno)))") }
            sent += count
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = recv(socketDescriptor, &buffer, buffer.count, 0)
            if count > 0 {
                received += buffer[0..<count]
                if received.count >= maxBytes { return Exchange(bytes: received, ending: .truncated) }
                continue
            }
            if count == 0 { return Exchange(bytes: received, ending: .closed) }
            switch errno {
            case EINTR: continue
            case ECONNRESET: return Exchange(bytes: received, ending: .reset)
            case EAGAIN, EWOULDBLOCK: return Exchange(bytes: received, ending: .timedOut)
            default: throw ProbeError(description: "recv: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// A response as bytes: status, headers (names lower-cased), raw body (not de-chunked).
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }

    init?(parsing bytes: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4,
            let end = (0...(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            return nil
        }
        self.status = status
        self.headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                line[..<colon].lowercased(),
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            )
        }
        self.body = Array(bytes[(end + 4)...])
    }
}
