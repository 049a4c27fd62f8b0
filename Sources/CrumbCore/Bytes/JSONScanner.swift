/// Reads one JSON text (RFC 8259, <https://www.rfc-editor.org/rfc/rfc8259>) from bytes, token by token:
/// a pull reader for JSON Lines, with no `String` and no allocation of its own.
///
/// Accepted:
/// - objects, arrays, strings, numbers, `true`, `false`, `null`, nested up to `maxDepth` containers, with
///   the four JSON whitespace bytes (space, tab, LF, CR) between tokens, and a UTF-8 byte order mark
///   (`EF BB BF`) before the text, which RFC 8259 §8.1 lets a parser ignore (Windows tools write one);
/// - in strings, every RFC 8259 §7 escape: `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t` and `\uXXXX`, a UTF-16
///   surrogate pair (`\uD83D\uDE00`) decoded to one 4-byte UTF-8 sequence, and a lone surrogate to U+FFFD
///   (`EF BF BD`), since it names no character;
/// - bytes ≥ 0x80 inside strings, copied as they are: the scanner neither validates nor repairs UTF-8, so
///   a log written in Latin-1 keeps its bytes;
/// - with `allowsHexEscapes`, also `\xHH`, decoded to the byte 0xHH: nginx's default `escape=default`
///   writes `"`, `\` and every byte outside printable ASCII that way
///   (<https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format>), so a `log_format` that looks
///   like JSON is not quite JSON.
///
/// Rejected, as `ParseFailure(.badJSON, at:)` with the offset where the text broke: any other escape, a
/// truncated `\u`, an unescaped control byte (< 0x20) in a string, an unterminated string (reported at
/// its opening quote), a number outside the JSON grammar (`01`, `1.`, `.5`, `+1`, `1e`), a misspelt
/// literal, a missing or extra `,` or `:`, a closing bracket that does not match, a non-string key, a
/// container deeper than `maxDepth`, and anything but whitespace after the top-level value.
///
/// Values are decoded into a buffer the caller owns and reuses (`next(into:)` appends to it): a token
/// carries the range of its bytes there, never a copy.
public struct JSONScanner {
    /// One step of the text.
    public enum Token: Equatable, Sendable {
        case objectStart, objectEnd, arrayStart, arrayEnd
        /// An object member's name, decoded; the `:` after it is consumed too.
        case key(Range<Int>)
        /// A string value, decoded.
        case string(Range<Int>)
        /// A number's text, exactly as written (JSON numbers have no escapes).
        case number(Range<Int>)
        case bool(Bool)
        case null
        /// The top-level value is complete and nothing but whitespace follows it.
        case end
    }

    /// What the scanner expects next.
    private enum State {
        case topValue, value, firstValueOrEnd, key, firstKeyOrEnd, commaOrEnd, done
    }

    /// The deepest nesting accepted: an object or array at depth `maxDepth + 1` is rejected.
    public let maxDepth: Int
    /// Whether `\xHH` (nginx's escape) is accepted in strings.
    public let allowsHexEscapes: Bool
    /// The offset of the next byte to read.
    public private(set) var offset = 0
    /// The offset of the first byte of the token last returned (or being read when a failure is thrown).
    public private(set) var tokenStart = 0
    /// How many containers are open.
    public private(set) var depth = 0

    private let bytes: UnsafeRawBufferPointer
    private var state = State.topValue
    /// Bit `d` is set when the container at depth `d + 1` is an array.
    private var arrayBits: UInt64 = 0

