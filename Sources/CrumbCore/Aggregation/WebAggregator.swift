/// The web trend dimensions, in output order. Every event is counted once in each.
public enum WebDimension: Int, Sendable, CaseIterable {
    /// One row per bucket: the bucket's totals and unique visitors. Value `all`.
    case total
    case path
    case referrerHost
    case uaFamily
    case uaVersion
    case os
    case device
    case agentClass
    case statusClass
    /// The `utm_campaign` query parameter, when the policy allows it.
    case campaign
    /// The event a beacon or tracking pixel reports (`page_view`, `click`); `(request)` for a plain request.
    case event

    /// The name in the `dimension` column (output contract, schema v1).
    public var name: String {
        switch self {
        case .total: "total"
        case .path: "path"
        case .referrerHost: "referrer_host"
        case .uaFamily: "ua_family"
        case .uaVersion: "ua_version"
        case .os: "os"
        case .device: "device"
        case .agentClass: "agent_class"
        case .statusClass: "status_class"
        case .campaign: "campaign"
        case .event: "event"
        }
    }
}

/// Web trends under construction: per (time bucket, dimension, value) hits, bytes, 4xx, 5xx and a visitor
/// sketch.
///
/// Values are interned per dimension; a row is found through one integer-keyed table lookup, so the hot path
/// makes no `String` and no allocation for a value seen before. Each worker owns one aggregator; workers'
/// aggregators are combined with `merge(_:)`, which is exact (sketches merge register by register).
public struct WebAggregator: Sendable {
    public let bucket: TimeBucket

    private var values: [ByteInterner]
    private var index = RowIndex()
    private var buckets: BucketIndex
    /// Per dimension, by value id: the bucket ordinal and index of the value's latest row found
    /// (`ordinal << 32 | row`), or `noLatestRow`. Logs come mostly in time order, so nearly every row an event
    /// needs is its value's latest, found here by two array indexes instead of a hashed lookup in `index`.
    private var latestRows: [[UInt64]]
    /// No row found yet for this value (no bucket has ordinal 2^32 - 1).
    private static let noLatestRow = UInt64.max

    /// Each row's key (bucket ordinal, dimension, value), read only when rows are listed or merged.
    private var rowKeys: [UInt64] = []
    /// A row's counts and visitor sketch, kept together: an event updates them with one array access.
    struct Row: Sendable {
        var sketch = HyperLogLog()
        var hits: Int64 = 0
        var bytes: Int64 = 0
        var clientErrors: Int64 = 0
        var serverErrors: Int64 = 0

        /// Counts one event, and its visitor when given.
        @inline(__always)
        mutating func add(bytes: Int64, status: Int, visitor: UInt64?) {
            hits &+= 1
            self.bytes &+= bytes
            if status >= 400 {
                if status < 500 { clientErrors &+= 1 } else if status < 600 { serverErrors &+= 1 }
            }
            if let visitor { sketch.insert(hash: visitor) }
        }

        /// Adds `other`'s counts and merges its sketch.
        mutating func merge(_ other: Row) {
            hits &+= other.hits
            bytes &+= other.bytes
            clientErrors &+= other.clientErrors
            serverErrors &+= other.serverErrors
            sketch.merge(other.sketch)
        }
    }
    private var rows: [Row] = []
    /// Emptied arrays with room for rows, for `removeRows` to rebuild into.
    private var spareRows: [Row] = []
    private var spareRowKeys: [UInt64] = []

    /// The most distinct values kept per dimension (across buckets), `(other)` included. Past it, new values
    /// count under `(other)`: memory is bounded by this cap, not by the input's size.
    public let valueCap: Int
    /// The default `valueCap`: room for every path of a large site, a few hundred MB at most.
    public static let defaultValueCap = 100_000
    /// Per dimension, the events counted under `(other)` once the dimension had reached `valueCap`.
    public private(set) var cappedEvents: [Int64]

