/// Parses Apache/nginx `common` and `combined` access-log lines, byte by byte.
///
/// Follows Apache's mod_log_config (<https://httpd.apache.org/docs/current/mod/mod_log_config.html>):
/// `common` is `%h %l %u %t "%r" %>s %b`, `combined` adds `"%{Referer}i" "%{User-agent}i"`. nginx's default
/// `combined` log_format (<https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format>) has the same
/// shape.
///
/// Accepted:
/// - `%h`: any run of non-space bytes (an IPv4 or IPv6 address, or a host name when HostnameLookups is on).
/// - `%l`, `%u`: any run of non-space bytes; `%u` may also be a quoted string.
/// - `%t`: `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`, converted to UTC.
/// - `"%r"`: a quoted string with backslash escapes (`\"`, `\\`, `\xHH`); its content need not be a valid
///   request line (then `requestIsValid` is false and the line still counts).
/// - `%>s`: three digits. `%b`: digits or `-`.
/// - `combined`: two more quoted strings; then any number of trailing quoted fields (a Cookie field is told
///   by its `=`; an X-Forwarded-For field by an IP address first), `-`, or unquoted numbers (a time taken). The user agent and trailing fields
///   may lack their closing quote at the end of the line (writers that cut long values do this).
///
/// Rejected, with the code and the offset where parsing stopped: a missing field (`missing_field`), a bad
/// timestamp (`bad_timestamp`), an unterminated quote (`bad_quoting`), a status that is not three digits
/// (`bad_status`), a size that is neither digits nor `-` (`bad_bytes`), unquoted bytes after the last field
/// (`trailing_garbage`), and in `combined` mode a line without referrer and user agent (`missing_field`).
public struct CombinedLogParser: Sendable {
    /// Which shape the parser demands.
    public enum Mode: String, Sendable, CaseIterable {
        /// `common`, with or without the `combined` fields.
        case lenient
        /// Referrer and user agent required.
        case combined
        /// Exactly `common`: the seven fields and nothing after them.
        case common
    }

    public let mode: Mode

    public init(mode: Mode = .lenient) {
        self.mode = mode
    }

    /// Parses `line` (without its terminator).
    ///
    /// - Returns: the event's fields as ranges into `line`.
    /// - Throws: `ParseFailure` with a code and the offset where parsing stopped.
    /// - Complexity: O(line.count), one pass.
    public func parse(_ line: UnsafeRawBufferPointer) throws(ParseFailure) -> AccessLogEvent {
        var event = AccessLogEvent()
        try parse(line, into: &event)
        return event
    }

    /// Parses `line` into `event`, overwriting it whole: `parse(_:)` without the copy of its result, for a
    /// caller that keeps its events in place. After a throw, `event` holds part of the line's fields.
    public func parse(_ line: UnsafeRawBufferPointer, into event: inout AccessLogEvent) throws(ParseFailure) {
        var cursor = ByteCursor(line)
        event = AccessLogEvent()

        event.client = try cursor.readToken(or: .missingField)
        try cursor.readSpace()
        _ = try cursor.readToken(or: .missingField)  // %l, identd: never used
        try cursor.readSpace()
        if cursor.peek() == UInt8(ascii: "\"") {
            event.remoteUser = try cursor.readQuoted()
        } else {
            event.remoteUser = try cursor.readToken(or: .missingField)
        }
        try cursor.readSpace()
        event.time = try cursor.readBracketedTimestamp()
        try cursor.readSpace()
        let request = try cursor.readQuoted()
        Self.splitRequest(line, request, into: &event)
        try cursor.readSpace()
        event.status = try cursor.readStatus()
        try cursor.readSpace()
        event.bytes = try cursor.readByteCount()

        if cursor.isAtEnd {
            if mode == .combined { throw ParseFailure(.missingField, at: cursor.offset) }
            return
        }
        if mode == .common { throw ParseFailure(.trailingGarbage, at: cursor.offset) }
        try cursor.readSpace()
        event.referrer = try cursor.readOptionalQuoted()
        try cursor.readSpace()
        // Lenient on the last field: some writers cut long user agents without closing the quote.
        event.userAgent = try cursor.readOptionalQuoted(allowUnterminated: true)
        event.isCombined = true

        while !cursor.isAtEnd {
            try cursor.readSpace()
            if cursor.isAtEnd { break }  // trailing spaces
            // An unquoted number after the combined fields is a time taken (`%T`, `%D`, `$request_time`,
            // as Omniture's and Icecast's logs append); its unit is unknown here, so it is skipped.
            if cursor.skipNumber() { continue }
            guard let field = try cursor.readOptionalQuoted(allowUnterminated: true) else { continue }
            Self.assignTrailing(line, field, into: &event)
        }
    }

