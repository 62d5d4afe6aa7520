import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import LookoutTestSupport
#endif

/// What a new user meets: messages that name the flag at fault, the start-up line, the signal
/// line, refused monitors files, and results a person can read on a terminal.
@Suite("Engine command line", .blocksThreads, .serialized)
struct EngineCommandLineTests {
    static let oneMonitor = #"{"id":"local","url":"http://127.0.0.1:9/"}"# + "\n"

    @Test(
        "an empty or comments-only monitors file is refused with a clear error",
        arguments: ["", "\n\n", "# nothing yet\n\n   # still nothing\n"]
    )
    func emptyMonitorsFileIsRefused(text: String) throws {
        let run = try EngineProcess.run(["--monitors", "monitors.jsonl", "--once"], monitorsText: text)
        #expect(run.status == 2, "stderr: \(run.standardError)")
        #expect(run.standardError.contains("has no monitors"), "\(run.standardError)")
        #expect(run.standardError.contains(#"{"id":"#), "the message shows a line to write: \(run.standardError)")
    }

    @Test("a file of only invalid lines is refused even with --skip-invalid")
    func onlyInvalidLinesAreRefused() throws {
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once", "--skip-invalid"], monitorsText: #"{"id":"a"}"# + "\n")
        #expect(run.status == 2, "stderr: \(run.standardError)")
        #expect(run.standardError.contains("none of its monitor lines is valid"), "\(run.standardError)")
    }

    @Test("a JSON error names the line and the column; a trailing comma and a lower-case method are refused")
    func strictMonitorsFile() throws {
        let text = """
            {"id":"a","url":"http://127.0.0.1:9/",}
            {"id":"b","url":"http://127.0.0.1:9/","method":"get"}
            {"id":"c","url":"http://127.0.0.1:9/","timeout":500}
            """
        let run = try EngineProcess.run(["--monitors", "monitors.jsonl", "--once"], monitorsText: text)
        #expect(run.status == 2, "stderr: \(run.standardError)")
        for fragment in [
            "line 1, column 39: trailing comma before }: remove the comma",
            #"line 2: method: 'get' must be written in capitals: "GET""#,
            "line 3: timeout: unknown field (did you mean 'timeoutMs'?)",
        ] {
            #expect(run.standardError.contains(fragment), "stderr names '\(fragment)': \(run.standardError)")
        }
    }

    @Test(
        "a bad number names the flag and the value, even when it is negative",
        arguments: [
            (["--loops", "-1"], "--loops must be 1...256, got -1"),
            (["--max-in-flight", "-5"], "--max-in-flight must be 1...100000, got -5"),
            (["--max-per-host", "-1"], "--max-per-host must be 0...100000 (0: no limit), got -1"),
            (["--schedule-slack-ms", "-1"], "--schedule-slack-ms must be 0...1000, got -1"),
            (["--schedule-slack-ms", "1001"], "--schedule-slack-ms must be 0...1000, got 1001"),
            (["--metrics-port", "-1"], "--metrics-port must be 0...65535 (0: any free port), got -1"),
            (["--duration", "-2"], "--duration must be a positive number of seconds, got -2.0"),
        ]
    )
    func negativeNumbersReachValidation(arguments: [String], message: String) throws {
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once"] + arguments, monitorsText: Self.oneMonitor)
        #expect(run.status == 64, "usage error: \(run.standardError)")
        #expect(run.standardError.contains(message), "\(run.standardError)")
        #expect(!run.standardError.contains("Missing value"), "\(run.standardError)")
    }

