import LookoutCore

/// The decisions of one HTTP check, as a value-type state machine with an injected clock: the
/// loop (`CheckLoop`, the I/O shell) feeds it events stamped with a monotonic time in
/// microseconds, and each event returns the one `Action` the shell must carry out next. No I/O,
/// no clock, no C: unit tests drive a whole check, redirects and deadlines included, with plain
/// numbers.
///
/// A check runs hop by hop: resolve the host (skipped for an IP literal or `localhost`), judge
/// the address by the target policy, wait for a per-host permit (when `--max-per-host` is on),
/// transfer, then either follow a redirect (the next hop) or classify the answer and finish.
///
/// Rules it enforces:
/// - **One time budget.** `timeoutMs` runs from the check's start (the wait for a free slot never
///   counts) across DNS, permit waits and every hop; each transfer gets what is left, and a wait
///   for DNS or a permit ends when the budget is spent (`dns_timeout` / `timeout`).
/// - **Redirects.** At most `maxRedirects`; a URL already requested is a loop; only http and
///   https; every hop's address is judged by the policy again before any connection.
/// - **Waiting is lag.** Time spent waiting for a per-host permit is reported as lag, not as
///   duration: it moves `checkedAtMs` and leaves `totalMicros`.
/// - **Classification.** Every path ends in `.finish` with a status, and an error code and a
///   message for anything but UP (`ResponseEvaluator` judges complete answers).
struct CheckStateMachine: Sendable {
    /// What holds for every check of a loop.
    struct Rules: Sendable {
        var policy: TargetPolicy
        /// `--max-per-host`: each hop waits for a permit for its address; nil = no limit.
        var hostLimit: Int?
    }

    /// One request to make: the shell sets up a transfer to the hop's URL with `timeoutMs`.
    struct Transfer: Sendable, Equatable {
        /// The redirect target this hop requests; nil for the first hop, which requests the
        /// monitor's own URL (`PreparedMonitor.url`, read in place: a copy here would retain its
        /// strings on every check).
        var redirectedURL: MonitorURL?
        /// Pin the connection to this address (CURLOPT_CONNECT_TO); nil for an IP-literal host,
        /// which the request URL already spells as the address the policy judged.
        var connectTo: IPAddress?
        /// What is left of the check's budget, at least 1.
        var timeoutMs: Int
    }

    /// Times of the finished hop's transfer, microseconds from the hop's start.
    struct TransferTimings: Sendable, Equatable {
        var nameLookup: Int64 = 0
        var connect: Int64 = 0
        var appConnect: Int64 = 0
        var startTransfer: Int64 = 0
        /// notAfter of the server's leaf certificate (epoch seconds), when there was one.
        var certificateNotAfter: Int64?
        /// The HTTP version that answered (11, 20; 0 when none did).
        var httpVersion: UInt8 = 0
        /// Whether the TLS session was resumed; nil without TLS.
        var tlsResumed: Bool?

        init(
            nameLookup: Int64 = 0, connect: Int64 = 0, appConnect: Int64 = 0, startTransfer: Int64 = 0,
            certificateNotAfter: Int64? = nil, httpVersion: UInt8 = 0, tlsResumed: Bool? = nil
        ) {
            self.nameLookup = nameLookup
            self.connect = connect
            self.appConnect = appConnect
            self.startTransfer = startTransfer
            self.certificateNotAfter = certificateNotAfter
            self.httpVersion = httpVersion
            self.tlsResumed = tlsResumed
        }
    }

    /// How a hop's transfer ended, as curl saw it.
    struct TransferOutcome: Sendable {
        /// nil when curl got a complete answer; else curl's verdict as the engine's error code and
        /// a sentence for people (classified where curl's codes are known, in `CurlEasy`).
        var failure: (code: CheckErrorCode, message: String)?
        var httpStatus: Int = 0
        /// The Location of a 3xx answer, resolved against the request URL; read by the shell only
        /// when `wantsRedirectLocation(httpStatus:)` says so.
        var redirectLocation: String?
        /// The body as captured (only when the monitor needs it for an assertion).
        var body: [UInt8] = []
        var timings = TransferTimings()
    }