    public init(bucket: TimeBucket, valueCap: Int = WebAggregator.defaultValueCap) {
        self.bucket = bucket
        // The row key holds at most 2^27 values per dimension (`RowKey.valueBits`).
        self.valueCap = min(max(valueCap, 2), 1 << Int(RowKey.valueBits))
        buckets = BucketIndex(bucket: bucket)
        cappedEvents = Array(repeating: 0, count: WebDimension.allCases.count)
        latestRows = Array(repeating: [], count: WebDimension.allCases.count)
        values = WebDimension.allCases.map { _ in
            var interner = ByteInterner()
            _ = interner.intern(Self.otherValue)
            return interner
        }
    }

    /// Number of rows so far.
    public var rowCount: Int { rows.count }

    /// The id of `bytes` as a value of `dimension`. Once the dimension holds `valueCap` values, a new value
    /// gets the id of `(other)` (and is counted in `cappedEvents`).
    @inline(__always)
    public mutating func valueID(_ dimension: WebDimension, _ bytes: UnsafeRawBufferPointer) -> Int {
        values[dimension.rawValue].intern(bytes, limit: valueCap) ?? Self.otherID
    }

    /// The id of `text` as a value of `dimension`.
    public mutating func valueID(_ dimension: WebDimension, _ text: String) -> Int {
        var copy = text
        return copy.withUTF8 { valueID(dimension, UnsafeRawBufferPointer($0)) }
    }

    /// The distinct values of `dimension` interned so far, `(other)` included (at most `valueCap`).
    public func valueCount(_ dimension: WebDimension) -> Int { values[dimension.rawValue].count }

    /// The values counted per dimension, by name (`valueCount`).
    public var valueCounts: [String: Int] {
        Dictionary(uniqueKeysWithValues: WebDimension.allCases.map { ($0.name, valueCount($0)) })
    }

    /// Every dimension's first value, `(other)`: where capped values and k-anonymity folds go.
    static let otherID = 0

    /// The dimensions that reached `valueCap`, by name, with the events counted under `(other)` for it.
    public var cappedDimensions: [String: Int64] {
        var result: [String: Int64] = [:]
        for dimension in WebDimension.allCases where cappedEvents[dimension.rawValue] > 0 {
            result[dimension.name] = cappedEvents[dimension.rawValue]
        }
        return result
    }

    /// Adds `count` capped events of `dimension` (from a saved state).
    public mutating func addCappedEvents(_ dimension: WebDimension, _ count: Int64) {
        cappedEvents[dimension.rawValue] &+= count
    }

    /// Calls `body` with the bytes of value `id` of `dimension`.
    public func withValueBytes<R>(_ dimension: WebDimension, _ id: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try values[dimension.rawValue].withBytes(of: id, body)
    }

    /// The ordinal of the bucket holding `time` (epoch seconds UTC). Logs are mostly in time order, so the
    /// last bucket is checked first.
    @inline(__always)
    public mutating func bucketOrdinal(for time: Int64) -> Int {
        buckets.ordinal(for: time)
    }

    /// Counts one event in one (bucket, dimension, value) row: `add(bucket:rows:...)` with one row.
    public mutating func add(
        bucket ordinal: Int, _ dimension: WebDimension, value: Int,
        bytes: Int64, status: Int, visitor: UInt64?
    ) {
        var row = EventRow(dimension: dimension, value: value, countsVisitor: true)
        withUnsafeMutablePointer(to: &row) {
            add(bucket: ordinal, rows: UnsafeMutableBufferPointer(start: $0, count: 1), bytes: bytes, status: status,
                visitor: visitor)
        }
    }

    /// One of an event's rows, for `add(bucket:rows:bytes:status:visitor:)`.
    public struct EventRow: Sendable {
        public var dimension: WebDimension
        public var value: Int
        /// Whether the event's visitor goes into the row's sketch.
        public var countsVisitor: Bool
        /// The row's index, found by `add`.
        var row = 0

