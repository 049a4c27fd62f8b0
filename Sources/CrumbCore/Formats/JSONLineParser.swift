/// Parses JSON Lines logs — beacon and tracking-pixel collectors, Caddy, Traefik, nginx `log_format`s
/// that write JSON — one object per line, into `AccessLogEvent`s, through a `JSONFieldMapping`.
///
/// Each line must be exactly one JSON object (JSON Lines, <https://jsonlines.org>; JSON per RFC 8259, read
/// by `JSONScanner` with nginx's `\xHH` escape allowed). Values are taken by role:
/// - `time`: a number or numeric string of epoch seconds (fraction allowed), read as milliseconds above
///   10¹¹, microseconds above 10¹⁴ and nanoseconds above 10¹⁷ (2026 is 1.8 × 10⁹ s); or ISO-8601 text,
///   `YYYY-MM-DDTHH:MM:SS` (`T`, `t` or a space) with an optional fraction of any length and an optional
///   zone (`Z`, `±HH:MM`, `±HHMM`, `±HH`; none means UTC); or Apache's `%t`, `10/Oct/2000:13:55:36 -0700`,
///   bracketed or not. Anything else: `bad_timestamp`.
/// - `status`: an integer 0...999, as a number or digits in a string, else `bad_status`. `bytes`: up to
///   18 digits (number or string), `-` for none, else `bad_bytes`. `duration_*`: a non-negative number
///   or numeric string in that unit, kept as whole microseconds, else `bad_number`.
/// - `client_ip`: a trailing port is cut (`1.2.3.4:5678`, `[2001:db8::1]:443`; a bare IPv6 address keeps
///   its colons). `url`: an absolute URL gives the host (without user info or port) and the target
///   (path and query, `/` when it has no path); anything else is the target as written. The fragment
///   (`#...`) is dropped: browsers never send it, and it can carry tokens. Without a `url`, the target is
///   `path` or `path?query`.
/// - `dnt`, `gpc`: `1`, `"1"` or `true` raise the flag. Other roles take the string (or a number's text).
/// - `""`, `"-"` and `null` are absent values, so a later fallback path may still fill the role.
///
/// Only `time` is required (`missing_field` at the end of the line without it): a beacon has no status,
/// a proxy log no event name. The request counts as valid when it has a target; the method may be absent.
/// `isCombined` says whether the mapping names both a referrer and a user agent (the format's shape, as
/// for `combined` lines).
///
/// Every value the mapping does not name, at any depth and inside arrays, becomes an entry of
/// `unmapped`: its name is the leaf's own key (an array's elements share the array's key), so a named-field
/// detector sees `email` under `props` as it would a query parameter; its value is the decoded string, a
/// number's text or `true`/`false` (a `null` carries nothing and is skipped). Of a key written twice the
/// first value wins for a role, and the later one is read and dropped; unmapped duplicates are all kept.
///
/// Every range of the event points into `decoded` (the result is always `.decodedEvent`). Per line the
/// parser reuses its own scratch and `decoded`'s capacity, and no allocation is made once the buffers
/// have grown: even `unmapped` is the parser's own array, shared with the event, whose storage is
/// reused when the next line starts if the caller has dropped the event by then (a caller that keeps
/// events keeps its copy; the parser then starts a new array).
public struct JSONLineParser: WebLineParser {
    public let mapping: JSONFieldMapping
    /// The deepest nesting accepted (1...64).
    public let maxDepth: Int

    public var formatName: String { "json" }
    /// Every line is read on its own: the parser keeps only scratch between lines.
    public var linesAreIndependent: Bool { true }

    /// An open container: the trie node its values are looked up under (-1: outside the mapping), and, for
    /// an array, the key its elements are named by.
    private struct Frame {
        var node: Int32
        var isArray: Bool
        var name: Range<Int>
    }

    /// The values of a line that are settled only at its end.
    private struct Pending {
        var url: Range<Int>?
        var path: Range<Int>?
        var query: Range<Int>?
    }

    private var frames: [Frame] = []
    /// Per role: the priority of the path whose value the role holds, `Int.max` while it holds none.
    private var winners: [Int]
    private var folded: [UInt8] = []
    /// The line's unmapped values; handed to the event, and reused once the caller has let go of it.
    private var unmapped: [NamedRange] = []
    private let combined: Bool
    private let timeIndex = JSONFieldMapping.Role.allCases.firstIndex(of: .time) ?? 0

