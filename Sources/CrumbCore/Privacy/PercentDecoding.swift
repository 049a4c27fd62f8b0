/// Percent-decoding of URL components (RFC 3986 §2.1), with `+` as a space for query strings and form bodies
/// (the WHATWG URL Standard's `application/x-www-form-urlencoded` parser).
///
/// Accepted: `%XX` with two hex digits in either case decodes to that byte; with `plusAsSpace`, `+` decodes to
/// a space in the first round only (a `+` that came out of `%2B` is a literal plus). Decoding is repeated, up to
/// `rounds` times, while the result still holds a valid escape, so double-encoded text (`%2540` → `%40` → `@`)
/// reaches the bytes that a detector must see.
///
/// Rejected: an invalid escape (`%zz`, `%4`, a trailing `%`) is kept literally, byte for byte. Decoded bytes are
/// not checked to be UTF-8: detectors work on bytes.
public enum PercentDecoding {
    /// Decodes `bytes` into `out`.
    ///
    /// - Parameters:
    ///   - bytes: the encoded text.
    ///   - plusAsSpace: whether `+` means a space (query strings, form bodies), not in path segments.
    ///   - rounds: how many times at most to decode (at least one).
    ///   - out: cleared first; holds the decoded bytes when this returns `true`.
    /// - Returns: `false` when there is nothing to decode: `out` is then left empty, nothing is allocated and
    ///   the caller uses `bytes` as is.
    /// - Complexity: O(`rounds` × `bytes.count`).
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, plusAsSpace: Bool, rounds: Int = 3, into out: inout [UInt8]
    ) -> Bool {
        if !out.isEmpty { out.removeAll(keepingCapacity: true) }
        guard rounds > 0, needsDecoding(bytes, plusAsSpace: plusAsSpace) else { return false }
        out.reserveCapacity(bytes.count)
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), let decoded = escapedByte(bytes, at: index) {
                out.append(decoded)
                index += 3
            } else {
                out.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        var round = 1
        while round < rounds, decodeInPlace(&out) { round += 1 }
        return true
    }

    /// Whether `bytes` holds a valid escape, or a `+` when that means a space.
    static func needsDecoding(_ bytes: UnsafeRawBufferPointer, plusAsSpace: Bool) -> Bool {
        for index in bytes.indices {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), escapedByte(bytes, at: index) != nil { return true }
            if plusAsSpace, byte == UInt8(ascii: "+") { return true }
        }
        return false
    }

    /// One more round over already decoded bytes, shrinking `buffer`; `false` when it held no valid escape.
    static func decodeInPlace(_ buffer: inout [UInt8]) -> Bool {
        let decodedCount = buffer.withUnsafeMutableBytes { bytes -> Int? in
            let input = UnsafeRawBufferPointer(bytes)
            guard needsDecoding(input, plusAsSpace: false) else { return nil }
            var read = 0
            var write = 0
            // The write index never passes the read index: an escape of three bytes becomes one.
            while read < bytes.count {
                if bytes[read] == UInt8(ascii: "%"), let decoded = escapedByte(input, at: read) {
                    bytes[write] = decoded
                    read += 3
                } else {
                    bytes[write] = bytes[read]
                    read += 1
                }
                write += 1
            }
            return write
        }
        guard let decodedCount else { return false }
        buffer.removeLast(buffer.count - decodedCount)
        return true
    }

    @inline(__always)
    static func escapedByte(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt8? {
        guard index + 2 < bytes.count, let high = ASCII.hexValue(bytes[index + 1]),
              let low = ASCII.hexValue(bytes[index + 2]) else { return nil }
        return high << 4 | low
    }
}
