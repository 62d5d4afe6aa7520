import Foundation

/// Authenticates a live-update connection with the REST API's rules: a session token (HS256
/// JWT of an existing account) or a live API key (`lk_…`, any scope: subscribing only reads).
struct RealtimeAuthenticator: Sendable {
    let tokens: SessionTokens
    let apiKeys: APIKeyRepository
    let users: UserRepository

    /// The user of `token`, or a refusal a client can read.
    func authenticate(_ token: String) async -> Result<Int64, RealtimeRefusal> {
        let token = token.trimmingCharacters(in: .whitespaces)
        do {
            if APIKeySecret.isAPIKey(token) {
                if let key = try await apiKeys.authenticate(secret: token) { return .success(key.ownerId) }
            } else if let userId = await tokens.verify(token), try await users.find(id: userId) != nil {
                return .success(userId)
            }
        } catch {
            return .failure(RealtimeRefusal(.unauthenticated, "authentication is unavailable right now; try again"))
        }
        return .failure(
            RealtimeRefusal(
                .unauthenticated, "the token is not a valid session token or API key (expired, revoked or malformed)"))
    }
}
