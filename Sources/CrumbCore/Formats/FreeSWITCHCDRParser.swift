/// Parses FreeSWITCH `mod_cdr_csv` rows into `CallEvent`s, by the template that wrote them.
///
/// `mod_cdr_csv` (<https://github.com/signalwire/freeswitch/blob/master/src/mod/event_handlers/mod_cdr_csv/mod_cdr_csv.c>,
/// configured by <https://github.com/signalwire/freeswitch/blob/master/conf/vanilla/autoload_configs/cdr_csv.conf.xml>)
/// writes one row per call leg by expanding a template of channel variables,
/// `"${caller_id_name}","${caller_id_number}",...`.
/// A template is compiled once into a table of column roles:
///
/// | variable | role |
/// |---|---|
/// | `accountcode` | accountCode |
/// | `caller_id_number`, `ani` | source (the first of them; the other goes to `unmapped`) |
/// | `caller_id_name` | callerName |
/// | `caller_id` | callerID (`"Name" <number>`, split into callerName and callerNumber) |
/// | `destination_number` | destination |
/// | `context` | context |
/// | `channel_name`, `bridge_channel` | channel, destinationChannel |
/// | `last_app`, `last_arg` | lastApplication, lastData |
/// | `start_stamp`, `answer_stamp`, `end_stamp` | start, answer, end (`YYYY-MM-DD HH:MM:SS`, the server's local time) |
/// | `start_epoch`, `answer_epoch`, `end_epoch` | the same as epoch seconds (0: none) |
/// | `start_uepoch`, `answer_uepoch`, `end_uepoch` | the same as epoch microseconds (0: none) |
/// | `duration`, `billsec` | duration, billSeconds |
/// | `hangup_cause` | disposition (`NORMAL_CLEARING`, `NO_ANSWER`, `USER_BUSY`, `CALL_REJECTED`...) |
/// | `amaflags`, `uuid`, `userfield` | amaFlags, uniqueID, userField |
/// | any other variable or expression | `unmapped`, named by the variable (`bleg_uuid`, `read_codec`...) |
///
/// The default is the template that FreeSWITCH's shipped configuration selects (`conf/vanilla/autoload_configs/
/// cdr_csv.conf.xml`: `default-template` = `example`, 15 columns); the default parser also reads rows of the
/// module's built-in `default` template (its first 13 columns), which it falls back to without that file.
/// A call is answered when its answer column is not empty.
///
/// `mod_cdr_csv` does not escape the values it pastes into the template, so a `"` inside a value is taken as
/// content (the row is split with stray quotes allowed); a value holding `",` cannot be told from a column
/// boundary and makes the row fail its column count.
///
/// Rejected: a column count other than the template's (`missing_column`, `extra_columns`), an unterminated quote
/// (`bad_quoting`), a start that is not a time, an answer or end that is neither empty nor a time
/// (`bad_timestamp`), a duration or billsec that is not a non-negative integer (`bad_number`). A row whose start
/// column reads the start variable's name (`start_stamp`) is a header (`.header`).
public struct FreeSWITCHCDRParser: CallLineParser {
    /// The `example` template of FreeSWITCH's shipped `cdr_csv.conf.xml`, which its `default-template` selects.
    public static let exampleTemplate =
        #""${caller_id_name}","${caller_id_number}","${destination_number}","${context}","${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}","${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}""#

    /// The template compiled into `mod_cdr_csv.c` (`default`), used when no configuration names another. Note the
    /// space before the last column: FreeSWITCH writes it too.
    public static let builtInTemplate =
        #""${caller_id_name}","${caller_id_number}","${destination_number}","${context}","${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}","${hangup_cause}","${uuid}","${bleg_uuid}", "${accountcode}""#

    /// The `asterisk` template of the shipped configuration: Asterisk's Master.csv columns from FreeSWITCH.
    public static let asteriskTemplate =
        #""${accountcode}","${caller_id_number}","${destination_number}","${context}","${caller_id}","${channel_name}","${bridge_channel}","${last_app}","${last_arg}","${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}","${hangup_cause}","${amaflags}","${uuid}","${userfield}""#

    public var formatName: String { "freeswitch-cdr" }
    /// The template the rows were written with.
    public let template: String
    /// The zone of the `*_stamp` columns (the FreeSWITCH server's local zone).
    public var timeZone: LocalTimeZone { reader.zone }

    private var reader: CallRowReader
    private let table: CallColumnTable
    /// The built-in template's table, accepted beside the shipped default's.
    private let alternative: CallColumnTable?

    /// A parser for the shipped default template (`example`), which also reads rows of the built-in one.
    public init(timeZone: LocalTimeZone = .utc) {
        template = Self.exampleTemplate
        table = Self.exampleTable
        alternative = Self.builtInTable
        reader = CallRowReader(row: CSVRow(allowsStrayQuotes: true, maxFields: table.count), zone: timeZone)
    }

    /// A parser for rows written with `template` (a `<template>` of `cdr_csv.conf.xml`).
    ///
    /// - Throws: `CDRTemplateError` when the template has no column, an empty column, no start column
    ///   (`start_stamp`, `start_epoch` or `start_uepoch`), more than 256 columns, or an unclosed `${`.
    public init(template: String, timeZone: LocalTimeZone = .utc) throws(CDRTemplateError) {
        self.template = template
        table = try Self.compile(template)
        alternative = nil
        reader = CallRowReader(row: CSVRow(allowsStrayQuotes: true, maxFields: table.count), zone: timeZone)
    }

    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult {
        try reader.row.split(line)
        let count = reader.row.fields.count
        if count == table.count {
            return try reader.read(line, table: table, decoded: &decoded)
        }
        if let alternative, count == alternative.count {
            return try reader.read(line, table: alternative, decoded: &decoded)
        }
        throw ParseFailure(.missingColumn, at: line.count)
    }

