import Foundation
import Testing

@testable import LookoutBench

/// `lookout-bench plan`'s arithmetic, with round calibration figures so every expected value can
/// be checked by hand.
@Suite("CapacityPlan")
struct CapacityPlanTests {
    /// 1,000 HTTP and 100 HTTPS checks/s per core, 1,000 and 10,000 µs per check, 2 KiB per
    /// monitor on 10 MiB, 200-byte check rows and 100-byte rollup rows, 100,000 rows/s per COPY stream.
    static var calibration: Calibration {
        var c = Calibration.documented
        c.httpChecksPerSecondPerCore = .init(1000, "test")
        c.httpsChecksPerSecondPerCore = .init(100, "test")
        c.httpCPUMicrosPerCheck = .init(1000, "test")
        c.httpsCPUMicrosPerCheck = .init(10_000, "test")
        c.rssKiBPerMonitor = .init(2, "test")
        c.rssBaseMiB = .init(10, "test")
        c.checkRowBytes = .init(200, "test")
        c.rollupRowBytes = .init(100, "test")
        c.copyRowsPerSecondPerStream = .init(100_000, "test")
        c.liveResultsPerMessage = .init(200, "test")
        c.liveResultBytes = .init(250, "test")
        c.stateChangeShare = .init(0.001, "test")
        return c
    }

    @Test("250,000 monitors at 60 s, plain HTTP")
    func plainHTTP() throws {
        let input = try CapacityPlan.Input(monitors: 250_000, intervalSeconds: 60)
        let plan = CapacityPlan(input: input, calibration: Self.calibration)
        #expect(abs(plan.checksPerSecond - 4166.6667) < 0.001)
        #expect(plan.httpsChecksPerSecond == 0)
        // 4,166.7 / 1,000 per core = 4.17 cores; / 0.7 = 5.95 → 6 cores; 2 per engine → 3 engines.
        #expect(abs(plan.engineCoresAtSaturation - 4.1667) < 0.001)
        #expect(plan.engineCores == 6)
        #expect(plan.engines == 3)
        #expect(plan.monitorsPerEngine == 83_334)
        // 10 MiB + 83,334 × 2 KiB = 10 + 162.76 MiB.
        #expect(abs(plan.rssPerEngineMiB - (10 + 83_334.0 * 2 / 1024)) < 1e-9)
        #expect(abs(plan.engineCoresFromCPUCost - 4.1667) < 0.001)
        // PostgreSQL: one row per check, 200 bytes, 30 days.
        #expect(plan.copyStreams == 1)
        #expect(abs(plan.checkBytesPerDay - 250_000.0 / 60 * 86_400 * 200) < 1e-3)
        #expect(abs(plan.checkBytesRetained - plan.checkBytesPerDay * 30) < 1)
        // Rollups at 60 s: 1,440 minute + 24 hour + 1 day rows per monitor and day.
        #expect(abs(plan.rollupRowsPerSecond - 250_000.0 * 1465 / 86_400) < 1e-6)
        let kept = 250_000.0 * 1440 * 2 + 250_000.0 * 25 * 400
        #expect(abs(plan.rollupBytesRetained - kept * 100) < 1)
        // Redis: 1,388.9 checks/s per engine / 200 = 6.9 messages/s, under the 10/s timer floor.
        #expect(abs(plan.liveMessagesPerSecond - 30) < 1e-9)
        #expect(abs(plan.stateEventsPerSecond - 4.1667) < 0.001)
        #expect(abs(plan.heartbeatsPerSecond - 3) < 1e-9)
        #expect(abs(plan.redisOpsPerSecond - (30 + 4.16667 + 3)) < 0.001)
        #expect(abs(plan.fanOutBytesPerSecondPerControlPlane - 4166.6667 * 250) < 0.1)
    }

    @Test("An HTTPS share costs its own cores, and live messages follow the batch size when busy")
    func httpsShare() throws {
        let input = try CapacityPlan.Input(monitors: 600_000, intervalSeconds: 60, httpsShare: 0.5, coresPerEngine: 4)
        let plan = CapacityPlan(input: input, calibration: Self.calibration)
        // 10,000 checks/s: 5,000 HTTP (5 cores) + 5,000 HTTPS (50 cores) = 55; / 0.7 = 78.6 → 79; / 4 → 20.
        #expect(plan.checksPerSecond == 10_000)
        #expect(plan.engineCoresAtSaturation == 55)
        #expect(plan.engineCores == 79)
        #expect(plan.engines == 20)
        #expect(plan.engineCoresFromCPUCost == 5 + 50)
        // 500 checks/s per engine / 200 = 2.5 messages/s < 10: the timer floor, 10 per engine.
        #expect(plan.liveMessagesPerSecond == 200)
    }

