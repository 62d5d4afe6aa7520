import LookoutCore

/// The cluster membership of one engine, as a pure state machine: our lease, the heartbeat
/// schedule, the live members read from Redis, and the shards we own. The I/O shell
/// (`ClusterCoordinator`) feeds it events with the current time (monotonic milliseconds) and
/// carries out the actions it returns; tests drive it with a hand-moved clock.
///
/// The rules, and why:
/// - **Register / heartbeat.** One operation (`SET <engine key> <record> PX <lease>`, `ZADD
///   <engines> <expiry> <id>`, drop expired members, read live ones — one script, Redis clock),
///   sent on every (re)connect and then every `lease / 3`. Our lease runs until `sentAt + lease`
///   of the last acknowledged heartbeat (the server set the expiry after we sent it).
/// - **Lease lost.** When no heartbeat was acknowledged for a whole lease while connected, the
///   next one is reported as `.register(.leaseLost)`: others may have dropped us meanwhile.
/// - **Members.** Each member's expiry is converted from the Redis clock to ours at the reply
///   (`now + (expiry - serverNow)`), so engines never compare wall clocks. A member expires here
///   when that time passes without a renewal, or at once when a listing no longer has it
///   (a graceful stop deletes its entry).
/// - **Stale view freezes.** While we are disconnected, or our own lease has run out, nobody is
///   expired: our view is old, and the others most likely still run. We keep the shards we own
///   (checking a monitor twice during a Redis outage beats not checking it).
/// - **Resync grace.** After a (re)connect or a lost lease, members we knew then are kept for one
///   more lease until a listing shows them again: after a Redis restart the set is empty until
///   every engine re-registers, and dropping them would make each engine claim every shard.
///   Members seen since (or new ones) follow the normal rules.
/// - **Ownership.** Computed by `ShardAssignment` over the members plus ourselves, reported
///   (`.ownedShardsChanged`) after the first acknowledged registration and on every change.
/// - **Agreed hand-over.** A planned change moves shards at one instant every engine derives
///   from Redis alone: a member's shards are its own from its `activeFrom` (Redis time of its
///   first registration + the hand-over delay, or at once when it is the only engine or
///   registers again) until its `leavingAt` (Redis time of its leave request + the delay). The
///   delay is longer than a heartbeat interval, so every engine has read the change before the
///   instant; the members' times are converted to our clock like their expiry. A change still
///   to come is announced ahead (`.ownedShardsWillChange(shards, at:)`) so that the old owner
///   keeps checking until the instant and the new owner has the monitors ready from it; a
///   member that dies is still dropped at once when its lease runs out.
struct MembershipState {
    struct Configuration: Sendable {
        var engineId: String
        /// Lease length, ms. Heartbeats go out every `leaseMs / 3`.
        var leaseMs: Int64
        var shardCount: Int

        init(engineId: String, leaseMs: Int64, shardCount: Int = ClusterContract.shardCount) {
            self.engineId = engineId
            self.leaseMs = leaseMs
            self.shardCount = shardCount
        }

        var heartbeatIntervalMs: Int64 { max(leaseMs / 3, 1) }
    }

    enum RegisterReason: Equatable, Sendable {
        /// First registration of this process.
        case initial
        /// A new connection (Redis may have restarted and lost our entry).
        case reconnected
        /// Connected, but no heartbeat succeeded for a whole lease.
        case leaseLost
    }

    enum Action: Equatable, Sendable {
        /// Write our registration and read the members (the same operation as a heartbeat,
        /// named apart for the log and the metrics).
        case register(RegisterReason)
        /// Renew our lease and read the members.
        case heartbeat
        /// The set of shards this engine owns changed (sent once per change).
        case ownedShardsChanged(Set<Int>)
        /// The set of shards this engine owns will be this one from `at` (our clock, ms), an
        /// instant every engine agrees on: keep checking shards given up until then, start the
        /// gained ones from then. `ownedShards` is already the new set.
        case ownedShardsWillChange(Set<Int>, at: Int64)
    }

