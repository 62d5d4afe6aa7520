import Foundation
import NIOSSL

/// The farm's HTTPS listener: its port and the certificate and key it presents (PEM files).
///
/// Made once per farm. `selfSigned` writes an ECDSA P-256 certificate for every farm address and
/// `*.bench.test` with Debian's `openssl` command; the certificate is its own trust anchor, so
/// the engine is given it with `--ca-file`. Sessions resume (NIOSSL's server session cache and
/// tickets are on by default), which is what `tlsSessionReuse` scenarios measure.
struct FarmTLS: Sendable, Equatable {
    /// HTTPS port on every farm address; 0 picks a free one (the same on every address).
    var httpsPort: Int
    var certificatePath: String
    var keyPath: String

    /// Most addresses a generated certificate names (one IP entry each).
    static let maxCertificateAddresses = 256

    init(httpsPort: Int, certificatePath: String, keyPath: String) throws(FarmError) {
        guard (0...65535).contains(httpsPort) else { throw .invalidOption("--https-port must be 0...65535") }
        self.httpsPort = httpsPort
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// Writes `farm-cert.pem` and `farm-key.pem` into `directory` for `addresses`.
    static func selfSigned(in directory: String, addresses: [String], httpsPort: Int) throws(FarmError) -> FarmTLS {
        guard addresses.count <= maxCertificateAddresses else {
            throw .invalidOption(
                "an HTTPS farm generates a certificate for at most \(maxCertificateAddresses) addresses, got \(addresses.count): lower --addresses or give --tls-cert and --tls-key"
            )
        }
        let certificate = directory + "/farm-cert.pem"
        let key = directory + "/farm-key.pem"
        let names = (["DNS:*.bench.test", "DNS:localhost"] + addresses.map { "IP:\($0)" }).joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=lookout bench farm", "-addext", "subjectAltName=\(names)",
            "-keyout", key, "-out", certificate,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .tls(
                "cannot run openssl to make the farm's certificate (install it: apt-get install openssl): \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .tls("openssl could not make the farm's certificate (exit status \(process.terminationStatus))")
        }
        return try FarmTLS(httpsPort: httpsPort, certificatePath: certificate, keyPath: key)
    }

    /// The server context every HTTPS connection of the farm uses.
    func makeContext() throws(FarmError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(key))
            configuration.applicationProtocols = ["http/1.1"]
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tls("cannot load the farm's certificate \(certificatePath) and key \(keyPath): \(error)")
        }
    }
}
