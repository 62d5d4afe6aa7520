// libcurl, wrapped. Everything unsafe about libcurl lives in this file.
//
// Ownership:
// - `CurlMulti` owns one CURLM handle (one per engine loop) and the ev_io watchers of the
//   sockets curl asks it to watch (the "hiper" design: CURLMOPT_SOCKETFUNCTION -> ev_io,
//   CURLMOPT_TIMERFUNCTION -> one LoopTimer). curl's socket and timer callbacks receive an
//   unretained pointer to the CurlMulti, which outlives every transfer it drives.
// - `CurlEasy` owns one CURL handle and the per-transfer buffers curl writes into. Easies are
//   pooled by the engine and reset between checks (curl_easy_reset keeps the connection and
//   DNS caches of the multi handle). Each easy points curl's PRIVATE, WRITEDATA, HEADERDATA and
//   OPENSOCKETDATA at itself, unretained: the pool keeps it alive for the life of the loop.
// - A curl_slist passed with `setConnectTo` is owned by the easy until `finishTransfer()`;
//   header lists are borrowed from their owner (`CurlHeaderList`), which must outlive the transfer.
import CEngineShims
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide libcurl set-up; call once before any thread starts.
package enum CurlGlobal {
    package static func initialize() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }

    package static var version: String {
        guard let info = curl_version_info(CURLVERSION_TENTH) else { return "unknown" }
        return String(cString: info.pointee.version)
    }
}

/// Receives finished transfers from a `CurlMulti`.
package protocol CurlMultiDelegate: AnyObject {
    /// The transfer is done (already removed from the multi handle). `failure` is nil when
    /// curl got a complete answer, else the engine's error code and a sentence for people.
    func transferFinished(_ easy: CurlEasy, failure: (CheckErrorCode, String)?)
}

/// One curl multi handle driven by one libev loop.
package final class CurlMulti: LoopIOHandler {
    private let raw: UnsafeMutableRawPointer
    private let loop: EventLoop
    private var timer: LoopTimer!
    package weak var delegate: CurlMultiDelegate?
    private var runningHandles: Int32 = 0

    package init(loop: EventLoop) {
        self.loop = loop
        self.raw = curl_multi_init()
        super.init()
        timer = LoopTimer(loop: loop) { [unowned self] in self.timerFired() }
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = CEngineShims_curl_multi_setopt_socket_function(raw, curlSocketCallback)
        _ = CEngineShims_curl_multi_setopt_pointer(raw, CURLMOPT_SOCKETDATA, me)
        _ = CEngineShims_curl_multi_setopt_timer_function(raw, curlTimerCallback)
        _ = CEngineShims_curl_multi_setopt_pointer(raw, CURLMOPT_TIMERDATA, me)
    }

    deinit {
        timer.cancel()
        curl_multi_cleanup(raw)
    }

    /// Starts a configured transfer.
    package func add(_ easy: CurlEasy) {
        let result = curl_multi_add_handle(raw, easy.raw)
        if result != CURLM_OK {
            // Only possible when the handle is already in use: a programming error, reported as a
            // failed transfer rather than a crash of the whole engine.
            delegate?.transferFinished(easy, failure: (.internalError, "curl refused the transfer: \(result.rawValue)"))
        }
    }

    // MARK: curl -> loop

    fileprivate func socketChanged(fd: curl_socket_t, what: Int32, watcher: UnsafeMutableRawPointer?) {
        if what == CURL_POLL_REMOVE {
            if let watcher {
                loop.stopIO(watcher.assumingMemoryBound(to: ev_io.self))
                curl_multi_assign(raw, fd, nil)
            }
            return
        }
        var events: Int32 = 0
        if what & CURL_POLL_IN != 0 { events |= EventLoop.read }
        if what & CURL_POLL_OUT != 0 { events |= EventLoop.write }
        if let watcher {
            loop.updateIO(watcher.assumingMemoryBound(to: ev_io.self), events: events)
        } else {
            let started = loop.startIO(fd: fd, events: events, handler: self)
            curl_multi_assign(raw, fd, UnsafeMutableRawPointer(started))
        }
    }

    fileprivate func timerChanged(timeoutMs: Int) {
        if timeoutMs < 0 {
            timer.cancel()
        } else {
            // curl forbids calling socket_action from inside this callback, even for 0:
            // a zero-delay timer runs it on the next loop iteration instead.
            timer.schedule(after: Double(timeoutMs) / 1000)
        }
    }

    // MARK: loop -> curl

    package override func ioReady(fd: Int32, readable: Bool, writable: Bool) {
        var flags: Int32 = 0
        if readable { flags |= CURL_CSELECT_IN }
        if writable { flags |= CURL_CSELECT_OUT }
        _ = curl_multi_socket_action(raw, fd, flags, &runningHandles)
        drainFinishedTransfers()
    }

    private func timerFired() {
        _ = curl_multi_socket_action(raw, CEngineShims_curl_SOCKET_TIMEOUT(), 0, &runningHandles)
        drainFinishedTransfers()
    }

    private func drainFinishedTransfers() {
        var pending: Int32 = 0
        while let message = curl_multi_info_read(raw, &pending) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = CEngineShims_curl_msg_result(message)
            var privateData: UnsafeMutableRawPointer?
            _ = CEngineShims_curl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &privateData)
            curl_multi_remove_handle(raw, handle)
            guard let privateData else { continue }
            let easy = Unmanaged<CurlEasy>.fromOpaque(privateData).takeUnretainedValue()
            delegate?.transferFinished(easy, failure: code == CURLE_OK ? nil : easy.classifyFailure(code))
        }
    }
}

