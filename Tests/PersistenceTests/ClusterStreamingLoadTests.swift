import Foundation
import Logging
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Synchronization
import Testing

@testable import LookoutEngine

/// A take-over loads its monitors from PostgreSQL in pages and the loops check each page while
/// the rest is read; every monitor is loaded once, invalid rows are skipped, and a change or a
/// "check now" that arrives in the middle of the load is applied after it, in order. Real
/// PostgreSQL, real check loops, the bench's farm on loopback; no Redis is needed (the events a
/// coordinator would send are delivered by the test).
@Suite(
    "Cluster mode: a take-over loads in pages and checks while it loads", .blocksThreads, .serialized,
    .enabled(if: TestDatabase.enabled, TestDatabase.skipReason))
struct ClusterStreamingLoadTests {
    @Test("the first page is checked before the rest is read; each monitor loaded once; a change mid-load is kept")
    func checksStartBeforeTheLoadEnds() throws {
        CurlGlobal.initialize()
        AresGlobal.initialize()
        try withTestSchema { schema in
            try withTemporaryDirectory { directory in
                let farm = try Farm()
                defer { farm.stop() }
                let monitorCount = 1_200
                // A long interval: each monitor is checked once, when it arrives (see the
                // hand-over instant below), so checks count loads.
                let lines = (0..<monitorCount).map {
                    "{\"id\":\"page-\($0)\",\"url\":\"\(farm.url("/ok"))\",\"intervalSeconds\":300}"
                }
                try ClusterModeTests.importMonitors(lines, into: schema, directory: directory)
                let connection = try schema.connect()
                let ids = try connection.execute("SELECT id FROM monitors ORDER BY id")
                let allIds = (0..<ids.rowCount).compactMap { ids.int64(row: $0, column: 0) }
                try #require(allIds.count == monitorCount)
                // One row made invalid by hand: logged and skipped, the others load.
                let invalidId = allIds[monitorCount / 2]
                try connection.execute(
                    "UPDATE monitors SET settings = '{\"maxRedirects\": \"many\"}' WHERE id = $1::bigint",
                    [String(invalidId)])

                let checked = Mutex<[String: [Int32]]>([:])
                let results = try ResultPipeline(path: nil)
                results.start { batch in
                    checked.withLock { seen in
                        for result in batch { seen[result.monitorId, default: []].append(result.httpStatus) }
                    }
                }
                let loopConfiguration = CheckLoop.Configuration(
                    maxInFlight: 64, policy: TargetPolicy(allowAll: true), caBundlePath: nil,
                    dnsServer: "127.0.0.1:\(farm.dnsPort)", dnsTimeoutMs: 500, dnsTries: 1,
                    dnsCache: DNSCache.Configuration(), once: false, userAgent: "test")
                let loops = try (0..<2).map {
                    try CheckLoop(index: $0, monitors: [], configuration: loopConfiguration, results: results)
                }
                let loopsFinished = DispatchGroup()
                for loop in loops {
                    loopsFinished.enter()
                    Thread {
                        loop.run()
                        loopsFinished.leave()
                    }.start()
                }
                defer {
                    for loop in loops { loop.requestStop() }
                    _ = loopsFinished.wait(timeout: .now() + 10)
                    _ = results.close()
                }
                let checksStarted: @Sendable () -> Int = {
                    loops.reduce(0) { $0 + $1.statistics.checksStarted.load(ordering: .relaxed) }
                }
                let brokenURL = farm.url("/status/503")

                let pageRows = 100
                let pages = Mutex<[[Int64]]>([])
                let firstPageChecked = Mutex<(checked: Bool, loadedThen: Int)?>(nil)
                let warnings = Mutex<[String]>([])
                let log = Logger.collecting(level: .warning) { _, message in
                    warnings.withLock { $0.append(message) }
                }
                // Filled in below, once the sync exists; read by the page hook on the sync thread.
                let syncBox = Mutex<ClusterMonitorSync?>(nil)
                let edited = allIds[3]
                let deleted = allIds[monitorCount - 1]
                var configuration = ClusterMonitorSync.Configuration(databaseURL: schema.url, reconcileSeconds: 600)
                configuration.pageRows = pageRows
                configuration.firstPageRows = pageRows
                configuration.pageHandedOver = { pageIds in
                    let isFirst = pages.withLock { seen in
                        seen.append(pageIds)
                        return seen.count == 1
                    }
                    guard isFirst, let sync = syncBox.withLock({ $0 }) else { return }
                    // The load waits here, after its first page: checks must start anyway.
                    let started = eventually(timeout: 20) { checksStarted() > 0 }
                    firstPageChecked.withLock {
                        $0 = (started, sync.monitorCount.load(ordering: .relaxed))
                    }
                    // Mid-load: one monitor of this page is edited, the last one deleted; the
                    // notifications and a "check now" of the edited one arrive in that order.
                    do {
                        let editor = try schema.connect()
                        try editor.execute(
                            "UPDATE monitors SET url = $1, updated_at = now() WHERE id = $2::bigint",
                            [brokenURL, String(edited)])
                        try editor.execute("DELETE FROM monitors WHERE id = $1::bigint", [String(deleted)])
                        let shards = try editor.execute(
                            "SELECT id, shard FROM monitors WHERE id = $1::bigint", [String(edited)])
                        let shard = Int(shards.int64(row: 0, column: 1) ?? 0)
                        sync.deliver(
                            .monitorsChanged([
                                MonitorChange(monitorId: String(edited), shard: shard, operation: .upsert),
                                MonitorChange(monitorId: String(deleted), shard: 0, operation: .delete),
                            ]))
                        sync.deliver(
                            .checksRequested([CheckRequest(monitorId: String(edited), shard: shard, requestId: "mid")]))
                    } catch {
                        Issue.record("editing the monitors mid-load failed: \(error)")
                    }
                }
                let sync = ClusterMonitorSync(configuration: configuration, loops: loops, log: log)
                syncBox.withLock { $0 = sync }
                sync.start()
                defer { sync.stop() }
                // A hand-over whose instant has just passed: every monitor is due when it arrives.
                sync.deliver(
                    .ownedShardsWillChange(
                        Set(0..<MonitorShard.count), atWallMicros: Clock.wallMicros() - 300_000_000))

                let expectedLoaded = monitorCount - 2  // the invalid row, the deleted one
                #expect(
                    eventually(timeout: 60) {
                        sync.monitorCount.load(ordering: .relaxed) == expectedLoaded
                            && checked.withLock { $0[String(edited)]?.contains(503) ?? false }
                    },
                    "all monitors loaded (\(sync.monitorCount.load(ordering: .relaxed)) of \(expectedLoaded)) and the edited one checked with its new URL"
                )
                let firstPage = firstPageChecked.withLock { $0 }
                #expect(firstPage?.checked == true, "a check started while only the first page was loaded")
                #expect(
                    firstPage?.loadedThen == pageRows,
                    "monitors loaded when the first check started: \(String(describing: firstPage))")

                let loadPages = pages.withLock { $0 }
                let pagedIds = loadPages.flatMap { $0 }
                // The load's own pages (the mid-load change re-reads one row in a page of its own).
                let loadIds = loadPages.count > 1 ? loadPages.dropLast().flatMap { $0 } : pagedIds
                #expect(
                    loadPages.count >= monitorCount / pageRows,
                    "read in pages of \(pageRows): \(loadPages.map(\.count))")
                #expect(loadPages.dropLast().allSatisfy { $0.count <= pageRows })
                #expect(Set(loadIds).count == loadIds.count, "no row read twice by the load")
                #expect(
                    Set(loadIds) == Set(allIds).subtracting([deleted]),
                    "every row read but the one deleted before its page was read")
                #expect(
                    loadPages.last == [edited],
                    "the change is handled after the load, alone: \(String(describing: loadPages.last))")

                // Every loaded monitor checked (a monitor whose phase falls just after the instant
                // may be checked twice: once late for the instant, once on time).
                #expect(
                    eventually(timeout: 30) { checked.withLock { $0.count } >= expectedLoaded },
                    "every loaded monitor checked: \(checked.withLock { $0.count })")
                let seen = checked.withLock { $0 }
                #expect(seen.count == expectedLoaded, "only loaded monitors are checked")
                #expect(seen[String(invalidId)] == nil, "the invalid row is not checked")
                #expect(seen[String(deleted)] == nil, "the monitor deleted mid-load is not checked")
                let editedChecks = seen[String(edited)] ?? []
                #expect(
                    editedChecks.first == 200 && editedChecks.last == 503,
                    "edited: the old definition first, the new one on request: \(editedChecks)")
                #expect(
                    warnings.withLock { $0 }.contains {
                        $0.contains("monitor \(invalidId)") && $0.contains("maxRedirects")
                    },
                    "the invalid row is logged with its field: \(warnings.withLock { $0 })")
            }
        }
    }
}

