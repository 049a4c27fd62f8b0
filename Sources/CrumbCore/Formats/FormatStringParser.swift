/// Parses access-log lines written by a compiled Apache `LogFormat`, nginx `log_format` or preset
/// (`FormatProgram`), in one pass over the line's bytes.
///
/// Matching: literals must match byte for byte. A field ends at the byte that starts what follows it (the
/// next literal's first byte, or the lead byte of a field that may follow directly, as `?` does for `%q`),
/// or at the end of the line when it is last. A field followed by a `"` is quoted: it ends at the first
/// unescaped `"` where the rest of the following literal matches, honouring Apache's `\"`, `\\` and `\xHH`
/// escapes and nginx's `\x22` (ranges are raw: nothing is unescaped). When that `"` is the line's last
/// literal it must be followed by a space or the end of the line, and a field with no closing quote at all
/// runs to the end of the line (writers that cut long user agents do this). An unquoted `%u` that starts
/// with `"` is read as a quoted string. A field written as `-` (or empty) is absent.
///
/// Values: `%t` and `$time_local` as `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`; strftime patterns as compiled (a
/// pattern without a zone is read as UTC; `%Z` accepts only `UTC`, `GMT` and `Z`); times up to the year
/// 9999 (a format with no time field gives time 0); status as three digits, or `-` for 0 (ELB writes `-`
/// for TCP connections); sizes as digits or `-` for 0; `%D` as integer microseconds, `%{ms}T` as
/// milliseconds, `%T` and `$request_time` as seconds with an optional fraction.
/// Request targets in absolute form (`http://host:80/path?q`, as ALB and ELB write them) become their
/// origin form (`/path?q`), and their host becomes the event's host when no host field is present.
///
/// The result is `.event` (ranges into the line) unless a value had to be assembled — `%{NAME}C` or
/// `$cookie_NAME` values as a `NAME=value; ...` Cookie, `$uri` and `$args` that are not contiguous, an
/// absolute-form target without a path — and then `.decodedEvent`, with the line copied to the start of
/// `decoded` (so every range of the line keeps its offset) and the assembled values after it. Captured
/// values that no role claims are `unmapped`, with an empty name in `.event` results and the name copied
/// into `decoded` in `.decodedEvent` results.
///
/// Rejected, with the offset where parsing stopped: a missing field or literal (`missing_field`), a `"`
/// where the format has none or a quoted field with no end (`bad_quoting`), a bad time (`bad_timestamp`),
/// status (`bad_status`), size (`bad_bytes`) or number (`bad_number`), and bytes after the last step
/// (`trailing_garbage`).
public struct FormatStringParser: WebLineParser {
    public let program: FormatProgram
    private let hasMethod: Bool
    /// Per-line scratch, kept for its capacity: named cookie values and the names of unmapped values.
    private var cookieValues: [(name: Int32, value: Range<Int>)] = []
    private var unmappedNames: [Int32] = []

    public init(_ program: FormatProgram) {
        self.program = program
        self.hasMethod = program.steps.contains { $0.op == .method }
    }

    public var formatName: String { program.name }
    /// Every line is read on its own: the parser keeps only scratch between lines.
    public var linesAreIndependent: Bool { true }
    /// When the format opens with the client address (`%h`, `%a`, `$remote_addr`) followed by a space.
    public var linesStartWithClient: Bool {
        guard let first = program.steps.first else { return false }
        return first.op == .client && first.stop1 == UInt16(UInt8(ascii: " ")) && first.stop2 == FormatStep.noStop
    }