    @Test("Live messages: one per full batch once an engine fills more than ten a second")
    func liveBatches() throws {
        let input = try CapacityPlan.Input(monitors: 240_000, intervalSeconds: 10, coresPerEngine: 64)
        let plan = CapacityPlan(input: input, calibration: Self.calibration)
        // 24,000 checks/s → 34.3 cores / 0.7 → 35 → one engine of 64 cores; 24,000 / 200 = 120/s.
        #expect(plan.engines == 1)
        #expect(plan.liveMessagesPerSecond == 120)
        #expect(plan.copyStreams == 1)
    }

    @Test("Every figure prints with its assumption")
    func linesCarryAssumptions() throws {
        let plan = CapacityPlan(
            input: try CapacityPlan.Input(monitors: 250_000, intervalSeconds: 60, httpsShare: 0.8),
            calibration: Calibration.documented)
        #expect(plan.lines.count >= 15)
        for line in plan.lines {
            #expect(!line.value.isEmpty)
            #expect(!line.assumption.isEmpty)
        }
        #expect(plan.text.contains("default: README"))
        #expect(plan.text.contains("80% target") == false)  // utilisation is 70% by default
        #expect(plan.text.contains("70% target utilisation"))
    }

    @Test("Input is validated with messages that name the flag")
    func validation() {
        #expect(throws: CapacityError.self) { try CapacityPlan.Input(monitors: 0, intervalSeconds: 60) }
        #expect(throws: CapacityError.self) { try CapacityPlan.Input(monitors: 10, intervalSeconds: 0.5) }
        #expect(throws: CapacityError.self) {
            try CapacityPlan.Input(monitors: 10, intervalSeconds: 60, httpsShare: 1.5)
        }
        do {
            _ = try CapacityPlan.Input(monitors: 10, intervalSeconds: 60, httpsShare: -1)
            Issue.record("a negative share was accepted")
        } catch {
            #expect(error.description.contains("--https-share"))
        }
    }

    @Test("Number formatting")
    func formatting() {
        #expect(PlanFormat.number(12345.678, 1) == "12,345.7")
        #expect(PlanFormat.number(-0.04, 1) == "0.0")
        #expect(PlanFormat.number(-1234, 0) == "-1,234")
        #expect(PlanFormat.bytes(512) == "512 bytes")
        #expect(PlanFormat.bytes(1536) == "1.5 KiB")
        #expect(PlanFormat.bytes(3 * 1024 * 1024 * 1024) == "3.0 GiB")
    }
}

@Suite("Calibration from measurements")
struct CalibrationTests {
    static func step(offered: Double, achieved: Double, monitors: Int, rss: Double, passed: Bool) -> CapacityStep {
        CapacityStep(
            offeredChecksPerSecond: offered, monitors: monitors, intervalSeconds: 1, checksPerSecond: achieved,
            farmChecksPerSecond: achieved, lagP50Ms: 1, lagP99Ms: passed ? 5 : 5000, checks: Int(achieved) * 4,
            farmRequests: Int(achieved) * 4, falseFailures: 0, lostResults: 0, cpuMicrosPerCheck: 200,
            peakRSSMiB: rss, rowsPerSecond: nil, farmCoresBusy: 0.5, failures: passed ? [] : ["lag"])
    }

