import Crypto

/// The run's secret and the per-period keys derived from it, for keyed pseudonyms of IPs and identifiers.
///
/// Tokens are HMAC-SHA-256 (RFC 2104, with SHA-256 from FIPS 180-4) under a key that changes with the
/// period, so the same visitor gets unlinkable tokens in different periods:
///
///     periodKey = HMAC-SHA-256(secret, "crumb/v1/period/" + periodLabel)
///
/// The secret comes from a key file or the environment, never from the policy file; without one, the
/// caller uses ``ephemeral(rotation:)`` and tokens are valid within that run only. Unkeyed hashes of IPs
/// are never used: all of IPv4 can be brute-forced in minutes.
///
/// The secret is never printed: `description`, `debugDescription` and reflection show only the
/// ``fingerprint``.
public struct Keyring: Sendable {
    /// How often the period key changes. Days and months are UTC calendar days and months.
    public enum Rotation: String, Sendable, CaseIterable {
        /// A new key every UTC day.
        case daily
        /// A new key every UTC calendar month.
        case monthly
        /// One key for all time: tokens link across the whole history.
        case never
    }

    /// A key that cannot be used. The message never contains key bytes.
    public struct KeyError: Error, Equatable, Sendable {
        /// What is wrong, e.g. "key is shorter than 16 bytes".
        public var message: String

        public init(message: String) {
            self.message = message
        }
    }

    /// The shortest accepted secret, in bytes (128 bits).
    public static let minimumSecretLength = 16

    /// Whether the secret was drawn at random for this run and written nowhere.
    public let isEphemeral: Bool
    /// How often the period key changes.
    public let rotation: Rotation

    // Kept as bytes rather than a `SymmetricKey`, which swift-crypto 3 does not mark `Sendable`.
    private let secret: [UInt8]

    /// Creates a keyring from a secret of at least ``minimumSecretLength`` bytes.
    ///
    /// - Throws: `KeyError` "key is shorter than 16 bytes" for a shorter secret.
    public init(secret: [UInt8], rotation: Rotation = .daily) throws(KeyError) {
        guard secret.count >= Self.minimumSecretLength else {
            throw KeyError(message: "key is shorter than \(Self.minimumSecretLength) bytes")
        }
        self.init(validSecret: secret, rotation: rotation, isEphemeral: false)
    }

    private init(validSecret: [UInt8], rotation: Rotation, isEphemeral: Bool) {
        self.secret = validSecret
        self.rotation = rotation
        self.isEphemeral = isEphemeral
    }

