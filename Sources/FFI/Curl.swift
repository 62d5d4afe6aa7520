// libcurl, wrapped. Everything unsafe about libcurl lives in this file.
//
// Ownership:
// - `CurlMulti` owns one CURLM handle (one per engine loop) and the ev_io watchers of the
//   sockets curl asks it to watch (the "hiper" design: CURLMOPT_SOCKETFUNCTION -> ev_io,
//   CURLMOPT_TIMERFUNCTION -> one LoopTimer). curl's socket and timer callbacks receive an
//   unretained pointer to the CurlMulti, which outlives every transfer it drives.
// - `CurlEasy` owns one CURL handle and the per-transfer buffers curl writes into. Easies are
//   pooled by the engine and keep their options from one check to the next while the checks
//   share a `CurlTransferProfile`; a new profile resets them (curl_easy_reset keeps the
//   connection and DNS caches of the multi handle). Each easy points curl's PRIVATE, WRITEDATA,
//   HEADERDATA (HTTPS) and OPENSOCKETDATA at itself, unretained: the pool keeps it alive for the
//   life of the loop.
// - `CurlTLSSessionShare` owns one CURLSH that holds TLS sessions. An easy attached to a share
//   keeps a strong reference to it until it is attached to another (or freed), so a share is
//   never cleaned up while an easy uses it. Shares have no lock callbacks: one loop thread each.
// - A curl_slist made by `setConnectTo` is owned by the easy until the next transfer replaces or
//   clears it (curl keeps a pointer to it among the options);
//   header lists are borrowed from their owner (`CurlHeaderList`), which must outlive the transfer.
// - Control-plane transfers (last section of this file): a `CurlTransferRunner` lives on one loop
//   thread and owns its CurlMulti, its DNSChannel, a pool of CurlEasy and every transfer in flight.
//   A running transfer's easy points WRITEDATA, HEADERDATA and READDATA at the transfer's
//   `TransferRecorder`, unretained; the runner holds the recorder until the easy has left the
//   multi handle (finished, cancelled or shut down). Its header and recipient lists
//   (`CurlHeaderList`) are held by the transfer for as long.
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

    /// Stops a transfer that has not finished (curl closes its connection); no delegate call follows.
    package func remove(_ easy: CurlEasy) {
        curl_multi_remove_handle(raw, easy.raw)
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
            easy.lastResult = code
            delegate?.transferFinished(
                easy, failure: code == CURLE_OK ? easy.transportFailure : easy.classifyFailure(code))
        }
    }
}

// curl calls these only from inside a call the multi (or, for an easy handle's callbacks, the
// multi driving it) makes itself, which keeps the object alive: the callbacks borrow it
// (`_withUnsafeGuaranteedRef`) instead of retaining and releasing it on every call.

private let curlSocketCallback: curl_socket_callback = { _, fd, what, userData, socketData in
    guard let userData else { return 0 }
    Unmanaged<CurlMulti>.fromOpaque(userData)._withUnsafeGuaranteedRef {
        $0.socketChanged(fd: fd, what: what, watcher: socketData)
    }
    return 0
}

