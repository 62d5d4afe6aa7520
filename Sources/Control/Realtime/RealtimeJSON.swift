import LookoutCore
import NIOCore

/// Hand-built JSON for the messages every client receives (one encoding per update, shared by
/// every connection it goes to).
enum RealtimeJSON {
    /// Appends `text` as a JSON string literal.
    static func appendQuoted(_ text: String, to buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        JSONString.appendQuoted(text, to: &bytes)
        buffer.writeBytes(bytes)
    }

    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String { JSONString.quoted(text) }
}
