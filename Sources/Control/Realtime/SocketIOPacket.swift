import Foundation
import NIOCore

/// A Socket.IO (protocol 5) packet, the content of an Engine.IO message:
/// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`, e.g.
///
///     0{"token":"…"}                      CONNECT to `/` with an auth payload
///     0/admin,                            CONNECT to `/admin`
///     2["subscribe:monitor",{"monitorId":1}]   EVENT
///     212["subscribe:user"]               EVENT with ack id 12
///     312[{"ok":true}]                    ACK of 12
///     4{"message":"…"}                    CONNECT_ERROR
///     1                                   DISCONNECT
///
/// Binary packets (types 5 and 6, with attachments) are refused: Lookout sends and accepts JSON
/// only.
struct SocketIOPacket: Equatable, Sendable {
    enum Kind: UInt8, Sendable {
        case connect = 0
        case disconnect = 1
        case event = 2
        case ack = 3
        case connectError = 4
        case binaryEvent = 5
        case binaryAck = 6
    }

    var kind: Kind
    /// `/` unless the packet names another namespace.
    var namespace: String
    var ackId: Int64?
    /// The JSON payload as text (nil when absent).
    var payload: String?

    init(kind: Kind, namespace: String = "/", ackId: Int64? = nil, payload: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.ackId = ackId
        self.payload = payload
    }

    /// Why a packet could not be read.
    struct DecodingError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// Reads a packet (the text after Engine.IO's `4`).
    static func decode(_ text: Substring) throws(DecodingError) -> SocketIOPacket {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first >= UInt8(ascii: "0"), let kind = Kind(rawValue: first - UInt8(ascii: "0"))
        else { throw DecodingError(description: "unknown Socket.IO packet type") }
        var index = 1
        if kind == .binaryEvent || kind == .binaryAck {
            throw DecodingError(description: "binary Socket.IO packets are not supported: send JSON")
        }
        var namespace = "/"
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        var ackId: Int64?
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        if index > digitsStart {
            guard index - digitsStart <= 15, let id = Int64(String(decoding: bytes[digitsStart..<index], as: UTF8.self))
            else { throw DecodingError(description: "acknowledgement id out of range") }
            ackId = id
        }
        var payload: String?
        if index < bytes.count {
            let text = String(decoding: bytes[index...], as: UTF8.self)
            guard (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil else {
                throw DecodingError(description: "the payload is not JSON")
            }
            payload = text
        }
        switch kind {
        case .event:
            guard let payload, let array = Self.array(payload), array.first is String else {
                throw DecodingError(description: "an event's payload is an array whose first element is its name")
            }
        case .ack:
            guard ackId != nil, let payload, Self.array(payload) != nil else {
                throw DecodingError(description: "an acknowledgement has an id and an array payload")
            }
        case .connect:
            if let payload, Self.object(payload) == nil {
                throw DecodingError(description: "a CONNECT payload is an object")
            }
        default: break
        }
        return SocketIOPacket(kind: kind, namespace: namespace, ackId: ackId, payload: payload)
    }

    /// The packet's text (without Engine.IO's `4`).
    var encoded: String {
        var text = String(kind.rawValue)
        if namespace != "/" { text += namespace + "," }
        if let ackId { text += String(ackId) }
        if let payload { text += payload }
        return text
    }

    /// An event's name and its arguments (the payload array after the name).
    var event: (name: String, arguments: [Any])? {
        guard kind == .event, let payload, let array = Self.array(payload), let name = array.first as? String
        else { return nil }
        return (name, Array(array.dropFirst()))
    }

    /// The CONNECT payload's `token`, if any.
    var authToken: String? {
        guard let payload, let object = Self.object(payload) else { return nil }
        return object["token"] as? String
    }

    static func array(_ text: String) -> [Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any]
    }

    static func object(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }
}

/// The server's Socket.IO messages as Engine.IO text frames (`4` + packet).
enum SocketIOServerMessage {
    /// `40{"sid":"…"}`: connected to `/`.
    static func connected(sid: String) -> ByteBuffer {
        ByteBuffer(string: "40{\"sid\":\(RealtimeJSON.quoted(sid))}")
    }

