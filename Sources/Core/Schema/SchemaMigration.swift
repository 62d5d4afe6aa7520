/// One versioned step of the Lookout database schema.
///
/// The list in `LookoutSchema.migrations` is shared by every process that migrates the
/// database (the engine's `migrate` command and start-up, the control plane), so all of them
/// agree on what version N means. Rules: a migration, once released, is never edited (add a new
/// one); versions are consecutive from 1; `sql` is a static script (no user input ever reaches
/// it) that runs inside the transaction that records it in `schema_migrations`.
public struct SchemaMigration: Sendable, Equatable {
    /// 1, 2, 3 ... in the order they apply.
    public let version: Int
    /// A short snake_case name recorded beside the version (`initial`, `incident_notes` ...).
    public let name: String
    /// The statements, as one script (several statements, dollar-quoted function bodies).
    public let sql: String

    /// Creates a migration step (only `LookoutSchema` does so).
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// The database contract every Lookout process shares (docs/DATABASE.md describes each table).
public enum LookoutSchema {
    /// Every migration, oldest first.
    public static let migrations: [SchemaMigration] = [
        SchemaMigration(version: 1, name: "initial", sql: Migration0001Initial.sql),
        SchemaMigration(version: 2, name: "control_plane", sql: Migration0002ControlPlane.sql),
        SchemaMigration(version: 3, name: "check_kinds", sql: Migration0003CheckKinds.sql),
        SchemaMigration(version: 4, name: "http_version_tls_resumed", sql: Migration0004HTTPVersionTLSResumed.sql),
    ]

    /// The version a fully migrated database has.
    public static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The table that records applied migrations: `schema_migrations(version, name, applied_at)`.
    public static let migrationsTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// The columns of `checks` the engine's COPY writer fills, in COPY order (also the column
    /// order of a spill file line).
    public static let checkColumns: [String] = [
        "check_id", "monitor_id", "checked_at", "status", "http_status", "dns_ms", "connect_ms", "tls_ms",
        "ttfb_ms", "total_ms", "lag_ms", "redirects", "error_code", "error_message", "cert_expires_at",
        "engine_id", "tls_issuer", "tls_protocol", "tls_cipher", "dns_answers", "http_version", "tls_resumed",
    ]

    /// Owner of monitors loaded by a standalone engine (`--owner` default).
    public static let standaloneOwnerEmail = "standalone@lookout.local"

    /// Days of check partitions created ahead of today by `lookout_ensure_check_partitions()`.
    public static let partitionDaysAhead = 7
}
