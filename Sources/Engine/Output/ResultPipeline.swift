import Foundation
import LookoutCore
import LookoutFFI

#if canImport(Glibc)
import Glibc
#endif

/// Carries results from the loop threads to one writer thread, which encodes them as JSON Lines
/// (by hand, see `ResultLineEncoder`), writes them to the results file and aggregates the
/// run summary. Loops hand over whole batches: one lock per batch, never per check.
final class ResultPipeline: @unchecked Sendable {
    // @unchecked: `queue`/`closed` are guarded by `condition`, `summaryStorage` by `summaryLock`,
    // `encoder` and `output` are touched only by the writer thread.
    private let condition = NSCondition()
    private var queue: [[CheckResult]] = []
    private var closed = false
    private var finished = false
    private let summaryLock = NSLock()
    private var summaryStorage = RunSummary()
    private var encoder = ResultLineEncoder()
    /// `--format table`: used instead of `encoder`.
    private var tableEncoder: ResultTableEncoder?
    private let output: Int32?
    private let closeOutput: Bool
    private var writeError: String?
    /// Also receives every batch, on the writer thread (the database's COPY writer hooks in
    /// here: `CheckWriter.submit`, which only queues). nil without `--database`. Set by `start`,
    /// before the writer thread exists.
    private var batchSink: (@Sendable ([CheckResult]) -> Void)?

    /// Batches submitted before `start` wait in memory (a monitors file read in two steps holds
    /// its results until it has proved valid).
    ///
    /// - Parameters:
    ///   - path: a file to (over)write, `-` for standard output, nil for no results file.
    ///   - format: JSON Lines, or a table for people (coloured on a terminal).
    init(path: String?, format: ResultFormat = .json) throws(EngineError) {
        switch path {
        case nil:
            output = nil
            closeOutput = false
        case "-":
            output = STDOUT_FILENO
            closeOutput = false
        case let path?:
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 {
                throw EngineError.resultsFile(path: path, reason: String(cString: strerror(errno)))
            }
            output = fd
            closeOutput = true
        }
        if format == .table, let output {
            tableEncoder = ResultTableEncoder(colour: ResultFormat.wantsColour(descriptor: output))
        }
    }

    /// Starts writing; `batchSink` is called with every batch on the writer thread (see
    /// `batchSink`): given here, because the database writer of a file read in two steps can
    /// take results only once the file's monitors have their rows.
    func start(batchSink: (@Sendable ([CheckResult]) -> Void)? = nil) {
        self.batchSink = batchSink
        NamedThread.start("lookout-results") { [self] in self.writerLoop() }
    }

    /// Called by loop threads.
    func submit(_ batch: [CheckResult]) {
        condition.lock()
        queue.append(batch)
        condition.signal()
        condition.unlock()
    }

    /// Writes everything submitted so far and stops the writer thread. Returns the first write
    /// error, if any (results that could not be written are still counted in the summary).
    @discardableResult
    func close() -> String? {
        condition.lock()
        closed = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
        return writeError
    }

    var summary: RunSummary {
        summaryLock.lock()
        defer { summaryLock.unlock() }
        return summaryStorage
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            let batches = queue
            queue.removeAll(keepingCapacity: true)
            let done = closed && batches.isEmpty
            condition.unlock()
            if done { break }
            for batch in batches {
                batchSink?(batch)
                // The whole batch goes to each: a loop here copied every result to pass it.
                summaryLock.lock()
                summaryStorage.record(contentsOf: batch)
                summaryLock.unlock()
                if output != nil {
                    if tableEncoder != nil {
                        tableEncoder!.append(contentsOf: batch)
                    } else {
                        encoder.append(contentsOf: batch)
                    }
                }
            }
            flushEncoder()
        }
        if closeOutput, let output { Glibc.close(output) }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func flushEncoder() {
        guard let output else { return }
        if tableEncoder != nil {
            writeAll(tableEncoder!.bytes, to: output)
            tableEncoder!.removeAll()
        } else {
            writeAll(encoder.bytes, to: output)
            encoder.removeAll()
        }
    }

    private func writeAll(_ bytes: [UInt8], to output: Int32) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(output, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if writeError == nil { writeError = String(cString: strerror(errno)) }
                    return
                }
                offset += written
            }
        }
    }
}
