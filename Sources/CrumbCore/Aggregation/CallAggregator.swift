import Histogram

/// Call trends under construction: per (time bucket, dimension, value) the calls, the answered calls, a
/// sketch of the callers, the talk seconds, and a talk-time histogram for p50 and p95.
///
/// A call is one CDR row (one leg). `answered`: the row has an answer time. `talk_seconds`: the sum of the
/// rows' `billsec`. The histogram holds the `billsec` of the answered rows only, so p50 and p95 describe
/// conversations, not ringing. `callers` is the HyperLogLog estimate over the keyed caller tokens; a row
/// without a caller is counted everywhere but in the sketch.
///
/// Built like `WebAggregator`: values interned per dimension, one integer-keyed lookup per row, struct of
/// arrays. Each worker owns one aggregator; `merge(_:)` is exact (counts add, sketches merge register by
/// register, histograms bin by bin).
public struct CallAggregator: Sendable {
    public let bucket: TimeBucket

    private var values: [ByteInterner]
    private var index = RowIndex()
    private var buckets: BucketIndex

    // Rows, struct of arrays.
    private var rowKeys: [UInt64] = []
    private var calls: [Int64] = []
    private var answered: [Int64] = []
    private var talkSeconds: [Int64] = []
    private var sketches: [HyperLogLog] = []
    private var talkTimes: [TalkTimeHistogram] = []

    /// The most distinct values kept per dimension (across buckets), `(other)` included; past it, new values
    /// count under `(other)`. As `WebAggregator.valueCap`.
    public let valueCap: Int
    /// Per dimension, the calls counted under `(other)` once the dimension had reached `valueCap`.
    public private(set) var cappedEvents: [Int64]

    public init(bucket: TimeBucket, valueCap: Int = WebAggregator.defaultValueCap) {
        self.bucket = bucket
        // The row key holds at most 2^27 values per dimension (`RowKey.valueBits`).
        self.valueCap = min(max(valueCap, 2), 1 << Int(RowKey.valueBits))
        buckets = BucketIndex(bucket: bucket)
        cappedEvents = Array(repeating: 0, count: CallDimension.allCases.count)
        values = CallDimension.allCases.map { _ in
            var interner = ByteInterner()
            _ = interner.intern(Self.otherValue)
            return interner
        }
    }

    /// Number of rows so far.
    public var rowCount: Int { calls.count }

    /// The id of `bytes` as a value of `dimension`; `(other)`'s once the dimension holds `valueCap` values.
    @inline(__always)
    public mutating func valueID(_ dimension: CallDimension, _ bytes: UnsafeRawBufferPointer) -> Int {
        values[dimension.rawValue].intern(bytes, limit: valueCap) ?? Self.otherID
    }

    /// The id of `text` as a value of `dimension`.
    public mutating func valueID(_ dimension: CallDimension, _ text: String) -> Int {
        var copy = text
        return copy.withUTF8 { valueID(dimension, UnsafeRawBufferPointer($0)) }
    }

    /// The distinct values of `dimension` interned so far, `(other)` included (at most `valueCap`).
    public func valueCount(_ dimension: CallDimension) -> Int { values[dimension.rawValue].count }

    /// The values counted per dimension, by name (`valueCount`).
    public var valueCounts: [String: Int] {
        Dictionary(uniqueKeysWithValues: CallDimension.allCases.map { ($0.name, valueCount($0)) })
    }

    /// Every dimension's first value, `(other)`.
    static let otherID = 0

    /// The dimensions that reached `valueCap`, by name, with the calls counted under `(other)` for it.
    public var cappedDimensions: [String: Int64] {
        var result: [String: Int64] = [:]
        for dimension in CallDimension.allCases where cappedEvents[dimension.rawValue] > 0 {
            result[dimension.name] = cappedEvents[dimension.rawValue]
        }
        return result
    }

    /// Adds `count` capped calls of `dimension` (from a saved state).
    public mutating func addCappedEvents(_ dimension: CallDimension, _ count: Int64) {
        cappedEvents[dimension.rawValue] &+= count
    }

