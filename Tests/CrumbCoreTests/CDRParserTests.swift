import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

// MARK: - Helpers

/// What a parser made of one row, as text: every non-nil value under its column name, times as ISO-8601 UTC,
/// unmapped values as `unmapped.<name>`. `nil` for a header row.
typealias CDRFields = [String: String]

private func fields(_ event: CallEvent, in bytes: UnsafeRawBufferPointer) -> CDRFields {
    func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
    var out: CDRFields = [:]
    func put(_ key: String, _ range: Range<Int>?) { if let range { out[key] = text(range) } }
    put("accountcode", event.accountCode)
    put("src", event.source)
    put("dst", event.destination)
    put("dcontext", event.context)
    put("clid", event.callerID)
    put("name", event.callerName)
    put("number", event.callerNumber)
    put("channel", event.channel)
    put("dstchannel", event.destinationChannel)
    put("lastapp", event.lastApplication)
    put("lastdata", event.lastData)
    out["start"] = CivilTime.iso8601(event.start)
    if let answer = event.answer { out["answer"] = CivilTime.iso8601(answer) }
    if let end = event.end { out["end"] = CivilTime.iso8601(end) }
    out["duration"] = String(event.duration)
    out["billsec"] = String(event.billSeconds)
    put("disposition", event.disposition)
    put("amaflags", event.amaFlags)
    put("uniqueid", event.uniqueID)
    put("userfield", event.userField)
    for named in event.unmapped { out["unmapped." + text(named.name)] = text(named.value) }
    return out
}

/// Parses one row (bytes) and renders the result: `.success(nil)` for a header.
private func parse(_ parser: inout some CallLineParser, bytes line: [UInt8]) -> Result<CDRFields?, ParseFailure> {
    var decoded: [UInt8] = []
    return line.withUnsafeBytes { row in
        Result { () throws(ParseFailure) -> CDRFields? in
            switch try parser.parse(row, decoded: &decoded) {
            case .header: return nil
            case .event(let event): return fields(event, in: row)
            case .decodedEvent(let event): return decoded.withUnsafeBytes { fields(event, in: $0) }
            }
        }
    }
}

/// One parser call on raw bytes (typed throws stay inside `Result`: closures that throw `ParseFailure` into a
/// `rethrows` function crash the 6.3 compiler's IR generation).
private func parseRaw(_ parser: inout some CallLineParser, _ bytes: [UInt8], _ decoded: inout [UInt8]) -> Result<CallParseResult, ParseFailure> {
    bytes.withUnsafeBytes { row in Result { () throws(ParseFailure) in try parser.parse(row, decoded: &decoded) } }
}

private func split(_ splitter: inout CSVRow, _ text: String, decodingInto decoded: inout [UInt8]) -> Result<Void, ParseFailure> {
    Array(text.utf8).withUnsafeBytes { row in
        Result { () throws(ParseFailure) in
            try splitter.split(row)
            splitter.decode(row, into: &decoded)
        }
    }
}

private func split(_ splitter: inout CSVRow, _ text: String) -> Result<Void, ParseFailure> {
    Array(text.utf8).withUnsafeBytes { row in Result { () throws(ParseFailure) in try splitter.split(row) } }
}

private func parse(_ parser: inout some CallLineParser, _ line: String) -> Result<CDRFields?, ParseFailure> {
    parse(&parser, bytes: Array(line.utf8))
}

/// The reject code of a row, or nil when it parsed.
private func rejection(_ parser: inout some CallLineParser, _ line: String) -> RejectCode? {
    if case .failure(let failure) = parse(&parser, line) { return failure.code }
    return nil
}

/// The 18-column row every Asterisk vector starts from (cdr.csv line 2), and the fields it gives in UTC.
private let asteriskRow = #""","791-445-9811","715-413-9112","hq",""""" <791-445-9811>","NOT_AVAILABLE","NOT_AVAILABLE","Dial","NOT_AVAILABLE","2017-06-20 09:49:22","2017-06-20 09:49:32","2017-06-20 09:58:06",524,514,"ANSWERED","DOCUMENTATION","1497952162.0","""#
private let asteriskFields: CDRFields = [
    "src": "791-445-9811", "dst": "715-413-9112", "dcontext": "hq", "clid": #""" <791-445-9811>"#,
    "number": "791-445-9811", "channel": "NOT_AVAILABLE", "dstchannel": "NOT_AVAILABLE", "lastapp": "Dial",
    "lastdata": "NOT_AVAILABLE", "start": "2017-06-20T09:49:22Z", "answer": "2017-06-20T09:49:32Z",
    "end": "2017-06-20T09:58:06Z", "duration": "524", "billsec": "514", "disposition": "ANSWERED",
    "amaflags": "DOCUMENTATION", "uniqueid": "1497952162.0",
]

private func merged(_ base: CDRFields, _ changes: [String: String?]) -> CDRFields {
    var out = base
    for (key, value) in changes { out[key] = value }
    return out
}

// MARK: - CSVRow

