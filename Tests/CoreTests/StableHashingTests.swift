import Testing

@testable import LookoutCore

@Suite("Stable hashing: FNV-1a 64 and SplitMix64, the same in every process")
struct StableHashingTests {
    @Test(
        "FNV-1a 64 matches the published test vectors, fed at once or in pieces",
        arguments: [
            ("", 0xcbf2_9ce4_8422_2325 as UInt64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ])
    func fnvVectors(text: String, expected: UInt64) {
        #expect(FNV1a64.hash(text) == expected)
        var pieces = FNV1a64()
        for byte in text.utf8 { pieces.add(byte) }
        #expect(pieces.value == expected)
        let half = text.utf8.count / 2
        var prefix = FNV1a64()
        prefix.add(text.utf8.prefix(half))
        var continued = FNV1a64(continuingFrom: prefix.value)
        continued.add(text.utf8.dropFirst(half))
        #expect(continued.value == expected)
    }

    @Test("SplitMix64 from seed 0 gives the reference stream; mix is one step of a stream seeded with the value")
    func splitMixVectors() {
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xe220_a839_7b1d_cdaf)
        #expect(generator.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(SplitMix64.mix(0) == 0xe220_a839_7b1d_cdaf)
        var unit = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let value = unit.nextUnit()
            #expect(value >= 0 && value < 1)
        }
    }
}
