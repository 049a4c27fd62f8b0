import CrumbCore

/// Rewrites `AccessLogGenerator`'s `combined` lines as the same events in another log format: Microsoft IIS's
/// W3C extended log, or JSON Lines beacons in crumb's `beacon` shape. For samples, privacy tests and
/// `crumb generate --format`.
///
/// Each source line is read with `CombinedLogParser` in `combined` mode (quoted values unescaped: `\"`,
/// `\\`, `\xHH`, `\n`...) and written as one line of the target format with the same client, remote user,
/// time (UTC), method, request target, status, size, referrer, user agent and cookie, as far as the target
/// format carries them. A source line that does not parse (the generator's `malformedShare`) is copied
/// through as it is: a malformed line in any format; in W3C output a leading `#` becomes `?`, so that such a
/// line cannot pass for a directive.
///
/// **W3C, IIS style** (<https://www.w3.org/TR/WD-logfile.html>; IIS's field list:
/// <https://learn.microsoft.com/en-us/windows/win32/http/w3c-logging>). The log opens with `#Software:`,
/// `#Version:`, `#Date:` (the first event's time) and `#Fields:` with `w3cFields`. Before the source line
/// `Options.restartAt` the server "restarts" with `w3cFieldsAfterRestart`, which adds `cs-host` and drops
/// `cs(Cookie)`, as real IIS logs change their field set part-way through. Values as IIS writes them:
/// `date` and `time` in UTC; `-` for an empty value; spaces in the user agent, cookie, referrer and user
/// name as `+` (IIS's own encoding, and lossy: a `+` the user agent already had reads back as a space);
/// the target split at its first `?` into `cs-uri-stem` and `cs-uri-query` (a lone trailing `?` is lost), a
/// space there as `%20`. Control bytes (and a `"` that starts a value, which would open a W3C string)
/// become `%XX`, so that every line splits into exactly its declared columns; other bytes, non-UTF-8 ones
/// included, are copied. `s-ip` is one server, `s-port` 80 for redirects (301) and 443 otherwise, and
/// `sc-substatus`, `sc-win32-status` and `time-taken` (milliseconds) are drawn as IIS reports them.
///
/// **JSON Lines beacons** (<https://jsonlines.org>), one object per event in the shape that
/// `JSONFieldMapping.preset(named: "beacon")` maps: `ts` (ISO-8601 UTC with milliseconds), `event`
/// (`page_view` mostly; `click`, `scroll`, `share`, `search`, `add_to_cart`, `purchase`, `form_submit` by
/// method and path), `url` (the request target on `https://www.example-shop.test`; a target that does not
/// start with `/` is written as it is), `referrer` (`""` when none), `ua`, `ip`, `gpc` (`true` for the
/// source's `optout=1` cookie), and fields the mapping leaves unmapped, as collectors send them:
/// `visitor` and `session` ids (stable per client address, and per client and day), `user_id` (the source's
/// remote user), and `props` (screen size, language, plan, page title). Strings are escaped per RFC 8259
/// by `JSONText`: `"` and `\` with a backslash, control bytes as `\n`, `\t`, `\u00XX`..., well-formed UTF-8
/// as it is, ill-formed bytes as U+FFFD.
///
/// **Personal data.** The source lines carry the generator's planted values (query strings, paths,
/// referrers, cookies, remote users); both formats keep them where they are (a beacon has no cookie, and the
/// W3C field set after the restart none either). With `plantPersonalData`, about 1.5% of beacons also
/// carry a value of the same catalogue (`plantedCatalog`) where collectors leak it: a `props` field named
/// for its kind (`props.email`, `props.phone`...), a `user` object (`name`, `email`, `username`, `phone`),
/// a free-text `props.message` (with a quote, a non-ASCII dash and a newline to escape), or a parameter
/// appended to the `url`'s query string. Those draws use their own stream: a log with planting and one
/// without differ only on the planted lines.
///
/// Deterministic: the output depends only on the options and the source lines (own PRNG, integer-only
/// arithmetic), byte for byte on every platform.
public struct SampleTranscoder: Sendable {
    /// The formats `crumb generate` writes.
    public enum Format: String, Sendable, CaseIterable {
        /// The generator's own lines, unchanged.
        case combined
        /// W3C extended, as Microsoft IIS 10 writes it.
        case w3c
        /// JSON Lines beacons in crumb's `beacon` shape.
        case json
    }

