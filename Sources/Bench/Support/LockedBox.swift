import Foundation

/// A value behind a lock, for the few places where plain threads (signal handlers, the stdin
/// watcher) share state outside NIO's event loops. Not for hot paths: the farm's counters are
/// loop-bound instead (see `FarmCounters`).
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every access to `value` goes through `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}
