import LookoutCore
import LookoutFFI
import Synchronization

/// A change to the monitors of a running loop (cluster mode: API edits, shard hand-over), or a
/// request to check one of them now.
enum MonitorCommand: Sendable {
    /// Add the monitor, or replace the definition of the monitor with the same id.
    case upsert(PreparedMonitor)
    /// Stop checking the monitor (a check in flight still reports its result).
    case remove(id: String)
    /// Keep checking the monitor until `atWallMicros` (epoch µs), then stop: its first due time
    /// at or after that instant is the new owner's (shard hand-over at an agreed moment).
    case retire(id: String, atWallMicros: Int64)
    /// Check the monitor at once, off its schedule ("check now"); its regular checks keep their
    /// times. Satisfied without a new check when one is in flight or already requested; ignored
    /// for a monitor the loop does not have (and in `once` runs).
    case checkNow(id: String)
}

/// One engine thread: a libev loop that keeps up to `maxInFlight` checks in flight with one curl
/// multi handle and one c-ares channel, for the monitors assigned to it.
///
/// Thread confinement: everything here is created by the starting thread, then used only by the
/// loop thread inside `run()`. The exceptions are `requestStop()` and `apply(_:)` (a locked
/// queue and an ev_async send) and `statistics` (atomics); hence `@unchecked Sendable`.
final class CheckLoop: CurlMultiDelegate, @unchecked Sendable {
    struct Configuration: Sendable {
        /// Checks in flight at most on this loop (DNS wait included).
        var maxInFlight: Int
        var policy: TargetPolicy
        /// CA bundle file for TLS verification (nil = curl's built-in default).
        var caBundlePath: String?
        var dnsServer: String?
        var dnsTimeoutMs: Int
        var dnsTries: Int
        var dnsCache: DNSCache.Configuration
        /// DNS queries in flight at most on this loop; more wait in a queue. A burst of
        /// thousands of outstanding UDP queries overflows the socket buffers (the kernel caps
        /// SO_RCVBUF) and turns into false dns_timeout errors.
        var dnsMaxQueriesInFlight: Int = 128
        /// Run each monitor once, then stop.
        var once: Bool
        var userAgent: String
        /// Cluster mode: confirmed state changes (hysteresis per monitor, a quick re-check
        /// before a first failure counts) go here, in batches, from the loop thread.
        var stateEvents: (@Sendable ([StateChangeEvent]) -> Void)? = nil
        /// Named in state-change events.
        var engineId: String = ""
        /// `--max-per-host`: shared by every loop of the process; nil = no per-address limit.
        var hostPermits: HostPermits? = nil
    }

    /// Where a check waiting for a per-host permit will connect once it has one.
    private struct PermitWait {
        let address: IPAddress
        /// Its `HostPermits` bucket: the queue it waits in.
        let bucket: Int
        /// CONNECT_TO pin (nil for a literal host, see `connect(slot:literal:)`).
        let connectTo: IPAddress?
    }

    /// A check in flight. Lives in `slots`, indexed by the slot number curl and DNS carry.
    private struct CheckState {
        var monitor: Int32 = -1
        var due: Int64 = 0
        var startMonotonic: Int64 = 0
        var startWall: Int64 = 0
        var dnsStarted: Int64 = 0
        var dnsMicros: Int64 = 0
        var redirects: Int16 = 0
        /// Status of the last redirect answer, reported when a later hop fails without one.
        var redirectStatus: Int32 = 0
        /// The URL of the current hop (the monitor's own, or a redirect target).
        var hopURL: MonitorURL?
        var hopURLText: String = ""
        /// URLs already requested, kept only once a redirect happened (loop detection).
        var visited: [String] = []
        var easy: CurlEasy?
        var waitingForName: String?
        /// The monitor as it was when the check started (it may be edited or removed meanwhile).
        var prepared: PreparedMonitor?
        /// The per-host permit of the current hop, given back when the hop ends.
        var permit: HostPermits.Permit?
        /// Set while the check waits in `permitQueues`.
        var waitingForPermit: PermitWait?
        var permitWaitStarted: Int64 = 0
        /// Time spent waiting for per-host permits (every hop): reported as lag, not duration.
        var permitWaitMicros: Int64 = 0
    }

    let index: Int
    let statistics = LoopStatistics()
    private let configuration: Configuration
    /// Indexed by monitor number; nil = removed (the number is reused later).
    private var monitors: [PreparedMonitor?]
    private var generations: [UInt32]
    private var indexByID: [String: Int32] = [:]
    private var freeMonitorIndices: [Int32] = []
    /// Removed while a check of it was in flight: the number is freed when that check ends.
    private var removalPending: [Bool]
    private let pendingCommands = Mutex<[MonitorCommand]>([])
    private let results: ResultPipeline

    private let loop: EventLoop
    /// The CA bundle, parsed when the loop is made so that no check's `tlsMs` carries it.
    private let trustStore: CurlTrustStore?
    private var multi: CurlMulti!
    private var dnsChannel: DNSChannel!
    /// The `tcp`, `dns` and `tls` checks in flight (Probes/).
    private var probes: ProbeRunner!
    private var dnsCache: DNSCache
    private var scheduler: CheckScheduler
    private var schedulerTimer: LoopTimer!
    private var flushTimer: LoopTimer!
    private var wakeup: LoopWakeup!
    private let stopFlag = Atomic<Bool>(false)

