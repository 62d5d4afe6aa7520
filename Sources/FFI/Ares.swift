// c-ares, wrapped. Everything unsafe about c-ares lives in this file.
//
// Ownership:
// - `DNSChannel` owns one ares channel (one per engine loop), the ev_io watchers of the sockets
//   c-ares reports through ARES_OPT_SOCK_STATE_CB, and one LoopTimer for c-ares' own timeouts.
//   The socket-state callback gets an unretained pointer to the channel, which outlives it.
// - Each query passes a retained `PendingLookup` box as the callback argument; the callback
//   releases it exactly once (c-ares calls every callback exactly once, with
//   ARES_EDESTRUCTION when the channel is destroyed).
import CEngineShims
import LookoutCore

/// Process-wide c-ares set-up; call once before any thread starts.
package enum AresGlobal {
    package static func initialize() { _ = ares_library_init(ARES_LIB_INIT_ALL) }
}

/// What a name resolved to: addresses (IPv4 first), or a failure with the engine's error code.
package enum DNSAnswer: Sendable, Equatable {
    case addresses([IPAddress])
    case failure(code: CheckErrorCode, message: String)
}

/// The raw response to one query of a given record type (`DNSChannel.query`).
package enum DNSQueryResult: Sendable {
    /// The whole response message, answers to be read by `DNSAnswerParser`.
    case response([UInt8])
    case failure(code: CheckErrorCode, message: String)
}

package struct DNSChannelError: Error, CustomStringConvertible {
    package var description: String
}

