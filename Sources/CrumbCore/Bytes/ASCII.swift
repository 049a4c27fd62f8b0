/// ASCII helpers for byte-level parsing.
public enum ASCII {
    /// Bytes allowed in an HTTP method token (RFC 9110 `token`, restricted to letters, `-` and `_`).
    @inlinable
    public static func isMethodByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    @inlinable
    public static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// The offset of the first `byte` at or after `index` in `bytes`, or `bytes.count`: sixteen bytes at a time in
    /// vector lanes (`equalLanes`), then one at a time. Inlined, for the short scans of the hot path where a call
    /// to `memchr` costs more than it saves.
    @inlinable
    public static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from index: Int) -> Int {
        let count = bytes.count
        var index = index
        let wanted = SIMD16<UInt8>(repeating: byte)
        while index + 16 <= count {
            let lanes = bytes.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
            if let lane = firstMarkedLane(equalLanes(lanes, wanted)) { return index + lane }
            index += 16
        }
        while index < count, bytes[index] != byte { index += 1 }
        return index
    }

    /// The lanes where `lanes` and `wanted` are equal, all ones, the others 0: one vector compare (`pcmpeqb`).
    @inlinable
    static func equalLanes(_ lanes: SIMD16<UInt8>, _ wanted: SIMD16<UInt8>) -> SIMD16<UInt8> {
        unsafeBitCast(lanes .== wanted, to: SIMD16<UInt8>.self)
    }

    /// The first lane that `marks` sets (lane 0 is the lowest address), or nil when none is.
    @inlinable
    static func firstMarkedLane(_ marks: SIMD16<UInt8>) -> Int? {
        let halves = unsafeBitCast(marks, to: SIMD2<UInt64>.self)
        if halves[0] != 0 { return UInt64(littleEndian: halves[0]).trailingZeroBitCount >> 3 }
        if halves[1] != 0 { return 8 + UInt64(littleEndian: halves[1]).trailingZeroBitCount >> 3 }
        return nil
    }

    /// Whether every byte is below 0x80; eight at a time.
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// The value of a decimal digit byte, or `nil`.
    @inlinable
    public static func decimalValue(_ byte: UInt8) -> UInt8? {
        let value = byte &- UInt8(ascii: "0")
        return value < 10 ? value : nil
    }

    /// The value of a hex digit byte in either case, or `nil`.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The lowercase hex digit for `nibble` (0...15).
    @inlinable
    public static func lowercaseHexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Appends each byte of `bytes` as two lowercase hex digits.
    @inlinable
    public static func appendLowercaseHex(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(lowercaseHexDigit(byte >> 4))
            out.append(lowercaseHexDigit(byte & 0x0F))
        }
    }

    /// `bytes` as lowercase hex text.
    public static func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        appendLowercaseHex(bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}