private let curlSocketCallback: curl_socket_callback = { _, fd, what, userData, socketData in
    guard let userData else { return 0 }
    Unmanaged<CurlMulti>.fromOpaque(userData).takeUnretainedValue().socketChanged(
        fd: fd, what: what, watcher: socketData)
    return 0
}

private let curlTimerCallback: curl_multi_timer_callback = { _, timeoutMs, userData in
    guard let userData else { return 0 }
    Unmanaged<CurlMulti>.fromOpaque(userData).takeUnretainedValue().timerChanged(timeoutMs: timeoutMs)
    return 0
}

/// A header list built once and shared by many transfers (curl reads but never frees it).
package final class CurlHeaderList: @unchecked Sendable {
    // @unchecked: immutable after init; curl only reads it.
    package let raw: UnsafeMutablePointer<curl_slist>?

    package init(_ lines: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines { list = curl_slist_append(list, line) }
        raw = list
    }

    deinit { curl_slist_free_all(raw) }
}

/// What a transfer's timings were, in microseconds from the transfer's start.
package struct CurlTimings {
    package var nameLookup: Int64 = 0
    package var connect: Int64 = 0
    package var appConnect: Int64 = 0
    package var startTransfer: Int64 = 0
    package var total: Int64 = 0
}

/// A refused connection attempt: which address and why (the policy's range name).
package struct PolicyRefusal {
    package var address: IPAddress
    package var rangeName: String
}

