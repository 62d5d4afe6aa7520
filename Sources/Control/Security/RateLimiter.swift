import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

/// Per-minute budgets kept in Redis, so every instance spends from the same one. The rule is
/// the generic cell rate algorithm (GCRA): a budget of N a minute lets N requests through at
/// once and then one every 60/N seconds — no window edge where twice the budget gets through,
/// and one key per budget holding a single timestamp (the "theoretical arrival time"). One
/// `EVAL` per request, timed by the Redis server's clock; over the budget → 429 with
/// `Retry-After` (when the next request would pass).
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

    /// KEYS[1]: the budget's key. ARGV[1]: the interval between requests at the sustained rate,
    /// ms (60,000 / N). ARGV[2]: the period, ms (60,000). Returns {allowed (1/0), ms to wait}.
    static let script = """
        local now = redis.call('TIME')
        local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local interval = tonumber(ARGV[1])
        local period = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or nowMs)
        if tat < nowMs then tat = nowMs end
        if tat - nowMs > period - interval then
            return {0, tat - nowMs - (period - interval)}
        end
        redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - nowMs)
        return {1, 0}
        """

    /// The outcome of one request against a budget.
    struct Decision: Sendable, Equatable {
        var allowed: Bool
        /// Seconds until a request would pass (at least 1 when refused).
        var retryAfterSeconds: Int
    }

    /// Throws 429 when `key` has used up its budget of `limitPerMinute`.
    func enforce(key: String, limitPerMinute: Int) async throws {
        guard let decision = await check(key: key, limitPerMinute: limitPerMinute) else { return }
        if !decision.allowed { throw APIError.rateLimited(retryAfterSeconds: decision.retryAfterSeconds) }
    }

    /// Spends one request of `key`'s budget; nil when Redis could not be asked.
    func check(key: String, limitPerMinute: Int) async -> Decision? {
        let period = 60_000
        let interval = max(1, period / max(limitPerMinute, 1))
        do {
            let reply = try await redis.commands.command([
                "EVAL", Self.script, "1", contract.rateLimitKey(key), String(interval), String(period),
            ])
            guard let items = reply.arrayValue, items.count == 2, let allowed = items[0].integerValue,
                let waitMs = items[1].integerValue
            else {
                outage.report(logger, "rate limiter: unexpected reply \(reply)")
                return nil
            }
            outage.recovered()
            return Decision(
                allowed: allowed == 1, retryAfterSeconds: allowed == 1 ? 0 : max(1, Int((waitMs + 999) / 1000)))
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
