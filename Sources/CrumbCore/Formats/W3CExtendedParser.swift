/// Parses W3C extended log files: Microsoft IIS, AWS CloudFront (standard and RTMP logs), IIS Advanced
/// Logging, Oracle Web Cache, Incapsula, and any writer that follows the working draft.
///
/// Follows the W3C working draft <https://www.w3.org/TR/WD-logfile.html>, IIS's W3C extended format
/// (<https://learn.microsoft.com/en-us/previous-versions/iis/6.0-sdk/ms525807(v=vs.90)>) and CloudFront's
/// standard logs (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>).
///
/// Accepted:
/// - Directives: any line starting with `#` (after an optional UTF-8 byte order mark) is `.header`.
///   `#Fields:` defines the columns of the lines after it, until the next `#Fields:`; it is compiled once
///   into a column→role table. `#Date:` and `#Start-Date:` (`yyyy-mm-dd hh:mm:ss[.fff]`, anything after
///   ignored) give the day for field sets that have a `time` column but no `date` (IIS FTP logs), and the
///   time for field sets with neither. Other directives (`#Version`, `#Software`, `#Remark`, `#End-Date`,
///   Oracle's `#GMT-Offset`) carry nothing crumb uses. An empty or blank line is also `.header`.
/// - Columns: separated by one tab when the first separator of the line is a tab (CloudFront: a value may
///   then hold spaces, and two tabs mean an empty value), else by runs of spaces (IIS, and the draft's
///   "whitespace"). A column starting with `"` is a W3C string: `""` inside stands for one `"`, and the
///   closing quote must end the column. Whitespace after the last declared column is ignored.
/// - Values: `-`, `""` and an empty tab-separated value mean absent. `date` is `yyyy-mm-dd`, `time` is
///   `hh:mm:ss[.fraction]`, both UTC as the draft says; `date-local`/`time-local` (IIS Advanced Logging)
///   are used as they are when there is no UTC pair (their offset is not in the log); a `datetime` column
///   is `yyyy-mm-ddThh:mm:ss[.fraction][Z|±hh:mm]`. `sc-status` is three digits; `sc-bytes`/`bytes` up to
///   18 digits; `time-taken` is seconds when it has a fraction or the field set is CloudFront's (it has
///   `x-edge-` columns), else IIS's milliseconds; `TimeTakenMS` is milliseconds.
/// - Decoding: an unquoted `cs(User-Agent)` or `cs(Cookie)` has `+` for spaces in IIS logs; in CloudFront
///   logs it is percent-encoded (the user agent sometimes twice, `%2520`: decoded up to three rounds, the
///   cookie once). Other values are copied as they are (quoted ones with `""` made `"`).
///
/// Roles: `c-ip` client; `cs-username` (Oracle: `c-auth-id`) remote user; `cs-method`; `cs-uri-stem` and
/// `cs-uri-query` assembled as `stem?query`, or `cs-uri` (Incapsula's `host/path` form is split into host
/// and path); `cs-version`/`cs-protocol-version` protocol; `cs(Referer)`/`cs(Referrer)`/`c-referrer`;
/// `cs(User-Agent)`/`c-user-agent`; `cs(Cookie)`; `x-host-header` (the viewer's Host, preferred), `cs-host`
/// or `cs(Host)` host; `x-forwarded-for`/`cs(X-Forwarded-For)`; `cs(DNT)` and `cs(Sec-GPC)` equal to `1`;
/// CloudFront RTMP's `x-event` event name. Server-side columns (`s-*`, `sc-*`, `sc(...)`, `r-*`, `rs-*`,
/// `sr-*`, `x-edge-*`, `ssl-*`, `fle-*`, `cs-bytes`, `c-port`, `cs-protocol`, `time-to-first-byte`, RTMP's
/// `x-cf-status`, `x-sid`, `x-file-ext`) are skipped; every other column (`cs(...)` headers, `c-*`, unknown
/// `x-*`, custom names) goes to `unmapped` under its name. A request is valid when it has a target and its
/// method, if the field set has one, is a token: without `cs-method` the method is empty; IIS FTP's
/// `[2]USER` makes the request invalid (it still counts, as `(invalid request)`).
///
/// Every range of a returned event points into `decoded`: the line's kept values are copied there (they
/// may need decoding or assembling), so the result is always `.decodedEvent`. An absent client or remote
/// user is `-`, as in Apache's `%h`/`%u`; an absent status is 0.
///
/// Rejected, with the offset where parsing stopped: a data line before any `#Fields:`
/// (`no_fields_directive`); fewer columns than declared (`missing_column`, at the end of the line); more
/// (`extra_columns`, at the first extra column); an unterminated quoted string or bytes after its closing
/// quote (`bad_quoting`); an unparseable or absent date or time, or none known at all (`bad_timestamp`); a
/// status that is not three digits (`bad_status`); a size that is not digits (`bad_bytes`); a time taken
/// that is not a decimal number (`bad_number`).
public struct W3CExtendedParser: WebLineParser {
    public var formatName: String { "w3c" }