    private var dnsQueriesInFlight = 0
    private var deferredQueries: [String] = []
    private var deferredQueryHead = 0
    /// "Check now" requests waiting for a free slot, oldest first (`requestedAt` on the monotonic
    /// clock: the due time of the check, so its lag is the wait for a slot). Keyed by monitor id,
    /// not number, so a monitor removed meanwhile is simply not found.
    private var requestedChecks: [(id: String, requestedAt: Int64)] = []
    private var requestedCheckHead = 0
    /// Ids in `requestedChecks`: a second request for one of them is answered by the first.
    private var requestedCheckIDs: Set<String> = []
    /// Confirmed state per monitor number (cluster mode only).
    private var health: [MonitorHealth]
    private var pendingStateEvents: [StateChangeEvent] = []
    /// Check ids: a random instance per loop and a counter (see `CheckID`).
    private let checkIdInstance = UInt64.random(in: 0 ... .max)
    private var checkIdSequence: UInt64 = 0
    private var monitorBusy: [Bool]
    private var literalAddresses: [IPAddress?]
    private var slots: [CheckState]
    /// Per monitor: the monotonic time from which its checks are another engine's (`.retire`);
    /// `.max` when it stays.
    private var retireAt: [Int64]
    /// Per slot, made on first use: ends a check whose DNS answer (or per-host permit) has not
    /// come within its whole-check budget (c-ares' own timeouts and tries may take longer).
    private var deadlines: [LoopTimer?]
    /// Slots waiting for a per-host permit (`--max-per-host`), by permit bucket, oldest first. A
    /// permit this loop gives back is offered to its own bucket's queue only (never a scan of
    /// every waiting check); every `permitRetryInterval` the head of each waiting bucket is
    /// retried for permits other loops free.
    private var permitQueues: [Int: [Int32]] = [:]
    private var permitWaiters = 0
    private var permitRetryTimer: LoopTimer!
    private var freeSlots: [Int32]
    private var spareEasies: [CurlEasy] = []
    private var outgoing: [CheckResult] = []
    private var inFlight = 0
    private var admitting = false
    private var stopping = false
    private var onceRemaining: Int
    /// Shared request headers for monitors without their own: "Connection: close".
    private let closeHeaders = CurlHeaderList(["Connection: close"])

    init(index: Int, monitors: [PreparedMonitor], configuration: Configuration, results: ResultPipeline) throws {
        self.index = index
        self.monitors = monitors
        self.configuration = configuration
        self.results = results
        self.loop = try EventLoop()
        self.trustStore = try configuration.caBundlePath.map { path throws(CurlTrustStoreError) in
            try CurlTrustStore(bundlePath: path)
        }
        self.dnsCache = DNSCache(configuration: configuration.dnsCache)
        self.scheduler = CheckScheduler(capacity: monitors.count)
        self.monitorBusy = Array(repeating: false, count: monitors.count)
        self.generations = Array(repeating: 0, count: monitors.count)
        self.health = monitors.map { MonitorHealth(state: $0.confirmedState) }
        self.removalPending = Array(repeating: false, count: monitors.count)
        self.retireAt = Array(repeating: .max, count: monitors.count)
        for (index, monitor) in monitors.enumerated() { indexByID[monitor.monitor.id] = Int32(index) }
        self.literalAddresses = monitors.map(\.url.address)
        self.slots = Array(repeating: CheckState(), count: configuration.maxInFlight)
        self.deadlines = Array(repeating: nil, count: configuration.maxInFlight)
        self.freeSlots = (0..<Int32(configuration.maxInFlight)).reversed()
        self.onceRemaining = monitors.count
        self.outgoing.reserveCapacity(Self.flushBatchSize)
        multi = CurlMulti(loop: loop)
        multi.delegate = self
        dnsChannel = try DNSChannel(
            loop: loop,
            server: configuration.dnsServer,
            timeoutMs: configuration.dnsTimeoutMs,
            tries: configuration.dnsTries
        ) { [unowned self] name, answer, ttl in
            self.dnsAnswered(name: name, answer: answer, ttlSeconds: ttl)
        }
        probes = ProbeRunner(
            loop: loop,
            configuration: .init(
                trustStore: trustStore, caBundlePath: configuration.caBundlePath,
                dnsTimeoutMs: configuration.dnsTimeoutMs, dnsTries: configuration.dnsTries),
            defaultChannel: dnsChannel
        ) { [unowned self] slot, outcome in self.probeFinished(slot: slot, outcome) }
        schedulerTimer = LoopTimer(loop: loop) { [unowned self] in self.admitDueChecks() }
        flushTimer = LoopTimer(loop: loop) { [unowned self] in self.flushResults() }
        permitRetryTimer = LoopTimer(loop: loop) { [unowned self] in self.retryWaitingPermits() }
        wakeup = LoopWakeup(loop: loop) { [unowned self] in
            self.applyPendingCommands()
            self.stopRequested()
        }
        statistics.monitors.store(monitors.count, ordering: .relaxed)
    }

