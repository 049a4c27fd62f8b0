import Crypto

/// What happens to a client IP address (DESIGN.md, "Policy": `ip`).
public enum IPMode: Sendable, Equatable {
    /// The address is removed.
    case drop
    /// The address keeps only its network prefix: the first `ipv4Prefix` bits of an IPv4 address, the
    /// first `ipv6Prefix` bits of an IPv6 address. The policy's defaults are 24 and 48.
    case truncate(ipv4Prefix: Int, ipv6Prefix: Int)
    /// The address becomes a keyed pseudonym, HMAC-SHA-256 under the period key (see ``Keyring``).
    case hash
    /// The address becomes another address of the same family, by Crypto-PAn under a secret derived
    /// from the period key (see ``PrefixPreservingAnonymizer``): addresses that share a k-bit prefix get
    /// results that share exactly a k-bit prefix, so network structure survives within a period.
    case prefixPreserving
    /// The address is kept as it is. It is personal data: a policy has to choose this explicitly.
    case keep

    /// The mode's name in a policy file, on the command line (`--ip-mode`) and in a manifest: `drop`,
    /// `truncate`, `hash`, `prefix-preserving`, `keep`.
    public var name: String {
        switch self {
        case .drop: "drop"
        case .truncate: "truncate"
        case .hash: "hash"
        case .prefixPreserving: "prefix-preserving"
        case .keep: "keep"
        }
    }

    /// Whether the mode needs a ``Keyring``: `hash` and `prefix-preserving`.
    public var needsKey: Bool {
        switch self {
        case .hash, .prefixPreserving: true
        case .drop, .truncate, .keep: false
        }
    }
}

/// Anonymizes client IP addresses according to the run's ``IPMode``.
///
/// A value owned by one worker: it keeps a cache of the tokens it has produced, because IPs repeat a lot
/// in access logs (one client, many requests). It is not shared across threads; each worker makes its own.
///
/// - `drop`: `nil`.
/// - `truncate`: the masked address, formatted (`203.0.113.0`, `2001:db8:1::`).
/// - `hash`: `ip:` and 32 lowercase hex digits, the first 16 bytes of HMAC-SHA-256 (RFC 2104) under
///   ``Keyring/periodKey(forDay:)`` of the 16 address bytes (IPv4 as `::ffff:a.b.c.d`). The same address
///   gets the same token within a period and unlinkable tokens across periods.
/// - `prefixPreserving`: the Crypto-PAn image of the address, formatted (IPv4 stays IPv4), under
///   ``PrefixPreservingAnonymizer/init(keyring:day:)``: the same mapping within a period, a new one in
///   each period.
/// - `keep`: the address, formatted. Personal data, kept only when a policy says so.
public struct IPAnonymizer: Sendable {
    /// A mode that cannot be run.
    public struct ConfigurationError: Error, Equatable, Sendable {
        /// What is wrong, naming the flag to fix.
        public var message: String

        public init(message: String) {
            self.message = message
        }
    }

    /// The most entries a cache holds before it is emptied; bounds memory on inputs with many distinct
    /// addresses (a scan, a flood), at the price of recomputing tokens.
    public static let cacheLimit = 1 << 16

    /// The mode this anonymizer applies.
    public let mode: IPMode
    private let keyring: Keyring?

    /// The cached results: for `hash` and `prefixPreserving`, of the period `cachedPeriod`; for
    /// `truncate` and `keep`, of all time.
    private var cache: [IPAddress: String] = [:]
    /// For `prefixPreserving`, of the period `cachedPeriod`: the anonymized /24 of an IPv4 address and
    /// the anonymized /64 of an IPv6 address, keyed by the masked original. Clients crowd into a few
    /// networks, so a new address in a known network costs 8 (IPv4) or 64 (IPv6) AES operations, not
    /// 32 or 128.
    private var prefixCache: [IPAddress: IPAddress] = [:]
    /// The day of the last `anonymize` call, so that a run of same-day events skips the period check.
    private var cachedDay: Int64?
    /// ``Keyring/periodIndex(forDay:)`` of the cached period.
    private var cachedPeriod: Int64?
    /// The key of the cached period, as bytes (`SymmetricKey` is not `Sendable` in swift-crypto 3).
    private var periodKey: [UInt8] = []
    /// For `prefixPreserving`, the Crypto-PAn mapping of the cached period.
    private var prefixPreserver: PrefixPreservingAnonymizer?