/// An asynchronous resolver driven by an `EventLoop`.
package final class DNSChannel: LoopIOHandler {
    /// The answer for one name: addresses (IPv4 first) with the smallest TTL of the records,
    /// or a failure with the engine's error code.
    package typealias Completion = (_ name: String, _ answer: DNSAnswer, _ ttlSeconds: Int) -> Void

    private let loop: EventLoop
    private var channel: ares_channel?
    private var watchers: [Int32: UnsafeMutablePointer<ev_io>] = [:]
    private var timer: LoopTimer!
    private let completion: Completion
    private var destroying = false
    private let serverDescription: String

    /// - Parameters:
    ///   - server: `HOST:PORT` (IP address, not a name: `[::1]:53` for IPv6), or nil for the
    ///     machine's resolv.conf servers.
    ///   - timeoutMs: per-try timeout; `tries`: attempts per server.
    package init(
        loop: EventLoop, server: String?, timeoutMs: Int, tries: Int, completion: @escaping Completion
    )
        throws(DNSChannelError)
    {
        self.loop = loop
        self.completion = completion
        self.serverDescription = server ?? "the system resolver"
        super.init()
        timer = LoopTimer(loop: loop) { [unowned self] in self.processTimeouts() }
        let me = Unmanaged.passUnretained(self).toOpaque()
        var created: ares_channel?
        let status = CEngineShims_ares_init_channel(
            &created, aresSocketStateCallback, me, Int32(timeoutMs), Int32(tries))
        guard status == ARES_SUCCESS, let created else {
            throw DNSChannelError(description: "c-ares could not start: \(String(cString: ares_strerror(status)))")
        }
        channel = created
        if let server {
            let result = ares_set_servers_ports_csv(created, server)
            if result != ARES_SUCCESS {
                throw DNSChannelError(
                    description:
                        "DNS server '\(server)' is not usable: \(String(cString: ares_strerror(result))) (give IP:PORT)"
                )
            }
        }
    }

    deinit {
        destroying = true
        timer.cancel()
        if let channel { ares_destroy(channel) }
        for (_, watcher) in watchers { loop.stopIO(watcher) }
    }

    /// Starts resolving `name` (A and AAAA). The completion runs later on the loop thread, or
    /// right away for answers c-ares can give without a query.
    package func resolve(_ name: String) {
        guard let channel else { return }
        var hints = ares_addrinfo_hints()
        hints.ai_family = AF_UNSPEC
        // NOSORT: the RFC 6724 sort in c-ares 1.18 opens and connects a UDP socket per address.
        hints.ai_flags = ARES_AI_NOSORT
        let box = Unmanaged.passRetained(PendingLookup(channel: self, name: name)).toOpaque()
        ares_getaddrinfo(channel, name, nil, &hints, aresAddrinfoCallback, box)
        rearmTimer()
    }

    /// Asks for the `type` records (wire number) of `name`: one query, no search domains, no
    /// cache (the `dns` check kind). The completion runs later on the loop thread, exactly once,
    /// unless the channel is destroyed first.
    package func query(
        _ name: String, type: UInt16, typeName: String, completion: @escaping (DNSQueryResult) -> Void
    ) {
        guard let channel else { return }
        let box = Unmanaged.passRetained(
            PendingQuery(channel: self, name: name, typeName: typeName, completion: completion)
        ).toOpaque()
        let internetClass: Int32 = 1  // C_IN
        ares_query(channel, name, internetClass, Int32(type), aresQueryCallback, box)
        rearmTimer()
    }

    fileprivate func answered(
        _ query: PendingQuery, status: Int32, response: UnsafeMutablePointer<UInt8>?, length: Int32
    ) {
        if destroying { return }
        guard status == ARES_SUCCESS, let response, length > 0 else {
            var failure = Self.failure(status: status, name: query.name, server: serverDescription)
            if status == ARES_ENODATA {
                failure = .failure(code: .dnsNoAddress, message: "\(query.name) has no \(query.typeName) record")
            }
            if case .failure(let code, let message) = failure {
                query.completion(.failure(code: code, message: message))
            }
            return
        }
        query.completion(.response(Array(UnsafeBufferPointer(start: response, count: Int(length)))))
    }

    fileprivate func finished(name: String, status: Int32, result: UnsafeMutablePointer<ares_addrinfo>?) {
        defer { if let result { ares_freeaddrinfo(result) } }
        if destroying || status == ARES_EDESTRUCTION { return }
        guard status == ARES_SUCCESS, let result else {
            completion(name, Self.failure(status: status, name: name, server: serverDescription), 0)
            return
        }
        var v4: [IPAddress] = []
        var v6: [IPAddress] = []
        var ttl = Int.max
        var node = result.pointee.nodes
        var bytes: (UInt64, UInt64) = (0, 0)
        while let current = node {
            let length = withUnsafeMutableBytes(of: &bytes) {
                CEngineShims_ares_node_ip(current, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            let address = withUnsafeBytes(of: &bytes) { buffer in
                IPAddress(networkOrder: UnsafeRawBufferPointer(rebasing: buffer.prefix(Int(length))))
            }
            if length > 0, let address {
                if address.isIPv6 {
                    if !v6.contains(address) { v6.append(address) }
                } else if !v4.contains(address) {
                    v4.append(address)
                }
                ttl = min(ttl, Int(current.pointee.ai_ttl))
            }
            node = current.pointee.ai_next
        }
        if v4.isEmpty && v6.isEmpty {
            completion(name, .failure(code: .dnsNoAddress, message: "\(name) has no A or AAAA record"), 0)
        } else {
            completion(name, .addresses(v4 + v6), ttl == Int.max ? 0 : ttl)
        }
    }

    package static func failure(status: Int32, name: String, server: String) -> DNSAnswer {
        switch status {
        case ARES_ENOTFOUND:
            return .failure(code: .dnsNXDomain, message: "\(name) does not exist (NXDOMAIN)")
        case ARES_ENODATA:
            return .failure(code: .dnsNoAddress, message: "\(name) has no A or AAAA record")
        case ARES_ETIMEOUT:
            return .failure(code: .dnsTimeout, message: "no answer from \(server) for \(name)")
        case ARES_ECONNREFUSED:
            return .failure(code: .dnsFailure, message: "DNS server \(server) refused the connection")
        case ARES_ESERVFAIL:
            return .failure(code: .dnsFailure, message: "DNS server failure (SERVFAIL) for \(name)")
        case ARES_EREFUSED:
            return .failure(code: .dnsFailure, message: "DNS server \(server) refused to answer for \(name)")
        default:
            return .failure(
                code: .dnsFailure, message: "lookup of \(name) failed: \(String(cString: ares_strerror(status)))")
        }
    }

    // MARK: sockets and timeouts

    fileprivate func socketStateChanged(fd: Int32, readable: Bool, writable: Bool) {
        var events: Int32 = 0
        if readable { events |= EventLoop.read }
        if writable { events |= EventLoop.write }
        if let watcher = watchers[fd] {
            if events == 0 {
                loop.stopIO(watcher)
                watchers[fd] = nil
            } else {
                loop.updateIO(watcher, events: events)
            }
        } else if events != 0 {
            watchers[fd] = loop.startIO(fd: fd, events: events, handler: self)
        }
    }

    package override func ioReady(fd: Int32, readable: Bool, writable: Bool) {
        guard let channel else { return }
        let bad = CEngineShims_ares_SOCKET_BAD()
        ares_process_fd(channel, readable ? fd : bad, writable ? fd : bad)
        rearmTimer()
    }

    private func processTimeouts() {
        guard let channel else { return }
        let bad = CEngineShims_ares_SOCKET_BAD()
        ares_process_fd(channel, bad, bad)
        rearmTimer()
    }

    private func rearmTimer() {
        guard let channel else { return }
        let milliseconds = CEngineShims_ares_timeout_ms(channel)
        if milliseconds < 0 {
            timer.cancel()
        } else {
            timer.schedule(after: Double(milliseconds) / 1000)
        }
    }
}

/// The argument of one `ares_getaddrinfo` call.
private final class PendingLookup {
    unowned let channel: DNSChannel
    let name: String
    init(channel: DNSChannel, name: String) {
        self.channel = channel
        self.name = name
    }
}

private let aresAddrinfoCallback: ares_addrinfo_callback = { argument, status, _, result in
    guard let argument else { return }
    let lookup = Unmanaged<PendingLookup>.fromOpaque(argument).takeRetainedValue()
    // During ares_destroy (inside the channel's deinit) the channel must not be touched.
    if status == ARES_EDESTRUCTION {
        if let result { ares_freeaddrinfo(result) }
        return
    }
    lookup.channel.finished(name: lookup.name, status: status, result: result)
}

/// The argument of one `ares_query` call.
private final class PendingQuery {
    unowned let channel: DNSChannel
    let name: String
    let typeName: String
    let completion: (DNSQueryResult) -> Void
    init(channel: DNSChannel, name: String, typeName: String, completion: @escaping (DNSQueryResult) -> Void) {
        self.channel = channel
        self.name = name
        self.typeName = typeName
        self.completion = completion
    }
}

private let aresQueryCallback: ares_callback = { argument, status, _, response, length in
    guard let argument else { return }
    let query = Unmanaged<PendingQuery>.fromOpaque(argument).takeRetainedValue()
    if status == ARES_EDESTRUCTION { return }
    query.channel.answered(query, status: status, response: response, length: length)
}

private let aresSocketStateCallback: ares_sock_state_cb = { data, fd, readable, writable in
    guard let data else { return }
    Unmanaged<DNSChannel>.fromOpaque(data).takeUnretainedValue().socketStateChanged(
        fd: fd, readable: readable != 0, writable: writable != 0)
}
