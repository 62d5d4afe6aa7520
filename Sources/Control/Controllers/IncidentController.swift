import Foundation
import Hummingbird

/// `/incidents`: the owner's monitors' incidents, newest first; one incident; acknowledging one
/// (the first acknowledgement is kept); and its notes. A stranger's incident answers 404.
struct IncidentController: Sendable {
    let incidents: IncidentRepository
    let bodyLimit: Int

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("incidents", use: list)
        group.get("incidents/{id}", use: get)
        group.patch("incidents/{id}", use: change)
        group.post("incidents/{id}/acknowledge", use: acknowledge)
    }

    /// `?state=open|resolved&monitorId=&limit=&cursor=`.
    @Sendable func list(_ request: Request, context: ControlRequestContext) async throws -> Page<IncidentResource> {
        let identity = try context.requireIdentity()
        let query = request.queryParameters
        var filter = IncidentFilter()
        if let state = query.get("state") {
            guard state == "open" || state == "resolved" else {
                throw APIError.validation("state must be open or resolved", field: "state")
            }
            filter.open = state == "open"
        }
        if let monitorId = query.get("monitorId") {
            guard let id = Int64(monitorId), id > 0 else {
                throw APIError.validation("monitorId must be a positive integer", field: "monitorId")
            }
            filter.monitorId = id
        }
        let (items, next) = try await incidents.list(
            ownerId: identity.userId,
            filter: filter,
            after: try TimeKeyCursor.decode(query.get("cursor")),
            limit: try PageLimit.parse(request),
            now: Date()
        )
        return Page(data: items, nextCursor: next?.encoded)
    }

    @Sendable func get(_ request: Request, context: ControlRequestContext) async throws -> IncidentResource {
        try await fetch(try context.requireIdentity(), try PathID.parse(context, "id"))
    }

    /// `{"notes": "..." | null}`.
    @Sendable func change(_ request: Request, context: ControlRequestContext) async throws -> IncidentResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: ["notes"])
        guard body.has("notes") else { throw APIError.validation("notes is required (null clears it)", field: "notes") }
        let notes = try body.string("notes")
        if let notes, notes.count > IncidentRepository.maximumNotesLength {
            throw APIError.validation(
                "notes must be at most \(IncidentRepository.maximumNotesLength) characters",
                field: "notes"
            )
        }
        guard try await incidents.setNotes(ownerId: identity.userId, id: id, notes: notes) else {
            throw APIError.notFound("incident")
        }
        return try await fetch(identity, id)
    }

    /// Records who acknowledged the incident and when, once; acknowledging again changes nothing.
    @Sendable func acknowledge(_ request: Request, context: ControlRequestContext) async throws -> IncidentResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard try await incidents.acknowledge(ownerId: identity.userId, id: id, by: identity.userId) else {
            throw APIError.notFound("incident")
        }
        return try await fetch(identity, id)
    }

    private func fetch(_ identity: Identity, _ id: Int64) async throws -> IncidentResource {
        guard let incident = try await incidents.get(ownerId: identity.userId, id: id, now: Date()) else {
            throw APIError.notFound("incident")
        }
        return incident
    }
}
