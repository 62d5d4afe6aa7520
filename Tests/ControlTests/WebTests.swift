import Foundation
import HTTPTypes
import LookoutCore
import Testing

@testable import LookoutControl

/// The dashboard's page and files, and the server-rendered public status pages: served from the
/// build's resources with ETags, nothing inline (the CSP forbids it), nothing from elsewhere,
/// every module import resolvable, and a status page that shows what the public JSON shows and
/// nothing private.
@Suite(
    "Web pages: the dashboard, its files and the public status pages (real PostgreSQL and Redis)",
    .enabled(if: ControlHarness.enabled, ControlHarness.skipReason)
)
struct WebTests {
    static let assets = WebAssets.bundled()

    @Test("GET / is the dashboard: HTML from the templates, no inline script or style, revalidated by ETag")
    func dashboardPage() async throws {
        try await ControlHarness.withApplication { api in
            let response = try await api.request(.get, "/")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.cacheControl] == "no-cache")
            #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = response.text
            let version = Self.assets.version
            #expect(html.contains(#"<script type="module" src="/static/\#(version)/app.js"></script>"#))
            #expect(html.contains(##"<a class="skip-link" href="#main">"##))
            // Every view's template was rendered in (partials).
            for view in ["signin", "signup", "monitors", "monitor-row", "monitor-detail", "monitor-form", "channels"]
                + ["maintenance", "status-pages", "status-page-form"]
            {
                #expect(html.contains(#"<template id="tpl-\#(view)">"#), "no template \(view)")
            }
            #expect(!html.contains("{{"), "an unrendered mustache tag")
            Self.expectNothingInline(html)

