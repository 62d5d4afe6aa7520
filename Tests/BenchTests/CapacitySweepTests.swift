import Foundation
import LookoutCore
import Testing

@testable import LookoutBench

@Suite("SaturationSearch")
struct SaturationSearchTests {
    /// Runs a search against a machine that passes every load up to `capacity`.
    static func search(
        capacity: Double, start: Double = 1000, maxSteps: Int = 12, precision: Double = 0.1
    ) -> (
        tried: [Double], best: Double?
    ) {
        var search = SaturationSearch(start: start, maximum: 64_000, precision: precision, maxSteps: maxSteps)
        var tried: [Double] = []
        while let offered = search.next() {
            tried.append(offered)
            search.record(offered: offered, passed: offered <= capacity)
        }
        return (tried, search.highestPass)
    }

    @Test("Ramps ×2 to the first failure, then bisects to the precision")
    func rampThenBisect() {
        let (tried, best) = Self.search(capacity: 5000)
        #expect(Array(tried.prefix(4)) == [1000, 2000, 4000, 8000])
        #expect(tried[4] == 6000)
        #expect(tried[5] == 5000)
        let found = try! #require(best)
        #expect(found <= 5000 && found >= 5000 / 1.1)
    }

    @Test("Ends within the precision for any capacity, in few steps")
    func convergesEverywhere() {
        for capacity in stride(from: 150.0, through: 60_000, by: 1234.5) {
            let (tried, best) = Self.search(capacity: capacity, maxSteps: 30)
            let found = try! #require(best, "capacity \(capacity)")
            #expect(found <= capacity)
            #expect(found >= capacity / 1.1 / 1.0001, "capacity \(capacity): found \(found)")
            #expect(tried.count <= 12)
        }
    }

    @Test("A first step that fails searches downwards; nothing passing ends at the minimum")
    func downwards() {
        let (tried, best) = Self.search(capacity: 300)
        #expect(Array(tried.prefix(3)) == [1000, 500, 250])
        #expect(best.map { $0 <= 300 && $0 >= 250 } == true)
        let (_, none) = Self.search(capacity: 1)
        #expect(none == nil)
    }

    @Test("The step limit and the maximum bound the search")
    func bounded() {
        #expect(Self.search(capacity: 1e9).tried == [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000])
        #expect(Self.search(capacity: 5000, maxSteps: 3).tried == [1000, 2000, 4000])
    }
}

