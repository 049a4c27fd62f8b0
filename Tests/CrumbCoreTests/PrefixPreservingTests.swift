import Crypto
import Testing
import _CryptoExtras

@testable import CrumbCore

@Suite("PrefixPreservingAnonymizer")
struct PrefixPreservingTests {
    static let jan1st2026: Int64 = 20_454
    static let secret = (0..<32).map { UInt8($0) }

    /// The sample key of the Crypto-PAn reference distribution (Xu, Fan, Ammar, Moon; `sample.cpp`).
    static let referenceSecret: [UInt8] = [
        21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
        216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
    ]

    struct Vector: Sendable, CustomTestStringConvertible {
        var address: String
        var anonymized: String
        var testDescription: String { "\(address) → \(anonymized)" }
    }

    /// The address pairs of `sample_trace_raw.dat` and `sample_trace_sanitized.dat` in the Crypto-PAn
    /// reference distribution, under ``referenceSecret``, as tabulated in the tests of Yawning Angel's Go
    /// package `cryptopan` (github.com/Yawning/cryptopan, `cryptopan_test.go`).
    static let ipv4Vectors: [Vector] = [
        ("128.11.68.132", "135.242.180.132"), ("129.118.74.4", "134.136.186.123"),
        ("130.132.252.244", "133.68.164.234"), ("141.223.7.43", "141.167.8.160"),
        ("141.233.145.108", "141.129.237.235"), ("152.163.225.39", "151.140.114.167"),
        ("156.29.3.236", "147.225.12.42"), ("165.247.96.84", "162.9.99.234"),
        ("166.107.77.190", "160.132.178.185"), ("192.102.249.13", "252.138.62.131"),
        ("192.215.32.125", "252.43.47.189"), ("192.233.80.103", "252.25.108.8"),
        ("192.41.57.43", "252.222.221.184"), ("193.150.244.223", "253.169.52.216"),
        ("195.205.63.100", "255.186.223.5"), ("198.200.171.101", "249.199.68.213"),
        ("198.26.132.101", "249.36.123.202"), ("198.36.213.5", "249.7.21.132"),
        ("198.51.77.238", "249.18.186.254"), ("199.217.79.101", "248.38.184.213"),
        ("202.49.198.20", "245.206.7.234"), ("203.12.160.252", "244.248.163.4"),
        ("204.184.162.189", "243.192.77.90"), ("204.202.136.230", "243.178.4.198"),
        ("204.29.20.4", "243.33.20.123"), ("205.178.38.67", "242.108.198.51"),
        ("205.188.147.153", "242.96.16.101"), ("205.188.248.25", "242.96.88.27"),
        ("205.245.121.43", "242.21.121.163"), ("207.105.49.5", "241.118.205.138"),
        ("207.135.65.238", "241.202.129.222"), ("207.155.9.214", "241.220.250.22"),
        ("207.188.7.45", "241.255.249.220"), ("207.25.71.27", "241.33.119.156"),
        ("207.33.151.131", "241.1.233.131"), ("208.147.89.59", "227.237.98.191"),
        ("208.234.120.210", "227.154.67.17"), ("208.28.185.184", "227.39.94.90"),
        ("208.52.56.122", "227.8.63.165"), ("209.12.231.7", "226.243.167.8"),
        ("209.238.72.3", "226.6.119.243"), ("209.246.74.109", "226.22.124.76"),
        ("209.68.60.238", "226.184.220.233"), ("209.85.249.6", "226.170.70.6"),
        ("212.120.124.31", "228.135.163.231"), ("212.146.8.236", "228.19.4.234"),
        ("212.186.227.154", "228.59.98.98"), ("212.204.172.118", "228.71.195.169"),
        ("212.206.130.201", "228.69.242.193"), ("216.148.237.145", "235.84.194.111"),
        ("216.157.30.252", "235.89.31.26"), ("216.184.159.48", "235.96.225.78"),
        ("216.227.10.221", "235.28.253.36"), ("216.254.18.172", "235.7.16.162"),
        ("216.32.132.250", "235.192.139.38"), ("216.35.217.178", "235.195.157.81"),
        ("24.0.250.221", "100.15.198.226"), ("24.13.62.231", "100.2.192.247"),
        ("24.14.213.138", "100.1.42.141"), ("24.5.0.80", "100.9.15.210"),
        ("24.7.198.88", "100.10.6.25"), ("24.94.26.44", "100.88.228.35"),
        ("38.15.67.68", "64.3.66.187"), ("4.3.88.225", "124.60.155.63"),
        ("63.14.55.111", "95.9.215.7"), ("63.195.241.44", "95.179.238.44"),
        ("63.97.7.140", "95.97.9.123"), ("64.14.118.196", "0.255.183.58"),
        ("64.34.154.117", "0.221.154.117"), ("64.39.15.238", "0.219.7.41"),
    ].map { Vector(address: $0.0, anonymized: $0.1) }

