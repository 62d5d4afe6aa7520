import Foundation
import Logging
import LookoutFFI

/// The one entry point of notification delivery: the outbox dispatcher hands it a payload, the
/// row's idempotency key and the channel's target, and gets back what the attempt came to. It
/// knows which channel type sends what; the dispatcher knows none of that.
struct Notifier: Sendable {
    /// The delivery settings of `ControlConfiguration.Notifications`.
    struct Settings: Sendable {
        /// `--smtp-url`, parsed; nil when not configured.
        var smtpServer: Result<SMTPServer, SMTPServerError>
        /// `--smtp-from`. Default `lookout@localhost`.
        var smtpFrom: String
        /// `--telegram-api-base`. Default `https://api.telegram.org`.
        var telegramAPIBase: String
        /// Whole delivery, ms (`--delivery-timeout-ms`). Default 15,000.
        var timeoutMilliseconds: Int
        /// Connecting (TCP + TLS), ms: min(timeout, 5,000).
        var connectTimeoutMilliseconds: Int

        init(
            smtpURL: String? = nil,
            smtpFrom: String = "lookout@localhost",
            telegramAPIBase: String = "https://api.telegram.org",
            timeoutMilliseconds: Int = 15_000
        ) {
            if let smtpURL {
                do {
                    smtpServer = .success(try SMTPServer(url: smtpURL))
                } catch {
                    smtpServer = .failure(error)
                }
            } else {
                smtpServer = .failure(SMTPServerError(reason: "is not set: e-mail channels need an SMTP server"))
            }
            self.smtpFrom = smtpFrom
            self.telegramAPIBase = telegramAPIBase
            self.timeoutMilliseconds = max(timeoutMilliseconds, 100)
            self.connectTimeoutMilliseconds = min(self.timeoutMilliseconds, 5_000)
        }

        init(_ notifications: ControlConfiguration.Notifications) {
            self.init(
                smtpURL: notifications.smtpURL,
                smtpFrom: notifications.smtpFrom,
                telegramAPIBase: notifications.telegramAPIBase,
                timeoutMilliseconds: notifications.timeoutMilliseconds
            )
        }
    }

    let transport: any DeliveryTransport
    let settings: Settings
    private let logger: Logger
    private let clock: @Sendable () -> Date

    /// - Parameters:
    ///   - transport: a `DeliveryClient` (or a stand-in in tests).
    ///   - clock: the time of each attempt (Date header, webhook timestamp, Retry-After dates).
    init(
        transport: any DeliveryTransport,
        settings: Settings,
        logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.transport = transport
        self.settings = settings
        self.logger = logger
        self.clock = clock
    }

    /// Sends one notification to one channel, once. The same `idempotencyKey` must be passed on
    /// every attempt of the same outbox row.
    func deliver(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        to target: ChannelTarget
    ) async
        -> DeliveryAttempt
    {
        let attempt = await channel(for: target).send(
            payload,
            idempotencyKey: idempotencyKey,
            through: transport,
            clock: clock
        )
        var metadata: Logger.Metadata = [
            "notification.channel": "\(attempt.channel.rawValue)",
            "notification.event": "\(payload.event.rawValue)",
            "notification.key": "\(idempotencyKey)",
            "notification.status": "\(attempt.status.map(String.init) ?? "none")",
            "notification.ms": "\(Int(attempt.durationSeconds * 1000))",
        ]
        switch attempt.outcome {
        case .delivered:
            logger.debug("notification delivered", metadata: metadata)
        case .retry(let after, let reason):
            metadata["notification.reason"] = "\(reason)"
            if let after { metadata["notification.retry_after"] = "\(after)" }
            logger.debug("notification not delivered; will retry", metadata: metadata)
        case .permanent(let reason):
            metadata["notification.reason"] = "\(reason)"
            logger.debug("notification refused for good", metadata: metadata)
        }
        return attempt
    }

    /// The channel that sends to `target`.
    func channel(for target: ChannelTarget) -> any NotificationChannel {
        switch target {
        case .email(let to):
            return EmailChannel(
                recipients: to,
                server: settings.smtpServer,
                from: settings.smtpFrom,
                timeoutMilliseconds: settings.timeoutMilliseconds,
                connectTimeoutMilliseconds: settings.connectTimeoutMilliseconds
            )
        case .telegram(let chatId, let botToken):
            return TelegramChannel(
                chatId: chatId,
                botToken: botToken,
                apiBase: settings.telegramAPIBase,
                timeoutMilliseconds: settings.timeoutMilliseconds,
                connectTimeoutMilliseconds: settings.connectTimeoutMilliseconds
            )
        case .webhook(let url, let signingSecret):
            return WebhookChannel(
                url: url,
                signingSecret: signingSecret,
                timeoutMilliseconds: settings.timeoutMilliseconds,
                connectTimeoutMilliseconds: settings.connectTimeoutMilliseconds
            )
        }
    }
}