    /// One column of the current `#Fields:` directive.
    struct Column {
        var role: Role
        /// The column's name as the directive spells it (kept for `unmapped`).
        var name: [UInt8]
    }

    enum Role: UInt8 {
        case ignored, unmapped
        case date, time, localDate, localTime, dateTime
        case client, remoteUser, method, uriStem, uriQuery, uri, requestProtocol
        case status, bytes, referrer, userAgent, cookie, host, viewerHost
        case timeTaken, timeTakenMilliseconds, forwardedFor, doNotTrack, globalPrivacyControl, event
    }

    private var columns: [Column] = []
    private var hasFields = false
    /// The field set has `x-edge-` columns: CloudFront percent-encodes and writes seconds.
    private var isCloudFront = false
    private var isCombined = false
    /// The field set has a day column (`date`, `date-local`), a time-of-day column (`time`, `time-local`),
    /// or a `datetime` column.
    private var hasDayColumn = false
    private var hasTimeOfDayColumn = false
    private var hasDateTimeColumn = false
    /// Epoch seconds of the last `#Date:`/`#Start-Date:` directive that parsed.
    private var directiveTime: Int64?
    private var scratch: [UInt8] = []
    private var unmapped: [NamedRange] = []

    public init() {}

    /// Parses one line without its terminator: a directive, a blank line, or an entry.
    ///
    /// - Returns: `.header` for directives and blank lines, else `.decodedEvent` with every range in `decoded`.
    /// - Throws: `ParseFailure` with a code and the offset in `line` where parsing stopped.
    /// - Complexity: O(line.count): one pass over the columns; decoded values are copied once.
    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult {
        var start = 0
        if line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF { start = 3 }
        if start < line.count, line[start] == UInt8(ascii: "#") {
            readDirective(line, from: start + 1)
            return .header
        }
        var first = start
        while first < line.count, Self.isBlank(line[first]) { first += 1 }
        if first == line.count { return .header }
        guard hasFields else { throw ParseFailure(.noFieldsDirective, at: first) }
        return .decodedEvent(try readEntry(line, from: start, decoded: &decoded))
    }

    // MARK: - Directives

    private mutating func readDirective(_ line: UnsafeRawBufferPointer, from start: Int) {
        var colon = start
        while colon < line.count, line[colon] != UInt8(ascii: ":") {
            if Self.isBlank(line[colon]) { return }
            colon += 1
        }
        guard colon < line.count else { return }
        let name = UnsafeRawBufferPointer(rebasing: line[start..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])
        if Self.equalsIgnoringCase(name, "fields") {
            compileFields(value)
        } else if Self.equalsIgnoringCase(name, "date") || Self.equalsIgnoringCase(name, "start-date") {
            directiveTime = Self.directiveTimestamp(value)
        }
    }

