import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `/status-pages`: the owner's status pages (list, create, read, replace, change, delete), and
/// `GET /public/status-pages/{slug}`, the published page as anyone may see it, without auth.
struct StatusPageController: Sendable {
    let pages: StatusPageRepository
    let bodyLimit: Int

    /// How long browsers and proxies may keep the public page.
    static let publicCacheControl = "public, max-age=30"

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("status-pages", use: list)
        group.post("status-pages", use: create)
        group.get("status-pages/{id}", use: get)
        group.put("status-pages/{id}", use: replace)
        group.patch("status-pages/{id}", use: change)
        group.delete("status-pages/{id}", use: delete)
    }

    /// Routes without authentication.
    func addPublicRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("public/status-pages/{slug}", use: publicPage)
    }

    @Sendable func list(_ request: Request, context: ControlRequestContext) async throws -> Page<StatusPageResource> {
        let identity = try context.requireIdentity()
        let (items, next) = try await pages.list(
            ownerId: identity.userId,
            after: try Cursor.decodeID(request.queryParameters.get("cursor")),
            limit: try PageLimit.parse(request)
        )
        return Page(data: items, nextCursor: next.map { Cursor.encode(String($0)) })
    }

    @Sendable func create(
        _ request: Request,
        context: ControlRequestContext
    ) async throws -> EditedResponse<StatusPageResource> {
        let identity = try context.requireIdentity()
        let draft = try StatusPageDraft.read(from: try await body(request))
        let id = try await pages.create(ownerId: identity.userId, draft: draft)
        return EditedResponse(status: .created, response: try await fetch(identity, id))
    }

    @Sendable func get(_ request: Request, context: ControlRequestContext) async throws -> StatusPageResource {
        try await fetch(try context.requireIdentity(), try PathID.parse(context, "id"))
    }

    @Sendable func replace(_ request: Request, context: ControlRequestContext) async throws -> StatusPageResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let draft = try StatusPageDraft.read(from: try await body(request))
        guard try await pages.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("status page")
        }
        return try await fetch(identity, id)
    }

    @Sendable func change(_ request: Request, context: ControlRequestContext) async throws -> StatusPageResource {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let body = try await body(request)
        let current = try await fetch(identity, id)
        let draft = try StatusPageDraft(
            title: current.title,
            slug: current.slug,
            description: current.description,
            published: current.published,
            monitorIds: current.monitorIds
        ).patched(with: body)
        guard try await pages.update(ownerId: identity.userId, id: id, draft: draft) else {
            throw APIError.notFound("status page")
        }
        return try await fetch(identity, id)
    }

    @Sendable func delete(_ request: Request, context: ControlRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        guard try await pages.delete(ownerId: identity.userId, id: try PathID.parse(context, "id")) else {
            throw APIError.notFound("status page")
        }
        return Response(status: .noContent)
    }

    /// The published page at `slug` (404 when there is none or it is not published), with
    /// `Cache-Control` and a strong `ETag` (SHA-256 of the body); a matching `If-None-Match`
    /// answers 304 without a body.
    @Sendable func publicPage(_ request: Request, context: ControlRequestContext) async throws -> Response {
        guard let slug = context.parameters.get("slug"), StatusPageDraft.isValidSlug(slug),
            let page = try await pages.publicPage(slug: slug, now: Date())
        else { throw APIError.notFound("status page") }
        let body = try APIJSON.encoder.encode(page)
        let tag = "\"" + SHA256.hash(data: body).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
        var headers: HTTPFields = [.cacheControl: Self.publicCacheControl, .eTag: tag]
        if let condition = request.headers[.ifNoneMatch], Self.matches(condition, tag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Whether an `If-None-Match` value (`"a", W/"b"` or `*`) names `tag` (weak comparison, as
    /// RFC 9110 asks for this header).
    static func matches(_ condition: String, _ tag: String) -> Bool {
        condition.split(separator: ",").contains { candidate in
            var value = candidate.trimmingCharacters(in: .whitespaces)
            if value == "*" { return true }
            if value.hasPrefix("W/") { value.removeFirst(2) }
            return value == tag
        }
    }

    private func body(_ request: Request) async throws -> JSONObject {
        try await JSONBody.object(
            of: request,
            limit: bodyLimit,
            allowed: StatusPageDraft.writableFields.union(StatusPageDraft.readOnlyFields)
        )
    }

    private func fetch(_ identity: Identity, _ id: Int64) async throws -> StatusPageResource {
        guard let page = try await pages.get(ownerId: identity.userId, id: id) else {
            throw APIError.notFound("status page")
        }
        return page
    }
}
