import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An engine's link to the cluster: one thread with its own `EventLoop` and two Redis
/// connections (commands, and a subscriber: RESP2 cannot mix them).
///
/// On that thread it registers the engine and renews its lease (`MembershipState`), follows the
/// live members and computes the shards this engine owns (`ShardAssignment`), listens for
/// monitor changes and "check now" requests, publishes live results in batches and appends
/// confirmed state changes to the state stream. After a reconnect (Redis restart, `CLIENT KILL`,
/// network) it registers again and re-subscribes by itself.
///
/// Threads: `start`, `stop` from the owner (main) thread; `publishLive` and
/// `recordStateChanges` from any thread (check loops): they take one short lock per call and
/// never wait for Redis. `onEvent` runs on the coordinator thread: hand the event to the check
/// loops (their own queue + wake-up), do not block in it.
final class ClusterCoordinator: @unchecked Sendable {
    // @unchecked: mutable state is either in `inbox` (a Mutex) or confined to the coordinator
    // thread (`CoordinatorCore`); `configuration`, `statistics` and the closures are immutable.

    /// What the owner hears about.
    enum Event: Sendable, Equatable {
        /// The shards this engine owns now (the whole set, not a difference). First sent after
        /// the first registration; until then the engine owns nothing.
        case ownedShardsChanged(Set<Int>)
        /// The shards this engine owns will be these from `atWallMicros` (epoch µs), an instant
        /// every engine derived from the same membership change on Redis: keep checking the
        /// shards given up until then, check the gained ones from then (each on its phase).
        case ownedShardsWillChange(Set<Int>, atWallMicros: Int64)
        /// Monitors of owned shards changed (in arrival order, coalesced per loop iteration).
        case monitorsChanged([MonitorChange])
        /// The change subscription was re-established after a disconnect: notifications may
        /// have been missed, so reconcile the owned shards with the database now.
        case monitorNotificationsResumed
        /// "Check now" for monitors of owned shards, in arrival order. Sent after any monitor
        /// change that arrived before them, so a monitor edited and then checked is checked
        /// with its new definition.
        case checksRequested([CheckRequest])
    }

    let configuration: Configuration
    let statistics = ClusterStatistics()
    fileprivate let onEvent: @Sendable (Event) -> Void
    fileprivate let log: Logger

    fileprivate struct Inbox: ~Copyable {
        var live: [CheckResult] = []
        var events: [StateChangeEvent] = []
        var leave = false
        var stop: StopMode?
        var wakeup: LoopWakeup?
        var state: RunState = .idle
    }
    fileprivate enum RunState { case idle, running, finished }
    fileprivate enum StopMode { case deregister, abandon }
    fileprivate let inbox = Mutex(Inbox())
    private let threadFinished = DispatchSemaphore(value: 0)
    /// Set once a leave (`beginLeave`) has handed this engine's shards over, or cannot.
    let leaveCompleted = Atomic<Bool>(false)

    init(
        configuration: Configuration,
        log: Logger,
        onEvent: @escaping @Sendable (Event) -> Void
    ) {
        self.configuration = configuration
        self.log = log
        self.onEvent = onEvent
    }

    // MARK: owner thread

    /// Starts the coordinator thread; returns once its loop exists. Connecting to Redis happens
    /// in the background (a Redis that is down is retried with back-off, never an error here).
    func start() throws(ClusterConfigurationError) {
        let alreadyStarted = inbox.withLock { box -> Bool in
            if box.state != .idle { return true }
            box.state = .running
            return false
        }
        if alreadyStarted { return }
        let setup = SetupResult()
        NamedThread.start("lookout-cluster", stackSize: 1 << 20) { [self] in
            // hiredis writes to sockets the server may have closed: take EPIPE, not SIGPIPE.
            var pipe = sigset_t()
            sigemptyset(&pipe)
            sigaddset(&pipe, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipe, nil)
            let core: CoordinatorCore
            do {
                core = try CoordinatorCore(owner: self)
            } catch {
                setup.error = "could not create the cluster event loop: \(error)"
                inbox.withLock { $0.state = .finished }
                setup.ready.signal()
                threadFinished.signal()
                return
            }
            inbox.withLock { $0.wakeup = core.wakeup }
            setup.ready.signal()
            core.run()
            inbox.withLock { box in
                box.state = .finished
                box.wakeup = nil
                box.live = []
                box.events = []
            }
            statistics.connected.store(0, ordering: .relaxed)
            threadFinished.signal()
        }
        setup.ready.wait()
        if let error = setup.error { throw ClusterConfigurationError(error) }
    }

