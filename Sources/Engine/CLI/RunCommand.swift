import ArgumentParser
import Foundation
import LookoutCore

/// Runs monitors from a JSON Lines file. The flags are a contract (README, "Standalone engine").
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Check the monitors of a JSON Lines file until stopped (or once with --once)."
    )

    @Option(name: .long, help: "JSON Lines file, one monitor per line (only id and url are required).")
    var monitors: String?

    @Option(name: .long, help: "Write one result per check here ('-' = standard output).")
    var results: String?

    @Option(
        name: .long,
        help:
            "Results format: json (one JSON object per line) or table (one readable line per check; default for a terminal)."
    )
    var format: ResultFormat?

    @Option(name: .long, parsing: .unconditional, help: "Run this many seconds, then stop cleanly.")
    var duration: Double?

    @Flag(name: .long, help: "Check every monitor once, then exit (status 0 only if all were UP).")
    var once = false

    @Flag(name: .long, help: "Allow loopback, private, link-local and other non-public target addresses.")
    var allowPrivateTargets = false

    @Option(name: .long, help: "Allow this non-public address range (CIDR), e.g. 10.1.0.0/16. Repeatable.")
    var allowTarget: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "Checks in flight at most, per process (default 1000).")
    var maxInFlight: Int = 1000

    @Option(
        name: .long, parsing: .unconditional,
        help: "Checks in flight at most to one address, across the loops; the rest wait (default 8, 0: no limit)."
    )
    var maxPerHost: Int = 8

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "How late a due check may start so that checks due close together share a wake-up of the loop; "
                + "shows as lag (default 5, 0: each on time).")
    )
    var scheduleSlackMs: Int = 5

    @Option(name: .long, parsing: .unconditional, help: "Event loops (threads); default one per core.")
    var loops: Int?

    @Option(name: .long, help: "PEM file of extra CA certificates to trust besides the system store.")
    var caFile: String?

    @Option(name: .long, help: "DNS server as IP:PORT (default: the system's resolv.conf).")
    var dnsServer: String?

    @Option(name: .long, parsing: .unconditional, help: "Per-try DNS timeout in milliseconds (default 2000).")
    var dnsTimeoutMs: Int = 2000

    @Option(name: .long, parsing: .unconditional, help: "DNS tries per lookup (default 2).")
    var dnsTries: Int = 2

    @Option(name: .long, parsing: .unconditional, help: "Serve Prometheus metrics on this TCP port.")
    var metricsPort: Int?

    @Option(name: .long, help: "Address the metrics port binds to (default 127.0.0.1).")
    var metricsAddress: String = "127.0.0.1"

    @Flag(name: .long, help: "Run the valid monitors even if some lines are invalid (they are reported).")
    var skipInvalid = false

    @Option(name: .long, help: "Write the end-of-run summary as JSON to this file.")
    var summaryJSON: String?

    @Option(name: .long, help: "User-Agent header of every check.")
    var userAgent: String = EngineConfiguration.defaultUserAgent

    // Database (Persistence/, docs/DATABASE.md): results also go to PostgreSQL's `checks`.

    @Option(name: .long, help: "PostgreSQL URI: migrate, upsert the monitors and write every check into `checks`.")
    var database: String?

    @Option(name: .long, help: "Owner (e-mail) of the monitors file's monitors in the database.")
    var owner: String = LookoutSchema.standaloneOwnerEmail

    @Option(name: .long, parsing: .unconditional, help: "Rows per COPY batch (default 5000).")
    var dbBatchRows: Int = 5000

    @Option(
        name: .long, parsing: .unconditional,
        help: "Longest a result waits before a batch is written, ms (default 500).")
    var dbBatchMs: Int = 500

    @Option(
        name: .long, parsing: .unconditional,
        help: "Rows kept in memory while the database is away, then spilled (default 1000000).")
    var dbBufferRows: Int = 1_000_000

    @Option(
        name: .long,
        help:
            "Directory for rows the database could not take yet, made when the first row spills (default .lookout-spill)."
    )
    var spillDir: String = ".lookout-spill"

    @Option(
        name: .long, parsing: .unconditional,
        help: "Drop check partitions older than this many days, hourly (default: keep).")
    var retentionDays: Int?

    // Cluster mode (Cluster/, README "Cluster mode"): monitors come from the database for the
    // shards this engine owns; engines coordinate through Redis.

    @Option(name: .long, help: "Redis URL redis://IP:PORT[/db]: run as one engine of a cluster (needs --database).")
    var redis: String?

    @Option(name: .long, help: "This engine's id in the cluster (default: <host>-<pid>).")
    var engineId: String?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Cluster lease, ms: a dead engine's monitors move within about one lease (default 10000).")
    var leaseMs: Int = 10_000

    @Option(name: .long, help: "Prefix of the cluster's Redis keys and channels (default lookout).")
    var redisPrefix: String = ClusterContract.defaultPrefix

    @Option(
        name: .long, parsing: .unconditional,
        help: "Seconds between full reconciles of the owned monitors with the database (default 30).")
    var reconcileSeconds: Double = 30

    @Option(
        name: .long,
        help: "Least severe message written to standard error: debug, info, warning or error (default info).")
    var logLevel: EngineLogLevel = .info

    func validate() throws {
        if redis != nil {
            if database == nil {
                throw ValidationError("--redis needs --database: cluster engines load their monitors from it")
            }
            if monitors != nil {
                throw ValidationError(
                    "--monitors and --redis exclude each other: cluster engines load monitors from the database")
            }
            if once { throw ValidationError("--once is for a monitors file, not for cluster mode") }
            if leaseMs < 300 || leaseMs > 600_000 {
                throw ValidationError("--lease-ms must be 300...600000, got \(leaseMs)")
            }
            if !(reconcileSeconds >= 1 && reconcileSeconds <= 3600) {
                throw ValidationError("--reconcile-seconds must be 1...3600")
            }
            _ = try clusterOptions()
        } else if monitors == nil {
            throw ValidationError("give --monitors FILE (standalone) or --database URL --redis URL (cluster mode)")
        }
        if let duration, !(duration > 0 && duration.isFinite) {
            throw ValidationError("--duration must be a positive number of seconds, got \(duration)")
        }
        if maxInFlight < 1 || maxInFlight > 100_000 {
            throw ValidationError("--max-in-flight must be 1...100000, got \(maxInFlight)")
        }
        if maxPerHost < 0 || maxPerHost > 100_000 {
            throw ValidationError("--max-per-host must be 0...100000 (0: no limit), got \(maxPerHost)")
        }
        if scheduleSlackMs < 0 || scheduleSlackMs > 1_000 {
            throw ValidationError("--schedule-slack-ms must be 0...1000, got \(scheduleSlackMs)")
        }
        if let loops, loops < 1 || loops > 256 { throw ValidationError("--loops must be 1...256, got \(loops)") }
        if dnsTimeoutMs < 50 || dnsTimeoutMs > 60_000 {
            throw ValidationError("--dns-timeout-ms must be 50...60000, got \(dnsTimeoutMs)")
        }
        if dnsTries < 1 || dnsTries > 10 { throw ValidationError("--dns-tries must be 1...10, got \(dnsTries)") }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0...65535 (0: any free port), got \(metricsPort)")
        }
        guard case .v4? = IPAddress(parsing: metricsAddress) else {
            throw ValidationError(
                "--metrics-address '\(metricsAddress)' must be an IPv4 address of this machine (127.0.0.1, or 0.0.0.0 for all)"
            )
        }
        if format == .table && results == nil {
            throw ValidationError("--format table needs --results (- for the terminal)")
        }
        if let dnsServer { try Self.validateDNSServer(dnsServer) }
        for cidr in allowTarget {
            do { _ = try CIDRRange(cidr) } catch { throw ValidationError("--allow-target \(error.reason)") }
        }
        if let options = databaseOptions {
            do throws(EngineError) { try options.writer.validate() } catch { throw ValidationError(error.description) }
            if !MonitorImporter.isValidEmail(owner) {
                throw ValidationError("--owner '\(owner)' is not an e-mail address")
            }
        }
    }

    /// The `--database` settings, nil without `--database`.
    var databaseOptions: DatabaseRunOptions? {
        guard let database else { return nil }
        var writer = CheckWriter.Configuration(databaseURL: database)
        writer.batchRows = dbBatchRows
        writer.batchMilliseconds = dbBatchMs
        writer.bufferRows = dbBufferRows
        writer.spillDirectory = spillDir
        writer.retentionDays = retentionDays
        return DatabaseRunOptions(writer: writer, ownerEmail: owner)
    }

    /// The cluster settings, nil without `--redis`.
    func clusterOptions() throws -> ClusterOptions? {
        guard let redis else { return nil }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint(url: redis) } catch { throw ValidationError("--redis: \(error.description)") }
        let contract: ClusterContract
        do { contract = try ClusterContract(prefix: redisPrefix) } catch {
            throw ValidationError("--redis-prefix: \(error.description)")
        }
        let id = engineId ?? ClusterContract.defaultEngineId(host: ClusterCoordinator.hostName(), pid: getpid())
        do { try ClusterContract.validateEngineId(id) } catch {
            throw ValidationError("--engine-id: \(error.description)")
        }
        return ClusterOptions(
            redis: endpoint, engineId: id, leaseMs: leaseMs, contract: contract, reconcileSeconds: reconcileSeconds)
    }

    /// c-ares takes IP:PORT or [IPv6]:PORT; a host name would need a blocking lookup.
    static func validateDNSServer(_ text: String) throws {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if rest.hasPrefix(":") {
                port = rest.dropFirst()
            } else if !rest.isEmpty {
                throw ValidationError("--dns-server '\(text)' must be IP:PORT or [IPv6]:PORT")
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard IPAddress(parsing: String(host)) != nil else {
            throw ValidationError("--dns-server '\(text)' must be an IP address (with optional :PORT), not a name")
        }
        if let port, Int(port).map({ (1...65535).contains($0) }) != true {
            throw ValidationError("--dns-server '\(text)': port must be 1...65535")
        }
    }

    func run() throws {
        var configuration = EngineConfiguration(
            monitorsPath: monitors ?? "", loops: loops ?? max(ProcessInfo.processInfo.activeProcessorCount, 1))
        configuration.resultsPath = results
        configuration.resultFormat = format ?? ResultFormat.default(forPath: results)
        configuration.durationSeconds = duration
        configuration.once = once
        configuration.skipInvalid = skipInvalid
        configuration.policy = TargetPolicy(
            allowAll: allowPrivateTargets, allowedRanges: allowTarget.compactMap { try? CIDRRange($0) })
        configuration.maxInFlight = maxInFlight
        configuration.maxPerHost = maxPerHost
        configuration.scheduleSlackMs = scheduleSlackMs
        configuration.extraCAFile = caFile
        configuration.dnsServer = dnsServer
        configuration.dnsTimeoutMs = dnsTimeoutMs
        configuration.dnsTries = dnsTries
        configuration.metricsPort = metricsPort
        configuration.metricsAddress = metricsAddress
        configuration.summaryJSONPath = summaryJSON
        configuration.userAgent = userAgent
        configuration.cluster = try clusterOptions()
        let exitCode: Int32
        do {
            exitCode = try EngineRuntime(
                configuration: configuration, logger: .engine(level: logLevel.level), database: databaseOptions
            ).run()
        } catch {
            FileHandle.standardError.write(Data("lookout-engine: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

extension ResultFormat: ExpressibleByArgument {}
extension EngineLogLevel: ExpressibleByArgument {}
