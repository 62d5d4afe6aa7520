import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "The monitor list's query string, read as browsers write it (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct MonitorListQueryTests {
    @Test("q finds a name of several words written with + (URLSearchParams) or %20, and %2B is a plus")
    func searchText() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            for (name, url) in [
                ("Checkout page", "https://shop.example.com/checkout"),
                ("Checkout API", "https://api.example.com/v1/checkout"),
                ("C++ docs", "https://docs.example.com/cpp"),
            ] {
                let created = try await api.request(
                    .post, "/api/v1/monitors", token: token, json: ["name": name, "url": url])
                try #require(created.status == .created, "\(created.text)")
            }
            func names(_ query: String) async throws -> [String] {
                let page = try await api.request(.get, "/api/v1/monitors?\(query)", token: token)
                try #require(page.status == .ok, "\(query): \(page.text)")
                return page.items.compactMap { $0["name"] as? String }
            }
            #expect(try await names("q=Checkout+page&limit=8") == ["Checkout page"])
            #expect(try await names("q=checkout%20PAGE") == ["Checkout page"])
            #expect(try await names("q=Checkout") == ["Checkout page", "Checkout API"])
            #expect(try await names("q=C%2B%2B") == ["C++ docs"])
            #expect(try await names("q=shop.example") == ["Checkout page"], "the URL is searched too")
            #expect(try await names("q=Checkout+pages").isEmpty)
        }
    }

    @Test("a time with a + offset typed unencoded into a query string (read as a space) means that offset")
    func plusOffsetInTimes() throws {
        #expect(TimeRange.restoringPlusOffset("2026-12-01T10:00:00 01:00") == "2026-12-01T10:00:00+01:00")
        #expect(TimeRange.restoringPlusOffset("2026-12-01T10:00:00Z") == "2026-12-01T10:00:00Z")
        #expect(TimeRange.restoringPlusOffset("2026-12-01 10:00:00Z") == "2026-12-01 10:00:00Z")
        let decoded = QueryParameters(query: "from=2026-12-01T10:00:00+01:00&to=2026-12-01T10%3A30%3A00%2B01%3A00")
        let from = try #require(decoded.get("from"))
        let to = try #require(decoded.get("to"))
        #expect(from == "2026-12-01T10:00:00 01:00")
        #expect(to == "2026-12-01T10:30:00+01:00")
        let fromDate = try #require(RFC3339Date.parse(TimeRange.restoringPlusOffset(from)))
        let toDate = try #require(RFC3339Date.parse(to))
        #expect(toDate.timeIntervalSince(fromDate) == 1_800)
    }

    @Test("names and values are decoded alike; the first of a repeated name wins; bad escapes stay as written")
    func decoding() {
        let query = QueryParameters(query: "a+b=c+d&status=UP&status=DOWN&bad=%E2%28&empty=&flag")
        #expect(query.get("a b") == "c d")
        #expect(query.get("status") == "UP")
        #expect(query.get("bad") == "%E2%28", "not valid UTF-8: kept for the route to refuse by name")
        #expect(query.get("empty") == "")
        #expect(query.get("flag") == "")
        #expect(query.get("missing") == nil)
        #expect(QueryParameters(query: nil).pairs.isEmpty)
    }
}