private let curlTimerCallback: curl_multi_timer_callback = { _, timeoutMs, userData in
    guard let userData else { return 0 }
    Unmanaged<CurlMulti>.fromOpaque(userData)._withUnsafeGuaranteedRef { $0.timerChanged(timeoutMs: timeoutMs) }
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

/// The CA certificates TLS checks verify against, parsed once from a PEM bundle when a loop is
/// made (never inside a check: curl would otherwise parse the bundle during the first handshake
/// of each loop and that check's `tlsMs` would carry it). Each TLS connection of an easy given
/// this store takes a reference to it; curl keeps one in the multi handle's CA cache.
///
/// Confined to one loop thread once handed to its easies (an OpenSSL store is not meant to be
/// shared between threads without need). Owns one reference, dropped in deinit.
package final class CurlTrustStore {
    /// The X509_STORE; also handed to the loop's `TLSContext` (same thread), which takes its
    /// own reference.
    package let raw: UnsafeMutableRawPointer

    /// Parses `path` (PEM certificates); throws with OpenSSL's reason.
    package init(bundlePath: String) throws(CurlTrustStoreError) {
        let error = UnsafeMutablePointer<CChar>.allocate(capacity: 256)
        defer { error.deallocate() }
        guard let store = CEngineShims_ssl_trust_store_load(bundlePath, error, 256) else {
            throw CurlTrustStoreError(path: bundlePath, reason: String(cString: error))
        }
        raw = store
    }

    deinit { CEngineShims_ssl_trust_store_free(raw) }
}

/// A CA bundle that could not be read.
package struct CurlTrustStoreError: Error, CustomStringConvertible {
    package var path: String
    package var reason: String
    package var description: String { "cannot read the CA bundle \(path): \(reason)" }
}

/// A curl share handle holding TLS sessions for resumption (CURL_LOCK_DATA_SSL_SESSION). curl
/// keeps at most 8 sessions per share (one per host, port and TLS settings), dropping the least
/// recently used: the engine gives each monitor with `tlsSessionReuse` a share of its own, so
/// sessions of busy loops never push each other out, and a full handshake is forced by starting
/// the monitor over with a new, empty share.
///
/// Confined to one loop thread (no lock callbacks). Freed when the last easy has let go of it.
package final class CurlTLSSessionShare {
    fileprivate let raw: UnsafeMutableRawPointer

    package init() {
        guard let share = CEngineShims_curl_share_tls_sessions() else {
            fatalError("curl_share_init failed: out of memory")
        }
        raw = share
    }

    deinit { curl_share_cleanup(raw) }
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

/// The options of a transfer that follow from its monitor and its hop's scheme alone (not from
/// the URL, the address or the time left), plus what the transfer records of the answer.
///
/// A class, shared: the engine makes one per distinct profile and a monitor's checks all hold
/// it, so a pooled handle whose last transfer had this very profile keeps its options as they
/// are (`CurlEasy.prepareForTransfer`), found by one pointer comparison. Equality and hashing
/// are by value, to find the shared one.
package final class CurlTransferProfile: Hashable, Sendable {
    /// The hop is HTTPS: the handle reads the CA bundle and the peer's certificate.
    package let wantsCertificate: Bool
    package let method: String
    package let body: String?
    package let lowSpeedBytesPerSecond: Int
    package let lowSpeedSeconds: Int
    package let verifyTLS: Bool
    package let reuseConnection: Bool
    package let tlsSessionReuse: Bool
    package let httpVersion: MonitorHTTPVersion
    package let acceptEncoding: Bool
    /// The body cap (decoded bytes) and whether the body is kept for the monitor's assertions.
    package let maxBodyBytes: Int
    package let captureBody: Bool

    package init(_ monitor: Monitor, overTLS: Bool) {
        wantsCertificate = overTLS
        method = monitor.method
        body = monitor.body
        lowSpeedBytesPerSecond = monitor.lowSpeedBytesPerSecond
        lowSpeedSeconds = monitor.lowSpeedSeconds
        verifyTLS = monitor.verifyTLS
        reuseConnection = monitor.reuseConnection
        tlsSessionReuse = monitor.tlsSessionReuse
        httpVersion = monitor.httpVersion
        acceptEncoding = monitor.acceptEncoding
        maxBodyBytes = monitor.maxBodyBytes
        captureBody = monitor.needsBody
    }

    package static func == (left: CurlTransferProfile, right: CurlTransferProfile) -> Bool {
        left.wantsCertificate == right.wantsCertificate && left.method == right.method && left.body == right.body
            && left.lowSpeedBytesPerSecond == right.lowSpeedBytesPerSecond
            && left.lowSpeedSeconds == right.lowSpeedSeconds && left.verifyTLS == right.verifyTLS
            && left.reuseConnection == right.reuseConnection && left.tlsSessionReuse == right.tlsSessionReuse
            && left.httpVersion == right.httpVersion && left.acceptEncoding == right.acceptEncoding
            && left.maxBodyBytes == right.maxBodyBytes && left.captureBody == right.captureBody
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(wantsCertificate)
        hasher.combine(method)
        hasher.combine(body)
        hasher.combine(lowSpeedBytesPerSecond)
        hasher.combine(lowSpeedSeconds)
        hasher.combine(verifyTLS)
        hasher.combine(reuseConnection)
        hasher.combine(tlsSessionReuse)
        hasher.combine(httpVersion)
        hasher.combine(acceptEncoding)
        hasher.combine(maxBodyBytes)
        hasher.combine(captureBody)
    }
}

/// What one transfer of a `CurlEasy` records and how it was set up (see `CurlEasy.transfer`).
private struct TransferRecord {
    var bodyBytes = 0
    var exceededBodyLimit = false
    var certificateNotAfter: Int64?
    var tlsResumed: Bool?
    var policyRefusal: PolicyRefusal?
    var lastResult: CURLcode = CURLE_OK
    var captureBody = false
    var bodyLimit = 0
    /// The transfer is HTTPS: it reads the CA bundle and the peer's certificate.
    var wantsCertificate = false
    /// `httpVersion: "2"`: an answer in another version fails the check.
    var requiresHTTP2 = false
    var sawHeader = false
}

/// One curl easy handle plus what its callbacks record during a transfer.
package final class CurlEasy {
    package let raw: UnsafeMutableRawPointer
    /// The engine's index for the check this easy serves (set by the engine per transfer).
    package var checkSlot: Int32 = -1

    // Per-transfer state written by curl's callbacks.
    package private(set) var body: [UInt8] = []
    package var bodyBytes: Int { transfer.bodyBytes }
    package var exceededBodyLimit: Bool { transfer.exceededBodyLimit }
    package var certificateNotAfter: Int64? { transfer.certificateNotAfter }
    /// HTTPS: whether the connection resumed a TLS session (nil: plain HTTP or no handshake).
    package var tlsResumed: Bool? { transfer.tlsResumed }
    package var policyRefusal: PolicyRefusal? { transfer.policyRefusal }
    /// curl's verdict on the last finished transfer (set before the delegate hears of it).
    package fileprivate(set) var lastResult: CURLcode {
        get { transfer.lastResult }
        set { transfer.lastResult = newValue }
    }
    /// Everything above but the body, and the transfer's settings, in one value: a new transfer
    /// starts with one assignment (one exclusivity check instead of one per field, per check).
    private var transfer = TransferRecord()
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    /// CURLOPT_CONNECT_TO is set (to `connectTo`).
    private var hasConnectTo = false
    /// The profile the handle's options were last set for (nil: none, or a custom transfer's).
    private var appliedProfile: CurlTransferProfile?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The target policy every socket this easy opens must pass (redirects and DNS answers included).
    package let policy: TargetPolicy
    private let caBundlePath: String?
    private let userAgent: String
    private let trustStore: CurlTrustStore?
    /// The share the easy is attached to between session-reusing transfers (see `init`).
    private let restingShare: CurlTLSSessionShare?
    /// The share curl uses for this easy's TLS sessions now (curl_easy_reset keeps it).
    private var attachedShare: CurlTLSSessionShare?

    /// `trustStore`, when given, is what TLS verifies against (and `caBundlePath` is not read).
    /// `restingShare`, when given, is where the easy's TLS session cache lives whenever it is not
    /// lent to a monitor's share (`useTLSSessions(from:)`); the engine's transfers turn that cache
    /// off unless the monitor reuses sessions. Without it curl gives the easy a cache of its own,
    /// which attaching a share would orphan (curl 7.88 overwrites the pointer).
    package init(
        policy: TargetPolicy, caBundlePath: String?, userAgent: String, trustStore: CurlTrustStore? = nil,
        restingShare: CurlTLSSessionShare? = nil
    ) {
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        raw = handle
        self.policy = policy
        self.caBundlePath = caBundlePath
        self.userAgent = userAgent
        self.trustStore = trustStore
        self.restingShare = restingShare
        errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        body.reserveCapacity(4096)
        if let restingShare { attach(restingShare) }
    }

    deinit {
        curl_slist_free_all(connectTo)
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Starts a transfer's setup: clears the per-transfer record and brings the handle's options
    /// to `profile`. A handle keeps its options between transfers (curl resets only a transfer's
    /// state), so when its last transfer had the same profile — most of a fleet shares one —
    /// nothing is reset or set again here; `configure` then sets what differs per check. Measured
    /// in docs/BENCHMARKS.md ("Instructions per check"): the reset and the ~20 options set again
    /// cost several thousand instructions per check.
    package func prepareForTransfer(_ profile: CurlTransferProfile) {
        // Only a body that was kept: the caller may still share the buffer (the last check's
        // outcome), and clearing a shared buffer allocates a new one.
        if !body.isEmpty { body.removeAll(keepingCapacity: body.capacity <= 1 << 20) }
        transfer = TransferRecord(
            captureBody: profile.captureBody, bodyLimit: profile.maxBodyBytes,
            wantsCertificate: profile.wantsCertificate, requiresHTTP2: profile.httpVersion == .http2)
        errorBuffer[0] = 0
        if appliedProfile !== profile {
            applyProfile(profile)
            appliedProfile = profile
        }
    }

    /// For a transfer whose caller sets its own options (the delivery runner): every option is
    /// cleared but the handle's own callbacks, and the handle forgets its profile.
    package func prepareForCustomTransfer() {
        body.removeAll(keepingCapacity: body.capacity <= 1 << 20)
        transfer = TransferRecord(bodyLimit: .max)
        errorBuffer[0] = 0
        resetOptions()
        appliedProfile = nil
    }

    /// Clears every option, then sets the ones every transfer of `profile` shares.
    private func applyProfile(_ profile: CurlTransferProfile) {
        resetOptions()
        // Only an HTTPS hop reads the bundle (a plain check need not copy its path) and the
        // peer's certificate, when the first header arrives (curl calls the header function for
        // every header line: plain checks do without it).
        if profile.wantsCertificate {
            let me = UnsafeMutableRawPointer(Unmanaged.passUnretained(self).toOpaque())
            _ = CEngineShims_curl_easy_setopt_write_function(raw, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
            set(CURLOPT_HEADERDATA, pointer: me)
            if let trustStore {
                _ = CEngineShims_curl_easy_use_trust_store(raw, trustStore.raw)
            } else if let caBundlePath {
                set(CURLOPT_CAINFO, caBundlePath)
            }
        }
        set(CURLOPT_USERAGENT, userAgent)
        switch profile.method {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "POST": set(CURLOPT_POST, 1)
        default: set(CURLOPT_CUSTOMREQUEST, profile.method)
        }
        if let body = profile.body {
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.utf8.count))
            set(CURLOPT_COPYPOSTFIELDS, body)
        } else if profile.method == "POST" {
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: 0)
            set(CURLOPT_COPYPOSTFIELDS, "")
        }
        if profile.lowSpeedBytesPerSecond > 0 {
            set(CURLOPT_LOW_SPEED_LIMIT, profile.lowSpeedBytesPerSecond)
            set(CURLOPT_LOW_SPEED_TIME, profile.lowSpeedSeconds)
        }
        if !profile.verifyTLS {
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if !profile.reuseConnection {
            // A fresh connection per check: connect and TLS timings are real. An HTTP/1.1 request
            // also says "Connection: close" so the server closes first and keeps the TIME_WAIT.
            set(CURLOPT_FRESH_CONNECT, 1)
            set(CURLOPT_FORBID_REUSE, 1)
        }
        if profile.wantsCertificate && !profile.tlsSessionReuse {
            // curl keeps a TLS session cache per easy by default, and easies are pooled: without
            // this a later check to the same host would resume whichever session its easy held.
            set(CURLOPT_SSL_SESSIONID_CACHE, 0)
        }
        configureHTTPVersion(profile.httpVersion, overTLS: profile.wantsCertificate)
        if profile.acceptEncoding {
            // "" = every encoding this libcurl decodes (gzip, deflate, br, zstd). The write
            // callback counts decoded bytes against the cap, so a compression bomb stops there.
            set(CURLOPT_ACCEPT_ENCODING, "")
        } else {
            // Refuse early when the server announces a body over the cap; chunked bodies are
            // counted in the write callback. (Not when decoding: Content-Length counts encoded bytes.)
            set(CURLOPT_MAXFILESIZE_LARGE, offset: Int64(profile.maxBodyBytes))
        }
    }

    /// Clears every option, then sets the handle's callbacks and the settings of every transfer.
    private func resetOptions() {
        curl_easy_reset(raw)
        curl_slist_free_all(connectTo)
        connectTo = nil
        hasConnectTo = false
        let me = UnsafeMutableRawPointer(Unmanaged.passUnretained(self).toOpaque())
        set(CURLOPT_PRIVATE, pointer: me)
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(errorBuffer))
        _ = CEngineShims_curl_easy_setopt_write_function(raw, CURLOPT_WRITEFUNCTION, curlWriteCallback)
        set(CURLOPT_WRITEDATA, pointer: me)
        _ = CEngineShims_curl_easy_setopt_opensocket_function(raw, curlOpenSocketCallback)
        set(CURLOPT_OPENSOCKETDATA, pointer: me)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TCP_NODELAY, 0)
        // No proxy, whatever the environment says: through an `http_proxy` the socket would go
        // to the proxy, and the target policy (which judges the address connected to) would
        // never see the target. Both set also spare curl five `getenv` calls per transfer.
        set(CURLOPT_PROXY, "")
        set(CURLOPT_NOPROXY, "")
        _ = CEngineShims_curl_easy_allow_http_only(raw)
        // Debian's libcurl sets a default CA *path*; with a path set curl re-parses the whole
        // store on every handshake (59 checks/s instead of 1.8k, docs/PLATFORM.md). A bundle file
        // alone is parsed once and cached in the multi handle.
        set(CURLOPT_CAPATH, pointer: nil)
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
    /// c-ares resolver; curl must never start its own resolver thread). `host` nil: for whatever
    /// host the URL names (an IP literal, whose spelling curl may normalise).
    package func setConnectTo(host: String?, port: Int, address: IPAddress) {
        let target = address.isIPv6 ? "[\(address)]" : "\(address)"
        let hostPart = host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        let previous = connectTo
        connectTo = curl_slist_append(nil, "\(hostPart):\(port):\(target):\(port)")
        set(CURLOPT_CONNECT_TO, pointer: UnsafeRawPointer(connectTo))
        curl_slist_free_all(previous)
        hasConnectTo = true
    }

    /// Lets the transfer connect to whatever its URL names (an IP-literal host): clears a
    /// connect-to list an earlier transfer of this handle set.
    package func clearConnectTo() {
        guard hasConnectTo else { return }
        set(CURLOPT_CONNECT_TO, pointer: nil)
        hasConnectTo = false
        curl_slist_free_all(connectTo)
        connectTo = nil
    }

    /// Sets what differs between checks of one profile. `timeoutMs` is what is left of the
    /// check's budget (DNS and earlier redirect hops already spent the rest).
    package func configure(url: String, headers: CurlHeaderList?, timeoutMs: Int, connectTimeoutMs: Int) {
        set(CURLOPT_URL, url)
        setHeaders(headers)
        set(CURLOPT_TIMEOUT_MS, max(timeoutMs, 1))
        set(CURLOPT_CONNECTTIMEOUT_MS, max(min(connectTimeoutMs, timeoutMs), 1))
    }

    private func configureHTTPVersion(_ version: MonitorHTTPVersion, overTLS: Bool) {
        switch version {
        case .http1_1, .automatic:
            // Over plain http both are libcurl's default (HTTP/1.1): no option. Over TLS "1.1" is
            // explicit, libcurl's own default (since 7.62) being HTTP/2 when offered.
            guard overTLS else { return }
            set(CURLOPT_HTTP_VERSION, version == .http1_1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS)
        case .http2:
            // https: h2 agreed by ALPN; http: HTTP/2 from the first byte (no Upgrade round trip).
            set(CURLOPT_HTTP_VERSION, overTLS ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        }
    }

    /// Lends this transfer `share`'s TLS sessions: curl resumes the session it holds for the
    /// host (if any) and stores the session this transfer gets. Until `finishTransfer()`.
    package func useTLSSessions(from share: CurlTLSSessionShare) {
        if attachedShare !== share { attach(share) }
    }

    private func attach(_ share: CurlTLSSessionShare?) {
        set(CURLOPT_SHARE, pointer: share.map { UnsafeRawPointer($0.raw) })
        attachedShare = share
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

    /// The HTTP version of the answer as major × 10 + minor (11, 20, 30); 0 without an answer.
    package var answeredHTTPVersion: UInt8 {
        switch info(CURLINFO_HTTP_VERSION) {
        case CURL_HTTP_VERSION_1_0: return 10
        case CURL_HTTP_VERSION_1_1: return 11
        case CURL_HTTP_VERSION_2_0: return 20
        case CURL_HTTP_VERSION_3: return 30
        default: return 0
        }
    }

    /// A complete answer that still fails the check for its transport: HTTP/1.x where the
    /// monitor requires HTTP/2. nil when the answer is acceptable.
    fileprivate var transportFailure: (CheckErrorCode, String)? {
        guard transfer.requiresHTTP2 else { return nil }
        let version = answeredHTTPVersion
        if version == 20 { return nil }
        let answered = version == 0 ? "no HTTP version" : "HTTP/\(version / 10).\(version % 10)"
        return (
            .badResponse,
            "the server answered in \(answered); httpVersion \"2\" requires HTTP/2 (\"auto\" accepts either)"
        )
    }

    /// The URL a 3xx answer points to, resolved against the request URL by curl.
    package var redirectURL: String? { infoString(CURLINFO_REDIRECT_URL) }

    package var errorText: String { String(cString: errorBuffer) }

    /// Ends a transfer's hold on shared state. (The connect-to list stays until the next
    /// transfer replaces or clears it: curl keeps a pointer to it among the options.)
    package func finishTransfer() {
        // Give a monitor's share back, so that it can be freed when the monitor starts over.
        if attachedShare !== restingShare { attach(restingShare) }
    }

    // MARK: callbacks (curl -> Swift)

    fileprivate func received(body chunk: UnsafeRawBufferPointer) -> Int {
        transfer.bodyBytes += chunk.count
        if transfer.bodyBytes > transfer.bodyLimit {
            transfer.exceededBodyLimit = true
            return 0  // makes curl abort with CURLE_WRITE_ERROR
        }
        if transfer.captureBody { body.append(contentsOf: chunk) }
        return chunk.count
    }

    fileprivate func receivedHeader() {
        if transfer.sawHeader { return }
        transfer.sawHeader = true
        // The connection is still open here; after the transfer curl may have closed it.
        if transfer.wantsCertificate {
            var resumed: Int32 = -1
            let notAfter = CEngineShims_curl_peer_tls_state(raw, &resumed)
            if notAfter >= 0 { transfer.certificateNotAfter = notAfter }
            if resumed >= 0 { transfer.tlsResumed = resumed == 1 }
        }
    }

    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        var bytes: (UInt64, UInt64) = (0, 0)
        let length = withUnsafeMutableBytes(of: &bytes) { buffer in
            CEngineShims_curl_sockaddr_ip(address, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        let ip: IPAddress? = withUnsafeBytes(of: &bytes) { buffer in
            IPAddress(networkOrder: UnsafeRawBufferPointer(rebasing: buffer.prefix(Int(length))))
        }
        guard let ip else {
            transfer.policyRefusal = PolicyRefusal(address: .v4(0), rangeName: "non-IP address family")
            return CEngineShims_curl_SOCKET_BAD()
        }
        if let rangeName = policy.refusal(for: ip) {
            transfer.policyRefusal = PolicyRefusal(address: ip, rangeName: rangeName)
            return CEngineShims_curl_SOCKET_BAD()
        }
        return CEngineShims_curl_open_socket(address)
    }
}

private let curlWriteCallback: curl_write_callback = { data, size, count, userData in
    guard let userData else { return 0 }
    return Unmanaged<CurlEasy>.fromOpaque(userData)._withUnsafeGuaranteedRef {
        $0.received(body: UnsafeRawBufferPointer(start: data, count: size * count))
    }
}

private let curlHeaderCallback: curl_write_callback = { _, size, count, userData in
    guard let userData else { return 0 }
    Unmanaged<CurlEasy>.fromOpaque(userData)._withUnsafeGuaranteedRef { $0.receivedHeader() }
    return size * count
}

private let curlOpenSocketCallback: curl_opensocket_callback = { clientData, _, address in
    guard let clientData, let address else { return CEngineShims_curl_SOCKET_BAD() }
    return Unmanaged<CurlEasy>.fromOpaque(clientData)._withUnsafeGuaranteedRef { $0.openSocket(address) }
}

// MARK: - Failure classification

extension CurlEasy {
    /// Turns curl's verdict on a failed transfer into the engine's error code and a sentence a
    /// person can act on. `code` is never CURLE_OK here.
    package func classifyFailure(_ code: CURLcode) -> (CheckErrorCode, String) {
        let detail = errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : errorText
        let osErrno = Int32(truncatingIfNeeded: info(CURLINFO_OS_ERRNO))
        if let refusal = policyRefusal {
            return (
                .policy,
                "connection to \(refusal.address) refused by the target policy (\(refusal.rangeName) address); allow it with --allow-private-targets or --allow-target"
            )
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
                return (.tooLarge, "the body exceeds the limit of \(transfer.bodyLimit) bytes")
            }
            return (.internalError, "curl: \(detail)")
        case CURLE_COULDNT_RESOLVE_HOST:
            return (.dnsFailure, "curl could not resolve the host: \(detail)")
        default:
            return (.internalError, "curl error \(code.rawValue): \(detail)")
        }
    }
}

// MARK: - Control-plane transfers (notifications: SMTP, Telegram, webhooks)
//
// The control plane sends e-mail, Telegram messages and webhooks through the same machinery as
// checks: a CurlMulti driven by a libev loop, CurlEasy handles whose open-socket callback holds
// every connection to a `TargetPolicy`, and names resolved by c-ares on the same loop and handed
// to curl with CURLOPT_CONNECT_TO (curl never starts its resolver thread). A
// `CurlTransferRunner` lives on one loop thread; the control plane's `DeliveryClient` bridges it
// to async/await. Requests and responses are `Sendable` values.

/// One header line of a request or a response.
package struct CurlHeaderField: Sendable, Equatable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The SMTP envelope of a message (the message itself, headers and body, is the request's body).
package struct CurlMailEnvelope: Sendable, Equatable {
    /// The envelope sender, a bare address (`alerts@example.com`): `MAIL FROM:<...>`.
    package var from: String
    /// The envelope recipients, bare addresses: one `RCPT TO:<...>` each.
    package var recipients: [String]

    package init(from: String, recipients: [String]) {
        self.from = from
        self.recipients = recipients
    }
}

/// One transfer for the control plane: an HTTP(S) request, or an SMTP(S) message when `mail` is
/// set. Only the http, https, smtp and smtps schemes are accepted. Redirects are not followed.
package struct CurlTransferRequest: Sendable {
    /// `http(s)://...` or, with `mail`, `smtp(s)://host[:port][/EHLO-name]` (credentials go in
    /// `username`/`password`, not in the URL).
    package var url: String
    /// HTTP method (`GET`, `POST`, `PUT`, ...). Ignored for SMTP.
    package var method: String
    /// HTTP request headers. Ignored for SMTP (the message carries its own).
    package var headers: [CurlHeaderField]
    /// HTTP request body, or the whole SMTP message (CRLF line ends; curl dot-stuffs it).
    package var body: [UInt8]
    /// The whole transfer, DNS included, milliseconds.
    package var timeoutMs: Int
    /// Connecting (TCP and TLS), milliseconds; at most `timeoutMs`.
    package var connectTimeoutMs: Int
    /// Set for SMTP: the envelope. `smtp://` upgrades with STARTTLS when the server offers it
    /// (CURLUSESSL_TRY); `smtps://` is TLS from the first byte.
    package var mail: CurlMailEnvelope?
    /// Login (SMTP AUTH, or HTTP basic auth).
    package var username: String?
    package var password: String?
    /// The policy this transfer's connections are held to; nil = the runner's policy. The control
    /// plane relaxes it only for endpoints the operator configured (SMTP server, Bot API base).
    package var policy: TargetPolicy?
    /// Response body bytes kept (the rest is read and counted, not stored).
    package var maxResponseBytes: Int

    package init(
        url: String,
        method: String = "POST",
        headers: [CurlHeaderField] = [],
        body: [UInt8] = [],
        timeoutMs: Int = 15_000,
        connectTimeoutMs: Int = 5_000,
        mail: CurlMailEnvelope? = nil,
        username: String? = nil,
        password: String? = nil,
        policy: TargetPolicy? = nil,
        maxResponseBytes: Int = 64 << 10
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.mail = mail
        self.username = username
        self.password = password
        self.policy = policy
        self.maxResponseBytes = maxResponseBytes
    }
}

/// Why a transfer got no complete answer. `code` is stable and machine-readable; `message` is a
/// sentence for people (it never contains the request's URL, headers or credentials).
package struct CurlTransferFailure: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: String, Sendable, CaseIterable {
        case dnsNXDomain = "dns_nxdomain"
        case dnsNoAddress = "dns_no_address"
        case dnsTimeout = "dns_timeout"
        case dnsFailure = "dns_error"
        case connectRefused = "connect_refused"
        case connectTimeout = "connect_timeout"
        case connectFailed = "connect_failed"
        case reset = "reset"
        case emptyResponse = "empty_response"
        case badResponse = "bad_response"
        case truncated = "truncated"
        case tlsVerify = "tls_verify"
        case tlsExpired = "tls_expired"
        case tlsHandshake = "tls_handshake"
        case timeout = "timeout"
        /// The target policy refused the address (before connecting or in the open-socket callback).
        case policy = "policy"
        /// The server refused the login (SMTP AUTH).
        case loginDenied = "login_denied"
        /// The SMTP server answered a command with a 4xx/5xx reply (the response's `status`).
        case rejected = "rejected"
        /// The request cannot be sent as given (bad URL, scheme, header or address).
        case invalidRequest = "invalid_request"
        /// Too many transfers waiting already.
        case busy = "busy"
        /// The caller gave up (task cancelled).
        case cancelled = "cancelled"
        /// The runner was shut down.
        case shutdown = "shutdown"
        /// Anything else curl reports; the message carries curl's text.
        case internalError = "internal"
    }

    package var code: Code
    package var message: String
    /// curl's CURLcode when curl ran the transfer (for the log), else nil.
    package var curlCode: Int?

    package init(_ code: Code, _ message: String, curlCode: Int? = nil) {
        self.code = code
        self.message = message
        self.curlCode = curlCode
    }

    /// Whether the target policy refused the connection.
    package var isPolicyRefusal: Bool { code == .policy }

    /// `code: message`, the form checks use for their errors.
    package var description: String { "\(code.rawValue): \(message)" }
}

/// What came back. A transfer either has an answer (`failure` nil: `status` is the HTTP status
/// or the SMTP server's final reply code) or a failure (then `status` is the last reply code
/// seen, or 0).
package struct CurlTransferResponse: Sendable {
    /// HTTP status, or the last SMTP reply code (250 after a message was accepted); 0 if none.
    package var status: Int
    /// Headers of the final HTTP response, in order.
    package var headers: [CurlHeaderField]
    /// The first `maxResponseBytes` of the body.
    package var body: [UInt8]
    /// The body had more bytes than were kept.
    package var bodyTruncated: Bool
    /// SMTP: the server's reply lines (the last 32), e.g. `550 5.1.1 <x@example.com>: unknown`.
    package var serverReplies: [String]
    package var failure: CurlTransferFailure?
    /// The address curl connected to, if it connected.
    package var connectedAddress: String?
    /// From acceptance to completion (queueing and DNS included), microseconds.
    package var durationMicros: Int64

    package init(
        status: Int = 0,
        headers: [CurlHeaderField] = [],
        body: [UInt8] = [],
        bodyTruncated: Bool = false,
        serverReplies: [String] = [],
        failure: CurlTransferFailure? = nil,
        connectedAddress: String? = nil,
        durationMicros: Int64 = 0
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.serverReplies = serverReplies
        self.failure = failure
        self.connectedAddress = connectedAddress
        self.durationMicros = durationMicros
    }

    /// A transfer that failed before it got an answer.
    package static func failed(_ failure: CurlTransferFailure, durationMicros: Int64 = 0) -> CurlTransferResponse {
        CurlTransferResponse(failure: failure, durationMicros: durationMicros)
    }

    /// The value of the last header called `name` (case-insensitive).
    package func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last { $0.name.lowercased() == wanted }?.value
    }

    /// The SMTP reply line that carried `status` (the one that decided the outcome; curl's QUIT
    /// may come after it), else the last line.
    package var finalServerReply: String? {
        let code = String(status)
        return serverReplies.last { $0.hasPrefix(code + " ") || $0.hasPrefix(code + "-") || $0 == code }
            ?? serverReplies.last
    }
}

/// Runs control-plane transfers on one libev loop: c-ares for names, the target policy on every
/// resolved address and again in curl's open-socket callback, at most `maxInFlight` at once
/// (more wait in a FIFO queue; their wait does not count against their timeout).
///
/// Confined to the loop's thread: create it there, call it there, release it there.
package final class CurlTransferRunner: CurlMultiDelegate {
    package struct Configuration: Sendable {
        /// The policy of transfers that do not bring their own.
        package var policy: TargetPolicy
        /// DNS server `IP:PORT` for c-ares; nil = the machine's resolv.conf.
        package var dnsServer: String?
        /// Per-try DNS timeout and tries per server.
        package var dnsTimeoutMs = 2_000
        package var dnsTries = 2
        /// CA bundle (PEM file) TLS is verified against; nil = curl's default bundle.
        package var caBundlePath: String?
        /// Transfers running at once (DNS included). More wait in the queue.
        package var maxInFlight = 16
        /// Transfers waiting at most; more fail at once with `busy`.
        package var maxQueued = 1_024

        package init(policy: TargetPolicy, dnsServer: String? = nil, caBundlePath: String? = nil) {
            self.policy = policy
            self.dnsServer = dnsServer
            self.caBundlePath = caBundlePath
        }
    }

    /// Called exactly once per transfer, on the loop thread.
    package typealias Completion = (CurlTransferResponse) -> Void

    private let loop: EventLoop
    private let configuration: Configuration
    private let multi: CurlMulti
    private var dns: DNSChannel!
    private var transfers: [UInt64: PendingTransfer] = [:]
    private var transferByEasy: [ObjectIdentifier: UInt64] = [:]
    private var queue: [UInt64] = []
    private var queueHead = 0
    private var waitingForName: [String: [UInt64]] = [:]
    private var spareEasies: [CurlEasy] = []
    private var running = 0
    private var startingQueued = false
    private var isClosed = false

    package init(loop: EventLoop, configuration: Configuration) throws(DNSChannelError) {
        self.loop = loop
        self.configuration = configuration
        multi = CurlMulti(loop: loop)
        multi.delegate = self
        dns = try DNSChannel(
            loop: loop,
            server: configuration.dnsServer,
            timeoutMs: configuration.dnsTimeoutMs,
            tries: configuration.dnsTries
        ) { [unowned self] name, answer, _ in
            self.dnsAnswered(name: name, answer: answer)
        }
    }

    /// Transfers running now (DNS included).
    package var inFlight: Int { running }

    /// Transfers waiting for a free place.
    package var queued: Int { queue.count - queueHead }

    /// Starts `request` (or queues it); `completion` runs once, later or right away.
    package func start(_ request: CurlTransferRequest, id: UInt64, completion: @escaping Completion) {
        let transfer = PendingTransfer(
            id: id,
            request: request,
            completion: completion,
            accepted: Clock.monotonicMicros()
        )
        if isClosed {
            completion(.failed(CurlTransferFailure(.shutdown, "the delivery client is shut down")))
            return
        }
        if running < configuration.maxInFlight {
            transfers[id] = transfer
            begin(transfer)
        } else if queued < configuration.maxQueued {
            transfers[id] = transfer
            queue.append(id)
        } else {
            completion(
                .failed(
                    CurlTransferFailure(
                        .busy,
                        "\(configuration.maxInFlight) transfers in flight and \(queued) waiting; try again later"
                    )
                )
            )
        }
    }

    /// Ends a transfer that is waiting or running with `cancelled` (nothing if it is already done).
    package func cancel(id: UInt64) {
        guard let transfer = transfers[id] else { return }
        finish(transfer, .failed(CurlTransferFailure(.cancelled, "the delivery was cancelled")))
    }

    /// Ends every transfer with `shutdown` and refuses new ones. Call before releasing the runner.
    package func close() {
        isClosed = true
        for id in transfers.keys.sorted() {
            guard let transfer = transfers[id] else { continue }
            finish(transfer, .failed(CurlTransferFailure(.shutdown, "the delivery client shut down")))
        }
        queue.removeAll()
        queueHead = 0
    }

    // MARK: one transfer

    private func begin(_ transfer: PendingTransfer) {
        running += 1
        transfer.isRunning = true
        transfer.began = Clock.monotonicMicros()
        let target: TransferTarget
        do {
            target = try TransferTarget(transfer.request)
        } catch {
            finish(transfer, .failed(error))
            return
        }
        transfer.target = target
        let policy = transfer.request.policy ?? configuration.policy
        if let literal = target.literal {
            if let range = policy.refusal(for: literal) {
                finish(transfer, .failed(CurlTransferFailure(.policy, Self.policyMessage(literal, range))))
                return
            }
            startCurl(transfer, connectTo: nil)
            return
        }
        if target.host == "localhost" || target.host.hasSuffix(".localhost") {
            // RFC 6761: localhost is loopback, never asked of DNS.
            connect(transfer, resolved: [.v4(0x7F00_0001)])
            return
        }
        resolve(transfer, name: target.host)
    }

    private func resolve(_ transfer: PendingTransfer, name: String) {
        transfer.waitingForName = name
        // The whole timeout covers DNS as well: c-ares' own timeouts may be longer.
        let timer = LoopTimer(loop: loop) { [unowned self, id = transfer.id] in self.dnsDeadlinePassed(id: id) }
        timer.schedule(after: Double(transfer.request.timeoutMs) / 1000)
        transfer.deadline = timer
        // Registered before asking: c-ares may answer from inside `resolve`.
        if waitingForName[name] != nil {
            waitingForName[name]?.append(transfer.id)
        } else {
            waitingForName[name] = [transfer.id]
            dns.resolve(name)
        }
    }

    private func dnsAnswered(name: String, answer: DNSAnswer) {
        guard let waiting = waitingForName.removeValue(forKey: name) else { return }
        for id in waiting {
            guard let transfer = transfers[id], transfer.waitingForName == name else { continue }
            transfer.waitingForName = nil
            transfer.deadline?.cancel()
            transfer.deadline = nil
            switch answer {
            case .failure(let code, let message):
                finish(transfer, .failed(CurlTransferFailure(Self.code(code), message)))
            case .addresses(let addresses):
                connect(transfer, resolved: addresses)
            }
        }
    }

    private func dnsDeadlinePassed(id: UInt64) {
        guard let transfer = transfers[id], let name = transfer.waitingForName else { return }
        finish(
            transfer,
            .failed(
                CurlTransferFailure(
                    .dnsTimeout,
                    "no DNS answer for \(name) within the timeout of \(transfer.request.timeoutMs) ms"
                )
            )
        )
    }

    private func connect(_ transfer: PendingTransfer, resolved addresses: [IPAddress]) {
        let policy = transfer.request.policy ?? configuration.policy
        // The first address the policy allows is the one curl connects to (CONNECT_TO), so the
        // name cannot be re-resolved to something else between this check and the connect.
        guard let address = addresses.first(where: { policy.refusal(for: $0) == nil }) else {
            let first = addresses[0]
            let range = policy.refusal(for: first) ?? "refused"
            let host = transfer.target?.host ?? "the host"
            finish(
                transfer,
                .failed(
                    CurlTransferFailure(.policy, "\(host) resolves to \(first): " + Self.policyMessage(first, range))
                )
            )
            return
        }
        startCurl(transfer, connectTo: address)
    }

    private func startCurl(_ transfer: PendingTransfer, connectTo address: IPAddress?) {
        guard let target = transfer.target else { return }
        let request = transfer.request
        let spentMs = Int((Clock.monotonicMicros() - transfer.began) / 1000)
        let remainingMs = request.timeoutMs - spentMs
        guard remainingMs > 0 else {
            finish(
                transfer,
                .failed(CurlTransferFailure(.timeout, "the timeout was spent before the transfer could start"))
            )
            return
        }
        let policy = request.policy ?? configuration.policy
        let easy: CurlEasy
        if let index = spareEasies.lastIndex(where: { $0.policy == policy }) {
            easy = spareEasies.remove(at: index)
        } else {
            easy = CurlEasy(policy: policy, caBundlePath: nil, userAgent: "")
        }
        easy.prepareForCustomTransfer()
        let recorder = TransferRecorder(
            upload: request.mail == nil ? [] : request.body,
            bodyLimit: max(request.maxResponseBytes, 0),
            isMail: request.mail != nil
        )
        transfer.easy = easy
        transfer.recorder = recorder
        transferByEasy[ObjectIdentifier(easy)] = transfer.id

        let recorderPointer = UnsafeRawPointer(Unmanaged.passUnretained(recorder).toOpaque())
        _ = CEngineShims_curl_easy_setopt_write_function(easy.raw, CURLOPT_WRITEFUNCTION, transferWriteCallback)
        easy.set(CURLOPT_WRITEDATA, pointer: recorderPointer)
        _ = CEngineShims_curl_easy_setopt_write_function(easy.raw, CURLOPT_HEADERFUNCTION, transferHeaderCallback)
        easy.set(CURLOPT_HEADERDATA, pointer: recorderPointer)

        easy.set(CURLOPT_URL, request.url)
        let protocols = request.mail == nil ? "http,https" : "smtp,smtps"
        easy.set(CURLOPT_PROTOCOLS_STR, protocols)
        easy.set(CURLOPT_REDIR_PROTOCOLS_STR, protocols)
        easy.set(CURLOPT_TCP_NODELAY, 1)
        easy.set(CURLOPT_TIMEOUT_MS, remainingMs)
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, max(min(request.connectTimeoutMs, remainingMs), 1))
        // One connection per transfer: every connection passes the open-socket policy, and no idle
        // connection is left in the multi handle's cache when the runner goes away.
        easy.set(CURLOPT_FORBID_REUSE, 1)
        if let caBundlePath = configuration.caBundlePath { easy.set(CURLOPT_CAINFO, caBundlePath) }
        if let username = request.username { easy.set(CURLOPT_USERNAME, username) }
        if let password = request.password { easy.set(CURLOPT_PASSWORD, password) }

        if let mail = request.mail {
            easy.set(CURLOPT_MAIL_FROM, "<\(mail.from)>")
            let recipients = CurlHeaderList(mail.recipients.map { "<\($0)>" })
            transfer.lists.append(recipients)
            easy.set(CURLOPT_MAIL_RCPT, pointer: UnsafeRawPointer(recipients.raw))
            easy.set(CURLOPT_UPLOAD, 1)
            _ = CEngineShims_curl_easy_setopt_read_function(easy.raw, transferReadCallback)
            easy.set(CURLOPT_READDATA, pointer: recorderPointer)
            easy.set(CURLOPT_INFILESIZE_LARGE, offset: Int64(request.body.count))
            if target.scheme == "smtp" { easy.set(CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue)) }
        } else {
            configureHTTP(easy, request)
            // "Expect:" keeps curl from waiting for a 100 Continue before a larger body.
            let lines = request.headers.map { "\($0.name): \($0.value)" } + ["Expect:"]
            let headers = CurlHeaderList(lines)
            transfer.lists.append(headers)
            easy.setHeaders(headers)
        }
        if let address { easy.setConnectTo(host: target.host, port: target.port, address: address) }
        // Set first: a refused add reports the end of the transfer from inside `add`.
        transfer.isInMulti = true
        multi.add(easy)
    }

    private func configureHTTP(_ easy: CurlEasy, _ request: CurlTransferRequest) {
        switch request.method {
        case "GET":
            easy.set(CURLOPT_HTTPGET, 1)
            return
        case "HEAD":
            easy.set(CURLOPT_NOBODY, 1)
            return
        case "POST":
            easy.set(CURLOPT_POST, 1)
        default:
            easy.set(CURLOPT_CUSTOMREQUEST, request.method)
            if request.body.isEmpty { return }
        }
        easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(request.body.count))
        if request.body.isEmpty {
            easy.set(CURLOPT_COPYPOSTFIELDS, "")
        } else {
            request.body.withUnsafeBytes { easy.set(CURLOPT_COPYPOSTFIELDS, pointer: $0.baseAddress) }
        }
    }

    package func transferFinished(_ easy: CurlEasy, failure: (CheckErrorCode, String)?) {
        guard let id = transferByEasy[ObjectIdentifier(easy)], let transfer = transfers[id] else { return }
        transfer.isInMulti = false
        let recorder = transfer.recorder
        var response = CurlTransferResponse(
            status: easy.responseCode,
            headers: recorder?.headers ?? [],
            body: recorder?.body ?? [],
            bodyTruncated: (recorder?.bodyBytes ?? 0) > (recorder?.body.count ?? 0),
            serverReplies: recorder?.replies ?? [],
            connectedAddress: easy.infoString(CURLINFO_PRIMARY_IP).flatMap { $0.isEmpty ? nil : $0 }
        )
        if let failure {
            response.failure = classify(easy, transfer: transfer, engineVerdict: failure, status: response.status)
        }
        finish(transfer, response)
    }

    /// Names a failed transfer: the policy first, then what only the control plane meets (SMTP
    /// replies, logins), then the engine's classification of connection, TLS and time failures.
    private func classify(
        _ easy: CurlEasy,
        transfer: PendingTransfer,
        engineVerdict: (CheckErrorCode, String),
        status: Int
    ) -> CurlTransferFailure {
        let code = easy.lastResult
        let curlCode = Int(code.rawValue)
        let detail = easy.errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : easy.errorText
        if let refusal = easy.policyRefusal {
            return CurlTransferFailure(
                .policy,
                Self.policyMessage(refusal.address, refusal.rangeName),
                curlCode: curlCode
            )
        }
        let replies = transfer.recorder?.replies ?? []
        let reply = CurlTransferResponse(status: status, serverReplies: replies).finalServerReply
        switch code {
        case CURLE_LOGIN_DENIED:
            return CurlTransferFailure(
                .loginDenied,
                "the server refused the login: \(reply ?? detail)",
                curlCode: curlCode
            )
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return CurlTransferFailure(.invalidRequest, "curl cannot send this request: \(detail)", curlCode: curlCode)
        case CURLE_USE_SSL_FAILED:
            return CurlTransferFailure(.tlsHandshake, "the server would not start TLS: \(detail)", curlCode: curlCode)
        default:
            break
        }
        if transfer.request.mail != nil, (400...599).contains(status) {
            return CurlTransferFailure(
                .rejected,
                "the SMTP server answered \(reply ?? String(status)) (\(detail))",
                curlCode: curlCode
            )
        }
        let (engineCode, message) = engineVerdict
        return CurlTransferFailure(Self.code(engineCode), message, curlCode: curlCode)
    }

    /// Completes a transfer once: frees its place, hands the easy back, starts the next in line.
    private func finish(_ transfer: PendingTransfer, _ response: CurlTransferResponse) {
        guard transfers.removeValue(forKey: transfer.id) != nil else { return }
        transfer.deadline?.cancel()
        transfer.deadline = nil
        if let easy = transfer.easy {
            transferByEasy.removeValue(forKey: ObjectIdentifier(easy))
            if transfer.isInMulti {
                // Cancelled or shut down while curl runs it: take it out before the recorder goes.
                multi.remove(easy)
                transfer.isInMulti = false
            }
            easy.finishTransfer()
            if spareEasies.count < configuration.maxInFlight { spareEasies.append(easy) }
            transfer.easy = nil
        }
        transfer.recorder = nil
        transfer.lists.removeAll()
        if transfer.isRunning {
            transfer.isRunning = false
            running -= 1
        }
        var completed = response
        completed.durationMicros = Clock.monotonicMicros() - transfer.accepted
        transfer.completion(completed)
        startQueued()
    }

    private func startQueued() {
        if startingQueued || isClosed { return }
        startingQueued = true
        defer { startingQueued = false }
        while running < configuration.maxInFlight, queueHead < queue.count {
            let id = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            if let transfer = transfers[id] { begin(transfer) }
        }
    }

    private static func policyMessage(_ address: IPAddress, _ range: String) -> String {
        "connection to \(address) refused by the target policy (\(range) address)"
    }

    private static func code(_ engineCode: CheckErrorCode) -> CurlTransferFailure.Code {
        CurlTransferFailure.Code(rawValue: engineCode.rawValue) ?? .internalError
    }
}