    enum Action: Sendable {
        /// Look `name` up (cache, joined query or a new one, at `at`), then call `nameResolved`;
        /// if no answer comes, call `deadlinePassed` at `deadline`.
        case resolve(name: String, at: Int64, deadline: Int64)
        /// Take a per-host permit for `address`, then call `permitGranted`; while none is free,
        /// wait (since `at`) and call `deadlinePassed` at `deadline`.
        case requestPermit(address: IPAddress, at: Int64, deadline: Int64)
        /// Start the transfer; then call `transferFinished`.
        case startTransfer(Transfer)
        /// The deadline fired early (the loop's cached time lags the clock): fire again at `at`.
        case rearmDeadline(at: Int64)
        /// The check is over: hand its handle and permit back and report the result (its
        /// `checkId` is the shell's to assign).
        case finish(CheckResult)
        /// Nothing to do (an event that no longer applies, such as a late deadline).
        case none
    }

    enum Phase: Sendable, Equatable {
        /// No check (before `start`, after `finish`).
        case idle
        /// Waiting for the DNS answer for `name`, since `since`.
        case resolving(name: String, since: Int64)
        /// Waiting for a per-host permit for `address`, since `since`.
        case waitingForPermit(address: IPAddress, connectTo: IPAddress?, since: Int64)
        /// A transfer of the current hop is in flight.
        case transferring
    }

    let rules: Rules
    private(set) var phase = Phase.idle
    /// The monitor as it was when the check started (it may be edited or removed meanwhile).
    private(set) var prepared: PreparedMonitor?
    /// The caller's number for the monitor (opaque here).
    private(set) var monitorIndex: Int32 = -1
    private var due: Int64 = 0
    /// When the check started (monotonic µs).
    private(set) var startMonotonic: Int64 = 0
    private var startWall: Int64 = 0
    /// When the check's whole budget (`timeoutMs`) runs out (monotonic µs).
    private(set) var deadline: Int64 = 0
    private var dnsMicros: Int64 = 0
    /// Time spent waiting for per-host permits (every hop): reported as lag, not duration.
    private var permitWaitMicros: Int64 = 0
    private(set) var redirects: Int16 = 0
    /// Status of the last redirect answer, reported when a later hop fails without one.
    private var redirectStatus: Int32 = 0
    /// The current hop's URL once a redirect was followed (nil: the monitor's own), and its text.
    private var redirectedURL: MonitorURL?
    private var redirectedText: String?
    /// URLs already requested, kept only once a redirect happened (loop detection).
    private var visited: [String] = []

    init(rules: Rules) {
        self.rules = rules
    }

    /// The name the check waits for, if it waits for DNS.
    var waitingForName: String? {
        if case .resolving(let name, _) = phase { return name }
        return nil
    }

    var isWaitingForPermit: Bool {
        if case .waitingForPermit = phase { return true }
        return false
    }

    // MARK: events

    /// A check of `prepared` (the caller's monitor `monitorIndex`), due at `due`, starts now.
    /// `literal` is the address of the monitor's host if it is an IP literal.
    mutating func start(
        _ prepared: PreparedMonitor, monitorIndex: Int32, literal: IPAddress?, due: Int64, now: Int64, wallNow: Int64
    ) -> Action {
        self.prepared = prepared
        self.monitorIndex = monitorIndex
        self.due = due
        startMonotonic = now
        startWall = wallNow
        deadline = now + Int64(prepared.monitor.timeoutMs) * 1000
        dnsMicros = 0
        permitWaitMicros = 0
        redirects = 0
        redirectStatus = 0
        redirectedURL = nil
        redirectedText = nil
        if prepared.monitor.kind == .dns && prepared.monitor.dnsServer == nil {
            // Asked of the engine's own resolver, which the operator chose: no target to judge.
            return startTransfer(connectTo: nil, now: now)
        }
        if let literal { return connect(literal: literal, now: now) }
        return beginHop(now: now)
    }

