import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Answers one HTTP connection of the farm (route table in `FarmRoute`).
///
/// The pipeline is NIO's request decoder (llhttp) and this handler, which writes responses as
/// bytes (`FarmResponseHead`); see there for why NIO's encoder and helpers are left out. Without
/// NIO's pipelining handler this handler keeps the order itself: parts of a request that arrive
/// while the previous response is still in progress (a pipelining client during `/delay`) wait
/// in `queued` and are replayed once that response ends.
///
/// Every response is sent after the whole request was read, which is how a request body gets
/// "read and discarded". Keep-alive is honoured; a request that asks for `Connection: close` (or
/// an HTTP/1.0 request without keep-alive) gets `Connection: close` and the farm closes after the
/// response, so the TIME_WAIT stays on the farm's side, as with a real server.
final class FarmHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    /// `/echo` keeps at most this much of the request body (the rest is read and dropped).
    static let maxEchoBodyBytes = 1 << 20
    /// Pipelined request parts held back at most before the connection is dropped.
    static let maxQueuedParts = 10_000

    private enum State {
        /// Waiting for a request head.
        case idle
        /// Reading the current request's body.
        case reading
        /// The current request was read; its response is being produced.
        case responding
    }

    private let counters: LoopCounters
    private let allCounters: FarmCounters
    private var state = State.idle
    private var queued: [HTTPServerRequestPart] = []
    private var isDraining = false
    /// A counted request is in progress (see `ConcurrencyGauge`).
    private var isInProgress = false

    // The request being answered.
    private var route: FarmRoute = .notFound
    private var version: HTTPVersion = .http1_1
    private var keepAlive = true
    private var isHeadRequest = false
    private var echoHead: HTTPRequestHead?
    private var echoBody: ByteBuffer?
    private var echoBodyTruncated = false

    // A response in progress (delays, trickles, streamed bodies).
    private var pendingTask: Scheduled<Void>?
    private var trickleRemaining = 0
    private var streamRemaining = 0
    private var streamChunked = false
    private var isStreaming = false
    private var isPumping = false

    init(counters: LoopCounters, allCounters: FarmCounters) {
        self.counters = counters
        self.allCounters = allCounters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if state == .responding || !queued.isEmpty {
            guard queued.count < Self.maxQueuedParts else {
                context.close(promise: nil)
                return
            }
            queued.append(part)
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            let (path, query) = FarmRoute.split(head.uri)
            route = FarmRoute(path: path, query: query)
            if route.isCounted {
                counters.countRequest(path: path)
                allCounters.concurrency.begin()
                isInProgress = true
            }
            version = head.version
            keepAlive = head.isKeepAlive
            isHeadRequest = head.method == .HEAD
            state = .reading
            if route == .echo {
                echoHead = head
                echoBody = context.channel.allocator.buffer(capacity: 0)
                echoBodyTruncated = false
            }
            if head.version.minor >= 1,
                head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
            {
                // Without this, curl waits a second before sending a large body.
                context.writeAndFlush(wrapOutboundOut(FarmBody.continueHead), promise: nil)
            }
        case .body(var chunk):
            if echoBody != nil {
                let room = Self.maxEchoBodyBytes - echoBody!.readableBytes
                if chunk.readableBytes > room { echoBodyTruncated = true }
                if room > 0, let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) {
                    echoBody!.writeImmutableBuffer(slice)
                }
            }
        case .end:
            state = .responding
            answer(context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Stop timers and streams for a peer that is gone (a client that timed out, for example).
        pendingTask?.cancel()
        pendingTask = nil
        trickleRemaining = 0
        isStreaming = false
        queued.removeAll()
        endRequest()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError, state != .responding {
            // Not HTTP we understand: say so, then hang up (as NIO's error handler would).
            context.writeAndFlush(wrapOutboundOut(FarmBody.badRequest)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: - Routes

    private func answer(context: ChannelHandlerContext) {
        switch route {
        case .ok:
            // The benchmark hot path: one prebuilt buffer, one write.
            let response = FarmBody.okResponse(http10: version.minor == 0, close: !keepAlive)
            if isHeadRequest {
                respond(context: context, status: .ok, body: FarmBody.ok)
            } else {
                finish(context: context, last: response)
            }
        case .status(let code):
            let status = HTTPResponseStatus(statusCode: code)
            respond(context: context, status: status, body: ByteBuffer(string: "\(code) \(status.reasonPhrase)\n"))
        case .delay(let milliseconds):
            after(milliseconds: milliseconds, context: context) { handler in
                handler.respond(context: context, status: .ok, body: FarmBody.ok)
            }
        case .trickle(let bytes, let interval):
            writeHead(context: context, status: .ok, contentLength: bytes, contentType: "text/plain")
            context.flush()
            if isHeadRequest || bytes == 0 {
                finish(context: context)
            } else {
                trickleRemaining = bytes
                scheduleTrickle(context: context, intervalMilliseconds: interval)
            }
        case .huge(let bytes, let chunked):
            // HTTP/1.0 has no chunking: the body is then delimited by closing the connection.
            let useChunks = chunked && version.minor >= 1
            if chunked && !useChunks { keepAlive = false }
            writeHead(
                context: context,
                status: .ok,
                contentLength: chunked ? nil : bytes,
                chunked: useChunks,
                contentType: "application/octet-stream"
            )
            stream(bytes: bytes, chunked: useChunks, context: context)
        case .redirect(let remaining):
            if remaining == 0 {
                respond(context: context, status: .ok, body: FarmBody.ok)
            } else {
                redirect(to: "/redirect/\(remaining - 1)", context: context)
            }
        case .redirectLoop:
            redirect(to: "/redirect-loop", context: context)
        case .redirectTo(let url):
            redirect(to: url, context: context)
        case .reset:
            abort(context: context)
        case .close:
            context.close(promise: nil)
        case .garbage:
            context.writeAndFlush(wrapOutboundOut(FarmBody.garbage)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .keyword(let word):
            // Reflected as-is on purpose: monitors look for the exact text (loopback fixture only).
            let html = "<html><body>status: \(word)</body></html>\n"
            respond(
                context: context,
                status: .ok,
                body: ByteBuffer(string: html),
                contentType: "text/html; charset=utf-8"
            )
        case .json(let status):
            let json =
                "{\"status\":\(JSONText.quoted(status)),\"checks\":[{\"name\":\"db\",\"ok\":true}],\"version\":3}"
            respond(context: context, status: .ok, body: ByteBuffer(string: json), contentType: "application/json")
        case .echo:
            respond(
                context: context,
                status: .ok,
                body: ByteBuffer(string: echoJSON()),
                contentType: "application/json"
            )
        case .bench(let latency, let code, let bytes):
            let status = HTTPResponseStatus(statusCode: code)
            let length = FarmResponseHead.allowsBody(status) ? bytes : 0
            after(milliseconds: latency, context: context) { handler in
                if code == 200 && length == 2 && !handler.isHeadRequest {
                    handler.finish(
                        context: context,
                        last: FarmBody.okResponse(http10: handler.version.minor == 0, close: !handler.keepAlive)
                    )
                    return
                }
                handler.writeHead(context: context, status: status, contentLength: length, contentType: "text/plain")
                handler.stream(bytes: length, chunked: false, context: context)
            }
        case .stats:
            allCounters.snapshot(on: context.eventLoop).assumeIsolated().whenComplete { result in
                let body: String
                switch result {
                case .success(let stats): body = stats.json
                case .failure(let error): body = "{\"error\":\(JSONText.quoted("\(error)"))}"
                }
                self.respond(
                    context: context,
                    status: .ok,
                    body: ByteBuffer(string: body),
                    contentType: "application/json"
                )
            }
        case .statsReset:
            allCounters.reset(on: context.eventLoop).assumeIsolated().whenComplete { _ in
                self.respond(
                    context: context,
                    status: .ok,
                    body: ByteBuffer(string: "{\"reset\":true}"),
                    contentType: "application/json"
                )
            }
        case .notFound:
            respond(context: context, status: .notFound, body: ByteBuffer(string: "not found\n"))
        case .badRequest(let reason):
            respond(context: context, status: .badRequest, body: ByteBuffer(string: reason + "\n"))
        }
    }

    private func redirect(to location: String, context: ChannelHandlerContext) {
        respond(
            context: context,
            status: .found,
            body: ByteBuffer(string: "redirecting to \(location)\n"),
            extraHeaders: [("location", location)]
        )
    }

    private func echoJSON() -> String {
        guard let head = echoHead else { return "{}" }
        var headers: [(String, String)] = []
        var seen: [String: Int] = [:]
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if let index = seen[lowered] {
                headers[index].1 += ", " + value
            } else {
                seen[lowered] = headers.count
                headers.append((lowered, value))
            }
        }
        let headerObject = JSONText.object(headers.map { ($0.0, JSONText.quoted($0.1)) })
        let body = echoBody.map { String(buffer: $0) } ?? ""
        return JSONText.object([
            ("method", JSONText.quoted(head.method.rawValue)),
            ("path", JSONText.quoted(head.uri)),
            ("version", JSONText.quoted("\(head.version)")),
            ("headers", headerObject),
            ("body", JSONText.quoted(body)),
            ("bodyTruncated", echoBodyTruncated ? "true" : "false"),
        ])
    }

    // MARK: - Writing

    private func writeHead(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        contentLength: Int?,
        chunked: Bool = false,
        contentType: String,
        extraHeaders: [(String, String)] = []
    ) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        FarmResponseHead(
            status: status,
            version: version,
            contentLength: contentLength,
            chunked: chunked,
            contentType: contentType,
            extraHeaders: extraHeaders,
            close: !keepAlive
        ).write(into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func respond(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        body: ByteBuffer,
        contentType: String = "text/plain; charset=utf-8",
        extraHeaders: [(String, String)] = []
    ) {
        let hasBody = FarmResponseHead.allowsBody(status)
        var buffer = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        FarmResponseHead(
            status: status,
            version: version,
            contentLength: hasBody ? body.readableBytes : nil,
            contentType: contentType,
            extraHeaders: extraHeaders,
            close: !keepAlive
        ).write(into: &buffer)
        if hasBody && !isHeadRequest { buffer.writeImmutableBuffer(body) }
        finish(context: context, last: buffer)
    }

    /// Ends the response with `last` (if any) and closes unless the connection is kept alive;
    /// then replays any pipelined request that waited.
    private func finish(context: ChannelHandlerContext, last: ByteBuffer? = nil) {
        let close = !keepAlive
        resetRequestState()
        if close {
            queued.removeAll()
            context.writeAndFlush(wrapOutboundOut(last ?? FarmBody.empty)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        if let last { context.write(wrapOutboundOut(last), promise: nil) }
        context.flush()
        drainQueued(context: context)
    }

    private func drainQueued(context: ChannelHandlerContext) {
        guard !isDraining else { return }  // the outer loop carries on
        isDraining = true
        while state != .responding && !queued.isEmpty && context.channel.isActive {
            handle(queued.removeFirst(), context: context)
        }
        isDraining = false
    }

    private func endRequest() {
        guard isInProgress else { return }
        isInProgress = false
        allCounters.concurrency.end()
    }

    private func resetRequestState() {
        endRequest()
        state = .idle
        route = .notFound
        echoHead = nil
        echoBody = nil
        echoBodyTruncated = false
        pendingTask = nil
    }

    /// Runs `body` after `milliseconds` (at once for 0), unless the connection closes first.
    private func after(
        milliseconds: Int,
        context: ChannelHandlerContext,
        _ body: @escaping (FarmHTTPHandler) -> Void
    ) {
        guard milliseconds > 0 else {
            body(self)
            return
        }
        pendingTask = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
            self.pendingTask = nil
            body(self)
        }
    }

    private func scheduleTrickle(context: ChannelHandlerContext, intervalMilliseconds: Int) {
        pendingTask = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(intervalMilliseconds))) {
            guard self.trickleRemaining > 0 else { return }  // The connection went away.
            self.trickleRemaining -= 1
            context.writeAndFlush(self.wrapOutboundOut(FarmBody.trickleByte), promise: nil)
            if self.trickleRemaining == 0 {
                self.finish(context: context)
            } else {
                self.scheduleTrickle(context: context, intervalMilliseconds: intervalMilliseconds)
            }
        }
    }

    /// Sends `bytes` of filler after a head that is already written, then ends the response.
    private func stream(bytes: Int, chunked: Bool, context: ChannelHandlerContext) {
        guard bytes > 0, !isHeadRequest else {
            finish(context: context, last: chunked && !isHeadRequest ? FarmBody.lastChunk : nil)
            return
        }
        streamRemaining = bytes
        streamChunked = chunked
        isStreaming = true
        pump(context: context)
    }

    /// Writes filler while the socket takes it; `channelWritabilityChanged` resumes it once the
    /// kernel has drained, so a slow reader costs one 64 KiB chunk of memory, not the whole body.
    private func pump(context: ChannelHandlerContext) {
        guard isStreaming, !isPumping else { return }
        isPumping = true
        while streamRemaining > 0 && context.channel.isWritable {
            let count = min(streamRemaining, FarmBody.chunkSize)
            streamRemaining -= count
            if streamChunked {
                var size = context.channel.allocator.buffer(capacity: 12)
                size.writeString(String(count, radix: 16))
                size.writeStaticString("\r\n")
                context.write(wrapOutboundOut(size), promise: nil)
            }
            context.write(wrapOutboundOut(FarmBody.filler(count)), promise: nil)
            if streamChunked { context.write(wrapOutboundOut(FarmBody.chunkEnd), promise: nil) }
            // Flush each chunk so writability reflects the socket; the last one goes with `finish`.
            if streamRemaining > 0 { context.flush() }
        }
        isPumping = false
        if streamRemaining == 0 && isStreaming {
            isStreaming = false
            finish(context: context, last: streamChunked ? FarmBody.lastChunk : nil)
        }
    }

    /// Closes with a TCP RST instead of a FIN: SO_LINGER {on, 0 s} makes close() abort.
    private func abort(context: ChannelHandlerContext) {
        guard let options = context.channel as? any SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
