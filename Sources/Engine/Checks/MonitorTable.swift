import LookoutCore

/// The monitors of one loop, by number: what the scheduler's entries and the checks in flight
/// refer to. A value type with no I/O and no clock (times are passed in), tested on its own.
///
/// Numbers are stable while a monitor is known: an edit keeps the number, a removal frees it
/// (at once, or when the check in flight ends), and a later addition may reuse it with a new
/// generation, so scheduler entries left behind by the old monitor are recognised as stale.
struct MonitorTable {
    /// What `upsert` did, for the caller's scheduler.
    struct Upsert: Equatable {
        /// The monitor's number.
        var index: Int
        /// Entries of the monitor in the scheduler must carry this generation to count.
        var generation: UInt32
        /// The monitor needs a (new) first due time: it is new, or its interval changed (older
        /// scheduler entries are stale now). False for an edit that keeps the interval, and so
        /// the schedule and phase.
        var needsSchedule: Bool
        /// The definition this one replaced (an edit of a known monitor); nil for a new monitor.
        /// Handed back so that the caller needs no look-up of its own: `index(of:)` called on a
        /// table stored in a class copies the whole table first (a retain and a release of each
        /// of its arrays), once per monitor of a take-over.
        var replaced: PreparedMonitor? = nil

        /// Equal when they say the same, the replaced definitions compared by value.
        static func == (left: Upsert, right: Upsert) -> Bool {
            left.index == right.index && left.generation == right.generation
                && left.needsSchedule == right.needsSchedule && left.replaced?.monitor == right.replaced?.monitor
        }
    }

    /// Indexed by monitor number; nil = removed (the number is reused later).
    private(set) var monitors: [PreparedMonitor?]
    private(set) var generations: [UInt32]
    /// A check of the monitor is in flight.
    private(set) var busy: [Bool]
    /// The host of the monitor's URL when it is an IP literal (no DNS for its first hop).
    private(set) var literalAddresses: [IPAddress?]
    /// Per monitor: the monotonic time from which its checks are another engine's (`retire`);
    /// `.max` when it stays.
    private(set) var retireAt: [Int64]
    /// Confirmed state per monitor (cluster mode's hysteresis).
    var health: [MonitorHealth]
    private var indexByID: [String: Int32] = [:]
    private var freeIndices: [Int32] = []
    /// Removed while a check of it was in flight: the number is freed when that check ends.
    private var removalPending: [Bool]

    init(_ monitors: [PreparedMonitor]) {
        self.monitors = monitors
        self.generations = Array(repeating: 0, count: monitors.count)
        self.busy = Array(repeating: false, count: monitors.count)
        self.literalAddresses = monitors.map(\.url.address)
        self.retireAt = Array(repeating: .max, count: monitors.count)
        self.health = monitors.map { MonitorHealth(state: $0.confirmedState) }
        self.removalPending = Array(repeating: false, count: monitors.count)
        indexByID.reserveCapacity(monitors.count)
        for (index, monitor) in monitors.enumerated() { indexByID[monitor.monitor.id] = Int32(index) }
    }

    /// Makes room for `additional` more monitors (a take-over announces its size): the id map
    /// and the per-monitor arrays grow once. Its growth step by step was 6% of a take-over's
    /// CPU, every step hashing every id again.
    mutating func reserveCapacity(additional: Int) {
        guard additional > 0 else { return }
        let total = monitors.count + additional
        indexByID.reserveCapacity(indexByID.count + additional)
        monitors.reserveCapacity(total)
        generations.reserveCapacity(total)
        busy.reserveCapacity(total)
        literalAddresses.reserveCapacity(total)
        retireAt.reserveCapacity(total)
        health.reserveCapacity(total)
        removalPending.reserveCapacity(total)
    }

    /// Monitors known (removed ones excluded).
    var count: Int { indexByID.count }

    /// Numbers ever handed out (the length of every per-monitor array).
    var capacity: Int { monitors.count }

    func index(of id: String) -> Int? {
        indexByID[id].map(Int.init)
    }

    /// Adds the monitor, or replaces the definition of the monitor with the same id. A replaced
    /// monitor keeps its confirmed state; a new one starts from `prepared.confirmedState`.
    mutating func upsert(_ prepared: PreparedMonitor) -> Upsert {
        // One hash of the id for both the look-up and, for a new monitor, the insertion (a
        // take-over inserts a million): the entry is claimed with the number it will get.
        let fresh = freeIndices.last ?? Int32(monitors.count)
        var existing: Int32?
        Self.claim(&indexByID[prepared.monitor.id, default: -1], fresh: fresh, existing: &existing)
        if let existing {
            let index = Int(existing)
            let replaced = monitors[index]
            monitors[index] = prepared
            literalAddresses[index] = prepared.url.address
            removalPending[index] = false
            retireAt[index] = .max
            // Same interval: keep the schedule (and the phase). Otherwise start over on the new grid.
            if replaced?.intervalMicros == prepared.intervalMicros {
                return Upsert(index: index, generation: generations[index], needsSchedule: false, replaced: replaced)
            }
            generations[index] &+= 1
            return Upsert(index: index, generation: generations[index], needsSchedule: true, replaced: replaced)
        }
        if let reused = freeIndices.popLast() {
            let index = Int(reused)
            monitors[index] = prepared
            health[index] = MonitorHealth(state: prepared.confirmedState)
            literalAddresses[index] = prepared.url.address
            retireAt[index] = .max
            generations[index] &+= 1
            return Upsert(index: index, generation: generations[index], needsSchedule: true)
        }
        let index = monitors.count
        monitors.append(prepared)
        literalAddresses.append(prepared.url.address)
        generations.append(0)
        health.append(MonitorHealth(state: prepared.confirmedState))
        busy.append(false)
        removalPending.append(false)
        retireAt.append(.max)
        return Upsert(index: index, generation: 0, needsSchedule: true)
    }

    /// `entry` is the map's entry for an id (-1 when it had none): a new entry takes `fresh`;
    /// a known one is reported in `existing`.
    private static func claim(_ entry: inout Int32, fresh: Int32, existing: inout Int32?) {
        if entry < 0 {
            entry = fresh
        } else {
            existing = entry
        }
    }

    /// Forgets the monitor; false if it was not known. A check in flight keeps its number until
    /// it ends (`checkEnded`), so no new monitor can take the number meanwhile.
    @discardableResult
    mutating func remove(id: String) -> Bool {
        guard let existing = indexByID.removeValue(forKey: id) else { return false }
        let index = Int(existing)
        monitors[index] = nil
        generations[index] &+= 1
        if busy[index] {
            removalPending[index] = true
        } else {
            freeIndices.append(existing)
        }
        return true
    }

    /// The monitor's checks from `monotonicMicros` on are another engine's; false if unknown.
    @discardableResult
    mutating func retire(id: String, at monotonicMicros: Int64) -> Bool {
        guard let index = indexByID[id] else { return false }
        retireAt[Int(index)] = monotonicMicros
        return true
    }

    mutating func checkStarted(index: Int) {
        busy[index] = true
    }

    /// The check of monitor `index` ended: the monitor may be checked again, and a number whose
    /// monitor was removed meanwhile is free now.
    mutating func checkEnded(index: Int) {
        busy[index] = false
        if removalPending[index] {
            removalPending[index] = false
            freeIndices.append(Int32(index))
        }
    }

    /// The monitor numbered `index` still has the id `id` (it was not removed or replaced by
    /// another monitor since a check of it started).
    func holds(id: String, at index: Int) -> Bool {
        monitors[index]?.monitor.id == id
    }
}
