import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lookout-bench compare`: the peer table in one run on this machine.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract:
            "Checks/s and CPU per check of wrk, ab, the C yardstick, blackbox_exporter, check_http and lookout-engine.",
        discussion: """
            One loopback nginx (worker_processes auto) answers every tool, over plain HTTP and over
            HTTPS (a fresh ECDSA certificate, full handshake per connection). Every tool opens a
            fresh connection per check: wrk with `Connection: close`, ab without keep-alive, the C
            yardstick (scripts/bench/reference-engine.c, built here with cc -O2),
            prometheus-blackbox-exporter through /probe (driven by wrk), check_http forked once per
            check, and lookout-engine (2,000 monitors at 0.1 s, --loops 1 and all loops). A tool
            that is not installed is reported as missing: `scripts/setup --bench` installs them.
            """
    )

    @Option(help: "Seconds per measurement.")
    var seconds = 8.0

    @Option(help: "Write the rows as JSON here.")
    var json: String?

    @Option(help: "Connections in flight for the tools that take a concurrency.")
    var concurrency = 200

    @Option(help: "Engine binary (default: lookout-engine next to this executable).")
    var engine: String?

    @Option(help: "The C yardstick's source (default: scripts/bench/reference-engine.c of this checkout).")
    var yardstickSource: String?

    func run() throws {
        guard seconds.isFinite, (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
        guard (1...10_000).contains(concurrency) else { throw ValidationError("--concurrency must be 1...10000") }
        signal(SIGPIPE, SIG_IGN)
        let shutdown = ShutdownSignal(watchStandardInput: false)
        let rows: [CompareRow]
        do {
            let peers = try PeerBench(
                seconds: seconds, concurrency: concurrency, enginePath: engine, yardstickSource: yardstickSource,
                shutdown: shutdown)
            defer { peers.close() }
            rows = try peers.run()
        } catch {
            StandardStreams.error("lookout-bench compare: \(error)")
            if case .interrupted = error { throw ExitCode(130) }
            throw ExitCode.failure
        }
        print(Self.table(rows, seconds: seconds, concurrency: concurrency), terminator: "")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                var data = try encoder.encode(rows)
                data.append(UInt8(ascii: "\n"))
                try CapacityCommand.write(data, to: json)
            } catch {
                StandardStreams.error("lookout-bench compare: cannot write \(json): \(error)")
                throw ExitCode.failure
            }
        }
    }

    /// The Markdown table of the rows.
    static func table(_ rows: [CompareRow], seconds: Double, concurrency: Int) -> String {
        let f = PlanFormat.self
        var text =
            "lookout-bench compare: \(ThroughputReport.number(seconds)) s per tool, concurrency \(concurrency), loopback nginx, fresh connection per check, \(ProcessInfo.processInfo.activeProcessorCount) cores\n\n"
        text += "| tool | protocol | checks/s | CPU µs/check | × yardstick | note |\n|---|---|---:|---:|---:|---|\n"
        for row in rows {
            text +=
                "| \(row.tool) | \(row.protocol) | \(row.checksPerSecond.map { f.number($0, 0) } ?? "–") | \(row.cpuMicrosPerCheck.map { f.number($0, 0) } ?? "–") | \(row.ratioToYardstick.map { f.number($0, 2) } ?? "–") | \(row.note ?? "") |\n"
        }
        return text
    }
}
