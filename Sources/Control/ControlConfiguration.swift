import Foundation
import LookoutCore

/// Everything `lookout-control` is told at start-up, validated. `LookoutControlCommand` builds it
/// from flags and environment variables (`ControlSetting.all` lists every one with its default);
/// tests build it directly.
struct ControlConfiguration: Sendable {
    /// The HTTP server.
    struct HTTP: Sendable {
        /// Address to bind. Default `127.0.0.1` (put a reverse proxy or load balancer in front).
        var host = "127.0.0.1"
        /// TCP port. Default 3000; 0 picks a free one (tests).
        var port = 3000
        /// Origins allowed to call the API from a browser (exact `scheme://host[:port]`). Default none.
        var corsOrigins: [String] = []
        /// Served behind TLS: send HSTS. Default false.
        var behindHTTPS = false
        /// Largest request body, bytes. Default 1 MiB.
        var maxBodyBytes = 1 << 20
        /// Largest body of `POST /monitors/bulk`, bytes. Default 16 MiB.
        var maxBulkBodyBytes = 16 << 20
        /// Trust the first address of `X-Forwarded-For` as the client's (rate limits per IP).
        /// Default false: only set it behind a proxy that overwrites the header.
        var trustForwardedFor = false
    }

    /// Accounts and tokens.
    struct Auth: Sendable {
        /// HS256 signing secret, at least 32 bytes. Default none: one is generated once and kept in
        /// the database (`control_settings`), so every instance shares it.
        var jwtSecret: String?
        /// Token lifetime, seconds. Default 86,400 (24 h).
        var tokenLifetimeSeconds = 86_400
        /// bcrypt cost of stored passwords. Default 12 (at least 10).
        var bcryptCost = 12
    }

    /// Limits shared by every instance through Redis; requests per minute.
    struct RateLimits: Sendable {
        /// `POST /auth/register` per client IP. Default 10.
        var registrationsPerIP = 10
        /// `POST /auth/login` per client IP. Default 20.
        var loginsPerIP = 20
        /// `POST /auth/login` per e-mail address. Default 10.
        var loginsPerEmail = 10
        /// Every other API request per token (JWT user or API key). Default 1,200.
        var requestsPerToken = 1_200
        /// `GET /status/{slug}` and `GET /api/v1/public/...` (no token) per client IP. Default 600:
        /// a page refreshing every 30 s for 300 readers behind one address.
        var publicPagesPerIP = 600
    }

    /// Where notifications go out and how.
    struct Notifications: Sendable {
        /// `smtp://[user:password@]host[:port]` or `smtps://...`. Default none: e-mail channels fail
        /// with a clear error until it is set.
        var smtpURL: String?
        /// Sender address of e-mail notifications. Default `lookout@localhost`.
        var smtpFrom = "lookout@localhost"
        /// Base URL of the Telegram Bot API. Default `https://api.telegram.org`.
        var telegramAPIBase = "https://api.telegram.org"
        /// Webhooks (and monitors) may point at private, loopback and link-local addresses.
        /// Default false.
        var allowPrivateTargets = false
        /// DNS server (`IP:PORT`) for the delivery client's c-ares resolver. Default: resolv.conf.
        var dnsServer: String?
        /// Extra CA certificates (PEM) trusted by deliveries. Default: the system store only.
        var caFile: String?
        /// Deliveries in flight at once per instance; 0 disables the dispatcher on this instance.
        /// Default 16.
        var dispatcherConcurrency = 16
        /// Attempts before a notification is given up. Default 10.
        var maxAttempts = 10
        /// How long a claimed row stays locked to one instance, seconds. Default 60.
        var leaseSeconds = 60
        /// How often the dispatcher looks for due rows when nothing woke it, ms. Default 1,000.
        var pollMilliseconds = 1_000
        /// Whole-delivery timeout, ms. Default 15,000.
        var timeoutMilliseconds = 15_000
    }

    /// The state-stream consumer and incident rules.
    struct Incidents: Sendable {
        /// Run the consumer on this instance. Default true.
        var consumerEnabled = true
        /// Changes within `flapWindowSeconds` that make a monitor flapping. Default 5.
        var flapThreshold = 5
        /// Window of the flapping rule, seconds. Default 1,800 (30 min).
        var flapWindowSeconds = 1_800
        /// A flapping monitor is stable again after this long without a change, seconds. Default 900.
        var flapStableSeconds = 900
        /// Stream entries another consumer left unacknowledged this long are taken over, ms.
        /// Default 30,000.
        var claimIdleMilliseconds = 30_000
        /// Run the rollup scheduler on this instance (an advisory lock keeps it to one). Default true.
        var rollupsEnabled = true
    }

