import ArgumentParser
import Foundation
import Logging
import LookoutCore

/// `lookout-control`: the REST API, incidents and notifications. Every flag also reads an
/// environment variable (`ControlSetting.all`, `.env.example`); a flag wins over its variable.
@main
struct LookoutControlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookout-control",
        abstract: "Lookout's control plane: REST API, incidents and notifications.",
        discussion: "Every option also reads an environment variable: --database is LOOKOUT_DATABASE_URL, "
            + "--port is LOOKOUT_PORT, and so on (see .env.example). A flag wins over its variable."
    )

    @Option(name: .long, help: "PostgreSQL URI (LOOKOUT_DATABASE_URL). Required.") var database: String?
    @Option(name: .long, help: "Redis URL (LOOKOUT_REDIS_URL). Default redis://127.0.0.1:6379.") var redis: String?
    @Option(name: .long, help: "Redis name prefix (LOOKOUT_REDIS_PREFIX). Default lookout.") var redisPrefix: String?
    @Option(name: .long, help: "Bind address (LOOKOUT_HOST). Default 127.0.0.1.") var host: String?
    @Option(name: .long, help: "HTTP port (LOOKOUT_PORT). Default 3000.") var port: String?
    @Option(name: .long, help: "Allowed browser origins, comma-separated (LOOKOUT_CORS_ORIGIN).") var corsOrigin:
        String?
    @Flag(name: .long, inversion: .prefixedNo, help: "Served behind TLS: send HSTS (LOOKOUT_BEHIND_HTTPS).")
    var behindHttps: Bool?
    @Flag(name: .long, inversion: .prefixedNo, help: "Client IP from X-Forwarded-For (LOOKOUT_TRUST_FORWARDED_FOR).")
    var trustForwardedFor: Bool?
    @Option(name: .long, help: "HS256 secret, 32+ bytes (LOOKOUT_JWT_SECRET).") var jwtSecret: String?
    @Option(name: .long, help: "Token lifetime, seconds (LOOKOUT_TOKEN_LIFETIME). Default 86400.") var tokenLifetime:
        String?
    @Option(name: .long, help: "bcrypt cost (LOOKOUT_BCRYPT_COST). Default 12.") var bcryptCost: String?
    @Option(name: .long, help: "Channel-secret key, 64 hex digits (LOOKOUT_SECRET_KEY).") var secretKey: String?
    @Option(name: .long, help: "smtp:// or smtps:// URL (LOOKOUT_SMTP_URL).") var smtpUrl: String?
    @Option(name: .long, help: "E-mail sender (LOOKOUT_SMTP_FROM).") var smtpFrom: String?
    @Option(name: .long, help: "Telegram Bot API base (LOOKOUT_TELEGRAM_API_BASE).") var telegramApiBase: String?
    @Flag(name: .long, inversion: .prefixedNo, help: "Allow private targets (LOOKOUT_ALLOW_PRIVATE_TARGETS).")
    var allowPrivateTargets: Bool?
    @Option(name: .long, help: "DNS server IP:PORT for deliveries (LOOKOUT_DNS_SERVER).") var dnsServer: String?
    @Option(name: .long, help: "Extra CA file for deliveries (LOOKOUT_CA_FILE).") var caFile: String?
    @Option(name: .long, help: "Deliveries in flight (LOOKOUT_DISPATCHER_CONCURRENCY). Default 16.")
    var dispatcherConcurrency: String?
    @Option(name: .long, help: "Delivery attempts (LOOKOUT_MAX_ATTEMPTS). Default 10.") var maxAttempts: String?
    @Option(name: .long, help: "Outbox lease, seconds (LOOKOUT_OUTBOX_LEASE). Default 60.") var outboxLease: String?
    @Option(name: .long, help: "Outbox poll, ms (LOOKOUT_OUTBOX_POLL_MS). Default 1000.") var outboxPollMs: String?
    @Option(name: .long, help: "Delivery timeout, ms (LOOKOUT_DELIVERY_TIMEOUT_MS). Default 15000.")
    var deliveryTimeoutMs: String?
    @Flag(name: .long, inversion: .prefixedNo, help: "Consume the state stream here (LOOKOUT_INCIDENT_CONSUMER).")
    var incidentConsumer: Bool?
    @Flag(name: .long, inversion: .prefixedNo, help: "Run the rollup scheduler here (LOOKOUT_ROLLUPS).")
    var rollups: Bool?
    @Option(name: .long, help: "Flap threshold (LOOKOUT_FLAP_THRESHOLD). Default 5.") var flapThreshold: String?
    @Option(name: .long, help: "Flap window, seconds (LOOKOUT_FLAP_WINDOW). Default 1800.") var flapWindow: String?
    @Option(name: .long, help: "Flap stable time, seconds (LOOKOUT_FLAP_STABLE). Default 900.") var flapStable: String?
    @Option(name: .long, help: "Stream claim idle, ms (LOOKOUT_CLAIM_IDLE_MS). Default 30000.") var claimIdleMs: String?
    @Option(name: .long, help: "Registrations/min per IP (LOOKOUT_RATE_REGISTER_PER_IP). Default 10.")
    var rateRegisterPerIp: String?
    @Option(name: .long, help: "Logins/min per IP (LOOKOUT_RATE_LOGIN_PER_IP). Default 20.") var rateLoginPerIp: String?
    @Option(name: .long, help: "Logins/min per e-mail (LOOKOUT_RATE_LOGIN_PER_EMAIL). Default 10.")
    var rateLoginPerEmail: String?
    @Option(name: .long, help: "Requests/min per token (LOOKOUT_RATE_PER_TOKEN). Default 1200.") var ratePerToken:
        String?
    @Option(name: .long, help: "Public status-page requests/min per IP (LOOKOUT_RATE_PUBLIC_PER_IP). Default 600.")
    var ratePublicPerIp: String?
    @Option(name: .long, help: "Live-update send queue, messages (LOOKOUT_REALTIME_QUEUE_MESSAGES). Default 1024.")
    var realtimeQueueMessages: String?
    @Option(name: .long, help: "Live-update send queue, bytes (LOOKOUT_REALTIME_QUEUE_BYTES). Default 1048576.")
    var realtimeQueueBytes: String?
    @Option(name: .long, help: "Rooms per live-update connection (LOOKOUT_REALTIME_MAX_SUBSCRIPTIONS). Default 1000.")
    var realtimeMaxSubscriptions: String?
    @Option(name: .long, help: "Live-update connections per IP (LOOKOUT_REALTIME_CONNECTIONS_PER_IP). Default 100.")
    var realtimeConnectionsPerIp: String?
    @Option(name: .long, help: "Live-update idle timeout, seconds (LOOKOUT_REALTIME_IDLE_TIMEOUT). Default 60.")
    var realtimeIdleTimeout: String?
    @Option(name: .long, help: "Instance name (LOOKOUT_INSTANCE_ID). Default host-pid.") var instanceId: String?
    @Option(name: .long, help: "Log level (LOOKOUT_LOG_LEVEL). Default info.") var logLevel: String?

    func run() async throws {
        let configuration: ControlConfiguration
        let level: Logger.Level
        do {
            let reader = SettingReader(environment: ProcessInfo.processInfo.environment)
            configuration = try makeConfiguration(reader)
            level = try reader.logLevel("--log-level", logLevel)
            try configuration.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "lookout-control")
        let application = try await ControlApplication.build(configuration: configuration, logger: logger)
        try await application.runService()
    }

    private func makeConfiguration(_ reader: SettingReader) throws(ControlConfigurationError) -> ControlConfiguration {
        let databaseURL = try reader.required("--database", database)
        let redisURL = try reader.text("--redis", redis)
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint(url: redisURL) } catch {
            throw ControlConfigurationError(setting: "--redis", reason: error.description)
        }
        let prefix = try reader.text("--redis-prefix", redisPrefix)
        let cluster: ClusterContract
        do { cluster = try ClusterContract(prefix: prefix) } catch {
            throw ControlConfigurationError(setting: "--redis-prefix", reason: error.description)
        }
        var configuration = ControlConfiguration(
            databaseURL: databaseURL,
            redis: endpoint,
            cluster: cluster,
            instanceId: try reader.optional("--instance-id", instanceId)
        )
        configuration.http.host = try reader.text("--host", host)
        configuration.http.port = try reader.integer("--port", port)
        configuration.http.corsOrigins = try reader.list("--cors-origin", corsOrigin)
        configuration.http.behindHTTPS = try reader.boolean("--behind-https", behindHttps)
        configuration.http.trustForwardedFor = try reader.boolean("--trust-forwarded-for", trustForwardedFor)
        configuration.auth.jwtSecret = try reader.optional("--jwt-secret", jwtSecret)
        configuration.auth.tokenLifetimeSeconds = try reader.integer("--token-lifetime", tokenLifetime)
        configuration.auth.bcryptCost = try reader.integer("--bcrypt-cost", bcryptCost)
        configuration.secretKey = try reader.optional("--secret-key", secretKey)
        configuration.notifications.smtpURL = try reader.optional("--smtp-url", smtpUrl)
        configuration.notifications.smtpFrom = try reader.text("--smtp-from", smtpFrom)
        configuration.notifications.telegramAPIBase = try reader.text("--telegram-api-base", telegramApiBase)
        configuration.notifications.allowPrivateTargets = try reader.boolean(
            "--allow-private-targets",
            allowPrivateTargets
        )
        configuration.notifications.dnsServer = try reader.optional("--dns-server", dnsServer)
        configuration.notifications.caFile = try reader.optional("--ca-file", caFile)
        configuration.notifications.dispatcherConcurrency = try reader.integer(
            "--dispatcher-concurrency",
            dispatcherConcurrency
        )
        configuration.notifications.maxAttempts = try reader.integer("--max-attempts", maxAttempts)
        configuration.notifications.leaseSeconds = try reader.integer("--outbox-lease", outboxLease)
        configuration.notifications.pollMilliseconds = try reader.integer("--outbox-poll-ms", outboxPollMs)
        configuration.notifications.timeoutMilliseconds = try reader.integer("--delivery-timeout-ms", deliveryTimeoutMs)
        configuration.incidents.consumerEnabled = try reader.boolean("--incident-consumer", incidentConsumer)
        configuration.incidents.rollupsEnabled = try reader.boolean("--rollups", rollups)
        configuration.incidents.flapThreshold = try reader.integer("--flap-threshold", flapThreshold)
        configuration.incidents.flapWindowSeconds = try reader.integer("--flap-window", flapWindow)
        configuration.incidents.flapStableSeconds = try reader.integer("--flap-stable", flapStable)
        configuration.incidents.claimIdleMilliseconds = try reader.integer("--claim-idle-ms", claimIdleMs)
        configuration.rateLimits.registrationsPerIP = try reader.integer("--rate-register-per-ip", rateRegisterPerIp)
        configuration.rateLimits.loginsPerIP = try reader.integer("--rate-login-per-ip", rateLoginPerIp)
        configuration.rateLimits.loginsPerEmail = try reader.integer("--rate-login-per-email", rateLoginPerEmail)
        configuration.rateLimits.requestsPerToken = try reader.integer("--rate-per-token", ratePerToken)
        configuration.rateLimits.publicPagesPerIP = try reader.integer("--rate-public-per-ip", ratePublicPerIp)
        configuration.realtime.queueMessages = try reader.integer("--realtime-queue-messages", realtimeQueueMessages)
        configuration.realtime.queueBytes = try reader.integer("--realtime-queue-bytes", realtimeQueueBytes)
        configuration.realtime.maxSubscriptions = try reader.integer(
            "--realtime-max-subscriptions", realtimeMaxSubscriptions)
        configuration.realtime.connectionsPerIP = try reader.integer(
            "--realtime-connections-per-ip", realtimeConnectionsPerIp)
        configuration.realtime.idleTimeoutSeconds = try reader.integer("--realtime-idle-timeout", realtimeIdleTimeout)
        return configuration
    }
}

