// swift-tools-version: 6.0
//
// Lookout: uptime and HTTP health checks at scale.
// Module map (see README "Architecture"); imports run one way:
//   CEngineShims    C shims over libev, libcurl, c-ares, libpq, hiredis (macros and variadics Swift cannot call)
//   LookoutFFI      the Swift owners of those C handles; the only module that imports CEngineShims
//   LookoutCore     contracts shared by every process (monitor model, check result, Redis names, schema)
//   LookoutEngine   the check engine process, product `lookout-engine` (FFI + Core, no NIO)
//   LookoutControl  the control plane, product `lookout-control` (Hummingbird, PostgresNIO; FFI + Core)
//   LookoutBench    target farm, DNS server, load driver, capacity reports, product `lookout-bench`
// Engine and Control never import each other: they meet only through PostgreSQL and Redis.
import PackageDescription

// The engine's hot path calls into LookoutFFI and LookoutCore once per curl option, socket event
// and result; without their bodies the optimiser cannot inline across the module boundary
// (measured: 3.4k more user-space instructions per check than when they were one module).
let crossModuleOptimization: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
]

// The engine's loop state is confined to its thread and accessed through class properties; in a
// release build the dynamic exclusivity checks on them (swift_beginAccess, a thread-local access
// set) cost 5.4k user-space instructions per check, 4% of all (docs/BENCHMARKS.md). Release
// builds of the engine's modules leave them out; debug builds, which every test runs, keep them,
// so an overlapping access is still caught by the test suite. The compile-time checks stay.
let enginePath: [SwiftSetting] =
    crossModuleOptimization + [
        .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
    ]

let package = Package(
    name: "Lookout",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lookout-engine", targets: ["LookoutEngine"]),
        .executable(name: "lookout-control", targets: ["LookoutControl"]),
        .executable(name: "lookout-bench", targets: ["LookoutBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .target(
            name: "CEngineShims",
            path: "Sources/CEngineShims",
            linkerSettings: [
                .linkedLibrary("ev"),
                .linkedLibrary("curl"),
                .linkedLibrary("cares"),
                .linkedLibrary("ssl"),
                .linkedLibrary("crypto"),
                .linkedLibrary("pq"),
                .linkedLibrary("hiredis"),
            ]
        ),
        .target(
            name: "LookoutCore",
            path: "Sources/Core",
            swiftSettings: enginePath
        ),
        .target(
            name: "LookoutFFI",
            dependencies: ["CEngineShims", "LookoutCore"],
            path: "Sources/FFI",
            swiftSettings: enginePath
        ),
        .executableTarget(
            name: "LookoutEngine",
            dependencies: [
                "LookoutFFI",
                "LookoutCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Engine",
            swiftSettings: enginePath
        ),
        .executableTarget(
            name: "LookoutControl",
            dependencies: [
                "LookoutFFI",
                "LookoutCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            path: "Sources/Control",
            resources: [.copy("Resources/openapi.json"), .copy("Resources/Web")]
        ),
        .executableTarget(
            name: "LookoutBench",
            dependencies: [
                "LookoutCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            path: "Sources/Bench"
        ),
        // Shared by the test targets: the test PostgreSQL (a private schema per test), the test
        // Redis, and the built binaries for end-to-end tests.
        .target(
            name: "LookoutTestSupport",
            dependencies: ["LookoutFFI", "LookoutCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: ["LookoutCore"],
            path: "Tests/CoreTests"
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["LookoutTestSupport", "LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/EngineTests"
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["LookoutTestSupport", "LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/ClusterTests"
        ),
        .testTarget(
            name: "PersistenceTests",
            dependencies: ["LookoutTestSupport", "LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/PersistenceTests"
        ),
        .testTarget(
            name: "BenchTests",
            dependencies: ["LookoutBench", "LookoutCore"],
            path: "Tests/BenchTests"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["LookoutTestSupport", "LookoutCore"],
            path: "Tests/IntegrationTests",
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ControlTests",
            dependencies: [
                "LookoutTestSupport",
                "LookoutControl",
                "LookoutFFI",
                "LookoutCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/ControlTests",
            exclude: ["Fixtures", "Browser"]
        ),
    ]
)
