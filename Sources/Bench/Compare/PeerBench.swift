import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs every peer of `lookout-bench compare` against one loopback nginx and collects a row per
/// tool and protocol. Owns nginx, the farm (for the engine's DNS server), the exporter and
/// every child it starts; `close()` stops them all.
final class PeerBench {
    let seconds: Double
    let concurrency: Int
    let enginePath: String?
    let yardstickSource: String?
    let shutdown: ShutdownSignal
    private let files: RunFiles
    private var nginx: ChildProcess?
    private var farm: Farm?
    private var httpPort = 0
    private var httpsPort = 0
    private var certificate: String { files.directory + "/cert.pem" }

    static let checkHTTPPaths = ["/usr/lib/nagios/plugins/check_http", "/usr/lib/monitoring-plugins/check_http"]

    init(
        seconds: Double, concurrency: Int, enginePath: String?, yardstickSource: String?, shutdown: ShutdownSignal
    ) throws(CapacityError) {
        self.seconds = seconds
        self.concurrency = concurrency
        self.enginePath = enginePath
        self.yardstickSource = yardstickSource
        self.shutdown = shutdown
        do { files = try RunFiles(keepIn: nil) } catch { throw .run(error) }
    }

    func close() {
        nginx?.terminate()
        farm?.stop()
        files.cleanUp()
    }

    private func log(_ text: String) { StandardStreams.error("lookout-bench compare: \(text)") }

    func run() throws(CapacityError) -> [CompareRow] {
        try startNginx()
        do {
            farm = try Farm.start(try FarmConfiguration(addressCount: 1, httpPort: 0, dnsPort: 0, threads: 1))
        } catch {
            throw .run(.farm(error))
        }
        let yardstick = buildYardstick()
        var rows: [CompareRow] = []
        for scheme in ["http", "https"] {
            let port = scheme == "http" ? httpPort : httpsPort
            let url = "\(scheme)://127.0.0.1:\(port)/"
            var protocolRows: [CompareRow] = []
            func add(_ tool: String, _ outcome: Result<PeerMeasurement, PeerFailure>, note: String? = nil) {
                switch outcome {
                case .success(let measurement):
                    protocolRows.append(
                        CompareRow(
                            tool: tool, protocol: scheme,
                            checksPerSecond: (measurement.checksPerSecond * 10).rounded() / 10,
                            cpuMicrosPerCheck: (measurement.cpuMicrosPerCheck * 10).rounded() / 10,
                            ratioToYardstick: nil,
                            note: measurement.failed > 0
                                ? "\(measurement.failed) failed" + (note.map { "; " + $0 } ?? "") : note))
                case .failure(let failure):
                    protocolRows.append(
                        CompareRow(
                            tool: tool, protocol: scheme, checksPerSecond: nil, cpuMicrosPerCheck: nil,
                            ratioToYardstick: nil,
                            note: failure.description))
                }
                log(
                    "\(scheme) \(tool): \(protocolRows.last!.checksPerSecond.map { PlanFormat.number($0, 0) + " checks/s" } ?? protocolRows.last!.note ?? "")"
                )
            }
            switch yardstick {
            case .success(let binary): add("C yardstick (1 loop)", try runYardstick(binary, url: url))
            case .failure(let failure): add("C yardstick (1 loop)", .failure(failure))
            }
            add("wrk (Connection: close)", try runWrk(url: url, extraArguments: ["-H", "Connection: close"]))
            add("ab", try runAB(url: url))
            add("blackbox_exporter /probe", try runBlackbox(url: url), note: "exporter CPU only")
            add(
                "check_http (fork per check)", try runCheckHTTP(scheme: scheme, port: port),
                note: "CPU of the forked checks")
            add("lookout-engine --loops 1", try runEngine(url: url, loops: 1))
            add("lookout-engine (all loops)", try runEngine(url: url, loops: nil))
            let reference = protocolRows.first?.checksPerSecond
            for index in protocolRows.indices {
                if let reference, reference > 0, let rate = protocolRows[index].checksPerSecond {
                    protocolRows[index].ratioToYardstick = (rate / reference * 100).rounded() / 100
                }
            }
            rows += protocolRows
        }
        return rows
    }

    // MARK: - Target

