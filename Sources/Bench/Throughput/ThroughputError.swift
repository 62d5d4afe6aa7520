/// Why a throughput run failed. Each message says what to do next.
enum ThroughputError: Error, Sendable, CustomStringConvertible {
    case invalidOption(String)
    case engineMissing(path: String)
    case farm(FarmError)
    case files(String)
    case spawnFailed(path: String, errno: Int32)
    case engineFailed(exit: ChildExit, stderrTail: String, logHint: String)
    case engineHung(seconds: Double, stderrTail: String)
    case interrupted(String)
    case noResults(path: String)

    var description: String {
        switch self {
        case .invalidOption(let message):
            return message
        case .engineMissing(let path):
            return
                "engine binary not found or not executable at \(path): build it with `swift build --product lookout-engine` (same configuration as lookout-bench) or pass --engine PATH"
        case .farm(let error):
            return "target farm: \(error)"
        case .files(let message):
            return message
        case .spawnFailed(let path, let code):
            return "cannot start \(path): \(SystemError.message(code))"
        case .engineFailed(let exit, let tail, let hint):
            return "the engine \(exit) (\(hint)); last lines of its stderr:\n\(tail)"
        case .engineHung(let seconds, let tail):
            return
                "the engine was still running \(Int(seconds)) s past --duration and was killed; last lines of its stderr:\n\(tail)"
        case .interrupted(let reason):
            return "interrupted (\(reason)); the engine and the farm were stopped"
        case .noResults(let path):
            return "the engine exited cleanly but wrote no results to \(path): is --results honoured?"
        }
    }
}
