// libev, wrapped. Everything unsafe about libev lives in this file.
//
// Ownership:
// - `EventLoop` owns its `ev_loop` (created in init, destroyed in deinit) and a pool of raw
//   `ev_io` watchers. Watchers are heap-allocated because libev keeps their address while they
//   are started; pooled because a check opens and closes a socket, and a malloc per socket shows
//   up in the per-check budget (docs/PLATFORM.md).
// - A started `ev_io` carries, in its `data` field, an *unretained* pointer to the
//   `LoopIOHandler` that asked for it. The handler must stop its watchers before it goes away
//   (CurlMulti and DNSChannel do so in their deinit / on socket removal).
// - `LoopTimer` and `LoopWakeup` each own one heap-allocated watcher and point its `data` at
//   themselves, unretained; their deinit stops the watcher first.
// - Every method except `LoopWakeup.send()` must be called on the loop's own thread.
import CEngineShims
import Foundation
import LookoutCore

/// A class that receives readiness events for file descriptors it registered with an `EventLoop`.
/// A base class rather than a protocol: the dispatch runs once per socket event and a vtable
/// call is cheaper than an existential cast.
package class LoopIOHandler {
    /// `readable`/`writable` say which direction is ready.
    package func ioReady(fd: Int32, readable: Bool, writable: Bool) {}
}

/// Errors from setting up a loop; they only happen when the process is out of resources.
package struct EventLoopError: Error, CustomStringConvertible {
    package var description: String
}

/// One libev loop. Confined to the thread that runs it.
package final class EventLoop {
    package let raw: OpaquePointer
    private var spareIOWatchers: [UnsafeMutablePointer<ev_io>] = []

    package static let read: Int32 = CEngineShims_ev_READ()
    package static let write: Int32 = CEngineShims_ev_WRITE()

    package init() throws(EventLoopError) {
        guard let loop = CEngineShims_ev_loop_new() else {
            throw EventLoopError(description: "libev could not create an epoll loop (out of file descriptors?)")
        }
        raw = loop
    }

    deinit {
        for watcher in spareIOWatchers { watcher.deallocate() }
        ev_loop_destroy(raw)
    }

    /// Runs until `breakLoop()` is called (or nothing is left to watch).
    package func run() { _ = ev_run(raw, 0) }

    /// Makes `run()` return after the current iteration.
    package func breakLoop() { ev_break(raw, Int32(EVBREAK_ALL)) }

    /// The loop's cached time (seconds): updated once per iteration.
    package var now: Double { ev_now(raw) }

    /// Starts watching `fd` for `events` (EventLoop.read | EventLoop.write) on behalf of `handler`.
    package func startIO(fd: Int32, events: Int32, handler: LoopIOHandler) -> UnsafeMutablePointer<ev_io> {
        let watcher = spareIOWatchers.popLast() ?? UnsafeMutablePointer<ev_io>.allocate(capacity: 1)
        CEngineShims_ev_io_init(watcher, eventLoopIOCallback, fd, events)
        CEngineShims_ev_set_data(watcher, Unmanaged.passUnretained(handler).toOpaque())
        ev_io_start(raw, watcher)
        return watcher
    }

    /// Changes the events an active watcher waits for (libev wants it stopped while it changes).
    package func updateIO(_ watcher: UnsafeMutablePointer<ev_io>, events: Int32) {
        if CEngineShims_ev_io_events(watcher) == events { return }
        ev_io_stop(raw, watcher)
        CEngineShims_ev_io_set(watcher, CEngineShims_ev_io_fd(watcher), events)
        ev_io_start(raw, watcher)
    }

    /// Stops a watcher and takes it back into the pool.
    package func stopIO(_ watcher: UnsafeMutablePointer<ev_io>) {
        ev_io_stop(raw, watcher)
        spareIOWatchers.append(watcher)
    }
}

private let eventLoopIOCallback: CEngineShims_ev_io_callback = { _, watcher, revents in
    guard let watcher, let data = CEngineShims_ev_data(watcher) else { return }
    Unmanaged<LoopIOHandler>.fromOpaque(data).takeUnretainedValue().ioReady(
        fd: CEngineShims_ev_io_fd(watcher),
        readable: revents & EventLoop.read != 0,
        writable: revents & EventLoop.write != 0)
}

