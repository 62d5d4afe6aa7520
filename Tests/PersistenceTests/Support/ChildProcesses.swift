import Foundation
import LookoutTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `lookout-bench farm` on free loopback ports, stopped by `stop()` (and by closing its stdin).
final class Farm {
    let httpPort: Int
    let dnsPort: Int
    let address: String
    /// With `https: true`: the HTTPS port and the certificate to give the engine (`--ca-file`).
    let httpsPort: Int?
    let caFile: String?
    private let process: Process
    private let input: Pipe

    init(https: Bool = false) throws {
        process = Process()
        process.executableURL = try Binaries.url(of: "lookout-bench")
        process.arguments =
            ["farm", "--http-port", "0", "--dns-port", "0", "--exit-on-stdin-eof"]
            + (https ? ["--https-port", "0"] : [])
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard let line = Self.readLine(output.fileHandleForReading.fileDescriptor, timeout: 20),
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let port = object["httpPort"] as? Int, let dns = object["dnsPort"] as? Int,
            let addresses = object["addresses"] as? [String],
            let first = addresses.first
        else {
            process.terminate()
            throw Binaries.NotFound(description: "lookout-bench farm did not print its ready line")
        }
        httpPort = port
        dnsPort = dns
        address = first
        httpsPort = object["httpsPort"] as? Int
        caFile = object["caFile"] as? String
        if https && (httpsPort == nil || caFile == nil) {
            process.terminate()
            throw Binaries.NotFound(description: "lookout-bench farm printed no httpsPort and caFile: \(line)")
        }
    }

    func url(_ path: String) -> String { "http://\(address):\(httpPort)\(path)" }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private static func readLine(_ descriptor: Int32, timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while Date() < deadline {
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, 200) > 0 else { continue }
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { return nil }
            bytes += buffer[0..<count]
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: bytes[..<newline], as: UTF8.self)
            }
        }
        return nil
    }
}

/// Runs a binary to completion (at most `timeout` seconds), collecting its stderr.
struct Run {
    let status: Int32
    let standardError: String

    static func run(
        _ binary: String,
        _ arguments: [String],
        in directory: String,
        timeout: Double = 120,
        whileRunning: ((Int32) -> Void)? = nil
    ) throws -> Run {
        let process = Process()
        process.executableURL = try Binaries.url(of: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let stderrPath = directory + "/\(binary)-\(UUID().uuidString).stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        whileRunning?(process.processIdentifier)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return Run(status: process.terminationStatus, standardError: stderr)
    }
}

/// A TCP proxy on loopback in front of PostgreSQL that a test can cut: `cut()` breaks every
/// connection and refuses new ones (the database is "away"), `restore()` lets them through
/// again. Threads and blocking sockets: it is test scaffolding, not engine code.
final class CuttableProxy: @unchecked Sendable {
    // @unchecked: `pairs`, `isCut` and `stopped` are guarded by `lock`.
    /// One proxied connection; its two sockets are closed once both directions have ended.
    private final class Pair: @unchecked Sendable {
        let client: Int32
        let server: Int32
        private var running = 2
        private let lock = NSLock()
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
        func breakUp() {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
        }
        /// Called by each pump when it ends; true for the last one (which closes the sockets).
        func pumpEnded() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            running -= 1
            return running == 0
        }
    }

    let port: Int
    private let listener: Int32
    private let targetPort: UInt16
    private let lock = NSLock()
    private var pairs: [ObjectIdentifier: Pair] = [:]
    private var isCut = false
    private var stopped = false

    init(targetPort: Int) throws {
        self.targetPort = UInt16(targetPort)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw Binaries.NotFound(description: "proxy: cannot listen")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func cut() {
        lock.lock()
        isCut = true
        let open = Array(pairs.values)
        lock.unlock()
        for pair in open { pair.breakUp() }
    }

    func restore() {
        lock.lock()
        isCut = false
        lock.unlock()
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        cut()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.lock()
            let refuse = isCut || stopped
            lock.unlock()
            if refuse {
                close(client)
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let pair = Pair(client: client, server: server)
            lock.lock()
            pairs[ObjectIdentifier(pair)] = pair
            lock.unlock()
            Thread.detachNewThread { [self] in pump(pair, from: client, to: server) }
            Thread.detachNewThread { [self] in pump(pair, from: server, to: client) }
        }
    }

    private func pump(_ pair: Pair, from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        transfer: while true {
            let count = read(source, &buffer, buffer.count)
            if count <= 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes {
                    send(destination, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL))
                }
                if written <= 0 { break transfer }
                offset += written
            }
        }
        pair.breakUp()
        if pair.pumpEnded() {
            lock.lock()
            pairs[ObjectIdentifier(pair)] = nil
            lock.unlock()
            close(pair.client)
            close(pair.server)
        }
    }
}
