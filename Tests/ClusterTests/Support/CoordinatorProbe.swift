import Foundation
import Logging
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// A `ClusterCoordinator` under test, with everything it reported.
final class CoordinatorProbe: Sendable {
    let engineId: String
    let coordinator: ClusterCoordinator
    let owned = Locked<Set<Int>?>(nil)
    let changes = Locked<[MonitorChange]>([])
    let checkRequests = Locked<[CheckRequest]>([])
    /// Monitor changes and check requests as they arrived: `change <monitorId>`, `check <monitorId>`.
    let arrivals = Locked<[String]>([])
    let resumed = Locked<Int>(0)
    let logs = Locked<[String]>([])

    init(engineId: String, prefix: String, leaseMs: Int = 1500, redis: RedisEndpoint? = nil) throws {
        self.engineId = engineId
        let configuration = try ClusterCoordinator.Configuration(
            redis: try redis ?? RedisTest.endpoint(),
            contract: try ClusterContract(prefix: prefix),
            engineId: engineId,
            leaseMs: leaseMs,
            connectTimeoutSeconds: 1,
            commandTimeoutSeconds: Double(leaseMs) / 4000,
            backoff: try .init(initialSeconds: 0.05, maximumSeconds: 0.2)
        )
        let owned = self.owned
        let changes = self.changes
        let checkRequests = self.checkRequests
        let arrivals = self.arrivals
        let resumed = self.resumed
        let logs = self.logs
        coordinator = ClusterCoordinator(
            configuration: configuration,
            log: .collecting { level, message in
                logs.mutate { $0.append("\(Clock.monotonicMicros() / 1000 % 100_000) \(level): \(message)") }
            },
            onEvent: { event in
                switch event {
                case .ownedShardsChanged(let shards), .ownedShardsWillChange(let shards, _):
                    owned.set(shards)
                    logs.mutate {
                        $0.append("\(Clock.monotonicMicros() / 1000 % 100_000) event: owned \(shards.count)")
                    }
                case .monitorsChanged(let list):
                    changes.mutate { $0.append(contentsOf: list) }
                    arrivals.mutate { $0.append(contentsOf: list.map { "change \($0.monitorId)" }) }
                case .monitorNotificationsResumed: resumed.mutate { $0 += 1 }
                case .checksRequested(let list):
                    checkRequests.mutate { $0.append(contentsOf: list) }
                    arrivals.mutate { $0.append(contentsOf: list.map { "check \($0.monitorId)" }) }
                }
            }
        )
    }

    func start() throws { try coordinator.start() }

    var statistics: ClusterStatistics { coordinator.statistics }
}

/// Runs `body` with a fresh key prefix and deletes the prefix's keys afterwards, even on failure.
func withPrefix(_ name: String, _ body: (String) async throws -> Void) async throws {
    let prefix = RedisTest.uniquePrefix(name)
    do {
        try await body(prefix)
    } catch {
        try? await RedisTest.deleteKeys(prefix: prefix)
        throw error
    }
    try await RedisTest.deleteKeys(prefix: prefix)
}
