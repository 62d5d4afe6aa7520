import Foundation
import Hummingbird

/// `/maintenance-windows`: the owner's maintenance windows (list, create, read, replace, change,
/// delete). During a window its monitors' state changes are recorded and not notified.
struct MaintenanceWindowController: Sendable {
    let windows: MaintenanceWindowRepository
    let bodyLimit: Int

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("maintenance-windows", use: list)
        group.post("maintenance-windows", use: create)
        group.get("maintenance-windows/{id}", use: get)
        group.put("maintenance-windows/{id}", use: replace)
        group.patch("maintenance-windows/{id}", use: change)
        group.delete("maintenance-windows/{id}", use: delete)
    }

    @Sendable func list(
        _ request: Request,
        context: ControlRequestContext
    ) async throws -> Page<MaintenanceWindowResource> {
        let identity = try context.requireIdentity()
        let (items, next) = try await windows.list(
            ownerId: identity.userId,
            after: try Cursor.decodeID(request.queryParameters.get("cursor")),
            limit: try PageLimit.parse(request)
        )
        return Page(data: items, nextCursor: next.map { Cursor.encode(String($0)) })
    }

    @Sendable func create(
        _ request: Request,
        context: ControlRequestContext
    ) async throws -> EditedResponse<MaintenanceWindowResource> {
        let identity = try context.requireIdentity()
        let draft = try MaintenanceWindowDraft.read(from: try await body(request))
        let id = try await windows.create(ownerId: identity.userId, draft: draft)
        return EditedResponse(status: .created, response: try await fetch(identity, id))
    }

    @Sendable func get(_ request: Request, context: ControlRequestContext) async throws -> MaintenanceWindowResource {
        try await fetch(try context.requireIdentity(), try PathID.parse(context, "id"))
    }

    @Sendable func replace(
        _ request: Request,
        context: ControlRequestContext
    ) async throws -> MaintenanceWindowResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let draft = try MaintenanceWindowDraft.read(from: try await body(request))
        guard try await windows.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("maintenance window")
        }
        return try await fetch(identity, id)
    }

    @Sendable func change(
        _ request: Request,
        context: ControlRequestContext
    ) async throws -> MaintenanceWindowResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await body(request)
        let current = try await fetch(identity, id)
        let draft = try MaintenanceWindowDraft(
            name: current.name,
            monitorIds: current.monitorIds,
            startsAt: current.startsAt,
            endsAt: current.endsAt,
            repeatRule: current.repeatRule
        ).patched(with: body)
        guard try await windows.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("maintenance window")
        }
        return try await fetch(identity, id)
    }

    @Sendable func delete(_ request: Request, context: ControlRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        guard try await windows.delete(ownerId: identity.userId, id: try PathID.parse(context, "id")) else {
            throw APIError.notFound("maintenance window")
        }
        return Response(status: .noContent)
    }

    private func body(_ request: Request) async throws -> JSONObject {
        try await JSONBody.object(
            of: request,
            limit: bodyLimit,
            allowed: MaintenanceWindowDraft.writableFields.union(MaintenanceWindowDraft.readOnlyFields)
        )
    }

    private func fetch(_ identity: Identity, _ id: Int64) async throws -> MaintenanceWindowResource {
        guard let window = try await windows.get(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("maintenance window")
        }
        return window
    }
}
