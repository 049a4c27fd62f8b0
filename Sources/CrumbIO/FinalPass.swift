import CrumbCore
import Foundation
import GRDB

/// A saved state whose rows a final pass merges in: a run's previous state, or an output `crumb merge`
/// combines.
struct SavedState: Sendable {
    let path: String
    /// Whether its web rows, and its call rows, are stored in bucket order (`RunState.webRowsInBucketOrder`,
    /// `callRowsInBucketOrder`): read as stored, else sorted by SQLite.
    var webInBucketOrder = false
    var callsInBucketOrder = false
}

extension SavedState {
    /// The state at `path`, loaded as `state` (its meta): how its rows are stored.
    init(path: String, _ state: RunState) {
        self.init(path: path, webInBucketOrder: state.webRowsInBucketOrder, callsInBucketOrder: state.callRowsInBucketOrder)
    }
}

/// The end of a batch run (or of `crumb merge`) for web trends: the saved states' rows and this run's rows
/// (all in the spill by then), merged one bucket at a time in bucket order. Only one bucket's rows are in
/// memory at once, so the end of a run is as flat as its processing, however many months the states hold.
///
/// Each bucket's rows are merged exactly (counts add, sketches merge), then given twice: unfolded for
/// `state.db`, and as the bucket's published records (k-anonymity applied, sorted) for `crumb.db`. Values
/// stay interned from one bucket to the next, so a dimension's value cap holds across buckets as it does in
/// one aggregator.
struct WebFinalPass {
    /// This run's rows, or nil (a merge).
    let spill: WebSpillFile?
    /// The saved states whose web rows are merged in, in order; none on a fresh run.
    var saved: [SavedState] = []
    let bucket: TimeBucket
    let valueCap: Int
    let minCount: Int
    /// Events counted under `(other)` before this pass, per dimension: the saved states' and the processors'.
    var capped: [WebDimension: Int64] = [:]
    /// Dimensions whose saved values are interned before any bucket is merged (`savedValuesGoFirst`), state by
    /// state, so that a value cap reached in this pass leaves the values the states hold their own rows.
    var savedValuesFirst: [WebDimension] = []

    /// Runs the pass. `stateRow` gets every merged row before k-anonymity, `published` each bucket's records;
    /// both in bucket order. Returns the capped dimensions and the value counts by name
    /// (`WebAggregator.cappedDimensions`, `valueCounts`).
    ///
    /// - Throws: `StateError` when a saved row does not decode, `OutputError` when the spill cannot be read
    ///   back, and whatever the callbacks throw.
    func run(stateRow: (WebAggregator.RowView) throws -> Void,
             published: ([WebTrendRecord]) throws -> Void) throws -> PassSummary {
        var merged = WebAggregator(bucket: bucket, valueCap: valueCap)
        for (dimension, count) in capped { merged.addCappedEvents(dimension, count) }
        try withDatabases(saved.map(\.path)) { databases in
            try forEachSavedValue(in: zip(saved, databases), table: "web_state", named: savedValuesFirst.isEmpty ? nil : {
                WebDimension(name: $0).flatMap { savedValuesFirst.contains($0) ? $0 : nil }
            }) { dimension, value in _ = merged.valueID(dimension, value) }
            // SQLite sorts with bounded memory, spilling to temporary files when a state is large.
            var cursors = try zip(saved, databases).map { state, db in
                try readingState(state.path) {
                    let cursor = try Row.fetchCursor(db, sql: """
                        SELECT bucket_start, dimension, value, hits, bytes, status_4xx, status_5xx, sketch FROM web_state
                        """ + (state.webInBucketOrder ? "" : " ORDER BY bucket_start"))
                    return SavedRows(cursor: cursor, path: state.path, pending: try cursor.next().map(SavedRow.init))
                }
            }
            var readBuffer: [UInt8] = []
            try forEachBucket(spilled: spill?.bucketStarts ?? [], saved: { cursors.compactMap(\.pending?.bucketStart).min() }) {
                start, spilled in
                for index in cursors.indices { try cursors[index].absorb(bucket: start, into: &merged) }
                if spilled, let spill {
                    try spill.forEachRow(bucket: start, buffer: &readBuffer) { row in
                        do throws(SketchDecodingError) {
                            try merged.absorb(row)
                        } catch {
                            throw spill.damaged(error)
                        }
                    }
                }
                try published(merged.drainAll(minCount: minCount, stateRow))
            }
        }
        return PassSummary(capped: merged.cappedDimensions, valueCounts: merged.valueCounts)
    }
}

