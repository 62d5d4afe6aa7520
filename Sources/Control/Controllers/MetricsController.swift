import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /metrics`: Prometheus text format (requests, latency, outbox depth, deliveries by
/// channel and result, state-consumer lag). No authentication, like every Prometheus target:
/// bind the control plane to a private address or filter the path at the proxy.
struct MetricsController: Sendable {
    let statistics: ControlStatistics
    let database: Database

    func addRoutes(to router: Router<ControlRequestContext>) {
        router.get("metrics") { _, _ in
            if let depth = try? await database.values(
                "SELECT count(*) FROM notification_outbox WHERE state IN ('pending', 'delivering')",
                as: Int64.self
            ).first {
                statistics.outboxDepth.record(depth)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: statistics.render())))
        }
    }
}
