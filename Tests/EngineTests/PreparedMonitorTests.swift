import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("PreparedMonitor.headerLines")
struct PreparedMonitorHeaderTests {
    private func lines(_ change: (inout Monitor) -> Void = { _ in }) -> [String] {
        var monitor = Monitor(id: "api", url: "https://example.com/health")
        change(&monitor)
        return PreparedMonitor.headerLines(for: monitor)
    }

    @Test("by default every check asks the server to close the connection")
    func connectionCloseByDefault() {
        #expect(lines() == ["Connection: close"])
    }

    @Test("reuseConnection sends no Connection header")
    func noConnectionCloseWhenReusing() {
        #expect(lines { $0.reuseConnection = true } == [])
    }

    @Test("httpVersion 2 or auto sends no Connection header (HTTP/2 forbids it)", arguments: ["2", "auto"])
    func noConnectionCloseWithHTTP2(version: String) throws {
        let httpVersion = try #require(MonitorHTTPVersion(rawValue: version))
        #expect(lines { $0.httpVersion = httpVersion } == [])
        #expect(
            lines {
                $0.httpVersion = httpVersion
                $0.headers = ["Accept": "*/*"]
            } == ["Accept: */*"]
        )
        // The loop's shared "Connection: close" list must not stand in for an own, empty one.
        var monitor = Monitor(id: "h2", url: "https://example.com/", httpVersion: httpVersion)
        #expect(try PreparedMonitor(monitor).headers != nil)
        monitor.httpVersion = .http1_1
        #expect(try PreparedMonitor(monitor).headers == nil)
    }

    @Test("a request body disables Expect: 100-continue")
    func bodyDisablesExpect() {
        #expect(lines { $0.body = "{}" } == ["Connection: close", "Expect:"])
        #expect(lines { $0.body = "" } == ["Connection: close", "Expect:"])
        #expect(
            lines {
                $0.body = "x"
                $0.reuseConnection = true
            } == ["Expect:"]
        )
    }

    @Test("custom headers follow, sorted by name, as 'Name: value'")
    func customHeadersSorted() {
        let result = lines {
            $0.headers = ["X-Request-Id": "42", "Accept": "application/json", "Authorization": "Bearer t0k3n"]
        }
        #expect(
            result == [
                "Connection: close", "Accept: application/json", "Authorization: Bearer t0k3n", "X-Request-Id: 42",
            ]
        )
    }

    @Test("a header with an empty value is written 'Name;' (curl's spelling)")
    func emptyValueUsesSemicolon() {
        #expect(
            lines {
                $0.headers = ["X-Empty": ""]
                $0.reuseConnection = true
            } == ["X-Empty;"]
        )
    }

    @Test("the order is Connection, Expect, then custom headers")
    func fullOrder() {
        let result = lines {
            $0.body = #"{"ping":true}"#
            $0.headers = ["Content-Type": "application/json", "B": "", "A": "1"]
        }
        #expect(result == ["Connection: close", "Expect:", "A: 1", "B;", "Content-Type: application/json"])
    }

    @Test("values are passed through unchanged, including spaces and colons")
    func valuesPassedThrough() {
        #expect(
            lines {
                $0.headers = ["X-Time": "12:30:00 UTC"]
                $0.reuseConnection = true
            } == ["X-Time: 12:30:00 UTC"]
        )
    }
}
