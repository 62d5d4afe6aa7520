import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Python fixture of `Tests/ControlTests/Fixtures`, started by one test and stopped by it: it
/// listens on a loopback port the kernel picks, and appends what it sees to a JSON Lines log that
/// it flushes before it answers (so reading the log after a request returned needs no waiting).
/// The fixture exits when its stdin closes, so it never outlives the test process.
final class FixtureProcess: @unchecked Sendable {
    // @unchecked: the process and pipes are only touched by `init` and `stop`, which a test calls
    // from one task; `Process` itself is thread-safe for `terminate`.

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int
    let logFile: URL
    /// The fixture's own folder (log, test CA ...), removed by `stop`.
    let directory: URL
    private let process = Process()
    private let input = Pipe()

    /// Starts `script` (a file in Fixtures/) with `arguments` (`--log` is added) and waits for its
    /// `READY <port>` line.
    init(script: String, arguments: [String] = [], interpreter: URL? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lookout-fixture-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("log.jsonl")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures")
        // Debian's interpreter: python3-aiosmtpd is a Debian package (scripts/setup installs it).
        // Fixtures that need PyPI packages pass the project virtualenv's (`interpreter`).
        if let interpreter {
            process.executableURL = interpreter
            process.arguments = [fixtures.appendingPathComponent(script).path, "--log", logFile.path] + arguments
        } else if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [fixtures.appendingPathComponent(script).path, "--log", logFile.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                ["python3", fixtures.appendingPathComponent(script).path, "--log", logFile.path] + arguments
        }
        process.currentDirectoryURL = fixtures
        // No __pycache__ folders in the source tree.
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let output = Pipe()
        let errors = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let line = Self.readLine(output.fileHandleForReading.fileDescriptor, timeoutMs: 15_000)
        guard let line, line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
            process.terminate()
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw StartError(
                description: "\(script) did not start (got \(line.debugDescription)); is python3-aiosmtpd installed "
                    + "(scripts/setup)? stderr: \(stderr)"
            )
        }
        self.port = port
    }

    deinit { stop() }

    /// Stops the fixture and removes its files. Idempotent.
    func stop() {
        if process.isRunning {
            try? input.fileHandleForWriting.close()
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes one line to the fixture's standard input (a command, for fixtures that read one).
    func send(line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Every record logged so far, decoded.
    func records<Record: Decodable>(as type: Record.Type = Record.self) throws -> [Record] {
        let data = try Data(contentsOf: logFile)
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }.map {
            try decoder.decode(Record.self, from: Data($0))
        }
    }

    /// Requests that reached the HTTP receiver so far, answered or not.
    func arrivals() -> Int {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: logFile.path + ".arrivals"))) ?? Data()
        return data.filter { $0 == UInt8(ascii: "\n") }.count
    }

    /// Waits until `condition` holds, checking every 10 ms, at most `timeout`.
    func waitUntil(timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                throw StartError(description: "condition not met within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// One line from `fd`, waiting at most `timeoutMs` overall.
    private static func readLine(_ fd: Int32, timeoutMs: Int) -> String? {
        var bytes: [UInt8] = []
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMs) * 1_000_000
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return nil }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32((deadline - now) / 1_000_000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }
}

/// One request the HTTP receiver saw.
struct ReceivedRequest: Decodable {
    var method: String
    var path: String
    var headers: [String: String]
    var body: String
    var concurrent: Int
    var signatureValid: Bool?
}

/// One message the SMTP sink accepted.
struct ReceivedMail: Decodable {
    var mailFrom: String
    var rcptTos: [String]
    var login: String?
    var tls: Bool
    var from: String
    var to: String
    var subject: String
    var date: String
    var messageId: String
    var idempotencyKey: String
    var contentType: String
    var text: String?
    var html: String?
    var partEncodings: [String]
    var longestLine: Int
}

/// One question the DNS stub was asked.
struct ReceivedQuestion: Decodable, Equatable {
    var name: String
    var type: String
}

/// A loopback listener that never answers and only counts connections made to it: proof that a
/// refused target was never connected to (a completed handshake waits in the accept queue).
final class ConnectionWitness: @unchecked Sendable {
    // @unchecked: the descriptor is only read after init.
    let port: Int
    private let listener: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 64) == 0
                    && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard ok else {
            close(descriptor)
            throw FixtureProcess.StartError(
                description: "cannot listen on loopback: \(String(cString: strerror(errno)))"
            )
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(listener) }

    /// Connections made since the last call.
    func takeConnectionCount() -> Int {
        var count = 0
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }
}

/// A loopback port nothing listens on (bound, then closed at once).
func closedLoopbackPort() throws -> Int {
    let witness = try ConnectionWitness()
    return witness.port
}
