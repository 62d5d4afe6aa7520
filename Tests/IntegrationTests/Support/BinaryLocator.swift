import Foundation

/// Finds the binaries that `swift build` made, for tests that run them as child processes.
///
/// Order: the directory in `LOOKOUT_TEST_BIN_DIR` (CI or a release build), else the build
/// directory this test bundle was loaded from: walking up from the test executable to the first
/// directory that holds `lookout-bench` (`.build/<triple>/<configuration>`).
enum BinaryLocator {
    struct NotFound: Error, CustomStringConvertible {
        var description: String
    }

    /// The binary that marks a build directory.
    static let marker = "lookout-bench"

    /// The directory holding the built products.
    static func directory() throws -> URL {
        let manager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["LOOKOUT_TEST_BIN_DIR"], !configured.isEmpty {
            let url = URL(fileURLWithPath: configured, isDirectory: true)
            guard manager.isExecutableFile(atPath: url.appendingPathComponent(marker).path) else {
                throw NotFound(
                    description:
                        "LOOKOUT_TEST_BIN_DIR=\(configured) has no \(marker): build it there or unset the variable"
                )
            }
            return url
        }
        var starts: [URL] = [Bundle.main.bundleURL]
        if let executable = Bundle.main.executableURL { starts.append(executable.deletingLastPathComponent()) }
        if let exe = try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for start in starts {
            var candidate = start.standardizedFileURL
            for _ in 0..<6 {
                if manager.isExecutableFile(atPath: candidate.appendingPathComponent(marker).path) { return candidate }
                let parent = candidate.deletingLastPathComponent()
                if parent.path == candidate.path { break }
                candidate = parent
            }
        }
        throw NotFound(
            description:
                "\(marker) not found next to the test bundle (searched from \(starts.map(\.path))): run `swift build` first, or set LOOKOUT_TEST_BIN_DIR"
        )
    }

    /// The built binary `name` (`lookout-bench`, `lookout-engine`).
    static func url(of name: String) throws -> URL {
        let url = try directory().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw NotFound(
                description: "\(name) not found in \(url.deletingLastPathComponent().path): run `swift build` first"
            )
        }
        return url
    }
}
