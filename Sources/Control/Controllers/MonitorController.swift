import Foundation
import Hummingbird
import LookoutCore

/// `/monitors`: list, create, read, replace, change, delete, pause, resume, and bulk import.
/// Every change is committed first, then announced to the engines (`ClusterPublisher`).
struct MonitorController: Sendable {
    let monitors: MonitorRepository
    let reader: MonitorBodyReader
    let publisher: ClusterPublisher
    let bodyLimit: Int
    let bulkBodyLimit: Int

    /// Most monitors in one `POST /monitors/bulk`.
    static let bulkLimit = 10_000

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("monitors", use: list)
        group.post("monitors", use: create)
        group.post("monitors/bulk", use: bulk)
        group.get("monitors/{id}", use: get)
        group.put("monitors/{id}", use: replace)
        group.patch("monitors/{id}", use: change)
        group.delete("monitors/{id}", use: delete)
        group.post("monitors/{id}/pause") { request, context in try await setPaused(true, request, context) }
        group.post("monitors/{id}/resume") { request, context in try await setPaused(false, request, context) }
        group.post("monitors/{id}/check", use: checkNow)
    }

    @Sendable func list(_ request: Request, context: ControlRequestContext) async throws -> WrittenPage<MonitorResource>
    {
        let identity = try context.requireIdentity()
        let query = request.queryParameters
        var filter = MonitorFilter()
        if let status = query.get("status") {
            guard ["UP", "DOWN", "UNKNOWN"].contains(status.uppercased()) else {
                throw APIError.validation("status must be UP, DOWN or UNKNOWN", field: "status")
            }
            filter.status = status.uppercased()
        }
        if let paused = query.get("paused") {
            guard paused == "true" || paused == "false" else {
                throw APIError.validation("paused must be true or false", field: "paused")
            }
            filter.paused = paused == "true"
        }
        if let text = query.get("q"), !text.isEmpty {
            guard text.count <= 200, !text.unicodeScalars.contains("\u{0}") else {
                throw APIError.validation("q must be at most 200 characters, without U+0000", field: "q")
            }
            filter.text = text
        }
        let (items, next) = try await monitors.list(
            ownerId: identity.userId,
            filter: filter,
            after: try Cursor.decodeID(query.get("cursor")),
            limit: try PageLimit.parse(request)
        )
        return WrittenPage(data: items, nextCursor: next.map { Cursor.encode(String($0)) })
    }

    @Sendable func create(
        _ request: Request, context: ControlRequestContext
    ) async throws -> WrittenResource<MonitorResource> {
        let identity = try context.requireIdentity()
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: Self.anyField)
        let draft = try reader.draft(from: body)
        let stored = try await monitors.create(ownerId: identity.userId, draft: draft)
        await publisher.monitorsChanged([change(stored.id, stored.shard, paused: draft.paused)])
        return WrittenResource(item: try await fetch(identity, stored.id), status: .created)
    }

    /// `{"monitors": [...]}`, at most 10,000, all or nothing.
    @Sendable func bulk(_ request: Request, context: ControlRequestContext) async throws -> EditedResponse<BulkCreated>
    {
        let identity = try context.requireIdentity()
        let body = try await JSONBody.object(of: request, limit: bulkBodyLimit, allowed: ["monitors"])
        guard let items = body.fields["monitors"] as? [Any] else {
            throw APIError.validation("monitors must be a list of monitor objects", field: "monitors")
        }
        guard !items.isEmpty else { throw APIError.validation("monitors is empty", field: "monitors") }
        guard items.count <= Self.bulkLimit else {
            throw APIError.validation("at most \(Self.bulkLimit) monitors per request", field: "monitors")
        }
        var drafts: [MonitorDraft] = []
        var errors: [APIError.BulkItemError] = []
        drafts.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard let fields = item as? [String: Any] else {
                errors.append(
                    .init(index: index, code: "validation_failed", message: "must be a JSON object", field: nil))
                continue
            }
            do {
                drafts.append(try reader.draft(from: JSONObject(fields)))
            } catch {
                errors.append(.init(index: index, code: error.code, message: error.message, field: error.field))
            }
        }
        if !errors.isEmpty {
            throw APIError(
                .badRequest,
                "validation_failed",
                "\(errors.count) of \(items.count) monitors are invalid; nothing was stored",
                items: errors
            )
        }
        let stored = try await monitors.createMany(ownerId: identity.userId, drafts: drafts)
        await publisher.monitorsChanged(
            zip(stored, drafts).map { change($0.0.id, $0.0.shard, paused: $0.1.paused) }
        )
        return EditedResponse(status: .created, response: BulkCreated(created: stored.count, ids: stored.map(\.id)))
    }

    struct BulkCreated: ResponseEncodable {
        var created: Int
        /// The new monitors' ids, in the order of the request.
        var ids: [Int64]
    }

    @Sendable func get(
        _ request: Request, context: ControlRequestContext
    ) async throws
        -> WrittenResource<MonitorResource>
    {
        WrittenResource(item: try await fetch(try context.requireIdentity(), try PathID.parse(context, "id")))
    }

    @Sendable func replace(
        _ request: Request, context: ControlRequestContext
    ) async throws
        -> WrittenResource<MonitorResource>
    {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: Self.anyField)
        guard let current = try await monitors.draft(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("monitor")
        }
        let draft = try reader.draft(from: body, replacing: (current.externalId, current.name))
        guard let shard = try await monitors.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("monitor")
        }
        await publisher.monitorsChanged([change(id, shard, paused: draft.paused)])
        return WrittenResource(item: try await fetch(identity, id))
    }

    @Sendable func change(
        _ request: Request, context: ControlRequestContext
    ) async throws
        -> WrittenResource<MonitorResource>
    {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: Self.anyField)
        guard let current = try await monitors.draft(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("monitor")
        }
        let draft = try reader.patch(current, with: body)
        guard let shard = try await monitors.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("monitor")
        }
        await publisher.monitorsChanged([change(id, shard, paused: draft.paused)])
        return WrittenResource(item: try await fetch(identity, id))
    }

    @Sendable func delete(_ request: Request, context: ControlRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard let shard = try await monitors.delete(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("monitor")
        }
        await publisher.monitorsChanged([MonitorChange(monitorId: String(id), shard: shard, operation: .delete)])
        return Response(status: .noContent)
    }

    struct CheckRequested: ResponseEncodable {
        var monitorId: Int64
        /// Names the request in the engines' logs.
        var requestId: String
        var requestedAt: Date
    }

    /// Asks the engine that owns the monitor to check it at once; the result arrives like any
    /// check (`GET /monitors/{id}/checks`, live updates). 202: requested, not yet done.
    @Sendable func checkNow(
        _ request: Request, context: ControlRequestContext
    ) async throws -> EditedResponse<
        CheckRequested
    > {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard let monitor = try await monitors.shard(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("monitor")
        }
        guard !monitor.paused else { throw APIError.conflict("the monitor is paused: resume it to check it") }
        let requestId = UUID().uuidString.lowercased()
        let receivers: Int64
        do {
            receivers = try await publisher.checkRequested(
                CheckRequest(monitorId: String(id), shard: monitor.shard, requestId: requestId)
            )
        } catch {
            throw APIError.unavailable("cannot reach Redis to ask the engines; try again shortly")
        }
        guard receivers > 0 else {
            throw APIError.unavailable("no engine is running: start lookout-engine in cluster mode")
        }
        return EditedResponse(
            status: .accepted,
            response: CheckRequested(monitorId: id, requestId: requestId, requestedAt: Date())
        )
    }

    private func setPaused(
        _ paused: Bool, _ request: Request, _ context: ControlRequestContext
    ) async throws -> WrittenResource<MonitorResource> {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard let shard = try await monitors.setPaused(ownerId: identity.userId, id: id, paused: paused) else {
            throw APIError.notFound("monitor")
        }
        await publisher.monitorsChanged([change(id, shard, paused: paused)])
        return WrittenResource(item: try await fetch(identity, id))
    }

    private func fetch(_ identity: Identity, _ id: Int64) async throws -> MonitorResource {
        guard let resource = try await monitors.get(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("monitor")
        }
        return resource
    }

    private func change(_ id: Int64, _ shard: Int, paused: Bool) -> MonitorChange {
        MonitorChange(monitorId: String(id), shard: shard, operation: paused ? .pause : .upsert)
    }

    /// Read-only fields are let through to the reader, which refuses them with a clearer message.
    private static let anyField = MonitorBodyReader.writableFields.union(MonitorBodyReader.readOnlyFields)
}
