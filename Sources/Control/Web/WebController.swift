import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The web pages `lookout-control` serves next to its API (outside `/api/v1`, so not in the
/// OpenAPI document; `OpenAPITests` leaves out exactly `WebController.routes`):
///
/// - `GET /`: the dashboard, a page rendered once from `dashboard.mustache` whose ES modules
///   (`Resources/Web/static`) call the REST API with the signed-in user's token;
/// - `GET /static/{version}/{file}`: those CSS and JavaScript files;
/// - `GET /status/{slug}`: a published status page, rendered on the server from the same data as
///   `GET /api/v1/public/status-pages/{slug}` (readable without JavaScript; with it, it refreshes
///   itself from that JSON), and a 404 page for unknown or unpublished slugs.
///
/// Every answer carries a strong `ETag` and `Cache-Control`; a matching `If-None-Match` answers
/// 304 without a body. The pages load nothing from another origin and have no inline script or
/// style (the Content-Security-Policy of `SecurityHeadersMiddleware` forbids both).
struct WebController: Sendable {
    let assets: WebAssets
    let templates: WebTemplates
    let pages: StatusPageRepository
    let logger: Logger
    /// The dashboard page: the same for everyone, so rendered once.
    let dashboard: [UInt8]
    let dashboardTag: String

    /// The routes this controller adds (method and path as the router spells them).
    static let routes = ["GET /", "GET /static/{version}/{file}", "GET /status/{slug}"]

    /// The dashboard page revalidates on every load (cheap: a 304), so a new build shows at once.
    static let pageCacheControl = "no-cache"
    /// Asset URLs name their version, so a file of the current version never changes.
    static let assetCacheControl = "public, max-age=31536000, immutable"
    /// A status page may be kept by browsers and proxies for 30 s, as its JSON.
    static let statusCacheControl = StatusPageController.publicCacheControl

    init(assets: WebAssets, templates: WebTemplates, pages: StatusPageRepository, logger: Logger) {
        self.assets = assets
        self.templates = templates
        self.pages = pages
        self.logger = logger
        dashboard = Array(templates.render(DashboardView(version: assets.version), "dashboard").utf8)
        dashboardTag = WebAssets.etag(of: dashboard)
    }

    /// The files and templates of this build. A template that does not parse stops the start
    /// (it is part of the build, like the code); missing files are logged.
    static func bundled(pages: StatusPageRepository, logger: Logger) -> WebController {
        let assets = WebAssets.bundled()
        if assets.files.isEmpty { logger.error("this build carries no dashboard files (Resources/Web/static)") }
        let templates: WebTemplates
        do {
            templates = try WebTemplates.bundled()
        } catch {
            logger.error("web templates: \(error)")
            templates = WebTemplates(library: .init())
        }
        return WebController(assets: assets, templates: templates, pages: pages, logger: logger)
    }

    func addRoutes(to router: Router<ControlRequestContext>) {
        router.get("/", use: page)
        router.get("static/{version}/{file}", use: asset)
        router.get("status/{slug}", use: statusPage)
    }

    @Sendable func page(_ request: Request, context: ControlRequestContext) async throws -> Response {
        Self.respond(
            to: request, body: dashboard, etag: dashboardTag, contentType: "text/html; charset=utf-8",
            cacheControl: Self.pageCacheControl)
    }

    @Sendable func asset(_ request: Request, context: ControlRequestContext) async throws -> Response {
        guard let name = context.parameters.get("file"), let file = assets.files[name] else {
            throw APIError.notFound("file")
        }
        // A page of an earlier build may still ask for its version: it gets today's file, not cached.
        let current = context.parameters.get("version") == assets.version
        var headers: HTTPFields = [
            .cacheControl: current ? Self.assetCacheControl : Self.pageCacheControl, .eTag: file.etag,
        ]
        if let condition = request.headers[.ifNoneMatch], StatusPageController.matches(condition, file.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = file.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.bytes))
    }

    @Sendable func statusPage(_ request: Request, context: ControlRequestContext) async throws -> Response {
        guard let slug = context.parameters.get("slug"), StatusPageDraft.isValidSlug(slug),
            let page = try await pages.publicPage(slug: slug, now: Date())
        else {
            let body = Array(templates.render(DashboardView(version: assets.version), "not-found").utf8)
            var response = Self.respond(
                to: request, body: body, etag: WebAssets.etag(of: body), contentType: "text/html; charset=utf-8",
                cacheControl: Self.pageCacheControl)
            if response.status == .ok { response.status = .notFound }
            return response
        }
        let view = StatusPageView(page: page, slug: slug, version: assets.version)
        let body = Array(templates.render(view, "status").utf8)
        return Self.respond(
            to: request, body: body, etag: WebAssets.etag(of: body), contentType: "text/html; charset=utf-8",
            cacheControl: Self.statusCacheControl)
    }

    /// 200 with `body`, or 304 when `If-None-Match` names `etag`.
    static func respond(
        to request: Request, body: [UInt8], etag: String, contentType: String, cacheControl: String
    ) -> Response {
        var headers: HTTPFields = [.cacheControl: cacheControl, .eTag: etag]
        if let condition = request.headers[.ifNoneMatch], StatusPageController.matches(condition, etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// What the dashboard and 404 templates need: the asset version of their URLs.
struct DashboardView: Sendable {
    var version: String
}
