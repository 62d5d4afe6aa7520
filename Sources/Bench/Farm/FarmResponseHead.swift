import NIOCore
import NIOHTTP1

/// Serializes response heads straight into bytes.
///
/// The farm skips NIO's response encoder, pipelining handler, error handler and header validator:
/// with a fresh connection per request their per-connection set-up and per-message work cost more
/// than the response itself (measured: about 80 µs of user CPU per request with the full
/// pipeline). Heads here are small and built from trusted parts; the one user-supplied value that
/// can reach a header (`/redirect-to`'s URL) is refused by `FarmRoute` if it has control bytes.
struct FarmResponseHead {
    var status: HTTPResponseStatus
    var version: HTTPVersion
    /// nil: no Content-Length (chunked, close-delimited or a status without a body).
    var contentLength: Int?
    var chunked = false
    var contentType: String?
    var extraHeaders: [(String, String)] = []
    /// `Connection: close`, else `Connection: keep-alive` for HTTP/1.0 only.
    var close: Bool

    /// Statuses that never carry a body (RFC 9110 §6.4.1): 1xx, 204, 304.
    static func allowsBody(_ status: HTTPResponseStatus) -> Bool {
        let code = status.code
        return !(100..<200).contains(code) && code != 204 && code != 304
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        if let contentType {
            buffer.writeStaticString("content-type: ")
            buffer.writeString(contentType)
            buffer.writeStaticString("\r\n")
        }
        if let contentLength, Self.allowsBody(status) {
            buffer.writeStaticString("content-length: ")
            buffer.writeString(String(contentLength))
            buffer.writeStaticString("\r\n")
        }
        if chunked { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
        for (name, value) in extraHeaders {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if close {
            buffer.writeStaticString("connection: close\r\n")
        } else if version.minor == 0 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }
}
