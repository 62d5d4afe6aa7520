import Foundation
import Testing

@testable import LookoutCore

/// A small, seeded generator (SplitMix64) so that "random data" tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The validation error `body` threw, or nil when it passed.
/// (Closures do not infer typed throws, so any other error is recorded as a test failure.)
func validationError(
    _ body: () throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
) -> MonitorValidationError? {
    do {
        try body()
        return nil
    } catch let error as MonitorValidationError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
