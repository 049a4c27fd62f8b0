/// An IPv4 or IPv6 address as 128 bits, parsed straight from log bytes.
///
/// IPv4 addresses are stored as IPv4-mapped IPv6 addresses, `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), so one
/// type, one hash and one cache serve both families. An address in that range is treated as IPv4 whichever
/// way it was written: a dual-stack server logs the same client as `192.0.2.1` or `::ffff:192.0.2.1`, and
/// both must truncate to the same /24 and hash to the same token.
///
/// `high` holds the first 8 bytes in network order (the most significant byte is the first byte on the
/// wire), `low` the last 8.
public struct IPAddress: Hashable, Sendable {
    /// The first 8 bytes of the address, big-endian: `0x2001_0db8_…` for `2001:db8::`.
    public var high: UInt64
    /// The last 8 bytes of the address, big-endian: `0x0000_ffff_c000_0201` for `192.0.2.1`.
    public var low: UInt64

    /// The upper 32 bits of `low` for an IPv4-mapped address (`::ffff:0:0/96`).
    @usableFromInline
    static let ipv4MappedMarker: UInt64 = 0x0000_FFFF

    /// Creates an address from its two 64-bit halves, in network order.
    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates the IPv4 address `a.b.c.d`, stored as `::ffff:a.b.c.d`.
    @inlinable
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        let v4 = UInt64(a) << 24 | UInt64(b) << 16 | UInt64(c) << 8 | UInt64(d)
        self.init(high: 0, low: Self.ipv4MappedMarker << 32 | v4)
    }

    /// Whether this is an IPv4 address: one parsed from a dotted quad, or any address in the IPv4-mapped
    /// range `::ffff:0:0/96` (RFC 4291 §2.5.5.2).
    @inlinable
    public var isIPv4: Bool {
        high == 0 && low >> 32 == Self.ipv4MappedMarker
    }

    /// The 32-bit IPv4 address, meaningful only when `isIPv4`.
    @inlinable
    var ipv4Value: UInt32 {
        UInt32(truncatingIfNeeded: low)
    }

    /// The 16 bytes of the address in network order (IPv4 as `::ffff:a.b.c.d`).
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) {
            result.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            result.append(UInt8(truncatingIfNeeded: low >> UInt64(shift)))
        }
        return result
    }

    /// Calls `body` with the 16 bytes of the address in network order, without allocating.
    @inlinable
    func withNetworkOrderBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var pair = (high.bigEndian, low.bigEndian)
        return try withUnsafeBytes(of: &pair) { try body($0) }
    }

    /// Keeps the first `bits` bits of the address and zeroes the rest.
    ///
    /// For IPv4, `bits` counts within the 32-bit address (`masked(toPrefix: 24)` of `203.0.113.7` is
    /// `203.0.113.0`) and the result stays IPv4. For IPv6 it counts within all 128 bits.
    ///
    /// - Parameter bits: The prefix length: `0...32` for IPv4, `0...128` for IPv6.
    /// - Precondition: `bits` is within that range.
    /// - Complexity: O(1).
    @inlinable
    public func masked(toPrefix bits: Int) -> IPAddress {
        if isIPv4 {
            precondition((0...32).contains(bits), "IPv4 prefix \(bits) is outside 0...32")
            // Swift's smart shift by 32 yields 0, which is the /0 mask.
            let v4 = UInt64(ipv4Value & UInt32.max << UInt32(32 - bits))
            return IPAddress(high: 0, low: Self.ipv4MappedMarker << 32 | v4)
        }
        precondition((0...128).contains(bits), "IPv6 prefix \(bits) is outside 0...128")
        return IPAddress(high: high & Self.prefixMask(bits), low: low & Self.prefixMask(bits - 64))
    }

    /// A 64-bit mask with the top `bits` bits set; `bits` below 0 gives 0 and above 64 gives all ones.
    @inlinable
    static func prefixMask(_ bits: Int) -> UInt64 {
        if bits <= 0 { return 0 }
        if bits >= 64 { return .max }
        return UInt64.max << UInt64(64 - bits)
    }
}

// MARK: - Parsing

