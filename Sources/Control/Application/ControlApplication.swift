import Foundation
import Hummingbird
import Logging
import LookoutCore
import LookoutFFI
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Turns one `ControlConfiguration` into the running control plane: the router with every
/// controller, and the services of one `ServiceGroup` (PostgreSQL pool, HTTP server, state-stream
/// consumer, outbox dispatcher, rollup scheduler), drained gracefully on SIGTERM/SIGINT.
enum ControlApplication {
    /// Everything the controllers and services share, built once at start-up.
    struct Dependencies: Sendable {
        var configuration: ControlConfiguration
        var postgres: PostgresClient
        var redis: RedisClient
        var startup: ControlStartup.Outcome
        var tokens: SessionTokens
        var passwords: Passwords
        var logger: Logger

        var database: Database { Database(client: postgres, logger: logger) }
        var publisher: ClusterPublisher {
            ClusterPublisher(redis: redis, contract: configuration.cluster, logger: logger)
        }
        var rateLimiter: RateLimiter {
            RateLimiter(redis: redis, keyPrefix: configuration.cluster.prefix, logger: logger)
        }
    }

    /// Migrates, connects and assembles the application (it runs with `runService()`).
    static func build(
        configuration: ControlConfiguration,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let dependencies = try await makeDependencies(configuration: configuration, logger: logger)
        return makeApplication(dependencies, onServerRunning: onServerRunning)
    }

    /// Start-up work that needs no HTTP: migrations, shared secrets, pools.
    static func makeDependencies(configuration: ControlConfiguration, logger: Logger) async throws -> Dependencies {
        let address = try DatabaseAddress(url: configuration.databaseURL)
        let startup = try await ControlStartup.run(configuration: configuration, logger: logger)
        let postgres = PostgresClient(
            configuration: address.clientConfiguration(
                applicationName: "lookout-control \(configuration.instanceId)",
                maximumConnections: 20
            ),
            backgroundLogger: logger
        )
        let redis = try RedisClient(endpoint: configuration.redis, clientName: configuration.instanceId, logger: logger)
        return Dependencies(
            configuration: configuration,
            postgres: postgres,
            redis: redis,
            startup: startup,
            tokens: await SessionTokens(secret: startup.jwtSecret, lifetimeSeconds: configuration.auth.tokenLifetimeSeconds),
            passwords: Passwords(cost: configuration.auth.bcryptCost),
            logger: logger
        )
    }

    /// The application around `dependencies`.
    static func makeApplication(
        _ dependencies: Dependencies,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let configuration = dependencies.configuration
        let router = makeRouter(dependencies)
        let logger = dependencies.logger
        var services: [any Service] = [dependencies.postgres]
        services.append(RedisShutdownService(redis: dependencies.redis))
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.http.host, port: configuration.http.port),
                serverName: "lookout-control"
            ),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.http.port
                logger.notice(
                    "lookout-control listening",
                    metadata: ["http.url": "http://\(configuration.http.host):\(port)", "instance": "\(configuration.instanceId)"]
                )
                await onServerRunning(port)
            },
            logger: logger
        )
    }

    /// Every route.
    static func makeRouter(_ dependencies: Dependencies) -> Router<ControlRequestContext> {
        let configuration = dependencies.configuration
        let database = dependencies.database
        let bodyLimit = configuration.http.maxBodyBytes
        let users = UserRepository(database: database)
        let apiKeys = APIKeyRepository(database: database)

        let router = Router(context: ControlRequestContext.self)
        // Outermost first: every response, errors included, gets the security and CORS headers.
        router.middlewares.add(SecurityHeadersMiddleware(behindHTTPS: configuration.http.behindHTTPS))
        router.middlewares.add(ConfiguredCORSMiddleware(allowedOrigins: Set(configuration.http.corsOrigins)))
        router.middlewares.add(ErrorRenderingMiddleware(logger: dependencies.logger))
        HealthController(postgres: dependencies.postgres, redis: dependencies.redis).addRoutes(to: router)

        let api = router.group("api/v1")
        let auth = AuthController(
            users: users,
            passwords: dependencies.passwords,
            tokens: dependencies.tokens,
            rateLimiter: dependencies.rateLimiter,
            limits: configuration.rateLimits,
            bodyLimit: bodyLimit,
            trustForwardedFor: configuration.http.trustForwardedFor
        )
        auth.addPublicRoutes(to: api)

        let authenticated = api.group()
            .add(
                middleware: AuthenticationMiddleware(
                    tokens: dependencies.tokens,
                    apiKeys: apiKeys,
                    users: users,
                    rateLimiter: dependencies.rateLimiter,
                    requestsPerMinute: configuration.rateLimits.requestsPerToken
                )
            )
        auth.addRoutes(to: authenticated)
        APIKeyController(keys: apiKeys, bodyLimit: bodyLimit).addRoutes(to: authenticated)
        let monitors = MonitorRepository(database: database)
        MonitorController(
            monitors: monitors,
            reader: MonitorBodyReader(allowPrivateTargets: configuration.notifications.allowPrivateTargets),
            publisher: dependencies.publisher,
            bodyLimit: bodyLimit,
            bulkBodyLimit: configuration.http.maxBulkBodyBytes
        ).addRoutes(to: authenticated)
        MonitorDataController(data: MonitorDataRepository(database: database)).addRoutes(to: authenticated)
        IncidentController(incidents: IncidentRepository(database: database), bodyLimit: bodyLimit)
            .addRoutes(to: authenticated)
        let statusPages = StatusPageController(pages: StatusPageRepository(database: database), bodyLimit: bodyLimit)
        statusPages.addRoutes(to: authenticated)
        statusPages.addPublicRoutes(to: api)
        MaintenanceWindowController(windows: MaintenanceWindowRepository(database: database), bodyLimit: bodyLimit)
            .addRoutes(to: authenticated)
        return router
    }
}

/// Closes the Redis connections and their thread when the service group shuts down.
struct RedisShutdownService: Service {
    let redis: RedisClient

    func run() async throws {
        try? await gracefulShutdown()
        redis.shutdown()
    }
}
