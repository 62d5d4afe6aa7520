import Foundation
import Logging

/// The engine's log: one `Logger`, made by the command and handed to every part that reports
/// something (persistence, cluster, runtime), never looked up globally, so a test gives each part
/// a logger of its own and reads what it said.
///
/// On standard error each message is one line in the engine's usual form:
/// `lookout-engine: [component: ][warning: |error: ]message[ key=value …]`; the component comes
/// from the `component` metadata (`cluster`, `database`).
struct StandardErrorLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(logLevel: Logger.Level = .info) {
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        FileHandle.standardError.write(Data((Self.line(for: event, metadata: metadata) + "\n").utf8))
    }

    /// The text of one message, without the newline.
    static func line(for event: LogEvent, metadata base: Logger.Metadata) -> String {
        var fields = base
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var line = "lookout-engine: "
        if let component = fields.removeValue(forKey: "component") { line += "\(component): " }
        switch event.level {
        case .warning: line += "warning: "
        case .error, .critical: line += "error: "
        default: break
        }
        line += event.message.description
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        return line
    }
}

extension Logger {
    /// The engine's standard-error logger at `level`.
    static func engine(level: Logger.Level = .info) -> Logger {
        Logger(label: "lookout-engine") { _ in StandardErrorLogHandler(logLevel: level) }
    }

    /// This logger with `component` set (the prefix of its lines).
    func component(_ name: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = .string(name)
        return copy
    }
}

/// `--log-level`: the four levels an operator picks from.
enum EngineLogLevel: String, CaseIterable, Sendable {
    case debug, info, warning, error

    var level: Logger.Level {
        switch self {
        case .debug: return .debug
        case .info: return .info
        case .warning: return .warning
        case .error: return .error
        }
    }
}
