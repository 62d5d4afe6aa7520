import Foundation
import LookoutTestSupport
import Testing

/// A take-over starts each monitor from the confirmed state the control plane recorded in
/// `monitor_states` (no row = UNKNOWN), so a hand-over puts no state change on the stream that
/// the monitor did not make. Real PostgreSQL, Redis, farm and engine binary.
@Suite(
    "Cluster mode: the confirmed state is seeded on take-over", .blocksThreads, .serialized,
    .enabled(if: ClusterTestEnvironment.shouldRun, ClusterTestEnvironment.skipReason))
struct ClusterStateSeedTests {
    @Test("seeded DOWN and still failing: no DOWN again; seeded DOWN and healthy: exactly one DOWN→UP")
    func takeOverStartsFromTheStoredState() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                let definitions = [
                    ("down-still-failing", "/status/503"), ("down-now-up", "/ok"), ("up-still-up", "/ok"),
                    ("unknown-failing", "/status/503"),
                ]
                let lines = definitions.map {
                    "{\"id\":\"\($0.0)\",\"url\":\"\(farm.url($0.1))\",\"intervalSeconds\":1}"
                }
                try ClusterModeTests.importMonitors(lines, into: schema, directory: directory)
                var ids: [String: String] = [:]
                for (name, _) in definitions {
                    let id = try #require(try schema.scalar("SELECT id FROM monitors WHERE external_id = $1", [name]))
                    ids[name] = id
                }
                // What the control plane recorded before this engine took the shards over.
                let connection = try schema.connect()
                for (name, state) in [("down-still-failing", "DOWN"), ("down-now-up", "DOWN"), ("up-still-up", "UP")] {
                    try connection.execute(
                        "INSERT INTO monitor_states (monitor_id, state, changed_at) VALUES ($1::bigint, $2, now())",
                        [ids[name], state])
                }

                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                let stream = "\(prefix):events:state"
                defer { _ = try? ClusterModeTests.redisCLI(redis, ["DEL", stream]) }
                let engine = try ClusterModeTests.Engine(
                    id: "engine-seed", databaseURL: schema.url, redisURL: redis, prefix: prefix, leaseMs: 1500,
                    directory: directory)
                defer { engine.stop() }
                func events() throws -> [[String: String]] {
                    ClusterModeTests.streamEvents(try ClusterModeTests.redisCLI(redis, ["XRANGE", stream, "-", "+"]))
                }
                func checks(_ name: String) -> Int { engine.checks().filter { $0.monitor == ids[name] }.count }
                // The unseeded monitor shows that events flow (UNKNOWN→DOWN after two failures); the
                // healthy one seeded DOWN recovers; then every monitor has had three more checks in
                // which a wrong event would have been sent.
                let settled = try eventually(timeout: 60) {
                    let seen = try events()
                    return seen.contains { $0["monitorId"] == ids["unknown-failing"] && $0["to"] == "DOWN" }
                        && seen.contains { $0["monitorId"] == ids["down-now-up"] && $0["to"] == "UP" }
                }
                let seenSoFar = try events()
                #expect(settled, "the expected events arrived: \(seenSoFar)")
                let baseline = Dictionary(uniqueKeysWithValues: definitions.map { ($0.0, checks($0.0)) })
                #expect(
                    eventually(timeout: 60) { definitions.allSatisfy { checks($0.0) >= baseline[$0.0]! + 3 } },
                    "three more checks of every monitor")
                engine.stop()

                let all = try events()
                func of(_ name: String) -> [[String: String]] { all.filter { $0["monitorId"] == ids[name] } }
                #expect(of("down-still-failing").isEmpty, "no DOWN sent again for a monitor already DOWN: \(all)")
                #expect(of("up-still-up").isEmpty, "no UP sent again for a monitor already UP: \(all)")
                let recovered = of("down-now-up")
                #expect(recovered.count == 1, "exactly one change for the recovered monitor: \(all)")
                #expect(recovered.first?["from"] == "DOWN" && recovered.first?["to"] == "UP", "\(recovered)")
                let unknown = of("unknown-failing")
                #expect(unknown.count == 1 && unknown.first?["from"] == "UNKNOWN", "absent row = UNKNOWN: \(unknown)")
            }
        }
    }
}
