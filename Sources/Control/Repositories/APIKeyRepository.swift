import Foundation
import PostgresNIO

/// An API key as listed (never with its secret).
struct APIKey: Sendable, Equatable, Codable {
    var id: Int64
    var name: String
    /// The first characters of the secret, to tell keys apart.
    var prefix: String
    var scopes: [APIKeyScope]
    var createdAt: Date
    var lastUsedAt: Date?
    var expiresAt: Date?
    var revokedAt: Date?
}

/// API keys (`api_keys`). Every method but `authenticate` takes the owner's id.
struct APIKeyRepository: Sendable {
    let database: Database

    /// Stores a new key; returns it with its secret (shown once).
    func create(ownerId: Int64, name: String, scopes: [APIKeyScope], expiresAt: Date?) async throws -> (APIKey, String)
    {
        let secret = APIKeySecret.generate()
        let hash = APIKeySecret.hash(secret)
        let prefix = APIKeySecret.prefix(of: secret)
        let scopeNames = scopes.map(\.rawValue)
        guard
            let row = try await database.first(
                """
                INSERT INTO api_keys (owner_id, name, prefix, secret_hash, scopes, expires_at)
                VALUES (\(ownerId), \(name), \(prefix), \(ByteBuffer(bytes: hash)), \(scopeNames), \(expiresAt))
                RETURNING id, created_at
                """,
                as: (Int64, Date).self
            )
        else { throw APIError.unexpected }
        let key = APIKey(
            id: row.0,
            name: name,
            prefix: prefix,
            scopes: scopes,
            createdAt: row.1,
            lastUsedAt: nil,
            expiresAt: expiresAt,
            revokedAt: nil
        )
        return (key, secret)
    }

    func list(ownerId: Int64) async throws -> [APIKey] {
        try await database.rows(
            """
            SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at
            FROM api_keys WHERE owner_id = \(ownerId) ORDER BY id
            """,
            as: (Int64, String, String, [String], Date, Date?, Date?, Date?).self
        ).map { row in
            APIKey(
                id: row.0,
                name: row.1,
                prefix: row.2,
                scopes: row.3.compactMap(APIKeyScope.init(rawValue:)),
                createdAt: row.4,
                lastUsedAt: row.5,
                expiresAt: row.6,
                revokedAt: row.7
            )
        }
    }

    /// Revokes a key at once (its next request is refused); false when the owner has no such key.
    func revoke(ownerId: Int64, id: Int64) async throws -> Bool {
        try await database.first(
            """
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE id = \(id) AND owner_id = \(ownerId) RETURNING id
            """,
            as: (Int64).self
        ) != nil
    }

    /// The owner, key id and scopes of a live key with this secret (not revoked, not expired).
    /// Notes the use at most once a minute per key.
    func authenticate(secret: String) async throws -> (ownerId: Int64, keyId: Int64, scopes: Set<APIKeyScope>)? {
        let hash = ByteBuffer(bytes: APIKeySecret.hash(secret))
        var found = try await database.first(
            """
            UPDATE api_keys SET last_used_at = now()
            WHERE secret_hash = \(hash) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
              AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            RETURNING owner_id, id, scopes
            """,
            as: (Int64, Int64, [String]).self
        )
        if found == nil {
            found = try await database.first(
                """
                SELECT owner_id, id, scopes FROM api_keys
                WHERE secret_hash = \(hash) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                """,
                as: (Int64, Int64, [String]).self
            )
        }
        guard let row = found else { return nil }
        return (row.0, row.1, Set(row.2.compactMap(APIKeyScope.init(rawValue:))))
    }
}