/// Whether a final pass must intern a dimension's saved values before merging any bucket: when the values
/// merged (each count with `(other)` included; nil when a state does not say, taken as the cap) could together
/// pass `cap`. Then the values the saved states hold keep their own rows, as when their rows were all read
/// first, state by state, and only values that come later can fold into `(other)`. Costs one reading of the
/// saved rows, so it is done only then.
///
/// - Parameters:
///   - runValues: this run's values (a merge: 0).
///   - savedValues: each saved state's values.
func savedValuesGoFirst(runValues: Int, savedValues: [Int?], cap: Int) -> Bool {
    let counts = savedValues.map { $0 ?? cap } + (runValues > 0 ? [runValues] : [])
    return counts.count > 1 && counts.reduce(0, +) - (counts.count - 1) > cap
}

/// Calls `body` with each saved value of the dimensions `named` accepts (it gives the dimension of a stored
/// name, nil to skip it), state by state in the order stored: one reading of each state's `table`. With no
/// `named`, reads nothing.
private func forEachSavedValue<Dimension>(in states: Zip2Sequence<[SavedState], [Database]>, table: String,
                                          named: ((String) -> Dimension?)?,
                                          _ body: (Dimension, String) -> Void) throws {
    guard let named else { return }
    for (state, db) in states {
        try readingState(state.path) {
            let values = try Row.fetchCursor(db, sql: "SELECT dimension, value FROM \(table)")
            while let row = try values.next() {
                if let dimension = named(row[0]) { body(dimension, row[1]) }
            }
        }
    }
}

/// Opens each saved state read-only and calls `body` with their connections, all open at once (GRDB allows a
/// connection's use inside another's access).
private func withDatabases(_ paths: [String], _ body: ([Database]) throws -> Void) throws {
    func open(_ index: Int, _ opened: [Database]) throws {
        guard index < paths.count else { return try body(opened) }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try readingState(paths[index]) { try DatabaseQueue(path: paths[index], configuration: configuration) }
        defer { try? queue.close() }
        // Errors of the states opened inside are theirs already (`StateError`); a SQLite error here is this one's.
        try readingState(paths[index]) { try queue.read { db in try open(index + 1, opened + [db]) } }
    }
    try open(0, [])
}

/// Runs `body`, which reads the saved state at `path`: a SQLite error becomes a `StateError` naming the file
/// (SQLite's message, never a row).
private func readingState<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DatabaseError {
        throw StateError(path: path, message: "cannot read: SQLite: \(error.message ?? "error \(error.extendedResultCode.rawValue)")")
    }
}

/// `readingState` for `body` reading the state's rows: a row that does not decode, or that breaks the bucket
/// order, becomes the state's `RunState.damaged` error too (its reason, never its bytes).
private func readingRows(_ path: String, _ body: () throws -> Void) throws {
    do {
        try readingState(path, body)
    } catch let error as SketchDecodingError {
        throw RunState.damaged(path: path, error)
    }
}

/// Calls `body` with the start of every bucket a final pass merges, ascending: those of the spill (`spilled`,
/// ascending) and those of the saved rows, whose next bucket `saved` gives (nil once none is left; `body`
/// takes that bucket's rows), each once, saying whether the spill has rows in it.
private func forEachBucket(spilled: [Int64], saved: () -> Int64?, _ body: (Int64, Bool) throws -> Void) throws {
    var nextSpilled = 0
    while true {
        let savedStart = saved()
        let spilledStart = nextSpilled < spilled.count ? spilled[nextSpilled] : nil
        guard let start = [savedStart, spilledStart].compactMap({ $0 }).min() else { break }
        if spilledStart == start { nextSpilled += 1 }
        try body(start, spilledStart == start)
    }
}

