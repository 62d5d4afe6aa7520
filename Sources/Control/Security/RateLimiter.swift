import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

/// Fixed one-minute windows counted in Redis, so every instance spends from the same budget:
/// one `EVAL` per request increments the window's counter (creating it with a 60 s expiry) and
/// returns the count and the time left. Over the limit → 429 with `Retry-After`.
///
/// When Redis cannot be reached the request is let through and a warning logged (once per
/// outage): an unavailable rate limiter must not lock every user out; `/health` reports Redis.
struct RateLimiter: Sendable {
    let redis: RedisClient
    let contract: ClusterContract
    let logger: Logger
    private let outage = OutageLog()

    init(redis: RedisClient, contract: ClusterContract, logger: Logger) {
        self.redis = redis
        self.contract = contract
        self.logger = logger
    }

    /// INCR the window's counter, give it its expiry when new, return {count, milliseconds left}.
    static let script = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
        return {count, ttl}
        """

    /// The outcome of one request against a budget.
    struct Decision: Sendable, Equatable {
        var allowed: Bool
        var count: Int64
        /// Seconds until the window resets (at least 1).
        var retryAfterSeconds: Int
    }

    /// Throws 429 when `key` has used up `limitPerMinute` in the current window.
    func enforce(key: String, limitPerMinute: Int) async throws {
        guard let decision = await check(key: key, limitPerMinute: limitPerMinute) else { return }
        if !decision.allowed { throw APIError.rateLimited(retryAfterSeconds: decision.retryAfterSeconds) }
    }

    /// Counts one request; nil when Redis could not be asked.
    func check(key: String, limitPerMinute: Int) async -> Decision? {
        let window = Int64(Date().timeIntervalSince1970) / 60
        let redisKey = contract.rateLimitKey(key, minute: window)
        do {
            let reply = try await redis.commands.command(["EVAL", Self.script, "1", redisKey, "60000"])
            guard let items = reply.arrayValue, items.count == 2, let count = items[0].integerValue,
                let ttl = items[1].integerValue
            else {
                outage.report(logger, "rate limiter: unexpected reply \(reply)")
                return nil
            }
            outage.recovered()
            return Decision(
                allowed: count <= Int64(limitPerMinute),
                count: count,
                retryAfterSeconds: max(1, Int((ttl + 999) / 1000))
            )
        } catch {
            outage.report(
                logger, "rate limiter cannot reach Redis (\(error)); requests are let through until it is back")
            return nil
        }
    }
}

/// Logs the start of an outage once, not once per request.
private final class OutageLog: Sendable {
    private let down = Mutex(false)

    func report(_ logger: Logger, _ message: String) {
        let first = down.withLock { wasDown in
            defer { wasDown = true }
            return !wasDown
        }
        if first { logger.warning("\(message)") }
    }

    func recovered() { down.withLock { $0 = false } }
}