    private static let flushBatchSize = 512
    private static let flushDelay = 0.05
    /// How often a loop with checks waiting for a per-host permit looks for permits freed by
    /// other loops (a permit freed on this loop is handed on at once).
    private static let permitRetryInterval = 0.005

    // MARK: lifecycle

    /// Runs the loop on the calling thread until every check is done (`once`) or a stop was
    /// requested and the checks in flight finished.
    func run() {
        let wallNow = Clock.wallMicros()
        let monotonicNow = Clock.monotonicMicros()
        for (index, monitor) in monitors.enumerated() {
            guard let monitor else { continue }
            let due =
                configuration.once
                ? monotonicNow
                : CheckPhase.firstDue(
                    offset: monitor.phaseOffsetMicros,
                    intervalMicros: monitor.intervalMicros,
                    wallNow: wallNow,
                    monotonicNow: monotonicNow
                )
            scheduler.schedule(monitor: Int32(index), due: due)
        }
        if monitors.isEmpty && configuration.once { return }
        if stopFlag.load(ordering: .relaxed) { return }
        // The first admission runs inside the loop: a check that finishes at once (policy,
        // cached DNS failure) may end a --once run, and ev_break before ev_run would be lost.
        schedulerTimer.schedule(after: 0)
        loop.run()
        flushResults()
    }

    /// Thread-safe: stop admitting checks, let those in flight finish, then leave `run()`.
    func requestStop() {
        stopFlag.store(true, ordering: .relaxed)
        wakeup.send()
    }

    /// Thread-safe: queue monitor changes for the loop; they apply on its next iteration.
    func apply(_ commands: [MonitorCommand]) {
        guard !commands.isEmpty else { return }
        pendingCommands.withLock { $0.append(contentsOf: commands) }
        wakeup.send()
    }

    private func applyPendingCommands() {
        let commands = pendingCommands.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        guard !commands.isEmpty else { return }
        let wallNow = Clock.wallMicros()
        let now = Clock.monotonicMicros()
        for command in commands {
            switch command {
            case .upsert(let prepared):
                upsert(prepared, wallNow: wallNow, now: now)
            case .remove(let id):
                remove(id: id)
            case .retire(let id, let atWallMicros):
                if let index = indexByID[id] { retireAt[Int(index)] = now + (atWallMicros - wallNow) }
            case .checkNow(let id):
                requestCheck(id: id, now: now)
            }
        }
        statistics.monitors.store(indexByID.count, ordering: .relaxed)
        if !stopping { admitDueChecks() }
    }

    private func upsert(_ prepared: PreparedMonitor, wallNow: Int64, now: Int64) {
        let index: Int
        if let existing = indexByID[prepared.monitor.id] {
            index = Int(existing)
            let previous = monitors[index]
            monitors[index] = prepared
            literalAddresses[index] = prepared.url.address
            removalPending[index] = false
            retireAt[index] = .max
            // Same interval: keep the schedule (and the phase). Otherwise start over on the new grid.
            if previous?.intervalMicros == prepared.intervalMicros { return }
            generations[index] &+= 1
        } else if let reused = freeMonitorIndices.popLast() {
            index = Int(reused)
            monitors[index] = prepared
            health[index] = MonitorHealth(state: prepared.confirmedState)
            literalAddresses[index] = prepared.url.address
            retireAt[index] = .max
            generations[index] &+= 1
            indexByID[prepared.monitor.id] = reused
        } else {
            index = monitors.count
            monitors.append(prepared)
            literalAddresses.append(prepared.url.address)
            generations.append(0)
            health.append(MonitorHealth(state: prepared.confirmedState))
            monitorBusy.append(false)
            removalPending.append(false)
            retireAt.append(.max)
            indexByID[prepared.monitor.id] = Int32(index)
        }
        // A hand-over starts on the grid from the agreed instant (even one just past: the check
        // due then is ours, late rather than lost), never more than an interval back.
        let from = max(prepared.checkFromWallMicros ?? wallNow, wallNow - prepared.intervalMicros)
        let due = CheckPhase.firstDue(
            offset: prepared.phaseOffsetMicros,
            intervalMicros: prepared.intervalMicros,
            wallNow: from,
            monotonicNow: now + (from - wallNow)
        )
        scheduler.schedule(monitor: Int32(index), due: due, generation: generations[index])
    }

    private func remove(id: String) {
        guard let existing = indexByID.removeValue(forKey: id) else { return }
        let index = Int(existing)
        monitors[index] = nil
        generations[index] &+= 1
        if monitorBusy[index] {
            removalPending[index] = true
        } else {
            freeMonitorIndices.append(existing)
        }
    }

    private func requestCheck(id: String, now: Int64) {
        guard !configuration.once, let index = indexByID[id] else { return }
        // A check in flight answers the request; so does a request already waiting.
        guard !monitorBusy[Int(index)], requestedCheckIDs.insert(id).inserted else { return }
        requestedChecks.append((id, now))
    }

