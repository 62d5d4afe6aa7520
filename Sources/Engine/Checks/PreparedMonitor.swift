import LookoutCore
import LookoutFFI

/// A monitor as a loop runs it: the user's definition plus what is derived from it once at load
/// time (parsed URL, interval in microseconds, phase, request header list).
///
/// A class: each check holds the monitor as it was when the check started, and a reference is
/// one retain where a copy of the struct retained each of its strings (several times per check,
/// docs/BENCHMARKS.md, "Instructions per check").
final class PreparedMonitor: @unchecked Sendable {
    // @unchecked: `headers` is an immutable C list that curl only reads; the `var`s are set by the
    // code that makes the monitor, before it is handed to a loop, and never changed afterwards,
    // except `transferProfile`, which only the one loop that checks the monitor reads and writes.
    let monitor: Monitor
    let url: MonitorURL
    let intervalMicros: Int64
    let phaseOffsetMicros: Int64
    /// nil = use the loop's shared default list ("Connection: close"); an empty list for an
    /// HTTP/2-capable monitor without headers of its own.
    let headers: CurlHeaderList?
    /// How many consecutive failures / successes confirm a change of state (cluster mode:
    /// `monitors.confirmation_threshold` / `recovery_threshold`). Default 2 / 1.
    var thresholds: HealthThresholds = .standard
    /// The confirmed state a loop starts the monitor from when it takes it in (cluster mode: the
    /// control plane's `monitor_states` row, read on a take-over; no row = UNKNOWN), so a
    /// hand-over does not report the monitor's state again. An edit of a monitor the loop
    /// already checks keeps the loop's own state instead.
    var confirmedState: MonitorState = .unknown
    /// Cluster hand-over: a loop that takes the monitor in starts its checks on the monitor's
    /// grid from this instant (epoch µs), the one the previous owner checks until. nil: from now.
    var checkFromWallMicros: Int64?
    /// An HTTP answer is judged by its status alone, and any 2xx is UP: the common case is
    /// decided without reading the monitor's assertions (`ResponseEvaluator`).
    let judgesStatusOnly: Bool
    /// The curl options of this monitor's transfers over its URL's scheme, shared with the loop's
    /// other monitors that have the same (`TransferProfiles`); set at the first check, on the
    /// loop thread.
    var transferProfile: CurlTransferProfile?

    /// A monitor read from a file: its target was parsed when it was validated, and is taken as
    /// it is (a million monitors at start-up, docs/BENCHMARKS.md "Start-up").
    convenience init(_ validated: consuming ValidatedMonitor) {
        self.init(validated.monitor, url: validated.target ?? Self.resolverPlaceholder)
    }

    /// A monitor whose target has not been parsed yet (cluster mode, tests): parses it. Only the
    /// target is judged here, not the rest of the definition.
    convenience init(_ monitor: Monitor) throws(MonitorValidationError) {
        // `tcp`, `tls`: the target; `dns` with a server: the server (both judged by the target
        // policy like an HTTP host).
        let target = monitor.kind == .http ? try MonitorURL(monitor.url) : try monitor.connectTarget()
        self.init(monitor, url: target ?? Self.resolverPlaceholder)
    }

    /// The `url` of a `dns` monitor that asks the engine's resolver: never read by its checks.
    private static let resolverPlaceholder = try! MonitorURL("http://localhost/")

    private init(_ monitor: consuming Monitor, url: MonitorURL) {
        let intervalMicros = Int64((monitor.intervalSeconds * 1_000_000).rounded())
        self.intervalMicros = intervalMicros
        self.phaseOffsetMicros = CheckPhase.offset(id: monitor.id, intervalMicros: intervalMicros)
        self.judgesStatusOnly = monitor.expectedStatus.isEmpty && !monitor.needsBody
        if monitor.headers.isEmpty && monitor.body == nil && monitor.httpVersion == .http1_1 {
            headers = nil
        } else {
            headers = CurlHeaderList(PreparedMonitor.headerLines(for: monitor))
        }
        self.url = url
        // Stored last, so it moves in: read after storing, it was copied (a retain and a release
        // of each of its strings, once per monitor of a million at start-up).
        self.monitor = monitor
    }

    /// The request headers every check of this monitor sends.
    static func headerLines(for monitor: Monitor) -> [String] {
        var lines: [String] = []
        // HTTP/2 forbids connection-specific headers (RFC 9113 §8.2.2), and with "2" or "auto"
        // the version is only known once the server has chosen: such monitors send none, and
        // curl itself closes the connection after the check (FORBID_REUSE).
        if !monitor.reuseConnection && monitor.httpVersion == .http1_1 { lines.append("Connection: close") }
        // No "Expect: 100-continue" round trip for request bodies.
        if monitor.body != nil { lines.append("Expect:") }
        for (name, value) in monitor.headers.sorted(by: { $0.key < $1.key }) {
            // "Name;" is curl's spelling of a header with an empty value.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        return lines
    }
}
