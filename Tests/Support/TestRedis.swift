import Foundation
import LookoutCore
import Testing

/// The private Redis of `scripts/services` (address in `REDIS_URL`).
///
/// Tests that need it carry `.enabled(if: RedisTest.shouldRun, RedisTest.skipMessage)`: without
/// `REDIS_URL` they are skipped with that message, unless `CI` is set — then they run and fail
/// in `endpoint()`.
package enum RedisTest {
    package static let url = ProcessInfo.processInfo.environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    package static let isCI = TestDatabase.isCI
    package static let shouldRun = url != nil || isCI
    package static let skipMessage: Comment =
        "REDIS_URL is not set: start Redis with scripts/services start redis and eval \"$(scripts/services env)\" (with CI set this is a failure)"

    package struct Missing: Error, CustomStringConvertible {
        package var description: String {
            "REDIS_URL is not set and CI is: Redis is required (scripts/services start redis; eval \"$(scripts/services env)\")"
        }
    }

    package static func endpoint() throws -> RedisEndpoint {
        guard let url else { throw Missing() }
        return try RedisEndpoint(url: url)
    }

    /// A key prefix no other test uses.
    package static func uniquePrefix(_ name: String) -> String {
        "lookout-test-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }
}
