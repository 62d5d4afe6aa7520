import Foundation
import LookoutCore
import LookoutTestSupport
import Testing

@testable import LookoutEngine

private func lines(_ range: Range<Int>, day: String = "2026-01-02") -> [UInt8] {
    Array(range.map { "id-\($0)\t1\t\(day)T00:00:00.000Z\tUP\n" }.joined().utf8)
}

private func rowIds(_ chunk: SpillDirectory.Chunk) -> [String] {
    String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
}

private func segmentFiles(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".copy") }.sorted()
}

@Suite("Spill directory (local files, no database)")
struct SpillDirectoryTests {
    @Test("rows come back oldest first across segments; acknowledged segments are deleted")
    func drainOrder() throws {
        try withTemporaryDirectory { (path: String) throws in
            let spill = try SpillDirectory(path: path + "/spill", instance: "aaaa", segmentRows: 5)
            try spill.append(lines(0..<3), rows: 3)
            try spill.append(lines(3..<7), rows: 4)  // segment 1 full (7 >= 5): sealed
            try spill.append(lines(7..<9, day: "2026-01-03"), rows: 2)
            #expect(segmentFiles(path + "/spill").count == 2)
            var seen: [String] = []
            while let chunk = try spill.loadChunk(maxRows: 4) {
                #expect(chunk.rows <= 4)
                seen += rowIds(chunk)
                if rowIds(chunk).contains("id-8") { #expect(chunk.days == ["2026-01-03"]) }
                spill.acknowledge(chunk)
            }
            #expect(seen == (0..<9).map { "id-\($0)" })
            #expect(segmentFiles(path + "/spill").isEmpty)
            #expect(spill.truncatedRows == 0)
        }
    }

    @Test("lines spilled before migration 3 (16 columns) and 4 (20) get the newer columns as NULL")
    func linesFromEarlierEngines() throws {
        try withTemporaryDirectory { (path: String) throws in
            let spill = try SpillDirectory(path: path + "/spill", instance: "aaaa", segmentRows: 100)
            func line(_ id: String, columns: Int) -> String {
                (["\(id)", "1", "2026-01-02T00:00:00.000Z", "UP"] + Array(repeating: "0", count: columns - 4))
                    .joined(separator: "\t")
            }
            let current = LookoutSchema.checkColumns.count
            #expect(current == 22)
            let written = [line("m2", columns: 16), line("m3", columns: 20), line("now", columns: current)]
            try spill.append(Array((written.joined(separator: "\n") + "\n").utf8), rows: 3)
            let chunk = try #require(try spill.loadChunk(maxRows: 10))
            let read = String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n").map {
                $0.split(separator: "\t", omittingEmptySubsequences: false)
            }
            #expect(read.map(\.count) == [current, current, current])
            #expect(read.map { $0[0] } == ["m2", "m3", "now"])
            #expect(read[0].prefix(16).suffix(12).allSatisfy { $0 == "0" })
            #expect(read[0].suffix(current - 16).allSatisfy { $0 == "\\N" })
            #expect(read[1].prefix(20).suffix(16).allSatisfy { $0 == "0" })
            #expect(read[1].suffix(current - 20).allSatisfy { $0 == "\\N" })
            #expect(read[2].suffix(current - 4).allSatisfy { $0 == "0" }, "a current line is left as it is")
        }
    }

    @Test("an unacknowledged chunk is offered again by the next drainer")
    func unacknowledgedStays() throws {
        try withTemporaryDirectory { (path: String) throws in
            do {
                let first = try SpillDirectory(path: path, instance: "aaaa")
                try first.append(lines(0..<10), rows: 10)
                let chunk = try #require(try first.loadChunk(maxRows: 4))
                #expect(rowIds(chunk) == ["id-0", "id-1", "id-2", "id-3"])
                first.close()  // crash-like: nothing acknowledged
            }
            let second = try SpillDirectory(path: path, instance: "bbbb")
            #expect(second.scan() == 10)
            let chunk = try #require(try second.loadChunk(maxRows: 100))
            #expect(chunk.rows == 10)
            second.acknowledge(chunk)
            #expect(try second.loadChunk(maxRows: 100) == nil)
        }
    }

    @Test("a segment held by a live writer is left alone")
    func lockedSegmentSkipped() throws {
        try withTemporaryDirectory { (path: String) throws in
            let writer = try SpillDirectory(path: path, instance: "aaaa", segmentRows: 1_000)
            try writer.append(lines(0..<3), rows: 3)  // still the open, locked segment
            let other = try SpillDirectory(path: path, instance: "bbbb")
            #expect(other.scan() == 0)
            #expect(try other.loadChunk(maxRows: 10) == nil)
            writer.close()
            // A process another test spawns at this moment holds a copy of the writer's file
            // (and so its lock) between its fork and its exec: wait for that to pass.
            #expect(eventually(timeout: 30) { other.scan() == 3 }, "the released segment is scanned")
            let chunk = try #require(try other.loadChunk(maxRows: 10))
            #expect(chunk.rows == 3)
        }
    }

    @Test("a torn last line (crash mid-append) is skipped and counted")
    func tornTail() throws {
        try withTemporaryDirectory { (path: String) throws in
            let file = path + "/checks-0000000000001-cccc-000001.copy"
            let bytes = lines(0..<2) + Array("id-2\t1\t2026-01".utf8)
            _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
            let spill = try SpillDirectory(path: path, instance: "dddd")
            #expect(spill.scan() == 2)
            let chunk = try #require(try spill.loadChunk(maxRows: 10))
            #expect(rowIds(chunk) == ["id-0", "id-1"])
            spill.acknowledge(chunk)
            #expect(spill.truncatedRows == 1)
            #expect(segmentFiles(path).isEmpty)
        }
    }

    @Test("a path that cannot be a directory is refused at start")
    func unusablePath() throws {
        try withTemporaryDirectory { (path: String) throws in
            _ = FileManager.default.createFile(atPath: path + "/file", contents: Data())
            #expect(throws: SpillError.self) { try SpillDirectory(path: path + "/file/spill", instance: "x") }
        }
    }
}

@Suite("Spill directory creation")
struct SpillDirectoryCreationUnitTests {
    @Test("the directory is made by the first spilled row, not at start")
    func madeOnFirstAppend() throws {
        try withTemporaryDirectory { (path: String) throws in
            let target = path + "/a/b/spill"
            let spill = try SpillDirectory(path: target, instance: "aaaa")
            #expect(!FileManager.default.fileExists(atPath: target))
            #expect(spill.scan() == 0)
            #expect(try spill.loadChunk(maxRows: 10) == nil)
            #expect(!FileManager.default.fileExists(atPath: target), "reading made nothing either")
            try spill.append(Array("id-0\t1\t2026-01-02T00:00:00.000Z\tUP\n".utf8), rows: 1)
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) && isDirectory.boolValue)
            let attributes = try FileManager.default.attributesOfItem(atPath: target)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == 0o700)
        }
    }

}