        public init(dimension: WebDimension, value: Int, countsVisitor: Bool) {
            self.dimension = dimension
            self.value = value
            self.countsVisitor = countsVisitor
        }
    }

    /// Counts one event in each of `rows` (all of bucket `ordinal`), with the same result as
    /// `add(bucket:_:value:bytes:status:visitor:)` for each in turn. The work is ordered so that the memory it
    /// waits for is asked for together: every row is found first, then the sketch register each visitor
    /// insert raises is fetched (`HyperLogLog.prefetch(hash:)`), then the rows are counted.
    @inline(__always)
    public mutating func add(
        bucket ordinal: Int, rows events: UnsafeMutableBufferPointer<EventRow>, bytes: Int64, status: Int, visitor: UInt64?
    ) {
        for index in events.indices {
            events[index].row = row(ordinal: ordinal, dimension: events[index].dimension, value: events[index].value)
        }
        rows.withUnsafeMutableBufferPointer { rows in
            if let visitor {
                for event in events where event.countsVisitor { rows[event.row].sketch.prefetch(hash: visitor) }
            }
            for event in events {
                rows[event.row].add(bytes: bytes, status: status, visitor: event.countsVisitor ? visitor : nil)
            }
        }
        for event in events where event.value == Self.otherID {
            if values[event.dimension.rawValue].count >= valueCap { cappedEvents[event.dimension.rawValue] &+= 1 }
        }
    }

    private mutating func row(ordinal: Int, dimension: WebDimension, value: Int) -> Int {
        if value < latestRows[dimension.rawValue].count {
            let latest = latestRows[dimension.rawValue][value]
            if latest >> 32 == UInt64(ordinal) { return Int(truncatingIfNeeded: latest & 0xFFFF_FFFF) }
        } else {
            let missing = max(value + 1, values[dimension.rawValue].count) - latestRows[dimension.rawValue].count
            latestRows[dimension.rawValue].append(contentsOf: repeatElement(Self.noLatestRow, count: missing))
        }
        let key = RowKey.make(ordinal: ordinal, dimension: dimension.rawValue, value: value)
        let next = rows.count
        let row = index.row(for: key) { next }
        latestRows[dimension.rawValue][value] = UInt64(ordinal) << 32 | UInt64(row)
        if row == next {
            rowKeys.append(key)
            rows.append(Row())
            if ordinal >= ordinalIsOpen.count {
                ordinalIsOpen.append(contentsOf: repeatElement(false, count: ordinal + 1 - ordinalIsOpen.count))
            }
            if !ordinalIsOpen[ordinal] {
                ordinalIsOpen[ordinal] = true
                openOrdinals.append(ordinal)
            }
        }
        return row
    }

    /// The ordinals of the buckets that hold rows, in the order their first row came, and by ordinal whether
    /// it is among them.
    private var openOrdinals: [Int] = []
    private var ordinalIsOpen: [Bool] = []

    /// The starts of the buckets that hold rows, in the order their first row came (not sorted).
    public var openBucketStarts: [Int64] { openOrdinals.map { buckets.starts[$0] } }

    /// Whether a bucket that holds rows has a start `matches` accepts (`openBucketStarts`, without the array).
    public func holdsRows(inBucketWhere matches: (Int64) -> Bool) -> Bool {
        openOrdinals.contains { matches(buckets.starts[$0]) }
    }

    /// The start of the bucket of the latest `bucketOrdinal(for:)` (the latest event's), or nil before the first.
    public var currentBucketStart: Int64? { buckets.currentStart }