struct CSVRowTests {
    /// Row → fields (decoded), or the reject code.
    static let vectors: [(String, [String]?, RejectCode?)] = [
        ("a,b,c", ["a", "b", "c"], nil),
        ("", [""], nil),
        (",", ["", ""], nil),
        (#""a","b""#, ["a", "b"], nil),
        (#""","""#, ["", ""], nil),
        (#""a,b",c"#, ["a,b", "c"], nil),  // delimiter inside quotes
        (#""say ""hi""",x"#, [#"say "hi""#, "x"], nil),  // doubled quotes, one at the end
        (#""""""#, [#"""#], nil),  // one quote
        ("\"\"\"\"\" <791-445-9811>\"", [#""" <791-445-9811>"#], nil),  // Asterisk's empty caller name
        (#"a, "b""#, ["a", "b"], nil),  // a space before the opening quote (FreeSWITCH's built-in template)
        ("a , b", ["a ", " b"], nil),  // unquoted spaces are content
        (#""a"x,b"#, nil, .badQuoting),  // bytes after the closing quote
        (#""abc"#, nil, .badQuoting),  // unterminated
        (#""abc"""#, nil, .badQuoting),  // a doubled quote is not a closing one
        (#"ab"c"#, nil, .badQuoting),  // a quote inside an unquoted field
        ("1,2,3,4,5", nil, .extraColumns),  // over maxFields (4)
    ]

    @Test(arguments: vectors)
    func vector(_ vector: (row: String, fields: [String]?, code: RejectCode?)) {
        var splitter = CSVRow(maxFields: 4)
        var decoded: [UInt8] = []
        let bytes = Array(vector.row.utf8)
        let outcome = bytes.withUnsafeBytes { row in
            Result { () throws(ParseFailure) -> [String] in
                try splitter.split(row)
                splitter.decode(row, into: &decoded)
                return splitter.fields.map { String(decoding: decoded[$0.range], as: UTF8.self) }
            }
        }
        switch outcome {
        case .success(let fields):
            #expect(fields == vector.fields, "\(vector.row)")
            #expect(vector.code == nil)
        case .failure(let failure):
            #expect(failure.code == vector.code, "\(vector.row)")
            #expect(vector.fields == nil)
        }
    }

    @Test func rangesPointIntoTheRowUntilDecoded() throws {
        var splitter = CSVRow()
        try split(&splitter, #"x,"a,b","c""d""#).get()
        #expect(splitter.fields.map(\.range) == [0..<1, 3..<6, 9..<13])
        #expect(splitter.fields.map(\.isQuoted) == [false, true, true])
        #expect(splitter.fields.map(\.hasDoubledQuotes) == [false, false, true])
        #expect(splitter.needsDecoding)
        try split(&splitter, #""a","b""#).get()
        #expect(!splitter.needsDecoding)
    }

    @Test func strayQuotesAreContentWhenAllowed() throws {
        var splitter = CSVRow(allowsStrayQuotes: true)
        var decoded: [UInt8] = []
        try split(&splitter, #""Bob "The" Man",a"b,"x""y""#, decodingInto: &decoded).get()
        #expect(splitter.fields.map { String(decoding: decoded[$0.range], as: UTF8.self) } == [#"Bob "The" Man"#, #"a"b"#, #"x"y"#])
    }

    @Test func otherDelimiters() throws {
        var splitter = CSVRow(delimiter: UInt8(ascii: ";"))
        try split(&splitter, #""a;b";c,d"#).get()
        #expect(splitter.fields.map(\.range) == [1..<4, 6..<9])
    }

    @Test func offsets() {
        var splitter = CSVRow(maxFields: 2)
        for (row, offset) in [(#""ab"#, 0), (#"a,"b"c"#, 5), ("a,b,c", 3), (#"xy"z"#, 2)] {
            guard case .failure(let failure) = split(&splitter, row) else {
                Issue.record("\(row) parsed")
                continue
            }
            #expect(failure.offset == offset, "\(row)")
        }
    }
}

// MARK: - LocalTimeZone

struct LocalTimeZoneTests {
    static func seconds(_ text: String, _ zone: inout LocalTimeZone) -> Int64? {
        Array(text.utf8).withUnsafeBytes { zone.epochSeconds(parsing: $0) }
    }

    static func iso(_ text: String, _ zoneName: String) -> String? {
        guard var zone = LocalTimeZone(named: zoneName) else { return "no zone \(zoneName)" }
        return seconds(text, &zone).map(CivilTime.iso8601)
    }

    @Test(arguments: [
        ("UTC", "UTC"), ("utc", "UTC"), ("Z", "UTC"), ("GMT", "UTC"), ("+02:00", "+02:00"), ("-0530", "-05:30"),
        ("+2", "+02:00"), ("UTC+01:00", "+01:00"), ("GMT-3", "-03:00"), (" +00:00 ", "UTC"), ("+18:00", "+18:00"),
        ("Europe/Berlin", "Europe/Berlin"), ("America/New_York", "America/New_York"),
    ])
    func names(_ text: String, _ description: String) {
        #expect(LocalTimeZone(named: text)?.description == description)
    }

    @Test(arguments: ["", "+25:00", "+02:60", "+1:2", "+123", "02:00", "Mars/Olympus_Mons", "UTC+", "+02:00:00", "++02"])
    func badNames(_ text: String) {
        #expect(LocalTimeZone(named: text) == nil, "\(text)")
    }

    @Test(arguments: [
        // Fixed zones.
        ("2026-01-15 12:00:00", "UTC", "2026-01-15T12:00:00Z"),
        ("2026-01-15 12:00:00", "+02:00", "2026-01-15T10:00:00Z"),
        ("2026-01-01 00:30:00", "+05:45", "2025-12-31T18:45:00Z"),
        ("2025-12-31 23:30:00", "-03:30", "2026-01-01T03:00:00Z"),
        ("2024-02-29 23:59:59", "UTC", "2024-02-29T23:59:59Z"),
        ("2026-01-15T12:00:00", "UTC", "2026-01-15T12:00:00Z"),
        // Berlin: CET (+1) in winter, CEST (+2) in summer.
        ("2026-01-15 12:00:00", "Europe/Berlin", "2026-01-15T11:00:00Z"),
        ("2026-07-01 12:00:00", "Europe/Berlin", "2026-07-01T10:00:00Z"),
        // Spring forward, 2026-03-29 02:00 CET → 03:00 CEST: the last minute before, the gap, the first minute after.
        ("2026-03-29 01:59:59", "Europe/Berlin", "2026-03-29T00:59:59Z"),
        ("2026-03-29 02:00:00", "Europe/Berlin", "2026-03-29T01:00:00Z"),  // gap: shifted forward to 03:00 CEST
        ("2026-03-29 02:30:00", "Europe/Berlin", "2026-03-29T01:30:00Z"),  // gap
        ("2026-03-29 03:00:00", "Europe/Berlin", "2026-03-29T01:00:00Z"),
        // Fall back, 2026-10-25 03:00 CEST → 02:00 CET: 02:00–02:59 occur twice; the earlier (CEST) is taken.
        ("2026-10-25 01:59:59", "Europe/Berlin", "2026-10-24T23:59:59Z"),
        ("2026-10-25 02:00:00", "Europe/Berlin", "2026-10-25T00:00:00Z"),
        ("2026-10-25 02:30:00", "Europe/Berlin", "2026-10-25T00:30:00Z"),
        ("2026-10-25 03:00:00", "Europe/Berlin", "2026-10-25T02:00:00Z"),
        // New York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
        ("2026-03-08 02:30:00", "America/New_York", "2026-03-08T07:30:00Z"),
        ("2026-03-08 03:30:00", "America/New_York", "2026-03-08T07:30:00Z"),
        ("2026-11-01 01:30:00", "America/New_York", "2026-11-01T05:30:00Z"),
        ("2026-11-01 02:30:00", "America/New_York", "2026-11-01T07:30:00Z"),
        // Lord Howe moves by half an hour, at 02:00 local (+10:30 → +11:00 on 2026-10-04).
        ("2026-10-04 01:59:00", "Australia/Lord_Howe", "2026-10-03T15:29:00Z"),
        ("2026-10-04 02:15:00", "Australia/Lord_Howe", "2026-10-03T15:45:00Z"),  // gap
        ("2026-10-04 02:30:00", "Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
    ])
    func conversions(_ local: String, _ zone: String, _ utc: String) {
        #expect(Self.iso(local, zone) == utc, "\(local) \(zone)")
    }

    @Test(arguments: [
        "2026-02-30 12:00:00", "2026-13-01 00:00:00", "2026-01-01 24:00:00", "2026-01-01 12:60:00",
        "2026-01-01 12:00", "2026/01/01 12:00:00", "2026-01-01 12:00:00Z", "", "2026-01-01 1a:00:00",
        "2025-02-29 00:00:00",
    ])
    func badTimes(_ text: String) {
        var zone = LocalTimeZone.utc
        #expect(Self.seconds(text, &zone) == nil, "\(text)")
    }

    /// The cache must never change an answer: every 10 minutes over a year, a warm zone (one cache across the
    /// year, visited in order and again backwards) agrees with a cold one (a fresh value per time), and every
    /// answer is an instant that Foundation shows as that local time, unless no instant does (a gap).
    @Test(arguments: ["Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kathmandu"])
    func cacheAgreesWithFoundation(_ name: String) throws {
        var warm = try #require(LocalTimeZone(named: name))
        let zone = try #require(TimeZone(identifier: name))
        let first = CivilTime.daysFromCivil(year: 2026, month: 1, day: 1) * 86_400
        var disagreements = 0
        var misplaced = 0
        for step in Array(0..<(365 * 144)) + Array((0..<(365 * 144)).reversed()) where step % 7 != 3 {
            let local = first + Int64(step) * 600
            var cold = try #require(LocalTimeZone(named: name))
            let utc = warm.epochSeconds(fromLocal: local)
            if utc != cold.epochSeconds(fromLocal: local) { disagreements += 1 }
            func offset(_ instant: Int64) -> Int64 {
                Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
            }
            if utc + offset(utc) != local {
                // Only a time that does not exist (a gap's) may land elsewhere, and then by at most an hour.
                let shift = utc + offset(utc) - local
                let exists = [offset(local - 86_400), offset(local + 86_400)].contains { offset(local - $0) == $0 }
                if exists || !(shift > 0 && shift <= 3_600) { misplaced += 1 }
            }
        }
        #expect(disagreements == 0)
        #expect(misplaced == 0)
    }

    @Test func equality() {
        #expect(LocalTimeZone(named: "+01:00") == LocalTimeZone.fixed(offsetSeconds: 3_600))
        #expect(LocalTimeZone(named: "UTC") == .utc)
        #expect(LocalTimeZone(named: "Europe/Berlin") != LocalTimeZone(named: "+01:00"))
        #expect(LocalTimeZone.fixed(offsetSeconds: 19 * 3_600) == nil)
    }
}

// MARK: - Asterisk

struct AsteriskCDRParserTests {
    /// One row per case: the line and the fields it must give (every one; absent = nil).
    static let accepted: [(String, String, CDRFields?)] = [
        ("18 columns, as cdr.csv", asteriskRow, asteriskFields),
        ("a caller name", #""","253-433-5862","870-526-4260","production","""Marget Biernacki"" <253-433-5862>","NOT_AVAILABLE","NOT_AVAILABLE","Dial","NOT_AVAILABLE","2017-06-20 10:07:41","","2017-06-20 10:08:26",45,0,"NO ANSWER","DOCUMENTATION","1497953261.5","""#,
         ["src": "253-433-5862", "dst": "870-526-4260", "dcontext": "production", "clid": #""Marget Biernacki" <253-433-5862>"#,
          "name": "Marget Biernacki", "number": "253-433-5862", "channel": "NOT_AVAILABLE", "dstchannel": "NOT_AVAILABLE",
          "lastapp": "Dial", "lastdata": "NOT_AVAILABLE", "start": "2017-06-20T10:07:41Z", "end": "2017-06-20T10:08:26Z",
          "duration": "45", "billsec": "0", "disposition": "NO ANSWER", "amaflags": "DOCUMENTATION", "uniqueid": "1497953261.5"]),
        ("bare empty answer, as smallcdr_wo_parallelcalls.csv and cdr_csv.c write it",
         #","917-375-0980","502-679-5153","production","""Leanna Cuphus"" <609-326-2780>","NOT_AVAILABLE","NOT_AVAILABLE","Dial","NOT_AVAILABLE","2017-06-27 09:27:15",,"2017-06-27 09:27:15",0,0,"NO ANSWER","DOCUMENTATION","1498555635.0","""#,
         ["src": "917-375-0980", "dst": "502-679-5153", "dcontext": "production", "clid": #""Leanna Cuphus" <609-326-2780>"#,
          "name": "Leanna Cuphus", "number": "609-326-2780", "channel": "NOT_AVAILABLE", "dstchannel": "NOT_AVAILABLE",
          "lastapp": "Dial", "lastdata": "NOT_AVAILABLE", "start": "2017-06-27T09:27:15Z", "end": "2017-06-27T09:27:15Z",
          "duration": "0", "billsec": "0", "disposition": "NO ANSWER", "amaflags": "DOCUMENTATION", "uniqueid": "1498555635.0"]),
        ("16 columns", #""ACC-1","2001","5001","queue-sales","2001","PJSIP/2001-0000001a","","Queue","sales,tT,,,300","2026-01-05 09:00:00","2026-01-05 09:00:05","2026-01-05 09:03:05",185,180,"ANSWERED","BILLING""#,
         ["accountcode": "ACC-1", "src": "2001", "dst": "5001", "dcontext": "queue-sales", "clid": "2001", "number": "2001",
          "channel": "PJSIP/2001-0000001a", "lastapp": "Queue", "lastdata": "sales,tT,,,300", "start": "2026-01-05T09:00:00Z",
          "answer": "2026-01-05T09:00:05Z", "end": "2026-01-05T09:03:05Z", "duration": "185", "billsec": "180",
          "disposition": "ANSWERED", "amaflags": "BILLING"]),
        ("17 columns: uniqueid", #""","2001","5001","x","","","","","","2026-01-05 09:00:00","","",0,0,"FAILED","DOCUMENTATION","1767603600.7""#,
         ["src": "2001", "dst": "5001", "dcontext": "x", "start": "2026-01-05T09:00:00Z", "duration": "0", "billsec": "0",
          "disposition": "FAILED", "amaflags": "DOCUMENTATION", "uniqueid": "1767603600.7"]),
        ("19 columns: the newer three without uniqueid and userfield", #""","2001","5001","x","","","","","","2026-01-05 09:00:00","","",0,0,"BUSY","DOCUMENTATION","peer","1767603600.1",3"#,
         ["src": "2001", "dst": "5001", "dcontext": "x", "start": "2026-01-05T09:00:00Z", "duration": "0", "billsec": "0",
          "disposition": "BUSY", "amaflags": "DOCUMENTATION", "unmapped.peeraccount": "peer",
          "unmapped.linkedid": "1767603600.1", "unmapped.sequence": "3"]),
        ("21 columns", #""","2001","5001","x","","","","","","2026-01-05 09:00:00","","",0,0,"BUSY","DOCUMENTATION","1767603600.1","note","","1767603600.1",12"#,
         ["src": "2001", "dst": "5001", "dcontext": "x", "start": "2026-01-05T09:00:00Z", "duration": "0", "billsec": "0",
          "disposition": "BUSY", "amaflags": "DOCUMENTATION", "uniqueid": "1767603600.1", "userfield": "note",
          "unmapped.peeraccount": "", "unmapped.linkedid": "1767603600.1", "unmapped.sequence": "12"]),
        ("commas and doubled quotes inside quoted fields", #""","07700900123","+448081570100","queue-support","""Quixotica, Janelle"" <07700900123>","PJSIP/trunk-1","PJSIP/2001-1","Dial","PJSIP/2001&PJSIP/2002,30,tT","2026-01-05 09:00:00","2026-01-05 09:00:10","2026-01-05 09:01:10",70,60,"ANSWERED","DOCUMENTATION","1.1","note=VIP, asked for ""Janelle""""#,
         ["src": "07700900123", "dst": "+448081570100", "dcontext": "queue-support", "clid": #""Quixotica, Janelle" <07700900123>"#,
          "name": "Quixotica, Janelle", "number": "07700900123", "channel": "PJSIP/trunk-1", "dstchannel": "PJSIP/2001-1",
          "lastapp": "Dial", "lastdata": "PJSIP/2001&PJSIP/2002,30,tT", "start": "2026-01-05T09:00:00Z",
          "answer": "2026-01-05T09:00:10Z", "end": "2026-01-05T09:01:10Z", "duration": "70", "billsec": "60",
          "disposition": "ANSWERED", "amaflags": "DOCUMENTATION", "uniqueid": "1.1", "userfield": #"note=VIP, asked for "Janelle""#]),
    ]

    @Test(arguments: accepted)
    func acceptedRows(_ vector: (name: String, row: String, fields: CDRFields?)) {
        var parser = AsteriskCDRParser()
        let result = parse(&parser, vector.row)
        guard case .success(let fields) = result else {
            Issue.record("\(vector.name): \(result)")
            return
        }
        #expect(fields == vector.fields, "\(vector.name)")
    }

    /// `clid` as written (decoded from the CSV) → name and number.
    @Test(arguments: [
        (#""Marget Biernacki" <253-433-5862>"#, "Marget Biernacki", "253-433-5862"),
        (#""" <791-445-9811>"#, nil, "791-445-9811"),
        ("<2001>", nil, "2001"),
        ("Reception <2001>", "Reception", "2001"),
        ("+44 20 7946 0958", nil, "+44 20 7946 0958"),
        ("Anonymous", "Anonymous", nil),
        (#""Anonymous""#, "Anonymous", nil),
        (#""Bob "The Builder" Smith" <555>"#, #"Bob "The Builder" Smith"#, "555"),  // quotes as ast_callerid_merge leaves them
        (#""Bob \"The Builder\" Smith" <555>"#, #"Bob "The Builder" Smith"#, "555"),  // escaped as newer Asterisk writes them
        (#""C:\\temp" <1>"#, #"C:\temp"#, "1"),
        (#"  "Jo"   <12>  "#, "Jo", "12"),
        ("<>", nil, nil),
        (#""" <>"#, nil, nil),
        ("a <b> <c>", "a <b>", "c"),
    ] as [(String, String?, String?)])
    func callerIDs(_ clid: String, _ name: String?, _ number: String?) throws {
        let escaped = "\"" + clid.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        let row = asteriskRow.replacingOccurrences(of: #"""""" <791-445-9811>""#, with: escaped)
        var parser = AsteriskCDRParser()
        let fields = try #require(try parse(&parser, row).get())
        #expect(fields["clid"] == clid, "\(clid)")
        #expect(fields["name"] == name, "\(clid)")
        #expect(fields["number"] == number, "\(clid)")
    }

    @Test func emptyClidAndColumnsAreNil() throws {
        let row = #""","","","","","","","","","2026-01-05 09:00:00","","",0,0,"","","""#
        var parser = AsteriskCDRParser()
        let fields = try #require(try parse(&parser, row).get())
        #expect(fields == ["dst": "", "dcontext": "", "disposition": "", "start": "2026-01-05T09:00:00Z", "duration": "0", "billsec": "0"])
    }

    @Test func nonUTF8BytesInNamesPassThrough() throws {
        // "Jos\xE9" in Latin-1, as an old PBX may send it, and a stray 0xFF in the userfield.
        var row = Array(#""","5551234","2001","x","""Jos"#.utf8) + [0xE9] + Array(#" Ruiz"" <5551234>","","","","","2026-01-05 09:00:00","","",0,0,"NO ANSWER","DOCUMENTATION","1.2",""#.utf8)
        row += [0xFF, 0x22]
        var parser = AsteriskCDRParser()
        var decoded: [UInt8] = []
        let result = try parseRaw(&parser, row, &decoded).get()
        guard case .decodedEvent(let event) = result else {
            Issue.record("expected a decoded event: \(result)")
            return
        }
        #expect(Array(decoded[try #require(event.callerName)]) == Array("Jos".utf8) + [0xE9] + Array(" Ruiz".utf8))
        #expect(Array(decoded[try #require(event.userField)]) == [0xFF])
        #expect(Array(decoded[try #require(event.callerNumber)]) == Array("5551234".utf8))
    }

    @Test func rowsWithoutDoubledQuotesAreNotCopied() throws {
        let row = #""","2001","5001","x","2001","","","","","2026-01-05 09:00:00","","",0,0,"FAILED","DOCUMENTATION""#
        var parser = AsteriskCDRParser()
        var decoded: [UInt8] = [1, 2, 3]
        let result = try parseRaw(&parser, Array(row.utf8), &decoded).get()
        guard case .event(let event) = result else {
            Issue.record("expected an event in place: \(result)")
            return
        }
        #expect(event.source == 4..<8)
        #expect(event.callerNumber == 22..<26)
    }

    @Test func zones() throws {
        var berlin = AsteriskCDRParser(timeZone: try #require(LocalTimeZone(named: "Europe/Berlin")))
        let summer = try #require(try parse(&berlin, asteriskRow).get())
        #expect(summer["start"] == "2017-06-20T07:49:22Z")
        #expect(summer["answer"] == "2017-06-20T07:49:32Z")
        #expect(summer["end"] == "2017-06-20T07:58:06Z")
        let gap = asteriskRow.replacingOccurrences(of: "2017-06-20 09:49:22", with: "2026-03-29 02:30:00")
        #expect(try parse(&berlin, gap).get()?["start"] == "2026-03-29T01:30:00Z")
        var minusFive = AsteriskCDRParser(timeZone: try #require(LocalTimeZone(named: "-05:00")))
        #expect(try parse(&minusFive, asteriskRow).get()?["start"] == "2017-06-20T14:49:22Z")
        #expect(minusFive.timeZone.description == "-05:00")
    }

    @Test(arguments: [
        "accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags,uniqueid,userfield",
        #""accountcode","src","dst","dcontext","clid","channel","dstchannel","lastapp","lastdata","start","answer","end","duration","billsec","disposition","amaflags""#,
        "AccountCode,Source,Destination,Context,CallerID,Channel,DstChannel,LastApp,LastData,Start Time,Answer Time,End Time,Duration,Billsec,Disposition,AMAFlags",
        "accountcode,src,dst",
    ])
    func headers(_ row: String) {
        var parser = AsteriskCDRParser()
        guard case .success(let fields) = parse(&parser, row) else {
            Issue.record("rejected: \(row)")
            return
        }
        #expect(fields == nil)
    }

    static let rejected: [(String, String, RejectCode, Int?)] = [
        ("15 columns", asteriskRow.components(separatedBy: ",").prefix(15).joined(separator: ","), .missingColumn, nil),
        ("22 columns", asteriskRow + #","a","b","c",4"#, .extraColumns, nil),
        ("empty line", "", .missingColumn, 0),
        ("start not a time", asteriskRow.replacingOccurrences(of: #""2017-06-20 09:49:22""#, with: #""yesterday""#), .badTimestamp, 116),
        ("empty start", asteriskRow.replacingOccurrences(of: #""2017-06-20 09:49:22""#, with: #""""#), .badTimestamp, 116),
        ("31 June", asteriskRow.replacingOccurrences(of: "2017-06-20 09:49:22", with: "2017-06-31 09:49:22"), .badTimestamp, nil),
        ("answer not a time", asteriskRow.replacingOccurrences(of: "2017-06-20 09:49:32", with: "2017-06-20 09:49"), .badTimestamp, nil),
        ("end not a time", asteriskRow.replacingOccurrences(of: "2017-06-20 09:58:06", with: "NOT_AVAILABLE"), .badTimestamp, nil),
        ("duration not a number", asteriskRow.replacingOccurrences(of: ",524,", with: ",52x,"), .badNumber, nil),
        ("negative billsec", asteriskRow.replacingOccurrences(of: ",514,", with: ",-514,"), .badNumber, nil),
        ("empty duration", asteriskRow.replacingOccurrences(of: ",524,", with: ",,"), .badNumber, nil),
        ("duration with a fraction", asteriskRow.replacingOccurrences(of: ",524,", with: ",524.5,"), .badNumber, nil),
        ("huge duration", asteriskRow.replacingOccurrences(of: ",524,", with: ",1234567890123456789,"), .badNumber, nil),
        ("unterminated quote", #""","2001","5001","x",""Bob <1>""#, .badQuoting, nil),
        ("a quote inside an unquoted field", asteriskRow.replacingOccurrences(of: ",524,", with: #",5"24,"#), .badQuoting, nil),
    ]

    @Test(arguments: rejected)
    func rejectedRows(_ vector: (name: String, row: String, code: RejectCode, offset: Int?)) {
        var parser = AsteriskCDRParser()
        switch parse(&parser, vector.row) {
        case .success(let fields):
            Issue.record("\(vector.name): parsed as \(String(describing: fields))")
        case .failure(let failure):
            #expect(failure.code == vector.code, "\(vector.name)")
            if let offset = vector.offset { #expect(failure.offset == offset, "\(vector.name)") }
            #expect(failure.offset >= 0 && failure.offset <= vector.row.utf8.count)
        }
    }

    @Test func fixedLayouts() throws {
        // loguserfield without loguniqueid: 17 columns whose last is the userfield.
        let row17 = #""","2001","5001","x","","","","","","2026-01-05 09:00:00","","",0,0,"FAILED","DOCUMENTATION","note""#
        var userFieldOnly = AsteriskCDRParser(layout: .fixed([.userField]))
        #expect(try parse(&userFieldOnly, row17).get()?["userfield"] == "note")
        var inferred = AsteriskCDRParser()
        #expect(try parse(&inferred, row17).get()?["uniqueid"] == "note")
        #expect(rejection(&userFieldOnly, asteriskRow) == .extraColumns)
        var all = AsteriskCDRParser(layout: .fixed([.uniqueID, .userField, .newColumns]))
        #expect(rejection(&all, asteriskRow) == .missingColumn)
        for count in 16...21 {
            let columns = try #require(AsteriskCDRParser.inferredColumns(count: count))
            #expect(columns.count == count)
        }
        #expect(AsteriskCDRParser.inferredColumns(count: 15) == nil)
        #expect(AsteriskCDRParser.inferredColumns(count: 22) == nil)
        #expect(AsteriskCDRParser().formatName == "asterisk-cdr")
    }

    /// A parser keeps no state between rows that could leak: a 21-column row (unmapped values) then an
    /// 18-column one give what each gives alone.
    @Test func rowsAreIndependent() throws {
        let wide = try #require(Self.accepted.first { $0.0 == "21 columns" })
        var parser = AsteriskCDRParser()
        var decoded: [UInt8] = []
        var kept: [CallEvent] = []
        for row in [wide.1, asteriskRow, wide.1, asteriskRow] {
            let result = try parseRaw(&parser, Array(row.utf8), &decoded).get()
            if case .decodedEvent(let event) = result { kept.append(event) }
        }
        #expect(kept.map(\.unmapped.count) == [3, 0, 3, 0])
        #expect(kept[0] == kept[2])
    }
}

// MARK: - FreeSWITCH

struct FreeSWITCHCDRParserTests {
    static let example = #""Janelle Quixotica","+447700900123","+448081570100","queue-sales","2026-01-05 09:00:00","2026-01-05 09:00:12","2026-01-05 09:04:12","252","240","NORMAL_CLEARING","8a1e2b3c-4d5e-4f60-a718-293a4b5c6d7e","9f8e7d6c-5b4a-4392-a817-263544332211","CLIENT-NORTHWIND","PCMA","PCMA""#
    static let exampleFields: CDRFields = [
        "name": "Janelle Quixotica", "src": "+447700900123", "dst": "+448081570100", "dcontext": "queue-sales",
        "start": "2026-01-05T09:00:00Z", "answer": "2026-01-05T09:00:12Z", "end": "2026-01-05T09:04:12Z",
        "duration": "252", "billsec": "240", "disposition": "NORMAL_CLEARING",
        "uniqueid": "8a1e2b3c-4d5e-4f60-a718-293a4b5c6d7e", "unmapped.bleg_uuid": "9f8e7d6c-5b4a-4392-a817-263544332211",
        "accountcode": "CLIENT-NORTHWIND", "unmapped.read_codec": "PCMA", "unmapped.write_codec": "PCMA",
    ]

    @Test func exampleTemplate() throws {
        var parser = FreeSWITCHCDRParser()
        #expect(parser.formatName == "freeswitch-cdr")
        #expect(try parse(&parser, Self.example).get() == Self.exampleFields)
    }

    @Test func builtInTemplateWithItsSpace() throws {
        let row = #""","5555550142","2001","default","2026-01-05 09:00:00","","2026-01-05 09:00:30","30","0","NO_ANSWER","8a1e2b3c-4d5e-4f60-a718-293a4b5c6d7e","", "ACC-1048576""#
        let expected: CDRFields = [
            "src": "5555550142", "dst": "2001", "dcontext": "default", "start": "2026-01-05T09:00:00Z",
            "end": "2026-01-05T09:00:30Z", "duration": "30", "billsec": "0", "disposition": "NO_ANSWER",
            "uniqueid": "8a1e2b3c-4d5e-4f60-a718-293a4b5c6d7e", "unmapped.bleg_uuid": "", "accountcode": "ACC-1048576",
        ]
        var byDefault = FreeSWITCHCDRParser()
        #expect(try parse(&byDefault, row).get() == expected)
        var builtIn = try FreeSWITCHCDRParser(template: FreeSWITCHCDRParser.builtInTemplate)
        #expect(try parse(&builtIn, row).get() == expected)
        #expect(rejection(&builtIn, Self.example) == .extraColumns)
    }

    @Test func unescapedQuotesInValues() throws {
        // mod_cdr_csv pastes values without escaping: a nickname in quotes arrives as is.
        let row = Self.example.replacingOccurrences(of: #""Janelle Quixotica""#, with: #""Janelle "Jan" Quixotica""#)
        var parser = FreeSWITCHCDRParser()
        #expect(try parse(&parser, row).get()?["name"] == #"Janelle "Jan" Quixotica"#)
    }

    @Test func asteriskTemplateSplitsCallerID() throws {
        var parser = try FreeSWITCHCDRParser(template: FreeSWITCHCDRParser.asteriskTemplate, timeZone: try #require(LocalTimeZone(named: "+01:00")))
        // ${caller_id} is `"Name" <number>`, pasted unescaped into a quoted column.
        let row = #""","07700900461","+443069990300","ivr-billing",""Marisol Fenwickley" <07700900461>","sofia/external/07700900461@203.0.113.5","","SendDTMF","4111111111111111#","2026-01-05 10:00:00","2026-01-05 10:00:01","2026-01-05 10:01:01","61","60","NORMAL_CLEARING","default","8a1e2b3c-4d5e-4f60-a718-293a4b5c6d7e","""#
        let fields = try #require(try parse(&parser, row).get())
        #expect(fields["clid"] == #""Marisol Fenwickley" <07700900461>"#)
        #expect(fields["name"] == "Marisol Fenwickley")
        #expect(fields["number"] == "07700900461")
        #expect(fields["channel"] == "sofia/external/07700900461@203.0.113.5")
        #expect(fields["lastapp"] == "SendDTMF")
        #expect(fields["lastdata"] == "4111111111111111#")
        #expect(fields["start"] == "2026-01-05T09:00:00Z")
        #expect(fields["amaflags"] == "default")
        #expect(fields["userfield"] == nil)
    }

    @Test func epochTemplate() throws {
        let template = #""${caller_id_number}","${destination_number}","${start_epoch}","${answer_epoch}","${end_uepoch}","${billsec}","${hangup_cause}","${sip_user_agent}""#
        var parser = try FreeSWITCHCDRParser(template: template)
        let answered = try #require(try parse(&parser, #""07700900123","2001","1767603600","1767603610","1767603700123456","90","NORMAL_CLEARING","Yealink SIP-T46S""#).get())
        #expect(answered["start"] == "2026-01-05T09:00:00Z")
        #expect(answered["answer"] == "2026-01-05T09:00:10Z")
        #expect(answered["end"] == "2026-01-05T09:01:40Z")
        #expect(answered["unmapped.sip_user_agent"] == "Yealink SIP-T46S")
        let unanswered = try #require(try parse(&parser, #""07700900123","2001","1767603600","0","0","0","NO_ANSWER","""#).get())
        #expect(unanswered["answer"] == nil)
        #expect(unanswered["end"] == nil)
        #expect(rejection(&parser, #""07700900123","2001","1767603600","soon","0","0","NO_ANSWER","""#) == .badTimestamp)
    }

    @Test func templateCompilation() throws {
        // Spaces, a trailing newline (FreeSWITCH appends one), an expression, an unquoted variable, a duplicate role.
        let template = "  \"${caller_id_number}\", ${duration} ,\"${regex(${x}|^.,1)}\",\"${start_stamp}\",\"${ani}\",\"literal\"\n"
        var parser = try FreeSWITCHCDRParser(template: template)
        let fields = try #require(try parse(&parser, #""5551234",12,"x","2026-01-05 09:00:00","5559999","y""#).get())
        #expect(fields["src"] == "5551234")
        #expect(fields["duration"] == "12")
        #expect(fields["unmapped.${regex(${x}|^.,1)}"] == "x")
        #expect(fields["unmapped.ani"] == "5559999")
        #expect(fields["unmapped.literal"] == "y")
        #expect(parser.template == template)
    }

    @Test(arguments: [
        ("", 0), ("  \n", 0), (#""${caller_id_number}""#, 0), (#""${start_stamp}",,"${uuid}""#, 2),
        (#""${start_stamp}","${uuid""#, 2), (#""${start_stamp}","""#, 2),
    ])
    func badTemplates(_ template: String, _ column: Int) {
        do throws(CDRTemplateError) {
            _ = try FreeSWITCHCDRParser(template: template)
            Issue.record("compiled: \(template)")
        } catch {
            #expect(error.column == column, "\(template): \(error)")
        }
    }

    @Test func headerAndCounts() throws {
        var parser = FreeSWITCHCDRParser()
        let header = "caller_id_name,caller_id_number,destination_number,context,start_stamp,answer_stamp,end_stamp,duration,billsec,hangup_cause,uuid,bleg_uuid,accountcode,read_codec,write_codec"
        #expect(try parse(&parser, header).get() == nil)
        #expect(rejection(&parser, Self.example + #","extra""#) == .extraColumns)
        #expect(rejection(&parser, #""a","b","c""#) == .missingColumn)
        let fourteen = Self.example.components(separatedBy: "\",\"").prefix(14).joined(separator: "\",\"") + "\""
        #expect(rejection(&parser, fourteen) == .missingColumn)
        #expect(rejection(&parser, Self.example.replacingOccurrences(of: #""252""#, with: #""2h""#)) == .badNumber)
        #expect(rejection(&parser, Self.example.replacingOccurrences(of: "2026-01-05 09:00:12", with: "2026-01-05")) == .badTimestamp)
    }
}

// MARK: - Chunking and real files

/// Feeds the same bytes through `LineFramer` and a CDR parser in several chunkings and renders every row.
private func framedRows(_ bytes: [UInt8], _ makeParser: () -> any CallLineParser, split: ChunkingVerifier.Split) -> [String] {
    var parser = makeParser()
    var framer = LineFramer(maxLineLength: 4_096)
    var decoded: [UInt8] = []
    var out: [String] = []
    func handle(_ frame: LineFramer.Frame) {
        switch frame {
        case .tooLong(let number, _):
            out.append("\(number): too long")
        case .line(let line, let number):
            do {
                switch try parser.parse(line, decoded: &decoded) {
                case .header: out.append("\(number): header")
                case .event(let event): out.append("\(number): \(fields(event, in: line).sorted { $0.key < $1.key })")
                case .decodedEvent(let event):
                    out.append(decoded.withUnsafeBytes { "\(number): \(fields(event, in: $0).sorted { $0.key < $1.key })" })
                }
            } catch {
                out.append("\(number): \(error.code.rawValue)@\(error.offset)")
            }
        }
    }
    var state: UInt64 = 0
    if case .random(let seed, _) = split { state = seed }
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let size: Int
            switch split {
            case .whole: size = all.count
            case .bytes(let n): size = n
            case .random(_, let maxChunk):
                state &+= 0x9E37_79B9_7F4A_7C15
                size = 1 + Int(SplitMixHash.mix(state) % UInt64(maxChunk))
            }
            let end = min(all.count, offset + size)
            framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), handle)
            offset = end
        }
        framer.finish(handle)
    }
    return out
}

private enum SplitMixHash {
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct CDRChunkingTests {
    /// Vectors, a header, rejects, CRLF terminators and a last row without a terminator.
    static var asteriskInput: [UInt8] {
        let rows = ["accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags,uniqueid,userfield"]
            + AsteriskCDRParserTests.accepted.map(\.1) + AsteriskCDRParserTests.rejected.map(\.1)
        var bytes: [UInt8] = []
        for (index, row) in rows.enumerated() {
            bytes += Array(row.utf8) + (index % 2 == 0 ? [0x0D, 0x0A] : [0x0A])
        }
        var generated = CallRecordGenerator.Options()
        generated.calls = 300
        bytes += CallRecordGenerator.generate(generated).bytes
        return bytes + Array(asteriskRow.utf8)
    }

    static var freeSWITCHInput: [UInt8] {
        var generated = CallRecordGenerator.Options()
        generated.calls = 300
        generated.dialect = .freeSWITCH
        let rows = [FreeSWITCHCDRParserTests.example, #""","","","","","","","","","","","", "x""#, #""a""#]
        return rows.flatMap { Array($0.utf8) + [0x0D, 0x0A] } + CallRecordGenerator.generate(generated).bytes
    }

    static let splits: [ChunkingVerifier.Split] = [.bytes(1), .bytes(7), .random(seed: 1, maxChunk: 64), .random(seed: 2, maxChunk: 4_096)]

    /// The framer takes CRLF and LF alike: the same rows either way parse to the same records, 0 rejects.
    @Test func crlfRowsParseLikeLFRows() {
        let rows = [asteriskRow] + AsteriskCDRParserTests.accepted.map(\.1)
        let lf: [UInt8] = rows.flatMap { Array($0.utf8) + [0x0A] }
        let crlf: [UInt8] = rows.flatMap { Array($0.utf8) + [0x0D, 0x0A] }
        let strip: (String) -> String = { String($0.drop { $0 != ":" }) }
        let fromLF = framedRows(lf, { AsteriskCDRParser() }, split: .whole).map(strip)
        #expect(fromLF.count == rows.count)
        #expect(fromLF.allSatisfy { $0.contains("[(key:") })  // records, not `code@offset` rejects
        #expect(framedRows(crlf, { AsteriskCDRParser() }, split: .bytes(3)).map(strip) == fromLF)
    }

    @Test(arguments: splits)
    func asteriskRowsAreIdenticalInEveryChunking(_ split: ChunkingVerifier.Split) {
        let input = Self.asteriskInput
        let whole = framedRows(input, { AsteriskCDRParser() }, split: .whole)
        #expect(whole.count > 300)
        #expect(whole.contains { $0.hasSuffix(": header") })
        #expect(whole.contains { $0.contains("bad_timestamp") })
        #expect(framedRows(input, { AsteriskCDRParser() }, split: split) == whole)
    }

    @Test(arguments: splits)
    func freeSWITCHRowsAreIdenticalInEveryChunking(_ split: ChunkingVerifier.Split) {
        let input = Self.freeSWITCHInput
        let whole = framedRows(input, { FreeSWITCHCDRParser() }, split: .whole)
        #expect(whole.count > 300)
        #expect(framedRows(input, { FreeSWITCHCDRParser() }, split: split) == whole)
    }
}

struct CDRRealFileTests {
    /// What a naive second reading of a Master.csv finds: rows, answered rows, and the sums of billsec and
    /// duration. Foundation string splitting on `,` outside quotes (the files' quoted values hold no commas;
    /// the test checks that), then columns 11 (answer), 13 (duration) and 14 (billsec).
    struct Totals: Equatable {
        var rows = 0
        var answered = 0
        var billSeconds: Int64 = 0
        var duration: Int64 = 0
    }

    static func naiveTotals(_ text: String) -> Totals {
        var totals = Totals()
        for line in text.split(whereSeparator: \.isNewline) where !line.isEmpty {
            let columns = line.components(separatedBy: ",")
            guard columns.count == 18 else { continue }  // the parser must then reject the row: counted apart
            totals.rows += 1
            let answer = columns[10].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if !answer.isEmpty { totals.answered += 1 }
            totals.duration += Int64(columns[12]) ?? -1_000_000
            totals.billSeconds += Int64(columns[13]) ?? -1_000_000
        }
        return totals
    }

    @Test(arguments: ["telephony/cdr.csv", "telephony/smallcdr.csv", "telephony/smallcdr_wo_parallelcalls.csv"])
    func realMasterFiles(_ relative: String) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let text = String(decoding: data, as: UTF8.self)
        let expected = Self.naiveTotals(text)
        #expect(expected.rows == text.split(whereSeparator: \.isNewline).count, "every row of \(relative) has 18 plain columns")

        var parser = AsteriskCDRParser()
        var framer = LineFramer()
        var decoded: [UInt8] = []
        var totals = Totals()
        var rejects: [String] = []
        var callers = Set<[UInt8]>()
        func handle(_ frame: LineFramer.Frame) {
            guard case .line(let line, let number) = frame else {
                rejects.append("too long")
                return
            }
            do {
                let result = try parser.parse(line, decoded: &decoded)
                let event: CallEvent
                switch result {
                case .header: return
                case .event(let value): event = value
                case .decodedEvent(let value): event = value
                }
                totals.rows += 1
                if event.isAnswered { totals.answered += 1 }
                totals.billSeconds += event.billSeconds
                totals.duration += event.duration
                // The record is consistent with itself, to the second: Asterisk counts duration and billsec from
                // times with microseconds and prints the times cut to the second, so a count may be one short.
                if let end = event.end, !(0...1).contains(end - event.start - event.duration) {
                    rejects.append("\(number): duration")
                }
                if let answer = event.answer, let end = event.end, !(0...1).contains(end - answer - event.billSeconds) {
                    rejects.append("\(number): billsec")
                }
                if case .decodedEvent = result, let number = event.callerNumber { callers.insert(Array(decoded[number])) }
            } catch {
                rejects.append("\(number): \(error.code.rawValue)@\(error.offset)")
            }
        }
        data.withUnsafeBytes { framer.feed($0, handle) }
        framer.finish(handle)
        #expect(rejects.isEmpty, "\(relative): \(rejects.prefix(5))")
        #expect(totals == expected, "\(relative)")
        #expect(totals.rows > 0 && totals.answered > 0 && totals.answered < totals.rows)
        #expect(!callers.isEmpty)
    }
}
