import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lookout-bench farm` as a child process of a test, on free ports.
///
/// The farm runs with `--exit-on-stdin-eof` and this object holds the write end of its stdin, so
/// even a test process that crashes (and never calls `stop()`) takes its farms down with it.
/// Use `withFarm { farm in ... }`, or `start()` with `defer { farm.stop() }`.
final class FarmProcess {
    struct Options: Sendable {
        /// HTTP addresses (127.0.1.1, 127.0.1.2, ...). Default 4.
        var addresses = 4
        var baseAddress = "127.0.1.1"
        /// DNS answer TTL, seconds. Default 300.
        var dnsTTL = 300
        /// Farm event-loop threads. Default 1.
        var threads = 1
        /// Also listen for HTTPS (a self-signed certificate made by the farm). Default false.
        var https = false

        init(
            addresses: Int = 4, baseAddress: String = "127.0.1.1", dnsTTL: Int = 300, threads: Int = 1,
            https: Bool = false
        ) {
            self.addresses = addresses
            self.baseAddress = baseAddress
            self.dnsTTL = dnsTTL
            self.threads = threads
            self.https = https
        }
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// `/__stats` of the farm.
    struct Stats: Decodable, Sendable, Equatable {
        var requests: Int
        var byPath: [String: Int]
        var dnsQueries: Int
        /// Counted requests in progress now, and the most at once since start or reset.
        var inProgress: Int = 0
        var maxInProgress: Int = 0
    }

    let httpPort: Int
    /// With `Options.https`: the HTTPS port and the certificate to trust (`--ca-file`).
    let httpsPort: Int?
    let caFile: String?
    let dnsPort: Int
    let addresses: [String]
    let pid: Int32
    private let process: Process
    private let standardInput: Pipe
    private let stderrPath: String
    private var stopped = false

    private init(process: Process, standardInput: Pipe, stderrPath: String, ready: ReadyLine) {
        self.process = process
        self.standardInput = standardInput
        self.stderrPath = stderrPath
        self.pid = process.processIdentifier
        self.httpPort = ready.httpPort
        self.httpsPort = ready.httpsPort
        self.caFile = ready.caFile
        self.dnsPort = ready.dnsPort
        self.addresses = ready.addresses
    }

    deinit {
        stop()
    }

    private struct ReadyLine: Decodable {
        var event: String
        var httpPort: Int
        var httpsPort: Int?
        var caFile: String?
        var dnsPort: Int
        var addresses: [String]
    }

    /// Starts a farm and waits (at most `timeout` seconds) for its ready line.
    static func start(_ options: Options = Options(), timeout: Double = 20) throws -> FarmProcess {
        let binary = try BinaryLocator.url(of: "lookout-bench")
        let process = Process()
        process.executableURL = binary
        process.arguments =
            [
                "farm", "--http-port", "0", "--dns-port", "0", "--addresses", String(options.addresses),
                "--base-address", options.baseAddress, "--dns-ttl", String(options.dnsTTL), "--threads",
                String(options.threads), "--exit-on-stdin-eof",
            ] + (options.https ? ["--https-port", "0"] : [])
        let input = Pipe()
        let output = Pipe()
        // stderr goes to a file: nothing has to drain it, and it is there for error messages.
        let stderrPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("lookout-farm-\(UUID().uuidString).stderr").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        guard let stderrHandle = FileHandle(forWritingAtPath: stderrPath) else {
            throw StartError(description: "cannot create \(stderrPath)")
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = stderrHandle
        do {
            try process.run()
        } catch {
            throw StartError(description: "cannot start \(binary.path): \(error)")
        }
        try? stderrHandle.close()
        try? output.fileHandleForWriting.close()

        func fail(_ reason: String) -> StartError {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: stderrPath)
            return StartError(description: "lookout-bench farm \(reason); its stderr:\n\(stderr.suffix(4000))")
        }
        guard let line = readLine(from: output.fileHandleForReading.fileDescriptor, timeout: timeout) else {
            throw fail("printed no ready line within \(timeout) s")
        }
        guard let ready = try? JSONDecoder().decode(ReadyLine.self, from: Data(line.utf8)), ready.event == "ready"
        else {
            throw fail("printed an unexpected first line: \(line)")
        }
        return FarmProcess(process: process, standardInput: input, stderrPath: stderrPath, ready: ready)
    }

    /// `http://ADDRESS:PORT/path` (the first address by default).
    func url(path: String, address: String? = nil) -> String {
        "http://\(address ?? addresses[0]):\(httpPort)\(path)"
    }

    /// The farm's counters (`GET /__stats`).
    func stats() throws -> Stats {
        let response = try HTTPProbe.get(host: addresses[0], port: httpPort, path: "/__stats").requireResponse()
        return try JSONDecoder().decode(Stats.self, from: Data(response.body))
    }

    func resetStats() throws {
        _ = try HTTPProbe.get(host: addresses[0], port: httpPort, path: "/__stats/reset").requireResponse()
    }

    /// Closes the farm's stdin (it should then exit by itself).
    func closeStandardInput() {
        try? standardInput.fileHandleForWriting.close()
    }

    /// Waits at most `timeout` seconds for the farm to exit on its own; true if it did.
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return !process.isRunning
    }

    /// Stops the farm by PID (SIGTERM, SIGKILL after 5 s) and waits for it. Idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            kill(pid, SIGTERM)
            if !waitForExit(timeout: 5) {
                kill(pid, SIGKILL)
            }
        }
        process.waitUntilExit()
        try? standardInput.fileHandleForWriting.close()
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    var isRunning: Bool { process.isRunning }

    var terminationStatus: Int32 { process.terminationStatus }

    /// Reads one line from `descriptor` with a deadline (poll + read, no extra thread).
    private static func readLine(from descriptor: Int32, timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return nil }
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, Int32(min(remaining, 1) * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return nil }  // EOF: the farm exited
            bytes += buffer[0..<count]
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: bytes[..<newline], as: UTF8.self)
            }
        }
    }
}

/// Runs `body` with a fresh farm and stops it afterwards, whatever happens.
func withFarm<Result>(
    _ options: FarmProcess.Options = FarmProcess.Options(),
    _ body: (FarmProcess) throws -> Result
) throws -> Result {
    let farm = try FarmProcess.start(options)
    defer { farm.stop() }
    return try body(farm)
}

/// Runs `body` with a fresh farm and stops it afterwards, whatever happens.
func withFarm<Result>(
    _ options: FarmProcess.Options = FarmProcess.Options(),
    _ body: (FarmProcess) async throws -> Result
) async throws -> Result {
    let farm = try FarmProcess.start(options)
    defer { farm.stop() }
    return try await body(farm)
}
