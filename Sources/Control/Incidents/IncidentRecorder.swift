import Foundation
import Logging
import LookoutCore
import PostgresNIO

/// Applies one state-change event in one transaction: records it (exactly once per monitor and
/// confirming check), moves the monitor's confirmed state, opens or resolves its incident, and
/// writes the notifications to the outbox — all committed together, so a crash either keeps
/// everything or nothing, and the stream entry is acknowledged only after the commit.
struct IncidentRecorder: Sendable {
    let database: Database
    let policy: IncidentPolicy
    let maxAttempts: Int

    /// What applying an event did.
    enum Outcome: Sendable, Equatable {
        /// The monitor no longer exists (deleted since): nothing to do.
        case unknownMonitor
        /// This (monitor, check) was applied before: a redelivery.
        case duplicate
        /// Recorded; `notifications` outbox rows were written.
        case applied(effective: Bool, incidentId: Int64?, notifications: Int)
    }

    func apply(_ event: StateChangeEvent) async throws -> Outcome {
        guard let monitorId = Int64(event.monitorId), event.to != .unknown else { return .unknownMonitor }
        let at = Date(timeIntervalSince1970: Double(event.atMs) / 1000)
        return try await database.transaction { transaction in
            guard
                let monitor = try await transaction.first(
                    "SELECT owner_id, name, url FROM monitors WHERE id = \(monitorId)",
                    as: (Int64, String, String).self
                )
            else { return .unknownMonitor }
            try await transaction.execute(
                """
                INSERT INTO monitor_states (monitor_id, state, changed_at) VALUES (\(monitorId), 'UNKNOWN', '-infinity')
                ON CONFLICT (monitor_id) DO NOTHING
                """
            )
            guard
                let held = try await transaction.first(
                    """
                    SELECT state, changed_at, flapping FROM monitor_states WHERE monitor_id = \(monitorId) FOR UPDATE
                    """,
                    as: (String, Date, Bool).self
                )
            else { return .unknownMonitor }
            let recorded = try await transaction.values(
                """
                INSERT INTO monitor_state_changes
                    (monitor_id, from_state, to_state, changed_at, check_id, engine_id, reason, message, effective)
                VALUES (\(monitorId), \(event.from.rawValue), \(event.to.rawValue), \(at), \(event.checkId),
                    \(event.engineId), \(event.reason), \(event.message), false)
                ON CONFLICT (monitor_id, check_id) DO NOTHING
                RETURNING id
                """,
                as: Int64.self
            )
            guard let changeId = recorded.first else { return .duplicate }

            let heldState = MonitorState(rawValue: held.0) ?? .unknown
            let recent =
                try await transaction.values(
                    """
                    SELECT count(*) FROM monitor_state_changes
                    WHERE monitor_id = \(monitorId) AND effective
                      AND changed_at > \(at.addingTimeInterval(-Double(policy.configuration.flapWindowSeconds)))
                      AND changed_at <= \(at)
                    """,
                    as: Int64.self
                ).first ?? 0
            let decision = policy.decide(
                IncidentPolicy.Input(
                    held: heldState,
                    heldAt: held.1.timeIntervalSince1970 < -1e11 ? nil : held.1,
                    flapping: held.2,
                    to: event.to,
                    at: at,
                    recentChanges: Int(recent),
                    inMaintenance: try await transaction.isInMaintenance(monitorId: monitorId, at: at)
                )
            )
            guard decision.effective else {
                return .applied(effective: false, incidentId: nil, notifications: 0)
            }
            try await transaction.execute(
                """
                UPDATE monitor_states SET state = \(event.to.rawValue), changed_at = \(at), check_id = \(event.checkId),
                    flapping = \(decision.flapping),
                    flapping_since = CASE WHEN \(decision.flapping) THEN coalesce(flapping_since, \(at)) ELSE NULL END,
                    updated_at = now()
                WHERE monitor_id = \(monitorId)
                """
            )
            var incidentId: Int64?
            var downtimeSeconds: Double?
            if event.to == .down {
                incidentId = try await openIncident(monitorId: monitorId, event: event, at: at, transaction)
            } else if let resolved = try await transaction.first(
                """
                UPDATE incidents SET resolved_at = greatest(\(at), started_at), resolving_check_id = \(Self.uuid(event.checkId)),
                    updated_at = now()
                WHERE monitor_id = \(monitorId) AND resolved_at IS NULL
                RETURNING id, extract(epoch FROM resolved_at - started_at)::float8
                """,
                as: (Int64, Double).self
            ) {
                incidentId = resolved.0
                downtimeSeconds = resolved.1
            }
            try await transaction.execute(
                """
                UPDATE monitor_state_changes SET effective = true, incident_id = \(incidentId),
                    suppressed_by = \(decision.suppressedBy?.rawValue)
                WHERE id = \(changeId)
                """
            )
            let eventType: NotificationPayload.Event?
            switch decision.notification {
            case .none: eventType = nil
            case .stateChange: eventType = event.to == .down ? .monitorDown : .monitorUp
            case .flappingStarted: eventType = .monitorFlapping
            }
            guard let eventType else {
                return .applied(effective: true, incidentId: incidentId, notifications: 0)
            }
            let payload = NotificationPayload(
                event: eventType,
                occurredAt: at,
                monitorId: monitorId,
                monitorName: monitor.1,
                url: monitor.2,
                status: event.to == .down ? .down : .up,
                incidentId: incidentId,
                error: event.to == .down ? Self.errorText(event) : nil,
                downtimeSeconds: downtimeSeconds
            )
            let written = try await Outbox.enqueue(
                payload,

                ownerId: monitor.0,
                monitorId: monitorId,
                incidentId: incidentId,
                keyPrefix: "\(eventType.rawValue):\(monitorId):\(event.checkId)",
                maxAttempts: maxAttempts,
                transaction
            )
            if written == 0 {
                try await transaction.execute(
                    "UPDATE monitor_state_changes SET suppressed_by = 'no_channel' WHERE id = \(changeId)"
                )
            }
            return .applied(effective: true, incidentId: incidentId, notifications: written)
        }
    }

