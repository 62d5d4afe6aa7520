import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The real `lookout-engine` as a child process with any arguments, its standard output and
/// error in files, for tests that look at what it says while it runs (start-up lines, signal
/// handling) or at what it writes to standard output.
final class EngineProcess {
    let directory: URL
    private let process = Process()
    private let stdoutFile: URL
    private let stderrFile: URL

    /// Writes `monitorsText` (when given) to `monitors.jsonl` in a fresh directory, which is also
    /// the engine's working directory, and starts the engine there. `arguments` may name
    /// `monitors.jsonl` by that relative path.
    init(arguments: [String], monitorsText: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lookout-engine-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let monitorsText {
            try monitorsText.write(
                to: directory.appendingPathComponent("monitors.jsonl"), atomically: true, encoding: .utf8)
        }
        stdoutFile = directory.appendingPathComponent("stdout.txt")
        stderrFile = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = try BinaryLocator.url(of: "lookout-engine")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var standardOutput: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// The names the kernel knows the engine's threads by (`/proc/PID/task/*/comm`), sorted.
    var threadNames: [String] {
        let tasks = "/proc/\(process.processIdentifier)/task"
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return ids.compactMap { id in
            (try? String(contentsOfFile: "\(tasks)/\(id)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
        }.sorted()
    }

    /// Waits until standard error contains `text` or the engine exits; true when it appeared.
    /// `limit` only keeps a broken engine from hanging the suite.
    func waitForStandardError(containing text: String, limit: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if standardError.contains(text) { return true }
            if !process.isRunning { return standardError.contains(text) }
            usleep(10_000)
        }
        return false
    }

    func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the engine to exit (SIGKILL after `limit` seconds) and returns its status.
    @discardableResult
    func waitForExit(limit: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs the engine to its end and returns (status, stdout, stderr).
    static func run(
        _ arguments: [String], monitorsText: String? = nil, limit: Double = 60
    ) throws -> (status: Int32, standardOutput: String, standardError: String) {
        let engine = try EngineProcess(arguments: arguments, monitorsText: monitorsText)
        let status = engine.waitForExit(limit: limit)
        return (status, engine.standardOutput, engine.standardError)
    }
}

/// A UDP "DNS server" on 127.0.0.1 that reads every query and never answers: the hostile
/// resolver of the time-budget tests, and a witness that no lookup was made.
final class SilentDNSServer: @unchecked Sendable {
    // @unchecked: `queries` is guarded by `lock`; the descriptor is closed once, in deinit,
    // after the reading thread was told to stop.
    let port: Int
    private let descriptor: Int32
    private let lock = NSLock()
    private var queries = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw EngineRun.Failure(description: "cannot bind a UDP socket on loopback")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        var wait = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 2048)
            while !lock.withLock({ stopped }) {
                if recv(descriptor, &buffer, buffer.count, 0) > 0 { lock.withLock { queries += 1 } }
            }
            finished.signal()
        }
        thread.start()
    }

    /// `127.0.0.1:PORT`, for `--dns-server`.
    var address: String { "127.0.0.1:\(port)" }

    /// Queries received so far.
    var queryCount: Int { lock.withLock { queries } }

    deinit {
        lock.withLock { stopped = true }
        finished.wait()
        close(descriptor)
    }
}