    /// Adds every row of `other` into this aggregator, exactly.
    public mutating func merge(_ other: WebAggregator) {
        precondition(other.bucket == bucket, "cannot merge aggregators with different bucket sizes")
        // Other's value ids and bucket ordinals translated to this aggregator's, each once (-1: not yet), in
        // the order rows first need them: a value is interned as the row-by-row merge would intern it.
        var valueMap = other.values.map { [Int32](repeating: -1, count: $0.count) }
        var ordinalMap = [Int32](repeating: -1, count: other.buckets.starts.count)
        for row in 0..<other.rows.count {
            let key = other.rowKeys[row]
            let dimension = WebDimension(rawValue: RowKey.dimension(key))!
            let otherValue = RowKey.value(key)
            var value = Int(valueMap[dimension.rawValue][otherValue])
            if value < 0 {
                value = other.values[dimension.rawValue].withBytes(of: otherValue) { valueID(dimension, $0) }
                valueMap[dimension.rawValue][otherValue] = Int32(value)
            }
            if value == Self.otherID, otherValue != Self.otherID { cappedEvents[dimension.rawValue] &+= other.rows[row].hits }
            let otherOrdinal = RowKey.ordinal(key)
            var ordinal = Int(ordinalMap[otherOrdinal])
            if ordinal < 0 {
                ordinal = bucketOrdinal(for: other.buckets.starts[otherOrdinal])
                ordinalMap[otherOrdinal] = Int32(ordinal)
            }
            let target = self.row(ordinal: ordinal, dimension: dimension, value: value)
            rows[target].merge(other.rows[row])
        }
        for dimension in WebDimension.allCases { cappedEvents[dimension.rawValue] &+= other.cappedEvents[dimension.rawValue] }
    }

    /// Adds one record (a saved or another output's row) into this aggregator, exactly: counts add and the
    /// sketch merges. The record's value is subject to `valueCap` like any other.
    public mutating func absorb(_ record: WebTrendRecord) throws(SketchDecodingError) {
        guard record.bucket == bucket else { throw SketchDecodingError(reason: "bucket_mismatch") }
        guard let dimension = WebDimension(name: record.dimension) else { throw SketchDecodingError(reason: "unknown_dimension") }
        let sketch = try HyperLogLog(serialized: record.sketch)
        let value = valueID(dimension, record.value)
        if value == Self.otherID, record.value != Self.otherValue { cappedEvents[dimension.rawValue] &+= record.hits }
        let target = row(ordinal: bucketOrdinal(for: record.bucketStart), dimension: dimension, value: value)
        rows[target].merge(Row(sketch: sketch, hits: record.hits, bytes: record.bytes, clientErrors: record.status4xx,
                               serverErrors: record.status5xx))
    }

    /// Adds one row as `forEachRow` or `drainRows` shows it into this aggregator, exactly, like `absorb(_:)`
    /// without the record: the value is interned from its bytes and the sketch decoded from its bytes.
    public mutating func absorb(_ view: RowView) throws(SketchDecodingError) {
        guard view.bucketStart == bucket.start(of: view.bucketStart) else { throw SketchDecodingError(reason: "bucket_mismatch") }
        let sketch = try HyperLogLog(serialized: view.sketchBytes)
        let value = valueID(view.dimension, view.valueBytes)
        if value == Self.otherID, !view.valueBytes.elementsEqual(Self.otherValue.utf8) {
            cappedEvents[view.dimension.rawValue] &+= view.hits
        }
        let target = row(ordinal: bucketOrdinal(for: view.bucketStart), dimension: view.dimension, value: value)
        rows[target].merge(Row(sketch: sketch, hits: view.hits, bytes: view.bytes, clientErrors: view.status4xx,
                               serverErrors: view.status5xx))
    }

    /// The starts of the buckets that hold rows, ascending.
    public var bucketStarts: [Int64] {
        var seen = Set<Int64>()
        for key in rowKeys { seen.insert(buckets.starts[RowKey.ordinal(key)]) }
        return seen.sorted()
    }

    /// Removes the buckets that start before `start` and returns their records (k-anonymity applied with
    /// `minCount`), for a stream that emits each bucket once it closes. Values stay interned, so the ids a
    /// processor has cached stay valid; rows of later buckets are kept as they are.
    public mutating func drain(bucketsBefore start: Int64, minCount: Int = 0) -> [WebTrendRecord] {
        let drained = records(minCount: minCount) { $0 < start }
        guard !drained.isEmpty else { return [] }
        removeRows { $0 < start }
        return drained
    }

