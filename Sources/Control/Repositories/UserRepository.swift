import Foundation
import Hummingbird
import PostgresNIO

/// An account.
struct User: Sendable, Equatable, Codable, ResponseEncodable {
    var id: Int64
    var email: String
    var name: String?
    var createdAt: Date
}

/// Accounts (`users`). The one repository whose look-ups are not by owner: it is how an owner is
/// found in the first place.
struct UserRepository: Sendable {
    let database: Database

    /// Creates an account; `conflict` when the e-mail (case-insensitively) is taken.
    func create(email: String, passwordHash: String, name: String?) async throws -> User {
        do {
            guard
                let row = try await database.first(
                    """
                    INSERT INTO users (email, password_hash, display_name) VALUES (\(email), \(passwordHash), \(name))
                    RETURNING id, email, display_name, created_at
                    """,
                    as: (Int64, String, String?, Date).self
                )
            else { throw APIError.unexpected }
            return User(id: row.0, email: row.1, name: row.2, createdAt: row.3)
        } catch  where error.sqlState == "23505" {
            throw APIError.conflict("an account with this e-mail address exists", field: "email")
        }
    }

    /// The account with this e-mail (any case) and its password hash.
    func find(email: String) async throws -> (user: User, passwordHash: String?)? {
        guard
            let row = try await database.first(
                """
                SELECT id, email, display_name, created_at, password_hash FROM users WHERE lower(email) = lower(\(email))
                """,
                as: (Int64, String, String?, Date, String?).self
            )
        else { return nil }
        return (User(id: row.0, email: row.1, name: row.2, createdAt: row.3), row.4)
    }

    func find(id: Int64) async throws -> User? {
        guard
            let row = try await database.first(
                "SELECT id, email, display_name, created_at FROM users WHERE id = \(id)",
                as: (Int64, String, String?, Date).self
            )
        else { return nil }
        return User(id: row.0, email: row.1, name: row.2, createdAt: row.3)
    }
}
