// Clocks and process usage from the C library (vDSO clock reads: no system call per check).
import CEngineShims
import LookoutCore

package enum Clock {
    /// Monotonic time in microseconds: scheduling, lag and durations.
    @inline(__always) package static func monotonicMicros() -> Int64 { CEngineShims_posix_monotonic_micros() }

    /// Wall-clock time in microseconds since the epoch: `checkedAt` and the phase grid.
    @inline(__always) package static func wallMicros() -> Int64 { CEngineShims_posix_wall_micros() }
}

/// CPU time and peak memory of this process.
package struct ProcessUsage: Sendable {
    package var userMicros: Int64
    package var systemMicros: Int64
    package var maxResidentKiB: Int64

    package static func current() -> ProcessUsage {
        var user: Int64 = 0
        var system: Int64 = 0
        var rss: Int64 = 0
        CEngineShims_posix_self_usage(&user, &system, &rss)
        return ProcessUsage(userMicros: user, systemMicros: system, maxResidentKiB: rss)
    }
}
