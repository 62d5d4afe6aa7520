/// Why a capacity run, plan or comparison failed. Each message says what to do next.
enum CapacityError: Error, Sendable, CustomStringConvertible {
    case invalidOption(String)
    case run(ThroughputError)
    case database(String)
    case report(String)
    case interrupted(String)

    var description: String {
        switch self {
        case .invalidOption(let message): return message
        case .run(let error): return error.description
        case .database(let message): return "database: \(message)"
        case .report(let message): return message
        case .interrupted(let reason): return "interrupted (\(reason)); every process this run started was stopped"
        }
    }
}
