import Foundation
import HTTPTypes
import HummingbirdTesting
import LookoutTestSupport
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `lookout-control` or `lookout-engine` process started by a test (built binaries,
/// `LOOKOUT_TEST_BIN_DIR`), its standard error kept in a file for failure messages, stopped by
/// the test with SIGTERM (or SIGKILL when the test says so).
final class ChildProcess: @unchecked Sendable {
    // @unchecked: the Process is started in init and only stopped by the owning test.
    let name: String
    let process = Process()
    let stderrPath: String

    init(_ binary: String, arguments: [String], directory: String, name: String) throws {
        self.name = name
        process.executableURL = try Binaries.url(of: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        stderrPath = directory + "/\(name).stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// What the process wrote to standard error so far (for failure messages).
    var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Stops the process and waits for it (SIGKILL after 15 s of SIGTERM).
    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop(signal: SIGKILL) }
}

/// A free loopback TCP port (bound and released; the test's own process uses it next).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func waitFor(
    _ timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
)
    async rethrows -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// The API of a live `lookout-control` over real HTTP (HummingbirdTesting's client, one
/// connection per request).
struct LiveAPI: Sendable {
    let port: Int

    @discardableResult
    func request(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: Any? = nil
    ) async throws
        -> APIResponse
    {
        let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(30)))
        client.connect()
        defer { Task { try? await client.shutdown() } }
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            headers[.contentType] = "application/json"
        }
        let response = try await client.execute(
            .init(path, method: method, authority: "127.0.0.1:\(port)", headers: headers, body: body)
        )
        return APIResponse(
            status: response.status,
            headers: response.headers,
            body: response.body.map { Array($0.readableBytesView) } ?? []
        )
    }

    /// Waits until `/health` answers 200.
    func waitUntilReady(_ process: ChildProcess) async throws {
        let ready = await waitFor(.seconds(60), every: .milliseconds(100)) {
            guard process.isRunning else { return false }
            return (try? await request(.get, "/health"))?.status == .ok
        }
        try #require(ready, "lookout-control did not become ready: \(process.standardError.suffix(3000))")
    }

    /// Registers a user; returns its token.
    func register(_ email: String) async throws -> String {
        let response = try await request(
            .post, "/api/v1/auth/register", json: ["email": email, "password": "correct horse"])
        try #require(response.status == .created, "register: \(response.text)")
        return try #require(response.object["token"] as? String)
    }
}
