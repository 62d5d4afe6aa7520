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
    var monitors: String

    @Option(name: .long, help: "Write one JSON line per check here ('-' = standard output).")
    var results: String?

    @Option(name: .long, help: "Run this many seconds, then stop cleanly.")
    var duration: Double?

    @Flag(name: .long, help: "Check every monitor once, then exit (status 0 only if all were UP).")
    var once = false

    @Flag(name: .long, help: "Allow loopback, private, link-local and other non-public target addresses.")
    var allowPrivateTargets = false

    @Option(name: .long, help: "Allow this non-public address range (CIDR), e.g. 10.1.0.0/16. Repeatable.")
    var allowTarget: [String] = []

    @Option(name: .long, help: "Checks in flight at most, per process (default 1000).")
    var maxInFlight: Int = 1000

    @Option(name: .long, help: "Event loops (threads); default one per core.")
    var loops: Int?

    @Option(name: .long, help: "PEM file of extra CA certificates to trust besides the system store.")
    var caFile: String?

    @Option(name: .long, help: "DNS server as IP:PORT (default: the system's resolv.conf).")
    var dnsServer: String?

    @Option(name: .long, help: "Per-try DNS timeout in milliseconds (default 2000).")
    var dnsTimeoutMs: Int = 2000

    @Option(name: .long, help: "DNS tries per lookup (default 2).")
    var dnsTries: Int = 2

    @Option(name: .long, help: "Serve Prometheus metrics on this TCP port.")
    var metricsPort: Int?

    @Option(name: .long, help: "Address the metrics port binds to (default 127.0.0.1).")
    var metricsAddress: String = "127.0.0.1"

    @Flag(name: .long, help: "Run the valid monitors even if some lines are invalid (they are reported).")
    var skipInvalid = false

    @Option(name: .long, help: "Write the end-of-run summary as JSON to this file.")
    var summaryJSON: String?

    @Option(name: .long, help: "User-Agent header of every check.")
    var userAgent: String = "Lookout/0.1 (uptime check)"

    func validate() throws {
        if let duration, !(duration > 0 && duration.isFinite) {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        if maxInFlight < 1 || maxInFlight > 100_000 { throw ValidationError("--max-in-flight must be 1...100000") }
        if let loops, loops < 1 || loops > 256 { throw ValidationError("--loops must be 1...256") }
        if dnsTimeoutMs < 50 || dnsTimeoutMs > 60_000 { throw ValidationError("--dns-timeout-ms must be 50...60000") }
        if dnsTries < 1 || dnsTries > 10 { throw ValidationError("--dns-tries must be 1...10") }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0...65535")
        }
        if let dnsServer { try Self.validateDNSServer(dnsServer) }
        for cidr in allowTarget {
            do { _ = try CIDRRange(cidr) } catch { throw ValidationError("--allow-target \(error.reason)") }
        }
    }

    /// c-ares takes IP:PORT or [IPv6]:PORT; a host name would need a blocking lookup.
    static func validateDNSServer(_ text: String) throws {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if rest.hasPrefix(":") { port = rest.dropFirst() } else if !rest.isEmpty {
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
            monitorsPath: monitors, loops: loops ?? max(ProcessInfo.processInfo.activeProcessorCount, 1))
        configuration.resultsPath = results
        configuration.durationSeconds = duration
        configuration.once = once
        configuration.skipInvalid = skipInvalid
        configuration.policy = TargetPolicy(
            allowAll: allowPrivateTargets, allowedRanges: allowTarget.compactMap { try? CIDRRange($0) })
        configuration.maxInFlight = maxInFlight
        configuration.extraCAFile = caFile
        configuration.dnsServer = dnsServer
        configuration.dnsTimeoutMs = dnsTimeoutMs
        configuration.dnsTries = dnsTries
        configuration.metricsPort = metricsPort
        configuration.metricsAddress = metricsAddress
        configuration.summaryJSONPath = summaryJSON
        configuration.userAgent = userAgent
        let exitCode: Int32
        do {
            exitCode = try EngineRuntime(configuration: configuration).run()
        } catch {
            FileHandle.standardError.write(Data("lookout-engine: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}