    /// Splits `%r` into method, target and protocol when it has that shape.
    static func splitRequest(_ line: UnsafeRawBufferPointer, _ request: Range<Int>, into event: inout AccessLogEvent) {
        // The first space ends the method, a few bytes in; the last one starts the protocol, a few bytes from
        // the end. Neither scan crosses the target, unless the request has no protocol.
        var firstSpace = request.lowerBound
        while firstSpace < request.upperBound, line[firstSpace] != UInt8(ascii: " ") { firstSpace += 1 }
        guard firstSpace < request.upperBound, firstSpace > request.lowerBound else { return }
        var lastSpace = request.upperBound - 1
        while line[lastSpace] != UInt8(ascii: " ") { lastSpace -= 1 }
        let method = request.lowerBound..<firstSpace
        for i in method where !ASCII.isMethodByte(line[i]) { return }
        // `- - -` (a TCP connection logged by a load balancer) is no request.
        guard !(method.count == 1 && line[method.lowerBound] == UInt8(ascii: "-")) else { return }
        let targetStart = firstSpace + 1
        var targetEnd = request.upperBound
        var proto = request.upperBound..<request.upperBound
        if lastSpace > firstSpace {
            targetEnd = lastSpace
            proto = (lastSpace + 1)..<request.upperBound
        } else if lastSpace == firstSpace, request.upperBound - targetStart == 0 {
            return
        }
        guard targetEnd > targetStart else { return }
        event.method = method
        event.target = targetStart..<targetEnd
        event.requestProtocol = proto
        event.requestIsValid = true
    }

    /// Classifies a trailing quoted field: a Cookie header has a `=`, an X-Forwarded-For starts with an address.
    static func assignTrailing(_ line: UnsafeRawBufferPointer, _ field: Range<Int>, into event: inout AccessLogEvent) {
        var hasEquals = false
        for i in field where line[i] == UInt8(ascii: "=") {
            hasEquals = true
            break
        }
        if hasEquals {
            if event.cookie == nil { event.cookie = field }
            return
        }
        var end = field.lowerBound
        while end < field.upperBound, line[end] != UInt8(ascii: ","), line[end] != UInt8(ascii: " ") { end += 1 }
        let first = UnsafeRawBufferPointer(rebasing: line[field.lowerBound..<end])
        if event.forwardedFor == nil, IPAddress.parse(first) != nil {
            event.forwardedFor = field
        }
    }
}

