import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Password hashing with bcrypt, off the event loops: a hash at cost 12 takes a few hundred
/// milliseconds of CPU, which would stall every connection of an event loop.
struct Passwords: Sendable {
    let cost: Int
    /// A hash of a random string nobody knows, at the same cost (for unknown accounts).
    private let dummyHash: String

    /// Computes the dummy hash (a few hundred milliseconds, once at start-up).
    init(cost: Int) {
        self.cost = cost
        dummyHash = Bcrypt.hash(UUID().uuidString, cost: UInt8(cost))
    }

    /// A hash of the password to store.
    func hash(_ password: String) async throws -> String {
        let cost = UInt8(self.cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (unknown user, engine-created owner) a
    /// dummy hash is checked anyway, so the answer takes as long as for a real account.
    func verify(_ password: String, hash: String?) async throws -> Bool {
        let stored = hash ?? dummyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: stored) }
        return hash != nil && matches
    }

    /// The rules for a new password; nil when it passes.
    static func problem(with password: String) -> String? {
        if password.count < 8 { return "password must be at least 8 characters" }
        // bcrypt reads 72 bytes; a longer password would silently lose its end.
        if password.utf8.count > 72 { return "password must be at most 72 bytes" }
        return nil
    }
}
