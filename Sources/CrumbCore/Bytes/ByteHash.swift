/// A fast, non-cryptographic 64-bit hash of a byte string, for hash tables and caches only.
///
/// Never used where an adversary could profit from collisions being found: it indexes interning tables and
/// caches whose hits are always confirmed by comparing the bytes, or whose keys are already keyed hashes.
/// Eight bytes at a time, multiply-xorshift mixing, finished with the murmur3 `fmix64` finaliser.
public enum ByteHash {
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UInt64 {
        var h = seed ^ lengthWord(bytes)
        var index = 0
        while index + 8 <= bytes.count {
            h = step(h, word(bytes, at: index))
            index += 8
        }
        if index < bytes.count { h = step(h, tailWord(bytes, from: index)) }
        return fmix64(h)
    }

    /// `(hash(bytes, seed: first), hash(bytes, seed: second))` in one pass: the two chains are independent, so
    /// the processor runs them side by side, in about the time of one.
    @inlinable
    public static func hashes(_ bytes: UnsafeRawBufferPointer, seeds first: UInt64, _ second: UInt64) -> (UInt64, UInt64) {
        var a = first ^ lengthWord(bytes)
        var b = second ^ lengthWord(bytes)
        var index = 0
        while index + 8 <= bytes.count {
            let word = word(bytes, at: index)
            a = step(a, word)
            b = step(b, word)
            index += 8
        }
        if index < bytes.count {
            let word = tailWord(bytes, from: index)
            a = step(a, word)
            b = step(b, word)
        }
        return (fmix64(a), fmix64(b))
    }

    /// The length, mixed into the seed.
    @inlinable
    static func lengthWord(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(truncatingIfNeeded: bytes.count) &* 0xFF51_AFD7_ED55_8CCD
    }

    /// Eight bytes from `index`, little-endian.
    @inlinable
    static func word(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt64 {
        bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
    }

    /// The last one to seven bytes, from `index`, little-endian in the low bytes of a word. When the string has
    /// eight bytes or more, one load of its last eight, shifted down past the bytes already hashed.
    @inlinable
    static func tailWord(_ bytes: UnsafeRawBufferPointer, from index: Int) -> UInt64 {
        if bytes.count >= 8 {
            let last = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
            return last >> (UInt64(8 - (bytes.count - index)) &* 8)
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        for offset in index..<bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
        }
        return tail
    }

    /// One step of the chain: multiply-xorshift mixing of a word into the state.
    @inlinable
    static func step(_ h: UInt64, _ word: UInt64) -> UInt64 {
        (h ^ (word &* 0x87C3_7B91_1142_53D5)).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
    }

    /// murmur3's 64-bit finaliser: every input bit affects every output bit.
    @inlinable
    public static func fmix64(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k = k &* 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }
}

extension UInt64 {
    @inlinable
    func rotatedLeft(by count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