    /// A keyring with a random 32-byte secret from the system's secure random source, for one run.
    /// The secret is never written anywhere, so its tokens cannot be linked to any other run's.
    public static func ephemeral(rotation: Rotation = .daily) -> Keyring {
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Array($0) }
        return Keyring(validSecret: bytes, rotation: rotation, isEphemeral: true)
    }

    /// Creates a keyring from the contents of a key file.
    ///
    /// The file's text, trimmed of ASCII whitespace (space, tab, CR, LF), is read as:
    /// 1. hex, if it is 64 or more hex digits (either case) of even length: the decoded bytes
    ///    (`openssl rand -hex 32`);
    /// 2. otherwise base64 (RFC 4648 §4, `=` padding optional), if it decodes to 16 or more bytes
    ///    (`openssl rand -base64 32`);
    /// 3. otherwise the file's raw, untrimmed bytes, of which there must be at least 16
    ///    (`head -c 32 /dev/urandom`).
    ///
    /// - Throws: `KeyError` "key file is empty" or "key is shorter than 16 bytes".
    public init(keyFileContents: [UInt8], rotation: Rotation = .daily) throws(KeyError) {
        guard !keyFileContents.isEmpty else { throw KeyError(message: "key file is empty") }
        let text = KeyText.trimmingWhitespace(keyFileContents)
        if text.count >= 64, let decoded = KeyText.decodeHex(text) {
            try self.init(secret: decoded, rotation: rotation)
        } else if let decoded = KeyText.decodeBase64(text), decoded.count >= Self.minimumSecretLength {
            try self.init(secret: decoded, rotation: rotation)
        } else {
            try self.init(secret: keyFileContents, rotation: rotation)
        }
    }

    /// The label of the period holding UTC day number `day` (days since 1970-01-01):
    /// `d:2026-01-01` (daily), `m:2026-01` (monthly), `n` (never).
    public func periodLabel(forDay day: Int64) -> String {
        switch rotation {
        case .never:
            return "n"
        case .monthly:
            let date = CivilTime.civilFromDays(day)
            return "m:" + Self.padded(date.year, 4) + "-" + Self.padded(date.month, 2)
        case .daily:
            let date = CivilTime.civilFromDays(day)
            return "d:" + Self.padded(date.year, 4) + "-" + Self.padded(date.month, 2) + "-"
                + Self.padded(date.day, 2)
        }
    }

    /// A number that is equal for two days exactly when they are in the same period; cheaper than
    /// comparing labels.
    func periodIndex(forDay day: Int64) -> Int64 {
        switch rotation {
        case .never: 0
        case .daily: day
        case .monthly:
            Self.monthIndex(CivilTime.civilFromDays(day))
        }
    }

    private static func monthIndex(_ date: (year: Int64, month: Int64, day: Int64)) -> Int64 {
        date.year * 12 + date.month - 1
    }

    /// The key of the period holding UTC day number `day`:
    /// HMAC-SHA-256(secret, "crumb/v1/period/" + ``periodLabel(forDay:)``), 32 bytes.
    public func periodKey(forDay day: Int64) -> SymmetricKey {
        SymmetricKey(data: periodKeyBytes(forDay: day))
    }

    /// The bytes of ``periodKey(forDay:)``.
    func periodKeyBytes(forDay day: Int64) -> [UInt8] {
        mac(of: "crumb/v1/period/" + periodLabel(forDay: day))
    }

    /// A keyed fingerprint of the secret that is safe to publish (manifests record it, `merge` compares
    /// it): the first 16 bytes of HMAC-SHA-256(secret, "crumb/v1/fingerprint") as 32 lowercase hex digits.
    /// It identifies the key without revealing it or anything derived from it that tokens use.
    public var fingerprint: String {
        ASCII.lowercaseHex(mac(of: "crumb/v1/fingerprint").prefix(16))
    }

    /// HMAC-SHA-256(secret, label).
    private func mac(of label: String) -> [UInt8] {
        let code = HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: SymmetricKey(data: secret))
        return Array(code)
    }

    /// `value` in decimal, zero-padded to `width` digits (a `-` sign before the digits if negative).
    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padding = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }
}

extension Keyring: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `Keyring(fingerprint: …, rotation: daily)`, with `ephemeral` when it is; never the secret.
    public var description: String {
        "Keyring(fingerprint: \(fingerprint), rotation: \(rotation.rawValue)\(isEphemeral ? ", ephemeral" : ""))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["fingerprint": fingerprint, "rotation": rotation, "isEphemeral": isEphemeral])
    }
}

/// The text decodings a key file may use.
private enum KeyText {
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    static func trimmingWhitespace(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        var slice = bytes[...]
        while let first = slice.first, isWhitespace(first) { slice.removeFirst() }
        while let last = slice.last, isWhitespace(last) { slice.removeLast() }
        return slice
    }

    /// The bytes of an even number of hex digits (either case), or `nil`.
    static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var result = [UInt8]()
        result.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = ASCII.hexValue(text[index]), let low = ASCII.hexValue(text[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }

    /// The bytes of standard base64 (RFC 4648 §4), with or without `=` padding, or `nil` for anything
    /// else (other characters, a bad length, non-zero trailing bits).
    static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var body = text
        var padding = 0
        while body.last == UInt8(ascii: "="), padding < 2 {
            body.removeLast()
            padding += 1
        }
        guard !body.isEmpty, body.count % 4 != 1 else { return nil }
        if padding > 0, (body.count + padding) % 4 != 0 { return nil }
        var result = [UInt8]()
        result.reserveCapacity(body.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in body {
            guard let value = base64Value(byte) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                result.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero, as RFC 4648 §3.5 asks of canonical encoders.
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return result
    }

    static func base64Value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
