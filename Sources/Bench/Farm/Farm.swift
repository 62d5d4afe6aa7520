import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The running farm: HTTP listeners on every configured loopback address (one port), HTTPS ones
/// beside them when `configuration.tls` is set, and the authoritative DNS server on 127.0.0.1,
/// sharing one event-loop group.
///
/// Used by `lookout-bench farm` (as a process for tests and the demo) and in-process by the load
/// drivers. `stop()` must be called; it closes every listener and joins the threads.
final class Farm: Sendable {
    let configuration: FarmConfiguration
    /// The HTTP port every address listens on (the picked one when configured as 0).
    let httpPort: Int
    /// The HTTPS port every address listens on; nil without `configuration.tls`.
    let httpsPort: Int?
    /// The DNS server's UDP port on 127.0.0.1.
    let dnsPort: Int
    let addresses: [String]
    let counters: FarmCounters
    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]

    /// How often a free HTTP port (configured as 0) is picked again when another address already
    /// has it taken by someone else.
    static let portPickAttempts = 8

    private init(
        configuration: FarmConfiguration,
        httpPort: Int,
        httpsPort: Int?,
        dnsPort: Int,
        counters: FarmCounters,
        group: MultiThreadedEventLoopGroup,
        channels: [any Channel]
    ) {
        self.configuration = configuration
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.dnsPort = dnsPort
        self.addresses = configuration.addresses
        self.counters = counters
        self.group = group
        self.channels = channels
    }

    /// Starts listening; returns once every socket is bound.
    static func start(_ configuration: FarmConfiguration) throws(FarmError) -> Farm {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let counters = FarmCounters(group: group)
        do throws(FarmError) {
            let http = try bindHTTP(
                configuration, port: configuration.httpPort, tls: nil, group: group, counters: counters)
            var https: (port: Int, channels: [any Channel])?
            let dns: any Channel
            do throws(FarmError) {
                if let tls = configuration.tls {
                    https = try bindHTTP(
                        configuration, port: tls.httpsPort, tls: try tls.makeContext(), group: group, counters: counters
                    )
                }
                dns = try bindDNS(configuration, group: group, counters: counters)
            } catch {
                close(http.channels + (https?.channels ?? []))
                throw error
            }
            return Farm(
                configuration: configuration,
                httpPort: http.port,
                httpsPort: https?.port,
                dnsPort: dns.localAddress?.port ?? configuration.dnsPort,
                counters: counters,
                group: group,
                channels: http.channels + (https?.channels ?? []) + [dns]
            )
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Merged counters of every loop.
    func stats() -> EventLoopFuture<FarmStats> {
        counters.snapshot(on: group.next())
    }

    func resetStats() -> EventLoopFuture<Void> {
        counters.reset(on: group.next())
    }

    /// Closes all listeners and open connections and joins the event-loop threads.
    func stop() {
        Self.close(channels)
        // Connections still open (a trickle, a delay) are closed by the group's shutdown.
        try? group.syncShutdownGracefully()
    }

    /// `{"event":"ready","httpPort":P,"dnsPort":Q,"addresses":[...]}`, with `"httpsPort":S,
    /// "caFile":"..."` after `httpPort` when HTTPS listens: the one line a parent waits for.
    var readyLine: String {
        var https = ""
        if let httpsPort, let tls = configuration.tls {
            https = ",\"httpsPort\":\(httpsPort),\"caFile\":" + JSONText.quoted(tls.certificatePath)
        }
        return "{\"event\":\"ready\",\"httpPort\":\(httpPort)\(https),\"dnsPort\":\(dnsPort),\"addresses\":"
            + JSONText.array(addresses.map(JSONText.quoted)) + "}"
    }

    // MARK: - Binding

    /// The system's words for a socket error ("Address already in use (errno 98)").
    private static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return SystemError.message(io.errnoCode) }
        return "\(error)"
    }

    private static func close(_ channels: [any Channel]) {
        for channel in channels { try? channel.close().wait() }
    }

    /// Binds `port` (0: a free one, the same on every address) on every address; with `tls`, the
    /// connections speak TLS first (HTTPS).
    private static func bindHTTP(
        _ configuration: FarmConfiguration,
        port configuredPort: Int,
        tls: NIOSSLContext?,
        group: MultiThreadedEventLoopGroup,
        counters: FarmCounters
    ) throws(FarmError) -> (port: Int, channels: [any Channel]) {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Accept in bigger batches: every check of the engine is a new connection.
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            // TCP_NODELAY is set on the listener by ServerBootstrap and inherited by accepted sockets;
            // setting it again per connection would cost a system call per request.
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Just the request decoder and the farm's handler (see FarmResponseHead for why).
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try pipeline.addHandler(
                        FarmHTTPHandler(counters: counters.local(on: channel.eventLoop), allCounters: counters)
                    )
                }
            }
        let addresses = configuration.addresses
        var attempt = 0
        while true {
            attempt += 1
            var channels: [any Channel] = []
            var port = configuredPort
            var failure: FarmError?
            for address in addresses {
                do {
                    let channel = try bootstrap.bind(host: address, port: port).wait()
                    channels.append(channel)
                    if port == 0 { port = channel.localAddress?.port ?? 0 }
                } catch {
                    failure = .bindFailed(address: address, port: port, protocolName: "TCP", detail: describe(error))
                    break
                }
            }
            guard let failure else { return (port, channels) }
            close(channels)
            // A picked port may be taken on a later address by someone else: pick again.
            if configuredPort != 0 || attempt >= portPickAttempts { throw failure }
        }
    }

    private static func bindDNS(
        _ configuration: FarmConfiguration,
        group: MultiThreadedEventLoopGroup,
        counters: FarmCounters
    ) throws(FarmError) -> any Channel {
        let responder = DNSResponder(ttl: configuration.dnsTTL, addresses: configuration.addressValues)
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Room for bursts of queries (the kernel caps this at net.core.rmem_max).
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            // recvmmsg: up to 32 queries per system call.
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSServerHandler(responder: responder, counters: counters.local(on: channel.eventLoop))
                    )
                }
            }
        do {
            return try bootstrap.bind(host: FarmConfiguration.dnsAddress, port: configuration.dnsPort).wait()
        } catch {
            throw .bindFailed(
                address: FarmConfiguration.dnsAddress,
                port: configuration.dnsPort,
                protocolName: "UDP",
                detail: describe(error)
            )
        }
    }
}
