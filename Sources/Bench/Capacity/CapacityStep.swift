/// One scenario of a capacity sweep: what is checked and with how many engine processes.
struct CapacityScenario: Codable, Sendable, Equatable {
    enum CheckProtocol: String, Codable, Sendable { case http, https }

    var name: String
    var checkProtocol: CheckProtocol
    /// Engine processes, one loop (core) each.
    var engines: Int
    /// The engines also write every check to PostgreSQL (the COPY writer).
    var database: Bool
    /// HTTPS monitors set `tlsSessionReuse` (resumed sessions instead of a full handshake per
    /// check). False in reports written before the option existed.
    var tlsSessionReuse = false
    /// Cluster mode: the engines run with `--database` and `--redis`, load their monitors from
    /// PostgreSQL (put there by `lookout-engine import`) and split them by shard. Implies
    /// `database`. False in reports written before cluster scenarios existed.
    var cluster = false

    init(
        _ checkProtocol: CheckProtocol, engines: Int, database: Bool, tlsSessionReuse: Bool = false,
        cluster: Bool = false
    ) {
        self.checkProtocol = checkProtocol
        self.engines = engines
        self.database = database || cluster
        self.tlsSessionReuse = tlsSessionReuse
        self.cluster = cluster
        let reuse = tlsSessionReuse ? "-reuse" : ""
        let storage = cluster ? "-cluster" : database ? "-postgresql" : ""
        self.name = "\(checkProtocol.rawValue)\(reuse)-\(engines)-engine\(engines == 1 ? "" : "s")\(storage)"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        checkProtocol = try container.decode(CheckProtocol.self, forKey: .checkProtocol)
        engines = try container.decode(Int.self, forKey: .engines)
        database = try container.decode(Bool.self, forKey: .database)
        tlsSessionReuse = try container.decodeIfPresent(Bool.self, forKey: .tlsSessionReuse) ?? false
        cluster = try container.decodeIfPresent(Bool.self, forKey: .cluster) ?? false
    }
}

/// The outcome of one step of a sweep: `monitors` at `intervalSeconds` for a fixed time.
struct CapacityStep: Codable, Sendable, Equatable {
    /// monitors / interval.
    var offeredChecksPerSecond: Double
    var monitors: Int
    var intervalSeconds: Double
    /// Checks per second in the steady window (after the first interval), from the results files.
    var checksPerSecond: Double
    /// Requests per second the farm counted itself over the same window.
    var farmChecksPerSecond: Double
    var lagP50Ms: Double
    var lagP99Ms: Double
    /// Checks in the results files (whole run).
    var checks: Int
    /// Requests the farm saw (whole run).
    var farmRequests: Int
    /// Checks that were not UP: every farm target answers 200, so each one is a false failure.
    var falseFailures: Int
    /// Checks made but not recorded: farm requests without a result line, or, with the
    /// database, results without a row (plus rows the writer dropped).
    var lostResults: Int
    /// Engine CPU (all engines, user + system) per check, µs, over the steady window (sampled
    /// from /proc/<pid>/stat like the farm's counter; the whole run where /proc is missing).
    var cpuMicrosPerCheck: Double
    /// Peak resident memory of all engines together, MiB.
    var peakRSSMiB: Double
    /// Rows the engines wrote into PostgreSQL per second of run; nil without the database.
    var rowsPerSecond: Double?
    /// CPU of this process (the farm) per second of run; near the farm's thread count means
    /// the farm, not the engine, was the limit.
    var farmCoresBusy: Double
    /// Cluster scenarios: what the step cost the shared services, per check (nil elsewhere).
    var services: ServiceCost? = nil
    /// Empty when the step passed; otherwise why not.
    var failures: [String]

    var passed: Bool { failures.isEmpty }

    /// The saturation criteria of issue 9 plus one for short runs: p99 lag ≤ 1 s, no lost
    /// results, no false failures, and the achieved rate within `minimumAchievedShare` of the
    /// offered one (in a run of seconds, an engine that falls behind may not yet show 1 s of lag).
    static func judge(
        offered: Double, achieved: Double, lagP99Ms: Double, lost: Int, falseFailures: Int, checks: Int
    ) -> [String] {
        var failures: [String] = []
        if checks == 0 { failures.append("no checks") }
        if lagP99Ms > maximumLagP99Ms { failures.append("lag p99 \(PlanFormat.number(lagP99Ms, 0)) ms > 1,000 ms") }
        if lost > 0 { failures.append("\(lost) results lost") }
        if falseFailures > 0 { failures.append("\(falseFailures) false failures") }
        if achieved < offered * minimumAchievedShare {
            failures.append(
                "achieved \(PlanFormat.number(achieved, 0))/s < \(PlanFormat.number(minimumAchievedShare * 100, 0))% of offered"
            )
        }
        return failures
    }

    static let maximumLagP99Ms = 1000.0
    static let minimumAchievedShare = 0.95
}

/// What a cluster step cost PostgreSQL and Redis, measured in the step's own schema and from
/// Redis's counters.
struct ServiceCost: Codable, Sendable, Equatable {
    /// Redis commands processed per check over the step (`INFO stats` total_commands_processed;
    /// the whole server, so anything else using it counts too).
    var redisCommandsPerCheck: Double
    /// Redis server CPU (user + system, `INFO cpu`) per check, µs; the whole server, like the commands.
    var redisCPUMicrosPerCheck: Double
    /// Bytes per check row: pg_total_relation_size of the step's check partitions / their rows.
    var checkRowBytes: Double
    /// Bytes per rollup row: pg_total_relation_size(metrics) / rows, after
    /// `lookout_rollup_metrics('minute', ...)` rolled up the step's checks (the control plane's
    /// own function).
    var rollupRowBytes: Double
    /// Rows the rollup wrote (one per monitor and minute).
    var rollupRows: Int
}

/// A scenario's steps and its saturation point: the passing step with the highest achieved
/// checks/s.
struct ScenarioResult: Codable, Sendable {
    var scenario: CapacityScenario
    var steps: [CapacityStep]
    /// Why the scenario was not measured (a missing database, ...); nil when it ran.
    var notRun: String?

    var saturation: CapacityStep? {
        steps.filter(\.passed).max { $0.checksPerSecond < $1.checksPerSecond }
    }
}
