// OpenSSL for the `tls` check kind. Everything unsafe about OpenSSL's client sessions lives in
// this file (the OpenSSL calls themselves are in shim.c, behind opaque pointers).
//
// Ownership: a `TLSContext` owns one SSL_CTX with its trust store (one per loop, made when the
// loop is, so no check pays for parsing the CA bundle); a `TLSSession` owns one SSL, made over a
// socket it does not own, and freed in deinit. Both are confined to the loop's thread.
import CEngineShims
import LookoutCore

/// A CA bundle OpenSSL could not use.
package struct TLSContextError: Error, CustomStringConvertible {
    package var description: String
}

/// The client side of every `tls` check of one loop.
package final class TLSContext {
    fileprivate let raw: UnsafeMutableRawPointer

    /// Trusts `trustStore` (the loop's store, already parsed: no check pays for reading the
    /// bundle), else the PEM bundle at `caBundlePath`, else OpenSSL's default paths.
    package init(trustStore: CurlTrustStore?, caBundlePath: String?) throws(TLSContextError) {
        var error = [CChar](repeating: 0, count: 256)
        let context = error.withUnsafeMutableBufferPointer {
            CEngineShims_tls_context_new(trustStore?.raw, caBundlePath, $0.baseAddress, $0.count)
        }
        guard let context else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TLSContextError(
                description: "cannot set up TLS with \(caBundlePath ?? "the default CA paths"): \(reason)")
        }
        raw = context
    }

    deinit { CEngineShims_tls_context_free(raw) }
}

/// What a completed handshake showed.
package struct TLSHandshakeInfo: Sendable {
    /// notAfter of the leaf, epoch seconds; nil when there was no certificate.
    package var notAfter: Int64?
    /// nil when the chain and name verified; else OpenSSL's reason and whether it is expiry.
    package var verifyFailure: (reason: String, expired: Bool, nameMismatch: Bool)?
    package var issuer: String
    package var protocolVersion: String
    package var cipher: String
}

/// One handshake over a connected socket.
package final class TLSSession {
    /// A handshake step's outcome.
    package enum Step {
        case done(TLSHandshakeInfo)
        case wantRead
        case wantWrite
        case failed(String)
    }

    private let raw: UnsafeMutableRawPointer

    /// - Parameters:
    ///   - host: sent as SNI (unless an IP literal) and matched against the certificate.
    ///   - hostIsIP: the host is an IP literal: matched against the certificate's IP entries.
    package init?(context: TLSContext, fd: Int32, host: String, hostIsIP: Bool) {
        guard let session = CEngineShims_tls_new(context.raw, fd, hostIsIP ? nil : host, host, hostIsIP ? 1 : 0)
        else { return nil }
        raw = session
    }

    deinit { CEngineShims_tls_free(raw) }

    /// Runs the handshake as far as the socket allows.
    package func step() -> Step {
        var error = [CChar](repeating: 0, count: 256)
        let result = error.withUnsafeMutableBufferPointer { CEngineShims_tls_handshake(raw, $0.baseAddress, $0.count) }
        switch result {
        case Int32(CEngineShims_tls_done): return .done(info())
        case Int32(CEngineShims_tls_want_read): return .wantRead
        case Int32(CEngineShims_tls_want_write): return .wantWrite
        default: return .failed(Self.text(error))
        }
    }

    private func info() -> TLSHandshakeInfo {
        var info = CEngineShims_tls_info()
        CEngineShims_tls_info_get(raw, &info)
        let verifyResult = Int32(truncatingIfNeeded: info.verify_result)
        var failure: (String, Bool, Bool)?
        if verifyResult != 0 {
            failure = (
                withUnsafeBytes(of: &info.verify_error) { Self.text($0) },
                verifyResult == Int32(CEngineShims_tls_verify_expired),
                verifyResult == Int32(CEngineShims_tls_verify_hostname_mismatch)
                    || verifyResult == Int32(CEngineShims_tls_verify_ip_mismatch)
            )
        }
        return TLSHandshakeInfo(
            notAfter: info.not_after > 0 ? info.not_after : nil,
            verifyFailure: failure,
            issuer: withUnsafeBytes(of: &info.issuer) { Self.text($0) },
            protocolVersion: withUnsafeBytes(of: &info.protocol) { Self.text($0) },
            cipher: withUnsafeBytes(of: &info.cipher) { Self.text($0) }
        )
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
