import Crypto
import Testing

@testable import CrumbCore

@Suite("IPAnonymizer")
struct IPAnonymizerTests {
    static let secret = (0..<32).map { UInt8($0) }
    static let jan1st2026: Int64 = 20_454

    static let edgeIPv4 = [
        "0.0.0.0", "255.255.255.255", "128.0.0.1", "1.2.3.4", "192.168.1.255", "127.0.0.1", "10.255.0.1",
        "203.0.113.7", "83.149.9.216", "0.0.0.1", "128.0.0.0", "127.255.255.255", "170.170.170.170", "85.85.85.85",
    ]
    static let edgeIPv6 = [
        "::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "8000::", "::8000:0:0:0", "7fff:ffff:ffff:ffff::",
        "0:0:0:1::", "2001:db8:1:2:3:4:5:6", "fe80::1:2:3:4", "2001:980:91c0:1:8d31:a232:25e5:85d",
        "aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa", "5555:5555:5555:5555:5555:5555:5555:5555",
        "::ffff:0:0:1", "::fffe:1.2.3.4", "0:0:0:0:ffff:ffff:ffff:ffff", "::1:ffff:102:304",
    ]

    // MARK: Masking, against a bit-by-bit reference

    /// Keeps the first `bits` of `address` by spelling it out as 128 booleans.
    static func referenceMask(_ address: IPAddress, bits: Int) -> IPAddress {
        var flags: [Bool] = []
        for byte in address.bytes {
            for bit in 0..<8 { flags.append((byte >> (7 - bit)) & 1 == 1) }
        }
        // IPv4 prefixes count from bit 96, the start of the 32-bit address.
        let keep = address.isIPv4 ? 96 + bits : bits
        for index in keep..<128 { flags[index] = false }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<64 { high = high << 1 | (flags[index] ? 1 : 0) }
        for index in 64..<128 { low = low << 1 | (flags[index] ? 1 : 0) }
        return IPAddress(high: high, low: low)
    }

    @Test("IPv4 masks: every prefix length", arguments: edgeIPv4)
    func masksIPv4(_ text: String) throws {
        let address = try #require(IPAddress.parse(text))
        #expect(address.isIPv4)
        for bits in 0...32 {
            let masked = address.masked(toPrefix: bits)
            #expect(masked == Self.referenceMask(address, bits: bits), "/\(bits)")
            #expect(masked.isIPv4)
            #expect(masked.masked(toPrefix: bits) == masked)
        }
        #expect(address.masked(toPrefix: 32) == address)
        #expect(address.masked(toPrefix: 0) == IPAddress(ipv4: 0, 0, 0, 0))
    }

    @Test("IPv6 masks: every prefix length", arguments: edgeIPv6)
    func masksIPv6(_ text: String) throws {
        let address = try #require(IPAddress.parse(text))
        #expect(!address.isIPv4)
        for bits in 0...128 {
            let masked = address.masked(toPrefix: bits)
            #expect(masked == Self.referenceMask(address, bits: bits), "/\(bits)")
            #expect(masked.masked(toPrefix: bits) == masked)
        }
        #expect(address.masked(toPrefix: 128) == address)
        #expect(address.masked(toPrefix: 0) == IPAddress(high: 0, low: 0))
    }

    @Test func masksRandomAddressesAtEveryPrefix() {
        var random = IPTestRandom(state: 99)
        for _ in 0..<300 {
            let address = IPAddressTests.randomAddress(using: &random)
            for bits in 0...(address.isIPv4 ? 32 : 128) {
                #expect(address.masked(toPrefix: bits) == Self.referenceMask(address, bits: bits))
            }
        }
    }

    // MARK: Truncate

    struct TruncateCase: Sendable, CustomTestStringConvertible {
        var address: String
        var ipv4Prefix = 24
        var ipv6Prefix = 48
        var expected: String
        var testDescription: String { "\(address) /\(ipv4Prefix) /\(ipv6Prefix) → \(expected)" }
    }

