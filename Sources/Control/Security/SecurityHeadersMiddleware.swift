import HTTPTypes
import Hummingbird

/// The helmet set of response headers on every response: a strict Content-Security-Policy
/// (nothing from other origins, no framing), `nosniff`, no referrer leaks, no cross-origin
/// opener, and HSTS when the instance is served behind HTTPS (`--behind-https`).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let behindHTTPS: Bool

    static var contentSecurityPolicy: String {
        "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; "
            + "img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'"
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.crossOriginOpenerPolicy] = "same-origin"
        response.headers[.crossOriginResourcePolicy] = "same-origin"
        response.headers[.originAgentCluster] = "?1"
        response.headers[.xDNSPrefetchControl] = "off"
        response.headers[.xPermittedCrossDomainPolicies] = "none"
        if behindHTTPS { response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
    static let crossOriginResourcePolicy = Self("Cross-Origin-Resource-Policy")!
    static let originAgentCluster = Self("Origin-Agent-Cluster")!
    static let xDNSPrefetchControl = Self("X-DNS-Prefetch-Control")!
    static let xPermittedCrossDomainPolicies = Self("X-Permitted-Cross-Domain-Policies")!
    static let idempotencyKey = Self("Idempotency-Key")!
}
