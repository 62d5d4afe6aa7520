import Hummingbird

/// Counts every request by route pattern, method and status, and times it. The route is the
/// router's pattern (`/api/v1/monitors/{id}`), never the raw path, so ids do not explode the
/// number of series; unmatched paths count as `unmatched`.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = ControlRequestContext
    let statistics: ControlStatistics

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            statistics.recordRequest(
                route: context.endpointPath ?? "unmatched",
                method: request.method.rawValue,
                status: response.status.code,
                duration: ContinuousClock.now - start
            )
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            statistics.recordRequest(
                route: context.endpointPath ?? "unmatched",
                method: request.method.rawValue,
                status: status,
                duration: ContinuousClock.now - start
            )
            throw error
        }
    }
}
