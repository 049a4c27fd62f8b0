import Crypto

/// Turns visitor material (a tracking cookie's value, or a client address with its user agent) into a
/// keyed 64-bit visitor id for one period, for the unique-visitor sketches.
///
/// The id is the first eight bytes of HMAC-SHA-256 under the keyring's period key, so ids for one visitor
/// differ between periods and cannot be computed without the key. Ids are cached per period: the same
/// visitors come back all day. The cache is keyed by a fast hash of the material; the raw material is not
/// kept.
public struct VisitorHasher: @unchecked Sendable {
    public let keyring: Keyring
    private var period: String = ""
    private var key: SymmetricKey?
    private var cache: [UInt64: UInt64] = [:]
    private var lastDay: Int64 = .min
    private let cacheSeed: UInt64
    /// The most cached ids (about 16 bytes each).
    static let cacheLimit = 1 << 19

    public init(keyring: Keyring, cacheSeed: UInt64 = 0x2545_F491_4F6C_DD1D) {
        self.keyring = keyring
        self.cacheSeed = cacheSeed
    }

    /// The visitor id of `material` on UTC day `day`.
    public mutating func visitor(_ material: UnsafeRawBufferPointer, day: Int64) -> UInt64 {
        if day != lastDay { switchDay(day) }
        let probe = ByteHash.hash(material, seed: cacheSeed)
        if let hit = cache[probe] { return hit }
        let code = HMAC<SHA256>.authenticationCode(for: material, using: key!)
        let id = code.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        // Ids feed HyperLogLog registers directly: HMAC output is already uniform.
        // Bounded: past the limit the cache starts over (memory stays flat whatever the number of visitors).
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[probe] = id
        return id
    }

    private mutating func switchDay(_ day: Int64) {
        lastDay = day
        let label = keyring.periodLabel(forDay: day)
        if label != period {
            period = label
            key = keyring.periodKey(forDay: day)
            cache.removeAll(keepingCapacity: true)
        }
    }
}
