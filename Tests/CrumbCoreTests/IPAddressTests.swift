import Testing

@testable import CrumbCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parser vector: the text and the canonical form it must parse to, or `nil` when it must be rejected.
struct IPParseCase: Sendable, CustomTestStringConvertible {
    var text: String
    var canonical: String?

    var testDescription: String { "\"\(text)\" → \(canonical.map { "\"\($0)\"" } ?? "nil")" }
}

private func valid(_ text: String, _ canonical: String) -> IPParseCase { IPParseCase(text: text, canonical: canonical) }
private func invalid(_ text: String) -> IPParseCase { IPParseCase(text: text, canonical: nil) }

/// A small deterministic PRNG (IPTestRandom), so that every run tests the same "random" addresses.
struct IPTestRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("IPAddress")
struct IPAddressTests {
    static let ipv4Cases: [IPParseCase] = [
        valid("0.0.0.0", "0.0.0.0"),
        valid("255.255.255.255", "255.255.255.255"),
        valid("83.149.9.216", "83.149.9.216"),
        valid("10.0.0.1", "10.0.0.1"),
        valid("192.168.100.200", "192.168.100.200"),
        invalid("256.1.1.1"),
        invalid("1.256.1.1"),
        invalid("1.2.3.256"),
        invalid("1.2.3"),
        invalid("1.2.3.4.5"),
        invalid("01.2.3.4"),
        invalid("1.2.3.00"),
        invalid("1.2.3.0001"),
        invalid("1..2.3"),
        invalid("1.2.3."),
        invalid(".1.2.3"),
        invalid(""),
        invalid("-"),
        invalid(" 1.2.3.4"),
        invalid("1.2.3.4 "),
        invalid("1.2.3.4\n"),
        invalid("+1.2.3.4"),
        invalid("1.2.3.-4"),
        invalid("1.2.3.4:80"),
        invalid("[1.2.3.4]"),
        invalid("0x1.2.3.4"),
        invalid("1234.1.1.1"),
        invalid("localhost"),
    ]

