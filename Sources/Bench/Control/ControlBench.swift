import Foundation
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// The measurements of `lookout-bench control` (see `ControlBenchCommand`).
struct ControlBench {
    let databaseURL: String
    let redisURL: String
    let redis: RedisEndpoint
    let monitors: Int
    let runs: Int
    let connections: Int
    let seconds: Int
    let events: Int

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Report {
        var importMonitorsPerSecond: [Double]
        var listRequestsPerSecond: Double
        var listP50Ms: Double
        var listP99Ms: Double
        var webhookP50Ms: Double
        var webhookP99Ms: Double
        var webhookMaxMs: Double
        var webhookCount: Int
        var settings: String

        var text: String {
            let imports = importMonitorsPerSecond.map { String(format: "%.0f", $0) }.joined(separator: ", ")
            let median = importMonitorsPerSecond.sorted()[importMonitorsPerSecond.count / 2]
            return """
                lookout-bench control (\(settings))
                  bulk import:          \(String(format: "%.0f", median)) monitors/s (median of runs: \(imports))
                  GET /api/v1/monitors: \(String(format: "%.0f", listRequestsPerSecond)) requests/s, p50 \(String(format: "%.2f", listP50Ms)) ms, p99 \(String(format: "%.2f", listP99Ms)) ms
                  state change → webhook: p50 \(String(format: "%.1f", webhookP50Ms)) ms, p99 \(String(format: "%.1f", webhookP99Ms)) ms, max \(String(format: "%.1f", webhookMaxMs)) ms (\(webhookCount) changes)
                """
        }

        var json: String {
            """
            {"importMonitorsPerSecond":[\(importMonitorsPerSecond.map { String(format: "%.1f", $0) }.joined(separator: ","))],\
            "listRequestsPerSecond":\(String(format: "%.1f", listRequestsPerSecond)),"listP50Ms":\(String(format: "%.3f", listP50Ms)),\
            "listP99Ms":\(String(format: "%.3f", listP99Ms)),"webhookP50Ms":\(String(format: "%.3f", webhookP50Ms)),\
            "webhookP99Ms":\(String(format: "%.3f", webhookP99Ms)),"webhookMaxMs":\(String(format: "%.3f", webhookMaxMs)),\
            "webhookCount":\(webhookCount)}

            """
        }
    }

    func run() throws -> Report {
        let scratch = try BenchScratch(name: "control", databaseURL: databaseURL, redis: redis)
        defer { scratch.close() }
        let directory = scratch.directory
        let prefix = scratch.redisPrefix
        let port = try Self.freePort()
        let control = try ChildProcess(
            executable: try Self.sibling("lookout-control"),
            arguments: [
                "--database", scratch.databaseURL,
                "--redis", redisURL, "--redis-prefix", prefix, "--port", String(port), "--bcrypt-cost", "10",
                "--allow-private-targets", "--no-rollups", "--outbox-poll-ms", "1000",
                // The figures are the API's own cost: the per-token budget is set out of reach
                // (its Redis round trip still happens on every request).
                "--rate-per-token", "1000000000", "--log-level", "warning",
            ],
            stdoutPath: directory + "/control.stdout",
            stderrPath: directory + "/control.stderr"
        )
        defer {
            control.terminate()
            _ = control.wait(deadline: ChildProcess.now() + 15, shouldStop: { false })
        }
        var api = ControlAPI(base: "http://127.0.0.1:\(port)")
        try waitForHealth(api, control: control, stderrPath: directory + "/control.stderr")

        // 1. Bulk imports.
        var rates: [Double] = []
        var firstMonitorIds: [Int64] = []
        for run in 0..<runs {
            api.token = try register(api, email: "bench-\(run)-\(getpid())@example.com")
            let body = try JSONSerialization.data(withJSONObject: [
                "monitors": (0..<monitors).map { index -> [String: Any] in
                    [
                        "externalId": "bench-\(index)", "name": "bench \(index)",
                        "url": "http://127.0.0.1:9/health/\(index)", "intervalSeconds": 60,
                    ]
                }
            ])
            let started = ChildProcess.now()
            let (status, object) = try api.call("POST", "/api/v1/monitors/bulk", body: body, timeout: 300)
            let elapsed = ChildProcess.now() - started
            guard status == 201 else { throw Failure(description: "bulk import answered \(status): \(object)") }
            rates.append(Double(monitors) / elapsed)
            if run == 0 { firstMonitorIds = (object["ids"] as? [NSNumber])?.map(\.int64Value) ?? [] }
        }

        // 2. GET /monitors under load, as the last account (its monitors are stored).
        let list = try wrk(port: port, token: api.token ?? "")

        // 3. State change to webhook, for the first account's monitors.
        api.token = try login(api, email: "bench-0-\(getpid())@example.com")
        let sink = try WebhookSink()
        defer { sink.stop() }
        let (channelStatus, channel) = try api.json(
            "POST",
            "/api/v1/notification-channels",
            ["type": "webhook", "name": "bench", "config": ["url": "http://127.0.0.1:\(sink.port)/hook"]]
        )
        guard channelStatus == 201 else { throw Failure(description: "channel: \(channelStatus) \(channel)") }
        let contract = try ClusterContract(prefix: prefix)
        var appendedAt: [Int64: Double] = [:]
        for monitorId in firstMonitorIds.prefix(events) {
            let event = StateChangeEvent(
                monitorId: String(monitorId),
                from: .up,
                to: .down,
                atMs: Int64(Date().timeIntervalSince1970 * 1000),
                checkId: UUID().uuidString.lowercased(),
                engineId: "bench",
                reason: "connect_refused",
                message: "connection refused"
            )
            let id = try scratch.redisCLI(
                ["XADD", contract.stateStream, "MAXLEN", "~", "100000", "*"]
                    + event.streamFields.flatMap { [$0.0, $0.1] }
            )
            // The entry id is Redis's own millisecond timestamp of the append.
            guard let millis = Double(id.split(separator: "-").first ?? "") else {
                throw Failure(description: "XADD answered \(id)")
            }
            appendedAt[monitorId] = millis / 1000
            usleep(20_000)
        }
        let deadline = ChildProcess.now() + 60
        while sink.arrivalTimes.count < appendedAt.count && ChildProcess.now() < deadline { usleep(20_000) }
        let arrivals = sink.arrivalTimes
        let latencies = appendedAt.compactMap { id, at in arrivals[id].map { ($0 - at) * 1000 } }.sorted()
        guard !latencies.isEmpty else { throw Failure(description: "no webhook arrived within 60 s") }
        return Report(
            importMonitorsPerSecond: rates,
            listRequestsPerSecond: list.requestsPerSecond,
            listP50Ms: list.p50Ms,
            listP99Ms: list.p99Ms,
            webhookP50Ms: Self.percentile(latencies, 0.50),
            webhookP99Ms: Self.percentile(latencies, 0.99),
            webhookMaxMs: latencies.last ?? 0,
            webhookCount: latencies.count,
            settings:
                "\(monitors) monitors × \(runs) imports, \(connections) connections × \(seconds) s, \(events) state changes"
        )
    }

