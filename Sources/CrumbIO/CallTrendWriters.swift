import CrumbCore
import Foundation
import GRDB

/// Writes call trend rows in the three formats of the output contract (schema v1, DESIGN.md): SQLite
/// (`crumb.db`, table `call_trends`), CSV (`call_trends.csv`) and JSON Lines (`call_trends.jsonl`).
///
/// The conventions are `TrendWriters`' (web trends): rows in the order given (the aggregator emits them
/// sorted), ISO-8601 UTC bucket starts, integers as integers, RFC 4180 CSV with LF line ends, atomic
/// replacement (`AtomicFile`), and `OutputError` naming the target path, never quoting row data.
public enum CallTrendWriters {
    // MARK: - SQLite

    /// `crumb.db` with call trends only: `TrendWriters.writeSQLite` with no web rows. Table `call_trends` has
    /// exactly the contract columns, `call_trend_sketches` each row's caller sketch and talk-time histogram under
    /// the same key; `web_trends` and `crumb_meta` are there too.
    ///
    /// `call_trend_sketches.sketch` is `HyperLogLog.serialized()`; `talk_histogram` is
    /// `TalkTimeHistogram.serialized()` (the recorded (value, count) pairs, a few bytes for most rows), so
    /// that `crumb merge` can merge partial outputs exactly. An empty sketch is an empty blob, never NULL.
    ///
    /// `meta` is stored in `crumb_meta` in order (a repeated key keeps its last value); `schema` is always
    /// `1`. The database is built beside `path` in one transaction and renamed over it, as
    /// `TrendWriters.writeSQLite` does.
    ///
    /// - Throws: `OutputError` naming `path`; SQLite's message (never row data) when the database fails.
    public static func writeSQLite(_ records: [CallTrendRecord], meta: [(String, String)], to path: String) throws {
        try TrendWriters.writeSQLite([], calls: records, meta: meta, to: path)
    }

    /// The call tables of `crumb.db`, schema v1. `call_trends` keeps its rowid (as `web_trends` does, for
    /// the readers analysts use); `call_trend_sketches` is read by `crumb merge` only.
    static let schemaSQL = """
        CREATE TABLE call_trends (
            bucket_start TEXT NOT NULL,
            bucket TEXT NOT NULL,
            dimension TEXT NOT NULL,
            value TEXT NOT NULL,
            calls INTEGER NOT NULL,
            answered INTEGER NOT NULL,
            callers INTEGER NOT NULL,
            talk_seconds INTEGER NOT NULL,
            talk_p50 INTEGER NOT NULL,
            talk_p95 INTEGER NOT NULL,
            PRIMARY KEY (bucket_start, bucket, dimension, value)
        );
        CREATE TABLE call_trend_sketches (
            bucket_start TEXT NOT NULL,
            bucket TEXT NOT NULL,
            dimension TEXT NOT NULL,
            value TEXT NOT NULL,
            sketch BLOB NOT NULL,
            talk_histogram BLOB NOT NULL,
            PRIMARY KEY (bucket_start, bucket, dimension, value)
        ) WITHOUT ROWID;
        """

    // Building an index once over all rows is faster than updating it on every insert.
    static let indexSQL = "CREATE INDEX call_trends_by_dimension ON call_trends (dimension, bucket_start);"

    /// Creates `call_trends` and `call_trend_sketches` in `db`, fills them and indexes them: the call part
    /// of a database, for a writer that puts web and call trends in one `crumb.db`.
    static func insertTables(_ records: [CallTrendRecord], into db: Database) throws {
        try insertTables(streaming: { emit in try emit(records) }, into: db)
    }

