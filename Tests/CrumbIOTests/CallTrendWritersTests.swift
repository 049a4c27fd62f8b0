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

/// A fresh directory under the system temporary directory, removed by `remove()`.
private struct ScratchDirectory {
    let path: String

    init() throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("crumb-call-writers-\(UUID().uuidString)").path
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

/// Rows that exercise quoting and escaping, empty blobs, and numbers at the edges of `Int64`.
private let trickyRecords: [CallTrendRecord] = [
    CallTrendRecord(bucketStart: hour, bucket: .hour, dimension: "total", value: "all", calls: 10, answered: 7,
                    callers: 6, talkSeconds: 1_234, talkP50: 120, talkP95: 600, sketch: [1, 0, 0, 0], talkHistogram: [1, 0]),
    CallTrendRecord(bucketStart: hour, bucket: .hour, dimension: "dialled", value: "+44 20 7946 0958", calls: 5,
                    answered: 5, callers: 5, talkSeconds: 100, talkP50: 20, talkP95: 30, sketch: [], talkHistogram: []),
    CallTrendRecord(bucketStart: hour, bucket: .hour, dimension: "ivr_path", value: "Answer>Playback>\u{2026}", calls: 1,
                    answered: 0, callers: 1, talkSeconds: 0, talkP50: 0, talkP95: 0, sketch: [9], talkHistogram: [1, 0]),
    CallTrendRecord(bucketStart: hour, bucket: .hour, dimension: "context", value: "say \"hi\", then\nbye", calls: 2,
                    answered: 1, callers: 2, talkSeconds: 3, talkP50: 3, talkP95: 3, sketch: [0, 255], talkHistogram: [1, 1, 3, 1]),
    CallTrendRecord(bucketStart: hour, bucket: .hour, dimension: "disposition", value: "", calls: 1, answered: 0,
                    callers: 0, talkSeconds: 0, talkP50: 0, talkP95: 0, sketch: [], talkHistogram: [1, 0]),
    CallTrendRecord(bucketStart: 1_767_225_600, bucket: .day, dimension: "disposition", value: "NO ANSWER",
                    calls: Int64.max, answered: 0, callers: 1_000_000_000_000, talkSeconds: Int64.max, talkP50: 604_800,
                    talkP95: 604_800, sketch: Array(repeating: 0xAB, count: 4_096), talkHistogram: [1, 1, 0x80, 0x75, 1]),
]

private func fields(_ record: CallTrendRecord) -> [String] {
    [CivilTime.iso8601(record.bucketStart), record.bucket.rawValue, record.dimension, record.value, String(record.calls),
     String(record.answered), String(record.callers), String(record.talkSeconds), String(record.talkP50),
     String(record.talkP95)]
}

private func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A minimal RFC 4180 reader, independent of the writer.
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

/// Call trend records of a small aggregation, split in two partial runs.
private func aggregations() -> (whole: CallAggregator, left: CallAggregator, right: CallAggregator) {
    var whole = CallAggregator(bucket: .hour), left = CallAggregator(bucket: .hour), right = CallAggregator(bucket: .hour)
    var state: UInt64 = 42
    for index in 0..<2_000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let time = hour + Int64(state >> 52)
        let talk = Int64(state >> 40 & 0xFFF)
        let answered = state & 3 != 0
        let caller = HyperLogLog.mix(state >> 20 & 0x3FF)
        for target in [0, index % 2 + 1] {
            func add(_ aggregator: inout CallAggregator) {
                let ordinal = aggregator.bucketOrdinal(for: time)
                let total = aggregator.valueID(.total, "all")
                let context = aggregator.valueID(.context, ["sales", "support"][index % 2 == 0 ? 0 : Int(state >> 8 & 1)])
                aggregator.add(bucket: ordinal, .total, value: total, answered: answered, billSeconds: talk, caller: caller)
                aggregator.add(bucket: ordinal, .context, value: context, answered: answered, billSeconds: talk, caller: caller)
            }
            switch target {
            case 0: add(&whole)
            case 1: add(&left)
            default: add(&right)
            }
        }
    }
    return (whole, left, right)
}

