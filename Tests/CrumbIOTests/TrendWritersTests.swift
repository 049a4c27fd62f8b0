import CrumbCore
@testable import CrumbIO
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Fixtures

/// A fresh directory under the system temporary directory, removed by `remove()`.
private struct ScratchDirectory {
    let path: String

    init() throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("crumb-writers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func remove() {
        _ = chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }
}

private let hour: Int64 = 1_767_272_400  // 2026-01-01T13:00:00Z

/// Rows that exercise quoting and escaping: commas, quotes, line breaks, control characters, non-ASCII,
/// an empty value, and numbers at the edges of `Int64`.
private let trickyRecords: [WebTrendRecord] = [
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "path", value: "/",
                   hits: 10, bytes: 2_048, status4xx: 1, status5xx: 0, uniques: 7, sketch: [1, 2, 3]),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "path", value: "/caf\u{E9}",
                   hits: 3, bytes: 0, status4xx: 0, status5xx: 0, uniques: 2, sketch: []),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "path", value: "/a,b",
                   hits: 1, bytes: 1, status4xx: 0, status5xx: 1, uniques: 1, sketch: [0, 255, 0]),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "path", value: "say \"hi\"",
                   hits: 1, bytes: 1, status4xx: 0, status5xx: 0, uniques: 1, sketch: [9]),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "path", value: "line1\nline2\r\nend",
                   hits: 1, bytes: 1, status4xx: 0, status5xx: 0, uniques: 1, sketch: [9]),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "referrer_host", value: "",
                   hits: 5, bytes: 5, status4xx: 0, status5xx: 0, uniques: 5, sketch: [7, 7]),
    WebTrendRecord(bucketStart: hour, bucket: .hour, dimension: "ua_family", value: "日本 \\ tab\t ctl\u{01} del\u{7F} 🍞",
                   hits: 2, bytes: 2, status4xx: 2, status5xx: 0, uniques: 2, sketch: [1]),
    WebTrendRecord(bucketStart: 1_767_225_600, bucket: .day, dimension: "status_class", value: "(other)",
                   hits: Int64.max, bytes: 9_007_199_254_740_993, status4xx: 0, status5xx: Int64.max,
                   uniques: 1_000_000_000_000, sketch: Array(repeating: 0xAB, count: 4_096)),
]

private func isoText(_ record: WebTrendRecord) -> String { CivilTime.iso8601(record.bucketStart) }

/// The contract fields of `record`, as text, in contract order.
private func fields(_ record: WebTrendRecord) -> [String] {
    [isoText(record), record.bucket.rawValue, record.dimension, record.value,
     String(record.hits), String(record.bytes), String(record.status4xx), String(record.status5xx),
     String(record.uniques)]
}

private func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A minimal RFC 4180 reader, independent of the writer: quoted fields with doubled quotes, CR and LF kept
/// inside quotes, records ended by LF.
private func parseCSV(_ bytes: [UInt8]) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field: [UInt8] = []
    var inQuotes = false
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        if inQuotes {
            if byte == UInt8(ascii: "\"") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                    field.append(byte)
                    index += 1
                } else {
                    inQuotes = false
                }
            } else {
                field.append(byte)
            }
        } else if byte == UInt8(ascii: "\"") {
            inQuotes = true
        } else if byte == UInt8(ascii: ",") {
            record.append(String(decoding: field, as: UTF8.self))
            field = []
        } else if byte == UInt8(ascii: "\n") {
            record.append(String(decoding: field, as: UTF8.self))
            records.append(record)
            record = []
            field = []
        } else {
            field.append(byte)
        }
        index += 1
    }
    #expect(record.isEmpty && field.isEmpty, "the file must end with a line feed")
    return records
}

private func jsonBytes(_ text: String) -> String {
    var out: [UInt8] = []
    TrendWriters.appendJSONString(text, to: &out)
    return String(decoding: out, as: UTF8.self)
}

private func jsonBytes(utf8 input: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    input.withUnsafeBufferPointer { TrendWriters.appendJSONString(utf8: $0, to: &out) }
    return out
}

