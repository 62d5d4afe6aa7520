import LookoutCore
import LookoutFFI

/// A `tls` check: connect, TLS handshake (SNI and the certificate checked against `host`),
/// nothing sent after it. Reports the leaf's expiry, issuer, protocol and cipher whatever the
/// verdict, so an expired or wrong certificate is described, not only refused:
/// - chain or name not trusted (with `verifyTLS`): ERROR `tls_expired` / `tls_verify`;
/// - expiring within `certMinDaysLeft` days: DOWN `cert_expiring`;
/// - otherwise UP.
final class TLSProbe: ConnectingProbe {
    private let context: TLSContext
    private var session: TLSSession?
    private var handshakeStarted: Int64 = 0

    init(loop: EventLoop, context: TLSContext, request: ProbeRequest, report: @escaping (ProbeOutcome) -> Void) {
        self.context = context
        super.init(loop: loop, request: request, report: report)
    }

    override func connected(_ socket: TCPSocket) {
        handshakeStarted = Clock.monotonicMicros()
        let hostIsIP = IPAddress(parsing: request.host) != nil
        guard let session = TLSSession(context: context, fd: socket.fd, host: request.host, hostIsIP: hostIsIP) else {
            finish(.failed(.tlsHandshake, "OpenSSL could not start a session"))
            return
        }
        self.session = session
        advance()
    }

    private func advance() {
        guard let session, let socket else { return }
        switch session.step() {
        case .wantRead:
            socket.watch(read: true, write: false) { [unowned self] _, _ in self.advance() }
        case .wantWrite:
            socket.watch(read: false, write: true) { [unowned self] _, _ in self.advance() }
        case .failed(let reason):
            var failed = ProbeOutcome.failed(.tlsHandshake, "TLS handshake with \(target) failed: \(reason)")
            failed.connectMicros = outcome.connectMicros
            finish(failed)
        case .done(let info):
            finish(verdict(info))
        }
    }

    private func verdict(_ info: TLSHandshakeInfo) -> ProbeOutcome {
        var result = outcome
        result.tlsMicros = Clock.monotonicMicros() - handshakeStarted
        result.certExpiresAt = info.notAfter
        result.details = CheckDetails(tlsIssuer: info.issuer, tlsProtocol: info.protocolVersion, tlsCipher: info.cipher)
        let monitor = request.monitor
        if monitor.verifyTLS, let failure = info.verifyFailure {
            if failure.expired {
                let when = info.notAfter.map { " on \(ProbeOutcome.date($0))" } ?? ""
                result.fail(.tlsExpired, "the certificate of \(target) expired\(when)")
            } else if failure.nameMismatch {
                result.fail(
                    .tlsVerify, "the certificate of \(target) is not valid for \(request.host): \(failure.reason)")
            } else {
                result.fail(.tlsVerify, "the certificate of \(target) is not trusted: \(failure.reason)")
            }
            return result
        }
        if monitor.certMinDaysLeft > 0, let notAfter = info.notAfter {
            let secondsLeft = notAfter - Clock.wallMicros() / 1_000_000
            if secondsLeft < Int64(monitor.certMinDaysLeft) * 86_400 {
                let days = Double(secondsLeft) / 86_400
                let left = secondsLeft < 0 ? "expired" : "expires in \(String(format: "%.1f", days)) days"
                result.fail(
                    .certExpiring,
                    "the certificate of \(target) \(left) (\(ProbeOutcome.date(notAfter))); "
                        + "certMinDaysLeft is \(monitor.certMinDaysLeft)")
            }
        }
        return result
    }

    override func deadlineMessage() -> String {
        "no TLS handshake with \(target) within the check's timeout of \(request.monitor.timeoutMs) ms"
    }

    override func willClose() {
        session = nil
    }
}

extension ProbeOutcome {
    /// Turns an outcome with its timings and findings into a failure.
    mutating func fail(_ code: CheckErrorCode, _ message: String) {
        status = code.status
        errorCode = code
        self.message = message
    }
}
