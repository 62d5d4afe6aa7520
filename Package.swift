// swift-tools-version: 6.0
//
// Lookout: uptime and HTTP health checks at scale.
// Module map (see README "Architecture"); imports run one way:
//   CEngineShims    C shims over libev, libcurl, c-ares, libpq, hiredis (macros and variadics Swift cannot call)
//   LookoutFFI      the Swift owners of those C handles; the only module that imports CEngineShims
//   LookoutCore     contracts shared by every process (monitor model, check result, Redis names, schema)
//   LookoutEngine   the check engine process, product `lookout-engine` (FFI + Core, no NIO)
//   LookoutBench    target farm, DNS server, load driver, capacity reports, product `lookout-bench`
// Engine and Control never import each other: they meet only through PostgreSQL and Redis.
import PackageDescription

let package = Package(
    name: "Lookout",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lookout-engine", targets: ["LookoutEngine"]),
        .executable(name: "lookout-bench", targets: ["LookoutBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
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
            path: "Sources/Core"
        ),
        .target(
            name: "LookoutFFI",
            dependencies: ["CEngineShims", "LookoutCore"],
            path: "Sources/FFI"
        ),
        .executableTarget(
            name: "LookoutEngine",
            dependencies: [
                "LookoutFFI",
                "LookoutCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Engine"
        ),
        .executableTarget(
            name: "LookoutBench",
            dependencies: [
                "LookoutCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/Bench"
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: ["LookoutCore"],
            path: "Tests/CoreTests"
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/EngineTests"
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/ClusterTests"
        ),
        .testTarget(
            name: "PersistenceTests",
            dependencies: ["LookoutEngine", "LookoutFFI", "LookoutCore"],
            path: "Tests/PersistenceTests"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["LookoutCore"],
            path: "Tests/IntegrationTests",
            exclude: ["Fixtures"]
        ),
    ]
)
