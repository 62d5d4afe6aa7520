import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutEngine

#if canImport(Glibc)
import Glibc
#endif

/// A throw-away `redis-server` child process on a free loopback port, for tests that kill and
/// restart Redis itself (the shared one of `scripts/services` must stay up for other tests).
final class PrivateRedis {
    static let binary: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()
    static let shouldRun = binary != nil || RedisTest.isCI
    static let skipMessage: Comment = "redis-server is not on PATH (run scripts/setup; with CI set this is a failure)"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int
    let endpoint: RedisEndpoint
    private let directory: URL
    private var process: Process?

    init() throws {
        guard Self.binary != nil else { throw Failure(description: "redis-server not found on PATH") }
        port = try Self.freePort()
        endpoint = try RedisEndpoint(host: "127.0.0.1", port: port)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lookout-redis-\(port)-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the server and waits until it answers PING.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary!)
        process.arguments = [
            "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--logfile", "",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let endpoint = self.endpoint
        try await eventually(within: 10, "private redis-server answering on port \(port)") {
            (try? await RedisTest.commands([["PING"]], endpoint: endpoint)) == [.status("PONG")]
        }
    }

    /// SIGKILL, like a crash: no shutdown, no goodbye to clients.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