    @Test("Per-core throughput from the best standalone saturation; memory from the slope of RSS")
    func fromSweep() {
        let one = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 1, database: false),
            steps: [
                Self.step(offered: 1000, achieved: 1000, monitors: 1000, rss: 12, passed: true),
                Self.step(offered: 2000, achieved: 1990, monitors: 2000, rss: 14, passed: true),
                Self.step(offered: 4000, achieved: 2500, monitors: 4000, rss: 18, passed: false),
            ], notRun: nil)
        let two = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 2, database: false),
            steps: [Self.step(offered: 3000, achieved: 3000, monitors: 3000, rss: 26, passed: true)], notRun: nil)
        let c = Calibration.measured(from: [one, two], sizes: nil, label: "test")
        // 1,990 per core (1 engine) beats 1,500 per core (2 engines).
        #expect(c.httpChecksPerSecondPerCore.value == 1990)
        #expect(c.httpChecksPerSecondPerCore.source.contains("http-1-engine"))
        #expect(c.httpCPUMicrosPerCheck.value == 200)
        // Per engine: (1000, 12) (2000, 14) (4000, 18) (1500, 13): 2 MiB per 1,000 monitors, printed
        // as an upper bound beside the documented figure, which stays.
        #expect(c.rssKiBPerMonitor.value == Calibration.documented.rssKiBPerMonitor.value)
        #expect(c.rssKiBPerMonitor.source.contains("2.05 KiB per monitor over 4 steps"))
        #expect(c.rssBaseMiB == Calibration.documented.rssBaseMiB)
        #expect(c.httpsChecksPerSecondPerCore == Calibration.documented.httpsChecksPerSecondPerCore)
    }

    @Test("A saved report gives checks/s per core and a derived CPU per check")
    func fromDocument() {
        let document = CapacityReport.Document(scenarios: [
            .init(
                name: "http-2-engines", protocol: "http", engines: 2, database: false,
                saturation: .init(
                    checksPerSecond: 8000, monitors: 8000, intervalSeconds: 1, lagP99Ms: 3, farmChecksPerSecond: 8010)),
            .init(name: "http-1-engine-postgresql", protocol: "http", engines: 1, database: true, saturation: nil),
        ])
        let c = Calibration.measured(from: document, label: "r.json")
        #expect(c.httpChecksPerSecondPerCore.value == 4000)
        #expect(c.httpCPUMicrosPerCheck.value == 250)
        #expect(c.httpCPUMicrosPerCheck.source.hasPrefix("derived"))
    }

    @Test("A saved report's measured CPU per check is what the plan sizes cores with")
    func fromDocumentWithCPU() throws {
        let document = CapacityReport.Document(scenarios: [
            .init(
                name: "http-1-engine", protocol: "http", engines: 1, database: false,
                saturation: .init(
                    checksPerSecond: 4000, monitors: 4000, intervalSeconds: 1, lagP99Ms: 3, farmChecksPerSecond: 4001,
                    cpuMicrosPerCheck: 180)),
            .init(
                name: "https-1-engine", protocol: "https", engines: 1, database: false,
                saturation: .init(
                    checksPerSecond: 1000, monitors: 1000, intervalSeconds: 1, lagP99Ms: 3, farmChecksPerSecond: 1000,
                    cpuMicrosPerCheck: 700)),
            // Resumed sessions are cheaper, but the plan's HTTPS figures are for full handshakes.
            .init(
                name: "https-reuse-1-engine", protocol: "https", engines: 1, database: false, tlsSessionReuse: true,
                saturation: .init(
                    checksPerSecond: 3000, monitors: 3000, intervalSeconds: 1, lagP99Ms: 3, farmChecksPerSecond: 3000,
                    cpuMicrosPerCheck: 250)),
        ])
        // Through JSON, as `plan --from` reads it.
        let data = try JSONEncoder().encode(document)
        let decoded = try JSONDecoder().decode(CapacityReport.Document.self, from: data)
        let c = Calibration.measured(from: decoded, label: "r.json")
        #expect(c.httpCPUMicrosPerCheck.value == 180)
        #expect(c.httpCPUMicrosPerCheck.source.hasPrefix("measured"))
        #expect(c.httpsCPUMicrosPerCheck.value == 700)
        #expect(c.httpsChecksPerSecondPerCore.value == 1000)
        // 1,000 monitors every second, half HTTPS: 500 × 180 µs + 500 × 700 µs = 0.44 cores.
        let input = try CapacityPlan.Input(
            monitors: 1000, intervalSeconds: 1, httpsShare: 0.5, coresPerEngine: 2, targetUtilisation: 0.7,
            checkRetentionDays: 30, controlPlanes: 2)
        let plan = CapacityPlan(input: input, calibration: c)
        #expect(abs(plan.engineCoresFromCPUCost - 0.44) < 1e-9, "\(plan.engineCoresFromCPUCost)")
        // A report written before the figure existed still reads (derived CPU).
        let old =
            #"{"scenarios":[{"name":"http-1-engine","protocol":"http","engines":1,"database":false,"saturation":{"checksPerSecond":4000,"monitors":4000,"intervalSeconds":1,"lagP99Ms":3,"farmChecksPerSecond":4000}}]}"#
        let legacy = try JSONDecoder().decode(CapacityReport.Document.self, from: Data(old.utf8))
        #expect(Calibration.measured(from: legacy, label: "old.json").httpCPUMicrosPerCheck.value == 250)
    }

    @Test("Row sizes from psql's output: measured with enough rows, estimated without")
    func databaseSizes() throws {
        let measured = try #require(DatabaseSizes.parse("20000 4096000 150.5 5000 800000 90\n"))
        #expect(measured.checkRowBytes == 204.8)
        #expect(measured.checkSource.hasPrefix("measured"))
        #expect(measured.rollupRowBytes == 160)
        let estimated = try #require(DatabaseSizes.parse("10 81920 150 0 16384 90"))
        #expect(estimated.checkRowBytes == 150 + DatabaseSizes.rowOverheadBytes)
        #expect(estimated.rollupSource.hasPrefix("estimated"))
        #expect(DatabaseSizes.parse("ERROR") == nil)
    }
}
