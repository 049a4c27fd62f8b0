import CrumbCore

/// A deterministic generator of realistic Apache/nginx `combined` access logs, optionally with a trailing quoted
/// Cookie field (`LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" \"%{Cookie}i\""`, see
/// https://httpd.apache.org/docs/current/mod/mod_log_config.html and nginx's predefined `combined` log_format).
///
/// Shape: a few heavy-hitting clients and a long tail (Zipf over `distinctClients` IPv4/IPv6 addresses, each
/// with a mostly stable user agent and a stable `visitor_id` cookie), Zipf over `distinctPaths` request targets of
/// an imaginary shop, a daily traffic curve in the server's local time, realistic methods, statuses, sizes,
/// referrers and user agents. With `plantPersonalData`, about 1.5% of lines carry reserved or test personal data
/// (see `plantedCatalog` and `PersonalDataPlanter`) in the places real logs leak it: query strings under telling
/// and innocent names, path segments, referrers, cookies and the remote user, plainly written or percent-encoded
/// once or twice. A log with planting and one without are identical except on the planted lines.
///
/// The output depends only on the options: an own PRNG (xoshiro256**), integer-only sampling, and own calendar
/// arithmetic make it byte-identical across runs and platforms. Every line is valid unless `malformedShare` > 0.
public struct AccessLogGenerator: Sendable {
    public struct Options: Sendable {
        public var seed: UInt64 = 1
        /// Epoch seconds (UTC) of the first event; default 2026-01-01T00:00:00Z.
        public var start: Int64 = 1_767_225_600
        /// Events are spread over `[start, start + duration)`, in time order (non-decreasing timestamps).
        public var duration: Int64 = 3 * 86_400
        public var lines: Int = 10_000
        /// The server's zone printed in the timestamp (e.g. `+0100`); the instants stay the same in UTC.
        public var utcOffsetMinutes: Int = 60
        /// Share of lines with a trailing quoted Cookie field; the rest have no trailing field.
        public var cookieFieldShare: Double = 0.5
        /// Share of lines (weighted by client activity) whose client address is IPv6.
        public var ipv6Share: Double = 0.05
        public var distinctPaths: Int = 24_000
        public var distinctClients: Int = 52_000
        /// User agent strings built from browser, bot and tool templates × versions.
        public var distinctUserAgents: Int = 8_000
        /// Plant reserved/test personal data in about 1.5% of lines, for privacy tests.
        public var plantPersonalData: Bool = true
        /// Share of lines made deliberately malformed (missing fields, bad timestamps, truncation, garbage bytes).
        public var malformedShare: Double = 0
        public init() {}
    }

    private let options: Options
    private let tables: GeneratorTables
    private var rng: Xoshiro256StarStar
    private var planter: PersonalDataPlanter
    private var produced = 0
    private var bucketCursor = 0
    private var lastTimestamp: Int64
    private var scratch = [UInt8](repeating: 0, count: LineWriter.capacity)

    public init(options: Options) {
        self.options = options
        self.tables = GeneratorTables(options: options)
        self.rng = Xoshiro256StarStar(seed: SplitMix64.mix(options.seed ^ 0x6C6F_6773))
        self.planter = PersonalDataPlanter(seed: options.seed)
        self.lastTimestamp = options.start
    }

    /// Appends the next line, with its terminating "\n", to `buffer`. Deterministic for a given seed and options.
    ///
    /// Lines past `options.lines` keep coming, all stamped with the last second of the window.
    public mutating func appendLine(to buffer: inout [UInt8]) {
        // The scratch line is moved out of `self` while it is borrowed (no copy, no allocation per line);
        // `withUnsafeTemporaryAllocation` of 4 KiB went to the heap on every call.
        var scratch = self.scratch
        self.scratch = []
        scratch.withUnsafeMutableBufferPointer { storage in
            var line = LineWriter(storage)
            let time = nextTimestamp()
            if options.malformedShare > 0 && rng.chance(options.malformedShare) {
                appendMalformed(time: time, to: &line)
            } else {
                appendEvent(time: time, flaw: nil, to: &line)
            }
            buffer.append(contentsOf: line.written)
        }
        self.scratch = scratch
    }

    /// Convenience: all `options.lines` lines as one byte array.
    public static func generate(_ options: Options) -> [UInt8] {
        var generator = AccessLogGenerator(options: options)
        var buffer = [UInt8]()
        buffer.reserveCapacity(max(0, options.lines) * 330)
        for _ in 0..<max(0, options.lines) {
            generator.appendLine(to: &buffer)
        }
        return buffer
    }

    // MARK: - Time

