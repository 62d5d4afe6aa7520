import Foundation
import LookoutCore
import LookoutFFI

/// E-mail through the operator's SMTP server (`--smtp-url`), sent by libcurl: `smtp://` upgrades
/// with STARTTLS when the server offers it, `smtps://` is TLS throughout; the login comes from the
/// URL. The server is the operator's, so the target policy does not apply to it (a relay on a
/// private address is normal); `--allow-private-targets` is about what users point Lookout at.
///
/// Outcomes: the server accepted the message (250) → delivered; a 4xx reply → retry; a 5xx reply
/// (unknown recipient, refused login, policy) → permanent; no connection → retry; no
/// `--smtp-url` → permanent.
struct EmailChannel: NotificationChannel {
    var recipients: [String]
    /// The SMTP server, or why there is none.
    var server: Result<SMTPServer, SMTPServerError>
    /// `From:` as configured (`lookout@example.com` or `Lookout <lookout@example.com>`).
    var from: String
    var timeoutMilliseconds: Int
    var connectTimeoutMilliseconds: Int

    var kind: ChannelKind { .email }

    func render(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        now: Date
    ) throws(DeliveryRefusal)
        -> CurlTransferRequest
    {
        let server: SMTPServer
        switch self.server {
        case .success(let configured): server = configured
        case .failure(let error): throw DeliveryRefusal(reason: "e-mail cannot be sent: \(error)")
        }
        let sender = EmailMessage.mailbox(of: from)
        guard ChannelTarget.isValidEmailAddress(sender), !from.utf8.contains(where: { $0 == 10 || $0 == 13 }) else {
            throw DeliveryRefusal(reason: "e-mail cannot be sent: --smtp-from '\(from)' is not an e-mail address")
        }
        guard !recipients.isEmpty, recipients.allSatisfy(ChannelTarget.isValidEmailAddress) else {
            throw DeliveryRefusal(reason: "the channel has no valid recipient address")
        }
        let message = EmailMessage(
            payload: payload,
            idempotencyKey: idempotencyKey,
            from: from,
            to: recipients,
            date: now
        )
        return CurlTransferRequest(
            url: server.url,
            body: message.bytes(),
            timeoutMs: timeoutMilliseconds,
            connectTimeoutMs: connectTimeoutMilliseconds,
            mail: CurlMailEnvelope(from: sender, recipients: recipients),
            username: server.username,
            password: server.password,
            // The operator's server: any address it resolves to is fine.
            policy: TargetPolicy(allowAll: true)
        )
    }

    func classify(_ response: CurlTransferResponse, now: Date) -> DeliveryOutcome {
        let receiver = "SMTP server"
        if let failure = response.failure {
            let reply = response.finalServerReply ?? String(response.status)
            switch response.status {
            case 400...499:
                return .retry(after: nil, reason: "the SMTP server deferred the message: \(reply)")
            case 500...599:
                return .permanent(reason: "the SMTP server refused the message: \(reply)")
            default:
                return .transportFailure(failure, receiver: receiver)
            }
        }
        return .delivered
    }
}