// MARK: - CSV

@Test func csvHasContractHeaderAndRoundTripsEveryField() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("web_trends.csv")
    try TrendWriters.writeCSV(trickyRecords, to: path)

    let bytes = try readBytes(path)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.hasPrefix("bucket_start,bucket,dimension,value,hits,bytes,status_4xx,status_5xx,uniques\n"))
    #expect(bytes.last == UInt8(ascii: "\n"))
    #expect(!text.contains("\r\n2026"), "records end with LF, not CRLF")

    let rows = parseCSV(bytes)
    #expect(rows.first == WebTrendRecord.columns)
    #expect(Array(rows.dropFirst()) == trickyRecords.map(fields))
    #expect(text.contains("2026-01-01T13:00:00Z,hour,path,\"/a,b\",1,"))
    #expect(text.contains(",\"say \"\"hi\"\"\","))
    #expect(text.contains("2026-01-01T00:00:00Z,day,status_class,(other),9223372036854775807,9007199254740993,"))
    #expect(text.contains(",referrer_host,,5,"), "an empty value is an empty unquoted field")
}

@Test func csvOfNoRowsIsTheHeaderAlone() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("web_trends.csv")
    try TrendWriters.writeCSV([], to: path)
    #expect(String(decoding: try readBytes(path), as: UTF8.self) == WebTrendRecord.columns.joined(separator: ",") + "\n")
}

// MARK: - JSON Lines

@Test func jsonLinesHaveContractKeysInOrderAndRoundTrip() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("web_trends.jsonl")
    try TrendWriters.writeJSONLines(trickyRecords, to: path)

    let bytes = try readBytes(path)
    #expect(bytes.last == UInt8(ascii: "\n"))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
    #expect(lines.count == trickyRecords.count)

    for (line, record) in zip(lines, trickyRecords) {
        let raw = String(decoding: line, as: UTF8.self)
        // Key order, read from the raw text: each key appears once, after the previous one.
        var previous = raw.startIndex
        for key in WebTrendRecord.columns {
            let range = try #require(raw.range(of: "\"\(key)\":", range: previous..<raw.endIndex), "\(key) missing or out of order")
            previous = range.upperBound
        }

        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(Set(object.keys) == Set(WebTrendRecord.columns))
        #expect(object["bucket_start"] as? String == isoText(record))
        #expect(object["bucket"] as? String == record.bucket.rawValue)
        #expect(object["dimension"] as? String == record.dimension)
        #expect(object["value"] as? String == record.value)
        for (key, expected) in [("hits", record.hits), ("bytes", record.bytes), ("status_4xx", record.status4xx),
                                ("status_5xx", record.status5xx), ("uniques", record.uniques)] {
            // Integers are JSON numbers, written exactly (not through Double).
            #expect(raw.contains("\"\(key)\":\(expected)"))
            #expect((object[key] as? NSNumber)?.int64Value == expected, "\(key)")
        }
        #expect(!raw.contains("sketch"))
    }
    let first = String(decoding: lines[lines.startIndex], as: UTF8.self)
    #expect(first == #"{"bucket_start":"2026-01-01T13:00:00Z","bucket":"hour","dimension":"path","value":"/","hits":10,"bytes":2048,"status_4xx":1,"status_5xx":0,"uniques":7}"#)
}