/// Scheme, host and port of a request, as curl's own URL parser reads them.
private struct TransferTarget {
    var scheme: String
    /// Without brackets for IPv6 literals.
    var host: String
    var port: Int
    var literal: IPAddress?

    init(_ request: CurlTransferRequest) throws(CurlTransferFailure) {
        func invalid(_ reason: String) -> CurlTransferFailure { CurlTransferFailure(.invalidRequest, reason) }
        guard let handle = curl_url() else { throw CurlTransferFailure(.internalError, "curl_url: out of memory") }
        defer { curl_url_cleanup(handle) }
        guard curl_url_set(handle, CURLUPART_URL, request.url, 0) == CURLUE_OK else {
            throw invalid("the URL is not valid")
        }
        func part(_ which: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased() else { throw invalid("the URL has no scheme") }
        let allowed = request.mail == nil ? ["http", "https"] : ["smtp", "smtps"]
        guard allowed.contains(scheme) else {
            throw invalid("scheme \(scheme) is not allowed here (only \(allowed.joined(separator: ", ")))")
        }
        guard var host = part(CURLUPART_HOST), !host.isEmpty else { throw invalid("the URL has no host") }
        guard host.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw invalid("the host name must be ASCII (punycode for international names)")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let portText = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)), let port = Int(portText) else {
            throw invalid("the URL has no usable port")
        }
        // CR, LF or NUL would let a value end one header (or SMTP command) and start another.
        func hasControlBytes(_ text: String) -> Bool { text.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 } }
        for header in request.headers where header.name.isEmpty || hasControlBytes(header.name + header.value) {
            throw invalid("header \(header.name.debugDescription) is empty or contains a line break")
        }
        if let mail = request.mail {
            for address in [mail.from] + mail.recipients
            where address.isEmpty || hasControlBytes(address)
                || address.utf8.contains(where: { "<> ".utf8.contains($0) })
            {
                throw invalid("\(address.debugDescription) is not a bare e-mail address")
            }
            guard !mail.recipients.isEmpty else { throw invalid("the message has no recipient") }
        } else if request.method.isEmpty || !request.method.utf8.allSatisfy({ (0x41...0x5A).contains($0) }) {
            throw invalid("\(request.method.debugDescription) is not an HTTP method")
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.literal = IPAddress(parsing: host)
    }
}

