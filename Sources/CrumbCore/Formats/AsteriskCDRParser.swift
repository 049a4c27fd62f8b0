/// Parses Asterisk `cdr_csv` rows (`Master.csv`) into `CallEvent`s.
///
/// Follows `cdr/cdr_csv.c` (<https://github.com/asterisk/asterisk/blob/master/cdr/cdr_csv.c>) and the `[csv]`
/// section of `cdr.conf` (<https://github.com/asterisk/asterisk/blob/master/configs/samples/cdr.conf.sample>):
/// one row per CDR, strings quoted with `"` doubled inside, integers unquoted, an unset time as an empty column.
/// The columns, in order:
///
/// | # | column | role |
/// |---|---|---|
/// | 1–9 | accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata | ranges |
/// | 10–12 | start, answer, end | `YYYY-MM-DD HH:MM:SS` in the configured zone (UTC with `usegmtime=yes`) |
/// | 13–14 | duration, billsec | integers |
/// | 15–16 | disposition (`ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CONGESTION`), amaflags | ranges |
/// | 17 | uniqueid | with `loguniqueid=yes` |
/// | 18 | userfield | with `loguserfield=yes` |
/// | +3 | peeraccount, linkedid, sequence | with `newcdrcolumns=yes`; go to `unmapped` under their names |
///
/// so a row has 16 to 21 columns. `.inferred` (the default) reads the options from the count: 17 is uniqueid,
/// 18 uniqueid and userfield, 19 to 21 the same plus the three newer columns. `loguserfield` without
/// `loguniqueid` also makes 17 (or 20) columns: say so with `.fixed([.userField])`.
///
/// Accepted: empty or `""` answer (an unanswered call: `answer == nil`) and end; a `clid` of the forms
/// `"Name" <number>`, `"" <number>`, `Name <number>`, `<number>`, a bare number or a bare name (split into
/// `callerName` and `callerNumber`; a backslash-escaped quote inside the name, as newer Asterisk writes it, is
/// unescaped when the row is decoded); any bytes, UTF-8 or not, inside quoted fields; a header row (a `start`
/// column that reads `start`, `calldate`..., or a first column that reads `accountcode`) → `.header`.
///
/// Rejected: fewer than 16 columns (`missing_column`), more than 21 or more than the fixed layout's
/// (`extra_columns`), bad quoting (`bad_quoting`), a start that is not a time or an answer or end that is
/// neither empty nor a time (`bad_timestamp`), a duration or billsec that is not a non-negative integer
/// (`bad_number`).
///
/// Every real row quotes `clid` with doubled quotes (`"""Name"" <5551234>"`), so most rows come back as
/// `.decodedEvent`: the row is copied once into the caller's `decoded` buffer, with no allocation once its
/// capacity suffices.
public struct AsteriskCDRParser: CallLineParser {
    /// The optional columns `cdr.conf`'s `[csv]` section adds.
    public struct Columns: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// `loguniqueid=yes`: `uniqueid` after `amaflags`.
        public static let uniqueID = Columns(rawValue: 1)
        /// `loguserfield=yes`: `userfield` after that.
        public static let userField = Columns(rawValue: 2)
        /// `newcdrcolumns=yes`: `peeraccount`, `linkedid`, `sequence` at the end.
        public static let newColumns = Columns(rawValue: 4)