@Test(arguments: [
    ("plain", #""plain""#),
    ("", #""""#),
    ("q\"b\\s/", #""q\"b\\s/""#),
    ("\n\r\t\u{08}\u{0C}", #""\n\r\t\b\f""#),
    ("\u{00}\u{01}\u{1F}", #""\u0000\u0001\u001f""#),
    ("del\u{7F}", "\"del\u{7F}\""),
    ("/caf\u{E9} 日本 🍞", "\"/caf\u{E9} 日本 🍞\""),
])
func jsonStringEscaping(input: String, expected: String) throws {
    let literal = jsonBytes(input)
    #expect(literal == expected)
    let decoded = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String
    #expect(decoded == input)
}

@Test(arguments: [
    ([0x61, 0x80, 0x62], "a\u{FFFD}b"),                      // stray continuation byte
    ([0xC3], "\u{FFFD}"),                                    // truncated two-byte sequence
    ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"),                      // overlong '/'
    ([0xE0, 0x80, 0xAF], "\u{FFFD}\u{FFFD}\u{FFFD}"),        // overlong, three bytes
    ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),        // UTF-16 surrogate D800
    ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),  // above U+10FFFF
    ([0xE6, 0x97, 0x41], "\u{FFFD}A"),                       // truncated three-byte sequence: one U+FFFD
    ([0xF0, 0x9F, 0x8D], "\u{FFFD}"),                        // truncated four-byte sequence at the end
    ([0xFF, 0xFE, 0x22], "\u{FFFD}\u{FFFD}\""),              // bytes that never occur, then a quote
    ([0xE6, 0x97, 0xA5, 0xF0, 0x9F, 0x8D, 0x9E], "日🍞"),     // well-formed passes through
] as [([UInt8], String)])
func jsonStringReplacesIllFormedUTF8(input: [UInt8], expected: String) throws {
    let literal = jsonBytes(utf8: input)
    // The output is well-formed UTF-8 and valid JSON.
    #expect(String(validating: literal, as: UTF8.self) != nil)
    let decoded = try JSONSerialization.jsonObject(with: Data(literal), options: .fragmentsAllowed) as? String
    #expect(decoded == expected)
}

@Test(arguments: [Int64.min, -1, 0, 7, 10, 99, 1_000_000, Int64.max])
func decimalDigits(value: Int64) {
    var out: [UInt8] = [UInt8(ascii: "x")]
    TrendWriters.appendDecimal(value, to: &out)
    #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
}

// MARK: - SQLite

/// Rows go in 32 to a statement: every row of two full batches and a partial one reads back, in order; text
/// bound from bytes reads back as `String(decoding:as:)` reads them (ASCII as it is, ill-formed UTF-8 repaired,
/// well-formed UTF-8 unchanged), and a blob as its bytes (an empty one as an empty blob, not NULL).
@Test func batchInsertKeepsEveryRowAndBindsTextFromBytes() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let queue = try DatabaseQueue(path: dir.file("batch.db"))
    defer { try? queue.close() }
    let values: [[UInt8]] = [Array("plain".utf8), [], [0x61, 0x80, 0x62], [0xE6, 0x97, 0xA5], [0xFF, 0xFE]]
        + (0..<70).map { Array("/row/\($0)".utf8) }
    try queue.write { db in
        try db.execute(sql: "CREATE TABLE t (n INTEGER NOT NULL, v TEXT NOT NULL, b BLOB NOT NULL)")
        var insert = try SQLiteBatchInserter(db, table: "t", columns: 3)
        for (n, value) in values.enumerated() {
            insert.bind(1, Int64(n))
            value.withUnsafeBytes { bytes in
                insert.bind(2, text: bytes)
                insert.bind(3, blob: bytes)
            }
            try insert.endRow(db)
        }
        try insert.finish(db)
    }
    let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT n, v, b FROM t ORDER BY rowid") }
    #expect(rows.count == values.count)
    for (n, row) in rows.enumerated() where n < values.count {
        #expect(row["n"] as Int64 == Int64(n))
        #expect(row["v"] as String == String(decoding: values[n], as: UTF8.self), "row \(n)")
        let blob = row["b"] as Data?
        #expect(blob != nil, "row \(n)")
        #expect(blob.map { [UInt8]($0) } == values[n], "row \(n)")
    }
}

/// Bound text and blobs are the inserter's own from the bind on: the caller's buffer may change before the batch
/// goes in. Rows too many to copy into the batch's bytes held for SQLite (`BindingArena`) fall back to SQLite's
/// copy, and every row still reads back as bound, over batches that reuse those bytes.
@Test func batchInsertOwnsWhatItBindsBeyondItsArena() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let queue = try DatabaseQueue(path: dir.file("arena.db"))
    defer { try? queue.close() }
    // 70 rows of 20 KiB: a batch of 32 holds 640 KiB, past the arena's room, so both ways of binding are taken.
    let blobSize = 20 << 10
    #expect(32 * blobSize > BindingArena.defaultCapacity)
    func blob(_ n: Int) -> [UInt8] { (0..<blobSize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &* 7) } }
    try queue.write { db in
        try db.execute(sql: "CREATE TABLE t (n INTEGER NOT NULL, v TEXT NOT NULL, b BLOB NOT NULL)")
        var insert = try SQLiteBatchInserter(db, table: "t", columns: 3)
        var buffer = [UInt8](repeating: 0, count: blobSize)
        for n in 0..<70 {
            insert.bind(1, Int64(n))
            buffer = blob(n)
            buffer.withUnsafeBytes { insert.bind(3, blob: $0) }
            Array("/value/\(n)".utf8).withUnsafeBytes { insert.bind(2, text: $0) }
            // Overwritten before the row goes in.
            for index in buffer.indices { buffer[index] = 0xAA }
            try insert.endRow(db)
        }
        try insert.finish(db)
    }
    let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT n, v, b FROM t ORDER BY rowid") }
    #expect(rows.count == 70)
    for (n, row) in rows.enumerated() {
        #expect(row["n"] as Int64 == Int64(n))
        #expect(row["v"] as String == "/value/\(n)")
        #expect((row["b"] as Data?).map { [UInt8]($0) } == blob(n), "row \(n)")
    }
}

