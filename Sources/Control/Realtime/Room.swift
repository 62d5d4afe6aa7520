/// A set of connections that receive the same updates: every update of one monitor
/// (`monitor:42`), or of every monitor of one user (`user:7`). A connection joins only rooms of
/// its own user's data.
enum Room: Hashable, Sendable, CustomStringConvertible {
    case monitor(Int64)
    case user(Int64)

    /// `monitor:42`, `user:7`: the name clients see in `subscribed`.
    var description: String {
        switch self {
        case .monitor(let id): return "monitor:\(id)"
        case .user(let id): return "user:\(id)"
        }
    }
}

/// Why a client's request was refused: the `code` of `/ws` error messages and of Socket.IO
/// acknowledgements. Another user's monitor answers `notFound`, exactly like a missing one.
enum RealtimeErrorCode: String, Sendable {
    case forbidden
    case notFound = "not_found"
    case badRequest = "bad_request"
    case unauthenticated
    /// The server could not check the request now (the database is away): try again.
    case unavailable
}

/// A refusal with a sentence for people.
struct RealtimeRefusal: Error, Sendable, Equatable {
    var code: RealtimeErrorCode
    var message: String

    init(_ code: RealtimeErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