    /// The oldest waiting "check now" request, if any.
    private func nextRequestedCheck() -> (id: String, requestedAt: Int64)? {
        guard requestedCheckHead < requestedChecks.count else { return nil }
        let request = requestedChecks[requestedCheckHead]
        requestedCheckHead += 1
        if requestedCheckHead == requestedChecks.count {
            requestedChecks.removeAll(keepingCapacity: true)
            requestedCheckHead = 0
        }
        requestedCheckIDs.remove(request.id)
        return request
    }

    private func stopRequested() {
        guard stopFlag.load(ordering: .relaxed), !stopping else { return }
        stopping = true
        schedulerTimer.cancel()
        if inFlight == 0 { shutDown() }
    }

    private func shutDown() {
        schedulerTimer.cancel()
        permitRetryTimer.cancel()
        flushResults()
        loop.breakLoop()
    }

    // MARK: scheduling

    private func admitDueChecks() {
        if admitting { return }
        admitting = true
        defer { admitting = false }
        var now = Clock.monotonicMicros()
        // Requested checks first: someone is waiting for them. They are one-off checks and leave
        // the scheduler (and so the monitor's phase) alone.
        while inFlight < configuration.maxInFlight && !stopping, let request = nextRequestedCheck() {
            guard let index = indexByID[request.id], let prepared = monitors[Int(index)] else { continue }
            // A check of the monitor that started meanwhile answers the request.
            if monitorBusy[Int(index)] { continue }
            startCheck(monitor: Int(index), prepared: prepared, due: request.requestedAt, now: now)
            now = Clock.monotonicMicros()
        }
        while inFlight < configuration.maxInFlight && !stopping {
            guard let entry = scheduler.popDue(now: now) else { break }
            let monitorIndex = Int(entry.monitor)
            // A removed or re-timed monitor leaves stale entries behind: drop them.
            guard entry.generation == generations[monitorIndex], let prepared = monitors[monitorIndex] else {
                continue
            }
            if entry.due >= retireAt[monitorIndex] {
                // Handed over: from this due time on the monitor is another engine's.
                remove(id: prepared.monitor.id)
                continue
            }
            if !configuration.once && !entry.isRecheck {
                let next = CheckPhase.nextDue(after: entry.due, intervalMicros: prepared.intervalMicros, now: now)
                scheduler.schedule(monitor: entry.monitor, due: next, generation: entry.generation)
            }
            if monitorBusy[monitorIndex] {
                // The previous check of this monitor is still running (interval < its duration).
                LoopStatistics.add(statistics.skippedBusy)
                continue
            }
            startCheck(monitor: monitorIndex, prepared: prepared, due: entry.due, now: now)
            now = Clock.monotonicMicros()
        }
        armSchedulerTimer(now: now)
    }

    private func armSchedulerTimer(now: Int64) {
        // At capacity no timer is needed: the next finished check admits the next due one.
        guard !stopping, inFlight < configuration.maxInFlight, let next = scheduler.nextDue else {
            schedulerTimer.cancel()
            return
        }
        schedulerTimer.schedule(after: Double(max(next - now, 0)) / 1_000_000)
    }

    // MARK: one check

    private func startCheck(monitor monitorIndex: Int, prepared: PreparedMonitor, due: Int64, now: Int64) {
        let slot = Int(freeSlots.removeLast())
        inFlight += 1
        monitorBusy[monitorIndex] = true
        LoopStatistics.add(statistics.checksStarted)
        statistics.inFlight.store(inFlight, ordering: .relaxed)
        slots[slot].monitor = Int32(monitorIndex)
        slots[slot].prepared = prepared
        slots[slot].due = due
        slots[slot].startMonotonic = now
        slots[slot].startWall = Clock.wallMicros()
        slots[slot].dnsMicros = 0
        slots[slot].redirects = 0
        slots[slot].redirectStatus = 0
        slots[slot].permitWaitMicros = 0
        slots[slot].hopURL = prepared.url
        slots[slot].hopURLText = prepared.monitor.url
        if prepared.monitor.kind == .dns && prepared.monitor.dnsServer == nil {
            // The engine's own resolver: chosen by the operator, not a target to judge.
            startProbe(slot: slot, address: nil, url: prepared.url)
        } else if let literal = literalAddresses[monitorIndex] {
            connect(slot: slot, literal: literal)
        } else {
            beginHop(slot: slot)
        }
    }

    /// Resolves the current hop's host (or takes its literal address), then starts the request.
    private func beginHop(slot: Int) {
        guard let url = slots[slot].hopURL else { return }
        if let literal = url.address {
            connect(slot: slot, literal: literal)
            return
        }
        if url.host == "localhost" || url.host.hasSuffix(".localhost") {
            // RFC 6761: localhost is loopback, never asked of DNS.
            connect(slot: slot, resolved: [.v4(0x7F00_0001)])
            return
        }
        let now = Clock.monotonicMicros()
        slots[slot].dnsStarted = now
        switch dnsCache.lookup(url.host, waiter: Int32(slot), now: now) {
        case .cached(let answer):
            LoopStatistics.add(statistics.dnsCacheHits)
            use(answer, slot: slot)
        case .joined:
            LoopStatistics.add(statistics.dnsCoalesced)
            slots[slot].waitingForName = url.host
            armDeadline(slot: slot, now: now)
        case .query:
            LoopStatistics.add(statistics.dnsCacheMisses)
            slots[slot].waitingForName = url.host
            // Armed before asking: c-ares may answer from inside `resolve`.
            armDeadline(slot: slot, now: now)
            if dnsQueriesInFlight < configuration.dnsMaxQueriesInFlight {
                dnsQueriesInFlight += 1
                dnsChannel.resolve(url.host)
            } else {
                deferredQueries.append(url.host)
            }
        }
    }

