import Crypto
import Foundation
import NIOCore

/// The dashboard's static files (`Resources/Web/static`: CSS, JavaScript modules, the icon), read
/// from the bundle once when the router is built and kept in memory, each with its content type
/// and a strong `ETag` (SHA-256 of its bytes).
///
/// `version`, a digest of every file, is part of every asset URL (`/static/<version>/app.js`), so
/// the files of one build can be cached for good (`immutable`) and a new build is fetched at once:
/// the ES modules import each other by relative URL and so stay within one version.
struct WebAssets: Sendable {
    /// One file, ready to send.
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
        var etag: String
    }

    /// By file name (`app.js`); the folder is flat.
    let files: [String: Asset]
    /// 16 hex digits naming this set of files.
    let version: String

    init(files: [String: [UInt8]]) {
        var assets: [String: Asset] = [:]
        var digest = SHA256()
        for name in files.keys.sorted() {
            let bytes = files[name] ?? []
            digest.update(data: Array(name.utf8) + [0])
            digest.update(data: bytes)
            assets[name] = Asset(
                bytes: ByteBuffer(bytes: bytes),
                contentType: Self.contentType(of: name),
                etag: Self.etag(of: bytes)
            )
        }
        self.files = assets
        self.version = Self.hex(digest.finalize().prefix(8))
    }

    /// The files of `Resources/Web/static` in this build's bundle (none when the build carries
    /// none: every asset then answers 404 and the pages say so in the log, not silently).
    static func bundled() -> WebAssets {
        guard let directory = WebResources.directory?.appendingPathComponent("static") else {
            return WebAssets(files: [:])
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var files: [String: [UInt8]] = [:]
        for name in names where !name.hasPrefix(".") {
            if let data = try? Data(contentsOf: directory.appendingPathComponent(name)) { files[name] = Array(data) }
        }
        return WebAssets(files: files)
    }

    /// A strong entity tag: the first 16 bytes of the SHA-256 of `bytes`, quoted.
    static func etag(of bytes: some Sequence<UInt8>) -> String {
        "\"" + hex(SHA256.hash(data: Array(bytes)).prefix(16)) + "\""
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The `Content-Type` of a file by its extension.
    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "json": return "application/json"
        case "html": return "text/html; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}

/// Where the target's `Resources/Web` folder is in the built bundle.
enum WebResources {
    static var directory: URL? {
        Bundle.module.url(forResource: "Web", withExtension: nil)
    }
}
