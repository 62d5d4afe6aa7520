/// A monitor that passed `Monitor.validate()`, with the target that validation parsed: the engine
/// connects to `target` as it is, so a million monitors read at start-up have their URL parsed
/// once, not once to validate and again to check.
///
/// Only `validate()` makes one, so holding a `ValidatedMonitor` proves the definition is valid.
public struct ValidatedMonitor: Sendable {
    /// The definition, as validated.
    public let monitor: Monitor
    /// Where a check goes, parsed: the URL of an HTTP monitor, `host:port` of a `tcp` or `tls`
    /// monitor, the explicit server of a `dns` monitor (see `Monitor.connectTarget()`); nil for a
    /// `dns` monitor that asks the engine's resolver.
    public let target: MonitorURL?

    init(monitor: Monitor, target: MonitorURL?) {
        self.monitor = monitor
        self.target = target
    }
}
