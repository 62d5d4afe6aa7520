import Foundation
import Testing

/// Runs the tests of a suite on threads of their own instead of Swift's cooperative pool.
///
/// Why: the tests that drive real processes wait by blocking (`waitUntilExit`, a poll loop, a
/// semaphore) for seconds. On Swift's cooperative pool, which has one thread per core (two
/// here), two such tests hold every thread, and every `async` test beside them (a task it
/// started, a `Task.sleep` it awaits) stands still until one of them ends: a deadline of 30 s
/// could pass with the awaited work never scheduled. Under this trait a suite's tests run on
/// `BlockingTestExecutor.shared` instead, which has as many threads as the cooperative pool, so
/// the blocking tests still run two at a time and the pool stays free for everything else.
package struct RunsOffCooperativePool: SuiteTrait, TestTrait, TestScoping {
    /// Recursive: swift-testing then gives the scope to each test case of the suite.
    package var isRecursive: Bool { true }

    package func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(BlockingTestExecutor.shared) {
            try await function()
        }
    }
}

extension Trait where Self == RunsOffCooperativePool {
    /// This suite's tests block threads (they wait on processes): run them off the cooperative pool.
    package static var blocksThreads: RunsOffCooperativePool { RunsOffCooperativePool() }
}

/// A task executor with a fixed set of plain threads taking jobs in order of arrival.
package final class BlockingTestExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `pending` is only touched with `condition` locked.

    /// As many threads as the machine has cores, like the cooperative pool it relieves.
    package static let shared = BlockingTestExecutor(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Whether the calling (synchronous) code runs on one of this executor's threads.
    package static var isCurrentThread: Bool {
        Thread.current.threadDictionary[marker] as? Bool ?? false
    }

    private static let marker = "lookout.blocking-test-thread"
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []

    private init(threads: Int) {
        for index in 0..<max(threads, 1) {
            let thread = Thread { [unowned self] in
                Thread.current.threadDictionary[Self.marker] = true
                self.work()
            }
            thread.name = "blocking-tests-\(index)"
            thread.start()
        }
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let job = pending.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