    /// Line i lands at the position (i + r)/lines of the window's total traffic weight, r uniform in [0, 1),
    /// mapped through the hourly traffic curve: strictly ordered positions, so timestamps never decrease.
    private mutating func nextTimestamp() -> Int64 {
        let index = produced
        produced += 1
        let timeline = tables.timeline
        let total = timeline.totalWeight
        var position: UInt64
        if index < options.lines {
            let lines = UInt64(options.lines)
            let jitter = rng.next().multipliedFullWidth(by: total).high
            let product = UInt64(index).multipliedFullWidth(by: total)
            let (sum, carry) = product.low.addingReportingOverflow(jitter)
            position = lines.dividingFullWidth((product.high + (carry ? 1 : 0), sum)).quotient
            if position >= total { position = total - 1 }
        } else {
            position = total - 1
        }
        while bucketCursor + 1 < timeline.bucketCount && timeline.cumulative[bucketCursor + 1] <= position {
            bucketCursor += 1
        }
        let offset = (position - timeline.cumulative[bucketCursor]) / timeline.rate[bucketCursor]
        var time = options.start + Int64(bucketCursor) * 3600 + Int64(offset)
        if time < lastTimestamp { time = lastTimestamp }
        lastTimestamp = time
        return time
    }

    private func appendTimestamp(_ time: Int64, to line: inout LineWriter) {
        let local = time + Int64(options.utcOffsetMinutes) * 60
        let days = CivilTime.dayNumber(of: local)
        let secondOfDay = Int(local - days * 86_400)
        let (year, civilMonth, civilDay) = CivilTime.civilFromDays(days)
        let month = Int(civilMonth), day = Int(civilDay)
        line.writeTwoDigits(day)
        line.write(0x2F)
        line.write(monthNames[month - 1])
        line.write(0x2F)
        line.writeTwoDigits(Int(year / 100 % 100))
        line.writeTwoDigits(Int(year % 100))
        line.write(0x3A)
        line.writeTwoDigits(secondOfDay / 3600)
        line.write(0x3A)
        line.writeTwoDigits(secondOfDay / 60 % 60)
        line.write(0x3A)
        line.writeTwoDigits(secondOfDay % 60)
        line.write(0x20)
        let offset = options.utcOffsetMinutes
        line.write(offset < 0 ? 0x2D : 0x2B)
        line.writeTwoDigits(abs(offset) / 60 % 100)
        line.writeTwoDigits(abs(offset) % 60)
    }

    // MARK: - Events

    private enum Flaw {
        case missingRequest, badTimestamp, badStatus, endsAfterStatus
    }

    /// Appends one event line; returns the buffer index of the user agent's closing quote.
    @discardableResult
    private mutating func appendEvent(time: Int64, flaw: Flaw?, to line: inout LineWriter) -> Int {
        let tables = self.tables
        let client = tables.clientZipf.sample(&rng)
        var agent = Int(tables.clientAgent[client])
        if rng.below(100) < 3 { agent = tables.agentZipf.sample(&rng) }  // a second device, an updated browser
        let agentClass = tables.agentClass[agent]
        let path = tables.pathZipf.sample(&rng)
        let kind = tables.pathKind[path]
        // The roll is drawn even when planting is off, so that both logs stay aligned line by line.
        let plantRoll = rng.below(1000)
        let hasCookie = rng.chance(options.cookieFieldShare)
        let plant = options.plantPersonalData && plantRoll < 15 ? planter.next(hasCookie: hasCookie) : nil

        // %h %l %u
        tables.clientIPs.write(client, to: &line)
        line.write(" - ")
        if let plant, plant.field == .remoteUser {
            line.write(utf8: plant.text)
        } else {
            line.write(0x2D)
        }

        // %t
        line.write(" [")
        if flaw == .badTimestamp {
            appendBadTimestamp(time, to: &line)
        } else {
            appendTimestamp(time, to: &line)
        }
        line.write("] ")

        // "%r"
        let method = Self.method(for: kind, agentClass: agentClass, rng: &rng)
        if flaw != .missingRequest {
            line.write(0x22)
            line.write(methodNames[method.rawValue])
            line.write(0x20)
            appendTarget(path: path, plant: plant, to: &line)
            line.write(0x20)
            line.write(protocolNames[Self.protocolIndex(agentClass: agentClass, rng: &rng)])
            line.write("\" ")
        }

        // %>s %b
        let status = Self.status(for: kind, method: method, rng: &rng)
        if flaw == .badStatus {
            line.write(rng.pick(badStatuses))
        } else {
            line.writeDecimal(UInt64(status))
        }
        if flaw == .endsAfterStatus {
            line.write(0x0A)
            return line.count - 1
        }
        line.write(0x20)
        appendSize(path: path, kind: kind, method: method, status: status, to: &line)

        // "%{Referer}i" "%{User-agent}i"
        line.write(" \"")
        let referrerStart = line.count
        appendReferrer(kind: kind, agentClass: agentClass, to: &line)
        if let plant, plant.field == .referrer {
            // Replaced after the fact: the usual referrer's draws keep the main stream as it would be unplanted.
            line.truncate(to: referrerStart)
            line.write(utf8: plant.text)
        }
        line.write("\" \"")
        tables.agents.write(agent, to: &line)
        let agentCloseQuote = line.count
        line.write(0x22)

        // "%{Cookie}i"
        if hasCookie {
            line.write(" \"")
            appendCookie(client: client, time: time, to: &line)
            if let plant, plant.field == .cookie {
                line.write("; ")
                line.write(utf8: plant.text)
            }
            line.write(0x22)
        }
        line.write(0x0A)
        return agentCloseQuote
    }

