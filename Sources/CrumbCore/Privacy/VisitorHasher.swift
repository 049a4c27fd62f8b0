import CPrefetch
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
        let probe = probe(material: material)
        return cachedVisitor(probe: probe, day: day) ?? newVisitor(probe: probe, material: material)
    }

    /// A probe for material given as four words (an address, a hash of the rest, a tag) rather than as
    /// bytes: a caller that holds them need not build the material to look its visitor up.
    public func probe(_ words: (UInt64, UInt64, UInt64, UInt64)) -> UInt64 {
        withUnsafeBytes(of: words) { ByteHash.hash($0, seed: cacheSeed) }
    }

    /// The probe of `material` (what `visitor(_:day:)` looks it up by), for a caller that looks it up in
    /// two steps: `cachedVisitor(probe:day:)`, then `newVisitor(probe:material:)` on a miss.
    public func probe(material: UnsafeRawBufferPointer) -> UInt64 {
        ByteHash.hash(material, seed: cacheSeed)
    }

    /// Asks for the cache set of `probe` to be brought into the core's cache, ahead of its lookup (see
    /// `RecentValues.prefetch(_:)`). A hint only.
    @inline(__always)
    public func prefetch(probe: UInt64) {
        guard !ways.isEmpty else { return }
        ways.withUnsafeBufferPointer { ways in
            // A set's 64 bytes lie on one or two cache lines.
            let set = ways.baseAddress! + Self.base(of: Self.stored(probe))
            crumb_prefetch(set)
            crumb_prefetch(set + 7)
        }
    }

    /// The id cached for the material whose probe is `probe`, on UTC day `day`; nil when it is not cached,
    /// and then `newVisitor(probe:material:)` makes it.
    ///
    /// The probe is a 64-bit hash that stands for the material; like any such cache, two materials whose
    /// probes collide (about one pair in 2⁶⁴ / n²) would share an id. One material must always get the same
    /// probe within a period, whichever way it was worked out.
    @inline(__always)
    public mutating func cachedVisitor(probe: UInt64, day: Int64) -> UInt64? {
        if day != lastDay { switchDay(day) }
        let probe = Self.stored(probe)
        let base = Self.base(of: probe)
        for way in stride(from: base, to: base + 8, by: 2) where ways[way] == probe { return ways[way + 1] }
        return nil
    }

    /// The keyed id of `material` (an HMAC with the current period's key), cached under `probe`: after a
    /// miss of `cachedVisitor(probe:day:)` for the same day.
    public mutating func newVisitor(probe: UInt64, material: UnsafeRawBufferPointer) -> UInt64 {
        let probe = Self.stored(probe)
        let base = Self.base(of: probe)
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

    /// `probe` as a way holds it: 0 marks an empty way, so probe 0 is kept as 1.
    @inline(__always)
    private static func stored(_ probe: UInt64) -> UInt64 {
        probe == 0 ? 1 : probe
    }

    /// The first way of `probe`'s set (of its `stored` form).
    @inline(__always)
    private static func base(of probe: UInt64) -> Int {
        (Int(truncatingIfNeeded: probe >> 32) & (setCount - 1)) << 3
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
