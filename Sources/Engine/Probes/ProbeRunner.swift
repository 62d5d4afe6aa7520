import LookoutCore
import LookoutFFI

/// How a `tcp`, `dns` or `tls` check ended, in the units `CheckLoop.finish` records.
struct ProbeOutcome {
    var status: CheckStatus
    var errorCode: CheckErrorCode?
    var message: String?
    /// `dns`: the query's round trip.
    var dnsMicros: Int64 = 0
    /// `tcp`, `tls`: TCP connect.
    var connectMicros: Int64 = 0
    /// `tls`: the handshake.
    var tlsMicros: Int64 = 0
    /// `tcp` with `send`/`expect`: from the check's start to the reply that settled it.
    var ttfbMicros: Int64 = 0
    var certExpiresAt: Int64?
    var details: CheckDetails?

    static func up(details: CheckDetails? = nil) -> ProbeOutcome {
        ProbeOutcome(status: .up, details: details)
    }

    static func failed(_ code: CheckErrorCode, _ message: String) -> ProbeOutcome {
        ProbeOutcome(status: code.status, errorCode: code, message: message)
    }
}

/// What a probe needs to know about its check.
struct ProbeRequest {
    let monitor: Monitor
    /// The address that passed the target policy (nil: a `dns` check through the engine's own
    /// resolver, which the operator chose).
    let address: IPAddress?
    /// The host as written (SNI and name verification of `tls`; messages).
    let host: String
    let port: Int
    /// Monotonic µs: when the check started (its budget, `timeoutMs`, runs from here).
    let startMonotonic: Int64
    /// Monotonic µs by which the probe must have reported.
    let deadline: Int64
}

/// One running probe of a check kind other than HTTP. Confined to the loop thread; reports
/// exactly once through the runner, then holds no resources.
protocol Probe: AnyObject {
    /// Starts the work; called once the runner has recorded the probe, so that a report from
    /// inside (a refused connect) finds it.
    func begin()
    /// Ends the probe without a report (the loop is going away).
    func cancel()
}

/// Starts and tracks the `tcp`, `dns` and `tls` probes of one `CheckLoop`, by slot. Owns what
/// they share: the loop's TLS context (made on the first `tls` check) and one c-ares channel
/// per explicit DNS server (the loop's own channel serves the others).
final class ProbeRunner {
    typealias Completion = (_ slot: Int, _ outcome: ProbeOutcome) -> Void

    struct Configuration {
        /// The loop's parsed CA store (shared with its curl handles), nil without a CA bundle.
        var trustStore: CurlTrustStore?
        var caBundlePath: String?
        var dnsTimeoutMs: Int
        var dnsTries: Int
    }

    private let loop: EventLoop
    private let configuration: Configuration
    private let defaultChannel: DNSChannel
    private var serverChannels: [String: DNSChannel] = [:]
    private var tlsContext: Result<TLSContext, TLSContextError>?
    private var running: [Int: Probe] = [:]
    /// Probes that reported, kept until the next loop iteration: a probe reports from inside its
    /// own socket or timer callback, and must not be freed while that call is on the stack.
    private var finished: [Probe] = []
    private var releaseTimer: LoopTimer!
    private let completion: Completion

    init(loop: EventLoop, configuration: Configuration, defaultChannel: DNSChannel, completion: @escaping Completion) {
        self.loop = loop
        self.configuration = configuration
        self.defaultChannel = defaultChannel
        self.completion = completion
        releaseTimer = LoopTimer(loop: loop) { [unowned self] in self.finished.removeAll(keepingCapacity: true) }
    }

    deinit {
        for probe in running.values { probe.cancel() }
    }

    /// Starts the probe of `request.monitor.kind` for `slot`; its outcome comes back through the
    /// completion, possibly before this returns (a refused connect).
    func start(slot: Int, request: ProbeRequest) {
        let report: (ProbeOutcome) -> Void = { [unowned self] outcome in self.reported(slot: slot, outcome) }
        let probe: Probe
        switch request.monitor.kind {
        case .http:
            return
        case .tcp:
            probe = TCPProbe(loop: loop, request: request, report: report)
        case .tls:
            switch context() {
            case .success(let context):
                probe = TLSProbe(loop: loop, context: context, request: request, report: report)
            case .failure(let error):
                report(.failed(.tlsHandshake, error.description))
                return
            }
        case .dns:
            switch channel(for: request) {
            case .success(let channel):
                probe = DNSProbe(loop: loop, channel: channel, request: request, report: report)
            case .failure(let error):
                report(.failed(.dnsFailure, error.description))
                return
            }
        }
        running[slot] = probe
        probe.begin()
    }

    private func reported(slot: Int, _ outcome: ProbeOutcome) {
        if let probe = running.removeValue(forKey: slot) {
            finished.append(probe)
            if !releaseTimer.isScheduled { releaseTimer.schedule(after: 0) }
        }
        completion(slot, outcome)
    }

    private func context() -> Result<TLSContext, TLSContextError> {
        if let tlsContext { return tlsContext }
        let made: Result<TLSContext, TLSContextError>
        do throws(TLSContextError) {
            made = .success(
                try TLSContext(trustStore: configuration.trustStore, caBundlePath: configuration.caBundlePath))
        } catch {
            made = .failure(error)
        }
        tlsContext = made
        return made
    }

    private func channel(for request: ProbeRequest) -> Result<DNSChannel, DNSChannelError> {
        guard let address = request.address else { return .success(defaultChannel) }
        let server = address.isIPv6 ? "[\(address)]:\(request.port)" : "\(address):\(request.port)"
        if let existing = serverChannels[server] { return .success(existing) }
        do throws(DNSChannelError) {
            let channel = try DNSChannel(
                loop: loop, server: server, timeoutMs: configuration.dnsTimeoutMs, tries: configuration.dnsTries
            ) { _, _, _ in }
            serverChannels[server] = channel
            return .success(channel)
        } catch {
            return .failure(error)
        }
    }
}

extension ProbeOutcome {
    /// An instant as RFC 3339 (messages).
    static func date(_ epochSeconds: Int64) -> String {
        RFC3339.string(epochMilliseconds: epochSeconds * 1000)
    }
}
