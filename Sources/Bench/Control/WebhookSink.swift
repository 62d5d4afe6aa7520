import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback webhook receiver for `lookout-bench control`: answers every POST with 200 and
/// notes, per monitor id in the payload, when the notification arrived (wall clock, the same
/// clock Redis stamps stream entries with).
final class WebhookSink: Sendable {
    private let arrivals = Arrivals()
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }

    init() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let arrivals = self.arrivals
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(arrivals: arrivals))
                }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
    }

    /// First arrival time (epoch seconds) per monitor id.
    var arrivalTimes: [Int64: Double] { arrivals.snapshot }

    /// Arrival times, written by the receiver's event loop and read by the bench.
    private final class Arrivals: @unchecked Sendable {
        // @unchecked: `times` is guarded by `lock`.
        private let lock = NSLock()
        private var times: [Int64: Double] = [:]

        func record(_ monitorId: Int64, _ at: Double) {
            lock.lock()
            if times[monitorId] == nil { times[monitorId] = at }
            lock.unlock()
        }

        var snapshot: [Int64: Double] {
            lock.lock()
            defer { lock.unlock() }
            return times
        }
    }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let arrivals: Arrivals
        private var body = ByteBuffer()

        init(arrivals: Arrivals) { self.arrivals = arrivals }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                let arrived = Date().timeIntervalSince1970
                if let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                    let id = (object["monitorId"] as? NSNumber)?.int64Value
                {
                    arrivals.record(id, arrived)
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "0")
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                    promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
