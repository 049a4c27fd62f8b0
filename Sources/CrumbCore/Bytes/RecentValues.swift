import CPrefetch

/// A fixed-size cache from byte strings (request targets, referrers, cookie headers), or 128-bit keys, to a
/// 64-bit value worked out from them once, for values that come back line after line.
///
/// It keeps no bytes: an entry is a 127-bit fingerprint of its string (two 64-bit `ByteHash` passes with
/// different seeds) and the value. Two strings whose fingerprints collide would share a value; for the
/// hundreds of thousands of strings a run sees that is about one chance in 2¹⁰⁰. Callers store only what
/// they derived from a string that held no personal information, so even a crafted collision gets a line
/// another clean line's value, never personal bytes.
///
/// A key may also be a caller's own 128 bits (`Key(exactly:_:)`, e.g. the processor's counted visits), and the
/// lookup is then exact.
///
/// The entries are 4-way set-associative: a set is four (fingerprint, value) entries side by side, so a
/// lookup reads 96 contiguous bytes and hashes nothing more. A new entry fills an empty way, else replaces
/// the set's ways in turn; memory is fixed (`sets` × 96 bytes) whatever the number of distinct strings,
/// and allocated at the first insert.
public struct RecentValues: Sendable {
    /// A string's fingerprint and its set; work it out once per line with `key(for:)`.
    public struct Key: Sendable {
        fileprivate var first: UInt64
        fileprivate var second: UInt64

        /// A key that is its own two words, for callers whose key fits in 128 bits: lookups are then exact.
        /// `first` must not be 0 (it marks an empty way); `second` should be well mixed (it picks the set).
        public init(exactly first: UInt64, _ second: UInt64) {
            precondition(first != 0, "RecentValues.Key: the first word must not be 0")
            self.first = first
            self.second = second
        }

        /// A well-mixed 64-bit hash of what the key stands for (the word that picks the set): for a caller
        /// that needs one besides the key.
        public var hash: UInt64 { second }
    }

    /// Set `s` is `slots[12s..<12s+12]`: four ways of (first, second, value). `first` is never 0 in a
    /// used way, so 0 marks an empty one.
    private var slots: [UInt64] = []
    private let setCount: Int
    private var nextVictim = 0

    /// A cache of `sets` × 4 entries; `sets` is rounded up to a power of two.
    public init(sets: Int) {
        var count = 1
        while count < sets { count <<= 1 }
        setCount = count
    }

    @inline(__always)
    public static func key(for bytes: UnsafeRawBufferPointer) -> Key {
        let (first, second) = ByteHash.hashes(bytes, seeds: 0x6A09_E667_F3BC_C908, 0xBB67_AE85_84CA_A73B)
        return Key(exactly: first | 1, second)
    }

    @inline(__always)
    private func base(of key: Key) -> Int {
        (Int(truncatingIfNeeded: key.second >> 40) & (setCount - 1)) * 12
    }

    /// Asks for `key`'s set to be brought into the core's cache, ahead of a `value(for:)` or `insert` for it:
    /// a caller that knows the next line's keys asks while it works on this line, so that the next lookup
    /// does not wait for memory. A hint only; nothing cached changes.
    @inline(__always)
    public func prefetch(_ key: Key) {
        guard !slots.isEmpty else { return }
        slots.withUnsafeBufferPointer { slots in
            // A set's 96 bytes lie on two or three cache lines.
            let set = slots.baseAddress! + base(of: key)
            crumb_prefetch(set)
            crumb_prefetch(set + 8)
            crumb_prefetch(set + 11)
        }
    }

    /// The value stored for `key`, if it is still cached.
    @inline(__always)
    public func value(for key: Key) -> UInt64? {
        guard !slots.isEmpty else { return nil }
        let base = base(of: key)
        return slots.withUnsafeBufferPointer { slots in
            for way in stride(from: base, to: base + 12, by: 3)
            where slots[way] == key.first && slots[way + 1] == key.second {
                return slots[way + 2]
            }
            return nil
        }
    }

    /// Stores `value` for `key`, replacing an older entry of its set when the set is full.
    public mutating func insert(_ value: UInt64, for key: Key) {
        if slots.isEmpty { slots = [UInt64](repeating: 0, count: setCount * 12) }
        let base = base(of: key)
        var way = base
        while way < base + 12, slots[way] != 0 { way += 3 }
        if way == base + 12 {
            way = base + nextVictim
            nextVictim = (nextVictim + 3) % 12
        }
        slots[way] = key.first
        slots[way + 1] = key.second
        slots[way + 2] = value
    }

    /// Forgets every entry (keeping the memory).
    public mutating func removeAll() {
        guard !slots.isEmpty else { return }
        slots.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