    // MARK: - Templates

    static let exampleTable = try! compile(exampleTemplate)  // safe: a constant template, compiled in the tests
    static let builtInTable = try! compile(builtInTemplate)  // safe: as above

    /// The role each known variable fills.
    static func role(of variable: String) -> CallColumn.Role {
        switch variable {
        case "accountcode": .accountCode
        case "caller_id_number", "ani": .source
        case "caller_id_name": .callerName
        case "caller_id": .callerID
        case "destination_number": .destination
        case "context": .context
        case "channel_name": .channel
        case "bridge_channel": .destinationChannel
        case "last_app": .lastApplication
        case "last_arg": .lastData
        case "start_stamp": .start(.civil)
        case "answer_stamp": .answer(.civil)
        case "end_stamp": .end(.civil)
        case "start_epoch": .start(.epochSeconds)
        case "answer_epoch": .answer(.epochSeconds)
        case "end_epoch": .end(.epochSeconds)
        case "start_uepoch": .start(.epochMicroseconds)
        case "answer_uepoch": .answer(.epochMicroseconds)
        case "end_uepoch": .end(.epochMicroseconds)
        case "duration": .duration
        case "billsec": .billSeconds
        case "hangup_cause": .disposition
        case "amaflags": .amaFlags
        case "uuid": .uniqueID
        case "userfield": .userField
        default: .unmapped
        }
    }

    /// Compiles a template: its columns are split at commas outside `${...}`, each column is trimmed of spaces
    /// and of its quotes, and a column that is exactly `${name}` fills `name`'s role. A role taken by an earlier
    /// column, and any column that is not one plain variable, go to `unmapped` under the variable's name (or the
    /// column's text).
    static func compile(_ template: String) throws(CDRTemplateError) -> CallColumnTable {
        let text = Array(template.utf8)
        var end = text.count
        while end > 0, [0x20, 0x09, 0x0A, 0x0D].contains(text[end - 1]) { end -= 1 }
        var start = 0
        while start < end, [0x20, 0x09, 0x0A, 0x0D].contains(text[start]) { start += 1 }
        guard start < end else { throw CDRTemplateError(message: "the template is empty", column: 0) }

        var cells: [ArraySlice<UInt8>] = []
        var depth = 0
        var cellStart = start
        for index in start..<end {
            switch text[index] {
            case UInt8(ascii: "{") where index > start && text[index - 1] == UInt8(ascii: "$"): depth += 1
            case UInt8(ascii: "}") where depth > 0: depth -= 1
            case UInt8(ascii: ",") where depth == 0:
                cells.append(text[cellStart..<index])
                cellStart = index + 1
            default: break
            }
        }
        guard depth == 0 else { throw CDRTemplateError(message: "a `${` is never closed", column: cells.count + 1) }
        cells.append(text[cellStart..<end])
        guard cells.count <= 256 else { throw CDRTemplateError(message: "more than 256 columns", column: 257) }

        var columns: [CallColumn] = []
        var taken: [CallColumn.Role] = []
        for (index, cell) in cells.enumerated() {
            var body = cell.drop { $0 == 0x20 || $0 == 0x09 }
            while let last = body.last, last == 0x20 || last == 0x09 { body = body.dropLast() }
            if body.count >= 2, body.first == UInt8(ascii: "\""), body.last == UInt8(ascii: "\"") {
                body = body.dropFirst().dropLast()
            }
            guard !body.isEmpty else {
                throw CDRTemplateError(message: "column \(index + 1) is empty", column: index + 1)
            }
            let variable = Self.plainVariable(body)
            var role = variable.map(role(of:)) ?? .unmapped
            if role != .unmapped {
                // `start_stamp` and `start_epoch` fill the same role.
                let slot: CallColumn.Role = switch role {
                case .start: .start(.civil)
                case .answer: .answer(.civil)
                case .end: .end(.civil)
                default: role
                }
                if taken.contains(slot) { role = .unmapped } else { taken.append(slot) }
            }
            let name = variable.map { Array($0.utf8) } ?? Array(body)
            columns.append(CallColumn(role: role, name: name))
        }
        let table = CallColumnTable(columns)
        guard table.startColumn != nil else {
            throw CDRTemplateError(message: "the template has no start column (start_stamp, start_epoch or start_uepoch)", column: 0)
        }
        return table
    }

    /// `name` when `body` is exactly `${name}` with a name of letters, digits, `_` and `-`.
    private static func plainVariable(_ body: ArraySlice<UInt8>) -> String? {
        guard body.count > 3, body.first == UInt8(ascii: "$"), body[body.startIndex + 1] == UInt8(ascii: "{"),
              body.last == UInt8(ascii: "}")
        else { return nil }
        let name = body.dropFirst(2).dropLast()
        guard name.allSatisfy({ ASCII.isDigit($0) || ASCII.isMethodByte($0) }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }
}

/// A FreeSWITCH CDR template that cannot be compiled: what is wrong, and in which column (1-based; 0 for the
/// template as a whole). The template is configuration, not log data, so messages may quote it.
public struct CDRTemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var column: Int

    public init(message: String, column: Int) {
        self.message = message
        self.column = column
    }

    public var description: String {
        column > 0 ? "CDR template, column \(column): \(message)" : "CDR template: \(message)"
    }
}
