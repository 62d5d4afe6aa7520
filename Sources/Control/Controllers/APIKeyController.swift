import Foundation
import Hummingbird

/// `/api-keys`: create (the secret is in the answer, once), list, revoke.
struct APIKeyController: Sendable {
    let keys: APIKeyRepository
    let bodyLimit: Int

    struct Created: ResponseEncodable {
        var apiKey: APIKey
        /// The secret: shown now and never again.
        var secret: String
    }

    struct List: ResponseEncodable {
        var data: [APIKey]
    }

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.post("api-keys", use: create)
        group.get("api-keys", use: list)
        group.delete("api-keys/{id}", use: revoke)
    }

    @Sendable func create(_ request: Request, context: ControlRequestContext) async throws -> EditedResponse<Created> {
        let identity = try context.requireIdentity()
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: ["name", "scopes", "expiresAt"])
        let name = try body.requiredString("name").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else {
            throw APIError.validation("name must be 1 to 100 characters", field: "name")
        }
        var scopes: [APIKeyScope] = [.read]
        if body.has("scopes") {
            guard let raw = body.fields["scopes"] as? [Any], !raw.isEmpty else {
                throw APIError.validation("scopes must be a non-empty list of \"read\" and \"write\"", field: "scopes")
            }
            scopes = []
            for (index, item) in raw.enumerated() {
                guard let text = item as? String, let scope = APIKeyScope(rawValue: text) else {
                    throw APIError.validation(
                        "scopes[\(index)] must be \"read\" or \"write\"", field: "scopes[\(index)]")
                }
                if !scopes.contains(scope) { scopes.append(scope) }
            }
            // Writing without reading makes no sense for a client of this API.
            if scopes.contains(.write) && !scopes.contains(.read) { scopes.insert(.read, at: 0) }
        }
        let expiresAt = try body.date("expiresAt")
        if let expiresAt, expiresAt <= Date() {
            throw APIError.validation("expiresAt must be in the future", field: "expiresAt")
        }
        let (key, secret) = try await keys.create(
            ownerId: identity.userId, name: name, scopes: scopes, expiresAt: expiresAt)
        return EditedResponse(status: .created, response: Created(apiKey: key, secret: secret))
    }

    @Sendable func list(_ request: Request, context: ControlRequestContext) async throws -> List {
        List(data: try await keys.list(ownerId: try context.requireIdentity().userId))
    }

    @Sendable func revoke(_ request: Request, context: ControlRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard try await keys.revoke(ownerId: identity.userId, id: id) else { throw APIError.notFound("API key") }
        return Response(status: .noContent)
    }
}

/// Ids in paths are positive integers; anything else is a 400 naming the parameter.
enum PathID {
    static func parse(_ context: ControlRequestContext, _ name: String) throws(APIError) -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "invalid_id", "\(name) in the path must be a positive integer", field: name)
        }
        return id
    }
}
