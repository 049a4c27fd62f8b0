import CrumbCore
import GRDB
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file a SQLite output (`state.db`, `crumb.db`) is built in, under its temporary name (`AtomicFile`).
enum SQLiteFile {
    /// Creates `temporary` empty with `mode`, so that a restrictive mode holds before any row is written, then
    /// runs `build`, which fills it through SQLite (and closes its connection), with the file's writeback started
    /// as it grows (`EarlyWriteback`); removes any rollback journal SQLite left beside it, even when `build` throws.
    ///
    /// - Throws: `OutputError` naming `path` when the file cannot be created; whatever `build` throws.
    static func build(at temporary: String, mode: mode_t, reportingAs path: String, _ build: () throws -> Void) throws {
        // The journal lives in memory or nowhere, but one left by a crash mid-build must not linger.
        defer { AtomicFile.removeQuietly(temporary + "-journal") }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw OutputError(path: path, message: "cannot create temporary file") }
        fchmod(descriptor, mode)
        close(descriptor)
        // Stopped after `build` has closed SQLite's connection (see `EarlyWriteback`), before the file is flushed.
        let writeback = EarlyWriteback(path: temporary)
        defer { writeback?.stop() }
        try build()
    }
}

/// A prepared INSERT bound through SQLite's C API: no per-row argument array, no boxing. The trend writers
/// insert hundreds of thousands of rows; through `Statement.execute(arguments:)` that cost about 12 µs a
/// row, through this about 1.
///
/// Valid while the `Statement` it was made from (kept here) and its database connection are.
struct SQLiteRowInserter {
    private let statement: Statement
    private var handle: SQLiteStatement { statement.sqliteStatement }
    /// SQLite copies the bytes before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    /// SQLite reads the bytes where they are, when the statement runs: they must stay put until then.
    private static let unchanging = unsafeBitCast(0, to: sqlite3_destructor_type.self)

    init(_ db: Database, sql: String) throws {
        statement = try db.makeStatement(sql: sql)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bind(index, UnsafeRawBufferPointer($0), isText: true) }
    }

    /// Binds text given as bytes, read as UTF-8 as `withText` reads them.
    func bind(_ index: Int32, text bytes: UnsafeRawBufferPointer) {
        Self.withText(bytes) { bind(index, $0, isText: true) }
    }

    /// Binds a blob; an empty one is an empty blob, never NULL.
    func bind(_ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { bind(index, $0, isText: false) }
    }

    /// Binds a blob; an empty one is an empty blob, never NULL.
    func bind(_ index: Int32, blob: UnsafeRawBufferPointer) {
        bind(index, blob, isText: false)
    }

    /// Binds `bytes` as text (`isText`, valid UTF-8) or as a blob; empty ones as empty text or an empty blob, never
    /// NULL. SQLite copies them, unless `inPlace`: then it reads them where they are when the statement runs, and
    /// the caller keeps them unchanged and allocated until then (`BindingArena`).
    func bind(_ index: Int32, _ bytes: UnsafeRawBufferPointer, isText: Bool, inPlace: Bool = false) {
        let destructor = inPlace ? Self.unchanging : Self.transient
        switch (isText, bytes.baseAddress) {
        case (true, let base?) where !bytes.isEmpty:
            _ = sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), destructor)
        case (true, _):
            _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
        case (false, let base?) where !bytes.isEmpty:
            _ = sqlite3_bind_blob(handle, index, base, Int32(bytes.count), destructor)
        case (false, _):
            sqlite3_bind_zeroblob(handle, index, 0)
        }
    }

    /// Calls `body` with `bytes` read as UTF-8 as `String(decoding:as:)` reads them: ASCII as it is, without
    /// making a `String`; anything else through one, so that invalid UTF-8 is repaired the same way.
    static func withText(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard ASCII.isASCII(bytes) else {
            var text = String(decoding: bytes, as: UTF8.self)
            text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
            return
        }
        body(bytes)
    }

    func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Runs the insert with the values bound, then resets it for the next row.
    func step(_ db: Database) throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}