    @Test("truncate", arguments: [
        TruncateCase(address: "203.0.113.7", expected: "203.0.113.0"),
        TruncateCase(address: "::ffff:203.0.113.7", expected: "203.0.113.0"),
        TruncateCase(address: "83.149.9.216", ipv4Prefix: 16, expected: "83.149.0.0"),
        TruncateCase(address: "83.149.9.216", ipv4Prefix: 0, expected: "0.0.0.0"),
        TruncateCase(address: "83.149.9.216", ipv4Prefix: 32, expected: "83.149.9.216"),
        TruncateCase(address: "83.149.9.216", ipv4Prefix: 20, expected: "83.149.0.0"),
        TruncateCase(address: "2001:db8:1:2:3:4:5:6", expected: "2001:db8:1::"),
        TruncateCase(address: "2001:db8:1:2:3:4:5:6", ipv6Prefix: 64, expected: "2001:db8:1:2::"),
        TruncateCase(address: "2001:db8:1:2:3:4:5:6", ipv6Prefix: 0, expected: "::"),
        TruncateCase(address: "2001:db8:1:2:3:4:5:6", ipv6Prefix: 128, expected: "2001:db8:1:2:3:4:5:6"),
        TruncateCase(address: "2001:980:91c0:1:8d31:a232:25e5:85d", ipv6Prefix: 56, expected: "2001:980:91c0::"),
    ])
    func truncates(_ vector: TruncateCase) throws {
        var anonymizer = try IPAnonymizer(mode: .truncate(ipv4Prefix: vector.ipv4Prefix, ipv6Prefix: vector.ipv6Prefix), keyring: nil)
        let address = try #require(IPAddress.parse(vector.address))
        #expect(anonymizer.anonymize(address, day: Self.jan1st2026) == vector.expected)
        // A cached answer is the same answer.
        #expect(anonymizer.anonymize(address, day: Self.jan1st2026 + 400) == vector.expected)
    }

    @Test func dropGivesNothing() throws {
        var anonymizer = try IPAnonymizer(mode: .drop, keyring: nil)
        #expect(anonymizer.anonymize(IPAddress(ipv4: 1, 2, 3, 4), day: 0) == nil)
        #expect(anonymizer.anonymize(IPAddress.parse("::1")!, day: 0) == nil)
    }

    // MARK: Configuration

