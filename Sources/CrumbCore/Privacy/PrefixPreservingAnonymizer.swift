import Crypto
import _CryptoExtras

/// Prefix-preserving IP anonymization, Crypto-PAn: J. Xu, J. Fan, M. Ammar, S. Moon, "Prefix-Preserving
/// IP Address Anonymization: Measurement-based Security Evaluation and a New Cryptography-based Scheme"
/// (ICNP 2002), with AES-128 as the pseudorandom function, as in the authors' reference implementation.
///
/// Two addresses that share their first `k` bits are mapped to two addresses that share exactly their
/// first `k` bits, so network structure (same /24, same /48) survives while the addresses do not. The
/// mapping is a permutation of each address space: distinct inputs give distinct outputs.
///
/// The 32-byte secret is split in two: the first 16 bytes are the AES-128 key, the last 16 bytes are
/// encrypted with that key to form the 128-bit pad. Bit `i` of the result (0 is the most significant) is
/// bit `i` of the address XOR the first bit of AES(the address's first `i` bits followed by the pad's
/// bits from `i` on).
///
/// - IPv4 addresses (`isIPv4`, stored as `::ffff:a.b.c.d`) are anonymized within their 32 bits, which
///   sit at the start of the AES input, exactly as in the reference implementation; the result is IPv4.
/// - Every other address is anonymized over all 128 bits by the same rule (the first `i` address bits,
///   then the pad from bit `i` on), as in Yawning Angel's Go `cryptopan` package. The first 96 bits
///   are permuted like any others, so the addresses of one secret /96 map into `::ffff:0:0/96` and would
///   print as IPv4: a chance of 2^-96 for an address that does not know the secret.
///
/// Unlike a keyed hash, Crypto-PAn is reversible by whoever holds the secret, and an attacker who can
/// inject known addresses learns the mapping of the prefixes they share with others: it is
/// pseudonymization, not anonymization. A value type with no cache; ``IPAnonymizer`` caches its results.
///
/// - Complexity: one AES block operation per address bit, 32 for IPv4 and 128 for IPv6.
public struct PrefixPreservingAnonymizer: Sendable {
    /// The length of a Crypto-PAn secret: a 16-byte AES-128 key and 16 bytes for the pad.
    public static let secretLength = 32

    /// The label of the secret's derivation from a period key.
    static let derivationLabel = "crumb/v1/cryptopan"

    // Bytes, not a `SymmetricKey`, which swift-crypto 3 does not mark `Sendable`.
    private let aesKey: [UInt8]
    /// AES(key, last 16 bytes of the secret), big-endian halves.
    private let padHigh: UInt64
    private let padLow: UInt64

