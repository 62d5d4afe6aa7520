import Logging
import LookoutTestSupport
import Synchronization

@testable import LookoutEngine

/// Collects log lines (for assertions and for printing on failure).
final class LogCollector: Sendable {
    private let lines = Mutex<[String]>([])
    var log: Logger {
        Logger.collecting(level: .info) { [self] level, message in
            self.lines.withLock { $0.append("\(level): \(message)") }
        }
    }
    var all: [String] { lines.withLock { $0 } }
}