@Suite struct CallTrendWritersTests {
    @Test func sqliteHasTheContractSchemaAndRoundTripsRows() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("crumb.db")
        try CallTrendWriters.writeSQLite(trickyRecords, meta: [("crumb_version", "0.1.0"), ("manifest", "{}"), ("schema", "9")], to: path)
        #expect(try dir.names() == ["crumb.db"], "no journal or temporary file is left")

        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.read { (db: Database) throws -> Void in
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(call_trends)")
            #expect(columns.map { $0["name"] as String } == CallTrendRecord.columns)
            #expect(columns.map { $0["type"] as String } == ["TEXT", "TEXT", "TEXT", "TEXT"] + Array(repeating: "INTEGER", count: 6))
            #expect(columns.map { $0["pk"] as Int } == [1, 2, 3, 4, 0, 0, 0, 0, 0, 0])
            let sketchColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(call_trend_sketches)")
            #expect(sketchColumns.map { $0["name"] as String }
                == ["bucket_start", "bucket", "dimension", "value", "sketch", "talk_histogram"])

            let rows = try Row.fetchAll(db, sql: "SELECT * FROM call_trends ORDER BY rowid")
            #expect(rows.count == trickyRecords.count)
            for (row, record) in zip(rows, trickyRecords) {
                #expect(row["bucket_start"] as String == CivilTime.iso8601(record.bucketStart))
                #expect(row["bucket"] as String == record.bucket.rawValue)
                #expect(row["dimension"] as String == record.dimension)
                #expect(row["value"] as String == record.value)
                #expect(row["calls"] as Int64 == record.calls)
                #expect(row["answered"] as Int64 == record.answered)
                #expect(row["callers"] as Int64 == record.callers)
                #expect(row["talk_seconds"] as Int64 == record.talkSeconds)
                #expect(row["talk_p50"] as Int64 == record.talkP50)
                #expect(row["talk_p95"] as Int64 == record.talkP95)
            }
            #expect(try String.fetchAll(db, sql: "SELECT DISTINCT typeof(talk_p95) FROM call_trends") == ["integer"])
            for record in trickyRecords {
                let found = try #require(try Row.fetchOne(db, sql: """
                    SELECT sketch, talk_histogram, typeof(sketch) AS kind FROM call_trend_sketches
                    WHERE bucket_start = ? AND bucket = ? AND dimension = ? AND value = ?
                    """, arguments: [CivilTime.iso8601(record.bucketStart), record.bucket.rawValue, record.dimension, record.value]))
                #expect(found["kind"] as String == "blob", "an empty sketch is an empty blob, not NULL")
                #expect([UInt8](found["sketch"] as Data) == record.sketch)
                #expect([UInt8](found["talk_histogram"] as Data) == record.talkHistogram)
            }
            let meta = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM crumb_meta")
                .map { ($0["key"] as String, $0["value"] as String) })
            #expect(meta == ["schema": "1", "crumb_version": "0.1.0", "manifest": "{}"])
            #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == 1)
            let indexed = try String.fetchAll(db, sql: """
                SELECT ii.name FROM pragma_index_list('call_trends') AS il, pragma_index_info(il.name) AS ii
                WHERE il.origin = 'c' ORDER BY ii.seqno
                """)
            #expect(indexed == ["dimension", "bucket_start"])
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
        }
    }

    @Test func csvHasTheContractHeaderAndRoundTripsEveryField() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("call_trends.csv")
        try CallTrendWriters.writeCSV(trickyRecords, to: path)
        let bytes = try readBytes(path)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("bucket_start,bucket,dimension,value,calls,answered,callers,talk_seconds,talk_p50,talk_p95\n"))
        let rows = parseCSV(bytes)
        #expect(rows.first == CallTrendRecord.columns)
        #expect(Array(rows.dropFirst()) == trickyRecords.map(fields))
        #expect(text.contains("2026-01-01T13:00:00Z,hour,total,all,10,7,6,1234,120,600\n"))
        #expect(text.contains(",\"say \"\"hi\"\", then\nbye\","))
        #expect(text.contains(",disposition,,1,0,0,0,0,0\n"), "an empty value is an empty unquoted field")

        try CallTrendWriters.writeCSV([], to: path)
        #expect(String(decoding: try readBytes(path), as: UTF8.self) == CallTrendRecord.columns.joined(separator: ",") + "\n")
    }

    @Test func jsonLinesHaveTheContractKeysInOrder() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("call_trends.jsonl")
        try CallTrendWriters.writeJSONLines(trickyRecords, to: path)
        let bytes = try readBytes(path)
        #expect(bytes.last == UInt8(ascii: "\n"))
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == trickyRecords.count)
        for (line, record) in zip(lines, trickyRecords) {
            let raw = String(decoding: line, as: UTF8.self)
            var previous = raw.startIndex
            for key in CallTrendRecord.columns {
                let range = try #require(raw.range(of: "\"\(key)\":", range: previous..<raw.endIndex), "\(key) missing or out of order")
                previous = range.upperBound
            }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            #expect(Set(object.keys) == Set(CallTrendRecord.columns))
            #expect(object["bucket_start"] as? String == CivilTime.iso8601(record.bucketStart))
            #expect(object["value"] as? String == record.value)
            for (key, expected) in [("calls", record.calls), ("answered", record.answered), ("callers", record.callers),
                                    ("talk_seconds", record.talkSeconds), ("talk_p50", record.talkP50), ("talk_p95", record.talkP95)] {
                #expect(raw.contains("\"\(key)\":\(expected)"))
            }
            #expect(!raw.contains("sketch") && !raw.contains("histogram"))
        }
        #expect(String(decoding: lines[0], as: UTF8.self)
            == #"{"bucket_start":"2026-01-01T13:00:00Z","bucket":"hour","dimension":"total","value":"all","calls":10,"answered":7,"callers":6,"talk_seconds":1234,"talk_p50":120,"talk_p95":600}"#)
    }

    /// Two partial outputs, read back from their databases and merged through the stored sketches and
    /// histograms, give the whole run's callers and percentiles: what `crumb merge` will do.
    @Test func storedSketchesMergeExactly() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let (whole, left, right) = aggregations()
        try CallTrendWriters.writeSQLite(left.records(), meta: [], to: dir.file("left.db"))
        try CallTrendWriters.writeSQLite(right.records(), meta: [], to: dir.file("right.db"))
        var merged: [String: (calls: Int64, sketch: HyperLogLog, talk: TalkTimeHistogram)] = [:]
        for name in ["left.db", "right.db"] {
            let queue = try DatabaseQueue(path: dir.file(name))
            try queue.read { (db: Database) throws -> Void in
                for row in try Row.fetchAll(db, sql: """
                    SELECT t.bucket_start || '|' || t.dimension || '|' || t.value AS key, t.calls, s.sketch, s.talk_histogram
                    FROM call_trends t JOIN call_trend_sketches s USING (bucket_start, bucket, dimension, value)
                    """) {
                    let key = row["key"] as String
                    var entry = merged[key] ?? (0, HyperLogLog(), TalkTimeHistogram())
                    entry.calls += row["calls"] as Int64
                    entry.sketch.merge(try HyperLogLog(serialized: [UInt8](row["sketch"] as Data)))
                    entry.talk.merge(try TalkTimeHistogram(serialized: [UInt8](row["talk_histogram"] as Data)))
                    merged[key] = entry
                }
            }
            try queue.close()
        }
        let expected = whole.records()
        #expect(merged.count == expected.count)
        for record in expected {
            let entry = try #require(merged["\(CivilTime.iso8601(record.bucketStart))|\(record.dimension)|\(record.value)"])
            #expect(entry.calls == record.calls)
            #expect(Int64(entry.sketch.estimate) == record.callers)
            #expect(entry.talk.value(atPercentile: 50) == record.talkP50 && entry.talk.value(atPercentile: 95) == record.talkP95)
            #expect(entry.talk.serialized() == record.talkHistogram)
        }
    }

    @Test func writersReplaceAtomicallyAndFailCleanly() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        try CallTrendWriters.writeSQLite(trickyRecords, meta: [], to: dir.file("crumb.db"))
        try CallTrendWriters.writeSQLite(Array(trickyRecords.prefix(2)), meta: [], to: dir.file("crumb.db"))
        let queue = try DatabaseQueue(path: dir.file("crumb.db"))
        #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM call_trends") } == 2)
        try queue.close()

        // Two rows with one key: the build fails, the old database stays, nothing is left behind.
        let before = try readBytes(dir.file("crumb.db"))
        let error = #expect(throws: OutputError.self) {
            try CallTrendWriters.writeSQLite(trickyRecords + [trickyRecords[1]], meta: [], to: dir.file("crumb.db"))
        }
        #expect(error?.path == dir.file("crumb.db"))
        #expect(error?.message.contains("UNIQUE constraint failed") == true)
        #expect(error?.message.contains("7946") == false, "no row data in the message")
        #expect(try readBytes(dir.file("crumb.db")) == before)

        let missing = dir.file("absent/call_trends.csv")
        #expect(throws: OutputError.self) { try CallTrendWriters.writeCSV(trickyRecords, to: missing) }
        #expect(throws: OutputError.self) { try CallTrendWriters.writeJSONLines(trickyRecords, to: missing) }
        #expect(try dir.names() == ["crumb.db"])
    }
}