    /// Stops the coordinator and waits (up to `timeoutSeconds`) for its thread to end.
    /// - Parameter deregister: true (a graceful stop): publish what is queued, send the pending
    ///   state changes, then remove this engine from the cluster so the others take its shards
    ///   at their next heartbeat. false: just close the connections, as if the process had been
    ///   killed (the others take over when the lease runs out; tests use it to simulate kill -9).
    func stop(deregister: Bool = true, timeoutSeconds: Double = 5) {
        let running = inbox.withLock { box -> Bool in
            guard box.state == .running, let wakeup = box.wakeup else { return false }
            if box.stop == nil { box.stop = deregister ? .deregister : .abandon }
            wakeup.send()
            return true
        }
        guard running else { return }
        if threadFinished.wait(timeout: .now() + timeoutSeconds) == .success {
            threadFinished.signal()  // let a second stop() return too
        }
    }

    /// A planned stop, first step: asks Redis for the agreed hand-over instant (now + the
    /// hand-over delay, Redis clock) after which the other engines own this engine's shards.
    /// The engine keeps checking until then; `leaveCompleted` turns true when it has passed (or
    /// at once when Redis cannot be asked). Then stop the loops and call `stop()`.
    /// - Returns: false when the coordinator is not running (nothing to hand over).
    @discardableResult
    func beginLeave() -> Bool {
        let running = inbox.withLock { box -> Bool in
            guard box.state == .running, box.stop == nil, let wakeup = box.wakeup else { return false }
            box.leave = true
            wakeup.send()
            return true
        }
        if !running { leaveCompleted.store(true, ordering: .releasing) }
        return running
    }

    // MARK: any thread

    /// Queues results for the live channel. Never blocks on Redis: when the queue is full, or
    /// the coordinator is not running, the results are dropped and counted.
    func publishLive(_ results: [CheckResult]) {
        guard !results.isEmpty else { return }
        let accepted = inbox.withLock { box -> Bool in
            guard box.state == .running, box.stop == nil, let wakeup = box.wakeup,
                box.live.count + results.count <= configuration.liveQueueLimit
            else { return false }
            box.live.append(contentsOf: results)
            wakeup.send()
            return true
        }
        if !accepted { ClusterStatistics.add(statistics.liveResultsDropped, results.count) }
    }

    /// Queues confirmed state changes for the state stream (at least once; see `StateEventOutbox`).
    func recordStateChanges(_ events: [StateChangeEvent]) {
        guard !events.isEmpty else { return }
        let accepted = inbox.withLock { box -> Bool in
            guard box.state == .running, let wakeup = box.wakeup else { return false }
            box.events.append(contentsOf: events)
            wakeup.send()
            return true
        }
        if !accepted { ClusterStatistics.add(statistics.stateEventsDropped, events.count) }
    }

    // MARK: defaults

    /// The machine's host name (gethostname), "unknown" if it has none.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unknown" : String(decoding: bytes, as: UTF8.self)
    }

    static func processId() -> Int32 { getpid() }
}

/// Hand-over from the coordinator thread to `start()`, ordered by the semaphore.
private final class SetupResult: @unchecked Sendable {
    let ready = DispatchSemaphore(value: 0)
    var error: String?
}

