import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child ended and what it cost, from `wait4`'s rusage (which only the reaping parent
/// sees; Foundation's `Process` reaps on its own and hides it, hence posix_spawn here).
struct ChildExit: Sendable, CustomStringConvertible {
    /// Exit code when it exited normally.
    var exitCode: Int32?
    /// Signal number when a signal ended it.
    var signal: Int32?
    var userCPUSeconds: Double
    var systemCPUSeconds: Double
    /// Peak resident set size, KiB (Linux reports `ru_maxrss` in KiB).
    var peakRSSKiB: Int
    var wallSeconds: Double

    var succeeded: Bool { exitCode == 0 }
    var cpuSeconds: Double { userCPUSeconds + systemCPUSeconds }

    var description: String {
        if let exitCode { return "exited with status \(exitCode)" }
        if let signal { return "was killed by signal \(signal)" }
        return "ended in an unknown way"
    }
}

/// A child process started with posix_spawn: stdin from /dev/null, stdout and stderr into files,
/// SIGTERM/SIGINT/SIGPIPE back to their default actions (this process ignores them to handle
/// them itself, and ignored signals survive exec), and no inherited descriptors beyond 0...2.
///
/// Whoever creates one must reap it (`wait`) or stop it (`terminate`) on every path.
final class ChildProcess {
    /// User + system CPU the child has used so far, µs, from `/proc/<pid>/stat` (clock-tick
    /// resolution); nil once it has been reaped or where there is no procfs.
    var cpuMicrosSoFar: Int? {
        guard exit == nil, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            return nil
        }
        return Self.cpuMicros(procStat: text, ticksPerSecond: Int(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, µs. The command name in
    /// field 2 may hold spaces and parentheses, so fields are counted after its last ')'.
    static func cpuMicros(procStat text: String, ticksPerSecond: Int) -> Int? {
        guard ticksPerSecond > 0, let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (user + system) * 1_000_000 / ticksPerSecond
    }

    let pid: pid_t
    let executable: String
    private let startedAt: Double
    private(set) var exit: ChildExit?

    init(executable: String, arguments: [String], stdoutPath: String, stderrPath: String) throws(ThroughputError) {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        ChildProcess.markDescriptorsCloseOnExec()

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signalNumber) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] =
            ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let started = ChildProcess.now()
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else { throw .spawnFailed(path: executable, errno: result) }
        self.pid = pid
        self.executable = executable
        self.startedAt = started
    }

    /// Reaps the child if it has ended; nil while it runs.
    func poll() -> ChildExit? {
        if let exit { return exit }
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let result = wait4(pid, &status, WNOHANG, &usage)
            if result == 0 { return nil }
            if result == -1 && errno == EINTR { continue }
            if result == -1 {
                // ECHILD: someone else reaped it; report what we can.
                exit = ChildExit(
                    exitCode: nil,
                    signal: nil,
                    userCPUSeconds: 0,
                    systemCPUSeconds: 0,
                    peakRSSKiB: 0,
                    wallSeconds: ChildProcess.now() - startedAt
                )
                return exit
            }
            break
        }
        // WIFEXITED / WTERMSIG are macros Swift cannot call.
        let termination = status & 0x7F
        exit = ChildExit(
            exitCode: termination == 0 ? (status >> 8) & 0xFF : nil,
            signal: termination == 0 ? nil : termination,
            userCPUSeconds: ChildProcess.seconds(usage.ru_utime),
            systemCPUSeconds: ChildProcess.seconds(usage.ru_stime),
            peakRSSKiB: Int(usage.ru_maxrss),
            wallSeconds: ChildProcess.now() - startedAt
        )
        return exit
    }

    /// Waits until the child ends, `deadline` (monotonic seconds) passes, or `shouldStop` turns
    /// true; in the last two cases it is sent SIGTERM and, 5 s later, SIGKILL.
    /// Returns the exit and whether it had to be stopped.
    func wait(deadline: Double, shouldStop: () -> Bool) -> (exit: ChildExit, stopped: Bool) {
        var stopRequestedAt: Double?
        while true {
            if let exit = poll() { return (exit, stopRequestedAt != nil) }
            let now = ChildProcess.now()
            if stopRequestedAt == nil && (now >= deadline || shouldStop()) {
                kill(pid, SIGTERM)
                stopRequestedAt = now
            } else if let requested = stopRequestedAt, now - requested > 5 {
                kill(pid, SIGKILL)
            }
            usleep(20_000)  // Polling keeps this single-threaded; 20 ms is noise next to a run.
        }
    }

    /// Stops a child that is still running (SIGTERM, then SIGKILL) and reaps it. For exit paths.
    func terminate() {
        guard poll() == nil else { return }
        _ = wait(deadline: 0, shouldStop: { true })
    }

    /// The farm's sockets must not leak into the engine (they would keep its ports open after
    /// this process exits). NIO opens its sockets close-on-exec already; this covers every other
    /// descriptor (glibc's closefrom action is not visible to Swift). Racing with a descriptor
    /// that closes meanwhile is harmless: fcntl on it just fails.
    private static func markDescriptorsCloseOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let descriptor = Int32(name), descriptor > 2 else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// User + system CPU seconds of this process so far.
    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Monotonic seconds.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func seconds(_ value: timeval) -> Double {
        Double(value.tv_sec) + Double(value.tv_usec) / 1e6
    }
}
