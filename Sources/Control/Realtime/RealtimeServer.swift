import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The HTTP server of `lookout-control` with WebSocket upgrades on two paths:
///
/// - `GET /ws[?token=…]`: the JSON protocol (`RealtimeSessions.webSocket`);
/// - `GET /socket.io/?EIO=4&transport=websocket[&token=…]`: Socket.IO (`RealtimeSessions.socketIO`).
///
/// Every other request, and a request to those paths without `Upgrade: websocket`, goes to the
/// router as before (`RealtimeHTTPFallback` answers the latter). The WebSocket layer pings every
/// client every half idle timeout and closes one that does not answer in time.
struct RealtimeServer: Sendable {
    let sessions: RealtimeSessions
    let trustForwardedFor: Bool

    func builder() -> HTTPServerBuilder {
        let configuration = sessions.configuration
        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: max(1 << 14, configuration.maxPayloadBytes),
            autoPing: .enabled(timePeriod: .milliseconds(configuration.idleTimeoutSeconds * 500)),
            closeTimeout: .seconds(10)
        )
        return .http1WebSocketUpgrade(configuration: .init(http1: .init(), ws: webSocket)) {
            [sessions, trustForwardedFor] head, channel, _ in
            let uri = URI(head.path ?? "/")
            let query = Self.query(uri)
            let address = Self.clientAddress(head, channel: channel, trustForwardedFor: trustForwardedFor)
            let token = query["token"].flatMap { $0.isEmpty ? nil : $0 }
            switch uri.path {
            case "/ws":
                return .upgrade([:]) { inbound, outbound, _ in
                    await sessions.webSocket(
                        inbound: inbound, outbound: outbound, channel: channel, address: address, token: token)
                }
            case "/socket.io/", "/socket.io":
                guard EngineIOHTTPError.check(query: query) == nil else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    await sessions.socketIO(
                        inbound: inbound, outbound: outbound, channel: channel, address: address, token: token)
                }
            default:
                return .dontUpgrade
            }
        }
    }

    /// The query's parameters, read as a form (the last of a repeated name wins).
    static func query(_ uri: URI) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in QueryParameters(uri).pairs { result[name] = value }
        return result
    }

    /// The client's address for the per-IP limit (the first `X-Forwarded-For` address when the
    /// proxy is trusted, as for the REST API's limits).
    static func clientAddress(_ head: HTTPRequest, channel: any Channel, trustForwardedFor: Bool) -> String {
        if trustForwardedFor, let forwarded = head.headerFields[.xForwardedFor],
            let first = forwarded.split(separator: ",").first
        {
            return first.trimmingCharacters(in: .whitespaces)
        }
        return channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Answers plain HTTP requests to the WebSocket paths (no `Upgrade: websocket`): `/socket.io/`
/// in Engine.IO's own error shape (`{"code":0,"message":"Transport unknown…"}`, what Socket.IO
/// clients read when long-polling is refused), `/ws` with a 426. A middleware rather than
/// routes, so the REST API's route list (and its OpenAPI description) stays the API's.
struct RealtimeHTTPFallback<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        switch request.uri.path {
        case "/socket.io", "/socket.io/":
            let error =
                EngineIOHTTPError.check(query: RealtimeServer.query(request.uri))
                ?? EngineIOHTTPError(
                    code: .badRequest,
                    message: "Bad request: open a WebSocket to this URL (GET with Upgrade: websocket)"
                )
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(
                status: .badRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.json)))
        case "/ws":
            throw APIError(
                HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"),
                "upgrade_required",
                "/ws is a WebSocket endpoint: connect with a WebSocket client (ws://…/ws?token=…)",
                headers: [.upgrade: "websocket"]
            )
        default:
            return try await next(request, context)
        }
    }
}

/// The live-update parts every request and service share (built once per application).
struct LiveUpdates: Sendable {
    let hub: RealtimeHub
    let directory: MonitorDirectory
    let statistics: RealtimeStatistics

    init(configuration: ControlConfiguration.Realtime, database: Database, statistics: ControlStatistics) {
        self.statistics = RealtimeStatistics(factory: statistics.factory)
        hub = RealtimeHub(configuration: configuration, statistics: self.statistics)
        directory = MonitorDirectory(
            database: database, capacity: configuration.directoryCapacity, statistics: self.statistics)
    }
}

extension ControlApplication {
    /// The HTTP server builder with this instance's WebSocket endpoints.
    static func makeRealtimeServer(_ dependencies: Dependencies) -> RealtimeServer {
        let database = dependencies.database
        return RealtimeServer(
            sessions: RealtimeSessions(
                hub: dependencies.liveUpdates.hub,
                authenticator: RealtimeAuthenticator(
                    tokens: dependencies.tokens,
                    apiKeys: APIKeyRepository(database: database),
                    users: UserRepository(database: database)
                ),
                monitors: MonitorRepository(database: database, definitions: dependencies.monitorDefinitions),
                logger: dependencies.logger
            ),
            trustForwardedFor: dependencies.configuration.http.trustForwardedFor
        )
    }

    /// The service that brings the cluster's live updates to this instance's clients.
    static func makeLiveUpdateRelay(_ dependencies: Dependencies) -> LiveUpdateRelay {
        LiveUpdateRelay(
            redis: dependencies.redis,
            contract: dependencies.configuration.cluster,
            hub: dependencies.liveUpdates.hub,
            directory: dependencies.liveUpdates.directory,
            logger: dependencies.logger
        )
    }

    /// The incident consumer's hook that publishes each committed state change for live updates.
    static func makeIncidentBroadcaster(_ dependencies: Dependencies) -> IncidentBroadcaster {
        IncidentBroadcaster(
            database: dependencies.database,
            redis: dependencies.redis,
            contract: dependencies.configuration.cluster,
            logger: dependencies.logger
        )
    }
}
