import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutEngine

@Suite("Monitor import (real PostgreSQL)", .blocksThreads, .enabled(if: TestDatabase.enabled, TestDatabase.skipReason))
struct MonitorImporterTests {
    private func monitors(_ count: Int, interval: Double = 30) -> [Monitor] {
        (0..<count).map { Monitor(id: "m-\($0)", url: "http://127.0.0.1:8080/\($0)", intervalSeconds: interval) }
    }

    @Test("upserts by (owner, external id) and reports inserted / updated / unchanged")
    func upsertCounts() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let importer = MonitorImporter()
            let first = try importer.importMonitors(
                monitors(5),
                ownerEmail: "Ops@Example.com",
                connection: try schema.connect()
            )
            #expect(first.ownerCreated)
            #expect((first.inserted, first.updated, first.unchanged) == (5, 0, 0))
            #expect(first.ids.count == 5)

            // Same file again, owner spelled differently: nothing changes, the ids stay.
            let again = try importer.importMonitors(
                monitors(5),
                ownerEmail: "ops@example.COM",
                connection: try schema.connect()
            )
            #expect(!again.ownerCreated)
            #expect(again.ownerId == first.ownerId)
            #expect((again.inserted, again.updated, again.unchanged) == (0, 0, 5))
            #expect(again.ids == first.ids)

            // One changed, one new.
            var changed = monitors(6)
            changed[2].url = "http://127.0.0.1:8080/changed"
            changed[3].headers = ["X-Tab": "a\tb"]
            let third = try importer.importMonitors(
                changed,
                ownerEmail: "ops@example.com",
                connection: try schema.connect()
            )
            #expect((third.inserted, third.updated, third.unchanged) == (1, 2, 3))
            #expect(try schema.count("SELECT count(*) FROM monitors") == 6)
            #expect(try schema.count("SELECT count(*) FROM users") == 1)

            // What is stored reads back as the same monitor, with the shared shard function.
            let row = try schema.connect().execute(
                """
                SELECT external_id, url, method, interval_seconds, timeout_ms, connect_timeout_ms, settings::text, shard, name
                FROM monitors WHERE external_id = 'm-3'
                """
            )
            let record = MonitorRecord(
                externalId: row.string(row: 0, column: 0)!,
                url: row.string(row: 0, column: 1)!,
                method: row.string(row: 0, column: 2)!,
                intervalSeconds: Double(row.string(row: 0, column: 3)!)!,
                timeoutMs: Int(row.string(row: 0, column: 4)!)!,
                connectTimeoutMs: Int(row.string(row: 0, column: 5)!)!,
                settingsJSON: row.string(row: 0, column: 6)!
            )
            #expect(try record.monitor() == changed[3])
            #expect(
                Int16(row.string(row: 0, column: 7)!) == MonitorShard.shard(ownerId: first.ownerId, externalId: "m-3")
            )
            #expect(row.string(row: 0, column: 8) == "m-3")

            // Another owner gets its own monitors with the same external ids.
            let other = try importer.importMonitors(
                monitors(2),
                ownerEmail: "b@example.com",
                connection: try schema.connect()
            )
            #expect(other.inserted == 2 && other.ownerId != first.ownerId)
            #expect(Set(other.ids.values).isDisjoint(with: first.ids.values))
        }
    }

    @Test("a bad file is refused with every bad line; --skip-invalid imports the rest")
    func refusesBadFile() throws {
        try withTemporaryDirectory { (directory: String) throws in
            let path = directory + "/monitors.jsonl"
            let text = """
                {"id":"ok-1","url":"http://127.0.0.1/"}
                {"id":"no-url"}
                # a comment
                {"id":"ftp","url":"ftp://127.0.0.1/"}
                {"id":"ok-2","url":"http://127.0.0.1/","intervalSeconds":5}
                not json
                {"id":"ok-1","url":"http://127.0.0.1/dup"}

                """
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try MonitorImporter.load(path: path, skipInvalid: false)
                Issue.record("a bad file was accepted")
            } catch let error as ImportError {
                guard case .invalidMonitors(let lines) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(
                    lines.map { $0.split(separator: ":").first.map(String.init) ?? "" } == [
                        "line 2", "line 4", "line 6, column 1", "line 7",
                    ]
                )
                #expect(error.description.contains("--skip-invalid"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
            let (valid, skipped) = try MonitorImporter.load(path: path, skipInvalid: true)
            #expect(valid.map(\.id) == ["ok-1", "ok-2"])
            #expect(skipped.count == 4)
            #expect(throws: ImportError.self) {
                try MonitorImporter.load(path: directory + "/missing", skipInvalid: false)
            }
        }
    }

    @Test("owners must be e-mail addresses")
    func ownerValidation() throws {
        #expect(MonitorImporter.isValidEmail("a@b"))
        #expect(!MonitorImporter.isValidEmail("ab"))
        #expect(!MonitorImporter.isValidEmail("a b@c"))
        #expect(!MonitorImporter.isValidEmail("@c"))
        #expect(!MonitorImporter.isValidEmail("a@b@c"))
        try withTestSchema { (schema: TestSchema) throws in
            let connection = try schema.connect()
            #expect(throws: ImportError.self) {
                try MonitorImporter().importMonitors([], ownerEmail: "nobody", connection: connection)
            }
            return
        }
    }

    @Test("20,000 monitors import in one transaction (timing printed)")
    func largeImport() throws {
        try withTestSchema { (schema: TestSchema) throws in
            let fleet = monitors(20_000)
            let started = Date()
            let outcome = try MonitorImporter().importMonitors(
                fleet,
                ownerEmail: "big@example.com",
                connection: try schema.connect()
            )
            let seconds = Date().timeIntervalSince(started)
            #expect(outcome.inserted == 20_000 && outcome.ids.count == 20_000)
            let again = Date()
            let second = try MonitorImporter().importMonitors(
                fleet,
                ownerEmail: "big@example.com",
                connection: try schema.connect()
            )
            #expect(second.unchanged == 20_000)
            print(
                "[persistence] import 20000 monitors: \(String(format: "%.2f", seconds)) s new, \(String(format: "%.2f", Date().timeIntervalSince(again))) s unchanged (debug build, upsert only)"
            )
        }
    }
}