        /// How many columns a row has with these options.
        public var count: Int {
            16 + (contains(.uniqueID) ? 1 : 0) + (contains(.userField) ? 1 : 0) + (contains(.newColumns) ? 3 : 0)
        }
    }

    /// How the parser knows which optional columns a row has.
    public enum Layout: Sendable, Equatable {
        /// From the row's column count (16 ... 21), each row on its own.
        case inferred
        /// Exactly these columns; other counts are rejected.
        case fixed(Columns)
    }

    public var formatName: String { "asterisk-cdr" }
    public let layout: Layout
    /// The zone of the times in the file (`.utc` for `usegmtime=yes`).
    public var timeZone: LocalTimeZone { reader.zone }

    private var reader: CallRowReader
    /// Indexed by column count − 16 for `.inferred`; one table for `.fixed`.
    private let tables: [CallColumnTable]

    /// A parser for `Master.csv` rows whose times are in `timeZone` (the Asterisk server's zone; `.utc` when
    /// `usegmtime=yes`), with the optional columns `layout` says.
    public init(timeZone: LocalTimeZone = .utc, layout: Layout = .inferred) {
        self.layout = layout
        switch layout {
        case .inferred:
            tables = Self.inferredTables
            reader = CallRowReader(row: CSVRow(maxFields: 21), zone: timeZone)
        case .fixed(let columns):
            tables = [Self.table(columns)]
            reader = CallRowReader(row: CSVRow(maxFields: columns.count), zone: timeZone)
        }
    }

    /// The options a row of `count` columns was written with, as `.inferred` reads them; nil outside 16 ... 21.
    public static func inferredColumns(count: Int) -> Columns? {
        switch count {
        case 16: []
        case 17: [.uniqueID]
        case 18: [.uniqueID, .userField]
        case 19: [.newColumns]
        case 20: [.uniqueID, .newColumns]
        case 21: [.uniqueID, .userField, .newColumns]
        default: nil
        }
    }

    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult {
        try reader.row.split(line)
        let count = reader.row.fields.count
        let table: CallColumnTable
        switch layout {
        case .inferred:
            guard count >= 16 else {
                if reader.firstFieldReads("accountcode", in: line) { return .header }
                throw ParseFailure(.missingColumn, at: line.count)
            }
            // `split` stops at 21 fields, so `count` is at most 21 here.
            table = tables[count - 16]
        case .fixed(let columns):
            guard count == columns.count else {
                if reader.firstFieldReads("accountcode", in: line) { return .header }
                throw ParseFailure(.missingColumn, at: line.count)
            }
            table = tables[0]
        }
        return try reader.read(line, table: table, decoded: &decoded)
    }

    // MARK: - Column tables

    static let baseColumns: [(String, CallColumn.Role)] = [
        ("accountcode", .accountCode), ("src", .source), ("dst", .destination), ("dcontext", .context),
        ("clid", .callerID), ("channel", .channel), ("dstchannel", .destinationChannel), ("lastapp", .lastApplication),
        ("lastdata", .lastData), ("start", .start(.civil)), ("answer", .answer(.civil)), ("end", .end(.civil)),
        ("duration", .duration), ("billsec", .billSeconds), ("disposition", .disposition), ("amaflags", .amaFlags),
    ]

    static func table(_ columns: Columns) -> CallColumnTable {
        var list = baseColumns
        if columns.contains(.uniqueID) { list.append(("uniqueid", .uniqueID)) }
        if columns.contains(.userField) { list.append(("userfield", .userField)) }
        if columns.contains(.newColumns) {
            list += [("peeraccount", .unmapped), ("linkedid", .unmapped), ("sequence", .unmapped)]
        }
        return CallColumnTable(list.map { CallColumn(role: $0.1, name: Array($0.0.utf8)) })
    }

    static let inferredTables: [CallColumnTable] = (16...21).map { table(inferredColumns(count: $0) ?? []) }
}

// MARK: - Shared with FreeSWITCHCDRParser

/// What one CDR column holds. Compiled once per Asterisk layout or FreeSWITCH template.
struct CallColumn: Sendable, Equatable {
    /// How a time column is written.
    enum TimeFormat: Sendable, Equatable {
        /// `YYYY-MM-DD HH:MM:SS` in the parser's zone.
        case civil
        /// Integer epoch seconds (FreeSWITCH `${start_epoch}`); 0 means no time.
        case epochSeconds
        /// Integer epoch microseconds (FreeSWITCH `${start_uepoch}`); 0 means no time.
        case epochMicroseconds
    }

    enum Role: Sendable, Equatable {
        case accountCode, source, destination, context, callerID, callerName, channel, destinationChannel
        case lastApplication, lastData, start(TimeFormat), answer(TimeFormat), end(TimeFormat), duration, billSeconds
        case disposition, amaFlags, uniqueID, userField, unmapped
    }

    var role: Role
    /// The column's name (Asterisk's column name, FreeSWITCH's variable), ASCII.
    var name: [UInt8]
}

/// A row layout: the columns' roles and names in order, and what the reader needs to know about them up front.
struct CallColumnTable: Sendable {
    /// Apart from the names, so that reading a role per column per row touches no reference count.
    let roles: [CallColumn.Role]
    let names: [[UInt8]]
    /// Whether some column goes to `unmapped`, whose names must be copied next to the values.
    let hasUnmapped: Bool
    /// The start column, which tells a header row from a record.
    let startColumn: Int?

    var count: Int { roles.count }

    init(_ columns: [CallColumn]) {
        roles = columns.map(\.role)
        names = columns.map(\.name)
        hasUnmapped = columns.contains { $0.role == .unmapped }
        startColumn = columns.firstIndex {
            if case .start = $0.role { return true }
            return false
        }
    }
}

/// Turns one CDR row into a `CallEvent` by a column table: splits it, decodes times and numbers, and copies the
/// row into `decoded` only when a value holds doubled quotes or an unmapped column needs its name beside it.
struct CallRowReader: Sendable {
    var row: CSVRow
    var zone: LocalTimeZone
    /// Reused from row to row: once the caller has let go of the last event, it is uniquely held again and
    /// `removeAll(keepingCapacity:)` does not allocate.
    private var unmappedStorage: [NamedRange] = []