    @Test("a metrics address this machine does not have is blamed, not the port")
    func foreignMetricsAddressIsBlamed() throws {
        // Binding fails locally (the address is not ours): nothing is sent anywhere.
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once", "--metrics-address", "192.0.2.1", "--metrics-port", "0"],
            monitorsText: Self.oneMonitor)
        #expect(run.status == 2, "stderr: \(run.standardError)")
        #expect(run.standardError.contains("--metrics-address 192.0.2.1: not an address of this machine"))
        #expect(!run.standardError.contains("--metrics-port"), "\(run.standardError)")
        let word = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once", "--metrics-address", "localhost"], monitorsText: Self.oneMonitor)
        #expect(word.status == 64)
        #expect(word.standardError.contains("--metrics-address 'localhost' must be an IPv4 address"))
    }

    @Test("the start-up line names the metrics URL with the port it got; SIGINT says the checks in flight drain")
    func startUpAndSignalLines() throws {
        try withFarm { farm in
            let monitors = (0..<4).map {
                #"{"id":"slow-\#($0)","url":"\#(farm.url(path: "/delay/4000"))","intervalSeconds":4,"timeoutMs":8000}"#
            }
            let engine = try EngineProcess(
                arguments: [
                    "--monitors", "monitors.jsonl", "--allow-private-targets", "--metrics-port", "0", "--loops", "1",
                ],
                monitorsText: monitors.joined(separator: "\n") + "\n")
            #expect(engine.waitForStandardError(containing: "/metrics\n"), "\(engine.standardError)")
            let line = engine.standardError.split(separator: "\n").first { $0.contains("metrics on http://") }
            let url = try #require(line.flatMap { $0.split(separator: " ").last }.map(String.init))
            #expect(url.hasPrefix("http://127.0.0.1:") && !url.hasPrefix("http://127.0.0.1:0/"), "\(url)")
            let port = try #require(Int(url.dropFirst("http://127.0.0.1:".count).prefix { $0.isNumber }))
            let scrape = try HTTPProbe.get(host: "127.0.0.1", port: port, path: "/metrics").requireResponse()
            #expect(scrape.status == 200)
            #expect(scrape.text.contains("lookout_engine_monitors 4"), "\(scrape.text.prefix(400))")
            // Each check takes 4 s, one interval: wait until all four are in flight, then stop.
            #expect(
                eventually {
                    (try? HTTPProbe.get(host: "127.0.0.1", port: port, path: "/metrics"))?.response?.text
                        .contains("lookout_engine_checks_in_flight 4") == true
                })
            engine.send(SIGINT)
            #expect(engine.waitForStandardError(containing: "SIGINT: no new checks"), "\(engine.standardError)")
            #expect(
                engine.standardError.range(of: #"draining [1-4] check\(s\) in flight"#, options: .regularExpression)
                    != nil,
                "\(engine.standardError)")
            #expect(engine.standardError.contains("another SIGINT or SIGTERM exits at once"))
            #expect(engine.waitForExit() == 0, "\(engine.standardError)")
        }
    }

    @Test("each thread of a running engine carries its name, for top -H, ps -L and perf")
    func threadsAreNamed() throws {
        try withFarm { farm in
            let engine = try EngineProcess(
                arguments: [
                    "--monitors", "monitors.jsonl", "--allow-private-targets", "--metrics-port", "0", "--loops", "2",
                ],
                // Two monitors: the engine makes no more loops than it has monitors.
                monitorsText: (0..<2).map {
                    #"{"id":"named-\#($0)","url":"\#(farm.url(path: "/ok"))","intervalSeconds":60}"#
                }.joined(separator: "\n") + "\n")
            #expect(engine.waitForStandardError(containing: "/metrics\n"), "\(engine.standardError)")
            // The results writer starts last of them; every thread names itself as it starts.
            #expect(
                eventually {
                    Set(["lookout-loop-0", "lookout-loop-1", "lookout-results", "lookout-metrics"])
                        .isSubset(of: engine.threadNames)
                }, "\(engine.threadNames)")
            engine.send(SIGTERM)
            #expect(engine.waitForExit() == 0, "\(engine.standardError)")
        }
    }

    @Test("--results - writes a table with --format table and JSON Lines by default when not a terminal")
    func tableFormat() throws {
        try withFarm { farm in
            let text = [
                #"{"id":"fine","url":"\#(farm.url(path: "/ok"))"}"#,
                #"{"id":"broken-service","url":"\#(farm.url(path: "/status/503"))"}"#,
            ].joined(separator: "\n")
            let table = try EngineProcess.run(
                [
                    "--monitors", "monitors.jsonl", "--once", "--allow-private-targets", "--results", "-", "--format",
                    "table",
                ],
                monitorsText: text)
            #expect(table.status == 1, "\(table.standardError)")
            let lines = table.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(table.standardOutput)")
            #expect(!table.standardOutput.contains("\u{1B}["), "no colour when stdout is not a terminal")
            let fine = try #require(lines.first { $0.contains("fine") })
            let broken = try #require(lines.first { $0.contains("broken-service") })
            // time  monitor  status  HTTP status  total ms  [error]
            #expect(
                fine.range(of: #"^\d\d:\d\d:\d\d\.\d\d\d  fine +UP +200 +\d+\.\d ms$"#, options: .regularExpression)
                    != nil, "\(fine)")
            #expect(
                broken.range(
                    of: #"^\d\d:\d\d:\d\d\.\d\d\d  broken-service +DOWN +503 +\d+\.\d ms  status_mismatch: "#,
                    options: .regularExpression) != nil, "\(broken)")

            let json = try EngineProcess.run(
                ["--monitors", "monitors.jsonl", "--once", "--allow-private-targets", "--results", "-"],
                monitorsText: text)
            for line in json.standardOutput.split(separator: "\n") {
                #expect(line.hasPrefix(#"{"monitorId":"#), "JSON Lines when stdout is not a terminal: \(line)")
            }
            #expect(json.standardOutput.split(separator: "\n").count == 2)
        }
    }
}

