import Foundation
import Hummingbird
import NIOCore

/// Who is calling: set by `AuthenticationMiddleware` on every `/api/v1` route that needs it.
struct Identity: Sendable, Equatable {
    /// How the caller proved who it is.
    enum Credential: Sendable, Equatable {
        /// A session token (JWT) from `POST /auth/login` or `/auth/register`: every scope.
        case session
        /// An API key with its scopes.
        case apiKey(id: Int64, scopes: Set<APIKeyScope>)
    }

    /// The user every repository call is made for (tenancy by construction).
    var userId: Int64
    var credential: Credential

    /// Whether this caller may change data.
    var canWrite: Bool {
        switch credential {
        case .session: return true
        case .apiKey(_, let scopes): return scopes.contains(.write)
        }
    }

    /// A stable name for the rate limiter: one budget per session user or per API key.
    var rateLimitKey: String {
        switch credential {
        case .session: return "user:\(userId)"
        case .apiKey(let id, _): return "key:\(id)"
        }
    }
}

/// What an API key may do.
enum APIKeyScope: String, Sendable, Codable, CaseIterable {
    /// GET requests.
    case read
    /// Everything else.
    case write
}

/// The request context of every route.
struct ControlRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Set by the authentication middleware.
    var identity: Identity?
    /// The peer's address (the proxy's when behind one; see `--trust-forwarded-for`).
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are read by the handlers themselves with a per-route limit (`JSONBody`).
    var maxUploadSize: Int { 16 << 20 }

    /// Every response body: sorted keys, RFC 3339 dates with milliseconds.
    var responseEncoder: JSONEncoder { APIJSON.encoder }

    /// The authenticated caller; a route behind the authentication middleware always has one.
    func requireIdentity() throws(APIError) -> Identity {
        guard let identity else { throw .unauthenticated }
        return identity
    }
}