    /// `insertTables` with the records given in batches, in order, by `source` (which calls its argument once
    /// per batch), so that they need not all be held at once.
    static func insertTables(streaming source: (([CallTrendRecord]) throws -> Void) throws -> Void,
                             into db: Database) throws {
        try db.execute(sql: schemaSQL)
        let insertTrend = try SQLiteRowInserter(db, sql: """
            INSERT INTO call_trends
                (bucket_start, bucket, dimension, value, calls, answered, callers, talk_seconds, talk_p50, talk_p95)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertSketch = try SQLiteRowInserter(db, sql: """
            INSERT INTO call_trend_sketches (bucket_start, bucket, dimension, value, sketch, talk_histogram)
            VALUES (?, ?, ?, ?, ?, ?)
            """)
        var bucketStart = BucketStartText()
        try source { records in
            for record in records {
                let start = bucketStart.text(for: record.bucketStart)
                for insert in [insertTrend, insertSketch] {
                    insert.bind(1, start)
                    insert.bind(2, record.bucket.rawValue)
                    insert.bind(3, record.dimension)
                    insert.bind(4, record.value)
                }
                for (index, number) in [record.calls, record.answered, record.callers, record.talkSeconds, record.talkP50, record.talkP95].enumerated() {
                    insertTrend.bind(Int32(5 + index), number)
                }
                try insertTrend.step(db)
                insertSketch.bind(5, blob: record.sketch)
                insertSketch.bind(6, blob: record.talkHistogram)
                try insertSketch.step(db)
            }
        }
        try db.execute(sql: indexSQL)
    }

    // MARK: - CSV

    /// `call_trends.csv`: a header line with the contract column names, then one line per row; RFC 4180
    /// quoting (a field holding a comma, quote, CR or LF is quoted, its quotes doubled), LF line ends, UTF-8
    /// without a byte order mark, atomically. See <https://www.rfc-editor.org/rfc/rfc4180>.
    ///
    /// - Throws: `OutputError` naming `path`.
    public static func writeCSV(_ records: [CallTrendRecord], to path: String) throws {
        let file = try StreamedTrendFile(path: path, format: .csv, table: .calls)
        try file.append(records)
        try file.finish().commit()
    }

    /// The header line of `call_trends.csv`.
    static var csvHeader: [UInt8] { Array((CallTrendRecord.columns.joined(separator: ",") + "\n").utf8) }

    /// Appends `record` as one line of `call_trends.csv`. `bucketStart` caches the text of the last bucket start.
    static func appendCSVLine(_ record: CallTrendRecord, bucketStart: inout BucketStartText, to out: inout [UInt8]) {
        out.append(contentsOf: bucketStart.bytes(for: record.bucketStart))
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: record.bucket.rawValue.utf8)
        out.append(UInt8(ascii: ","))
        TrendWriters.appendCSVField(record.dimension, to: &out)
        out.append(UInt8(ascii: ","))
        TrendWriters.appendCSVField(record.value, to: &out)
        for number in [record.calls, record.answered, record.callers, record.talkSeconds, record.talkP50, record.talkP95] {
            out.append(UInt8(ascii: ","))
            TrendWriters.appendDecimal(number, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }

    // MARK: - JSON Lines

    /// `call_trends.jsonl`: one JSON object per line with exactly the contract keys in contract order,
    /// integers as JSON numbers, strings JSON-escaped (RFC 8259), LF after every line, atomically.
    /// See <https://jsonlines.org>.
    ///
    /// - Throws: `OutputError` naming `path`.
    public static func writeJSONLines(_ records: [CallTrendRecord], to path: String) throws {
        let file = try StreamedTrendFile(path: path, format: .jsonLines, table: .calls)
        try file.append(records)
        try file.finish().commit()
    }

    /// Appends `record` as one line of `call_trends.jsonl` (the contract keys in order, LF-terminated).
    /// `bucketStart` caches the text of the last bucket start.
    static func appendJSONLine(_ record: CallTrendRecord, bucketStart: inout BucketStartText, to out: inout [UInt8]) {
        let keys = jsonKeys
        out.append(UInt8(ascii: "{"))
        out.append(contentsOf: keys[0])
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: bucketStart.bytes(for: record.bucketStart))
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: keys[1])
        TrendWriters.appendJSONString(record.bucket.rawValue, to: &out)
        out.append(contentsOf: keys[2])
        TrendWriters.appendJSONString(record.dimension, to: &out)
        out.append(contentsOf: keys[3])
        TrendWriters.appendJSONString(record.value, to: &out)
        let numbers = [record.calls, record.answered, record.callers, record.talkSeconds, record.talkP50, record.talkP95]
        for (offset, number) in numbers.enumerated() {
            out.append(contentsOf: keys[4 + offset])
            TrendWriters.appendDecimal(number, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
    }

    /// `"name":` for each contract column, with the `,` that separates it from the previous member.
    private static let jsonKeys: [[UInt8]] = CallTrendRecord.columns.enumerated().map { index, name in
        Array(((index == 0 ? "" : ",") + "\"\(name)\":").utf8)
    }
}
