/// Delays between reconnection attempts: exponential with full-range jitter, capped.
///
/// Pure (the jitter comes from a seeded SplitMix64 stream), so tests see exact values. Attempt
/// n waits `min(maximum, initial * multiplier^n)` scaled by a random factor in
/// `[1 - jitter, 1]`, so a fleet of engines that lost Redis together does not reconnect in step.
public struct ReconnectBackoff: Sendable {
    /// The shape of the back-off, validated.
    public struct Configuration: Sendable, Equatable {
        /// First delay, seconds. Default 0.1.
        public var initialSeconds: Double
        /// Cap, seconds. Default 5: keep it well below the lease so that an engine whose
        /// connection dropped re-registers before its lease runs out.
        public var maximumSeconds: Double
        /// Growth per failed attempt. Default 2.
        public var multiplier: Double
        /// Fraction of each delay that is randomised, 0...1. Default 0.2.
        public var jitter: Double

        /// Throws when the values do not make a back-off (see the ranges above).
        public init(
            initialSeconds: Double = 0.1,
            maximumSeconds: Double = 5,
            multiplier: Double = 2,
            jitter: Double = 0.2
        )
            throws(ReconnectBackoffError)
        {
            guard initialSeconds > 0, maximumSeconds >= initialSeconds, multiplier >= 1, (0...1).contains(jitter) else {
                throw ReconnectBackoffError(
                    "reconnect back-off needs 0 < initial <= maximum, multiplier >= 1 and jitter in 0...1"
                )
            }
            self.initialSeconds = initialSeconds
            self.maximumSeconds = maximumSeconds
            self.multiplier = multiplier
            self.jitter = jitter
        }

        /// 0.1 s doubling to 5 s, 20 % jitter.
        public static let standard = Configuration(uncheckedInitial: 0.1, maximum: 5, multiplier: 2, jitter: 0.2)

        private init(uncheckedInitial: Double, maximum: Double, multiplier: Double, jitter: Double) {
            initialSeconds = uncheckedInitial
            maximumSeconds = maximum
            self.multiplier = multiplier
            self.jitter = jitter
        }
    }

    /// The shape in use.
    public let configuration: Configuration
    /// Failed attempts since the last `reset()`.
    public private(set) var attempt = 0
    private var random: SplitMix64

    /// A back-off whose jitter comes from a SplitMix64 stream seeded with `seed`.
    public init(configuration: Configuration = .standard, seed: UInt64 = 0x5EED) {
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    /// The delay before the next attempt; each call counts one failed attempt.
    public mutating func nextDelay() -> Double {
        var base = configuration.initialSeconds
        var step = 0
        while step < attempt && base < configuration.maximumSeconds {
            base *= configuration.multiplier
            step += 1
        }
        base = min(base, configuration.maximumSeconds)
        attempt += 1
        return base * (1 - configuration.jitter * random.nextUnit())
    }

    /// A connection succeeded: the next failure starts again from the initial delay.
    public mutating func reset() { attempt = 0 }
}

/// A back-off configuration outside its documented ranges.
public struct ReconnectBackoffError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a person.
    public var description: String
    /// Wraps a sentence.
    public init(_ description: String) { self.description = description }
}
