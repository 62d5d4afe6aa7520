import Foundation
import LookoutCore
import LookoutFFI

#if canImport(Glibc)
import Glibc
#endif

/// Reads the engine's counters for a scrape. Runs on the metrics thread: it only touches atomics
/// and the results pipeline's locked summary.
struct MetricsSource: Sendable {
    let loops: [CheckLoop]
    let results: ResultPipeline
    let startedMonotonic: Int64
    /// The database COPY writer's figures (`--database` runs); rendered by `CheckWriterFigures`.
    var writer: CheckWriterStatistics? = nil
    /// Cluster mode: the coordinator's figures (shards owned, lease age, Redis link).
    var cluster: ClusterStatistics? = nil

    /// Prometheus text exposition format 0.0.4.
    func render() -> String {
        var out = PrometheusText()
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out.family(name, type, help, samples.map { (labels: $0.0, value: $0.1) })
        }
        func sum(_ read: (LoopStatistics) -> Int) -> Double { Double(loops.reduce(0) { $0 + read($1.statistics) }) }
        let summary = results.summary

        metric(
            "lookout_engine_monitors",
            "gauge",
            "Monitors loaded.",
            [("", sum { $0.monitors.load(ordering: .relaxed) })]
        )
        metric("lookout_engine_loops", "gauge", "Event loops (threads).", [("", Double(loops.count))])
        metric(
            "lookout_engine_checks_in_flight",
            "gauge",
            "Checks in flight (DNS wait included).",
            [("", sum { $0.inFlight.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_checks_waiting_host",
            "gauge",
            "Checks waiting for a per-host permit (--max-per-host checks to their address in flight).",
            [("", sum { $0.waitingForHost.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_host_waits_total",
            "counter",
            "Checks (hops) that had to wait for a per-host permit.",
            [("", sum { $0.hostWaits.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_checks_started_total",
            "counter",
            "Checks started.",
            [("", sum { $0.checksStarted.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_checks_total",
            "counter",
            "Checks finished, by status.",
            CheckStatus.allCases.map { ("{status=\"\($0.name)\"}", Double(summary.count($0))) }
        )
        metric(
            "lookout_engine_check_errors_total",
            "counter",
            "Checks that were not UP, by error code.",
            summary.byErrorCode.sorted { $0.key < $1.key }.map { ("{code=\"\($0.key)\"}", Double($0.value)) }
        )
        metric(
            "lookout_engine_checks_skipped_busy_total",
            "counter",
            "Due checks skipped because the previous check of the monitor was still running.",
            [("", sum { $0.skippedBusy.load(ordering: .relaxed) })]
        )
        out.histogram(
            "lookout_engine_check_lag_seconds",
            "Actual start minus due time of each check.",
            bounds: RunSummary.bucketBounds,
            buckets: summary.lagBuckets,
            sumSeconds: Double(summary.lagSumMicros) / 1_000_000,
            count: summary.checks
        )
        out.histogram(
            "lookout_engine_check_duration_seconds",
            "Whole-check duration (DNS to last byte).",
            bounds: RunSummary.bucketBounds,
            buckets: summary.durationBuckets,
            sumSeconds: Double(summary.durationSumMicros) / 1_000_000,
            count: summary.checks
        )
        metric(
            "lookout_engine_dns_cache_hits_total",
            "counter",
            "Lookups answered from the DNS cache.",
            [("", sum { $0.dnsCacheHits.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_dns_cache_misses_total",
            "counter",
            "Lookups that sent a DNS query.",
            [("", sum { $0.dnsCacheMisses.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_dns_coalesced_total",
            "counter",
            "Lookups that joined a query already in flight.",
            [("", sum { $0.dnsCoalesced.load(ordering: .relaxed) })]
        )
        metric(
            "lookout_engine_dns_cache_entries",
            "gauge",
            "Names in the DNS caches.",
            [("", sum { $0.dnsCacheEntries.load(ordering: .relaxed) })]
        )
        let usage = ProcessUsage.current()
        metric(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time.",
            [("", Double(usage.userMicros + usage.systemMicros) / 1_000_000)]
        )
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory.",
            [("", Double(Self.residentBytes()))]
        )
        metric(
            "lookout_engine_uptime_seconds",
            "gauge",
            "Seconds since start.",
            [("", Double(Clock.monotonicMicros() - startedMonotonic) / 1_000_000)]
        )
        if let writer { writer.snapshot.appendPrometheus(to: &out) }
        if let cluster {
            let lease = cluster.leaseAgeSeconds(nowMicros: Clock.monotonicMicros())
            metric(
                "lookout_engine_cluster_shards_owned",
                "gauge",
                "Shards this engine owns.",
                [("", Double(cluster.ownedShards.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_members",
                "gauge",
                "Live engines seen in Redis.",
                [("", Double(cluster.members.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_lease_age_seconds",
                "gauge",
                "Seconds since the lease was last renewed (-1: never).",
                [("", lease ?? -1)]
            )
            metric(
                "lookout_engine_cluster_redis_connected",
                "gauge",
                "1 while the Redis command link is up.",
                [("", Double(cluster.connected.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_reregistrations_total",
                "counter",
                "Registrations after a lost lease or a Redis restart.",
                [("", Double(cluster.reRegistrations.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_live_results_dropped_total",
                "counter",
                "Live results not published (Redis away or slow).",
                [("", Double(cluster.liveResultsDropped.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_state_events_written_total",
                "counter",
                "State changes appended to the stream.",
                [("", Double(cluster.stateEventsWritten.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_state_events_pending",
                "gauge",
                "State changes waiting for Redis.",
                [("", Double(cluster.stateEventsPending.load(ordering: .relaxed)))]
            )
            metric(
                "lookout_engine_cluster_check_requests_total",
                "counter",
                "Check-now requests received for shards this engine owns.",
                [("", Double(cluster.checkRequestsReceived.load(ordering: .relaxed)))]
            )
        }
        return out.text
    }

    /// Current (not peak) resident set size from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// A minimal HTTP/1.0 server for Prometheus scrapes on its own thread (never a loop thread):
/// every request gets the metrics text, and the connection is closed.
final class MetricsServer: @unchecked Sendable {
    // @unchecked: `listener` is written once in init; `stopped` is only read by the server thread
    // after close() makes accept fail.
    private let listener: Int32
    private let source: MetricsSource
    let port: Int

    init(address: String, port: Int, source: MetricsSource) throws(EngineError) {
        self.source = source
        guard case .v4(let ipv4)? = IPAddress(parsing: address) else {
            throw EngineError.metricsAddress(address: address, reason: "not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EngineError.metricsPort(port: port, reason: String(cString: strerror(errno))) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        socketAddress.sin_addr = in_addr(s_addr: ipv4.bigEndian)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            Glibc.close(fd)
            switch code {
            case EADDRNOTAVAIL:
                throw EngineError.metricsAddress(
                    address: address, reason: "not an address of this machine (\(reason)); 127.0.0.1 or 0.0.0.0 are")
            case EADDRINUSE:
                throw EngineError.metricsPort(
                    port: port,
                    reason: "already in use on \(address) (\(reason)); choose another, or 0 for any free port")
            case EACCES:
                throw EngineError.metricsPort(port: port, reason: "ports below 1024 need privileges (\(reason))")
            default:
                throw EngineError.metricsPort(port: port, reason: "cannot listen on \(address):\(port): \(reason)")
            }
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        listener = fd
    }

    func start() {
        NamedThread.start("lookout-metrics") { [self] in self.serve() }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // listener closed
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request = [UInt8](repeating: 0, count: 4096)
            _ = read(client, &request, request.count)
            let body = source.render()
            let response =
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                + body
            let bytes = Array(response.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
                if written <= 0 { break }
                offset += written
            }
            Glibc.close(client)
        }
    }
}