    /// The check's budget runs from its start across DNS, per-host waits and every hop: the wait
    /// for a DNS answer ends with `dns_timeout`, the wait for a per-host permit with `timeout`,
    /// when the budget is spent.
    private func armDeadline(slot: Int, now: Int64) {
        guard let monitor = slots[slot].prepared?.monitor else { return }
        let deadline = slots[slot].startMonotonic + Int64(monitor.timeoutMs) * 1000
        let timer: LoopTimer
        if let existing = deadlines[slot] {
            timer = existing
        } else {
            timer = LoopTimer(loop: loop) { [unowned self] in self.deadlinePassed(slot: slot) }
            deadlines[slot] = timer
        }
        timer.schedule(after: Double(max(deadline - now, 0)) / 1_000_000)
    }

    private func deadlinePassed(slot: Int) {
        guard let monitor = slots[slot].prepared?.monitor,
            slots[slot].waitingForName != nil || slots[slot].waitingForPermit != nil
        else { return }
        let now = Clock.monotonicMicros()
        let deadline = slots[slot].startMonotonic + Int64(monitor.timeoutMs) * 1000
        if now < deadline {
            // libev measures from its cached loop time, which may lag the clock a little.
            deadlines[slot]?.schedule(after: Double(deadline - now) / 1_000_000)
            return
        }
        if let wait = slots[slot].waitingForPermit {
            stopWaitingForPermit(slot: slot, now: now)
            let limit = configuration.hostPermits?.limit ?? 0
            finish(
                slot: slot,
                status: .timeout,
                errorCode: .timeout,
                message: "no turn to connect to \(wait.address) within the check's timeout of \(monitor.timeoutMs) ms "
                    + "(--max-per-host \(limit): that many checks to it were in flight)"
            )
            return
        }
        guard let name = slots[slot].waitingForName else { return }
        // The query goes on for any other check waiting for the name (and fills the cache).
        dnsCache.removeWaiter(Int32(slot), of: name)
        slots[slot].waitingForName = nil
        slots[slot].dnsMicros += now - slots[slot].dnsStarted
        finish(
            slot: slot,
            status: CheckErrorCode.dnsTimeout.status,
            errorCode: .dnsTimeout,
            message: "no DNS answer for \(name) within the check's timeout of \(monitor.timeoutMs) ms"
        )
    }

    private func dnsAnswered(name: String, answer: DNSAnswer, ttlSeconds: Int) {
        let now = Clock.monotonicMicros()
        dnsQueriesInFlight -= 1
        startDeferredQuery()
        let waiters = dnsCache.complete(name, answer: answer, ttlSeconds: ttlSeconds, now: now)
        statistics.dnsCacheEntries.store(dnsCache.entryCount, ordering: .relaxed)
        for waiter in waiters {
            let slot = Int(waiter)
            guard slots[slot].waitingForName == name else { continue }
            slots[slot].waitingForName = nil
            deadlines[slot]?.cancel()
            slots[slot].dnsMicros += now - slots[slot].dnsStarted
            use(answer, slot: slot)
        }
    }

    /// Sends the oldest queued query, if any (one answer in, one query out).
    private func startDeferredQuery() {
        guard deferredQueryHead < deferredQueries.count else { return }
        let name = deferredQueries[deferredQueryHead]
        deferredQueryHead += 1
        if deferredQueryHead == deferredQueries.count {
            deferredQueries.removeAll(keepingCapacity: true)
            deferredQueryHead = 0
        }
        dnsQueriesInFlight += 1
        dnsChannel.resolve(name)
    }

    private func use(_ answer: DNSAnswer, slot: Int) {
        switch answer {
        case .failure(let code, let message):
            finish(slot: slot, status: code.status, errorCode: code, message: message)
        case .addresses(let addresses):
            connect(slot: slot, resolved: addresses)
        }
    }

    private func connect(slot: Int, literal: IPAddress) {
        if let range = configuration.policy.refusal(for: literal) {
            finish(slot: slot, status: .error, errorCode: .policy, message: Self.policyMessage(literal, range))
            return
        }
        // Not pinned with CONNECT_TO (curl would parse that list on every transfer): the request
        // URL spells an IPv4 host in its canonical dotted form (MonitorURL.requestURL), so curl
        // reads the address the policy judged, and the open-socket callback checks every
        // connection against the policy anyway.
        startTransferWhenPermitted(slot: slot, address: literal, connectTo: nil)
    }

    private func connect(slot: Int, resolved addresses: [IPAddress]) {
        // The first address the policy allows is the one curl connects to (CONNECT_TO), so a
        // name cannot be re-resolved to something else between check and connect.
        guard let address = addresses.first(where: { configuration.policy.refusal(for: $0) == nil }) else {
            let first = addresses[0]
            let range = configuration.policy.refusal(for: first) ?? "refused"
            let host = slots[slot].hopURL?.host ?? "host"
            finish(
                slot: slot,
                status: .error,
                errorCode: .policy,
                message: "\(host) resolves to \(first): " + Self.policyMessage(first, range)
            )
            return
        }
        startTransferWhenPermitted(slot: slot, address: address, connectTo: address)
    }