/// The coordinator thread's state. Everything here is confined to that thread.
private final class CoordinatorCore {
    let owner: ClusterCoordinator
    let configuration: ClusterCoordinator.Configuration
    let statistics: ClusterStatistics
    let loop: EventLoop
    let commands: RedisConnection
    let subscriber: RedisConnection
    var membership: MembershipState
    var wakeup: LoopWakeup!
    private var membershipTimer: LoopTimer!
    private var liveTimer: LoopTimer!
    private var outboxRetryTimer: LoopTimer!
    private var changesTimer: LoopTimer!
    private var stopTimer: LoopTimer!
    private var leaveTimer: LoopTimer!
    private var leaveRequested = false

    private var liveBuffer: [CheckResult] = []
    private var liveSpare: [CheckResult] = []
    private var liveEncoder = LiveResultsEncoder()
    private var outbox: StateEventOutbox
    private var pendingChanges: [MonitorChange] = []
    private var heartbeatSequence = 0
    private var subscribedBefore = false
    private var commandsReadyBefore = false
    private var stopping: ClusterCoordinator.StopMode?
    private var finished = false

    private let engineKey: [UInt8]
    private let enginesKey: [UInt8]
    private let activeFromKey: [UInt8]
    private let leavingAtKey: [UInt8]
    private let liveChannel: [UInt8]
    private let stateStream: [UInt8]

    init(owner: ClusterCoordinator) throws {
        self.owner = owner
        configuration = owner.configuration
        statistics = owner.statistics
        loop = try EventLoop()
        let name = "lookout-engine:\(configuration.engineId)"
        commands = RedisConnection(
            loop: loop,
            configuration: RedisConnection.Configuration(
                endpoint: configuration.redis,
                clientName: name,
                connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                commandTimeoutSeconds: configuration.commandTimeoutSeconds,
                backoff: configuration.backoff
            )
        )
        subscriber = RedisConnection(
            loop: loop,
            configuration: RedisConnection.Configuration(
                endpoint: configuration.redis,
                clientName: name + ":sub",
                connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                commandTimeoutSeconds: configuration.commandTimeoutSeconds,
                backoff: configuration.backoff
            )
        )
        membership = MembershipState(
            configuration: MembershipState.Configuration(
                engineId: configuration.engineId,
                leaseMs: Int64(configuration.leaseMs)
            )
        )
        outbox = StateEventOutbox(limit: configuration.stateEventLimit)
        let contract = configuration.contract
        engineKey = Array(contract.engineKey(configuration.engineId).utf8)
        enginesKey = Array(contract.enginesKey.utf8)
        activeFromKey = Array(contract.enginesActiveFromKey.utf8)
        leavingAtKey = Array(contract.enginesLeavingAtKey.utf8)
        liveChannel = Array(contract.liveChannel.utf8)
        stateStream = Array(contract.stateStream.utf8)

        wakeup = LoopWakeup(loop: loop) { [unowned self] in self.drainInbox() }
        membershipTimer = LoopTimer(loop: loop) { [unowned self] in self.membershipTick() }
        liveTimer = LoopTimer(loop: loop) { [unowned self] in self.flushLive() }
        outboxRetryTimer = LoopTimer(loop: loop) { [unowned self] in self.pumpOutbox() }
        changesTimer = LoopTimer(loop: loop) { [unowned self] in self.deliverChanges() }
        stopTimer = LoopTimer(loop: loop) { [unowned self] in self.finish() }
        leaveTimer = LoopTimer(loop: loop) { [unowned self] in self.leaveInstantPassed() }

        commands.onReady = { [unowned self] in self.commandsReady() }
        commands.onDown = { [unowned self] error in self.commandsDown(error) }
        subscriber.onDown = { [unowned self] error in
            self.owner.log.debug("subscriber connection: \(error)")
        }
        // Both channels on the one subscriber connection; it renews them after every reconnect.
        let monitorsChangedChannel = contract.monitorsChangedChannel
        subscriber.onSubscribed = { [unowned self] channel in
            if channel == monitorsChangedChannel { self.monitorChangesSubscribed() }
        }
        subscriber.subscribe([monitorsChangedChannel]) { [unowned self] message in
            self.monitorMessage(message)
        }
        subscriber.subscribe([contract.checkRequestedChannel]) { [unowned self] message in
            self.checkRequestMessage(message)
        }
    }

