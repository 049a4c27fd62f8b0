import CrumbCore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes web trend rows in the three formats of the output contract (schema v1, DESIGN.md): SQLite
/// (`crumb.db`), CSV (`web_trends.csv`) and JSON Lines (`web_trends.jsonl`).
///
/// Rows are written in the order given (the aggregator emits them sorted). Every writer builds its output
/// beside the target and renames it into place (`AtomicFile`), so a failed write leaves the old file intact
/// and no temporary file behind. Failures are thrown as `OutputError` naming the target path.
public enum TrendWriters {
    /// The `schema` value written to `crumb_meta`: the output contract's version.
    static let schemaVersion = "1"

    // MARK: - SQLite

    /// `crumb.db`: table `web_trends` with exactly the contract columns, `web_trend_sketches` with each row's
    /// visitor sketch under the same key, the call tables of `CallTrendWriters` (filled from `calls`, present
    /// and empty when there are none), and `crumb_meta` (key, value).
    ///
    /// `meta` is stored in `crumb_meta` in order (a repeated key keeps its last value); callers pass at least
    /// `crumb_version` and `manifest` (the manifest JSON text). `schema` is always `1`, whatever `meta` says.
    /// A row whose sketch is empty gets an empty blob, never NULL.
    ///
    /// The database is built at a temporary path in one transaction with the journal in memory and
    /// `synchronous = OFF` (nothing is lost by that: a failed build is deleted), closed, flushed and renamed
    /// over `path`.
    ///
    /// - Throws: `OutputError` naming `path`; SQLite's message (never row data) when the database fails, for
    ///   instance `UNIQUE constraint failed: ...` for two rows with the same key.
    public static func writeSQLite(_ records: [WebTrendRecord], calls: [CallTrendRecord] = [], meta: [(String, String)],
                                   to path: String, mode: mode_t = 0o644) throws {
        try prepareSQLite(records, calls: calls, meta: meta, to: path, mode: mode).commit()
    }

    /// `writeSQLite` but for the rename: the database is built and flushed under a temporary name, and put
    /// in place by the caller (`AtomicFile.Prepared.commit()`).
    static func prepareSQLite(_ records: [WebTrendRecord], calls: [CallTrendRecord] = [], meta: [(String, String)],
                              to path: String, mode: mode_t = 0o644) throws -> AtomicFile.Prepared {
        try prepareSQLite(streaming: { emit in try emit(records) }, calls: { emit in try emit(calls) }, meta: { meta }, to: path,
                          mode: mode)
    }

    /// `prepareSQLite` with the web rows given in batches, in order, by `source` (which calls its argument
    /// once per batch), so that they need not all be held at once; then the call rows, likewise by `calls`;
    /// `meta` is asked for once both are in.
    static func prepareSQLite(streaming source: (([WebTrendRecord]) throws -> Void) throws -> Void,
                              calls: (([CallTrendRecord]) throws -> Void) throws -> Void,
                              meta: () throws -> [(String, String)],
                              to path: String, mode: mode_t = 0o644) throws -> AtomicFile.Prepared {
        do {
            return try AtomicFile.prepare(path) { temporary in
                try SQLiteFile.build(at: temporary, mode: mode, reportingAs: path) {
                    try buildDatabase(source, calls: calls, meta: meta, at: temporary)
                }
            }
        } catch let error as OutputError {
            throw error
        } catch let error as DatabaseError {
            throw OutputError(path: path, message: "SQLite: \(error.message ?? "error \(error.extendedResultCode.rawValue)")")
        } catch {
            // Only the error's type: its description could quote a row.
            throw OutputError(path: path, message: "cannot write database: \(type(of: error))")
        }
    }

    /// The schema of `crumb.db`, schema v1. Secondary indexes come after the rows (see `indexSQL`).
    ///
    /// `web_trends` keeps its rowid: readers analysts use (GDAL, SQLite GUI browsers) have stumbled on
    /// `WITHOUT ROWID` tables. `web_trend_sketches` is read by `crumb merge` only; without a rowid it is one
    /// B-tree instead of two (about a quarter less build time for 304,000 rows on a loaded 2-core machine).
    static let schemaSQL = """
        CREATE TABLE web_trends (
            bucket_start TEXT NOT NULL,
            bucket TEXT NOT NULL,
            dimension TEXT NOT NULL,
            value TEXT NOT NULL,
            hits INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            status_4xx INTEGER NOT NULL,
            status_5xx INTEGER NOT NULL,
            uniques INTEGER NOT NULL,
            PRIMARY KEY (bucket_start, bucket, dimension, value)
        );
        CREATE TABLE web_trend_sketches (
            bucket_start TEXT NOT NULL,
            bucket TEXT NOT NULL,
            dimension TEXT NOT NULL,
            value TEXT NOT NULL,
            sketch BLOB NOT NULL,
            PRIMARY KEY (bucket_start, bucket, dimension, value)
        ) WITHOUT ROWID;
        CREATE TABLE crumb_meta (
            key TEXT PRIMARY KEY NOT NULL,
            value TEXT
        );
        """

