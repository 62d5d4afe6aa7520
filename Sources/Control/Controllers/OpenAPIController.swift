import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of this API, `Resources/openapi.json` as kept in
/// the repository, served without authentication. Read once when the router is built; answered
/// with `Cache-Control` and a strong `ETag` (SHA-256 of the document), and a matching
/// `If-None-Match` answers 304 without a body.
struct OpenAPIController: Sendable {
    /// The document's bytes; nil when the build carries no document (a packaging mistake,
    /// answered as a 500 that says so rather than an empty document).
    let document: [UInt8]?
    let etag: String

    /// How long browsers and proxies may keep the document before revalidating it.
    static let cacheControl = "public, max-age=300"

    init(document: [UInt8]? = OpenAPIController.bundledDocument()) {
        self.document = document
        let digest = SHA256.hash(data: document ?? [])
        self.etag = "\"" + digest.prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }

    /// `openapi.json` from the target's resources.
    static func bundledDocument() -> [UInt8]? {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return Array(data)
    }

    func addRoutes(to router: Router<ControlRequestContext>) {
        router.get("openapi.json", use: serve)
    }

    @Sendable func serve(_ request: Request, context: ControlRequestContext) async throws -> Response {
        guard let document else {
            throw APIError(.internalServerError, "internal_error", "this build carries no OpenAPI document")
        }
        var headers: HTTPFields = [.cacheControl: Self.cacheControl, .eTag: etag]
        if let condition = request.headers[.ifNoneMatch], StatusPageController.matches(condition, etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }
}