/// A one-shot timer on a loop. `schedule(after:)` re-arms it (replacing any pending expiry).
package final class LoopTimer {
    private let loop: EventLoop
    private let watcher: UnsafeMutablePointer<ev_timer>
    private let handler: () -> Void

    package init(loop: EventLoop, handler: @escaping () -> Void) {
        self.loop = loop
        self.handler = handler
        watcher = UnsafeMutablePointer<ev_timer>.allocate(capacity: 1)
        CEngineShims_ev_timer_init(watcher, loopTimerCallback, 0, 0)
        CEngineShims_ev_set_data(watcher, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        ev_timer_stop(loop.raw, watcher)
        watcher.deallocate()
    }

    package var isScheduled: Bool { CEngineShims_ev_is_active(watcher) != 0 }

    /// Fires once after `seconds` (0 = on the next loop iteration).
    package func schedule(after seconds: Double) {
        ev_timer_stop(loop.raw, watcher)
        CEngineShims_ev_timer_set(watcher, max(seconds, 0), 0)
        ev_timer_start(loop.raw, watcher)
    }

    package func cancel() { ev_timer_stop(loop.raw, watcher) }

    fileprivate func fire() { handler() }
}

private let loopTimerCallback: CEngineShims_ev_timer_callback = { _, watcher, _ in
    guard let watcher, let data = CEngineShims_ev_data(watcher) else { return }
    Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue().fire()
}

/// Wakes a loop from another thread (`ev_async`). `send()` is the only method that may be
/// called off the loop thread; the handler runs on the loop thread.
package final class LoopWakeup: @unchecked Sendable {
    private let loop: EventLoop
    private let watcher: UnsafeMutablePointer<ev_async>
    private let handler: () -> Void

    package init(loop: EventLoop, handler: @escaping () -> Void) {
        self.loop = loop
        self.handler = handler
        watcher = UnsafeMutablePointer<ev_async>.allocate(capacity: 1)
        CEngineShims_ev_async_init(watcher, loopWakeupCallback)
        CEngineShims_ev_set_data(watcher, Unmanaged.passUnretained(self).toOpaque())
        ev_async_start(loop.raw, watcher)
    }

    deinit {
        ev_async_stop(loop.raw, watcher)
        watcher.deallocate()
    }

    /// Thread-safe: wakes the loop, which then calls the handler (several sends may coalesce).
    package func send() { ev_async_send(loop.raw, watcher) }

    fileprivate func fire() { handler() }
}

private let loopWakeupCallback: CEngineShims_ev_async_callback = { _, watcher, _ in
    guard let watcher, let data = CEngineShims_ev_data(watcher) else { return }
    Unmanaged<LoopWakeup>.fromOpaque(data).takeUnretainedValue().fire()
}

/// A thread of its own running one `EventLoop`, for processes whose other threads are not loop
/// threads (the control plane's NIO and Swift concurrency threads). Other threads hand it work
/// with `execute`; the work runs on the loop thread, where every C handle of that loop lives.
///
/// Ownership: the thread owns the loop and its wakeup watcher; both are created on the thread and
/// destroyed there when `shutdown()` stops the loop. Jobs submitted after shutdown are dropped
/// (their owners resume waiting callers with an error first, see `RedisClient`).
package final class LoopThread: @unchecked Sendable {
    // @unchecked: `jobs` and `state` are guarded by `lock`; `loop` and `wakeup` are written once
    // by the loop thread before `ready` is signalled and only read afterwards.
    private let lock = NSLock()
    private let ready = NSCondition()
    private var jobs: [(EventLoop) -> Void] = []
    private var isRunning = false
    private var isStopped = false
    private var loop: EventLoop?
    private var wakeup: LoopWakeup?
    private var startError: EventLoopError?

    /// Starts the thread and returns once its loop is running. `name` shows in `top -H`.
    package init(name: String) throws(EventLoopError) {
        ready.lock()
        NamedThread.start(name) { [unowned self] in self.threadMain() }
        while !isRunning && startError == nil { ready.wait() }
        ready.unlock()
        if let startError { throw startError }
    }

    deinit { shutdown() }

    /// Runs `job` on the loop thread soon (in submission order). Thread-safe. Returns false when
    /// the thread has been shut down (the job is dropped).
    @discardableResult
    package func execute(_ job: @escaping (EventLoop) -> Void) -> Bool {
        lock.lock()
        guard !isStopped, let wakeup else {
            lock.unlock()
            return false
        }
        jobs.append(job)
        lock.unlock()
        wakeup.send()
        return true
    }

    /// Runs the jobs already submitted, stops the loop and waits for the thread to end. Idempotent.
    package func shutdown() {
        lock.lock()
        if isStopped {
            lock.unlock()
            return
        }
        isStopped = true
        let wakeup = self.wakeup
        lock.unlock()
        wakeup?.send()
        ready.lock()
        while isRunning { ready.wait() }
        ready.unlock()
    }

    private func threadMain() {
        let created: EventLoop
        do {
            created = try EventLoop()
        } catch {
            ready.lock()
            startError = error
            ready.signal()
            ready.unlock()
            return
        }
        let wakeup = LoopWakeup(loop: created) { [unowned self] in self.drain(created) }
        lock.lock()
        loop = created
        self.wakeup = wakeup
        lock.unlock()
        ready.lock()
        isRunning = true
        ready.signal()
        ready.unlock()

        created.run()

        lock.lock()
        self.wakeup = nil
        loop = nil
        lock.unlock()
        ready.lock()
        isRunning = false
        ready.broadcast()
        ready.unlock()
    }

    private func drain(_ loop: EventLoop) {
        lock.lock()
        let batch = jobs
        jobs.removeAll(keepingCapacity: true)
        let stop = isStopped
        lock.unlock()
        for job in batch { job(loop) }
        if stop { loop.breakLoop() }
    }
}
