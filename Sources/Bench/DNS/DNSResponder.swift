import LookoutCore
import NIOCore

/// The farm's authoritative DNS logic for the zone `bench.test`: one query packet in, one answer
/// packet (or deliberately none) out. Pure, allocation-light, and total: any malformed packet is
/// dropped, never trusted.
///
/// Names (case-insensitive; the rule is picked by the first label):
/// - `nx-*.bench.test` → NXDOMAIN + SOA;  `servfail-*` → SERVFAIL;  `timeout-*` → no answer at all;
///   `empty-*` → NOERROR without answers (NODATA) + SOA
/// - `ip-A-B-C-D.bench.test` → A A.B.C.D (NXDOMAIN if A.B.C.D is not an IPv4 address)
/// - `v6-*.bench.test` → AAAA ::1; NODATA for other types
/// - any other name in the zone → A: one of the farm's HTTP addresses, picked by
///   `FNV-1a-64(lower-cased name without trailing dot) % addresses.count`, so distinct names spread
///   evenly and the same name always gets the same address (tests compute it the same way)
/// - fixed records for `dns` monitor tests (`fixedRecords`): `fixed.bench.test` has A 192.0.2.10,
///   AAAA 2001:db8::10, MX `10 mail.bench.test` and `20 backup.bench.test`, TXT `v=spf1 -all` and
///   `hello world` (two strings), NS `ns1.bench.test` and `ns2.bench.test`; `alias.bench.test` is a
///   CNAME of `target.bench.test` (an A question also gets target's A 192.0.2.20); NODATA for
///   the other types
/// - the apex `bench.test` → its SOA
/// - names outside the zone → REFUSED;  non-QUERY opcodes → NOTIMP
///
/// Negative answers carry the zone's SOA (TTL and minimum 30 s) so resolvers can cache them.
struct DNSResponder: Sendable {
    static let zone: [UInt8] = Array("bench.test".utf8)
    static let negativeTTL: UInt32 = 30

    enum RecordType: UInt16 {
        case a = 1
        case ns = 2
        case cname = 5
        case soa = 6
        case mx = 15
        case txt = 16
        case aaaa = 28
        case any = 255
    }

    enum ResponseCode: UInt16 {
        case noError = 0
        case formatError = 1
        case serverFailure = 2
        case nameError = 3
        case notImplemented = 4
        case refused = 5
    }

    /// What to do with one packet.
    enum Outcome: Equatable {
        /// The packet is not a query we understand: say nothing.
        case ignore
        /// A valid query that is deliberately left unanswered (`timeout-*`).
        case silence
        /// Send the bytes now written to the output buffer.
        case answer
    }

    let ttl: UInt32
    /// The farm's HTTP addresses, host order.
    let addresses: [UInt32]

    init(ttl: UInt32, addresses: [UInt32]) {
        precondition(!addresses.isEmpty, "the farm always has at least one address")
        self.ttl = ttl
        self.addresses = addresses
    }

    /// The address a zone name resolves to (shared with tests through the documented rule).
    static func hashedIndex(ofLowercasedName name: some Sequence<UInt8>, count: Int) -> Int {
        var hash = FNV1a64()
        hash.add(name)
        return Int(hash.value % UInt64(count))
    }

    func respond(to query: ByteBuffer, into output: inout ByteBuffer) -> Outcome {
        query.withUnsafeReadableBytes { respond(to: $0, into: &output) }
    }

