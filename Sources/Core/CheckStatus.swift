/// The outcome of one check, as operators see it.
///
/// - `up`: the target answered and every expectation held.
/// - `down`: the target answered, but with the wrong status or a failed assertion.
/// - `timeout`: no complete answer within the check's time budget.
/// - `error`: the check could not get an answer at all (DNS, refused, reset, TLS, policy, too large ...).
public enum CheckStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case up = 0
    case down = 1
    case timeout = 2
    case error = 3

    /// The wire and database spelling: `UP`, `DOWN`, `TIMEOUT`, `ERROR`.
    public var name: String {
        switch self {
        case .up: return "UP"
        case .down: return "DOWN"
        case .timeout: return "TIMEOUT"
        case .error: return "ERROR"
        }
    }

    /// The wire spelling.
    public var description: String { name }

    /// The status spelled `name` (`UP` ...); nil for anything else.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// A stable, machine-readable reason for every non-UP check. The raw value is the contract
/// (results files, database, API); never rename one, only add.
public enum CheckErrorCode: String, Sendable, CaseIterable {
    // DNS
    case dnsNXDomain = "dns_nxdomain"
    case dnsNoAddress = "dns_no_address"
    case dnsTimeout = "dns_timeout"
    case dnsFailure = "dns_error"
    // Connection
    case connectRefused = "connect_refused"
    case connectTimeout = "connect_timeout"
    case connectFailed = "connect_failed"
    case reset = "reset"
    case emptyResponse = "empty_response"
    case badResponse = "bad_response"
    case truncated = "truncated"
    // TLS
    case tlsVerify = "tls_verify"
    case tlsExpired = "tls_expired"
    case tlsHandshake = "tls_handshake"
    // Time
    case timeout = "timeout"
    case lowSpeed = "low_speed"
    // Limits and redirects
    case tooLarge = "too_large"
    case redirectLoop = "redirect_loop"
    case tooManyRedirects = "too_many_redirects"
    case unsupportedScheme = "unsupported_scheme"
    case badRedirect = "bad_redirect"
    // Target policy (SSRF protection)
    case policy = "policy"
    // Expectations (status DOWN)
    case statusMismatch = "status_mismatch"
    case keywordMissing = "keyword_missing"
    case keywordPresent = "keyword_present"
    case jsonMismatch = "json_mismatch"
    case jsonInvalid = "json_invalid"
    /// `tcp`: the reply did not contain `expect` (status DOWN).
    case expectMissing = "expect_missing"
    /// `dns`: an `expectedValues` entry was not among the answers (status DOWN).
    case dnsMismatch = "dns_mismatch"
    /// `tls`: the certificate expires within `certMinDaysLeft` days (status DOWN).
    case certExpiring = "cert_expiring"
    // Anything curl reports that has no better name; the message carries curl's text.
    case internalError = "internal"

    /// The status a check with this error code gets.
    public var status: CheckStatus {
        switch self {
        case .statusMismatch, .keywordMissing, .keywordPresent, .jsonMismatch, .jsonInvalid, .expectMissing,
            .dnsMismatch, .certExpiring:
            return .down
        case .timeout, .connectTimeout, .lowSpeed:
            return .timeout
        default:
            return .error
        }
    }
}
