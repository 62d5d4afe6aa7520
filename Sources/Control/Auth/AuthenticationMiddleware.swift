import Hummingbird

/// Requires `Authorization: Bearer <session token or API key>` and sets the caller's identity.
/// An API key with only the `read` scope may only read (GET, HEAD). Every authenticated request
/// then spends one unit of its token's per-minute budget (shared by all instances through Redis).
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ControlRequestContext

    let tokens: SessionTokens
    let apiKeys: APIKeyRepository
    let users: UserRepository
    let rateLimiter: RateLimiter
    let requestsPerMinute: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], header.count > 7,
            header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthenticated }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let identity: Identity
        if APIKeySecret.isAPIKey(token) {
            guard let key = try await apiKeys.authenticate(secret: token) else { throw APIError.unauthenticated }
            identity = Identity(userId: key.ownerId, credential: .apiKey(id: key.keyId, scopes: key.scopes))
        } else {
            // A deleted account's tokens die with it.
            guard let userId = await tokens.verify(token), try await users.find(id: userId) != nil else {
                throw APIError.unauthenticated
            }
            identity = Identity(userId: userId, credential: .session)
        }
        let readOnly = request.method == .get || request.method == .head
        if !readOnly && !identity.canWrite {
            throw APIError.forbidden(
                "this API key has the read scope only; create one with the write scope to change data")
        }
        try await rateLimiter.enforce(
            key: "token:\(identity.rateLimitKey)",
            limitPerMinute: requestsPerMinute
        )
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}