    /// Creates an anonymizer from a Crypto-PAn secret, or returns `nil` when `secret` is not exactly
    /// ``secretLength`` bytes long.
    public init?(secret: [UInt8]) {
        guard secret.count == Self.secretLength else { return nil }
        aesKey = Array(secret[0..<16])
        var pad = Array(secret[16..<32])
        // Safe to force-try: the block and the key are both 16 bytes, the only failures `permute` has.
        try! AES.permute(&pad, key: SymmetricKey(data: aesKey))
        padHigh = pad[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        padLow = pad[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Creates the anonymizer of the period holding UTC day number `day`, whose secret is
    /// HMAC-SHA-256(``Keyring/periodKey(forDay:)``, "crumb/v1/cryptopan"): the mapping changes when the
    /// keyring's period key does, and the mappings of two periods are independent. Whoever holds the
    /// keyring's secret can derive the period's secret and reverse the mapping.
    public init(keyring: Keyring, day: Int64) {
        let code = HMAC<SHA256>.authenticationCode(
            for: Array(Self.derivationLabel.utf8), using: SymmetricKey(data: keyring.periodKeyBytes(forDay: day)))
        // Safe to force-unwrap: HMAC-SHA-256 is 32 bytes, the secret length.
        self.init(secret: Array(code))!
    }

    /// The anonymized address: IPv4 within the 32-bit space, anything else over 128 bits.
    ///
    /// - Complexity: 32 AES block operations for IPv4, 128 for IPv6.
    public func anonymize(_ address: IPAddress) -> IPAddress {
        transform(address, positions: 0..<(address.isIPv4 ? 32 : 128), anonymizedPrefix: address)
    }

    /// The first `length` bits of the anonymized address, the rest zero.
    ///
    /// Bit `i` of the anonymized address depends only on the first `i + 1` bits of the address, so this is
    /// `anonymize(address).masked(toPrefix: length)` at the cost of only `length` AES operations.
    ///
    /// - Parameter length: `0...32` for IPv4, `0...128` otherwise, as in ``IPAddress/masked(toPrefix:)``.
    func anonymizedPrefix(of address: IPAddress, length: Int) -> IPAddress {
        transform(address, positions: 0..<length, anonymizedPrefix: address).masked(toPrefix: length)
    }

    /// The anonymized address, given the anonymized form of its first `start` bits (from
    /// ``anonymizedPrefix(of:length:)``, for instance cached per /24), so that only the bits from `start`
    /// on cost AES operations.
    ///
    /// - Parameters:
    ///   - address: The address to anonymize.
    ///   - start: How many leading bits `anonymizedPrefix` holds: `0...32` for IPv4, `0...128` otherwise.
    ///   - anonymizedPrefix: An address of the same family whose first `start` bits are those of the
    ///     anonymized address; its later bits are ignored.
    func anonymize(_ address: IPAddress, from start: Int, anonymizedPrefix: IPAddress) -> IPAddress {
        transform(address, positions: start..<(address.isIPv4 ? 32 : 128), anonymizedPrefix: anonymizedPrefix)
    }

    /// `address` with the bits before `positions` taken from `anonymizedPrefix`, the bits at `positions`
    /// flipped by the Crypto-PAn pad, and the bits after it unchanged.
    private func transform(_ address: IPAddress, positions: Range<Int>, anonymizedPrefix: IPAddress) -> IPAddress {
        let start = positions.lowerBound
        if address.isIPv4 {
            assert(positions.upperBound <= 32 && anonymizedPrefix.isIPv4)
            // The 32 bits go at the start of the AES input, where the reference implementation puts them.
            let bits = UInt64(address.ipv4Value) << 32
            let flips = oneTimePad(high: bits, low: 0, positions: positions)
            let prefix = UInt64(anonymizedPrefix.ipv4Value) << 32 & IPAddress.prefixMask(start)
            let result = prefix | (bits ^ flips.high) & ~IPAddress.prefixMask(start)
            return IPAddress(high: 0, low: IPAddress.ipv4MappedMarker << 32 | result >> 32)
        }
        assert(positions.upperBound <= 128 && !anonymizedPrefix.isIPv4)
        let flips = oneTimePad(high: address.high, low: address.low, positions: positions)
        let highMask = IPAddress.prefixMask(start)
        let lowMask = IPAddress.prefixMask(start - 64)
        return IPAddress(
            high: anonymizedPrefix.high & highMask | (address.high ^ flips.high) & ~highMask,
            low: anonymizedPrefix.low & lowMask | (address.low ^ flips.low) & ~lowMask)
    }

    /// The Crypto-PAn pad bits at `positions` of the 128-bit AES input whose halves are `high` and `low`,
    /// zero elsewhere: for each position `i`, the first bit of AES(first `i` bits of the input, then the
    /// pad's bits from `i` on), put at bit `i`.
    private func oneTimePad(high: UInt64, low: UInt64, positions: Range<Int>) -> (high: UInt64, low: UInt64) {
        var flipsHigh: UInt64 = 0
        var flipsLow: UInt64 = 0
        guard !positions.isEmpty else { return (0, 0) }
        let key = SymmetricKey(data: aesKey)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            var block = buffer
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for position in positions {
                let highMask = IPAddress.prefixMask(position)
                let lowMask = IPAddress.prefixMask(position - 64)
                raw.storeBytes(of: (high & highMask | padHigh & ~highMask).bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: (low & lowMask | padLow & ~lowMask).bigEndian, toByteOffset: 8, as: UInt64.self)
                // Safe to force-try: the block and the key are both 16 bytes.
                try! AES.permute(&block, key: key)
                let bit = UInt64(block[0] >> 7)
                if position < 64 {
                    flipsHigh |= bit << UInt64(63 - position)
                } else {
                    flipsLow |= bit << UInt64(127 - position)
                }
            }
        }
        return (flipsHigh, flipsLow)
    }
}

extension PrefixPreservingAnonymizer: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never the secret, the key or the pad.
    public var description: String { "PrefixPreservingAnonymizer()" }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
