import Foundation
import Testing

@testable import LookoutControl

@Suite("SecretBox: AES-256-GCM for channel secrets")
struct SecretBoxTests {
    static let key = [UInt8](repeating: 0xAB, count: 32)
    static let otherKey = (0..<32).map { UInt8($0) }

    @Test("seal then open gives the secret back; every seal uses a fresh nonce")
    func roundTrip() throws {
        let box = try SecretBox(key: Self.key)
        let first = try box.seal("123456:ABC-bot-token")
        let second = try box.seal("123456:ABC-bot-token")
        #expect(first.ciphertext != second.ciphertext)
        #expect(first.keyId == box.keyId && second.keyId == box.keyId)
        #expect(first.ciphertext.count == 1 + 12 + "123456:ABC-bot-token".utf8.count + 16)
        #expect(try box.openString(first.ciphertext, keyId: first.keyId) == "123456:ABC-bot-token")
        #expect(try box.open(try box.seal([]).ciphertext, keyId: box.keyId) == [])
        #expect(!first.ciphertext.contains(subsequence: Array("ABC-bot-token".utf8)))
    }

    @Test("the key id is derived from the key: stable across instances, different per key")
    func keyIds() throws {
        let id = SecretBox.keyId(for: Self.key)
        #expect(id.hasPrefix("k") && id.count == 17)
        #expect(try SecretBox(key: Self.key).keyId == id)
        #expect(try SecretBox(keyText: String(repeating: "ab", count: 32)).keyId == id)
        #expect(SecretBox.keyId(for: Self.otherKey) != id)
    }

    @Test("opening with another configured key fails with a clear error, not garbage")
    func wrongKey() throws {
        let sealed = try SecretBox(key: Self.key).seal("whsec_abc")
        let other = try SecretBox(key: Self.otherKey)
        do {
            _ = try other.open(sealed.ciphertext, keyId: sealed.keyId)
            Issue.record("opened with the wrong key")
        } catch {
            #expect(error.code == .unknownKey)
            #expect(error.description.contains(sealed.keyId))
            #expect(error.description.contains("--secret-key"))
            #expect(!error.description.contains("whsec_abc"))
        }
        // Even when the stored key id is (wrongly) the other key's, authentication catches it.
        do {
            _ = try other.open(sealed.ciphertext, keyId: other.keyId)
            Issue.record("opened with the wrong key")
        } catch {
            #expect(error.code == .authenticationFailed)
        }
    }

    @Test("tampered or foreign ciphertexts are refused")
    func tampering() throws {
        let box = try SecretBox(key: Self.key)
        var sealed = try box.seal("secret")
        sealed.ciphertext[20] ^= 0x01
        do {
            _ = try box.open(sealed.ciphertext, keyId: sealed.keyId)
            Issue.record("opened a tampered ciphertext")
        } catch {
            #expect(error.code == .authenticationFailed)
        }
        do {
            _ = try box.open([1, 2, 3], keyId: box.keyId)
            Issue.record("opened garbage")
        } catch {
            #expect(error.code == .corrupted)
        }
    }

    @Test("a retired key still opens what it sealed; new secrets use the current key")
    func rotation() throws {
        let old = try SecretBox(key: Self.otherKey)
        let sealed = try old.seal("rotate-me")
        let current = try SecretBox(key: Self.key, retiredKeys: [Self.otherKey])
        #expect(try current.openString(sealed.ciphertext, keyId: sealed.keyId) == "rotate-me")
        #expect(current.needsResealing(keyId: sealed.keyId))
        let resealed = try current.seal("rotate-me")
        #expect(resealed.keyId == current.keyId && !current.needsResealing(keyId: resealed.keyId))
    }

    @Test("keys that are not 32 bytes are refused")
    func keyLength() {
        #expect(throws: SecretBoxError.self) { try SecretBox(key: [1, 2, 3]) }
        #expect(throws: SecretBoxError.self) { try SecretBox(keyText: "not-a-key") }
        #expect(throws: SecretBoxError.self) { try SecretBox(key: Self.key, retiredKeys: [[0]]) }
    }
}

extension Array where Element == UInt8 {
    fileprivate func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<$0 + subsequence.count]) == subsequence }
    }
}
