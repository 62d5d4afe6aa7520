import ArgumentParser
import Foundation
import Logging
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// `lookout-bench realtime`: live-update fan-out measured end to end. It starts `--instances`
/// lookout-control processes on a scratch schema and Redis prefix, registers `--users` accounts
/// with `--monitors` monitors each, connects `--clients` WebSocket clients (half `/ws`, half
/// Socket.IO, spread over the users and the instances, each subscribed to its user's room),
/// then publishes results on `<prefix>:checks:live` the way engines do (`LiveResultsEncoder`,
/// batches every `--batch-ms`) at `--rate` results per second for `--seconds`, each stamped with
/// its send time. Every result reaches the clients of its monitor's owner: `--rate` ×
/// clients / users deliveries per second are asked for.
///
/// Reports deliveries per second and the delivery latency (publish → client) percentiles.
struct RealtimeBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realtime",
        abstract: "Measure live updates: clients over /ws and Socket.IO, updates delivered per second and latency."
    )

    @Option(help: "PostgreSQL URI (a scratch schema is created in it and dropped). Default $DATABASE_URL.")
    var database: String?

    @Option(help: "Redis URL. Default $REDIS_URL.")
    var redis: String?

    @Option(help: "Connected clients, half /ws and half Socket.IO.")
    var clients = 1_000

    @Option(help: "lookout-control instances the clients are spread over (1 or 2).")
    var instances = 2

    @Option(help: "Accounts; each client subscribes to one account's user room.")
    var users = 10

    @Option(help: "Monitors per account (results are spread over them).")
    var monitors = 10

    @Option(help: "Results published per second.")
    var rate = 200

    @Option(help: "Milliseconds between two published batches.")
    var batchMs = 100

    @Option(help: "Seconds of publishing.")
    var seconds = 10

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func validate() throws {
        guard (2...20_000).contains(clients) else { throw ValidationError("--clients must be 2...20000") }
        guard (1...2).contains(instances) else { throw ValidationError("--instances must be 1 or 2") }
        guard (1...clients).contains(users) else { throw ValidationError("--users must be 1...--clients") }
        guard (1...10_000).contains(monitors) else { throw ValidationError("--monitors must be 1...10000") }
        guard (1...1_000_000).contains(rate) else { throw ValidationError("--rate must be 1...1000000") }
        guard (10...1_000).contains(batchMs) else { throw ValidationError("--batch-ms must be 10...1000") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let databaseURL = database ?? environment["DATABASE_URL"], !databaseURL.isEmpty else {
            throw ValidationError("give --database (or set DATABASE_URL: eval \"$(scripts/services env)\")")
        }
        guard let redisURL = redis ?? environment["REDIS_URL"], !redisURL.isEmpty else {
            throw ValidationError("give --redis (or set REDIS_URL: eval \"$(scripts/services env)\")")
        }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint(url: redisURL) } catch { throw ValidationError(error.description) }
        let report = try await RealtimeBench(
            command: self, databaseURL: databaseURL, redisURL: redisURL, redis: endpoint
        )
        .run()
        print(report.text)
        if let json { try report.json.write(toFile: json, atomically: true, encoding: .utf8) }
    }
}

struct RealtimeBench {
    let command: RealtimeBenchCommand
    let databaseURL: String
    let redisURL: String
    let redis: RedisEndpoint

    struct Report {
        var settings: String
        var published: Int
        var expected: Int
        var delivered: Int
        var publishSeconds: Double
        var p50Ms: Double
        var p99Ms: Double
        var maxMs: Double
        var controlCPUSeconds: Double

        var deliveredPerSecond: Double { Double(delivered) / publishSeconds }

        var text: String {
            """
            lookout-bench realtime (\(settings))
              results published:  \(published) in \(String(format: "%.1f", publishSeconds)) s
              updates delivered:  \(delivered) of \(expected) (\(String(format: "%.0f", deliveredPerSecond))/s)
              publish → client:   p50 \(String(format: "%.1f", p50Ms)) ms, p99 \(String(format: "%.1f", p99Ms)) ms, max \(String(format: "%.1f", maxMs)) ms
              lookout-control CPU: \(String(format: "%.1f", controlCPUSeconds)) s
            """
        }

