import Crypto
import Foundation
import Logging
import LookoutCore
import LookoutFFI

/// What the control plane does before it serves anything, on a thread of its own with libpq (the
/// same `Migrator` and lock as the engines): apply missing migrations, then read — or generate
/// once and store — the values every instance must share when the operator did not set them.
enum ControlStartup {
    /// The outcome: the schema version and the secrets in force.
    struct Outcome: Sendable {
        var migration: Migrator.Outcome
        /// HS256 key of session tokens.
        var jwtSecret: [UInt8]
        /// Whether `jwtSecret` was generated and kept in the database (no `--jwt-secret`).
        var jwtSecretGenerated: Bool
        /// AES-256-GCM key of channel secrets.
        var secretKey: [UInt8]
        /// Whether `secretKey` was generated and kept in the database (no `--secret-key`).
        var secretKeyGenerated: Bool
    }

    static let jwtSecretName = "jwt_secret"
    static let secretKeyName = "channel_secret_key"

    /// Runs the start-up steps off the Swift concurrency threads (libpq blocks).
    static func run(configuration: ControlConfiguration, logger: Logger) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            NamedThread.start("lookout-startup") {
                do {
                    continuation.resume(returning: try prepare(configuration: configuration, logger: logger))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func prepare(configuration: ControlConfiguration, logger: Logger) throws -> Outcome {
        let connection = try PostgresConnection(
            url: configuration.databaseURL, applicationName: "lookout-control startup")
        let migration = try Migrator().migrate(connection)
        if !migration.applied.isEmpty {
            logger.notice(
                "database migrated",
                metadata: [
                    "db.schema": "\(migration.schema)", "db.applied": "\(migration.applied)",
                    "db.version": "\(migration.currentVersion)",
                ]
            )
        }
        if migration.currentVersion > LookoutSchema.latestVersion {
            logger.warning(
                "the database schema is newer than this lookout-control knows: upgrade it",
                metadata: ["db.version": "\(migration.currentVersion)", "known": "\(LookoutSchema.latestVersion)"]
            )
        }
        let jwt: (bytes: [UInt8], generated: Bool)
        if let given = configuration.auth.jwtSecret {
            jwt = (Array(given.utf8), false)
        } else {
            jwt = (try sharedSetting(jwtSecretName, on: connection), true)
            logger.notice(
                "no --jwt-secret given: using the one generated once and kept in the database (control_settings), shared by every instance"
            )
        }
        let key: (bytes: [UInt8], generated: Bool)
        if let given = configuration.secretKey, let bytes = SecretKeyText.decode(given) {
            key = (bytes, false)
        } else {
            key = (try sharedSetting(secretKeyName, on: connection), true)
            logger.warning(
                "no --secret-key given: channel secrets are encrypted with a key generated once and kept in the same database; set --secret-key in production so a database dump alone does not reveal them"
            )
        }
        return Outcome(
            migration: migration,
            jwtSecret: jwt.bytes,
            jwtSecretGenerated: jwt.generated,
            secretKey: key.bytes,
            secretKeyGenerated: key.generated
        )
    }

    /// The 32-byte value stored under `name`, inserted first if no instance has done so yet
    /// (instances starting together agree: the first insert wins, the rest read it).
    private static func sharedSetting(_ name: String, on connection: PostgresConnection) throws -> [UInt8] {
        let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let hex = candidate.map { String(format: "%02x", $0) }.joined()
        try connection.execute(
            "INSERT INTO control_settings (name, value) VALUES ($1, decode($2, 'hex')) ON CONFLICT (name) DO NOTHING",
            [name, hex],
            operation: "store the generated \(name)"
        )
        let stored = try connection.execute(
            "SELECT encode(value, 'hex') FROM control_settings WHERE name = $1",
            [name],
            operation: "read \(name)"
        )
        guard let text = stored.string(row: 0, column: 0), let bytes = SecretKeyText.decode(text) else {
            throw PostgresError(code: .unexpectedResult, operation: "read \(name)", serverMessage: "not 32 bytes")
        }
        return bytes
    }
}
