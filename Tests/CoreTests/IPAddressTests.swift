import Testing

@testable import LookoutCore

@Suite("IPAddress parsing and formatting")
struct IPAddressTests {
    // MARK: IPv4

    @Test(
        "parses dotted-quad IPv4",
        arguments: [
            ("0.0.0.0", UInt32(0)),
            ("127.0.0.1", 0x7F00_0001),
            ("93.184.216.34", 0x5DB8_D822),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("10.0.0.1", 0x0A00_0001),
            ("192.168.100.200", 0xC0A8_64C8),
        ]
    )
    func parsesIPv4(text: String, value: UInt32) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(address == .v4(value))
        #expect(!address.isIPv6)
    }

    @Test(
        "refuses malformed IPv4",
        arguments: [
            "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "1..2.3", "1.2.3.", ".1.2.3",
            "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "1.2.3.-4", "0x7f.0.0.1", "1234.0.0.1",
            "127.1", "2130706433",
        ]
    )
    func refusesMalformedIPv4(text: String) {
        #expect(IPAddress(parsing: text) == nil)
    }

    @Test(
        "refuses IPv4 octets with leading zeros (octal to some parsers, decimal to others)",
        arguments: ["010.0.0.1", "1.02.3.4", "1.2.03.4", "1.2.3.04", "00.0.0.0", "127.0.0.001"]
    )
    func refusesLeadingZerosInIPv4(text: String) {
        #expect(IPAddress(parsing: text) == nil)
    }

    // MARK: IPv6

    @Test(
        "parses IPv6 in full, compressed and embedded-IPv4 forms",
        arguments: [
            ("::", UInt64(0), UInt64(0)),
            ("::1", 0, 1),
            ("1::", 0x0001_0000_0000_0000, 0),
            ("2001:db8::1", 0x2001_0DB8_0000_0000, 1),
            ("1:2:3:4:5:6:7:8", 0x0001_0002_0003_0004, 0x0005_0006_0007_0008),
            ("2001:0db8:0000:0000:0000:0000:0002:0001", 0x2001_0DB8_0000_0000, 0x0000_0000_0002_0001),
            ("FE80::ABCD", 0xFE80_0000_0000_0000, 0xABCD),
            ("::1:2:3:4:5:6:7", 0x0000_0001_0002_0003, 0x0004_0005_0006_0007),
            ("1:2:3:4:5:6:7::", 0x0001_0002_0003_0004, 0x0005_0006_0007_0000),
            ("1:2::7:8", 0x0001_0002_0000_0000, 0x0000_0000_0007_0008),
            ("::ffff:127.0.0.1", 0, 0x0000_FFFF_7F00_0001),
            ("::127.0.0.1", 0, 0x0000_0000_7F00_0001),
            ("64:ff9b::10.0.0.1", 0x0064_FF9B_0000_0000, 0x0000_0000_0A00_0001),
            ("1:2:3:4:5:6:1.2.3.4", 0x0001_0002_0003_0004, 0x0005_0006_0102_0304),
            ("fe80::1%eth0", 0xFE80_0000_0000_0000, 1),
        ]
    )
    func parsesIPv6(text: String, high: UInt64, low: UInt64) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(address == .v6(high: high, low: low))
        #expect(address.isIPv6)
    }

    @Test(
        "refuses malformed IPv6",
        arguments: [
            ":", ":::", "1:::2", "1::2::3", "::1::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8", "::1:2:3:4:5:6:7:8", "12345::", "g::", "::g", ":1::", "1::2:", "1:2:3:4:5:6:7:",
            "::1.2.3.4.5", "::01.2.3.4", "::256.0.0.1", "1.2.3.4::", "::1.2.3.4:1", "1:2:3:4:5:6:7:1.2.3.4",
            "[::1]", "::1 ",
        ]
    )
    func refusesMalformedIPv6(text: String) {
        #expect(IPAddress(parsing: text) == nil)
    }

    /// `UInt16(_:radix:)` accepts a leading sign, so a strict address parser must not rely on it alone.
    @Test("refuses signed IPv6 groups", arguments: ["::+1", "+1::", "::-0", "1:+2::3", "2001:db8::+ff"])
    func refusesSignedIPv6Groups(text: String) {
        #expect(IPAddress(parsing: text) == nil)
    }

    // MARK: Formatting

    @Test(
        "formats IPv6 the RFC 5952 way: lower case, no leading zeros, longest zero run compressed",
        arguments: [
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:0DB8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // equal runs: the first is compressed
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),  // the longest run wins
            ("FE80::ABCD", "fe80::abcd"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("0:0:0:0:0:0:0:8", "::8"),
            ("64:ff9b::10.0.0.1", "64:ff9b::a00:1"),
        ]
    )
    func formatsIPv6(text: String, expected: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(address.description == expected)
    }

    @Test("formats IPv4 as a dotted quad", arguments: ["0.0.0.0", "93.184.216.34", "255.255.255.255", "10.20.30.40"])
    func formatsIPv4(text: String) throws {
        #expect(try #require(IPAddress(parsing: text)).description == text)
    }

    @Test("description parses back to the same address for random IPv6 values")
    func descriptionRoundTrips() throws {
        var random = SeededGenerator(seed: 0x1F6)
        for _ in 0..<2_000 {
            // Zero out random groups so that runs of zeros (and their compression) are common.
            var groups = (0..<8).map { _ in UInt16.random(in: 0...UInt16.max, using: &random) }
            for index in 0..<8 where Bool.random(using: &random) { groups[index] = 0 }
            let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
            let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
            let address = IPAddress.v6(high: high, low: low)
            let text = address.description
            #expect(IPAddress(parsing: text) == address, "\(text)")
            #expect(!text.contains(":::"), "\(text)")
        }
    }

    // MARK: Bytes

    @Test("builds IPv4 from four network-order bytes")
    func buildsIPv4FromBytes() {
        #expect(IPAddress(bytes: [127, 0, 0, 1]) == .v4(0x7F00_0001))
        #expect(IPAddress(bytes: [169, 254, 169, 254])?.description == "169.254.169.254")
    }

    @Test("builds IPv6 from sixteen network-order bytes")
    func buildsIPv6FromBytes() {
        let bytes: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]
        #expect(IPAddress(bytes: bytes) == .v6(high: 0x2001_0DB8_0000_0000, low: 0x1234))
        #expect(IPAddress(bytes: Array(repeating: 0, count: 15) + [1]) == IPAddress(parsing: "::1"))
    }

    @Test("reads an address in place from unaligned memory, as from a socket address")
    func readsInPlaceFromUnalignedBytes() {
        // One byte in front puts both addresses off any alignment.
        let v4: [UInt8] = [0xFF, 10, 1, 2, 3]
        let v6: [UInt8] = [0xFF, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]
        let readV4 = v4.withUnsafeBytes { IPAddress(networkOrder: UnsafeRawBufferPointer(rebasing: $0.dropFirst())) }
        let readV6 = v6.withUnsafeBytes { IPAddress(networkOrder: UnsafeRawBufferPointer(rebasing: $0.dropFirst())) }
        #expect(readV4 == .v4(0x0A01_0203))
        #expect(readV6 == .v6(high: 0x2001_0DB8_0000_0000, low: 0x1234))
    }

    @Test("refuses byte counts other than 4 or 16", arguments: [0, 1, 3, 5, 6, 15, 17, 32])
    func refusesOtherByteCounts(count: Int) {
        #expect(IPAddress(bytes: Array(repeating: 1, count: count)) == nil)
    }
}
