import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Incidents from state changes (real PostgreSQL)", .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct IncidentRecorderTests {
    /// A recorder on the application's database, with a monitor owned by a fresh user and one
    /// webhook channel (so notifications have somewhere to go).
    func withMonitor(
        channels: Int = 1,
        _ body: @Sendable (IncidentRecorder, APIClient, _ monitorId: Int64) async throws -> Void
    ) async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register()
            let monitor = try await api.createMonitor(token, ["name": "Checkout API"])
            let monitorId = try #require(monitor.int64("id"))
            for index in 0..<channels {
                _ = try api.schema.scalar(
                    "INSERT INTO notification_channels (owner_id, kind, name, config) VALUES ($1, 'webhook', $2, '{\"url\":\"http://127.0.0.1:9/hook\"}') RETURNING id",
                    [String(userId), "hook-\(index)"]
                )
            }
            let recorder = IncidentRecorder(
                database: api.dependencies.database,
                policy: IncidentPolicy(configuration: .init()),
                maxAttempts: 10
            )
            try await body(recorder, api, monitorId)
        }
    }

    func event(
        _ monitorId: Int64, _ from: MonitorState, _ to: MonitorState, at seconds: Int64, check: String? = nil
    )
        -> StateChangeEvent
    {
        StateChangeEvent(
            monitorId: String(monitorId),
            from: from,
            to: to,
            atMs: 1_796_000_000_000 + seconds * 1000,
            checkId: check ?? UUID().uuidString.lowercased(),
            engineId: "engine-a",
            reason: to == .down ? "connect_refused" : "up",
            message: to == .down ? "connection refused: nothing listens on that port" : ""
        )
    }

    @Test("DOWN opens one incident with one outbox row per channel; UP resolves it with its downtime")
    func openAndResolve() async throws {
        try await withMonitor(channels: 2) { recorder, api, monitorId in
            let down = try await recorder.apply(event(monitorId, .up, .down, at: 0))
            guard case .applied(true, let incidentId?, 2) = down else {
                Issue.record("unexpected outcome \(down)")
                return
            }
            #expect(
                try api.schema.scalar("SELECT cause_status FROM incidents WHERE id = $1", [String(incidentId)])
                    == "ERROR")
            #expect(
                try api.schema.scalar("SELECT cause_code FROM incidents WHERE id = $1", [String(incidentId)])
                    == "connect_refused")
            #expect(
                try api.schema.scalar("SELECT state FROM monitor_states WHERE monitor_id = $1", [String(monitorId)])
                    == "DOWN")
            let payload = try #require(
                try api.schema.scalar(
                    "SELECT payload::text FROM notification_outbox WHERE event_type = 'monitor.down' LIMIT 1")
            )
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            #expect(object["status"] as? String == "DOWN")
            #expect(object["monitorName"] as? String == "Checkout API")
            #expect((object["error"] as? String)?.hasPrefix("connect_refused: connection refused") == true)

            let up = try await recorder.apply(event(monitorId, .down, .up, at: 90))
            guard case .applied(true, incidentId, 2) = up else {
                Issue.record("unexpected outcome \(up)")
                return
            }
            let downtime = try api.schema.scalar(
                "SELECT extract(epoch FROM resolved_at - started_at)::int FROM incidents WHERE id = $1",
                [String(incidentId)]
            )
            #expect(downtime == "90")
            #expect(try api.schema.count("SELECT count(*) FROM notification_outbox") == 4)
            #expect(try api.schema.count("SELECT count(*) FROM incidents WHERE resolved_at IS NULL") == 0)
        }
    }

    @Test("the same event applied twice (redelivery) is recorded and notified once")
    func idempotent() async throws {
        try await withMonitor { recorder, api, monitorId in
            let down = event(monitorId, .up, .down, at: 0)
            _ = try await recorder.apply(down)
            #expect(try await recorder.apply(down) == .duplicate)
            #expect(try api.schema.count("SELECT count(*) FROM incidents") == 1)
            #expect(try api.schema.count("SELECT count(*) FROM notification_outbox") == 1)
        }
    }

    @Test("two recorders applying the same event at once still write one incident and one notification")
    func concurrentApplication() async throws {
        try await withMonitor { recorder, api, monitorId in
            let down = event(monitorId, .up, .down, at: 0)
            async let first = recorder.apply(down)
            async let second = recorder.apply(down)
            let outcomes = try await [first, second]
            #expect(outcomes.filter { $0 == .duplicate }.count == 1)
            #expect(try api.schema.count("SELECT count(*) FROM incidents") == 1)
            #expect(try api.schema.count("SELECT count(*) FROM notification_outbox") == 1)
        }
    }

    @Test("an engine re-confirming DOWN after a hand-over opens no second incident and sends nothing")
    func reconfirmation() async throws {
        try await withMonitor { recorder, api, monitorId in
            _ = try await recorder.apply(event(monitorId, .up, .down, at: 0))
            let again = try await recorder.apply(event(monitorId, .unknown, .down, at: 30))
            #expect(again == .applied(effective: false, incidentId: nil, notifications: 0))
            #expect(try api.schema.count("SELECT count(*) FROM incidents") == 1)
            #expect(try api.schema.count("SELECT count(*) FROM notification_outbox") == 1)
        }
    }

    @Test("a change inside a maintenance window is recorded without a notification")
    func maintenanceWindow() async throws {
        try await withMonitor { recorder, api, monitorId in
            let owner = try #require(
                try api.schema.scalar("SELECT owner_id FROM monitors WHERE id = $1", [String(monitorId)]))
            let window = try #require(
                try api.schema.scalar(
                    "INSERT INTO maintenance_windows (owner_id, starts_at, ends_at) VALUES ($1, to_timestamp(1795999000), to_timestamp(1796001000)) RETURNING id",
                    [owner]
                )
            )
            _ = try api.schema.scalar(
                "INSERT INTO maintenance_window_monitors (window_id, monitor_id) VALUES ($1, $2) RETURNING 1",
                [window, String(monitorId)]
            )
            let outcome = try await recorder.apply(event(monitorId, .up, .down, at: 0))
            guard case .applied(true, _, 0) = outcome else {
                Issue.record("unexpected outcome \(outcome)")
                return
            }
            #expect(try api.schema.count("SELECT count(*) FROM incidents") == 1, "the incident is still recorded")
            #expect(try api.schema.scalar("SELECT suppressed_by FROM monitor_state_changes") == "maintenance")
        }
    }

    @Test("five changes in the window send one flapping message, then silence")
    func flapping() async throws {
        try await withMonitor { recorder, api, monitorId in
            var state = MonitorState.up
            for step in 0..<8 {
                let next: MonitorState = state == .up ? .down : .up
                _ = try await recorder.apply(event(monitorId, state, next, at: Int64(step) * 60))
                state = next
            }
            #expect(
                try api.schema.count("SELECT count(*) FROM notification_outbox WHERE event_type = 'monitor.flapping'")
                    == 1)
            #expect(
                try api.schema.count("SELECT count(*) FROM notification_outbox WHERE event_type <> 'monitor.flapping'")
                    == 4)
            #expect(
                try api.schema.scalar("SELECT flapping FROM monitor_states WHERE monitor_id = $1", [String(monitorId)])
                    == "t")
        }
    }

    @Test("an event for a deleted monitor is dropped")
    func unknownMonitor() async throws {
        try await withMonitor { recorder, _, monitorId in
            let outcome = try await recorder.apply(event(monitorId + 1000, .up, .down, at: 0))
            #expect(outcome == .unknownMonitor)
        }
    }
}