    private func appendTarget(path: Int, plant: Plant?, to line: inout LineWriter) {
        if let plant, plant.field == .path {
            line.write(utf8: plant.text)
            return
        }
        tables.paths.write(path, to: &line)
        if let plant, plant.field == .query {
            line.write(tables.pathHasQuery[path] ? 0x26 : 0x3F)
            line.write(utf8: plant.text)
        }
    }

    private func appendSize(path: Int, kind: PathKind, method: Method, status: Int, to line: inout LineWriter) {
        // Apache's %b prints "-" when no body was sent.
        if method == .head || status == 304 || status == 204 {
            line.write(0x2D)
            return
        }
        let seed = SplitMix64.mix(UInt64(path) &* 31 &+ UInt64(produced))
        let size: UInt64
        switch status {
        case 200:
            let base = UInt64(tables.pathBytes[path])
            size = kind == .page || kind == .api ? base - base / 8 + seed % (base / 4 + 1) : base
        case 301, 302: size = 162 + seed % 90
        case 404: size = kind == .api ? 60 + seed % 40 : 4_812 + seed % 400
        case 401, 403: size = 199 + seed % 320
        case 500: size = 530 + seed % 60
        case 502, 503: size = 157 + seed % 400
        case 400: size = 80 + seed % 200
        default: size = 90 + seed % 400
        }
        line.writeDecimal(size)
    }

    private mutating func appendReferrer(kind: PathKind, agentClass: AgentClass, to line: inout LineWriter) {
        let roll = rng.below(1000)
        let source: Referrer
        switch (agentClass, kind) {
        case (.bot, _), (.tool, _), (.none, _):
            source = roll < 960 ? .none : (roll < 990 ? .internal : .other)
        case (_, .asset), (_, .image):
            source = roll < 200 ? .none : (roll < 992 ? .internal : .odd)
        case (_, .api):
            source = roll < 300 ? .none : .internal
        case (_, .probe):
            source = roll < 900 ? .none : .odd
        case (_, .page):
            switch roll {
            case ..<380: source = .none
            case ..<680: source = .internal
            case ..<860: source = .search
            case ..<940: source = .social
            case ..<980: source = .other
            default: source = .odd
            }
        }
        switch source {
        case .none:
            line.write(0x2D)
        case .internal:
            line.write(originBytes)
            let page = Int(tables.pagePaths[tables.pageZipf.sample(&rng)])
            tables.paths.write(page, to: &line)
        case .search:
            tables.searchReferrers.write(tables.searchZipf.sample(&rng), to: &line)
        case .social:
            tables.socialReferrers.write(tables.socialZipf.sample(&rng), to: &line)
        case .other:
            line.write(utf8: rng.pick(SampleCorpus.otherReferrers))
        case .odd:
            line.write(utf8: rng.pick(SampleCorpus.oddReferrers))
        }
    }

    private func appendCookie(client: Int, time: Int64, to line: inout LineWriter) {
        tables.cookiePrefixes.write(client, to: &line)
        if tables.clientHasSession[client] {
            // A session id that changes once a day per client, derived without touching the main stream.
            line.write("sid=")
            let day = UInt64(bitPattern: (time + 10_800) / 86_400)
            line.writeToken(seed: tables.clientKeys[client] ^ (day &* 0x9E37_79B9_7F4A_7C15), length: 20)
            line.write("; ")
        }
        tables.cookieSuffixes.write(client, to: &line)
    }

    // MARK: - Malformed lines

    private mutating func appendMalformed(time: Int64, to line: inout LineWriter) {
        switch rng.below(6) {
        case 0:
            appendEvent(time: time, flaw: .missingRequest, to: &line)
        case 1:
            appendEvent(time: time, flaw: .badTimestamp, to: &line)
        case 2:
            appendEvent(time: time, flaw: .badStatus, to: &line)
        case 3:
            appendEvent(time: time, flaw: .endsAfterStatus, to: &line)
        case 4:
            // Truncated: cut anywhere before the user agent's closing quote, as a crashed writer would.
            let start = line.count
            let closeQuote = appendEvent(time: time, flaw: nil, to: &line)
            let cut = start + 1 + rng.below(closeQuote - start - 1)
            line.truncate(to: cut)
            line.write(0x0A)
        default:
            // Garbage: binary noise (a stray chunk of a gzip member, say), never a line break.
            for _ in 0..<rng.between(8...200) {
                var byte = UInt8(truncatingIfNeeded: rng.next())
                if byte == 0x0A || byte == 0x0D { byte = 0xFF }
                line.write(byte)
            }
            line.write(0x0A)
        }
    }

