import HTTPTypes
import Hummingbird
import Synchronization

/// The methods each routed path answers, so that a known path asked with a method it does not
/// answer gets `405 Method Not Allowed` with an `Allow` header instead of a 404 that reads as
/// "no such resource". Hummingbird's router answers both with 404.
///
/// The table is filled once, after every route is registered (`record(_:)`), and read only on
/// the router's 404 path, so the lock is never on a hot path.
final class RouteMethods: Sendable {
    private struct Route: Sendable {
        var components: [RouterPath.Element]
        var method: HTTPRequest.Method
    }

    private let routes = Mutex<[Route]>([])

    init() {}

    /// Takes in the router's routes (call after the last route is added).
    func record<Context>(_ descriptions: [Router<Context>.RouteDescription]) {
        let recorded = descriptions.map { Route(components: $0.path.components, method: $0.method) }
        routes.withLock { $0 = recorded }
    }

    /// The methods some route answers for `path`, in a stable order; empty when none does.
    func allowed(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            routes.filter { Self.matches($0.components, segments) }.map(\.method)
        }
        return Array(Set(methods.map(\.rawValue))).sorted().compactMap { HTTPRequest.Method($0) }
    }

    private static func matches(_ components: [RouterPath.Element], _ segments: [Substring]) -> Bool {
        var index = 0
        for component in components {
            if component == .recursiveWildcard { return true }
            if component == .null { continue }
            guard index < segments.count, component ~= segments[index] else { return false }
            index += 1
        }
        return index == segments.count
    }
}
