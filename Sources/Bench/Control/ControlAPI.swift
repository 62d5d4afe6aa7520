import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The few calls `lookout-bench control` makes to a lookout-control it started.
struct ControlAPI: Sendable {
    let base: String
    var token: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `body` (JSON) and returns the status and the decoded JSON object.
    func call(_ method: String, _ path: String, body: Data? = nil, timeout: Double = 60) throws -> (Int, [String: Any])
    {
        guard let url = URL(string: base + path) else { throw Failure(description: "bad URL \(base + path)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: (Data?, URLResponse?, (any Error)?)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome = (data, response, error)
            done.signal()
        }.resume()
        done.wait()
        if let error = outcome.2 { throw Failure(description: "\(method) \(path): \(error.localizedDescription)") }
        let status = (outcome.1 as? HTTPURLResponse)?.statusCode ?? 0
        let object = outcome.0.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        return (status, object)
    }

    func json(_ method: String, _ path: String, _ body: [String: Any]) throws -> (Int, [String: Any]) {
        try call(method, path, body: try JSONSerialization.data(withJSONObject: body))
    }
}