    /// Runs the loop until a stop request has been carried out.
    func run() {
        commands.start()
        subscriber.start()
        drainInbox()
        if !finished { loop.run() }
        // Close before the connections are released: their callbacks still reach this object.
        commands.close()
        subscriber.close()
    }

    private var nowMs: Int64 { Clock.monotonicMicros() / 1000 }

    // MARK: membership

    private func commandsReady() {
        statistics.connected.store(1, ordering: .relaxed)
        if commandsReadyBefore {
            ClusterStatistics.add(statistics.reconnects)
            owner.log.info("reconnected to Redis at \(configuration.redis)")
        }
        commandsReadyBefore = true
        guard stopping == nil else { return }
        apply(membership.connectionReady(now: nowMs))
        outboxRetryTimer.cancel()
        pumpOutbox()
    }

    private func commandsDown(_ error: RedisError) {
        let wasConnected = statistics.connected.exchange(0, ordering: .relaxed) == 1
        membership.connectionLost(now: nowMs)
        if wasConnected {
            owner.log.warning(
                "lost Redis (\(error)); keeping the \(membership.ownedShards?.count ?? 0) owned shards while reconnecting"
            )
        } else if commands.failedAttempts == 1 || commands.failedAttempts % 20 == 0 {
            owner.log.warning("cannot reach Redis (\(error)), attempt \(commands.failedAttempts); retrying")
        }
        rearmMembershipTimer()
    }

    private func membershipTick() {
        guard stopping == nil else { return }
        apply(membership.tick(now: nowMs))
    }

    private func apply(_ actions: [MembershipState.Action]) {
        for action in actions {
            switch action {
            case .register(let reason):
                ClusterStatistics.add(statistics.registrations)
                if reason != .initial {
                    ClusterStatistics.add(statistics.reRegistrations)
                    owner.log.info("registering again as \(configuration.engineId) (\(reason))")
                }
                sendHeartbeat(mode: reason == .initial ? "join" : "rejoin")
            case .heartbeat:
                sendHeartbeat(mode: "renew")
            case .ownedShardsChanged(let shards):
                statistics.ownedShards.store(shards.count, ordering: .relaxed)
                owner.log.info(
                    "owning \(shards.count) of \(ClusterContract.shardCount) shards (\(membership.liveMembers.count) live engine(s))"
                )
                owner.onEvent(.ownedShardsChanged(shards))
            case .ownedShardsWillChange(let shards, let at):
                statistics.ownedShards.store(shards.count, ordering: .relaxed)
                let inMs = at - nowMs
                owner.log.info(
                    "owning \(shards.count) of \(ClusterContract.shardCount) shards from the agreed hand-over in \(inMs) ms (\(membership.liveMembers.count) live engine(s))"
                )
                owner.onEvent(.ownedShardsWillChange(shards, atWallMicros: handOverWallMicros(at: at)))
            }
        }
        statistics.members.store(membership.liveMembers.count, ordering: .relaxed)
        rearmMembershipTimer()
    }

    /// The hand-over instant `at` (our monotonic ms) on the wall clock the check grid uses.
    /// When Redis' clock agrees with ours (one machine, or NTP) to within a quarter of the
    /// hand-over delay, its value is taken as it is: every engine then cuts the monitor's grid
    /// at the very same slot, which no round-trip estimate can promise (one engine would start
    /// a slot early or late and check a monitor twice or not at all). Otherwise the instant is
    /// converted through our clocks.
    private func handOverWallMicros(at: Int64) -> Int64 {
        let converted = Clock.wallMicros() + (at - nowMs) * 1000
        guard let server = membership.serverTime(ofInstant: at) else { return converted }
        let direct = server * 1000
        return abs(direct - converted) <= Int64(handOverDelayMs) * 250 ? direct : converted
    }