    /// IPv6 under ``referenceSecret`` with the same 128-bit extension (address bits, then pad bits), from
    /// the same Go package's tests. Not part of the reference distribution, which is IPv4 only.
    static let ipv6Vectors: [Vector] = [
        ("::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"),
        ("::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"),
        ("::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"),
        ("2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"),
        ("2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"),
    ].map { Vector(address: $0.0, anonymized: $0.1) }

    static var reference: PrefixPreservingAnonymizer { PrefixPreservingAnonymizer(secret: referenceSecret)! }

    // MARK: Known answers

    @Test("reference distribution, IPv4", arguments: ipv4Vectors)
    func matchesTheReferenceTraceIPv4(_ vector: Vector) throws {
        let address = try #require(IPAddress.parse(vector.address))
        let anonymized = Self.reference.anonymize(address)
        #expect(anonymized.formatted == vector.anonymized)
        #expect(anonymized.isIPv4)
        #expect(Self.slowReference(address, secret: Self.referenceSecret) == anonymized)
    }

    @Test("Go cryptopan, IPv6", arguments: ipv6Vectors)
    func matchesTheGoPackageIPv6(_ vector: Vector) throws {
        let address = try #require(IPAddress.parse(vector.address))
        let anonymized = Self.reference.anonymize(address)
        #expect(anonymized.formatted == vector.anonymized)
        #expect(Self.slowReference(address, secret: Self.referenceSecret) == anonymized)
    }

    @Test func secretsOfOtherLengthsAreRefused() {
        for length in [0, 16, 31, 33, 64] {
            #expect(PrefixPreservingAnonymizer(secret: Array(repeating: 7, count: length)) == nil, "\(length)")
        }
    }

    // MARK: Against a slow reference

