import Dispatch
import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Starts a standalone engine: loads monitors, spreads them over the loops, runs the loops on
/// their own threads, handles signals and `--duration` on the main thread, and prints the
/// summary at the end.
struct EngineRuntime {
    let configuration: EngineConfiguration
    /// Where the engine and every part it starts report what happens (one logger, injected).
    let logger: Logger
    /// `--database`: results also go to PostgreSQL through the COPY writer (Persistence/).
    var database: DatabaseRunOptions? = nil

    /// Returns the process exit status: 0, or 1 when `--once` saw a check that was not UP.
    func run() throws(EngineError) -> Int32 {
        let started = Clock.monotonicMicros()
        let usageAtStart = ProcessUsage.current()
        // Signals are taken by the main thread with sigtimedwait; block them before any thread
        // starts, so that every thread inherits the mask and none is killed by a stray SIGTERM.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        Self.raiseFileDescriptorLimit()
        signal(SIGPIPE, SIG_IGN)
        CurlGlobal.initialize()
        AresGlobal.initialize()

        // Cluster mode starts with no monitors: they arrive from the database once the
        // coordinator knows which shards this engine owns.
        // A large file starts checking with its first lines while the rest is read (see
        // `MonitorsFileLoad`); results are held until the whole file has proved valid (and, with
        // --database, until its monitors have their rows).
        let load = configuration.cluster == nil ? try beginLoadingMonitors() : MonitorsFileLoad(first: [])
        let prepared = load.first
        var monitorCount = prepared.count
        let caBundle = try CABundle(extraFile: configuration.extraCAFile)
        defer { caBundle.remove() }

        // With --database: migrate, upsert the monitors, prepare the COPY writer (started below,
        // once signals are blocked) and hand it every result batch. A file read in two steps is
        // upserted once it has proved valid as a whole (see `finishLoadingMonitors`).
        var standaloneDatabase: StandaloneDatabase?
        let writer = try database.map { options throws(EngineError) in
            if let cluster = configuration.cluster {
                return try ClusterDatabase.startWriter(
                    options: options, engineId: cluster.engineId, log: logger.component("database"))
            }
            let standalone = try StandaloneDatabase(options: options, log: logger)
            if load.rest == nil { try standalone.importMonitors(prepared.map(\.monitor)) }
            standaloneDatabase = standalone
            return standalone.writer
        }
        var coordinator: ClusterCoordinator?
        var monitorSync: ClusterMonitorSync?
        let syncBox = Mutex<ClusterMonitorSync?>(nil)
        if let cluster = configuration.cluster {
            do {
                coordinator = ClusterCoordinator(
                    configuration: try ClusterCoordinator.Configuration(
                        redis: cluster.redis, contract: cluster.contract, engineId: cluster.engineId,
                        leaseMs: cluster.leaseMs,
                        // A reply must come within half a lease, or a stuck heartbeat outlives it.
                        commandTimeoutSeconds: min(2, Double(cluster.leaseMs) / 2000)),
                    log: logger.component("cluster")
                ) { event in
                    syncBox.withLock { $0 }?.deliver(event)
                }
            } catch {
                throw EngineError.invalidOption(name: "--redis", reason: error.description)
            }
        }
        let results = try ResultPipeline(path: configuration.resultsPath, format: configuration.resultFormat)
        if load.rest == nil { results.start(batchSink: Self.batchSink(writer, coordinator)) }

        // Monitors go to loops by a stable hash of their id, so a monitor keeps its loop (and
        // its DNS cache entries) across restarts.
        let loopCount =
            configuration.cluster != nil
            ? max(1, configuration.loops)
            : max(1, min(configuration.loops, load.rest != nil ? Int.max : max(prepared.count, 1)))
        var perLoop = Array(repeating: [PreparedMonitor](), count: loopCount)
        for monitor in prepared {
            perLoop[Int(CheckPhase.stableHash(monitor.monitor.id) % UInt64(loopCount))].append(monitor)
        }
        let inFlightPerLoop = max(1, (configuration.maxInFlight + loopCount - 1) / loopCount)
        var loopConfiguration = CheckLoop.Configuration(
            maxInFlight: inFlightPerLoop, policy: configuration.policy, caBundlePath: caBundle.path,
            dnsServer: configuration.dnsServer, dnsTimeoutMs: configuration.dnsTimeoutMs,
            dnsTries: configuration.dnsTries, dnsCache: configuration.dnsCache, once: configuration.once,
            userAgent: configuration.userAgent)
        loopConfiguration.scheduleSlackMicros = Int64(configuration.scheduleSlackMs) * 1_000
        if configuration.maxPerHost > 0 {
            // One table for all loops: the limit is per process, not per loop.
            loopConfiguration.hostPermits = HostPermits(limit: configuration.maxPerHost, loopCount: loopCount)
        }
        if let coordinator, let cluster = configuration.cluster {
            // Confirmed state changes go to the Redis stream the control plane consumes.
            loopConfiguration.stateEvents = { coordinator.recordStateChanges($0) }
            loopConfiguration.engineId = cluster.engineId
        }
        // A --once run that starts with the first lines of its file ends when every monitor of
        // the whole file has been checked, not when the first ones have.
        loopConfiguration.onceAwaitsAllMonitors = load.rest != nil

        if load.rest == nil { writer?.start() }

        var loops: [CheckLoop] = []
        do {
            for (index, monitors) in perLoop.enumerated() {
                loops.append(
                    try CheckLoop(index: index, monitors: monitors, configuration: loopConfiguration, results: results))
            }
        } catch {
            throw EngineError.loopSetup(String(describing: error))
        }

        var metricsServer: MetricsServer?
        if let port = configuration.metricsPort {
            metricsServer = try MetricsServer(
                address: configuration.metricsAddress, port: port,
                source: MetricsSource(
                    loops: loops, results: results, startedMonotonic: started, writer: writer?.statistics,
                    cluster: coordinator?.statistics))
            metricsServer?.start()
        }

        let finishedLoops = Atomic<Int>(0)
        // `--duration` counts from here (or, for a file read in two steps, from when its last
        // monitor is in): how long monitors are checked, whatever loading the monitors and
        // making the loops (CA store included) took.
        var checkingStarted = Clock.monotonicMicros()
        for loop in loops {
            NamedThread.start("lookout-loop-\(loop.index)", stackSize: 1 << 20) {
                loop.run()
                finishedLoops.wrappingAdd(1, ordering: .releasing)
            }
        }
        if let rest = load.rest {
            do {
                let all = try finishLoadingMonitors(rest, into: loops)
                monitorCount = all.count
                // The rows a result row points at: written only now that the whole file is
                // valid, and before the first result reaches the writer.
                try standaloneDatabase?.importMonitors(all.map(\.monitor))
            } catch {
                // Refused as a whole: nothing was written, the checks made meanwhile go unreported.
                for loop in loops { loop.requestStop() }
                throw error
            }
            writer?.start()
            results.start(batchSink: Self.batchSink(writer, coordinator))
            checkingStarted = Clock.monotonicMicros()
        }
        if let cluster = configuration.cluster, let coordinator {
            let sync = ClusterMonitorSync(
                configuration: ClusterMonitorSync.Configuration(
                    databaseURL: database?.writer.databaseURL ?? "", reconcileSeconds: cluster.reconcileSeconds),
                loops: loops, log: logger.component("cluster"))
            sync.start()
            syncBox.withLock { $0 = sync }
            monitorSync = sync
            do {
                try coordinator.start()
            } catch {
                throw EngineError.invalidOption(name: "--redis", reason: error.description)
            }
            logger.info("cluster engine \(cluster.engineId), Redis \(cluster.redis), lease \(cluster.leaseMs) ms")
        }
        let metricsNote = metricsServer.map { "; metrics on http://\(configuration.metricsAddress):\($0.port)/metrics" }
        logger.info(
            "\(monitorCount) monitors on \(loops.count) loop(s), up to \(inFlightPerLoop * loops.count) in flight, curl \(CurlGlobal.version)\(metricsNote ?? "")"
        )

        // Main thread: wait for a signal, the deadline, or (with --once) all loops to finish.
        let deadline = configuration.durationSeconds.map { checkingStarted + Int64($0 * 1_000_000) }
        var stopping = false
        // Cluster mode, planned stop: the loops keep checking until the agreed hand-over
        // instant has passed (or this bound, if Redis cannot say), then drain.
        var handOverUntil: Int64?
        func stopLoops(_ name: String) {
            for loop in loops { loop.requestStop() }
            let inFlight = loops.reduce(0) { $0 + $1.statistics.inFlight.load(ordering: .relaxed) }
            logger.info(
                "\(name): no new checks; draining \(inFlight) check(s) in flight (another SIGINT or SIGTERM exits at once)"
            )
        }
        func beginStop(_ name: String) {
            stopping = true
            if let coordinator, let cluster = configuration.cluster, coordinator.beginLeave() {
                handOverUntil = Clock.monotonicMicros() + Int64(cluster.leaseMs + 2000) * 1000
                logger.info(
                    "\(name): handing this engine's shards over; checking until the agreed moment (another SIGINT or SIGTERM exits at once)"
                )
            } else {
                stopLoops(name)
            }
        }
        while finishedLoops.load(ordering: .acquiring) < loops.count {
            var timeout = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            let received = sigtimedwait(&signals, nil, &timeout)
            if received == SIGINT || received == SIGTERM {
                let name = received == SIGINT ? "SIGINT" : "SIGTERM"
                if stopping {
                    logger.warning("second signal (\(name)), exiting without waiting for checks in flight")
                    if let figures = writer?.statistics.snapshot, figures.bufferedRows > 0 {
                        logger.error("\(figures.bufferedRows) check rows not yet in the database are abandoned")
                    }
                    results.close()
                    // The shell's convention for a process ended by a signal: 128 + its number.
                    exit(128 + received)
                }
                beginStop(name)
            }
            if !stopping, let deadline, Clock.monotonicMicros() >= deadline {
                beginStop("--duration")
            }
            if let until = handOverUntil,
                coordinator?.leaveCompleted.load(ordering: .acquiring) != false || Clock.monotonicMicros() >= until
            {
                handOverUntil = nil
                stopLoops("hand-over done")
            }
        }
        let elapsedSeconds = Double(Clock.monotonicMicros() - started) / 1_000_000
        // Leave the cluster first (the other engines take our shards at their next heartbeat),
        // then flush: every result batch reaches the writer and the live channel.
        monitorSync?.stop()
        let writeError = results.close()
        // After the results pipeline: every batch has reached the writer; now flush or spill it.
        let databaseFigures = writer?.close()
        coordinator?.stop(deregister: true)
        metricsServer?.stop()
        let summary = results.summary
        let usage = ProcessUsage.current()
        var report = SummaryReport(
            summary: summary, monitors: monitorCount, loops: loops.count, elapsedSeconds: elapsedSeconds,
            cpuMicros: (usage.userMicros - usageAtStart.userMicros) + (usage.systemMicros - usageAtStart.systemMicros),
            maxResidentKiB: usage.maxResidentKiB, database: databaseFigures)
        for loop in loops {
            report.dnsHits += loop.statistics.dnsCacheHits.load(ordering: .relaxed)
            report.dnsMisses += loop.statistics.dnsCacheMisses.load(ordering: .relaxed)
            report.dnsCoalesced += loop.statistics.dnsCoalesced.load(ordering: .relaxed)
        }
        FileHandle.standardError.write(Data((report.line + "\n").utf8))
        if let writeError {
            logger.error("writing results failed: \(writeError)")
        }
        if let path = configuration.summaryJSONPath {
            do {
                try report.json.write(to: URL(fileURLWithPath: path))
            } catch {
                throw EngineError.resultsFile(path: path, reason: "\(error)")
            }
        }
        if writeError != nil { return 3 }
        if let databaseFigures, databaseFigures.droppedRows > 0 {
            logger.error("\(databaseFigures.droppedRows) check rows could not be stored (see the errors above)")
            return 3
        }
        if configuration.once && summary.count(.up) != summary.checks { return 1 }
        return 0
    }