    public struct Options: Sendable {
        public var format: Format = .w3c
        /// Seeds the transcoder's own draws (time taken, event names, planted beacon data).
        public var seed: UInt64 = 1
        /// Epoch seconds for the first `#Date:` when the first source line does not parse.
        public var start: Int64 = 1_767_225_600
        /// W3C: the 0-based source line before which the server restarts with `w3cFieldsAfterRestart`;
        /// nil or 0: never.
        public var restartAt: Int? = nil
        /// JSON: plant catalogue values in about 1.5% of beacons (besides those the source lines carry).
        public var plantPersonalData: Bool = true

        public init() {}

        /// The options that go with a generator's: same seed, start and planting, and for W3C a restart
        /// half-way through its lines.
        public init(format: Format, generator: AccessLogGenerator.Options) {
            self.format = format
            seed = generator.seed
            start = generator.start
            restartAt = generator.lines / 2
            plantPersonalData = generator.plantPersonalData
        }
    }

    /// The `#Fields:` of the W3C log until the restart.
    public static let w3cFields = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        + "cs(User-Agent) cs(Cookie) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken"
    /// The `#Fields:` after the restart: `cs-host` added, `cs(Cookie)` dropped.
    public static let w3cFieldsAfterRestart = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
        + "c-ip cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes time-taken"
    /// The site every beacon `url` and every W3C `cs-host` names.
    public static let siteHost = "www.example-shop.test"

    /// Every value either format can carry, in canonical form: the generator's catalogue, which the
    /// beacons' own planting draws from too.
    public static var plantedCatalog: [PlantedValue] { AccessLogGenerator.plantedCatalog }

    /// `options.lines` generated lines in `format`: for `combined` exactly `AccessLogGenerator.generate`.
    public static func generate(_ options: AccessLogGenerator.Options, format: Format) -> [UInt8] {
        if format == .combined { return AccessLogGenerator.generate(options) }
        var generator = AccessLogGenerator(options: options)
        var transcoder = SampleTranscoder(options: Options(format: format, generator: options))
        let lines = max(0, options.lines)
        var line = [UInt8]()
        line.reserveCapacity(LineWriter.capacity)
        var output = [UInt8]()
        output.reserveCapacity(lines * (format == .json ? 560 : 360) + 1_024)
        for _ in 0..<lines {
            line.removeAll(keepingCapacity: true)
            generator.appendLine(to: &line)
            line.withUnsafeBytes { bytes in
                // The generator ends every line with "\n".
                transcoder.append(combinedLine: UnsafeRawBufferPointer(rebasing: bytes.dropLast()), to: &output)
            }
        }
        return output
    }

    public let options: Options
    private let parser = CombinedLogParser(mode: .combined)
    private var rng: Xoshiro256StarStar
    private var planter: BeaconPlanter
    private var sourceLines = 0
    private var lastTime: Int64
    private var restarted = false
    /// The source line's values, unescaped, back to back; `source` holds ranges into it.
    private var decoded: [UInt8] = []
    private var source = SourceEvent()
    /// The beacon's url, assembled before it is escaped.
    private var url: [UInt8] = []

    public init(options: Options) {
        self.options = options
        rng = Xoshiro256StarStar(seed: SplitMix64.mix(options.seed ^ 0x7472_616E_7363))
        planter = BeaconPlanter(seed: options.seed)
        lastTime = options.start
    }

