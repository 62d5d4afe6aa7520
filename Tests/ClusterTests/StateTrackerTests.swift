import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("StateTracker (hysteresis of monitor state)")
struct StateTrackerTests {
    private func run(
        _ statuses: [CheckStatus],
        from state: MonitorState = .up,
        thresholds: HealthThresholds = .standard,
        interval: Double = 60
    ) -> (transitions: [String], rechecks: [Double?]) {
        var health = MonitorHealth(state: state)
        var transitions: [String] = []
        var rechecks: [Double?] = []
        for status in statuses {
            let decision = health.record(status, intervalSeconds: interval, thresholds: thresholds)
            if let transition = decision.transition { transitions.append("\(transition.from)->\(transition.to)") }
            rechecks.append(decision.recheckAfterSeconds)
        }
        return (transitions, rechecks)
    }

    @Test("defaults: two consecutive non-UP results make DOWN, one UP makes UP again")
    func defaultThresholds() {
        let result = run([.up, .timeout, .error, .down, .down, .up, .up])
        #expect(result.transitions == ["UP->DOWN", "DOWN->UP"])
        #expect(result.rechecks == [nil, 5, nil, nil, nil, nil, nil])
    }

    @Test("a first failure asks for a quick re-check; a success clears it")
    func fastRecheck() {
        let result = run([.error, .up, .error, .error])
        #expect(result.transitions == ["UP->DOWN"])
        #expect(result.rechecks == [5, nil, 5, nil])
        // Interval shorter than the cap: the regular schedule is already quick.
        #expect(run([.error], interval: 3).rechecks == [nil])
        #expect(run([.error], interval: 8).rechecks == [5])
    }

    @Test("flapping emits each confirmed transition once, and single failures none")
    func flapping() {
        #expect(run([.down, .up, .down, .up, .down, .up]).transitions.isEmpty)
        let pairs: [CheckStatus] = [.down, .down, .up, .down, .down, .down, .up, .up, .timeout, .timeout]
        #expect(run(pairs).transitions == ["UP->DOWN", "DOWN->UP", "UP->DOWN", "DOWN->UP", "UP->DOWN"])
    }

    @Test("recovery threshold above one needs consecutive successes and re-checks quickly")
    func recoveryThreshold() throws {
        let thresholds = try HealthThresholds(failure: 3, recovery: 3)
        let result = run([.down, .down, .down, .up, .up, .down, .up, .up, .up], thresholds: thresholds)
        #expect(result.transitions == ["UP->DOWN", "DOWN->UP"])
        #expect(result.rechecks == [5, 5, nil, 5, 5, nil, 5, 5, nil])
    }

    @Test("an unknown monitor is confirmed by its first results")
    func unknownStart() {
        #expect(run([.up], from: .unknown).transitions == ["UNKNOWN->UP"])
        #expect(run([.error, .error], from: .unknown).transitions == ["UNKNOWN->DOWN"])
        #expect(run([.error, .up], from: .unknown).transitions == ["UNKNOWN->UP"])
    }

    @Test("the keyed tracker seeds, records and forgets monitors")
    func keyedTracker() {
        var tracker = StateTracker<String>()
        tracker.seed("m1", state: .down)
        #expect(tracker.record("m1", status: .down, intervalSeconds: 60).transition == nil)
        #expect(tracker.record("m1", status: .up, intervalSeconds: 60).transition?.to == .up)
        #expect(tracker.state(of: "m1") == .up)
        #expect(tracker.record("m2", status: .up, intervalSeconds: 60).transition?.from == .unknown)
        tracker.remove("m2")
        #expect(tracker.state(of: "m2") == .unknown)
    }

    @Test("thresholds are validated")
    func validation() {
        #expect(throws: HealthThresholdsError.self) { try HealthThresholds(failure: 0) }
        #expect(throws: HealthThresholdsError.self) { try HealthThresholds(recovery: 101) }
        #expect(throws: HealthThresholdsError.self) { try HealthThresholds(fastRecheckSeconds: 0) }
    }
}