    private func rearmMembershipTimer() {
        guard stopping == nil else { return }
        let now = nowMs
        if let next = membership.nextWakeup(now: now) {
            membershipTimer.schedule(after: Double(max(next - now, 0)) / 1000)
        } else {
            membershipTimer.cancel()
        }
    }

    /// Lua, so that the lease expiry and the hand-over instants are on Redis' clock (engines
    /// never compare wall clocks) and registration, expiry of dead members and the member read
    /// are one round trip. A member's `active-from` is written once, at its first registration
    /// (`join`): now + the hand-over delay when other engines are live, else now; a registration
    /// after a reconnect (`rejoin`) is active at once, as before.
    /// KEYS: engine key, engines set, active-from hash, leaving-at hash.
    /// ARGV: engine id, lease ms, engine record JSON, hand-over delay ms, join | rejoin | renew.
    /// Returns {server now ms, {id, expiry, ...}, {id, active-from, ...}, {id, leaving-at, ...}}.
    static let heartbeatScript = """
        if redis.replicate_commands then redis.replicate_commands() end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local nowText = string.format('%.0f', now)
        local lease = tonumber(ARGV[2])
        local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. nowText)
        for _, id in ipairs(dead) do
            redis.call('HDEL', KEYS[3], id)
            redis.call('HDEL', KEYS[4], id)
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. nowText)
        if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
            local others = redis.call('ZCARD', KEYS[2])
            if redis.call('ZSCORE', KEYS[2], ARGV[1]) then others = others - 1 end
            local from = now
            if ARGV[5] == 'join' and others > 0 then from = now + tonumber(ARGV[4]) end
            redis.call('HSET', KEYS[3], ARGV[1], string.format('%.0f', from))
        end
        redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
        redis.call('ZADD', KEYS[2], string.format('%.0f', now + lease), ARGV[1])
        return {now, redis.call('ZRANGEBYSCORE', KEYS[2], nowText, '+inf', 'WITHSCORES'),
            redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}
        """

    /// Lua: a planned leave. Writes (once) `leaving-at` = now + the hand-over delay for a live
    /// member. KEYS: engines set, leaving-at hash. ARGV: engine id, hand-over delay ms.
    /// Returns {server now ms, leaving-at ms}, leaving-at -1 when the engine is not a member.
    static let leaveScript = """
        if redis.replicate_commands then redis.replicate_commands() end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {now, -1} end
        local at = redis.call('HGET', KEYS[2], ARGV[1])
        if not at then
            at = string.format('%.0f', now + tonumber(ARGV[2]))
            redis.call('HSET', KEYS[2], ARGV[1], at)
        end
        return {now, tonumber(at)}
        """

    /// The delay between a membership change and the agreed hand-over it causes: 2/3 of the
    /// lease, so every engine (heartbeat every lease / 3) has read the change before it.
    private var handOverDelayMs: Int { configuration.leaseMs * 2 / 3 }

    private func sendHeartbeat(mode: String) {
        heartbeatSequence += 1
        let sequence = heartbeatSequence
        let record = EngineRecord(
            engineId: configuration.engineId,
            host: configuration.host,
            pid: configuration.pid,
            startedAtMs: configuration.startedAtMs,
            leaseMs: configuration.leaseMs,
            ownedShards: membership.ownedShards?.count ?? 0,
            version: configuration.version
        )
        let argv: [[UInt8]] = [
            Array("EVAL".utf8), Array(Self.heartbeatScript.utf8), Array("4".utf8), engineKey, enginesKey,
            activeFromKey, leavingAtKey, Array(configuration.engineId.utf8),
            Array(String(configuration.leaseMs).utf8), Array(record.json.utf8),
            Array(String(handOverDelayMs).utf8), Array(mode.utf8),
        ]
        commands.send(argv) { [unowned self] result in
            self.heartbeatFinished(sequence: sequence, result: result)
        }
    }