    /// Calls `body` with every row of the buckets whose start `drains` accepts, in row order and before
    /// k-anonymity (as `forEachRow`), then removes them. Values stay interned, as with `drain`: a batch run
    /// moves closed buckets out this way (`WebTrendSpill`), so that its memory does not grow with the input.
    public mutating func drainRows(where drains: (Int64) -> Bool, _ body: (RowView) throws -> Void) rethrows {
        try forEachRow(where: drains, body)
        removeRows(where: drains)
    }

    /// `drainRows(where:_:)` for a caller that serializes each row's sketch itself, where it writes the row
    /// (`HyperLogLog.appendSerialized(to:)`), rather than copy it from a buffer: `body` gets each row's view,
    /// whose `sketchBytes` are empty, and its sketch. `body` cannot throw: the rows' sketches are moved out as
    /// they are shown, so the rows can only be removed together.
    public mutating func drainRowsWithSketches(where drains: (Int64) -> Bool, _ body: (RowView, HyperLogLog) -> Void) {
        var sketch = HyperLogLog()
        for index in rows.indices where drains(buckets.starts[RowKey.ordinal(rowKeys[index])]) {
            // Swapped out of the row (which keeps the previous row's until the rows are removed, below): a copy
            // cost a retain and a release of both its arrays for every row spilled, and a closure that read
            // `rows` would capture the whole aggregator.
            swap(&sketch, &rows[index].sketch)
            withView(ofRow: index, sketchBytes: UnsafeRawBufferPointer(start: nil, count: 0), carrying: &sketch, body)
        }
        removeRows(where: drains)
    }

    /// Removes the rows of the buckets whose start `removes` accepts; the others keep their counts. Values stay
    /// interned.
    ///
    /// The rows kept are found again (their indices change) into the spare arrays of the last removal, and the
    /// arrays they leave become the spares: after the first few spills of a run, a removal allocates nothing
    /// and touches no memory the system has to map afresh (regrowing new arrays each time, their pages
    /// faulted in after every spill's trim, measured 2–3% of a run).
    public mutating func removeRows(where removes: (Int64) -> Bool) {
        var oldRows = spareRows
        swap(&oldRows, &rows)
        var oldKeys = spareRowKeys
        swap(&oldKeys, &rowKeys)
        spareRows = []
        spareRowKeys = []
        index.removeAll()
        for dimension in latestRows.indices {
            latestRows[dimension].withUnsafeMutableBufferPointer { $0.update(repeating: Self.noLatestRow) }
        }
        openOrdinals.removeAll(keepingCapacity: true)
        ordinalIsOpen.withUnsafeMutableBufferPointer { $0.update(repeating: false) }
        for row in 0..<oldRows.count where !removes(buckets.starts[RowKey.ordinal(oldKeys[row])]) {
            let key = oldKeys[row]
            let target = self.row(ordinal: RowKey.ordinal(key), dimension: WebDimension(rawValue: RowKey.dimension(key))!,
                                  value: RowKey.value(key))
            swap(&rows[target], &oldRows[row])
        }
        oldRows.removeAll(keepingCapacity: true)
        oldKeys.removeAll(keepingCapacity: true)
        spareRows = oldRows
        spareRowKeys = oldKeys
    }

    /// The rows as records, sorted by bucket start, then dimension (in `WebDimension` order), then value.
    ///
    /// With `minCount` above 1 (k-anonymity), a row of any dimension but `total` whose visitor count is
    /// below `minCount` is folded into one `(other)` row per bucket and dimension: hits, bytes and errors add
    /// up, sketches merge, so every dimension still sums to the bucket's total. A row with no visitor
    /// identity at all (no cookie, and addresses not used) is judged by its hits instead.
    public func records(minCount: Int = 0) -> [WebTrendRecord] {
        records(minCount: minCount) { _ in true }
    }