/// A transfer from acceptance to completion (owned by the runner's table).
private final class PendingTransfer {
    let id: UInt64
    let request: CurlTransferRequest
    let completion: CurlTransferRunner.Completion
    let accepted: Int64
    var began: Int64 = 0
    var isRunning = false
    /// The easy is inside the multi handle (curl may call the recorder).
    var isInMulti = false
    var target: TransferTarget?
    var waitingForName: String?
    var deadline: LoopTimer?
    var easy: CurlEasy?
    var recorder: TransferRecorder?
    /// Header and recipient lists curl reads during the transfer.
    var lists: [CurlHeaderList] = []

    init(id: UInt64, request: CurlTransferRequest, completion: @escaping CurlTransferRunner.Completion, accepted: Int64)
    {
        self.id = id
        self.request = request
        self.completion = completion
        self.accepted = accepted
    }
}

/// What curl's callbacks write during one control-plane transfer, and the upload they read.
private final class TransferRecorder {
    private let upload: [UInt8]
    private var uploadOffset = 0
    private let bodyLimit: Int
    private let isMail: Bool
    private var headerBytes = 0
    private(set) var body: [UInt8] = []
    private(set) var bodyBytes = 0
    private(set) var headers: [CurlHeaderField] = []
    private(set) var replies: [String] = []

