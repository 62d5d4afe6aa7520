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
        var statistics: ControlStatistics
        /// Encrypts and decrypts channel secrets.
        var secrets: SecretBox
        /// libcurl deliveries on a thread of their own.
        var deliveryClient: DeliveryClient
        var notifier: Notifier
        /// Stored monitor definitions already read back, shared by every request.
        var monitorDefinitions = MonitorDefinitionCache()
        /// Wakes this instance's outbox dispatcher when a transaction wrote notifications.
        var outboxSignal: OutboxSignal
        /// WebSocket clients, their rooms and the owner cache (`/ws`, `/socket.io/`).
        var liveUpdates: LiveUpdates
        var logger: Logger

        var database: Database { Database(client: postgres, logger: logger) }
        var channels: ChannelRepository { ChannelRepository(database: database, secrets: secrets) }
        var publisher: ClusterPublisher {
            ClusterPublisher(redis: redis, contract: configuration.cluster, logger: logger)
        }
        var rateLimiter: RateLimiter {
            RateLimiter(redis: redis, contract: configuration.cluster, logger: logger)
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
        let deliveryClient = try DeliveryClient(configuration: .init(configuration.notifications), logger: logger)
        let statistics = ControlStatistics()
        return Dependencies(
            configuration: configuration,
            postgres: postgres,
            redis: redis,
            startup: startup,
            tokens: await SessionTokens(
                secret: startup.jwtSecret, lifetimeSeconds: configuration.auth.tokenLifetimeSeconds),
            passwords: Passwords(cost: configuration.auth.bcryptCost),
            statistics: statistics,
            secrets: try SecretBox(key: startup.secretKey),
            deliveryClient: deliveryClient,
            notifier: Notifier(
                transport: deliveryClient,
                settings: .init(configuration.notifications),
                logger: logger
            ),
            outboxSignal: OutboxSignal(),
            liveUpdates: LiveUpdates(
                configuration: configuration.realtime,
                database: Database(client: postgres, logger: logger),
                statistics: statistics
            ),
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
        // Not a route: plain HTTP requests to /ws and /socket.io/ (the upgrades never reach it).
        router.middlewares.add(RealtimeHTTPFallback())
        let logger = dependencies.logger
        // A service group stops its services in reverse order: the workers below stop first,
        // then the PostgreSQL pool, and Redis last (the workers' pending commands end first).
        var services: [any Service] = [
            RedisShutdownService(redis: dependencies.redis),
            DeliveryShutdownService(client: dependencies.deliveryClient),
            dependencies.postgres,
        ]
        if configuration.notifications.dispatcherConcurrency > 0 {
            services.append(makeOutboxDispatcher(dependencies))
        }
        services.append(makeLiveUpdateRelay(dependencies))
        if configuration.incidents.consumerEnabled {
            services.append(
                makeStateStreamConsumer(dependencies, onApplied: makeIncidentBroadcaster(dependencies).applied))
            services.append(
                FlapSweeper(
                    database: dependencies.database,
                    signal: dependencies.outboxSignal,
                    stableSeconds: configuration.incidents.flapStableSeconds,
                    maxAttempts: configuration.notifications.maxAttempts,
                    logger: logger
                )
            )
        }
        if configuration.incidents.rollupsEnabled {
            services.append(RollupScheduler(database: dependencies.database, logger: logger))
        }
        return Application(
            router: router,
            server: makeRealtimeServer(dependencies).builder(),
            configuration: .init(
                address: .hostname(configuration.http.host, port: configuration.http.port),
                serverName: "lookout-control"
            ),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.http.port
                logger.notice(
                    "lookout-control listening",
                    metadata: [
                        "http.url": "http://\(configuration.http.host):\(port)",
                        "instance": "\(configuration.instanceId)",
                    ]
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
        router.middlewares.add(RequestMetricsMiddleware(statistics: dependencies.statistics))
        let routeMethods = RouteMethods()
        router.middlewares.add(ErrorRenderingMiddleware(logger: dependencies.logger, routeMethods: routeMethods))
        router.middlewares.add(
            PublicPageRateLimitMiddleware(
                rateLimiter: dependencies.rateLimiter,
                requestsPerMinute: configuration.rateLimits.publicPagesPerIP,
                trustForwardedFor: configuration.http.trustForwardedFor
            ))
        HealthController(postgres: dependencies.postgres, redis: dependencies.redis).addRoutes(to: router)
        MetricsController(statistics: dependencies.statistics, database: database).addRoutes(to: router)
        OpenAPIController().addRoutes(to: router)
        // The dashboard, its files and the public status pages (HTML, outside /api/v1).
        WebController.bundled(pages: StatusPageRepository(database: database), logger: dependencies.logger)
            .addRoutes(to: router)

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
        let monitors = MonitorRepository(database: database, definitions: dependencies.monitorDefinitions)
        MonitorController(
            monitors: monitors,
            reader: MonitorBodyReader(allowPrivateTargets: configuration.notifications.allowPrivateTargets),
            publisher: dependencies.publisher,
            bodyLimit: bodyLimit,
            bulkBodyLimit: configuration.http.maxBulkBodyBytes
        ).addRoutes(to: authenticated)
        ChannelController(
            channels: dependencies.channels,
            secrets: dependencies.secrets,
            signal: dependencies.outboxSignal,
            database: database,
            allowPrivateTargets: configuration.notifications.allowPrivateTargets,
            maxAttempts: configuration.notifications.maxAttempts,
            deliveryTimeoutMilliseconds: configuration.notifications.timeoutMilliseconds,
            bodyLimit: bodyLimit
        ).addRoutes(to: authenticated)
        MonitorDataController(data: MonitorDataRepository(database: database)).addRoutes(to: authenticated)
        IncidentController(incidents: IncidentRepository(database: database), bodyLimit: bodyLimit)
            .addRoutes(to: authenticated)
        let statusPages = StatusPageController(pages: StatusPageRepository(database: database), bodyLimit: bodyLimit)
        statusPages.addRoutes(to: authenticated)
        statusPages.addPublicRoutes(to: api)
        MaintenanceWindowController(windows: MaintenanceWindowRepository(database: database), bodyLimit: bodyLimit)
            .addRoutes(to: authenticated)
        routeMethods.record(router.routes)
        return router
    }
}

extension ControlApplication {
    /// The state-stream consumer of this instance, on a Redis connection of its own (its
    /// XREADGROUP blocks for up to a second).
    static func makeStateStreamConsumer(
        _ dependencies: Dependencies,
        onApplied: @escaping @Sendable (StateChangeEvent, IncidentRecorder.Outcome) async -> Void = { _, _ in }
    ) -> StateStreamConsumer {
        let configuration = dependencies.configuration
        var consumer = StateStreamConsumer(
            lane: dependencies.redis.makeLane(purpose: "state-stream", commandTimeoutSeconds: 10),
            contract: configuration.cluster,
            consumerName: configuration.instanceId,
            recorder: IncidentRecorder(
                database: dependencies.database,
                policy: IncidentPolicy(
                    configuration: .init(
                        flapThreshold: configuration.incidents.flapThreshold,
                        flapWindowSeconds: configuration.incidents.flapWindowSeconds
                    )
                ),
                maxAttempts: configuration.notifications.maxAttempts
            ),
            signal: dependencies.outboxSignal,
            claimIdleMilliseconds: configuration.incidents.claimIdleMilliseconds,
            statistics: dependencies.statistics,
            logger: dependencies.logger
        )
        consumer.onApplied = onApplied
        return consumer
    }
}

extension ControlApplication {
    /// This instance's outbox dispatcher.
    static func makeOutboxDispatcher(_ dependencies: Dependencies) -> OutboxDispatcher {
        let notifications = dependencies.configuration.notifications
        return OutboxDispatcher(
            database: dependencies.database,
            channels: dependencies.channels,
            notifier: dependencies.notifier,
            retryPolicy: RetryPolicy(maxAttempts: notifications.maxAttempts),
            signal: dependencies.outboxSignal,
            instanceId: dependencies.configuration.instanceId,
            concurrency: notifications.dispatcherConcurrency,
            leaseSeconds: notifications.leaseSeconds,
            pollMilliseconds: notifications.pollMilliseconds,
            statistics: dependencies.statistics,
            logger: dependencies.logger
        )
    }
}

/// Stops the delivery thread when the service group shuts down (after the dispatcher).
struct DeliveryShutdownService: Service {
    let client: DeliveryClient

    func run() async throws {
        try? await gracefulShutdown()
        client.shutdown()
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
