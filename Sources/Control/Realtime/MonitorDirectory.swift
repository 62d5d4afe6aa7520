import Logging
import LookoutCore
import PostgresNIO
import Synchronization

/// Each monitor's owner, name and confirmed state, cached for live updates: a check result on
/// the live channel names only its monitor, and fan-out needs its owner (the `user:<id>` room),
/// name and status without a database query per result. Misses are read in one query per
/// live message (`resolve`); entries are dropped when the monitor is deleted and refreshed when
/// it changes (`<prefix>:monitors:changed`), and the confirmed state follows the incident
/// consumer's `<prefix>:incidents:live` updates. Bounded: past `capacity` entries it starts over.
///
/// Not tenancy-scoped like the repositories: it is how a result's owner is found in the first
/// place, and nothing it holds is shown to anyone but that owner.
final class MonitorDirectory: Sendable {
    struct Entry: Sendable, Equatable {
        var ownerId: Int64
        var name: String
        var status: MonitorState
        /// `checkedAt` of the check that confirmed `status`, epoch ms (0 when unknown).
        var changedAtMs: Int64
        /// The last transition, until a check:update has carried it.
        var pending: Transition?
        /// The monitor changed since it was read: read it again at its next result.
        var stale = false
    }

    struct Transition: Sendable, Equatable {
        var from: MonitorState
        var to: MonitorState
        var atMs: Int64
    }

    private enum Slot {
        case known(Entry)
        /// No such monitor (deleted, or not a database id).
        case absent
    }

    let database: Database
    let capacity: Int
    let statistics: RealtimeStatistics
    private let slots = Mutex<[Int64: Slot]>([:])

    init(database: Database, capacity: Int, statistics: RealtimeStatistics) {
        self.database = database
        self.capacity = capacity
        self.statistics = statistics
    }

    /// The entries of `ids`, reading the missing and stale ones in one query. A database error
    /// leaves them out (their results are not fanned out this time) and is logged by the caller.
    func resolve(_ ids: [Int64]) async throws -> [Int64: Entry] {
        var found: [Int64: Entry] = [:]
        var missing: [Int64] = []
        slots.withLock { slots in
            for id in ids where found[id] == nil {
                switch slots[id] {
                case .known(let entry) where !entry.stale: found[id] = entry
                case .absent: break
                default: missing.append(id)
                }
            }
        }
        guard !missing.isEmpty else { return found }
        missing = Array(Set(missing))
        statistics.directoryLookups.increment(by: missing.count)
        let rows = try await database.rows(
            """
            SELECT m.id, m.owner_id, m.name, coalesce(s.state, 'UNKNOWN'),
                   coalesce((extract(epoch FROM nullif(s.changed_at, '-infinity')) * 1000)::int8, 0)
            FROM monitors m LEFT JOIN monitor_states s ON s.monitor_id = m.id
            WHERE m.id = ANY(\(missing))
            """,
            as: (Int64, Int64, String, String, Int64).self
        )
        slots.withLock { slots in
            if slots.count + missing.count > capacity { slots.removeAll(keepingCapacity: true) }
            var read = Set<Int64>()
            for row in rows {
                read.insert(row.0)
                var entry = Entry(
                    ownerId: row.1, name: row.2, status: MonitorState(rawValue: row.3) ?? .unknown, changedAtMs: row.4)
                // A live state update may have arrived while the query ran: the newer state wins.
                if case .known(let cached) = slots[row.0], cached.changedAtMs >= entry.changedAtMs {
                    entry.status = cached.status
                    entry.changedAtMs = cached.changedAtMs
                    entry.pending = cached.pending
                }
                slots[row.0] = .known(entry)
                found[row.0] = entry
            }
            for id in missing where !read.contains(id) { slots[id] = .absent }
        }
        return found
    }

    /// The confirmed state to show with a check of `monitorId` made at `checkedAtMs`, and the
    /// transition it carries (once: the first check at or after the confirming one).
    func status(of monitorId: Int64, checkedAtMs: Int64) -> (MonitorState, (from: MonitorState, to: MonitorState)?) {
        slots.withLock { slots in
            guard case .known(var entry) = slots[monitorId] else { return (.unknown, nil) }
            if let pending = entry.pending, checkedAtMs >= pending.atMs {
                entry.pending = nil
                slots[monitorId] = .known(entry)
                return (entry.status, (pending.from, pending.to))
            }
            if let pending = entry.pending, checkedAtMs < pending.atMs { return (pending.from, nil) }
            return (entry.status, nil)
        }
    }

    /// Takes in a committed state change (from `<prefix>:incidents:live`).
    func apply(_ update: LiveStateUpdate) {
        slots.withLock { slots in
            var entry: Entry
            if case .known(let cached) = slots[update.monitorId] {
                guard update.atMs >= cached.changedAtMs else { return }
                entry = cached
            } else {
                if slots.count >= capacity { slots.removeAll(keepingCapacity: true) }
                entry = Entry(ownerId: update.ownerId, name: update.monitorName, status: .unknown, changedAtMs: 0)
            }
            entry.ownerId = update.ownerId
            entry.name = update.monitorName
            entry.status = update.to
            entry.changedAtMs = update.atMs
            entry.pending = Transition(from: update.from, to: update.to, atMs: update.atMs)
            slots[update.monitorId] = .known(entry)
        }
    }

    /// Takes in `<prefix>:monitors:changed`: a deleted monitor is forgotten, a changed one is
    /// read again at its next result (its name may have changed).
    func invalidate(_ changes: [MonitorChange]) {
        slots.withLock { slots in
            for change in changes {
                guard let id = Int64(change.monitorId) else { continue }
                switch (change.operation, slots[id]) {
                case (.delete, _): slots[id] = nil
                case (_, .known(var entry)):
                    entry.stale = true
                    slots[id] = .known(entry)
                case (_, .absent): slots[id] = nil
                case (_, nil): break
                }
            }
        }
    }
}