@Suite(
    "Flapping ends after a quiet period (real PostgreSQL)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct FlapSweeperTests {
    @Test("a flapping monitor quiet for the stable period gets one 'stable' message with its state, once")
    func stableAgain() async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register()
            let monitorId = try #require(try await api.createMonitor(token, ["name": "Flappy"]).int64("id"))
            _ = try api.schema.scalar(
                "INSERT INTO notification_channels (owner_id, kind, name, config) VALUES ($1, 'webhook', 'h', '{\"url\":\"http://127.0.0.1:9/h\"}') RETURNING id",
                [String(userId)]
            )
            let recorder = IncidentRecorder(
                database: api.dependencies.database,
                policy: IncidentPolicy(configuration: .init(flapThreshold: 3, flapWindowSeconds: 600)),
                maxAttempts: 10
            )
            let start = Date().addingTimeInterval(-3_600)
            var state = MonitorState.up
            for step in 0..<4 {
                let next: MonitorState = state == .up ? .down : .up
                _ = try await recorder.apply(
                    StateChangeEvent(
                        monitorId: String(monitorId),
                        from: state,
                        to: next,
                        atMs: Int64(start.addingTimeInterval(Double(step) * 30).timeIntervalSince1970 * 1000),
                        checkId: UUID().uuidString.lowercased(),
                        engineId: "e",
                        reason: next == .down ? "timeout" : "up"
                    )
                )
                state = next
            }
            #expect(try api.schema.scalar("SELECT flapping FROM monitor_states") == "t")
            let sweeper = FlapSweeper(
                database: api.dependencies.database,
                signal: OutboxSignal(),
                stableSeconds: 900,
                maxAttempts: 10,
                logger: ControlHarness.logger
            )
            // Quiet for less than the stable period: still flapping.
            #expect(try await sweeper.sweep(now: start.addingTimeInterval(120 + 600)) == 0)
            #expect(try await sweeper.sweep(now: start.addingTimeInterval(120 + 1_000)) == 1)
            #expect(try await sweeper.sweep(now: start.addingTimeInterval(120 + 2_000)) == 0, "settled once")
            #expect(try api.schema.scalar("SELECT flapping FROM monitor_states") == "f")
            let payload = try #require(
                try api.schema.scalar(
                    "SELECT payload::text FROM notification_outbox WHERE event_type = 'monitor.stable'")
            )
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            #expect(object["status"] as? String == "UP")
            #expect(object["event"] as? String == "monitor.stable")
            #expect(
                try api.schema.count("SELECT count(*) FROM notification_outbox WHERE event_type = 'monitor.stable'")
                    == 1)
        }
    }
}