    /// `records(minCount:)` of the buckets whose start `includeBucket` accepts; in no particular order when
    /// `sorted` is false (a saved state needs none, and sorting strings is a good part of the cost).
    public func records(minCount: Int, sorted: Bool = true, includeBucket: (Int64) -> Bool) -> [WebTrendRecord] {
        records(minCount: minCount, sorted: sorted, includeBucket: includeBucket, estimates: nil, sketches: nil)
    }

    /// Gives every row to `body` (as `forEachRow`), then removes them all and returns their records (as
    /// `drain(bucketsBefore: .max, minCount:)`): the end of a run's final pass, for one bucket at a time. The
    /// same as those two calls, with each row's sketch serialized and estimated once rather than once for each.
    public mutating func drainAll(minCount: Int, _ body: (RowView) throws -> Void) rethrows -> [WebTrendRecord] {
        var estimates: [Int] = []
        estimates.reserveCapacity(rows.count)
        // The serialized sketches of the rows that are published as they are (not folded), by row.
        var kept = [[UInt8]](repeating: [], count: rows.count)
        var sketch: [UInt8] = []
        var rowSketch = HyperLogLog()
        for index in rows.indices {
            // Moved out of its row for the two reads and back: read in place, it was copied for each (a retain
            // and a release of both its arrays, twice for every row of the run).
            swap(&rowSketch, &rows[index].sketch)
            rowSketch.serialize(into: &sketch)
            let uniques = rowSketch.estimate
            swap(&rowSketch, &rows[index].sketch)
            try sketch.withUnsafeBytes { try withView(ofRow: index, sketchBytes: $0, body) }
            let key = rowKeys[index]
            estimates.append(uniques)
            if !Self.isFolded(dimension: RowKey.dimension(key), value: RowKey.value(key),
                              uniques: uniques, hits: rows[index].hits, minCount: minCount) {
                // A copy of its own size: the buffer itself has room for the largest sketch so far.
                kept[index] = sketch.withUnsafeBufferPointer { Array($0) }
            }
        }
        let drained = records(minCount: minCount, sorted: true, includeBucket: { _ in true }, estimates: estimates, sketches: kept)
        removeRows { _ in true }
        return drained
    }

    /// Whether a row of `dimension` and `value` with `uniques` visitors (its estimate) and `hits` is folded into
    /// its bucket's `(other)` row under k-anonymity with `minCount` (see `records(minCount:)`).
    private static func isFolded(dimension: Int, value: Int, uniques: Int, hits: Int64, minCount: Int) -> Bool {
        guard minCount > 1, dimension != WebDimension.total.rawValue else { return false }
        // A value that happens to read "(other)" joins the fold rather than clash with it: it was interned as
        // `(other)` itself, the first value of every dimension.
        return (uniques > 0 ? Int64(uniques) : hits) < Int64(minCount) || value == Self.otherID
    }

