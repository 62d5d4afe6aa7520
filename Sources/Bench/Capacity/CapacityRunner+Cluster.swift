import Foundation
import LookoutCore

extension CapacityRunner {
    /// Lease of the cluster scenarios' engines, ms. Short, so that a second engine's planned join
    /// (2/3 of the lease after it registers) lands in the step's first interval; the hand-over
    /// itself neither doubles nor skips checks (README, "Cluster mode").
    static let clusterLeaseMs = 3_000

    /// One cluster step's borrowed state: a PostgreSQL schema holding the step's monitors
    /// (imported with `lookout-engine import`, the operator's way) and a Redis prefix, both
    /// private to the step and given back by `close()`, so that no step sees another's monitors,
    /// shard assignments or rows.
    struct ClusterStep {
        let scratch: BenchScratch
        let redisURL: String

        /// Makes the schema and imports `monitorsFile` into it.
        init(runner: CapacityRunner, monitorsFile: String) throws(CapacityError) {
            guard let databaseURL = runner.databaseURL, let redis = runner.redis, let redisURL = runner.redisURL else {
                throw .report("cluster scenarios need --database and --redis")
            }
            runner.clusterSteps += 1
            do {
                scratch = try BenchScratch(
                    name: "capacity\(runner.clusterSteps)", databaseURL: databaseURL, redis: redis)
            } catch {
                throw .database("cannot make the step's schema: \(error)")
            }
            self.redisURL = redisURL
            let logs = runner.files.directory + "/import"
            do {
                let child = try ChildProcess(
                    executable: runner.enginePath,
                    arguments: [
                        "import", "--database", scratch.databaseURL, "--owner", CapacityRunner.databaseOwner,
                        monitorsFile,
                    ],
                    stdoutPath: logs + ".stdout.log", stderrPath: logs + ".stderr.log")
                let (exit, _) = child.wait(deadline: ChildProcess.now() + 300, shouldStop: { false })
                guard exit.succeeded else {
                    scratch.close()
                    throw CapacityError.database(
                        "lookout-engine import \(exit):\n" + ThroughputDriver.tail(of: logs + ".stderr.log"))
                }
            } catch let error as CapacityError {
                throw error
            } catch {
                scratch.close()
                throw .database("cannot run lookout-engine import: \(error)")
            }
        }

        /// Drops the schema and the Redis keys of the step.
        func close() { scratch.close() }

        /// The cluster-mode arguments of engine `engine` (no monitors file: they come from the schema).
        func engineArguments(engine: Int) -> [String] {
            [
                "--database", scratch.databaseURL, "--redis", redisURL, "--redis-prefix", scratch.redisPrefix,
                "--engine-id", "capacity-\(engine)", "--lease-ms", String(CapacityRunner.clusterLeaseMs),
            ]
        }

        /// Redis's own counters: commands processed and CPU seconds (user + system).
        func redisCounters() throws(CapacityError) -> RedisCounters {
            let info: String
            do { info = try scratch.redisCLI(["INFO"]) } catch { throw .report("redis-cli INFO: \(error)") }
            guard let counters = RedisCounters(info: info) else {
                throw .report("redis-cli INFO has no total_commands_processed / used_cpu_*: \(info.prefix(200))")
            }
            return counters
        }

        /// Rolls the step's checks up with the control plane's own SQL function and measures
        /// the check and rollup rows the step left in its schema, plus Redis's share.
        func serviceCost(
            redisBefore: RedisCounters, redisAfter: RedisCounters, checks: Int
        ) throws(CapacityError)
            -> ServiceCost
        {
            let output: String
            do {
                guard let psql = Executables.find("psql") else {
                    throw CapacityError.database("psql is not on the PATH (Debian: postgresql-client)")
                }
                output = try ControlBench.capture(
                    psql,
                    [
                        scratch.databaseURL, "-X", "-A", "-t", "-q", "-F", " ", "-v", "ON_ERROR_STOP=1",
                        "-c", Self.rollupQuery, "-c", Self.sizesQuery,
                    ])
            } catch let error as CapacityError {
                throw error
            } catch {
                throw .database("measuring the step's rows: \(error)")
            }
            guard let line = output.split(separator: "\n").last,
                let sizes = RowSizes(line: String(line))
            else {
                throw .database("unexpected psql output measuring the step's rows: \(output.prefix(200))")
            }
            let perCheck = 1 / Double(max(1, checks))
            return ServiceCost(
                redisCommandsPerCheck: round1(Double(redisAfter.commands - redisBefore.commands) * perCheck),
                redisCPUMicrosPerCheck: round1((redisAfter.cpuSeconds - redisBefore.cpuSeconds) * 1e6 * perCheck),
                checkRowBytes: round1(sizes.checkBytes / Double(max(1, sizes.checkRows))),
                rollupRowBytes: round1(sizes.rollupBytes / Double(max(1, sizes.rollupRows))),
                rollupRows: sizes.rollupRows)
        }

        /// Every minute that holds a check of the step, rolled up as the control plane's
        /// scheduler does (`lookout_rollup_metrics`, migration 1).
        static let rollupQuery =
            "SELECT lookout_rollup_metrics('minute', min(checked_at), max(checked_at) + interval '1 second') FROM checks"
        static let sizesQuery = """
            SELECT (SELECT count(*) FROM checks),
                   (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i
                     WHERE i.inhparent = 'checks'::regclass),
                   (SELECT count(*) FROM metrics),
                   pg_total_relation_size('metrics')
            """
    }

    /// Redis's counters from `INFO`.
    struct RedisCounters: Equatable {
        var commands: Int
        var cpuSeconds: Double

        init(commands: Int, cpuSeconds: Double) {
            self.commands = commands
            self.cpuSeconds = cpuSeconds
        }

        /// Reads `total_commands_processed`, `used_cpu_user` and `used_cpu_sys` of `INFO`.
        init?(info: String) {
            var fields: [Substring: Substring] = [:]
            for line in info.split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon]] = line[line.index(after: colon)...]
            }
            guard let commands = fields["total_commands_processed"].flatMap({ Int($0) }),
                let user = fields["used_cpu_user"].flatMap({ Double($0) }),
                let system = fields["used_cpu_sys"].flatMap({ Double($0) })
            else { return nil }
            self.init(commands: commands, cpuSeconds: user + system)
        }
    }

    /// The four columns of `ClusterStep.sizesQuery`.
    struct RowSizes: Equatable {
        var checkRows: Int
        var checkBytes: Double
        var rollupRows: Int
        var rollupBytes: Double

        init?(line: String) {
            let fields = line.split(separator: " ").compactMap { Double($0) }
            guard fields.count == 4 else { return nil }
            checkRows = Int(fields[0])
            checkBytes = fields[1]
            rollupRows = Int(fields[2])
            rollupBytes = fields[3]
        }
    }
}

private func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