@Test func bindingArenaCopiesUntilFullAndStartsOverWhenEmptied() {
    let arena = BindingArena(capacity: 10)
    let first: [UInt8] = [1, 2, 3, 4, 5, 6]
    let copy = first.withUnsafeBytes { arena.copy($0) }
    #expect(copy.map { Array($0) } == first)
    #expect([UInt8](repeating: 9, count: 5).withUnsafeBytes { arena.copy($0) } == nil, "no room for 5 more")
    #expect([UInt8](repeating: 9, count: 4).withUnsafeBytes { arena.copy($0) }.map { Array($0) } == [9, 9, 9, 9])
    #expect(arena.used == 10)
    arena.removeAll()
    let again = [UInt8](repeating: 7, count: 10).withUnsafeBytes { arena.copy($0) }
    #expect(again?.baseAddress == copy?.baseAddress, "the same block, from its start")
}

private let manifestText = #"{"version":"0.1.0","schema":1,"inputs":[],"note":"caf\u00e9, 日本"}"#

@Test func sqliteHasTheContractSchemaAndRoundTripsRows() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("crumb.db")
    try TrendWriters.writeSQLite(
        trickyRecords, meta: [("crumb_version", "0.1.0"), ("manifest", manifestText), ("schema", "999")], to: path)
    #expect(try dir.names() == ["crumb.db"], "no journal or temporary file is left")

    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    try queue.read { (db: Database) throws -> Void in
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(web_trends)")
        #expect(columns.map { $0["name"] as String } == WebTrendRecord.columns)
        #expect(columns.map { $0["type"] as String }
            == ["TEXT", "TEXT", "TEXT", "TEXT", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "INTEGER"])
        #expect(columns.map { $0["pk"] as Int } == [1, 2, 3, 4, 0, 0, 0, 0, 0])

        let sketchColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(web_trend_sketches)")
        #expect(sketchColumns.map { $0["name"] as String } == ["bucket_start", "bucket", "dimension", "value", "sketch"])
        #expect(sketchColumns.map { $0["pk"] as Int } == [1, 2, 3, 4, 0])

        let indexed = try String.fetchAll(db, sql: """
            SELECT ii.name FROM pragma_index_list('web_trends') AS il, pragma_index_info(il.name) AS ii
            WHERE il.origin = 'c' ORDER BY ii.seqno
            """)
        #expect(indexed == ["dimension", "bucket_start"])

        // Rows come back in the order they were written.
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM web_trends ORDER BY rowid")
        #expect(rows.count == trickyRecords.count)
        for (row, record) in zip(rows, trickyRecords) {
            #expect(row["bucket_start"] as String == isoText(record))
            #expect(row["bucket"] as String == record.bucket.rawValue)
            #expect(row["dimension"] as String == record.dimension)
            #expect(row["value"] as String == record.value)
            #expect(row["hits"] as Int64 == record.hits)
            #expect(row["bytes"] as Int64 == record.bytes)
            #expect(row["status_4xx"] as Int64 == record.status4xx)
            #expect(row["status_5xx"] as Int64 == record.status5xx)
            #expect(row["uniques"] as Int64 == record.uniques)
        }
        #expect(try String.fetchAll(db, sql: "SELECT DISTINCT typeof(hits) FROM web_trends") == ["integer"])

        for record in trickyRecords {
            let sketch = try Row.fetchOne(db, sql: """
                SELECT sketch, typeof(sketch) AS kind FROM web_trend_sketches
                WHERE bucket_start = ? AND bucket = ? AND dimension = ? AND value = ?
                """, arguments: [isoText(record), record.bucket.rawValue, record.dimension, record.value])
            let found = try #require(sketch)
            #expect(found["kind"] as String == "blob")
            #expect([UInt8](found["sketch"] as Data) == record.sketch)
        }

        let meta = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM crumb_meta")
            .map { ($0["key"] as String, $0["value"] as String) })
        #expect(meta == ["schema": "1", "crumb_version": "0.1.0", "manifest": manifestText])
        #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == 1)
        #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
    }
}