    /// - Parameters:
    ///   - bytes: one JSON text (a line without its terminator); it must outlive the scanner.
    ///   - maxDepth: 1...64 nested containers.
    ///   - allowsHexEscapes: accept nginx's `\xHH` in strings.
    public init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32, allowsHexEscapes: Bool = false) {
        precondition((1...64).contains(maxDepth), "maxDepth must be 1...64")
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.allowsHexEscapes = allowsHexEscapes
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { offset = 3 }
    }

    /// Whether the innermost open container is an array.
    public var isInArray: Bool { depth > 0 && arrayBits & (1 << UInt64(depth - 1)) != 0 }

    /// Reads the next token, appending a key's, string's or number's bytes to `out`.
    ///
    /// - Throws: `ParseFailure(.badJSON, at:)` where the text stops being JSON. After a failure the scanner
    ///   must not be used again.
    /// - Complexity: O(bytes of the token), amortized; each input byte is read once.
    public mutating func next(into out: inout [UInt8]) throws(ParseFailure) -> Token {
        try step(&out, decoding: true)
    }

    /// Skips the value that follows the `.key` just returned, whole (a scalar, or a container and all it
    /// holds), checking its syntax but decoding nothing.
    ///
    /// - Precondition: the last token returned was a `.key`.
    public mutating func skipValue() throws(ParseFailure) {
        precondition(state == .value && !isInArray, "skipValue() follows a key")
        var unused: [UInt8] = []
        let start = depth
        repeat {
            _ = try step(&unused, decoding: false)
        } while depth > start
    }

    private mutating func step(_ out: inout [UInt8], decoding: Bool) throws(ParseFailure) -> Token {
        skipWhitespace()
        tokenStart = offset
        switch state {
        case .done:
            guard offset == bytes.count else { throw ParseFailure(.badJSON, at: offset) }
            return .end
        case .commaOrEnd:
            guard offset < bytes.count else { throw ParseFailure(.badJSON, at: offset) }
            let byte = bytes[offset]
            if byte == UInt8(ascii: ",") {
                offset += 1
                skipWhitespace()
                tokenStart = offset
                if isInArray { return try readValue(&out, decoding: decoding) }
                return try readKey(&out, decoding: decoding)
            }
            return try close(byte)
        case .topValue, .value:
            return try readValue(&out, decoding: decoding)
        case .firstValueOrEnd:
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { return try close(bytes[offset]) }
            return try readValue(&out, decoding: decoding)
        case .firstKeyOrEnd:
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { return try close(bytes[offset]) }
            return try readKey(&out, decoding: decoding)
        case .key:
            return try readKey(&out, decoding: decoding)
        }
    }

    /// `}` or `]`, which must match the innermost container.
    private mutating func close(_ byte: UInt8) throws(ParseFailure) -> Token {
        let token: Token
        switch byte {
        case UInt8(ascii: "}") where depth > 0 && !isInArray: token = .objectEnd
        case UInt8(ascii: "]") where isInArray: token = .arrayEnd
        default: throw ParseFailure(.badJSON, at: offset)
        }
        offset += 1
        depth -= 1
        arrayBits &= ~(1 << UInt64(depth))
        finishValue()
        return token
    }

    private mutating func readKey(_ out: inout [UInt8], decoding: Bool) throws(ParseFailure) -> Token {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw ParseFailure(.badJSON, at: offset) }
        let range = try readString(&out, decoding: decoding)
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw ParseFailure(.badJSON, at: offset) }
        offset += 1
        state = .value
        return .key(range)
    }

    private mutating func readValue(_ out: inout [UInt8], decoding: Bool) throws(ParseFailure) -> Token {
        guard offset < bytes.count else { throw ParseFailure(.badJSON, at: offset) }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            try open(array: false)
            state = .firstKeyOrEnd
            return .objectStart
        case UInt8(ascii: "["):
            try open(array: true)
            state = .firstValueOrEnd
            return .arrayStart
        case UInt8(ascii: "\""):
            let range = try readString(&out, decoding: decoding)
            finishValue()
            return .string(range)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = offset
            let first = out.count
            try readNumber()
            if decoding { append(start..<offset, to: &out) }
            finishValue()
            return .number(first..<out.count)
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return .null
        default:
            throw ParseFailure(.badJSON, at: offset)
        }
    }

    private mutating func open(array: Bool) throws(ParseFailure) {
        guard depth < maxDepth else { throw ParseFailure(.badJSON, at: offset) }
        if array { arrayBits |= 1 << UInt64(depth) }
        depth += 1
        offset += 1
    }

    /// After a complete value: the top level is done, or a container continues.
    private mutating func finishValue() {
        state = depth == 0 ? .done : .commaOrEnd
    }

    private mutating func readLiteral(_ word: StaticString) throws(ParseFailure) {
        let count = word.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw ParseFailure(.badJSON, at: offset) }
        let text = word.utf8Start
        for i in 0..<count where bytes[offset + i] != text[i] {
            throw ParseFailure(.badJSON, at: offset)
        }
        offset += count
        finishValue()
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6).
    private mutating func readNumber() throws(ParseFailure) {
        let start = offset
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count, ASCII.isDigit(bytes[offset]) else { throw ParseFailure(.badJSON, at: start) }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else {
            skipDigits()
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard offset < bytes.count, ASCII.isDigit(bytes[offset]) else { throw ParseFailure(.badJSON, at: start) }
            skipDigits()
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard offset < bytes.count, ASCII.isDigit(bytes[offset]) else { throw ParseFailure(.badJSON, at: start) }
            skipDigits()
        }
    }

    private mutating func skipDigits() {
        while offset < bytes.count, ASCII.isDigit(bytes[offset]) { offset += 1 }
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    /// A string from its opening quote; returns the range its decoded bytes took in `out` (empty and
    /// nothing appended when not decoding).
    private mutating func readString(_ out: inout [UInt8], decoding: Bool) throws(ParseFailure) -> Range<Int> {
        let quote = offset
        let first = out.count
        offset += 1
        var runStart = offset
        while true {
            // Eight plain bytes at a time; the byte loop below takes over at the first word holding a quote,
            // a backslash or a control byte. (Strings are most of a log line's bytes.)
            while offset + 8 <= bytes.count, !Self.hasSpecialByte(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
                offset += 8
            }
            guard offset < bytes.count else { throw ParseFailure(.badJSON, at: quote) }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                if decoding { append(runStart..<offset, to: &out) }
                offset += 1
                return first..<out.count
            }
            if byte == UInt8(ascii: "\\") {
                if decoding { append(runStart..<offset, to: &out) }
                try readEscape(&out, decoding: decoding)
                runStart = offset
                continue
            }
            guard byte >= 0x20 else { throw ParseFailure(.badJSON, at: offset) }
            offset += 1
        }
    }

    /// Whether any byte of `word` is `"`, `\` or below 0x20: the "has zero byte" and "has byte less than"
    /// tests of Anderson's Bit Twiddling Hacks. They never miss one; a false alarm only sends the caller to
    /// its byte loop.
    @inline(__always)
    static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let zeroQuote = (quotes &- ones) & ~quotes
        let zeroBackslash = (backslashes &- ones) & ~backslashes
        let belowSpace = (word &- ones &* 0x20) & ~word
        return (zeroQuote | zeroBackslash | belowSpace) & highs != 0
    }

    /// Appends `bytes[range]` to `out` as one copy.
    @inline(__always)
    private func append(_ range: Range<Int>, to out: inout [UInt8]) {
        UnsafeRawBufferPointer(rebasing: bytes[range]).withMemoryRebound(to: UInt8.self) { out.append(contentsOf: $0) }
    }

    /// One escape sequence, from its backslash.
    private mutating func readEscape(_ out: inout [UInt8], decoding: Bool) throws(ParseFailure) {
        let start = offset
        guard offset + 1 < bytes.count else { throw ParseFailure(.badJSON, at: start) }
        let letter = bytes[offset + 1]
        offset += 2
        let simple: UInt8
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = letter
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "x") where allowsHexEscapes:
            guard let high = hexDigit(at: offset), let low = hexDigit(at: offset + 1) else {
                throw ParseFailure(.badJSON, at: start)
            }
            offset += 2
            simple = high << 4 | low
        case UInt8(ascii: "u"):
            guard let unit = hexUnit(at: offset) else { throw ParseFailure(.badJSON, at: start) }
            offset += 4
            var scalar = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate pairs only with a `\u` low surrogate right after it.
                if offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u"),
                   let low = hexUnit(at: offset + 2), (0xDC00...0xDFFF).contains(low) {
                    offset += 6
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                } else {
                    scalar = 0xFFFD
                }
            } else if (0xDC00...0xDFFF).contains(unit) {
                scalar = 0xFFFD
            }
            if decoding { Self.appendUTF8(scalar, to: &out) }
            return
        default:
            throw ParseFailure(.badJSON, at: start)
        }
        if decoding { out.append(simple) }
    }

    private func hexDigit(at index: Int) -> UInt8? {
        index < bytes.count ? ASCII.hexValue(bytes[index]) : nil
    }

    /// Four hex digits at `index`, as a UTF-16 code unit.
    private func hexUnit(at index: Int) -> UInt16? {
        guard index + 4 <= bytes.count else { return nil }
        var unit: UInt16 = 0
        for i in index..<(index + 4) {
            guard let digit = ASCII.hexValue(bytes[i]) else { return nil }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// Appends a Unicode scalar value (never a surrogate) as UTF-8.
    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(0xC0 | UInt8(scalar >> 6))
            out.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(0xE0 | UInt8(scalar >> 12))
            out.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        default:
            out.append(0xF0 | UInt8(scalar >> 18))
            out.append(0x80 | UInt8((scalar >> 12) & 0x3F))
            out.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        }
    }
}
