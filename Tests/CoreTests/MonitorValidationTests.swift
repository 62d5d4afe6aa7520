import Testing

@testable import LookoutCore

/// A valid monitor with one change applied.
private func monitor(_ change: (inout Monitor) -> Void = { _ in }) -> Monitor {
    var monitor = Monitor(id: "api", url: "https://example.com/health")
    change(&monitor)
    return monitor
}

@Suite("Monitor defaults and validation")
struct MonitorValidationTests {
    @Test("defaults match the documented values")
    func defaultsMatchTheDocumentation() throws {
        let m = monitor()
        #expect(m.intervalSeconds == 60)
        #expect(m.timeoutMs == 10_000)
        #expect(m.connectTimeoutMs == 5_000)
        #expect(m.method == "GET")
        #expect(m.headers.isEmpty)
        #expect(m.body == nil)
        #expect(m.expectedStatus.isEmpty)
        #expect(m.followRedirects)
        #expect(m.maxRedirects == 5)
        #expect(m.verifyTLS)
        #expect(m.maxBodyBytes == 1_048_576)
        #expect(m.lowSpeedBytesPerSecond == 0)
        #expect(m.lowSpeedSeconds == 10)
        #expect(!m.reuseConnection)
        #expect(!m.tlsSessionReuse)
        #expect(m.tlsFullHandshakeSeconds == 3_600)
        #expect(m.httpVersion == .http1_1)
        #expect(!m.acceptEncoding)
        try m.validate()
    }

    @Test("connect timeout defaults to the smaller of timeoutMs and 5 s")
    func connectTimeoutDefault() {
        #expect(Monitor(id: "a", url: "http://a", timeoutMs: 3_000).connectTimeoutMs == 3_000)
        #expect(Monitor(id: "a", url: "http://a", timeoutMs: 30_000).connectTimeoutMs == 5_000)
        #expect(Monitor(id: "a", url: "http://a", timeoutMs: 30_000, connectTimeoutMs: 7_000).connectTimeoutMs == 7_000)
    }

    @Test("an empty expectedStatus accepts exactly 2xx")
    func emptyExpectedStatusAcceptsTwoHundreds() {
        let m = monitor()
        #expect(m.accepts(httpStatus: 200))
        #expect(m.accepts(httpStatus: 204))
        #expect(m.accepts(httpStatus: 299))
        #expect(!m.accepts(httpStatus: 199))
        #expect(!m.accepts(httpStatus: 300))
        #expect(!m.accepts(httpStatus: 404))
        #expect(!m.accepts(httpStatus: 0))
    }

    @Test("an explicit expectedStatus list accepts only its members")
    func explicitExpectedStatus() {
        let m = monitor { $0.expectedStatus = [301, 404] }
        #expect(m.accepts(httpStatus: 301))
        #expect(m.accepts(httpStatus: 404))
        #expect(!m.accepts(httpStatus: 200))
    }