@Test func sqliteOfNoRowsHasTheTables() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("crumb.db")
    try TrendWriters.writeSQLite([], meta: [], to: path)
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    try queue.read { (db: Database) throws -> Void in
        #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM web_trends") == 0)
        #expect(try db.tableExists("web_trend_sketches"))
        #expect(try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'schema'") == "1")
    }
}

// MARK: - Replacing and atomicity

@Test func writersReplaceAnExistingOutput() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let first = Array(trickyRecords.prefix(2))
    let second = Array(trickyRecords.suffix(3))

    try TrendWriters.writeCSV(first, to: dir.file("web_trends.csv"))
    try TrendWriters.writeCSV(second, to: dir.file("web_trends.csv"))
    #expect(Array(parseCSV(try readBytes(dir.file("web_trends.csv"))).dropFirst()) == second.map(fields))

    try TrendWriters.writeJSONLines(first, to: dir.file("web_trends.jsonl"))
    try TrendWriters.writeJSONLines(second, to: dir.file("web_trends.jsonl"))
    let lines = try readBytes(dir.file("web_trends.jsonl")).split(separator: UInt8(ascii: "\n"))
    #expect(lines.count == second.count)

    try TrendWriters.writeSQLite(first, meta: [("manifest", "{}")], to: dir.file("crumb.db"))
    // Keep a reader open on the old file: the new one replaces it without disturbing the reader.
    let oldReader = try DatabaseQueue(path: dir.file("crumb.db"))
    try TrendWriters.writeSQLite(second, meta: [("manifest", "{\"run\":2}")], to: dir.file("crumb.db"))
    #expect(try oldReader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM web_trends") } == first.count)
    try oldReader.close()

    let queue = try DatabaseQueue(path: dir.file("crumb.db"))
    defer { try? queue.close() }
    try queue.read { (db: Database) throws -> Void in
        #expect(try String.fetchAll(db, sql: "SELECT value FROM web_trends ORDER BY rowid") == second.map(\.value))
        #expect(try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'manifest'") == "{\"run\":2}")
    }
    #expect(try dir.names() == ["crumb.db", "web_trends.csv", "web_trends.jsonl"])
}