    public init(mapping: JSONFieldMapping, maxDepth: Int = 32) {
        precondition((1...64).contains(maxDepth), "maxDepth must be 1...64")
        self.mapping = mapping
        self.maxDepth = maxDepth
        self.winners = Array(repeating: Int.max, count: JSONFieldMapping.Role.allCases.count)
        self.combined = mapping.maps(.referrer) && mapping.maps(.userAgent)
        frames.reserveCapacity(maxDepth + 1)
    }

    /// Parses one line (without its terminator).
    ///
    /// - Throws: `bad_json` where the text stops being one JSON object; `bad_timestamp`, `bad_status`,
    ///   `bad_bytes`, `bad_number` at the start of a value its role cannot read; `missing_field` at the end
    ///   of a line with no time.
    /// - Complexity: O(line.count), one pass; each key costs one hash and one probe of the mapping.
    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult {
        decoded.removeAll(keepingCapacity: true)
        for i in winners.indices { winners[i] = Int.max }
        frames.removeAll(keepingCapacity: true)
        unmapped.removeAll(keepingCapacity: true)
        var event = AccessLogEvent()
        event.isCombined = combined
        var pending = Pending()

        var scanner = JSONScanner(line, maxDepth: maxDepth, allowsHexEscapes: true)
        guard case .objectStart = try scanner.next(into: &decoded) else { throw ParseFailure(.badJSON, at: scanner.tokenStart) }
        frames.append(Frame(node: 0, isArray: false, name: 0..<0))
        var memberNode: Int32 = -1
        var memberKey = 0..<0

        scan: while true {
            let token = try scanner.next(into: &decoded)
            switch token {
            case .end:
                break scan
            case .key(let key):
                let parent = frames[frames.count - 1].node
                memberNode = parent < 0 ? -1 : lookUp(key, under: parent, in: decoded)
                memberKey = key
                if memberNode >= 0, let role = mapping.nodes[Int(memberNode)].role {
                    // A mapped key never names an unmapped value: give its bytes back.
                    decoded.removeLast(key.count)
                    memberKey = 0..<0
                    if role == .ignore { try scanner.skipValue() }
                }
            case .objectStart, .arrayStart:
                let top = frames[frames.count - 1]
                var isArray = false
                if case .arrayStart = token { isArray = true }
                frames.append(Frame(node: top.isArray ? top.node : memberNode, isArray: isArray,
                                    name: top.isArray ? top.name : memberKey))
            case .objectEnd, .arrayEnd:
                frames.removeLast()
            case .null:
                continue
            case .string, .number, .bool:
                let top = frames[frames.count - 1]
                let node = top.isArray ? top.node : memberNode
                if node >= 0, let role = mapping.nodes[Int(node)].role {
                    let (priority, index) = (mapping.nodes[Int(node)].priority, mapping.nodes[Int(node)].roleIndex)
                    guard priority < winners[index] else { continue }
                    if try assign(role, token, at: scanner.tokenStart, decoded: &decoded, to: &event, pending: &pending) {
                        winners[index] = priority
                    }
                } else {
                    unmapped.append(NamedRange(name: top.isArray ? top.name : memberKey,
                                               value: Self.valueRange(of: token, appendingTo: &decoded)))
                }
            }
        }

        guard winners[timeIndex] != Int.max else { throw ParseFailure(.missingField, at: line.count) }
        Self.settleTarget(pending, decoded: &decoded, event: &event)
        if !unmapped.isEmpty { event.unmapped = unmapped }
        return .decodedEvent(event)
    }

    /// The child node for `key`, lowercased first when `parent` is a `headers` object.
    private mutating func lookUp(_ key: Range<Int>, under parent: Int32, in decoded: [UInt8]) -> Int32 {
        if mapping.nodes[Int(parent)].foldsChildKeys {
            folded.removeAll(keepingCapacity: true)
            for i in key { folded.append(ASCII.lowercased(decoded[i])) }
            return folded.withUnsafeBytes { [mapping] in mapping.child(of: parent, key: $0) }
        }
        return decoded.withUnsafeBytes { mapping.child(of: parent, key: UnsafeRawBufferPointer(rebasing: $0[key])) }
    }

    /// A scalar's text in `decoded`: strings and numbers are there already; a boolean is written out.
    private static func valueRange(of token: JSONScanner.Token, appendingTo decoded: inout [UInt8]) -> Range<Int> {
        switch token {
        case .string(let range), .number(let range):
            return range
        case .bool(let value):
            let start = decoded.count
            decoded.append(contentsOf: (value ? "true" : "false").utf8)
            return start..<decoded.count
        default:
            return decoded.count..<decoded.count
        }
    }

