import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// The real `lookout-engine` binary against the bench farm and PostgreSQL.
@Suite(
    "End to end: lookout-engine with --database (real binaries)", .blocksThreads,
    .enabled(if: TestDatabase.enabled, TestDatabase.skipReason)
)
struct EndToEndTests {
    private func writeMonitors(_ farm: Farm, count: Int, interval: Double, to path: String) throws {
        let lines = (0..<count).map {
            "{\"id\":\"e2e-\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":\(interval)}"
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func summary(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("--once: the engine migrates, imports its monitors and writes one row per check")
    func onceWritesEveryCheck() throws {
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                try writeMonitors(farm, count: 300, interval: 60, to: directory + "/monitors.jsonl")
                let run = try Run.run(
                    "lookout-engine",
                    [
                        "--monitors", "monitors.jsonl", "--database", schema.url, "--once", "--allow-private-targets",
                        "--owner", "e2e@example.com", "--spill-dir", "spill", "--summary-json", "summary.json",
                    ],
                    in: directory
                )
                #expect(run.status == 0, "stderr: \(run.standardError)")
                #expect(run.standardError.contains("db rows written 300"))
                let figures = try summary(directory + "/summary.json")
                #expect(figures["checks"] as? Int == 300)
                let database = try #require(figures["database"] as? [String: Any])
                #expect(database["rowsWritten"] as? Int == 300)
                #expect(database["droppedRows"] as? Int == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == 300)
                #expect(try schema.count("SELECT count(DISTINCT monitor_id) FROM checks") == 300)
                #expect(
                    try schema.count(
                        "SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id JOIN users u ON u.id = m.owner_id WHERE u.email = 'e2e@example.com' AND c.status = 'UP' AND c.http_status = 200"
                    ) == 300
                )
                #expect(
                    try schema.scalar("SELECT max(version)::text FROM schema_migrations")
                        == String(LookoutSchema.latestVersion),
                    "every migration the binary knows was applied"
                )
            }
        }
    }

    @Test("http, tcp, dns and tls checks: rows with their timings, HTTP version, DNS answers and canonical urls")
    func checkKindsWriteTheirColumns() throws {
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                let monitors = [
                    #"{"id":"port","type":"tcp","host":"\#(farm.address)","port":\#(farm.httpPort)}"#,
                    #"{"id":"mx","type":"dns","name":"fixed.bench.test","recordType":"MX","server":"127.0.0.1:\#(farm.dnsPort)"}"#,
                    // The farm speaks plain HTTP: the handshake fails, the row says why.
                    #"{"id":"cert","type":"tls","host":"\#(farm.address)","port":\#(farm.httpPort)}"#,
                    #"{"id":"web","url":"\#(farm.url("/ok"))"}"#,
                ]
                try (monitors.joined(separator: "\n") + "\n").write(
                    toFile: directory + "/monitors.jsonl", atomically: true, encoding: .utf8)
                let run = try Run.run(
                    "lookout-engine",
                    [
                        "--monitors", "monitors.jsonl", "--database", schema.url, "--once", "--allow-private-targets",
                        "--spill-dir", "spill",
                    ],
                    in: directory
                )
                #expect(run.status != 0, "the tls check fails: \(run.standardError)")
                func value(_ column: String, of id: String) throws -> String? {
                    try schema.scalar(
                        "SELECT c.\(column)::text FROM checks c JOIN monitors m ON m.id = c.monitor_id WHERE m.external_id = '\(id)'"
                    )
                }
                #expect(try value("status", of: "port") == "UP")
                #expect(try Double(value("connect_ms", of: "port") ?? "0")! > 0)
                #expect(try value("dns_answers", of: "mx") == #"["10 mail.bench.test", "20 backup.bench.test"]"#)
                #expect(try Double(value("dns_ms", of: "mx") ?? "0")! > 0)
                #expect(try value("error_code", of: "cert") == "tls_handshake")
                #expect(try value("tls_issuer", of: "cert") == nil)
                #expect(try value("tls_resumed", of: "cert") == nil, "not an HTTPS check")
                #expect(try value("http_version", of: "port") == nil)
                #expect(try value("status", of: "web") == "UP")
                #expect(try value("http_version", of: "web") == "1.1")
                #expect(try value("tls_resumed", of: "web") == nil, "plain HTTP: no handshake")
                #expect(
                    try schema.scalar("SELECT url FROM monitors WHERE external_id = 'mx'")
                        == "dns://127.0.0.1:\(farm.dnsPort)/fixed.bench.test?type=MX")
                #expect(
                    try schema.scalar("SELECT url FROM monitors WHERE external_id = 'port'")
                        == "tcp://\(farm.address):\(farm.httpPort)")
            }
        }
    }

    @Test("HTTPS checks: tls_resumed is false after a full handshake and true when tlsSessionReuse resumed")
    func httpsChecksStoreResumption() throws {
        let farm = try Farm(https: true)
        defer { farm.stop() }
        let port = try #require(farm.httpsPort)
        let caFile = try #require(farm.caFile)
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                let url = "https://\(farm.address):\(port)/ok"
                let monitors = [
                    #"{"id":"full","url":"\#(url)","intervalSeconds":0.2}"#,
                    #"{"id":"reuse","url":"\#(url)","intervalSeconds":0.2,"tlsSessionReuse":true}"#,
                ]
                try (monitors.joined(separator: "\n") + "\n").write(
                    toFile: directory + "/monitors.jsonl", atomically: true, encoding: .utf8)
                let run = try Run.run(
                    "lookout-engine",
                    [
                        "--monitors", "monitors.jsonl", "--database", schema.url, "--duration", "1.5",
                        "--allow-private-targets", "--ca-file", caFile, "--loops", "1", "--spill-dir", "spill",
                    ],
                    in: directory
                )
                #expect(run.status == 0, "\(run.standardError)")
                func rows(of id: String, where condition: String) throws -> Int {
                    try schema.count(
                        """
                        SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor_id
                        WHERE m.external_id = '\(id)' AND \(condition)
                        """)
                }
                let full = try rows(of: "full", where: "true")
                let reuse = try rows(of: "reuse", where: "true")
                #expect(full >= 4 && reuse >= 4, "\(full) and \(reuse) checks")
                #expect(
                    try rows(of: "full", where: "status = 'UP' AND http_version = '1.1' AND tls_resumed = false")
                        == full)
                #expect(try rows(of: "reuse", where: "status = 'UP' AND http_version = '1.1'") == reuse)
                // The first check of the reusing monitor has no session to resume yet.
                #expect(try rows(of: "reuse", where: "tls_resumed") >= reuse - 1)
                #expect(try rows(of: "reuse", where: "tls_resumed IS NULL") == 0)
            }
        }
    }

    @Test("PostgreSQL away for seconds mid-run: rows spill, drain, and every check is stored once")
    func databaseAwayMidRun() throws {
        let base = try TestDatabase.url()
        var components = try #require(URLComponents(string: base), "DATABASE_URL is not a URI: \(base)")
        let port = try #require(components.port, "DATABASE_URL has no port: \(base)")
        try #require(
            ["127.0.0.1", "localhost"].contains(components.host ?? ""),
            "the outage is made by a proxy on loopback: PostgreSQL must be on 127.0.0.1 (got \(base))")
        let proxy = try CuttableProxy(targetPort: port)
        defer { proxy.stop() }
        components.host = "127.0.0.1"
        components.port = proxy.port
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema { (schema: TestSchema) throws in
            let proxied = TestDatabase.url(components.string!, schema: schema.name)
            try withTemporaryDirectory { (directory: String) throws in
                try writeMonitors(farm, count: 200, interval: 0.5, to: directory + "/monitors.jsonl")
                let run = try Run.run(
                    "lookout-engine",
                    [
                        "--monitors", "monitors.jsonl", "--database", proxied, "--duration", "9",
                        "--allow-private-targets",
                        "--db-batch-rows", "200", "--db-batch-ms", "100", "--db-buffer-rows", "300",
                        "--spill-dir", "spill", "--summary-json", "summary.json",
                    ],
                    in: directory,
                    whileRunning: { _ in
                        sleep(3)
                        proxy.cut()
                        sleep(3)
                        proxy.restore()
                    }
                )
                #expect(run.status == 0, "stderr: \(run.standardError)")
                let figures = try summary(directory + "/summary.json")
                let checks = try #require(figures["checks"] as? Int)
                let database = try #require(figures["database"] as? [String: Any])
                #expect(checks > 1_500)
                #expect(database["droppedRows"] as? Int == 0)
                #expect((database["spilledRowsTotal"] as? Int ?? 0) > 0, "the outage should have spilled rows")
                #expect((database["writeErrors"] as? Int ?? 0) > 0)
                #expect(database["spilledRowsPending"] as? Int == 0)
                #expect(try schema.count("SELECT count(*) FROM checks") == checks)
                #expect(try schema.count("SELECT count(DISTINCT check_id) FROM checks") == checks)
                #expect(run.standardError.contains("work again"), "stderr: \(run.standardError)")
                let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/spill")) ?? []
                #expect(leftovers.filter { $0.hasSuffix(".copy") }.isEmpty)
                print(
                    "[persistence] database away 3 s: \(checks) checks, \(database["spilledRowsTotal"] ?? 0) rows spilled and drained, \(database["rowsDuplicate"] ?? 0) duplicates skipped, 0 dropped"
                )
            }
        }
    }

    @Test("lookout-engine import: refuses a bad file with line numbers, upserts a good one")
    func importCommand() throws {
        try withTestSchema(migrated: false) { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                try "{\"id\":\"a\",\"url\":\"http://127.0.0.1/\"}\n{\"id\":\"b\"}\nnope\n"
                    .write(toFile: directory + "/bad.jsonl", atomically: true, encoding: .utf8)
                let refused = try Run.run(
                    "lookout-engine",
                    ["import", "--database", schema.url, "--owner", "ops@example.com", "bad.jsonl"],
                    in: directory
                )
                #expect(refused.status == 2)
                #expect(refused.standardError.contains("line 2: url: is required"))
                #expect(refused.standardError.contains("line 3, column 1: unexpected 'n': expected a value"))
                let skipped = try Run.run(
                    "lookout-engine",
                    ["import", "--database", schema.url, "--owner", "ops@example.com", "--skip-invalid", "bad.jsonl"],
                    in: directory
                )
                #expect(skipped.status == 0, "stderr: \(skipped.standardError)")
                #expect(skipped.standardError.contains("1 inserted, 0 updated, 0 unchanged"))
                let again = try Run.run(
                    "lookout-engine",
                    ["import", "--database", schema.url, "--owner", "OPS@example.com", "--skip-invalid", "bad.jsonl"],
                    in: directory
                )
                #expect(again.standardError.contains("0 inserted, 0 updated, 1 unchanged"))
                let migrate = try Run.run(
                    "lookout-engine",
                    ["migrate", "--database", schema.url, "--retention-days", "30"],
                    in: directory
                )
                #expect(migrate.status == 0)
                #expect(migrate.standardError.contains("up to date"))
            }
        }
    }
}

