import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `lookout-engine` binary on a monitors file and reads back what it wrote.
struct EngineRun {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One result line, decoded.
    struct Check {
        let fields: [String: Any]
        var monitorId: String { fields["monitorId"] as? String ?? "" }
        var status: String { fields["status"] as? String ?? "" }
        var errorCode: String? { fields["errorCode"] as? String }
        var errorMessage: String? { fields["errorMessage"] as? String }
        var httpStatus: Int { fields["httpStatus"] as? Int ?? -1 }
        var redirects: Int { fields["redirects"] as? Int ?? -1 }
        var certExpiresAt: String? { fields["certExpiresAt"] as? String }
        func milliseconds(_ name: String) -> Double { (fields[name] as? NSNumber)?.doubleValue ?? -1 }
    }

    let exitStatus: Int32
    let standardError: String
    let checks: [Check]

    /// The checks of one monitor, in file order.
    func checks(of id: String) -> [Check] { checks.filter { $0.monitorId == id } }

    /// The only (first) check of `id`; fails the caller's expectation with a clear message if absent.
    func check(_ id: String) throws -> Check {
        guard let check = checks.first(where: { $0.monitorId == id }) else {
            throw Failure(description: "no result for monitor \(id); engine stderr:\n\(standardError)")
        }
        return check
    }

    /// Writes `monitors` (one JSON object each) and runs the engine with `arguments`, waiting at
    /// most `timeout` seconds (then the engine is killed and the run fails).
    /// `environment`: variables added to the test's own for the engine process.
    static func run(
        monitors: [[String: Any]], arguments: [String], timeout: Double = 60, environment: [String: String] = [:],
        whileRunning: ((Int32) throws -> Void)? = nil
    ) throws -> EngineRun {
        let lines = try monitors.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        return try run(
            monitorsText: lines.joined(separator: "\n") + "\n", arguments: arguments, timeout: timeout,
            environment: environment, whileRunning: whileRunning)
    }

    static func run(
        monitorsText: String, arguments: [String], timeout: Double = 60, environment: [String: String] = [:],
        whileRunning: ((Int32) throws -> Void)? = nil
    ) throws -> EngineRun {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lookout-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let monitorsFile = directory.appendingPathComponent("monitors.jsonl")
        let resultsFile = directory.appendingPathComponent("results.jsonl")
        let stderrFile = directory.appendingPathComponent("stderr.txt")
        try monitorsText.write(to: monitorsFile, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)

        let process = Process()
        process.executableURL = try BinaryLocator.url(of: "lookout-engine")
        process.arguments = ["--monitors", monitorsFile.path, "--results", resultsFile.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try process.run()
        let pid = process.processIdentifier
        var callbackError: Error?
        if let whileRunning {
            do { try whileRunning(pid) } catch { callbackError = error }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            throw Failure(description: "lookout-engine did not finish within \(timeout) s; stderr:\n\(stderr)")
        }
        process.waitUntilExit()
        if let callbackError { throw callbackError }
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        let text = (try? String(contentsOf: resultsFile, encoding: .utf8)) ?? ""
        var checks: [Check] = []
        for line in text.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw Failure(description: "results line is not a JSON object: \(line)")
            }
            checks.append(Check(fields: object))
        }
        return EngineRun(exitStatus: process.terminationStatus, standardError: stderr, checks: checks)
    }
}