    /// Appends the transcoded form of one `combined` line (without its terminator) to `output`, ended by
    /// "\n"; in W3C output preceded by the directives when the log starts or the server restarts.
    ///
    /// - Complexity: O(line.count); one parse, then appends. No allocation once the buffers have grown,
    ///   except for a planted beacon.
    public mutating func append(combinedLine line: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let index = sourceLines
        sourceLines += 1
        guard options.format != .combined else {
            output.append(contentsOf: line)
            output.append(newline)
            return
        }
        // A fixed number of draws per line, whatever the line holds, keeps planted and unplanted logs aligned.
        let draws = Draws(rng.next(), rng.next(), rng.next(), rng.next())
        let parsed = read(line)
        if parsed { lastTime = source.time }
        switch options.format {
        case .combined:
            break
        case .w3c:
            if index == 0 {
                appendW3CDirectives(fields: Self.w3cFields, to: &output)
            } else if index == options.restartAt {
                restarted = true
                appendW3CDirectives(fields: Self.w3cFieldsAfterRestart, to: &output)
            }
            if parsed {
                decoded.withUnsafeBytes { appendW3CEntry(values: $0, draws: draws, to: &output) }
            } else {
                let start = output.count
                output.append(contentsOf: line)
                if start < output.count, output[start] == UInt8(ascii: "#") { output[start] = UInt8(ascii: "?") }
            }
        case .json:
            if parsed {
                let plant = options.plantPersonalData && draws.plantRoll < 15 ? planter.next() : nil
                // A second reference for the line, released before `decoded` is next written: no copy.
                let values = decoded
                values.withUnsafeBytes { appendBeacon(values: $0, draws: draws, plant: plant, to: &output) }
            } else {
                output.append(contentsOf: line)
            }
        }
        output.append(newline)
    }

    // MARK: - Reading the source line

    /// Parses `line` and copies its values, unescaped, into `decoded`. False when it does not parse.
    private mutating func read(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let event = try? parser.parse(line) else { return false }
        decoded.removeAll(keepingCapacity: true)
        source.time = event.time
        source.status = event.status
        source.bytes = event.bytes
        source.client = copy(line, event.client, unescaping: false)
        source.remoteUser = copy(line, event.remoteUser, unescaping: true)
        if event.requestIsValid {
            source.method = copy(line, event.method, unescaping: true)
            source.target = copy(line, event.target, unescaping: true)
        } else {
            source.method = decoded.count..<decoded.count
            source.target = source.method
        }
        source.referrer = event.referrer.map { copy(line, $0, unescaping: true) }
        source.userAgent = event.userAgent.map { copy(line, $0, unescaping: true) }
        source.cookie = event.cookie.map { copy(line, $0, unescaping: true) }
        return true
    }