    private mutating func appendBadTimestamp(_ time: Int64, to line: inout LineWriter) {
        let start = line.count
        appendTimestamp(time, to: &line)  // dd/Mon/yyyy:HH:MM:SS +hhmm, then spoil it
        func patch(_ offset: Int, _ replacement: StaticString) {
            replacement.withUTF8Buffer { bytes in
                for (index, byte) in bytes.enumerated() { line[start + offset + index] = byte }
            }
        }
        switch rng.below(5) {
        case 0: patch(0, "32")
        case 1: patch(3, "Foo")
        case 2: patch(12, "25:61")
        case 3: line.truncate(to: start + 20)  // no zone
        default:
            let clock = (12..<20).map { line[start + $0] }
            line.truncate(to: start)
            line.write("2026-01-01T")
            line.write(clock)
            line.write(0x5A)
        }
    }

    // MARK: - Request details

    private static func method(for kind: PathKind, agentClass: AgentClass, rng: inout Xoshiro256StarStar) -> Method {
        let roll = rng.below(1000)
        switch kind {
        case .page:
            if agentClass == .tool && roll < 150 { return .head }
            return roll < 955 ? .get : roll < 970 ? .head : roll < 995 ? .post : .options
        case .asset, .image:
            return roll < 985 ? .get : .head
        case .api:
            return roll < 560 ? .get : roll < 900 ? .post : roll < 940 ? .put : roll < 990 ? .options : .delete
        case .probe:
            return roll < 800 ? .get : .post
        }
    }

    private static func protocolIndex(agentClass: AgentClass, rng: inout Xoshiro256StarStar) -> Int {
        let roll = rng.below(100)
        switch agentClass {
        case .browser: return roll < 64 ? 1 : roll < 99 ? 0 : 2
        case .bot: return roll < 75 ? 0 : roll < 97 ? 1 : 2
        case .tool, .none: return roll < 75 ? 0 : roll < 85 ? 1 : 2
        }
    }

    private static func status(for kind: PathKind, method: Method, rng: inout Xoshiro256StarStar) -> Int {
        let roll = rng.below(10_000)
        switch kind {
        case .page:
            if method == .post { return roll < 6_000 ? 302 : roll < 9_500 ? 200 : roll < 9_800 ? 403 : 500 }
            switch roll {
            case ..<8_350: return 200
            case ..<8_800: return 304
            case ..<9_100: return 301
            case ..<9_400: return 302
            case ..<9_800: return 404
            case ..<9_850: return 403
            case ..<9_880: return 401
            case ..<9_930: return 500
            case ..<9_960: return 502
            default: return 503
            }
        case .asset, .image:
            switch roll {
            case ..<7_000: return 200
            case ..<9_700: return 304
            case ..<9_950: return 404
            case ..<9_980: return 500
            default: return 503
            }
        case .api:
            if method == .options { return 204 }
            if method == .post { return roll < 6_000 ? 200 : roll < 8_800 ? 201 : roll < 9_500 ? 400 : roll < 9_900 ? 401 : 500 }
            switch roll {
            case ..<8_600: return 200
            case ..<9_000: return 304
            case ..<9_300: return 400
            case ..<9_600: return 401
            case ..<9_700: return 403
            case ..<9_880: return 404
            case ..<9_950: return 500
            case ..<9_980: return 502
            default: return 503
            }
        case .probe:
            return roll < 9_000 ? 404 : roll < 9_800 ? 403 : 301
        }
    }
}

// MARK: - Small value types and constants

enum PathKind: UInt8, Sendable {
    case page, asset, image, api, probe
}

enum AgentClass: UInt8, Sendable {
    case browser, bot, tool, none
}

private enum Method: Int {
    case get, head, post, put, options, delete
}

private enum Referrer {
    case none, `internal`, search, social, other, odd
}

private let methodNames: [[UInt8]] = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE"].map { Array($0.utf8) }
private let protocolNames: [[UInt8]] = ["HTTP/1.1", "HTTP/2.0", "HTTP/1.0"].map { Array($0.utf8) }
private let monthNames: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    .map { Array($0.utf8) }
private let badStatuses: [[UInt8]] = ["2OO", "-", "20", "HTTP", "9999"].map { Array($0.utf8) }
private let originBytes = Array(SampleCorpus.siteOrigin.utf8)
