import LookoutCore
import Testing

@testable import LookoutEngine

private let millisecond: Int64 = 1000
private let publicAddress = IPAddress.v4(0x5DB8_D822)  // 93.184.216.34
private let otherPublicAddress = IPAddress.v4(0x5DB8_D823)  // 93.184.216.35
private let privateAddress = IPAddress.v4(0x0A00_0001)  // 10.0.0.1

/// Drives one `CheckStateMachine` with an injected clock (µs on a made-up monotonic scale) and
/// records every action it returned.
private struct Driver {
    var machine: CheckStateMachine
    var now: Int64 = 0
    let wallStart: Int64 = 1_700_000_000_000_000
    private(set) var actions: [CheckStateMachine.Action] = []
    /// The monitor of the last `start`, as the shell holds it.
    private(set) var started: PreparedMonitor?

    init(policy: TargetPolicy = TargetPolicy(), hostLimit: Int? = nil) {
        machine = CheckStateMachine(rules: .init(policy: policy, hostLimit: hostLimit))
    }

    var last: CheckStateMachine.Action { actions.last ?? .none }

    /// The result, if the last action finished the check.
    var result: CheckResult? {
        if case .finish(let result) = last { return result }
        return nil
    }

    /// The last event asked for nothing.
    var lastDidNothing: Bool {
        if case .none = last { return true }
        return false
    }

    var transfer: CheckStateMachine.Transfer? {
        if case .startTransfer(let transfer) = last { return transfer }
        return nil
    }

    /// The URL the last transfer requests: its redirect target, else the monitor's own.
    var transferURL: MonitorURL? {
        guard let transfer else { return nil }
        return transfer.redirectedURL ?? started?.url
    }

    /// Every transfer the machine asked for.
    var transfers: [CheckStateMachine.Transfer] {
        actions.compactMap { if case .startTransfer(let transfer) = $0 { transfer } else { nil } }
    }

    /// Every name the machine asked to resolve.
    var resolvedNames: [String] {
        actions.compactMap { if case .resolve(let name, _, _) = $0 { name } else { nil } }
    }

    private mutating func record(_ action: CheckStateMachine.Action) {
        actions.append(action)
    }

    mutating func start(_ monitor: Monitor, due: Int64? = nil) throws {
        let prepared = try PreparedMonitor(monitor)
        started = prepared
        record(
            machine.start(
                prepared, monitorIndex: 0, literal: prepared.url.address, due: due ?? now, now: now,
                wallNow: wallStart + now))
    }

    mutating func advance(ms: Int64) { now += ms * millisecond }

    mutating func resolve(_ addresses: [IPAddress]) { record(machine.nameResolved(addresses, now: now)) }

    mutating func failResolve(_ code: CheckErrorCode, _ message: String = "the lookup failed") {
        record(machine.resolveFailed(code, message: message, now: now))
    }

    mutating func grantPermit() { record(machine.permitGranted(now: now)) }

    mutating func deadline() { record(machine.deadlinePassed(now: now)) }

    /// The probe of a `tcp`, `dns` or `tls` check ended.
    mutating func finishProbe(_ outcome: ProbeOutcome) { record(machine.probeFinished(outcome, now: now)) }

    mutating func answer(
        _ httpStatus: Int, location: String? = nil, body: String = "",
        timings: CheckStateMachine.TransferTimings = .init()
    ) {
        var outcome = CheckStateMachine.TransferOutcome()
        outcome.httpStatus = httpStatus
        if machine.wantsRedirectLocation(httpStatus: httpStatus) { outcome.redirectLocation = location }
        outcome.body = Array(body.utf8)
        outcome.timings = timings
        record(machine.transferFinished(outcome, now: now))
    }

    mutating func fail(_ code: CheckErrorCode, _ message: String = "curl said no") {
        var outcome = CheckStateMachine.TransferOutcome()
        outcome.failure = (code, message)
        record(machine.transferFinished(outcome, now: now))
    }
}