    /// Compiles a `#Fields:` list into the column table: done once per directive, never per line.
    private mutating func compileFields(_ list: UnsafeRawBufferPointer) {
        columns.removeAll(keepingCapacity: true)
        var index = 0
        while index < list.count {
            while index < list.count, Self.isBlank(list[index]) { index += 1 }
            let nameStart = index
            while index < list.count, !Self.isBlank(list[index]) { index += 1 }
            guard index > nameStart else { break }
            let name = Array(list[nameStart..<index])
            columns.append(Column(role: Self.role(named: String(decoding: name, as: UTF8.self)), name: name))
        }
        hasFields = true
        let names = columns.map { String(decoding: $0.name, as: UTF8.self).lowercased() }
        isCloudFront = names.contains { $0.hasPrefix("x-edge-") }
        isCombined = columns.contains { $0.role == .referrer } && columns.contains { $0.role == .userAgent }
        hasDayColumn = columns.contains { $0.role == .date || $0.role == .localDate }
        hasTimeOfDayColumn = columns.contains { $0.role == .time || $0.role == .localTime }
        hasDateTimeColumn = columns.contains { $0.role == .dateTime }
    }

    /// The role of a column, from its name (case-insensitive).
    static func role(named name: String) -> Role {
        let name = name.lowercased()
        switch name {
        case "date": return .date
        case "time": return .time
        case "date-local": return .localDate
        case "time-local": return .localTime
        case "datetime", "date-time": return .dateTime
        case "c-ip": return .client
        case "cs-username", "c-auth-id": return .remoteUser
        case "cs-method": return .method
        case "cs-uri-stem": return .uriStem
        case "cs-uri-query": return .uriQuery
        case "cs-uri": return .uri
        case "cs-version", "cs-protocol-version": return .requestProtocol
        case "sc-status": return .status
        case "sc-bytes", "bytes": return .bytes
        case "cs(referer)", "cs(referrer)", "c-referrer": return .referrer
        case "cs(user-agent)", "c-user-agent": return .userAgent
        case "cs(cookie)": return .cookie
        case "x-host-header": return .viewerHost
        case "cs-host", "cs(host)": return .host
        case "time-taken": return .timeTaken
        case "timetakenms": return .timeTakenMilliseconds
        case "x-forwarded-for", "cs(x-forwarded-for)": return .forwardedFor
        case "cs(dnt)": return .doNotTrack
        case "cs(sec-gpc)": return .globalPrivacyControl
        case "x-event": return .event
        case "cs-bytes", "c-port", "cs-protocol", "time-to-first-byte", "x-cf-status", "x-sid", "x-file-ext":
            return .ignored
        default:
            let serverSide = ["s-", "sc-", "sc(", "r-", "rs-", "rs(", "sr-", "sr(", "x-edge-", "ssl-", "fle-"]
            return serverSide.contains { name.hasPrefix($0) } ? .ignored : .unmapped
        }
    }

    // MARK: - Entries

    /// A column's bytes in the line: the range inside the quotes for a quoted string.
    struct Cell {
        var range: Range<Int>
        var quoted = false
        /// A quoted string holding `""`, to be unescaped when copied.
        var hasDoubledQuotes = false

        /// `-`, `""` and an empty value mean absent.
        func isAbsent(_ line: UnsafeRawBufferPointer) -> Bool {
            range.isEmpty || (range.count == 1 && line[range.lowerBound] == UInt8(ascii: "-"))
        }
    }

