import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "State stream consumer: consumer group, acknowledgements, take-over (real Redis and PostgreSQL)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct StateStreamConsumerTests {
    @Test("an entry a dead instance read and never acknowledged is taken over and applied, then acknowledged")
    func takesOverAbandonedEntries() async throws {
        try await ControlHarness.withApplication(configure: {
            $0.incidents.consumerEnabled = false
            $0.incidents.claimIdleMilliseconds = 1_000
        }) { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let lane = api.dependencies.redis.commands
            let contract = api.dependencies.configuration.cluster
            let stream = contract.stateStream
            _ = try await lane.command(["XGROUP", "CREATE", stream, StateStreamConsumer.group, "0", "MKSTREAM"])
            let event = StateChangeEvent(
                monitorId: String(monitorId),
                from: .up,
                to: .down,
                atMs: Int64(Date().timeIntervalSince1970 * 1000),
                checkId: UUID().uuidString.lowercased(),
                engineId: "engine-a",
                reason: "timeout",
                message: "no complete answer within the timeout"
            )
            _ = try await lane.command(["XADD", stream, "*"] + event.streamFields.flatMap { [$0.0, $0.1] })
            // A control plane that dies right after reading the entry.
            let read = try await lane.command([
                "XREADGROUP", "GROUP", StateStreamConsumer.group, "dead-instance", "COUNT", "10", "STREAMS", stream,
                ">",
            ])
            #expect(read.arrayValue?.isEmpty == false, "the dead instance got the entry")

            let consumer = ControlApplication.makeStateStreamConsumer(api.dependencies)
            let running = Task { try await consumer.run() }
            defer { running.cancel() }
            let applied = await waitFor(.seconds(20)) {
                (try? api.schema.count(
                    "SELECT count(*) FROM incidents WHERE monitor_id = $1::int8", [String(monitorId)])) == 1
            }
            #expect(applied, "the abandoned entry was taken over and applied")
            let acknowledged = await waitFor(.seconds(10)) {
                let pending = try? await lane.command(["XPENDING", stream, StateStreamConsumer.group])
                return pending?.arrayValue?.first?.integerValue == 0
            }
            #expect(acknowledged, "nothing is left pending")
            #expect(try api.schema.scalar("SELECT cause_status FROM incidents") == "TIMEOUT")
        }
    }

    @Test("a malformed entry is acknowledged and skipped; the next one is applied")
    func malformedEntry() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token).int64("id"))
            let lane = api.dependencies.redis.commands
            let stream = api.dependencies.configuration.cluster.stateStream
            _ = try await lane.command(["XADD", stream, "*", "monitorId", String(monitorId), "to", "SIDEWAYS"])
            let event = StateChangeEvent(
                monitorId: String(monitorId), from: .up, to: .down, atMs: Int64(Date().timeIntervalSince1970 * 1000),
                checkId: UUID().uuidString.lowercased(), engineId: "e", reason: "reset")
            _ = try await lane.command(["XADD", stream, "*"] + event.streamFields.flatMap { [$0.0, $0.1] })
            let applied = await waitFor(.seconds(20)) {
                (try? api.schema.count("SELECT count(*) FROM incidents")) == 1
            }
            #expect(applied)
            let acknowledged = await waitFor(.seconds(10)) {
                let pending = try? await lane.command(["XPENDING", stream, StateStreamConsumer.group])
                return pending?.arrayValue?.first?.integerValue == 0
            }
            #expect(acknowledged)
        }
    }
}