    /// Where each batch of results goes besides the results file: the COPY writer and, in
    /// cluster mode, the live channel (one short lock each, never a wait).
    private static func batchSink(
        _ writer: CheckWriter?, _ coordinator: ClusterCoordinator?
    )
        -> (@Sendable ([CheckResult]) -> Void)?
    {
        switch (writer, coordinator) {
        case (nil, nil): return nil
        case (let writer?, nil): return { writer.submit($0) }
        case (nil, let coordinator?): return { coordinator.publishLive($0) }
        case (let writer?, let coordinator?):
            return { batch in
                writer.submit(batch)
                coordinator.publishLive(batch)
            }
        }
    }

    /// The monitors a run starts with and, for a large file, what is still to be read.
    struct MonitorsFileLoad {
        /// Checked from the start.
        var first: [PreparedMonitor]
        /// The whole file, when `first` holds only the monitors of its first lines.
        var rest: (data: Data, firstCount: Int)?
    }

    /// Files from this size start checking before they are read to the end.
    static let streamingThresholdBytes = 4 << 20

    /// Reads the monitors file, or (a large file) only its first lines: a million monitors take
    /// seconds to read, and checks need not wait for them. A bad line among the first ones
    /// refuses the file at once, as for a small file.
    ///
    /// Every mode streams: `--once` loops wait for the rest (`onceAwaitsAllMonitors`), and
    /// `--database` checks before the monitors have rows, because a result row is written only
    /// after the whole file has proved valid and been upserted (the results are held until then),
    /// so a bad last line still leaves nothing written, not even a monitor row.
    private func beginLoadingMonitors() throws(EngineError) -> MonitorsFileLoad {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: configuration.monitorsPath))
        } catch {
            let reason =
                FileManager.default.fileExists(atPath: configuration.monitorsPath) ? "not readable" : "no such file"
            throw EngineError.monitorsFile(path: configuration.monitorsPath, reason: reason)
        }
        if data.count >= Self.streamingThresholdBytes {
            // About 1/32 of the file, cut after a newline: what one core parses in a blink.
            var end = data.count / 32
            while end < data.count && data[data.startIndex + end - 1] != UInt8(ascii: "\n") { end += 1 }
            let head = Self.parse(data.prefix(end), parallelism: 1)
            if !head.entries.isEmpty && (head.errors.isEmpty || configuration.skipInvalid) {
                return MonitorsFileLoad(first: head.entries, rest: (data, head.entries.count))
            }
        }
        return MonitorsFileLoad(first: try validMonitors(of: Self.parse(data)))
    }

    /// The monitors of `data` (every line, or `parallelism` pieces), prepared on the core that
    /// read each line: their URLs were parsed when they were validated, and are used as they are.
    private static func parse(_ data: Data, parallelism: Int? = nil) -> MonitorFile.ParsedEntries<PreparedMonitor> {
        MonitorFile.parse(data, parallelism: parallelism) { PreparedMonitor($0) }
    }

    /// Reads the whole file (the loops already check its first monitors), refuses it as a whole
    /// if a line is bad, and hands the loops the monitors they do not have yet, then the end of
    /// the file; returns every monitor of the file.
    private func finishLoadingMonitors(
        _ rest: (data: Data, firstCount: Int), into loops: [CheckLoop]
    )
        throws(EngineError) -> [PreparedMonitor]
    {
        let all = try validMonitors(of: Self.parse(rest.data))
        // The first lines parse the same way inside the whole file: their monitors come first
        // (the loops have them already; these copies are dropped).
        let added = all[rest.firstCount...]
        var perLoop = Array(repeating: [MonitorCommand](), count: loops.count)
        for monitor in added {
            perLoop[Int(CheckPhase.stableHash(monitor.monitor.id) % UInt64(loops.count))].append(.upsert(monitor))
        }
        for (loop, commands) in zip(loops, perLoop) { loop.apply(commands + [.allMonitorsGiven]) }
        return all
    }

    /// The valid monitors of a parsed file; throws for an empty file, and for a bad line unless
    /// `--skip-invalid` (then the bad lines are reported and skipped).
    private func validMonitors(
        of parsed: MonitorFile.ParsedEntries<PreparedMonitor>
    ) throws(EngineError) -> [PreparedMonitor] {
        if parsed.entries.isEmpty && parsed.errors.isEmpty {
            throw EngineError.monitorsFile(path: configuration.monitorsPath, reason: MonitorFile.emptyFileReason)
        }
        if !parsed.errors.isEmpty {
            let lines = parsed.errors.map(\.description)
            if !configuration.skipInvalid { throw EngineError.invalidMonitors(lines) }
            logger.warning(
                "skipping \(lines.count) invalid line(s):\n  \(lines.prefix(20).joined(separator: "\n  "))")
            if parsed.entries.isEmpty {
                throw EngineError.monitorsFile(
                    path: configuration.monitorsPath, reason: "none of its monitor lines is valid (see above)")
            }
        }
        return parsed.entries
    }

    /// A check holds a socket, and a loop holds thousands of checks: lift the soft limit on open
    /// files (1024 by default) to the hard limit.
    private static func raiseFileDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// The CA bundle curl verifies against: the system bundle, or the system bundle plus the
