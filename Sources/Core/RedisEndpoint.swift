/// Where Redis listens: `redis://[[user]:password@]IP[:PORT][/DB]`.
///
/// The host must be an IP address (`127.0.0.1`, `[::1]`): hiredis 0.14 resolves names with a
/// blocking `getaddrinfo` on the loop thread, which the engine never allows (docs/PLATFORM.md). The
/// password, when given, is sent with `AUTH` right after connecting, the database with `SELECT`.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// An IPv4 or IPv6 address literal (no brackets).
    public var host: String
    /// TCP port. Default 6379.
    public var port: Int
    /// Database number for `SELECT`. Default 0.
    public var database: Int
    /// ACL user name (Redis 6+), or nil for the default user.
    public var username: String?
    /// Password for `AUTH`, or nil.
    public var password: String?

    /// Redis's standard port.
    public static let defaultPort = 6379

    /// An endpoint; `host` must be an IP address literal.
    public init(
        host: String,
        port: Int = RedisEndpoint.defaultPort,
        database: Int = 0,
        username: String? = nil,
        password: String? = nil
    )
        throws(RedisEndpointError)
    {
        guard IPAddress(parsing: host) != nil else {
            throw RedisEndpointError(
                "Redis host '\(host)' is not an IP address: hiredis would resolve it with a blocking call; give the address (e.g. redis://127.0.0.1:6379)"
            )
        }
        guard (1...65_535).contains(port) else { throw RedisEndpointError("Redis port \(port) is not in 1...65535") }
        guard database >= 0 else { throw RedisEndpointError("Redis database \(database) must not be negative") }
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    /// Parses `redis://[[user]:password@]IP[:PORT][/DB]`.
    public init(url: String) throws(RedisEndpointError) {
        guard url.hasPrefix("redis://") else {
            throw RedisEndpointError(
                "Redis URL '\(Self.redacted(url))' must start with redis:// (TLS, rediss://, is not supported by hiredis 0.14)"
            )
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = userInfo[..<colon]
                username = user.isEmpty ? nil : Self.percentDecoded(user)
                password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
            } else {
                // `redis://secret@host`: a lone user-info part is the password (redis-cli's reading).
                password = Self.percentDecoded(userInfo)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw RedisEndpointError("Redis URL '\(Self.redacted(url))': '/\(path)' is not a database number")
                }
                database = number
            }
        }
        var host: Substring
        var port = Self.defaultPort
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw RedisEndpointError("Redis URL '\(Self.redacted(url))': missing ']' after the IPv6 address")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else {
                    throw RedisEndpointError("Redis URL '\(Self.redacted(url))': bad port '\(after.dropFirst())'")
                }
                port = number
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let number = Int(rest[rest.index(after: colon)...]) else {
                throw RedisEndpointError(
                    "Redis URL '\(Self.redacted(url))': bad port '\(rest[rest.index(after: colon)...])'"
                )
            }
            port = number
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw RedisEndpointError("Redis URL '\(Self.redacted(url))' has no host") }
        try self.init(host: String(host), port: port, database: database, username: username, password: password)
    }

    /// The URL without the password.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let user = username.map { "\($0):***@" } ?? (password == nil ? "" : ":***@")
        return "redis://\(user)\(hostPart):\(port)/\(database)"
    }

    private static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), url.hasPrefix("redis://") else { return url }
        return "redis://***" + url[at...]
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A Redis address that cannot be used; the message says what to give instead.
public struct RedisEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a person.
    public var description: String
    /// Wraps a sentence.
    public init(_ description: String) { self.description = description }
}
