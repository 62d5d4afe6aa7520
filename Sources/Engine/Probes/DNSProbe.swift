import LookoutCore
import LookoutFFI

/// A `dns` check: one query for `name` and `recordType` to `server` (or the engine's resolver),
/// never answered from the engine's DNS cache. UP with the answers; DOWN `dns_mismatch` when an
/// `expectedValues` entry is not among them; ERROR for NXDOMAIN, no records, SERVFAIL, refusal;
/// `dns_timeout` when no answer comes within the check's timeout.
final class DNSProbe: Probe {
    private let channel: DNSChannel
    private let request: ProbeRequest
    private let report: (ProbeOutcome) -> Void
    private var timer: LoopTimer!
    private var started: Int64 = 0
    private var reported = false

    init(loop: EventLoop, channel: DNSChannel, request: ProbeRequest, report: @escaping (ProbeOutcome) -> Void) {
        self.channel = channel
        self.request = request
        self.report = report
        timer = LoopTimer(loop: loop) { [unowned self] in self.deadlinePassed() }
    }

    private var name: String { request.monitor.dnsName ?? "" }
    private var type: DNSRecordType { request.monitor.recordType }
    private var server: String {
        guard let address = request.address else { return "the engine's resolver" }
        return address.isIPv6 ? "[\(address)]:\(request.port)" : "\(address):\(request.port)"
    }

    func begin() {
        started = Clock.monotonicMicros()
        timer.schedule(after: Double(max(request.deadline - started, 0)) / 1_000_000)
        // The query keeps the probe alive until c-ares answers (or the channel goes away): a late
        // answer after the deadline finds `reported` set and is dropped.
        channel.query(name, type: type.code, typeName: type.rawValue) { [self] result in
            self.answered(result)
        }
    }

    private func answered(_ result: DNSQueryResult) {
        guard !reported else { return }
        var outcome: ProbeOutcome
        switch result {
        case .failure(let code, let message):
            outcome = .failed(code, "\(message) (asked \(server))")
        case .response(let bytes):
            do throws(DNSAnswerParser.Malformed) {
                let answers = try DNSAnswerParser.answers(of: type, in: bytes)
                outcome = .up(details: CheckDetails(dnsAnswers: answers))
                if answers.isEmpty {
                    outcome.fail(.dnsNoAddress, "\(name) has no \(type.rawValue) record (asked \(server))")
                } else {
                    let missing = request.monitor.missingExpectedValues(in: answers)
                    if !missing.isEmpty {
                        outcome.fail(
                            .dnsMismatch,
                            "\(type.rawValue) \(name) answers [\(answers.joined(separator: ", "))], "
                                + "missing [\(missing.joined(separator: ", "))]")
                    }
                }
            } catch {
                outcome = .failed(.badResponse, "unreadable answer from \(server) for \(name): \(error)")
            }
        }
        outcome.dnsMicros = Clock.monotonicMicros() - started
        finish(outcome)
    }

    private func deadlinePassed() {
        let now = Clock.monotonicMicros()
        if now < request.deadline {
            timer.schedule(after: Double(request.deadline - now) / 1_000_000)
            return
        }
        var outcome = ProbeOutcome.failed(
            .dnsTimeout,
            "no answer from \(server) for \(type.rawValue) \(name) within the check's timeout of "
                + "\(request.monitor.timeoutMs) ms")
        outcome.dnsMicros = now - started
        finish(outcome)
    }

    private func finish(_ outcome: ProbeOutcome) {
        guard !reported else { return }
        reported = true
        timer.cancel()
        report(outcome)
    }

    func cancel() {
        reported = true
        timer.cancel()
    }
}