    /// `44{"message":"…"}` (or `44/ns,{…}`): the connection to a namespace was refused.
    static func connectError(namespace: String = "/", _ message: String) -> ByteBuffer {
        let packet = SocketIOPacket(
            kind: .connectError, namespace: namespace, payload: "{\"message\":\(RealtimeJSON.quoted(message))}")
        return ByteBuffer(string: "4" + packet.encoded)
    }

    /// `43<id>[{"ok":true}]`.
    static func ackOK(_ id: Int64) -> ByteBuffer { ByteBuffer(string: "43\(id)[{\"ok\":true}]") }

    /// `43<id>[{"ok":false,"error":{"code":"not_found","message":"…"}}]`.
    static func ackRefused(_ id: Int64, _ refusal: RealtimeRefusal) -> ByteBuffer {
        ByteBuffer(string: "43\(id)[{\"ok\":false,\"error\":\(errorObject(refusal))}]")
    }

    /// `42["error",{"code":"…","message":"…"}]`: a refusal of an event sent without an ack id.
    static func errorEvent(_ refusal: RealtimeRefusal) -> ByteBuffer {
        ByteBuffer(string: "42[\"error\",\(errorObject(refusal))]")
    }

    /// `42["<event>",<data>]` (`check:update`, `incident:update`).
    static func event(_ name: StaticString, data: ByteBufferView) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + 24)
        buffer.writeStaticString("42[\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\",")
        buffer.writeBytes(data)
        buffer.writeStaticString("]")
        return buffer
    }

    static func errorObject(_ refusal: RealtimeRefusal) -> String {
        "{\"code\":\"\(refusal.code.rawValue)\",\"message\":\(RealtimeJSON.quoted(refusal.message))}"
    }
}

/// A client event as Lookout reads it: `["subscribe:monitor",{"monitorId":1}]`,
/// `["subscribe:user"]` ... (the same requests as the `/ws` messages).
struct SocketIOEvent: Decodable, Equatable {
    var name: String
    var monitorId: Int64?

    private struct Arguments: Decodable {
        var monitorId: WSClientMessage.MonitorIdentifier?
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            monitorId = try? container.decodeIfPresent(WSClientMessage.MonitorIdentifier.self, forKey: .monitorId)
        }
        enum CodingKeys: String, CodingKey { case monitorId }
    }

    init(name: String, monitorId: Int64? = nil) {
        self.name = name
        self.monitorId = monitorId
    }

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        name = try container.decode(String.self)
        if !container.isAtEnd { monitorId = (try? container.decode(Arguments.self))?.monitorId?.id }
    }

    /// The event's payload (`["name", {...}]`), nil when it is not an event array.
    static func decode(_ payload: String) -> SocketIOEvent? {
        try? JSONDecoder().decode(SocketIOEvent.self, from: Data(payload.utf8))
    }

    /// The request it makes, or why it cannot be read.
    var request: Result<WSClientMessage, RealtimeRefusal> {
        switch name {
        case "subscribe:monitor", "unsubscribe:monitor":
            guard let monitorId else {
                return .failure(
                    RealtimeRefusal(
                        .badRequest, "\(name) needs {\"monitorId\": N}: the monitor's id, a positive integer"))
            }
            return .success(name == "subscribe:monitor" ? .subscribeMonitor(monitorId) : .unsubscribeMonitor(monitorId))
        case "subscribe:user": return .success(.subscribeUser)
        case "unsubscribe:user": return .success(.unsubscribeUser)
        case "ping": return .success(.ping)
        default:
            return .failure(
                RealtimeRefusal(
                    .badRequest,
                    "unknown event \(RealtimeJSON.quoted(String(name.prefix(40)))): use subscribe:monitor, unsubscribe:monitor, subscribe:user, unsubscribe:user or ping"
                ))
        }
    }
}