    private func startNginx() throws(CapacityError) {
        guard let nginxPath = Executables.find("nginx") else {
            throw .report(
                "nginx is not installed (Debian: nginx-light, `scripts/setup`): it is the target every tool checks")
        }
        guard let openssl = Executables.find("openssl") else {
            throw .report("openssl is not installed (`scripts/setup`): it makes the HTTPS target's certificate")
        }
        let dir = files.directory
        let keygen = try runToEnd(
            openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir + "/key.pem",
                "-out", certificate,
            ], name: "openssl")
        guard keygen.exit.succeeded else { throw .report("openssl could not make a certificate: \(keygen.stderr)") }
        guard let http = Loopback.freePort(), let https = Loopback.freePort(), http != https else {
            throw .report("no free loopback port for nginx")
        }
        httpPort = http
        httpsPort = https
        try? FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        let configuration = """
            daemon off;
            worker_processes auto;
            pid \(dir)/nginx.pid;
            error_log \(dir)/logs/error.log;
            events { worker_connections 8192; }
            http {
              access_log off;
              client_body_temp_path \(dir)/body;
              proxy_temp_path \(dir)/proxy;
              fastcgi_temp_path \(dir)/fastcgi;
              uwsgi_temp_path \(dir)/uwsgi;
              scgi_temp_path \(dir)/scgi;
              server { listen 127.0.0.1:\(http) backlog=4096; location / { return 200 "ok\\n"; } }
              server {
                listen 127.0.0.1:\(https) ssl backlog=4096;
                ssl_certificate \(certificate);
                ssl_certificate_key \(dir)/key.pem;
                location / { return 200 "ok\\n"; }
              }
            }
            """
        guard FileManager.default.createFile(atPath: dir + "/nginx.conf", contents: Data(configuration.utf8)) else {
            throw .report("cannot write nginx.conf in \(dir)")
        }
        do {
            nginx = try ChildProcess(
                executable: nginxPath,
                arguments: ["-c", dir + "/nginx.conf", "-p", dir, "-e", dir + "/logs/error.log"],
                stdoutPath: dir + "/nginx.out", stderrPath: dir + "/nginx.err")
        } catch {
            throw .run(error)
        }
        guard Loopback.waitUntilListening(port: http, timeout: 10),
            Loopback.waitUntilListening(port: https, timeout: 10)
        else {
            throw .report("nginx did not listen within 10 s:\n" + ThroughputDriver.tail(of: dir + "/logs/error.log"))
        }
        log("nginx on 127.0.0.1:\(http) (http) and :\(https) (https)")
    }

    // MARK: - Peers

    /// Why a peer has no figure.
    enum PeerFailure: Error, CustomStringConvertible {
        case missing(String)
        case failed(String)

        var description: String {
            switch self {
            case .missing(let what): return "missing: \(what)"
            case .failed(let why): return "failed: \(why)"
            }
        }
    }

    private func buildYardstick() -> Result<String, PeerFailure> {
        guard let compiler = Executables.find("cc") ?? Executables.find("gcc") else {
            return .failure(.missing("no C compiler (cc): scripts/setup --bench"))
        }
        guard let source = locateYardstickSource() else {
            return .failure(
                .missing("scripts/bench/reference-engine.c not found: run from the checkout or pass --yardstick-source")
            )
        }
        let output = files.directory + "/yardstick"
        guard let build = try? runToEnd(compiler, ["-O2", "-o", output, source, "-lev", "-lcurl"], name: "cc"),
            build.exit.succeeded
        else {
            return .failure(.failed("cc could not build \(source) (libev-dev and libcurl4-openssl-dev needed)"))
        }
        return .success(output)
    }

    private func locateYardstickSource() -> String? {
        if let yardstickSource {
            return FileManager.default.fileExists(atPath: yardstickSource) ? yardstickSource : nil
        }
        let relative = "scripts/bench/reference-engine.c"
        var candidates = [FileManager.default.currentDirectoryPath]
        // .build/<configuration>/lookout-bench → the checkout is three levels up (through symlinks).
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
            for _ in 0..<5 {
                url.deleteLastPathComponent()
                candidates.append(url.path)
            }
        }
        return candidates.map { $0 + "/" + relative }.first { FileManager.default.fileExists(atPath: $0) }
    }

    private func runYardstick(
        _ binary: String, url: String
    ) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        var arguments = [url, ThroughputReport.number(seconds), String(concurrency)]
        if url.hasPrefix("https") { arguments.append(certificate) }
        let run = try runToEnd(binary, arguments, name: "yardstick")
        guard run.exit.succeeded, let parsed = PeerOutput.yardstick(run.stdout) else {
            return .failure(.failed("yardstick \(run.exit): \(run.stderr.prefix(200))"))
        }
        let checks = Int((parsed.rate * seconds).rounded())
        return .success(
            PeerMeasurement(
                checks: checks, seconds: seconds, cpuSeconds: parsed.cpuMicros * Double(checks) / 1e6,
                failed: parsed.failed))
    }

    private func runWrk(
        url: String, extraArguments: [String]
    ) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        guard let wrk = Executables.find("wrk") else { return .failure(.missing("wrk: scripts/setup --bench")) }
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let arguments = [
            "-t", String(threads), "-c", String(max(concurrency, threads)), "-d",
            "\(Int(seconds.rounded(.up)))s",
        ]
        return try runLoadGenerator("wrk", wrk, arguments + extraArguments + [url], parse: PeerOutput.wrk)
    }

    private func runAB(url: String) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        guard let ab = Executables.find("ab") else {
            return .failure(.missing("ab (apache2-utils): scripts/setup --bench"))
        }
        // -t caps the run; -n after it lifts ab's default cap of 50,000 requests.
        let arguments = ["-q", "-c", String(concurrency), "-t", ThroughputReport.number(seconds), "-n", "100000000"]
        return try runLoadGenerator("ab", ab, arguments + [url], parse: PeerOutput.ab)
    }

    /// wrk and ab: their own count of requests and time, their rusage for the CPU.
    private func runLoadGenerator(
        _ name: String, _ executable: String, _ arguments: [String],
        parse: (String) -> (requests: Int, seconds: Double, failed: Int)?
    ) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        let run = try runToEnd(executable, arguments, name: name)
        guard run.exit.succeeded, let parsed = parse(run.stdout) else {
            return .failure(.failed("\(name) \(run.exit): \(run.stderr.prefix(200))"))
        }
        return .success(
            PeerMeasurement(
                checks: parsed.requests, seconds: parsed.seconds, cpuSeconds: run.exit.cpuSeconds, failed: parsed.failed
            ))
    }

    private func runBlackbox(url: String) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        guard let exporter = Executables.find("prometheus-blackbox-exporter") ?? Executables.find("blackbox_exporter")
        else {
            return .failure(.missing("prometheus-blackbox-exporter: scripts/setup --bench"))
        }
        guard Executables.find("wrk") != nil else {
            return .failure(.missing("wrk drives /probe: scripts/setup --bench"))
        }
        guard let port = Loopback.freePort() else { return .failure(.failed("no free port")) }
        let config = files.directory + "/blackbox.yml"
        let yaml = """
            modules:
              http_2xx:
                prober: http
                timeout: 10s
                http:
                  preferred_ip_protocol: ip4
                  tls_config:
                    ca_file: \(certificate)

            """
        guard FileManager.default.createFile(atPath: config, contents: Data(yaml.utf8)) else {
            return .failure(.failed("cannot write \(config)"))
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: exporter,
                arguments: ["--config.file=\(config)", "--web.listen-address=127.0.0.1:\(port)"],
                stdoutPath: files.directory + "/blackbox.out", stderrPath: files.directory + "/blackbox.err")
        } catch {
            throw .run(error)
        }
        defer { child.terminate() }
        guard Loopback.waitUntilListening(port: port, timeout: 15) else {
            return .failure(
                .failed(
                    "the exporter did not listen: "
                        + ThroughputDriver.tail(of: files.directory + "/blackbox.err", lines: 3)))
        }
        let probePath =
            "/probe?module=http_2xx&target=" + (url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? url)
        guard let answer = Loopback.get(port: port, path: probePath), answer.contains("probe_success 1") else {
            return .failure(.failed("a single /probe did not succeed"))
        }
        let before = ProcessCPU.seconds(pid: child.pid) ?? 0
        let load = try runWrk(url: "http://127.0.0.1:\(port)" + probePath, extraArguments: [])
        let after = ProcessCPU.seconds(pid: child.pid) ?? before
        return load.map { measurement in
            var exporterOnly = measurement
            exporterOnly.cpuSeconds = after - before
            return exporterOnly
        }
    }

    private func runCheckHTTP(scheme: String, port: Int) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        guard let plugin = Self.checkHTTPPaths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return .failure(.missing("check_http (monitoring-plugins-basic): scripts/setup --bench"))
        }
        var arguments = ["-H", "127.0.0.1", "-I", "127.0.0.1", "-p", String(port), "-u", "/", "-t", "10"]
        if scheme == "https" { arguments.append("--ssl") }
        // Forks in flight: a few per core (each check is a process; more only queues in the kernel).
        let parallel = 4 * max(1, ProcessInfo.processInfo.activeProcessorCount)
        let started = ChildProcess.now()
        let end = started + seconds
        var running: [ChildProcess] = []
        var checks = 0
        var failed = 0
        var cpu = 0.0
        defer { for child in running { child.terminate() } }
        while ChildProcess.now() < end || !running.isEmpty {
            if let reason = shutdown.requestedReason { throw .interrupted(reason) }
            while ChildProcess.now() < end && running.count < parallel {
                do {
                    running.append(
                        try ChildProcess(
                            executable: plugin, arguments: arguments, stdoutPath: "/dev/null", stderrPath: "/dev/null"))
                } catch {
                    throw .run(error)
                }
            }
            var still: [ChildProcess] = []
            for child in running {
                if let exit = child.poll() {
                    checks += 1
                    if !exit.succeeded { failed += 1 }
                    cpu += exit.cpuSeconds
                } else {
                    still.append(child)
                }
            }
            running = still
            usleep(500)
        }
        return .success(
            PeerMeasurement(checks: checks, seconds: ChildProcess.now() - started, cpuSeconds: cpu, failed: failed))
    }

    private func runEngine(url: String, loops: Int?) throws(CapacityError) -> Result<PeerMeasurement, PeerFailure> {
        let engine: String
        do { engine = try ThroughputDriver.resolveEngine(enginePath) } catch {
            return .failure(.missing("lookout-engine: swift build -c release --product lookout-engine"))
        }
        let monitors = files.directory + "/compare-monitors.jsonl"
        var text = ""
        for index in 0..<2000 {
            text += "{\"id\":\"p\(index)\",\"url\":\"\(url)\",\"intervalSeconds\":0.1}\n"
        }
        guard FileManager.default.createFile(atPath: monitors, contents: Data(text.utf8)) else {
            return .failure(.failed("cannot write \(monitors)"))
        }
        let summary = files.directory + "/compare-summary.json"
        try? FileManager.default.removeItem(atPath: summary)
        var arguments = [
            "--monitors", monitors, "--duration", ThroughputReport.number(seconds), "--allow-private-targets",
            "--max-in-flight", String(concurrency), "--summary-json", summary,
            "--dns-server", "127.0.0.1:\(farm?.dnsPort ?? 0)",
            // One URL stands in for many hosts, as for the peers: no per-host politeness.
            "--max-per-host", "0",
        ]
        if let loops { arguments += ["--loops", String(loops)] }
        if url.hasPrefix("https") { arguments += ["--ca-file", certificate] }
        let run = try runToEnd(engine, arguments, name: "lookout-engine")
        guard run.exit.succeeded, let data = FileManager.default.contents(atPath: summary),
            case .object(let root)? = JSONValue(data: data), case .number(let checks)? = root["checks"],
            case .number(let elapsed)? = root["durationSeconds"], case .number(let cpu)? = root["cpuSeconds"],
            case .object(let statuses)? = root["byStatus"], case .number(let up)? = statuses["UP"]
        else {
            return .failure(.failed("lookout-engine \(run.exit): \(run.stderr.suffix(300))"))
        }
        return .success(
            PeerMeasurement(checks: Int(checks), seconds: elapsed, cpuSeconds: cpu, failed: Int(checks - up)))
    }

    // MARK: - Children

    /// Runs a program to its end (bounded: `seconds` + 60 s), with its output captured.
    private func runToEnd(
        _ executable: String, _ arguments: [String], name: String
    )
        throws(CapacityError) -> (exit: ChildExit, stdout: String, stderr: String)
    {
        if let reason = shutdown.requestedReason { throw .interrupted(reason) }
        let out = files.directory + "/\(name).out"
        let err = files.directory + "/\(name).err"
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: arguments, stdoutPath: out, stderrPath: err)
        } catch {
            throw .run(error)
        }
        let (exit, _) = child.wait(
            deadline: ChildProcess.now() + seconds + 60, shouldStop: { self.shutdown.isRequested })
        if let reason = shutdown.requestedReason { throw .interrupted(reason) }
        func read(_ path: String) -> String {
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return (exit, read(out), read(err))
    }
}
