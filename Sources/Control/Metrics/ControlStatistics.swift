import Foundation
import Metrics
import Prometheus

/// The control plane's metrics (swift-metrics API, Prometheus text on `GET /metrics`). Each
/// application has a registry of its own rather than the process-global metrics system, so
/// tests that run several applications in one process do not mix their figures.
final class ControlStatistics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    /// State-stream entries applied.
    let eventsApplied: Metrics.Counter
    /// Entries taken over from other consumers (XAUTOCLAIM).
    let consumerClaimed: Metrics.Counter
    /// Failures reading or applying the stream.
    let consumerErrors: Metrics.Counter
    /// Seconds between the newest applied change's check and its application.
    let consumerLagSeconds: Metrics.Gauge
    /// Notifications waiting or being delivered (set at each scrape).
    let outboxDepth: Metrics.Gauge

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        eventsApplied = Metrics.Counter(label: "lookout_control_state_events_applied_total", factory: factory)
        consumerClaimed = Metrics.Counter(label: "lookout_control_state_events_claimed_total", factory: factory)
        consumerErrors = Metrics.Counter(label: "lookout_control_state_consumer_errors_total", factory: factory)
        consumerLagSeconds = Metrics.Gauge(label: "lookout_control_state_consumer_lag_seconds", factory: factory)
        outboxDepth = Metrics.Gauge(label: "lookout_control_outbox_depth", factory: factory)
    }

    /// One API request: by route (the pattern, `/api/v1/monitors/{id}`), method and status.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let dimensions = [("route", route), ("method", method), ("status", String(status))]
        Metrics.Counter(label: "lookout_control_http_requests_total", dimensions: dimensions, factory: factory)
            .increment()
        Metrics.Timer(
            label: "lookout_control_http_request_duration_seconds",
            dimensions: [("route", route), ("method", method)],
            preferredDisplayUnit: .seconds,
            factory: factory
        ).recordNanoseconds(duration.nanoseconds)
    }

    /// One delivery attempt: by channel kind and result (`delivered`, `retry`, `failed`).
    func recordDelivery(kind: String, result: String) {
        Metrics.Counter(
            label: "lookout_control_deliveries_total",
            dimensions: [("channel", kind), ("result", result)],
            factory: factory
        ).increment()
    }

    /// Prometheus text format.
    func render() -> String { registry.emitToString() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
