/// The key of a trend row in `WebAggregator` and `CallAggregator`: the bucket's ordinal in the high 32 bits, then
/// the dimension (5 bits) and the value id (`valueBits`).
enum RowKey {
    /// Values are limited to 2^27 distinct per dimension by this layout.
    static let valueBits: UInt64 = 27

    @inline(__always)
    static func make(ordinal: Int, dimension: Int, value: Int) -> UInt64 {
        UInt64(ordinal) << 32 | UInt64(dimension) << valueBits | UInt64(value)
    }

    @inline(__always)
    static func ordinal(_ key: UInt64) -> Int { Int(key >> 32) }

    /// The dimension's raw value.
    @inline(__always)
    static func dimension(_ key: UInt64) -> Int { Int(key >> valueBits & 0x1F) }

    @inline(__always)
    static func value(_ key: UInt64) -> Int { Int(key & (1 << valueBits - 1)) }

    /// The bucket ordinal and dimension together: the key's bits above the value.
    @inline(__always)
    static func bucketAndDimension(_ key: UInt64) -> UInt64 { key >> valueBits }
}
