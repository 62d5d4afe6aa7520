import NIOCore

/// An Engine.IO (protocol 4) packet over the WebSocket transport: one packet per text frame,
/// `<type digit><data>`. Binary frames (raw binary messages) are not used by Lookout.
///
///     0{"sid":...}  open (server → client, once, first)
///     1             close
///     2 / 3         ping / pong (the server pings, the client answers; `2probe`/`3probe` are
///                   the upgrade probe of the polling transport, answered all the same)
///     4<message>    message: here always a Socket.IO packet
///     5 / 6         upgrade / noop
enum EngineIOPacket: Equatable, Sendable {
    case open(String)
    case close
    case ping(String)
    case pong(String)
    case message(Substring)
    case upgrade
    case noop

    /// Reads one text frame; nil for anything that is not an Engine.IO packet.
    static func decode(_ text: String) -> EngineIOPacket? {
        guard let first = text.utf8.first else { return nil }
        let rest = text.dropFirst()
        switch first {
        case UInt8(ascii: "0"): return .open(String(rest))
        case UInt8(ascii: "1"): return .close
        case UInt8(ascii: "2"): return .ping(String(rest))
        case UInt8(ascii: "3"): return .pong(String(rest))
        case UInt8(ascii: "4"): return .message(rest)
        case UInt8(ascii: "5"): return .upgrade
        case UInt8(ascii: "6"): return .noop
        default: return nil
        }
    }

    /// The frame's text.
    var encoded: String {
        switch self {
        case .open(let handshake): return "0" + handshake
        case .close: return "1"
        case .ping(let data): return "2" + data
        case .pong(let data): return "3" + data
        case .message(let data): return "4" + data
        case .upgrade: return "5"
        case .noop: return "6"
        }
    }

    /// The open packet: `0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`.
    static func handshake(sid: String, pingInterval: Int, pingTimeout: Int, maxPayload: Int) -> EngineIOPacket {
        .open(
            "{\"sid\":\(RealtimeJSON.quoted(sid)),\"upgrades\":[],\"pingInterval\":\(pingInterval),"
                + "\"pingTimeout\":\(pingTimeout),\"maxPayload\":\(maxPayload)}"
        )
    }
}

/// The HTTP answer of an Engine.IO request that cannot be served, in Engine.IO's own error
/// shape (`{"code":0,"message":"Transport unknown"}`): what Socket.IO clients expect to read.
struct EngineIOHTTPError: Equatable, Sendable {
    /// Engine.IO's error codes.
    enum Code: Int, Sendable {
        case unknownTransport = 0
        case unknownSid = 1
        case badHandshakeMethod = 2
        case badRequest = 3
        case forbidden = 4
        case unsupportedProtocolVersion = 5
    }

    var code: Code
    var message: String

    /// What is wrong with an Engine.IO request's query, nil when it may open a WebSocket session.
    static func check(query: [String: String]) -> EngineIOHTTPError? {
        guard query["EIO"] == "4" else {
            return EngineIOHTTPError(
                code: .unsupportedProtocolVersion,
                message: "Unsupported protocol version: this server speaks Engine.IO 4 (Socket.IO 3 and later clients)"
            )
        }
        guard query["transport"] == "websocket" else {
            return EngineIOHTTPError(
                code: .unknownTransport,
                message:
                    "Transport unknown: this server speaks Socket.IO over WebSocket only, without long-polling; connect with the option transports: ['websocket']"
            )
        }
        if query["sid"] != nil {
            return EngineIOHTTPError(
                code: .unknownSid,
                message:
                    "Session ID unknown: there are no polling sessions to upgrade; connect with transports: ['websocket']"
            )
        }
        return nil
    }

    /// `{"code":0,"message":"..."}`.
    var json: String { "{\"code\":\(code.rawValue),\"message\":\(RealtimeJSON.quoted(message))}" }
}
