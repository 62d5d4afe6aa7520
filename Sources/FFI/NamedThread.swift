import CEngineShims
import Foundation

/// Starts a thread whose name the operating system knows: `top -H`, `ps -L`, `perf` and
/// `/proc/PID/task/*/comm` then tell a check loop from the results writer. Foundation's
/// `Thread.name` names the `Thread` object only (on Linux every thread still shows as the
/// process), so the thread names itself first thing.
package enum NamedThread {
    /// Linux keeps 15 bytes of a thread's name (`TASK_COMM_LEN` 16 with the terminator;
    /// `pthread_setname_np` refuses a longer one); names are cut to fit, at a character boundary.
    package static let maximumNameBytes = 15

    /// Starts `body` on a new thread named `name`. `stackSize` in bytes, nil for the default.
    package static func start(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let fitted = fitted(name)
        let thread = Thread {
            nameCurrentThread(fitted)
            body()
        }
        thread.name = fitted
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// The name as the kernel will keep it: at most `maximumNameBytes` bytes, cut at a
    /// character boundary.
    package static func fitted(_ name: String) -> String {
        var fitted = ""
        for character in name {
            guard fitted.utf8.count + character.utf8.count <= maximumNameBytes else { break }
            fitted.append(character)
        }
        return fitted
    }

    /// The calling thread's name as the kernel holds it.
    package static func currentName() -> String {
        var buffer = [CChar](repeating: 0, count: maximumNameBytes + 1)
        guard CEngineShims_posix_current_thread_name(&buffer) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func nameCurrentThread(_ name: String) {
        _ = CEngineShims_posix_name_current_thread(name)
    }
}
