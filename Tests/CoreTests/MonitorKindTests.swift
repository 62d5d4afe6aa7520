import Foundation
import Testing

@testable import LookoutCore

/// Parses one monitors-file line; the monitor or the error text (`field: reason`).
private func parseLine(_ line: String) -> Result<Monitor, MonitorValidationError> {
    Result { () throws(MonitorValidationError) in try MonitorFile.parseLine(Data(line.utf8)) }
}

private func error(_ line: String) -> String? {
    if case .failure(let error) = parseLine(line) { return error.description }
    return nil
}

@Suite("Monitor kinds: tcp, dns, tls in the monitors file")
struct MonitorKindTests {
    @Test("each kind reads with its defaults and gets its canonical url")
    func readsEachKind() throws {
        let tcp = try parseLine(#"{"id":"t","type":"tcp","host":"db.example.com","port":5432}"#).get()
        #expect(tcp.kind == .tcp)
        #expect(tcp.host == "db.example.com" && tcp.port == 5432 && tcp.send == nil && tcp.expect == nil)
        #expect(tcp.url == "tcp://db.example.com:5432")
        let smtp = try parseLine(
            #"{"id":"s","type":"tcp","host":"::1","port":25,"send":"QUIT\r\n","expect":"221"}"#
        ).get()
        #expect(smtp.url == "tcp://[::1]:25")
        #expect(smtp.send == "QUIT\r\n" && smtp.expect == "221")

        let dns = try parseLine(#"{"id":"d","type":"dns","name":"example.com"}"#).get()
        #expect(dns.recordType == .A && dns.dnsServer == nil && dns.expectedValues.isEmpty)
        #expect(dns.url == "dns://example.com?type=A")
        let mx = try parseLine(
            #"{"id":"m","type":"dns","name":"example.com","recordType":"MX","server":"1.1.1.1","expectedValues":"10 mx.example.com"}"#
        ).get()
        #expect(mx.url == "dns://1.1.1.1/example.com?type=MX")
        #expect(mx.expectedValues == ["10 mx.example.com"])
        #expect(try mx.connectTarget()?.port == 53)
        let six = try parseLine(
            #"{"id":"6","type":"dns","name":"_dmarc.example.com","recordType":"TXT","server":"[::1]:5353"}"#
        )
        .get()
        #expect(try six.connectTarget()?.port == 5353)

        let tls = try parseLine(#"{"id":"c","type":"tls","host":"example.com","port":443}"#).get()
        #expect(tls.certMinDaysLeft == Monitor.defaultCertMinDaysLeft && tls.verifyTLS)
        #expect(tls.url == "tls://example.com:443")
        #expect(try parseLine(#"{"id":"h","type":"http","url":"https://example.com/"}"#).get().kind == .http)
    }

    @Test(
        "bad input is refused with the field and a reason that says what to do",
        arguments: [
            (
                #"{"id":"x","type":"TCP","host":"a.example","port":1}"#,
                #"type: 'TCP' must be written in lower case: "tcp""#
            ),
            (
                #"{"id":"x","type":"icmp","host":"a.example"}"#,
                "type: 'icmp' is not a monitor type: use one of http, tcp, dns, tls"
            ),
            (#"{"id":"x","type":"tcp","host":"a.example"}"#, "port: is required for a tcp monitor"),
            (#"{"id":"x","type":"tls","port":443}"#, "host: is required for a tls monitor"),
            (#"{"id":"x","type":"tcp","host":"a.example","port":70000}"#, "port: must be between 1 and 65535"),
            (
                #"{"id":"x","type":"tcp","host":"http://a.example/","port":80}"#,
                "host: must be a host name or IP address, not a URL"
            ),
            (
                #"{"id":"x","type":"tcp","host":"a b","port":80}"#,
                "host: must not contain spaces, control or non-ASCII characters (percent-encode them, use punycode hosts)"
            ),
            (
                #"{"id":"x","type":"tcp","host":"a.example","port":80,"keyword":"ok"}"#,
                "keyword: applies to http monitors, not to type tcp"
            ),
            (#"{"id":"x","type":"tcp","host":"a.example","port":80,"expect":""}"#, "expect: must not be empty"),
            (
                #"{"id":"x","url":"https://a.example/","host":"a.example"}"#,
                "host: applies to tcp and tls monitors, not to type http"
            ),
            (
                #"{"id":"x","type":"dns","name":"a.example","recordType":"mx"}"#,
                #"recordType: 'mx' must be written in capitals: "MX""#
            ),
            (
                #"{"id":"x","type":"dns","name":"a.example","recordType":"SRV"}"#,
                "recordType: 'SRV' is not supported: use one of A, AAAA, CNAME, MX, TXT, NS, SOA"
            ),
            (#"{"id":"x","type":"dns"}"#, "name: is required for a dns monitor"),
            (
                #"{"id":"x","type":"dns","name":"a..example"}"#,
                "name: 'a..example' is not a DNS name (labels of letters, digits, '-' or '_', up to 253 characters)"
            ),
            (
                #"{"id":"x","type":"dns","name":"a.example","server":"dns.google"}"#,
                "server: 'dns.google' must be an IP address (with an optional :port)"
            ),
            (
                #"{"id":"x","type":"dns","name":"a.example","expectedValues":[1]}"#,
                "expectedValues: must be a string or a list of strings"
            ),
            (
                #"{"id":"x","type":"dns","name":"a.example","port":53}"#,
                "port: applies to tcp and tls monitors, not to type dns"
            ),
            (
                #"{"id":"x","type":"tls","host":"a.example","port":443,"certMinDaysLeft":-1}"#,
                "certMinDaysLeft: must be between 0 (off) and 3650 days"
            ),
            (
                #"{"id":"x","type":"tls","host":"a.example","port":443,"url":"https://a.example/"}"#,
                "url: a tls monitor has no url of its own (it is tls://a.example:443): remove it"
            ),
            (
                #"{"id":"x","type":"tls","host":"a.example","port":443,"send":"x"}"#,
                "send: applies to tcp monitors, not to type tls"
            ),
        ]
    )
    func refusals(line: String, expected: String) {
        #expect(error(line) == expected)
    }

    @Test("a monitor's own canonical url is accepted (that is how the database and the API hand it back)")
    func canonicalURLIsAccepted() throws {
        let line = #"{"id":"x","type":"tls","host":"a.example","port":443,"url":"tls://a.example:443"}"#
        #expect(try parseLine(line).get().host == "a.example")
    }

    @Test(
        "every kind survives the trip through its stored form",
        arguments: [
            Monitor.probe(id: "t", kind: .tcp, host: "a.example", port: 25, send: "EHLO x\r\n", expect: "250"),
            Monitor.probe(
                id: "d", kind: .dns, dnsName: "a.example", recordType: .TXT, dnsServer: "9.9.9.9:53",
                expectedValues: ["v=spf1 -all", "say \"hi\""]),
            Monitor.probe(
                id: "c", kind: .tls, timeoutMs: 3000, host: "10.0.0.1", port: 8443, certMinDaysLeft: 0,
                verifyTLS: false),
        ]
    )
    func storedFormRoundTrip(monitor: Monitor) throws {
        try monitor.validate()
        let record = MonitorRecord(monitor)
        #expect(record.url == monitor.url)
        #expect(!record.settingsJSON.contains("followRedirects"), "no HTTP settings: \(record.settingsJSON)")
        #expect(try record.monitor() == monitor)
    }

    @Test("expectedValues compare without case and without the final dot")
    func expectedValuesCompareLoosely() {
        let monitor = Monitor.probe(
            id: "d", kind: .dns, dnsName: "a.example", recordType: .MX, expectedValues: ["10 Mail.Example.com."])
        #expect(monitor.missingExpectedValues(in: ["10 mail.example.com", "20 b.example.com"]).isEmpty)
        #expect(monitor.missingExpectedValues(in: ["20 mail.example.com"]) == ["10 Mail.Example.com."])
    }
}

@Suite("DNSAnswerParser")
struct DNSAnswerParserTests {
    /// A response to `example.com` with the given answer records (owner: a pointer to the question).
    private func response(type: UInt16, answers: [(type: UInt16, data: [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        bytes += [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        bytes += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        for answer in answers {
            bytes += [0xC0, 12, UInt8(answer.type >> 8), UInt8(answer.type & 0xFF), 0, 1, 0, 0, 0x0E, 0x10]
            bytes += [UInt8(answer.data.count >> 8), UInt8(answer.data.count & 0xFF)] + answer.data
        }
        return bytes
    }

    @Test("reads A, AAAA, MX (with a compressed name), TXT, SOA; skips a CNAME in an A answer")
    func readsTypes() throws {
        let a = response(type: 1, answers: [(5, [3] + Array("www".utf8) + [0xC0, 12]), (1, [192, 0, 2, 1])])
        #expect(try DNSAnswerParser.answers(of: .A, in: a) == ["192.0.2.1"])
        #expect(try DNSAnswerParser.answers(of: .CNAME, in: a) == ["www.example.com"])
        let aaaa = response(
            type: 28, answers: [(28, [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1])])
        #expect(try DNSAnswerParser.answers(of: .AAAA, in: aaaa) == ["2001:db8::1"])
        let mx = response(type: 15, answers: [(15, [0, 10, 4] + Array("mail".utf8) + [0xC0, 12])])
        #expect(try DNSAnswerParser.answers(of: .MX, in: mx) == ["10 mail.example.com"])
        let txt = response(type: 16, answers: [(16, [3] + Array("abc".utf8) + [3] + Array("def".utf8))])
        #expect(try DNSAnswerParser.answers(of: .TXT, in: txt) == ["abcdef"])
        let soa = response(
            type: 6,
            answers: [
                (6, [2] + Array("ns".utf8) + [0xC0, 12, 0xC0, 12] + [0, 0, 0, 7] + [UInt8](repeating: 0, count: 16))
            ])
        #expect(try DNSAnswerParser.answers(of: .SOA, in: soa) == ["ns.example.com example.com 7 0 0 0 0"])
    }

    @Test("a truncated answer or a pointer loop is Malformed, never a crash")
    func refusesMalformed() {
        let mx = response(type: 15, answers: [(15, [0, 10, 4] + Array("mail".utf8) + [0xC0, 12])])
        #expect(throws: DNSAnswerParser.Malformed.self) {
            try DNSAnswerParser.answers(of: .MX, in: Array(mx.dropLast(3)))
        }
        // A name pointing at itself.
        let loop = response(type: 5, answers: [(5, [0xC0, 12])]).enumerated().map {
            $0.offset == 12 ? 0xC0 : $0.element
        }
        let looped = loop.enumerated().map { $0.offset == 13 ? 12 : $0.element }
        #expect(throws: DNSAnswerParser.Malformed.self) { try DNSAnswerParser.answers(of: .CNAME, in: looped) }
    }
}

@Suite("Results line: what tls and dns checks learn")
struct ResultLineDetailsTests {
    @Test("tls findings and dns answers follow the transport fields; an HTTP line has none of them")
    func detailsAreAppended() throws {
        var encoder = ResultLineEncoder()
        encoder.append(
            CheckResult(
                monitorId: "c", checkedAtMs: 0, status: .up, certExpiresAt: 86_400,
                details: CheckDetails(tlsIssuer: "CN=CA", tlsProtocol: "TLSv1.3", tlsCipher: "TLS_AES_256_GCM_SHA384")))
        encoder.append(
            CheckResult(
                monitorId: "d", checkedAtMs: 0, status: .up, details: CheckDetails(dnsAnswers: ["1.2.3.4", "a\"b"])))
        encoder.append(CheckResult(monitorId: "h", checkedAtMs: 0, status: .up))
        let lines = String(decoding: encoder.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(
            lines[0].hasSuffix(
                #","certExpiresAt":"1970-01-02T00:00:00.000Z","httpVersion":null,"tlsResumed":null,"tlsIssuer":"CN=CA","tlsProtocol":"TLSv1.3","tlsCipher":"TLS_AES_256_GCM_SHA384"}"#
            ))
        #expect(
            lines[1].hasSuffix(
                #","certExpiresAt":null,"httpVersion":null,"tlsResumed":null,"dnsAnswers":["1.2.3.4","a\"b"]}"#))
        #expect(lines[2].hasSuffix(#","certExpiresAt":null,"httpVersion":null,"tlsResumed":null}"#))
        for line in lines { _ = try JSONSerialization.jsonObject(with: Data(line.utf8)) }
    }
}