    /// Parses one line (without its terminator).
    ///
    /// - Parameter decoded: cleared and filled only when the result is `.decodedEvent`.
    /// - Throws: `ParseFailure` with a code and the offset in `line` where parsing stopped.
    /// - Complexity: O(line.count), one pass; no allocation unless the line has unmapped values or needs
    ///   assembling.
    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult {
        cookieValues.removeAll(keepingCapacity: true)
        unmappedNames.removeAll(keepingCapacity: true)
        var event = AccessLogEvent()
        event.isCombined = program.isCombined
        var pieces = RequestPieces()
        var time = TimeParts()
        var duration = DurationSum()
        var pos = 0
        var closingQuoteMissing = false
        let end = line.count
        let steps = program.steps

        for index in steps.indices {
            let step = steps[index]
            switch step.op {
            case .literal:
                if closingQuoteMissing {
                    closingQuoteMissing = false  // the last quoted field ran to the end of the line
                    continue
                }
                try matchLiteral(step, line, &pos)
            case .skipRest:
                guard pos == end || line[pos] == UInt8(ascii: " ") else { throw ParseFailure(.trailingGarbage, at: pos) }
                pos = end
            case .isArgs:
                if pos < end, line[pos] == UInt8(ascii: "?") { pos += 1 }
            default:
                if step.isTime {
                    if step.store {
                        if time.start < 0 { time.start = pos }
                        try Self.readTime(step, line, &pos, into: &time)
                    } else {
                        var unused = TimeParts()
                        try Self.readTime(step, line, &pos, into: &unused)
                    }
                    continue
                }
                let range: Range<Int>
                if step.quoted {
                    let scanned = try scanQuoted(step, literal: steps[index + 1], line, from: pos)
                    range = scanned.range
                    closingQuoteMissing = !scanned.closed
                    pos = range.upperBound
                } else if step.op == .remoteUser, pos < end, line[pos] == UInt8(ascii: "\"") {
                    range = try Self.scanQuotedUser(step, line, from: pos)
                    pos = range.upperBound + 1
                } else {
                    range = Self.scan(step, line, from: pos)
                    pos = range.upperBound
                }
                try assign(step, range, line, &event, &pieces, &duration)
            }
        }
        guard pos == end else { throw ParseFailure(.trailingGarbage, at: pos) }

        if program.hasTime {
            guard let seconds = time.epochSeconds(), seconds <= TimeParts.latest else {
                throw ParseFailure(.badTimestamp, at: max(0, time.start))
            }
            event.time = seconds
        }
        if program.sumsDurations, duration.valid { event.durationMicros = duration.micros }

        // The request, and what has to be assembled.
        var assembledTarget: Assembly = .inLine
        if let request = pieces.request {
            CombinedLogParser.splitRequest(line, request, into: &event)
            if event.requestIsValid, Self.isDash(line, event.method) {
                // ELB's TCP lines write "- - - ": no request, though it splits like one.
                let blank = AccessLogEvent()
                (event.method, event.target, event.requestProtocol) = (blank.method, blank.target, blank.requestProtocol)
                event.requestIsValid = false
            }
        } else if pieces.hasAny {
            if let method = pieces.method { event.method = method }
            if let proto = pieces.requestProtocol { event.requestProtocol = proto }
            if let uri = pieces.requestURI {
                event.target = uri
            } else if let path = pieces.path {
                if let query = pieces.query {
                    if query.lowerBound == path.upperBound + 1, line[path.upperBound] == UInt8(ascii: "?") {
                        event.target = path.lowerBound..<query.upperBound
                    } else {
                        assembledTarget = .pathAndQuery(path, query)
                    }
                } else {
                    event.target = path
                }
            }
            let methodIsValid = !event.method.isEmpty && event.method.allSatisfy { ASCII.isMethodByte(line[$0]) }
            event.requestIsValid = (methodIsValid || !hasMethod) && (!event.target.isEmpty || assembledTarget != .inLine)
        }
        if event.requestIsValid, assembledTarget == .inLine, let absolute = Self.absoluteForm(line, event.target) {
            if let path = absolute.path {
                event.target = path
            } else {
                assembledTarget = .slashAnd(absolute.rest)
            }
            if event.host == nil, !absolute.host.isEmpty { event.host = absolute.host }
        }
        let assemblesCookie = program.hasNamedCookies && event.cookie == nil && !cookieValues.isEmpty
        guard assemblesCookie || assembledTarget != .inLine else { return .event(event) }

        decoded.removeAll(keepingCapacity: true)
        decoded.append(contentsOf: line)
        switch assembledTarget {
        case .inLine: break
        case .pathAndQuery(let path, let query):
            let start = decoded.count
            decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[path]))
            decoded.append(UInt8(ascii: "?"))
            decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[query]))
            event.target = start..<decoded.count
        case .slashAnd(let rest):
            let start = decoded.count
            decoded.append(UInt8(ascii: "/"))
            decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[rest]))
            event.target = start..<decoded.count
        }
        if assemblesCookie {
            let start = decoded.count
            for (name, value) in cookieValues {
                if decoded.count > start { decoded.append(contentsOf: [UInt8(ascii: ";"), UInt8(ascii: " ")]) }
                decoded.append(contentsOf: program.names[program.nameRanges[Int(name)]])
                decoded.append(UInt8(ascii: "="))
                decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[value]))
            }
            event.cookie = start..<decoded.count
        }
        for (k, name) in unmappedNames.enumerated() {
            let start = decoded.count
            decoded.append(contentsOf: program.names[program.nameRanges[Int(name)]])
            event.unmapped[k].name = start..<decoded.count
        }
        return .decodedEvent(event)
    }

    // MARK: Fields

    /// Stores a text or number field's range in its role.
    @inline(__always)
    private mutating func assign(
        _ step: FormatStep, _ range: Range<Int>, _ line: UnsafeRawBufferPointer, _ event: inout AccessLogEvent,
        _ pieces: inout RequestPieces, _ duration: inout DurationSum
    ) throws(ParseFailure) {
        let value = Self.present(line, range)
        switch step.op {
        case .client, .clientFallback:
            guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
            event.client = range
        case .clientAddressPort:
            guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
            event.client = Self.addressPart(line, range)
        case .remoteUser: event.remoteUser = range
        case .request: pieces.request = range
        case .method: pieces.method = value
        case .path: pieces.path = value
        case .query:
            if let value, line[value.lowerBound] == UInt8(ascii: "?") {
                pieces.query = value.count > 1 ? (value.lowerBound + 1)..<value.upperBound : nil
            } else {
                pieces.query = value
            }
        case .args: pieces.query = value
        case .requestURI: pieces.requestURI = value
        case .requestProtocol: pieces.requestProtocol = value
        case .referrer: if event.referrer == nil { event.referrer = value }
        case .userAgent: if event.userAgent == nil { event.userAgent = value }
        case .cookieHeader: if event.cookie == nil { event.cookie = value }
        case .forwardedFor: if event.forwardedFor == nil { event.forwardedFor = value }
        case .host: if event.host == nil { event.host = value }
        case .doNotTrack: if Self.isOne(line, range) { event.doNotTrack = true }
        case .globalPrivacyControl: if Self.isOne(line, range) { event.globalPrivacyControl = true }
        case .unmapped:
            if let value {
                event.unmapped.append(NamedRange(name: 0..<0, value: value))
                unmappedNames.append(step.a)
            }
        case .namedCookie: if let value { cookieValues.append((step.a, value)) }
        case .statusFinal, .statusOriginal: event.status = try Self.status(line, range)
        case .bodyBytes, .totalBytes: event.bytes = try Self.byteCount(line, range)
        case .durationMicros: event.durationMicros = try Self.integer(line, range)
        case .durationMillis:
            if let millis = try Self.integer(line, range) {
                let (micros, overflow) = millis.multipliedReportingOverflow(by: 1_000)
                guard !overflow else { throw ParseFailure(.badNumber, at: range.lowerBound) }
                event.durationMicros = micros
            } else {
                event.durationMicros = nil
            }
        case .durationSeconds: event.durationMicros = try Self.decimalMicros(line, range)
        case .durationSecondsPart:
            if range.count == 2, line[range.lowerBound] == UInt8(ascii: "-"), line[range.lowerBound + 1] == UInt8(ascii: "1") {
                duration.valid = false
            } else if let micros = try Self.decimalMicros(line, range) {
                duration.micros += micros
            } else {
                duration.valid = false
            }
        default: break  // .ignored
        }
    }

    /// Reads up to the step's stop byte (or the end of the line).
    @inline(__always)
    private static func scan(_ step: FormatStep, _ line: UnsafeRawBufferPointer, from start: Int) -> Range<Int> {
        guard step.stop1 != FormatStep.noStop else { return start..<line.count }
        let stop1 = UInt8(truncatingIfNeeded: step.stop1)
        let stop2 = step.stop2 == FormatStep.noStop ? stop1 : UInt8(truncatingIfNeeded: step.stop2)
        return start..<firstIndex(of: stop1, or: stop2, in: line, from: start)
    }

    /// The offset of the first `a` or `b` at or after `start`, or the end of the line.
    ///
    /// Eight bytes at a time (the zero-byte test from "Bit Twiddling Hacks"): quoted requests and user
    /// agents are most of a line's bytes, and this made the combined format 1.4× faster than a byte loop.
    @inline(__always)
    static func firstIndex(of a: UInt8, or b: UInt8, in line: UnsafeRawBufferPointer, from start: Int) -> Int {
        let end = line.count
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let aa = UInt64(a) &* ones
        let bb = UInt64(b) &* ones
        var i = start
        while i + 8 <= end {
            let word = UInt64(littleEndian: line.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = word ^ aa
            let y = word ^ bb
            // A byte of x or y is zero where the word holds a or b; the lowest flag is always exact.
            let found = (((x &- ones) & ~x) | ((y &- ones) & ~y)) & highs
            if found != 0 { return i + found.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < end, line[i] != a, line[i] != b { i += 1 }
        return i
    }

    /// Reads a quoted field's content up to its closing `"`; `closed` is false when the last quoted field
    /// runs to the end of the line.
    private func scanQuoted(
        _ step: FormatStep, literal: FormatStep, _ line: UnsafeRawBufferPointer, from start: Int
    ) throws(ParseFailure) -> (range: Range<Int>, closed: Bool) {
        let end = line.count
        let count = Int(literal.b)
        var i = start
        while true {
            i = Self.firstIndex(of: UInt8(ascii: "\""), or: UInt8(ascii: "\\"), in: line, from: i)
            guard i < end else { break }
            if line[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if literalMatches(literal, line, at: i), !step.lastQuoted || i + count == end || line[i + count] == UInt8(ascii: " ") {
                return (start..<i, true)
            }
            i += 1
        }
        guard step.lastQuoted else {
            // A line that ends in a `"` ends where a field's closing quote was: what follows is missing.
            let endsInQuote = end > start && line[end - 1] == UInt8(ascii: "\"")
            throw ParseFailure(endsInQuote ? .missingField : .badQuoting, at: endsInQuote ? end : max(0, start - 1))
        }
        return (start..<end, false)
    }

    /// `"..."` in an unquoted `%u`: the content, up to a `"` followed by the stop byte or the end.
    private static func scanQuotedUser(_ step: FormatStep, _ line: UnsafeRawBufferPointer, from quote: Int) throws(ParseFailure) -> Range<Int> {
        let end = line.count
        var i = quote + 1
        while i < end {
            if line[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if line[i] == UInt8(ascii: "\""), i + 1 == end || UInt16(line[i + 1]) == step.stop1 {
                return (quote + 1)..<i
            }
            i += 1
        }
        throw ParseFailure(.badQuoting, at: quote)
    }

    @inline(__always)
    private func literalMatches(_ literal: FormatStep, _ line: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        let count = Int(literal.b)
        guard offset + count <= line.count else { return false }
        let base = Int(literal.a)
        for k in 0..<count where line[offset + k] != program.literals[base + k] { return false }
        return true
    }

    @inline(__always)
    private func matchLiteral(_ step: FormatStep, _ line: UnsafeRawBufferPointer, _ pos: inout Int) throws(ParseFailure) {
        let base = Int(step.a)
        for k in 0..<Int(step.b) {
            let offset = pos + k
            guard offset < line.count else { throw ParseFailure(.missingField, at: offset) }
            let want = program.literals[base + k]
            let got = line[offset]
            if got != want {
                let quoting = want == UInt8(ascii: "\"") || got == UInt8(ascii: "\"")
                throw ParseFailure(quoting ? .badQuoting : .missingField, at: offset)
            }
        }
        pos += Int(step.b)
    }

    // MARK: Values

    /// `range`, or nil when it is empty or `-`.
    @inline(__always)
    static func present(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int>? {
        if range.isEmpty || (range.count == 1 && line[range.lowerBound] == UInt8(ascii: "-")) { return nil }
        return range
    }

    static func isOne(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        range.count == 1 && line[range.lowerBound] == UInt8(ascii: "1")
    }

    static func isDash(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        range.count == 1 && line[range.lowerBound] == UInt8(ascii: "-")
    }

    /// Three digits, or `-` for 0.
    static func status(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) throws(ParseFailure) -> Int {
        guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
        if isDash(line, range) { return 0 }
        guard range.count == 3 else { throw ParseFailure(.badStatus, at: range.lowerBound) }
        var value = 0
        for i in range {
            guard let digit = ASCII.decimalValue(line[i]) else { throw ParseFailure(.badStatus, at: range.lowerBound) }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Digits (at most 18), or `-` for 0.
    static func byteCount(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) throws(ParseFailure) -> Int64 {
        guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
        if isDash(line, range) { return 0 }
        guard let value = digits(line, range) else { throw ParseFailure(.badBytes, at: range.lowerBound) }
        return value
    }

    /// Digits (at most 18), or nil for `-`.
    static func integer(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) throws(ParseFailure) -> Int64? {
        guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
        if isDash(line, range) { return nil }
        guard let value = digits(line, range) else { throw ParseFailure(.badNumber, at: range.lowerBound) }
        return value
    }

    /// Seconds as digits with an optional fraction (`0.123`, `2`), in microseconds; nil for `-`. Fraction
    /// digits past the sixth are checked and dropped.
    static func decimalMicros(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) throws(ParseFailure) -> Int64? {
        guard !range.isEmpty else { throw ParseFailure(.missingField, at: range.lowerBound) }
        if isDash(line, range) { return nil }
        let bad = ParseFailure(.badNumber, at: range.lowerBound)
        var i = range.lowerBound
        var seconds: Int64 = 0
        while i < range.upperBound, let digit = ASCII.decimalValue(line[i]) {
            guard i - range.lowerBound < 12 else { throw bad }
            seconds = seconds * 10 + Int64(digit)
            i += 1
        }
        guard i > range.lowerBound else { throw bad }
        var micros: Int64 = 0
        var scale: Int64 = 100_000
        if i < range.upperBound {
            guard line[i] == UInt8(ascii: "."), i + 1 < range.upperBound else { throw bad }
            i += 1
            while i < range.upperBound {
                guard let digit = ASCII.decimalValue(line[i]) else { throw bad }
                micros += Int64(digit) * scale
                scale /= 10
                i += 1
            }
        }
        return seconds * 1_000_000 + micros
    }

    /// 1 to 18 digits, or nil.
    @inline(__always)
    static func digits(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value: Int64 = 0
        for i in range {
            guard let digit = ASCII.decimalValue(line[i]) else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// The address of `address:port`, `[v6]:port` or a bare address: IPv6 addresses without brackets keep
    /// all but their last `:`-separated part, as ALB and ELB write them.
    static func addressPart(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        if line[range.lowerBound] == UInt8(ascii: "[") {
            var i = range.lowerBound + 1
            while i < range.upperBound, line[i] != UInt8(ascii: "]") { i += 1 }
            return (range.lowerBound + 1)..<i
        }
        var i = range.upperBound - 1
        while i > range.lowerBound, line[i] != UInt8(ascii: ":") { i -= 1 }
        return i > range.lowerBound ? range.lowerBound..<i : range
    }

    /// `http://host:port/path?q` (either case of scheme): the host, and the path with its query, or nil
    /// for the path when the target has none (then `rest` is what follows the authority).
    static func absoluteForm(_ line: UnsafeRawBufferPointer, _ target: Range<Int>) -> (host: Range<Int>, path: Range<Int>?, rest: Range<Int>)? {
        var i = target.lowerBound
        for byte in "http".utf8 {
            guard i < target.upperBound, ASCII.lowercased(line[i]) == byte else { return nil }
            i += 1
        }
        if i < target.upperBound, ASCII.lowercased(line[i]) == UInt8(ascii: "s") { i += 1 }
        for byte in "://".utf8 {
            guard i < target.upperBound, line[i] == byte else { return nil }
            i += 1
        }
        let authorityStart = i
        while i < target.upperBound, line[i] != UInt8(ascii: "/"), line[i] != UInt8(ascii: "?"), line[i] != UInt8(ascii: "#") {
            i += 1
        }
        let authorityEnd = i
        var hostStart = authorityStart
        for k in authorityStart..<authorityEnd where line[k] == UInt8(ascii: "@") { hostStart = k + 1 }
        var hostEnd = hostStart
        if hostStart < authorityEnd, line[hostStart] == UInt8(ascii: "[") {
            while hostEnd < authorityEnd, line[hostEnd] != UInt8(ascii: "]") { hostEnd += 1 }
            hostEnd = min(authorityEnd, hostEnd + 1)
        } else {
            while hostEnd < authorityEnd, line[hostEnd] != UInt8(ascii: ":") { hostEnd += 1 }
        }
        let rest = authorityEnd..<target.upperBound
        let path = authorityEnd < target.upperBound && line[authorityEnd] == UInt8(ascii: "/") ? rest : nil
        return (hostStart..<hostEnd, path, rest)
    }

    // MARK: Time

    /// Reads one time step at `pos` into `time`.
    static func readTime(_ step: FormatStep, _ line: UnsafeRawBufferPointer, _ pos: inout Int, into time: inout TimeParts) throws(ParseFailure) {
        let start = pos
        let end = line.count
        let bad = ParseFailure(.badTimestamp, at: start)
        /// `count` digits at `pos`, consumed.
        func fixed(_ count: Int, spacePadded: Bool = false) throws(ParseFailure) -> Int64 {
            guard pos + count <= end else { throw bad }
            var value: Int64 = 0
            for k in 0..<count {
                let byte = line[pos + k]
                if spacePadded, k == 0, count > 1, byte == UInt8(ascii: " ") { continue }
                guard let digit = ASCII.decimalValue(byte) else { throw bad }
                value = value * 10 + Int64(digit)
            }
            pos += count
            return value
        }
        /// A run of 1 to 18 digits, consumed.
        func run() throws(ParseFailure) -> Int64 {
            var i = pos
            while i < end, ASCII.isDigit(line[i]) { i += 1 }
            guard let value = digits(line, pos..<i) else { throw bad }
            pos = i
            return value
        }
        /// A run of ASCII letters, consumed.
        func letters() throws(ParseFailure) -> Range<Int> {
            var i = pos
            while i < end, (line[i] | 0x20) >= UInt8(ascii: "a"), (line[i] | 0x20) <= UInt8(ascii: "z") { i += 1 }
            guard i > pos else { throw bad }
            defer { pos = i }
            return pos..<i
        }
        switch step.op {
        case .apacheTime:
            let bracketed = step.a == 1
            let width = bracketed ? 28 : 26
            guard pos + width <= end else { throw bad }
            if bracketed {
                guard line[pos] == UInt8(ascii: "["), line[pos + 27] == UInt8(ascii: "]") else { throw bad }
            }
            let body = pos + (bracketed ? 1 : 0)
            guard let seconds = ApacheTimestamp.parse(UnsafeRawBufferPointer(rebasing: line[body..<(body + 26)])) else { throw bad }
            time.epoch = seconds
            pos += width
        case .iso8601:
            time.year = try fixed(4)
            guard pos < end, line[pos] == UInt8(ascii: "-") else { throw bad }
            pos += 1
            time.month = try fixed(2)
            guard pos < end, line[pos] == UInt8(ascii: "-") else { throw bad }
            pos += 1
            time.day = try fixed(2)
            guard pos < end, line[pos] == UInt8(ascii: "T") else { throw bad }
            pos += 1
            time.hour = try fixed(2)
            guard pos < end, line[pos] == UInt8(ascii: ":") else { throw bad }
            pos += 1
            time.minute = try fixed(2)
            guard pos < end, line[pos] == UInt8(ascii: ":") else { throw bad }
            pos += 1
            time.second = try fixed(2)
            if pos < end, line[pos] == UInt8(ascii: ".") || line[pos] == UInt8(ascii: ",") {
                pos += 1
                _ = try run()
            }
            if pos < end, line[pos] == UInt8(ascii: "Z") || line[pos] == UInt8(ascii: "+") || line[pos] == UInt8(ascii: "-") {
                time.offset = try zone(line, &pos, bad)
            }
        case .epochSeconds: time.epoch = try run()
        case .epochMillis: time.epoch = try run() / 1_000
        case .epochMicros: time.epoch = try run() / 1_000_000
        case .epochDecimal:
            time.epoch = try run()
            if pos < end, line[pos] == UInt8(ascii: ".") {
                pos += 1
                _ = try run()
            }
        case .fraction: _ = try run()
        case .year4: time.year = try fixed(4)
        case .year2:
            let year = try fixed(2)
            time.year = year < 69 ? 2000 + year : 1900 + year  // POSIX strptime's pivot
        case .month2: time.month = try fixed(2)
        case .monthAbbrev:
            guard pos + 3 <= end, let month = ApacheTimestamp.month(line[pos], line[pos + 1], line[pos + 2]) else { throw bad }
            time.month = month
            pos += 3
        case .monthName:
            let name = try letters()
            guard let month = monthNumber(line, name) else { throw bad }
            time.month = month
        case .day2: time.day = try fixed(2)
        case .daySpace: time.day = try fixed(2, spacePadded: true)
        case .dayOfYear: time.dayOfYear = try fixed(3)
        case .hour24: time.hour = try fixed(2)
        case .hourSpace24: time.hour = try fixed(2, spacePadded: true)
        case .hour12:
            time.hour = try fixed(2)
            time.twelveHour = true
        case .hourSpace12:
            time.hour = try fixed(2, spacePadded: true)
            time.twelveHour = true
        case .minute: time.minute = try fixed(2)
        case .second: time.second = try fixed(2)
        case .meridiem:
            guard pos + 2 <= end, ASCII.lowercased(line[pos + 1]) == UInt8(ascii: "m") else { throw bad }
            switch ASCII.lowercased(line[pos]) {
            case UInt8(ascii: "a"): time.afternoon = false
            case UInt8(ascii: "p"): time.afternoon = true
            default: throw bad
            }
            pos += 2
        case .zoneOffset: time.offset = try zone(line, &pos, bad)
        case .zoneName:
            let name = try letters()
            guard isUTCName(line, name) else { throw bad }
            time.offset = 0
        case .weekdayName: _ = try letters()
        case .weekdayDigit: _ = try fixed(1)
        default: break
        }
    }

    /// `Z`, `±hhmm` or `±hh:mm`, as seconds east of UTC.
    private static func zone(_ line: UnsafeRawBufferPointer, _ pos: inout Int, _ bad: ParseFailure) throws(ParseFailure) -> Int64 {
        guard pos < line.count else { throw bad }
        if line[pos] == UInt8(ascii: "Z") {
            pos += 1
            return 0
        }
        let sign = line[pos]
        guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"), pos + 5 <= line.count else { throw bad }
        var i = pos + 1
        guard let h1 = ASCII.decimalValue(line[i]), let h2 = ASCII.decimalValue(line[i + 1]) else { throw bad }
        i += 2
        if line[i] == UInt8(ascii: ":") { i += 1 }
        guard i + 2 <= line.count, let m1 = ASCII.decimalValue(line[i]), let m2 = ASCII.decimalValue(line[i + 1]) else {
            throw bad
        }
        let hours = Int64(h1) * 10 + Int64(h2)
        let minutes = Int64(m1) * 10 + Int64(m2)
        guard hours <= 23, minutes <= 59 else { throw bad }
        pos = i + 2
        let seconds = hours * 3_600 + minutes * 60
        return sign == UInt8(ascii: "+") ? seconds : -seconds
    }

    private static let monthNames: [[UInt8]] = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ].map { Array($0.utf8) }

    /// The month of a full English month name, in any case.
    private static func monthNumber(_ line: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int64? {
        outer: for (index, candidate) in monthNames.enumerated() where candidate.count == name.count {
            for (k, byte) in candidate.enumerated() where ASCII.lowercased(line[name.lowerBound + k]) != byte {
                continue outer
            }
            return Int64(index + 1)
        }
        return nil
    }

    private static func isUTCName(_ line: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        let upper = name.map { line[$0] & ~0x20 }
        return upper == Array("UTC".utf8) || upper == Array("GMT".utf8) || upper == Array("Z".utf8)
    }
}

/// What a line's request fields gave, before they become the event's method, target and protocol.
private struct RequestPieces {
    var request: Range<Int>?
    var method: Range<Int>?
    var path: Range<Int>?
    /// The query without its `?`.
    var query: Range<Int>?
    var requestURI: Range<Int>?
    var requestProtocol: Range<Int>?

    var hasAny: Bool { method != nil || path != nil || query != nil || requestURI != nil || requestProtocol != nil }
}

/// A target that is not one range of the line.
private enum Assembly: Equatable {
    /// The target is a range of the line.
    case inLine
    /// `$uri` and `$args` that are not `uri?args` in the line.
    case pathAndQuery(Range<Int>, Range<Int>)
    /// An absolute-form target with no path: `/` and what followed the authority.
    case slashAnd(Range<Int>)
}

/// ALB/ELB processing times, summed; any `-1` (not measured) makes the sum unknown.
private struct DurationSum {
    var micros: Int64 = 0
    var valid = true
}

/// The time fields of one line, combined once all are read.
struct TimeParts {
    /// Offset of the first time field, for errors.
    var start = -1
    var epoch: Int64?
    var year: Int64 = 1970
    var month: Int64 = 1
    var day: Int64 = 1
    var dayOfYear: Int64 = 0
    var hour: Int64 = 0
    var minute: Int64 = 0
    var second: Int64 = 0
    var twelveHour = false
    var afternoon = false
    /// Seconds east of UTC.
    var offset: Int64 = 0

    /// 9999-12-31T23:59:59Z: later epoch values (a `%{usec}t` read as seconds) are not times.
    static let latest: Int64 = 253_402_300_799

    /// Epoch seconds UTC, or nil when a part is out of range.
    func epochSeconds() -> Int64? {
        if let epoch { return epoch }
        var hour = hour
        if twelveHour {
            guard hour >= 1, hour <= 12 else { return nil }
            hour = hour % 12 + (afternoon ? 12 : 0)
        }
        guard hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days: Int64
        if dayOfYear > 0 {
            let leap = ApacheTimestamp.daysIn(month: 2, year: year) == 29
            guard dayOfYear <= (leap ? 366 : 365) else { return nil }
            days = CivilTime.daysFromCivil(year: year, month: 1, day: 1) + dayOfYear - 1
        } else {
            guard month >= 1, month <= 12, day >= 1, day <= ApacheTimestamp.daysIn(month: month, year: year) else { return nil }
            days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        }
        return days * 86_400 + hour * 3_600 + minute * 60 + second - offset
    }
}