    // MARK: steps

    private func waitForHealth(_ api: ControlAPI, control: ChildProcess, stderrPath: String) throws {
        let deadline = ChildProcess.now() + 120
        while ChildProcess.now() < deadline {
            if control.poll() != nil { break }
            if let (status, _) = try? api.call("GET", "/health", timeout: 2), status == 200 { return }
            usleep(100_000)
        }
        let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        throw Failure(description: "lookout-control did not become ready: \(log.suffix(2000))")
    }

    private func register(_ api: ControlAPI, email: String) throws -> String {
        let (status, object) = try api.json(
            "POST", "/api/v1/auth/register", ["email": email, "password": "bench password"])
        guard status == 201, let token = object["token"] as? String else {
            throw Failure(description: "register answered \(status): \(object)")
        }
        return token
    }

    private func login(_ api: ControlAPI, email: String) throws -> String {
        let (status, object) = try api.json(
            "POST", "/api/v1/auth/login", ["email": email, "password": "bench password"])
        guard status == 200, let token = object["token"] as? String else {
            throw Failure(description: "login answered \(status): \(object)")
        }
        return token
    }

    /// wrk's requests/s and latency percentiles for `GET /api/v1/monitors`.
    private func wrk(port: Int, token: String) throws -> (requestsPerSecond: Double, p50Ms: Double, p99Ms: Double) {
        guard let wrk = Self.which("wrk") else {
            throw Failure(description: "wrk is not installed: run scripts/setup (it installs the bench tools)")
        }
        let output = try Self.capture(
            wrk,
            [
                "-t2", "-c\(connections)", "-d\(seconds)s", "--latency", "-H", "Authorization: Bearer \(token)",
                "http://127.0.0.1:\(port)/api/v1/monitors",
            ]
        )
        var requests: Double?
        var percentiles: [String: Double] = [:]
        var non2xx = 0
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), let value = fields.last.flatMap({ Double($0) }) { requests = value }
            if fields.count == 2, fields[0].hasSuffix("%"), let value = Self.milliseconds(String(fields[1])) {
                percentiles[String(fields[0])] = value
            }
            if line.contains("Non-2xx or 3xx responses:"), let value = fields.last.flatMap({ Int($0) }) {
                non2xx = value
            }
        }
        guard let requests, let p50 = percentiles["50%"], let p99 = percentiles["99%"] else {
            throw Failure(description: "could not read wrk's output:\n\(output)")
        }
        guard non2xx == 0 else { throw Failure(description: "\(non2xx) requests failed under load:\n\(output)") }
        return (requests, p50, p99)
    }

    // MARK: helpers

    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }

    /// `850.00us`, `12.34ms`, `1.02s` → milliseconds.
    static func milliseconds(_ text: String) -> Double? {
        for (suffix, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(suffix)
        {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return nil
    }

    /// A binary next to this one (the same build).
    static func sibling(_ name: String) throws -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidate = me.deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        if let onPath = which(name) { return onPath }
        throw Failure(
            description: "\(name) not found next to lookout-bench or on PATH: build it (swift build -c release)")
    }

    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a command to completion; its standard output, or a failure with its standard error.
    static func capture(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description:
                    "\(URL(fileURLWithPath: executable).lastPathComponent) failed: \(String(decoding: errorData, as: UTF8.self))"
            )
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A free loopback TCP port.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard result == 0 else { throw Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