/// An INSERT of many rows per statement: rows are bound `rowsPerStep` at a time and go in with one
/// `sqlite3_step`, which spares SQLite most of its per-statement work for each row (a state of 350,000 rows
/// spent more in starting statements than in its B-tree). The statement selects from a `VALUES` list of
/// `rowsPerStep` rows, dropping those whose first column is NULL, so a last, partial batch runs with the rest of
/// its rows unbound; rows go in in the order they were bound.
///
/// Bind a row's columns with `bind` and the column's number (1-based, as in the table), then `endRow`; `finish`
/// inserts what is left.
struct SQLiteBatchInserter {
    let columns: Int32
    let rowsPerStep: Int32
    private let inserter: SQLiteRowInserter
    private var row: Int32 = 0
    /// The text and blobs bound since the last step, held for SQLite to read in place: copying them here costs
    /// less than SQLite's own copy of each (an allocation, under its memory mutex, and a free).
    private let arena = BindingArena(capacity: BindingArena.defaultCapacity)

    /// Every column of `table`, in its order; the first is never NULL in a real row.
    init(_ db: Database, table: String, columns: Int, rowsPerStep: Int = 32) throws {
        self.columns = Int32(columns)
        self.rowsPerStep = Int32(rowsPerStep)
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        let values = Array(repeating: tuple, count: rowsPerStep).joined(separator: ", ")
        inserter = try SQLiteRowInserter(db, sql: "INSERT INTO \(table) SELECT * FROM (VALUES \(values)) WHERE column1 IS NOT NULL")
    }

    /// The parameter of `column` in the current row.
    private func parameter(_ column: Int32) -> Int32 { row * columns + column }

    func bind(_ column: Int32, _ value: Int64) { inserter.bind(parameter(column), value) }

    func bind(_ column: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bindBytes(column, UnsafeRawBufferPointer($0), isText: true) }
    }

    /// Binds text given as bytes, read as UTF-8 as `SQLiteRowInserter.withText` reads them.
    func bind(_ column: Int32, text: UnsafeRawBufferPointer) {
        SQLiteRowInserter.withText(text) { bindBytes(column, $0, isText: true) }
    }

    func bind(_ column: Int32, blob: UnsafeRawBufferPointer) { bindBytes(column, blob, isText: false) }
    func bind(_ column: Int32, blob: [UInt8]) { blob.withUnsafeBytes { bindBytes(column, $0, isText: false) } }

    /// Binds a copy in the arena for SQLite to read in place or, when the arena has no room left, lets SQLite copy.
    private func bindBytes(_ column: Int32, _ bytes: UnsafeRawBufferPointer, isText: Bool) {
        if let copy = arena.copy(bytes) {
            inserter.bind(parameter(column), copy, isText: isText, inPlace: true)
        } else {
            inserter.bind(parameter(column), bytes, isText: isText)
        }
    }

    /// Ends the current row; inserts the batch when it is full.
    mutating func endRow(_ db: Database) throws {
        row += 1
        if row == rowsPerStep {
            defer { arena.removeAll() }
            try inserter.step(db)
            row = 0
        }
    }

    /// Inserts the rows bound since the last full batch.
    mutating func finish(_ db: Database) throws {
        guard row > 0 else { return }
        // The rows after the last bound one are left out by the statement's WHERE.
        for unused in row..<rowsPerStep { inserter.bindNull(unused * columns + 1) }
        defer { arena.removeAll() }
        try inserter.step(db)
        row = 0
    }
}

/// Bytes copied for SQLite to read in place (`SQLiteBatchInserter`): one fixed block, filled from the start and
/// emptied after each step. It never moves, so what was bound stays where SQLite was told it is; what does not
/// fit is not copied here.
final class BindingArena {
    /// Room for a batch of 32 typical rows several times over; a larger value (a dense sketch) goes to SQLite's copy.
    static let defaultCapacity = 256 * 1024

    private let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// A copy of `bytes` in the arena, or nil when it has no room for them.
    func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard bytes.count <= capacity - used, let source = bytes.baseAddress else { return nil }
        let target = base + used
        target.copyMemory(from: source, byteCount: bytes.count)
        used += bytes.count
        return UnsafeRawBufferPointer(start: target, count: bytes.count)
    }

    /// Empties the arena: what was copied may be overwritten.
    func removeAll() { used = 0 }
}