    /// `records(minCount:sorted:includeBucket:)`, with the rows' estimates and the serialized sketches of the rows
    /// kept (not folded) given by row when they are known (`drainAll`).
    private func records(minCount: Int, sorted: Bool, includeBucket: (Int64) -> Bool,
                         estimates: [Int]?, sketches: [[UInt8]]?) -> [WebTrendRecord] {
        /// A record to be: a row kept (`source` ≥ 0, its index) or a fold (`source` < 0, `-1 - index`).
        struct Entry {
            var bucketStart: Int64
            var dimension: Int
            var value: String
            var source: Int
            var uniques: Int
        }
        var entries: [Entry] = []
        entries.reserveCapacity(rows.count)
        // The folds, merged into in place: a sketch copied out of a dictionary and stored back would copy its
        // registers (16 KiB once dense) for every row folded into it.
        var folds: [Row] = []
        var foldSlots = FoldSlots()
        for row in 0..<rows.count {
            let key = rowKeys[row]
            let dimension = RowKey.dimension(key)
            let bucketStart = buckets.starts[RowKey.ordinal(key)]
            guard includeBucket(bucketStart) else { continue }
            let value = RowKey.value(key)
            let uniques = estimates?[row] ?? rows[row].sketch.estimate
            if Self.isFolded(dimension: dimension, value: value, uniques: uniques, hits: rows[row].hits, minCount: minCount) {
                // Bucket ordinal and dimension: the key's bits above the value.
                let (slot, isNew) = foldSlots.slot(for: RowKey.bucketAndDimension(key))
                if isNew {
                    folds.append(Row())
                    entries.append(Entry(bucketStart: bucketStart, dimension: dimension, value: Self.otherValue,
                                         source: -1 - slot, uniques: 0))
                }
                folds[slot].merge(rows[row])
                continue
            }
            // The value's text is made only for the rows kept (most rows of a bucket are folded).
            entries.append(Entry(bucketStart: bucketStart, dimension: dimension, value: values[dimension].string(of: value),
                                 source: row, uniques: uniques))
        }
        if sorted {
            entries.sort { a, b in
                if a.bucketStart != b.bucketStart { return a.bucketStart < b.bucketStart }
                if a.dimension != b.dimension { return a.dimension < b.dimension }
                return a.value.utf8Precedes(b.value)
            }
        }
        return entries.map { entry in
            let row = entry.source >= 0 ? rows[entry.source] : folds[-1 - entry.source]
            // A kept row's estimate was taken above; a fold's is taken once it is complete.
            let uniques = entry.source >= 0 ? entry.uniques : row.sketch.estimate
            return WebTrendRecord(
                bucketStart: entry.bucketStart, bucket: bucket, dimension: WebDimension(rawValue: entry.dimension)!.name,
                value: entry.value, hits: row.hits, bytes: row.bytes, status4xx: row.clientErrors,
                status5xx: row.serverErrors, uniques: Int64(uniques),
                sketch: (entry.source >= 0 ? sketches?[entry.source] : nil) ?? row.sketch.serialized())
        }
    }

    /// One row as `forEachRow` shows it, valid only during the call.
    public struct RowView {
        public let bucketStart: Int64
        public let dimension: WebDimension
        /// The value's bytes as interned (`value` is their text).
        public let valueBytes: UnsafeRawBufferPointer
        public let hits: Int64, bytes: Int64, status4xx: Int64, status5xx: Int64
        /// The serialized sketch (`HyperLogLog.serialized()`), in a buffer reused for the next row.
        public let sketchBytes: UnsafeRawBufferPointer

        public init(bucketStart: Int64, dimension: WebDimension, valueBytes: UnsafeRawBufferPointer, hits: Int64, bytes: Int64,
                    status4xx: Int64, status5xx: Int64, sketchBytes: UnsafeRawBufferPointer) {
            self.bucketStart = bucketStart
            self.dimension = dimension
            self.valueBytes = valueBytes
            self.hits = hits
            self.bytes = bytes
            self.status4xx = status4xx
            self.status5xx = status5xx
            self.sketchBytes = sketchBytes
        }

        /// The value's text, as `records` gives it (invalid UTF-8 repaired).
        public var value: String { String(decoding: valueBytes, as: UTF8.self) }
        public var sketch: [UInt8] { Array(sketchBytes) }
    }

    /// Calls `body` with every row, in row order, before k-anonymity: the rows of
    /// `records(minCount: 0, sorted: false)`, without building them all at once. A saved state streams its
    /// rows this way, so that its size is not held twice.
    public func forEachRow(_ body: (RowView) throws -> Void) rethrows {
        try forEachRow(where: { _ in true }, body)
    }

    /// `forEachRow` over the rows of the buckets whose start `includeBucket` accepts.
    public func forEachRow(where includeBucket: (Int64) -> Bool, _ body: (RowView) throws -> Void) rethrows {
        // One buffer for every row's serialized sketch, and the values' bytes where they are interned: nothing
        // is allocated per row.
        var sketch: [UInt8] = []
        for index in rows.indices where includeBucket(buckets.starts[RowKey.ordinal(rowKeys[index])]) {
            try withView(ofRow: index, sketch: &sketch, body)
        }
    }

