import NIOCore

/// Prebuilt bytes. `ByteBuffer` is copy-on-write, so every response shares these and streaming a
/// gigabyte costs slices of one 64 KiB buffer, never a gigabyte of memory.
enum FarmBody {
    static let chunkSize = 64 * 1024
    static let ok = ByteBuffer(string: "ok")
    /// Starts with `ok` so that a `/bench` body of the default 2 bytes reads as `ok`.
    static let filler = ByteBuffer(string: "ok" + String(repeating: ".", count: chunkSize - 2))
    static let trickleByte = ByteBuffer(string: ".")
    static let garbage = ByteBuffer(string: "this is not http\r\n\r\n")
    static let continueHead = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")
    static let badRequest = ByteBuffer(
        string:
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nconnection: close\r\n\r\nbad request\n"
    )
    static let chunkEnd = ByteBuffer(string: "\r\n")
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    static let empty = ByteBuffer()

    /// `/ok` answered in one write, by (HTTP/1.0?, close?): the hot path of every benchmark.
    static let okResponses: [ByteBuffer] = [false, true].flatMap { http10 in
        [false, true].map { close in
            var buffer = ByteBuffer()
            FarmResponseHead(
                status: .ok,
                version: http10 ? .http1_0 : .http1_1,
                contentLength: 2,
                contentType: "text/plain; charset=utf-8",
                close: close
            ).write(into: &buffer)
            buffer.writeString("ok")
            return buffer
        }
    }

    static func okResponse(http10: Bool, close: Bool) -> ByteBuffer {
        okResponses[(http10 ? 2 : 0) + (close ? 1 : 0)]
    }

    /// The first `count` (<= `chunkSize`) bytes of `filler`, without copying.
    static func filler(_ count: Int) -> ByteBuffer {
        filler.getSlice(at: filler.readerIndex, length: count)!
    }
}
