import Foundation
import Testing

@testable import LookoutBench

@Suite("Capacity cluster scenarios")
struct CapacityClusterTests {
    static let cost = ServiceCost(
        redisCommandsPerCheck: 0.3, redisCPUMicrosPerCheck: 6.5, checkRowBytes: 262.4, rollupRowBytes: 196.6,
        rollupRows: 8_000)

    static var clusterResult: ScenarioResult {
        var result = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 2, database: false, cluster: true),
            steps: [
                CalibrationTests.step(offered: 1000, achieved: 1000, monitors: 2000, rss: 30, passed: true),
                CalibrationTests.step(offered: 2000, achieved: 1400, monitors: 4000, rss: 40, passed: false),
            ], notRun: nil)
        result.steps[0].services = cost
        result.steps[1].services = ServiceCost(
            redisCommandsPerCheck: 0.2, redisCPUMicrosPerCheck: 5, checkRowBytes: 250, rollupRowBytes: 150,
            rollupRows: 16_000)
        return result
    }

    @Test("A cluster scenario implies the database and is named for it; old reports decode without it")
    func scenario() throws {
        let cluster = CapacityScenario(.http, engines: 2, database: false, cluster: true)
        #expect(cluster.name == "http-2-engines-cluster")
        #expect(cluster.database)
        #expect(CapacityScenario(.http, engines: 1, database: true).name == "http-1-engine-postgresql")
        #expect(
            CapacityCommand.scenarios.filter(\.cluster).map(\.name) == [
                "http-1-engine-cluster", "http-2-engines-cluster",
            ])
        let old = #"{"name":"http-1-engine","checkProtocol":"http","engines":1,"database":false}"#
        let decoded = try JSONDecoder().decode(CapacityScenario.self, from: Data(old.utf8))
        #expect(!decoded.cluster)
    }

    @Test("The JSON marks cluster scenarios and carries the saturation step's service cost")
    func json() throws {
        let report = CapacityReport(results: [Self.clusterResult], conditions: [])
        let root = try #require(try JSONSerialization.jsonObject(with: try report.json()) as? [String: Any])
        let scenario = try #require((root["scenarios"] as? [[String: Any]])?.first)
        #expect(scenario["cluster"] as? Bool == true)
        let saturation = try #require(scenario["saturation"] as? [String: Any])
        let services = try #require(saturation["services"] as? [String: Any])
        #expect(services["rollupRowBytes"] as? Double == 196.6)
        #expect(services["redisCommandsPerCheck"] as? Double == 0.3)
        // Standalone scenarios have neither key.
        let standalone = CapacityReport(results: [CapacityReportTests.report.results[0]], conditions: [])
        let plain = try #require(
            (try JSONSerialization.jsonObject(with: try standalone.json()) as? [String: Any])?["scenarios"]
                as? [[String: Any]])
        #expect(plain[0]["cluster"] == nil)
        #expect((plain[0]["saturation"] as? [String: Any])?["services"] == nil)
    }

    @Test("The Markdown has a row of service cost per cluster step")
    func markdown() {
        let text = CapacityReport(results: [Self.clusterResult], conditions: []).markdown(chartsLink: nil)
        #expect(text.contains("## Cluster mode: PostgreSQL and Redis per check"))
        #expect(text.contains("| http-2-engines-cluster | 1,000 | 1,000 | 200 | 0.30 | 6.5 | 262 | 8,000 | 197 |"))
        #expect(text.contains("| http-2-engines-cluster | 2 | PostgreSQL + Redis (cluster) | 1,000 |"))
        let none = CapacityReportTests.report.markdown(chartsLink: nil)
        #expect(!none.contains("Cluster mode"))
    }

    @Test("Redis INFO and the row-size query's output are read")
    func parsers() {
        let info =
            "# Stats\r\ntotal_connections_received:12\r\ntotal_commands_processed:123456\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n"
        #expect(
            CapacityRunner.RedisCounters(info: info)
                == CapacityRunner.RedisCounters(commands: 123_456, cpuSeconds: 3.75))
        #expect(CapacityRunner.RedisCounters(info: "# Stats\r\ntotal_commands_processed:1\r\n") == nil)
        let sizes = CapacityRunner.RowSizes(line: "24000 6291456 12000 2359296")
        #expect(sizes?.checkRows == 24_000)
        #expect(sizes?.checkBytes == 6_291_456)
        #expect(sizes?.rollupRows == 12_000)
        #expect(sizes?.rollupBytes == 2_359_296)
        #expect(CapacityRunner.RowSizes(line: "24000 6291456") == nil)
    }

    @Test("The plan takes row sizes from a cluster saturation; a database only overrides with enough rows")
    func rowSizesForThePlan() throws {
        let report = CapacityReport(results: [Self.clusterResult], conditions: [])
        var fromDocument = Calibration.measured(from: report.document, label: "capacity.json")
        #expect(fromDocument.checkRowBytes.value == 262.4)
        #expect(fromDocument.rollupRowBytes.value == 196.6)
        #expect(fromDocument.rollupRowBytes.source.contains("http-2-engines-cluster saturation"))
        #expect(fromDocument.rollupRowBytes.source.contains("8,000 rows from lookout_rollup_metrics"))
        // A database with many checks but too few rollups: its check size wins, its rollup estimate does not.
        let sizes = try #require(DatabaseSizes.parse("50000 13000000 200 300 49152 80"))
        fromDocument.useDatabaseSizes(sizes)
        #expect(fromDocument.checkRowBytes.value == 260)
        #expect(fromDocument.rollupRowBytes.value == 196.6)
        // Without a cluster scenario the estimate still replaces the documented default.
        var documented = Calibration.documented
        documented.useDatabaseSizes(sizes)
        #expect(documented.rollupRowBytes.source.hasPrefix("estimated"))
        let fromSweep = Calibration.measured(from: [Self.clusterResult], sizes: nil, label: "run")
        #expect(fromSweep.rollupRowBytes.value == 196.6)
        #expect(fromSweep.measuredRedisCommandsPerCheck?.value == 0.3)
        #expect(Calibration.documented.measuredRedisCommandsPerCheck == nil)
    }

    @Test("The plan prints the measured Redis commands beside its own Redis arithmetic")
    func planRedisCrossCheck() throws {
        let report = CapacityReport(results: [Self.clusterResult], conditions: [])
        let calibration = Calibration.measured(from: report.document, label: "capacity.json")
        let input = try CapacityPlan.Input(monitors: 120_000, intervalSeconds: 60)
        let text = CapacityPlan(input: input, calibration: calibration).text
        // 2,000 checks/s × 0.3 commands per check.
        let line = try #require(text.split(separator: "\n").first { $0.contains("cross-check: commands/s measured") })
        #expect(line.contains(" 600 "))
        #expect(text.contains("0.30 commands per check (measured: capacity.json, http-2-engines-cluster saturation"))
        let without = CapacityPlan(input: input, calibration: .documented).text
        #expect(!without.contains("commands/s measured"))
    }
}