    private static func policyMessage(_ address: IPAddress, _ range: String) -> String {
        "connection to \(address) refused by the target policy (\(range) address); "
            + "allow it with --allow-private-targets or --allow-target"
    }

    // MARK: per-host permits

    /// `--max-per-host`: the hop's transfer starts once a permit for `address` is free; until
    /// then the check waits in `permitQueues`, its budget running (see `armDeadline`).
    ///
    /// Permits are per hop: a redirect gives the permit back and the next hop takes one for its
    /// own address, so a check never holds a permit for a host it is not talking to. A newly
    /// arrived check may take a permit another loop just freed before this loop's queue retries
    /// (the order is FIFO per loop, not across loops); a permit freed on this loop goes to the
    /// queue first.
    private func startTransferWhenPermitted(slot: Int, address: IPAddress, connectTo: IPAddress?) {
        guard let permits = configuration.hostPermits else {
            startTransfer(slot: slot, connectTo: connectTo)
            return
        }
        let bucket = permits.bucket(of: address)
        if let permit = permits.acquire(bucket: bucket) {
            slots[slot].permit = permit
            startTransfer(slot: slot, connectTo: connectTo)
            return
        }
        let now = Clock.monotonicMicros()
        slots[slot].waitingForPermit = PermitWait(address: address, bucket: bucket, connectTo: connectTo)
        slots[slot].permitWaitStarted = now
        permitQueues[bucket, default: []].append(Int32(slot))
        permitWaiters += 1
        LoopStatistics.add(statistics.hostWaits)
        statistics.waitingForHost.store(permitWaiters, ordering: .relaxed)
        armDeadline(slot: slot, now: now)
        updatePermitRetryTimer()
    }

    /// Starts the checks waiting in `bucket`'s queue, oldest first, while permits are free. The
    /// queue is brought up to date before each start: a started check may finish at once and
    /// give its permit back (which comes here again).
    private func drainPermitQueue(bucket: Int) {
        guard let permits = configuration.hostPermits else { return }
        while let head = permitQueues[bucket]?.first, let permit = permits.acquire(bucket: bucket) {
            let slot = Int(head)
            guard let wait = slots[slot].waitingForPermit else {
                // Not waiting any more (cannot happen: leaving the wait leaves the queue).
                permits.release(permit)
                removeFromPermitQueue(slot: slot, bucket: bucket)
                continue
            }
            stopWaitingForPermit(slot: slot, now: Clock.monotonicMicros())
            slots[slot].permit = permit
            startTransfer(slot: slot, connectTo: wait.connectTo)
        }
        updatePermitRetryTimer()
    }

    /// The periodic retry: each waiting bucket, for permits other loops gave back.
    private func retryWaitingPermits() {
        for bucket in Array(permitQueues.keys) { drainPermitQueue(bucket: bucket) }
        updatePermitRetryTimer()
    }

    private func updatePermitRetryTimer() {
        if permitWaiters == 0 {
            permitRetryTimer.cancel()
        } else if !permitRetryTimer.isScheduled {
            permitRetryTimer.schedule(after: Self.permitRetryInterval)
        }
    }

    /// Takes the slot out of the wait for a permit (it got one, or its budget ran out).
    private func stopWaitingForPermit(slot: Int, now: Int64) {
        guard let wait = slots[slot].waitingForPermit else { return }
        slots[slot].waitingForPermit = nil
        slots[slot].permitWaitMicros += now - slots[slot].permitWaitStarted
        deadlines[slot]?.cancel()
        removeFromPermitQueue(slot: slot, bucket: wait.bucket)
    }

    private func removeFromPermitQueue(slot: Int, bucket: Int) {
        guard let position = permitQueues[bucket]?.firstIndex(of: Int32(slot)) else { return }
        permitQueues[bucket]?.remove(at: position)
        if permitQueues[bucket]?.isEmpty == true { permitQueues[bucket] = nil }
        permitWaiters -= 1
        statistics.waitingForHost.store(permitWaiters, ordering: .relaxed)
    }

    /// Gives the hop's permit back; its bucket, or nil if there was none.
    @discardableResult
    private func releasePermit(slot: Int) -> Int? {
        guard let permit = slots[slot].permit else { return nil }
        configuration.hostPermits?.release(permit)
        slots[slot].permit = nil
        return permit.bucket
    }

    // MARK: transfers