    @Test func hashWithoutAKeyIsRefused() {
        #expect(throws: IPAnonymizer.ConfigurationError(message: "--ip-mode hash needs a key: --key-file or CRUMB_KEY")) {
            try IPAnonymizer(mode: .hash, keyring: nil)
        }
    }

    @Test func prefixPreservingWithoutAKeyIsRefused() {
        #expect(throws: IPAnonymizer.ConfigurationError(message: "--ip-mode prefix-preserving needs a key: --key-file or CRUMB_KEY")) {
            try IPAnonymizer(mode: .prefixPreserving, keyring: nil)
        }
    }

    @Test(arguments: [
        (IPMode.drop, "drop", false), (.truncate(ipv4Prefix: 24, ipv6Prefix: 48), "truncate", false),
        (.hash, "hash", true), (.prefixPreserving, "prefix-preserving", true), (.keep, "keep", false),
    ])
    func modeNamesAndKeys(_ mode: IPMode, _ name: String, _ needsKey: Bool) {
        #expect(mode.name == name)
        #expect(mode.needsKey == needsKey)
    }

    @Test(arguments: [(-1, 48), (33, 48), (24, -1), (24, 129), (Int.min, 48), (24, Int.max)])
    func prefixesOutOfRangeAreRefused(_ ipv4Prefix: Int, _ ipv6Prefix: Int) {
        #expect(throws: IPAnonymizer.ConfigurationError.self) {
            try IPAnonymizer(mode: .truncate(ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix), keyring: nil)
        }
    }

    @Test func prefixErrorsNameTheFlag() {
        #expect(throws: IPAnonymizer.ConfigurationError(message: "--ipv4-prefix must be between 0 and 32, got 33")) {
            try IPAnonymizer(mode: .truncate(ipv4Prefix: 33, ipv6Prefix: 48), keyring: nil)
        }
        #expect(throws: IPAnonymizer.ConfigurationError(message: "--ipv6-prefix must be between 0 and 128, got 129")) {
            try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 129), keyring: nil)
        }
    }

    @Test func boundaryPrefixesAndEphemeralKeysAreAccepted() throws {
        _ = try IPAnonymizer(mode: .truncate(ipv4Prefix: 0, ipv6Prefix: 0), keyring: nil)
        _ = try IPAnonymizer(mode: .truncate(ipv4Prefix: 32, ipv6Prefix: 128), keyring: nil)
        _ = try IPAnonymizer(mode: .hash, keyring: .ephemeral())
        _ = try IPAnonymizer(mode: .prefixPreserving, keyring: .ephemeral())
        _ = try IPAnonymizer(mode: .keep, keyring: nil)
    }

    // MARK: Keep

    @Test func keepGivesTheAddressBack() throws {
        var anonymizer = try IPAnonymizer(mode: .keep, keyring: nil)
        for text in Self.edgeIPv4 + Self.edgeIPv6 {
            let address = try #require(IPAddress.parse(text))
            #expect(anonymizer.anonymize(address, day: Self.jan1st2026) == address.formatted)
            // A cached answer is the same answer, on any day.
            #expect(anonymizer.anonymize(address, day: Self.jan1st2026 + 400) == address.formatted)
        }
        #expect(anonymizer.anonymize(IPAddress.parse("::ffff:203.0.113.7")!, day: 0) == "203.0.113.7")
        #expect(anonymizer.anonymize(IPAddress.parse("2001:DB8:0:0:1::1")!, day: 0) == "2001:db8::1:0:0:1")
    }

    // MARK: Hash

    func hasher(_ rotation: Keyring.Rotation = .daily, secret: [UInt8] = secret) throws -> IPAnonymizer {
        try IPAnonymizer(mode: .hash, keyring: Keyring(secret: secret, rotation: rotation))
    }

    /// Values computed independently with Python's `hmac` module.
    @Test func hashMatchesKnownAnswers() throws {
        var daily = try hasher(.daily)
        #expect(daily.anonymize(IPAddress(ipv4: 192, 0, 2, 1), day: Self.jan1st2026) == "ip:d9155666a0e23f9426c61e70140af395")
        var monthly = try hasher(.monthly)
        #expect(monthly.anonymize(IPAddress.parse("2001:db8::1")!, day: Self.jan1st2026 + 20) == "ip:0d4d805bbfb0dd9d426d1c9e9cae80c4")
    }

    @Test func hashIsHMACOfTheAddressBytesUnderThePeriodKey() throws {
        let keyring = try Keyring(secret: Self.secret)
        var anonymizer = try IPAnonymizer(mode: .hash, keyring: keyring)
        var random = IPTestRandom(state: 2026)
        for _ in 0..<200 {
            let address = IPAddressTests.randomAddress(using: &random)
            let day = Self.jan1st2026 + Int64(random.next() % 5)
            let mac = HMAC<SHA256>.authenticationCode(for: address.bytes, using: keyring.periodKey(forDay: day))
            let expected = "ip:" + Array(mac).prefix(16).map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
            #expect(anonymizer.anonymize(address, day: day) == expected)
        }
    }

    @Test func tokensLookLikeTokensAndNotLikeAddresses() throws {
        var anonymizer = try hasher()
        for text in Self.edgeIPv4 + Self.edgeIPv6 {
            let address = try #require(IPAddress.parse(text))
            let anonymized = anonymizer.anonymize(address, day: Self.jan1st2026)
            let token = try #require(anonymized)
            #expect(token.hasPrefix("ip:"))
            #expect(token.count == 35)
            #expect(token.dropFirst(3).allSatisfy { "0123456789abcdef".contains($0) })
            #expect(!token.contains(address.formatted))
            #expect(!token.contains(text))
            #expect(!token.contains(address.bytes.suffix(4).map { String($0, radix: 16) }.joined()))
        }
    }

    @Test func dailyRotation() throws {
        var anonymizer = try hasher(.daily)
        let address = IPAddress(ipv4: 83, 149, 9, 216)
        let day = Self.jan1st2026
        let first = anonymizer.anonymize(address, day: day)
        #expect(anonymizer.anonymize(address, day: day) == first)
        let next = anonymizer.anonymize(address, day: day + 1)
        #expect(next != first)
        // Back to the first day: the period key is derived again, the token is the same as before.
        #expect(anonymizer.anonymize(address, day: day) == first)
        #expect(anonymizer.anonymize(address, day: day + 1) == next)
    }

    @Test func monthlyRotation() throws {
        var anonymizer = try hasher(.monthly)
        let address = IPAddress.parse("2001:980:91c0:1:8d31:a232:25e5:85d")!
        let january = anonymizer.anonymize(address, day: Self.jan1st2026)
        for day in Self.jan1st2026...(Self.jan1st2026 + 30) {
            #expect(anonymizer.anonymize(address, day: day) == january, "day \(day)")
        }
        let february = anonymizer.anonymize(address, day: Self.jan1st2026 + 31)
        #expect(february != january)
        #expect(anonymizer.anonymize(address, day: Self.jan1st2026 + 31 + 27) == february)
        #expect(anonymizer.anonymize(address, day: Self.jan1st2026 - 1) != january)
    }

    @Test func neverRotates() throws {
        var anonymizer = try hasher(.never)
        let address = IPAddress(ipv4: 10, 0, 0, 1)
        let token = anonymizer.anonymize(address, day: 0)
        for day in stride(from: Int64(-1_000), through: 30_000, by: 97) {
            #expect(anonymizer.anonymize(address, day: day) == token)
        }
    }

    @Test func differentKeysGiveDifferentTokens() throws {
        var first = try hasher(secret: Self.secret)
        var second = try hasher(secret: Self.secret.map { $0 &+ 1 })
        var ephemeral = try IPAnonymizer(mode: .hash, keyring: .ephemeral())
        for text in Self.edgeIPv4 + Self.edgeIPv6 {
            let address = IPAddress.parse(text)!
            let token = first.anonymize(address, day: Self.jan1st2026)
            #expect(token != second.anonymize(address, day: Self.jan1st2026))
            #expect(token != ephemeral.anonymize(address, day: Self.jan1st2026))
        }
    }

    @Test func differentAddressesGiveDifferentTokens() throws {
        var anonymizer = try hasher()
        var seen = Set<String>()
        for d in 0...255 {
            seen.insert(anonymizer.anonymize(IPAddress(ipv4: 192, 168, 1, UInt8(d)), day: Self.jan1st2026)!)
        }
        #expect(seen.count == 256)
        // IPv4 written either way is the same client.
        #expect(anonymizer.anonymize(IPAddress.parse("::ffff:1.2.3.4")!, day: 1) == anonymizer.anonymize(IPAddress.parse("1.2.3.4")!, day: 1))
    }

    /// Past the cache limit the cache is emptied; answers must not change.
    @Test func cacheOverflowKeepsAnswers() throws {
        var anonymizer = try hasher()
        var fresh = try hasher()
        let firstToken = anonymizer.anonymize(IPAddress(ipv4: 1, 1, 1, 1), day: 5)
        for index in 0...IPAnonymizer.cacheLimit {
            _ = anonymizer.anonymize(IPAddress(high: 1, low: UInt64(index)), day: 5)
        }
        #expect(anonymizer.anonymize(IPAddress(ipv4: 1, 1, 1, 1), day: 5) == firstToken)
        #expect(anonymizer.anonymize(IPAddress(high: 1, low: 77), day: 5) == fresh.anonymize(IPAddress(high: 1, low: 77), day: 5))
    }

    /// Repeated addresses come from the cache: far cheaper than the first, uncached pass.
    @Test func repeatedAddressesAreCheap() throws {
        var anonymizer = try hasher()
        let addresses = (0..<256).map { IPAddress(ipv4: 198, 51, 100, UInt8($0)) }
        let clock = ContinuousClock()
        let cold = clock.measure {
            for address in addresses { _ = anonymizer.anonymize(address, day: 9) }
        }
        // The fastest of a few warm passes, so that one preemption cannot fail the test.
        let warm = (0..<5).map { _ in
            clock.measure {
                for address in addresses { _ = anonymizer.anonymize(address, day: 9) }
            }
        }.min()!
        #expect(warm < cold)
    }

    @Test(arguments: [IPMode.hash, .prefixPreserving, .keep])
    func descriptionsHideKeysAndAddresses(_ mode: IPMode) throws {
        var anonymizer = try IPAnonymizer(mode: mode, keyring: Keyring(secret: Self.secret))
        let anonymized = anonymizer.anonymize(IPAddress(ipv4: 203, 0, 113, 7), day: 1)
        let output = try #require(anonymized)
        var dumped = ""
        dump(anonymizer, to: &dumped)
        for text in [String(describing: anonymizer), String(reflecting: anonymizer), dumped] {
            #expect(!text.contains("203.0.113.7"))
            #expect(!text.contains(output))
            #expect(!text.contains("ip:"))
            #expect(!text.contains("[0, 1, 2"))
        }
    }
}
