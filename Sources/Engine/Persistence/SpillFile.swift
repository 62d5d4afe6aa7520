import Foundation
import LookoutCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the spill directory cannot be used.
struct SpillError: Error, CustomStringConvertible, Sendable {
    var path: String
    var reason: String
    var description: String { "spill directory \(path): \(reason)" }
}

/// Check rows the database could not take yet, on local disk (`--spill-dir`).
///
/// Format: segment files `checks-<epoch ms>-<instance>-<seq>.copy`, each a run of COPY text
/// lines exactly as the writer sends them (check id included, so a replay is idempotent). Names
/// sort oldest first. A line carries no version mark: its width says which schema it was written
/// for (`earlierLineWidths`), so segments left by an older engine still drain. A writer appends only to its own current segment, holding an exclusive
/// `flock` on it; a segment is drained by whoever can take its lock, read whole, written in
/// chunks, and deleted once every chunk is committed. A process that dies releases its locks, so
/// another engine sharing the directory (or the next start) drains what it left; a segment
/// drained twice is harmless (`ON CONFLICT DO NOTHING`). Appends are `fdatasync`ed.
///
/// A last line without its newline (the process died mid-append) is skipped and counted in
/// `truncatedRows`. Used only by the writer's thread.
final class SpillDirectory {
    /// A chunk of rows loaded for writing.
    struct Chunk {
        /// COPY text lines.
        let bytes: [UInt8]
        let rows: Int
        /// UTC days (`YYYY-MM-DD`) of the rows' `checked_at`, for partition checks.
        let days: Set<String>
        fileprivate let end: Int
    }

    private struct AppendSegment {
        let fd: Int32
        let path: String
        var rows: Int
    }

    private struct DrainSegment {
        let fd: Int32
        let path: String
        let data: [UInt8]
        var offset: Int
    }

    let path: String
    private let instance: String
    private let segmentRows: Int
    private var appendSegment: AppendSegment?
    private var drainSegment: DrainSegment?
    private var sequence = 0
    /// Incomplete last lines found in segments (rows lost to a crash mid-append).
    private(set) var truncatedRows = 0

