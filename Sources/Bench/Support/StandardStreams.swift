#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to stdout and stderr.
///
/// The farm's ready line must reach a parent that reads a pipe the moment everything listens;
/// stdio buffering would hold it back, and the `stdout` global is not concurrency-safe in Swift 6.
enum StandardStreams {
    static func writeLine(_ text: String, to descriptor: Int32 = 1) {
        emit(text + "\n", to: descriptor)
    }

    /// Writes `text` as it is (no newline), e.g. a progress line rewritten with `\r`.
    static func emit(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // The reader went away; nothing useful left to do with the line.
                }
                offset += written
            }
        }
    }

    static func error(_ text: String) {
        writeLine(text, to: 2)
    }
}
