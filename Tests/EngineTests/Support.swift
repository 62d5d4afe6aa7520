import LookoutCore

/// A seeded generator, so that "random data" tests are reproducible.
typealias SeededGenerator = SplitMix64
