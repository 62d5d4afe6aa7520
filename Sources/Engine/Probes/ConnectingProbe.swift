import LookoutCore
import LookoutFFI

/// The TCP connect that `tcp` and `tls` checks start with: a non-blocking connect to the address
/// the target policy passed, bounded by `connectTimeoutMs` and by the whole check's deadline,
/// then `connected()` for the subclass's own exchange.
///
/// Owns its socket and one timer; reports once through `report`, after which it holds nothing.
class ConnectingProbe: Probe {
    let loop: EventLoop
    let request: ProbeRequest
    private let report: (ProbeOutcome) -> Void
    private(set) var socket: TCPSocket?
    private var timer: LoopTimer!
    private var isConnecting = true
    private var connectStarted: Int64 = 0
    private var reported = false
    /// Timings gathered so far; the subclass adds its own.
    var outcome = ProbeOutcome(status: .up)

    init(loop: EventLoop, request: ProbeRequest, report: @escaping (ProbeOutcome) -> Void) {
        self.loop = loop
        self.request = request
        self.report = report
        timer = LoopTimer(loop: loop) { [unowned self] in self.timerFired() }
    }

    /// `host:port` for messages, with the address when the host is a name.
    var target: String {
        let address = request.address.map { $0.isIPv6 ? "[\($0)]" : "\($0)" } ?? request.host
        let hostPort = "\(Monitor.bracketed(request.host)):\(request.port)"
        return address == request.host ? hostPort : "\(hostPort) (\(address))"
    }

    func begin() {
        guard let address = request.address else {
            finish(.failed(.internalError, "no address to connect to"))
            return
        }
        let now = Clock.monotonicMicros()
        connectStarted = now
        let connectDeadline = min(now + Int64(request.monitor.connectTimeoutMs) * 1000, request.deadline)
        timer.schedule(after: Double(max(connectDeadline - now, 0)) / 1_000_000)
        do throws(TCPSocketError) {
            let socket = try TCPSocket(loop: loop, address: address, port: request.port)
            self.socket = socket
            socket.watch(read: false, write: true) { [unowned self] _, _ in self.connectFinished() }
        } catch {
            finish(.failed(TCPSocket.errorCode(for: error.code), "cannot connect to \(target): \(error)"))
        }
    }

    private func connectFinished() {
        guard let socket, isConnecting else { return }
        let error = socket.pendingError
        if error != 0 {
            let code = TCPSocket.errorCode(for: error)
            finish(.failed(code, "connection to \(target) failed: \(TCPSocket.describe(error))"))
            return
        }
        isConnecting = false
        let now = Clock.monotonicMicros()
        outcome.connectMicros = now - connectStarted
        timer.schedule(after: Double(max(request.deadline - now, 0)) / 1_000_000)
        connected(socket)
    }

    /// The connection is up: the subclass's exchange starts here (the default reports UP).
    func connected(_ socket: TCPSocket) {
        finish(outcome)
    }

    /// The whole check's budget ran out after the connect; the subclass says what it waited for.
    func deadlineMessage() -> String {
        "no answer from \(target) within the check's timeout of \(request.monitor.timeoutMs) ms"
    }

    private func timerFired() {
        let now = Clock.monotonicMicros()
        if isConnecting {
            let connectBudget = Int64(request.monitor.connectTimeoutMs) * 1000
            let connectDeadline = min(connectStarted + connectBudget, request.deadline)
            // libev's cached loop time may lag the clock a little.
            if now < connectDeadline {
                timer.schedule(after: Double(connectDeadline - now) / 1_000_000)
                return
            }
            let budget = min(request.monitor.connectTimeoutMs, request.monitor.timeoutMs)
            finish(.failed(.connectTimeout, "no TCP connection to \(target) within \(budget) ms"))
            return
        }
        if now < request.deadline {
            timer.schedule(after: Double(request.deadline - now) / 1_000_000)
            return
        }
        var timedOut = ProbeOutcome.failed(.timeout, deadlineMessage())
        timedOut.connectMicros = outcome.connectMicros
        timedOut.tlsMicros = outcome.tlsMicros
        finish(timedOut)
    }

    /// Reports `result` (once), closing the socket first.
    func finish(_ result: ProbeOutcome) {
        guard !reported else { return }
        reported = true
        timer.cancel()
        willClose()
        socket?.close()
        socket = nil
        report(result)
    }

    /// Frees what the subclass holds over the socket (its TLS session) before it closes.
    func willClose() {}

    func cancel() {
        reported = true
        timer.cancel()
        willClose()
        socket?.close()
        socket = nil
    }
}