/// One curl easy handle plus what its callbacks record during a transfer.
package final class CurlEasy {
    package let raw: UnsafeMutableRawPointer
    /// The engine's index for the check this easy serves (set by the engine per transfer).
    package var checkSlot: Int32 = -1

    // Per-transfer state written by curl's callbacks.
    package private(set) var body: [UInt8] = []
    package private(set) var bodyBytes = 0
    package private(set) var exceededBodyLimit = false
    package private(set) var certificateNotAfter: Int64?
    package private(set) var policyRefusal: PolicyRefusal?
    private var captureBody = false
    private var bodyLimit = 0
    private var wantsCertificate = false
    private var sawHeader = false
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The target policy every socket this easy opens must pass (redirects and DNS answers included).
    private let policy: TargetPolicy
    private let caBundlePath: String?

    package init(policy: TargetPolicy, caBundlePath: String?) {
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        raw = handle
        self.policy = policy
        self.caBundlePath = caBundlePath
        errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        body.reserveCapacity(4096)
    }

    deinit {
        curl_slist_free_all(connectTo)
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option and per-transfer record, then sets the options every check shares.
    package func prepareForTransfer(captureBody: Bool, bodyLimit: Int, wantsCertificate: Bool) {
        curl_easy_reset(raw)
        curl_slist_free_all(connectTo)
        connectTo = nil
        body.removeAll(keepingCapacity: body.capacity <= 1 << 20)
        bodyBytes = 0
        exceededBodyLimit = false
        certificateNotAfter = nil
        policyRefusal = nil
        sawHeader = false
        self.captureBody = captureBody
        self.bodyLimit = bodyLimit
        self.wantsCertificate = wantsCertificate
        errorBuffer[0] = 0

        let me = UnsafeMutableRawPointer(Unmanaged.passUnretained(self).toOpaque())
        set(CURLOPT_PRIVATE, pointer: me)
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(errorBuffer))
        _ = CEngineShims_curl_easy_setopt_write_function(raw, CURLOPT_WRITEFUNCTION, curlWriteCallback)
        set(CURLOPT_WRITEDATA, pointer: me)
        _ = CEngineShims_curl_easy_setopt_write_function(raw, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
        set(CURLOPT_HEADERDATA, pointer: me)
        _ = CEngineShims_curl_easy_setopt_opensocket_function(raw, curlOpenSocketCallback)
        set(CURLOPT_OPENSOCKETDATA, pointer: me)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TCP_NODELAY, 0)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // Debian's libcurl sets a default CA *path*; with a path set curl re-parses the whole
        // store on every handshake (59 checks/s instead of 1.8k, PLATFORM.md). A bundle file
        // alone is parsed once and cached in the multi handle.
        set(CURLOPT_CAPATH, pointer: nil)
        // Only an HTTPS hop reads the bundle; a plain check need not copy its path.
        if wantsCertificate, let caBundlePath { set(CURLOPT_CAINFO, caBundlePath) }
    }

    // MARK: options

    @inline(__always) package func set(_ option: CURLoption, _ value: Int) {
        _ = CEngineShims_curl_easy_setopt_long(raw, option, value)
    }

    @inline(__always) package func set(_ option: CURLoption, offset value: Int64) {
        _ = CEngineShims_curl_easy_setopt_offset(raw, option, curl_off_t(value))
    }

    /// String options are copied by curl (all but CURLOPT_POSTFIELDS, which the engine never uses).
    @inline(__always) package func set(_ option: CURLoption, _ value: String) {
        _ = value.withCString { CEngineShims_curl_easy_setopt_pointer(raw, option, $0) }
    }

    @inline(__always) package func set(_ option: CURLoption, pointer value: UnsafeRawPointer?) {
        _ = CEngineShims_curl_easy_setopt_pointer(raw, option, value)
    }

    package func setHeaders(_ list: CurlHeaderList?) {
        set(CURLOPT_HTTPHEADER, pointer: UnsafeRawPointer(list?.raw))
    }

    /// Makes curl connect to `address` for `host:port` (names are resolved by the engine's
    /// c-ares resolver; curl must never start its own resolver thread).
    package func setConnectTo(host: String, port: Int, address: IPAddress) {
        let target = address.isIPv6 ? "[\(address)]" : "\(address)"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        curl_slist_free_all(connectTo)
        connectTo = curl_slist_append(nil, "\(hostPart):\(port):\(target):\(port)")
        set(CURLOPT_CONNECT_TO, pointer: UnsafeRawPointer(connectTo))
    }

    /// Sets everything one HTTP request needs. `timeoutMs` is what is left of the check's
    /// budget (DNS and earlier redirect hops already spent the rest).
    package func configure(
        url: String, monitor: Monitor, headers: CurlHeaderList?, timeoutMs: Int, connectTimeoutMs: Int,
        userAgent: String
    ) {
        set(CURLOPT_URL, url)
        switch monitor.method {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "POST": set(CURLOPT_POST, 1)
        default: set(CURLOPT_CUSTOMREQUEST, monitor.method)
        }
        if let body = monitor.body {
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.utf8.count))
            set(CURLOPT_COPYPOSTFIELDS, body)
        } else if monitor.method == "POST" {
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: 0)
            set(CURLOPT_COPYPOSTFIELDS, "")
        }
        setHeaders(headers)
        set(CURLOPT_USERAGENT, userAgent)
        set(CURLOPT_TIMEOUT_MS, max(timeoutMs, 1))
        set(CURLOPT_CONNECTTIMEOUT_MS, max(min(connectTimeoutMs, timeoutMs), 1))
        if monitor.lowSpeedBytesPerSecond > 0 {
            set(CURLOPT_LOW_SPEED_LIMIT, monitor.lowSpeedBytesPerSecond)
            set(CURLOPT_LOW_SPEED_TIME, monitor.lowSpeedSeconds)
        }
        if !monitor.verifyTLS {
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if !monitor.reuseConnection {
            // A fresh connection per check: connect and TLS timings are real. The request also
            // says "Connection: close" so the server closes first and keeps the TIME_WAIT.
            set(CURLOPT_FRESH_CONNECT, 1)
            set(CURLOPT_FORBID_REUSE, 1)
        }
        // Refuse early when the server announces a body over the cap; chunked bodies are
        // counted in the write callback.
        set(CURLOPT_MAXFILESIZE_LARGE, offset: Int64(monitor.maxBodyBytes))
    }

    // MARK: results

    package func info(_ info: CURLINFO) -> Int {
        var value = 0
        _ = CEngineShims_curl_easy_getinfo_long(raw, info, &value)
        return value
    }

    package func infoOffset(_ info: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        _ = CEngineShims_curl_easy_getinfo_offset(raw, info, &value)
        return Int64(value)
    }

    package func infoString(_ info: CURLINFO) -> String? {
        var value: UnsafeMutableRawPointer?
        _ = CEngineShims_curl_easy_getinfo_pointer(raw, info, &value)
        guard let value else { return nil }
        return String(cString: value.assumingMemoryBound(to: CChar.self))
    }

    package var responseCode: Int { info(CURLINFO_RESPONSE_CODE) }

    package var timings: CurlTimings {
        CurlTimings(
            nameLookup: infoOffset(CURLINFO_NAMELOOKUP_TIME_T),
            connect: infoOffset(CURLINFO_CONNECT_TIME_T),
            appConnect: infoOffset(CURLINFO_APPCONNECT_TIME_T),
            startTransfer: infoOffset(CURLINFO_STARTTRANSFER_TIME_T),
            total: infoOffset(CURLINFO_TOTAL_TIME_T))
    }

    /// The URL a 3xx answer points to, resolved against the request URL by curl.
    package var redirectURL: String? { infoString(CURLINFO_REDIRECT_URL) }

    package var errorText: String { String(cString: errorBuffer) }

    /// Frees per-transfer C memory early (the connect-to list) once a transfer is over.
    package func finishTransfer() {
        curl_slist_free_all(connectTo)
        connectTo = nil
    }

    // MARK: callbacks (curl -> Swift)

    fileprivate func received(body chunk: UnsafeRawBufferPointer) -> Int {
        bodyBytes += chunk.count
        if bodyBytes > bodyLimit {
            exceededBodyLimit = true
            return 0  // makes curl abort with CURLE_WRITE_ERROR
        }
        if captureBody { body.append(contentsOf: chunk) }
        return chunk.count
    }

    fileprivate func receivedHeader() {
        if sawHeader { return }
        sawHeader = true
        // The connection is still open here; after the transfer curl may have closed it.
        if wantsCertificate {
            let notAfter = CEngineShims_curl_peer_certificate_not_after(raw)
            if notAfter >= 0 { certificateNotAfter = notAfter }
        }
    }

    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        var bytes: (UInt64, UInt64) = (0, 0)
        let length = withUnsafeMutableBytes(of: &bytes) { buffer in
            CEngineShims_curl_sockaddr_ip(address, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        let ip: IPAddress? = withUnsafeBytes(of: &bytes) { buffer in
            length == 0 ? nil : IPAddress(bytes: Array(buffer.prefix(Int(length))))
        }
        guard let ip else {
            policyRefusal = PolicyRefusal(address: .v4(0), rangeName: "non-IP address family")
            return CEngineShims_curl_SOCKET_BAD()
        }
        if let rangeName = policy.refusal(for: ip) {
            policyRefusal = PolicyRefusal(address: ip, rangeName: rangeName)
            return CEngineShims_curl_SOCKET_BAD()
        }
        return CEngineShims_curl_open_socket(address)
    }
}