/// A read cursor over one line. `read…` consumes, `peek…` does not.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset >= bytes.count }

    func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// A run of one or more non-space bytes.
    mutating func readToken(or code: RejectCode) throws(ParseFailure) -> Range<Int> {
        let start = offset
        while offset < bytes.count, bytes[offset] != UInt8(ascii: " ") { offset += 1 }
        guard offset > start else { throw ParseFailure(code, at: start) }
        return start..<offset
    }

    /// One or more spaces (a few writers pad with two).
    mutating func readSpace() throws(ParseFailure) {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: " ") else {
            throw ParseFailure(.missingField, at: offset)
        }
        repeat { offset += 1 } while offset < bytes.count && bytes[offset] == UInt8(ascii: " ")
    }

    /// The offset of the first `"` or `\\` at or after `index`, or `bytes.count`.
    ///
    /// Sixteen bytes at a time, then eight: quoted fields are user agents, referrers and cookies, dozens to
    /// hundreds of bytes with no quote or backslash inside. Sixteen bytes are compared lane by lane
    /// (`ASCII.equalLanes`). In a word of eight (SWAR), `(x − 0x01) & ~x & 0x80` is set for a byte x that is 0
    /// (x being the byte XOR the wanted byte); a borrow can only set bits above a real match, so the lowest set
    /// bit is exact (little-endian loads: the lowest byte comes first).
    @inline(__always)
    static func nextQuoteOrBackslash(in bytes: UnsafeRawBufferPointer, from index: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let count = bytes.count
        var index = index
        let quote = SIMD16<UInt8>(repeating: UInt8(ascii: "\"")), backslash = SIMD16<UInt8>(repeating: UInt8(ascii: "\\"))
        while index + 16 <= count {
            let lanes = bytes.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
            if let lane = ASCII.firstMarkedLane(ASCII.equalLanes(lanes, quote) | ASCII.equalLanes(lanes, backslash)) {
                return index + lane
            }
            index += 16
        }
        while index + 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
            let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
            let found = ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes) & highs
            if found != 0 { return index + found.trailingZeroBitCount >> 3 }
            index += 8
        }
        while index < count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
        return index
    }

    /// `"..."` with backslash escapes; returns the range inside the quotes.
    ///
    /// The closing quote is the first unescaped `"` followed by a space or the end of the line; an
    /// unescaped `"` elsewhere (some servers do not escape) is taken as content. With
    /// `allowUnterminated`, a field with no closing quote runs to the end of the line.
    mutating func readQuoted(allowUnterminated: Bool = false) throws(ParseFailure) -> Range<Int> {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
            throw ParseFailure(.missingField, at: offset)
        }
        let start = offset + 1
        var index = start
        while index < bytes.count {
            index = Self.nextQuoteOrBackslash(in: bytes, from: index)
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if byte == UInt8(ascii: "\""), index + 1 == bytes.count || bytes[index + 1] == UInt8(ascii: " ") {
                offset = index + 1
                return start..<index
            }
            index += 1
        }
        guard allowUnterminated else { throw ParseFailure(.badQuoting, at: offset) }
        offset = bytes.count
        return start..<bytes.count
    }

    /// Skips an unquoted decimal number (`1807`, `0.004`) that ends at a space or the end of the line;
    /// false, consuming nothing, when there is none.
    mutating func skipNumber() -> Bool {
        var index = offset
        var digits = 0
        while index < bytes.count, ASCII.isDigit(bytes[index]) || (digits > 0 && bytes[index] == UInt8(ascii: ".")) {
            if ASCII.isDigit(bytes[index]) { digits += 1 }
            index += 1
        }
        guard digits > 0, index == bytes.count || bytes[index] == UInt8(ascii: " ") else { return false }
        offset = index
        return true
    }

    /// A quoted field, or nil when it is `"-"` or an unquoted `-`.
    mutating func readOptionalQuoted(allowUnterminated: Bool = false) throws(ParseFailure) -> Range<Int>? {
        if peek() == UInt8(ascii: "-") {
            offset += 1
            guard isAtEnd || bytes[offset] == UInt8(ascii: " ") else { throw ParseFailure(.badQuoting, at: offset) }
            return nil
        }
        if peek() != UInt8(ascii: "\"") { throw ParseFailure(.badQuoting, at: offset) }
        let range = try readQuoted(allowUnterminated: allowUnterminated)
        if range.count == 0 || (range.count == 1 && bytes[range.lowerBound] == UInt8(ascii: "-")) { return nil }
        return range
    }

    /// Three ASCII digits.
    mutating func readStatus() throws(ParseFailure) -> Int {
        guard offset + 3 <= bytes.count else { throw ParseFailure(.badStatus, at: offset) }
        var value = 0
        for i in 0..<3 {
            let digit = Int(bytes[offset + i]) &- 48
            guard digit >= 0, digit <= 9 else { throw ParseFailure(.badStatus, at: offset) }
            value = value * 10 + digit
        }
        guard offset + 3 == bytes.count || bytes[offset + 3] == UInt8(ascii: " ") else {
            throw ParseFailure(.badStatus, at: offset)
        }
        offset += 3
        return value
    }

    /// Digits (at most 18), or `-` for zero.
    mutating func readByteCount() throws(ParseFailure) -> Int64 {
        let start = offset
        if peek() == UInt8(ascii: "-") {
            offset += 1
            guard isAtEnd || bytes[offset] == UInt8(ascii: " ") else { throw ParseFailure(.badBytes, at: start) }
            return 0
        }
        var value: Int64 = 0
        while offset < bytes.count, bytes[offset] != UInt8(ascii: " ") {
            let digit = Int64(bytes[offset]) &- 48
            guard digit >= 0, digit <= 9, offset - start < 18 else { throw ParseFailure(.badBytes, at: start) }
            value = value * 10 + digit
            offset += 1
        }
        guard offset > start else { throw ParseFailure(.badBytes, at: start) }
        return value
    }

    /// `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` → epoch seconds UTC.
    mutating func readBracketedTimestamp() throws(ParseFailure) -> Int64 {
        let start = offset
        guard offset + 28 <= bytes.count, bytes[offset] == UInt8(ascii: "["), bytes[offset + 27] == UInt8(ascii: "]") else {
            throw ParseFailure(.badTimestamp, at: start)
        }
        guard let seconds = ApacheTimestamp.parse(UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<(offset + 27)])) else {
            throw ParseFailure(.badTimestamp, at: start)
        }
        offset += 28
        return seconds
    }
}

