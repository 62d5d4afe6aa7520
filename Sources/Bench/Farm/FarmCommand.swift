import ArgumentParser
import Foundation

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
            With --https-port, HTTPS (same routes) on every address too, and the line carries
            "httpsPort" and "caFile" (the certificate to give the engine with --ca-file: the one of
            --tls-cert, or a self-signed one made at start for the addresses and *.bench.test).
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

    @Option(help: "Also listen for HTTPS on this port on every address (0 = a free port). Default: no HTTPS.")
    var httpsPort: Int?

    @Option(help: "PEM certificate (chain) for HTTPS; with --tls-key. Default: a self-signed one made at start.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(help: "Exit when standard input is closed (so a parent that dies never leaves a farm behind).")
    var exitOnStdinEof = false

    func run() throws {
        var configuration: FarmConfiguration
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
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsCert != nil && httpsPort == nil { throw ValidationError("--tls-cert needs --https-port") }
        var generatedDirectory: String?
        defer { if let generatedDirectory { try? FileManager.default.removeItem(atPath: generatedDirectory) } }
        if let httpsPort {
            do {
                if let tlsCert, let tlsKey {
                    configuration.tls = try FarmTLS(httpsPort: httpsPort, certificatePath: tlsCert, keyPath: tlsKey)
                } else {
                    let directory = FileManager.default.temporaryDirectory
                        .appendingPathComponent("lookout-farm-tls-\(getpid())").path
                    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    generatedDirectory = directory
                    configuration.tls = try FarmTLS.selfSigned(
                        in: directory, addresses: configuration.addresses, httpsPort: httpsPort)
                }
            } catch {
                throw ValidationError(error.description)
            }
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