    @Test("needsBody is true only when an assertion reads the body")
    func needsBody() {
        #expect(!monitor().needsBody)
        #expect(!monitor { $0.expectedStatus = [200] }.needsBody)
        #expect(monitor { $0.keyword = "ok" }.needsBody)
        #expect(monitor { $0.keywordAbsent = "error" }.needsBody)
        #expect(
            monitor {
                $0.jsonPath = "$.ok"
                $0.jsonEquals = "true"
            }.needsBody
        )
    }

    @Test(
        "accepts every field at the edges of its range",
        arguments: [
            monitor { $0.id = String(repeating: "x", count: 200) },
            monitor { $0.id = "api/eu-1 ✓" },
            monitor { $0.intervalSeconds = 0.1 },
            monitor { $0.intervalSeconds = 86_400 },
            monitor {
                $0.timeoutMs = 100
                $0.connectTimeoutMs = 100
            },
            monitor { $0.timeoutMs = 120_000 },
            monitor { $0.connectTimeoutMs = $0.timeoutMs },
            monitor { $0.method = "OPTIONS" },
            monitor { $0.method = "PATCH" },
            monitor { $0.headers = ["X-Token": "abc", "Accept": "*/*", "x-Empty": ""] },
            monitor { $0.headers = ["!#$%&'*+-.^_`|~09azAZ": "v"] },
            monitor { $0.headers = ["X-Utf8": "café ☕"] },
            monitor {
                $0.method = "POST"
                $0.body = "{}"
            },
            monitor {
                $0.method = "DELETE"
                $0.body = ""
            },
            monitor { $0.expectedStatus = [100, 599] },
            monitor {
                $0.keyword = "ok"
                $0.keywordAbsent = "error"
            },
            monitor {
                $0.jsonPath = "$.checks[0].ok"
                $0.jsonEquals = "true"
            },
            monitor { $0.maxRedirects = 0 },
            monitor { $0.maxRedirects = 20 },
            monitor { $0.maxBodyBytes = 1024 },
            monitor { $0.maxBodyBytes = 64 << 20 },
            monitor {
                $0.lowSpeedBytesPerSecond = 1
                $0.lowSpeedSeconds = 1
            },
            monitor { $0.lowSpeedSeconds = 120 },
            // Any character but a control one: multi-byte UTF-8 (none of whose bytes is below 0x80).
            monitor { $0.id = "api-é-日本-🚀-\u{85}" },
        ]
    )
    func acceptsEdgesOfRanges(monitor: Monitor) {
        #expect(validationError { try monitor.validate() } == nil)
    }

    @Test(
        "refuses out-of-range values and names the offending field",
        arguments: [
            ("id", monitor { $0.id = "" }),
            ("id", monitor { $0.id = String(repeating: "x", count: 201) }),
            ("id", monitor { $0.id = "a\nb" }),
            ("id", monitor { $0.id = "tab\there" }),
            ("id", monitor { $0.id = "del\u{7F}" }),
            ("url", monitor { $0.url = "ftp://example.com/" }),
            ("url", monitor { $0.url = "example.com" }),
            ("intervalSeconds", monitor { $0.intervalSeconds = 0.099 }),
            ("intervalSeconds", monitor { $0.intervalSeconds = 0 }),
            ("intervalSeconds", monitor { $0.intervalSeconds = -60 }),
            ("intervalSeconds", monitor { $0.intervalSeconds = 86_400.001 }),
            ("intervalSeconds", monitor { $0.intervalSeconds = .nan }),
            ("intervalSeconds", monitor { $0.intervalSeconds = .infinity }),
            (
                "timeoutMs",
                monitor {
                    $0.timeoutMs = 99
                    $0.connectTimeoutMs = 99
                }
            ),
            ("timeoutMs", monitor { $0.timeoutMs = 120_001 }),
            ("connectTimeoutMs", monitor { $0.connectTimeoutMs = 99 }),
            ("connectTimeoutMs", monitor { $0.connectTimeoutMs = $0.timeoutMs + 1 }),
            ("method", monitor { $0.method = "get" }),
            ("method", monitor { $0.method = "TRACE" }),
            ("method", monitor { $0.method = "CONNECT" }),
            ("method", monitor { $0.method = "" }),
            ("headers", monitor { $0.headers = ["": "v"] }),
            ("headers", monitor { $0.headers = ["Bad Name": "v"] }),
            ("headers", monitor { $0.headers = ["X:Y": "v"] }),
            ("headers", monitor { $0.headers = ["Café": "v"] }),
            ("headers", monitor { $0.headers = ["Host": "evil.example"] }),
            ("headers", monitor { $0.headers = ["content-length": "0"] }),
            ("headers", monitor { $0.headers = ["Transfer-Encoding": "chunked"] }),
            ("headers", monitor { $0.headers = ["X-A": "a\r\nInjected: 1"] }),
            ("headers", monitor { $0.headers = ["X-A": "a\nb"] }),
            ("headers", monitor { $0.headers = ["X-A": "a\rb"] }),
            ("headers", monitor { $0.headers = ["X-A": "a\u{0}b"] }),
            ("body", monitor { $0.body = "{}" }),  // GET carries no body
            (
                "body",
                monitor {
                    $0.method = "HEAD"
                    $0.body = ""
                }
            ),
            ("expectedStatus", monitor { $0.expectedStatus = [200, 99] }),
            ("expectedStatus", monitor { $0.expectedStatus = [600] }),
            ("expectedStatus", monitor { $0.expectedStatus = [-200] }),
            ("keyword", monitor { $0.keyword = "" }),
            ("keywordAbsent", monitor { $0.keywordAbsent = "" }),
            ("jsonEquals", monitor { $0.jsonPath = "$.status" }),
            ("jsonPath", monitor { $0.jsonEquals = "ok" }),
            (
                "jsonPath",
                monitor {
                    $0.jsonPath = "status"
                    $0.jsonEquals = "ok"
                }
            ),
            (
                "jsonPath",
                monitor {
                    $0.jsonPath = "$.a["
                    $0.jsonEquals = "ok"
                }
            ),
            ("maxRedirects", monitor { $0.maxRedirects = -1 }),
            ("maxRedirects", monitor { $0.maxRedirects = 21 }),
            ("maxBodyBytes", monitor { $0.maxBodyBytes = 1023 }),
            ("maxBodyBytes", monitor { $0.maxBodyBytes = (64 << 20) + 1 }),
            ("lowSpeedBytesPerSecond", monitor { $0.lowSpeedBytesPerSecond = -1 }),
            ("lowSpeedSeconds", monitor { $0.lowSpeedSeconds = 0 }),
            ("lowSpeedSeconds", monitor { $0.lowSpeedSeconds = 121 }),
            ("tlsFullHandshakeSeconds", monitor { $0.tlsFullHandshakeSeconds = 0 }),
            ("tlsFullHandshakeSeconds", monitor { $0.tlsFullHandshakeSeconds = 604_801 }),
        ]
    )
    func refusesOutOfRange(field: String, monitor: Monitor) {
        let error = validationError { try monitor.validate() }
        #expect(error?.field == field)
        #expect(error?.reason.isEmpty == false)
    }

    @Test("a request body may be at most 1 MiB")
    func bodySizeLimit() {
        let atLimit = monitor {
            $0.method = "POST"
            $0.body = String(repeating: "b", count: 1 << 20)
        }
        #expect(validationError { try atLimit.validate() } == nil)
        let over = monitor {
            $0.method = "POST"
            $0.body = String(repeating: "b", count: (1 << 20) + 1)
        }
        #expect(
            validationError { try over.validate() }
                == MonitorValidationError(field: "body", reason: "must be at most 1 MiB")
        )
    }

    @Test("GET and HEAD requests may not carry a body", arguments: ["GET", "HEAD"])
    func getAndHeadCarryNoBody(method: String) {
        let error = validationError {
            try monitor {
                $0.method = method
                $0.body = "x"
            }.validate()
        }
        #expect(
            error
                == MonitorValidationError(
                    field: "body",
                    reason: "a \(method) request carries no body: use POST, PUT, PATCH, DELETE or OPTIONS"
                )
        )
    }

    @Test("a header that the engine sets is refused whatever its case")
    func engineHeadersRefusedCaseInsensitively() {
        for name in ["HOST", "host", "Content-Length", "CONTENT-LENGTH", "transfer-encoding"] {
            let error = validationError { try monitor { $0.headers = [name: "x"] }.validate() }
            #expect(
                error
                    == MonitorValidationError(
                        field: "headers",
                        reason: "'\(name)' is set by the engine and cannot be overridden"
                    )
            )
        }
    }

    @Test("the jsonPath parse error is passed on in the reason")
    func jsonPathErrorIsPassedOn() {
        let error = validationError {
            try monitor {
                $0.jsonPath = "status"
                $0.jsonEquals = "ok"
            }.validate()
        }
        #expect(
            error == MonitorValidationError(field: "jsonPath", reason: "must start with '$' (for example $.status)")
        )
    }

    @Test("the error description is 'field: reason'")
    func errorDescription() {
        #expect(
            MonitorValidationError(field: "timeoutMs", reason: "must be between 100 and 120000").description
                == "timeoutMs: must be between 100 and 120000"
        )
    }
}
