import Logging

/// A log handler that hands every message to a closure: how a test reads what the part it
/// drives said (the engine injects its logger, so each test gives its own).
public struct ClosureLogHandler: LogHandler {
    /// Messages below this level are dropped.
    public var logLevel: Logger.Level
    /// Metadata of the logger (kept, not passed on).
    public var metadata: Logger.Metadata = [:]
    private let receive: @Sendable (Logger.Level, String) -> Void

    /// A handler passing messages from `level` up to `receive`.
    public init(level: Logger.Level = .debug, _ receive: @escaping @Sendable (Logger.Level, String) -> Void) {
        self.logLevel = level
        self.receive = receive
    }

    /// One metadata value.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Hands the message to the closure.
    public func log(event: LogEvent) {
        receive(event.level, event.message.description)
    }
}

extension Logger {
    /// A logger whose messages go to `receive`, from `level` up.
    public static func collecting(
        level: Logger.Level = .debug, _ receive: @escaping @Sendable (Logger.Level, String) -> Void
    ) -> Logger {
        Logger(label: "test") { _ in ClosureLogHandler(level: level, receive) }
    }
}
