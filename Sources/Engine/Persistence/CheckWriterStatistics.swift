import Synchronization

/// What the COPY writer has done, for the Prometheus endpoint and the end-of-run summary.
struct CheckWriterFigures: Sendable, Equatable {
    /// Results handed to the writer.
    var rowsReceived = 0
    /// Rows inserted into `checks` (new rows only).
    var rowsWritten = 0
    /// Rows the database already had (a retried or replayed batch): skipped by ON CONFLICT.
    var rowsDuplicate = 0
    /// Committed batches, and the size of the last one.
    var batches = 0
    var lastBatchRows = 0
    /// Failed write attempts (each retried).
    var writeErrors = 0
    /// Rows in memory now (waiting + the batch being written).
    var bufferedRows = 0
    /// Rows in the spill directory now, not yet written.
    var spilledRows = 0
    /// Rows ever appended to the spill directory.
    var spilledRowsTotal = 0
    /// Rows lost: spill directory not writable, a torn spill line after a crash, or a result
    /// whose monitor has no database id. Stays 0 in a healthy system.
    var droppedRows = 0
    /// Whether the last write (or connection attempt) worked.
    var connected = false
    /// Commit latency of successful batches: cumulative counts per bucket of `latencyBounds`.
    var latencyBuckets = Array(repeating: 0, count: CheckWriterFigures.latencyBounds.count)
    var latencySumMicros: Int64 = 0

    /// Upper bounds of the write-latency histogram buckets, seconds.
    static let latencyBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    mutating func recordLatency(micros: Int64) {
        latencySumMicros += micros
        if let index = Self.latencyBounds.firstIndex(where: { Int64($0 * 1_000_000) >= micros }) {
            latencyBuckets[index] += 1
        }
    }
}

/// The writer's figures behind a lock: updated by the writer's thread once per batch or event,
/// read by the metrics thread on a scrape.
final class CheckWriterStatistics: Sendable {
    private let figures = Mutex(CheckWriterFigures())

    func update(_ body: (inout CheckWriterFigures) -> Void) {
        figures.withLock { body(&$0) }
    }

    var snapshot: CheckWriterFigures { figures.withLock { $0 } }
}

extension CheckWriterFigures {
    /// Appends the writer's metrics to the engine's `/metrics`.
    func appendPrometheus(to out: inout PrometheusText) {
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            out.family(name, type, help, value: Double(value))
        }
        metric(
            "lookout_engine_db_rows_received_total",
            "counter",
            "Check results handed to the database writer.",
            rowsReceived
        )
        metric("lookout_engine_db_rows_written_total", "counter", "Rows inserted into checks.", rowsWritten)
        metric(
            "lookout_engine_db_rows_duplicate_total",
            "counter",
            "Rows of retried or replayed batches the database already had (skipped).",
            rowsDuplicate
        )
        metric("lookout_engine_db_batches_total", "counter", "Batches committed.", batches)
        metric("lookout_engine_db_batch_rows", "gauge", "Rows in the last committed batch.", lastBatchRows)
        metric("lookout_engine_db_write_errors_total", "counter", "Failed batch writes (each is retried).", writeErrors)
        metric("lookout_engine_db_buffered_rows", "gauge", "Rows in memory waiting for the database.", bufferedRows)
        metric(
            "lookout_engine_db_spilled_rows",
            "gauge",
            "Rows in the spill directory waiting for the database.",
            spilledRows
        )
        metric(
            "lookout_engine_db_spilled_rows_total",
            "counter",
            "Rows ever written to the spill directory.",
            spilledRowsTotal
        )
        metric("lookout_engine_db_dropped_rows_total", "counter", "Rows lost (must stay 0).", droppedRows)
        metric("lookout_engine_db_connected", "gauge", "1 when the last database write worked.", connected ? 1 : 0)
        out.histogram(
            "lookout_engine_db_write_seconds",
            "Time to write one batch (COPY, INSERT, COMMIT).",
            bounds: Self.latencyBounds,
            buckets: latencyBuckets,
            sumSeconds: Double(latencySumMicros) / 1_000_000,
            count: batches
        )
    }
}