/// The end of a batch run (or of `crumb merge`) for call trends, as `WebFinalPass` for web trends: the saved
/// states' call rows and this run's (all in the spill by then), merged one bucket at a time in bucket order,
/// each bucket given unfolded for `state.db` and as its published records for `crumb.db`.
struct CallFinalPass {
    /// This run's rows, or nil (a merge).
    let spill: CallSpillFile?
    /// The saved states whose call rows are merged in, in order; none on a fresh run.
    var saved: [SavedState] = []
    let bucket: TimeBucket
    let valueCap: Int
    let minCount: Int
    /// Calls counted under `(other)` before this pass, per dimension: the saved states' and the processors'.
    var capped: [CallDimension: Int64] = [:]
    /// Dimensions whose saved values are interned before any bucket is merged, as `WebFinalPass`'s.
    var savedValuesFirst: [CallDimension] = []

    /// Runs the pass. `stateRecords` gets each bucket's merged rows as stored records (`storedRecords`),
    /// `published` its published records (sorted); both in bucket order. Returns the capped dimensions and the
    /// value counts by name (`CallAggregator.cappedDimensions`, `valueCounts`).
    ///
    /// - Throws: `StateError` when a saved row does not decode, `OutputError` when the spill cannot be read
    ///   back, and whatever the callbacks throw.
    func run(stateRecords: ([CallTrendRecord]) throws -> Void,
             published: ([CallTrendRecord]) throws -> Void) throws -> PassSummary {
        var merged = CallAggregator(bucket: bucket, valueCap: valueCap)
        for (dimension, count) in capped { merged.addCappedEvents(dimension, count) }
        try withDatabases(saved.map(\.path)) { databases in
            try forEachSavedValue(in: zip(saved, databases), table: "call_state", named: savedValuesFirst.isEmpty ? nil : {
                CallDimension(name: $0).flatMap { savedValuesFirst.contains($0) ? $0 : nil }
            }) { dimension, value in _ = merged.valueID(dimension, value) }
            var cursors = try zip(saved, databases).map { state, db in
                try readingState(state.path) {
                    let cursor = try Row.fetchCursor(db, sql: """
                        SELECT bucket_start, dimension, value, calls, answered, talk_seconds, sketch, talk_histogram FROM call_state
                        """ + (state.callsInBucketOrder ? "" : " ORDER BY bucket_start"))
                    return SavedCallRows(cursor: cursor, path: state.path, bucket: bucket,
                                         pending: try cursor.next().map { Self.record($0, bucket) })
                }
            }
            var readBuffer: [UInt8] = []
            try forEachBucket(spilled: spill?.bucketStarts ?? [], saved: { cursors.compactMap(\.pending?.bucketStart).min() }) {
                start, spilled in
                for index in cursors.indices { try cursors[index].absorb(bucket: start, into: &merged) }
                if spilled, let spill {
                    for record in try spill.records(bucket: start, buffer: &readBuffer) {
                        do throws(SketchDecodingError) {
                            try merged.absorb(record)
                        } catch {
                            throw spill.damaged(error)
                        }
                    }
                }
                try stateRecords(merged.storedRecords { _ in true })
                try published(merged.drain(bucketsBefore: .max, minCount: minCount))
            }
        }
        return PassSummary(capped: merged.cappedDimensions, valueCounts: merged.valueCounts)
    }

    /// A saved call row as a record (its estimate and percentiles are not stored: absorbing recomputes them).
    fileprivate static func record(_ row: Row, _ bucket: TimeBucket) -> CallTrendRecord {
        let sketch: Data = row[6] ?? Data()
        let histogram: Data = row[7] ?? Data()
        return CallTrendRecord(bucketStart: row[0], bucket: bucket, dimension: row[1], value: row[2], calls: row[3],
                               answered: row[4], callers: 0, talkSeconds: row[5], talkP50: 0, talkP95: 0,
                               sketch: Array(sketch), talkHistogram: Array(histogram))
    }
}

