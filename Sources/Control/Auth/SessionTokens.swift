import Crypto
import Foundation
import JWTKit

/// Session tokens: JWTs signed with HS256 and nothing else. The header's `alg` is checked before
/// the signature, so `none`, RS256-with-the-HMAC-secret and other algorithm-confusion tokens are
/// refused whatever the library would do with them.
struct SessionTokens: Sendable {
    /// What a session token says.
    struct Claims: JWTPayload, Equatable {
        /// The user id, in decimal.
        var sub: SubjectClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        /// Issuer, always `lookout`.
        var iss: IssuerClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            guard iss.value == SessionTokens.issuer else {
                throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "issuer")
            }
        }
    }

    static let issuer = "lookout"

    private let keys: JWTKeyCollection
    let lifetimeSeconds: Int

    /// `secret` is at least 32 bytes (the configuration checks it).
    init(secret: [UInt8], lifetimeSeconds: Int) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256)
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// A token for `userId`, valid for the configured lifetime.
    func issue(userId: Int64, now: Date = Date()) async throws -> (token: String, expiresAt: Date) {
        let expiresAt = now.addingTimeInterval(Double(lifetimeSeconds))
        let claims = Claims(
            sub: SubjectClaim(value: String(userId)),
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: expiresAt),
            iss: IssuerClaim(value: Self.issuer)
        )
        return (try await keys.sign(claims, header: ["typ": "JWT"]), expiresAt)
    }

    /// The user id of a valid token; nil for anything else (bad signature, expired, another
    /// algorithm, malformed).
    func verify(_ token: String) async -> Int64? {
        guard Self.headerAlgorithm(of: token) == "HS256" else { return nil }
        guard let claims = try? await keys.verify(token, as: Claims.self) else { return nil }
        return Int64(claims.sub.value)
    }

    /// The `alg` of a compact JWS's header, without trusting anything else in it.
    static func headerAlgorithm(of token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = base64URLDecode(parts[0]),
            let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any]
        else { return nil }
        return object["alg"] as? String
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
