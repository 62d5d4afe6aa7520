import Hummingbird
import PostgresNIO

/// `GET /health`: readiness — 200 when PostgreSQL and Redis both answer, 503 otherwise (a load
/// balancer takes the instance out). `GET /health/live`: liveness — 200 while the process serves.
struct HealthController: Sendable {
    let postgres: PostgresClient
    let redis: RedisClient

    struct Report: ResponseEncodable {
        var status: String
        var postgres: String
        var redis: String
    }

    func addRoutes(to router: Router<ControlRequestContext>) {
        router.get("health", use: readiness)
        router.get("health/live") { _, _ in Report(status: "ok", postgres: "unchecked", redis: "unchecked") }
    }

    @Sendable func readiness(_ request: Request, context: ControlRequestContext) async throws -> Response {
        async let databaseUp = isPostgresUp()
        let redisUp = redis.isReady
        let postgresUp = await databaseUp
        let report = Report(
            status: postgresUp && redisUp ? "ok" : "unavailable",
            postgres: postgresUp ? "up" : "down",
            redis: redisUp ? "up" : "down"
        )
        var response = try report.response(from: request, context: context)
        if !(postgresUp && redisUp) { response.status = .serviceUnavailable }
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func isPostgresUp() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    let rows = try await postgres.query("SELECT 1")
                    for try await _ in rows {}
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
