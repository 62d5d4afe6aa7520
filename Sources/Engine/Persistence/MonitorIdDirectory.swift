import Synchronization

/// Maps the monitor id a check result carries (`CheckResult.monitorId`: the monitors file's id,
/// i.e. `monitors.external_id`) to `monitors.id`, the bigint the `checks` table stores.
///
/// Standalone runs fill it once from the importer; a cluster engine can `update` it whenever it
/// loads monitors. With `numericFallback`, an id that is not in the map but is a decimal number
/// is taken as `monitors.id` itself (engines that name monitors by their database id).
/// Thread-safe: read by the writer's thread, filled by whoever loads monitors.
final class MonitorIdDirectory: Sendable {
    private let entries: Mutex<[String: Int64]>
    let numericFallback: Bool

    init(_ entries: [String: Int64] = [:], numericFallback: Bool = false) {
        self.entries = Mutex(entries)
        self.numericFallback = numericFallback
    }

    /// Adds or replaces entries.
    func update(_ newEntries: [String: Int64]) {
        entries.withLock { $0.merge(newEntries) { _, new in new } }
    }

    func remove(_ ids: [String]) {
        entries.withLock { map in for id in ids { map[id] = nil } }
    }

    var count: Int { entries.withLock { $0.count } }

    /// Resolves a batch under one lock; nil entries are ids nobody knows.
    func resolve(_ ids: [String]) -> [Int64?] {
        entries.withLock { map in
            ids.map { id in map[id] ?? (numericFallback ? Int64(id) : nil) }
        }
    }
}
