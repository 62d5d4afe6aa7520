/// One start-up setting of `lookout-control`: its flag, the environment variable read when the
/// flag is absent, and its default. The one list of them all: the command reads through it, and
/// `.env.example` and the README's table are checked against it by a test.
struct ControlSetting: Sendable, Equatable {
    /// `--database`.
    var flag: String
    /// `LOOKOUT_DATABASE_URL`.
    var environment: String
    /// The default as text (`""` when there is none).
    var defaultValue: String
    /// One line for people.
    var summary: String

    static let all: [ControlSetting] = [
        .init("--database", "LOOKOUT_DATABASE_URL", "", "PostgreSQL URI (required); migrated at start"),
        .init("--redis", "LOOKOUT_REDIS_URL", "redis://127.0.0.1:6379", "Redis URL (an IP address, not a name)"),
        .init("--redis-prefix", "LOOKOUT_REDIS_PREFIX", "lookout", "first component of every Redis name"),
        .init("--host", "LOOKOUT_HOST", "127.0.0.1", "address the HTTP server binds"),
        .init("--port", "LOOKOUT_PORT", "3000", "HTTP port (0 = any free port)"),
        .init(
            "--cors-origin", "LOOKOUT_CORS_ORIGIN", "",
            "origins allowed to call the API from a browser (comma-separated)"),
        .init("--behind-https", "LOOKOUT_BEHIND_HTTPS", "false", "served behind TLS: send Strict-Transport-Security"),
        .init(
            "--trust-forwarded-for", "LOOKOUT_TRUST_FORWARDED_FOR", "false",
            "client IP from X-Forwarded-For (behind a proxy only)"),
        .init(
            "--jwt-secret", "LOOKOUT_JWT_SECRET", "",
            "HS256 secret, 32+ bytes; generated once and kept in the database when unset"),
        .init("--token-lifetime", "LOOKOUT_TOKEN_LIFETIME", "86400", "session token lifetime, seconds"),
        .init("--bcrypt-cost", "LOOKOUT_BCRYPT_COST", "12", "bcrypt cost of stored passwords (10...15)"),
        .init(
            "--secret-key", "LOOKOUT_SECRET_KEY", "",
            "AES-256-GCM key for channel secrets (64 hex digits); generated and kept in the database when unset"),
        .init(
            "--smtp-url", "LOOKOUT_SMTP_URL", "", "smtp:// or smtps:// server for e-mail, user and password in the URL"),
        .init("--smtp-from", "LOOKOUT_SMTP_FROM", "lookout@localhost", "sender address of e-mail notifications"),
        .init(
            "--telegram-api-base", "LOOKOUT_TELEGRAM_API_BASE", "https://api.telegram.org", "Telegram Bot API base URL"),
        .init(
            "--allow-private-targets", "LOOKOUT_ALLOW_PRIVATE_TARGETS", "false",
            "monitors and webhooks may point at private or loopback addresses"),
        .init("--dns-server", "LOOKOUT_DNS_SERVER", "", "DNS server IP:PORT for deliveries (default: resolv.conf)"),
        .init("--ca-file", "LOOKOUT_CA_FILE", "", "extra CA certificates (PEM) trusted by deliveries"),
        .init(
            "--dispatcher-concurrency", "LOOKOUT_DISPATCHER_CONCURRENCY", "16",
            "notifications in flight per instance (0 = no dispatcher here)"),
        .init("--max-attempts", "LOOKOUT_MAX_ATTEMPTS", "10", "delivery attempts before a notification fails"),
        .init("--outbox-lease", "LOOKOUT_OUTBOX_LEASE", "60", "seconds a claimed notification stays with one instance"),
        .init(
            "--outbox-poll-ms", "LOOKOUT_OUTBOX_POLL_MS", "1000", "how often the dispatcher looks for due notifications"
        ),
        .init("--delivery-timeout-ms", "LOOKOUT_DELIVERY_TIMEOUT_MS", "15000", "whole-delivery timeout"),
        .init("--incident-consumer", "LOOKOUT_INCIDENT_CONSUMER", "true", "consume the state stream on this instance"),
        .init("--rollups", "LOOKOUT_ROLLUPS", "true", "run the rollup scheduler on this instance (one runs at a time)"),
        .init(
            "--flap-threshold", "LOOKOUT_FLAP_THRESHOLD", "5",
            "state changes within the flap window that make a monitor flapping"),
        .init("--flap-window", "LOOKOUT_FLAP_WINDOW", "1800", "flap window, seconds"),
        .init(
            "--flap-stable", "LOOKOUT_FLAP_STABLE", "900",
            "seconds without a change before a flapping monitor is stable"),
        .init(
            "--claim-idle-ms", "LOOKOUT_CLAIM_IDLE_MS", "30000",
            "take over stream entries another consumer left this long"),
        .init("--rate-register-per-ip", "LOOKOUT_RATE_REGISTER_PER_IP", "10", "registrations a minute per client IP"),
        .init("--rate-login-per-ip", "LOOKOUT_RATE_LOGIN_PER_IP", "20", "logins a minute per client IP"),
        .init("--rate-login-per-email", "LOOKOUT_RATE_LOGIN_PER_EMAIL", "10", "logins a minute per e-mail address"),
        .init("--rate-per-token", "LOOKOUT_RATE_PER_TOKEN", "1200", "API requests a minute per token or API key"),
        .init(
            "--rate-public-per-ip", "LOOKOUT_RATE_PUBLIC_PER_IP", "600",
            "public status-page requests a minute per client IP (HTML and JSON)"),
        .init(
            "--realtime-queue-messages", "LOOKOUT_REALTIME_QUEUE_MESSAGES", "1024",
            "messages waiting for one live-update client before it is dropped as slow"),
        .init(
            "--realtime-queue-bytes", "LOOKOUT_REALTIME_QUEUE_BYTES", "1048576",
            "bytes waiting for one live-update client before it is dropped as slow"),
        .init(
            "--realtime-max-subscriptions", "LOOKOUT_REALTIME_MAX_SUBSCRIPTIONS", "1000",
            "rooms one live-update connection may join"),
        .init(
            "--realtime-connections-per-ip", "LOOKOUT_REALTIME_CONNECTIONS_PER_IP", "100",
            "open live-update connections per client IP"),
        .init(
            "--realtime-idle-timeout", "LOOKOUT_REALTIME_IDLE_TIMEOUT", "60",
            "seconds a live-update connection may stay silent (no message, no pong)"),
        .init("--instance-id", "LOOKOUT_INSTANCE_ID", "", "this instance's name (default host-pid)"),
        .init("--log-level", "LOOKOUT_LOG_LEVEL", "info", "trace, debug, info, notice, warning, error or critical"),
    ]

    init(_ flag: String, _ environment: String, _ defaultValue: String, _ summary: String) {
        self.flag = flag
        self.environment = environment
        self.defaultValue = defaultValue
        self.summary = summary
    }

    /// The setting of `flag` (a programming error if it is not in the list).
    static func named(_ flag: String) -> ControlSetting {
        guard let setting = all.first(where: { $0.flag == flag }) else {
            preconditionFailure("\(flag) is not in ControlSetting.all")
        }
        return setting
    }
}
