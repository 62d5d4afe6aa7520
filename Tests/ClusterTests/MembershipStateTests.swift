import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("MembershipState (leases, heartbeats, members, owned shards)")
struct MembershipStateTests {
    private let lease: Int64 = 600
    private let all = Set(0..<ClusterContract.shardCount)
    /// The Redis server's clock runs far from ours: only differences may matter.
    private let serverOffset: Int64 = 1_764_000_000_000

    private func machine(_ id: String = "engine-a") -> MembershipState {
        MembershipState(configuration: .init(engineId: id, leaseMs: lease))
    }

    /// Acknowledges the heartbeat in flight at `now` with members expiring at the given local times.
    private func ack(_ state: inout MembershipState, now: Int64, members: [(String, Int64)]) -> [MembershipState.Action]
    {
        state.heartbeatSucceeded(
            now: now,
            serverNowMs: now + serverOffset,
            members: members.map { (id: $0.0, expiresAtMs: $0.1 + serverOffset) }
        )
    }

    private func owned(_ actions: [MembershipState.Action]) -> Set<Int>? {
        for case .ownedShardsChanged(let shards) in actions { return shards }
        return nil
    }

    @Test("first connection registers; the first acknowledgement reports ownership")
    func initialRegistration() {
        var state = machine()
        #expect(state.ownedShards == nil)
        #expect(state.connectionReady(now: 0) == [.register(.initial)])
        #expect(state.heartbeatInFlightSince == 0)
        let actions = ack(&state, now: 5, members: [("engine-a", 600)])
        #expect(actions == [.ownedShardsChanged(all)])
        #expect(state.leaseExpiresAt == 600)
        #expect(state.holdsLease(at: 599))
        #expect(!state.holdsLease(at: 600))
    }

