import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// "Check now" end to end: a real cluster engine, PostgreSQL, Redis and the farm. A request
/// published on `<prefix>:checks:requested` becomes a row in `checks` within seconds, for a
/// monitor the engine runs and for one created after it started (that it has to load first).
///
/// In `ClusterModeTests` (an extension), so it runs with the heavy suites, one at a time.
extension ClusterModeTests {
    @Test("check now: the owning engine checks at once, also a monitor created after it started")
    func checkNowWritesARowWithinSeconds() throws {
        let redis = try #require(ClusterTestEnvironment.redisURL, "REDIS_URL is not set")
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                // A day-long interval: each monitor's one scheduled check falls somewhere in the
                // day (its phase), almost surely not in the seconds this test runs; and if it
                // did, it would add a row, never hide one.
                func importMonitors(_ ids: [String], file: String) throws {
                    let lines = ids.map {
                        "{\"id\":\"\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":86400}"
                    }
                    try (lines.joined(separator: "\n") + "\n").write(
                        toFile: directory + "/" + file,
                        atomically: true,
                        encoding: .utf8
                    )
                    let imported = try Run.run(
                        "lookout-engine",
                        ["import", "--database", schema.url, "--owner", "ops@example.com", directory + "/" + file],
                        in: directory
                    )
                    try #require(imported.status == 0, "import: \(imported.standardError)")
                }
                func monitor(_ externalId: String) throws -> (id: String, shard: Int) {
                    let connection = try schema.connect()
                    let result = try connection.execute(
                        "SELECT id, shard FROM monitors WHERE external_id = $1",
                        [externalId]
                    )
                    return (result.string(row: 0, column: 0) ?? "", Int(result.string(row: 0, column: 1) ?? "") ?? -1)
                }
                func rows(_ monitorId: String) -> Int {
                    (try? schema.count("SELECT count(*) FROM checks WHERE monitor_id = $1::bigint", [monitorId])) ?? -1
                }

                try importMonitors(["existing"], file: "monitors.jsonl")
                let prefix = "lookout-test-\(UInt32.random(in: 0 ... .max))"
                let channel = try ClusterContract(prefix: prefix).checkRequestedChannel
                // A long reconcile period: only the request can make the engine load a new monitor.
                let engine = try Engine(
                    id: "engine-now",
                    databaseURL: schema.url,
                    redisURL: redis,
                    prefix: prefix,
                    leaseMs: 1500,
                    directory: directory,
                    extraArguments: ["--reconcile-seconds", "600"]
                )
                defer { engine.stop() }
                let stderrPath = directory + "/engine-engine-now.stderr"
                func engineLog() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
                // The sync thread logs "owning N shards (+N −0), 1 monitors" once the monitors of
                // its shards are loaded; and a request is only heard once the channel is subscribed.
                try #require(
                    eventually(timeout: 20) { engineLog().contains(", 1 monitors") },
                    "the engine loaded its monitor: \(engineLog())"
                )
                try #require(
                    eventually(timeout: 10) {
                        (try? Self.redisCLI(redis, ["PUBSUB", "NUMSUB", channel]))?.hasSuffix("\n1\n") == true
                    },
                    "the engine subscribed to \(channel)"
                )

                // A monitor the engine runs, between two scheduled checks a day apart.
                let existing = try monitor("existing")
                let before = rows(existing.id)
                let first = CheckRequest(monitorId: existing.id, shard: existing.shard, requestId: "now-\(UUID())")
                _ = try Self.redisCLI(redis, ["PUBLISH", channel, first.json])
                #expect(
                    eventually(timeout: 5) { rows(existing.id) > before },
                    "a new row for monitor \(existing.id) within 5 s of the request"
                )

                // A monitor created after the engine started: no change notification, no
                // reconcile; the request itself has the engine read it from the database.
                try importMonitors(["created-later"], file: "later.jsonl")
                let later = try monitor("created-later")
                let second = CheckRequest(monitorId: later.id, shard: later.shard, requestId: "later-\(UUID())")
                _ = try Self.redisCLI(redis, ["PUBLISH", channel, second.json])
                #expect(
                    eventually(timeout: 5) { rows(later.id) >= 1 },
                    "the new monitor \(later.id) was loaded and checked within 5 s of the request"
                )

                // A monitor that does not exist: nothing to check, and the log says which request.
                let unknown = CheckRequest(monitorId: "987654321", shard: 0, requestId: "unknown-\(UUID())")
                _ = try Self.redisCLI(redis, ["PUBLISH", channel, unknown.json])
                #expect(
                    eventually(timeout: 5) { engineLog().contains("check request \(unknown.requestId)") },
                    "the engine logs the request it could not run"
                )
                for request in [first, second] {
                    #expect(
                        engineLog().contains("(request \(request.requestId))"),
                        "the log echoes \(request.requestId)"
                    )
                }

                engine.stop()
                // The results went the whole way, like scheduled ones: the results file too.
                let reported = Set(engine.checks().map(\.monitor))
                #expect(reported.isSuperset(of: [existing.id, later.id]), "results file: \(reported)")
                #expect(rows(later.id) == engine.checks().filter { $0.monitor == later.id }.count)
                #expect(engine.checks().allSatisfy { $0.httpStatus == 200 })
            }
        }
    }
}