    /// Validates `mode` and creates an anonymizer for it.
    ///
    /// - Parameters:
    ///   - mode: The ip mode of the run.
    ///   - keyring: The keys for `.hash` and `.prefixPreserving`; ignored by the other modes.
    /// - Throws: `ConfigurationError` when `mode` is `.hash` or `.prefixPreserving` and `keyring` is `nil`
    ///   (an unkeyed hash or permutation of an IP is never made: all of IPv4 can be tried in minutes), or
    ///   when a truncate prefix is outside 0...32 (IPv4) or 0...128 (IPv6).
    public init(mode: IPMode, keyring: Keyring?) throws(ConfigurationError) {
        switch mode {
        case .drop, .keep:
            break
        case .hash, .prefixPreserving:
            guard keyring != nil else {
                throw ConfigurationError(message: "--ip-mode \(mode.name) needs a key: --key-file or CRUMB_KEY")
            }
        case .truncate(let ipv4Prefix, let ipv6Prefix):
            guard (0...32).contains(ipv4Prefix) else {
                throw ConfigurationError(message: "--ipv4-prefix must be between 0 and 32, got \(ipv4Prefix)")
            }
            guard (0...128).contains(ipv6Prefix) else {
                throw ConfigurationError(message: "--ipv6-prefix must be between 0 and 128, got \(ipv6Prefix)")
            }
        }
        self.mode = mode
        self.keyring = keyring
    }

    /// The anonymized text of `address` seen on UTC day number `day` (days since 1970-01-01), or `nil`
    /// when the mode is `drop`.
    ///
    /// - Complexity: amortized O(1); a cache hit is one dictionary lookup, no allocation. A
    ///   `prefixPreserving` miss costs AES block operations: 8 for an IPv4 address in a /24 already seen
    ///   in the period, else 32; 64 for an IPv6 address in a /64 already seen, else 128.
    public mutating func anonymize(_ address: IPAddress, day: Int64) -> String? {
        switch mode {
        case .drop:
            return nil
        case .truncate(let ipv4Prefix, let ipv6Prefix):
            let masked = address.masked(toPrefix: address.isIPv4 ? ipv4Prefix : ipv6Prefix)
            if let text = cache[masked] { return text }
            let text = masked.formatted
            remember(text, for: masked)
            return text
        case .hash:
            if day != cachedDay { enterPeriod(ofDay: day) }
            if let token = cache[address] { return token }
            let token = hashToken(address)
            remember(token, for: address)
            return token
        case .prefixPreserving:
            if day != cachedDay { enterPeriod(ofDay: day) }
            if let text = cache[address] { return text }
            let text = prefixPreserved(address).formatted
            remember(text, for: address)
            return text
        case .keep:
            if let text = cache[address] { return text }
            let text = address.formatted
            remember(text, for: address)
            return text
        }
    }

    /// The Crypto-PAn image of `address` in the cached period, starting from the cached image of its
    /// /24 (IPv4) or /64 (IPv6) when there is one.
    private mutating func prefixPreserved(_ address: IPAddress) -> IPAddress {
        // Safe to force-unwrap: enterPeriod sets it for .prefixPreserving.
        let anonymizer = prefixPreserver!
        let prefixLength = address.isIPv4 ? 24 : 64
        let network = address.masked(toPrefix: prefixLength)
        let anonymizedNetwork: IPAddress
        if let cached = prefixCache[network] {
            anonymizedNetwork = cached
        } else {
            anonymizedNetwork = anonymizer.anonymizedPrefix(of: network, length: prefixLength)
            if prefixCache.count >= Self.cacheLimit { prefixCache.removeAll(keepingCapacity: true) }
            prefixCache[network] = anonymizedNetwork
        }
        return anonymizer.anonymize(address, from: prefixLength, anonymizedPrefix: anonymizedNetwork)
    }

    /// Switches the period key (for `hash`) or the Crypto-PAn mapping (for `prefixPreserving`) to the
    /// one for `day`, emptying the caches when the period changes.
    private mutating func enterPeriod(ofDay day: Int64) {
        // Safe to force-unwrap: init refuses .hash and .prefixPreserving without a keyring.
        let keyring = keyring!
        cachedDay = day
        let period = keyring.periodIndex(forDay: day)
        guard period != cachedPeriod else { return }
        cachedPeriod = period
        if mode == .prefixPreserving {
            prefixPreserver = PrefixPreservingAnonymizer(keyring: keyring, day: day)
        } else {
            periodKey = keyring.periodKeyBytes(forDay: day)
        }
        cache.removeAll(keepingCapacity: true)
        prefixCache.removeAll(keepingCapacity: true)
    }

    private mutating func remember(_ text: String, for address: IPAddress) {
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[address] = text
    }

    /// "ip:" + hex of the first 16 bytes of HMAC-SHA-256(periodKey, address bytes).
    private func hashToken(_ address: IPAddress) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: periodKey))
        address.withNetworkOrderBytes { hmac.update(data: $0) }
        let code = hmac.finalize()
        return code.withUnsafeBytes { mac in
            String(unsafeUninitializedCapacity: 3 + 32) { text in
                text[0] = UInt8(ascii: "i")
                text[1] = UInt8(ascii: "p")
                text[2] = UInt8(ascii: ":")
                for index in 0..<16 {
                    text[3 + 2 * index] = ASCII.lowercaseHexDigit(mac[index] >> 4)
                    text[4 + 2 * index] = ASCII.lowercaseHexDigit(mac[index] & 0xF)
                }
                return 3 + 32
            }
        }
    }
}

extension IPAnonymizer: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The mode only: the cache holds client addresses and the period key is secret.
    public var description: String { "IPAnonymizer(mode: \(mode))" }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["mode": mode]) }
}