    init(row: CSVRow, zone: LocalTimeZone) {
        self.row = row
        self.zone = zone
    }

    /// Whether the first field of the row just split reads `word` (ASCII, any case).
    func firstFieldReads(_ word: StaticString, in line: UnsafeRawBufferPointer) -> Bool {
        guard let first = row.fields.first else { return false }
        return word.withUTF8Buffer { Self.equalsIgnoringCase(line, first.range, UnsafeRawBufferPointer($0)) }
    }

    /// Reads the row just split, whose column count matches `table`.
    mutating func read(_ line: UnsafeRawBufferPointer, table: CallColumnTable, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult {
        assert(row.fields.count == table.count, "the caller matches the table to the row")
        var event = CallEvent()
        // The start column first: when it is not a time, the row may be a header.
        guard let startColumn = table.startColumn else { preconditionFailure("every table has a start column") }
        let startRange = row.fields[startColumn].range
        guard case .start(let startFormat) = table.roles[startColumn],
              case .time(let start) = readTime(line, startRange, startFormat)
        else {
            if isHeaderCell(line, startRange, name: table.names[startColumn]) { return .header }
            throw ParseFailure(.badTimestamp, at: startRange.lowerBound)
        }
        event.start = start

        // Times and numbers, from the row itself: their fields never hold quotes.
        for index in 0..<table.count {
            let range = row.fields[index].range
            switch table.roles[index] {
            case .answer(let format):
                event.answer = try readOptionalTime(line, range, format)
            case .end(let format):
                event.end = try readOptionalTime(line, range, format)
            case .duration:
                guard let seconds = Self.readCount(line, range) else { throw ParseFailure(.badNumber, at: range.lowerBound) }
                event.duration = seconds
            case .billSeconds:
                guard let seconds = Self.readCount(line, range) else { throw ParseFailure(.badNumber, at: range.lowerBound) }
                event.billSeconds = seconds
            default:
                break
            }
        }

        let isDecoded = row.needsDecoding || table.hasUnmapped
        if isDecoded {
            row.decode(line, into: &decoded)
        }
        var unmapped = unmappedStorage
        unmappedStorage = []
        unmapped.removeAll(keepingCapacity: true)
        var callerID: Range<Int>? = nil
        for index in 0..<table.count {
            let range = row.fields[index].range
            let value: Range<Int>? = range.isEmpty ? nil : range
            switch table.roles[index] {
            case .accountCode: event.accountCode = value
            case .source: event.source = value
            case .destination: event.destination = range
            case .context: event.context = range
            case .callerID: callerID = value
            case .callerName: event.callerName = value
            case .channel: event.channel = value
            case .destinationChannel: event.destinationChannel = value
            case .lastApplication: event.lastApplication = value
            case .lastData: event.lastData = value
            case .disposition: event.disposition = range
            case .amaFlags: event.amaFlags = value
            case .uniqueID: event.uniqueID = value
            case .userField: event.userField = value
            case .unmapped:
                // Safe: `isDecoded` holds whenever the table has an unmapped column.
                let nameStart = decoded.count
                decoded.append(contentsOf: table.names[index])
                unmapped.append(NamedRange(name: nameStart..<decoded.count, value: range))
            case .start, .answer, .end, .duration, .billSeconds:
                break
            }
        }
        if !unmapped.isEmpty { event.unmapped = unmapped }
        unmappedStorage = unmapped

        if let callerID {
            event.callerID = callerID
            let parts: CallerIDParts
            if isDecoded {
                parts = decoded.withUnsafeBytes { CallerIDParts(splitting: $0, callerID) }
            } else {
                parts = CallerIDParts(splitting: line, callerID)
            }
            if event.callerName == nil, var name = parts.name {
                if isDecoded && parts.nameHasBackslash { name = Self.appendUnescaped(name, in: &decoded) }
                event.callerName = name
            }
            event.callerNumber = parts.number
        }
        return isDecoded ? .decodedEvent(event) : .event(event)
    }

    /// What a time column holds.
    private enum TimeCell {
        /// Empty, or 0 in an epoch column.
        case none
        case time(Int64)
        case invalid
    }

    private mutating func readTime(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, _ format: CallColumn.TimeFormat) -> TimeCell {
        if range.isEmpty { return .none }
        switch format {
        case .civil:
            guard let time = zone.epochSeconds(parsing: UnsafeRawBufferPointer(rebasing: line[range])) else { return .invalid }
            return .time(time)
        case .epochSeconds, .epochMicroseconds:
            guard let value = Self.readCount(line, range) else { return .invalid }
            if value == 0 { return .none }
            return .time(format == .epochSeconds ? value : value / 1_000_000)
        }
    }

    /// An answer or end column: nil when empty, the time when well formed.
    private mutating func readOptionalTime(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, _ format: CallColumn.TimeFormat) throws(ParseFailure) -> Int64? {
        switch readTime(line, range, format) {
        case .none: return nil
        case .time(let time): return time
        case .invalid: throw ParseFailure(.badTimestamp, at: range.lowerBound)
        }
    }

    /// Whether a cell that failed to parse is a header's column name: the column's own name or a usual
    /// spelling of it (ASCII, any case).
    private func isHeaderCell(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, name: [UInt8]) -> Bool {
        if name.withUnsafeBytes({ Self.equalsIgnoringCase(line, range, $0) }) { return true }
        for word in Self.headerWords {
            if word.withUTF8Buffer({ Self.equalsIgnoringCase(line, range, UnsafeRawBufferPointer($0)) }) { return true }
        }
        return false
    }

    private static let headerWords: [StaticString] = [
        "start", "start time", "starttime", "start_stamp", "start_epoch", "calldate", "call date",
    ]

    static func equalsIgnoringCase(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, _ word: UnsafeRawBufferPointer) -> Bool {
        guard range.count == word.count else { return false }
        for (offset, index) in range.enumerated() where ASCII.lowercased(line[index]) != ASCII.lowercased(word[offset]) {
            return false
        }
        return true
    }

    /// A non-negative decimal integer of 1 to 18 digits.
    static func readCount(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value: Int64 = 0
        for index in range {
            guard let digit = ASCII.decimalValue(line[index]) else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// Appends `name` to `decoded` with `\"` and `\\` unescaped, and returns where the copy lies.
    private static func appendUnescaped(_ name: Range<Int>, in decoded: inout [UInt8]) -> Range<Int> {
        let start = decoded.count
        var index = name.lowerBound
        while index < name.upperBound {
            var byte = decoded[index]
            if byte == UInt8(ascii: "\\") && index + 1 < name.upperBound {
                index += 1
                byte = decoded[index]
            }
            decoded.append(byte)
            index += 1
        }
        return start..<decoded.count
    }
}

/// The name and number of a caller ID as Asterisk writes it (`ast_callerid_merge`): `"Name" <number>`, a bare
/// name or a bare number; also `Name <number>` and `<number>`, which other writers use.
struct CallerIDParts: Equatable {
    var name: Range<Int>?
    var number: Range<Int>?
    /// Whether the name holds a backslash (newer Asterisk escapes `"` and `\` inside a quoted name).
    var nameHasBackslash = false

    init(splitting bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && bytes[lower] == UInt8(ascii: " ") { lower += 1 }
        while upper > lower && bytes[upper - 1] == UInt8(ascii: " ") { upper -= 1 }
        guard lower < upper else { return }

        var nameUpper = upper
        if bytes[upper - 1] == UInt8(ascii: ">") {
            var open = upper - 2
            while open >= lower && bytes[open] != UInt8(ascii: "<") { open -= 1 }
            if open >= lower {
                if open + 1 < upper - 1 { number = (open + 1)..<(upper - 1) }
                nameUpper = open
                while nameUpper > lower && bytes[nameUpper - 1] == UInt8(ascii: " ") { nameUpper -= 1 }
            }
        }
        guard lower < nameUpper else { return }
        var nameLower = lower
        let isQuoted = nameUpper - nameLower >= 2 && bytes[nameLower] == UInt8(ascii: "\"")
            && bytes[nameUpper - 1] == UInt8(ascii: "\"")
        if isQuoted {
            nameLower += 1
            nameUpper -= 1
        } else if number == nil && Self.isDialString(bytes, nameLower..<nameUpper) {
            number = nameLower..<nameUpper
            return
        }
        guard nameLower < nameUpper else { return }
        name = nameLower..<nameUpper
        for index in nameLower..<nameUpper where bytes[index] == UInt8(ascii: "\\") {
            nameHasBackslash = true
            break
        }
    }

    /// Digits and what people and switches put between them: `+ * # - ( ) .` and spaces.
    static func isDialString(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var digits = 0
        for index in range {
            let byte = bytes[index]
            if ASCII.isDigit(byte) {
                digits += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "+"), UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "-"), UInt8(ascii: "("),
                 UInt8(ascii: ")"), UInt8(ascii: "."), UInt8(ascii: " "):
                continue
            default:
                return false
            }
        }
        return digits > 0
    }
}