private let allowAll = TargetPolicy(allowAll: true)

@Suite("CheckStateMachine")
struct CheckStateMachineTests {
    // MARK: a plain check

    @Test("an IP-literal URL starts its transfer at once, unpinned, with the whole budget")
    func literalStartsAtOnce() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/health", timeoutMs: 2000))
        let transfer = try #require(driver.transfer)
        #expect(transfer.timeoutMs == 2000)
        #expect(transfer.connectTo == nil)
        #expect(transfer.redirectedURL == nil)
        #expect(driver.transferURL?.requestURL == "http://93.184.216.34/health")
        #expect(driver.resolvedNames.isEmpty)
    }

    @Test("a complete answer with an expected status is UP with no error, timed from the check's start")
    func completeAnswerIsUp() throws {
        var driver = Driver()
        driver.now = 50 * millisecond
        try driver.start(Monitor(id: "m", url: "https://93.184.216.34/"), due: 20 * millisecond)
        driver.advance(ms: 120)
        let timings = CheckStateMachine.TransferTimings(
            nameLookup: 10, connect: 1_010, appConnect: 5_010, startTransfer: 90_000, certificateNotAfter: 1_800_000_000
        )
        driver.answer(200, timings: timings)
        let result = try #require(driver.result)
        #expect(result.status == .up)
        #expect(result.errorCode == nil && result.errorMessage == nil)
        #expect(result.httpStatus == 200)
        #expect(result.monitorId == "m")
        #expect(result.totalMicros == 120_000)
        #expect(result.lagMicros == 30_000, "started 30 ms after it was due")
        #expect(result.checkedAtMs == (driver.wallStart + 50 * millisecond) / 1000)
        #expect(result.connectMicros == 1_000 && result.tlsMicros == 4_000 && result.ttfbMicros == 90_000)
        #expect(result.certExpiresAt == 1_800_000_000)
        #expect(result.dnsMicros == 0, "IP literals skip DNS")
        #expect(driver.machine.phase == .idle)
    }

    @Test("a named host is resolved first; the transfer is pinned to the first address the policy allows")
    func namedHostIsResolvedAndPinned() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://example.com:8080/", timeoutMs: 1000))
        guard case .resolve(let name, let at, let deadline) = driver.last else {
            Issue.record("expected a DNS lookup, got \(driver.last)")
            return
        }
        #expect(name == "example.com" && at == 0 && deadline == 1000 * millisecond)
        #expect(driver.machine.waitingForName == "example.com")
        driver.advance(ms: 300)
        driver.resolve([privateAddress, publicAddress, otherPublicAddress])
        let transfer = try #require(driver.transfer)
        #expect(transfer.connectTo == publicAddress, "the refused 10.0.0.1 is skipped, never connected to")
        #expect(transfer.timeoutMs == 700, "DNS spent 300 ms of the 1000 ms budget")
        driver.advance(ms: 100)
        driver.answer(200)
        #expect(driver.result?.dnsMicros == 300_000)
        #expect(driver.result?.totalMicros == 400_000)
    }

    @Test("localhost is loopback without a DNS query, and the policy judges it like any address")
    func localhostIsLoopback() throws {
        var allowed = Driver(policy: allowAll)
        try allowed.start(Monitor(id: "m", url: "http://api.localhost:9000/"))
        #expect(allowed.transfer?.connectTo == .v4(0x7F00_0001))
        var refused = Driver()
        try refused.start(Monitor(id: "m", url: "http://localhost/"))
        #expect(refused.result?.errorCode == .policy)
        #expect(refused.resolvedNames.isEmpty && refused.transfers.isEmpty)
    }

    // MARK: every status and error code

    @Test("every error code is reachable, with the status the code implies", arguments: CheckErrorCode.allCases)
    func everyErrorCodeIsReachable(code: CheckErrorCode) throws {
        let result = try Self.result(endingIn: code)
        #expect(result.errorCode == code, "\(result)")
        #expect(result.status == code.status)
        #expect((result.errorMessage ?? "").count > 10, "\(code) needs a message a person can act on")
    }

    @Test("every status is reachable", arguments: CheckStatus.allCases)
    func everyStatusIsReachable(status: CheckStatus) throws {
        if status == .up {
            var driver = Driver()
            try driver.start(Monitor(id: "m", url: "http://93.184.216.34/"))
            driver.answer(204)
            #expect(driver.result?.status == .up)
            return
        }
        let code = try #require(CheckErrorCode.allCases.first { $0.status == status })
        #expect(try Self.result(endingIn: code).status == status)
    }

    /// Drives a check along the path that ends in `code` (the switch is exhaustive: a new code
    /// needs a path here before it compiles).
    private static func result(endingIn code: CheckErrorCode) throws -> CheckResult {
        var driver = Driver()
        let literal = "http://93.184.216.34"
        switch code {
        case .dnsNXDomain, .dnsNoAddress, .dnsFailure:
            try driver.start(Monitor(id: "m", url: "http://example.com/"))
            driver.advance(ms: 20)
            driver.failResolve(code, "example.com: the DNS server says so (\(code.rawValue))")
        case .dnsTimeout:
            try driver.start(Monitor(id: "m", url: "http://example.com/", timeoutMs: 500))
            driver.advance(ms: 500)
            driver.deadline()
        case .connectRefused, .connectTimeout, .connectFailed, .reset, .emptyResponse, .badResponse, .truncated,
            .tlsVerify, .tlsExpired, .tlsHandshake, .lowSpeed, .tooLarge, .internalError:
            // Classified from curl's codes by CurlEasy; the machine keeps code and message.
            try driver.start(Monitor(id: "m", url: "\(literal)/"))
            driver.advance(ms: 5)
            driver.fail(code, "curl's verdict, in words: \(code.rawValue)")
        case .timeout:
            try driver.start(Monitor(id: "m", url: "\(literal)/"))
            driver.fail(.timeout, "no complete answer within the timeout")
        case .redirectLoop:
            try driver.start(Monitor(id: "m", url: "\(literal)/a"))
            driver.answer(302, location: "\(literal)/a")
        case .tooManyRedirects:
            try driver.start(Monitor(id: "m", url: "\(literal)/0", maxRedirects: 0))
            driver.answer(301, location: "\(literal)/1")
        case .unsupportedScheme:
            try driver.start(Monitor(id: "m", url: "\(literal)/"))
            driver.answer(302, location: "ftp://93.184.216.34/file")
        case .badRedirect:
            try driver.start(Monitor(id: "m", url: "\(literal)/"))
            driver.answer(302, location: "http:///no-host")
        case .policy:
            try driver.start(Monitor(id: "m", url: "http://10.0.0.1/"))
        case .statusMismatch:
            try driver.start(Monitor(id: "m", url: "\(literal)/"))
            driver.answer(503)
        case .keywordMissing:
            try driver.start(Monitor(id: "m", url: "\(literal)/", keyword: "healthy"))
            driver.answer(200, body: "degraded")
        case .keywordPresent:
            try driver.start(Monitor(id: "m", url: "\(literal)/", keywordAbsent: "error"))
            driver.answer(200, body: "an error occurred")
        case .jsonMismatch:
            try driver.start(Monitor(id: "m", url: "\(literal)/", jsonPath: "$.status", jsonEquals: "ok"))
            driver.answer(200, body: #"{"status":"degraded"}"#)
        case .jsonInvalid:
            try driver.start(Monitor(id: "m", url: "\(literal)/", jsonPath: "$.status", jsonEquals: "ok"))
            driver.answer(200, body: "<html>")
        case .expectMissing, .dnsMismatch, .certExpiring:
            // Decided by the probe of a tcp, dns or tls check; the machine keeps its verdict.
            try driver.start(Monitor.probe(id: "m", kind: .tcp, host: "93.184.216.34", port: 25))
            driver.advance(ms: 3)
            driver.finishProbe(.failed(code, "the probe's verdict: \(code.rawValue)"))
        }
        return try #require(driver.result, "\(code) ended in \(driver.last)")
    }

    @Test("a tcp check connects to the address the policy judged, and its probe's timings become the result's")
    func probeChecksGoThroughThePolicyAndKeepTheirTimings() throws {
        var driver = Driver()
        try driver.start(Monitor.probe(id: "m", kind: .tcp, host: "93.184.216.34", port: 25))
        let transfer = try #require(driver.transfer)
        let url = try #require(driver.transferURL)
        #expect(transfer.redirectedURL == nil && url.address == .v4(0x5DB8_D822) && url.port == 25)
        driver.advance(ms: 7)
        var outcome = ProbeOutcome.up()
        outcome.connectMicros = 4_000
        driver.finishProbe(outcome)
        let result = try #require(driver.result)
        #expect(result.status == .up && result.connectMicros == 4_000 && result.totalMicros == 7_000)

        var refused = Driver()
        try refused.start(Monitor.probe(id: "m", kind: .tls, host: "10.1.2.3", port: 443))
        #expect(refused.result?.errorCode == .policy && refused.transfers.isEmpty)
    }

    @Test("a dns check through the engine's own resolver starts at once: its resolver is no target")
    func dnsCheckThroughTheEngineResolver() throws {
        var driver = Driver()
        try driver.start(Monitor.probe(id: "m", kind: .dns, dnsName: "example.com", recordType: .MX))
        #expect(driver.transfer != nil && driver.resolvedNames.isEmpty)
        var outcome = ProbeOutcome.up(details: CheckDetails(dnsAnswers: ["10 mail.example.com"]))
        outcome.dnsMicros = 2_500
        driver.finishProbe(outcome)
        #expect(driver.result?.dnsMicros == 2_500)
        #expect(driver.result?.details?.dnsAnswers == ["10 mail.example.com"])
    }

    @Test("a DNS failure is reported with the time spent on DNS")
    func dnsFailureCountsItsTime() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://missing.example/"))
        driver.advance(ms: 42)
        driver.failResolve(.dnsNXDomain, "missing.example does not exist")
        #expect(driver.result?.dnsMicros == 42_000)
        #expect(driver.result?.errorMessage == "missing.example does not exist")
        #expect(driver.transfers.isEmpty)
    }

    @Test("a resolver that gives up before the check's deadline is dns_timeout with the resolver's words")
    func resolverTimeoutBeforeTheDeadline() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://slow-dns.example/", timeoutMs: 5000))
        driver.advance(ms: 2000)
        driver.failResolve(.dnsTimeout, "no answer from the DNS server for slow-dns.example")
        let result = try #require(driver.result)
        #expect(result.status == .error && result.errorCode == .dnsTimeout)
        #expect(result.errorMessage == "no answer from the DNS server for slow-dns.example")
        #expect(result.totalMicros == 2_000_000 && result.dnsMicros == 2_000_000)
        driver.advance(ms: 3000)
        driver.deadline()
        #expect(driver.lastDidNothing, "the deadline after the finish is ignored, got \(driver.last)")
    }

    // MARK: the time budget

    @Test("slow DNS and every redirect hop spend one budget; each transfer gets what is left")
    func dnsAndHopsShareTheBudget() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://first.example/", timeoutMs: 1000))
        driver.advance(ms: 400)
        driver.resolve([publicAddress])
        #expect(driver.transfer?.timeoutMs == 600)
        driver.advance(ms: 300)
        driver.answer(302, location: "http://second.example/landing")
        guard case .resolve("second.example", _, let deadline) = driver.last else {
            Issue.record("the second hop resolves its own host, got \(driver.last)")
            return
        }
        #expect(deadline == 1000 * millisecond, "the deadline stays the check's, not the hop's")
        driver.advance(ms: 200)
        driver.resolve([otherPublicAddress])
        #expect(driver.transfer?.timeoutMs == 100)
        #expect(driver.transfer?.connectTo == otherPublicAddress)
        driver.advance(ms: 90)
        driver.answer(200)
        let result = try #require(driver.result)
        #expect(result.status == .up)
        #expect(result.redirects == 1)
        #expect(result.dnsMicros == 600_000, "DNS of both hops")
        #expect(result.totalMicros == 990_000)
    }

    @Test("a deadline during a later hop's DNS ends the check as dns_timeout at exactly timeoutMs")
    func deadlineMidHop() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/", timeoutMs: 800))
        driver.advance(ms: 100)
        driver.answer(301, location: "http://silent.example/")
        #expect(driver.machine.waitingForName == "silent.example")
        driver.advance(ms: 700)
        driver.deadline()
        let result = try #require(driver.result)
        #expect(result.status == .error && result.errorCode == .dnsTimeout)
        #expect(result.totalMicros == 800_000)
        #expect(result.dnsMicros == 700_000)
        #expect(result.httpStatus == 301, "the last answer that came is reported")
        #expect(result.redirects == 1)
        #expect(result.errorMessage?.contains("silent.example") == true)
        #expect(result.errorMessage?.contains("800 ms") == true)
    }

    @Test("a deadline that fires early (the loop's cached time lags) is re-armed for the real deadline")
    func earlyDeadlineIsRearmed() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://example.com/", timeoutMs: 1000))
        driver.advance(ms: 999)
        driver.deadline()
        guard case .rearmDeadline(let at) = driver.last else {
            Issue.record("expected a re-arm, got \(driver.last)")
            return
        }
        #expect(at == 1000 * millisecond)
        #expect(driver.machine.waitingForName == "example.com", "still waiting")
    }

    @Test("a deadline that fires after the wait ended changes nothing")
    func lateDeadlineIsIgnored() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://example.com/", timeoutMs: 1000))
        driver.advance(ms: 10)
        driver.resolve([publicAddress])
        driver.advance(ms: 990)
        driver.deadline()
        #expect(driver.lastDidNothing, "expected nothing, got \(driver.last)")
        #expect(driver.machine.phase == .transferring)
    }

    @Test("an answer that comes when the budget is spent never starts a request: timeout")
    func spentBudgetStartsNoRequest() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://example.com/", timeoutMs: 300))
        driver.advance(ms: 300)
        driver.resolve([publicAddress])
        #expect(driver.transfers.isEmpty)
        #expect(driver.result?.status == .timeout && driver.result?.errorCode == .timeout)
        #expect(driver.result?.errorMessage?.contains("time budget") == true)
    }

    @Test("events that do not apply to the check's phase are ignored")
    func strayEventsAreIgnored() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        driver.resolve([publicAddress])
        driver.grantPermit()
        #expect(driver.lastDidNothing, "expected nothing, got \(driver.last)")
        driver.answer(200)
        driver.answer(200)
        #expect(driver.lastDidNothing, "a second answer after the finish is ignored, got \(driver.last)")
    }

    // MARK: per-host permits

    @Test("a wait for a per-host permit counts against the budget but shows as lag, not duration")
    func permitWaitIsLag() throws {
        var driver = Driver(hostLimit: 2)
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/", timeoutMs: 1000))
        guard case .requestPermit(let address, _, let deadline) = driver.last else {
            Issue.record("expected a permit request, got \(driver.last)")
            return
        }
        #expect(address == publicAddress && deadline == 1000 * millisecond)
        #expect(driver.machine.isWaitingForPermit)
        driver.advance(ms: 250)
        driver.grantPermit()
        #expect(driver.transfer?.timeoutMs == 750)
        driver.advance(ms: 100)
        driver.answer(200)
        let result = try #require(driver.result)
        #expect(result.totalMicros == 100_000)
        #expect(result.lagMicros == 250_000)
        #expect(result.checkedAtMs == (driver.wallStart + 250 * millisecond) / 1000)
    }

    @Test("a check whose budget passes while it waits for a permit is a timeout naming the address and the cap")
    func permitWaitPastTheDeadline() throws {
        var driver = Driver(hostLimit: 3)
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/", timeoutMs: 400))
        driver.advance(ms: 400)
        driver.deadline()
        let result = try #require(driver.result)
        #expect(result.status == .timeout && result.errorCode == .timeout)
        #expect(result.errorMessage?.contains("93.184.216.34") == true)
        #expect(result.errorMessage?.contains("--max-per-host 3") == true)
        #expect(driver.transfers.isEmpty)
    }

    @Test("every redirect hop asks for a permit for its own address")
    func permitPerHop() throws {
        var driver = Driver(hostLimit: 1)
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        driver.grantPermit()
        driver.answer(302, location: "http://93.184.216.35/")
        guard case .requestPermit(let address, _, _) = driver.last else {
            Issue.record("expected a permit request, got \(driver.last)")
            return
        }
        #expect(address == otherPublicAddress)
    }

    // MARK: redirects

    @Test("redirects are followed up to maxRedirects; one more is too_many_redirects")
    func redirectLimit() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/0", maxRedirects: 2))
        driver.answer(302, location: "http://93.184.216.34/1")
        driver.answer(307, location: "http://93.184.216.34/2")
        #expect(driver.transfers.count == 3)
        driver.answer(308, location: "http://93.184.216.34/3")
        let result = try #require(driver.result)
        #expect(result.errorCode == .tooManyRedirects)
        #expect(result.redirects == 2)
        #expect(result.httpStatus == 308)
        #expect(result.errorMessage?.contains("more than 2 redirects") == true)
    }

    @Test("a redirect back to a URL already requested is a loop, reported with its path")
    func redirectLoop() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/a"))
        driver.answer(302, location: "http://93.184.216.34/b")
        driver.answer(302, location: "http://93.184.216.34/a")
        let result = try #require(driver.result)
        #expect(result.errorCode == .redirectLoop)
        #expect(
            result.errorMessage
                == "redirect loop: http://93.184.216.34/a -> http://93.184.216.34/b -> http://93.184.216.34/a")
        #expect(driver.transfers.count == 2)
    }

    @Test("a second check on the same machine starts with no memory of the first one's hops")
    func visitedURLsAreForgotten() throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/a"))
        driver.answer(302, location: "http://93.184.216.34/b")
        driver.answer(200)
        driver.machine.reset()
        try driver.start(Monitor(id: "m", url: "http://93.184.216.34/b"))
        driver.answer(302, location: "http://93.184.216.34/a")
        #expect(
            driver.transferURL?.requestURL == "http://93.184.216.34/a", "not a loop: /a is this check's first visit")
        driver.answer(200)
        #expect(driver.result?.redirects == 1)
    }

    @Test("a redirect to a scheme other than http or https is refused as unsupported_scheme")
    func redirectToForbiddenScheme() throws {
        for location in ["ftp://93.184.216.34/file", "file:///etc/passwd", "gopher://93.184.216.34/"] {
            var driver = Driver()
            try driver.start(Monitor(id: "m", url: "http://93.184.216.34/"))
            driver.answer(302, location: location)
            #expect(driver.result?.errorCode == .unsupportedScheme, "\(location)")
            #expect(driver.result?.httpStatus == 302)
            #expect(driver.transfers.count == 1, "\(location) was never requested")
        }
    }

    @Test("a redirect to a private address is refused by the policy before any connection")
    func redirectToPrivateAddress() throws {
        var literal = Driver()
        try literal.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        literal.answer(302, location: "http://169.254.169.254/latest/meta-data/")
        #expect(literal.result?.errorCode == .policy)
        #expect(literal.result?.errorMessage?.contains("169.254.169.254") == true)
        #expect(literal.transfers.count == 1)

        var named = Driver()
        try named.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        named.answer(302, location: "http://internal.example/")
        named.resolve([privateAddress])
        #expect(named.result?.errorCode == .policy)
        #expect(named.result?.errorMessage?.contains("internal.example resolves to 10.0.0.1") == true)
        #expect(named.transfers.count == 1)
    }

    @Test("with followRedirects off, or for 304, a 3xx is the answer, judged by the expected status")
    func redirectsNotFollowed() throws {
        var off = Driver()
        try off.start(
            Monitor(id: "m", url: "http://93.184.216.34/", expectedStatus: [302], followRedirects: false))
        #expect(!off.machine.wantsRedirectLocation(httpStatus: 302))
        off.answer(302, location: "http://93.184.216.34/elsewhere")
        #expect(off.result?.status == .up)
        #expect(off.result?.redirects == 0)

        var notModified = Driver()
        try notModified.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        #expect(!notModified.machine.wantsRedirectLocation(httpStatus: 304))
        notModified.answer(304)
        #expect(notModified.result?.errorCode == .statusMismatch)
    }

    // MARK: numeric IPv4 spellings

    @Test(
        "every numeric IPv4 spelling of a private address is refused by the policy without a lookup or a connection",
        arguments: [
            // 10.0.0.1: four parts (decimal, hex, octal, mixed), three, two, one (integer, hex, octal)
            ("10.0.0.1", "10.0.0.1"), ("0xa.0x0.0x0.0x1", "10.0.0.1"), ("012.0.0.01", "10.0.0.1"),
            ("0xA.0.0.1", "10.0.0.1"), ("10.0.1", "10.0.0.1"), ("10.1", "10.0.0.1"), ("167772161", "10.0.0.1"),
            ("0xa000001", "10.0.0.1"), ("01200000001", "10.0.0.1"),
            // 192.168.1.1
            ("0xc0.0xa8.1.1", "192.168.1.1"), ("0300.0250.01.01", "192.168.1.1"), ("192.168.257", "192.168.1.1"),
            ("192.11010305", "192.168.1.1"), ("3232235777", "192.168.1.1"), ("0xc0a80101", "192.168.1.1"),
            // 169.254.169.254 (cloud metadata)
            ("0xa9fea9fe", "169.254.169.254"), ("2852039166", "169.254.169.254"),
            ("0251.0376.0251.0376", "169.254.169.254"),
            ("169.16689662", "169.254.169.254"),
            // 127.0.0.1, 100.64.0.1 (CGNAT), 172.16.0.1
            ("0x7f.1", "127.0.0.1"), ("0177.0.1", "127.0.0.1"), ("0x64400001", "100.64.0.1"),
            ("0254.0x10.0.1", "172.16.0.1"),
        ])
    func numericSpellingsOfPrivateAddresses(host: String, address: String) throws {
        var driver = Driver()
        try driver.start(Monitor(id: "m", url: "http://\(host):8080/"))
        let result = try #require(driver.result, "\(host): \(driver.last)")
        #expect(result.errorCode == .policy, "\(host)")
        #expect(result.errorMessage?.contains("connection to \(address) refused") == true, "\(host): \(result)")
        #expect(driver.resolvedNames.isEmpty, "\(host) is an address, never a name to look up")
        #expect(driver.transfers.isEmpty, "\(host): no connection was attempted")
        #expect(driver.actions.count == 1)

        var redirected = Driver()
        try redirected.start(Monitor(id: "m", url: "http://93.184.216.34/"))
        redirected.answer(302, location: "http://\(host)/")
        #expect(redirected.result?.errorCode == .policy, "\(host) as a redirect target")
        #expect(redirected.transfers.count == 1 && redirected.resolvedNames.isEmpty, "\(host) as a redirect target")
    }
}
