import Hummingbird

/// The public status pages (`GET /status/{slug}` and `GET /api/v1/public/...`) answer anyone
/// without a token, so each client IP gets a budget of its own (`--rate-public-per-ip`); over it,
/// a 429 with `Retry-After`. Every other path passes untouched.
struct PublicPageRateLimitMiddleware: RouterMiddleware {
    typealias Context = ControlRequestContext

    let rateLimiter: RateLimiter
    let requestsPerMinute: Int
    let trustForwardedFor: Bool

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let path = request.uri.path
        if path.hasPrefix("/status/") || path.hasPrefix("/api/v1/public/") {
            let ip = ClientAddress.of(request, context: context, trustForwardedFor: trustForwardedFor)
            try await rateLimiter.enforce(key: "public:ip:\(ip)", limitPerMinute: requestsPerMinute)
        }
        return try await next(request, context)
    }
}
