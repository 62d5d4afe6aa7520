import Crypto
import Foundation
import LookoutFFI

/// An HTTP `POST` of the payload's JSON to the channel's URL, held to the target policy (a user
/// chose the URL: loopback, private and link-local addresses need `--allow-private-targets`).
///
/// Headers: `Content-Type: application/json`, `User-Agent: Lookout-Webhook/1`,
/// `Idempotency-Key` (the same on every attempt: receivers de-duplicate with it),
/// `X-Lookout-Event`, `X-Lookout-Timestamp` (unix seconds of the attempt) and, when the channel has
/// a secret, `X-Lookout-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
/// A receiver recomputes the HMAC over the raw body, compares in constant time and rejects old
/// timestamps (replays).
///
/// Outcomes: 2xx → delivered; 408, 425, 429 and 5xx → retry (honouring `Retry-After`, seconds or
/// an HTTP date); 3xx (redirects are not followed) and other 4xx → permanent; no connection or no
/// answer in time → retry; refused by the target policy → permanent.
struct WebhookChannel: NotificationChannel {
    var url: String
    var signingSecret: String?
    var timeoutMilliseconds: Int
    var connectTimeoutMilliseconds: Int

    var kind: ChannelKind { .webhook }

    func render(
        _ payload: NotificationPayload,
        idempotencyKey: String,
        now: Date
    ) throws(DeliveryRefusal)
        -> CurlTransferRequest
    {
        guard ChannelTarget.isValidWebhookURL(url) else {
            throw DeliveryRefusal(reason: "the webhook URL is not an absolute http:// or https:// URL")
        }
        let body = payload.jsonBytes()
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        var headers = [
            CurlHeaderField("Content-Type", "application/json"),
            CurlHeaderField("User-Agent", "Lookout-Webhook/1"),
            CurlHeaderField("Idempotency-Key", HeaderValue.token(idempotencyKey)),
            CurlHeaderField("X-Lookout-Event", payload.event.rawValue),
            CurlHeaderField("X-Lookout-Timestamp", timestamp),
        ]
        if let signingSecret {
            headers.append(
                CurlHeaderField(
                    "X-Lookout-Signature",
                    Self.signature(secret: signingSecret, timestamp: timestamp, body: body)
                )
            )
        }
        return CurlTransferRequest(
            url: url,
            method: "POST",
            headers: headers,
            body: body,
            timeoutMs: timeoutMilliseconds,
            connectTimeoutMs: connectTimeoutMilliseconds
        )
    }

    func classify(_ response: CurlTransferResponse, now: Date) -> DeliveryOutcome {
        if let failure = response.failure { return .transportFailure(failure, receiver: "webhook") }
        let said = "the webhook answered \(HTTPAnswer.summary(response))"
        switch response.status {
        case 200...299:
            return .delivered
        case 408, 425, 429, 500...599:
            return .retry(after: HTTPAnswer.retryAfter(response, now: now), reason: said)
        case 300...399:
            return .permanent(reason: "\(said) (redirects are not followed: point the channel at the final URL)")
        default:
            return .permanent(reason: said)
        }
    }

    /// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
    static func signature(secret: String, timestamp: String, body: [UInt8]) -> String {
        var message = Array(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message += body
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256="
            + code.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
    }
}
