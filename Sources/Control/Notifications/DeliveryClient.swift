import Foundation
import Logging
import LookoutCore
import LookoutFFI
import Synchronization

/// Runs one transfer and waits for its answer. `DeliveryClient` is the real one; the channels'
/// and the dispatcher's tests may use a stand-in.
protocol DeliveryTransport: Sendable {
    /// Never throws: every failure is in the response (`failure`).
    func perform(_ request: CurlTransferRequest) async -> CurlTransferResponse
}

/// libcurl for the control plane: a `CurlTransferRunner` (curl multi + c-ares channel) on a libev
/// thread of its own (`LoopThread`), bridged to async/await, so no NIO event loop and no Swift
/// concurrency thread ever waits on a delivery. Names are resolved by c-ares and every address is
/// held to the target policy, before connecting and in curl's open-socket callback.
///
/// At most `maxInFlight` transfers run at once; more wait in a queue (up to `maxQueued`, then
/// they fail at once with `busy`). A cancelled task cancels its transfer. `shutdown()` ends every
/// transfer still running with `shutdown` and stops the thread.
final class DeliveryClient: DeliveryTransport, Sendable {
    struct Configuration: Sendable {
        /// What webhooks (user-chosen URLs) may connect to. Requests may bring their own policy
        /// (the operator's SMTP server and Bot API base do).
        var policy: TargetPolicy
        /// `IP:PORT` of the DNS server; nil = the machine's resolv.conf.
        var dnsServer: String?
        /// Per-try DNS timeout, ms. Default 2,000.
        var dnsTimeoutMilliseconds = 2_000
        /// DNS tries per server. Default 2.
        var dnsTries = 2
        /// PEM file of CAs trusted in addition to the system store. Default none.
        var caFile: String?
        /// Transfers running at once. Default 16.
        var maxInFlight = 16
        /// Transfers waiting at most. Default 1,024.
        var maxQueued = 1_024

        init(policy: TargetPolicy, dnsServer: String? = nil, caFile: String? = nil) {
            self.policy = policy
            self.dnsServer = dnsServer
            self.caFile = caFile
        }

        /// From the control plane's settings: `--allow-private-targets`, `--dns-server`,
        /// `--ca-file`; as many transfers at once as the dispatcher runs (at least 4, so test
        /// sends still go out when the dispatcher is off).
        init(_ notifications: ControlConfiguration.Notifications) {
            self.init(
                policy: TargetPolicy(allowAll: notifications.allowPrivateTargets),
                dnsServer: notifications.dnsServer,
                caFile: notifications.caFile
            )
            maxInFlight = max(notifications.dispatcherConcurrency, 4)
        }
    }

    private let thread: LoopThread
    private let runner: LoopConfined<CurlTransferRunner?>
    private let caBundle: DeliveryCABundle
    private let nextID = Atomic<UInt64>(0)

    /// Starts the thread and its resolver. Fails when the DNS server or the CA file is unusable.
    /// libcurl's global set-up runs here too (thread-safe in Debian's libcurl, feature
    /// `threadsafe`); `main` may also do it first.
    init(configuration: Configuration, logger: Logger) throws(DeliveryClientError) {
        CurlGlobal.initialize()
        AresGlobal.initialize()
        caBundle = try DeliveryCABundle(extraFile: configuration.caFile)
        do {
            thread = try LoopThread(name: "lookout-deliver")
        } catch {
            caBundle.remove()
            throw DeliveryClientError(description: "cannot start the delivery thread: \(error)")
        }
        let runner = LoopConfined<CurlTransferRunner?>(nil)
        self.runner = runner
        var runnerConfiguration = CurlTransferRunner.Configuration(
            policy: configuration.policy,
            dnsServer: configuration.dnsServer,
            caBundlePath: caBundle.path
        )
        runnerConfiguration.dnsTimeoutMs = configuration.dnsTimeoutMilliseconds
        runnerConfiguration.dnsTries = configuration.dnsTries
        runnerConfiguration.maxInFlight = max(configuration.maxInFlight, 1)
        runnerConfiguration.maxQueued = max(configuration.maxQueued, 0)
        // The runner is made on its own thread (every C handle of a loop lives there); wait for it.
        let created = StartupResult()
        thread.execute { [runnerConfiguration] loop in
            do {
                runner.value = try CurlTransferRunner(loop: loop, configuration: runnerConfiguration)
                created.set(nil)
            } catch {
                created.set("DNS resolver: \(error)")
            }
        }
        if let failure = created.wait() {
            thread.shutdown()
            caBundle.remove()
            throw DeliveryClientError(description: failure)
        }
        logger.info(
            "delivery client started",
            metadata: [
                "delivery.dns": "\(configuration.dnsServer ?? "resolv.conf")",
                "delivery.private_targets": "\(configuration.policy.allowAll)",
                "delivery.max_in_flight": "\(runnerConfiguration.maxInFlight)",
            ]
        )
    }

    deinit { shutdown() }

    /// Runs `request` on the delivery thread and returns its response (a failure is a response
    /// with `failure` set, never a throw).
    func perform(_ request: CurlTransferRequest) async -> CurlTransferResponse {
        if Task.isCancelled { return .failed(CurlTransferFailure(.cancelled, "the delivery was cancelled")) }
        let id = nextID.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CurlTransferResponse, Never>) in
                let submitted = thread.execute { [runner] _ in
                    guard let live = runner.value else {
                        continuation.resume(returning: .failed(Self.shutDown))
                        return
                    }
                    live.start(request, id: id) { response in continuation.resume(returning: response) }
                }
                if !submitted { continuation.resume(returning: .failed(Self.shutDown)) }
            }
        } onCancel: {
            thread.execute { [runner] _ in runner.value?.cancel(id: id) }
        }
    }

    /// Ends every transfer still waiting or running (`shutdown`), stops the thread and removes the
    /// temporary CA bundle. Idempotent.
    func shutdown() {
        thread.execute { [runner] _ in
            runner.value?.close()
            runner.value = nil
        }
        thread.shutdown()
        caBundle.remove()
    }

    private static let shutDown = CurlTransferFailure(.shutdown, "the delivery client is shut down")
}

/// The delivery client could not start.
struct DeliveryClientError: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// The runner's creation result, handed from the loop thread to the starting thread.
private final class StartupResult: Sendable {
    private let state = Mutex<(done: Bool, failure: String?)>((false, nil))
    private let signal = DispatchSemaphore(value: 0)

    func set(_ failure: String?) {
        state.withLock { $0 = (true, failure) }
        signal.signal()
    }

    func wait() -> String? {
        signal.wait()
        return state.withLock { $0.failure }
    }
}
