import Crypto
import Foundation

/// Encrypts channel secrets (bot tokens, webhook signing keys) for
/// `notification_channels.secret_ciphertext`, with AES-256-GCM (swift-crypto).
///
/// Every ciphertext names its key: `secret_key_id` is derived from the key itself
/// (`k` + 16 hex digits of SHA-256 over a label and the key), so every instance configured with the
/// same `--secret-key` computes the same id, and a secret sealed under another key is recognised
/// before decryption is even tried. Keys being retired can still be given for opening while new
/// secrets are sealed with the current key (rotation: re-seal what `needsResealing` reports).
///
/// Ciphertext layout: version byte `0x01`, then AES-GCM's combined form (12-byte nonce,
/// ciphertext, 16-byte tag), authenticated together with the label
/// `lookout.notification-channel-secret.v1`.
struct SecretBox: Sendable {
    /// A sealed secret, as stored.
    struct Sealed: Sendable, Equatable {
        /// `secret_ciphertext`.
        var ciphertext: [UInt8]
        /// `secret_key_id`.
        var keyId: String
    }

    /// The id of the key new secrets are sealed with.
    let keyId: String
    private let key: SymmetricKey
    private let retiredKeys: [String: SymmetricKey]

    private static let version: UInt8 = 1
    private static let associatedData = Array("lookout.notification-channel-secret.v1".utf8)

    /// - Parameters:
    ///   - key: 32 bytes (`--secret-key`).
    ///   - retiredKeys: older keys, only for opening what they sealed.
    init(key: [UInt8], retiredKeys: [[UInt8]] = []) throws(SecretBoxError) {
        guard key.count == 32 else {
            throw SecretBoxError(.invalidKey, "the secret key must be 32 bytes, not \(key.count)")
        }
        for retired in retiredKeys where retired.count != 32 {
            throw SecretBoxError(.invalidKey, "a retired secret key must be 32 bytes, not \(retired.count)")
        }
        self.key = SymmetricKey(data: key)
        keyId = Self.keyId(for: key)
        var retired: [String: SymmetricKey] = [:]
        for bytes in retiredKeys { retired[Self.keyId(for: bytes)] = SymmetricKey(data: bytes) }
        retired[keyId] = nil
        self.retiredKeys = retired
    }

    /// From the text of `--secret-key` (64 hex digits or base64 of 32 bytes).
    init(keyText: String) throws(SecretBoxError) {
        guard let bytes = SecretKeyText.decode(keyText) else {
            throw SecretBoxError(.invalidKey, "the secret key must be 32 bytes as 64 hex digits or base64")
        }
        try self.init(key: bytes)
    }

    /// The id stored with everything `key` seals.
    static func keyId(for key: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("lookout.secret-key-id.v1:".utf8))
        hasher.update(data: key)
        return "k"
            + hasher.finalize().prefix(8).map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
    }

    /// Encrypts `secret` with the current key (a fresh random nonce every time).
    func seal(_ secret: [UInt8]) throws(SecretBoxError) -> Sealed {
        do {
            let box = try AES.GCM.seal(secret, using: key, nonce: AES.GCM.Nonce(), authenticating: Self.associatedData)
            guard let combined = box.combined else {
                throw SecretBoxError(.sealFailed, "AES-GCM gave no combined form")
            }
            return Sealed(ciphertext: [Self.version] + Array(combined), keyId: keyId)
        } catch let error as SecretBoxError {
            throw error
        } catch {
            throw SecretBoxError(.sealFailed, "AES-GCM could not seal the secret: \(error)")
        }
    }

    /// Encrypts a text secret (UTF-8).
    func seal(_ secret: String) throws(SecretBoxError) -> Sealed { try seal(Array(secret.utf8)) }

    /// Decrypts what `seal` produced under the key named `keyId` (the current one or a retired one).
    func open(_ ciphertext: [UInt8], keyId: String) throws(SecretBoxError) -> [UInt8] {
        let openingKey: SymmetricKey
        if keyId == self.keyId {
            openingKey = key
        } else if let retired = retiredKeys[keyId] {
            openingKey = retired
        } else {
            throw SecretBoxError(
                .unknownKey,
                "this secret was encrypted with key \(keyId), but the configured --secret-key is \(self.keyId): "
                    + "configure the key it was sealed with, or enter the channel's secret again"
            )
        }
        guard ciphertext.count >= 1 + 12 + 16, ciphertext[0] == Self.version else {
            throw SecretBoxError(.corrupted, "the stored secret is not a Lookout ciphertext (wrong length or version)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: ciphertext[1...])
            return Array(try AES.GCM.open(box, using: openingKey, authenticating: Self.associatedData))
        } catch {
            throw SecretBoxError(
                .authenticationFailed,
                "the stored secret does not decrypt with key \(keyId): it was altered, or the key is not the one "
                    + "that sealed it"
            )
        }
    }

    /// Decrypts a text secret.
    func openString(_ ciphertext: [UInt8], keyId: String) throws(SecretBoxError) -> String {
        let bytes = try open(ciphertext, keyId: keyId)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SecretBoxError(.corrupted, "the decrypted secret is not UTF-8 text")
        }
        return text
    }

    /// Whether a secret stored under `keyId` should be sealed again with the current key.
    func needsResealing(keyId: String) -> Bool { keyId != self.keyId }
}

/// Why a secret could not be sealed or opened. `description` never contains the secret.
struct SecretBoxError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Code: String, Sendable {
        /// The key is not 32 bytes.
        case invalidKey = "invalid_key"
        /// Sealed with a key that is not configured.
        case unknownKey = "unknown_key"
        /// Not something `seal` produced.
        case corrupted = "corrupted"
        /// The key id matches but authentication failed (tampered data or a different key).
        case authenticationFailed = "authentication_failed"
        case sealFailed = "seal_failed"
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