    static let ipv6Cases: [IPParseCase] = [
        valid("::", "::"),
        valid("::1", "::1"),
        valid("1::", "1::"),
        valid("2001:db8::", "2001:db8::"),
        valid("2001:980:91c0:1:8d31:a232:25e5:85d", "2001:980:91c0:1:8d31:a232:25e5:85d"),
        valid("fe80::1:2:3:4", "fe80::1:2:3:4"),
        valid("::ffff:192.0.2.1", "192.0.2.1"),
        valid("::FFFF:192.0.2.1", "192.0.2.1"),
        valid("0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1"),
        valid("64:ff9b::198.51.100.7", "64:ff9b::c633:6407"),
        valid("::192.0.2.1", "::c000:201"),
        valid("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        valid("[2001:db8::1]", "2001:db8::1"),
        valid("[::]", "::"),
        valid("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        valid("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        valid("2001:DB8::ABCD:EF01", "2001:db8::abcd:ef01"),
        valid("FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        valid("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        valid("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        // RFC 5952 §4 examples.
        valid("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        valid("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        valid("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        valid("2001:db8:0000:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        valid("2001:db8::0:1", "2001:db8::1"),
        valid("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
        valid("0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"),
        invalid(":::"),
        invalid("1::2::3"),
        invalid("::1::"),
        invalid("12345::"),
        invalid("1:2:3:4:5:6:7:8:9"),
        invalid("1:2:3:4:5:6:7:8::"),
        invalid("::1:2:3:4:5:6:7:8"),
        invalid("1:2:3:4:5:6:7"),
        invalid("2001:db8::g"),
        invalid("fe80::1%eth0"),
        invalid("fe80::1%1"),
        invalid("::ffff:1.2.3"),
        invalid("::ffff:1.2.3.256"),
        invalid("::ffff:01.2.3.4"),
        invalid("::1.2.3.4:5"),
        invalid("1:2:3:4:5:6:7:1.2.3.4"),
        invalid(":1::"),
        invalid("1:"),
        invalid(":1"),
        invalid("1::2:"),
        invalid("[2001:db8::1"),
        invalid("2001:db8::1]"),
        invalid("[2001:db8::1]:443"),
        invalid("[]"),
        invalid("["),
        invalid(" ::1"),
        invalid("::1 "),
        invalid("2001:db8:::1"),
    ]

    @Test("IPv4 parser vectors", arguments: ipv4Cases)
    func parsesIPv4(_ vector: IPParseCase) {
        let parsed = IPAddress.parse(vector.text)
        #expect(parsed?.formatted == vector.canonical)
        if let parsed { #expect(parsed.isIPv4) }
    }

    @Test("IPv6 parser vectors", arguments: ipv6Cases)
    func parsesIPv6(_ vector: IPParseCase) {
        #expect(IPAddress.parse(vector.text)?.formatted == vector.canonical)
    }

    @Test func parsesFromRawBytesWithoutCopying() {
        let line = Array("83.149.9.216 - - [17/May/2015:10:05:03 +0000]".utf8)
        let parsed = line.withUnsafeBytes { IPAddress.parse(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }
        #expect(parsed == IPAddress(ipv4: 83, 149, 9, 216))
        let empty = line.withUnsafeBytes { IPAddress.parse(UnsafeRawBufferPointer(rebasing: $0[0..<0])) }
        #expect(empty == nil)
    }

    @Test func storesIPv4AsMappedIPv6() {
        let address = IPAddress(ipv4: 192, 0, 2, 1)
        #expect(address.high == 0)
        #expect(address.low == 0x0000_FFFF_C000_0201)
        #expect(address.bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 1])
        #expect(address.isIPv4)
        #expect(IPAddress.parse("::ffff:192.0.2.1") == address)
        #expect(IPAddress.parse("::ffff:c000:201") == address)
        #expect(IPAddress.parse("::1")?.isIPv4 == false)
        #expect(IPAddress.parse("::c000:201")?.isIPv4 == false)
    }

    @Test func bytesAreNetworkOrder() {
        let address = IPAddress.parse("2001:db8:1:2:3:4:5:6")!
        #expect(address.high == 0x2001_0DB8_0001_0002)
        #expect(address.low == 0x0003_0004_0005_0006)
        #expect(address.bytes == [0x20, 0x01, 0x0D, 0xB8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])
    }

    @Test func formattedIsCanonicalForRandomAddresses() {
        var random = IPTestRandom(state: 0x5EED)
        for _ in 0..<20_000 {
            let address = Self.randomAddress(using: &random)
            let text = address.formatted
            #expect(IPAddress.parse(text) == address, "\(text)")
            #expect(text == Self.referenceFormat(address), "\(address.high) \(address.low)")
            #expect(text == text.lowercased())
        }
    }

    @Test func parsesNonCanonicalSpellingsOfRandomAddresses() {
        var random = IPTestRandom(state: 42)
        for _ in 0..<5_000 {
            let address = Self.randomAddress(using: &random)
            guard !address.isIPv4 else { continue }
            // Eight full groups, upper case, leading zeros kept.
            let full = (0..<8).map { index -> String in
                let hex = String(address.group(at: index), radix: 16, uppercase: true)
                return String(repeating: "0", count: 4 - hex.count) + hex
            }.joined(separator: ":")
            #expect(IPAddress.parse(full) == address, "\(full)")
            #expect(IPAddress.parse("[\(full)]") == address, "\(full)")
        }
    }

    /// Compares the parser with the C library's `inet_pton` on random short strings over the bytes that
    /// matter (digits, hex letters, `:`, `.`, brackets, `%`).
    @Test func agreesWithInetPtonOnRandomText() {
        let alphabet = Array("0123456789abcdefABCDEFg:.:.::[]% ".utf8)
        var random = IPTestRandom(state: 7)
        var accepted = 0
        for round in 0..<200_000 {
            let length = Int(random.next() % 18)
            var bytes = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            if round % 3 == 0 {
                // Splice in a plausible address so that the accepting paths are exercised too.
                bytes = Array(Self.randomAddress(using: &random).formatted.utf8) + bytes.prefix(Int(random.next() % 3))
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let ours = IPAddress.parse(text)
            let reference = Self.inetPton(text)
            #expect(ours == reference, "\(text)")
            if ours != nil { accepted += 1 }
        }
        #expect(accepted > 10_000)
    }

    // MARK: Helpers

    /// A random address, biased towards zero groups (to exercise "::") and IPv4.
    static func randomAddress(using random: inout IPTestRandom) -> IPAddress {
        switch random.next() % 4 {
        case 0:
            let v4 = random.next()
            return IPAddress(ipv4: UInt8(v4 & 0xFF), UInt8(v4 >> 8 & 0xFF), UInt8(v4 >> 16 & 0xFF), UInt8(v4 >> 24 & 0xFF))
        case 1:
            return IPAddress(high: random.next(), low: random.next())
        default:
            var halves: [UInt64] = [0, 0]
            for index in 0..<8 where random.next() % 2 == 0 {
                let group = random.next() % 3 == 0 ? random.next() & 0xF : random.next() & 0xFFFF
                halves[index / 4] |= group << UInt64(48 - 16 * (index % 4))
            }
            return IPAddress(high: halves[0], low: halves[1])
        }
    }

    /// RFC 5952 formatting, written the slow, obvious way.
    static func referenceFormat(_ address: IPAddress) -> String {
        let bytes = address.bytes
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return bytes[12...].map { String($0) }.joined(separator: ".")
        }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best: Range<Int>? = nil
        for start in 0..<8 {
            for end in stride(from: start + 2, through: 8, by: 1) where groups[start..<end].allSatisfy({ $0 == 0 }) {
                if end - start > (best?.count ?? 0) { best = start..<end }
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard let best else { return text.joined(separator: ":") }
        return text[..<best.lowerBound].joined(separator: ":") + "::" + text[best.upperBound...].joined(separator: ":")
    }

    /// The C library's reading of `text`, with this parser's rules on brackets.
    static func inetPton(_ text: String) -> IPAddress? {
        var text = text
        var family = text.contains(":") ? AF_INET6 : AF_INET
        if text.hasPrefix("[") {
            guard text.count >= 2, text.hasSuffix("]") else { return nil }
            text = String(text.dropFirst().dropLast())
            family = AF_INET6
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        let status = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        guard status == 1 else { return nil }
        if family == AF_INET { return IPAddress(ipv4: buffer[0], buffer[1], buffer[2], buffer[3]) }
        let high = buffer[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = buffer[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return IPAddress(high: high, low: low)
    }
}
