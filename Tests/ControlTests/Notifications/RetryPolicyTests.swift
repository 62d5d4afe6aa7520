import Foundation
import LookoutCore
import Testing

@testable import LookoutControl

@Suite("Retry policy: back-off, jitter, Retry-After, giving up")
struct RetryPolicyTests {
    @Test("without jitter the waits double from 5 s and stop at 1 h")
    func doubling() {
        var policy = RetryPolicy()
        policy.jitterFraction = 0
        var generator = SplitMix64(seed: 1)
        let waits = (1...12).map { policy.backoff(afterAttempt: $0, using: &generator) }
        #expect(waits == [5, 10, 20, 40, 80, 160, 320, 640, 1_280, 2_560, 3_600, 3_600])
        #expect(policy.backoff(afterAttempt: 10_000, using: &generator) == 3_600)
    }

    @Test("jitter stays within ±20 % and below the cap, and one seed gives one schedule")
    func jitter() {
        let policy = RetryPolicy()
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        var other = SplitMix64(seed: 43)
        var schedule: [Double] = []
        for attempt in 1...20 {
            let wait = policy.backoff(afterAttempt: attempt, using: &first)
            let base = min(5 * pow(2, Double(attempt - 1)), 3_600)
            #expect(wait >= base * 0.8 && wait <= min(base * 1.2, 3_600), "attempt \(attempt): \(wait)")
            #expect(wait == policy.backoff(afterAttempt: attempt, using: &second))
            schedule.append(wait)
        }
        let otherSchedule = (1...20).map { policy.backoff(afterAttempt: $0, using: &other) }
        #expect(schedule != otherSchedule)
        // The jitter really spreads: not every wait sits on its base value.
        #expect(Set(schedule.prefix(10).enumerated().map { $0.element / (5 * pow(2, Double($0.offset))) }).count > 5)
    }

    @Test("a server's Retry-After wins over the back-off, within 1 s … 1 h")
    func retryAfter() {
        let policy = RetryPolicy()
        var generator = SplitMix64(seed: 7)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 7, using: &generator) == 7)
        #expect(policy.delay(afterAttempt: 9, retryAfter: 30, using: &generator) == 30)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 0, using: &generator) == 1)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 86_400, using: &generator) == 3_600)
        let backoff = policy.delay(afterAttempt: 3, retryAfter: nil, using: &generator)
        #expect(backoff >= 16 && backoff <= 24)
    }

    @Test("decisions: delivered, permanent, retry, and giving up after the last attempt")
    func decisions() {
        let policy = RetryPolicy(maxAttempts: 3)
        var generator = SplitMix64(seed: 9)
        #expect(policy.decision(after: .delivered, attempt: 1, using: &generator) == .delivered)
        #expect(
            policy.decision(after: .permanent(reason: "the webhook answered 410 Gone"), attempt: 1, using: &generator)
                == .giveUp(reason: "the webhook answered 410 Gone")
        )
        #expect(
            policy.decision(after: .retry(after: 12, reason: "503"), attempt: 2, using: &generator)
                == .retry(afterSeconds: 12)
        )
        guard
            case .retry(let wait) = policy.decision(
                after: .retry(after: nil, reason: "reset"),
                attempt: 1,
                using: &generator
            )
        else {
            Issue.record("expected a retry")
            return
        }
        #expect(wait >= 4 && wait <= 6)
        #expect(
            policy.decision(after: .retry(after: 5, reason: "connect_refused: nope"), attempt: 3, using: &generator)
                == .giveUp(reason: "gave up after 3 attempts: connect_refused: nope")
        )
    }

    @Test("Retry-After headers: delay-seconds and the three HTTP date forms")
    func retryAfterHeader() throws {
        let now = Date(timeIntervalSince1970: 784_111_747)  // Sun, 06 Nov 1994 08:49:07 GMT
        #expect(HTTPAnswer.retryAfter("120", now: now) == 120)
        #expect(HTTPAnswer.retryAfter(" 7 ", now: now) == 7)
        #expect(HTTPAnswer.retryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 30)
        #expect(HTTPAnswer.retryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == 30)
        #expect(HTTPAnswer.retryAfter("Sun Nov  6 08:49:37 1994", now: now) == 30)
        #expect(HTTPAnswer.retryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == 0)
        #expect(HTTPAnswer.retryAfter("soon", now: now) == nil)
        #expect(HTTPAnswer.retryAfter("-5", now: now) == nil)
        #expect(HTTPDate.format(now) == "Sun, 06 Nov 1994 08:49:07 GMT")
        #expect(try #require(HTTPDate.parse(HTTPDate.format(now))) == now)
    }
}