/// Apache's `%t` timestamp body, `dd/Mon/yyyy:HH:MM:SS ±hhmm` (26 bytes), to epoch seconds UTC.
public enum ApacheTimestamp {
    /// Returns nil unless `text` is exactly 26 bytes of that shape with a real calendar date and time.
    public static func parse(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count == 26,
              text[2] == UInt8(ascii: "/"), text[6] == UInt8(ascii: "/"), text[11] == UInt8(ascii: ":"),
              text[14] == UInt8(ascii: ":"), text[17] == UInt8(ascii: ":"), text[20] == UInt8(ascii: " ")
        else { return nil }
        guard let day = digits(text, 0, 2), let year = digits(text, 7, 4), let hour = digits(text, 12, 2),
              let minute = digits(text, 15, 2), let second = digits(text, 18, 2),
              let offsetHours = digits(text, 22, 2), let offsetMinutes = digits(text, 24, 2),
              let month = month(text[3], text[4], text[5])
        else { return nil }
        let sign = text[21]
        guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        guard day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 60,
              offsetHours <= 23, offsetMinutes <= 59
        else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        let local = days * 86_400 + hour * 3_600 + minute * 60 + second
        let zone = offsetHours * 3_600 + offsetMinutes * 60
        return sign == UInt8(ascii: "+") ? local - zone : local + zone
    }

    @inline(__always)
    static func digits(_ text: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for i in start..<(start + count) {
            let digit = Int64(text[i]) &- 48
            guard digit >= 0, digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// English three-letter month names, as Apache and nginx always write them.
    static func month(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int64? {
        switch (a, b, c) {
        case (0x4A, 0x61, 0x6E): 1  // Jan
        case (0x46, 0x65, 0x62): 2  // Feb
        case (0x4D, 0x61, 0x72): 3  // Mar
        case (0x41, 0x70, 0x72): 4  // Apr
        case (0x4D, 0x61, 0x79): 5  // May
        case (0x4A, 0x75, 0x6E): 6  // Jun
        case (0x4A, 0x75, 0x6C): 7  // Jul
        case (0x41, 0x75, 0x67): 8  // Aug
        case (0x53, 0x65, 0x70): 9  // Sep
        case (0x4F, 0x63, 0x74): 10  // Oct
        case (0x4E, 0x6F, 0x76): 11  // Nov
        case (0x44, 0x65, 0x63): 12  // Dec
        default: nil
        }
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
