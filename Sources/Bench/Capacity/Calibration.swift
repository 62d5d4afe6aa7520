/// The per-check and per-monitor costs a capacity plan multiplies out, each with where it came
/// from (a measurement of this machine, or a documented default), so a plan can print every
/// assumption beside the figure it feeds.
///
/// `CapacityPlan` is pure arithmetic over one of these; `PlanCommand` fills it from a capacity
/// report (`--from`), a short calibration run, and the real database when one is given.
struct Calibration: Codable, Sendable, Equatable {
    /// One figure and its origin ("measured: ...", "default: ...").
    struct Figure: Codable, Sendable, Equatable {
        var value: Double
        var source: String

        init(_ value: Double, _ source: String) {
            self.value = value
            self.source = source
        }
    }

    /// Plain HTTP checks per second one engine core sustains at saturation (p99 lag ≤ 1 s,
    /// nothing lost, no false failures). Default 5,081 (README, `throughput` at capacity).
    var httpChecksPerSecondPerCore: Figure
    /// HTTPS checks per second per engine core with a full TLS handshake per check.
    /// Default 579 (README, `scripts/bench-vs-ab`, `--loops 1`).
    var httpsChecksPerSecondPerCore: Figure
    /// Engine CPU per plain HTTP check, µs. Default 242 (README, 100,000 monitors).
    var httpCPUMicrosPerCheck: Figure
    /// Engine CPU per HTTPS check, µs. Default 1,715 (README, `scripts/bench-vs-ab`).
    var httpsCPUMicrosPerCheck: Figure
    /// Engine memory per monitor, KiB. Default 1.65 (README, 100,000 monitors under load).
    var rssKiBPerMonitor: Figure
    /// Engine memory with no monitors, MiB. Default 20.
    var rssBaseMiB: Figure
    /// Bytes one check row takes in PostgreSQL, heap and indexes. Default 215, measured by
    /// `RowSizeTests` (PersistenceTests) over 24,000 rows written by the COPY writer.
    var checkRowBytes: Figure
    /// Bytes one rollup row (`metrics`) takes, heap and index. Default 138, measured by
    /// `RowSizeTests` over 4,000-6,000 rows written by `lookout_rollup_metrics` (134-138 bytes).
    var rollupRowBytes: Figure
    /// Rows per second one COPY stream ingests. Default 68,000 (README, `PersistenceTests`).
    var copyRowsPerSecondPerStream: Figure
    /// Results per live Redis message (`PUBLISH <prefix>:checks:live`). Default 200, the
    /// engine's `liveBatchMaxResults`.
    var liveResultsPerMessage: Figure
    /// Bytes of one result in a live message. Default 260.
    var liveResultBytes: Figure
    /// Share of checks that change a monitor's state (one `XADD` each). Default 0.001.
    var stateChangeShare: Figure
    /// Redis commands per check a cluster scenario measured (whole-server `INFO` deltas, so an
    /// upper bound on a shared Redis); nil without a cluster measurement. The plan prints it
    /// beside its own Redis arithmetic, which it does not replace.
    var measuredRedisCommandsPerCheck: Figure? = nil

    /// The figures documented in the README's bench section, for a plan on a machine that has
    /// not been measured (every source says "default").
    static let documented = Calibration(
        httpChecksPerSecondPerCore: Figure(5081, "default: README, throughput at capacity, 1 loop"),
        httpsChecksPerSecondPerCore: Figure(579, "default: README, scripts/bench-vs-ab HTTPS --loops 1"),
        httpCPUMicrosPerCheck: Figure(242, "default: README, 100,000 monitors at 67% of capacity"),
        httpsCPUMicrosPerCheck: Figure(1715, "default: README, scripts/bench-vs-ab HTTPS"),
        rssKiBPerMonitor: Figure(1.65, "default: README, 100,000 monitors under load"),
        rssBaseMiB: Figure(20, "default: an engine with no monitors"),
        checkRowBytes: Figure(215, "default: RowSizeTests, 24,000 rows from the COPY writer, heap + indexes"),
        rollupRowBytes: Figure(
            138, "default: RowSizeTests, 4,000-6,000 rows from lookout_rollup_metrics, heap + primary key"),
        copyRowsPerSecondPerStream: Figure(68_000, "default: README, PersistenceTests COPY writer"),
        liveResultsPerMessage: Figure(200, "default: engine liveBatchMaxResults"),
        liveResultBytes: Figure(260, "default: one encoded live result"),
        stateChangeShare: Figure(0.001, "default: 1 check in 1,000 changes a monitor's state")
    )
}
