import LookoutCore

/// Everything a standalone engine run is configured with. Built from the command line (see
/// `RunCommand`, the one place that lists every flag) and validated there.
/// `--redis` and friends: the engine joins a cluster of engines coordinated through Redis.
struct ClusterOptions: Sendable {
    /// `--redis redis://IP:PORT[/db]` (an address: hiredis would resolve a name blocking).
    var redis: RedisEndpoint
    /// `--engine-id`, default `<host>-<pid>`.
    var engineId: String
    /// `--lease-ms`, default 10,000: a dead engine's shards move within about one lease.
    var leaseMs: Int
    /// `--redis-prefix`, default `lookout`.
    var contract: ClusterContract
    /// Seconds between full reconciles of the owned monitors with the database. Default 30.
    var reconcileSeconds: Double = 30
}

struct EngineConfiguration: Sendable {
    /// JSON Lines file of monitors (`--monitors`).
    var monitorsPath: String
    /// Where results go: a path, `-` for stdout, nil for nowhere (`--results`).
    var resultsPath: String?
    /// How results are written (`--format`): JSON Lines, or a table for people. Default: a table
    /// when the results go to a terminal, JSON otherwise.
    var resultFormat = ResultFormat.json
    /// Stop after this many seconds (`--duration`); nil = until SIGINT/SIGTERM.
    var durationSeconds: Double?
    /// Check each monitor once, then exit (`--once`).
    var once = false
    /// Run the valid monitors of a file with bad lines (`--skip-invalid`).
    var skipInvalid = false
    /// Which target addresses checks may connect to (`--allow-private-targets`, `--allow-target`).
    var policy = TargetPolicy()
    /// Engine loops (threads). Default: one per core (`--loops`).
    var loops: Int
    /// Checks in flight per process, spread over the loops. Default 1000 (`--max-in-flight`).
    var maxInFlight = 1000
    /// Checks in flight to one address at most, across the loops (`--max-per-host`, default 8);
    /// the rest wait, and the wait shows as lag. 0 = no limit.
    var maxPerHost = 8
    /// How late a due check may start so that checks due close together start in one wake-up of
    /// the loop (`--schedule-slack-ms`, default 5); shows as lag. 0 = wake for each due time.
    var scheduleSlackMs = Int(CheckLoop.defaultScheduleSlackMicros / 1_000)
    /// Extra CA certificates trusted besides the system store (`--ca-file`).
    var extraCAFile: String?
    /// DNS server as IP:PORT (`--dns-server`); default: the machine's resolv.conf servers.
    var dnsServer: String?
    /// Per-try DNS timeout in ms (`--dns-timeout-ms`, default 2000) and tries (`--dns-tries`, default 2).
    var dnsTimeoutMs = 2000
    var dnsTries = 2
    var dnsCache = DNSCache.Configuration()
    /// Serve Prometheus metrics on this port (`--metrics-port`), bound to `metricsAddress`
    /// (`--metrics-address`, default 127.0.0.1).
    var metricsPort: Int?
    var metricsAddress = "127.0.0.1"
    /// Write the end-of-run summary as JSON here (`--summary-json`).
    var summaryJSONPath: String?
    /// Sent with every check (`--user-agent`). Short on purpose: curl formats request headers
    /// byte by byte, and every byte costs each check (docs/BENCHMARKS.md).
    var userAgent = Self.defaultUserAgent
    static let defaultUserAgent = "Lookout/0.1"

    /// Cluster mode (`--redis`): monitors come from the database for the shards this engine owns.
    var cluster: ClusterOptions?

    /// The system CA bundle Debian's ca-certificates package maintains.
    static let systemCABundle = "/etc/ssl/certs/ca-certificates.crt"
}