    /// PostgreSQL URI (`postgres://user[:password]@host[:port]/database[?options=...]`). Required.
    var databaseURL: String
    /// Redis (`redis://[[user]:password@]IP[:PORT][/DB]`). Required.
    var redis: RedisEndpoint
    /// Key prefix of every Redis name (`ClusterContract`). Default `lookout`.
    var cluster: ClusterContract
    /// AES-GCM key for channel secrets: 32 bytes as 64 hex digits or base64. Default none: one is
    /// generated once and kept in the database (README says why production should set it).
    var secretKey: String?
    /// This instance's name in logs, Redis consumer groups and outbox leases. Default
    /// `<host>-<pid>`.
    var instanceId: String

    var http = HTTP()
    var auth = Auth()
    var rateLimits = RateLimits()
    var notifications = Notifications()
    var incidents = Incidents()
    var realtime = Realtime()

    init(databaseURL: String, redis: RedisEndpoint, cluster: ClusterContract, instanceId: String? = nil) {
        self.databaseURL = databaseURL
        self.redis = redis
        self.cluster = cluster
        self.instanceId =
            instanceId
            ?? ClusterContract.defaultEngineId(host: ProcessInfo.processInfo.hostName, pid: getpid())
    }

    /// The policy every outgoing delivery is held to (the same rules as checks).
    var targetPolicy: TargetPolicy { TargetPolicy(allowAll: notifications.allowPrivateTargets) }

    /// Refuses values outside their documented ranges, naming the setting.
    func validate() throws(ControlConfigurationError) {
        func fail(_ setting: String, _ reason: String) -> ControlConfigurationError {
            ControlConfigurationError(setting: setting, reason: reason)
        }
        guard (0...65_535).contains(http.port) else { throw fail("--port", "must be 0...65535") }
        if let jwtSecret = auth.jwtSecret, jwtSecret.utf8.count < 32 {
            throw fail("--jwt-secret", "must be at least 32 bytes (use e.g. `openssl rand -hex 32`)")
        }
        guard (60...(30 * 86_400)).contains(auth.tokenLifetimeSeconds) else {
            throw fail("--token-lifetime", "must be 60 s ... 30 days")
        }
        guard (10...15).contains(auth.bcryptCost) else { throw fail("--bcrypt-cost", "must be 10...15") }
        if let secretKey, SecretKeyText.decode(secretKey) == nil {
            throw fail("--secret-key", "must be 32 bytes as 64 hex digits or base64 (`openssl rand -hex 32`)")
        }
        for origin in http.corsOrigins where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw fail("--cors-origin", "'\(origin)' must be an origin like https://status.example.com")
        }
        if let smtpURL = notifications.smtpURL, !(smtpURL.hasPrefix("smtp://") || smtpURL.hasPrefix("smtps://")) {
            throw fail("--smtp-url", "must start with smtp:// or smtps://")
        }
        guard notifications.telegramAPIBase.hasPrefix("http://") || notifications.telegramAPIBase.hasPrefix("https://")
        else { throw fail("--telegram-api-base", "must be an http(s) URL") }
        guard (0...256).contains(notifications.dispatcherConcurrency) else {
            throw fail("--dispatcher-concurrency", "must be 0...256")
        }
        guard (1...100).contains(notifications.maxAttempts) else { throw fail("--max-attempts", "must be 1...100") }
        guard (5...3_600).contains(notifications.leaseSeconds) else { throw fail("--outbox-lease", "must be 5...3600") }
        guard (10...60_000).contains(notifications.pollMilliseconds) else {
            throw fail("--outbox-poll-ms", "must be 10...60000")
        }
        guard (2...100).contains(incidents.flapThreshold) else { throw fail("--flap-threshold", "must be 2...100") }
        guard incidents.flapWindowSeconds >= 60 else { throw fail("--flap-window", "must be at least 60 s") }
        guard incidents.flapStableSeconds >= 60 else { throw fail("--flap-stable", "must be at least 60 s") }
        guard incidents.claimIdleMilliseconds >= 1_000 else { throw fail("--claim-idle-ms", "must be at least 1000") }
        for (name, value) in [
            ("--rate-register-per-ip", rateLimits.registrationsPerIP), ("--rate-login-per-ip", rateLimits.loginsPerIP),
            ("--rate-login-per-email", rateLimits.loginsPerEmail), ("--rate-per-token", rateLimits.requestsPerToken),
            ("--rate-public-per-ip", rateLimits.publicPagesPerIP),
        ] where value < 1 {
            throw fail(name, "must be at least 1 request a minute")
        }
        try realtime.validate()
    }
}

/// A setting outside its documented range.
struct ControlConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The flag (its environment variable is in the README's table).
    var setting: String
    /// What is wrong and how to fix it.
    var reason: String
    var description: String { "\(setting): \(reason)" }
}

/// The channel-secret key as an operator writes it: 64 hex digits or base64 of 32 bytes.
enum SecretKeyText {
    static func decode(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.utf8.count == 64, let bytes = hexBytes(trimmed) { return bytes }
        if let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
        return nil
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let pending = high {
                bytes.append(pending << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }
}