/// The quick reader of stored settings agrees with `MonitorRecord.monitor()` on every monitor it
/// accepts, and leaves every other form to it.
@Suite("StoredMonitorDecoder")
struct StoredMonitorDecoderTests {
    /// `settings` as PostgreSQL prints jsonb: a blank after every `:` and `,` outside strings.
    private static func postgresText(_ json: String) -> String {
        var out = ""
        var inString = false
        var escaped = false
        for character in json {
            out.append(character)
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
            } else if character == "\"" {
                inString = true
            } else if character == ":" || character == "," {
                out.append(" ")
            }
        }
        return out
    }

    private static func quick(_ record: MonitorRecord) -> Monitor? {
        let columns = StoredMonitorDecoder.Columns(
            externalId: record.externalId, url: record.url, method: record.method,
            intervalSeconds: record.intervalSeconds, timeoutMs: record.timeoutMs,
            connectTimeoutMs: record.connectTimeoutMs)
        return Array(record.settingsJSON.utf8).withUnsafeBytes {
            StoredMonitorDecoder.monitor(columns, settings: $0)?.monitor
        }
    }

    @Test("every stored form of an HTTP monitor reads back equal to the full reader's")
    func agreesWithTheFullReader() throws {
        let monitors = [
            Monitor(id: "plain", url: "http://127.0.0.1:8080/"),
            Monitor(
                id: "everything", url: "https://example.com/health?x=1", intervalSeconds: 0.5, timeoutMs: 3000,
                connectTimeoutMs: 1000, method: "POST", headers: ["X-Token": "abc", "Accept": "application/json"],
                body: "{}", expectedStatus: [200, 204], keyword: "ok", keywordAbsent: "error", jsonPath: "$.status",
                jsonEquals: "green", followRedirects: false, maxRedirects: 2, verifyTLS: false, maxBodyBytes: 4096,
                lowSpeedBytesPerSecond: 10, lowSpeedSeconds: 3, reuseConnection: true, tlsSessionReuse: true,
                tlsFullHandshakeSeconds: 600, httpVersion: .automatic, acceptEncoding: true),
            Monitor(id: "ünïcödé-id", url: "http://example.com/p%C3%A4th", keyword: "grüße", httpVersion: .http2),
        ]
        for monitor in monitors {
            var record = MonitorRecord(monitor)
            for text in [record.settingsJSON, Self.postgresText(record.settingsJSON)] {
                record.settingsJSON = text
                let full = try record.monitor()
                let quick = try #require(Self.quick(record), "read quickly: \(text)")
                #expect(quick == full, "\(text)")
            }
        }
    }

    @Test("forms it does not handle are left to the full reader")
    func leavesOtherFormsToTheFullReader() throws {
        let base = MonitorRecord(Monitor(id: "m", url: "http://127.0.0.1/"))
        let others = [
            #"{"type": "tcp", "host": "127.0.0.1", "port": 22}"#,  // another kind
            #"{"keyword": "say \"hi\""}"#,  // an escaped string
            #"{"maxRedirects": 2.5}"#,  // a fraction (refused by the full reader, with the field)
            #"{"maxRedirects": "many"}"#,  // a wrong type
            #"{"maxRedirects": null}"#,  // null
            #"{"followRedirect": true}"#,  // an unknown key (the full reader suggests the right one)
            #"{"method": "GET"}"#,  // a column as a setting
            #"{"maxRedirects": 2, "maxRedirects": 3}"#,  // a repeated key
            #"{"jsonEquals": 5}"#,  // a number where the full reader renders text
            #"{"maxBodyBytes": -1}"#,  // valid JSON, refused by validate(): worded by the full reader
            #"{"headers": {"X": 1}}"#,  // a header value that is not a string
            #"{} x"#,  // trailing text
        ]
        for settings in others {
            var record = base
            record.settingsJSON = settings
            #expect(Self.quick(record) == nil, "\(settings)")
        }
        var lowerCase = base
        lowerCase.method = "get"
        #expect(Self.quick(lowerCase) == nil, "a method in lower case gets the full reader's advice")
        var empty = base
        empty.settingsJSON = "{}"
        #expect(Self.quick(empty) == (try empty.monitor()), "an empty object: every default")
    }

    @Test("the default settings document, which a page reads back as NULL, means what {} means")
    func defaultSettingsReadAsEmpty() throws {
        // What the importer and the API store for an HTTP monitor with every setting at its default.
        let stored = MonitorRecord(Monitor(id: "m", url: "https://example.com/x", timeoutMs: 2000, method: "HEAD"))
        #expect(stored.settingsJSON == MonitorPageDecoding.defaultHTTPSettings)
        var empty = stored
        empty.settingsJSON = "{}"
        #expect(try empty.monitor() == stored.monitor())
        #expect(Self.quick(empty) == (try stored.monitor()))
        // A monitor with one setting changed is not the default document.
        let keyword = MonitorRecord(Monitor(id: "m", url: "https://example.com/x", keyword: "ok"))
        #expect(keyword.settingsJSON != MonitorPageDecoding.defaultHTTPSettings)
    }

    @Test("checked under the database id: that id from the start, and the external id still held to validate()'s rules")
    func checkedUnderTheDatabaseId() throws {
        let settings = Array(MonitorPageDecoding.defaultHTTPSettings.utf8)
        func read(externalId: String) -> ValidatedMonitor? {
            let columns = StoredMonitorDecoder.Columns(
                externalId: externalId, url: "http://127.0.0.1:8080/", method: "GET", intervalSeconds: 30,
                timeoutMs: 2000, connectTimeoutMs: 1000)
            return settings.withUnsafeBytes { StoredMonitorDecoder.monitor(columns, settings: $0, checkedAs: "4711") }
        }
        let accepted = try #require(read(externalId: "api-health"))
        var expected = try MonitorRecord(
            externalId: "api-health", url: "http://127.0.0.1:8080/", method: "GET", intervalSeconds: 30,
            timeoutMs: 2000, connectTimeoutMs: 1000, settingsJSON: MonitorPageDecoding.defaultHTTPSettings
        ).monitor()
        expected.id = "4711"
        #expect(accepted.monitor == expected)
        // An external id validate() refuses is left to the full reader, which words the refusal.
        #expect(read(externalId: "") == nil)
        #expect(read(externalId: "bad\u{7}id") == nil)
        #expect(read(externalId: String(repeating: "x", count: 201)) == nil)
    }
}
