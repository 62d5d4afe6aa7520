import Foundation
import LookoutTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The dashboard in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
/// driven by selenium from the project's `.local/venv`, both installed by `scripts/setup`) runs
/// `Browser/dashboard_test.py` against the real stack: `lookout-engine` in cluster mode,
/// `lookout-control` serving the dashboard and the API, and a loopback target that this suite
/// stops when the script asks (a `STOP-TARGET` line on its stdout, answered with `STOPPED`). The
/// TCP monitor the script creates through the form checks a loopback listener the script runs.
/// The script fails on any step or unexpected console error; its whole output, console errors
/// included, is this test's failure message. With `CI` set, a missing browser is a failure.
@Suite(
    "Dashboard in headless Chromium: sign up, form errors, live DOWN, detail chart, monitor kinds, status page",
    .serialized,
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason),
    .enabled(if: BrowserHarness.enabled, BrowserHarness.skipReason)
)
struct DashboardBrowserTests {
    @Test("the scenario of Browser/dashboard_test.py passes against the real binaries")
    func dashboardScenario() async throws {
        try BrowserHarness.requireBrowser()
        let schema = try TestSchema()
        defer { schema.drop() }
        let directory = try ControlEndToEndTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = RedisTest.uniquePrefix("browser")
        let redis = try #require(RedisTest.url)

        let target = try FixtureProcess(script: "http_receiver.py")
        defer { target.stop() }
        let port = try freeLoopbackPort()
        let control = try ChildProcess(
            "lookout-control",
            arguments: [
                "--database", schema.url, "--redis", redis, "--redis-prefix", prefix, "--port", String(port),
                "--bcrypt-cost", "10", "--instance-id", "control-browser", "--allow-private-targets",
                "--dispatcher-concurrency", "0",
            ],
            directory: directory,
            name: "control"
        )
        defer { control.stop() }
        let api = LiveAPI(port: port)
        try await api.waitUntilReady(control)
        let engine = try ChildProcess(
            "lookout-engine",
            arguments: [
                "--database", schema.url, "--redis", redis, "--redis-prefix", prefix, "--engine-id", "engine-browser",
                "--allow-private-targets", "--loops", "1", "--reconcile-seconds", "1",
                "--spill-dir", directory + "/spill",
            ],
            directory: directory,
            name: "engine"
        )
        defer { engine.stop() }

        let script = try BrowserScript(
            "dashboard_test.py",
            arguments: [
                "--base-url", "http://127.0.0.1:\(port)", "--target-url", "http://127.0.0.1:\(target.port)/health",
            ]
        ) { line in
            guard line == "STOP-TARGET" else { return nil }
            target.stop()
            return "STOPPED"
        }
        let finished = await waitFor(.seconds(300), every: .milliseconds(200)) { !script.isRunning }
        if !finished { script.kill() }
        let output = script.output
        #expect(finished, "the browser script did not finish within 300 s:\n\(output)")
        #expect(
            script.exitStatus == 0,
            """
            the browser scenario failed (exit \(script.exitStatus)):
            \(output)
            --- lookout-control: \(control.standardError.suffix(3000))
            --- lookout-engine: \(engine.standardError.suffix(2000))
            """
        )
        #expect(output.contains("PASSED"), "\(output)")
    }
}

/// Where the browser, its driver and the project's Python are.
enum BrowserHarness {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser")
    static let python = repositoryRoot.appendingPathComponent(".local/venv/bin/python")
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    static let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]

    static var missing: [String] {
        var missing: [String] = []
        if !chromium.contains(where: FileManager.default.isExecutableFile(atPath:)) { missing.append("chromium") }
        if !driver.contains(where: FileManager.default.isExecutableFile(atPath:)) { missing.append("chromium-driver") }
        if !FileManager.default.isExecutableFile(atPath: python.path) { missing.append(".local/venv (selenium)") }
        return missing
    }

    /// Locally the suite is skipped without a browser; under CI it runs, and fails.
    static var enabled: Bool { TestDatabase.isCI || missing.isEmpty }
    static let skipReason: Comment =
        "headless Chromium or the selenium venv is missing: run scripts/setup (with CI set this is a failure)"

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static func requireBrowser() throws {
        let missing = missing
        guard missing.isEmpty else {
            throw Missing(
                description: "missing for the browser tests: \(missing.joined(separator: ", ")); run scripts/setup")
        }
    }
}

/// A Python script of `Browser/` run with the venv's interpreter. Its stdout and stderr are kept
/// (`output`); each stdout line goes to `onLine`, whose answer, if any, is written to its stdin.
final class BrowserScript: @unchecked Sendable {
    // @unchecked: the process is only started in init and stopped by the owning test; the text
    // read so far lives in a locked `Transcript`.
    private let process = Process()
    private let input = Pipe()
    private let transcript = Transcript()

    /// What a script printed, appended by the reader thread and read by the test.
    final class Transcript: @unchecked Sendable {
        // @unchecked: `text` is only touched under `lock`.
        private let lock = NSLock()
        private var text = ""
        func append(_ more: String) { lock.withLock { text += more } }
        var value: String { lock.withLock { text } }
    }

    init(_ name: String, arguments: [String], onLine: @escaping @Sendable (String) -> String?) throws {
        process.executableURL = BrowserHarness.python
        process.arguments = ["-u", BrowserHarness.scripts.appendingPathComponent(name).path] + arguments
        process.currentDirectoryURL = BrowserHarness.scripts
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        let handle = output.fileHandleForReading
        let writer = input.fileHandleForWriting
        let transcript = transcript
        // A thread of its own: reading blocks until the script prints or exits.
        Thread.detachNewThread {
            var pending = ""
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                let text = String(decoding: data, as: UTF8.self)
                transcript.append(text)
                pending += text
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if let answer = onLine(line) { try? writer.write(contentsOf: Data((answer + "\n").utf8)) }
                }
            }
        }
    }

    var isRunning: Bool { process.isRunning }
    var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    /// Everything the script printed so far.
    var output: String { transcript.value }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { kill() }
}
