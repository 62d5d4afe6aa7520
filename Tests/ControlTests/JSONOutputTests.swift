import Foundation
import LookoutCore
import Testing

@testable import LookoutControl

@Suite("The hand-written JSON of monitors and checks is the JSON the encoder wrote")
struct JSONOutputTests {
    static func sample(lastCheck: Bool) -> MonitorResource {
        var monitor = Monitor(
            id: "api-1",
            url: "https://example.com/health?a=1&b=\"2\"",
            intervalSeconds: 0.5,
            timeoutMs: 3_000,
            method: "POST",
            headers: ["X-Token": "line\nbreak \u{1}", "Accept": "application/json", "ä-Unicode": "ünïcödé 🚀"],
            body: "{\"ping\": \"\\/\"}",
            expectedStatus: [200, 204],
            keyword: "ok\t",
            jsonPath: "$.status",
            jsonEquals: "up"
        )
        monitor.maxBodyBytes = 2_048
        return MonitorResource(
            id: 42,
            externalId: "api-1",
            name: "Checkout \"EU\" / prod",
            monitor: monitor,
            failureThreshold: 3,
            recoveryThreshold: 1,
            paused: false,
            notificationChannelIds: [7, 9],
            status: "DOWN",
            flapping: true,
            lastCheck: lastCheck
                ? CheckRecord(
                    checkId: "0190a1b2-c3d4-8e5f-9a0b-1c2d3e4f5a6b",
                    monitorId: 42,
                    checkedAt: Date(timeIntervalSince1970: 1_796_000_000.123),
                    status: "TIMEOUT",
                    httpStatus: 0,
                    dnsMs: Double(Float(0.123)),
                    connectMs: 1.5,
                    tlsMs: 0,
                    ttfbMs: 12.25,
                    totalMs: 3_000.75,
                    lagMs: Double(Float(0.001)),
                    redirects: 2,
                    errorCode: "timeout",
                    errorMessage: "no complete answer within the timeout",
                    certExpiresAt: nil,
                    engineId: "engine-a"
                ) : nil,
            createdAt: Date(timeIntervalSince1970: 1_795_000_000.5),
            updatedAt: Date(timeIntervalSince1970: 1_795_000_100.999)
        )
    }

    @Test("a monitor, with and without its last check: same bytes as APIJSON's encoder")
    func monitorMatchesEncoder() throws {
        for withCheck in [true, false] {
            let resource = Self.sample(lastCheck: withCheck)
            var output = JSONOutput()
            resource.write(to: &output)
            let encoded = try APIJSON.encoder.encode(resource)
            #expect(String(decoding: output.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
            let parsed = try JSONSerialization.jsonObject(with: Data(output.bytes)) as? NSDictionary
            let expected = try JSONSerialization.jsonObject(with: encoded) as? NSDictionary
            #expect(parsed == expected)
        }
    }

    @Test(
        "a tcp, dns and tls monitor and a check with findings: same bytes as APIJSON's encoder",
        arguments: [
            Monitor.probe(id: "t", kind: .tcp, host: "db.example.com", port: 5432, send: "PING\n", expect: "PONG"),
            Monitor.probe(
                id: "d", kind: .dns, dnsName: "example.com", recordType: .MX, dnsServer: "[::1]:53",
                expectedValues: ["10 mx.example.com"]),
            Monitor.probe(id: "c", kind: .tls, host: "example.com", port: 443, certMinDaysLeft: 21),
        ]
    )
    func probeMonitorsMatchEncoder(monitor: Monitor) throws {
        var resource = Self.sample(lastCheck: true)
        resource.monitor = monitor
        resource.lastCheck?.tlsIssuer = "CN=CA"
        resource.lastCheck?.tlsProtocol = "TLSv1.3"
        resource.lastCheck?.tlsCipher = "TLS_AES_128_GCM_SHA256"
        resource.lastCheck?.dnsAnswers = ["10 mx.example.com", "20 \"b\""]
        var output = JSONOutput()
        resource.write(to: &output)
        let encoded = try APIJSON.encoder.encode(resource)
        #expect(String(decoding: output.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
    }

    @Test("a check's httpVersion and tlsResumed, set or null: same bytes as APIJSON's encoder")
    func httpVersionAndResumptionMatchEncoder() throws {
        let cases: [(version: String?, resumed: Bool?)] = [("1.1", nil), ("2", true), ("2", false), (nil, nil)]
        for (version, resumed) in cases {
            var resource = Self.sample(lastCheck: true)
            resource.lastCheck?.httpVersion = version
            resource.lastCheck?.tlsResumed = resumed
            var output = JSONOutput()
            resource.write(to: &output)
            let encoded = try APIJSON.encoder.encode(resource)
            #expect(String(decoding: output.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(output.bytes)) as? [String: Any])
            let check = try #require(object["lastCheck"] as? [String: Any])
            #expect(check["httpVersion"] as? String == version)
            #expect(version != nil || check["httpVersion"] is NSNull)
            #expect(check["tlsResumed"] as? Bool == resumed)
            #expect(resumed != nil || check["tlsResumed"] is NSNull)
        }
    }

    @Test("a page: {data, nextCursor} with commas in the right places, null cursor included")
    func page() throws {
        var output = JSONOutput()
        output.beginObject()
        output.key("data")
        output.beginArray()
        for item in [Self.sample(lastCheck: true), Self.sample(lastCheck: false)] { item.write(to: &output) }
        output.endArray()
        output.key("nextCursor")
        output.string(nil as String?)
        output.endObject()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.bytes)) as? [String: Any])
        #expect((object["data"] as? [Any])?.count == 2)
        #expect(object["nextCursor"] is NSNull)
    }
}