    // MARK: Roles

    /// Sets `role` from a scalar. Returns false when the value counts as absent (`""`, `"-"`, a boolean
    /// where text is wanted), so that a later path may still supply the role.
    private func assign(_ role: JSONFieldMapping.Role, _ token: JSONScanner.Token, at offset: Int, decoded: inout [UInt8],
                        to event: inout AccessLogEvent, pending: inout Pending) throws(ParseFailure) -> Bool {
        let text: Range<Int>
        switch token {
        case .string(let range), .number(let range):
            text = range
        case .bool(let value):
            switch role {
            case .doNotTrack: event.doNotTrack = value
            case .globalPrivacyControl: event.globalPrivacyControl = value
            case .time: throw ParseFailure(.badTimestamp, at: offset)
            case .status: throw ParseFailure(.badStatus, at: offset)
            case .bytes: throw ParseFailure(.badBytes, at: offset)
            case .durationSeconds, .durationMilliseconds, .durationMicroseconds, .durationNanoseconds:
                throw ParseFailure(.badNumber, at: offset)
            default: return false
            }
            return true
        default:
            return false
        }
        if text.isEmpty || (text.count == 1 && decoded[text.lowerBound] == UInt8(ascii: "-")) { return false }

        switch role {
        case .time:
            guard let seconds = decoded.withUnsafeBytes({ Self.epochSeconds(UnsafeRawBufferPointer(rebasing: $0[text])) }) else {
                throw ParseFailure(.badTimestamp, at: offset)
            }
            event.time = seconds
        case .status:
            guard let status = Self.digits(decoded, text, max: 3) else { throw ParseFailure(.badStatus, at: offset) }
            event.status = Int(status)
        case .bytes:
            guard let bytes = Self.digits(decoded, text, max: 18) else { throw ParseFailure(.badBytes, at: offset) }
            event.bytes = bytes
        case .durationSeconds, .durationMilliseconds, .durationMicroseconds, .durationNanoseconds:
            let shift = role == .durationSeconds ? 6 : role == .durationMilliseconds ? 3 : role == .durationMicroseconds ? 0 : -3
            guard let micros = decoded.withUnsafeBytes({ Self.decimal(UnsafeRawBufferPointer(rebasing: $0[text]), timesTenTo: shift) }),
                  micros >= 0
            else { throw ParseFailure(.badNumber, at: offset) }
            event.durationMicros = micros
        case .clientIP: event.client = Self.withoutPort(text, in: decoded)
        case .remoteUser: event.remoteUser = text
        case .method: event.method = text
        case .requestProtocol: event.requestProtocol = text
        case .url: pending.url = text
        case .path: pending.path = text
        case .query: pending.query = text
        case .referrer: event.referrer = text
        case .userAgent: event.userAgent = text
        case .cookie: event.cookie = text
        case .forwardedFor: event.forwardedFor = text
        case .host: event.host = text
        case .event: event.eventName = text
        case .doNotTrack: event.doNotTrack = text.count == 1 && decoded[text.lowerBound] == UInt8(ascii: "1")
        case .globalPrivacyControl: event.globalPrivacyControl = text.count == 1 && decoded[text.lowerBound] == UInt8(ascii: "1")
        case .ignore: return false
        }
        return true
    }

    /// Sets the target (and the host from an absolute URL) once the whole line is read.
    private static func settleTarget(_ pending: Pending, decoded: inout [UInt8], event: inout AccessLogEvent) {
        if let url = pending.url {
            let (host, target) = splitURL(url, in: &decoded)
            if event.host == nil, let host, !host.isEmpty { event.host = host }
            event.target = target
        } else if let path = pending.path {
            var query = pending.query ?? path.upperBound..<path.upperBound
            if !query.isEmpty, decoded[query.lowerBound] == UInt8(ascii: "?") { query = (query.lowerBound + 1)..<query.upperBound }
            if query.isEmpty {
                event.target = path
            } else {
                let start = decoded.count
                appendCopy(of: path, in: &decoded)
                decoded.append(UInt8(ascii: "?"))
                appendCopy(of: query, in: &decoded)
                event.target = start..<decoded.count
            }
        }
        event.requestIsValid = !event.target.isEmpty
    }