@Suite("Capacity steps")
struct CapacityStepTests {
    @Test("A step passes only with p99 lag ≤ 1 s, nothing lost, no false failure and 95% of the offered rate")
    func judge() {
        #expect(
            CapacityStep.judge(offered: 1000, achieved: 990, lagP99Ms: 999, lost: 0, falseFailures: 0, checks: 10)
                .isEmpty)
        #expect(
            CapacityStep.judge(offered: 1000, achieved: 990, lagP99Ms: 1001, lost: 0, falseFailures: 0, checks: 10)
                .count == 1)
        #expect(
            CapacityStep.judge(offered: 1000, achieved: 990, lagP99Ms: 1, lost: 1, falseFailures: 0, checks: 10).count
                == 1)
        #expect(
            CapacityStep.judge(offered: 1000, achieved: 990, lagP99Ms: 1, lost: 0, falseFailures: 2, checks: 10).count
                == 1)
        #expect(
            CapacityStep.judge(offered: 1000, achieved: 900, lagP99Ms: 1, lost: 0, falseFailures: 0, checks: 10).count
                == 1)
        #expect(
            !CapacityStep.judge(offered: 1000, achieved: 0, lagP99Ms: 0, lost: 0, falseFailures: 0, checks: 0).isEmpty)
    }

    @Test("The farm's counter is read between samples by linear interpolation")
    func interpolation() {
        let samples: [(epochMs: Int64, value: Int)] = [(1000, 0), (1100, 100), (1300, 100), (1400, 400)]
        #expect(CapacityRunner.interpolate(samples, atMs: 900) == 0)
        #expect(CapacityRunner.interpolate(samples, atMs: 1050) == 50)
        #expect(CapacityRunner.interpolate(samples, atMs: 1200) == 100)
        #expect(CapacityRunner.interpolate(samples, atMs: 1350) == 250)
        #expect(CapacityRunner.interpolate(samples, atMs: 9999) == 400)
        #expect(CapacityRunner.interpolate([], atMs: 1) == 0)
    }

    /// 1,000 checks/s for 5 s from t = 10 s, each with 2 ms of lag, and a farm that counted them.
    @Test("Figures of a step: steady window after one interval, farm count over the same window")
    func measure() throws {
        var scanner = ResultsScanner()
        for index in 0..<5000 {
            let ms = 10_000 + Int64(index)
            let line =
                "{\"checkedAt\":\"\(RFC3339.string(epochMilliseconds: ms))\",\"status\":\"UP\",\"totalMs\":1.0,\"lagMs\":2.0}"
            Array(line.utf8).withUnsafeBytes { scanner.scan(line: $0) }
        }
        #expect(scanner.checks.count == 5000)
        let samples: [(epochMs: Int64, value: Int)] = stride(from: Int64(9_000), through: 16_000, by: 100).map {
            ($0, Int(min(max($0 - 10_000, 0), 5000)))
        }
        let step = CapacityRunner.measure(
            scanner: scanner, samples: samples, finalFarmRequests: 5000, offered: 1000, monitors: 1000,
            intervalSeconds: 1, cpuSeconds: 1, peakRSSKiB: 20 * 1024, rowsWritten: nil, rowsLost: 0, wallSeconds: 5,
            farmCPUSeconds: 1)
        #expect(abs(step.checksPerSecond - 1000) < 1)
        #expect(abs(step.farmChecksPerSecond - step.checksPerSecond) / step.checksPerSecond < 0.01)
        #expect(step.lagP99Ms >= 1.9 && step.lagP99Ms <= 2.1)
        #expect(step.cpuMicrosPerCheck == 200)
        #expect(step.peakRSSMiB == 20)
        #expect(step.passed)
        // Two checks the farm saw but no results file has: lost.
        let lossy = CapacityRunner.measure(
            scanner: scanner, samples: samples, finalFarmRequests: 5002, offered: 1000, monitors: 1000,
            intervalSeconds: 1, cpuSeconds: 1, peakRSSKiB: 1, rowsWritten: 5000, rowsLost: 0, wallSeconds: 5,
            farmCPUSeconds: 1)
        #expect(lossy.lostResults == 2)
        #expect(!lossy.passed)
        #expect(lossy.rowsPerSecond == 1000)
        // With the engines' CPU sampled: only the steady window counts. 400 ms of start-up CPU
        // before the first check, then 150 µs per check (150 ms per second of checks).
        let cpu: [(epochMs: Int64, value: Int)] = stride(from: Int64(9_000), through: 16_000, by: 100).map {
            ($0, 400_000 + Int(min(max($0 - 10_000, 0), 5000)) * 150)
        }
        let sampled = CapacityRunner.measure(
            scanner: scanner, samples: samples, engineCPUSamples: cpu, finalFarmRequests: 5000, offered: 1000,
            monitors: 1000, intervalSeconds: 1, cpuSeconds: 1.15, peakRSSKiB: 1, rowsWritten: nil, rowsLost: 0,
            wallSeconds: 5, farmCPUSeconds: 1)
        #expect(abs(sampled.cpuMicrosPerCheck - 150) < 0.5, "\(sampled.cpuMicrosPerCheck)")
    }

    @Test("CPU so far from a /proc/<pid>/stat line (a command name with spaces and parentheses)")
    func procStat() {
        let line =
            "4242 (lookout (engine) x) S 1 4242 4242 0 -1 4194304 120 0 0 0 250 75 0 0 20 0 3 0 100 1000 200 18446744073709551615\n"
        #expect(ChildProcess.cpuMicros(procStat: line, ticksPerSecond: 100) == 3_250_000)
        #expect(ChildProcess.cpuMicros(procStat: "garbage", ticksPerSecond: 100) == nil)
    }

    @Test("Scenario names and the saturation point")
    func scenarios() {
        #expect(
            CapacityCommand.scenarios.map(\.name) == [
                "http-1-engine", "http-2-engines", "http-1-engine-postgresql", "http-2-engines-postgresql",
                "https-1-engine", "https-reuse-1-engine", "http-1-engine-cluster", "http-2-engines-cluster",
            ])
        // A details file written before tlsSessionReuse existed still reads.
        let old = #"{"name":"http-1-engine","checkProtocol":"http","engines":1,"database":false}"#
        let decoded = try? JSONDecoder().decode(CapacityScenario.self, from: Data(old.utf8))
        #expect(decoded == CapacityScenario(.http, engines: 1, database: false))
        let result = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 1, database: false),
            steps: [
                CalibrationTests.step(offered: 1000, achieved: 1000, monitors: 1000, rss: 1, passed: true),
                CalibrationTests.step(offered: 4000, achieved: 3000, monitors: 4000, rss: 1, passed: false),
                CalibrationTests.step(offered: 2000, achieved: 1980, monitors: 2000, rss: 1, passed: true),
            ], notRun: nil)
        #expect(result.saturation?.checksPerSecond == 1980)
    }

    @Test("ETA text and relative chart links")
    func small() {
        #expect(ProgressDisplay.duration(75) == "1 min 15 s")
        #expect(ProgressDisplay.duration(9.6) == "10 s")
        #expect(
            CapacityCommand.relativePath(of: "/r/docs/capacity", fromDirectoryOf: "/r/docs/BENCHMARKS.md") == "capacity"
        )
        #expect(CapacityCommand.relativePath(of: "/r/docs/capacity", fromDirectoryOf: "/r/docs/capacity/R.md") == ".")
        #expect(CapacityCommand.relativePath(of: "/elsewhere/c", fromDirectoryOf: "/r/docs/B.md") == "/elsewhere/c")
    }
}
