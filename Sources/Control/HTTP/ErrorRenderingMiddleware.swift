import HTTPTypes
import Hummingbird
import Logging

/// Turns every error a handler throws into the API's JSON error body: `APIError` as it is,
/// Hummingbird's own HTTP errors (unknown route, wrong method) with their status, anything else
/// into a logged 500 that reveals nothing of its cause. The router's 404 for a path that some
/// route answers with another method becomes a 405 with `Allow`.
struct ErrorRenderingMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let routeMethods: RouteMethods

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            if error.status == .notFound, error.body == nil {
                let allowed = routeMethods.allowed(for: request.uri.path)
                if !allowed.isEmpty {
                    let allow = allowed.map(\.rawValue).joined(separator: ", ")
                    return try APIError(
                        .methodNotAllowed, "method_not_allowed",
                        "\(request.method) is not allowed on \(request.uri.path); allowed: \(allow)",
                        headers: [.allow: allow]
                    ).response(from: request, context: context)
                }
            }
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "body_too_large"
            case .unauthorized: code = "unauthenticated"
            default: code = "http_\(error.status.code)"
            }
            let message =
                error.status == .notFound
                ? "no such route: \(request.method) \(request.uri.path)"
                : (error.body ?? error.status.reasonPhrase)
            return try APIError(error.status, code, message, headers: error.headers).response(
                from: request,
                context: context
            )
        } catch {
            logger.error(
                "request failed",
                metadata: ["http.method": "\(request.method)", "http.path": "\(request.uri.path)", "error": "\(error)"]
            )
            return try APIError.unexpected.response(from: request, context: context)
        }
    }
}
