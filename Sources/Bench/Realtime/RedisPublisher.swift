import Foundation
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking Redis connection for `PUBLISH`, in the bench's own thread: RESP written by
/// hand over one TCP socket, so a batch's send time is stamped right before its bytes leave.
final class RedisPublisher {
    private let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(endpoint: RedisEndpoint) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(endpoint.port).bigEndian
        guard inet_pton(AF_INET, endpoint.host, &address.sin_addr) == 1 else {
            close(fd)
            throw Failure(description: "Redis host \(endpoint.host) is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "cannot connect to Redis at \(endpoint.host):\(endpoint.port)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let password = endpoint.password {
            _ = try command(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { _ = try command(["SELECT", String(endpoint.database)]) }
    }

    deinit { close(fd) }

    /// `PUBLISH channel message`; the number of subscribers that received it.
    @discardableResult
    func publish(_ channel: String, _ message: [UInt8]) throws -> Int {
        let reply = try command([Array("PUBLISH".utf8), Array(channel.utf8), message])
        return Int(reply.dropFirst()) ?? 0
    }

    func command(_ arguments: [String]) throws -> String { try command(arguments.map { Array($0.utf8) }) }

    /// Sends one command and reads a one-line reply (`+OK`, `:3`, `-ERR ...`).
    func command(_ arguments: [[UInt8]]) throws -> String {
        var bytes: [UInt8] = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            bytes += Array("$\(argument.count)\r\n".utf8)
            bytes += argument
            bytes += [13, 10]
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw Failure(description: "Redis write failed") }
            offset += written
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            guard read(fd, &byte, 1) == 1 else { throw Failure(description: "Redis closed the connection") }
            if byte == 10 { break }
            if byte != 13 { line.append(byte) }
        }
        let reply = String(decoding: line, as: UTF8.self)
        if reply.hasPrefix("-") { throw Failure(description: "Redis refused: \(reply)") }
        return reply
    }
}