    /// An absolute URL's host and target, or a relative reference as the target; without the fragment.
    static func splitURL(_ url: Range<Int>, in decoded: inout [UInt8]) -> (host: Range<Int>?, target: Range<Int>) {
        var end = url.lowerBound
        while end < url.upperBound, decoded[end] != UInt8(ascii: "#") { end += 1 }
        guard let authorityStart = schemeEnd(url.lowerBound..<end, in: decoded) else {
            return (nil, url.lowerBound..<end)
        }
        var authorityEnd = authorityStart
        while authorityEnd < end, decoded[authorityEnd] != UInt8(ascii: "/"), decoded[authorityEnd] != UInt8(ascii: "?") {
            authorityEnd += 1
        }
        var hostStart = authorityStart
        for i in authorityStart..<authorityEnd where decoded[i] == UInt8(ascii: "@") { hostStart = i + 1 }
        let host = withoutPort(hostStart..<authorityEnd, in: decoded)
        if authorityEnd < end, decoded[authorityEnd] == UInt8(ascii: "/") {
            return (host, authorityEnd..<end)
        }
        // `https://shop.example` or `https://shop.example?q=1`: the origin-form target starts with `/`.
        let start = decoded.count
        decoded.append(UInt8(ascii: "/"))
        appendCopy(of: authorityEnd..<end, in: &decoded)
        return (host, start..<decoded.count)
    }

    /// Appends `decoded[range]` to `decoded`, byte by byte: appending a slice of the array to itself
    /// would share its storage and force a copy of the whole buffer.
    private static func appendCopy(of range: Range<Int>, in decoded: inout [UInt8]) {
        for i in range { decoded.append(decoded[i]) }
    }

