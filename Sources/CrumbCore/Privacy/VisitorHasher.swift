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
    /// HMAC-SHA-256 keyed with the period key, before any message: copied for each new id, so the key's
    /// inner and outer pads are hashed once per period rather than once per visitor.
    private var keyed: HMAC<SHA256>?
    /// Recent (probe, id) pairs, 4-way set-associative: set `s` is `ways[8s..<8s+8]`, four pairs in one
    /// 64-byte cache line, so a lookup touches one line and hashes nothing (the probe is already a hash).
    /// A miss fills an empty way, else replaces the set's ways in turn. Fixed size, so memory stays flat
    /// whatever the number of visitors; allocated at the first lookup. Probe 0 marks an empty way.
    private var ways: [UInt64] = []
    private var nextVictim = 0
    private var lastDay: Int64 = .min
    private let cacheSeed: UInt64
    /// Sets in the cache: 4 × 32,768 ids in 2 MiB, per processor (a run has two).
    static let setCount = 1 << 15

    public init(keyring: Keyring, cacheSeed: UInt64 = 0x2545_F491_4F6C_DD1D) {
        self.keyring = keyring
        self.cacheSeed = cacheSeed
    }

    /// The visitor id of `material` on UTC day `day`.
    public mutating func visitor(_ material: UnsafeRawBufferPointer, day: Int64) -> UInt64 {
        if day != lastDay { switchDay(day) }
        // The probe is a 64-bit hash of the material; like any such cache, two materials whose probes
        // collide (about one pair in 2⁶⁴ / n²) would share an id.
        var probe = ByteHash.hash(material, seed: cacheSeed)
        if probe == 0 { probe = 1 }
        let base = (Int(truncatingIfNeeded: probe >> 32) & (Self.setCount - 1)) << 3
        for way in stride(from: base, to: base + 8, by: 2) where ways[way] == probe { return ways[way + 1] }
        var mac = keyed!
        mac.update(data: material)
        let code = mac.finalize()
        // Ids feed HyperLogLog registers directly: HMAC output is already uniform.
        let id = code.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        var slot = base
        while slot < base + 8, ways[slot] != 0 { slot += 2 }
        if slot == base + 8 {
            slot = base + nextVictim
            nextVictim = (nextVictim + 2) & 7
        }
        ways[slot] = probe
        ways[slot + 1] = id
        return id
    }

    private mutating func switchDay(_ day: Int64) {
        lastDay = day
        let label = keyring.periodLabel(forDay: day)
        if label != period {
            period = label
            keyed = HMAC<SHA256>(key: keyring.periodKey(forDay: day))
            if ways.isEmpty {
                ways = [UInt64](repeating: 0, count: Self.setCount * 8)
            } else {
                // Emptied in place: a second array beside the first would be the run's peak at every period.
                ways.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
        }
    }
}