    /// Calls `body` with the bytes of value `id` of `dimension`.
    public func withValueBytes<R>(_ dimension: CallDimension, _ id: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try values[dimension.rawValue].withBytes(of: id, body)
    }

    /// The ordinal of the bucket holding `time` (epoch seconds UTC); the last bucket is checked first.
    @inline(__always)
    public mutating func bucketOrdinal(for time: Int64) -> Int {
        buckets.ordinal(for: time)
    }

    /// Counts one call in one (bucket, dimension, value) row.
    ///
    /// - Parameters:
    ///   - answered: whether the call has an answer time.
    ///   - billSeconds: the call's `billsec`, or nil when the policy does not let talk time be counted.
    ///     Added to `talk_seconds`; recorded in the histogram when the call was answered.
    ///   - caller: the keyed caller token, or nil when the call has no caller.
    @inline(__always)
    public mutating func add(
        bucket ordinal: Int, _ dimension: CallDimension, value: Int,
        answered isAnswered: Bool, billSeconds: Int64?, caller: UInt64?
    ) {
        let row = row(ordinal: ordinal, dimension: dimension, value: value)
        calls[row] &+= 1
        if value == Self.otherID, values[dimension.rawValue].count >= valueCap { cappedEvents[dimension.rawValue] &+= 1 }
        if isAnswered { answered[row] &+= 1 }
        if let billSeconds {
            talkSeconds[row] &+= billSeconds
            if isAnswered { talkTimes[row].record(seconds: billSeconds) }
        }
        if let caller { sketches[row].insert(hash: caller) }
    }

