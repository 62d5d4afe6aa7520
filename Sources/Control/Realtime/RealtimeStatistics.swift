import Metrics

/// The live-update metrics on `GET /metrics`, in the application's registry.
final class RealtimeStatistics: Sendable {
    /// Connected clients (`lookout_control_realtime_clients{protocol="ws"|"socketio"}`).
    private let clients: [RealtimeConnection.Kind: Metrics.Gauge]
    /// Messages written to clients (`lookout_control_realtime_messages_sent_total{protocol}`).
    private let sent: [RealtimeConnection.Kind: Metrics.Counter]
    /// Clients dropped for not reading (`lookout_control_realtime_slow_clients_dropped_total{protocol}`).
    private let dropped: [RealtimeConnection.Kind: Metrics.Counter]
    /// Updates fanned out (`lookout_control_realtime_updates_total{event}`), each counted once
    /// however many clients it reached.
    let checkUpdates: Metrics.Counter
    let incidentUpdates: Metrics.Counter
    /// Live-channel messages dropped because fan-out fell behind.
    let inboxDropped: Metrics.Counter
    /// Monitors looked up in PostgreSQL for the owner cache (misses, in batches).
    let directoryLookups: Metrics.Counter

    init(factory: any MetricsFactory) {
        var clients: [RealtimeConnection.Kind: Metrics.Gauge] = [:]
        var sent: [RealtimeConnection.Kind: Metrics.Counter] = [:]
        var dropped: [RealtimeConnection.Kind: Metrics.Counter] = [:]
        for kind in RealtimeConnection.Kind.allCases {
            let dimensions = [("protocol", kind.rawValue)]
            clients[kind] = Metrics.Gauge(
                label: "lookout_control_realtime_clients", dimensions: dimensions, factory: factory)
            clients[kind]?.record(0)
            sent[kind] = Metrics.Counter(
                label: "lookout_control_realtime_messages_sent_total", dimensions: dimensions, factory: factory)
            dropped[kind] = Metrics.Counter(
                label: "lookout_control_realtime_slow_clients_dropped_total", dimensions: dimensions, factory: factory)
        }
        self.clients = clients
        self.sent = sent
        self.dropped = dropped
        checkUpdates = Metrics.Counter(
            label: "lookout_control_realtime_updates_total", dimensions: [("event", "check:update")], factory: factory)
        incidentUpdates = Metrics.Counter(
            label: "lookout_control_realtime_updates_total", dimensions: [("event", "incident:update")],
            factory: factory)
        inboxDropped = Metrics.Counter(label: "lookout_control_realtime_live_messages_dropped_total", factory: factory)
        directoryLookups = Metrics.Counter(label: "lookout_control_realtime_owner_lookups_total", factory: factory)
    }

    func clientCount(_ kind: RealtimeConnection.Kind, _ count: Int) { clients[kind]?.record(count) }
    func messagesSent(_ kind: RealtimeConnection.Kind, _ count: Int) { sent[kind]?.increment(by: count) }
    func slowClientDropped(_ kind: RealtimeConnection.Kind) { dropped[kind]?.increment() }
}