    /// Appends `line[range]` to `decoded`, undoing Apache's and nginx's backslash escapes when asked:
    /// `\"`, `\\`, `\xHH`, `\b`, `\n`, `\r`, `\t`, `\v`; any other backslash is kept with what follows.
    private mutating func copy(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, unescaping: Bool) -> Range<Int> {
        let start = decoded.count
        let value = UnsafeRawBufferPointer(rebasing: line[range])
        if !unescaping || !value.contains(UInt8(ascii: "\\")) {
            decoded.append(contentsOf: value)
            return start..<decoded.count
        }
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = line[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < range.upperBound else {
                decoded.append(byte)
                index += 1
                continue
            }
            let next = line[index + 1]
            switch next {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): decoded.append(next)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "v"): decoded.append(0x0B)
            case UInt8(ascii: "x") where index + 3 < range.upperBound:
                if let high = ASCII.hexValue(line[index + 2]), let low = ASCII.hexValue(line[index + 3]) {
                    decoded.append(high << 4 | low)
                    index += 4
                    continue
                }
                decoded.append(byte)
                decoded.append(next)
            default:
                decoded.append(byte)
                decoded.append(next)
            }
            index += 2
        }
        return start..<decoded.count
    }

    // MARK: - W3C

    private func appendW3CDirectives(fields: String, to output: inout [UInt8]) {
        output.append(contentsOf: "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: ".utf8)
        Self.appendDateTime(lastTime, separator: UInt8(ascii: " "), to: &output)
        output.append(contentsOf: "\n#Fields: ".utf8)
        output.append(contentsOf: fields.utf8)
        output.append(newline)
    }

    private func appendW3CEntry(values: UnsafeRawBufferPointer, draws: Draws, to output: inout [UInt8]) {
        let source = self.source
        Self.appendDateTime(source.time, separator: UInt8(ascii: " "), to: &output)
        output.append(contentsOf: serverAddress)
        // cs-method cs-uri-stem cs-uri-query
        appendW3C(values.part(source.method), style: .uri, to: &output)
        let target = values.part(source.target)
        let question = target.firstIndex(of: UInt8(ascii: "?")) ?? target.count
        output.append(space)
        appendW3C(target.part(0..<question), style: .uri, to: &output)
        output.append(space)
        appendW3C(target.part(min(question + 1, target.count)..<target.count), style: .uri, to: &output)
        // s-port cs-username c-ip
        output.append(contentsOf: source.status == 301 ? port80 : port443)
        appendW3C(values.part(source.remoteUser), style: .header, to: &output)
        output.append(space)
        appendW3C(values.part(source.client), style: .header, to: &output)
        // cs(User-Agent) [cs(Cookie)] cs(Referer) [cs-host]
        output.append(space)
        appendW3C(values.part(source.userAgent), style: .header, to: &output)
        if !restarted {
            output.append(space)
            appendW3C(values.part(source.cookie), style: .header, to: &output)
        }
        output.append(space)
        appendW3C(values.part(source.referrer), style: .header, to: &output)
        if restarted {
            output.append(space)
            output.append(contentsOf: siteHostBytes)
        }
        // sc-status sc-substatus sc-win32-status sc-bytes time-taken
        output.append(space)
        Self.appendDecimal(UInt64(source.status), to: &output)
        output.append(contentsOf: Self.subStatus(source.status, draws.roll(2, 100)))
        Self.appendDecimal(UInt64(max(0, source.bytes)), to: &output)
        output.append(space)
        Self.appendDecimal(Self.timeTaken(bytes: source.bytes, roll: draws.roll(1, 10_000)), to: &output)
    }

    private enum W3CStyle {
        /// User agent, cookie, referrer, user name: a space is `+`.
        case header
        /// Stem and query: a space is `%20`.
        case uri
    }

    /// Appends one W3C column: `-` for an empty value; control bytes, and a `"` that starts the value, as
    /// `%XX`; a space as `+` or `%20`. Runs of bytes that need nothing are appended whole.
    private func appendW3C(_ value: UnsafeRawBufferPointer, style: W3CStyle, to output: inout [UInt8]) {
        guard !value.isEmpty else {
            output.append(UInt8(ascii: "-"))
            return
        }
        var runStart = 0
        for index in 0..<value.count {
            let byte = value[index]
            guard byte <= 0x20 || byte == 0x7F || (index == 0 && byte == UInt8(ascii: "\"")) else { continue }
            output.append(contentsOf: value.part(runStart..<index))
            runStart = index + 1
            if byte == 0x20, style == .header {
                output.append(UInt8(ascii: "+"))
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(upperHex[Int(byte >> 4)])
                output.append(upperHex[Int(byte & 0xF)])
            }
        }
        output.append(contentsOf: value.part(runStart..<value.count))
    }

    /// ` substatus win32-status ` as IIS reports them for a status.
    private static func subStatus(_ status: Int, _ roll: Int) -> [UInt8] {
        switch status {
        case 404: subStatusNotFound
        case 401: roll < 60 ? subStatusLogonFailed : subStatusDenied
        case 200: roll == 0 ? subStatusClientGone : subStatusNone
        default: subStatusNone
        }
    }

    /// Milliseconds: mostly a few, growing with the size; one request in fifty is slow.
    private static func timeTaken(bytes: Int64, roll: Int) -> UInt64 {
        var millis = UInt64(1 + roll % 47) + UInt64(max(0, bytes)) / 40_000
        if roll < 200 { millis += UInt64(roll) * 13 }
        return millis
    }

    // MARK: - JSON beacons

    private mutating func appendBeacon(values: UnsafeRawBufferPointer, draws: Draws, plant: BeaconPlant?,
                                       to output: inout [UInt8]) {
        let source = self.source
        Self.append(#"{"ts":""#, to: &output)
        Self.appendDateTime(source.time, separator: UInt8(ascii: "T"), to: &output)
        output.append(UInt8(ascii: "."))
        let millis = draws.roll(1, 1_000)
        output.append(0x30 + UInt8(millis / 100))
        output.append(0x30 + UInt8(millis / 10 % 10))
        output.append(0x30 + UInt8(millis % 10))
        Self.append(#"Z","event":""#, to: &output)
        let target = values.part(source.target)
        output.append(contentsOf: Self.eventName(method: values.part(source.method), target: target, roll: draws.roll(0, 100)))

        // url: the site's origin and the target, plus a planted query parameter.
        Self.append(#"","url":"#, to: &output)
        url.removeAll(keepingCapacity: true)
        if target.first == UInt8(ascii: "/") { url.append(contentsOf: siteOriginBytes) }
        url.append(contentsOf: target)
        if case .urlQuery(let pair)? = plant {
            let hasQuery = target.contains(UInt8(ascii: "?"))
            url.append(hasQuery ? UInt8(ascii: "&") : UInt8(ascii: "?"))
            url.append(contentsOf: pair)
        }
        Self.appendJSONString(url, to: &output)

        Self.append(#","referrer":"#, to: &output)
        Self.appendJSONString(values.part(source.referrer), to: &output)
        Self.append(#","ua":"#, to: &output)
        Self.appendJSONString(values.part(source.userAgent), to: &output)
        Self.append(#","ip":"#, to: &output)
        let client = values.part(source.client)
        Self.appendJSONString(client, to: &output)
        if let cookie = source.cookie, Self.hasOptOut(values.part(cookie)) {
            Self.append(#","gpc":true"#, to: &output)
        }

        // Unmapped: ids, the logged-in user, props.
        let visitorKey = SplitMix64.mix(Self.fnv1a(client) ^ options.seed)
        Self.append(#","visitor":"v-"#, to: &output)
        Self.appendHexToken(seed: visitorKey, length: 16, to: &output)
        Self.append(#"","session":"s-"#, to: &output)
        let day = UInt64(bitPattern: source.time / 86_400)
        Self.appendHexToken(seed: visitorKey ^ (day &* 0x9E37_79B9_7F4A_7C15), length: 12, to: &output)
        output.append(UInt8(ascii: "\""))
        if !source.remoteUser.isEmpty, !(source.remoteUser.count == 1 && values[source.remoteUser.lowerBound] == 0x2D) {
            Self.append(#","user_id":"#, to: &output)
            Self.appendJSONString(values.part(source.remoteUser), to: &output)
        }
        Self.append(#","props":{"screen":""#, to: &output)
        let isMobile = Self.contains(values.part(source.userAgent), mobileMarker)
        let screens = isMobile ? mobileScreens : desktopScreens
        output.append(contentsOf: screens[Int(visitorKey % UInt64(screens.count))])
        Self.append(#"","lang":""#, to: &output)
        output.append(contentsOf: languages[Int((visitorKey >> 8) % UInt64(languages.count))])
        Self.append(#"","plan":""#, to: &output)
        output.append(contentsOf: plans[Int((visitorKey >> 16) % UInt64(plans.count))])
        Self.append(#"","title":"#, to: &output)
        let stem = target.part(0..<(target.firstIndex(of: UInt8(ascii: "?")) ?? target.count))
        output.append(contentsOf: escapedTitles[Int(Self.fnv1a(stem) % UInt64(escapedTitles.count))])
        if case .prop(let name, let value)? = plant {
            output.append(UInt8(ascii: ","))
            Self.appendJSONString(name, to: &output)
            output.append(UInt8(ascii: ":"))
            Self.appendJSONString(value, to: &output)
        }
        output.append(UInt8(ascii: "}"))
        if case .user(let name, let value)? = plant {
            Self.append(#","user":{"#, to: &output)
            Self.appendJSONString(name, to: &output)
            output.append(UInt8(ascii: ":"))
            Self.appendJSONString(value, to: &output)
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: "}"))
    }

    /// `page_view` for most requests; by method and path `add_to_cart`, `purchase`, `form_submit`, `search`;
    /// a few `click`, `scroll` and `share` events.
    private static func eventName(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer,
                                  roll: Int) -> [UInt8] {
        if method.elementsEqual("POST".utf8) {
            if hasPrefix(target, "/cart") { return eventAddToCart }
            if hasPrefix(target, "/checkout") { return eventPurchase }
            return eventFormSubmit
        }
        if hasPrefix(target, "/search") { return eventSearch }
        switch roll {
        case ..<88: return eventPageView
        case ..<94: return eventClick
        case ..<98: return eventScroll
        default: return eventShare
        }
    }

    /// Whether a cookie header holds `optout=1` as one of its pairs.
    private static func hasOptOut(_ cookie: UnsafeRawBufferPointer) -> Bool {
        var start = 0
        while start < cookie.count {
            while start < cookie.count, cookie[start] == UInt8(ascii: " ") { start += 1 }
            var end = start
            while end < cookie.count, cookie[end] != UInt8(ascii: ";") { end += 1 }
            if cookie.part(start..<end).elementsEqual("optout=1".utf8) { return true }
            start = end + 1
        }
        return false
    }

    /// A JSON string literal: printable ASCII without `"` or `\` in one append, anything else by `JSONText`.
    static func appendJSONString(_ value: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        if value.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            JSONText.appendString(value, to: &output)
            return
        }
        output.append(UInt8(ascii: "\""))
        output.append(contentsOf: value)
        output.append(UInt8(ascii: "\""))
    }

    static func appendJSONString(_ value: [UInt8], to output: inout [UInt8]) {
        value.withUnsafeBytes { appendJSONString($0, to: &output) }
    }

    // MARK: - Bytes

    /// `yyyy-mm-dd` `separator` `hh:mm:ss`, UTC.
    static func appendDateTime(_ time: Int64, separator: UInt8, to output: inout [UInt8]) {
        let days = CivilTime.dayNumber(of: time)
        let second = Int(time - days * 86_400)
        let (year, month, day) = CivilTime.civilFromDays(days)
        appendDigits(Int(year), count: 4, to: &output)
        output.append(UInt8(ascii: "-"))
        appendDigits(Int(month), count: 2, to: &output)
        output.append(UInt8(ascii: "-"))
        appendDigits(Int(day), count: 2, to: &output)
        output.append(separator)
        appendDigits(second / 3_600, count: 2, to: &output)
        output.append(UInt8(ascii: ":"))
        appendDigits(second / 60 % 60, count: 2, to: &output)
        output.append(UInt8(ascii: ":"))
        appendDigits(second % 60, count: 2, to: &output)
    }

    /// Exactly `count` digits of `value` (0-padded; higher digits dropped).
    private static func appendDigits(_ value: Int, count: Int, to output: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<count { divisor *= 10 }
        while divisor > 0 {
            output.append(0x30 + UInt8(truncatingIfNeeded: abs(value) / divisor % 10))
            divisor /= 10
        }
    }

    /// Appends a literal's bytes in one copy.
    @inline(__always)
    private static func append(_ literal: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    private static func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            output.append(0x30 + UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }

    /// `length` lowercase hex digits derived from `seed`, never more than six decimal digits in a row, so
    /// that no id can pass for a card or phone number (as `LineWriter.writeHexToken`).
    private static func appendHexToken(seed: UInt64, length: Int, to output: inout [UInt8]) {
        var state = SplitMix64(seed: seed)
        var bits: UInt64 = 0
        var digitRun = 0
        for position in 0..<length {
            if position % 16 == 0 { bits = state.next() }
            var nibble = UInt8(truncatingIfNeeded: bits & 0xF)
            bits >>= 4
            if nibble < 10 && digitRun >= 6 { nibble = 10 + nibble % 6 }
            digitRun = nibble < 10 ? digitRun + 1 : 0
            output.append(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10)
        }
    }

    private static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    private static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        return bytes.part(0..<count).elementsEqual(UnsafeRawBufferPointer(start: prefix.utf8Start, count: count))
    }

    private static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count, let first = needle.first else { return false }
        for index in 0...(bytes.count - needle.count)
        where bytes[index] == first && bytes.part(index..<(index + needle.count)).elementsEqual(needle) {
            return true
        }
        return false
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes at `range`, as a buffer that counts from 0.
    fileprivate func part(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }

    /// The bytes at `range`, or none.
    fileprivate func part(_ range: Range<Int>?) -> UnsafeRawBufferPointer {
        range.map { UnsafeRawBufferPointer(rebasing: self[$0]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
}

// MARK: - Per-line values

/// The values of one source line, as ranges into the transcoder's `decoded` buffer.
private struct SourceEvent {
    var time: Int64 = 0
    var status = 0
    var bytes: Int64 = 0
    var client: Range<Int> = 0..<0
    var remoteUser: Range<Int> = 0..<0
    /// Empty when the request line is not `METHOD TARGET [PROTOCOL]`.
    var method: Range<Int> = 0..<0
    var target: Range<Int> = 0..<0
    var referrer: Range<Int>?
    var userAgent: Range<Int>?
    var cookie: Range<Int>?
}

/// The transcoder's four draws for one line.
private struct Draws {
    var first, second, third, fourth: UInt64

    init(_ first: UInt64, _ second: UInt64, _ third: UInt64, _ fourth: UInt64) {
        (self.first, self.second, self.third, self.fourth) = (first, second, third, fourth)
    }

    /// Draw `index` as a value in `0..<bound` (multiply-high, as `Xoshiro256StarStar.below`).
    func roll(_ index: Int, _ bound: Int) -> Int {
        let value = index == 0 ? first : index == 1 ? second : index == 2 ? third : fourth
        return Int(truncatingIfNeeded: value.multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Per mille: a beacon is planted below 15.
    var plantRoll: Int { roll(3, 1_000) }
}

// MARK: - Personal data in beacons

/// Where a beacon carries a planted value.
enum BeaconPlant: Sendable {
    /// A `props` field named for the kind (`email`, `phone`, `card_number`...) or `message` (free text).
    case prop(name: [UInt8], value: [UInt8])
    /// A one-field `user` object: `name`, `email`, `username` or `phone`.
    case user(name: [UInt8], value: [UInt8])
    /// `name=value` (percent-encoded, spaces as `+`) appended to the `url`'s query string.
    case urlQuery([UInt8])
}

/// Chooses the catalogue value a beacon carries and where: kinds uniformly, each kind's values in turn
/// (so that all of them appear within a few hundred planted beacons), a way of writing it, and a site.
/// Draws from its own stream.
struct BeaconPlanter: Sendable {
    private var rng: Xoshiro256StarStar
    private var cursors = [Int](repeating: 0, count: PlantKind.allCases.count)

    init(seed: UInt64) {
        rng = Xoshiro256StarStar(seed: SplitMix64.mix(seed ^ 0x6265_6163_6F6E))
    }

    mutating func next() -> BeaconPlant {
        let kind = PlantKind.allCases[rng.below(PlantKind.allCases.count)]
        let values = PlantKind.values[kind.rawValue]
        let index = cursors[kind.rawValue] % values.count
        cursors[kind.rawValue] += 1
        let form = rng.pick(values[index].forms)
        let userField: String? = switch kind {
        case .email: "email"
        case .name: "name"
        case .username: "username"
        case .phone: "phone"
        default: nil
        }
        switch rng.below(4) {
        case 0 where userField != nil:
            // A name goes in whole: the first name with its partner, as a profile holds it.
            let value = kind == .name ? Self.fullName(index) : form
            return .user(name: Array((userField ?? "name").utf8), value: Array(value.utf8))
        case 1 where kind.isDetectable:
            let message = Self.message(kind, form)
            return .prop(name: Array("message".utf8), value: Array(message.utf8))
        case 2:
            return .urlQuery(Array((rng.pick(kind.parameterNames) + "=" + Self.queryEncoded(form)).utf8))
        default:
            return .prop(name: Array(rng.pick(kind.parameterNames).utf8), value: Array(form.utf8))
        }
    }

    private static func fullName(_ index: Int) -> String {
        let pair = index % SampleCorpus.firstNames.count
        return SampleCorpus.firstNames[pair] + " " + SampleCorpus.lastNames[pair]
    }

    /// Free text as a contact form sends it: a quote, a non-ASCII dash and a line break to escape.
    private static func message(_ kind: PlantKind, _ value: String) -> String {
        switch kind {
        case .email: "Please reply to \(value) \u{2014} \"urgent\"\nThanks"
        case .phone: "Call me back on \(value) after 5pm\nCheers"
        case .card: "My card \(value) was charged twice \u{2014} please refund\n"
        case .ssn: "Tax form: SSN \(value)\n(see attachment)"
        default: "Refund to \(value), \u{201C}asap\u{201D}\nThanks"
        }
    }

    /// Percent-encodes everything outside RFC 3986's unreserved set, a space as `+`.
    private static func queryEncoded(_ text: String) -> String {
        var out = [UInt8]()
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.append(byte)
            case 0x20: out.append(UInt8(ascii: "+"))
            default: out += [UInt8(ascii: "%"), upperHex[Int(byte >> 4)], upperHex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Constants

private let newline = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let upperHex = Array("0123456789ABCDEF".utf8)
/// ` s-ip ` (one server) with the spaces around it.
private let serverAddress = Array(" 10.0.4.17 ".utf8)
private let port80 = Array(" 80 ".utf8)
private let port443 = Array(" 443 ".utf8)
private let siteHostBytes = Array(SampleTranscoder.siteHost.utf8)
private let siteOriginBytes = Array(("https://" + SampleTranscoder.siteHost).utf8)
private let subStatusNone = Array(" 0 0 ".utf8)
private let subStatusNotFound = Array(" 0 2 ".utf8)
private let subStatusLogonFailed = Array(" 1 1326 ".utf8)
private let subStatusDenied = Array(" 2 5 ".utf8)
private let subStatusClientGone = Array(" 0 64 ".utf8)

private let eventPageView = Array("page_view".utf8)
private let eventClick = Array("click".utf8)
private let eventScroll = Array("scroll".utf8)
private let eventShare = Array("share".utf8)
private let eventSearch = Array("search".utf8)
private let eventAddToCart = Array("add_to_cart".utf8)
private let eventPurchase = Array("purchase".utf8)
private let eventFormSubmit = Array("form_submit".utf8)

private let mobileMarker = Array("Mobile".utf8)
private let desktopScreens = ["1920x1080", "1536x864", "1366x768", "2560x1440", "1440x900", "1280x720"].map { Array($0.utf8) }
private let mobileScreens = ["390x844", "393x873", "412x915", "375x667", "360x800", "430x932"].map { Array($0.utf8) }
private let languages = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "es-ES", "it-IT"].map { Array($0.utf8) }
private let plans = ["free", "free", "free", "pro", "team"].map { Array($0.utf8) }

/// Page titles as `document.title` gives them, chosen per path: quotes, a backslash, non-ASCII letters and
/// an emoji to escape. Stored as JSON string literals.
private let escapedTitles: [[UInt8]] = [
    "Example Shop \u{2013} Outdoor & running gear",
    "Trail \"Ultra\" running shoe | Example Shop",
    "Men's jackets | Example Shop",
    "Caf\u{E9} corner \u{2014} Home | Example Shop",
    "Gr\u{F6}\u{DF}e 42 \u{B7} Size guide",
    "Checkout \\ Payment | Example Shop",
    "\u{26FA} Tents & shelters",
    "Your basket (2) | Example Shop",
    "Search results for \u{201C}rain jacket\u{201D}",
    "Help: returns & refunds",
].map { title in
    var literal = [UInt8]()
    SampleTranscoder.appendJSONString(Array(title.utf8), to: &literal)
    return literal
}
