import Foundation
import LookoutCore
import LookoutFFI
import Testing

@testable import LookoutEngine

/// The README lists every metric the engine exports, with its type: this fails when a metric is
/// added, renamed or retyped without the table, or the table lists one that does not exist.
@Suite("Engine metrics documentation")
struct MetricsDocumentationTests {
    @Test("every exported metric is in the README's tables with its type, and nothing else is")
    func readmeListsEveryMetric() throws {
        CurlGlobal.initialize()
        AresGlobal.initialize()
        let results = try ResultPipeline(path: nil)
        results.start()
        defer { results.close() }
        let loop = try CheckLoop(
            index: 0, monitors: [],
            configuration: CheckLoop.Configuration(
                maxInFlight: 1, policy: TargetPolicy(), caBundlePath: nil, dnsServer: "127.0.0.1:9", dnsTimeoutMs: 200,
                dnsTries: 1, dnsCache: DNSCache.Configuration(), once: true, userAgent: "test"),
            results: results)
        let source = MetricsSource(
            loops: [loop], results: results, startedMonotonic: Clock.monotonicMicros(),
            writer: CheckWriterStatistics(), cluster: ClusterStatistics())
        var exported: [String: String] = [:]
        for line in source.render().split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            exported[String(parts[2])] = String(parts[3])
        }
        #expect(exported.count > 30, "\(exported.keys.sorted())")

        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8)
        var documented: [String: String] = [:]
        for line in readme.split(separator: "\n")
        where line.hasPrefix("| `lookout_engine_") || line.hasPrefix("| `process_") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            var name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            if let brace = name.firstIndex(of: "{") { name = String(name[..<brace]) }
            documented[name] = cells[1]
        }
        #expect(
            documented == exported,
            "README vs /metrics: missing \(Set(exported.keys).subtracting(documented.keys).sorted()), extra \(Set(documented.keys).subtracting(exported.keys).sorted())"
        )
    }
}
