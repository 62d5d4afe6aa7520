import Foundation

/// Finds the built binaries: `LOOKOUT_TEST_BIN_DIR` (scripts/test sets it), else the build
/// directory this test bundle runs from.
package enum Binaries {
    package struct NotFound: Error, CustomStringConvertible {
        package init(description: String) { self.description = description }
        package var description: String
    }

    package static func url(of name: String) throws -> URL {
        var candidates: [URL] = []
        if let configured = ProcessInfo.processInfo.environment["LOOKOUT_TEST_BIN_DIR"], !configured.isEmpty {
            candidates.append(URL(fileURLWithPath: configured))
        }
        var starts = [Bundle.main.bundleURL]
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<6 {
                candidates.append(directory)
                directory = directory.deletingLastPathComponent()
            }
        }
        for directory in candidates {
            let binary = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw NotFound(description: "\(name) not found (searched \(candidates.map(\.path))): run `swift build` first")
    }
}