    func respond(to packet: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> Outcome {
        guard packet.count >= 12 && packet.count <= 4096 else { return .ignore }
        func u16(_ offset: Int) -> UInt16 { UInt16(packet[offset]) << 8 | UInt16(packet[offset + 1]) }
        let flags = u16(2)
        guard flags & 0x8000 == 0 else { return .ignore }  // a response, not a query
        guard u16(4) == 1 else { return .ignore }  // exactly one question
        let opcode = (flags >> 11) & 0xF
        let recursionDesired = flags & 0x0100

        // The question name, lower-cased into dotted form; labels only (no compression in a question).
        var name: [UInt8] = []
        name.reserveCapacity(64)
        var offset = 12
        var labelStarts: [Int] = []  // offsets of each label's length byte in the packet
        while true {
            guard offset < packet.count else { return .ignore }
            let length = Int(packet[offset])
            if length == 0 {
                offset += 1
                break
            }
            guard length <= 63, offset + 1 + length <= packet.count else { return .ignore }
            labelStarts.append(offset)
            if !name.isEmpty { name.append(UInt8(ascii: ".")) }
            for index in (offset + 1)..<(offset + 1 + length) {
                let byte = packet[index]
                // A dot inside a label would make the dotted form ambiguous: refuse the packet.
                guard byte != UInt8(ascii: ".") else { return .ignore }
                name.append(byte >= 65 && byte <= 90 ? byte | 0x20 : byte)
            }
            guard name.count <= 253 else { return .ignore }
            offset += 1 + length
        }
        guard offset + 4 <= packet.count else { return .ignore }
        let questionType = u16(offset)
        let questionClass = u16(offset + 2)
        let questionEnd = offset + 4
        let question = UnsafeRawBufferPointer(rebasing: packet[12..<questionEnd])

        func header(_ code: ResponseCode, authoritative: Bool, answers: UInt16, authority: UInt16) {
            output.writeInteger(u16(0))  // id
            var responseFlags: UInt16 = 0x8000 | (opcode << 11) | recursionDesired | code.rawValue
            if authoritative { responseFlags |= 0x0400 }
            output.writeInteger(responseFlags)
            output.writeInteger(UInt16(1))
            output.writeInteger(answers)
            output.writeInteger(authority)
            output.writeInteger(UInt16(0))
            output.writeBytes(question)
        }

        guard opcode == 0 else {
            header(.notImplemented, authoritative: false, answers: 0, authority: 0)
            return .answer
        }
        // The zone apex inside the question, as a compression pointer target.
        let zoneLabelIndex = labelStarts.count - 2
        let inZone: Bool
        if name.count == Self.zone.count {
            inZone = name == Self.zone
        } else {
            inZone =
                name.count > Self.zone.count && name[name.count - Self.zone.count - 1] == UInt8(ascii: ".")
                && name[(name.count - Self.zone.count)...].elementsEqual(Self.zone)
        }
        guard inZone, questionClass == 1 || questionClass == 255 else {
            header(.refused, authoritative: false, answers: 0, authority: 0)
            return .answer
        }
        let zonePointer = UInt16(0xC000) | UInt16(labelStarts[zoneLabelIndex])

        func negative(_ code: ResponseCode) -> Outcome {
            header(code, authoritative: true, answers: 0, authority: 1)
            writeSOA(zonePointer: zonePointer, into: &output)
            return .answer
        }

        if name.count == Self.zone.count {
            // The apex: its SOA on request, no other data.
            guard questionType == RecordType.soa.rawValue else { return negative(.noError) }
            header(.noError, authoritative: true, answers: 1, authority: 0)
            writeSOA(zonePointer: zonePointer, into: &output)
            return .answer
        }

        if let records = Self.fixedRecords[name] {
            // A CNAME answers every question about its name (RFC 1034 §3.6.2).
            let wanted = records.filter {
                $0.type.rawValue == questionType || questionType == RecordType.any.rawValue || $0.type == .cname
            }
            guard !wanted.isEmpty else { return negative(.noError) }
            header(.noError, authoritative: true, answers: UInt16(wanted.count), authority: 0)
            for record in wanted {
                if let owner = record.owner {
                    output.writeBytes(Self.wireName(owner))
                    output.writeInteger(record.type.rawValue)
                    output.writeInteger(UInt16(1))
                    output.writeInteger(ttl)
                    output.writeInteger(UInt16(record.data.count))
                } else {
                    writeRecordHeader(type: record.type, length: UInt16(record.data.count), into: &output)
                }
                output.writeBytes(record.data)
            }
            return .answer
        }

        let firstLabel = name[..<(name.firstIndex(of: UInt8(ascii: ".")) ?? name.endIndex)]
        let wantsA = questionType == RecordType.a.rawValue || questionType == RecordType.any.rawValue
        let wantsAAAA = questionType == RecordType.aaaa.rawValue || questionType == RecordType.any.rawValue

        if firstLabel.starts(with: "nx-".utf8) { return negative(.nameError) }
        if firstLabel.starts(with: "timeout-".utf8) { return .silence }
        if firstLabel.starts(with: "servfail-".utf8) {
            header(.serverFailure, authoritative: true, answers: 0, authority: 0)
            return .answer
        }
        if firstLabel.starts(with: "empty-".utf8) { return negative(.noError) }
        if firstLabel.starts(with: "v6-".utf8) {
            guard wantsAAAA else { return negative(.noError) }
            header(.noError, authoritative: true, answers: 1, authority: 0)
            writeRecordHeader(type: .aaaa, length: 16, into: &output)
            output.writeInteger(UInt64(0))
            output.writeInteger(UInt64(1))
            return .answer
        }
        let address: UInt32
        if firstLabel.starts(with: "ip-".utf8) {
            guard let literal = Self.parseDashedIPv4(firstLabel.dropFirst(3)) else { return negative(.nameError) }
            address = literal
        } else {
            address = addresses[Self.hashedIndex(ofLowercasedName: name, count: addresses.count)]
        }
        guard wantsA else { return negative(.noError) }
        header(.noError, authoritative: true, answers: 1, authority: 0)
        writeRecordHeader(type: .a, length: 4, into: &output)
        output.writeInteger(address)
        return .answer
    }

    /// One fixed record: its type, its data on the wire, and its owner when it is not the
    /// question's name (the A record after a CNAME).
    struct FixedRecord: Sendable {
        var type: RecordType
        var data: [UInt8]
        var owner: String? = nil
    }

    /// The fixed records, by lower-cased name (see the type's documentation).
    static let fixedRecords: [[UInt8]: [FixedRecord]] = {
        func mx(_ preference: UInt16, _ host: String) -> [UInt8] {
            [UInt8(preference >> 8), UInt8(preference & 0xFF)] + wireName(host)
        }
        func txt(_ strings: [String]) -> [UInt8] {
            strings.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        }
        let fixed: [FixedRecord] = [
            FixedRecord(type: .a, data: [192, 0, 2, 10]),
            FixedRecord(type: .aaaa, data: [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x10]),
            FixedRecord(type: .mx, data: mx(10, "mail.bench.test")),
            FixedRecord(type: .mx, data: mx(20, "backup.bench.test")),
            FixedRecord(type: .txt, data: txt(["v=spf1 -all"])),
            FixedRecord(type: .txt, data: txt(["hello ", "world"])),
            FixedRecord(type: .ns, data: wireName("ns1.bench.test")),
            FixedRecord(type: .ns, data: wireName("ns2.bench.test")),
        ]
        let alias: [FixedRecord] = [
            FixedRecord(type: .cname, data: wireName("target.bench.test")),
            FixedRecord(type: .a, data: [192, 0, 2, 20], owner: "target.bench.test"),
        ]
        return [Array("fixed.bench.test".utf8): fixed, Array("alias.bench.test".utf8): alias]
    }()

    /// `a.b` as DNS labels, uncompressed: `1 a 1 b 0`.
    static func wireName(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// Owner name = the question name (pointer to offset 12), class IN, the configured TTL.
    private func writeRecordHeader(type: RecordType, length: UInt16, into output: inout ByteBuffer) {
        output.writeInteger(UInt16(0xC00C))
        output.writeInteger(type.rawValue)
        output.writeInteger(UInt16(1))
        output.writeInteger(ttl)
        output.writeInteger(length)
    }

    /// `bench.test. 30 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 30`
    private func writeSOA(zonePointer: UInt16, into output: inout ByteBuffer) {
        output.writeInteger(zonePointer)
        output.writeInteger(RecordType.soa.rawValue)
        output.writeInteger(UInt16(1))
        output.writeInteger(Self.negativeTTL)
        let mname: [UInt8] = [2] + Array("ns".utf8)
        let rname: [UInt8] = [10] + Array("hostmaster".utf8)
        output.writeInteger(UInt16(mname.count + 2 + rname.count + 2 + 20))
        output.writeBytes(mname)
        output.writeInteger(zonePointer)
        output.writeBytes(rname)
        output.writeInteger(zonePointer)
        output.writeInteger(UInt32(1))  // serial
        output.writeInteger(UInt32(3600))  // refresh
        output.writeInteger(UInt32(600))  // retry
        output.writeInteger(UInt32(86400))  // expire
        output.writeInteger(Self.negativeTTL)  // minimum: the negative-caching TTL
    }

    /// `169-254-169-254` → 169.254.169.254; nil unless exactly four decimal octets.
    static func parseDashedIPv4(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        for byte in text {
            if byte == UInt8(ascii: "-") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            } else if byte >= 48 && byte <= 57 {
                digits += 1
                current = current * 10 + UInt32(byte - 48)
                guard digits <= 3, current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }
}
