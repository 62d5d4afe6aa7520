import Foundation
import Mustache

/// The mustache templates of `Resources/Web/templates`, parsed once when the router is built.
/// A template is named by its path below that folder without `.mustache` (`dashboard`,
/// `partials/signin`), which is also how a template names it as a partial (`{{> partials/signin}}`).
struct WebTemplates: Sendable {
    let library: MustacheLibrary

    /// A template that does not parse: a packaging or editing mistake, reported at start.
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    init(library: MustacheLibrary) {
        self.library = library
    }

    /// Every `.mustache` file below `directory`.
    init(directory: URL) throws {
        var library = MustacheLibrary()
        let root = directory.standardizedFileURL.path
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".mustache") else { continue }
            let text = try String(contentsOfFile: root + "/" + path, encoding: .utf8)
            do {
                try library.register(text, named: String(path.dropLast(".mustache".count)))
            } catch {
                throw LoadError(description: "template \(path) does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// The templates of this build's bundle.
    static func bundled() throws -> WebTemplates {
        guard let directory = WebResources.directory?.appendingPathComponent("templates") else {
            throw LoadError(description: "this build carries no web templates (Resources/Web/templates)")
        }
        return try WebTemplates(directory: directory)
    }

    /// `object` rendered with the template `name`; a missing template is a programming error
    /// caught by the tests, rendered as an empty string rather than a crash.
    func render(_ object: Any, _ name: String) -> String {
        library.render(object, withTemplate: name) ?? ""
    }
}