    /// Header bytes kept per response (curl itself refuses more than 100 KiB).
    private static let headerLimit = 32 << 10
    private static let replyLimit = 32

    init(upload: [UInt8], bodyLimit: Int, isMail: Bool) {
        self.upload = upload
        self.bodyLimit = bodyLimit
        self.isMail = isMail
    }

    func received(body chunk: UnsafeRawBufferPointer) -> Int {
        bodyBytes += chunk.count
        let room = bodyLimit - body.count
        if room > 0 { body.append(contentsOf: chunk.prefix(room)) }
        return chunk.count
    }

    func received(headerLine chunk: UnsafeRawBufferPointer) -> Int {
        var end = chunk.count
        while end > 0 && (chunk[end - 1] == 10 || chunk[end - 1] == 13) { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: chunk[0..<end]), as: UTF8.self)
        if isMail {
            // SMTP: curl passes every server reply line here.
            if !line.isEmpty { replies.append(line) }
            if replies.count > Self.replyLimit { replies.removeFirst(replies.count - Self.replyLimit) }
            return chunk.count
        }
        if line.hasPrefix("HTTP/") {
            // A new response starts (after a 100 Continue, say): only the final one's headers count.
            headers.removeAll()
            headerBytes = 0
            return chunk.count
        }
        guard let colon = line.firstIndex(of: ":"), headerBytes + chunk.count <= Self.headerLimit else {
            return chunk.count
        }
        headerBytes += chunk.count
        headers.append(
            CurlHeaderField(trimmingBlanks(line[..<colon]), trimmingBlanks(line[line.index(after: colon)...]))
        )
        return chunk.count
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, upload.count - uploadOffset)
        guard count > 0 else { return 0 }
        upload.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[uploadOffset..<uploadOffset + count]))
        }
        uploadOffset += count
        return count
    }
}

/// `text` without leading and trailing spaces and tabs.
private func trimmingBlanks(_ text: Substring) -> String {
    var trimmed = text
    while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
    while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
    return String(trimmed)
}

private let transferWriteCallback: curl_write_callback = { data, size, count, userData in
    guard let userData else { return 0 }
    return Unmanaged<TransferRecorder>.fromOpaque(userData).takeUnretainedValue()
        .received(body: UnsafeRawBufferPointer(start: data, count: size * count))
}

private let transferHeaderCallback: curl_write_callback = { data, size, count, userData in
    guard let userData else { return 0 }
    return Unmanaged<TransferRecorder>.fromOpaque(userData).takeUnretainedValue()
        .received(headerLine: UnsafeRawBufferPointer(start: data, count: size * count))
}

private let transferReadCallback: curl_read_callback = { buffer, size, count, userData in
    guard let userData, let buffer else { return 0 }
    return Unmanaged<TransferRecorder>.fromOpaque(userData).takeUnretainedValue()
        .read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}
