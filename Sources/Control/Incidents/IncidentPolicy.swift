import Foundation
import LookoutCore

/// What one confirmed state change from the stream does to a monitor: whether it changes the
/// state the control plane holds, whether the monitor is (now) flapping, and what, if anything,
/// is notified. Pure: the consumer gathers the inputs in its transaction and carries out the
/// decision, so every rule is tested here without I/O.
///
/// Rules, in order:
/// 1. A change to the state already held is a re-confirmation (an engine taking a shard over
///    starts from UNKNOWN): nothing changes, nothing is sent.
/// 2. A change older than the one held is stale (events can arrive out of order across a hand-
///    over): ignored.
/// 3. Otherwise the state changes. Counting this change, `flapThreshold` changes within
///    `flapWindowSeconds` make the monitor flapping.
/// 4. Inside a maintenance window the change is recorded and not notified.
/// 5. A monitor that just started flapping sends one "flapping" message instead of the change;
///    while it keeps flapping, changes are recorded and not notified (the consumer's periodic
///    sweep sends "stable again" once a flapping monitor has been quiet for `flapStableSeconds`).
/// 6. A monitor's first confirmation (UNKNOWN → UP) is not news; UNKNOWN → DOWN is.
struct IncidentPolicy: Sendable {
    struct Configuration: Sendable, Equatable {
        /// Changes within the window that make a monitor flapping. Default 5.
        var flapThreshold = 5
        /// The window, seconds. Default 1,800.
        var flapWindowSeconds = 1_800
    }

    struct Input: Sendable, Equatable {
        /// The state the control plane holds now.
        var held: MonitorState
        /// When the held state was set (`at` of its event), nil when never.
        var heldAt: Date?
        /// Whether the monitor is flapping now.
        var flapping: Bool
        /// The event's new state (UP or DOWN).
        var to: MonitorState
        /// The event's confirming check time.
        var at: Date
        /// Effective changes of this monitor within the flap window before `at`.
        var recentChanges: Int
        /// `at` falls in one of the monitor's maintenance windows.
        var inMaintenance: Bool
    }

    enum Notification: Sendable, Equatable {
        /// Nothing is sent.
        case none
        /// `monitor.down` / `monitor.up`.
        case stateChange
        /// `monitor.flapping`, once, when flapping starts.
        case flappingStarted
    }

    /// Why an effective change sent nothing (`monitor_state_changes.suppressed_by`).
    enum Suppression: String, Sendable, Equatable {
        case maintenance
        case flapping
    }

    struct Decision: Sendable, Equatable {
        /// The held state changes to `to`.
        var effective: Bool
        /// Flapping after this change.
        var flapping: Bool
        var notification: Notification
        var suppressedBy: Suppression?

        static let ignored = Decision(effective: false, flapping: false, notification: .none, suppressedBy: nil)
    }

    let configuration: Configuration

    func decide(_ input: Input) -> Decision {
        guard input.to != input.held else { return ignoredKeepingFlap(input) }
        if let heldAt = input.heldAt, input.at < heldAt { return ignoredKeepingFlap(input) }
        let flapping = input.flapping || input.recentChanges + 1 >= configuration.flapThreshold
        if input.inMaintenance {
            return Decision(effective: true, flapping: flapping, notification: .none, suppressedBy: .maintenance)
        }
        if flapping && !input.flapping {
            return Decision(effective: true, flapping: true, notification: .flappingStarted, suppressedBy: .flapping)
        }
        if flapping {
            return Decision(effective: true, flapping: true, notification: .none, suppressedBy: .flapping)
        }
        if input.held == .unknown && input.to == .up {
            return Decision(effective: true, flapping: false, notification: .none, suppressedBy: nil)
        }
        return Decision(effective: true, flapping: false, notification: .stateChange, suppressedBy: nil)
    }

    private func ignoredKeepingFlap(_ input: Input) -> Decision {
        Decision(effective: false, flapping: input.flapping, notification: .none, suppressedBy: nil)
    }
}