    // Building an index once over all rows is faster than updating it on every insert.
    static let indexSQL = "CREATE INDEX web_trends_by_dimension ON web_trends (dimension, bucket_start);"

    private static func buildDatabase(_ source: (([WebTrendRecord]) throws -> Void) throws -> Void,
                                      calls: (([CallTrendRecord]) throws -> Void) throws -> Void,
                                      meta: () throws -> [(String, String)],
                                      at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        do {
            try queue.writeWithoutTransaction { db in
                // Before the transaction: the journal mode cannot change inside one.
                try db.execute(sql: "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;")
                try db.inTransaction(.exclusive) {
                    try db.execute(sql: schemaSQL)
                    try db.execute(sql: "PRAGMA user_version = \(schemaVersion)")
                    try insertRows(source, into: db)
                    try db.execute(sql: indexSQL)
                    // Call trends live in the same database, their tables present even when no input was a CDR.
                    try CallTrendWriters.insertTables(streaming: calls, into: db)
                    let setMeta = try db.makeStatement(sql: "INSERT OR REPLACE INTO crumb_meta (key, value) VALUES (?, ?)")
                    for (key, value) in try meta() where key != "schema" {
                        try setMeta.execute(arguments: [key, value])
                    }
                    try setMeta.execute(arguments: ["schema", schemaVersion])
                    return .commit
                }
            }
        } catch {
            try? queue.close()
            throw error
        }
        try queue.close()
    }

    private static func insertRows(_ source: (([WebTrendRecord]) throws -> Void) throws -> Void, into db: Database) throws {
        // Columns in table order: bucket_start, bucket, dimension, value, then the counts or the sketch.
        var insertTrend = try SQLiteBatchInserter(db, table: "web_trends", columns: 9)
        var insertSketch = try SQLiteBatchInserter(db, table: "web_trend_sketches", columns: 5)
        var bucketStart = BucketStartText()
        try source { records in try insertBatch(records, &insertTrend, &insertSketch, &bucketStart, db) }
        try insertTrend.finish(db)
        try insertSketch.finish(db)
    }

    // The inserters go in as parameters: a closure that captured them would check exclusive access at run time.
    private static func insertBatch(_ records: [WebTrendRecord], _ insertTrend: inout SQLiteBatchInserter,
                                    _ insertSketch: inout SQLiteBatchInserter, _ bucketStart: inout BucketStartText,
                                    _ db: Database) throws {
        for record in records {
            let start = bucketStart.text(for: record.bucketStart)
            let bucket = record.bucket.rawValue
            // Both tables start with the row's key; the binds go to the inserters' current rows.
            func bindKey(_ insert: SQLiteBatchInserter) {
                insert.bind(1, start)
                insert.bind(2, bucket)
                insert.bind(3, record.dimension)
                insert.bind(4, record.value)
            }
            bindKey(insertTrend)
            bindKey(insertSketch)
            insertTrend.bind(5, record.hits)
            insertTrend.bind(6, record.bytes)
            insertTrend.bind(7, record.status4xx)
            insertTrend.bind(8, record.status5xx)
            insertTrend.bind(9, record.uniques)
            try insertTrend.endRow(db)
            insertSketch.bind(5, blob: record.sketch)
            try insertSketch.endRow(db)
        }
    }

    // MARK: - CSV

    /// `web_trends.csv`: a header line with the contract column names, then one line per row; RFC 4180
    /// quoting (a field holding a comma, quote, CR or LF is quoted, its quotes doubled), LF line ends, atomically.
    ///
    /// Text is UTF-8 without a byte order mark. Only `dimension` and `value` can need quoting; the other
    /// fields are ISO-8601 times, bucket names and decimal integers.
    /// See <https://www.rfc-editor.org/rfc/rfc4180>.
    ///
    /// - Throws: `OutputError` naming `path`.
    public static func writeCSV(_ records: [WebTrendRecord], to path: String) throws {
        let file = try StreamedTrendFile(path: path, format: .csv)
        try file.append(records)
        try file.finish().commit()
    }

    /// The header line of `web_trends.csv`.
    static var csvHeader: [UInt8] { Array((WebTrendRecord.columns.joined(separator: ",") + "\n").utf8) }

