// POSIX TCP sockets for the `tcp` and `tls` check kinds. Everything unsafe about the socket
// calls lives in this file.
//
// Ownership: a `TCPSocket` owns its file descriptor (opened in `init`, closed by `close()` or
// deinit) and at most one ev_io watcher from its loop's pool, stopped before the descriptor is
// closed. Confined to the loop's thread.
import CEngineShims
import Glibc
import LookoutCore

/// A connect that could not even start (bad address family, out of descriptors ...).
package struct TCPSocketError: Error, CustomStringConvertible {
    /// The `errno` value.
    package var code: Int32
    package var description: String { String(cString: strerror(code)) }
}

/// One non-blocking TCP connection driven by an `EventLoop`.
package final class TCPSocket: LoopIOHandler {
    /// What the socket is ready for; called on the loop thread.
    package typealias ReadyHandler = (_ readable: Bool, _ writable: Bool) -> Void

    private let loop: EventLoop
    package private(set) var fd: Int32
    private var watcher: UnsafeMutablePointer<ev_io>?
    private var handler: ReadyHandler?

    /// Starts connecting to `address`:`port`; readiness for writing means the connect finished
    /// (read `pendingError` to learn how).
    package init(loop: EventLoop, address: IPAddress, port: Int) throws(TCPSocketError) {
        self.loop = loop
        var errorNumber: Int32 = 0
        let bytes = address.networkBytes
        let descriptor = bytes.withUnsafeBufferPointer {
            CEngineShims_posix_tcp_connect($0.baseAddress, Int32($0.count), UInt16(port), &errorNumber)
        }
        guard descriptor >= 0 else { throw TCPSocketError(code: errorNumber) }
        fd = descriptor
        super.init()
    }

    deinit { close() }

    /// Waits for `read` and/or `write` readiness; `handler` runs on each event until changed.
    package func watch(read: Bool, write: Bool, handler: @escaping ReadyHandler) {
        guard fd >= 0 else { return }
        self.handler = handler
        var events: Int32 = 0
        if read { events |= EventLoop.read }
        if write { events |= EventLoop.write }
        if let watcher {
            loop.updateIO(watcher, events: events)
        } else {
            watcher = loop.startIO(fd: fd, events: events, handler: self)
        }
    }

    package override func ioReady(fd: Int32, readable: Bool, writable: Bool) {
        handler?(readable, writable)
    }

    /// SO_ERROR: 0 once the connect succeeded, else why it failed.
    package var pendingError: Int32 { CEngineShims_posix_socket_error(fd) }

    /// Writes what it can of `bytes[offset...]`: the count written, 0 when the socket is full,
    /// or `-errno`.
    package func write(_ bytes: [UInt8], from offset: Int) -> Int {
        let written = bytes.withUnsafeBufferPointer { buffer in
            Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
        }
        if written >= 0 { return written }
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -Int(errno)
    }

    /// Reads up to `limit` bytes onto `buffer`: the count read (0 = the peer closed), nil when
    /// nothing is there yet, or `-errno`.
    package func read(into buffer: inout [UInt8], limit: Int) -> Int? {
        var chunk = [UInt8](repeating: 0, count: min(limit, 16 * 1024))
        let count = chunk.withUnsafeMutableBufferPointer { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return count
        }
        if count == 0 { return 0 }
        return errno == EAGAIN || errno == EWOULDBLOCK ? nil : -Int(errno)
    }

    /// Stops watching and closes the descriptor (idempotent).
    package func close() {
        if let watcher {
            loop.stopIO(watcher)
            self.watcher = nil
        }
        handler = nil
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// The text of an `errno` value.
    package static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

extension IPAddress {
    /// 4 or 16 network-order bytes.
    package var networkBytes: [UInt8] {
        switch self {
        case .v4(let value):
            return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        case .v6(let high, let low):
            return (0..<8).map { UInt8(high >> (56 - 8 * UInt64($0)) & 0xFF) }
                + (0..<8).map { UInt8(low >> (56 - 8 * UInt64($0)) & 0xFF) }
        }
    }
}

extension TCPSocket {
    /// The engine's error code for a failed connect or transfer.
    package static func errorCode(for code: Int32) -> CheckErrorCode {
        switch code {
        case ECONNREFUSED: return .connectRefused
        case ECONNRESET, EPIPE: return .reset
        case ETIMEDOUT: return .connectTimeout
        default: return .connectFailed
        }
    }
}