    let configuration: Configuration
    private(set) var connected = false
    /// Local expiry (ms) of every other live member.
    private(set) var members: [String: Int64] = [:]
    /// nil until the first computation (after the first acknowledged registration).
    private(set) var ownedShards: Set<Int>?
    /// Local time our lease runs out, nil before the first acknowledgement.
    private(set) var leaseExpiresAt: Int64?
    /// Send time of the heartbeat awaiting its reply.
    private(set) var heartbeatInFlightSince: Int64?
    private var lastHeartbeatSentAt: Int64?
    private var resyncUntil: Int64 = .min
    /// Members known when the last resync began that no listing has shown since.
    private var graceMembers: Set<String> = []
    private var everAcknowledged = false
    /// Our clock (ms) when each engine's shards become its own, when known and not at once.
    private(set) var activeFrom: [String: Int64] = [:]
    /// Our clock (ms) when each leaving engine hands its shards over.
    private(set) var leavingAt: [String: Int64] = [:]
    /// The Redis-clock value (epoch ms) of each hand-over instant above, by its time on ours.
    private var serverTimes: [Int64: Int64] = [:]

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The ids of all live engines, ourselves included.
    var liveMembers: Set<String> { Set(members.keys).union([configuration.engineId]) }

    /// When our lease was last renewed (send time of the last acknowledged heartbeat).
    var leaseRenewedAt: Int64? { leaseExpiresAt.map { $0 - configuration.leaseMs } }

    /// Whether our lease is current at `now`.
    func holdsLease(at now: Int64) -> Bool { leaseExpiresAt.map { now < $0 } ?? false }

    /// When the next heartbeat is due (nil while disconnected or one is in flight).
    var nextHeartbeatAt: Int64? {
        guard connected, heartbeatInFlightSince == nil else { return nil }
        return (lastHeartbeatSentAt ?? .min) + configuration.heartbeatIntervalMs
    }

    // MARK: events

    /// The connection to Redis is ready.
    mutating func connectionReady(now: Int64) -> [Action] {
        connected = true
        heartbeatInFlightSince = nil
        beginResync(now: now)
        return [sendRegistration(now: now, reason: everAcknowledged ? .reconnected : .initial)]
    }

    /// The connection to Redis is gone (a reconnect is under way).
    mutating func connectionLost(now: Int64) {
        connected = false
        heartbeatInFlightSince = nil
    }

    /// A heartbeat (or registration) reply: Redis' clock and the live members with their lease
    /// expiry on that clock (ourselves included or not).
    mutating func heartbeatSucceeded(
        now: Int64,
        serverNowMs: Int64,
        members listed: [(id: String, expiresAtMs: Int64)],
        activeFromMs: [String: Int64] = [:],
        leavingAtMs: [String: Int64] = [:]
    )
        -> [Action]
    {
        let sentAt = heartbeatInFlightSince ?? now
        heartbeatInFlightSince = nil
        leaseExpiresAt = sentAt + configuration.leaseMs
        everAcknowledged = true
        var seen = Set<String>()
        for member in listed where member.id != configuration.engineId {
            let localExpiry = now + (member.expiresAtMs - serverNowMs)
            guard localExpiry > now else { continue }
            seen.insert(member.id)
            members[member.id] = max(members[member.id] ?? .min, localExpiry)
        }
        graceMembers.subtract(seen)
        if now >= resyncUntil { graceMembers.removeAll() }
        for id in members.keys where !seen.contains(id) && !graceMembers.contains(id) { members[id] = nil }
        let listedIds = seen.union([configuration.engineId])
        // Redis read its clock about halfway through the round trip: the instants that two
        // engines must agree on are converted from there (expiries, conservatively, from now).
        let midway = sentAt + (now - sentAt) / 2
        activeFrom = [:]
        for (id, time) in activeFromMs where listedIds.contains(id) {
            activeFrom[id] = midway + (time - serverNowMs)
            serverTimes[midway + (time - serverNowMs)] = time
        }
        for (id, time) in leavingAtMs where listedIds.contains(id) {
            leavingAt[id] = midway + (time - serverNowMs)
            serverTimes[midway + (time - serverNowMs)] = time
        }
        for id in leavingAt.keys where !listedIds.contains(id) && members[id] == nil { leavingAt[id] = nil }
        let known = Set(activeFrom.values).union(leavingAt.values)
        serverTimes = serverTimes.filter { known.contains($0.key) }
        return expireAndRecompute(now: now)
    }