    @Test("heartbeats go out every lease / 3, one at a time")
    func heartbeatSchedule() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = ack(&state, now: 3, members: [])
        #expect(state.nextHeartbeatAt == 200)
        #expect(state.nextWakeup(now: 3) == 200)
        #expect(state.tick(now: 199) == [])
        #expect(state.tick(now: 200) == [.heartbeat])
        #expect(state.nextHeartbeatAt == nil)  // in flight
        #expect(state.tick(now: 300) == [])  // no second one while the first is unanswered
        _ = ack(&state, now: 310, members: [])
        #expect(state.leaseExpiresAt == 800)  // from the send time, not the reply
        #expect(state.nextHeartbeatAt == 400)
        #expect(state.tick(now: 400) == [.heartbeat])
        _ = state.heartbeatFailed(now: 410)
        #expect(state.nextHeartbeatAt == 600)  // a failure waits for the schedule
    }

    @Test("a joining member takes its share; ownership is the rendezvous split")
    func memberJoins() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = ack(&state, now: 1, members: [("engine-a", 600)])
        _ = state.tick(now: 200)
        let actions = ack(&state, now: 201, members: [("engine-a", 800), ("engine-b", 750)])
        let expected = ShardAssignment.shards(ownedBy: "engine-a", engines: ["engine-a", "engine-b"])
        #expect(owned(actions) == expected)
        #expect(state.liveMembers == ["engine-a", "engine-b"])
        #expect(expected.count > 400 && expected.count < 624)
    }

    @Test("a member whose lease runs out is expired after the lease, and its shards come back")
    func deadMemberExpires() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        // engine-b's last renewal was at 100: its lease ends at 700 (local clock after conversion).
        _ = ack(&state, now: 2, members: [("engine-a", 600), ("engine-b", 700)])
        let half = state.ownedShards
        #expect(half != all)
        #expect(state.nextWakeup(now: 2) == 200)
        _ = state.tick(now: 200)
        // Redis still lists engine-b (its score is still in the future) with the same expiry.
        #expect(ack(&state, now: 205, members: [("engine-a", 800), ("engine-b", 700)]).isEmpty)
        _ = state.tick(now: 400)
        #expect(ack(&state, now: 405, members: [("engine-a", 1000), ("engine-b", 700)]).isEmpty)
        #expect(state.nextWakeup(now: 405) == 600)
        #expect(state.tick(now: 600) == [.heartbeat])
        #expect(state.liveMembers.contains("engine-b"))
        #expect(state.nextWakeup(now: 600) == 700)
        #expect(state.tick(now: 699) == [])
        #expect(state.tick(now: 700) == [.ownedShardsChanged(all)])
        #expect(state.liveMembers == ["engine-a"])
    }

    @Test("a member missing from a listing leaves at once (graceful stop: its entry was deleted)")
    func deregisteredMemberLeaves() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = ack(&state, now: 1, members: [("engine-b", 5_000)])
        #expect(state.liveMembers == ["engine-a", "engine-b"])
        _ = state.tick(now: 200)
        #expect(ack(&state, now: 201, members: []) == [.ownedShardsChanged(all)])
        #expect(state.liveMembers == ["engine-a"])
    }

    @Test("after a reconnect (Redis restart) known members are kept for a lease while they re-register")
    func resyncGraceAfterReconnect() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = ack(&state, now: 1, members: [("engine-b", 700)])
        _ = state.tick(now: 200)
        _ = ack(&state, now: 201, members: [("engine-b", 900)])
        let split = state.ownedShards
        #expect(split != all)
        state.connectionLost(now: 700)
        // Disconnected: our view is stale, nobody expires, we keep our shards.
        #expect(state.tick(now: 5_000).isEmpty)
        #expect(state.liveMembers.contains("engine-b"))
        #expect(state.connectionReady(now: 5_000) == [.register(.reconnected)])
        // Redis restarted empty: only we are listed, engine-b has not re-registered yet.
        #expect(ack(&state, now: 5_002, members: []).isEmpty)
        #expect(state.ownedShards == split)
        #expect(state.tick(now: 5_200) == [.heartbeat])
        #expect(ack(&state, now: 5_202, members: [("engine-b", 5_790)]).isEmpty)
        #expect(state.ownedShards == split)

        // Had it not come back, it would have gone one lease after the reconnect.
        var other = machine()
        _ = other.connectionReady(now: 0)
        _ = ack(&other, now: 1, members: [("engine-b", 600)])
        other.connectionLost(now: 100)
        _ = other.connectionReady(now: 5_000)
        #expect(ack(&other, now: 5_001, members: []).isEmpty)
        _ = other.tick(now: 5_200)
        #expect(ack(&other, now: 5_201, members: []).isEmpty)
        _ = other.tick(now: 5_400)
        #expect(ack(&other, now: 5_401, members: []).isEmpty)
        #expect(owned(other.tick(now: 5_599)) == nil)
        #expect(other.tick(now: 5_600) == [.heartbeat, .ownedShardsChanged(all)])
    }

    @Test("losing our own lease while connected makes the next heartbeat a re-registration")
    func ownLeaseLoss() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = ack(&state, now: 1, members: [("engine-b", 600)])
        #expect(state.tick(now: 200) == [.heartbeat])
        _ = state.heartbeatFailed(now: 300)
        #expect(state.tick(now: 400) == [.heartbeat])
        _ = state.heartbeatFailed(now: 500)
        // The lease (0 + 600) is gone: engine-b is not expired on our stale view either.
        #expect(!state.holdsLease(at: 600))
        #expect(state.tick(now: 600) == [.register(.leaseLost)])
        #expect(state.liveMembers.contains("engine-b"))
        _ = ack(&state, now: 610, members: [("engine-b", 1_200)])
        #expect(state.holdsLease(at: 610))
        #expect(state.tick(now: 810) == [.heartbeat])
    }

    @Test("a registration refused before the first acknowledgement is retried as the initial one")
    func initialRetry() {
        var state = machine()
        _ = state.connectionReady(now: 0)
        _ = state.heartbeatFailed(now: 10)
        #expect(state.ownedShards == nil)
        #expect(state.tick(now: 200) == [.register(.initial)])
    }

    @Test("two machines fed the same listings split the shards with no overlap and no gap")
    func twoEnginesAgree() {
        var a = machine("engine-a")
        var b = machine("engine-b")
        _ = a.connectionReady(now: 0)
        _ = b.connectionReady(now: 0)
        let listing = [("engine-a", 600 as Int64), ("engine-b", 600 as Int64)]
        let ownedA = owned(ack(&a, now: 1, members: listing)) ?? []
        let ownedB = owned(ack(&b, now: 1, members: listing)) ?? []
        #expect(ownedA.isDisjoint(with: ownedB))
        #expect(ownedA.union(ownedB) == all)
    }

    // MARK: agreed hand-over

    /// Acknowledges with hand-over instants (local times) besides the expiries.
    private func ackTimes(
        _ state: inout MembershipState, now: Int64, members: [(String, Int64)], activeFrom: [String: Int64] = [:],
        leavingAt: [String: Int64] = [:]
    ) -> [MembershipState.Action] {
        state.heartbeatSucceeded(
            now: now,
            serverNowMs: now + serverOffset,
            members: members.map { (id: $0.0, expiresAtMs: $0.1 + serverOffset) },
            activeFromMs: activeFrom.mapValues { $0 + serverOffset },
            leavingAtMs: leavingAt.mapValues { $0 + serverOffset }
        )
    }

    private func split() -> (a: Set<Int>, b: Set<Int>) {
        let owners = ShardAssignment.owners(engines: ["engine-a", "engine-b"])
        var a = Set<Int>()
        var b = Set<Int>()
        for (shard, owner) in owners.enumerated() {
            if owner == "engine-a" { a.insert(shard) } else { b.insert(shard) }
        }
        return (a, b)
    }

    @Test("a joining engine's shards move at its agreed instant: announced ahead by both, never twice")
    func joinAtTheAgreedInstant() {
        let (shardsA, shardsB) = split()
        var a = machine("engine-a")
        _ = a.connectionReady(now: 0)
        #expect(
            ackTimes(&a, now: 1, members: [("engine-a", 600)], activeFrom: ["engine-a": 0]) == [
                .ownedShardsChanged(all)
            ])
        _ = a.tick(now: 200)
        // B registered at 150 with others live: its shards are its own from 150 + 400.
        let listing = [("engine-a", 800 as Int64), ("engine-b", 750 as Int64)]
        let times: [String: Int64] = ["engine-a": 0, "engine-b": 550]
        #expect(
            ackTimes(&a, now: 200, members: listing, activeFrom: times) == [
                .ownedShardsWillChange(shardsA, at: 550)
            ])
        #expect(a.ownedShards == shardsA)
        #expect(a.nextWakeup(now: 200).map { $0 <= 550 } == true)
        #expect(a.tick(now: 550).filter { $0 != .heartbeat } == [])  // announced already

        var b = machine("engine-b")
        _ = b.connectionReady(now: 150)
        #expect(
            ackTimes(&b, now: 150, members: listing, activeFrom: times) == [
                .ownedShardsChanged([]), .ownedShardsWillChange(shardsB, at: 550),
            ])
        #expect(b.tick(now: 550).filter { $0 != .heartbeat } == [])
    }

    @Test("a leaving engine keeps its shards until its agreed instant; a join called off returns them at once")
    func leaveAndCalledOff() {
        let (shardsA, _) = split()
        var a = machine("engine-a")
        _ = a.connectionReady(now: 0)
        let listing = [("engine-a", 600 as Int64), ("engine-b", 600 as Int64)]
        #expect(ackTimes(&a, now: 1, members: listing) == [.ownedShardsChanged(shardsA)])
        _ = a.tick(now: 200)
        #expect(
            ackTimes(&a, now: 200, members: listing, leavingAt: ["engine-b": 600]) == [
                .ownedShardsWillChange(all, at: 600)
            ])
        #expect(a.tick(now: 600).filter { $0 != .heartbeat } == [])

        // Another B announces its join, then vanishes before its instant (killed, deregistered).
        var c = machine("engine-a")
        _ = c.connectionReady(now: 0)
        _ = ackTimes(&c, now: 1, members: [("engine-a", 600)])
        _ = c.tick(now: 200)
        _ = ackTimes(&c, now: 201, members: listing, activeFrom: ["engine-b": 500])
        #expect(c.ownedShards == shardsA)
        _ = c.tick(now: 400)
        #expect(ackTimes(&c, now: 401, members: [("engine-a", 1_000)]) == [.ownedShardsChanged(all)])
    }
}
