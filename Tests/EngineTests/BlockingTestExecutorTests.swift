import Foundation
import LookoutTestSupport
import Testing

/// The trait the process-driving suites carry (`.blocksThreads`): their bodies run on the
/// blocking-test threads, so their waits never hold a thread of Swift's cooperative pool.
@Suite("Suites that block threads run off the cooperative pool", .blocksThreads)
struct BlockingTestExecutorTests {
    @Test("a synchronous test body runs on one of the blocking-test threads")
    func synchronousBody() {
        #expect(onBlockingTestThread())
    }

    @Test("an asynchronous test body comes back to those threads after it awaited")
    func asynchronousBody() async throws {
        try await Task.sleep(for: .milliseconds(1))
        #expect(onBlockingTestThread())
    }
}

@Suite("Suites without the trait stay on the cooperative pool")
struct CooperativePoolTests {
    @Test("a synchronous test body does not run on a blocking-test thread")
    func synchronousBody() {
        #expect(!onBlockingTestThread())
    }
}

/// Synchronous, so it may ask `Thread.current` (async code may not).
private func onBlockingTestThread() -> Bool {
    BlockingTestExecutor.isCurrentThread
}