    private mutating func row(ordinal: Int, dimension: CallDimension, value: Int) -> Int {
        let key = RowKey.make(ordinal: ordinal, dimension: dimension.rawValue, value: value)
        let next = calls.count
        let row = index.row(for: key) { next }
        if row == next {
            rowKeys.append(key)
            calls.append(0)
            answered.append(0)
            talkSeconds.append(0)
            sketches.append(HyperLogLog())
            talkTimes.append(TalkTimeHistogram())
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
    /// it is among them (as `WebAggregator`'s).
    private var openOrdinals: [Int] = []
    private var ordinalIsOpen: [Bool] = []

    /// Whether a bucket that holds rows has a start `matches` accepts.
    public func holdsRows(inBucketWhere matches: (Int64) -> Bool) -> Bool {
        openOrdinals.contains { matches(buckets.starts[$0]) }
    }

    /// The start of the bucket of the latest `bucketOrdinal(for:)` (the latest call's), or nil before the first.
    public var currentBucketStart: Int64? { buckets.currentStart }

    /// Adds every row of `other` into this aggregator, exactly.
    public mutating func merge(_ other: CallAggregator) {
        precondition(other.bucket == bucket, "cannot merge aggregators with different bucket sizes")
        for row in 0..<other.calls.count {
            let key = other.rowKeys[row]
            let dimension = CallDimension(rawValue: RowKey.dimension(key))!
            let otherValue = RowKey.value(key)
            let value = other.values[dimension.rawValue].withBytes(of: otherValue) { valueID(dimension, $0) }
            if value == Self.otherID, otherValue != Self.otherID { cappedEvents[dimension.rawValue] &+= other.calls[row] }
            let ordinal = bucketOrdinal(for: other.buckets.starts[RowKey.ordinal(key)])
            let target = self.row(ordinal: ordinal, dimension: dimension, value: value)
            calls[target] &+= other.calls[row]
            answered[target] &+= other.answered[row]
            talkSeconds[target] &+= other.talkSeconds[row]
            sketches[target].merge(other.sketches[row])
            talkTimes[target].merge(other.talkTimes[row])
        }
        for dimension in CallDimension.allCases { cappedEvents[dimension.rawValue] &+= other.cappedEvents[dimension.rawValue] }
    }

    /// Adds one record (a saved or another output's row) into this aggregator, exactly.
    public mutating func absorb(_ record: CallTrendRecord) throws(SketchDecodingError) {
        guard record.bucket == bucket else { throw SketchDecodingError(reason: "bucket_mismatch") }
        guard let dimension = CallDimension(name: record.dimension) else { throw SketchDecodingError(reason: "unknown_dimension") }
        let sketch = try HyperLogLog(serialized: record.sketch)
        let histogram = try TalkTimeHistogram(serialized: record.talkHistogram)
        let value = valueID(dimension, record.value)
        if value == Self.otherID, record.value != Self.otherValue { cappedEvents[dimension.rawValue] &+= record.calls }
        let target = row(ordinal: bucketOrdinal(for: record.bucketStart), dimension: dimension, value: value)
        calls[target] &+= record.calls
        answered[target] &+= record.answered
        talkSeconds[target] &+= record.talkSeconds
        sketches[target].merge(sketch)
        talkTimes[target].merge(histogram)
    }

    /// The starts of the buckets that hold rows, ascending.
    public var bucketStarts: [Int64] {
        var seen = Set<Int64>()
        for key in rowKeys { seen.insert(buckets.starts[RowKey.ordinal(key)]) }
        return seen.sorted()
    }

    /// Removes the buckets that start before `start` and returns their records (k-anonymity applied with
    /// `minCount`). Values stay interned; rows of later buckets are kept. As `WebAggregator.drain`.
    public mutating func drain(bucketsBefore start: Int64, minCount: Int = 0) -> [CallTrendRecord] {
        let drained = records(minCount: minCount) { $0 < start }
        guard !drained.isEmpty else { return [] }
        removeRows { $0 < start }
        return drained
    }

    /// The records of the buckets whose start `drains` accepts, before k-anonymity and in no particular order
    /// (`records(minCount: 0, sorted: false)`), removed from the aggregator. Values stay interned, as with
    /// `drain`: a batch run moves closed buckets out this way (`CallTrendSpill`), so that its memory does not
    /// grow with the input.
    public mutating func drainRecords(where drains: (Int64) -> Bool) -> [CallTrendRecord] {
        let drained = storedRecords(where: drains)
        if !drained.isEmpty { removeRows(where: drains) }
        return drained
    }

    /// The rows of the buckets whose start `includeBucket` accepts, in row order and before k-anonymity, with
    /// what a state or a spill keeps of them: counts, the serialized sketch and histogram. `callers`,
    /// `talk_p50` and `talk_p95` are left 0, as `absorb(_:)` recomputes them: working them out (a percentile
    /// walks a dense histogram) is for the published records only.
    public func storedRecords(where includeBucket: (Int64) -> Bool) -> [CallTrendRecord] {
        var valueText: [[Int: String]] = Array(repeating: [:], count: CallDimension.allCases.count)
        var records: [CallTrendRecord] = []
        for row in 0..<calls.count {
            let key = rowKeys[row]
            let bucketStart = buckets.starts[RowKey.ordinal(key)]
            guard includeBucket(bucketStart) else { continue }
            let dimension = RowKey.dimension(key)
            let value = RowKey.value(key)
            let text = valueText[dimension][value] ?? values[dimension].string(of: value)
            valueText[dimension][value] = text
            records.append(CallTrendRecord(
                bucketStart: bucketStart, bucket: bucket, dimension: CallDimension(rawValue: dimension)!.name, value: text,
                calls: calls[row], answered: answered[row], callers: 0, talkSeconds: talkSeconds[row], talkP50: 0, talkP95: 0,
                sketch: sketches[row].serialized(), talkHistogram: talkTimes[row].serialized()))
        }
        return records
    }

    /// Removes the rows of the buckets whose start `removes` accepts; the others keep their counts. Values stay
    /// interned.
    public mutating func removeRows(where removes: (Int64) -> Bool) {
        var kept = self
        kept.index = RowIndex()
        kept.rowKeys = []
        kept.calls = []
        kept.answered = []
        kept.talkSeconds = []
        kept.sketches = []
        kept.talkTimes = []
        kept.openOrdinals = []
        kept.ordinalIsOpen = []
        for row in 0..<calls.count where !removes(buckets.starts[RowKey.ordinal(rowKeys[row])]) {
            let key = rowKeys[row]
            let target = kept.row(ordinal: RowKey.ordinal(key), dimension: CallDimension(rawValue: RowKey.dimension(key))!,
                                  value: RowKey.value(key))
            kept.calls[target] = calls[row]
            kept.answered[target] = answered[row]
            kept.talkSeconds[target] = talkSeconds[row]
            kept.sketches[target] = sketches[row]
            kept.talkTimes[target] = talkTimes[row]
        }
        self = kept
    }

    /// The rows as records, sorted by bucket start, then dimension (in `CallDimension` order), then value
    /// (bytewise).
    ///
    /// With `minCount` above 1 (k-anonymity), a row of any dimension but `total` whose caller count is below
    /// `minCount` is folded into one `(other)` row per bucket and dimension: calls, answered calls and talk
    /// seconds add up, sketches and histograms merge, so every dimension still sums to the bucket's total. A
    /// row without any caller (no caller numbers) is judged by its calls instead. This is what protects a
    /// dialled number that is a person's phone number: it is published only when at least `minCount`
    /// callers dialled it in the bucket.
    public func records(minCount: Int = 0) -> [CallTrendRecord] {
        records(minCount: minCount) { _ in true }
    }

    /// `records(minCount:)` of the buckets whose start `includeBucket` accepts; in no particular order when
    /// `sorted` is false (a saved state needs none, and sorting strings is a good part of the cost).
    public func records(minCount: Int, sorted: Bool = true, includeBucket: (Int64) -> Bool) -> [CallTrendRecord] {
        struct Folded {
            var calls: Int64 = 0, answered: Int64 = 0, talkSeconds: Int64 = 0
            var sketch = HyperLogLog()
            var talkTimes = TalkTimeHistogram()
        }
        var valueText: [[Int: String]] = Array(repeating: [:], count: CallDimension.allCases.count)
        var records: [CallTrendRecord] = []
        records.reserveCapacity(calls.count)
        /// Each record's dimension number, for sorting by the dimensions' order.
        var dimensions: [Int] = []
        // The folds, merged into in place: a sketch copied out of a dictionary and stored back would copy its
        // registers (16 KiB once dense) for every row folded into it.
        var folds: [(bucketStart: Int64, dimension: Int, folded: Folded)] = []
        var foldSlots = FoldSlots()
        for row in 0..<calls.count {
            let key = rowKeys[row]
            let dimension = RowKey.dimension(key)
            let bucketStart = buckets.starts[RowKey.ordinal(key)]
            guard includeBucket(bucketStart) else { continue }
            let value = RowKey.value(key)
            let text: String
            if let cached = valueText[dimension][value] {
                text = cached
            } else {
                text = values[dimension].string(of: value)
                valueText[dimension][value] = text
            }
            let callers = sketches[row].estimate
            if minCount > 1, dimension != CallDimension.total.rawValue {
                // A value that happens to read "(other)" joins the fold rather than clash with it.
                if (callers > 0 ? callers : Int(calls[row])) < minCount || text == Self.otherValue {
                    // Bucket ordinal and dimension: the key's bits above the value.
                    let (slot, isNew) = foldSlots.slot(for: RowKey.bucketAndDimension(key))
                    if isNew { folds.append((bucketStart, dimension, Folded())) }
                    folds[slot].folded.calls += calls[row]
                    folds[slot].folded.answered += answered[row]
                    folds[slot].folded.talkSeconds += talkSeconds[row]
                    folds[slot].folded.sketch.merge(sketches[row])
                    folds[slot].folded.talkTimes.merge(talkTimes[row])
                    continue
                }
            }
            dimensions.append(dimension)
            records.append(CallTrendRecord(
                bucketStart: bucketStart, bucket: bucket, dimension: CallDimension(rawValue: dimension)!.name,
                value: text, calls: calls[row], answered: answered[row], callers: Int64(callers),
                talkSeconds: talkSeconds[row], talkTimes: talkTimes[row], sketch: sketches[row].serialized()
            ))
        }
        for (bucketStart, dimension, entry) in folds {
            dimensions.append(dimension)
            records.append(CallTrendRecord(
                bucketStart: bucketStart, bucket: bucket, dimension: CallDimension(rawValue: dimension)!.name,
                value: Self.otherValue, calls: entry.calls, answered: entry.answered,
                callers: Int64(entry.sketch.estimate), talkSeconds: entry.talkSeconds,
                talkTimes: entry.talkTimes, sketch: entry.sketch.serialized()
            ))
        }
        guard sorted else { return records }
        var positions = Array(records.indices)
        positions.sort { i, j in
            if records[i].bucketStart != records[j].bucketStart { return records[i].bucketStart < records[j].bucketStart }
            if dimensions[i] != dimensions[j] { return dimensions[i] < dimensions[j] }
            return records[i].value.utf8Precedes(records[j].value)
        }
        return positions.map { records[$0] }
    }

    /// The value of a k-anonymity fold.
    public static let otherValue = "(other)"
}

/// Where a batch run moves the rows of closed buckets (`CallLogProcessor.spillClosedBuckets()`), for its
/// final pass to read back bucket by bucket: a file in the output directory (`CrumbIO.CallSpillFile`).
public protocol CallTrendSpill: AnyObject, Sendable {
    /// Moves the rows of the buckets whose start `drains` accepts out of `aggregator`
    /// (`CallAggregator.drainRecords`). A write that fails is kept to be reported at the end of the run, which
    /// then fails: the rows are gone from memory, and nothing is committed without them.
    func spill(_ aggregator: inout CallAggregator, where drains: (Int64) -> Bool)

    /// Whether a spill has failed: the run stops reading, as it will fail at the end.
    var hasFailed: Bool { get }
}

/// One published row of call trends: a (bucket, dimension, value) and its metrics.
///
/// Field names map one to one onto the output contract (schema v1) in DESIGN.md: `bucket_start`, `bucket`,
/// `dimension`, `value`, `calls`, `answered`, `callers`, `talk_seconds`, `talk_p50`, `talk_p95`. `sketch`
/// (the serialized HyperLogLog of the callers) and `talkHistogram` (the serialized talk-time histogram) are
/// kept so that outputs merge exactly; they are not contract columns of the CSV and JSON Lines files.
public struct CallTrendRecord: Sendable, Equatable {
    /// Start of the bucket, epoch seconds UTC.
    public var bucketStart: Int64
    public var bucket: TimeBucket
    public var dimension: String
    public var value: String
    /// CDR rows (call legs).
    public var calls: Int64
    /// Rows with an answer time.
    public var answered: Int64
    /// The caller sketch's estimate.
    public var callers: Int64
    /// The sum of `billsec`.
    public var talkSeconds: Int64
    /// The median `billsec` of the answered calls, whole seconds; 0 when none was answered.
    public var talkP50: Int64
    /// The 95th percentile `billsec` of the answered calls, whole seconds; 0 when none was answered.
    public var talkP95: Int64
    /// `HyperLogLog.serialized()` of the row's callers.
    public var sketch: [UInt8]
    /// `TalkTimeHistogram.serialized()` of the row's answered talk times.
    public var talkHistogram: [UInt8]

    public init(
        bucketStart: Int64, bucket: TimeBucket, dimension: String, value: String, calls: Int64, answered: Int64,
        callers: Int64, talkSeconds: Int64, talkP50: Int64, talkP95: Int64, sketch: [UInt8], talkHistogram: [UInt8]
    ) {
        self.bucketStart = bucketStart
        self.bucket = bucket
        self.dimension = dimension
        self.value = value
        self.calls = calls
        self.answered = answered
        self.callers = callers
        self.talkSeconds = talkSeconds
        self.talkP50 = talkP50
        self.talkP95 = talkP95
        self.sketch = sketch
        self.talkHistogram = talkHistogram
    }

    /// A record whose percentiles and histogram bytes come from `talkTimes`.
    public init(
        bucketStart: Int64, bucket: TimeBucket, dimension: String, value: String, calls: Int64, answered: Int64,
        callers: Int64, talkSeconds: Int64, talkTimes: TalkTimeHistogram, sketch: [UInt8]
    ) {
        self.init(
            bucketStart: bucketStart, bucket: bucket, dimension: dimension, value: value, calls: calls,
            answered: answered, callers: callers, talkSeconds: talkSeconds,
            talkP50: talkTimes.value(atPercentile: 50), talkP95: talkTimes.value(atPercentile: 95),
            sketch: sketch, talkHistogram: talkTimes.serialized()
        )
    }

    /// The contract's column names, in order.
    public static let columns = [
        "bucket_start", "bucket", "dimension", "value", "calls", "answered", "callers", "talk_seconds", "talk_p50",
        "talk_p95",
    ]
}

/// Talk times (`billsec`, whole seconds) for percentiles: an HdrHistogram (Gil Tene's High Dynamic Range
/// Histogram, <https://hdrhistogram.github.io/HdrHistogram/>, here `Histogram<UInt64>` of
/// `HdrHistogram/hdrhistogram-swift`) with 3 significant digits, kept sparse while small.
///
/// Values run from 0 to ``highestTrackableSeconds`` (7 days); a longer `billsec` is recorded as 7 days and
/// a negative one as 0. Up to 2047 seconds every second is its own bin; above, bins are at most 0.1 % wide.
///
/// A small histogram is a sorted list of (bin, count) plus the smallest and largest value recorded: the
/// library's dense form costs 16 to 90 KiB, and most call-trend rows hold a handful of calls. Past
/// `sparseLimit` bins it becomes the library's `Histogram<UInt64>`. Both forms hold exactly the library's
/// state (counts per bin, the extremes), and percentiles follow the library's `valueAtPercentile` in both;
/// `merge(_:)` is exact in every combination.
public struct TalkTimeHistogram: Sendable {
    /// The longest talk time kept apart: 7 days.
    public static let highestTrackableSeconds: UInt64 = 7 * 86_400

    /// The most bins kept in sparse form (8 bytes each).
    static let sparseLimit = 128
    /// Sparse entries are `bin << countBits | count`, the bin named by its lowest value (< 2^20).
    static let countBits: UInt64 = 40
    static let countMask: UInt64 = 1 << countBits - 1

    /// The bin layout every histogram shares: lowest discernible value 1, 3 significant digits. The layout
    /// functions (`lowestEquivalentForValue` ...) depend on nothing else.
    static let layout = Histogram<UInt64>(numberOfSignificantValueDigits: .three)

    enum Storage: Sendable {
        /// `bin << countBits | count`, sorted by bin, one entry per bin, at most `sparseLimit` entries.
        case sparse([UInt64])
        /// The library's histogram (auto-resizing: its arrays grow only as far as the values recorded).
        case dense(Histogram<UInt64>)
    }

    private(set) var storage: Storage = .sparse([])
    /// The number of values recorded.
    public private(set) var count: UInt64 = 0
    /// The smallest and the largest value recorded (percentiles are clamped to them, as in the library).
    private var minimum: UInt64 = .max
    private var maximum: UInt64 = 0

    /// An empty histogram; it allocates nothing until the first value.
    public init() {}

    /// Records one talk time, clamped to 0...``highestTrackableSeconds``.
    @inline(__always)
    public mutating func record(seconds: Int64) {
        record(Swift.min(UInt64(clamping: seconds), Self.highestTrackableSeconds), count: 1)
    }

    /// Records `added` occurrences of `value` (≤ ``highestTrackableSeconds``).
    mutating func record(_ value: UInt64, count added: UInt64) {
        guard added > 0 else { return }
        switch storage {
        case .sparse(var bins):
            let bin = Self.layout.lowestEquivalentForValue(value)
            let position = Self.lowerBound(of: bin << Self.countBits, in: bins)
            let exists = position < bins.count && bins[position] >> Self.countBits == bin
            let fits = exists
                ? added <= Self.countMask - (bins[position] & Self.countMask)
                : bins.count < Self.sparseLimit && added <= Self.countMask
            if fits {
                // Dropping our own reference first keeps `bins` uniquely referenced: no copy.
                storage = .sparse([])
                if exists {
                    bins[position] += added
                } else {
                    bins.insert(bin << Self.countBits | added, at: position)
                }
                storage = .sparse(bins)
            } else {
                var histogram = dense(covering: value)
                histogram.record(value, count: added)
                storage = .dense(histogram)
            }
        case .dense(var histogram):
            storage = .sparse([])
            histogram.record(value, count: added)
            storage = .dense(histogram)
        }
        count &+= added
        minimum = Swift.min(minimum, value)
        maximum = Swift.max(maximum, value)
    }

    /// Adds `other`'s values, exactly: the result is the histogram of both inputs' values.
    public mutating func merge(_ other: TalkTimeHistogram) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        if case .dense(let theirs) = other.storage {
            var histogram = dense(covering: other.maximum)
            storage = .sparse([])
            histogram.add(theirs)
            storage = .dense(histogram)
            count &+= other.count
            minimum = Swift.min(minimum, other.minimum)
            maximum = Swift.max(maximum, other.maximum)
        } else {
            for pair in other.pairs() { record(pair.value, count: pair.count) }
        }
    }

    /// The talk time at `percentile` (0...100) in whole seconds; 0 when the histogram is empty.
    ///
    /// HdrHistogram's `valueAtPercentile`: the highest value equivalent to the bin where the cumulative
    /// count first reaches `percentile` % of the values (rounded up, at least one value), clamped to the
    /// smallest and largest value recorded. The sparse form computes the same thing over its bins.
    public func value(atPercentile percentile: Double) -> Int64 {
        guard count > 0 else { return 0 }
        switch storage {
        case .dense(let histogram):
            return Int64(histogram.valueAtPercentile(percentile))
        case .sparse(let bins):
            guard percentile != 0 else { return Int64(minimum) }
            guard percentile < 100 else { return Int64(maximum) }
            let requested = Swift.min(Swift.max(percentile.nextDown, 0), 100)
            let target = Swift.max(1, UInt64((requested * Double(count) / 100).rounded(.up)))
            var cumulative: UInt64 = 0
            for entry in bins {
                cumulative += entry & Self.countMask
                if cumulative >= target {
                    let highest = Self.layout.highestEquivalentForValue(entry >> Self.countBits)
                    return Int64(Swift.max(Swift.min(highest, maximum), minimum))
                }
            }
            return Int64(maximum)
        }
    }

    /// The library's histogram of these values, with room for values up to `value` (it grows past that).
    ///
    /// Its range is set once, to cover this histogram's largest value and `value`, rather than grown value by
    /// value from the smallest: the library's growth appends to its counts through unspecialized generic code,
    /// which a histogram built from ascending values (a merge, a decoded row) paid at every new range, and
    /// which took a third of a call-record run. The range does not show in any result (the recorded values,
    /// percentiles and merges are the same).
    func dense(covering value: UInt64 = 0) -> Histogram<UInt64> {
        if case .dense(let histogram) = storage { return histogram }
        let highest = Swift.min(Swift.max(value, count > 0 ? maximum : 0, 2), Self.highestTrackableSeconds)
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highest,
                                          numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        for pair in pairs() { histogram.record(pair.value, count: pair.count) }
        return histogram
    }

    /// The recorded values as (value, count) pairs, one per bin in increasing order, each bin named by its
    /// lowest value, except that the first pair carries the smallest value recorded and the last the largest
    /// (when both fall in one bin with more than one value: two pairs). Recording these pairs into an empty
    /// histogram rebuilds this one exactly, extremes included.
    func pairs() -> [(value: UInt64, count: UInt64)] {
        var result: [(value: UInt64, count: UInt64)] = []
        switch storage {
        case .sparse(let bins):
            result.reserveCapacity(bins.count + 1)
            for entry in bins { result.append((entry >> Self.countBits, entry & Self.countMask)) }
        case .dense(let histogram):
            for item in histogram.recordedValues() {
                result.append((Self.layout.lowestEquivalentForValue(item.value), item.count))
            }
        }
        guard let only = result.first?.count else { return [] }
        if result.count == 1 {
            result = minimum == maximum ? [(minimum, only)] : [(minimum, only - 1), (maximum, UInt64(1))]
        } else {
            result[0].value = minimum
            result[result.count - 1].value = maximum
        }
        return result
    }

    static func lowerBound(of key: UInt64, in entries: [UInt64]) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

extension TalkTimeHistogram: Equatable {
    /// Histograms are equal when they hold the same counts per bin and the same extremes, whatever form
    /// each is stored in.
    public static func == (lhs: TalkTimeHistogram, rhs: TalkTimeHistogram) -> Bool {
        guard lhs.count == rhs.count else { return false }
        let left = lhs.pairs(), right = rhs.pairs()
        return left.count == right.count && zip(left, right).allSatisfy { $0.value == $1.value && $0.count == $1.count }
    }
}

// MARK: - Serialized form

extension TalkTimeHistogram {
    /// The first byte of every serialized histogram.
    static let formatVersion: UInt8 = 1

    /// A compact, versioned binary form: the recorded values as (value, count) pairs, not the library's
    /// 20 KiB `Codable` form, so that a later merge of partial outputs is exact.
    ///
    /// ```
    /// 0x01  n:varint  n × (delta:varint count:varint)
    /// ```
    ///
    /// Varints are unsigned LEB128. The pairs are those of `pairs()`: in strictly increasing value order,
    /// each value written as its difference from the previous pair's (the first from 0), every count at
    /// least 1. An empty histogram is `01 00`. The bytes depend only on the bins and the extremes, so equal
    /// histograms serialize identically.
    public func serialized() -> [UInt8] {
        let pairs = self.pairs()
        var bytes: [UInt8] = [Self.formatVersion]
        bytes.reserveCapacity(2 + pairs.count * 3)
        Self.appendVarint(UInt64(pairs.count), to: &bytes)
        var previous: UInt64 = 0
        for pair in pairs {
            Self.appendVarint(pair.value - previous, to: &bytes)
            Self.appendVarint(pair.count, to: &bytes)
            previous = pair.value
        }
        return bytes
    }

    /// Decodes the bytes written by `serialized()`.
    ///
    /// Accepts exactly the documented format. Rejects, without trapping on any input:
    /// - `truncated`: empty input, or fewer bytes than the pair count calls for, or a varint cut short;
    /// - `bad_version`: the first byte is not 1;
    /// - `bad_count`: a varint longer than 10 bytes or past 2^64, a count of 0, or counts summing past 2^64;
    /// - `bad_register`: a value above ``highestTrackableSeconds``;
    /// - `unsorted_entries`: a value not above the previous one;
    /// - `trailing_bytes`: bytes after the last pair.
    public init(serialized bytes: some Collection<UInt8>) throws(SketchDecodingError) {
        let bytes = Array(bytes)
        guard let version = bytes.first else { throw .truncated }
        guard version == Self.formatVersion else { throw .badVersion }
        var offset = 1
        let pairCount = try Self.readVarint(bytes, &offset)
        // Every pair takes at least two bytes.
        guard pairCount <= UInt64(bytes.count - offset) / 2 else { throw .truncated }
        self.init()
        var value: UInt64 = 0
        var total: UInt64 = 0
        var pairs: [(value: UInt64, count: UInt64)] = []
        pairs.reserveCapacity(Int(pairCount))
        for index in 0..<Int(pairCount) {
            let delta = try Self.readVarint(bytes, &offset)
            let count = try Self.readVarint(bytes, &offset)
            guard index == 0 || delta > 0 else { throw .unsortedEntries }
            let (sum, overflow) = value.addingReportingOverflow(delta)
            guard !overflow, sum <= Self.highestTrackableSeconds else { throw .badRegister }
            let (newTotal, countOverflow) = total.addingReportingOverflow(count)
            guard count > 0, !countOverflow else { throw .badCount }
            value = sum
            total = newTotal
            pairs.append((value, count))
        }
        guard offset == bytes.count else { throw .trailingBytes }
        // The largest value first: a histogram that becomes dense is then made with its whole range at once
        // (`dense(covering:)`), instead of growing at every larger value. Bins add up in any order.
        if let last = pairs.last { record(last.value, count: last.count) }
        for pair in pairs.dropLast() { record(pair.value, count: pair.count) }
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    static func readVarint(_ bytes: [UInt8], _ offset: inout Int) throws(SketchDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may carry only the top bit of a 64-bit value.
            guard shift < 64, shift < 63 || byte & 0x7F <= 1 else { throw .badCount }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
}
