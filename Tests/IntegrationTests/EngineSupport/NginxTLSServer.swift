import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's nginx on loopback with three HTTPS servers made for TLS tests: a certificate signed by
/// a test CA (`validPort`), an expired one signed by the same CA (`expiredPort`) and a self-signed
/// one (`selfSignedPort`), one expiring in 3 days (`soonExpiringPort`) and one for another name
/// (`wrongNamePort`). Certificates are generated fresh per server by
/// `Fixtures/make_test_certs.py`. nginx runs in the foreground as a child and is stopped by PID.
final class NginxTLSServer {
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    let directory: URL
    let validPort: Int
    let expiredPort: Int
    let selfSignedPort: Int
    let soonExpiringPort: Int
    let wrongNamePort: Int
    private let process = Process()

    /// The test CA to pass to the engine with `--ca-file`.
    var caFile: String { directory.appendingPathComponent("ca.pem").path }

    init() throws {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let nginx else { throw StartError(description: "nginx is not installed: run scripts/setup") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lookout-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/make_test_certs.py")
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["python3", script.path, directory.path]
        try generator.run()
        generator.waitUntilExit()
        guard generator.terminationStatus == 0 else {
            throw StartError(
                description: "make_test_certs.py failed (is python3-cryptography installed? run scripts/setup)")
        }
        let ports = try (0..<5).map { _ in try freeLoopbackPort() }
        validPort = ports[0]
        expiredPort = ports[1]
        selfSignedPort = ports[2]
        soonExpiringPort = ports[3]
        wrongNamePort = ports[4]
        func server(_ port: Int, _ name: String) -> String {
            """
              server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(directory.path)/\(name).pem;
                ssl_certificate_key \(directory.path)/\(name).key;
                location / { return 200 "secure ok\\n"; }
              }
            """
        }
        let configuration = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/logs/error.log;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path \(directory.path)/body;
              proxy_temp_path \(directory.path)/proxy;
              fastcgi_temp_path \(directory.path)/fastcgi;
              uwsgi_temp_path \(directory.path)/uwsgi;
              scgi_temp_path \(directory.path)/scgi;
            \(server(validPort, "valid"))
            \(server(expiredPort, "expired"))
            \(server(selfSignedPort, "selfsigned"))
            \(server(soonExpiringPort, "soon"))
            \(server(wrongNamePort, "wrongname"))
            }
            """
        let configPath = directory.appendingPathComponent("nginx.conf")
        try configuration.write(to: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = [
            "-c", configPath.path, "-p", directory.path, "-e", directory.appendingPathComponent("logs/error.log").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !ports.allSatisfy(isListening) {
            if !process.isRunning || Date() > deadline {
                stop()
                let log =
                    (try? String(contentsOf: directory.appendingPathComponent("logs/error.log"), encoding: .utf8)) ?? ""
                throw StartError(description: "nginx did not start: \(log.suffix(600))")
            }
            usleep(20_000)
        }
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
func freeLoopbackPort() throws -> Int {
    let (descriptor, port) = try listenOnLoopback(backlog: 1)
    close(descriptor)
    return port
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
