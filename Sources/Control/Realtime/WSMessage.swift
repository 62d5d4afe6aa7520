import Foundation
import NIOCore

/// A message a `/ws` client sends: one JSON object with a `type`.
///
///     {"type":"auth","token":"<session token or lk_ API key>"}
///     {"type":"subscribe:monitor","monitorId":42}     {"type":"unsubscribe:monitor","monitorId":42}
///     {"type":"subscribe:user"}                       {"type":"unsubscribe:user"}
///     {"type":"ping"}
///
/// Unknown fields are ignored; an unknown `type`, a missing or malformed field is a
/// `bad_request`.
enum WSClientMessage: Equatable, Sendable {
    case auth(token: String)
    case subscribeMonitor(Int64)
    case unsubscribeMonitor(Int64)
    case subscribeUser
    case unsubscribeUser
    case ping

    static func parse(_ text: String) -> Result<WSClientMessage, RealtimeRefusal> {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(text.utf8)) else {
            return .failure(RealtimeRefusal(.badRequest, "a message is one JSON object with a \"type\" (a string)"))
        }
        switch wire.type {
        case "auth":
            guard let token = wire.token?.value, !token.isEmpty else {
                return .failure(RealtimeRefusal(.badRequest, "auth needs a \"token\": a session token or an API key"))
            }
            return .success(.auth(token: token))
        case "subscribe:monitor", "unsubscribe:monitor":
            guard let id = wire.monitorId?.value?.id else {
                return .failure(
                    RealtimeRefusal(
                        .badRequest, "\(wire.type) needs a \"monitorId\": the monitor's id, a positive integer"))
            }
            return .success(wire.type == "subscribe:monitor" ? .subscribeMonitor(id) : .unsubscribeMonitor(id))
        case "subscribe:user": return .success(.subscribeUser)
        case "unsubscribe:user": return .success(.unsubscribeUser)
        case "ping": return .success(.ping)
        default:
            return .failure(
                RealtimeRefusal(
                    .badRequest,
                    "unknown type \(RealtimeJSON.quoted(String(wire.type.prefix(40)))): use auth, subscribe:monitor, unsubscribe:monitor, subscribe:user, unsubscribe:user or ping"
                ))
        }
    }

    /// The fields of every client message; unknown fields are ignored, a field of the wrong
    /// kind reads as missing.
    private struct Wire: Decodable {
        var type: String
        var token: Lenient<String>?
        var monitorId: Lenient<MonitorIdentifier>?
    }

    /// A value that decodes to nil instead of failing.
    private struct Lenient<Value: Decodable>: Decodable {
        var value: Value?
        init(from decoder: any Decoder) throws { value = try? Value(from: decoder) }
    }

    /// A positive integer, as a JSON number or its decimal text.
    struct MonitorIdentifier: Decodable {
        var id: Int64
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self), number > 0 {
                id = number
            } else if let text = try? container.decode(String.self), let number = Int64(text), number > 0 {
                id = number
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a monitor id")
            }
        }
    }
}

/// The messages a `/ws` client receives, as text frames.
enum WSServerMessage {
    /// `{"type":"ready","userId":7}`: authenticated.
    static func ready(userId: Int64) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"ready\",\"userId\":\(userId)}")
    }

    /// `{"type":"subscribed","room":"monitor:42"}`.
    static func subscribed(_ room: Room) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"subscribed\",\"room\":\"\(room)\"}")
    }

    /// `{"type":"unsubscribed","room":"monitor:42"}`.
    static func unsubscribed(_ room: Room) -> ByteBuffer {
        ByteBuffer(string: "{\"type\":\"unsubscribed\",\"room\":\"\(room)\"}")
    }

    /// `{"type":"pong"}`.
    static func pong() -> ByteBuffer { ByteBuffer(string: "{\"type\":\"pong\"}") }

    /// `{"type":"error","code":"not_found","message":"..."}`.
    static func error(_ refusal: RealtimeRefusal) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("{\"type\":\"error\",\"code\":\"\(refusal.code.rawValue)\",\"message\":")
        RealtimeJSON.appendQuoted(refusal.message, to: &buffer)
        buffer.writeString("}")
        return buffer
    }

    /// `{"type":"<event>","data":<data>}` (`check:update`, `incident:update`).
    static func event(_ name: StaticString, data: ByteBufferView) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + 40)
        buffer.writeStaticString("{\"type\":\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\",\"data\":")
        buffer.writeBytes(data)
        buffer.writeStaticString("}")
        return buffer
    }
}