    /// The offset just past `scheme://` when `text` starts with one (RFC 3986 §3.1: a letter, then letters,
    /// digits, `+`, `-`, `.`), else nil.
    private static func schemeEnd(_ text: Range<Int>, in decoded: [UInt8]) -> Int? {
        var i = text.lowerBound
        guard i < text.upperBound, ASCII.lowercased(decoded[i]) &- UInt8(ascii: "a") < 26 else { return nil }
        while i < text.upperBound {
            let byte = decoded[i]
            if byte == UInt8(ascii: ":") { break }
            guard ASCII.lowercased(byte) &- UInt8(ascii: "a") < 26 || ASCII.isDigit(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            else { return nil }
            i += 1
        }
        guard i + 2 < text.upperBound, decoded[i + 1] == UInt8(ascii: "/"), decoded[i + 2] == UInt8(ascii: "/") else { return nil }
        return i + 3
    }

    /// `host:port` → `host`, `[v6]:port` or `[v6]` → `v6`; a bare IPv6 address (two colons or more) is kept.
    static func withoutPort(_ text: Range<Int>, in decoded: [UInt8]) -> Range<Int> {
        guard !text.isEmpty else { return text }
        if decoded[text.lowerBound] == UInt8(ascii: "[") {
            var close = text.lowerBound + 1
            while close < text.upperBound, decoded[close] != UInt8(ascii: "]") { close += 1 }
            return close < text.upperBound ? (text.lowerBound + 1)..<close : text
        }
        var colon = -1
        for i in text where decoded[i] == UInt8(ascii: ":") {
            if colon >= 0 { return text }
            colon = i
        }
        return colon >= 0 ? text.lowerBound..<colon : text
    }

    // MARK: Numbers and times

    /// 1...`max` ASCII digits, as a number.
    static func digits(_ decoded: [UInt8], _ text: Range<Int>, max: Int) -> Int64? {
        guard !text.isEmpty, text.count <= max else { return nil }
        var value: Int64 = 0
        for i in text {
            guard let digit = ASCII.decimalValue(decoded[i]) else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// A decimal number `-?digits[.digits][e±digits]` (digits on either side of the point) times 10^`shift`,
    /// truncated toward zero; nil when `text` is not such a number or the result overflows `Int64`.
    /// Exact: no floating point, so `0.001335486` seconds is 1335 µs, not 1335.4859999.
    static func decimal(_ text: UnsafeRawBufferPointer, timesTenTo shift: Int) -> Int64? {
        var i = 0
        let negative = i < text.count && text[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var mantissa: UInt64 = 0
        var exponent = shift
        var sawDigit = false
        // Up to 18 significant digits are kept; further integer digits scale, further fraction digits drop.
        while i < text.count, let digit = ASCII.decimalValue(text[i]) {
            sawDigit = true
            if mantissa < 100_000_000_000_000_000 { mantissa = mantissa * 10 + UInt64(digit) } else { exponent += 1 }
            i += 1
        }
        if i < text.count, text[i] == UInt8(ascii: ".") {
            i += 1
            while i < text.count, let digit = ASCII.decimalValue(text[i]) {
                sawDigit = true
                if mantissa < 100_000_000_000_000_000 {
                    mantissa = mantissa * 10 + UInt64(digit)
                    exponent -= 1
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < text.count, text[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            let negativeExponent = i < text.count && text[i] == UInt8(ascii: "-")
            if i < text.count, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { i += 1 }
            var written = 0
            var sawExponentDigit = false
            while i < text.count, let digit = ASCII.decimalValue(text[i]) {
                sawExponentDigit = true
                if written < 10_000 { written = written * 10 + Int(digit) }
                i += 1
            }
            guard sawExponentDigit else { return nil }
            exponent += negativeExponent ? -written : written
        }
        guard i == text.count else { return nil }
        if mantissa != 0 {
            while exponent > 0 {
                guard mantissa <= UInt64(Int64.max) / 10 else { return nil }
                mantissa *= 10
                exponent -= 1
            }
            while exponent < 0, mantissa != 0 {
                mantissa /= 10
                exponent += 1
            }
        }
        guard mantissa <= UInt64(Int64.max) else { return nil }
        return negative ? -Int64(mantissa) : Int64(mantissa)
    }

    /// Epoch seconds from a number (seconds, or ms / µs / ns by magnitude), ISO-8601 text or Apache `%t`.
    static func epochSeconds(_ text: UnsafeRawBufferPointer) -> Int64? {
        if let seconds = decimal(text, timesTenTo: 0) {
            switch seconds.magnitude {
            case 100_000_000_000_000_000...: return decimal(text, timesTenTo: -9)
            case 100_000_000_000_000...: return decimal(text, timesTenTo: -6)
            case 100_000_000_000...: return decimal(text, timesTenTo: -3)
            default: return seconds
            }
        }
        if text.count >= 19, text[4] == UInt8(ascii: "-") { return iso8601(text) }
        if text.count == 28, text[0] == UInt8(ascii: "["), text[27] == UInt8(ascii: "]") {
            return ApacheTimestamp.parse(UnsafeRawBufferPointer(rebasing: text[1..<27]))
        }
        return ApacheTimestamp.parse(text)
    }

    /// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]` (RFC 3339, with ISO 8601's basic zone forms
    /// and a missing zone read as UTC) to epoch seconds; the fraction is dropped.
    static func iso8601(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count >= 19, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
              text[10] | 0x20 == UInt8(ascii: "t") || text[10] == UInt8(ascii: " "),
              text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":"),
              let year = ApacheTimestamp.digits(text, 0, 4), let month = ApacheTimestamp.digits(text, 5, 2),
              let day = ApacheTimestamp.digits(text, 8, 2), let hour = ApacheTimestamp.digits(text, 11, 2),
              let minute = ApacheTimestamp.digits(text, 14, 2), let second = ApacheTimestamp.digits(text, 17, 2),
              (1...12).contains(month), day >= 1, day <= ApacheTimestamp.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var i = 19
        if i < text.count, text[i] == UInt8(ascii: ".") || text[i] == UInt8(ascii: ",") {
            i += 1
            let start = i
            while i < text.count, ASCII.isDigit(text[i]) { i += 1 }
            guard i > start else { return nil }
        }
        var zone: Int64 = 0
        if i < text.count {
            let sign = text[i]
            if sign | 0x20 == UInt8(ascii: "z") {
                i += 1
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                guard i + 3 <= text.count, let hours = ApacheTimestamp.digits(text, i + 1, 2), hours <= 23 else { return nil }
                i += 3
                var minutes: Int64 = 0
                if i < text.count {
                    if text[i] == UInt8(ascii: ":") { i += 1 }
                    guard i + 2 <= text.count, let parsed = ApacheTimestamp.digits(text, i, 2), parsed <= 59 else { return nil }
                    minutes = parsed
                    i += 2
                }
                zone = (hours * 3_600 + minutes * 60) * (sign == UInt8(ascii: "+") ? 1 : -1)
            } else {
                return nil
            }
        }
        guard i == text.count else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + hour * 3_600 + minute * 60 + second - zone
    }
}
