extension ControlConfiguration {
    /// Live updates over `/ws` and `/socket.io/`: limits per connection and per client address.
    struct Realtime: Sendable {
        /// Messages waiting to be written to one client; one more and the client is dropped as
        /// slow (close code 1008, 4008 for Socket.IO). Default 1,024.
        var queueMessages = 1_024
        /// Bytes waiting to be written to one client; past them the client is dropped as slow.
        /// Default 1 MiB.
        var queueBytes = 1 << 20
        /// Rooms (`monitor:<id>`, `user:<id>`) one connection may join. Default 1,000.
        var maxSubscriptions = 1_000
        /// Open connections from one client address (the proxy's unless `--trust-forwarded-for`).
        /// Default 100.
        var connectionsPerIP = 100
        /// Seconds a connection may stay silent: no message and no pong to the server's
        /// WebSocket pings (sent every half of it), and no authentication. Default 60.
        var idleTimeoutSeconds = 60
        /// Engine.IO heartbeat: a ping every `pingIntervalMilliseconds`, answered within
        /// `pingTimeoutMilliseconds`. Defaults 25,000 and 20,000 (Socket.IO's own).
        var pingIntervalMilliseconds = 25_000
        var pingTimeoutMilliseconds = 20_000
        /// Largest message a client may send, bytes (Engine.IO's `maxPayload`). Default 1,000,000.
        var maxPayloadBytes = 1_000_000
        /// Monitors whose owner, name and confirmed state are cached. Default 200,000.
        var directoryCapacity = 200_000
        /// Live-channel messages waiting to be fanned out; past them the oldest are dropped (and
        /// counted). Default 10,000.
        var inboxCapacity = 10_000
        /// How long a dropped client's close frame may take before the socket is closed, seconds.
        /// Default 10.
        var dropGraceSeconds = 10.0

        func validate() throws(ControlConfigurationError) {
            func fail(_ setting: String, _ reason: String) -> ControlConfigurationError {
                ControlConfigurationError(setting: setting, reason: reason)
            }
            guard (1...1_000_000).contains(queueMessages) else {
                throw fail("--realtime-queue-messages", "must be 1...1000000")
            }
            guard (1_024...(1 << 30)).contains(queueBytes) else {
                throw fail("--realtime-queue-bytes", "must be 1024 ... 1073741824 bytes")
            }
            guard (1...100_000).contains(maxSubscriptions) else {
                throw fail("--realtime-max-subscriptions", "must be 1...100000")
            }
            guard (1...1_000_000).contains(connectionsPerIP) else {
                throw fail("--realtime-connections-per-ip", "must be 1...1000000")
            }
            guard (2...86_400).contains(idleTimeoutSeconds) else {
                throw fail("--realtime-idle-timeout", "must be 2 ... 86400 seconds")
            }
        }
    }
}