/// A file large enough that the engine starts checking its first lines while it reads the rest.
@Suite("Engine start-up with a large monitors file", .blocksThreads, .serialized)
struct LargeMonitorsFileTests {
    /// `count` monitor lines (over 4 MiB in all) of a closed loopback port, checked once a day:
    /// they load but cost nothing while the test runs.
    static func idleLines(_ count: Int) -> [String] {
        (0..<count).map {
            #"{"id":"idle-\#($0)","url":"http://127.0.0.1:9/a/long/path/to/make/the/file/large/\#($0)","intervalSeconds":86400}"#
        }
    }

    @Test("the monitors of the last lines are checked too, and the start-up line counts every monitor")
    func lastLinesAreChecked() throws {
        var lines = Self.idleLines(50_000)
        for index in 0..<5 {
            lines.append(#"{"id":"late-\#(index)","url":"http://127.0.0.1:9/","intervalSeconds":0.5}"#)
        }
        let text = lines.joined(separator: "\n") + "\n"
        try #require(text.utf8.count > 4 << 20, "the file must be large enough to be read in two steps")
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--duration", "2", "--allow-private-targets", "--results", "-"],
            monitorsText: text, limit: 120)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardError.contains("50005 monitors on"), "\(run.standardError)")
        for index in 0..<5 {
            #expect(run.standardOutput.contains(#""monitorId":"late-\#(index)""#), "late-\(index) was checked")
        }
    }

    @Test("a bad line near the end refuses the whole file, and no result of a check made meanwhile is written")
    func badLastLineRefusesTheFile() throws {
        var lines = Self.idleLines(50_000)
        // Checked every 0.1 s from the start: results exist by the time the bad line is read.
        lines.insert(#"{"id":"busy","url":"http://127.0.0.1:9/","intervalSeconds":0.1}"#, at: 0)
        lines.append(#"{"id":"broken","url":"ftp://example.com/"}"#)
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--duration", "5", "--allow-private-targets", "--results", "-"],
            monitorsText: lines.joined(separator: "\n") + "\n", limit: 120)
        #expect(run.status == 2, "\(run.standardError)")
        #expect(run.standardError.contains("line 50002: url: scheme 'ftp' is not supported"), "\(run.standardError)")
        #expect(
            run.standardOutput.isEmpty, "nothing is reported from a refused file: \(run.standardOutput.prefix(300))")
    }

    /// `count` monitor lines of about 450 bytes each (10,000 make a file over 4 MiB), so that a
    /// `--once` run of the whole file stays short.
    static func paddedLines(_ count: Int, port: Int) -> [String] {
        let padding = String(repeating: "p", count: 400)
        return (0..<count).map { #"{"id":"m-\#($0)","url":"http://127.0.0.1:\#(port)/\#(padding)/\#($0)"}"# }
    }

    @Test("--once checks every monitor of a large file once, the last lines' too, and waits for them all")
    func onceChecksEveryMonitor() throws {
        let lines = Self.paddedLines(10_000, port: 9)
        let text = lines.joined(separator: "\n") + "\n"
        try #require(text.utf8.count > 4 << 20, "the file must be large enough to be read in two steps")
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once", "--allow-private-targets", "--results", "-"],
            monitorsText: text, limit: 300)
        // Port 9 refuses: not every check is UP.
        #expect(run.status == 1, "\(run.standardError)")
        #expect(run.standardError.contains("10000 monitors on"), "\(run.standardError)")
        let ids = run.standardOutput.split(separator: "\n").compactMap { line -> Substring? in
            guard let start = line.range(of: #""monitorId":""#)?.upperBound,
                let end = line[start...].firstIndex(of: "\"")
            else { return nil }
            return line[start..<end]
        }
        #expect(ids.count == 10_000, "one result per monitor")
        #expect(Set(ids).count == 10_000, "no monitor checked twice")
        #expect(ids.contains("m-9999"), "the last line's monitor was checked")
    }

    @Test("--once: a bad last line refuses the whole file and nothing is reported")
    func onceBadLastLineRefusesTheFile() throws {
        var lines = Self.paddedLines(10_000, port: 9)
        lines.append(#"{"id":"broken","url":"ftp://example.com/"}"#)
        let run = try EngineProcess.run(
            ["--monitors", "monitors.jsonl", "--once", "--allow-private-targets", "--results", "-"],
            monitorsText: lines.joined(separator: "\n") + "\n", limit: 300)
        #expect(run.status == 2, "\(run.standardError)")
        #expect(run.standardError.contains("line 10001: url: scheme 'ftp' is not supported"), "\(run.standardError)")
        #expect(run.standardOutput.isEmpty, "nothing is reported: \(run.standardOutput.prefix(300))")
    }
}

/// Polls `condition` every 20 ms until it holds (true) or `limit` seconds pass (false).
func eventually(limit: Double = 30, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(limit)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
