import Foundation

/// The CA bundle deliveries verify TLS against. Without `--ca-file`: none of our own (curl's
/// default, the system bundle, parsed once and cached because the CA path is cleared). With it:
/// the system bundle plus the operator's CAs in one private temporary file, removed at shutdown,
/// since curl's CAINFO replaces the default store rather than adding to it.
struct DeliveryCABundle: Sendable {
    /// Debian's system bundle (package ca-certificates).
    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

    /// The file to give curl, nil for curl's default.
    let path: String?
    private let isTemporary: Bool

    init(extraFile: String?) throws(DeliveryClientError) {
        guard let extraFile else {
            path = nil
            isTemporary = false
            return
        }
        guard let extra = FileManager.default.contents(atPath: extraFile) else {
            throw DeliveryClientError(description: "--ca-file \(extraFile): cannot read the file")
        }
        guard String(decoding: extra, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            throw DeliveryClientError(
                description: "--ca-file \(extraFile): no PEM certificate (-----BEGIN CERTIFICATE-----) in it"
            )
        }
        var combined = Data()
        if let system = FileManager.default.contents(atPath: Self.systemBundle) {
            combined.append(system)
            combined.append(0x0A)
        }
        combined.append(extra)
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("lookout-deliver-ca-\(UUID().uuidString).pem")
        guard
            FileManager.default.createFile(
                atPath: file.path,
                contents: combined,
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw DeliveryClientError(description: "--ca-file \(extraFile): cannot write a temporary bundle")
        }
        path = file.path
        isTemporary = true
    }

    /// Deletes the temporary bundle (nothing otherwise). Safe to call more than once.
    func remove() {
        if isTemporary, let path { try? FileManager.default.removeItem(atPath: path) }
    }
}
