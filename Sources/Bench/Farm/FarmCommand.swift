import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lookout-bench farm`: runs the target farm until SIGTERM/SIGINT (or the end of stdin with
/// `--exit-on-stdin-eof`). Prints one JSON ready line on stdout and nothing per request.
struct FarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm",
        abstract: "Loopback HTTP target farm plus an authoritative DNS server for bench.test.",
        discussion: """
            When every socket listens it prints one line to stdout and flushes it:
              {"event":"ready","httpPort":P,"dnsPort":Q,"addresses":["127.0.1.1",...]}
            Paths: /ok /status/N /delay/MS /trickle?bytes=N&intervalMs=M /huge?bytes=N
            /huge-chunked?bytes=N /redirect/N /redirect-loop /redirect-to?url=U /reset /close /garbage
            /keyword?word=W /json[?status=X] /echo /bench?latencyMs=L&status=S&bytes=B,
            /__stats and /__stats/reset (counters). DNS names: see DNSResponder (nx-, timeout-,
            servfail-, empty-, ip-A-B-C-D, v6-, anything else → one of the HTTP addresses).
            """
    )

    @Option(name: .customLong("addresses"), help: "Number of HTTP addresses, counting up from --base-address.")
    var addressCount = 8

    @Option(help: "First HTTP address (must be in 127.0.0.0/8).")
    var baseAddress = "127.0.1.1"

    @Option(help: "HTTP port on every address (0 = a free port, the same on every address).")
    var httpPort = 28080

    @Option(help: "DNS UDP port on 127.0.0.1 (0 = a free port).")
    var dnsPort = 28053

    @Option(name: .customLong("dns-ttl"), help: "TTL of A/AAAA answers, seconds.")
    var dnsTTL = 300

    @Option(help: "Event-loop threads.")
    var threads = 1

    @Flag(help: "Exit when standard input is closed (so a parent that dies never leaves a farm behind).")
    var exitOnStdinEof = false

    func run() throws {
        let configuration: FarmConfiguration
        do {
            configuration = try FarmConfiguration(
                addressCount: addressCount,
                baseAddress: baseAddress,
                httpPort: httpPort,
                dnsPort: dnsPort,
                dnsTTL: dnsTTL,
                threads: threads
            )
        } catch {
            throw ValidationError(error.description)
        }
        signal(SIGPIPE, SIG_IGN)
        // Install the handlers before listening, so a SIGTERM right after the ready line is not lost.
        let shutdown = ShutdownSignal(watchStandardInput: exitOnStdinEof)
        let farm = try Farm.start(configuration)
        StandardStreams.writeLine(farm.readyLine)
        let reason = shutdown.wait()
        farm.stop()
        StandardStreams.error("lookout-bench farm: stopped (\(reason))")
    }
}