@Suite(
    "Spill directory on disk only when rows spill", .blocksThreads,
    .enabled(if: TestDatabase.enabled, TestDatabase.skipReason)
)
struct SpillDirectoryCreationTests {
    @Test("a --database run whose database keeps up leaves no spill directory behind")
    func noSpillDirectoryWithoutSpilling() throws {
        let farm = try Farm()
        defer { farm.stop() }
        try withTestSchema { (schema: TestSchema) throws in
            try withTemporaryDirectory { (directory: String) throws in
                let lines = (0..<3).map { "{\"id\":\"nospill-\($0)\",\"url\":\"\(farm.url("/ok"))\"}" }
                try (lines.joined(separator: "\n") + "\n").write(
                    toFile: directory + "/monitors.jsonl", atomically: true, encoding: .utf8)
                let run = try Run.run(
                    "lookout-engine",
                    ["--monitors", "monitors.jsonl", "--database", schema.url, "--once", "--allow-private-targets"],
                    in: directory
                )
                #expect(run.status == 0, "stderr: \(run.standardError)")
                #expect(try schema.count("SELECT count(*) FROM checks") == 3)
                #expect(
                    !FileManager.default.fileExists(atPath: directory + "/.lookout-spill"),
                    "the default --spill-dir is made only when a row spills")
            }
        }
    }
}
