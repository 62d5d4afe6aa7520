/// How the farm listens. Every default is the one `lookout-bench farm` uses.
struct FarmConfiguration: Sendable, Equatable {
    /// Number of loopback addresses HTTP listens on, all on one port. Default 8.
    ///
    /// Several addresses matter for load: a client that closes first keeps one TIME_WAIT entry per
    /// (local port, remote address, remote port), which caps new connections to one remote
    /// address:port at a few hundred per second (docs/PLATFORM.md); spreading monitors over addresses
    /// lifts that cap. Linux routes all of 127.0.0.0/8 to `lo`, so no set-up is needed.
    var addressCount: Int = 8
    /// First HTTP address; the rest follow it (127.0.1.1, 127.0.1.2, ...). Default `127.0.1.1`.
    /// Must lie in 127.0.0.0/8: the farm never listens on an address another machine can reach.
    var baseAddress: String = "127.0.1.1"
    /// HTTP port on every address. Default 28080; 0 picks a free one (the same on every address).
    var httpPort: Int = 28080
    /// UDP port of the DNS server on 127.0.0.1. Default 28053; 0 picks a free one.
    var dnsPort: Int = 28053
    /// TTL of A and AAAA answers, seconds. Default 300.
    var dnsTTL: UInt32 = 300
    /// Event-loop threads shared by HTTP and DNS. Default 1.
    var threads: Int = 1
    /// An HTTPS listener beside HTTP on every address (same routes). Default none.
    var tls: FarmTLS?

    static let dnsAddress = "127.0.0.1"
    static let maxAddresses = 4096

    init(
        addressCount: Int = 8,
        baseAddress: String = "127.0.1.1",
        httpPort: Int = 28080,
        dnsPort: Int = 28053,
        dnsTTL: Int = 300,
        threads: Int = 1
    ) throws(FarmError) {
        guard (1...Self.maxAddresses).contains(addressCount) else {
            throw .invalidOption("--addresses must be between 1 and \(Self.maxAddresses), got \(addressCount)")
        }
        guard let base = IPv4.parse(baseAddress), base >> 24 == 127 else {
            throw .invalidOption("--base-address must be an IPv4 address in 127.0.0.0/8, got '\(baseAddress)'")
        }
        guard UInt64(base) + UInt64(addressCount - 1) <= 0x7FFF_FFFE else {
            throw .invalidOption("--base-address \(baseAddress) + \(addressCount) addresses runs past 127.255.255.254")
        }
        guard (0...65535).contains(httpPort) else { throw .invalidOption("--http-port must be 0...65535") }
        guard (0...65535).contains(dnsPort) else { throw .invalidOption("--dns-port must be 0...65535") }
        guard (0...604_800).contains(dnsTTL) else {
            throw .invalidOption("--dns-ttl must be between 0 and 604800 seconds")
        }
        guard (1...64).contains(threads) else { throw .invalidOption("--threads must be between 1 and 64") }
        self.addressCount = addressCount
        self.baseAddress = baseAddress
        self.httpPort = httpPort
        self.dnsPort = dnsPort
        self.dnsTTL = UInt32(dnsTTL)
        self.threads = threads
    }

    /// The HTTP addresses as 32-bit values (host order), in order.
    var addressValues: [UInt32] {
        let base = IPv4.parse(baseAddress)!  // validated in init
        return (0..<addressCount).map { base + UInt32($0) }
    }

    /// The HTTP addresses in dotted form, in order.
    var addresses: [String] { addressValues.map(IPv4.format) }
}

/// Dotted-quad IPv4 helpers (host byte order), small enough not to need the C library.
enum IPv4 {
    static func parse(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func format(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }
}