    private func heartbeatFinished(sequence: Int, result: Result<RedisReply, RedisError>) {
        guard sequence == heartbeatSequence, stopping == nil else { return }
        let now = nowMs
        if case .success(.array(let parts)) = result, parts.count == 4, case .integer(let serverNow) = parts[0],
            case .array(let items) = parts[1], case .array(let fromItems) = parts[2],
            case .array(let leavingItems) = parts[3]
        {
            var members: [(id: String, expiresAtMs: Int64)] = []
            members.reserveCapacity(items.count / 2)
            var index = 0
            while index + 1 < items.count {
                if let id = items[index].text, let score = items[index + 1].text.flatMap(Double.init) {
                    members.append((id, Int64(score)))
                }
                index += 2
            }
            let actions = membership.heartbeatSucceeded(
                now: now, serverNowMs: serverNow, members: members, activeFromMs: Self.times(fromItems),
                leavingAtMs: Self.times(leavingItems))
            if let renewed = membership.leaseRenewedAt {
                statistics.leaseRenewedAtMicros.store(renewed * 1000, ordering: .relaxed)
            }
            apply(actions)
            return
        }
        ClusterStatistics.add(statistics.heartbeatFailures)
        switch result {
        case .success(let reply):
            owner.log.warning("heartbeat refused by Redis: \(reply)")
        case .failure(let error):
            owner.log.debug("heartbeat failed: \(error)")
        }
        apply(membership.heartbeatFailed(now: now))
    }

    /// {id, ms, id, ms, ...} (HGETALL) as a dictionary.
    private static func times(_ items: [RedisReply]) -> [String: Int64] {
        var times: [String: Int64] = [:]
        var index = 0
        while index + 1 < items.count {
            if let id = items[index].text, let value = items[index + 1].text.flatMap(Int64.init) { times[id] = value }
            index += 2
        }
        return times
    }

    // MARK: planned leave

    private func startLeave() {
        guard !leaveRequested else { return }
        leaveRequested = true
        guard commands.isReady, membership.ownedShards != nil else {
            owner.log.info("leaving without a hand-over (not registered with Redis)")
            owner.leaveCompleted.store(true, ordering: .releasing)
            return
        }
        let argv: [[UInt8]] = [
            Array("EVAL".utf8), Array(Self.leaveScript.utf8), Array("2".utf8), enginesKey, leavingAtKey,
            Array(configuration.engineId.utf8), Array(String(handOverDelayMs).utf8),
        ]
        commands.send(argv) { [unowned self] result in
            guard self.stopping == nil else { return }
            guard case .success(.array(let parts)) = result, parts.count == 2, case .integer(let serverNow) = parts[0],
                case .integer(let leavingAt) = parts[1], leavingAt >= 0
            else {
                self.owner.log.warning("leave request not accepted by Redis (\(result)); stopping without a hand-over")
                self.owner.leaveCompleted.store(true, ordering: .releasing)
                return
            }
            let now = self.nowMs
            self.apply(self.membership.leaveAccepted(now: now, serverNowMs: serverNow, leavingAtMs: leavingAt))
            let wait = max(leavingAt - serverNow, 0)
            self.owner.log.info("leaving: the other engines own this engine's shards in \(wait) ms")
            self.leaveTimer.schedule(after: Double(wait) / 1000)
        }
    }

    private func leaveInstantPassed() {
        owner.leaveCompleted.store(true, ordering: .releasing)
    }

    // MARK: monitor changes

    private func monitorChangesSubscribed() {
        if subscribedBefore {
            owner.log.info("monitor change notifications resumed; reconcile with the database")
            owner.onEvent(.monitorNotificationsResumed)
        }
        subscribedBefore = true
    }

