/// Problems that stop the engine before or while it starts, each with a message that says what
/// to do about it.
enum EngineError: Error, CustomStringConvertible {
    case monitorsFile(path: String, reason: String)
    case invalidMonitors([String])
    case resultsFile(path: String, reason: String)
    case invalidOption(name: String, reason: String)
    case caFile(path: String, reason: String)
    case metricsPort(port: Int, reason: String)
    case metricsAddress(address: String, reason: String)
    case loopSetup(String)

    var description: String {
        switch self {
        case .monitorsFile(let path, let reason):
            return "cannot read monitors file \(path): \(reason)"
        case .invalidMonitors(let lines):
            return "the monitors file has \(lines.count) invalid line(s):\n  "
                + lines.prefix(50).joined(separator: "\n  ")
                + (lines.count > 50 ? "\n  ... and \(lines.count - 50) more" : "")
                + "\nfix them, or pass --skip-invalid to run the valid ones"
        case .resultsFile(let path, let reason):
            return "cannot write results to \(path): \(reason)"
        case .invalidOption(let name, let reason):
            return "\(name): \(reason)"
        case .caFile(let path, let reason):
            return "--ca-file \(path): \(reason)"
        case .metricsPort(let port, let reason):
            return "--metrics-port \(port): \(reason)"
        case .metricsAddress(let address, let reason):
            return "--metrics-address \(address): \(reason)"
        case .loopSetup(let reason):
            return "could not start an engine loop: \(reason)"
        }
    }
}