/// operator's extra CAs (`--ca-file`) written to a private temporary file. One file, no CA
/// path: curl then parses it once and caches it (docs/PLATFORM.md).
struct CABundle {
    let path: String?
    private let isTemporary: Bool

    init(extraFile: String?) throws(EngineError) {
        let system =
            FileManager.default.isReadableFile(atPath: EngineConfiguration.systemCABundle)
            ? EngineConfiguration.systemCABundle : nil
        guard let extraFile else {
            path = system
            isTemporary = false
            return
        }
        guard let extra = FileManager.default.contents(atPath: extraFile) else {
            throw EngineError.caFile(path: extraFile, reason: "cannot read the file")
        }
        guard String(decoding: extra, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            throw EngineError.caFile(path: extraFile, reason: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
        }
        var combined = Data()
        if let system, let systemData = FileManager.default.contents(atPath: system) {
            combined.append(systemData)
            combined.append(contentsOf: [0x0A])
        }
        combined.append(extra)
        var template = Array((NSTemporaryDirectory() + "/lookout-ca-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw EngineError.caFile(path: extraFile, reason: "cannot create a temporary bundle") }
        let written = combined.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        Glibc.close(fd)
        let tempPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard written == combined.count else {
            unlink(tempPath)
            throw EngineError.caFile(path: extraFile, reason: "cannot write a temporary bundle")
        }
        path = tempPath
        isTemporary = true
    }

    func remove() {
        if isTemporary, let path { unlink(path) }
    }
}
