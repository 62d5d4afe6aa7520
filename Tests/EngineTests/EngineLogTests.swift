import Logging
import Testing

@testable import LookoutEngine

@Suite("Engine log lines on standard error")
struct EngineLogTests {
    private func line(_ level: Logger.Level, _ message: Logger.Message, _ metadata: Logger.Metadata = [:]) -> String {
        let event = LogEvent(
            level: level, message: message, metadata: nil, source: "LookoutEngine", file: #fileID,
            function: #function, line: #line)
        return StandardErrorLogHandler.line(for: event, metadata: metadata)
    }

    @Test("info is the bare message after the engine's name")
    func infoLine() {
        #expect(line(.info, "3 monitors on 2 loop(s)") == "lookout-engine: 3 monitors on 2 loop(s)")
    }

    @Test("warnings and errors say so; a component names its part first")
    func severityAndComponent() {
        #expect(line(.warning, "cannot reach Redis") == "lookout-engine: warning: cannot reach Redis")
        #expect(
            line(.error, "rows LOST", ["component": "database"]) == "lookout-engine: database: error: rows LOST")
    }

    @Test("other metadata follows the message as sorted key=value pairs")
    func metadataFollows() {
        #expect(
            line(.info, "owning 3 shards", ["component": "cluster", "shard": "7", "engine": "a"])
                == "lookout-engine: cluster: owning 3 shards engine=a shard=7")
    }

    @Test("a logger at warning drops info and keeps warnings")
    func levelFilters() {
        var logger = Logger.engine(level: .warning)
        #expect(logger.logLevel == .warning)
        logger.logLevel = .debug
        #expect(logger.logLevel == .debug)
    }
}
