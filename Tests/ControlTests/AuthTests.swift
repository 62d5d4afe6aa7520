import Foundation
import HTTPTypes
import JWTKit
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Accounts, sessions and API keys (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct AuthTests {
    @Test("register, log in with any case of the e-mail, and read /auth/me")
    func registerAndLogin() async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register("Ops@Example.com", password: "a long password")
            let me = try await api.request(.get, "/api/v1/auth/me", token: token)
            #expect(me.status == .ok)
            #expect(me.object.int64("id") == userId)
            #expect(me.object["email"] as? String == "Ops@Example.com")
            let login = try await api.request(
                .post, "/api/v1/auth/login", json: ["email": "ops@example.COM", "password": "a long password"])
            #expect(login.status == .ok)
            #expect(login.object["token"] is String)
            let stored = try api.schema.scalar("SELECT password_hash FROM users WHERE id = $1", [String(userId)])
            #expect(stored?.hasPrefix("$2b$10$") == true, "bcrypt with the configured cost")
        }
    }

    @Test("registration refuses a taken e-mail, a short password, a bad address and unknown fields")
    func registrationValidation() async throws {
        try await ControlHarness.withApplication { api in
            _ = try await api.register("taken@example.com")
            let taken = try await api.request(
                .post, "/api/v1/auth/register", json: ["email": "TAKEN@example.com", "password": "long enough"])
            #expect(taken.status == .conflict)
            #expect(taken.errorField == "email")
            let short = try await api.request(
                .post, "/api/v1/auth/register", json: ["email": "s@example.com", "password": "short"])
            #expect(short.status == .badRequest)
            #expect(short.errorField == "password")
            let badEmail = try await api.request(
                .post, "/api/v1/auth/register", json: ["email": "nope", "password": "long enough"])
            #expect(badEmail.errorField == "email")
            let unknown = try await api.request(
                .post, "/api/v1/auth/register",
                json: ["email": "u@example.com", "password": "long enough", "admin": true])
            #expect(unknown.status == .badRequest)
            #expect(unknown.errorField == "admin")
        }
    }

    @Test("wrong password and unknown account get the same 401")
    func wrongCredentials() async throws {
        try await ControlHarness.withApplication { api in
            _ = try await api.register("real@example.com", password: "right password")
            let wrong = try await api.request(
                .post, "/api/v1/auth/login", json: ["email": "real@example.com", "password": "wrong password"])
            let unknown = try await api.request(
                .post, "/api/v1/auth/login", json: ["email": "ghost@example.com", "password": "wrong password"])
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(wrong.text == unknown.text)
        }
    }

    @Test("forged, expired, alg:none and wrong-key tokens are refused")
    func badTokens() async throws {
        try await ControlHarness.withApplication { api in
            let (token, userId) = try await api.register()
            let parts = token.split(separator: ".").map(String.init)
            // A payload claiming another user, with the original signature.
            let forgedPayload = Self.base64URL(#"{"sub":"\#(userId + 1)","iss":"lookout","iat":1,"exp":9999999999}"#)
            let forged = [parts[0], forgedPayload, parts[2]].joined(separator: ".")
            let none = [Self.base64URL(#"{"alg":"none","typ":"JWT"}"#), forgedPayload, ""].joined(separator: ".")
            let otherKey = await SessionTokens(secret: Array(repeating: 7, count: 32), lifetimeSeconds: 3600)
            let wrongKey = try await otherKey.issue(userId: userId).token
            let expired = try await api.dependencies.tokens.issue(
                userId: userId, now: Date().addingTimeInterval(-90_000)
            ).token
            for bad in [forged, none, wrongKey, expired, "garbage", ""] {
                let response = try await api.request(.get, "/api/v1/auth/me", token: bad)
                #expect(response.status == .unauthorized, "token \(bad.prefix(20))… was accepted")
                #expect(response.errorCode == "unauthenticated")
            }
            let valid = try await api.request(.get, "/api/v1/auth/me", token: token)
            #expect(valid.status == .ok)
        }
    }

    @Test("API keys: secret shown once and stored hashed, read-only keys cannot write, revocation is immediate")
    func apiKeys() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let created = try await api.request(
                .post, "/api/v1/api-keys", token: token, json: ["name": "ci", "scopes": ["read"]])
            #expect(created.status == .created)
            let secret = try #require(created.object["secret"] as? String)
            #expect(secret.hasPrefix("lk_"))
            let keyId = try #require((created.object["apiKey"] as? [String: Any])?.int64("id"))
            #expect(
                try api.schema.count(
                    "SELECT count(*) FROM api_keys WHERE secret_hash = sha256(convert_to($1, 'UTF8'))", [secret]) == 1)
            let listed = try await api.request(.get, "/api/v1/api-keys", token: token)
            #expect(!listed.text.contains(secret))

            #expect(try await api.request(.get, "/api/v1/monitors", token: secret).status == .ok)
            let write = try await api.request(
                .post, "/api/v1/monitors", token: secret, json: ["url": "http://127.0.0.1:9/"])
            #expect(write.status == .forbidden)

            let writer = try await api.request(
                .post, "/api/v1/api-keys", token: token, json: ["name": "deploy", "scopes": ["write"]])
            let writerSecret = try #require(writer.object["secret"] as? String)
            #expect(
                try await api.request(
                    .post, "/api/v1/monitors", token: writerSecret, json: ["url": "http://127.0.0.1:9/"]
                ).status == .created)

            #expect(try await api.request(.delete, "/api/v1/api-keys/\(keyId)", token: token).status == .noContent)
            #expect(try await api.request(.get, "/api/v1/monitors", token: secret).status == .unauthorized)
        }
    }

    @Test("login is rate-limited per e-mail address across attempts, with Retry-After")
    func loginRateLimit() async throws {
        try await ControlHarness.withApplication(configure: { $0.rateLimits.loginsPerEmail = 3 }) { api in
            // Sent together: the budget (3 a minute, one back every 20 s) is taken before the
            // password is hashed, so all six reach the limiter within milliseconds. One after
            // another, hashes in a debug build on a loaded machine could outlast the 20 s that
            // return a token, and the test would race the clock. Two spellings of one address
            // share the budget.
            let responses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for email in [
                    "x@example.com", "X@Example.COM", "x@example.com", "x@EXAMPLE.com", "x@example.com",
                    "X@example.com",
                ] {
                    group.addTask {
                        try await api.request(
                            .post, "/api/v1/auth/login", json: ["email": email, "password": "whatever1"])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let statuses = responses.map(\.status)
            let refused = responses.filter { $0.status == .tooManyRequests }
            #expect(statuses.filter { $0 == .unauthorized }.count == 3, "\(statuses)")
            #expect(refused.count == 3, "\(statuses)")
            #expect(refused.allSatisfy { (1...20).contains(Int($0.headers[.retryAfter] ?? "") ?? 0) })
        }
    }

    @Test("public status pages share one budget per client IP, HTML and JSON; other routes are not counted")
    func publicPageRateLimit() async throws {
        try await ControlHarness.withApplication(configure: { $0.rateLimits.publicPagesPerIP = 3 }) { api in
            let (token, _) = try await api.register()
            var statuses: [HTTPResponse.Status] = []
            for path in ["/api/v1/public/status-pages/nope", "/status/nope", "/api/v1/public/status-pages/nope"] {
                statuses.append(try await api.request(.get, path).status)
                // Not public: not counted.
                #expect(try await api.request(.get, "/api/v1/monitors", token: token).status == .ok)
            }
            #expect(statuses == [.notFound, .notFound, .notFound])
            for path in ["/status/nope", "/api/v1/public/status-pages/nope"] {
                let refused = try await api.request(.get, path)
                #expect(refused.status == .tooManyRequests, "\(path)")
                #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            #expect(try await api.request(.get, "/health").status == .ok)
        }
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

@Suite(
    "Rate limiting: one budget in Redis for every instance (real Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason))
struct RateLimiterTests {
    @Test("a budget of N lets N through at once, refuses the next with Retry-After of 60/N, and is shared")
    func burstThenRefuse() async throws {
        try await ControlHarness.withApplication { api in
            let limiter = api.dependencies.rateLimiter
            var decisions: [RateLimiter.Decision] = []
            for _ in 0..<4 { decisions.append(try #require(await limiter.check(key: "test:burst", limitPerMinute: 3))) }
            #expect(decisions.prefix(3).allSatisfy { $0.allowed })
            #expect(!decisions[3].allowed)
            #expect((1...20).contains(decisions[3].retryAfterSeconds), "one request every 20 s: \(decisions[3])")
            // Another instance (another limiter on the same Redis and prefix) sees the same budget.
            let other = RateLimiter(
                redis: api.dependencies.redis,
                contract: api.dependencies.configuration.cluster,
                logger: ControlHarness.logger
            )
            #expect(await other.check(key: "test:burst", limitPerMinute: 3)?.allowed == false)
            #expect(await other.check(key: "test:other-budget", limitPerMinute: 3)?.allowed == true)
        }
    }
}