    private func monitorMessage(_ message: RedisMessage) {
        let changes: [MonitorChange]
        do {
            changes = try MonitorChange.parse(message.payload)
        } catch {
            ClusterStatistics.add(statistics.monitorChangesInvalid)
            owner.log.warning("ignoring a monitor change: \(error.description)")
            return
        }
        ClusterStatistics.add(statistics.monitorChangesReceived, changes.count)
        // Only owned shards matter; a shard that becomes ours later is loaded whole from the
        // database, which already holds the change (it is published after the commit).
        guard let owned = membership.ownedShards, stopping == nil else { return }
        let relevant = changes.filter { owned.contains($0.shard) }
        guard !relevant.isEmpty else { return }
        pendingChanges.append(contentsOf: relevant)
        if !changesTimer.isScheduled { changesTimer.schedule(after: 0) }
    }

    private func deliverChanges() {
        guard !pendingChanges.isEmpty else { return }
        let changes = pendingChanges
        pendingChanges.removeAll(keepingCapacity: true)
        owner.onEvent(.monitorsChanged(changes))
    }

    // MARK: check requests

    private func checkRequestMessage(_ message: RedisMessage) {
        let requests: [CheckRequest]
        do {
            requests = try CheckRequest.parse(message.payload)
        } catch {
            ClusterStatistics.add(statistics.checkRequestsInvalid)
            owner.log.warning("ignoring a check request: \(error.description)")
            return
        }
        // Every engine receives every request; only the owner of the shard acts. Until its first
        // registration this engine owns nothing: the request is for the engines that do.
        guard let owned = membership.ownedShards, stopping == nil else { return }
        let relevant = requests.filter { owned.contains($0.shard) }
        if relevant.count < requests.count {
            owner.log.debug("check requests for shards owned by other engines: \(requests.count - relevant.count)")
        }
        guard !relevant.isEmpty else { return }
        ClusterStatistics.add(statistics.checkRequestsReceived, relevant.count)
        owner.log.info("check requested: \(Self.describe(relevant))")
        // Changes that arrived earlier go first: the request must see the definition they load.
        deliverChanges()
        owner.onEvent(.checksRequested(relevant))
    }

    /// "monitor 42 (request r-1), …" for a log line, at most a few of them.
    private static func describe(_ requests: [CheckRequest]) -> String {
        let shown = requests.prefix(3).map { "monitor \($0.monitorId) (request \($0.requestId))" }
        let more = requests.count > shown.count ? " and \(requests.count - shown.count) more" : ""
        return shown.joined(separator: ", ") + more
    }

    // MARK: inbox, live results and state changes

    private func drainInbox() {
        var live = liveSpare
        var events: [StateChangeEvent] = []
        let (stop, leave) = owner.inbox.withLock { box -> (ClusterCoordinator.StopMode?, Bool) in
            swap(&live, &box.live)
            swap(&events, &box.events)
            return (box.stop, box.leave)
        }
        if leave && stopping == nil { startLeave() }
        if !events.isEmpty {
            outbox.append(events)
            statistics.stateEventsDropped.store(outbox.dropped, ordering: .relaxed)
            statistics.stateEventsPending.store(outbox.count, ordering: .relaxed)
            pumpOutbox()
        }
        if !live.isEmpty {
            liveBuffer.append(contentsOf: live)
            live.removeAll(keepingCapacity: true)
            if liveBuffer.count >= configuration.liveBatchMaxResults {
                flushLive()
            } else if !liveTimer.isScheduled {
                liveTimer.schedule(after: Double(configuration.liveBatchMaxDelayMs) / 1000)
            }
        }
        liveSpare = live
        if let stop, stopping == nil { beginStop(stop) }
    }

