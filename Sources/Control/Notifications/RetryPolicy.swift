/// When to try a failed notification again: exponential back-off with jitter, a server's
/// `Retry-After` honoured, and a limit on attempts. Pure: the random numbers come from the caller
/// (a seeded generator in tests), the clock stays with the dispatcher.
///
/// With the defaults, the waits after attempts 1, 2, 3 … are about 5 s, 10 s, 20 s, 40 s, 80 s,
/// 160 s, 320 s, 640 s, 1,280 s (each ±20 %), capped at 1 h; attempt 10 is the last.
struct RetryPolicy: Sendable, Equatable {
    /// The wait after the first failed attempt, seconds. Default 5.
    var initialDelaySeconds = 5.0
    /// Each further wait is this many times the previous one. Default 2.
    var multiplier = 2.0
    /// No back-off wait is longer, seconds. Default 3,600 (1 h).
    var maxDelaySeconds = 3_600.0
    /// Each back-off wait is moved by up to this fraction either way, so that rows that failed
    /// together do not come back together. Default 0.2 (±20 %).
    var jitterFraction = 0.2
    /// A server's `Retry-After` is honoured up to this long, seconds. Default 3,600 (1 h).
    var maxRetryAfterSeconds = 3_600.0
    /// A server's `Retry-After` shorter than this is raised to it (`Retry-After: 0` must not turn
    /// into a tight loop), seconds. Default 1.
    var minRetryAfterSeconds = 1.0
    /// Attempts in all, the first included; after the last one the row fails. Default 10
    /// (`--max-attempts`).
    var maxAttempts = 10

    init(maxAttempts: Int = 10) {
        self.maxAttempts = maxAttempts
    }

    /// What the dispatcher does with a row after an attempt.
    enum Decision: Sendable, Equatable {
        /// Done: the notification was delivered.
        case delivered
        /// Attempt again in this many seconds.
        case retry(afterSeconds: Double)
        /// Stop: the row fails with this reason (`last_error`).
        case giveUp(reason: String)
    }

    /// The decision after attempt number `attempt` (1 for the first) ended with `outcome`.
    func decision(
        after outcome: DeliveryOutcome,
        attempt: Int,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        switch outcome {
        case .delivered:
            return .delivered
        case .permanent(let reason):
            return .giveUp(reason: reason)
        case .retry(let after, let reason):
            guard attempt < maxAttempts else {
                return .giveUp(reason: "gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(reason)")
            }
            return .retry(afterSeconds: delay(afterAttempt: attempt, retryAfter: after, using: &generator))
        }
    }

    /// The wait after attempt number `attempt` (1 for the first) failed: the server's
    /// `retryAfter` when it gave one (clamped to `minRetryAfterSeconds … maxRetryAfterSeconds`),
    /// else the back-off with jitter.
    func delay(
        afterAttempt attempt: Int,
        retryAfter: Double?,
        using generator: inout some RandomNumberGenerator
    )
        -> Double
    {
        if let retryAfter, retryAfter.isFinite {
            return min(max(retryAfter, minRetryAfterSeconds), maxRetryAfterSeconds)
        }
        return backoff(afterAttempt: attempt, using: &generator)
    }

    /// `initialDelaySeconds × multiplier^(attempt−1)`, capped at `maxDelaySeconds`, then moved by
    /// a uniform random fraction in ±`jitterFraction` (the result never exceeds the cap).
    func backoff(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let exponent = Double(max(attempt, 1) - 1)
        // Past ~60 doublings the power overflows to infinity; the cap takes over long before.
        let base = min(initialDelaySeconds * Self.power(multiplier, exponent), maxDelaySeconds)
        guard jitterFraction > 0 else { return base }
        let factor = 1 + Double.random(in: -jitterFraction...jitterFraction, using: &generator)
        return min(max(base * factor, 0), maxDelaySeconds)
    }

    private static func power(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(min(exponent, 1_000))
        while remaining > 0 && result.isFinite {
            result *= base
            remaining -= 1
        }
        return result
    }
}