    /// The name the check waits for resolved to `addresses` (from the cache, or a query's answer).
    mutating func nameResolved(_ addresses: [IPAddress], now: Int64) -> Action {
        guard endResolving(now: now) else { return .none }
        return connect(resolved: addresses, now: now)
    }

    /// The lookup of the name the check waits for failed (NXDOMAIN, no address, server failure,
    /// c-ares' own timeout; remembered failures from the cache included).
    mutating func resolveFailed(_ code: CheckErrorCode, message: String, now: Int64) -> Action {
        guard endResolving(now: now) else { return .none }
        return finish(now: now, status: code.status, errorCode: code, message: message)
    }

    /// Ends the wait for DNS, counting its time; false if the check was not waiting.
    private mutating func endResolving(now: Int64) -> Bool {
        guard case .resolving(_, let since) = phase else { return false }
        dnsMicros += max(now - since, 0)
        phase = .transferring
        return true
    }

    /// The per-host permit the check asked for is the check's now.
    mutating func permitGranted(now: Int64) -> Action {
        guard case .waitingForPermit(_, let connectTo, let since) = phase else { return .none }
        permitWaitMicros += max(now - since, 0)
        return startTransfer(connectTo: connectTo, now: now)
    }

    /// The deadline armed by `.resolve` or `.requestPermit` fired.
    mutating func deadlinePassed(now: Int64) -> Action {
        guard let monitor = prepared?.monitor else { return .none }
        switch phase {
        case .idle, .transferring:
            // The wait ended before the timer did.
            return .none
        case .resolving(let name, let since):
            if now < deadline { return .rearmDeadline(at: deadline) }
            dnsMicros += max(now - since, 0)
            phase = .transferring
            return finish(
                now: now,
                status: CheckErrorCode.dnsTimeout.status,
                errorCode: .dnsTimeout,
                message: "no DNS answer for \(name) within the check's timeout of \(monitor.timeoutMs) ms"
            )
        case .waitingForPermit(let address, _, let since):
            if now < deadline { return .rearmDeadline(at: deadline) }
            permitWaitMicros += max(now - since, 0)
            phase = .transferring
            return finish(
                now: now,
                status: .timeout,
                errorCode: .timeout,
                message: "no turn to connect to \(address) within the check's timeout of \(monitor.timeoutMs) ms "
                    + "(--max-per-host \(rules.hostLimit ?? 0): that many checks to it were in flight)"
            )
        }
    }

    /// Whether the shell should read the Location of an answer with `httpStatus` (only when the
    /// check would follow it; reading it costs a string per answer).
    func wantsRedirectLocation(httpStatus: Int) -> Bool {
        // The status first: most answers are not redirects, and then the monitor is not read.
        (300...399).contains(httpStatus) && httpStatus != 304 && prepared?.monitor.followRedirects == true
    }

    /// The current hop's transfer ended.
    mutating func transferFinished(_ outcome: TransferOutcome, now: Int64) -> Action {
        guard case .transferring = phase, prepared != nil else { return .none }
        if let failure = outcome.failure {
            return finish(
                now: now, status: failure.code.status, errorCode: failure.code, message: failure.message,
                timings: outcome.timings)
        }
        let httpStatus = outcome.httpStatus
        if wantsRedirectLocation(httpStatus: httpStatus), let location = outcome.redirectLocation {
            return followRedirect(to: location, httpStatus: httpStatus, timings: outcome.timings, now: now)
        }
        // Most monitors ask for a 2xx and nothing more: decided without the monitor, whose copy
        // (to pass it) would retain each of its strings.
        let verdict =
            prepared.unsafelyUnwrapped.judgesStatusOnly && (200...299).contains(httpStatus)
            ? .up
            : ResponseEvaluator.evaluate(prepared.unsafelyUnwrapped.monitor, httpStatus: httpStatus, body: outcome.body)
        return finish(
            now: now, status: verdict.status, httpStatus: httpStatus, errorCode: verdict.errorCode,
            message: verdict.message, timings: outcome.timings)
    }