            let tag = try #require(response.headers[.eTag])
            let again = try await api.request(.get, "/", headers: [.ifNoneMatch: tag])
            #expect(again.status == .notModified)
            #expect(again.body.isEmpty)
        }
    }

    @Test("every file the pages name is served with its type and an immutable cache; 304; old versions revalidate")
    func staticFiles() async throws {
        let assets = Self.assets
        #expect(!assets.files.isEmpty)
        try await ControlHarness.withApplication { api in
            let page = try await api.request(.get, "/")
            let named = Self.localReferences(page.text)
            #expect(named.count >= 8, "\(named)")
            for path in named {
                let response = try await api.request(.get, path)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.cacheControl] == WebController.assetCacheControl, "\(path)")
                let name = String(path.split(separator: "/").last ?? "")
                #expect(response.headers[.contentType] == WebAssets.contentType(of: name), "\(path)")
                let tag = try #require(response.headers[.eTag])
                let revalidated = try await api.request(.get, path, headers: [.ifNoneMatch: tag])
                #expect(revalidated.status == .notModified, "\(path)")
            }
            let old = try await api.request(.get, "/static/0123456789abcdef/app.js")
            #expect(old.status == .ok)
            #expect(old.headers[.cacheControl] == "no-cache")
            let missing = try await api.request(.get, "/static/\(assets.version)/nope.js")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
        }
    }

    @Test("the JavaScript modules import only files that exist, and nothing loads from another origin")
    func modulesResolve() throws {
        let assets = Self.assets
        let imports = try Regex(#"(?:from\s+|import\s*\(\s*)'\./([A-Za-z0-9_.-]+)'"#)
        for (name, file) in assets.files where name.hasSuffix(".js") {
            let source = String(buffer: file.bytes)
            for match in source.matches(of: imports) {
                let target = String(match.output[1].substring ?? "")
                #expect(assets.files[target] != nil, "\(name) imports \(target), which is not served")
            }
            #expect(!source.contains("import 'http") && !source.contains("from 'http"), "\(name)")
            #expect(!source.contains("eval("), "\(name)")
        }
        for (name, file) in assets.files where name.hasSuffix(".css") {
            let source = String(buffer: file.bytes)
            #expect(
                !source.contains("@import") && !source.contains("url(http") && !source.contains("url(//"), "\(name)")
        }
    }

    @Test("the monitor form has a kind picker, and each kind's fields are the ones the monitor model gives that kind")
    func monitorFormKinds() async throws {
        try await ControlHarness.withApplication { api in
            let html = try await api.request(.get, "/").text
            let form = try #require(Self.section(of: html, template: "monitor-form"))
            let controls = Self.namedControls(form)
            let kinds = controls.filter { $0.name == "type" }.map(\.value)
            #expect(kinds == MonitorKind.allCases.map(\.rawValue), "the picker offers every kind: \(kinds)")

            // The API's field name for a monitors-file key (a dns monitor's queried name is dnsName).
            func apiName(_ key: String) -> String { key == "name" ? "dnsName" : key }
            let shared: Set<String> = [
                "name", "intervalSeconds", "timeoutMs", "connectTimeoutMs", "failureThreshold", "recoveryThreshold",
                "paused", "type",
            ]
            for control in controls where control.name != "type" {
                guard let shownFor = control.kinds else {
                    #expect(shared.contains(control.name), "\(control.name) shows for every kind but is not shared")
                    continue
                }
                // Shown for exactly the kinds whose model has the field.
                let owners = MonitorKind.allCases.filter { kind in
                    Monitor.kindKeys(kind).map(apiName).contains(control.name)
                }.map(\.rawValue)
                #expect(
                    shownFor.sorted() == owners.sorted(), "\(control.name) shows for \(shownFor), belongs to \(owners)")
            }
            // Every kind can be created from the form: its required fields are there.
            let names = Set(controls.map(\.name))
            for required in ["url", "host", "port", "dnsName", "recordType", "certMinDaysLeft", "send", "expect"]
                + [
                    "server", "expectedValues", "httpVersion", "acceptEncoding", "tlsSessionReuse",
                    "tlsFullHandshakeSeconds",
                ]
            {
                #expect(names.contains(required), "the form has no \(required)")
            }
            // The record types offered are the model's.
            let recordTypes = try Regex(
                #"<select id="mf-record-type" name="recordType">\s*((?:<option>[A-Z]+</option>)+)"#)
            let options = try #require(form.firstMatch(of: recordTypes)).output[1].substring ?? ""
            #expect(
                options.split(separator: "</option>").map { $0.replacingOccurrences(of: "<option>", with: "") }
                    == DNSRecordType.allCases.map(\.rawValue))
        }
    }

    @Test("the requests the monitor form sends for each kind: create, edit, another kind, a bad port")
    func monitorFormRequests() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            // As the form sends a new monitor: every kind's fields, empty ones left out.
            let common: [String: Any] = [
                "intervalSeconds": 30, "timeoutMs": 5000, "failureThreshold": 2, "recoveryThreshold": 1,
                "notificationChannelIds": [Int](), "paused": false,
            ]
            let tcp = try await api.request(
                .post, "/api/v1/monitors", token: token,
                json: common.merging([
                    "type": "tcp", "host": "127.0.0.1", "port": 6379, "send": "PING\r\n", "expect": "+PONG",
                ]) {
                    $1
                })
            try #require(tcp.status == .created, "\(tcp.text)")
            let id = try #require(tcp.object.int64("id"))
            #expect(tcp.object["name"] as? String == "tcp://127.0.0.1:6379")
            #expect(tcp.object["send"] as? String == "PING\r\n")

            // Editing the same kind: a PATCH with every field of the kind, null for an emptied one.
            let patched = try await api.request(
                .patch, "/api/v1/monitors/\(id)", token: token,
                json: common.merging([
                    "type": "tcp", "name": "tcp://127.0.0.1:6380", "host": "127.0.0.1", "port": 6380, "send": NSNull(),
                    "expect": NSNull(), "connectTimeoutMs": NSNull(),
                ]) { $1 })
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.object["url"] as? String == "tcp://127.0.0.1:6380")
            #expect(patched.object["send"] is NSNull && patched.object["expect"] is NSNull)

            // A port out of range: the error names `port`, which is the form's field.
            let badPort = try await api.request(
                .patch, "/api/v1/monitors/\(id)", token: token, json: ["type": "tcp", "port": 70000])
            #expect(badPort.status == .badRequest)
            #expect(badPort.errorField == "port", "\(badPort.text)")

            // Another kind: the form sends a PUT, so nothing of the old kind is left behind.
            let dns = try await api.request(
                .put, "/api/v1/monitors/\(id)", token: token,
                json: common.merging([
                    "type": "dns", "name": NSNull(), "dnsName": "example.com", "recordType": "MX",
                    "server": "127.0.0.1:5353", "expectedValues": ["10 mail.example.com"], "connectTimeoutMs": NSNull(),
                ]) { $1 })
            #expect(dns.status == .ok, "\(dns.text)")
            #expect(dns.object["url"] as? String == "dns://127.0.0.1:5353/example.com?type=MX")
            #expect(dns.object["host"] is NSNull && dns.object["port"] is NSNull)
            let http = try await api.request(
                .put, "/api/v1/monitors/\(id)", token: token,
                json: common.merging([
                    "type": "http", "name": "http://127.0.0.1:9/health", "url": "http://127.0.0.1:9/health",
                    "method": "GET", "expectedStatus": NSNull(), "followRedirects": true, "verifyTLS": true,
                    "httpVersion": "auto", "acceptEncoding": true, "tlsSessionReuse": false,
                    "tlsFullHandshakeSeconds": NSNull(), "headers": NSNull(), "body": NSNull(),
                ]) { $1 })
            #expect(http.status == .ok, "\(http.text)")
            #expect(http.object["httpVersion"] as? String == "auto")
            #expect(http.object["dnsName"] is NSNull && http.object["recordType"] is NSNull)
            #expect(http.object["name"] as? String == "http://127.0.0.1:9/health")
        }
    }

    @Test("GET /status/{slug}: the published page rendered on the server, as the public JSON, nothing private")
    func statusPage() async throws {
        try await ControlHarness.withApplication { api in
            let (token, _) = try await api.register()
            let named = try #require(
                try await api.createMonitor(token, ["name": "Public <API>", "url": "http://127.0.0.1:9/secret-path"])
                    .int64("id"))
            let unnamed = try #require(
                try await api.createMonitor(token, ["url": "http://127.0.0.1:9/internal-admin"]).int64("id"))
            try api.sql(
                "INSERT INTO monitor_states (monitor_id, state, changed_at) VALUES ($1::int8, 'UP', now()), ($2::int8, 'DOWN', now())",
                [String(named), String(unnamed)]
            )
            try api.insertMetric(
                monitorId: named, bucket: "day", start: rfc3339(Date().addingTimeInterval(-3 * 86_400)), count: 100,
                up: 97)
            _ = try api.insertIncident(
                monitorId: unnamed, startedAt: "now() - interval '1 hour'", message: "password=hunter2")
            _ = try api.insertIncident(
                monitorId: named, startedAt: "now() - interval '3 hours'", resolvedAt: "now() - interval '2 hours'")
            let created = try await api.request(
                .post, "/api/v1/status-pages", token: token,
                json: [
                    "title": "Acme & Co", "slug": "acme-web", "description": "Our <b>services</b>",
                    "monitorIds": [named, unnamed],
                ])
            let pageId = try #require(created.object.int64("id"))

            let response = try await api.request(.get, "/status/acme-web")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.cacheControl] == "public, max-age=30")
            let html = response.text
            Self.expectNothingInline(html)
            #expect(html.contains("<h1 id=\"page-title\">Acme &amp; Co</h1>"))
            #expect(html.contains("Our &lt;b&gt;services&lt;/b&gt;"), "the description is escaped")
            #expect(html.contains("Public &lt;API&gt;"))
            #expect(html.contains("Monitor 2"), "an unnamed monitor is not named by its URL")
            #expect(html.contains("Partial outage"))
            #expect(html.contains(#"class="service-status status-up">Operational"#))
            #expect(html.contains(#"class="service-status status-down">Down"#))
            #expect(html.components(separatedBy: "<rect ").count - 1 == 2 * PublicStatusPage.days)
            #expect(html.contains("day day-partial"), "97% shows as a partial day")
            #expect(html.contains("Ongoing since"))
            #expect(html.contains(" for 1 h 0 min"))
            #expect(html.contains("97.00% uptime"))
            for secret in ["127.0.0.1", "secret-path", "internal-admin", "hunter2", "CONNECT_FAILED", "503"] {
                #expect(!html.contains(secret), "the page shows \(secret)")
            }
            // Ids appear nowhere (small numbers are everywhere in SVG coordinates, so look for id carriers).
            #expect(!html.contains("data-id") && !html.contains("/monitors/") && !html.contains("monitorId"))

            // The same data as the public JSON: every monitor name and status.
            let json = try await api.request(.get, "/api/v1/public/status-pages/acme-web")
            for monitor in json.object["monitors"] as? [[String: Any]] ?? [] {
                let name = try #require(monitor["name"] as? String)
                #expect(
                    html.contains(
                        name.replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")))
            }

            let tag = try #require(response.headers[.eTag])
            #expect(tag == WebAssets.etag(of: response.body))
            let same = try await api.request(.get, "/status/acme-web", headers: [.ifNoneMatch: tag])
            #expect(same.status == .notModified)
            #expect(same.body.isEmpty)

            // Unpublished, unknown and malformed slugs: the 404 page.
            let hidden = try await api.request(
                .patch, "/api/v1/status-pages/\(pageId)", token: token, json: ["published": false])
            #expect(hidden.status == .ok)
            for path in ["/status/acme-web", "/status/nobody-here", "/status/Not_A_Slug"] {
                let missing = try await api.request(.get, path)
                #expect(missing.status == .notFound, "\(path)")
                #expect(missing.headers[.contentType] == "text/html; charset=utf-8")
                #expect(missing.text.contains("Status page not found"))
                #expect(!missing.text.contains("Acme"))
            }
        }
    }

    @Test("the status page's view: percentages never round up, bar levels, durations")
    func viewFormatting() {
        #expect(StatusPageView.percent(0.99996) == "99.99%")
        #expect(StatusPageView.percent(1) == "100.00%")
        #expect(StatusPageView.percent(0) == "0.00%")
        #expect(StatusPageView.level(nil) == "none")
        #expect(StatusPageView.level(0.9995) == "up")
        #expect(StatusPageView.level(0.96) == "partial")
        #expect(StatusPageView.level(0.5) == "down")
        #expect(StatusPageView.duration(42) == "42 s")
        #expect(StatusPageView.duration(3_720) == "1 h 2 min")
        #expect(StatusPageView.duration(90_000) == "1 d 1 h")
        #expect(StatusPageView.display(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00 UTC")
        #expect(StatusPageView.iso(Date(timeIntervalSince1970: 61)) == "1970-01-01T00:01:01Z")
    }

    // MARK: helpers

    /// No inline script, style element or style attribute, no event-handler attribute, and no
    /// reference to another origin.
    static func expectNothingInline(_ html: String) {
        #expect(!html.contains("<style"), "an inline <style>")
        #expect(!html.contains(" style=\""), "an inline style attribute")
        #expect(!html.contains("<script>") && !html.contains("<script type=\"module\">"), "an inline script")
        #expect(html.range(of: #"\son[a-z]+=""#, options: .regularExpression) == nil, "an event-handler attribute")
        #expect(html.range(of: #"(src|href)="(https?:)?//"#, options: .regularExpression) == nil, "another origin")
    }

    /// The HTML of `<template id="tpl-NAME">` in a page.
    static func section(of html: String, template name: String) -> String? {
        guard let start = html.range(of: #"<template id="tpl-\#(name)">"#),
            let end = html.range(of: "</template>", range: start.upperBound..<html.endIndex)
        else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    /// A named form control of a template: its name, its value, and the kinds of the innermost
    /// element around it that says `data-kind` (nil: shown for every kind).
    struct NamedControl {
        var name: String
        var value: String
        var kinds: [String]?
    }

    /// The form controls of `html` in order, with the `data-kind` they sit in (a tag stack: the
    /// templates are well-formed, and input is the only void element among them with a name).
    static func namedControls(_ html: String) -> [NamedControl] {
        let tag = try! Regex(#"<(/?)([a-zA-Z0-9]+)([^>]*)>"#)
        let voidElements: Set<String> = ["input", "br", "img", "meta", "link", "hr", "circle", "path"]
        func attribute(_ name: String, _ attributes: Substring) -> String? {
            let pattern = try! Regex(#"(?:^|\s)\#(name)="([^"]*)""#)
            return attributes.firstMatch(of: pattern).flatMap { $0.output[1].substring.map(String.init) }
        }
        var stack: [(tag: String, kinds: [String]?)] = []
        var controls: [NamedControl] = []
        for match in html.matches(of: tag) {
            let closing = match.output[1].substring == "/"
            let name = String(match.output[2].substring ?? "").lowercased()
            let attributes = match.output[3].substring ?? ""
            if closing {
                if let index = stack.lastIndex(where: { $0.tag == name }) { stack.removeSubrange(index...) }
                continue
            }
            if ["input", "select", "textarea"].contains(name), let controlName = attribute("name", attributes) {
                let kinds = stack.last(where: { $0.kinds != nil })?.kinds
                controls.append(
                    NamedControl(name: controlName, value: attribute("value", attributes) ?? "", kinds: kinds))
            }
            if !voidElements.contains(name) && !attributes.hasSuffix("/") {
                stack.append(
                    (name, attribute("data-kind", attributes).map { $0.split(separator: " ").map(String.init) }))
            }
        }
        return controls
    }

    /// The `/static/...` URLs a page names in `src` and `href`.
    static func localReferences(_ html: String) -> [String] {
        let pattern = try! Regex(#"(?:src|href)="(/static/[^"]+)""#)
        return Array(Set(html.matches(of: pattern).compactMap { $0.output[1].substring.map(String.init) })).sorted()
    }
}