    /// Checks that the directory can be used, without making it: it is made (mode 0700) when
    /// the first row spills, so a run whose database keeps up leaves nothing behind.
    /// - Parameter segmentRows: rows per segment before the next append starts a new one.
    init(path: String, instance: String, segmentRows: Int = 100_000) throws(SpillError) {
        self.path = path
        self.instance = instance
        self.segmentRows = max(1, segmentRows)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SpillError(path: path, reason: "exists and is not a directory") }
            let probe = path + "/.probe-\(instance)"
            let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw SpillError(path: path, reason: "not writable: \(String(cString: strerror(errno)))")
            }
            Glibc.close(fd)
            unlink(probe)
            return
        }
        // Not there yet: the nearest existing folder above it must let us make it later.
        var ancestor = (path as NSString).deletingLastPathComponent
        if ancestor.isEmpty { ancestor = "." }
        while !FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
            let parent = (ancestor as NSString).deletingLastPathComponent
            if parent.isEmpty || parent == ancestor { break }
            ancestor = parent
        }
        guard isDirectory.boolValue else {
            throw SpillError(path: path, reason: "cannot be made: \(ancestor) is not a directory")
        }
        guard access(ancestor, W_OK | X_OK) == 0 else {
            throw SpillError(
                path: path, reason: "cannot be made in \(ancestor): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close() }

    /// Releases every lock (the current append segment stays on disk for the next drain).
    func close() {
        if let segment = appendSegment {
            Glibc.close(segment.fd)
            if segment.rows == 0 { unlink(segment.path) }
            appendSegment = nil
        }
        if let segment = drainSegment {
            Glibc.close(segment.fd)
            drainSegment = nil
        }
    }

    /// Rows waiting in segments nobody else holds (counted at start-up, e.g. from a previous run).
    func scan() -> Int {
        var rows = 0
        for name in segmentNames() {
            let file = path + "/" + name
            if file == appendSegment?.path || file == drainSegment?.path { continue }
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0, let data = Self.readAll(fd) else { continue }
            rows += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        return rows
    }

    /// Appends complete lines (`rows` of them) to this writer's current segment.
    func append(_ bytes: [UInt8], rows: Int) throws(SpillError) {
        guard !bytes.isEmpty else { return }
        if appendSegment == nil { appendSegment = try openAppendSegment() }
        let fd = appendSegment!.fd
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil && fdatasync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            // The segment may now end in a partial line: seal it (readers skip a torn tail) and
            // start a new one next time.
            sealAppendSegment()
            throw SpillError(path: path, reason: "cannot append: \(failure)")
        }
        appendSegment!.rows += rows
        if appendSegment!.rows >= segmentRows { sealAppendSegment() }
    }

    /// The width of a spill line tells which engine wrote it (a spill directory may outlive an
    /// upgrade, and columns are only ever added at the end): 16 columns before migration 3 added
    /// `tls_issuer`, `tls_protocol`, `tls_cipher` and `dns_answers`, 20 before migration 4 added
    /// `http_version` and `tls_resumed`. Such a line is completed with NULLs for the columns it
    /// predates; a line of any other width goes to COPY as it is (and fails there, loudly).
    static let earlierLineWidths = [16, 20]
    /// What completes a line of each earlier width: one `\t\N` per column it lacks.
    static let nullsByWidth: [Int: [UInt8]] = Dictionary(
        uniqueKeysWithValues: earlierLineWidths.map { width in
            (
                width,
                Array(repeating: Array("\t\\N".utf8), count: LookoutSchema.checkColumns.count - width).flatMap { $0 }
            )
        })

    /// The next chunk of at most `maxRows` rows, oldest segment first; nil when nothing is left.
    func loadChunk(maxRows: Int) throws(SpillError) -> Chunk? {
        if drainSegment == nil {
            drainSegment = lockOldestSegment()
            if drainSegment == nil, appendSegment != nil {
                // Only the segment being appended to is left: seal it so it can be drained.
                sealAppendSegment()
                drainSegment = lockOldestSegment()
            }
        }
        guard let segment = drainSegment else { return nil }
        var rows = 0
        var days = Set<String>()
        var end = segment.offset
        var bytes: [UInt8] = []
        segment.data.withUnsafeBytes { buffer in
            var lineStart = end
            var index = end
            var tabs = 0
            while index < buffer.count && rows < maxRows {
                if buffer[index] == 0x09 { tabs += 1 }
                if buffer[index] == 0x0A {
                    let line = UnsafeRawBufferPointer(rebasing: buffer[lineStart..<index])
                    if let day = CheckRowEncoder.day(ofLine: line) { days.insert(day) }
                    bytes.append(contentsOf: line)
                    // A line an earlier engine spilled lacks the newer columns: NULL them.
                    if let nulls = Self.nullsByWidth[tabs + 1] { bytes.append(contentsOf: nulls) }
                    bytes.append(0x0A)
                    rows += 1
                    tabs = 0
                    lineStart = index + 1
                    end = index + 1
                }
                index += 1
            }
        }
        if rows == 0 {
            // An empty (or torn-only) segment: remove it and look at the next.
            finishDrainSegment()
            return try loadChunk(maxRows: maxRows)
        }
        return Chunk(bytes: bytes, rows: rows, days: days, end: end)
    }

    /// The chunk is in the database: move on (and delete the segment once it is all written).
    func acknowledge(_ chunk: Chunk) {
        guard drainSegment != nil else { return }
        drainSegment!.offset = chunk.end
        if drainSegment!.offset >= drainSegment!.data.count || !hasCompleteLine(after: chunk.end) {
            finishDrainSegment()
        }
    }

    // MARK: internals

    private func hasCompleteLine(after offset: Int) -> Bool {
        guard let segment = drainSegment else { return false }
        return segment.data[offset...].contains(0x0A)
    }

    private func finishDrainSegment() {
        guard let segment = drainSegment else { return }
        if segment.data.last != 0x0A && !segment.data.isEmpty { truncatedRows += 1 }
        unlink(segment.path)
        Glibc.close(segment.fd)
        drainSegment = nil
    }

    private func sealAppendSegment() {
        guard let segment = appendSegment else { return }
        Glibc.close(segment.fd)
        if segment.rows == 0 { unlink(segment.path) }
        appendSegment = nil
    }

    private func openAppendSegment() throws(SpillError) -> AppendSegment {
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw SpillError(path: path, reason: "cannot create it (\(error.localizedDescription))")
        }
        var milliseconds = timespec()
        clock_gettime(CLOCK_REALTIME, &milliseconds)
        let stamp = Int64(milliseconds.tv_sec) * 1000 + Int64(milliseconds.tv_nsec) / 1_000_000
        sequence += 1
        let name = "checks-\(Self.padded(stamp, 13))-\(instance)-\(Self.padded(Int64(sequence), 6)).copy"
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SpillError(path: path, reason: "cannot create \(name): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw SpillError(path: path, reason: "cannot lock \(name): \(String(cString: strerror(errno)))")
        }
        return AppendSegment(fd: fd, path: file, rows: 0)
    }

    private func lockOldestSegment() -> DrainSegment? {
        for name in segmentNames() {
            let file = path + "/" + name
            if file == appendSegment?.path { continue }
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var status = stat()
            guard flock(fd, LOCK_EX | LOCK_NB) == 0, fstat(fd, &status) == 0, status.st_nlink > 0,
                let data = Self.readAll(fd)
            else {
                // Held by a live writer, or deleted by another drainer meanwhile.
                Glibc.close(fd)
                continue
            }
            return DrainSegment(fd: fd, path: file, data: data, offset: 0)
        }
        return nil
    }

    private func segmentNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasPrefix("checks-") && $0.hasSuffix(".copy") }.sorted()
    }

    private static func readAll(_ fd: Int32) -> [UInt8]? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