    private func startTransfer(slot: Int, connectTo address: IPAddress?) {
        let now = Clock.monotonicMicros()
        guard let prepared = slots[slot].prepared else { return }
        let monitor = prepared.monitor
        // The wait for a free slot never counts; DNS, per-host permit waits and earlier hops do.
        let remainingMs = (Int64(monitor.timeoutMs) * 1000 - (now - slots[slot].startMonotonic)) / 1000
        guard remainingMs > 0, let url = slots[slot].hopURL else {
            finish(
                slot: slot,
                status: .timeout,
                errorCode: .timeout,
                message: "the time budget was spent before the request could start"
            )
            return
        }
        if monitor.kind != .http {
            startProbe(slot: slot, address: address ?? url.address, url: url)
            return
        }
        let easy =
            spareEasies.popLast()
            ?? CurlEasy(policy: configuration.policy, caBundlePath: configuration.caBundlePath, trustStore: trustStore)
        easy.checkSlot = Int32(slot)
        easy.prepareForTransfer(
            captureBody: monitor.needsBody,
            bodyLimit: monitor.maxBodyBytes,
            wantsCertificate: url.scheme == .https
        )
        easy.configure(
            url: url.requestURL,
            monitor: monitor,
            headers: prepared.headers ?? (monitor.reuseConnection ? nil : closeHeaders),
            timeoutMs: Int(remainingMs),
            connectTimeoutMs: monitor.connectTimeoutMs,
            userAgent: configuration.userAgent
        )
        if let address {
            // A literal host matches any host name: curl's spelling of an IPv6 literal may differ.
            easy.setConnectTo(host: url.hostIsIPLiteral ? nil : url.host, port: url.port, address: address)
        }
        slots[slot].easy = easy
        multi.add(easy)
    }

    func transferFinished(_ easy: CurlEasy, failure: (CheckErrorCode, String)?) {
        let slot = Int(easy.checkSlot)
        guard let monitor = slots[slot].prepared?.monitor else { return }
        if let (code, message) = failure {
            finish(slot: slot, status: code.status, errorCode: code, message: message)
            return
        }
        let httpStatus = easy.responseCode
        if monitor.followRedirects, (300...399).contains(httpStatus), httpStatus != 304, let location = easy.redirectURL
        {
            followRedirect(slot: slot, to: location, maxRedirects: monitor.maxRedirects, httpStatus: httpStatus)
            return
        }
        let verdict = ResponseEvaluator.evaluate(monitor, httpStatus: httpStatus, body: easy.body)
        finish(
            slot: slot,
            status: verdict.status,
            httpStatus: httpStatus,
            errorCode: verdict.errorCode,
            message: verdict.message
        )
    }

    private func followRedirect(slot: Int, to location: String, maxRedirects: Int, httpStatus: Int) {
        let from = slots[slot].hopURLText
        if slots[slot].visited.isEmpty { slots[slot].visited.append(from) }
        if slots[slot].visited.contains(location) {
            let path = (slots[slot].visited + [location]).joined(separator: " -> ")
            finish(
                slot: slot,
                status: .error,
                httpStatus: httpStatus,
                errorCode: .redirectLoop,
                message: "redirect loop: \(path)"
            )
            return
        }
        if Int(slots[slot].redirects) >= maxRedirects {
            finish(
                slot: slot,
                status: .error,
                httpStatus: httpStatus,
                errorCode: .tooManyRedirects,
                message: "more than \(maxRedirects) redirects (next: \(location))"
            )
            return
        }
        let next: MonitorURL
        do {
            next = try MonitorURL(location, field: "Location")
        } catch {
            let code: CheckErrorCode = error.reason.hasPrefix("scheme") ? .unsupportedScheme : .badRedirect
            finish(
                slot: slot,
                status: .error,
                httpStatus: httpStatus,
                errorCode: code,
                message: "redirect to \(location) refused: \(error.reason)"
            )
            return
        }
        // Hand the finished hop's handle and permit back before the next hop takes its own.
        if let easy = slots[slot].easy {
            easy.finishTransfer()
            spareEasies.append(easy)
            slots[slot].easy = nil
        }
        let releasedPermit = releasePermit(slot: slot)
        slots[slot].redirects += 1
        slots[slot].redirectStatus = Int32(httpStatus)
        slots[slot].visited.append(location)
        slots[slot].hopURL = next
        slots[slot].hopURLText = location
        beginHop(slot: slot)
        // After the next hop had its chance: a redirect to the same host keeps its turn.
        if let releasedPermit { drainPermitQueue(bucket: releasedPermit) }
    }

