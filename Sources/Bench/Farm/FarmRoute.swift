/// What the farm does for a request, decided from its target (`path?query`) alone.
///
/// Parsing is a pure function so the whole route table is visible in one place. Every numeric
/// parameter is bounded: the farm is a test fixture and must never be talked into an unbounded
/// wait, allocation or stream.
enum FarmRoute: Equatable, Sendable {
    /// `/ok` → 200 `ok`.
    case ok
    /// `/status/N` → status N (200...599) with a short body.
    case status(Int)
    /// `/delay/MS` → 200 `ok` after MS milliseconds.
    case delay(milliseconds: Int)
    /// `/trickle?bytes=N&intervalMs=M` → Content-Length N, one byte every M ms.
    case trickle(bytes: Int, intervalMilliseconds: Int)
    /// `/huge?bytes=N` (Content-Length) and `/huge-chunked?bytes=N` (chunked), streamed.
    case huge(bytes: Int, chunked: Bool)
    /// `/redirect/N` → 302 to `/redirect/N-1`; `/redirect/0` → 200 `ok`.
    case redirect(remaining: Int)
    /// `/redirect-loop` → 302 to itself.
    case redirectLoop
    /// `/redirect-to?url=U` → 302 to U.
    case redirectTo(String)
    /// `/reset` → read the request, then abort the connection with a TCP RST.
    case reset
    /// `/close` → read the request, then close without answering.
    case close
    /// `/garbage` → non-HTTP bytes, then close.
    case garbage
    /// `/keyword?word=W` → HTML that contains W.
    case keyword(String)
    /// `/json[?status=X]` → a small health document.
    case json(status: String)
    /// `/echo` → the request as JSON.
    case echo
    /// `/bench?latencyMs=L&status=S&bytes=B` → the general-purpose load endpoint.
    case bench(latencyMilliseconds: Int, status: Int, bytes: Int)
    /// `/__stats` → request counters (not counted).
    case stats
    /// `/__stats/reset` → zero the counters (not counted).
    case statsReset
    /// Anything else → 404.
    case notFound
    /// A known path with a bad parameter → 400 with the reason.
    case badRequest(String)

    /// Longest wait any route accepts (`/delay`, `/bench`, `/trickle` intervals): 10 minutes.
    static let maxDelayMilliseconds = 600_000
    /// Largest streamed body (`/huge`, `/bench`): 1 GiB.
    static let maxBodyBytes = 1 << 30
    /// Largest trickled body: 1 MiB (at one byte per interval anything larger never ends).
    static let maxTrickleBytes = 1 << 20
    /// Longest redirect chain `/redirect/N` starts.
    static let maxRedirects = 1000

    /// Whether the request shows up in `/__stats`.
    var isCounted: Bool {
        switch self {
        case .stats, .statsReset: return false
        default: return true
        }
    }

    init(target: String) {
        let (path, query) = FarmRoute.split(target)
        self.init(path: path, query: query)
    }

    init(path: Substring, query: Substring) {
        self = FarmRoute.route(path: path, query: FarmQuery(query))
    }

    /// A request target split into its path (what `/__stats` counts by) and query.
    static func split(_ target: String) -> (path: Substring, query: Substring) {
        let full = Substring(target)
        guard let mark = full.firstIndex(of: "?") else { return (full, "") }
        return (full[..<mark], full[full.index(after: mark)...])
    }

    private static func route(path: Substring, query: FarmQuery) -> FarmRoute {
        switch path {
        case "/ok": return .ok
        case "/redirect-loop": return .redirectLoop
        case "/reset": return .reset
        case "/close": return .close
        case "/garbage": return .garbage
        case "/echo": return .echo
        case "/__stats": return .stats
        case "/__stats/reset": return .statsReset
        case "/json": return .json(status: query["status"] ?? "ok")
        case "/keyword":
            guard let word = query["word"] else { return .badRequest("/keyword needs ?word=W") }
            return .keyword(word)
        case "/redirect-to":
            guard let url = query["url"], !url.isEmpty else {
                return .badRequest("/redirect-to needs ?url=URLENCODED")
            }
            guard !url.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                return .badRequest("/redirect-to: url must not contain control characters")
            }
            return .redirectTo(url)
        case "/huge", "/huge-chunked":
            switch query.integer("bytes", default: 1 << 20, in: 0...maxBodyBytes) {
            case .success(let bytes): return .huge(bytes: bytes, chunked: path == "/huge-chunked")
            case .failure(let reason): return .badRequest(reason.message)
            }
        case "/trickle":
            let bytes = query.integer("bytes", default: 10, in: 0...maxTrickleBytes)
            let interval = query.integer("intervalMs", default: 500, in: 1...maxDelayMilliseconds)
            switch (bytes, interval) {
            case (.success(let bytes), .success(let interval)):
                return .trickle(bytes: bytes, intervalMilliseconds: interval)
            case (.failure(let reason), _), (_, .failure(let reason)):
                return .badRequest(reason.message)
            }
        case "/bench":
            let latency = query.integer("latencyMs", default: 0, in: 0...maxDelayMilliseconds)
            let status = query.integer("status", default: 200, in: 200...599)
            let bytes = query.integer("bytes", default: 2, in: 0...maxBodyBytes)
            switch (latency, status, bytes) {
            case (.success(let latency), .success(let status), .success(let bytes)):
                return .bench(latencyMilliseconds: latency, status: status, bytes: bytes)
            case (.failure(let reason), _, _), (_, .failure(let reason), _), (_, _, .failure(let reason)):
                return .badRequest(reason.message)
            }
        default:
            break
        }
        if let rest = path.dropPrefix("/status/") {
            guard let code = Int(rest), (200...599).contains(code) else {
                return .badRequest("/status/N needs N between 200 and 599 (1xx cannot be a final status)")
            }
            return .status(code)
        }
        if let rest = path.dropPrefix("/delay/") {
            guard let milliseconds = Int(rest), (0...maxDelayMilliseconds).contains(milliseconds) else {
                return .badRequest("/delay/MS needs MS between 0 and \(maxDelayMilliseconds)")
            }
            return .delay(milliseconds: milliseconds)
        }
        if let rest = path.dropPrefix("/redirect/") {
            guard let remaining = Int(rest), (0...maxRedirects).contains(remaining) else {
                return .badRequest("/redirect/N needs N between 0 and \(maxRedirects)")
            }
            return .redirect(remaining: remaining)
        }
        return .notFound
    }
}

/// A decoded query string: `a=1&b=x%20y` (`+` is a space, as browsers and curl send it).
struct FarmQuery {
    struct Problem: Error {
        var message: String
    }

    private var pairs: [(String, String)] = []

    init(_ query: Substring) {
        guard !query.isEmpty else { return }
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = FarmQuery.decode(parts[0])
            let value = parts.count > 1 ? FarmQuery.decode(parts[1]) : ""
            pairs.append((name, value))
        }
    }

    subscript(name: String) -> String? {
        pairs.first(where: { $0.0 == name })?.1
    }

    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) -> Result<Int, Problem> {
        guard let text = self[name] else { return .success(value) }
        guard let number = Int(text), range.contains(number) else {
            return .failure(
                Problem(message: "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            )
        }
        return .success(number)
    }

    /// Percent-decoding; malformed escapes are kept as they are rather than refused.
    static func decode(_ text: Substring) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension Substring {
    fileprivate func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
