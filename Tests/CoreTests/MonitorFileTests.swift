import Foundation
import Testing

@testable import LookoutCore

private func parse(_ lines: [String], terminator: String = "\n") -> MonitorFile.Parsed {
    MonitorFile.parse(Data(lines.joined(separator: terminator).utf8))
}

/// Parses a one-line file whose single object is `{"id":"m","url":"https://example.com/",<extra>}`
/// (without the default `id` or `url` when `extra` starts with its own: a key may appear once).
private func parseOne(_ extra: String) -> MonitorFile.Parsed {
    var fields: [String] = []
    if !extra.hasPrefix(#""id":"#) { fields.append(#""id":"m""#) }
    if !extra.hasPrefix(#""url":"#) { fields.append(#""url":"https://example.com/""#) }
    if !extra.isEmpty { fields.append(extra) }
    return parse(["{" + fields.joined(separator: ",") + "}"])
}

@Suite("MonitorFile (JSON Lines)")
struct MonitorFileTests {
    @Test("reads one monitor per line with documented defaults for missing fields")
    func readsMonitorsWithDefaults() throws {
        let parsed = parse([
            #"{"id":"a","url":"https://a.example/health"}"#,
            #"{"id":"b","url":"http://b.example/","intervalSeconds":30}"#,
        ])
        #expect(parsed.errors.isEmpty)
        #expect(parsed.monitors.map(\.id) == ["a", "b"])
        #expect(parsed.monitors[0] == Monitor(id: "a", url: "https://a.example/health"))
        #expect(parsed.monitors[1].intervalSeconds == 30)
    }

    @Test("reads every field")
    func readsEveryField() throws {
        let line = """
            {"id":"full","url":"https://example.com/h","intervalSeconds":2.5,"timeoutMs":8000,\
            "connectTimeoutMs":2000,"method":"POST","headers":{"Content-Type":"application/json","X-Empty":""},\
            "body":"{}","expectedStatus":[200,201],"keyword":"ok","keywordAbsent":"error",\
            "jsonPath":"$.status","jsonEquals":"up","followRedirects":false,"maxRedirects":2,"verifyTLS":false,\
            "maxBodyBytes":4096,"lowSpeedBytesPerSecond":100,"lowSpeedSeconds":5,"reuseConnection":true,\
            "tlsSessionReuse":true,"tlsFullHandshakeSeconds":600,"httpVersion":"auto","acceptEncoding":true}
            """
        let parsed = parse([line])
        #expect(parsed.errors.isEmpty)
        let expected = Monitor(
            id: "full",
            url: "https://example.com/h",
            intervalSeconds: 2.5,
            timeoutMs: 8000,
            connectTimeoutMs: 2000,
            method: "POST",
            headers: ["Content-Type": "application/json", "X-Empty": ""],
            body: "{}",
            expectedStatus: [200, 201],
            keyword: "ok",
            keywordAbsent: "error",
            jsonPath: "$.status",
            jsonEquals: "up",
            followRedirects: false,
            maxRedirects: 2,
            verifyTLS: false,
            maxBodyBytes: 4096,
            lowSpeedBytesPerSecond: 100,
            lowSpeedSeconds: 5,
            reuseConnection: true,
            tlsSessionReuse: true,
            tlsFullHandshakeSeconds: 600,
            httpVersion: .automatic,
            acceptEncoding: true
        )
        #expect(parsed.monitors == [expected])
    }

    @Test("skips blank lines, whitespace-only lines and # comments but keeps counting lines")
    func skipsBlankLinesAndComments() {
        let parsed = parse([
            "# monitors for the EU region",
            "",
            "   ",
            "\t",
            "  # an indented comment",
            #"{"id":"a","url":"https://a.example/"}"#,
            "",
            "not json",
        ])
        #expect(parsed.monitors.map(\.id) == ["a"])
        #expect(parsed.errors.map(\.line) == [8])
        #expect(parsed.errors.first?.column == 1)
    }

    @Test("an empty file has no monitors and no errors")
    func emptyFile() {
        let parsed = MonitorFile.parse(Data())
        #expect(parsed.monitors.isEmpty)
        #expect(parsed.errors.isEmpty)
    }

    @Test("a trailing newline, a missing final newline and CRLF line ends all work")
    func lineEndings() {
        let a = #"{"id":"a","url":"https://a.example/"}"#
        let b = #"{"id":"b","url":"https://b.example/"}"#
        for text in ["\(a)\n\(b)\n", "\(a)\n\(b)", "\(a)\r\n\(b)\r\n", "\n\n\(a)\n\(b)\n\n"] {
            let parsed = MonitorFile.parse(Data(text.utf8))
            #expect(parsed.errors.isEmpty, "\(text.debugDescription)")
            #expect(parsed.monitors.map(\.id) == ["a", "b"], "\(text.debugDescription)")
        }
    }

    @Test("reports every bad line with its 1-based number, not just the first, and keeps the good ones")
    func reportsEveryBadLine() {
        let parsed = parse([
            #"{"id":"ok1","url":"https://example.com/"}"#,  // 1
            #"{"id":"bad-url","url":"ftp://example.com/"}"#,  // 2
            "",  // 3
            #"{"id":"ok2","url":"https://example.com/"}"#,  // 4
            #"{"id":"bad-interval","url":"https://example.com/","intervalSeconds":0}"#,  // 5
            "[1,2]",  // 6
            #"{"id":"ok3","url":"https://example.com/"}"#,  // 7
            "{",  // 8
        ])
        #expect(parsed.monitors.map(\.id) == ["ok1", "ok2", "ok3"])
        #expect(parsed.errors.map(\.line) == [2, 5, 6, 8])
        #expect(parsed.errors[0].reason.hasPrefix("url: scheme 'ftp'"))
        #expect(parsed.errors[1].reason == "intervalSeconds: must be between 0.1 and 86400 seconds")
        #expect(parsed.errors[2].reason == "line: must be a JSON object (one monitor per line)")
        #expect(parsed.errors[3].reason == "unexpected end of the line: the object is not closed with }")
        #expect(
            parsed.errors[3].description
                == "line 8, column 2: unexpected end of the line: the object is not closed with }")
    }

    @Test("a duplicate id is refused and names the line that first used it")
    func refusesDuplicateIds() {
        let parsed = parse([
            #"{"id":"a","url":"https://a.example/"}"#,
            "# comment",
            #"{"id":"b","url":"https://b.example/"}"#,
            #"{"id":"a","url":"https://other.example/"}"#,
            #"{"id":"a","url":"https://third.example/"}"#,
        ])
        #expect(parsed.monitors.map(\.url) == ["https://a.example/", "https://b.example/"])
        #expect(
            parsed.errors == [
                MonitorFile.LineError(line: 4, reason: "id 'a' already used on line 1"),
                MonitorFile.LineError(line: 5, reason: "id 'a' already used on line 1"),
            ]
        )
    }

    @Test(
        "a file read in pieces on several cores gives what one piece gives: order, line numbers, duplicates",
        arguments: [2, 3, 5, 8, 40])
    func piecesReadLikeOneFile(pieces: Int) {
        var lines: [String] = []
        for index in 0..<30 {
            switch index % 6 {
            case 0: lines.append(#"{"id":"m\#(index)","url":"https://a.example/\#(index)"}"#)
            case 1: lines.append("# comment \(index)")
            case 2: lines.append(#"{"id":"m0","url":"https://dup.example/"}"#)
            case 3: lines.append("")
            case 4: lines.append(#"{"id":"bad\#(index)","url":"ftp://x/"}"#)
            default: lines.append(#"{"id":"m\#(index)","url":"https://b.example/","#)
            }
        }
        let data = Data(lines.joined(separator: "\n").utf8)
        let whole = MonitorFile.parse(data, parallelism: 1)
        let cut = MonitorFile.parse(data, parallelism: pieces)
        #expect(whole.monitors.map(\.id) == ["m0", "m6", "m12", "m18", "m24"])
        #expect(whole.errors.count == 15)
        #expect(whole.errors.first == MonitorFile.LineError(line: 3, reason: "id 'm0' already used on line 1"))
        #expect(cut.monitors == whole.monitors)
        #expect(cut.errors == whole.errors)
    }

    @Test("a refused line does not reserve its id")
    func refusedLineDoesNotReserveItsId() {
        let parsed = parse([
            #"{"id":"a","url":"ftp://a.example/"}"#,
            #"{"id":"a","url":"https://a.example/"}"#,
        ])
        #expect(parsed.monitors.map(\.id) == ["a"])
        #expect(parsed.errors.map(\.line) == [1])
    }

    @Test("an unknown field is refused (a typo must not silently fall back to a default)")
    func refusesUnknownFields() {
        let parsed = parseOne(#""intervalSecond":10"#)
        #expect(parsed.monitors.isEmpty)
        #expect(
            parsed.errors == [
                MonitorFile.LineError(
                    line: 1, reason: "intervalSecond: unknown field (did you mean 'intervalSeconds'?)")
            ])
    }

    @Test(
        "an unknown field suggests the field it was probably meant to be",
        arguments: [
            ("timeout", "timeoutMs"), ("URL", "url"), ("verifyTls", "verifyTLS"),
            ("expectedStatuses", "expectedStatus"),
            ("interval", "intervalSeconds"), ("folowRedirects", "followRedirects"), ("keywrod", "keyword"),
        ]
    )
    func suggestsKnownFields(typed: String, meant: String) {
        let parsed = parseOne("\"\(typed)\":1")
        #expect(parsed.errors.map(\.reason) == ["\(typed): unknown field (did you mean '\(meant)'?)"])
    }

    @Test("an unknown field far from every known one gets no suggestion", arguments: ["colour", "xyz", "owner"])
    func noSuggestionForStrangers(typed: String) {
        #expect(parseOne("\"\(typed)\":1").errors.map(\.reason) == ["\(typed): unknown field"])
    }

    @Test(
        "JSON syntax errors name the column (in characters) and say how to fix them",
        arguments: [
            (#"{"id":"m","url":"https://example.com/",}"#, 40, "trailing comma before }: remove the comma"),
            (
                #"{"id":"m","url":"https://example.com/","expectedStatus":[200,]}"#, 62,
                "trailing comma before ]: remove the comma"
            ),
            (#"{"id":"m","url":"https://example.com/","id":"n"}"#, 40, #"the key "id" appears twice"#),
            (#"{'id':"m"}"#, 2, #"keys are written in double quotes ("), not single quotes"#),
            (#"{"id":"m" "url":"x"}"#, 11, #"unexpected '"': expected , or } after the value of "id""#),
            (#"{"id":"m","url":"https://example.com/"} x"#, 41, "unexpected 'x' after the end of the value"),
            (#"{"id":"é","url":"https://example.com/",}"#, 40, "trailing comma before }: remove the comma"),
            (#"{"id":"m","timeoutMs":0100}"#, 23, "a number does not start with 0 (write 100)"),
            (
                #"{"id":"m","verifyTLS":True}"#, 23,
                "unexpected 'T': expected a value (true, false and null are lower case)"
            ),
            (#"{"id":"m\q"}"#, 9, #"\q is not a JSON escape (write \\ for a backslash)"#),
            (#"{"id":"m"#, 7, #"the string is not closed with ""#),
            ("\t{\"id\":1,}", 10, "trailing comma before }: remove the comma"),
        ]
    )
    func syntaxErrorsNameTheColumn(line: String, column: Int, reason: String) {
        let parsed = parse([#"{"id":"ok","url":"https://example.com/"}"#, line])
        #expect(parsed.monitors.map(\.id) == ["ok"])
        #expect(parsed.errors == [MonitorFile.LineError(line: 2, column: column, reason: reason)])
        #expect(parsed.errors.first?.description == "line 2, column \(column): \(reason)")
    }

    @Test("strict JSON still reads every value JSON has")
    func strictJSONReadsValues() throws {
        let text = #"{"a":[1,-2.5,3e2,true,false,null,"x\u00e9\ud83d\ude00\n\"\\\/"],"b":{},"c":[]}"#
        let value = try StrictJSONReader.parse(Data(text.utf8))
        let object = try #require(value as? [String: Any])
        let list = try #require(object["a"] as? [Any])
        #expect((list[0] as? NSNumber)?.int64Value == 1)
        #expect((list[1] as? NSNumber)?.doubleValue == -2.5)
        #expect((list[2] as? NSNumber)?.doubleValue == 300)
        #expect(JSONValueKind.isBoolean(try #require(list[3] as? NSNumber)))
        #expect((list[4] as? NSNumber)?.boolValue == false)
        #expect(list[5] is NSNull)
        #expect(list[6] as? String == "x\u{E9}\u{1F600}\n\"\\/")
        #expect((object["b"] as? [String: Any])?.isEmpty == true)
        #expect((object["c"] as? [Any])?.isEmpty == true)
    }

    @Test("id and url are required")
    func idAndURLAreRequired() {
        #expect(parse([#"{"url":"https://example.com/"}"#]).errors.map(\.reason) == ["id: is required"])
        #expect(parse([#"{"id":"a"}"#]).errors.map(\.reason) == ["url: is required"])
        #expect(parse([#"{"id":null,"url":"https://example.com/"}"#]).errors.map(\.reason) == ["id: is required"])
        #expect(parse(["{}"]).errors.count == 1)
    }

    @Test("null means 'use the default'")
    func nullMeansDefault() throws {
        let parsed = parseOne(#""intervalSeconds":null,"method":null,"headers":null,"followRedirects":null"#)
        #expect(parsed.errors.isEmpty)
        let m = try #require(parsed.monitors.first)
        #expect(m.intervalSeconds == 60)
        #expect(m.method == "GET")
        #expect(m.headers.isEmpty)
        #expect(m.followRedirects)
    }

    @Test("a method is written in capitals: a lower-case one is refused with the fix, not changed silently")
    func methodMustBeCapitals() throws {
        #expect(
            parseOne(#""method":"head""#).errors.map(\.reason) == [
                #"method: 'head' must be written in capitals: "HEAD""#
            ])
        #expect(
            parseOne(#""method":"Get""#).errors.map(\.reason) == [#"method: 'Get' must be written in capitals: "GET""#])
        #expect(try #require(parseOne(#""method":"HEAD""#).monitors.first).method == "HEAD")
    }

    @Test(
        "refuses a field of the wrong JSON type with a reason naming the expected type",
        arguments: [
            (#""id":5"#, "id: must be a string"),
            (#""url":["https://example.com/"]"#, "url: must be a string"),
            (#""intervalSeconds":"60""#, "intervalSeconds: must be a number"),
            (#""intervalSeconds":true"#, "intervalSeconds: must be a number"),
            (#""timeoutMs":1500.5"#, "timeoutMs: must be a whole number"),
            (#""timeoutMs":"5000""#, "timeoutMs: must be a number"),
            (#""timeoutMs":false"#, "timeoutMs: must be a number"),
            (#""maxRedirects":1e300"#, "maxRedirects: must be a whole number"),
            (#""followRedirects":1"#, "followRedirects: must be true or false"),
            (#""followRedirects":0"#, "followRedirects: must be true or false"),
            (#""verifyTLS":"false""#, "verifyTLS: must be true or false"),
            (#""reuseConnection":"yes""#, "reuseConnection: must be true or false"),
            (#""tlsSessionReuse":1"#, "tlsSessionReuse: must be true or false"),
            (#""acceptEncoding":"gzip""#, "acceptEncoding: must be true or false"),
            (#""tlsFullHandshakeSeconds":0"#, "tlsFullHandshakeSeconds: must be between 1 and 604800 (7 days)"),
            (#""tlsFullHandshakeSeconds":1.5"#, "tlsFullHandshakeSeconds: must be a whole number"),
            (#""httpVersion":2"#, #"httpVersion: must be a string: one of "1.1", "2", "auto""#),
            (#""httpVersion":"h2""#, #"httpVersion: 'h2' is not one of "1.1", "2", "auto""#),
            (#""headers":"X-A: 1""#, "headers: must be an object of strings"),
            (#""headers":["X-A"]"#, "headers: must be an object of strings"),
            (#""headers":{"X-A":1}"#, "headers: value of 'X-A' must be a string"),
            (#""expectedStatus":"200""#, "expectedStatus: must be a status code or a list of status codes"),
            (#""expectedStatus":[200,"204"]"#, "expectedStatus: must be a status code or a list of status codes"),
            (#""expectedStatus":true"#, "expectedStatus: must be a status code or a list of status codes"),
            (#""expectedStatus":[200.5]"#, "expectedStatus: must be a status code or a list of status codes"),
            (#""jsonPath":"$.a","jsonEquals":[1]"#, "jsonEquals: must be a string, number or boolean"),
            (#""jsonPath":"$.a","jsonEquals":{"a":1}"#, "jsonEquals: must be a string, number or boolean"),
            (#""body":{"a":1}"#, "body: must be a string"),
            (#""keyword":true"#, "keyword: must be a string"),
        ]
    )
    func refusesWrongTypes(extra: String, reason: String) {
        let parsed = parseOne(extra)
        #expect(parsed.monitors.isEmpty)
        #expect(parsed.errors == [MonitorFile.LineError(line: 1, reason: reason)])
    }

    @Test(
        "a whole-number float is accepted where an integer is expected",
        arguments: [(#""timeoutMs":2000.0"#, 2000), (#""timeoutMs":2e3"#, 2000)]
    )
    func acceptsWholeNumberFloats(extra: String, timeoutMs: Int) throws {
        let parsed = parseOne(extra)
        #expect(try #require(parsed.monitors.first).timeoutMs == timeoutMs)
    }

    @Test(
        "expectedStatus is a single status or a list",
        arguments: [
            (#""expectedStatus":204"#, [204]), (#""expectedStatus":[200,301]"#, [200, 301]),
            (#""expectedStatus":[]"#, []),
        ]
    )
    func expectedStatusForms(extra: String, statuses: [Int]) throws {
        let parsed = parseOne(extra)
        #expect(parsed.errors.isEmpty)
        #expect(try #require(parsed.monitors.first).expectedStatus == statuses)
    }

    @Test(
        "jsonEquals takes strings as they are and numbers or booleans as their JSON text",
        arguments: [
            (#""ok""#, "ok"), (#""true""#, "true"), ("true", "true"), ("false", "false"), ("3", "3"),
            ("-7", "-7"), ("1.5", "1.5"), ("2.0", "2"),
        ]
    )
    func jsonEqualsText(json: String, text: String) throws {
        let parsed = parseOne(#""jsonPath":"$.status","jsonEquals":\#(json)"#)
        #expect(parsed.errors.isEmpty)
        #expect(try #require(parsed.monitors.first).jsonEquals == text)
    }

    @Test("values are validated after decoding, with the field named")
    func valuesAreValidated() {
        #expect(parseOne(#""method":"trace""#).errors.map(\.reason).first?.hasPrefix("method: must be one of") == true)
        #expect(
            parseOne(#""headers":{"Host":"x"}"#).errors.map(\.reason) == [
                "headers: 'Host' is set by the engine and cannot be overridden"
            ]
        )
        #expect(
            parseOne(#""jsonPath":"$.a""#).errors.map(\.reason) == ["jsonEquals: jsonPath and jsonEquals go together"]
        )
        #expect(parseOne(#""maxRedirects":21"#).errors.map(\.reason) == ["maxRedirects: must be between 0 and 20"])
    }

    @Test("parseLine parses a single object and throws for anything else")
    func parseLine() throws {
        let m = try MonitorFile.parseLine(Data(#"{"id":"x","url":"http://x.example/"}"#.utf8))
        #expect(m.id == "x")
        #expect(
            validationError { _ = try MonitorFile.parseLine(Data("[]".utf8)) }
                == MonitorValidationError(field: "line", reason: "must be a JSON object (one monitor per line)")
        )
        #expect(
            validationError { _ = try MonitorFile.parseLine(Data("{,}".utf8)) }
                == MonitorValidationError(
                    field: "line", reason: "column 2: unexpected ',': expected a key in double quotes")
        )
    }
}
