import LookoutCore

/// Hysteresis settings for confirming a monitor's state.
struct HealthThresholds: Sendable, Equatable {
    /// Consecutive non-UP checks (DOWN, TIMEOUT or ERROR) that make a monitor DOWN. Default 2.
    var failure: Int
    /// Consecutive UP checks that make a monitor UP again. Default 1.
    var recovery: Int
    /// Upper bound of the quick re-check that confirms (or clears) a first failure, seconds.
    /// Default 5. The re-check runs after `min(interval, fastRecheckSeconds)`; when that is not
    /// sooner than the regular schedule (interval <= 5 s), no extra check is asked for.
    var fastRecheckSeconds: Double

    init(failure: Int = 2, recovery: Int = 1, fastRecheckSeconds: Double = 5) throws(HealthThresholdsError) {
        guard (1...100).contains(failure) else {
            throw HealthThresholdsError("failure threshold must be 1...100, got \(failure)")
        }
        guard (1...100).contains(recovery) else {
            throw HealthThresholdsError("recovery threshold must be 1...100, got \(recovery)")
        }
        guard fastRecheckSeconds.isFinite, fastRecheckSeconds >= 0.1 else {
            throw HealthThresholdsError("fast re-check delay must be at least 0.1 s")
        }
        self.failure = failure
        self.recovery = recovery
        self.fastRecheckSeconds = fastRecheckSeconds
    }

    /// 2 failures, 1 recovery, re-check within 5 s.
    static let standard = HealthThresholds(unchecked: ())

    private init(unchecked: Void) {
        failure = 2
        recovery = 1
        fastRecheckSeconds = 5
    }
}

/// Thresholds out of range; the message names the setting.
struct HealthThresholdsError: Error, Sendable, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What one check result means for its monitor.
struct HealthDecision: Sendable, Equatable {
    /// A confirmed change of state (emitted exactly once per change), or nil.
    var transition: (from: MonitorState, to: MonitorState)?
    /// Check again after this many seconds instead of waiting for the next interval: a change
    /// is pending confirmation (a first failure of an UP monitor, a first success of a DOWN one
    /// when the recovery threshold is above 1). nil: keep the regular schedule.
    var recheckAfterSeconds: Double?

    static func == (lhs: HealthDecision, rhs: HealthDecision) -> Bool {
        lhs.transition?.from == rhs.transition?.from && lhs.transition?.to == rhs.transition?.to
            && lhs.recheckAfterSeconds == rhs.recheckAfterSeconds
    }
}

/// The confirmed state of one monitor and its run of results: a pure value machine, one per
/// monitor (a check loop may keep them in an array beside its monitors: no lookup per check).
///
/// - From UNKNOWN or UP, `failure` consecutive non-UP results confirm DOWN.
/// - From UNKNOWN or DOWN, `recovery` consecutive UP results confirm UP.
/// - Any result of the other kind resets the run, so a flapping monitor changes state only when
///   a threshold is met, and each change is reported once.
struct MonitorHealth: Sendable, Equatable {
    private(set) var state: MonitorState
    /// Consecutive non-UP results while not DOWN.
    private(set) var failures = 0
    /// Consecutive UP results while not UP.
    private(set) var successes = 0

    /// `state`: the last confirmed state if known (from the database, after a take-over), so an
    /// engine restart does not report every monitor again.
    init(state: MonitorState = .unknown) {
        self.state = state
    }

    /// Takes one check result of a monitor checked every `intervalSeconds`.
    mutating func record(_ status: CheckStatus, intervalSeconds: Double, thresholds: HealthThresholds) -> HealthDecision
    {
        let recheck = min(intervalSeconds, thresholds.fastRecheckSeconds)
        let recheckAfter: Double? = recheck < intervalSeconds ? recheck : nil
        if status == .up {
            failures = 0
            guard state != .up else { return HealthDecision() }
            successes += 1
            if successes >= thresholds.recovery {
                let from = state
                state = .up
                successes = 0
                return HealthDecision(transition: (from, .up))
            }
            return HealthDecision(recheckAfterSeconds: recheckAfter)
        }
        successes = 0
        guard state != .down else { return HealthDecision() }
        failures += 1
        if failures >= thresholds.failure {
            let from = state
            state = .down
            failures = 0
            return HealthDecision(transition: (from, .down))
        }
        return HealthDecision(recheckAfterSeconds: recheckAfter)
    }
}

/// `MonitorHealth` for monitors named by any key (id, index): the convenience form.
struct StateTracker<Key: Hashable> {
    var thresholds: HealthThresholds
    private(set) var monitors: [Key: MonitorHealth] = [:]

    init(thresholds: HealthThresholds = .standard) {
        self.thresholds = thresholds
    }

    /// The confirmed state of a monitor (`unknown` if never seen).
    func state(of key: Key) -> MonitorState { monitors[key]?.state ?? .unknown }

    /// Starts a monitor from a known state (e.g. the one stored in the database).
    mutating func seed(_ key: Key, state: MonitorState) { monitors[key] = MonitorHealth(state: state) }

    /// Forgets a monitor (deleted, paused, or its shard moved to another engine).
    mutating func remove(_ key: Key) { monitors[key] = nil }

    /// Takes one result; see `MonitorHealth.record`.
    mutating func record(_ key: Key, status: CheckStatus, intervalSeconds: Double) -> HealthDecision {
        monitors[key, default: MonitorHealth()].record(status, intervalSeconds: intervalSeconds, thresholds: thresholds)
    }
}
