/// One throughput run: how many monitors, how often, for how long, and how the engine is started.
/// Every default is the one `lookout-bench throughput` uses.
struct ThroughputConfiguration: Sendable {
    /// How monitors name their target.
    enum Names: String, Sendable, Codable, CaseIterable {
        /// `http://127.0.1.k:PORT/path`: no DNS, monitors spread round-robin over the farm's addresses.
        case ip
        /// `http://h<i>.bench.test:PORT/path`: one distinct name per monitor, resolved through the
        /// farm's DNS server (which spreads names over the addresses by hash).
        case dns
    }

    /// Number of monitors. Required; 1...2,000,000.
    var monitors: Int
    /// Seconds between two checks of one monitor. Required; 0.1...86,400.
    var intervalSeconds: Double
    /// How long the engine runs, seconds. Required; 1...86,400.
    var durationSeconds: Double
    /// Engine loops (`--loops`); nil leaves the engine's default.
    var loops: Int?
    /// Engine concurrency cap (`--max-in-flight`); nil leaves the engine's default.
    var maxInFlight: Int?
    /// Default `.ip`.
    var names: Names = .ip
    /// Path (and query) every monitor requests. Default `/ok`.
    var path: String = "/ok"
    /// Per-check timeout written into the monitors file, ms. Default 10,000.
    var timeoutMs: Int = 10_000
    /// The engine binary; nil means `lookout-engine` next to this executable.
    var enginePath: String?
    /// Where to write the JSON report; nil for none.
    var jsonPath: String?
    /// Keep the monitors, results, summary and engine logs in this directory; nil uses a
    /// temporary directory that is removed afterwards.
    var keepFilesDirectory: String?
    /// Event-loop threads of the in-process farm. Default 1 (the engine gets the other core).
    var farmThreads: Int = 1
    /// Loopback addresses of the farm. Default 8.
    var farmAddresses: Int = 8
    /// `--database URL`: the engine also writes every check to PostgreSQL (COPY writer), so the
    /// cost of persistence shows side by side with a run without it. nil: standalone.
    var databaseURL: String?
    /// Extra time the engine gets after `durationSeconds` to finish in-flight checks and flush
    /// before it is stopped, seconds. Default: the check timeout plus 30 s.
    var exitGraceSeconds: Double { Double(timeoutMs) / 1000 + 30 }

    init(
        monitors: Int,
        intervalSeconds: Double,
        durationSeconds: Double,
        loops: Int? = nil,
        maxInFlight: Int? = nil,
        names: Names = .ip,
        path: String = "/ok",
        timeoutMs: Int = 10_000,
        enginePath: String? = nil,
        jsonPath: String? = nil,
        keepFilesDirectory: String? = nil,
        farmThreads: Int = 1,
        farmAddresses: Int = 8
    ) throws(ThroughputError) {
        guard (1...2_000_000).contains(monitors) else {
            throw .invalidOption("--monitors must be between 1 and 2000000")
        }
        guard intervalSeconds.isFinite, (0.1...86_400).contains(intervalSeconds) else {
            throw .invalidOption("--interval must be between 0.1 and 86400 seconds")
        }
        guard durationSeconds.isFinite, (1...86_400).contains(durationSeconds) else {
            throw .invalidOption("--duration must be between 1 and 86400 seconds")
        }
        if let loops, !(1...64).contains(loops) { throw .invalidOption("--loops must be between 1 and 64") }
        if let maxInFlight, !(1...1_000_000).contains(maxInFlight) {
            throw .invalidOption("--max-in-flight must be between 1 and 1000000")
        }
        guard path.hasPrefix("/"), !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\"") })
        else {
            throw .invalidOption("--path must start with '/' and contain no spaces, quotes or control characters")
        }
        guard (100...120_000).contains(timeoutMs) else {
            throw .invalidOption("--timeout-ms must be between 100 and 120000")
        }
        guard (1...64).contains(farmThreads) else { throw .invalidOption("--farm-threads must be between 1 and 64") }
        guard (1...FarmConfiguration.maxAddresses).contains(farmAddresses) else {
            throw .invalidOption("--farm-addresses must be between 1 and \(FarmConfiguration.maxAddresses)")
        }
        self.monitors = monitors
        self.intervalSeconds = intervalSeconds
        self.durationSeconds = durationSeconds
        self.loops = loops
        self.maxInFlight = maxInFlight
        self.names = names
        self.path = path
        self.timeoutMs = timeoutMs
        self.enginePath = enginePath
        self.jsonPath = jsonPath
        self.keepFilesDirectory = keepFilesDirectory
        self.farmThreads = farmThreads
        self.farmAddresses = farmAddresses
    }

    /// Checks per second the schedule asks for.
    var targetChecksPerSecond: Double { Double(monitors) / intervalSeconds }
}
