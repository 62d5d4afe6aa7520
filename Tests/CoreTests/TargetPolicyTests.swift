import Testing

@testable import LookoutCore

@Suite("TargetPolicy (SSRF protection)")
struct TargetPolicyTests {
    let policy = TargetPolicy()

    @Test(
        "refuses non-public IPv4 ranges by default",
        arguments: [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.0.1", "link-local (cloud metadata)"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this-network"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("192.88.99.1", "6to4 relay anycast"),
        ]
    )
    func refusesNonPublicIPv4(text: String, rangeName: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(policy.refusal(for: address) == rangeName)
    }

    @Test("refuses the cloud metadata address 169.254.169.254")
    func refusesCloudMetadataAddress() throws {
        let metadata = try #require(IPAddress(parsing: "169.254.169.254"))
        #expect(policy.refusal(for: metadata) == "link-local (cloud metadata)")
    }

    @Test(
        "refuses non-public IPv6 ranges and IPv6 forms that embed a non-public IPv4 address",
        arguments: [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fc00::1", "unique local (private)"),
            ("fd12:3456::1", "unique local (private)"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("fec0::1", "site-local"),
            ("::ffff:127.0.0.1", "IPv4-mapped IPv6"),
            ("::ffff:93.184.216.34", "IPv4-mapped IPv6"),  // mapped is refused even for a public address
            ("::127.0.0.1", "IPv4-compatible IPv6"),
            ("64:ff9b::10.0.0.1", "NAT64 of private"),
            ("64:ff9b::169.254.169.254", "NAT64 of link-local (cloud metadata)"),
            ("64:ff9b::127.0.0.1", "NAT64 of loopback"),
            ("64:ff9b:1::1", "NAT64 local-use"),
            ("2002:0a00:0001::", "6to4 of private"),
            ("2002:7f00:0001::1", "6to4 of loopback"),
            ("2002:a9fe:a9fe::", "6to4 of link-local (cloud metadata)"),
            ("2001:0000:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("100::1", "discard-only"),
            ("4000::1", "reserved"),
            ("1::", "reserved"),
        ]
    )
    func refusesNonPublicIPv6(text: String, rangeName: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(policy.refusal(for: address) == rangeName)
    }

    @Test(
        "allows globally routable unicast addresses",
        arguments: [
            "93.184.216.34", "1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.0", "100.63.255.255",
            "100.128.0.0", "169.253.255.255", "223.255.255.255", "192.0.1.255", "11.0.0.1",
            "2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001:81b::200e", "2001:4860:4860::8888",
            "64:ff9b::5db8:d822",  // NAT64 of 93.184.216.34
            "64:ff9b::93.184.216.34",
            "2002:5db8:d822::1",  // 6to4 of 93.184.216.34
        ]
    )
    func allowsPublicAddresses(text: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(policy.refusal(for: address) == nil)
        #expect(TargetPolicy.nonPublicRangeName(address) == nil)
    }

    @Test(
        "allowAll lets every address through",
        arguments: ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "fd00::1"]
    )
    func allowAllLetsEveryAddressThrough(text: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(TargetPolicy(allowAll: true).refusal(for: address) == nil)
    }

    @Test("allowedRanges open only the listed ranges")
    func allowedRangesOpenOnlyTheListedRanges() throws {
        let policy = TargetPolicy(allowedRanges: [try CIDRRange("127.0.0.0/8"), try CIDRRange("fd00::/8")])
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "127.0.0.1"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "127.9.9.9"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "fd12::1"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "10.0.0.1"))) == "private")
        #expect(
            policy.refusal(for: try #require(IPAddress(parsing: "169.254.169.254"))) == "link-local (cloud metadata)"
        )
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "fc00::1"))) == "unique local (private)")
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "::1"))) == "loopback")
    }

    @Test("a single allowed host address opens only that address")
    func singleAllowedAddress() throws {
        let policy = TargetPolicy(allowedRanges: [try CIDRRange("10.1.2.3")])
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "10.1.2.3"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress(parsing: "10.1.2.4"))) == "private")
    }
}

@Suite("CIDRRange")
struct CIDRRangeTests {
    @Test(
        "parses address/prefix and bare addresses",
        arguments: [
            ("10.0.0.0/8", "10.0.0.0", 8),
            ("10.1.2.3", "10.1.2.3", 32),
            ("0.0.0.0/0", "0.0.0.0", 0),
            ("192.168.0.0/32", "192.168.0.0", 32),
            ("fd00::/8", "fd00::", 8),
            ("::1", "::1", 128),
            ("::/0", "::", 0),
            ("2001:db8::/128", "2001:db8::", 128),
        ]
    )
    func parses(text: String, base: String, prefixLength: Int) throws {
        let range = try CIDRRange(text)
        #expect(range.base == IPAddress(parsing: base))
        #expect(range.prefixLength == prefixLength)
        #expect(range.description == "\(base)/\(prefixLength)")
    }

    @Test(
        "refuses malformed ranges with field 'cidr'",
        arguments: [
            "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "example.com/8",
            "10.0.0/8", "10.0.0.0/abc", "10.0.0.0/ 8", "fd00::/", "fd00::/1000",
        ]
    )
    func refusesMalformed(text: String) {
        let error = validationError { _ = try CIDRRange(text) }
        #expect(error?.field == "cidr")
    }

    @Test(
        "contains addresses inside the prefix and nothing else",
        arguments: [
            ("10.0.0.0/8", "10.0.0.0", true),
            ("10.0.0.0/8", "10.255.255.255", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.0/8", "9.255.255.255", false),
            ("172.16.0.0/12", "172.31.0.1", true),
            ("172.16.0.0/12", "172.32.0.1", false),
            ("10.1.2.3/32", "10.1.2.3", true),
            ("10.1.2.3/32", "10.1.2.4", false),
            ("10.1.2.3", "10.1.2.3", true),
            ("0.0.0.0/0", "255.255.255.255", true),
            ("0.0.0.0/0", "1.2.3.4", true),
            ("10.9.9.9/8", "10.0.0.1", true),  // host bits of the base are ignored
            ("192.168.1.0/31", "192.168.1.1", true),
            ("192.168.1.0/31", "192.168.1.2", false),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe00::1", false),
            ("fe80::/10", "febf::1", true),
            ("fe80::/10", "fec0::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true),
            ("2001:db8::/64", "2001:db8:0:1::", false),
            ("2001:db8::/65", "2001:db8::7fff:ffff:ffff:ffff", true),
            ("2001:db8::/65", "2001:db8::8000:0:0:0", false),
            ("2001:db8::1/128", "2001:db8::1", true),
            ("2001:db8::1/128", "2001:db8::2", false),
            ("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("::/0", "::", true),
        ]
    )
    func contains(range: String, address: String, expected: Bool) throws {
        let cidr = try CIDRRange(range)
        let ip = try #require(IPAddress(parsing: address))
        #expect(cidr.contains(ip) == expected)
    }

    @Test("an IPv4 range never contains an IPv6 address and vice versa")
    func familiesDoNotMix() throws {
        let allIPv4 = try CIDRRange("0.0.0.0/0")
        let allIPv6 = try CIDRRange("::/0")
        #expect(!allIPv4.contains(try #require(IPAddress(parsing: "::ffff:10.0.0.1"))))
        #expect(!allIPv4.contains(try #require(IPAddress(parsing: "::1"))))
        #expect(!allIPv6.contains(try #require(IPAddress(parsing: "10.0.0.1"))))
    }
}
