import Foundation
import LookoutCore

/// What a bench that starts control planes borrows and gives back: a private working directory,
/// a PostgreSQL schema and a Redis key prefix, all named after the bench and its pid so two
/// benches never share them. `close()` drops the schema, deletes the prefix's keys and removes
/// the directory, whatever the bench left in them.
struct BenchScratch {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The working directory (logs of the processes the bench starts).
    let directory: String
    /// The schema every started process uses (through `databaseURL`'s search_path).
    let schema: String
    /// The Redis key prefix of the started processes.
    let redisPrefix: String
    /// The database URI with `search_path` set to `schema`.
    let databaseURL: String
    private let adminDatabaseURL: String
    private let redis: RedisEndpoint

    /// Makes the directory and the schema; `name` tells benches apart (`control`, `rt`).
    init(name: String, databaseURL: String, redis: RedisEndpoint) throws {
        let pid = getpid()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lookout-bench-\(name)-\(pid)").path
        schema = "lookout_bench_\(name)_\(Int(Date().timeIntervalSince1970))_\(pid)"
        redisPrefix = "lookout-bench-\(name)-\(pid)"
        self.databaseURL = databaseURL + (databaseURL.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
        adminDatabaseURL = databaseURL
        self.redis = redis
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try psql("CREATE SCHEMA \(schema)")
    }

    /// Gives everything back; safe to call after a failed bench.
    func close() {
        try? psql("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        _ = try? redisCLI([
            "EVAL", "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", "0",
            redisPrefix + ":*",
        ])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs one SQL statement as the bench's own user, outside the schema.
    func psql(_ sql: String) throws {
        guard let psql = ControlBench.which("psql") else {
            throw Failure(description: "psql is not installed (scripts/setup)")
        }
        _ = try ControlBench.capture(psql, [adminDatabaseURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
    }

    /// Runs one redis-cli command against the bench's Redis (database and credentials included).
    @discardableResult
    func redisCLI(_ arguments: [String]) throws -> String {
        guard let cli = ControlBench.which("redis-cli") else {
            throw Failure(description: "redis-cli is not installed (scripts/setup)")
        }
        var options = ["-h", redis.host, "-p", String(redis.port), "-n", String(redis.database)]
        if let user = redis.username { options += ["--user", user] }
        if let password = redis.password { options += ["--pass", password, "--no-auth-warning"] }
        return try ControlBench.capture(cli, options + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
