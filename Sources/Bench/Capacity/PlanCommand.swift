import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lookout-bench plan`: what a fleet of monitors needs (engines, PostgreSQL, Redis, control-plane
/// fan-out), every figure beside the assumptions it rests on.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract:
            "Size engines, PostgreSQL and Redis for N monitors at an interval, from measurements of this machine.",
        discussion: """
            The costs come from --from REPORT.json (a `capacity --json` report) or, without it, from
            a short calibration run first (a quick saturation search of one engine, plain HTTP).
            With --database the calibration also writes rows and measures their real size
            (pg_total_relation_size / pg_column_size). --verify then runs the planned load, scaled
            to two engines of this machine, and compares the cores it used with the plan's.
            """
    )

    @Option(help: "Monitors in the fleet.")
    var monitors: Int

    @Option(help: "Seconds between two checks of one monitor.")
    var interval: Double

    @Option(help: "Share of HTTPS monitors, 0...1.")
    var httpsShare = 0.0

    @Option(help: "A `lookout-bench capacity --json` report to take the costs from (no calibration run).")
    var from: String?

    @Option(help: "PostgreSQL URI of a database of its own: calibration writes rows there and measures their size.")
    var database: String?

    @Option(help: "Engine loops (cores) per engine process.")
    var coresPerEngine = 2

    @Option(help: "Share of a core's saturation throughput to plan for, 0...1.")
    var utilisation = 0.7

    @Option(help: "Days of check rows kept.")
    var retentionDays = 30

    @Option(help: "Control-plane instances.")
    var controlPlanes = 2

    @Flag(help: "After planning, run the planned load scaled to two engines here and compare the cores used.")
    var verify = false

    @Option(help: "Engine binary (default: lookout-engine next to this executable).")
    var engine: String?

    func run() throws {
        let input: CapacityPlan.Input
        do {
            input = try CapacityPlan.Input(
                monitors: monitors, intervalSeconds: interval, httpsShare: httpsShare, coresPerEngine: coresPerEngine,
                targetUtilisation: utilisation, checkRetentionDays: retentionDays, controlPlanes: controlPlanes)
        } catch {
            throw ValidationError(error.description)
        }
        signal(SIGPIPE, SIG_IGN)
        let shutdown = ShutdownSignal(watchStandardInput: false)
        do {
            let calibration = try calibrate(shutdown: shutdown)
            let plan = CapacityPlan(input: input, calibration: calibration)
            print(plan.text, terminator: "")
            if verify { try self.verify(plan, shutdown: shutdown) }
        } catch {
            StandardStreams.error("lookout-bench plan: \(error)")
            if case .interrupted = error { throw ExitCode(130) }
            throw ExitCode.failure
        }
    }

    private func calibrate(shutdown: ShutdownSignal) throws(CapacityError) -> Calibration {
        if let from {
            guard let data = FileManager.default.contents(atPath: from) else {
                throw .report("cannot read \(from): write one with `lookout-bench capacity --json \(from)`")
            }
            let document: CapacityReport.Document
            do { document = try JSONDecoder().decode(CapacityReport.Document.self, from: data) } catch {
                throw .report("\(from) is not a `lookout-bench capacity --json` report: \(error)")
            }
            var calibration = Calibration.measured(from: document, label: URL(fileURLWithPath: from).lastPathComponent)
            if let database {
                // The rows are already there (a capacity run with --database): measure them.
                let files: RunFiles
                do { files = try RunFiles(keepIn: nil) } catch { throw .run(error) }
                defer { files.cleanUp() }
                let sizes = try DatabaseSizes.measure(databaseURL: database, workDirectory: files.directory)
                calibration.useDatabaseSizes(sizes)
            }
            return calibration
        }
        StandardStreams.error("lookout-bench plan: no --from report; calibrating with a short capacity run first")
        var settings = SweepSettings.quick
        settings.maxStepsPerScenario = 4
        var scenarios = [CapacityScenario(.http, engines: 1, database: false)]
        if database != nil {
            // One step is enough to put rows in the database for their size.
            scenarios.append(CapacityScenario(.http, engines: 1, database: true))
        }
        let enginePath: String
        do { enginePath = try ThroughputDriver.resolveEngine(engine) } catch { throw .run(error) }
        let runner = try CapacityRunner(
            enginePath: enginePath, databaseURL: database, farmThreads: 1, shutdown: shutdown)
        defer { runner.close() }
        let progress = ProgressDisplay(prefix: "lookout-bench plan: calibration")
        var results = try CapacitySweep(runner: runner, settings: settings, progress: progress).run([scenarios[0]])
        var sizes: DatabaseSizes?
        if scenarios.count > 1 {
            progress.line("one step with PostgreSQL, then measuring row sizes")
            let step = try runner.runStep(
                scenario: scenarios[1], offered: 1000, intervalSeconds: 1, durationSeconds: settings.stepSeconds)
            results.append(ScenarioResult(scenario: scenarios[1], steps: [step], notRun: nil))
            sizes = try DatabaseSizes.measure(databaseURL: database!, workDirectory: runner.files.directory)
        }
        return Calibration.measured(from: results, sizes: sizes, label: "calibration run " + RFC3339Text.now())
    }

    /// Runs the load the plan gives two one-core engines (2 × checks/s per core × utilisation,
    /// never more than the plan's own load) on two engines here, and compares what they
    /// achieved with that load and the cores they used with the plan's CPU-per-check figure.
    private func verify(_ plan: CapacityPlan, shutdown: ShutdownSignal) throws(CapacityError) {
        let calibration = plan.calibration
        let load = min(
            plan.checksPerSecond, 2 * calibration.httpChecksPerSecondPerCore.value * plan.input.targetUtilisation)
        let predictedCores = load * calibration.httpCPUMicrosPerCheck.value / 1e6
        let enginePath: String
        do { enginePath = try ThroughputDriver.resolveEngine(engine) } catch { throw .run(error) }
        let runner = try CapacityRunner(enginePath: enginePath, databaseURL: nil, farmThreads: 1, shutdown: shutdown)
        defer { runner.close() }
        StandardStreams.error(
            "lookout-bench plan: verifying with 2 engines at \(PlanFormat.number(load, 0)) checks/s for 15 s")
        let step = try runner.runStep(
            scenario: CapacityScenario(.http, engines: 2, database: false), offered: load, intervalSeconds: 2,
            durationSeconds: 15)
        let measuredCores = step.cpuMicrosPerCheck * step.checksPerSecond / 1e6
        let rateError = load > 0 ? (step.checksPerSecond - load) / load : 0
        let cpuError = predictedCores > 0 ? (measuredCores - predictedCores) / predictedCores : 0
        func verdict(_ error: Double) -> String { abs(error) <= 0.15 ? "within 15%" : "outside 15%" }
        print(
            """

            verification: plain HTTP, 2 engines (--loops 1 each) at the load the plan gives them
              checks/s      planned \(PlanFormat.number(load, 0)), achieved \(PlanFormat.number(step.checksPerSecond, 0)) (farm \(PlanFormat.number(step.farmChecksPerSecond, 0))): \(PlanFormat.number(rateError * 100, 1))%, \(verdict(rateError))
              lag p99       \(PlanFormat.number(step.lagP99Ms, 1)) ms; \(step.lostResults) lost, \(step.falseFailures) false failures: \(step.passed ? "passes" : "fails (" + step.failures.joined(separator: "; ") + ")")
              engine cores  planned \(PlanFormat.number(predictedCores, 2)) (\(PlanFormat.number(calibration.httpCPUMicrosPerCheck.value, 0)) µs/check), used \(PlanFormat.number(measuredCores, 2)) (\(PlanFormat.number(step.cpuMicrosPerCheck, 0)) µs/check): \(PlanFormat.number(cpuError * 100, 1))%, \(verdict(cpuError))
            """)
    }
}