    /// Serializes row `index`'s sketch into `sketch` and calls `body` with the row's view. The row is read in
    /// place: a copy of it would retain (and then release) its sketch's storage.
    private func withView(ofRow index: Int, sketch: inout [UInt8], _ body: (RowView) throws -> Void) rethrows {
        rows[index].sketch.serialize(into: &sketch)
        try sketch.withUnsafeBytes { try withView(ofRow: index, sketchBytes: $0, body) }
    }

    /// Calls `body` with row `index`'s view, its sketch given as `sketchBytes`.
    private func withView(ofRow index: Int, sketchBytes: UnsafeRawBufferPointer, _ body: (RowView) throws -> Void) rethrows {
        var none = HyperLogLog()
        try withView(ofRow: index, sketchBytes: sketchBytes, carrying: &none) { view, _ in try body(view) }
    }

    /// Calls `body` with row `index`'s view, its sketch given as `sketchBytes`, and with `sketch`, which goes by
    /// address: a closure that captured it made a copy for the call (a retain and a release of both its arrays).
    private func withView(ofRow index: Int, sketchBytes: UnsafeRawBufferPointer, carrying sketch: inout HyperLogLog,
                          _ body: (RowView, HyperLogLog) throws -> Void) rethrows {
        let key = rowKeys[index]
        let dimension = WebDimension(rawValue: RowKey.dimension(key))!
        let (hits, bytes) = (rows[index].hits, rows[index].bytes)
        let (status4xx, status5xx) = (rows[index].clientErrors, rows[index].serverErrors)
        let bucketStart = buckets.starts[RowKey.ordinal(key)]
        // Only the array the value's bytes are in is held across `body`: `withBytes` on the interner made a copy of
        // it for the call, a retain and a release of each of its four arrays for every row.
        let (arena, range) = values[dimension.rawValue].storage(of: RowKey.value(key))
        try arena.withUnsafeBytes { all in
            try body(RowView(bucketStart: bucketStart, dimension: dimension, valueBytes: UnsafeRawBufferPointer(rebasing: all[range]),
                             hits: hits, bytes: bytes, status4xx: status4xx, status5xx: status5xx,
                             sketchBytes: sketchBytes), sketch)
        }
    }

    /// The value of a k-anonymity fold.
    public static let otherValue = "(other)"
}

/// Where a batch run moves the rows of closed buckets (`WebLogProcessor.spillClosedBuckets()`), for its final
/// pass to read back bucket by bucket: a file in the output directory (`CrumbIO.WebSpillFile`).
public protocol WebTrendSpill: AnyObject, Sendable {
    /// Moves the rows of the buckets whose start `drains` accepts out of `aggregator`
    /// (`WebAggregator.drainRows`). A write that fails is kept to be reported at the end of the run, which
    /// then fails: the rows are gone from memory, and nothing is committed without them.
    func spill(_ aggregator: inout WebAggregator, where drains: (Int64) -> Bool)

    /// Whether a spill has failed: the run stops reading, as it will fail at the end.
    var hasFailed: Bool { get }
}

/// Drops the rows of closed buckets instead of keeping them: for `crumb scan`, which reports the personal
/// information it finds and no trends, so that its memory too stays flat as its input grows.
public final class DiscardedTrends: WebTrendSpill, CallTrendSpill {
    public init() {}

    public func spill(_ aggregator: inout WebAggregator, where drains: (Int64) -> Bool) {
        aggregator.removeRows(where: drains)
    }

    public func spill(_ aggregator: inout CallAggregator, where drains: (Int64) -> Bool) {
        aggregator.removeRows(where: drains)
    }

    public var hasFailed: Bool { false }
}

extension WebDimension {
    /// The dimension named `name` in the output contract.
    public init?(name: String) {
        guard let found = WebDimension.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}