    /// Appends `record` as one line of `web_trends.csv`. `bucketStart` caches the text of the last bucket start.
    static func appendCSVLine(_ record: WebTrendRecord, bucketStart: inout BucketStartText, to out: inout [UInt8]) {
        out.append(contentsOf: bucketStart.bytes(for: record.bucketStart))
        out.append(OutputByte.comma)
        out.append(contentsOf: record.bucket.rawValue.utf8)
        out.append(OutputByte.comma)
        appendCSVField(record.dimension, to: &out)
        out.append(OutputByte.comma)
        appendCSVField(record.value, to: &out)
        for number in [record.hits, record.bytes, record.status4xx, record.status5xx, record.uniques] {
            out.append(OutputByte.comma)
            appendDecimal(number, to: &out)
        }
        out.append(OutputByte.newline)
    }

    /// Appends `field`, in double quotes with inner quotes doubled when it holds a comma, quote, CR or LF.
    static func appendCSVField(_ field: String, to out: inout [UInt8]) {
        withUTF8(field) { bytes in
            let needsQuotes = bytes.contains { $0 == OutputByte.comma || $0 == OutputByte.quote || $0 == OutputByte.cr || $0 == OutputByte.newline }
            guard needsQuotes else {
                out.append(contentsOf: bytes)
                return
            }
            out.append(OutputByte.quote)
            for byte in bytes {
                if byte == OutputByte.quote { out.append(OutputByte.quote) }
                out.append(byte)
            }
            out.append(OutputByte.quote)
        }
    }

    // MARK: - JSON Lines

    /// `web_trends.jsonl`: one JSON object per line with exactly the contract keys in contract order,
    /// integers as JSON numbers, strings JSON-escaped, LF after every line, atomically.
    ///
    /// See <https://jsonlines.org> and RFC 8259 for the escaping (`appendJSONString`).
    ///
    /// - Throws: `OutputError` naming `path`.
    public static func writeJSONLines(_ records: [WebTrendRecord], to path: String) throws {
        let file = try StreamedTrendFile(path: path, format: .jsonLines)
        try file.append(records)
        try file.finish().commit()
    }

    /// Appends `record` as one line of `web_trends.jsonl` (the contract keys in order, LF-terminated).
    /// `bucketStart` caches the text of the last bucket start.
    static func appendJSONLine(_ record: WebTrendRecord, bucketStart: inout BucketStartText, to out: inout [UInt8]) {
        let keys = jsonKeys
        out.append(OutputByte.openBrace)
        out.append(contentsOf: keys[0])
        out.append(OutputByte.quote)
        out.append(contentsOf: bucketStart.bytes(for: record.bucketStart))
        out.append(OutputByte.quote)
        out.append(contentsOf: keys[1])
        appendJSONString(record.bucket.rawValue, to: &out)
        out.append(contentsOf: keys[2])
        appendJSONString(record.dimension, to: &out)
        out.append(contentsOf: keys[3])
        appendJSONString(record.value, to: &out)
        out.append(contentsOf: keys[4])
        appendDecimal(record.hits, to: &out)
        out.append(contentsOf: keys[5])
        appendDecimal(record.bytes, to: &out)
        out.append(contentsOf: keys[6])
        appendDecimal(record.status4xx, to: &out)
        out.append(contentsOf: keys[7])
        appendDecimal(record.status5xx, to: &out)
        out.append(contentsOf: keys[8])
        appendDecimal(record.uniques, to: &out)
        out.append(OutputByte.closeBrace)
        out.append(OutputByte.newline)
    }

    /// `"name":` for each contract column, with the `,` that separates it from the previous member.
    private static let jsonKeys: [[UInt8]] = WebTrendRecord.columns.enumerated().map { index, name in
        Array(((index == 0 ? "" : ",") + "\"\(name)\":").utf8)
    }

    /// Appends `text` as a JSON string literal, quotes included.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        withUTF8(text) { appendJSONString(utf8: $0, to: &out) }
    }

    /// Appends bytes as a JSON string literal, quotes included (see `JSONText.appendString`).
    static func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        JSONText.appendString(UnsafeRawBufferPointer(bytes), to: &out)
    }

    // MARK: - Shared helpers

    /// Appends `value` in decimal ASCII (see `JSONText.appendDecimal`).
    static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        JSONText.appendDecimal(value, to: &out)
    }

    /// Runs `body` over the UTF-8 bytes of `text` without copying them when the string is native.
    private static func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }
}

