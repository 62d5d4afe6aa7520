import LookoutCore
import LookoutFFI

/// The distinct curl option profiles of one loop's monitors, each made once. A monitor keeps
/// its profile (`PreparedMonitor.transferProfile`), and monitors with equal options share one,
/// so a pooled curl handle recognises by identity that its options are already right for the
/// next check (most of a fleet shares a handful of profiles).
///
/// Confined to the loop thread.
struct TransferProfiles {
    /// Distinct profiles kept at most; past it the table starts over (monitors keep theirs, and a
    /// handle whose profile is not shared any more merely sets its options again).
    static let limit = 4096
    private var known: Set<CurlTransferProfile> = []

    /// The shared profile of a transfer for `prepared` over (or not over) TLS: the one the
    /// monitor holds if it fits the hop's scheme, else the table's, which the monitor then keeps.
    mutating func profile(for prepared: PreparedMonitor, overTLS: Bool) -> CurlTransferProfile {
        if let held = prepared.transferProfile, held.wantsCertificate == overTLS { return held }
        if known.count >= Self.limit { known.removeAll(keepingCapacity: true) }
        let profile = known.insert(CurlTransferProfile(prepared.monitor, overTLS: overTLS)).memberAfterInsert
        prepared.transferProfile = profile
        return profile
    }
}
