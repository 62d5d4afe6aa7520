import LookoutFFI

/// What one delivery attempt means for the outbox row.
enum DeliveryOutcome: Sendable, Equatable {
    /// The receiver accepted it: done.
    case delivered
    /// Try again later: after `after` seconds if the receiver said so (`Retry-After`, Telegram's
    /// `retry_after`), else on the retry policy's back-off. `reason` is for `last_error`.
    case retry(after: Double?, reason: String)
    /// Trying again cannot help (refused by the receiver or the target policy, misconfigured
    /// channel): the row fails and the channel is marked.
    case permanent(reason: String)

    /// Why it was not delivered (nil when it was).
    var reason: String? {
        switch self {
        case .delivered: return nil
        case .retry(_, let reason), .permanent(let reason): return reason
        }
    }

    /// The outcome of a transfer that got no answer: the target policy and requests that cannot
    /// be sent are permanent, everything else (DNS, connection, TLS, time) may pass.
    static func transportFailure(_ failure: CurlTransferFailure, receiver: String) -> DeliveryOutcome {
        switch failure.code {
        case .policy:
            return .permanent(
                reason: "\(receiver): \(failure.description); private, loopback and link-local addresses "
                    + "need --allow-private-targets"
            )
        case .invalidRequest, .loginDenied:
            return .permanent(reason: "\(receiver): \(failure.description)")
        case .busy, .cancelled, .shutdown:
            return .retry(after: nil, reason: "not sent: \(failure.description)")
        default:
            return .retry(after: nil, reason: "\(receiver) not reached: \(failure.description)")
        }
    }
}

/// One attempt, as the dispatcher records it.
struct DeliveryAttempt: Sendable, Equatable {
    /// The channel's kind (metrics: deliveries by channel and result).
    var channel: ChannelKind
    var outcome: DeliveryOutcome
    /// The receiver's answer: HTTP status or SMTP reply code (`notification_outbox.last_status`);
    /// nil when there was none (DNS, connection, policy, not rendered).
    var status: Int?
    /// How long the attempt took, seconds.
    var durationSeconds: Double
}