    private func flushLive() {
        liveTimer.cancel()
        guard !liveBuffer.isEmpty else { return }
        defer { liveBuffer.removeAll(keepingCapacity: true) }
        guard commands.isReady, commands.pendingCount < configuration.livePendingCommandLimit else {
            ClusterStatistics.add(statistics.liveResultsDropped, liveBuffer.count)
            return
        }
        var start = 0
        while start < liveBuffer.count {
            let end = min(start + configuration.liveBatchMaxResults, liveBuffer.count)
            let message = liveEncoder.encode(liveBuffer[start..<end])
            commands.send([Array("PUBLISH".utf8), liveChannel, message], completion: nil)
            ClusterStatistics.add(statistics.liveMessagesPublished)
            ClusterStatistics.add(statistics.liveResultsPublished, end - start)
            start = end
        }
    }

    private static let xaddHead: [[UInt8]] = [
        Array("XADD".utf8), [], Array("MAXLEN".utf8), Array("~".utf8),
        Array(String(ClusterContract.stateStreamMaxLength).utf8), Array("*".utf8),
    ]

    private func pumpOutbox() {
        guard commands.isReady, !outboxRetryTimer.isScheduled,
            let batch = outbox.nextBatch(max: configuration.stateEventBatch)
        else { return }
        let tracker = BatchTracker(count: batch.count)
        for (offset, event) in batch.enumerated() {
            var argv = Self.xaddHead
            argv[1] = stateStream
            for (field, value) in event.streamFields {
                argv.append(Array(field.utf8))
                argv.append(Array(value.utf8))
            }
            commands.send(argv) { [unowned self] result in
                if case .success(.string) = result { tracker.acknowledged[offset] = true }
                if case .success(.error(let text)) = result {
                    self.owner.log.warning("XADD to \(self.configuration.contract.stateStream) refused: \(text)")
                }
                tracker.remaining -= 1
                if tracker.remaining == 0 { self.outboxBatchFinished(tracker.acknowledged) }
            }
        }
    }

    private func outboxBatchFinished(_ acknowledged: [Bool]) {
        let written = outbox.batchFinished(acknowledged: acknowledged)
        ClusterStatistics.add(statistics.stateEventsWritten, written)
        statistics.stateEventsPending.store(outbox.count, ordering: .relaxed)
        if written < acknowledged.count {
            // Refused or connection lost: retry later (a reconnect retries at once).
            outboxRetryTimer.schedule(after: configuration.stateEventRetrySeconds)
        } else if stopping == nil || stopping == .deregister {
            pumpOutbox()
        }
    }

    // MARK: stopping

    private func beginStop(_ mode: ClusterCoordinator.StopMode) {
        stopping = mode
        membershipTimer.cancel()
        guard mode == .deregister, commands.isReady else {
            finish()
            return
        }
        flushLive()
        pumpOutbox()
        commands.send([Array("ZREM".utf8), enginesKey, Array(configuration.engineId.utf8)], completion: nil)
        commands.send([Array("DEL".utf8), engineKey], completion: nil)
        for key in [activeFromKey, leavingAtKey] {
            commands.send([Array("HDEL".utf8), key, Array(configuration.engineId.utf8)], completion: nil)
        }
        // Replies come in order: when PING answers, everything before it was processed. A batch
        // of state changes still waiting then is lost with the process, as it would be anyway.
        commands.send(["PING"]) { [unowned self] _ in self.finish() }
        stopTimer.schedule(after: min(1, configuration.commandTimeoutSeconds))
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        if stopping == .deregister { statistics.ownedShards.store(0, ordering: .relaxed) }
        membershipTimer.cancel()
        liveTimer.cancel()
        outboxRetryTimer.cancel()
        changesTimer.cancel()
        stopTimer.cancel()
        leaveTimer.cancel()
        owner.leaveCompleted.store(true, ordering: .releasing)
        loop.breakLoop()
    }
}

/// Replies of one pipelined batch of `XADD`s.
private final class BatchTracker {
    var acknowledged: [Bool]
    var remaining: Int
    init(count: Int) {
        acknowledged = Array(repeating: false, count: count)
        remaining = count
    }
}
