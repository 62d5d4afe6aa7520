/// Why the farm could not start. Each message says what to change.
enum FarmError: Error, Sendable, CustomStringConvertible {
    case invalidOption(String)
    /// A listener could not be bound; `detail` carries the system error.
    case bindFailed(address: String, port: Int, protocolName: String, detail: String)
    /// The HTTPS listener's certificate or key could not be made or read.
    case tls(String)

    var description: String {
        switch self {
        case .invalidOption(let message), .tls(let message):
            return message
        case .bindFailed(let address, let port, let protocolName, let detail):
            let hint =
                port == 0
                ? "" : " Is another farm running? Stop it or pass --\(protocolName == "UDP" ? "dns" : "http")-port 0."
            return "cannot listen on \(address):\(port)/\(protocolName): \(detail).\(hint)"
        }
    }
}
