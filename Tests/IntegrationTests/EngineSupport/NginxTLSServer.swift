import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's nginx on loopback with three HTTPS servers made for TLS tests: a certificate signed by
/// a test CA (`validPort`), an expired one signed by the same CA (`expiredPort`) and a self-signed
/// one (`selfSignedPort`); and three for transport tests: HTTPS with HTTP/2 by ALPN
/// (`http2Port`, valid certificate), cleartext HTTP/2 (`cleartextHTTP2Port`, prior knowledge
/// only) and plain HTTP/1.1 (`plainPort`). Every server answers `/` with its protocol
/// (`secure ok HTTP/2.0`), serves `/files/` (see `writeFiles`) and compresses what it serves when
/// asked (gzip). TLS sessions resume (session cache and tickets). For `tls` checks: one valid
/// certificate expiring in 3 days (`soonExpiringPort`) and one for another name
/// (`wrongNamePort`). Certificates are generated
/// fresh per server by `Fixtures/make_test_certs.py`. nginx runs in the foreground as a child and
/// is stopped by PID.
final class NginxTLSServer {
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    let directory: URL
    let validPort: Int
    let expiredPort: Int
    let selfSignedPort: Int
    let http2Port: Int
    let cleartextHTTP2Port: Int
    let plainPort: Int
    let soonExpiringPort: Int
    let wrongNamePort: Int
    private let process = Process()

    /// Size of `/files/zeros`: 8 MiB of zero bytes (a few KiB gzipped: a compression bomb for
    /// any cap below it).
    static let zerosBytes = 8 << 20
    /// `/files/text`: 64 KiB of text ending in this word.
    static let textEndWord = "END-OF-TEXT"

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
        try Self.writeFiles(into: directory.appendingPathComponent("files"))
        let ports = try (0..<8).map { _ in try freeLoopbackPort() }
        validPort = ports[0]
        expiredPort = ports[1]
        selfSignedPort = ports[2]
        http2Port = ports[3]
        cleartextHTTP2Port = ports[4]
        plainPort = ports[5]
        soonExpiringPort = ports[6]
        wrongNamePort = ports[7]
        let locations = """
                location = / { return 200 "secure ok $server_protocol\\n"; }
                location /files/ { alias \(directory.path)/files/; }
            """
        func server(_ port: Int, _ name: String, http2: Bool = false) -> String {
            """
              server {
                listen 127.0.0.1:\(port) ssl\(http2 ? " http2" : "");
                ssl_certificate \(directory.path)/\(name).pem;
                ssl_certificate_key \(directory.path)/\(name).key;
                ssl_session_cache shared:lookout:1m;
            \(locations)
              }
            """
        }
        func cleartext(_ port: Int, http2: Bool) -> String {
            """
              server {
                listen 127.0.0.1:\(port)\(http2 ? " http2" : "");
            \(locations)
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
              default_type text/plain;
              gzip on;
              gzip_min_length 1;
              gzip_types text/plain application/octet-stream;
            \(server(validPort, "valid"))
            \(server(expiredPort, "expired"))
            \(server(selfSignedPort, "selfsigned"))
            \(server(http2Port, "valid", http2: true))
            \(cleartext(cleartextHTTP2Port, http2: true))
            \(cleartext(plainPort, http2: false))
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

    /// `zeros` (`zerosBytes` zero bytes) and `text` (64 KiB of text ending in `textEndWord`).
    private static func writeFiles(into folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(count: zerosBytes).write(to: folder.appendingPathComponent("zeros"))
        let line = "lookout transport test line, compressible and repeated\n"
        var text = String(repeating: line, count: (64 << 10) / line.utf8.count)
        text += textEndWord + "\n"
        try Data(text.utf8).write(to: folder.appendingPathComponent("text"))
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