@Test func writingIntoAMissingDirectoryFailsCleanly() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let missing = dir.file("absent/deeper")
    let writes: [(String, (String) throws -> Void)] = [
        ("web_trends.csv", { try TrendWriters.writeCSV(trickyRecords, to: $0) }),
        ("web_trends.jsonl", { try TrendWriters.writeJSONLines(trickyRecords, to: $0) }),
        ("crumb.db", { try TrendWriters.writeSQLite(trickyRecords, meta: [], to: $0) }),
    ]
    for (name, write) in writes {
        let target = missing + "/" + name
        let error = #expect(throws: OutputError.self) { try write(target) }
        #expect(error?.path == target)
        #expect(error?.message.isEmpty == false)
    }
    #expect(try dir.names().isEmpty)
}

@Test func aFailedRenameLeavesTheTargetAndNoTemporaryFile() throws {
    // The target is a non-empty directory: every step succeeds except the final rename. Works as root too.
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    for name in ["web_trends.csv", "web_trends.jsonl", "crumb.db"] {
        try AtomicFile.createDirectory(dir.file(name))
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dir.file(name + "/keep")))
    }
    let csv = #expect(throws: OutputError.self) { try TrendWriters.writeCSV(trickyRecords, to: dir.file("web_trends.csv")) }
    #expect(csv?.path == dir.file("web_trends.csv"))
    #expect(csv?.message.hasPrefix("cannot replace: ") == true)
    #expect(throws: OutputError.self) { try TrendWriters.writeJSONLines(trickyRecords, to: dir.file("web_trends.jsonl")) }
    #expect(throws: OutputError.self) { try TrendWriters.writeSQLite(trickyRecords, meta: [], to: dir.file("crumb.db")) }

    #expect(try dir.names() == ["crumb.db", "web_trends.csv", "web_trends.jsonl"])
    for name in ["web_trends.csv", "web_trends.jsonl", "crumb.db"] {
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file(name)) == ["keep"])
    }
}

@Test func aFailedSQLiteBuildLeavesTheOldDatabase() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("crumb.db")
    try TrendWriters.writeSQLite(Array(trickyRecords.prefix(1)), meta: [("manifest", "old")], to: path)
    let before = try readBytes(path)

    // Two rows with the same key: the insert fails halfway through the build.
    let duplicated = trickyRecords + [trickyRecords[3]]
    let error = #expect(throws: OutputError.self) { try TrendWriters.writeSQLite(duplicated, meta: [], to: path) }
    #expect(error?.path == path)
    #expect(error?.message.contains("UNIQUE constraint failed") == true)
    #expect(error?.message.contains("hi") == false, "the message never quotes row data")

    #expect(try readBytes(path) == before)
    #expect(try dir.names() == ["crumb.db"])
}

@Test(.enabled(if: geteuid() != 0, "root ignores directory permissions"))
func aReadOnlyDirectoryKeepsTheOldFiles() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    try TrendWriters.writeCSV(trickyRecords, to: dir.file("web_trends.csv"))
    try TrendWriters.writeSQLite(trickyRecords, meta: [], to: dir.file("crumb.db"))
    let csv = try readBytes(dir.file("web_trends.csv"))
    let db = try readBytes(dir.file("crumb.db"))
    #expect(chmod(dir.path, 0o555) == 0)

    let error = #expect(throws: OutputError.self) { try TrendWriters.writeCSV([], to: dir.file("web_trends.csv")) }
    #expect(error?.path == dir.file("web_trends.csv"))
    #expect(throws: OutputError.self) { try TrendWriters.writeJSONLines([], to: dir.file("web_trends.jsonl")) }
    #expect(throws: OutputError.self) { try TrendWriters.writeSQLite([], meta: [], to: dir.file("crumb.db")) }

    #expect(try readBytes(dir.file("web_trends.csv")) == csv)
    #expect(try readBytes(dir.file("crumb.db")) == db)
    #expect(try dir.names() == ["crumb.db", "web_trends.csv"])
}

