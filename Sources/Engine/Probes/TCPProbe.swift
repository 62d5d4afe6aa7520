import LookoutCore
import LookoutFFI

/// A `tcp` check: connect; then, when the monitor says so, write `send` and read until the reply
/// contains `expect` (at most 64 KiB, within the check's timeout). UP as soon as that holds;
/// DOWN `expect_missing` when the server closes (or the cap is reached) without it.
final class TCPProbe: ConnectingProbe {
    private var pending: [UInt8] = []
    private var written = 0
    private var reply: [UInt8] = []

    override func connected(_ socket: TCPSocket) {
        let monitor = request.monitor
        if let send = monitor.send {
            pending = Array(send.utf8)
            writeSome(socket)
        } else if monitor.expect != nil {
            socket.watch(read: true, write: false) { [unowned self] _, _ in self.readSome() }
        } else {
            finish(outcome)
        }
    }

    private func writeSome(_ socket: TCPSocket) {
        let count = socket.write(pending, from: written)
        if count < 0 {
            let code = Int32(-count)
            fail(TCPSocket.errorCode(for: code), "sending to \(target) failed: \(TCPSocket.describe(code))")
            return
        }
        written += count
        if written < pending.count {
            socket.watch(read: false, write: true) { [unowned self] _, _ in
                if let socket = self.socket { self.writeSome(socket) }
            }
            return
        }
        guard request.monitor.expect != nil else {
            finish(outcome)
            return
        }
        socket.watch(read: true, write: false) { [unowned self] _, _ in self.readSome() }
    }

    private func readSome() {
        guard let socket, let expect = request.monitor.expect else { return }
        while true {
            let room = Monitor.maxExpectReadBytes - reply.count
            guard let count = socket.read(into: &reply, limit: max(room, 1)) else { return }
            if count < 0 {
                let code = Int32(-count)
                fail(TCPSocket.errorCode(for: code), "reading from \(target) failed: \(TCPSocket.describe(code))")
                return
            }
            if contains(expect) {
                outcome.ttfbMicros = Clock.monotonicMicros() - request.startMonotonic
                finish(outcome)
                return
            }
            if count == 0 || reply.count >= Monitor.maxExpectReadBytes {
                outcome.ttfbMicros = Clock.monotonicMicros() - request.startMonotonic
                let ending = count == 0 ? "the server closed the connection" : "64 KiB read"
                var down = ProbeOutcome.failed(
                    .expectMissing, "the reply of \(target) does not contain '\(expect)' (\(ending); got: \(excerpt()))"
                )
                down.connectMicros = outcome.connectMicros
                down.ttfbMicros = outcome.ttfbMicros
                finish(down)
                return
            }
        }
    }

    private func contains(_ expect: String) -> Bool {
        let needle = Array(expect.utf8)
        guard reply.count >= needle.count else { return false }
        for start in 0...(reply.count - needle.count) where reply[start] == needle[0] {
            if reply[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// The first 120 bytes of the reply, control characters escaped, for the message.
    private func excerpt() -> String {
        if reply.isEmpty { return "nothing" }
        let head = String(decoding: reply.prefix(120), as: UTF8.self)
        let escaped = head.unicodeScalars.map { scalar in
            scalar.value < 0x20 ? (scalar == "\n" ? "\\n" : scalar == "\r" ? "\\r" : "?") : String(scalar)
        }.joined()
        return "'" + escaped + (reply.count > 120 ? "…'" : "'")
    }

    private func fail(_ code: CheckErrorCode, _ message: String) {
        var failed = ProbeOutcome.failed(code, message)
        failed.connectMicros = outcome.connectMicros
        finish(failed)
    }

    override func deadlineMessage() -> String {
        if let expect = request.monitor.expect {
            return "no reply containing '\(expect)' from \(target) within the check's timeout of "
                + "\(request.monitor.timeoutMs) ms (got: \(excerpt()))"
        }
        return "could not send to \(target) within the check's timeout of \(request.monitor.timeoutMs) ms"
    }
}