    private func finish(
        slot: Int,
        status: CheckStatus,
        httpStatus: Int = 0,
        errorCode: CheckErrorCode?,
        message: String?,
        probe: ProbeOutcome? = nil
    ) {
        let now = Clock.monotonicMicros()
        stopWaitingForPermit(slot: slot, now: now)
        let releasedPermit = releasePermit(slot: slot)
        let state = slots[slot]
        let monitorIndex = Int(state.monitor)
        // Waiting for a per-host permit is waiting to start: it shows as lag, not duration.
        let permitWait = state.permitWaitMicros
        var connect: Int64 = 0
        var tls: Int64 = 0
        var ttfb: Int64 = 0
        var certificate: Int64?
        if let easy = state.easy {
            let timings = easy.timings
            connect = max(timings.connect - timings.nameLookup, 0)
            tls = timings.appConnect > 0 ? max(timings.appConnect - timings.connect, 0) : 0
            ttfb = timings.startTransfer
            certificate = easy.certificateNotAfter
            easy.finishTransfer()
            spareEasies.append(easy)
        } else if let probe {
            connect = probe.connectMicros
            tls = probe.tlsMicros
            ttfb = probe.ttfbMicros
            certificate = probe.certExpiresAt
        }
        outgoing.append(
            CheckResult(
                monitorId: state.prepared?.monitor.id ?? "",
                checkedAtMs: (state.startWall + permitWait) / 1000,
                status: status,
                httpStatus: httpStatus != 0 ? Int32(httpStatus) : state.redirectStatus,
                dnsMicros: Self.clamp(state.dnsMicros + (probe?.dnsMicros ?? 0)),
                connectMicros: Self.clamp(connect),
                tlsMicros: Self.clamp(tls),
                ttfbMicros: Self.clamp(ttfb),
                totalMicros: Self.clamp(now - state.startMonotonic - permitWait),
                lagMicros: Self.clamp(state.startMonotonic - state.due + permitWait),
                redirects: state.redirects,
                errorCode: errorCode,
                errorMessage: message,
                certExpiresAt: certificate,
                checkId: nextCheckId(),
                details: probe?.details
            )
        )
        if configuration.stateEvents != nil, let prepared = state.prepared {
            trackHealth(of: monitorIndex, prepared: prepared, result: outgoing[outgoing.count - 1], now: now)
        }
        slots[slot].easy = nil
        slots[slot].hopURL = nil
        if slots[slot].waitingForName != nil {
            deadlines[slot]?.cancel()
            slots[slot].waitingForName = nil
        }
        slots[slot].prepared = nil
        if !slots[slot].visited.isEmpty { slots[slot].visited = [] }
        monitorBusy[monitorIndex] = false
        if removalPending[monitorIndex] {
            removalPending[monitorIndex] = false
            freeMonitorIndices.append(Int32(monitorIndex))
        }
        inFlight -= 1
        freeSlots.append(Int32(slot))
        LoopStatistics.add(statistics.checksFinished)
        statistics.inFlight.store(inFlight, ordering: .relaxed)
        if let releasedPermit { drainPermitQueue(bucket: releasedPermit) }

        if outgoing.count >= Self.flushBatchSize {
            flushResults()
        } else if !flushTimer.isScheduled {
            flushTimer.schedule(after: Self.flushDelay)
        }
        if configuration.once {
            onceRemaining -= 1
            if onceRemaining == 0 {
                shutDown()
                return
            }
        }
        if stopping {
            if inFlight == 0 { shutDown() }
            return
        }
        admitDueChecks()
    }

    /// Hands a `tcp`, `dns` or `tls` check to its probe, with the rest of the check's budget.
    private func startProbe(slot: Int, address: IPAddress?, url: MonitorURL) {
        guard let monitor = slots[slot].prepared?.monitor else { return }
        let request = ProbeRequest(
            monitor: monitor, address: address, host: url.host, port: url.port,
            startMonotonic: slots[slot].startMonotonic,
            deadline: slots[slot].startMonotonic + Int64(monitor.timeoutMs) * 1000)
        probes.start(slot: slot, request: request)
    }

    private func probeFinished(slot: Int, _ outcome: ProbeOutcome) {
        finish(
            slot: slot, status: outcome.status, errorCode: outcome.errorCode, message: outcome.message, probe: outcome)
    }

    private func flushResults() {
        flushTimer.cancel()
        if !pendingStateEvents.isEmpty, let sink = configuration.stateEvents {
            sink(pendingStateEvents)
            pendingStateEvents.removeAll(keepingCapacity: true)
        }
        guard !outgoing.isEmpty else { return }
        results.submit(outgoing)
        outgoing.removeAll(keepingCapacity: true)
    }

    private func nextCheckId() -> CheckID {
        checkIdSequence &+= 1
        return CheckID(instance: checkIdInstance, sequence: checkIdSequence)
    }

    /// Feeds the result to the monitor's hysteresis: a confirmed change becomes an event; a
    /// change waiting for confirmation asks for a quick extra check.
    private func trackHealth(of monitorIndex: Int, prepared: PreparedMonitor, result: CheckResult, now: Int64) {
        // The monitor may have been removed (or replaced) while the check ran.
        guard monitors[monitorIndex]?.monitor.id == prepared.monitor.id else { return }
        let decision = health[monitorIndex].record(
            result.status,
            intervalSeconds: prepared.monitor.intervalSeconds,
            thresholds: prepared.thresholds
        )
        if let transition = decision.transition {
            pendingStateEvents.append(
                StateChangeEvent(
                    monitorId: prepared.monitor.id,
                    from: transition.from,
                    to: transition.to,
                    atMs: result.checkedAtMs,
                    checkId: result.checkId?.description ?? "",
                    engineId: configuration.engineId,
                    reason: result.errorCode?.rawValue ?? "up",
                    message: result.errorMessage ?? ""
                )
            )
        }
        if let delay = decision.recheckAfterSeconds, !stopping {
            scheduler.schedule(
                monitor: Int32(monitorIndex),
                due: now + Int64(delay * 1_000_000),
                generation: generations[monitorIndex],
                isRecheck: true
            )
        }
    }

    @inline(__always)
    private static func clamp(_ value: Int64) -> Int32 {
        Int32(clamping: value)
    }
}