    private mutating func readEntry(_ line: UnsafeRawBufferPointer, from start: Int,
                                    decoded: inout [UInt8]) throws(ParseFailure) -> AccessLogEvent {
        if !decoded.isEmpty { decoded.removeAll(keepingCapacity: true) }
        decoded.reserveCapacity(line.count + 8)
        if !unmapped.isEmpty { unmapped.removeAll(keepingCapacity: true) }
        var event = AccessLogEvent()
        event.isCombined = isCombined
        var client: Range<Int>?
        var remoteUser: Range<Int>?
        var date: Cell?, time: Cell?, localDate: Cell?, localTime: Cell?, dateTime: Cell?
        var stem: Cell?, query: Cell?, uri: Cell?
        var methodIsValid = true
        var hostFromViewer = false

        var cursor = ColumnCursor(line: line, offset: start)
        for column in columns {
            guard let cell = try cursor.next() else { throw ParseFailure(.missingColumn, at: line.count) }
            if column.role == .ignored || cell.isAbsent(line) { continue }
            switch column.role {
            case .ignored: break
            case .date: date = cell
            case .time: time = cell
            case .localDate: localDate = cell
            case .localTime: localTime = cell
            case .dateTime: dateTime = cell
            case .uriStem: stem = cell
            case .uriQuery: query = cell
            case .uri: uri = cell
            case .client: client = copy(line, cell, to: &decoded)
            case .remoteUser: remoteUser = copy(line, cell, to: &decoded)
            case .method:
                event.method = copy(line, cell, to: &decoded)
                methodIsValid = !cell.hasDoubledQuotes && cell.range.allSatisfy { ASCII.isMethodByte(line[$0]) }
            case .requestProtocol: event.requestProtocol = copy(line, cell, to: &decoded)
            case .status: event.status = try Self.status(line, cell)
            case .bytes: event.bytes = try Self.byteCount(line, cell)
            case .referrer: event.referrer = copy(line, cell, to: &decoded)
            case .userAgent: event.userAgent = copyHeader(line, cell, rounds: 3, to: &decoded)
            case .cookie: event.cookie = copyHeader(line, cell, rounds: 1, to: &decoded)
            case .viewerHost:
                event.host = copy(line, cell, to: &decoded)
                hostFromViewer = true
            case .host:
                if !hostFromViewer { event.host = copy(line, cell, to: &decoded) }
            case .timeTaken:
                event.durationMicros = try Self.micros(line, cell, unit: isCloudFront ? 1_000_000 : 1_000)
            case .timeTakenMilliseconds: event.durationMicros = try Self.micros(line, cell, unit: 1_000)
            case .forwardedFor: event.forwardedFor = copy(line, cell, to: &decoded)
            case .doNotTrack: event.doNotTrack = Self.isOne(line, cell)
            case .globalPrivacyControl: event.globalPrivacyControl = Self.isOne(line, cell)
            case .event: event.eventName = copy(line, cell, to: &decoded)
            case .unmapped:
                let nameStart = decoded.count
                decoded.append(contentsOf: column.name)
                unmapped.append(NamedRange(name: nameStart..<decoded.count, value: copy(line, cell, to: &decoded)))
            }
        }
        if let extra = cursor.nextNonBlank() { throw ParseFailure(.extraColumns, at: extra) }

        event.time = try timestamp(line, date: date ?? localDate, time: time ?? localTime, dateTime: dateTime, start: start)
        if let target = uri ?? stem {
            let targetStart = decoded.count
            var path = copy(line, target, to: &decoded)
            if uri != nil, let slash = Self.hostPrefixEnd(decoded, path) {
                // Incapsula writes `host/path`: the target keeps the path, the host fills its role if empty.
                if event.host == nil { event.host = path.lowerBound..<slash }
                path = slash..<path.upperBound
            }
            if let query, !(uri != nil && decoded[path].contains(UInt8(ascii: "?"))) {
                decoded.append(UInt8(ascii: "?"))
                _ = copy(line, query, to: &decoded)
            }
            event.target = path.lowerBound..<decoded.count
            event.requestIsValid = methodIsValid && decoded.count > targetStart
        }
        if client == nil || remoteUser == nil {
            decoded.append(UInt8(ascii: "-"))
            let dash = (decoded.count - 1)..<decoded.count
            client = client ?? dash
            remoteUser = remoteUser ?? dash
        }
        event.client = client ?? 0..<0
        event.remoteUser = remoteUser ?? 0..<0
        if !unmapped.isEmpty { event.unmapped = unmapped }
        return event
    }

    /// Epoch seconds from the line's date and time columns, or from the last `#Date:` directive: its day
    /// when the field set has a time of day but no day (IIS FTP logs), all of it when it has neither.
    private func timestamp(_ line: UnsafeRawBufferPointer, date: Cell?, time: Cell?, dateTime: Cell?,
                           start: Int) throws(ParseFailure) -> Int64 {
        if hasDateTimeColumn {
            guard let dateTime, let seconds = Self.isoDateTime(Self.bytes(line, dateTime)) else {
                throw ParseFailure(.badTimestamp, at: dateTime?.range.lowerBound ?? start)
            }
            return seconds
        }
        guard hasDayColumn || hasTimeOfDayColumn else {
            guard let directiveTime else { throw ParseFailure(.badTimestamp, at: start) }
            return directiveTime
        }
        let days: Int64
        if hasDayColumn {
            guard let date, let parsed = Self.days(Self.bytes(line, date)) else {
                throw ParseFailure(.badTimestamp, at: date?.range.lowerBound ?? start)
            }
            days = parsed
        } else {
            guard let directiveTime else { throw ParseFailure(.badTimestamp, at: time?.range.lowerBound ?? start) }
            days = CivilTime.dayNumber(of: directiveTime)
        }
        var seconds: Int64 = 0
        if hasTimeOfDayColumn {
            guard let time, let parsed = Self.secondOfDay(Self.bytes(line, time), exact: true) else {
                throw ParseFailure(.badTimestamp, at: time?.range.lowerBound ?? start)
            }
            seconds = parsed
        }
        return days * 86_400 + seconds
    }

