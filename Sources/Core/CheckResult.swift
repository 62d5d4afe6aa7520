/// One finished check. A plain value: it leaves the engine's loop thread as it is.
///
/// Times are integers (microseconds, epoch milliseconds) so that the hot path never formats
/// or allocates; the encoders turn them into the documented units.
public struct CheckResult: Sendable, Equatable {
    /// The monitor's id as given in the monitors file or database.
    public var monitorId: String
    /// Wall-clock start of the check (after any wait for a free slot), epoch milliseconds.
    public var checkedAtMs: Int64
    /// UP, DOWN, TIMEOUT or ERROR.
    public var status: CheckStatus
    /// The final HTTP status, 0 when there was no answer.
    public var httpStatus: Int32
    /// Time spent resolving names (all hops), microseconds; 0 for IP-literal targets or cache hits.
    public var dnsMicros: Int32
    /// TCP connect time of the final hop, microseconds.
    public var connectMicros: Int32
    /// TLS handshake time of the final hop, microseconds (0 for plain HTTP).
    public var tlsMicros: Int32
    /// Time to first byte of the final hop, from its start, microseconds.
    public var ttfbMicros: Int32
    /// Whole check, first DNS query to last byte of the final hop, microseconds.
    public var totalMicros: Int32
    /// Actual start minus due time, microseconds (scheduling lag; overload shows here).
    public var lagMicros: Int32
    /// Redirects followed.
    public var redirects: Int16
    /// nil when `status == .up`.
    public var errorCode: CheckErrorCode?
    /// A sentence a person can act on; nil when `status == .up`.
    public var errorMessage: String?
    /// notAfter of the leaf certificate (epoch seconds) for HTTPS checks that completed a handshake.
    public var certExpiresAt: Int64?
    /// The check's id (`checks.check_id`), assigned by the loop that ran it so that the row and
    /// any state-change event name the same check. nil: the writer assigns one.
    public var checkId: CheckID?
    /// The HTTP version of the final answer as major × 10 + minor (11 = HTTP/1.1, 20 = HTTP/2);
    /// 0 when there was no answer. Spelt `"1.1"`, `"2"` by `httpVersionName` in the results file,
    /// live results, `checks.http_version` and the API.
    public var httpVersion: UInt8
    /// HTTPS: whether the final hop resumed a TLS session (`tlsSessionReuse`) rather than doing
    /// a full handshake; nil for plain HTTP or when no handshake completed (`checks.tls_resumed`).
    public var tlsResumed: Bool?
    /// What a `tls` or `dns` check learnt besides timings (nil for HTTP and TCP checks): kept out
    /// of line so an HTTP result stays as small as it was.
    public var details: CheckDetails?

    // Inlinable: the engine makes one per check, and the call across the module boundary
    // (which also built the result in a temporary and copied it out) cost ~90 instructions.

    /// A result; every timing in microseconds.
    @inlinable
    public init(
        monitorId: String, checkedAtMs: Int64, status: CheckStatus, httpStatus: Int32 = 0,
        dnsMicros: Int32 = 0, connectMicros: Int32 = 0, tlsMicros: Int32 = 0, ttfbMicros: Int32 = 0,
        totalMicros: Int32 = 0, lagMicros: Int32 = 0, redirects: Int16 = 0,
        errorCode: CheckErrorCode? = nil, errorMessage: String? = nil, certExpiresAt: Int64? = nil,
        checkId: CheckID? = nil, details: CheckDetails? = nil, httpVersion: UInt8 = 0, tlsResumed: Bool? = nil
    ) {
        self.monitorId = monitorId
        self.checkedAtMs = checkedAtMs
        self.status = status
        self.httpStatus = httpStatus
        self.dnsMicros = dnsMicros
        self.connectMicros = connectMicros
        self.tlsMicros = tlsMicros
        self.ttfbMicros = ttfbMicros
        self.totalMicros = totalMicros
        self.lagMicros = lagMicros
        self.redirects = redirects
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.certExpiresAt = certExpiresAt
        self.checkId = checkId
        self.httpVersion = httpVersion
        self.tlsResumed = tlsResumed
        self.details = details
    }
}

extension CheckResult {
    /// `httpVersion` as every output spells it: `"1.0"`, `"1.1"`, `"2"`, `"3"`, any other as
    /// `major.minor`; nil when unknown (0). The results file's hand-written encoder inlines the
    /// common spellings (no String on its hot path) and its tests hold it to this one.
    public var httpVersionName: String? {
        switch httpVersion {
        case 0: nil
        case 10: "1.0"
        case 11: "1.1"
        case 20: "2"
        case 30: "3"
        default: "\(httpVersion / 10).\(httpVersion % 10)"
        }
    }
}

/// The findings of a `tls` or `dns` check. Immutable; shared, never copied, between the
/// results file, the database row and live updates.
public final class CheckDetails: Sendable, Equatable {
    /// `tls`: the issuer of the leaf certificate, one line (`CN=Lookout Test CA,O=Lookout`).
    public let tlsIssuer: String?
    /// `tls`: the negotiated protocol (`TLSv1.3`).
    public let tlsProtocol: String?
    /// `tls`: the negotiated cipher suite (`TLS_AES_256_GCM_SHA384`).
    public let tlsCipher: String?
    /// `dns`: the answers, in the order the server gave them, as `dig +short` writes them
    /// (without the final dot of names): `192.0.2.1`, `10 mail.example.com`, `"v=spf1 -all"` is
    /// `v=spf1 -all`. Empty when there were none.
    public let dnsAnswers: [String]?

    /// Findings; fields that do not apply are nil.
    public init(
        tlsIssuer: String? = nil, tlsProtocol: String? = nil, tlsCipher: String? = nil, dnsAnswers: [String]? = nil
    ) {
        self.tlsIssuer = tlsIssuer
        self.tlsProtocol = tlsProtocol
        self.tlsCipher = tlsCipher
        self.dnsAnswers = dnsAnswers
    }

    /// Equal findings.
    public static func == (lhs: CheckDetails, rhs: CheckDetails) -> Bool {
        lhs.tlsIssuer == rhs.tlsIssuer && lhs.tlsProtocol == rhs.tlsProtocol && lhs.tlsCipher == rhs.tlsCipher
            && lhs.dnsAnswers == rhs.dnsAnswers
    }
}