    /// Opens the monitor's incident (at most one open, by the partial unique index). It starts
    /// at the first failed check of the streak that led to the confirmation when the checks
    /// are already stored, else at the confirming check.
    private func openIncident(
        monitorId: Int64,
        event: StateChangeEvent,
        at: Date,
        _ transaction: Database.Transaction
    ) async throws -> Int64? {
        let causeStatus = CheckErrorCode(rawValue: event.reason)?.status.name ?? "ERROR"
        let streakStart =
            try await transaction.values(
                """
                SELECT min(c.checked_at) FROM checks c
                WHERE c.monitor_id = \(monitorId) AND c.status <> 'UP' AND c.checked_at <= \(at)
                  AND c.checked_at > \(at.addingTimeInterval(-86_400))
                  AND c.checked_at > coalesce((
                      SELECT max(u.checked_at) FROM checks u
                      WHERE u.monitor_id = \(monitorId) AND u.status = 'UP' AND u.checked_at <= \(at)
                        AND u.checked_at > \(at.addingTimeInterval(-86_400))), '-infinity')
                """,
                as: Date?.self
            ).first
        let startedAt = (streakStart ?? nil) ?? at
        let httpStatus =
            try await transaction.values(
                """
                SELECT http_status FROM checks WHERE monitor_id = \(monitorId) AND check_id = \(Self.uuid(event.checkId))
                  AND checked_at = \(at)
                """,
                as: Int?.self
            ).first ?? nil
        let opened = try await transaction.values(
            """
            INSERT INTO incidents (monitor_id, started_at, cause_status, cause_code, cause_message, http_status,
                first_check_id)
            VALUES (\(monitorId), \(startedAt), \(causeStatus), \(event.reason), \(event.message),
                \(httpStatus.flatMap { $0 == 0 ? nil : $0 }), \(Self.uuid(event.checkId)))
            ON CONFLICT (monitor_id) WHERE resolved_at IS NULL DO NOTHING
            RETURNING id
            """,
            as: Int64.self
        )
        if let id = opened.first { return id }
        return try await transaction.values(
            "SELECT id FROM incidents WHERE monitor_id = \(monitorId) AND resolved_at IS NULL",
            as: Int64.self
        ).first
    }

    /// `"timeout: no complete answer within the timeout"`.
    static func errorText(_ event: StateChangeEvent) -> String {
        event.message.isEmpty ? event.reason : "\(event.reason): \(event.message)"
    }

    /// The check id as a UUID when it is one (cluster engines write v8 UUIDs), else nil.
    static func uuid(_ text: String) -> UUID? { UUID(uuidString: text) }
}
