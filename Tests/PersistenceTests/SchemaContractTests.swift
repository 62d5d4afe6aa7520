import Foundation
import LookoutCore
import Testing

@testable import LookoutEngine

@Suite("Schema contracts: check ids, shards, stored monitors, COPY text")
struct SchemaContractTests {
    @Test("check ids are RFC 9562 version-8 UUIDs of instance and counter, and round-trip as text")
    func checkIdLayout() throws {
        let id = CheckID(instance: 0x0123_4567_89AB_CDEF, sequence: 42)
        let text = id.description
        #expect(text.count == 36)
        #expect(text == "01234567-89ab-8def-8000-00000000002a")
        let scalars = Array(text.utf8)
        #expect(scalars[14] == UInt8(ascii: "8"), "version nibble")
        #expect(
            [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(scalars[19]),
            "variant 10xx"
        )
        #expect(CheckID(parsing: text) == id)
        #expect(CheckID(parsing: text.uppercased()) == id)
        #expect(CheckID(parsing: "not-a-uuid") == nil)
        #expect(id.sequence == 42)
        var generator = CheckIDGenerator(instance: 7)
        let first = generator.make()
        let second = generator.make()
        #expect(first != second && first.instance == second.instance && second.sequence == first.sequence + 1)
    }

    @Test("shards are stable, in range, and spread evenly")
    func shards() {
        // A fixed value: changing the function would move every monitor to another shard.
        // Reference values computed independently (FNV-1a 64 of "1:m-0" and "1:api-1", mod 1024).
        #expect(MonitorShard.shard(ownerId: 1, externalId: "m-0") == 16)
        #expect(MonitorShard.shard(ownerId: 1, externalId: "api-1") == 688)
        var counts = Array(repeating: 0, count: MonitorShard.count)
        for index in 0..<102_400 {
            let shard = Int(MonitorShard.shard(ownerId: 3, externalId: "monitor-\(index)"))
            #expect((0..<MonitorShard.count).contains(shard))
            counts[shard] += 1
        }
        // 100 per shard on average; FNV-1a keeps every shard well within a factor of two.
        #expect(counts.min()! > 50 && counts.max()! < 160)
        #expect(
            MonitorShard.shard(ownerId: 1, externalId: "x") != MonitorShard.shard(ownerId: 2, externalId: "x")
                || MonitorShard.shard(ownerId: 1, externalId: "y") != MonitorShard.shard(ownerId: 2, externalId: "y")
        )
    }

    @Test("a monitor survives the trip through its stored form")
    func monitorRecordRoundTrip() throws {
        let monitors = [
            Monitor(id: "plain", url: "http://example.com/"),
            Monitor(
                id: "full",
                url: "https://example.com/health?x=1",
                intervalSeconds: 2.5,
                timeoutMs: 3000,
                connectTimeoutMs: 1000,
                method: "POST",
                headers: ["X-Key": "a\"b\\c\td", "Accept": "*/*"],
                body: "{\"q\":1}\n",
                expectedStatus: [200, 204],
                keyword: "ok",
                keywordAbsent: "error",
                jsonPath: "$.a.b[0]",
                jsonEquals: "true",
                followRedirects: false,
                maxRedirects: 0,
                verifyTLS: false,
                maxBodyBytes: 4096,
                lowSpeedBytesPerSecond: 10,
                lowSpeedSeconds: 3,
                reuseConnection: true,
                tlsSessionReuse: true,
                tlsFullHandshakeSeconds: 60,
                httpVersion: .http2,
                acceptEncoding: true
            ),
        ]
        for monitor in monitors {
            let record = MonitorRecord(monitor)
            let object = try JSONSerialization.jsonObject(with: Data(record.settingsJSON.utf8)) as? [String: Any]
            #expect(object != nil, "settings must be a JSON object: \(record.settingsJSON)")
            #expect(Set(object!.keys).isDisjoint(with: MonitorRecord.columnKeys))
            #expect(try record.monitor() == monitor)
            // Every field explicit: a later change of a default must not change a stored monitor.
            let keys = try #require(object).keys
            for key in ["tlsSessionReuse", "tlsFullHandshakeSeconds", "httpVersion", "acceptEncoding"] {
                #expect(keys.contains(key), "\(key) missing from \(record.settingsJSON)")
            }
        }
        var broken = MonitorRecord(Monitor(id: "x", url: "http://example.com/"))
        broken.settingsJSON = "{\"maxRedirects\": 99}"
        #expect(throws: MonitorValidationError.self) { try broken.monitor() }
    }

    @Test("COPY text escapes what COPY needs and drops NUL")
    func copyTextEscaping() {
        var bytes: [UInt8] = []
        CopyText.appendEscaped("a\\b\tc\nd\re\u{0}f é", to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "a\\\\b\\tc\\nd\\ref é")
        bytes = []
        CopyText.appendOptional(nil, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "\\N")
        bytes = []
        for value: Int64 in [0, 7, 10, 1_234_567, -42] {
            CopyText.appendInteger(value, to: &bytes)
            bytes.append(0x20)
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "0 7 10 1234567 -42 ")
        bytes = []
        CopyText.appendMilliseconds(micros: 12_034, to: &bytes)
        bytes.append(0x20)
        CopyText.appendMilliseconds(micros: 5, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "12.034 0.005")
    }

    @Test("a check row becomes one COPY line in the documented column order")
    func checkRowLine() {
        let result = CheckResult(
            monitorId: "api",
            checkedAtMs: 1_764_426_106_123,
            status: .error,
            httpStatus: 0,
            dnsMicros: 1_500,
            connectMicros: 0,
            tlsMicros: 0,
            ttfbMicros: 0,
            totalMicros: 2_000,
            lagMicros: 250,
            redirects: 1,
            errorCode: .connectRefused,
            errorMessage: "refused\tby 127.0.0.1",
            certExpiresAt: 1_800_000_000
        )
        let row = CheckRow(checkId: CheckID(instance: 1, sequence: 2), monitorId: 99, result: result)
        var bytes: [UInt8] = []
        CheckRowEncoder(engineId: "engine-a").append(row, to: &bytes)
        let line = String(decoding: bytes, as: UTF8.self)
        let fields = line.dropLast().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        #expect(fields.count == LookoutSchema.checkColumns.count)
        #expect(
            fields == [
                "00000000-0000-8001-8000-000000000002", "99", "2025-11-29T14:21:46.123Z", "ERROR", "0", "1.500",
                "0.000",
                "0.000", "0.000", "2.000", "0.250", "1", "connect_refused", "refused\\tby 127.0.0.1",
                "2027-01-15T08:00:00.000Z", "engine-a", "\\N", "\\N", "\\N", "\\N", "\\N", "\\N",
            ]
        )
        #expect(line.hasSuffix("\n"))
        let day = bytes.withUnsafeBytes { CheckRowEncoder.day(ofLine: $0) }
        #expect(day == "2025-11-29")
        #expect(CheckRowEncoder.day(epochMilliseconds: 1_764_426_106_123) == "2025-11-29")
        var nulls: [UInt8] = []
        CheckRowEncoder(engineId: nil).append(
            CheckRow(
                checkId: CheckID(instance: 1, sequence: 3),
                monitorId: 1,
                result: CheckResult(monitorId: "x", checkedAtMs: 0, status: .up)
            ),
            to: &nulls
        )
        #expect(String(decoding: nulls, as: UTF8.self).hasSuffix("\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"))
        var findings: [UInt8] = []
        CheckRowEncoder(engineId: nil).append(
            CheckRow(
                checkId: CheckID(instance: 1, sequence: 4),
                monitorId: 1,
                result: CheckResult(
                    monitorId: "x", checkedAtMs: 0, status: .up,
                    details: CheckDetails(
                        tlsIssuer: "CN=Test CA", tlsProtocol: "TLSv1.3", tlsCipher: "TLS_AES_128_GCM_SHA256",
                        dnsAnswers: ["10 mail.example.com", "say \"hi\""]))
            ),
            to: &findings
        )
        #expect(
            String(decoding: findings, as: UTF8.self).hasSuffix(
                "\tCN=Test CA\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t[\"10 mail.example.com\",\"say \\\\\"hi\\\\\"\"]\t\\N\t\\N\n"
            ))
        // http_version and tls_resumed: the results file's spelling, and COPY's t / f.
        for (version, resumed, suffix) in [
            (UInt8(11), Bool?.none, "\t1.1\t\\N\n"), (20, true, "\t2\tt\n"), (11, false, "\t1.1\tf\n"),
            (0, nil, "\t\\N\t\\N\n"),
        ] {
            var line: [UInt8] = []
            CheckRowEncoder(engineId: nil).append(
                CheckRow(
                    checkId: CheckID(instance: 1, sequence: 5), monitorId: 1,
                    result: CheckResult(
                        monitorId: "x", checkedAtMs: 0, status: .up, httpVersion: version, tlsResumed: resumed)),
                to: &line)
            #expect(
                String(decoding: line, as: UTF8.self).hasSuffix("\\N\t\\N" + suffix),
                "\(version) \(String(describing: resumed))")
        }
    }
}