    /// Our leave request was accepted: our shards pass to the others at `leavingAtMs` (Redis clock).
    mutating func leaveAccepted(now: Int64, serverNowMs: Int64, leavingAtMs: Int64) -> [Action] {
        leavingAt[configuration.engineId] = now + (leavingAtMs - serverNowMs)
        serverTimes[now + (leavingAtMs - serverNowMs)] = leavingAtMs
        return expireAndRecompute(now: now)
    }

    /// A heartbeat failed (error reply or no reply); the next one goes out on schedule.
    mutating func heartbeatFailed(now: Int64) -> [Action] {
        heartbeatInFlightSince = nil
        return tick(now: now)
    }

    /// Timer: send a due heartbeat, expire members whose lease ran out, recompute ownership.
    mutating func tick(now: Int64) -> [Action] {
        var actions: [Action] = []
        if connected, heartbeatInFlightSince == nil, let due = nextHeartbeatAt, now >= due {
            if !everAcknowledged {
                actions.append(sendRegistration(now: now, reason: .initial))
            } else if !holdsLease(at: now) {
                beginResync(now: now)
                actions.append(sendRegistration(now: now, reason: .leaseLost))
            } else {
                actions.append(sendRegistration(now: now, reason: nil))
            }
        }
        actions += expireAndRecompute(now: now)
        return actions
    }

    /// The next time `tick` has something to do, or nil.
    func nextWakeup(now: Int64) -> Int64? {
        var next = nextHeartbeatAt
        if connected && holdsLease(at: now), let earliest = members.values.min() {
            next = min(next ?? earliest, earliest)
        }
        if let instant = handOverInstants(after: now).first { next = min(next ?? instant, instant) }
        return next
    }

    /// The engines whose shards are theirs at `time`: live, active from then, not yet left.
    func activeMembers(at time: Int64) -> Set<String> {
        liveMembers.filter { id in
            (activeFrom[id] ?? .min) <= time && time < (leavingAt[id] ?? .max)
        }
    }

    /// The shards we own at `time` by the members known now.
    func shards(at time: Int64) -> Set<Int> {
        let active = activeMembers(at: time)
        guard active.contains(configuration.engineId) else { return [] }
        return ShardAssignment.shards(
            ownedBy: configuration.engineId, engines: active, shardCount: configuration.shardCount)
    }

    /// The Redis-clock time (epoch ms) of the hand-over instant `at` (our clock), if known.
    func serverTime(ofInstant at: Int64) -> Int64? { serverTimes[at] }

    /// Agreed instants still to come, in order.
    private func handOverInstants(after now: Int64) -> [Int64] {
        let live = liveMembers
        var instants = Set<Int64>()
        for (id, time) in activeFrom where time > now && live.contains(id) { instants.insert(time) }
        for (id, time) in leavingAt where time > now && live.contains(id) { instants.insert(time) }
        return instants.sorted()
    }

    // MARK: internals

    private mutating func beginResync(now: Int64) {
        resyncUntil = now + configuration.leaseMs
        graceMembers = Set(members.keys)
        for (id, expiry) in members { members[id] = max(expiry, now + configuration.leaseMs) }
    }

    private mutating func sendRegistration(now: Int64, reason: RegisterReason?) -> Action {
        heartbeatInFlightSince = now
        lastHeartbeatSentAt = now
        return reason.map(Action.register) ?? .heartbeat
    }

    private mutating func expireAndRecompute(now: Int64) -> [Action] {
        // Only a fresh view may expire anyone (see "stale view freezes").
        if connected && holdsLease(at: now) {
            for (id, expiry) in members where expiry <= now { members[id] = nil }
        }
        guard everAcknowledged else { return [] }
        let current = shards(at: now)
        // The first agreed instant that changes what we own, if any.
        var upcoming: (at: Int64, shards: Set<Int>)?
        for instant in handOverInstants(after: now) {
            let then = shards(at: instant)
            if then != current {
                upcoming = (instant, then)
                break
            }
        }
        guard let upcoming else {
            guard current != ownedShards else { return [] }
            ownedShards = current
            return [.ownedShardsChanged(current)]
        }
        guard upcoming.shards != ownedShards else { return [] }
        var actions: [Action] = []
        if current != ownedShards {
            // What we own now differs from what was announced (a member died, a planned change
            // was called off): that first, at once.
            actions.append(.ownedShardsChanged(current))
        }
        ownedShards = upcoming.shards
        actions.append(.ownedShardsWillChange(upcoming.shards, at: upcoming.at))
        return actions
    }
}