    // MARK: - Copying values into `decoded`

    /// Copies a cell's value, unescaping a quoted string's `""`.
    private func copy(_ line: UnsafeRawBufferPointer, _ cell: Cell, to out: inout [UInt8]) -> Range<Int> {
        let start = out.count
        if cell.hasDoubledQuotes {
            var index = cell.range.lowerBound
            while index < cell.range.upperBound {
                out.append(line[index])
                index += line[index] == UInt8(ascii: "\"") ? 2 : 1
            }
        } else {
            out.append(contentsOf: Self.bytes(line, cell))
        }
        return start..<out.count
    }

    /// Copies a user agent or cookie, undoing the writer's encoding of an unquoted value: IIS's `+` for
    /// space, or CloudFront's percent-encoding (up to `rounds` times).
    private mutating func copyHeader(_ line: UnsafeRawBufferPointer, _ cell: Cell, rounds: Int,
                                     to out: inout [UInt8]) -> Range<Int> {
        if cell.quoted { return copy(line, cell, to: &out) }
        let start = out.count
        let value = Self.bytes(line, cell)
        if isCloudFront {
            if PercentDecoding.decode(value, plusAsSpace: false, rounds: rounds, into: &scratch) {
                out.append(contentsOf: scratch)
            } else {
                out.append(contentsOf: value)
            }
        } else {
            for byte in value { out.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte) }
        }
        return start..<out.count
    }

    /// The end of a leading `host` in a `host/path` target (Incapsula's `cs-uri`): the offset of the first
    /// `/` when what precedes it is a dotted host name, nil for an origin- or absolute-form target.
    static func hostPrefixEnd(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard let first = range.first, bytes[first] != UInt8(ascii: "/") else { return nil }
        var hasDot = false
        for index in range {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") { return hasDot && index > first ? index : nil }
            if byte == UInt8(ascii: ".") {
                hasDot = true
            } else if !isHostByte(byte) {
                return nil
            }
        }
        return nil
    }

    /// A letter, digit, `-` or `:` (a port).
    static func isHostByte(_ byte: UInt8) -> Bool {
        let lower = ASCII.lowercased(byte)
        return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || ASCII.isDigit(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":")
    }

    // MARK: - Values

    static func bytes(_ line: UnsafeRawBufferPointer, _ cell: Cell) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[cell.range])
    }

    static func isOne(_ line: UnsafeRawBufferPointer, _ cell: Cell) -> Bool {
        cell.range.count == 1 && line[cell.range.lowerBound] == UInt8(ascii: "1")
    }

    /// Three digits (CloudFront writes `000` when the viewer went away before the response).
    static func status(_ line: UnsafeRawBufferPointer, _ cell: Cell) throws(ParseFailure) -> Int {
        guard cell.range.count == 3, !cell.hasDoubledQuotes else { throw ParseFailure(.badStatus, at: cell.range.lowerBound) }
        var value = 0
        for index in cell.range {
            guard let digit = ASCII.decimalValue(line[index]) else { throw ParseFailure(.badStatus, at: cell.range.lowerBound) }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Up to 18 digits.
    static func byteCount(_ line: UnsafeRawBufferPointer, _ cell: Cell) throws(ParseFailure) -> Int64 {
        guard cell.range.count <= 18 else { throw ParseFailure(.badBytes, at: cell.range.lowerBound) }
        var value: Int64 = 0
        for index in cell.range {
            guard let digit = ASCII.decimalValue(line[index]) else { throw ParseFailure(.badBytes, at: cell.range.lowerBound) }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// `digits[.digits]` in units of `unit` microseconds, to microseconds; a fraction makes it seconds.
    static func micros(_ line: UnsafeRawBufferPointer, _ cell: Cell, unit: Int64) throws(ParseFailure) -> Int64 {
        let failure = ParseFailure(.badNumber, at: cell.range.lowerBound)
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionScale: Int64 = 1
        var wholeDigits = 0
        var index = cell.range.lowerBound
        while index < cell.range.upperBound, let digit = ASCII.decimalValue(line[index]) {
            whole = whole * 10 + Int64(digit)
            wholeDigits += 1
            index += 1
        }
        guard wholeDigits > 0, wholeDigits <= 12 else { throw failure }
        var unit = unit
        if index < cell.range.upperBound {
            guard line[index] == UInt8(ascii: ".") else { throw failure }
            index += 1
            guard index < cell.range.upperBound else { throw failure }
            // A fraction means seconds, whatever the writer (the draft's unit; CloudFront's `0.001`).
            unit = 1_000_000
            while index < cell.range.upperBound {
                guard let digit = ASCII.decimalValue(line[index]) else { throw failure }
                if fractionScale < 1_000_000 {
                    fraction = fraction * 10 + Int64(digit)
                    fractionScale *= 10
                }
                index += 1
            }
        }
        return whole * unit + fraction * unit / fractionScale
    }

    /// `yyyy-mm-dd` → days since 1970-01-01.
    static func days(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count == 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
              let year = ApacheTimestamp.digits(text, 0, 4), let month = ApacheTimestamp.digits(text, 5, 2),
              let day = ApacheTimestamp.digits(text, 8, 2),
              month >= 1, month <= 12, day >= 1, day <= ApacheTimestamp.daysIn(month: month, year: year)
        else { return nil }
        return CivilTime.daysFromCivil(year: year, month: month, day: day)
    }

    /// `hh:mm:ss[.digits]` → seconds of the day (the fraction is dropped). With `exact`, nothing may follow.
    static func secondOfDay(_ text: UnsafeRawBufferPointer, exact: Bool) -> Int64? {
        guard text.count >= 8, text[2] == UInt8(ascii: ":"), text[5] == UInt8(ascii: ":"),
              let hour = ApacheTimestamp.digits(text, 0, 2), let minute = ApacheTimestamp.digits(text, 3, 2),
              let second = ApacheTimestamp.digits(text, 6, 2), hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var index = 8
        if index < text.count, text[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < text.count, ASCII.isDigit(text[index]) { index += 1 }
            guard index > fractionStart else { return nil }
        }
        guard !exact || index == text.count else { return nil }
        return hour * 3_600 + minute * 60 + second
    }

    /// `yyyy-mm-ddThh:mm:ss[.digits][Z|±hh:mm|±hhmm]` (a space may stand for `T`) → epoch seconds UTC.
    static func isoDateTime(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count >= 19, text[10] == UInt8(ascii: "T") || text[10] == UInt8(ascii: " "),
              let days = days(UnsafeRawBufferPointer(rebasing: text[0..<10]))
        else { return nil }
        let clock = UnsafeRawBufferPointer(rebasing: text[11...])
        guard let seconds = secondOfDay(clock, exact: false) else { return nil }
        var index = 8
        while index < clock.count, clock[index] == UInt8(ascii: ".") || ASCII.isDigit(clock[index]) { index += 1 }
        let zone = UnsafeRawBufferPointer(rebasing: clock[index...])
        var offset: Int64 = 0
        if zone.count == 1, zone[0] == UInt8(ascii: "Z") {
            offset = 0
        } else if zone.count == 6 || zone.count == 5, zone[0] == UInt8(ascii: "+") || zone[0] == UInt8(ascii: "-") {
            let minutesAt = zone.count == 6 ? 4 : 3
            guard zone.count == 5 || zone[3] == UInt8(ascii: ":"),
                  let hours = ApacheTimestamp.digits(zone, 1, 2), let minutes = ApacheTimestamp.digits(zone, minutesAt, 2),
                  hours <= 23, minutes <= 59
            else { return nil }
            offset = (hours * 3_600 + minutes * 60) * (zone[0] == UInt8(ascii: "+") ? 1 : -1)
        } else if !zone.isEmpty {
            return nil
        }
        return days * 86_400 + seconds - offset
    }

    /// A `#Date:` value: `yyyy-mm-dd hh:mm:ss[.fff]`, leading blanks skipped, anything after ignored.
    static func directiveTimestamp(_ value: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        while index < value.count, isBlank(value[index]) { index += 1 }
        guard value.count - index >= 19, value[index + 10] == UInt8(ascii: " "),
              let days = days(UnsafeRawBufferPointer(rebasing: value[index..<(index + 10)])),
              let seconds = secondOfDay(UnsafeRawBufferPointer(rebasing: value[(index + 11)...]), exact: false)
        else { return nil }
        return days * 86_400 + seconds
    }

    // MARK: - Bytes

    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ ascii: StaticString) -> Bool {
        guard bytes.count == ascii.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: ascii.utf8Start, count: ascii.utf8CodeUnitCount)
        for index in 0..<bytes.count where ASCII.lowercased(bytes[index]) != expected[index] { return false }
        return true
    }
}

extension W3CExtendedParser {
    /// Steps through the columns of one W3C entry. The separator is the line's first blank byte outside a
    /// quoted string: a tab makes every tab one separator, a space makes runs of blanks one separator.
    struct ColumnCursor {
        let line: UnsafeRawBufferPointer
        var offset: Int
        /// nil until the first separator is seen.
        private var tabSeparated: Bool?
        private var started = false

        init(line: UnsafeRawBufferPointer, offset: Int) {
            self.line = line
            self.offset = offset
        }

        /// The next column, or nil when the line has no more.
        mutating func next() throws(ParseFailure) -> W3CExtendedParser.Cell? {
            if started {
                guard offset < line.count else { return nil }
                // `offset` is at a separator.
                if tabSeparated == true {
                    offset += 1
                } else {
                    while offset < line.count, W3CExtendedParser.isBlank(line[offset]) { offset += 1 }
                    if offset == line.count { return nil }
                }
            } else {
                started = true
                while offset < line.count, line[offset] == UInt8(ascii: " ") { offset += 1 }
                if offset == line.count { return nil }
            }
            let cell = try readCell()
            if tabSeparated == nil, offset < line.count { tabSeparated = line[offset] == UInt8(ascii: "\t") }
            return cell
        }

        /// The offset of the next non-blank byte, if any: what follows the last declared column.
        func nextNonBlank() -> Int? {
            var index = offset
            while index < line.count, W3CExtendedParser.isBlank(line[index]) { index += 1 }
            return index < line.count ? index : nil
        }

        private mutating func readCell() throws(ParseFailure) -> W3CExtendedParser.Cell {
            let start = offset
            guard offset < line.count, line[offset] == UInt8(ascii: "\"") else {
                if tabSeparated == true {
                    while offset < line.count, line[offset] != UInt8(ascii: "\t") { offset += 1 }
                } else {
                    while offset < line.count, !W3CExtendedParser.isBlank(line[offset]) { offset += 1 }
                }
                return W3CExtendedParser.Cell(range: start..<offset)
            }
            var index = start + 1
            var doubled = false
            while index < line.count {
                if line[index] == UInt8(ascii: "\"") {
                    if index + 1 < line.count, line[index + 1] == UInt8(ascii: "\"") {
                        doubled = true
                        index += 2
                        continue
                    }
                    offset = index + 1
                    if offset < line.count, !W3CExtendedParser.isBlank(line[offset]) {
                        throw ParseFailure(.badQuoting, at: offset)
                    }
                    // A tab-separated line allows blanks between the closing quote and the next tab.
                    if tabSeparated == true {
                        while offset < line.count, line[offset] == UInt8(ascii: " ") { offset += 1 }
                        if offset < line.count, line[offset] != UInt8(ascii: "\t") { throw ParseFailure(.badQuoting, at: offset) }
                    }
                    return W3CExtendedParser.Cell(range: (start + 1)..<index, quoted: true, hasDoubledQuotes: doubled)
                }
                index += 1
            }
            throw ParseFailure(.badQuoting, at: start)
        }
    }
}