extension IPAddress {
    /// Parses an IPv4 or IPv6 address from text, without allocating.
    ///
    /// Accepted:
    /// - IPv4 dotted quad: exactly four decimal parts of 1...3 digits, each `0...255`, no leading zeros
    ///   (`0` itself is fine, `01` is not), no sign, no whitespace.
    /// - IPv6 text forms of RFC 4291 §2.2: eight groups of 1...4 hex digits in either case; one `::`
    ///   standing for one or more zero groups; a dotted-quad IPv4 tail in place of the last two groups
    ///   (`::ffff:192.0.2.1`, `64:ff9b::198.51.100.7`); the whole address inside `[` `]` (RFC 3986 §3.2.2).
    ///
    /// Rejected (returns `nil`): anything else, including empty input, surrounding whitespace, a zone
    /// index (`fe80::1%eth0`, RFC 4007 §11: a zone names a local interface, not a client), a second `::`,
    /// `:::`, a lone leading or trailing `:`, groups of five or more digits, more than eight groups, a
    /// bracketed IPv4 address, and a port (`[::1]:80`, `1.2.3.4:80`).
    ///
    /// - Complexity: O(n) in the length of `bytes`, one pass.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        var start = bytes.startIndex
        var end = bytes.endIndex
        guard start < end else { return nil }
        if bytes[start] == IPText.leftBracket {
            guard end - start >= 2, bytes[end - 1] == IPText.rightBracket else { return nil }
            start += 1
            end -= 1
            return parseIPv6(bytes, from: start, to: end)
        }
        // A colon anywhere means IPv6: "1.2.3.4:80" then fails there, as it should.
        var index = start
        while index < end {
            if bytes[index] == IPText.colon { return parseIPv6(bytes, from: start, to: end) }
            index += 1
        }
        guard let v4 = parseIPv4(bytes, from: start, to: end) else { return nil }
        return IPAddress(high: 0, low: ipv4MappedMarker << 32 | UInt64(v4))
    }

    /// Parses an IPv4 or IPv6 address from `text`; accepts exactly what the byte-buffer `parse(_:)` accepts.
    public static func parse(_ text: String) -> IPAddress? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Parses `bytes[start..<end]` as exactly a dotted quad and returns its 32-bit value.
    static func parseIPv4(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> UInt32? {
        var value: UInt32 = 0
        var index = start
        for part in 0..<4 {
            if part > 0 {
                guard index < end, bytes[index] == IPText.dot else { return nil }
                index += 1
            }
            let partStart = index
            var partValue: UInt32 = 0
            while index < end, index - partStart < 3, let digit = ASCII.decimalValue(bytes[index]) {
                partValue = partValue * 10 + UInt32(digit)
                index += 1
            }
            let length = index - partStart
            guard length > 0, partValue <= 255 else { return nil }
            // "0" is fine, "01" or "00" is not: some parsers read a leading zero as octal.
            guard length == 1 || bytes[partStart] != IPText.zero else { return nil }
            value = value << 8 | partValue
        }
        return index == end ? value : nil
    }

    /// Parses `bytes[start..<end]` as exactly one IPv6 address (RFC 4291 §2.2), without brackets.
    static func parseIPv6(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> IPAddress? {
        // Groups before "::" go into `head`, groups after it into `tail`; each is a 128-bit shift
        // register, so no buffer is needed. At the end `head` moves up past the zero groups.
        var head = Register()
        var tail = Register()
        var sawDoubleColon = false
        var index = start
        guard index < end else { return nil }

        if bytes[index] == IPText.colon {
            guard index + 1 < end, bytes[index + 1] == IPText.colon else { return nil }
            sawDoubleColon = true
            index += 2
            if index == end { return IPAddress(high: 0, low: 0) }
        }

        while true {
            // One group, or an IPv4 tail, starting at `index`.
            let groupStart = index
            var group: UInt64 = 0
            while index < end, index - groupStart < 5, let digit = ASCII.hexValue(bytes[index]) {
                group = group << 4 | UInt64(digit)
                index += 1
            }
            if index < end, bytes[index] == IPText.dot {
                // An IPv4 tail: must be the last thing in the address.
                guard let v4 = parseIPv4(bytes, from: groupStart, to: end) else { return nil }
                guard head.count + tail.count <= 6 else { return nil }
                if sawDoubleColon {
                    tail.push(UInt64(v4 >> 16))
                    tail.push(UInt64(v4 & 0xFFFF))
                } else {
                    head.push(UInt64(v4 >> 16))
                    head.push(UInt64(v4 & 0xFFFF))
                }
                index = end
                break
            }
            let length = index - groupStart
            guard length >= 1, length <= 4 else { return nil }
            if sawDoubleColon {
                guard head.count + tail.count < 7 else { return nil }
                tail.push(group)
            } else {
                guard head.count < 8 else { return nil }
                head.push(group)
            }
            if index == end { break }
            guard bytes[index] == IPText.colon else { return nil }
            index += 1
            guard index < end else { return nil }  // a lone trailing ":"
            if bytes[index] == IPText.colon {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                index += 1
                if index == end { break }  // a trailing "::"
            }
        }

        if sawDoubleColon {
            guard head.count + tail.count <= 7 else { return nil }
            head.shiftGroups(8 - head.count)
            return IPAddress(high: head.high | tail.high, low: head.low | tail.low)
        }
        guard head.count == 8 else { return nil }
        return IPAddress(high: head.high, low: head.low)
    }

    /// A 128-bit shift register that 16-bit groups are pushed into from the right.
    struct Register {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var count = 0

        mutating func push(_ group: UInt64) {
            shiftGroups(1)
            low |= group & 0xFFFF
            count += 1
        }

        /// Shifts left by `groups` × 16 bits (`groups` in 0...8).
        mutating func shiftGroups(_ groups: Int) {
            for _ in 0..<groups {
                high = high << 16 | low >> 48
                low <<= 16
            }
        }
    }
}

// MARK: - Formatting

extension IPAddress {
    /// The text form: a dotted quad for IPv4 (`203.0.113.7`), and for IPv6 the canonical form of
    /// RFC 5952 §4: lowercase hex, no leading zeros in a group, the longest run of two or more zero groups
    /// replaced by `::` (the leftmost run on a tie), and a single zero group written as `0`.
    ///
    /// `IPAddress.parse(address.formatted) == address` for every address.
    public var formatted: String {
        // The longest form produced is eight full groups, 39 bytes.
        String(unsafeUninitializedCapacity: 39) { buffer in
            var count = 0
            func put(_ byte: UInt8) {
                buffer[count] = byte
                count += 1
            }
            func putDecimal(_ value: UInt32) {
                if value >= 100 { put(IPText.zero + UInt8(value / 100)) }
                if value >= 10 { put(IPText.zero + UInt8(value / 10 % 10)) }
                put(IPText.zero + UInt8(value % 10))
            }
            if isIPv4 {
                let v4 = ipv4Value
                putDecimal(v4 >> 24)
                for shift: UInt32 in stride(from: 16, through: 0, by: -8) {
                    put(IPText.dot)
                    putDecimal(v4 >> shift & 0xFF)
                }
                return count
            }
            // RFC 5952 §4.2: find the longest run of at least two zero groups, leftmost on a tie.
            var bestStart = -1
            var bestLength = 1
            var runStart = 0
            while runStart < 8 {
                guard group(at: runStart) == 0 else {
                    runStart += 1
                    continue
                }
                var runEnd = runStart
                while runEnd < 8, group(at: runEnd) == 0 { runEnd += 1 }
                if runEnd - runStart > bestLength {
                    bestStart = runStart
                    bestLength = runEnd - runStart
                }
                runStart = runEnd
            }
            var index = 0
            while index < 8 {
                if index == bestStart {
                    put(IPText.colon)
                    put(IPText.colon)
                    index += bestLength
                    continue
                }
                // No separator right after "::" (with no run, bestStart + bestLength is 0).
                if index > 0, index != bestStart + bestLength { put(IPText.colon) }
                let value = group(at: index)
                var shift: UInt16 = 12
                // RFC 5952 §4.1: leading zeros suppressed, but a zero group is "0".
                while shift > 0, value >> shift == 0 { shift -= 4 }
                while true {
                    put(ASCII.lowercaseHexDigit(UInt8(value >> shift & 0xF)))
                    if shift == 0 { break }
                    shift -= 4
                }
                index += 1
            }
            return count
        }
    }

    /// The 16-bit group at `index` (0...7), counting from the left.
    func group(at index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (index % 4)))
    }
}

extension IPAddress: CustomStringConvertible {
    /// Same as ``formatted``.
    public var description: String { formatted }
}

/// The few ASCII bytes the address parser and formatter need.
private enum IPText {
    static let zero = UInt8(ascii: "0")
    static let dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":")
    static let leftBracket = UInt8(ascii: "[")
    static let rightBracket = UInt8(ascii: "]")


}
