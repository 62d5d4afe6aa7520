import LookoutCore
import Testing

@testable import LookoutEngine

private func monitor(_ change: (inout Monitor) -> Void = { _ in }) -> Monitor {
    var monitor = Monitor(id: "api", url: "https://example.com/health")
    change(&monitor)
    return monitor
}

private func evaluate(_ monitor: Monitor, status: Int = 200, body: String = "") -> ResponseEvaluator.Verdict {
    ResponseEvaluator.evaluate(monitor, httpStatus: status, body: Array(body.utf8))
}

@Suite("ResponseEvaluator")
struct ResponseEvaluatorTests {
    // MARK: Status

    @Test("without expectedStatus any 2xx is UP", arguments: [200, 201, 204, 206, 299])
    func anyTwoHundredIsUp(status: Int) {
        #expect(evaluate(monitor(), status: status) == .up)
    }

    @Test(
        "without expectedStatus anything outside 2xx is DOWN with status_mismatch",
        arguments: [0, 100, 199, 300, 301, 304, 404, 500, 503]
    )
    func outsideTwoHundredIsDown(status: Int) {
        #expect(evaluate(monitor(), status: status) == .down(.statusMismatch, "HTTP \(status), expected any 2xx"))
    }

    @Test("an explicit expectedStatus list accepts only its members")
    func explicitExpectedStatus() {
        let m = monitor { $0.expectedStatus = [301, 302] }
        #expect(evaluate(m, status: 301) == .up)
        #expect(evaluate(m, status: 302) == .up)
        #expect(evaluate(m, status: 200) == .down(.statusMismatch, "HTTP 200, expected 301 or 302"))
        #expect(evaluate(monitor { $0.expectedStatus = [404] }, status: 404) == .up)
        #expect(
            evaluate(monitor { $0.expectedStatus = [404] }, status: 200)
                == .down(.statusMismatch, "HTTP 200, expected 404")
        )
    }

    @Test("the verdicts carry the status their error code maps to")
    func verdictStatusMatchesErrorCode() {
        let verdict = evaluate(monitor(), status: 500)
        #expect(verdict.status == .down)
        #expect(verdict.errorCode?.status == verdict.status)
        #expect(ResponseEvaluator.Verdict.up == .init(status: .up, errorCode: nil, message: nil))
    }

    // MARK: Keywords

    @Test("keyword present in the body is UP, missing is DOWN with keyword_missing")
    func keywordPresentOrMissing() {
        let m = monitor { $0.keyword = "\"status\":\"ok\"" }
        #expect(evaluate(m, body: #"{"status":"ok","db":"up"}"#) == .up)
        #expect(
            evaluate(m, body: #"{"status":"degraded"}"#)
                == .down(.keywordMissing, #"the body does not contain '"status":"ok"'"#)
        )
        #expect(evaluate(m, body: "") == .down(.keywordMissing, #"the body does not contain '"status":"ok"'"#))
    }

    @Test("keyword matching is case-sensitive and byte-exact (UTF-8)")
    func keywordIsCaseSensitive() {
        #expect(
            evaluate(monitor { $0.keyword = "OK" }, body: "status ok")
                == .down(.keywordMissing, "the body does not contain 'OK'")
        )
        #expect(evaluate(monitor { $0.keyword = "café" }, body: "le café est prêt") == .up)
        #expect(evaluate(monitor { $0.keyword = "café" }, body: "le cafe est pret").errorCode == .keywordMissing)
    }

    @Test("keywordAbsent found in the body is DOWN with keyword_present, otherwise UP")
    func keywordAbsent() {
        let m = monitor { $0.keywordAbsent = "maintenance" }
        #expect(evaluate(m, body: "all good") == .up)
        #expect(
            evaluate(m, body: "down for maintenance")
                == .down(.keywordPresent, "the body contains 'maintenance', which must be absent")
        )
    }

    // MARK: JSON path

    @Test(
        "a JSON path whose value equals jsonEquals is UP",
        arguments: [
            ("$.status", "ok"), ("$.checks[0].ok", "true"), ("$.count", "3"), ("$.ratio", "0.5"), ("$.none", "null"),
            ("$.checks[1].name", "cache"),
        ]
    )
    func jsonPathEqual(path: String, expected: String) {
        let body = #"{"status":"ok","count":3,"ratio":0.5,"none":null,"checks":[{"ok":true},{"name":"cache"}]}"#
        #expect(
            evaluate(
                monitor {
                    $0.jsonPath = path
                    $0.jsonEquals = expected
                },
                body: body
            ) == .up
        )
    }

    @Test("a JSON path with a different value is DOWN with json_mismatch naming both values")
    func jsonPathMismatch() {
        let m = monitor {
            $0.jsonPath = "$.status"
            $0.jsonEquals = "ok"
        }
        #expect(
            evaluate(m, body: #"{"status":"degraded"}"#)
                == .down(.jsonMismatch, "$.status is 'degraded', expected 'ok'")
        )
        // Compared as text: the number 1 is not "true", the string "3" equals the number 3.
        #expect(
            evaluate(
                monitor {
                    $0.jsonPath = "$.ok"
                    $0.jsonEquals = "true"
                },
                body: #"{"ok":1}"#
            ) == .down(.jsonMismatch, "$.ok is '1', expected 'true'")
        )
        #expect(
            evaluate(
                monitor {
                    $0.jsonPath = "$.n"
                    $0.jsonEquals = "3"
                },
                body: #"{"n":"3"}"#
            ) == .up
        )
    }

    @Test("a JSON path absent from the body is DOWN with json_mismatch")
    func jsonPathAbsent() {
        let m = monitor {
            $0.jsonPath = "$.checks[3].ok"
            $0.jsonEquals = "true"
        }
        #expect(
            evaluate(m, body: #"{"checks":[{"ok":true}]}"#)
                == .down(.jsonMismatch, "$.checks[3].ok is absent from the body")
        )
    }

    @Test(
        "a body that is not JSON is DOWN with json_invalid",
        arguments: ["", "<html>ok</html>", "{\"status\":", "ok"]
    )
    func invalidJSONBody(body: String) {
        let m = monitor {
            $0.jsonPath = "$.status"
            $0.jsonEquals = "ok"
        }
        #expect(evaluate(m, body: body) == .down(.jsonInvalid, "the body is not valid JSON"))
    }

    @Test("a top-level JSON scalar body can be asserted with $")
    func topLevelScalarBody() {
        #expect(
            evaluate(
                monitor {
                    $0.jsonPath = "$"
                    $0.jsonEquals = "ok"
                },
                body: #""ok""#
            ) == .up
        )
        #expect(
            evaluate(
                monitor {
                    $0.jsonPath = "$"
                    $0.jsonEquals = "42"
                },
                body: "42"
            ) == .up
        )
    }

    @Test("an unparsable jsonPath (not caught by validation) is DOWN with json_invalid")
    func invalidPath() {
        let m = monitor {
            $0.jsonPath = "status"
            $0.jsonEquals = "ok"
        }
        #expect(evaluate(m, body: #"{"status":"ok"}"#) == .down(.jsonInvalid, "jsonPath 'status' is invalid"))
    }

    @Test("jsonPath without jsonEquals asserts nothing")
    func jsonPathWithoutJsonEquals() {
        #expect(evaluate(monitor { $0.jsonPath = "$.status" }, body: "not json") == .up)
    }

    // MARK: Order

    @Test("checks run in order: status, then keyword, then keywordAbsent, then JSON")
    func orderOfChecks() {
        let all = monitor {
            $0.expectedStatus = [200]
            $0.keyword = "ready"
            $0.keywordAbsent = "error"
            $0.jsonPath = "$.status"
            $0.jsonEquals = "ok"
        }
        // Everything wrong: the status mismatch wins.
        #expect(evaluate(all, status: 500, body: "error").errorCode == .statusMismatch)
        // Status right, keyword missing and forbidden keyword present: keyword_missing wins.
        #expect(evaluate(all, status: 200, body: "error").errorCode == .keywordMissing)
        // Keyword present and forbidden keyword present, not JSON: keyword_present wins.
        #expect(evaluate(all, status: 200, body: "ready error").errorCode == .keywordPresent)
        // Keywords fine, not JSON.
        #expect(evaluate(all, status: 200, body: "ready").errorCode == .jsonInvalid)
        // Everything right.
        #expect(evaluate(all, status: 200, body: #"{"status":"ok","state":"ready"}"#) == .up)
    }
}

