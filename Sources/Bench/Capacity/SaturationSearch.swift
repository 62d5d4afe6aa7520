/// Finds the highest offered load (checks/s) that still passes, with few steps: an exponential
/// ramp until the first failure, then bisection between the last pass and the first failure
/// until they are within `precision` of each other or the steps run out.
///
/// A pure state machine: `next()` says what to try, `record` says how it went. No I/O, so the
/// search is unit-tested without running anything.
struct SaturationSearch: Sendable {
    /// First offered load, checks/s.
    let start: Double
    /// Never offer more than this, checks/s.
    let maximum: Double
    /// Ramp factor between steps before the first failure. Default 2.
    let growth: Double
    /// Stop bisecting when (fail − pass) / pass is at most this. Default 0.1.
    let precision: Double
    /// Steps at most, ramp and bisection together.
    let maxSteps: Int
    /// Below this the search gives up (nothing passes). Default 10 checks/s.
    let minimum: Double

    private(set) var highestPass: Double?
    private(set) var lowestFail: Double?
    private(set) var steps = 0

    init(
        start: Double, maximum: Double, growth: Double = 2, precision: Double = 0.1, maxSteps: Int,
        minimum: Double = 10
    ) {
        self.start = min(start, maximum)
        self.maximum = maximum
        self.growth = growth
        self.precision = precision
        self.maxSteps = maxSteps
        self.minimum = minimum
    }

    /// The offered load to try next; nil when the search is over.
    func next() -> Double? {
        guard steps < maxSteps else { return nil }
        switch (highestPass, lowestFail) {
        case (nil, nil):
            return start
        case (let pass?, nil):
            // Ramp; at the maximum there is nothing left to try.
            guard pass < maximum else { return nil }
            return min(pass * growth, maximum)
        case (nil, let fail?):
            let candidate = fail / growth
            return candidate >= minimum ? candidate : nil
        case (let pass?, let fail?):
            guard (fail - pass) / pass > precision else { return nil }
            return (pass + fail) / 2
        }
    }

    /// The outcome of a step at `offered` checks/s.
    mutating func record(offered: Double, passed: Bool) {
        steps += 1
        if passed {
            highestPass = max(highestPass ?? offered, offered)
        } else {
            lowestFail = min(lowestFail ?? offered, offered)
        }
    }

    /// Steps still allowed: an upper bound for an ETA.
    var remainingSteps: Int { next() == nil ? 0 : maxSteps - steps }
}
