import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a sweep runs. Every default is the one `lookout-bench capacity` uses; `quick` is the
/// coarse sweep of `--quick`.
struct SweepSettings: Sendable, Equatable {
    /// Seconds every step runs. Default 12 (quick 5).
    var stepSeconds: Double
    /// Seconds between two checks of one monitor (monitors = offered × interval). Default 2 (quick 1).
    var intervalSeconds: Double
    /// First offered load, checks/s. Default 1,000.
    var startChecksPerSecond: Double = 1000
    /// Highest offered load, checks/s. Default 64,000.
    var maximumChecksPerSecond: Double = 64_000
    /// Bisection stops within this relative gap. Default 0.1 (quick 0.2).
    var precision: Double
    /// Steps per scenario at most. Default 10 (quick 5).
    var maxStepsPerScenario: Int

    static let full = SweepSettings(stepSeconds: 12, intervalSeconds: 2, precision: 0.1, maxStepsPerScenario: 10)
    static let quick = SweepSettings(stepSeconds: 5, intervalSeconds: 1, precision: 0.2, maxStepsPerScenario: 5)
}

/// Runs every scenario's saturation search, one step at a time, with a progress display.
struct CapacitySweep {
    let runner: CapacityRunner
    let settings: SweepSettings
    let progress: ProgressDisplay

    func run(_ scenarios: [CapacityScenario]) throws(CapacityError) -> [ScenarioResult] {
        var results: [ScenarioResult] = []
        var secondsPerStep = settings.stepSeconds + 2
        var stepsDone = 0
        let started = ChildProcess.now()
        for (number, scenario) in scenarios.enumerated() {
            if scenario.database && runner.databaseURL == nil {
                results.append(
                    ScenarioResult(
                        scenario: scenario, steps: [],
                        notRun: "no database: give --database URL"))
                progress.line("\(scenario.name): not run, no database (give --database URL)")
                continue
            }
            if scenario.cluster && runner.redis == nil {
                results.append(ScenarioResult(scenario: scenario, steps: [], notRun: "no Redis: give --redis URL"))
                progress.line("\(scenario.name): not run, no Redis (give --redis redis://IP:PORT)")
                continue
            }
            var search = SaturationSearch(
                start: settings.startChecksPerSecond, maximum: settings.maximumChecksPerSecond,
                precision: settings.precision, maxSteps: settings.maxStepsPerScenario)
            var steps: [CapacityStep] = []
            while let offered = search.next() {
                // Upper bound of what is left: this scenario's remaining steps and every later
                // scenario's maximum.
                let remaining =
                    search.remainingSteps + (scenarios.count - number - 1) * settings.maxStepsPerScenario
                progress.update(
                    "[\(number + 1)/\(scenarios.count)] \(scenario.name) step \(search.steps + 1): offering \(PlanFormat.number(offered, 0)) checks/s",
                    etaSeconds: Double(remaining) * secondsPerStep)
                let step = try runner.runStep(
                    scenario: scenario, offered: offered, intervalSeconds: settings.intervalSeconds,
                    durationSeconds: settings.stepSeconds)
                steps.append(step)
                search.record(offered: offered, passed: step.passed)
                stepsDone += 1
                secondsPerStep = (ChildProcess.now() - started) / Double(stepsDone)
                progress.line(
                    "\(scenario.name): offered \(PlanFormat.number(offered, 0))/s → achieved \(PlanFormat.number(step.checksPerSecond, 0))/s (farm \(PlanFormat.number(step.farmChecksPerSecond, 0))/s), lag p99 \(PlanFormat.number(step.lagP99Ms, 1)) ms, \(PlanFormat.number(step.cpuMicrosPerCheck, 0)) µs/check: "
                        + (step.passed ? "pass" : "fail (" + step.failures.joined(separator: "; ") + ")"))
            }
            let result = ScenarioResult(scenario: scenario, steps: steps, notRun: nil)
            if let saturation = result.saturation {
                progress.line(
                    "\(scenario.name): saturation \(PlanFormat.number(saturation.checksPerSecond, 0)) checks/s (\(PlanFormat.count(saturation.monitors)) monitors at \(ThroughputReport.number(saturation.intervalSeconds)) s)"
                )
            } else {
                progress.line("\(scenario.name): no step passed")
            }
            results.append(result)
        }
        progress.finish()
        return results
    }
}

/// Progress on stderr: one rewritten status line with the current step and an ETA on a
/// terminal, plain lines otherwise (a log file or CI gets no carriage returns).
final class ProgressDisplay {
    let isTerminal: Bool
    private let prefix: String
    private var statusShown = false

    init(prefix: String, isTerminal: Bool = isatty(2) == 1) {
        self.prefix = prefix
        self.isTerminal = isTerminal
    }

    /// The current step; replaced by the next update on a terminal.
    func update(_ status: String, etaSeconds: Double) {
        let text = "\(prefix): \(status) (ETA at most \(Self.duration(etaSeconds)))"
        if isTerminal {
            StandardStreams.emit("\r\u{1B}[2K" + text, to: 2)
            statusShown = true
        } else {
            StandardStreams.error(text)
        }
    }

    /// A lasting line (a step's outcome).
    func line(_ text: String) {
        if isTerminal && statusShown {
            StandardStreams.emit("\r\u{1B}[2K", to: 2)
            statusShown = false
        }
        StandardStreams.error("\(prefix): \(text)")
    }

    func finish() {
        if isTerminal && statusShown {
            StandardStreams.emit("\r\u{1B}[2K", to: 2)
            statusShown = false
        }
    }

    /// 75 → "1 min 15 s".
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 60 ? "\(whole / 60) min \(whole % 60) s" : "\(whole) s"
    }
}
