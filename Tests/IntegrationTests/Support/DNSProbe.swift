import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends one DNS query over UDP to a loopback server and decodes the parts tests look at.
enum DNSProbe {
    struct ProbeError: Error, CustomStringConvertible {
        var description: String
    }

    struct Record: Sendable, Equatable {
        var type: UInt16
        var ttl: UInt32
        var data: [UInt8]

        /// Dotted form for A records, nil otherwise.
        var ipv4: String? { type == 1 && data.count == 4 ? data.map(String.init).joined(separator: ".") : nil }
    }

    struct Answer: Sendable {
        var id: UInt16
        var rcode: Int
        var isAuthoritative: Bool
        var recursionDesired: Bool
        var answers: [Record]
        var authorityCount: Int
        /// The authority section's records (the SOA of negative answers).
        var authority: [Record]
    }

    static let typeA: UInt16 = 1
    static let typeSOA: UInt16 = 6
    static let typeAAAA: UInt16 = 28

    /// The answer to `name`/`type`, or nil when none came within `timeout` seconds.
    static func query(
        _ name: String,
        type: UInt16 = typeA,
        port: Int,
        server: String = "127.0.0.1",
        timeout: Double = 2
    ) throws -> Answer? {
        guard server.hasPrefix("127.") else { throw ProbeError(description: "tests talk to loopback only") }
        let id = UInt16.random(in: 0...UInt16.max)
        var packet: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            packet.append(UInt8(label.utf8.count))
            packet += label.utf8
        }
        packet += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]

        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw ProbeError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var wait = timeval(tv_sec: .init(timeout), tv_usec: .init((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, server, &address.sin_addr)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == packet.count else { throw ProbeError(description: "sendto: \(String(cString: strerror(errno)))") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }  // timed out
            let reply = Array(buffer[0..<count])
            guard let answer = parse(reply), answer.id == id else { continue }  // not ours: keep waiting
            return answer
        }
    }

    static func parse(_ bytes: [UInt8]) -> Answer? {
        guard bytes.count >= 12 else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) << 16 | UInt32(u16(at + 2)) }
        let flags = u16(2)
        let questions = Int(u16(4))
        let answerCount = Int(u16(6))
        let authorityCount = Int(u16(8))
        var offset = 12
        func skipName() -> Bool {
            while offset < bytes.count {
                let length = Int(bytes[offset])
                if length & 0xC0 == 0xC0 {
                    offset += 2
                    return offset <= bytes.count
                }
                offset += 1
                if length == 0 { return true }
                offset += length
            }
            return false
        }
        for _ in 0..<questions {
            guard skipName() else { return nil }
            offset += 4
        }
        func records(_ count: Int) -> [Record]? {
            var result: [Record] = []
            for _ in 0..<count {
                guard skipName(), offset + 10 <= bytes.count else { return nil }
                let type = u16(offset)
                let ttl = u32(offset + 4)
                let length = Int(u16(offset + 8))
                offset += 10
                guard offset + length <= bytes.count else { return nil }
                result.append(Record(type: type, ttl: ttl, data: Array(bytes[offset..<(offset + length)])))
                offset += length
            }
            return result
        }
        guard let answers = records(answerCount), let authority = records(authorityCount) else { return nil }
        return Answer(
            id: u16(0),
            rcode: Int(flags & 0xF),
            isAuthoritative: flags & 0x0400 != 0,
            recursionDesired: flags & 0x0100 != 0,
            answers: answers,
            authorityCount: authorityCount,
            authority: authority
        )
    }

    /// The farm's documented rule for names in its zone: FNV-1a 64 of the lower-cased name
    /// (no trailing dot) modulo the number of addresses.
    static func expectedAddressIndex(of name: String, addressCount: Int) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.lowercased().utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(addressCount))
    }
}
