import Foundation
import Testing

@testable import LookoutCore

/// A seeded generator, so that "random data" tests are reproducible.
typealias SeededGenerator = SplitMix64

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
