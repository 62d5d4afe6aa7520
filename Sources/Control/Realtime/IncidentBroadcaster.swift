import Foundation
import Logging
import LookoutCore
import LookoutFFI

/// The incident consumer's `onApplied` hook for live updates: after each commit that applied a
/// confirmed state change (and so opened or resolved the monitor's incident, or confirmed a
/// first state), it publishes a `LiveStateUpdate` on `<prefix>:incidents:live` for every
/// instance's WebSocket clients. Best effort, like all pub/sub: a failure is logged and the
/// consumer goes on.
struct IncidentBroadcaster: Sendable {
    let database: Database
    let redis: RedisClient
    let contract: ClusterContract
    let logger: Logger

    func applied(_ event: StateChangeEvent, _ outcome: IncidentRecorder.Outcome) async {
        guard case .applied(effective: true, let incidentId, _) = outcome, let monitorId = Int64(event.monitorId),
            event.to != .unknown
        else { return }
        do {
            guard let update = try await stateUpdate(event, monitorId: monitorId, incidentId: incidentId) else {
                return
            }
            _ = try await redis.commands.command(["PUBLISH", contract.incidentsLiveChannel, update.json])
        } catch {
            logger.warning(
                "could not publish a live state update; clients see it at their next check",
                metadata: ["monitor": "\(monitorId)", "error": "\(error)"]
            )
        }
    }

    /// The update of one applied event: the monitor's owner and name, and its incident.
    func stateUpdate(_ event: StateChangeEvent, monitorId: Int64, incidentId: Int64?) async throws -> LiveStateUpdate? {
        guard
            let monitor = try await database.first(
                "SELECT owner_id, name FROM monitors WHERE id = \(monitorId)", as: (Int64, String).self)
        else { return nil }
        var incident: LiveStateUpdate.Incident?
        if let incidentId,
            let row = try await database.first(
                """
                SELECT started_at, resolved_at, extract(epoch FROM resolved_at - started_at)::float8,
                       cause_status, cause_code, cause_message
                FROM incidents WHERE id = \(incidentId) AND monitor_id = \(monitorId)
                """,
                as: (Date, Date?, Double?, String?, String?, String?).self
            )
        {
            incident = LiveStateUpdate.Incident(
                incidentId: incidentId,
                event: event.to == .down ? .opened : .resolved,
                startedAtMs: Int64((row.0.timeIntervalSince1970 * 1000).rounded()),
                resolvedAtMs: row.1.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) },
                durationSeconds: row.2,
                causeStatus: row.3,
                causeCode: row.4,
                causeMessage: row.5
            )
        }
        return LiveStateUpdate(
            monitorId: monitorId,
            ownerId: monitor.0,
            monitorName: monitor.1,
            from: event.from,
            to: event.to,
            atMs: event.atMs,
            incident: incident
        )
    }
}
