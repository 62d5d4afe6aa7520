import Foundation
import HTTPTypes
import LookoutTestSupport
import Testing

@testable import LookoutControl

@Suite(
    "Monitor kinds in the API: tcp, dns, tls (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct MonitorKindAPITests {
    @Test("each kind is created, read back with its fields and canonical url, patched and refused clearly")
    func createReadPatchRefuse() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            func create(_ body: [String: Any]) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/monitors", token: token, json: body)
            }
            let tcp = try await create(["type": "tcp", "host": "db.example.com", "port": 5432, "expect": "ok"])
            try #require(tcp.status == .created, "\(tcp.text)")
            #expect(tcp.object["url"] as? String == "tcp://db.example.com:5432")
            #expect(tcp.object["name"] as? String == "tcp://db.example.com:5432", "the default display name")
            #expect(tcp.object["type"] as? String == "tcp")
            #expect(tcp.object["port"] as? Int == 5432)
            #expect(tcp.object["recordType"] is NSNull && tcp.object["certMinDaysLeft"] is NSNull)

            let dns = try await create([
                "type": "dns", "name": "MX of example", "dnsName": "example.com", "recordType": "MX",
                "server": "9.9.9.9", "expectedValues": ["10 mx.example.com"],
            ])
            try #require(dns.status == .created, "\(dns.text)")
            #expect(dns.object["url"] as? String == "dns://9.9.9.9/example.com?type=MX")
            #expect(dns.object["name"] as? String == "MX of example")
            #expect(dns.object["dnsName"] as? String == "example.com")
            #expect(dns.object["expectedValues"] as? [String] == ["10 mx.example.com"])

            let tls = try await create(["type": "tls", "host": "example.com", "port": 443, "certMinDaysLeft": 30])
            try #require(tls.status == .created, "\(tls.text)")
            let tlsId = try #require(tls.object.int64("id"))
            let patched = try await api.request(
                .patch, "/api/v1/monitors/\(tlsId)", token: token, json: ["host": "www.example.com"])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.object["url"] as? String == "tls://www.example.com:443", "the url follows the host")
            #expect(patched.object["certMinDaysLeft"] as? Int == 30)
            let read = try await api.request(.get, "/api/v1/monitors/\(tlsId)", token: token)
            #expect(read.object["host"] as? String == "www.example.com")
            // A full replacement with what GET returned is accepted as it is.
            var replacement = read.object
            for key in ["id", "status", "flapping", "lastCheck", "createdAt", "updatedAt"] {
                replacement.removeValue(forKey: key)
            }
            let put = try await api.request(.put, "/api/v1/monitors/\(tlsId)", token: token, json: replacement)
            #expect(put.status == .ok, "\(put.text)")

            let wrongField = try await create(["type": "tcp", "host": "a.example", "port": 1, "keyword": "x"])
            #expect(wrongField.status == .badRequest)
            #expect(wrongField.errorField == "keyword")
            let noName = try await create(["type": "dns", "recordType": "A"])
            #expect(noName.status == .badRequest)
            #expect(noName.errorField == "dnsName", "\(noName.text)")
            let badType = try await create(["type": "ping", "host": "a.example"])
            #expect(badType.errorField == "type")
        }
    }

    @Test("the checks of a dns and a tls monitor carry their answers and certificate findings")
    func checksCarryFindings() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let dnsId = try #require(
                try await api.createMonitor(token, ["url": NSNull(), "type": "dns", "dnsName": "example.com"])
                    .int64("id"))
            try api.sql("SELECT lookout_create_check_partitions((now() AT TIME ZONE 'UTC')::date - 1, 2)")
            try api.sql(
                """
                INSERT INTO checks (check_id, monitor_id, checked_at, status, total_ms, dns_answers, tls_issuer,
                                    tls_protocol, tls_cipher)
                VALUES (gen_random_uuid(), $1::int8, now() - interval '1 minute', 'UP', 2,
                        '["192.0.2.1", "192.0.2.2"]', 'CN=CA', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256')
                """,
                [String(dnsId)]
            )
            let page = try await api.request(.get, "/api/v1/monitors/\(dnsId)/checks", token: token)
            #expect(page.status == .ok, "\(page.text)")
            let check = try #require((page.object["data"] as? [[String: Any]])?.first)
            #expect(check["dnsAnswers"] as? [String] == ["192.0.2.1", "192.0.2.2"])
            #expect(check["tlsIssuer"] as? String == "CN=CA")
            #expect(check["tlsProtocol"] as? String == "TLSv1.3")
            #expect(check["tlsCipher"] as? String == "TLS_AES_128_GCM_SHA256")
        }
    }
}