/// `web_trends.csv` or `.jsonl` (or `call_trends.csv` or `.jsonl`), written batch by batch under a temporary name beside the target and
/// flushed by `finish()`, for the caller to put in place (`AtomicFile.Prepared.commit()`): a run writes each
/// bucket's rows as its final pass gives them, so that they are never all held at once. Lines are buffered
/// and written about a megabyte at a time. A file neither finished nor committed is removed by `discard()`
/// (or, after a crash, by `OutputLock.removeLeftovers`).
final class StreamedTrendFile {
    enum Format {
        case csv
        case jsonLines
    }

    /// Whose rows the file holds: `web_trends`' or `call_trends`'.
    enum Table {
        case web
        case calls
    }

    let path: String
    let format: Format
    let table: Table
    private let temporary: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var bucketStart = BucketStartText()
    static let flushBytes = 1 << 20

    /// Creates the temporary file (`mode`, 0644 by default, less the umask: a partial output's is 0600 from the
    /// start, as its rows are below the publication threshold); a CSV file starts with its header.
    init(path: String, format: Format, table: Table = .web, mode: mode_t = 0o644) throws(OutputError) {
        self.path = path
        self.format = format
        self.table = table
        temporary = AtomicFile.temporaryPath(for: path)
        AtomicFile.removeQuietly(temporary)
        descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw OutputError(path: path, message: "cannot create temporary file: \(AtomicFile.systemReason(errno))")
        }
        if format == .csv { buffer = table == .web ? TrendWriters.csvHeader : CallTrendWriters.csvHeader }
        buffer.reserveCapacity(Self.flushBytes + (64 << 10))
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            AtomicFile.removeQuietly(temporary)
        }
    }

    /// Appends `records`, in order.
    func append(_ records: [WebTrendRecord]) throws(OutputError) {
        precondition(table == .web, "web rows go to a web_trends file")
        for record in records {
            switch format {
            case .csv: TrendWriters.appendCSVLine(record, bucketStart: &bucketStart, to: &buffer)
            case .jsonLines: TrendWriters.appendJSONLine(record, bucketStart: &bucketStart, to: &buffer)
            }
            if buffer.count >= Self.flushBytes { try writeBuffer() }
        }
    }

    /// Appends call `records`, in order.
    func append(_ records: [CallTrendRecord]) throws(OutputError) {
        precondition(table == .calls, "call rows go to a call_trends file")
        for record in records {
            switch format {
            case .csv: CallTrendWriters.appendCSVLine(record, bucketStart: &bucketStart, to: &buffer)
            case .jsonLines: CallTrendWriters.appendJSONLine(record, bucketStart: &bucketStart, to: &buffer)
            }
            if buffer.count >= Self.flushBytes { try writeBuffer() }
        }
    }

    /// Writes what is buffered, flushes the file to disk and closes it: ready to be committed.
    func finish() throws(OutputError) -> AtomicFile.Prepared {
        do throws(OutputError) {
            try writeBuffer()
            if fsync(descriptor) != 0 {
                throw OutputError(path: path, message: "cannot flush: \(AtomicFile.systemReason(errno))")
            }
        } catch {
            discard()
            throw error
        }
        let closed = close(descriptor)
        descriptor = -1
        guard closed == 0 else {
            AtomicFile.removeQuietly(temporary)
            throw OutputError(path: path, message: "cannot write: \(AtomicFile.systemReason(errno))")
        }
        return AtomicFile.Prepared(temporary: temporary, path: path)
    }

    /// Closes and removes the temporary file.
    func discard() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        AtomicFile.removeQuietly(temporary)
    }

    private func writeBuffer() throws(OutputError) {
        try writeAll(descriptor, buffer, path: path)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// The ISO-8601 text of a bucket start, computed once per distinct start: rows arrive sorted, so consecutive
/// rows mostly share it.
struct BucketStartText {
    private var start: Int64? = nil
    private var cachedText = ""
    private var cachedBytes: [UInt8] = []

    mutating func text(for epochSeconds: Int64) -> String {
        refresh(epochSeconds)
        return cachedText
    }

    mutating func bytes(for epochSeconds: Int64) -> [UInt8] {
        refresh(epochSeconds)
        return cachedBytes
    }

    private mutating func refresh(_ epochSeconds: Int64) {
        guard start != epochSeconds else { return }
        start = epochSeconds
        cachedText = CivilTime.iso8601(epochSeconds)
        cachedBytes = Array(cachedText.utf8)
    }
}

/// The ASCII bytes the writers emit, by name.
private enum OutputByte {
    static let comma = UInt8(ascii: ",")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let newline = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let zero = UInt8(ascii: "0")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
}
