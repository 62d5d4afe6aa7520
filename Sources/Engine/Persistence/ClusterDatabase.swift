import Logging
import LookoutCore
import LookoutFFI

/// Start-up of a cluster engine's database side: migrate (concurrently safe), keep partitions
/// ahead, and build the COPY writer. Results carry `monitors.id` as their monitor id in cluster
/// mode, so the writer's directory maps numeric ids directly.
enum ClusterDatabase {
    static func startWriter(
        options: DatabaseRunOptions, engineId: String, log: Logger
    )
        throws(EngineError) -> CheckWriter
    {
        do throws(PostgresError) {
            _ = try DatabaseSetup.prepare(url: options.writer.databaseURL, log: log)
        } catch {
            throw .invalidOption(name: "--database", reason: error.description)
        }
        var configuration = options.writer
        configuration.engineId = engineId
        return try CheckWriter(
            configuration: configuration, directory: MonitorIdDirectory(numericFallback: true), log: log)
    }
}