/// One saved state's call rows, in bucket order, read one bucket at a time.
private struct SavedCallRows {
    let cursor: RowCursor
    let path: String
    let bucket: TimeBucket
    var pending: CallTrendRecord?

    /// Absorbs the saved rows of the bucket starting at `start` (the next ones, in bucket order).
    ///
    /// - Throws: `StateError` naming the state when a row does not decode or breaks the bucket order.
    mutating func absorb(bucket start: Int64, into merged: inout CallAggregator) throws {
        try readingRows(path) {
            while let record = pending, record.bucketStart <= start {
                // Rows said to be in bucket order that are not would count a bucket twice.
                guard record.bucketStart == start else { throw SketchDecodingError(reason: "rows_out_of_bucket_order") }
                try merged.absorb(record)
                pending = try cursor.next().map { CallFinalPass.record($0, bucket) }
            }
        }
    }
}

/// One saved row, copied out of the cursor (whose rows are reused from one step to the next).
private struct SavedRow {
    var bucketStart: Int64
    var dimension: String
    var value: String
    var hits: Int64, bytes: Int64, status4xx: Int64, status5xx: Int64
    var sketch: Data

    init(_ row: Row) {
        bucketStart = row[0]
        dimension = row[1]
        value = row[2]
        hits = row[3]
        bytes = row[4]
        status4xx = row[5]
        status5xx = row[6]
        sketch = row[7] ?? Data()
    }
}

/// One saved state's web rows, in bucket order, read one bucket at a time.
private struct SavedRows {
    let cursor: RowCursor
    let path: String
    var pending: SavedRow?

    /// Absorbs the saved rows of the bucket starting at `start` (the next ones, in bucket order).
    ///
    /// - Throws: `StateError` naming the state when a row does not decode or breaks the bucket order.
    mutating func absorb(bucket start: Int64, into merged: inout WebAggregator) throws {
        try readingRows(path) {
            while let row = pending, row.bucketStart <= start {
                // Rows said to be in bucket order that are not would count a bucket twice.
                guard row.bucketStart == start else { throw SketchDecodingError(reason: "rows_out_of_bucket_order") }
                guard let dimension = WebDimension(name: row.dimension) else {
                    throw SketchDecodingError(reason: "unknown_dimension")
                }
                var value = row.value
                try value.withUTF8 { value in
                    try row.sketch.withUnsafeBytes { sketch in
                        try merged.absorb(WebAggregator.RowView(
                            bucketStart: start, dimension: dimension, valueBytes: UnsafeRawBufferPointer(value), hits: row.hits,
                            bytes: row.bytes, status4xx: row.status4xx, status5xx: row.status5xx, sketchBytes: sketch))
                    }
                }
                pending = try cursor.next().map(SavedRow.init)
            }
        }
    }
}

/// Batches handed from one thread to another through a bounded queue: the final pass gives each bucket's
/// published records to the thread that builds `crumb.db`, which it waits for only when `depth` batches are
/// queued.
final class BatchChannel<Element: Sendable>: @unchecked Sendable {
    // `queue`, `finished` and `abandoned` are touched only under `condition`.
    private let condition = NSCondition()
    private var queue: [Element] = []
    private var finished = false
    private var abandoned = false
    let depth: Int

    init(depth: Int) {
        precondition(depth > 0, "a channel holds at least one batch")
        self.depth = depth
    }

    /// Queues `batch`, waiting while the queue is full; drops it once the receiver has abandoned the channel.
    func send(_ batch: Element) {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= depth, !abandoned { condition.wait() }
        guard !abandoned else { return }
        queue.append(batch)
        condition.broadcast()
    }

    /// No more batches: the receiver's `next()` returns nil once the queue is empty. Safe to call twice.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, waiting for one; nil once the sender has finished and every batch is taken.
    func next() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty, !finished { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    /// The receiver stops taking batches (it failed): queued and later batches are dropped, and the sender
    /// never waits again.
    func abandon() {
        condition.lock()
        abandoned = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
