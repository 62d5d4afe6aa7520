import NIOCore

/// Feeds each UDP datagram to `DNSResponder` and sends the answer back to its sender.
///
/// Answers are written as datagrams arrive and flushed once per read burst, so NIO hands the
/// kernel a batch (sendmmsg) instead of one syscall per answer.
final class DNSServerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: DNSResponder
    private let counters: LoopCounters

    init(responder: DNSResponder, counters: LoopCounters) {
        self.responder = responder
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var output = context.channel.allocator.buffer(capacity: 512)
        switch responder.respond(to: envelope.data, into: &output) {
        case .ignore:
            return
        case .silence:
            counters.dnsQueries += 1
        case .answer:
            counters.dnsQueries += 1
            let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: output)
            context.write(wrapOutboundOut(reply), promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP server must outlive any one bad peer (ICMP port unreachable comes back as an
        // error on the socket, for example): swallow, never close.
    }
}
