import Foundation
import Logging
import LookoutCore
import LookoutFFI

@testable import LookoutControl

/// Delivery clients and notifiers for tests: loopback only. Every client gets a DNS server on
/// loopback (the DNS stub, or port 9 where nothing answers), so no lookup ever leaves the machine.
enum DeliveryTestSupport {
    static let logger: Logger = {
        var logger = Logger(label: "lookout.test.notifications")
        logger.logLevel = .warning
        return logger
    }()

    /// A DNS server address where nothing listens: any name lookup fails at once, locally.
    static let noDNS = "127.0.0.1:9"

    static func client(
        allowPrivateTargets: Bool,
        dnsServer: String = noDNS,
        caFile: String? = nil,
        maxInFlight: Int = 16,
        maxQueued: Int = 1_024
    ) throws -> DeliveryClient {
        var configuration = DeliveryClient.Configuration(
            policy: TargetPolicy(allowAll: allowPrivateTargets),
            dnsServer: dnsServer,
            caFile: caFile
        )
        configuration.dnsTimeoutMilliseconds = 500
        configuration.dnsTries = 1
        configuration.maxInFlight = maxInFlight
        configuration.maxQueued = maxQueued
        return try DeliveryClient(configuration: configuration, logger: logger)
    }

    static func notifier(
        _ client: DeliveryClient,
        smtpURL: String? = nil,
        smtpFrom: String = "Lookout <alerts@lookout.test>",
        telegramAPIBase: String = "http://127.0.0.1:9",
        timeoutMilliseconds: Int = 5_000
    ) -> Notifier {
        Notifier(
            transport: client,
            settings: Notifier.Settings(
                smtpURL: smtpURL,
                smtpFrom: smtpFrom,
                telegramAPIBase: telegramAPIBase,
                timeoutMilliseconds: timeoutMilliseconds
            ),
            logger: logger
        )
    }

    static let down = NotificationPayload(
        event: .monitorDown,
        occurredAt: Date(timeIntervalSince1970: 1_735_787_045.678),
        monitorId: 42,
        monitorName: "Shop <API> & co",
        url: "https://shop.example.com/health",
        status: .down,
        incidentId: 7,
        error: "connect_refused: connection refused: nothing listens on that port"
    )

    static let up = NotificationPayload(
        event: .monitorUp,
        occurredAt: Date(timeIntervalSince1970: 1_735_787_345.5),
        monitorId: 42,
        monitorName: "Shop <API> & co",
        url: "https://shop.example.com/health",
        status: .up,
        incidentId: 7,
        downtimeSeconds: 299.822
    )
}
