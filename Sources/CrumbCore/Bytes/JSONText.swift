/// JSON text for the writers (trends, events, vault): strings and integers appended as bytes.
public enum JSONText {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let zero = UInt8(ascii: "0")

    /// Appends bytes as a JSON string literal (RFC 8259 §7), quotes included.
    ///
    /// `"` and `\` are escaped with a backslash; control characters below 0x20 become `\b` `\f` `\n` `\r`
    /// `\t` or `\u00XX`. Well-formed UTF-8 passes through unchanged, DEL and non-ASCII included. Ill-formed
    /// UTF-8 (stray continuation bytes, overlong forms, surrogates, code points above U+10FFFF, truncated
    /// sequences) becomes U+FFFD, one per maximal ill-formed subpart, as Unicode recommends (§3.9, U+FFFD
    /// substitution of maximal subparts), so the output is always valid JSON.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var index = 0
        let end = bytes.count
        while index < end {
            let byte = bytes[index]
            if byte < 0x80 {
                appendJSONEscaped(ascii: byte, to: &out)
                index += 1
                continue
            }
            let sequenceEnd = endOfUTF8Sequence(in: bytes, at: index)
            if sequenceEnd > 0 {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<sequenceEnd]))
                index = sequenceEnd
            } else {
                out.append(contentsOf: replacementCharacter)
                index = -sequenceEnd
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    private static func appendJSONEscaped(ascii byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case quote, backslash:
            out.append(backslash)
            out.append(byte)
        case 0x08: out.append(backslash); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(backslash); out.append(UInt8(ascii: "f"))
        case 0x0A: out.append(backslash); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(backslash); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(backslash); out.append(UInt8(ascii: "t"))
        case 0..<0x20:
            out.append(contentsOf: [backslash, UInt8(ascii: "u"), zero, zero])
            out.append(ASCII.lowercaseHexDigit(byte >> 4))
            out.append(ASCII.lowercaseHexDigit(byte & 0x0F))
        default:
            out.append(byte)
        }
    }

    /// For a lead byte ≥ 0x80 at `start`: the end of the well-formed sequence beginning there, or, when it is
    /// ill-formed, the negated end of its maximal ill-formed subpart (always past `start`).
    ///
    /// Well-formed sequences follow Unicode Table 3-7: the second byte's range depends on the lead byte
    /// (E0 A0–BF, ED 80–9F, F0 90–BF, F4 80–8F), which rules out overlongs, surrogates and values past U+10FFFF.
    private static func endOfUTF8Sequence(in bytes: UnsafeRawBufferPointer, at start: Int) -> Int {
        let lead = bytes[start]
        let continuations: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuations = 1
        case 0xE0: continuations = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
        case 0xED: continuations = 2; high = 0x9F
        case 0xF0: continuations = 3; low = 0x90
        case 0xF1...0xF3: continuations = 3
        case 0xF4: continuations = 3; high = 0x8F
        default: return -(start + 1)
        }
        var index = start + 1
        for _ in 0..<continuations {
            guard index < bytes.count, (low...high).contains(bytes[index]) else { return -index }
            index += 1
            low = 0x80
            high = 0xBF
        }
        return index
    }

    /// Appends `value` in decimal ASCII, with a leading `-` when negative.
    public static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let first = out.count
        repeat {
            out.append(zero + UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        // The digits went in least significant first.
        var low = first
        var high = out.count - 1
        while low < high {
            out.swapAt(low, high)
            low += 1
            high -= 1
        }
    }
}