    /// Crypto-PAn spelled out bit by bit, as the paper describes it: the address and the pad as arrays of
    /// booleans, one AES input built per bit. IPv4 uses the first 32 bits of the AES input.
    static func slowReference(_ address: IPAddress, secret: [UInt8]) -> IPAddress {
        func bits(_ bytes: [UInt8]) -> [Bool] {
            bytes.flatMap { byte in (0..<8).map { byte >> (7 - $0) & 1 == 1 } }
        }
        func bytes(_ bits: [Bool]) -> [UInt8] {
            stride(from: 0, to: bits.count, by: 8).map { start in
                bits[start..<start + 8].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }
            }
        }
        let key = SymmetricKey(data: secret[0..<16])
        var padBytes = Array(secret[16..<32])
        try! AES.permute(&padBytes, key: key)
        let pad = bits(padBytes)
        let original = address.isIPv4 ? Array(bits(address.bytes)[96...]) : bits(address.bytes)
        var result = original
        for position in original.indices {
            var input = bytes(Array(original[..<position]) + pad[position...])
            try! AES.permute(&input, key: key)
            result[position] = original[position] != (input[0] >> 7 == 1)
        }
        let out = bytes(result)
        if address.isIPv4 { return IPAddress(ipv4: out[0], out[1], out[2], out[3]) }
        let high = out[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = out[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return IPAddress(high: high, low: low)
    }

    @Test func matchesTheSlowReferenceOnEdgeAndRandomAddresses() throws {
        let anonymizer = PrefixPreservingAnonymizer(secret: Self.secret)!
        var addresses = try (IPAnonymizerTests.edgeIPv4 + IPAnonymizerTests.edgeIPv6).map { try #require(IPAddress.parse($0)) }
        var random = IPTestRandom(state: 0xC0FFEE)
        for _ in 0..<100 { addresses.append(IPAddressTests.randomAddress(using: &random)) }
        for address in addresses {
            #expect(anonymizer.anonymize(address) == Self.slowReference(address, secret: Self.secret), "\(address)")
        }
    }

    /// The shortcut ``IPAnonymizer`` takes with its /24 and /64 caches, tried at every prefix length.
    @Test func resumingFromAnAnonymizedPrefixGivesTheSameAnswer() throws {
        let anonymizer = PrefixPreservingAnonymizer(secret: Self.secret)!
        for text in IPAnonymizerTests.edgeIPv4 + IPAnonymizerTests.edgeIPv6 + ["203.0.113.77", "2001:db8:5:6:7:8:9:a"] {
            let address = try #require(IPAddress.parse(text))
            let whole = anonymizer.anonymize(address)
            for start in 0...(address.isIPv4 ? 32 : 128) {
                let prefix = anonymizer.anonymizedPrefix(of: address, length: start)
                #expect(prefix == whole.masked(toPrefix: start), "\(text) /\(start)")
                #expect(anonymizer.anonymize(address.masked(toPrefix: start)).masked(toPrefix: start) == prefix)
                #expect(anonymizer.anonymize(address, from: start, anonymizedPrefix: prefix) == whole, "\(text) /\(start)")
            }
        }
    }

    // MARK: Properties, through IPAnonymizer

    func keyed(_ rotation: Keyring.Rotation = .daily, secret: [UInt8] = secret) throws -> IPAnonymizer {
        try IPAnonymizer(mode: .prefixPreserving, keyring: Keyring(secret: secret, rotation: rotation))
    }

    /// The anonymized address `anonymizer` gives for `address` on `day`, parsed back from its text.
    static func anonymized(_ address: IPAddress, by anonymizer: inout IPAnonymizer, day: Int64 = jan1st2026) throws -> IPAddress {
        let text = try #require(anonymizer.anonymize(address, day: day) as String?)
        return try #require(IPAddress.parse(text))
    }

    /// The number of leading bits two addresses of one family share, counted within 32 bits for IPv4.
    static func commonPrefixLength(_ a: IPAddress, _ b: IPAddress) -> Int {
        if a.isIPv4 { return (a.ipv4Value ^ b.ipv4Value).leadingZeroBitCount }
        let high = (a.high ^ b.high).leadingZeroBitCount
        return high < 64 ? high : 64 + (a.low ^ b.low).leadingZeroBitCount
    }

    /// `address` with bit `position` flipped and the bits after it random, so that the two share exactly
    /// `position` leading bits.
    static func partner(of address: IPAddress, differingAt position: Int, using random: inout IPTestRandom) -> IPAddress {
        if address.isIPv4 {
            let flip = UInt32(1) << UInt32(31 - position)
            let keep = ~(flip &* 2 &- 1)  // the bits before `position`
            let v4 = address.ipv4Value & keep | ~address.ipv4Value & flip | UInt32(truncatingIfNeeded: random.next()) & (flip &- 1)
            return IPAddress(ipv4: UInt8(v4 >> 24), UInt8(v4 >> 16 & 0xFF), UInt8(v4 >> 8 & 0xFF), UInt8(v4 & 0xFF))
        }
        var high = address.high
        var low = address.low
        if position < 64 {
            let flip = UInt64(1) << UInt64(63 - position)
            high = high & ~(flip &* 2 &- 1) | ~high & flip | random.next() & (flip &- 1)
            low = random.next()
        } else {
            let flip = UInt64(1) << UInt64(127 - position)
            low = low & ~(flip &* 2 &- 1) | ~low & flip | random.next() & (flip &- 1)
        }
        let result = IPAddress(high: high, low: low)
        // The /96 of IPv4-mapped addresses is not IPv6; a random 128-bit address lands there with odds 2^-96.
        precondition(!result.isIPv4)
        return result
    }

    @Test(arguments: [true, false])
    func prefixesArePreservedExactly(ipv4: Bool) throws {
        var anonymizer = try keyed()
        var random = IPTestRandom(state: ipv4 ? 4 : 6)
        let width = ipv4 ? 32 : 128
        var lengthsSeen = Set<Int>()
        for pair in 0..<2_500 {
            let first: IPAddress
            if ipv4 {
                let v4 = random.next()
                first = IPAddress(ipv4: UInt8(v4 & 0xFF), UInt8(v4 >> 8 & 0xFF), UInt8(v4 >> 16 & 0xFF), UInt8(v4 >> 24 & 0xFF))
            } else {
                first = IPAddress(high: random.next() | 1 << 63, low: random.next())
            }
            // Half the pairs differ at a uniformly drawn bit, so every prefix length is tried; the rest at
            // random, as unrelated clients do.
            let second: IPAddress
            if pair % 2 == 0 {
                second = Self.partner(of: first, differingAt: Int(random.next() % UInt64(width)), using: &random)
            } else if ipv4 {
                let v4 = random.next()
                second = IPAddress(ipv4: UInt8(v4 & 0xFF), UInt8(v4 >> 8 & 0xFF), UInt8(v4 >> 16 & 0xFF), UInt8(v4 >> 24 & 0xFF))
            } else {
                second = IPAddress(high: random.next() | 1 << 63, low: random.next())
            }
            let firstOut = try Self.anonymized(first, by: &anonymizer)
            let secondOut = try Self.anonymized(second, by: &anonymizer)
            #expect(firstOut.isIPv4 == ipv4 && secondOut.isIPv4 == ipv4)
            let shared = Self.commonPrefixLength(first, second)
            lengthsSeen.insert(shared)
            #expect(Self.commonPrefixLength(firstOut, secondOut) == shared, "\(first) \(second)")
        }
        // Every prefix length but "equal" (32 or 128) was exercised.
        #expect(lengthsSeen.count >= width - 1)
    }

    @Test func aWholeSlash16MapsOneToOneIntoOneSlash16() throws {
        var anonymizer = try keyed()
        var seen = Set<IPAddress>()
        var networks = Set<IPAddress>()
        for c in 0...255 {
            for d in 0...255 {
                let output = try Self.anonymized(IPAddress(ipv4: 10, 1, UInt8(c), UInt8(d)), by: &anonymizer)
                #expect(output.isIPv4)
                seen.insert(output)
                networks.insert(output.masked(toPrefix: 16))
            }
        }
        #expect(seen.count == 65_536)
        #expect(networks.count == 1)
    }

    @Test func distinctIPv6AddressesStayDistinct() throws {
        var anonymizer = try keyed()
        var random = IPTestRandom(state: 0x1DEA)
        var inputs = Set<IPAddress>()
        var outputs = Set<IPAddress>()
        // A few /64s with many hosts each, as privacy addresses give, and unrelated addresses.
        let networks = (0..<8).map { _ in random.next() | 1 << 61 }
        for index in 0..<3_000 {
            let address = index % 3 == 0
                ? IPAddress(high: random.next() | 1 << 62, low: random.next())
                : IPAddress(high: networks[index % networks.count], low: random.next())
            guard inputs.insert(address).inserted else { continue }
            outputs.insert(try Self.anonymized(address, by: &anonymizer))
        }
        #expect(outputs.count == inputs.count)
    }

    @Test func familiesArePreserved() throws {
        var anonymizer = try keyed()
        for text in IPAnonymizerTests.edgeIPv4 + IPAnonymizerTests.edgeIPv6 {
            let address = try #require(IPAddress.parse(text))
            let output = try Self.anonymized(address, by: &anonymizer)
            #expect(output.isIPv4 == address.isIPv4, "\(text) → \(output)")
        }
        // IPv4 written either way is the same client.
        #expect(anonymizer.anonymize(IPAddress.parse("::ffff:1.2.3.4")!, day: 1) == anonymizer.anonymize(IPAddress.parse("1.2.3.4")!, day: 1))
    }

    /// The secret of a period is HMAC-SHA-256(period key, "crumb/v1/cryptopan").
    @Test func theSecretIsDerivedFromThePeriodKey() throws {
        let keyring = try Keyring(secret: Self.secret, rotation: .daily)
        var anonymizer = try IPAnonymizer(mode: .prefixPreserving, keyring: keyring)
        for day in Self.jan1st2026..<(Self.jan1st2026 + 3) {
            let code = HMAC<SHA256>.authenticationCode(for: Array("crumb/v1/cryptopan".utf8), using: keyring.periodKey(forDay: day))
            let expected = try #require(PrefixPreservingAnonymizer(secret: Array(code)))
            for text in ["192.0.2.1", "2001:db8::1", "83.149.9.216"] {
                let address = try #require(IPAddress.parse(text))
                #expect(anonymizer.anonymize(address, day: day) == Self.slowReference(address, secret: Array(code)).formatted)
                #expect(anonymizer.anonymize(address, day: day) == expected.anonymize(address).formatted)
            }
        }
    }

    // MARK: Periods and keys

    static let sample = ["83.149.9.216", "203.0.113.7", "10.0.0.1", "2001:db8:1:2:3:4:5:6", "2001:980:91c0:1:8d31:a232:25e5:85d"]
        .map { IPAddress.parse($0)! }

    @Test func dailyRotation() throws {
        var anonymizer = try keyed(.daily)
        let day = Self.jan1st2026
        let first = Self.sample.map { anonymizer.anonymize($0, day: day) }
        #expect(Self.sample.map { anonymizer.anonymize($0, day: day) } == first)
        let next = Self.sample.map { anonymizer.anonymize($0, day: day + 1) }
        for (a, b) in zip(first, next) { #expect(a != b) }
        // Back to the first day: the mapping is derived again and is the same as before.
        #expect(Self.sample.map { anonymizer.anonymize($0, day: day) } == first)
        #expect(Self.sample.map { anonymizer.anonymize($0, day: day + 1) } == next)
        var fresh = try keyed(.daily)
        #expect(Self.sample.map { fresh.anonymize($0, day: day + 1) } == next)
    }

    @Test func monthlyAndNeverRotation() throws {
        var monthly = try keyed(.monthly)
        let january = Self.sample.map { monthly.anonymize($0, day: Self.jan1st2026) }
        for day in Self.jan1st2026...(Self.jan1st2026 + 30) {
            #expect(Self.sample.map { monthly.anonymize($0, day: day) } == january, "day \(day)")
        }
        let february = Self.sample.map { monthly.anonymize($0, day: Self.jan1st2026 + 31) }
        for (a, b) in zip(january, february) { #expect(a != b) }

        var never = try keyed(.never)
        let always = Self.sample.map { never.anonymize($0, day: 0) }
        for day in stride(from: Int64(-1_000), through: 30_000, by: 997) {
            #expect(Self.sample.map { never.anonymize($0, day: day) } == always)
        }
    }

    @Test func differentKeysGiveDifferentMappings() throws {
        var first = try keyed(secret: Self.secret)
        var second = try keyed(secret: Self.secret.map { $0 &+ 1 })
        var ephemeral = try IPAnonymizer(mode: .prefixPreserving, keyring: .ephemeral())
        for address in Self.sample {
            let output = first.anonymize(address, day: Self.jan1st2026)
            #expect(output != second.anonymize(address, day: Self.jan1st2026))
            #expect(output != ephemeral.anonymize(address, day: Self.jan1st2026))
        }
    }

    /// Past the cache limits both caches (addresses and /24s) are emptied; answers must not change.
    @Test func cacheOverflowKeepsAnswers() throws {
        var anonymizer = try keyed()
        var fresh = try keyed()
        let probe = IPAddress(ipv4: 1, 1, 1, 1)
        let first = anonymizer.anonymize(probe, day: 5)
        // One address in each of cacheLimit + 1 different /24s.
        for index in 0...IPAnonymizer.cacheLimit {
            _ = anonymizer.anonymize(IPAddress(ipv4: 20 + UInt8(index >> 16), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF), 1), day: 5)
        }
        #expect(anonymizer.anonymize(probe, day: 5) == first)
        let other = IPAddress(ipv4: 20, 0, 77, 5)
        #expect(anonymizer.anonymize(other, day: 5) == fresh.anonymize(other, day: 5))
    }

    @Test func descriptionsHideTheSecret() throws {
        let anonymizer = PrefixPreservingAnonymizer(secret: Self.referenceSecret)!
        var dumped = ""
        dump(anonymizer, to: &dumped)
        for text in [String(describing: anonymizer), String(reflecting: anonymizer), dumped] {
            #expect(!text.contains("21"))
            #expect(!text.contains("aesKey"))
            #expect(!text.contains("pad"))
        }
    }
}
