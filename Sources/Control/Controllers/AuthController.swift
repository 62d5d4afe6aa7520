import Foundation
import HTTPTypes
import Hummingbird

/// `POST /auth/register`, `POST /auth/login` (public, strictly rate-limited) and `GET /auth/me`.
struct AuthController: Sendable {
    let users: UserRepository
    let passwords: Passwords
    let tokens: SessionTokens
    let rateLimiter: RateLimiter
    let limits: ControlConfiguration.RateLimits
    let bodyLimit: Int
    let trustForwardedFor: Bool

    /// `{token, expiresAt, user}`.
    struct Session: ResponseEncodable {
        var token: String
        var expiresAt: Date
        var user: User
    }

    func addPublicRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.post("auth/register", use: register)
        group.post("auth/login", use: login)
    }

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("auth/me", use: me)
    }

    @Sendable func register(_ request: Request, context: ControlRequestContext) async throws -> EditedResponse<Session>
    {
        let ip = ClientAddress.of(request, context: context, trustForwardedFor: trustForwardedFor)
        try await rateLimiter.enforce(key: "register:ip:\(ip)", limitPerMinute: limits.registrationsPerIP)
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: ["email", "password", "name"])
        let email = try Self.validEmail(try body.requiredString("email"))
        let password = try body.requiredString("password")
        if let problem = Passwords.problem(with: password) { throw APIError.validation(problem, field: "password") }
        let name = try body.string("name")?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name, name.isEmpty || name.count > 100 {
            throw APIError.validation("name must be 1 to 100 characters", field: "name")
        }
        let user = try await users.create(email: email, passwordHash: try await passwords.hash(password), name: name)
        let issued = try await tokens.issue(userId: user.id)
        return EditedResponse(
            status: .created, response: Session(token: issued.token, expiresAt: issued.expiresAt, user: user))
    }

    @Sendable func login(_ request: Request, context: ControlRequestContext) async throws -> Session {
        let ip = ClientAddress.of(request, context: context, trustForwardedFor: trustForwardedFor)
        try await rateLimiter.enforce(key: "login:ip:\(ip)", limitPerMinute: limits.loginsPerIP)
        let body = try await JSONBody.object(of: request, limit: bodyLimit, allowed: ["email", "password"])
        let email = try body.requiredString("email")
        let password = try body.requiredString("password")
        try await rateLimiter.enforce(key: "login:email:\(email.lowercased())", limitPerMinute: limits.loginsPerEmail)
        let account = try await users.find(email: email)
        guard try await passwords.verify(password, hash: account?.passwordHash), let user = account?.user else {
            throw APIError(.unauthorized, "invalid_credentials", "wrong e-mail address or password")
        }
        let issued = try await tokens.issue(userId: user.id)
        return Session(token: issued.token, expiresAt: issued.expiresAt, user: user)
    }

    @Sendable func me(_ request: Request, context: ControlRequestContext) async throws -> User {
        let identity = try context.requireIdentity()
        guard let user = try await users.find(id: identity.userId) else { throw APIError.unauthenticated }
        return user
    }

    /// A plausible address: 3–254 characters, one `@` with text on both sides, no spaces or
    /// control characters (deliverability is the mail server's business).
    static func validEmail(_ raw: String) throws(APIError) -> String {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard (3...254).contains(email.utf8.count), parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !email.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
        else { throw APIError.validation("email must be an address like ops@example.com", field: "email") }
        return email
    }
}

/// The client's IP address for per-IP limits.
enum ClientAddress {
    static func of(_ request: Request, context: ControlRequestContext, trustForwardedFor: Bool) -> String {
        if trustForwardedFor, let forwarded = request.headers[.xForwardedFor],
            let first = forwarded.split(separator: ",").first
        {
            return first.trimmingCharacters(in: .whitespaces)
        }
        return context.remoteAddress?.ipAddress ?? "unknown"
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
