import ArgumentParser
import Foundation
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// `lookout-bench control`: the control plane's three figures, measured against a real
/// `lookout-control` it starts on a scratch schema of the given database:
///
/// 1. bulk import: `POST /api/v1/monitors/bulk` with `--monitors` monitors, `--runs` times
///    (each run a new account), monitors per second;
/// 2. `GET /api/v1/monitors` with those monitors stored, under `--connections` concurrent
///    clients for `--seconds` (wrk, with a session token): requests per second and p99;
/// 3. a confirmed state change to its webhook: `--events` state changes appended to the state
///    stream the way an engine does (`XADD`, via redis-cli), each timed from the entry's Redis
///    timestamp to its arrival at a loopback webhook receiver: p50 and p99.
///
/// The scratch schema (`lookout_bench_<time>`) and Redis prefix are removed at the end.
struct ControlBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control",
        abstract: "Measure lookout-control: bulk import, GET /monitors under load, state change to webhook."
    )

    @Option(help: "PostgreSQL URI (a scratch schema is created in it and dropped). Default $DATABASE_URL.")
    var database: String?

    @Option(help: "Redis URL. Default $REDIS_URL.")
    var redis: String?

    @Option(help: "Monitors per bulk import (at most 10000, the API's limit).")
    var monitors = 10_000

    @Option(help: "Bulk imports to time.")
    var runs = 3

    @Option(help: "Concurrent clients of the GET /monitors load (wrk).")
    var connections = 64

    @Option(help: "Seconds of GET /monitors load.")
    var seconds = 10

    @Option(help: "State changes timed to their webhook.")
    var events = 200

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func validate() throws {
        guard (1...10_000).contains(monitors) else { throw ValidationError("--monitors must be 1...10000") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs must be 1...20") }
        guard (1...1_000).contains(connections) else { throw ValidationError("--connections must be 1...1000") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
        guard (1...monitors).contains(events) else { throw ValidationError("--events must be 1...--monitors") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let databaseURL = database ?? environment["DATABASE_URL"], !databaseURL.isEmpty else {
            throw ValidationError("give --database (or set DATABASE_URL: eval \"$(scripts/services env)\")")
        }
        guard let redisURL = redis ?? environment["REDIS_URL"], !redisURL.isEmpty else {
            throw ValidationError("give --redis (or set REDIS_URL: eval \"$(scripts/services env)\")")
        }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint(url: redisURL) } catch { throw ValidationError(error.description) }
        let bench = ControlBench(
            databaseURL: databaseURL,
            redisURL: redisURL,
            redis: endpoint,
            monitors: monitors,
            runs: runs,
            connections: connections,
            seconds: seconds,
            events: events
        )
        let report = try bench.run()
        print(report.text)
        if let json {
            try report.json.write(toFile: json, atomically: true, encoding: .utf8)
        }
    }
}