        var json: String {
            """
            {"published":\(published),"expected":\(expected),"delivered":\(delivered),\
            "publishSeconds":\(String(format: "%.3f", publishSeconds)),"deliveredPerSecond":\(String(format: "%.1f", deliveredPerSecond)),\
            "p50Ms":\(String(format: "%.3f", p50Ms)),"p99Ms":\(String(format: "%.3f", p99Ms)),"maxMs":\(String(format: "%.3f", maxMs)),\
            "controlCPUSeconds":\(String(format: "%.2f", controlCPUSeconds))}

            """
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func run() async throws -> Report {
        let scratch = try BenchScratch(name: "rt", databaseURL: databaseURL, redis: redis)
        defer { scratch.close() }
        let directory = scratch.directory
        let prefix = scratch.redisPrefix
        let schemaURL = scratch.databaseURL

        var controls: [(process: ChildProcess, port: Int)] = []
        defer {
            for control in controls {
                control.process.terminate()
                _ = control.process.wait(deadline: ChildProcess.now() + 15, shouldStop: { false })
            }
        }
        for index in 0..<command.instances {
            let port = try ControlBench.freePort()
            let process = try ChildProcess(
                executable: try ControlBench.sibling("lookout-control"),
                arguments: [
                    "--database", schemaURL, "--redis", redisURL, "--redis-prefix", prefix, "--port", String(port),
                    "--bcrypt-cost", "10", "--no-rollups", "--dispatcher-concurrency", "0",
                    "--rate-per-token", "1000000000", "--rate-register-per-ip", "1000000",
                    "--realtime-connections-per-ip", "1000000", "--log-level", "warning",
                    "--instance-id", "bench-rt-\(index)", "--allow-private-targets",
                ],
                stdoutPath: directory + "/control-\(index).stdout",
                stderrPath: directory + "/control-\(index).stderr"
            )
            controls.append((process, port))
            try waitForHealth(port: port, control: process, stderrPath: directory + "/control-\(index).stderr")
        }

        // Accounts and their monitors (paused: no engine runs; the bench is the engine).
        var tokens: [String] = []
        var monitorIds: [[Int64]] = []
        var api = ControlAPI(base: "http://127.0.0.1:\(controls[0].port)")
        for user in 0..<command.users {
            let (status, object) = try api.json(
                "POST", "/api/v1/auth/register",
                ["email": "rt-\(user)-\(getpid())@example.com", "password": "bench password"])
            guard status == 201, let token = object["token"] as? String else {
                throw Failure(description: "register answered \(status): \(object)")
            }
            api.token = token
            let body = try JSONSerialization.data(withJSONObject: [
                "monitors": (0..<command.monitors).map { index -> [String: Any] in
                    [
                        "externalId": "rt-\(index)", "name": "live \(user)-\(index)",
                        "url": "http://127.0.0.1:9/\(index)",
                        "paused": true,
                    ]
                }
            ])
            let (created, ids) = try api.call("POST", "/api/v1/monitors/bulk", body: body, timeout: 120)
            guard created == 201, let list = ids["ids"] as? [NSNumber] else {
                throw Failure(description: "bulk import answered \(created): \(ids)")
            }
            tokens.append(token)
            monitorIds.append(list.map(\.int64Value))
        }

        // Clients: connected in waves, each subscribed before the next wave.
        let logger: Logger = {
            var logger = Logger(label: "lookout-bench-realtime")
            logger.logLevel = .critical
            return logger
        }()
        let shared = RealtimeBenchShared()
        let clientTasks = (0..<command.clients).map { index in
            RealtimeBenchClient(
                kind: index % 2 == 0 ? .webSocket : .socketIO,
                port: controls[(index / 2) % controls.count].port,
                token: tokens[index % command.users],
                shared: shared
            )
        }
        let clientsPerUser = (0..<command.users).map { user in
            (0..<command.clients).filter { $0 % command.users == user }.count
        }
        return try await withThrowingTaskGroup(of: [Int32].self) { group in
            var started = 0
            while started < clientTasks.count {
                let wave = min(started + 100, clientTasks.count)
                for index in started..<wave {
                    let client = clientTasks[index]
                    group.addTask { await client.run(logger: logger) }
                }
                started = wave
                let deadline = ChildProcess.now() + 30
                while shared.subscribedCount < started, shared.failures.isEmpty, ChildProcess.now() < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                guard shared.subscribedCount >= started else {
                    shared.stop()
                    throw Failure(
                        description:
                            "only \(shared.subscribedCount) of \(started) clients subscribed: \(shared.failures)")
                }
            }
            let cpuBefore = controls.reduce(0.0) { $0 + (ProcessCPU.seconds(pid: $1.process.pid) ?? 0) }

            // Publish like an engine: a batch every --batch-ms, results spread over every monitor.
            let publisher = try RedisPublisher(endpoint: redis)
            let contract = try ClusterContract(prefix: prefix)
            var encoder = LiveResultsEncoder()
            let perBatch = max(1, command.rate * command.batchMs / 1_000)
            let batches = max(1, command.seconds * 1_000 / command.batchMs)
            var cursor = 0
            var published = 0
            var expected = 0
            let startedAt = ChildProcess.now()
            for batch in 0..<batches {
                let due = startedAt + Double(batch * command.batchMs) / 1_000
                let wait = due - ChildProcess.now()
                if wait > 0 { try await Task.sleep(for: .microseconds(Int(wait * 1_000_000))) }
                let sent = RealtimeBenchClient.nowMicros()
                var results: [CheckResult] = []
                results.reserveCapacity(perBatch)
                for _ in 0..<perBatch {
                    let user = cursor % command.users
                    let monitor = monitorIds[user][(cursor / command.users) % command.monitors]
                    cursor += 1
                    expected += clientsPerUser[user]
                    results.append(
                        CheckResult(
                            monitorId: String(monitor), checkedAtMs: sent / 1_000, status: .up, httpStatus: 200,
                            totalMicros: 1_234, errorMessage: "sent:\(sent)"))
                }
                try publisher.publish(contract.liveChannel, encoder.encode(results[...]))
                published += perBatch
            }
            let publishSeconds = ChildProcess.now() - startedAt
            // Stragglers: at most 5 s more.
            try await Task.sleep(for: .seconds(2))
            let cpuAfter = controls.reduce(0.0) { $0 + (ProcessCPU.seconds(pid: $1.process.pid) ?? 0) }
            shared.stop()
            var latencies: [Int32] = []
            for try await clientLatencies in group { latencies += clientLatencies }
            latencies.sort()
            guard !latencies.isEmpty else {
                throw Failure(description: "no update reached a client: \(shared.failures)")
            }
            func percentile(_ fraction: Double) -> Double {
                Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]) / 1_000
            }
            return Report(
                settings:
                    "\(command.clients) clients (/ws and Socket.IO) on \(command.instances) instance(s), \(command.users) users × \(command.monitors) monitors, \(command.rate) results/s in batches every \(command.batchMs) ms for \(command.seconds) s",
                published: published,
                expected: expected,
                delivered: latencies.count,
                publishSeconds: max(publishSeconds, Double(command.batchMs) / 1_000),
                p50Ms: percentile(0.50),
                p99Ms: percentile(0.99),
                maxMs: Double(latencies.last ?? 0) / 1_000,
                controlCPUSeconds: cpuAfter - cpuBefore
            )
        }
    }

    private func waitForHealth(port: Int, control: ChildProcess, stderrPath: String) throws {
        let api = ControlAPI(base: "http://127.0.0.1:\(port)")
        let deadline = ChildProcess.now() + 120
        while ChildProcess.now() < deadline {
            if control.poll() != nil { break }
            if let (status, _) = try? api.call("GET", "/health", timeout: 2), status == 200 { return }
            usleep(100_000)
        }
        let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        throw Failure(description: "lookout-control did not become ready: \(log.suffix(2000))")
    }
}
