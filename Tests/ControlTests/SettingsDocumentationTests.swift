import Foundation
import Testing

@testable import LookoutControl

/// `ControlSetting.all` is the one list of lookout-control's settings; `.env.example` and the
/// README's configuration table are written by hand from it. These tests keep the two in step:
/// a setting added, renamed or removed in the code fails here until both documents say so.
/// Pure: they read two files of the repository and start nothing.
@Suite("lookout-control settings: .env.example and the README table list exactly ControlSetting.all")
struct SettingsDocumentationTests {
    /// The repository root: this file is `Tests/ControlTests/SettingsDocumentationTests.swift`.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The header row of the README's lookout-control configuration table.
    static let readmeTableHeader = "| flag | environment variable | default | meaning |"

    static func text(of name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
    }

    @Test(".env.example has one LOOKOUT_...=default line per setting, and no other")
    func environmentExample() throws {
        let text = try Self.text(of: ".env.example")
        var listed: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                Issue.record(".env.example line \(index + 1) is neither a comment nor NAME=value: \(line)")
                continue
            }
            let name = String(line[..<equals])
            let value = String(line[line.index(after: equals)...])
            #expect(listed[name] == nil, ".env.example lists \(name) twice (line \(index + 1))")
            listed[name] = value
        }

        for setting in ControlSetting.all {
            guard let value = listed[setting.environment] else {
                Issue.record(
                    ".env.example misses \(setting.environment) (\(setting.flag)): add `\(setting.environment)=\(setting.defaultValue)` with a one-line comment"
                )
                continue
            }
            #expect(
                value == setting.defaultValue,
                ".env.example: \(setting.environment)=\(value), but the default of \(setting.flag) is '\(setting.defaultValue)'"
            )
        }
        let known = Set(ControlSetting.all.map(\.environment))
        for name in listed.keys.sorted() where !known.contains(name) {
            Issue.record(".env.example lists \(name), which is not a lookout-control setting (ControlSetting.all)")
        }
    }

    @Test("the README's lookout-control table has one row per setting, with its variable and default, and no other")
    func readmeTable() throws {
        let lines = try Self.text(of: "README.md").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let headers = lines.indices.filter { lines[$0] == Self.readmeTableHeader }
        try #require(
            headers.count == 1,
            "README.md must have exactly one table headed `\(Self.readmeTableHeader)` (found \(headers.count))"
        )
        // The rows: after the header and its |---| line, up to the first line that is not a row.
        let rows = lines[(headers[0] + 2)...].prefix { $0.hasPrefix("|") }
        var byFlag: [String: [String]] = [:]
        for row in rows {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, let flag = Self.firstCode(in: cells[0])?.split(separator: " ").first else {
                Issue.record("README table row is not `| `--flag …` | `LOOKOUT_…` | default | meaning |`: \(row)")
                continue
            }
            #expect(byFlag[String(flag)] == nil, "README table lists \(flag) twice")
            byFlag[String(flag)] = cells
        }

        for setting in ControlSetting.all {
            guard let cells = byFlag[setting.flag] else {
                Issue.record("README's lookout-control table misses \(setting.flag) (\(setting.environment))")
                continue
            }
            #expect(
                Self.firstCode(in: cells[1]) == setting.environment,
                "README: the row of \(setting.flag) names '\(cells[1])', not `\(setting.environment)`"
            )
            if !setting.defaultValue.isEmpty {
                #expect(
                    cells[2].contains("`\(setting.defaultValue)`"),
                    "README: the default of \(setting.flag) is `\(setting.defaultValue)`, the table says '\(cells[2])'"
                )
            }
            #expect(!cells[3].isEmpty, "README: the row of \(setting.flag) says nothing about it")
        }
        let known = Set(ControlSetting.all.map(\.flag))
        for flag in byFlag.keys.sorted() where !known.contains(flag) {
            Issue.record("README's lookout-control table lists \(flag), which is not a setting (ControlSetting.all)")
        }
    }

    /// The text between the first pair of backticks in `cell`.
    static func firstCode(in cell: String) -> String? {
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        return String(parts[1])
    }
}
