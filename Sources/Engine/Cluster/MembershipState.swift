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
    private var lastComputedMembers: Set<String>?

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
        members listed: [(id: String, expiresAtMs: Int64)]
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
        return next
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
        let live = liveMembers
        guard live != lastComputedMembers else { return [] }
        lastComputedMembers = live
        let owned = ShardAssignment.shards(
            ownedBy: configuration.engineId,
            engines: live,
            shardCount: configuration.shardCount
        )
        guard owned != ownedShards else { return [] }
        ownedShards = owned
        return [.ownedShardsChanged(owned)]
    }
}