    /// A `tcp`, `dns` or `tls` check's probe ended (it started where an HTTP check starts its
    /// transfer, with the address the policy allowed, and keeps to the same deadline).
    mutating func probeFinished(_ outcome: ProbeOutcome, now: Int64) -> Action {
        guard case .transferring = phase, prepared != nil else { return .none }
        dnsMicros += outcome.dnsMicros
        let timings = TransferTimings(
            connect: outcome.connectMicros,
            appConnect: outcome.tlsMicros > 0 ? outcome.connectMicros + outcome.tlsMicros : 0,
            startTransfer: outcome.ttfbMicros, certificateNotAfter: outcome.certExpiresAt)
        return finish(
            now: now, status: outcome.status, errorCode: outcome.errorCode, message: outcome.message,
            timings: timings, details: outcome.details)
    }

    // MARK: hops

    /// The URL of the current hop (the monitor's own, or a redirect target).
    private var hopURL: MonitorURL? { redirectedURL ?? prepared?.url }

    /// Resolves the current hop's host (or takes its literal address).
    private mutating func beginHop(now: Int64) -> Action {
        guard let url = hopURL else { return .none }
        if let literal = url.address { return connect(literal: literal, now: now) }
        if url.host == "localhost" || url.host.hasSuffix(".localhost") {
            // RFC 6761: localhost is loopback, never asked of DNS.
            return connect(resolved: [.v4(0x7F00_0001)], now: now)
        }
        phase = .resolving(name: url.host, since: now)
        return .resolve(name: url.host, at: now, deadline: deadline)
    }

    private mutating func connect(literal: IPAddress, now: Int64) -> Action {
        if let range = rules.policy.refusal(for: literal) {
            return finish(now: now, status: .error, errorCode: .policy, message: Self.policyMessage(literal, range))
        }
        // Not pinned with CONNECT_TO (curl would parse that list on every transfer): the request
        // URL spells an IPv4 host in its canonical dotted form (MonitorURL.requestURL), so curl
        // reads the address the policy judged, and the open-socket callback checks every
        // connection against the policy anyway.
        return connectWhenPermitted(address: literal, connectTo: nil, now: now)
    }

    private mutating func connect(resolved addresses: [IPAddress], now: Int64) -> Action {
        // The first address the policy allows is the one curl connects to (CONNECT_TO), so a
        // name cannot be re-resolved to something else between check and connect.
        guard let address = addresses.first(where: { rules.policy.refusal(for: $0) == nil }) else {
            guard let first = addresses.first else {
                return finish(
                    now: now, status: .error, errorCode: .dnsNoAddress,
                    message: "\(hopURL?.host ?? "the host") has no address")
            }
            let range = rules.policy.refusal(for: first) ?? "refused"
            return finish(
                now: now,
                status: .error,
                errorCode: .policy,
                message: "\(hopURL?.host ?? "host") resolves to \(first): " + Self.policyMessage(first, range)
            )
        }
        return connectWhenPermitted(address: address, connectTo: address, now: now)
    }

    /// Permits are per hop: a redirect gives the permit back and the next hop asks for its own
    /// address, so a check never holds a permit for a host it is not talking to.
    private mutating func connectWhenPermitted(address: IPAddress, connectTo: IPAddress?, now: Int64) -> Action {
        guard rules.hostLimit != nil else { return startTransfer(connectTo: connectTo, now: now) }
        phase = .waitingForPermit(address: address, connectTo: connectTo, since: now)
        return .requestPermit(address: address, at: now, deadline: deadline)
    }