@Suite("ResponseEvaluator.contains (byte substring search)")
struct ByteSearchTests {
    @Test(
        "finds a needle anywhere in the haystack, and only then",
        arguments: [
            ("hello world", "hello", true),
            ("hello world", "world", true),
            ("hello world", "o w", true),
            ("hello world", "hello world", true),
            ("hello world", "hello world!", false),
            ("hello world", "World", false),
            ("aaab", "aab", true),  // a partial match must not skip the real one
            ("abababc", "ababc", true),
            ("aaaa", "aaaaa", false),
            ("abc", "d", false),
            ("abc", "c", true),
            ("", "a", false),
            ("", "", true),
            ("abc", "", true),
            ("ab", "bc", false),  // needle would run past the end
        ]
    )
    func contains(haystack: String, needle: String, expected: Bool) {
        #expect(ResponseEvaluator.contains(Array(haystack.utf8), Array(needle.utf8)) == expected)
    }

    @Test("agrees with a reference search on random bytes")
    func agreesWithReference() {
        var random = SeededGenerator(seed: 21)
        for _ in 0..<3_000 {
            let haystack = (0..<Int.random(in: 0...64, using: &random)).map { _ in
                UInt8.random(in: 97...99, using: &random)
            }
            let needle = (0..<Int.random(in: 1...5, using: &random)).map { _ in
                UInt8.random(in: 97...99, using: &random)
            }
            let expected =
                needle.count <= haystack.count
                && (0...(haystack.count - needle.count)).contains {
                    Array(haystack[$0..<($0 + needle.count)]) == needle
                }
            #expect(ResponseEvaluator.contains(haystack, needle) == expected, "\(haystack) \(needle)")
        }
    }
}
