import Testing

@testable import LookoutCore

@Suite("CheckStatus and CheckErrorCode")
struct CheckStatusTests {
    @Test(
        "status names are the wire spelling and parse back",
        arguments: [(CheckStatus.up, "UP"), (.down, "DOWN"), (.timeout, "TIMEOUT"), (.error, "ERROR")]
    )
    func statusNamesRoundTrip(status: CheckStatus, name: String) {
        #expect(status.name == name)
        #expect(status.description == name)
        #expect(CheckStatus(name: name) == status)
    }

    @Test(
        "unknown or differently cased status names do not parse",
        arguments: ["up", "Up", "", "DEGRADED", " UP", "UP "]
    )
    func unknownStatusNames(name: String) {
        #expect(CheckStatus(name: name) == nil)
    }

    @Test("raw values are the stored byte and never change")
    func statusRawValues() {
        #expect(CheckStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
    }

    @Test(
        "expectation failures are DOWN",
        arguments: [
            CheckErrorCode.statusMismatch, .keywordMissing, .keywordPresent, .jsonMismatch, .jsonInvalid,
            .expectMissing, .dnsMismatch, .certExpiring,
        ]
    )
    func expectationFailuresAreDown(code: CheckErrorCode) {
        #expect(code.status == .down)
    }

    @Test("time-budget failures are TIMEOUT", arguments: [CheckErrorCode.timeout, .connectTimeout, .lowSpeed])
    func timeBudgetFailuresAreTimeout(code: CheckErrorCode) {
        #expect(code.status == .timeout)
    }

    @Test("every other code is ERROR, including dns_timeout")
    func everythingElseIsError() {
        let down: Set<CheckErrorCode> = [
            .statusMismatch, .keywordMissing, .keywordPresent, .jsonMismatch, .jsonInvalid, .expectMissing,
            .dnsMismatch, .certExpiring,
        ]
        let timeout: Set<CheckErrorCode> = [.timeout, .connectTimeout, .lowSpeed]
        for code in CheckErrorCode.allCases where !down.contains(code) && !timeout.contains(code) {
            #expect(code.status == .error, "\(code.rawValue)")
        }
        #expect(CheckErrorCode.dnsTimeout.status == .error)
        #expect(CheckErrorCode.policy.status == .error)
    }

    @Test("error code raw values are the published contract")
    func errorCodeRawValues() {
        #expect(
            CheckErrorCode.allCases.map(\.rawValue) == [
                "dns_nxdomain", "dns_no_address", "dns_timeout", "dns_error", "connect_refused", "connect_timeout",
                "connect_failed", "reset", "empty_response", "bad_response", "truncated", "tls_verify", "tls_expired",
                "tls_handshake", "timeout", "low_speed", "too_large", "redirect_loop", "too_many_redirects",
                "unsupported_scheme", "bad_redirect", "policy", "status_mismatch", "keyword_missing",
                "keyword_present", "json_mismatch", "json_invalid", "expect_missing", "dns_mismatch",
                "cert_expiring", "internal",
            ]
        )
    }
}
