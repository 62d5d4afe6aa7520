import Dispatch
import Foundation
import LookoutFFI
import Synchronization
import Testing

/// Threads the engine starts carry their names in the kernel, where `top -H`, `ps -L`, `perf`
/// and `scripts/bench/cpu-per-check` read them.
@Suite("NamedThread (thread names the operating system shows)")
struct NamedThreadTests {
    /// Starts a named thread and returns the name the kernel gives it, as the thread itself reads
    /// it back through `prctl` and through `/proc/thread-self/comm`.
    private func kernelNames(ofThreadNamed name: String) throws -> (pthread: String, proc: String) {
        let done = DispatchSemaphore(value: 0)
        let seen = Mutex<(String, String)?>(nil)
        NamedThread.start(name) {
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.withLock { $0 = (NamedThread.currentName(), comm.trimmingCharacters(in: .newlines)) }
            done.signal()
        }
        try #require(done.wait(timeout: .now() + 10) == .success, "the named thread never ran")
        let names = try #require(seen.withLock { $0 })
        return (names.0, names.1)
    }

    @Test("a thread is known to the kernel by the name it was started with")
    func namesTheThread() throws {
        let names = try kernelNames(ofThreadNamed: "lookout-loop-3")
        #expect(names.pthread == "lookout-loop-3")
        #expect(names.proc == "lookout-loop-3")
    }

    @Test("a name longer than the kernel keeps is cut to fit instead of being refused")
    func longNameIsCut() throws {
        let names = try kernelNames(ofThreadNamed: "lookout-cluster-sync")
        #expect(names.pthread == "lookout-cluster")
        #expect(names.proc == "lookout-cluster")
    }

    @Test("names are cut at a character boundary, never inside one")
    func cutsAtCharacterBoundary() {
        #expect(NamedThread.fitted("lookout-results") == "lookout-results")
        #expect(NamedThread.fitted("lookout-results!") == "lookout-results")
        // Two bytes each: seven fit in 15 bytes, the eighth would split.
        #expect(NamedThread.fitted("éééééééé") == "ééééééé")
        #expect(NamedThread.fitted("") == "")
    }
}