    private mutating func startTransfer(connectTo: IPAddress?, now: Int64) -> Action {
        phase = .transferring
        let remainingMs = (deadline - now) / 1000
        guard remainingMs > 0, prepared != nil else {
            return finish(
                now: now, status: .timeout, errorCode: .timeout,
                message: "the time budget was spent before the request could start")
        }
        return .startTransfer(Transfer(redirectedURL: redirectedURL, connectTo: connectTo, timeoutMs: Int(remainingMs)))
    }

    private mutating func followRedirect(
        to location: String, httpStatus: Int, timings: TransferTimings, now: Int64
    ) -> Action {
        let maxRedirects = prepared?.monitor.maxRedirects ?? 0
        if visited.isEmpty { visited.append(redirectedText ?? prepared?.monitor.url ?? "") }
        if visited.contains(location) {
            let path = (visited + [location]).joined(separator: " -> ")
            return finish(
                now: now, status: .error, httpStatus: httpStatus, errorCode: .redirectLoop,
                message: "redirect loop: \(path)", timings: timings)
        }
        if Int(redirects) >= maxRedirects {
            return finish(
                now: now, status: .error, httpStatus: httpStatus, errorCode: .tooManyRedirects,
                message: "more than \(maxRedirects) redirects (next: \(location))", timings: timings)
        }
        let next: MonitorURL
        do {
            next = try MonitorURL(location, field: "Location")
        } catch {
            let code: CheckErrorCode = error.reason.hasPrefix("scheme") ? .unsupportedScheme : .badRedirect
            return finish(
                now: now, status: .error, httpStatus: httpStatus, errorCode: code,
                message: "redirect to \(location) refused: \(error.reason)", timings: timings)
        }
        redirects += 1
        redirectStatus = Int32(httpStatus)
        visited.append(location)
        redirectedURL = next
        redirectedText = location
        return beginHop(now: now)
    }

    // MARK: the result

    private mutating func finish(
        now: Int64,
        status: CheckStatus,
        httpStatus: Int = 0,
        errorCode: CheckErrorCode?,
        message: String?,
        timings: TransferTimings = TransferTimings(),
        details: CheckDetails? = nil
    ) -> Action {
        phase = .idle
        if case .some = redirectedURL {
            redirectedURL = nil
            redirectedText = nil
        }
        if !visited.isEmpty { visited = [] }
        // Waiting for a per-host permit is waiting to start: it shows as lag, not duration.
        let permitWait = permitWaitMicros
        let result = CheckResult(
            monitorId: prepared?.monitor.id ?? "",
            checkedAtMs: (startWall + permitWait) / 1000,
            status: status,
            httpStatus: httpStatus != 0 ? Int32(httpStatus) : redirectStatus,
            dnsMicros: Int32(clamping: dnsMicros),
            connectMicros: Int32(clamping: max(timings.connect - timings.nameLookup, 0)),
            tlsMicros: Int32(clamping: timings.appConnect > 0 ? max(timings.appConnect - timings.connect, 0) : 0),
            ttfbMicros: Int32(clamping: timings.startTransfer),
            totalMicros: Int32(clamping: now - startMonotonic - permitWait),
            lagMicros: Int32(clamping: startMonotonic - due + permitWait),
            redirects: redirects,
            errorCode: errorCode,
            errorMessage: message,
            certExpiresAt: timings.certificateNotAfter,
            details: details,
            httpVersion: timings.httpVersion,
            tlsResumed: timings.tlsResumed
        )
        return .finish(result)
    }

    /// Called by the shell after it reported the result: the machine lets go of the monitor.
    mutating func reset() {
        prepared = nil
        phase = .idle
    }

    static func policyMessage(_ address: IPAddress, _ range: String) -> String {
        "connection to \(address) refused by the target policy (\(range) address); "
            + "allow it with --allow-private-targets or --allow-target"
    }
}
