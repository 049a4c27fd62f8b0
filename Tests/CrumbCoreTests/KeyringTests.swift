import Crypto
import Testing

@testable import CrumbCore

@Suite("Keyring")
struct KeyringTests {
    /// The bytes 0x00...0x1f.
    static let secret = (0..<32).map { UInt8($0) }
    static let secretHex = hex(secret)

    /// UTC day numbers used below.
    static let jan1st2026: Int64 = 20_454

    @Test func refusesShortSecrets() throws {
        #expect(throws: Keyring.KeyError(message: "key is shorter than 16 bytes")) {
            try Keyring(secret: Array(repeating: 7, count: 15))
        }
        #expect(throws: Keyring.KeyError(message: "key is shorter than 16 bytes")) {
            try Keyring(secret: [])
        }
        let keyring = try Keyring(secret: Array(repeating: 7, count: 16))
        #expect(!keyring.isEphemeral)
        #expect(keyring.rotation == .daily)
    }

    /// Values computed independently with Python's `hmac` module.
    @Test func matchesKnownAnswers() throws {
        let keyring = try Keyring(secret: Self.secret)
        #expect(keyring.fingerprint == "13372795fdd45f622aa7aa6b51404369")
        let periodKey = keyring.periodKey(forDay: Self.jan1st2026).withUnsafeBytes { Array($0) }
        #expect(hex(periodKey) == "6aa390b7d356512512e1d8df2a9b8a59ad5d714bf83837d9e3ab2e88ec034f5b")
    }

    @Test func fingerprintIsStableKeyedAndNotTheKey() throws {
        let keyring = try Keyring(secret: Self.secret)
        let again = try Keyring(secret: Self.secret, rotation: .monthly)
        let other = try Keyring(secret: Self.secret.map { $0 ^ 0x80 })
        #expect(keyring.fingerprint == again.fingerprint)
        #expect(keyring.fingerprint != other.fingerprint)
        #expect(keyring.fingerprint.count == 32)
        #expect(keyring.fingerprint.allSatisfy { "0123456789abcdef".contains($0) })
        // Not the secret, nor any part of it, in hex.
        #expect(!Self.secretHex.hasPrefix(keyring.fingerprint))
        #expect(!Self.secretHex.contains(keyring.fingerprint))
        #expect(!keyring.fingerprint.hasPrefix(Self.secretHex.prefix(8)))
        let short = try Keyring(secret: Array(Self.secret[..<16]))
        #expect(short.fingerprint != Self.secretHex.prefix(32))
    }

    @Test func neverPrintsTheSecret() throws {
        let keyring = try Keyring(secret: Self.secret)
        var dumped = ""
        dump(keyring, to: &dumped)
        for text in [String(describing: keyring), String(reflecting: keyring), dumped, "\(keyring)"] {
            #expect(!text.contains(Self.secretHex.prefix(8)))
            #expect(!text.contains("[0, 1, 2"))
            #expect(text.contains(keyring.fingerprint))
        }
    }

    @Test func ephemeralKeyringsAreRandom() {
        let first = Keyring.ephemeral()
        let second = Keyring.ephemeral(rotation: .never)
        #expect(first.isEphemeral && second.isEphemeral)
        #expect(first.rotation == .daily && second.rotation == .never)
        #expect(first.fingerprint != second.fingerprint)
        #expect(first.fingerprint.count == 32)
    }

    // MARK: Key files

    struct KeyFileCase: Sendable, CustomTestStringConvertible {
        var name: String
        var contents: [UInt8]
        /// The secret the file must decode to.
        var secret: [UInt8]
        var testDescription: String { name }
    }

    static let random32: [UInt8] = (0..<32).map { UInt8(($0 * 37 + 11) % 256) }

    static let keyFileCases: [KeyFileCase] = [
        KeyFileCase(name: "hex", contents: Array(hex(random32).utf8), secret: random32),
        KeyFileCase(name: "hex + newline", contents: Array((hex(random32) + "\n").utf8), secret: random32),
        KeyFileCase(name: "HEX, padded", contents: Array(("  \t" + hex(random32).uppercased() + "\r\n").utf8), secret: random32),
        KeyFileCase(name: "hex, 48 bytes", contents: Array(hex(random32 + random32[..<16]).utf8), secret: random32 + random32[..<16]),
        // openssl rand -base64 32
        KeyFileCase(name: "base64 + newline", contents: Array((base64(random32) + "\n").utf8), secret: random32),
        KeyFileCase(name: "base64, no padding", contents: Array(base64(random32).replacingOccurrences("=", "").utf8), secret: random32),
        KeyFileCase(name: "base64, 16 bytes", contents: Array(base64(Array(random32[..<16])).utf8), secret: Array(random32[..<16])),
        // Raw bytes are used as they are, whitespace and all.
        KeyFileCase(name: "raw binary", contents: random32, secret: random32),
        KeyFileCase(name: "raw binary ending in a newline byte", contents: random32 + [0x0A], secret: random32 + [0x0A]),
        KeyFileCase(name: "passphrase", contents: Array("correct horse battery staple\n".utf8), secret: Array("correct horse battery staple\n".utf8)),
        // 62 hex digits is too short for hex, and with a "!" it is not base64 either: raw.
        KeyFileCase(name: "short hex is raw", contents: Array(hex(random32).dropLast(2).utf8) + [0x21], secret: Array(hex(random32).dropLast(2).utf8) + [0x21]),
    ]

    @Test("key file contents", arguments: keyFileCases)
    func readsKeyFiles(_ vector: KeyFileCase) throws {
        let fromFile = try Keyring(keyFileContents: vector.contents, rotation: .monthly)
        let expected = try Keyring(secret: vector.secret)
        #expect(fromFile.fingerprint == expected.fingerprint)
        #expect(fromFile.rotation == .monthly)
        #expect(!fromFile.isEphemeral)
    }

    @Test func refusesShortKeyFiles() {
        #expect(throws: Keyring.KeyError(message: "key file is empty")) {
            try Keyring(keyFileContents: [])
        }
        for contents in ["short\n", "c2hvcnQ=", "0011223344", "   \n"] {
            #expect(throws: Keyring.KeyError(message: "key is shorter than 16 bytes")) {
                try Keyring(keyFileContents: Array(contents.utf8))
            }
        }
    }

    // MARK: Periods

    struct PeriodCase: Sendable, CustomTestStringConvertible {
        var day: Int64
        var daily: String
        var monthly: String
        var testDescription: String { daily }
    }

    @Test("period labels", arguments: [
        PeriodCase(day: 0, daily: "d:1970-01-01", monthly: "m:1970-01"),
        PeriodCase(day: -1, daily: "d:1969-12-31", monthly: "m:1969-12"),
        PeriodCase(day: 19_782, daily: "d:2024-02-29", monthly: "m:2024-02"),
        PeriodCase(day: 20_454, daily: "d:2026-01-01", monthly: "m:2026-01"),
        PeriodCase(day: 20_453, daily: "d:2025-12-31", monthly: "m:2025-12"),
        PeriodCase(day: 11_016, daily: "d:2000-02-29", monthly: "m:2000-02"),
        PeriodCase(day: 2_932_896, daily: "d:9999-12-31", monthly: "m:9999-12"),
        PeriodCase(day: -719_162, daily: "d:0001-01-01", monthly: "m:0001-01"),
    ])
    func labelsPeriods(_ vector: PeriodCase) throws {
        #expect(try Keyring(secret: Self.secret, rotation: .daily).periodLabel(forDay: vector.day) == vector.daily)
        #expect(try Keyring(secret: Self.secret, rotation: .monthly).periodLabel(forDay: vector.day) == vector.monthly)
        #expect(try Keyring(secret: Self.secret, rotation: .never).periodLabel(forDay: vector.day) == "n")
    }

    @Test(arguments: Keyring.Rotation.allCases)
    func periodIndexAgreesWithLabels(_ rotation: Keyring.Rotation) throws {
        let keyring = try Keyring(secret: Self.secret, rotation: rotation)
        for day in Int64(-800)...Int64(800) {
            let sameLabel = keyring.periodLabel(forDay: day) == keyring.periodLabel(forDay: day + 1)
            let sameIndex = keyring.periodIndex(forDay: day) == keyring.periodIndex(forDay: day + 1)
            #expect(sameLabel == sameIndex, "day \(day)")
        }
    }

    @Test func periodKeysFollowTheRotation() throws {
        let daily = try Keyring(secret: Self.secret, rotation: .daily)
        let monthly = try Keyring(secret: Self.secret, rotation: .monthly)
        let never = try Keyring(secret: Self.secret, rotation: .never)
        func bytes(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }
        let day = Self.jan1st2026
        #expect(bytes(daily.periodKey(forDay: day)) == bytes(daily.periodKey(forDay: day)))
        #expect(bytes(daily.periodKey(forDay: day)) != bytes(daily.periodKey(forDay: day + 1)))
        #expect(bytes(monthly.periodKey(forDay: day)) == bytes(monthly.periodKey(forDay: day + 30)))
        #expect(bytes(monthly.periodKey(forDay: day)) != bytes(monthly.periodKey(forDay: day + 31)))
        #expect(bytes(never.periodKey(forDay: 0)) == bytes(never.periodKey(forDay: day)))
        #expect(bytes(daily.periodKey(forDay: day)).count == 32)
        #expect(bytes(daily.periodKey(forDay: day)) != Self.secret)
    }
}

// MARK: - Test helpers

/// Lowercase hex, two digits a byte.
private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}

/// Standard base64 with padding (RFC 4648 §4), the slow, obvious way.
private func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var bits = bytes.flatMap { byte in (0..<8).map { byte >> (7 - $0) & 1 } }
    while bits.count % 6 != 0 { bits.append(0) }
    var text = stride(from: 0, to: bits.count, by: 6).map { start in
        alphabet[Int(bits[start..<start + 6].reduce(0) { $0 << 1 | $1 })]
    }
    while text.count % 4 != 0 { text.append("=") }
    return String(text)
}
