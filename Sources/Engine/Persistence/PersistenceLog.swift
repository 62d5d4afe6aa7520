import Foundation

/// Where the persistence layer reports one-off problems (connection lost, database back, spill
/// used). Injected, never built inside library code: the commands pass `.standardError`, tests
/// pass a collector or `.silent`.
struct PersistenceLog: Sendable {
    enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    let minimum: Level
    let sink: @Sendable (Level, String) -> Void

    init(minimum: Level = .info, sink: @escaping @Sendable (Level, String) -> Void) {
        self.minimum = minimum
        self.sink = sink
    }

    func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimum else { return }
        sink(level, message())
    }

    func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    /// One line per message on stderr, prefixed like every other engine message.
    static let standardError = PersistenceLog { level, message in
        let prefix =
            level >= .warning ? "lookout-engine: \(level == .error ? "error" : "warning"): " : "lookout-engine: "
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
    }

    static let silent = PersistenceLog(minimum: .error) { _, _ in }
}