/// Reads a setting from its flag, else its environment variable, else its default
/// (`ControlSetting.all`), and names both in every error.
struct SettingReader {
    let environment: [String: String]

    private func raw(_ flag: String, _ given: String?) -> (value: String, source: String) {
        let setting = ControlSetting.named(flag)
        if let given { return (given, flag) }
        if let value = environment[setting.environment] { return (value, setting.environment) }
        return (setting.defaultValue, "default of \(flag)")
    }

    private func fail(_ flag: String, _ reason: String) -> ControlConfigurationError {
        ControlConfigurationError(setting: "\(flag) / \(ControlSetting.named(flag).environment)", reason: reason)
    }

    func text(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> String {
        let (value, _) = raw(flag, given)
        guard !value.isEmpty else { throw fail(flag, "must not be empty") }
        return value
    }

    func required(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> String {
        let (value, _) = raw(flag, given)
        guard !value.isEmpty else { throw fail(flag, "is required") }
        return value
    }

    func optional(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> String? {
        let (value, _) = raw(flag, given)
        return value.isEmpty ? nil : value
    }

    func integer(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> Int {
        let (value, source) = raw(flag, given)
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
            throw fail(flag, "'\(value)' (from \(source)) is not a whole number")
        }
        return number
    }

    func boolean(_ flag: String, _ given: Bool?) throws(ControlConfigurationError) -> Bool {
        if let given { return given }
        let (value, source) = raw(flag, nil)
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw fail(flag, "'\(value)' (from \(source)) must be true or false")
        }
    }

    func list(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> [String] {
        let (value, _) = raw(flag, given)
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func logLevel(_ flag: String, _ given: String?) throws(ControlConfigurationError) -> Logger.Level {
        let (value, source) = raw(flag, given)
        guard let level = Logger.Level(rawValue: value.lowercased()) else {
            throw fail(
                flag, "'\(value)' (from \(source)) must be trace, debug, info, notice, warning, error or critical")
        }
        return level
    }
}