private let curlWriteCallback: curl_write_callback = { data, size, count, userData in
    guard let userData else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(userData).takeUnretainedValue()
    return easy.received(body: UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlHeaderCallback: curl_write_callback = { _, size, count, userData in
    guard let userData else { return 0 }
    Unmanaged<CurlEasy>.fromOpaque(userData).takeUnretainedValue().receivedHeader()
    return size * count
}

private let curlOpenSocketCallback: curl_opensocket_callback = { clientData, _, address in
    guard let clientData, let address else { return CEngineShims_curl_SOCKET_BAD() }
    return Unmanaged<CurlEasy>.fromOpaque(clientData).takeUnretainedValue().openSocket(address)
}

// MARK: - Failure classification

extension CurlEasy {
    /// Turns curl's verdict on a failed transfer into the engine's error code and a sentence a
    /// person can act on. `code` is never CURLE_OK here.
    package func classifyFailure(_ code: CURLcode) -> (CheckErrorCode, String) {
        let detail = errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : errorText
        let osErrno = Int32(truncatingIfNeeded: info(CURLINFO_OS_ERRNO))
        if let refusal = policyRefusal {
            return (.policy, "connection to \(refusal.address) refused by the target policy (\(refusal.rangeName) address); allow it with --allow-private-targets or --allow-target")
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            if detail.hasPrefix("Operation too slow") { return (.lowSpeed, "transfer too slow: \(detail)") }
            if infoOffset(CURLINFO_CONNECT_TIME_T) == 0 {
                return (.connectTimeout, "no connection within the connect timeout (\(detail))")
            }
            return (.timeout, "no complete answer within the timeout (\(detail))")
        case CURLE_COULDNT_CONNECT:
            if osErrno == ECONNREFUSED { return (.connectRefused, "connection refused: nothing listens on that port") }
            if osErrno == ETIMEDOUT { return (.connectTimeout, "connect timed out (\(detail))") }
            return (.connectFailed, "could not connect: \(detail)")
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR:
            if osErrno == ECONNRESET || osErrno == EPIPE || detail.contains("reset") {
                return (.reset, "connection reset by the server")
            }
            return (.reset, "connection broken: \(detail)")
        case CURLE_GOT_NOTHING:
            return (.emptyResponse, "the server closed the connection without answering")
        case CURLE_PARTIAL_FILE:
            return (.truncated, "the answer was cut short: \(detail)")
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_HTTP2, CURLE_HTTP2_STREAM,
            CURLE_BAD_CONTENT_ENCODING:
            return (.badResponse, "the server's answer is not valid HTTP: \(detail)")
        case CURLE_PEER_FAILED_VERIFICATION:
            // 10 = X509_V_ERR_CERT_HAS_EXPIRED
            if info(CURLINFO_SSL_VERIFYRESULT) == 10 || detail.contains("expired") {
                return (.tlsExpired, "the server's TLS certificate has expired")
            }
            return (.tlsVerify, "TLS certificate not trusted: \(detail)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_USE_SSL_FAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_CACERT_BADFILE:
            return (.tlsHandshake, "TLS handshake failed: \(detail)")
        case CURLE_WRITE_ERROR, CURLE_FILESIZE_EXCEEDED:
            if exceededBodyLimit || code == CURLE_FILESIZE_EXCEEDED {
                return (.tooLarge, "the body exceeds the limit of \(bodyLimit) bytes")
            }
            return (.internalError, "curl: \(detail)")
        case CURLE_COULDNT_RESOLVE_HOST:
            return (.dnsFailure, "curl could not resolve the host: \(detail)")
        default:
            return (.internalError, "curl error \(code.rawValue): \(detail)")
        }
    }
}
