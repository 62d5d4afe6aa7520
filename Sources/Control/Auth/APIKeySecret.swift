import Crypto
import Foundation

/// API key secrets: `lk_` + 43 base64url characters (256 random bits). Only a SHA-256 of the
/// secret is stored; a slow hash would add latency to every request and nothing to a secret
/// that cannot be guessed. The first 11 characters are kept in clear as the key's `prefix`, so
/// people can tell their keys apart.
enum APIKeySecret {
    static let marker = "lk_"

    /// A new secret.
    static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        return marker
            + bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The stored hash of `secret`.
    static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// What is shown of a key after creation.
    static func prefix(of secret: String) -> String { String(secret.prefix(11)) }

    /// Whether a bearer token looks like an API key (rather than a session token).
    static func isAPIKey(_ token: String) -> Bool { token.hasPrefix(marker) }
}