@Test func replaceRemovesTheTemporaryFileWhenTheBodyThrows() throws {
    struct Boom: Error {}
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("out.bin")
    try AtomicFile.write([1, 2, 3], to: path)

    var seen = ""
    #expect(throws: Boom.self) {
        try AtomicFile.replace(path) { temporary in
            seen = temporary
            try Data([9, 9]).write(to: URL(fileURLWithPath: temporary))
            throw Boom()
        }
    }
    #expect(try readBytes(path) == [1, 2, 3])
    #expect(try dir.names() == ["out.bin"])

    // The temporary file is a hidden sibling: `.NAME.tmp-PID-N`.
    let name = String(seen.split(separator: "/").last ?? "")
    #expect(seen.hasPrefix(dir.path + "/"))
    #expect(name.hasPrefix(".out.bin.tmp-\(getpid())-"))
    #expect(Int(name.dropFirst(".out.bin.tmp-\(getpid())-".count)) != nil)

    try AtomicFile.replace(path) { try Data([4, 5]).write(to: URL(fileURLWithPath: $0)) }
    #expect(try readBytes(path) == [4, 5])
    #expect(try dir.names() == ["out.bin"])
}

@Test func temporaryFilesAreHiddenSiblings() {
    let pid = getpid()
    #expect(AtomicFile.temporaryPath(for: "plain.txt").hasPrefix(".plain.txt.tmp-\(pid)-"))
    #expect(AtomicFile.temporaryPath(for: "out/crumb.db").hasPrefix("out/.crumb.db.tmp-\(pid)-"))
    #expect(AtomicFile.temporaryPath(for: "/abs/dir/web_trends.csv").hasPrefix("/abs/dir/.web_trends.csv.tmp-\(pid)-"))
    #expect(AtomicFile.temporaryPath(for: "x") != AtomicFile.temporaryPath(for: "x"))
}

@Test func createDirectoryMakesParentsAndAcceptsAnExistingOne() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let nested = dir.file("a/b//c/")
    try AtomicFile.createDirectory(nested)
    try AtomicFile.createDirectory(nested)
    var isDirectory: ObjCBool = false
    #expect(FileManager.default.fileExists(atPath: dir.file("a/b/c"), isDirectory: &isDirectory) && isDirectory.boolValue)

    try AtomicFile.write([1], to: dir.file("a/file"))
    let error = #expect(throws: OutputError.self) { try AtomicFile.createDirectory(dir.file("a/file/d")) }
    #expect(error?.path == dir.file("a/file"))
}

// MARK: - Volume

@Test func writersHandleManyRows() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let dimensions = ["path", "referrer_host", "ua_family", "os", "device", "agent_class", "status_class", "campaign"]
    var records: [WebTrendRecord] = []
    records.reserveCapacity(40_000)
    for bucket in 0..<5 {
        for dimension in dimensions {
            for value in 0..<1_000 {
                records.append(WebTrendRecord(
                    bucketStart: hour + Int64(bucket) * 3_600, bucket: .hour, dimension: dimension,
                    value: "/section-\(value % 37)/page-\(value)", hits: Int64(value * 3 + 1), bytes: Int64(value) * 1_500,
                    status4xx: Int64(value % 5), status5xx: Int64(value % 7), uniques: Int64(value + 1),
                    sketch: [UInt8](repeating: UInt8(value & 0xFF), count: 24)))
            }
        }
    }
    try TrendWriters.writeCSV(records, to: dir.file("web_trends.csv"))
    try TrendWriters.writeJSONLines(records, to: dir.file("web_trends.jsonl"))
    try TrendWriters.writeSQLite(records, meta: [], to: dir.file("crumb.db"))

    #expect(try readBytes(dir.file("web_trends.csv")).count(where: { $0 == UInt8(ascii: "\n") }) == records.count + 1)
    #expect(try readBytes(dir.file("web_trends.jsonl")).count(where: { $0 == UInt8(ascii: "\n") }) == records.count)
    let queue = try DatabaseQueue(path: dir.file("crumb.db"))
    defer { try? queue.close() }
    #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM web_trends") } == records.count)
    #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM web_trend_sketches") } == records.count)
}
