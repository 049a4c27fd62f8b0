/// A fast, non-cryptographic 64-bit hash of a byte string, for hash tables and caches only.
///
/// Never used where an adversary could profit from collisions being found: it indexes interning tables and
/// caches whose hits are always confirmed by comparing the bytes, or whose keys are already keyed hashes.
/// Eight bytes at a time, multiply-xorshift mixing, finished with the murmur3 `fmix64` finaliser.
public enum ByteHash {
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UInt64 {
        var h = seed ^ (UInt64(truncatingIfNeeded: bytes.count) &* 0xFF51_AFD7_ED55_8CCD)
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            h = (h ^ (word &* 0x87C3_7B91_1142_53D5)).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
            index += 8
        }
        if index < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(bytes[index]) << shift
                shift += 8
                index += 1
            }
            h = (h ^ (tail &* 0x87C3_7B91_1142_53D5)).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
        }
        return fmix64(h)
    }

    /// `(hash(bytes, seed: first), hash(bytes, seed: second))` in one pass: the two chains are independent, so
    /// the processor runs them side by side, in about the time of one.
    @inlinable
    public static func hashes(_ bytes: UnsafeRawBufferPointer, seeds first: UInt64, _ second: UInt64) -> (UInt64, UInt64) {
        let length = UInt64(truncatingIfNeeded: bytes.count) &* 0xFF51_AFD7_ED55_8CCD
        var a = first ^ length
        var b = second ^ length
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) &* 0x87C3_7B91_1142_53D5
            a = (a ^ word).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
            b = (b ^ word).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
            index += 8
        }
        if index < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(bytes[index]) << shift
                shift += 8
                index += 1
            }
            let word = tail &* 0x87C3_7B91_1142_53D5
            a = (a ^ word).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
            b = (b ^ word).rotatedLeft(by: 31) &* 0x4CF5_AD43_2745_937F
        }
        return (fmix64(a), fmix64(b))
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
