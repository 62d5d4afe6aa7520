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
    /// Every monitor of the run has been given (the upserts before this command were the last):
    /// a `once` loop made with `onceAwaitsAllMonitors` may end when their checks are done.
    /// Ignored otherwise.
    case allMonitorsGiven
    /// About `monitors` more are on their way (a take-over): room is made for them at once, so
    /// the monitor table grows once instead of doubling its way up.
    case reserve(monitors: Int)
}

/// One engine thread: a libev loop that keeps up to `maxInFlight` checks in flight with one curl
/// multi handle and one c-ares channel, for the monitors assigned to it.
///
/// This is the I/O shell. The decisions live in value types tested without I/O: each check in
/// flight is a `CheckStateMachine` (budget, hops, redirects, policy, classification), the
/// monitors are a `MonitorTable`, the DNS cap is a `DNSQueryQueue`, the cache a `DNSCache` and
/// the schedule a `CheckScheduler`. The shell feeds them events with the time and carries out
/// the actions they return: DNS queries, per-host permits, curl transfers, deadline timers and
/// the hand-off of results.
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
        /// DNS queries in flight at most on this loop; more wait in a queue (`DNSQueryQueue`).
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
        /// `--schedule-slack-ms`: a due check may wait this long for others due soon after it, so
        /// that checks due close together start in one wake-up of the loop; the wait shows as
        /// lag. A due time further away than this is kept exactly. 0 = wake for each due time.
        var scheduleSlackMicros: Int64 = CheckLoop.defaultScheduleSlackMicros
        /// A `once` run whose loops start before every monitor is known (a large monitors file
        /// read in two steps): the rest arrive as upserts, each checked at once, and a loop ends
        /// only after `.allMonitorsGiven` and the checks of all its monitors. Default false.
        var onceAwaitsAllMonitors = false
    }

    let index: Int
    let statistics = LoopStatistics()
    private let configuration: Configuration
    private var table: MonitorTable
    /// Batches from other threads, in arrival order: a batch is appended whole (its array moves
    /// in), where joining them copied every command (a take-over hands over a million).
    private let pendingCommands = Mutex<[[MonitorCommand]]>([])
    private let results: ResultPipeline

    private let loop: EventLoop
    /// The CA bundle, parsed when the loop is made so that no check's `tlsMs` carries it.
    private let trustStore: CurlTrustStore?
    private var multi: CurlMulti!
    private var dnsChannel: DNSChannel!
    /// The `tcp`, `dns` and `tls` checks in flight (Probes/).
    private var probes: ProbeRunner!
    private var dnsCache: DNSCache
    private var dnsQueries: DNSQueryQueue
    private var scheduler: CheckScheduler
    private var schedulerTimer: LoopTimer!
    /// The due time `schedulerTimer` was last set for (monotonic µs).
    private var schedulerTimerDue: Int64 = 0
    private var flushTimer: LoopTimer!
    private var wakeup: LoopWakeup!
    private let stopFlag = Atomic<Bool>(false)

    /// "Check now" requests waiting for a free slot, oldest first (`requestedAt` on the monotonic
    /// clock: the due time of the check, so its lag is the wait for a slot). Keyed by monitor id,
    /// not number, so a monitor removed meanwhile is simply not found.
    private var requestedChecks: [(id: String, requestedAt: Int64)] = []
    private var requestedCheckHead = 0
    /// Ids in `requestedChecks`: a second request for one of them is answered by the first.
    private var requestedCheckIDs: Set<String> = []
    /// Requests that wait for the check in flight to end: the monitor was changed after that
    /// check started, so it cannot answer them (it runs the old definition).
    private var requestsAfterCurrentCheck: Set<String> = []
    private var pendingStateEvents: [StateChangeEvent] = []
    /// Check ids: a random instance per loop and a counter (see `CheckID`).
    private let checkIdInstance = UInt64.random(in: 0 ... .max)
    private var checkIdSequence: UInt64 = 0

    // Per slot (a check in flight), indexed by the slot number curl and DNS carry.
    /// The check's decisions.
    private var slots: [CheckStateMachine]
    /// The curl handle of the current hop's transfer.
    private var easies: [CurlEasy?]
    /// The per-host permit of the current hop, given back when the hop ends.
    private var permits: [HostPermits.Permit?]
    /// The `HostPermits` bucket whose queue the check waits in, while it waits for a permit.
    private var permitWaitBuckets: [Int?]
    /// Made on first use: ends a check whose DNS answer (or per-host permit) has not come within
    /// its whole-check budget (c-ares' own timeouts and tries may take longer).
    private var deadlines: [LoopTimer?]
    private var freeSlots: [Int32]

    /// Slots waiting for a per-host permit (`--max-per-host`), by permit bucket, oldest first. A
    /// permit this loop gives back is offered to its own bucket's queue only (never a scan of
    /// every waiting check); every `permitRetryInterval` the head of each waiting bucket is
    /// retried for permits other loops free.
    private var permitQueues: PermitWaitQueues
    /// No permit wait ends by its budget before this instant (monotonic µs; `.max`: none waits).
    private var earliestPermitWaitDeadline: Int64 = .max
    private var permitRetryTimer: LoopTimer!
    /// Fires at `earliestPermitWaitDeadline`.
    private var permitDeadlineTimer: LoopTimer!
    private var spareEasies: [CurlEasy] = []
    private var outgoing: [CheckResult] = []
    private var inFlight = 0
    private var admitting = false
    private var stopping = false
    private var onceRemaining: Int
    /// Shared request headers for monitors without their own: "Connection: close".
    private let closeHeaders = CurlHeaderList(["Connection: close"])
    /// Loop thread only (tests read it once the loop has ended).
    let tlsSessions = TLSSessionReuse()
    private var transferProfiles = TransferProfiles()

    init(index: Int, monitors: [PreparedMonitor], configuration: Configuration, results: ResultPipeline) throws {
        self.index = index
        self.table = MonitorTable(monitors)
        self.configuration = configuration
        self.results = results
        self.loop = try EventLoop()
        self.trustStore = try configuration.caBundlePath.map { path throws(CurlTrustStoreError) in
            try CurlTrustStore(bundlePath: path)
        }
        self.dnsCache = DNSCache(configuration: configuration.dnsCache)
        self.dnsQueries = DNSQueryQueue(limit: max(configuration.dnsMaxQueriesInFlight, 1))
        self.scheduler = CheckScheduler(capacity: monitors.count)
        let rules = CheckStateMachine.Rules(policy: configuration.policy, hostLimit: configuration.hostPermits?.limit)
        self.slots = Array(repeating: CheckStateMachine(rules: rules), count: configuration.maxInFlight)
        self.easies = Array(repeating: nil, count: configuration.maxInFlight)
        self.permits = Array(repeating: nil, count: configuration.maxInFlight)
        self.permitWaitBuckets = Array(repeating: nil, count: configuration.maxInFlight)
        self.permitQueues = PermitWaitQueues(bucketCount: configuration.hostPermits?.bucketCount ?? 0)
        self.deadlines = Array(repeating: nil, count: configuration.maxInFlight)
        self.freeSlots = (0..<Int32(configuration.maxInFlight)).reversed()
        // One more while monitors may still come: `.allMonitorsGiven` is the last thing waited for.
        self.onceRemaining = monitors.count + (configuration.once && configuration.onceAwaitsAllMonitors ? 1 : 0)
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
        permitDeadlineTimer = LoopTimer(loop: loop) { [unowned self] in self.expirePermitWaits() }
        wakeup = LoopWakeup(loop: loop) { [unowned self] in
            self.applyPendingCommands()
            self.stopRequested()
        }
        statistics.monitors.store(monitors.count, ordering: .relaxed)
    }

    /// 5 ms. At 3,000 checks/s on one loop, waking for every due time put the loop to sleep and
    /// back ~2,000 times a second; with 5 ms of slack it wakes at most 200 times a second for its
    /// schedule, and CPU per check fell ~19% (docs/BENCHMARKS.md, "Wake-ups").
    static let defaultScheduleSlackMicros: Int64 = 5_000

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
        for (index, monitor) in table.monitors.enumerated() {
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
        if configuration.once && onceRemaining == 0 { return }
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
        pendingCommands.withLock { $0.append(commands) }
        wakeup.send()
    }

    private func applyPendingCommands() {
        var batches: [[MonitorCommand]] = []
        pendingCommands.withLock { swap(&$0, &batches) }
        guard !batches.isEmpty else { return }
        let wallNow = Clock.wallMicros()
        let now = Clock.monotonicMicros()
        for command in batches.joined() {
            switch command {
            case .upsert(let prepared):
                upsert(prepared, wallNow: wallNow, now: now)
            case .remove(let id):
                table.remove(id: id)
                tlsSessions.forget(monitorId: id)
            case .retire(let id, let atWallMicros):
                // Its sessions are forgotten when it leaves the table (`admitDueChecks`).
                table.retire(id: id, at: now + (atWallMicros - wallNow))
            case .checkNow(let id):
                requestCheck(id: id, now: now)
            case .reserve(let monitors):
                table.reserveCapacity(additional: monitors)
                scheduler.reserveCapacity(additional: monitors)
            case .allMonitorsGiven:
                guard configuration.once && configuration.onceAwaitsAllMonitors else { continue }
                onceRemaining -= 1
                if onceRemaining == 0 {
                    shutDown()
                    return
                }
            }
        }
        statistics.monitors.store(table.count, ordering: .relaxed)
        if !stopping { admitDueChecks() }
    }

    private func upsert(_ prepared: PreparedMonitor, wallNow: Int64, now: Int64) {
        let change = table.upsert(prepared)
        if let previous = change.replaced, previous.url != prepared.url || !prepared.monitor.tlsSessionReuse {
            // Sessions of another target, or of a monitor that no longer resumes: of no more use.
            tlsSessions.forget(monitorId: prepared.monitor.id)
        }
        guard change.needsSchedule else { return }
        if configuration.once {
            // A monitor of a `once` run that arrives late is checked at once, like the first ones
            // (and only once: an edit is not a second monitor).
            guard change.replaced == nil else { return }
            onceRemaining += 1
            scheduler.schedule(monitor: Int32(change.index), due: now, generation: change.generation)
            return
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
        scheduler.schedule(monitor: Int32(change.index), due: due, generation: change.generation)
    }

    private func requestCheck(id: String, now: Int64) {
        guard !configuration.once, let index = table.index(of: id) else { return }
        if table.busy[index] {
            // A check in flight answers the request, unless it runs a definition the monitor
            // no longer has (edited, then "check now"): the request then waits for it to end.
            let current = table.monitors[index]
            let runsOldDefinition = slots.contains {
                $0.prepared != nil && Int($0.monitorIndex) == index && $0.prepared !== current
            }
            if runsOldDefinition { requestsAfterCurrentCheck.insert(id) }
            return
        }
        // A request already waiting answers it too.
        guard requestedCheckIDs.insert(id).inserted else { return }
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
        permitDeadlineTimer.cancel()
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
            guard let index = table.index(of: request.id), let prepared = table.monitors[index] else { continue }
            // A check of the monitor that started meanwhile answers the request.
            if table.busy[index] { continue }
            startCheck(monitor: index, prepared: prepared, due: request.requestedAt, now: now)
            now = Clock.monotonicMicros()
        }
        while inFlight < configuration.maxInFlight && !stopping {
            guard let entry = scheduler.popDue(now: now) else { break }
            let monitorIndex = Int(entry.monitor)
            // A removed or re-timed monitor leaves stale entries behind: drop them.
            guard entry.generation == table.generations[monitorIndex], let prepared = table.monitors[monitorIndex]
            else {
                continue
            }
            if entry.due >= table.retireAt[monitorIndex] {
                // Handed over: from this due time on the monitor is another engine's.
                table.remove(id: prepared.monitor.id)
                tlsSessions.forget(monitorId: prepared.monitor.id)
                continue
            }
            if !configuration.once && !entry.isRecheck {
                let next = CheckPhase.nextDue(after: entry.due, intervalMicros: prepared.intervalMicros, now: now)
                scheduler.schedule(monitor: entry.monitor, due: next, generation: entry.generation)
            }
            if table.busy[monitorIndex] {
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
        // Most finished checks leave the next due time as it was: no timer change then.
        if schedulerTimer.isScheduled && schedulerTimerDue == next { return }
        schedulerTimerDue = next
        let delay = Self.wakeDelay(untilDue: next - now, slack: configuration.scheduleSlackMicros)
        schedulerTimer.schedule(after: Double(delay) / 1_000_000)
    }

    /// How long the loop sleeps for the schedule when the next check is due in `untilDue` µs: a
    /// due time further away than `slack` is met exactly (a quiet schedule keeps its lag near 0);
    /// one sooner waits until `slack` from now, and every check due by then starts in that one
    /// wake-up. A dense schedule so wakes every `slack`, each check at most `slack` late.
    static func wakeDelay(untilDue: Int64, slack: Int64) -> Int64 {
        max(untilDue >= slack ? untilDue : slack, 0)
    }

    // MARK: one check

    /// Where every check starts (the one place a check kind other than HTTP would branch off).
    private func startCheck(monitor monitorIndex: Int, prepared: PreparedMonitor, due: Int64, now: Int64) {
        let slot = Int(freeSlots.removeLast())
        inFlight += 1
        table.checkStarted(index: monitorIndex)
        LoopStatistics.add(statistics.checksStarted)
        statistics.inFlight.store(inFlight, ordering: .relaxed)
        let action = slots[slot].start(
            prepared,
            monitorIndex: Int32(monitorIndex),
            literal: table.literalAddresses[monitorIndex],
            due: due,
            now: now,
            wallNow: Clock.wallMicros()
        )
        perform(action, slot: slot)
    }

    /// Carries out what a check's state machine asked for.
    private func perform(_ action: consuming CheckStateMachine.Action, slot: Int) {
        switch consume action {
        case .resolve(let name, let at, let deadline):
            resolve(name, slot: slot, at: at, deadline: deadline)
        case .requestPermit(let address, let at, let deadline):
            requestPermit(for: address, slot: slot, at: at, deadline: deadline)
        case .startTransfer(let transfer):
            startTransfer(transfer, slot: slot)
        case .rearmDeadline(let at):
            armDeadline(slot: slot, at: at, now: Clock.monotonicMicros())
        case .finish(let result):
            finish(slot: slot, result: result)
        case .none:
            break
        }
    }

    // MARK: DNS

    private func resolve(_ name: String, slot: Int, at now: Int64, deadline: Int64) {
        switch dnsCache.lookup(name, waiter: Int32(slot), now: now) {
        case .cached(let answer):
            LoopStatistics.add(statistics.dnsCacheHits)
            deliver(answer, slot: slot, now: now)
        case .joined:
            LoopStatistics.add(statistics.dnsCoalesced)
            armDeadline(slot: slot, at: deadline, now: now)
        case .query:
            LoopStatistics.add(statistics.dnsCacheMisses)
            // Armed before asking: c-ares may answer from inside `resolve`.
            armDeadline(slot: slot, at: deadline, now: now)
            if dnsQueries.submit(name) { dnsChannel.resolve(name) }
        }
    }

    private func dnsAnswered(name: String, answer: DNSAnswer, ttlSeconds: Int) {
        let now = Clock.monotonicMicros()
        // One answer in, one queued query out.
        if let next = dnsQueries.answered() { dnsChannel.resolve(next) }
        let waiters = dnsCache.complete(name, answer: answer, ttlSeconds: ttlSeconds, now: now)
        statistics.dnsCacheEntries.store(dnsCache.entryCount, ordering: .relaxed)
        for waiter in waiters {
            let slot = Int(waiter)
            guard slots[slot].waitingForName == name else { continue }
            deadlines[slot]?.cancel()
            deliver(answer, slot: slot, now: now)
        }
    }

    private func deliver(_ answer: DNSAnswer, slot: Int, now: Int64) {
        switch answer {
        case .addresses(let addresses):
            perform(slots[slot].nameResolved(addresses, now: now), slot: slot)
        case .failure(let code, let message):
            perform(slots[slot].resolveFailed(code, message: message, now: now), slot: slot)
        }
    }

    // MARK: deadlines

    /// The check's budget runs from its start across DNS, per-host waits and every hop (see
    /// `CheckStateMachine`); this timer wakes the machine when a wait outlasts it.
    private func armDeadline(slot: Int, at deadline: Int64, now: Int64) {
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
        let waitedName = slots[slot].waitingForName
        let action = slots[slot].deadlinePassed(now: Clock.monotonicMicros())
        if case .finish = action, let waitedName {
            // The query goes on for any other check waiting for the name (and fills the cache).
            dnsCache.removeWaiter(Int32(slot), of: waitedName)
        }
        perform(action, slot: slot)
    }

    // MARK: per-host permits

    /// `--max-per-host`: the hop's transfer starts once a permit for `address` is free; until
    /// then the check waits in `permitQueues`, its budget running.
    ///
    /// A newly arrived check may take a permit another loop just freed before this loop's queue
    /// retries (the order is FIFO per loop, not across loops); a permit freed on this loop goes
    /// to the queue first.
    private func requestPermit(for address: IPAddress, slot: Int, at now: Int64, deadline: Int64) {
        guard let hostPermits = configuration.hostPermits else {
            perform(slots[slot].permitGranted(now: now), slot: slot)
            return
        }
        let bucket = hostPermits.bucket(of: address)
        if let permit = hostPermits.acquire(bucket: bucket) {
            permits[slot] = permit
            perform(slots[slot].permitGranted(now: now), slot: slot)
            return
        }
        permitWaitBuckets[slot] = bucket
        permitQueues.append(Int32(slot), bucket: bucket)
        LoopStatistics.add(statistics.hostWaits)
        statistics.waitingForHost.store(permitQueues.count, ordering: .relaxed)
        // No timer per wait: one timer for the earliest deadline among the waits
        // (`expirePermitWaits`), moved only when a wait with an earlier deadline arrives.
        if deadline < earliestPermitWaitDeadline {
            earliestPermitWaitDeadline = deadline
            permitDeadlineTimer.schedule(after: Double(max(deadline - now, 0)) / 1_000_000)
        }
        updatePermitRetryTimer()
    }

    /// Starts the checks waiting in `bucket`'s queue, oldest first, while permits are free. The
    /// queue is brought up to date before each start: a started check may finish at once and
    /// give its permit back (which comes here again).
    private func drainPermitQueue(bucket: Int) {
        // Nothing waits (the usual case, after every check): a retry timer still set fires once
        // more and stops itself.
        guard permitQueues.count > 0, let hostPermits = configuration.hostPermits else { return }
        while let head = permitQueues.first(inBucket: bucket), let permit = hostPermits.acquire(bucket: bucket) {
            let slot = Int(head)
            guard permitWaitBuckets[slot] != nil else {
                // Not waiting any more (cannot happen: leaving the wait leaves the queue).
                hostPermits.release(permit)
                removeFromPermitQueue(slot: slot, bucket: bucket)
                continue
            }
            stopWaitingForPermit(slot: slot)
            permits[slot] = permit
            perform(slots[slot].permitGranted(now: Clock.monotonicMicros()), slot: slot)
        }
        updatePermitRetryTimer()
    }

    /// The periodic retry: each waiting bucket, for permits other loops gave back.
    private func retryWaitingPermits() {
        for bucket in permitQueues.waitingBuckets() { drainPermitQueue(bucket: bucket) }
        updatePermitRetryTimer()
    }

    /// The permit deadline timer: ends every permit wait whose check's budget has run out, and
    /// sets the timer for the earliest deadline left. (A wait that ended meanwhile may have been
    /// the earliest: the slots are scanned then too, and nothing expires early.)
    private func expirePermitWaits() {
        let now = Clock.monotonicMicros()
        earliestPermitWaitDeadline = .max
        for slot in permitWaitBuckets.indices where permitWaitBuckets[slot] != nil {
            let deadline = slots[slot].deadline
            if now >= deadline {
                deadlinePassed(slot: slot)
            } else {
                earliestPermitWaitDeadline = min(earliestPermitWaitDeadline, deadline)
            }
        }
        if earliestPermitWaitDeadline != .max {
            permitDeadlineTimer.schedule(after: Double(earliestPermitWaitDeadline - now) / 1_000_000)
        }
    }

    private func updatePermitRetryTimer() {
        // One loop alone frees its permits itself, and offers each to its queue at once.
        if permitQueues.count == 0 || (configuration.hostPermits?.loopCount ?? 1) < 2 {
            permitRetryTimer.cancel()
        } else if !permitRetryTimer.isScheduled {
            permitRetryTimer.schedule(after: Self.permitRetryInterval)
        }
    }

    /// Takes the slot out of its permit queue (it got a permit, or its check ended).
    private func stopWaitingForPermit(slot: Int) {
        guard let bucket = permitWaitBuckets[slot] else { return }
        permitWaitBuckets[slot] = nil
        removeFromPermitQueue(slot: slot, bucket: bucket)
    }

    private func removeFromPermitQueue(slot: Int, bucket: Int) {
        guard permitQueues.remove(Int32(slot), bucket: bucket) else { return }
        statistics.waitingForHost.store(permitQueues.count, ordering: .relaxed)
    }

    /// Gives the hop's permit back; its bucket, or nil if there was none.
    private func releasePermit(slot: Int) -> Int? {
        guard let permit = permits[slot] else { return nil }
        configuration.hostPermits?.release(permit)
        permits[slot] = nil
        return permit.bucket
    }

    // MARK: transfers

    private func startTransfer(_ transfer: CheckStateMachine.Transfer, slot: Int) {
        guard let prepared = slots[slot].prepared else { return }
        if let redirected = transfer.redirectedURL {
            startTransfer(transfer, to: redirected, prepared: prepared, slot: slot)
        } else {
            startTransfer(transfer, to: prepared.url, prepared: prepared, slot: slot)
        }
    }

    private func startTransfer(
        _ transfer: CheckStateMachine.Transfer, to url: borrowing MonitorURL, prepared: PreparedMonitor, slot: Int
    ) {
        // `prepared.monitor` and the URL are read in place throughout: a local copy would
        // retain each of their strings and collections, per check.
        if prepared.monitor.kind != .http {
            startProbe(slot: slot, address: transfer.connectTo ?? url.address, url: url)
            return
        }
        let easy =
            spareEasies.popLast()
            ?? CurlEasy(
                policy: configuration.policy, caBundlePath: configuration.caBundlePath,
                userAgent: configuration.userAgent, trustStore: trustStore, restingShare: tlsSessions.restingShare)
        easy.checkSlot = Int32(slot)
        let profile = transferProfiles.profile(for: prepared, overTLS: url.scheme == .https)
        easy.prepareForTransfer(profile)
        easy.configure(
            url: url.requestURL,
            headers: prepared.headers ?? (prepared.monitor.reuseConnection ? nil : closeHeaders),
            timeoutMs: transfer.timeoutMs,
            connectTimeoutMs: prepared.monitor.connectTimeoutMs
        )
        if profile.tlsSessionReuse { tlsSessions.prepare(easy, for: prepared, now: Clock.monotonicMicros()) }
        if let address = transfer.connectTo {
            // A literal host matches any host name: curl's spelling of an IPv6 literal may differ.
            easy.setConnectTo(host: url.hostIsIPLiteral ? nil : url.host, port: url.port, address: address)
        } else {
            easy.clearConnectTo()
        }
        easies[slot] = easy
        multi.add(easy)
    }

    func transferFinished(_ easy: CurlEasy, failure: (CheckErrorCode, String)?) {
        let slot = Int(easy.checkSlot)
        var outcome = CheckStateMachine.TransferOutcome()
        if let (code, message) = failure {
            outcome.failure = (code, message)
        } else {
            outcome.httpStatus = easy.responseCode
            if slots[slot].wantsRedirectLocation(httpStatus: outcome.httpStatus) {
                outcome.redirectLocation = easy.redirectURL
            }
            outcome.body = easy.body
        }
        let timings = easy.timings
        outcome.timings = CheckStateMachine.TransferTimings(
            nameLookup: timings.nameLookup,
            connect: timings.connect,
            appConnect: timings.appConnect,
            startTransfer: timings.startTransfer,
            certificateNotAfter: easy.certificateNotAfter,
            httpVersion: easy.answeredHTTPVersion,
            tlsResumed: easy.tlsResumed
        )
        let next = slots[slot].transferFinished(outcome, now: Clock.monotonicMicros())
        if case .finish = next {
            // Handed on whole (`perform` consumes it): binding the result here would copy it.
            perform(next, slot: slot)
            return
        }
        // A redirect: hand the finished hop's handle and permit back before the next hop takes
        // its own.
        recycleEasy(slot: slot)
        let releasedPermit = releasePermit(slot: slot)
        perform(next, slot: slot)
        // After the next hop had its chance: a redirect to the same host keeps its turn.
        if let releasedPermit { drainPermitQueue(bucket: releasedPermit) }
    }

    private func recycleEasy(slot: Int) {
        guard let easy = easies[slot] else { return }
        easy.finishTransfer()
        spareEasies.append(easy)
        easies[slot] = nil
    }

    // MARK: results

    /// Where every check's result ends up (the one place a check kind other than HTTP would
    /// report through): the slot's resources go back, the result joins the outgoing batch and
    /// the monitor's health, and the next due checks are admitted.
    /// `result` is moved along (into the batch): a copy would retain and release its strings.
    private func finish(slot: Int, result: consuming CheckResult) {
        if permitWaitBuckets[slot] != nil { stopWaitingForPermit(slot: slot) }
        let releasedPermit = releasePermit(slot: slot)
        recycleEasy(slot: slot)
        let monitorIndex = Int(slots[slot].monitorIndex)
        result.checkId = nextCheckId()
        outgoing.append(result)
        if configuration.stateEvents != nil, let prepared = slots[slot].prepared {
            trackHealth(
                of: monitorIndex, prepared: prepared, result: outgoing[outgoing.count - 1], now: Clock.monotonicMicros()
            )
        }
        if let deadline = deadlines[slot], deadline.isScheduled { deadline.cancel() }
        let waitingRequest =
            requestsAfterCurrentCheck.isEmpty
            ? nil : slots[slot].prepared.flatMap { requestsAfterCurrentCheck.remove($0.monitor.id) }
        slots[slot].reset()
        table.checkEnded(index: monitorIndex)
        if let waitingRequest { requestCheck(id: waitingRequest, now: Clock.monotonicMicros()) }
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
            startMonotonic: slots[slot].startMonotonic, deadline: slots[slot].deadline)
        probes.start(slot: slot, request: request)
    }

    private func probeFinished(slot: Int, _ outcome: ProbeOutcome) {
        perform(slots[slot].probeFinished(outcome, now: Clock.monotonicMicros()), slot: slot)
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
        // `table.monitors[…]` reads one array in place; a method of the table (`holds`) called
        // here would copy the whole table first, once per check.
        guard table.monitors[monitorIndex]?.monitor.id == prepared.monitor.id else { return }
        let decision = table.health[monitorIndex].record(
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
                generation: table.generations[monitorIndex],
                isRecheck: true
            )
        }
    }
}
