import CrumbCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The rows of closed buckets, moved out of memory during a batch run, for the run's final pass to read back
/// one bucket at a time: what keeps a run's memory flat as its input grows. `WebSpillFile` and
/// `CallSpillFile` lay rows out in it.
///
/// An unnamed file in the output directory: created mode 0600 and unlinked at once, so nothing is left behind
/// however the run ends, and no other user can open it (its rows are unfolded, below the publication
/// threshold, like `state.db`'s). Processors of any thread append to it; each spill writes one segment per
/// bucket, and an index in memory lists a bucket's segments.
final class SpillFile: Sendable {
    private let descriptor: Int32
    /// The output directory's name for the file, for errors.
    let path: String

    private struct State {
        var end: Int64 = 0
        var segments: [Int64: [(offset: Int64, length: Int)]] = [:]
        var rows = 0
        var failure: OutputError?
    }
    private let state = Mutex(State())

    /// Creates the file in `directory`; `name` says what it holds, in errors.
    init(directory: String, name: String) throws(OutputError) {
        path = directory + "/(spill of closed \(name) buckets)"
        let temporary = AtomicFile.temporaryPath(for: directory + "/\(name)-spill")
        descriptor = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OutputError(path: path, message: "cannot create: \(AtomicFile.systemReason(errno))")
        }
        unlink(temporary)
    }

    deinit {
        close(descriptor)
    }

    /// Appends each bucket's bytes (`count` rows in all) as a segment of that bucket, then gives the memory
    /// the caller freed back to the system (`releaseMemory()`). After a failed write, nothing more is written:
    /// the run fails at the end.
    func append(_ segments: [Int64: [UInt8]], rows count: Int) {
        guard !segments.isEmpty else { return }
        state.withLock { state in
            for (start, bytes) in segments where !write(bytes, bucket: start, into: &state) { return }
            state.rows += count
        }
        releaseMemory()
    }

    /// Appends `bytes` (`count` rows) as a segment of the bucket starting at `start`; nothing is released.
    func append(bucket start: Int64, _ bytes: [UInt8], rows count: Int) {
        guard !bytes.isEmpty else { return }
        state.withLock { state in
            if write(bytes, bucket: start, into: &state) { state.rows += count }
        }
    }

    /// Writes one segment at the file's end (`state.end`), under the lock every write is made under; false,
    /// writing nothing more, once a write has failed.
    private func write(_ bytes: [UInt8], bucket start: Int64, into state: inout State) -> Bool {
        guard state.failure == nil else { return false }
        do {
            try writeAll(descriptor, bytes, path: path)
        } catch {
            state.failure = error
            return false
        }
        state.segments[start, default: []].append((state.end, bytes.count))
        state.end += Int64(bytes.count)
        return true
    }

    /// Gives back to the system the memory freed since the last spill (rows drained, buffers dropped).
    func releaseMemory() {
        #if canImport(Glibc)
        // The drained rows' memory goes back to the system, rather than stay resident in this thread's arena
        // between spills: the run's peak is then the open buckets and the caches (60 MB, not 61–65).
        _ = systemMallocTrim(0)
        #endif
    }

    /// The first write that failed: the run must fail, as those rows are lost.
    var failure: OutputError? { state.withLock { $0.failure } }

    /// The error for a row read back that does not decode (its reason, never its bytes).
    func damaged(_ error: SketchDecodingError) -> OutputError {
        OutputError(path: path, message: "read back damaged: \(error.reason)")
    }

    /// Rows spilled so far.
    var rowCount: Int { state.withLock { $0.rows } }

    /// The starts of the buckets that have rows here, ascending.
    var bucketStarts: [Int64] { state.withLock { $0.segments.keys.sorted() } }

    /// Calls `body` with each segment of the bucket starting at `start`, in the order spilled, read into `buffer`
    /// (grown when a segment needs more): a caller reading every bucket passes the same one each time, rather
    /// than have a buffer of 256 KiB allocated and zeroed for every segment.
    ///
    /// - Throws: `OutputError` when the file cannot be read back, and whatever `body` throws.
    func forEachSegment(bucket start: Int64, buffer: inout [UInt8],
                        _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let segments = state.withLock { $0.segments[start] ?? [] }
        for segment in segments {
            if buffer.count < segment.length { buffer = [UInt8](repeating: 0, count: segment.length) }
            try buffer.withUnsafeMutableBytes { whole in
                let bytes = UnsafeMutableRawBufferPointer(rebasing: whole[..<segment.length])
                try Self.read(into: bytes, at: segment.offset, from: descriptor, path: path)
                try body(UnsafeRawBufferPointer(bytes))
            }
        }
    }

    /// Gives the file's disk space and page cache back now that nothing more will be read from it (the final
    /// pass has merged every row), on the caller's thread, rather than when the run lets go of it, last of all.
    /// A later read finds the file ended early. A failure is ignored: the space then goes back when the run lets
    /// go of the file, as before, and nothing is appended or read after this.
    func dropContents() {
        state.withLock { _ in _ = ftruncate(descriptor, 0) }
    }

    /// The file's size now (tests).
    var size: Int64 {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? Int64(status.st_size) : -1
    }

    private static func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, from descriptor: Int32,
                             path: String) throws(OutputError) {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw OutputError(path: path, message: "cannot read back: \(got < 0 ? AtomicFile.systemReason(errno) : "file ended early")")
            }
            done += got
        }
    }
}

/// Web rows of closed buckets (`WebTrendSpill`) in a `SpillFile`. A segment is the bucket's rows end to end,
/// each: dimension (1 byte), value length (4), value, hits, bytes, 4xx, 5xx (8 each), sketch length (4),
/// serialized sketch; integers little-endian.
final class WebSpillFile: WebTrendSpill {
    let file: SpillFile
    /// Bytes of rows written at a time: a bucket's rows go out as segments of about this size, so that the
    /// buffer that collects them is allocated once per spill and never grows. Collected whole, a bucket's
    /// rows (a megabyte or two) were copied at every doubling of their buffer, into pages the system had
    /// to map afresh each time.
    let pieceBytes: Int
    static let defaultPieceBytes = 256 << 10

    init(directory: String, pieceBytes: Int = WebSpillFile.defaultPieceBytes) throws(OutputError) {
        file = try SpillFile(directory: directory, name: "web")
        self.pieceBytes = pieceBytes
    }

    var path: String { file.path }
    var failure: OutputError? { file.failure }
    var hasFailed: Bool { failure != nil }
    func damaged(_ error: SketchDecodingError) -> OutputError { file.damaged(error) }
    var rowCount: Int { file.rowCount }
    var bucketStarts: [Int64] { file.bucketStarts }

    func spill(_ aggregator: inout WebAggregator, where drains: (Int64) -> Bool) {
        // Rows come in row order. A spill mostly drains one bucket; when several close at once their rows
        // are mixed, and the pieces of the buckets other than the current row's wait in `parked`.
        func newPiece() -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(pieceBytes + (32 << 10))
            return bytes
        }
        var current: Int64?
        var piece: [UInt8] = []
        var rows = 0
        var parked: [Int64: (bytes: [UInt8], rows: Int)] = [:]
        aggregator.drainRowsWithSketches(where: drains) { row, sketch in
            if row.bucketStart != current {
                if let current { parked[current] = (piece, rows) }
                (piece, rows) = parked.removeValue(forKey: row.bucketStart) ?? (newPiece(), 0)
                current = row.bucketStart
            }
            piece.appendSpillRow(row, sketch: sketch)
            rows += 1
            if piece.count >= pieceBytes {
                file.append(bucket: row.bucketStart, piece, rows: rows)
                piece.removeAll(keepingCapacity: true)
                rows = 0
            }
        }
        if let current { file.append(bucket: current, piece, rows: rows) }
        for (start, parkedPiece) in parked { file.append(bucket: start, parkedPiece.bytes, rows: parkedPiece.rows) }
        // The buffers go before the memory is given back.
        piece = []
        parked = [:]
        file.releaseMemory()
    }

    /// Calls `body` with every row spilled for the bucket starting at `start`, in the order spilled, read into
    /// `buffer` (`SpillFile.forEachSegment`).
    ///
    /// - Throws: `OutputError` when the file cannot be read back, `SketchDecodingError` (from `body`) as is.
    func forEachRow(bucket start: Int64, buffer: inout [UInt8], _ body: (WebAggregator.RowView) throws -> Void) throws {
        try file.forEachSegment(bucket: start, buffer: &buffer) { bytes in
            var reader = SpillRowReader(bytes: bytes, path: path)
            while let row = try reader.next(bucketStart: start) { try body(row) }
        }
    }
}

/// Call rows of closed buckets (`CallTrendSpill`) in a `SpillFile`, as stored records
/// (`CallAggregator.storedRecords`). A segment is the bucket's records end to end, each: dimension (1 byte),
/// value length (4), value, calls, answered, talk seconds (8 each), sketch length (4), serialized sketch,
/// histogram length (4), serialized histogram; integers little-endian. The estimate and percentiles are not
/// kept: absorbing a record recomputes them.
final class CallSpillFile: CallTrendSpill {
    let file: SpillFile
    let bucket: TimeBucket

    init(directory: String, bucket: TimeBucket) throws(OutputError) {
        file = try SpillFile(directory: directory, name: "call")
        self.bucket = bucket
    }

    var path: String { file.path }
    var failure: OutputError? { file.failure }
    var hasFailed: Bool { failure != nil }
    func damaged(_ error: SketchDecodingError) -> OutputError { file.damaged(error) }
    var bucketStarts: [Int64] { file.bucketStarts }

    func spill(_ aggregator: inout CallAggregator, where drains: (Int64) -> Bool) {
        let records = aggregator.drainRecords(where: drains)
        var segments: [Int64: [UInt8]] = [:]
        for record in records { segments[record.bucketStart, default: []].appendSpillRecord(record) }
        file.append(segments, rows: records.count)
    }

    /// The records spilled for the bucket starting at `start`, in the order spilled, read into `buffer`
    /// (`SpillFile.forEachSegment`).
    ///
    /// - Throws: `OutputError` when the file cannot be read back or a record does not decode.
    func records(bucket start: Int64, buffer: inout [UInt8]) throws -> [CallTrendRecord] {
        var records: [CallTrendRecord] = []
        try file.forEachSegment(bucket: start, buffer: &buffer) { bytes in
            var reader = SpillRowReader(bytes: bytes, path: path)
            while let record = try reader.nextCallRecord(bucketStart: start, bucket: bucket) { records.append(record) }
        }
        return records
    }
}

/// Reads the rows of one segment (`WebSpillFile`'s or `CallSpillFile`'s layout; the final pass hands web
/// buckets to the state writer in it too).
struct SpillRowReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    mutating func next(bucketStart: Int64) throws(OutputError) -> WebAggregator.RowView? {
        guard position < bytes.count else { return nil }
        guard let dimension = WebDimension(rawValue: Int(try take(1)[0])) else { throw damaged }
        let value = try take(Int(try integer(UInt32.self)))
        let hits = try integer(Int64.self), sent = try integer(Int64.self)
        let status4xx = try integer(Int64.self), status5xx = try integer(Int64.self)
        let sketch = try take(Int(try integer(UInt32.self)))
        return WebAggregator.RowView(bucketStart: bucketStart, dimension: dimension, valueBytes: value, hits: hits,
                                     bytes: sent, status4xx: status4xx, status5xx: status5xx, sketchBytes: sketch)
    }

    /// The next record of a `CallSpillFile` segment, or nil at its end.
    mutating func nextCallRecord(bucketStart: Int64, bucket: TimeBucket) throws(OutputError) -> CallTrendRecord? {
        guard position < bytes.count else { return nil }
        guard let dimension = CallDimension(rawValue: Int(try take(1)[0])) else { throw damaged }
        let value = String(decoding: try take(Int(try integer(UInt32.self))), as: UTF8.self)
        let calls = try integer(Int64.self), answered = try integer(Int64.self), talkSeconds = try integer(Int64.self)
        let sketch = Array(try take(Int(try integer(UInt32.self))))
        let histogram = Array(try take(Int(try integer(UInt32.self))))
        return CallTrendRecord(bucketStart: bucketStart, bucket: bucket, dimension: dimension.name, value: value, calls: calls,
                               answered: answered, callers: 0, talkSeconds: talkSeconds, talkP50: 0, talkP95: 0,
                               sketch: sketch, talkHistogram: histogram)
    }

    private var damaged: OutputError { OutputError(path: path, message: "read back damaged") }

    private mutating func take(_ count: Int) throws(OutputError) -> UnsafeRawBufferPointer {
        guard count <= bytes.count - position else { throw damaged }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws(OutputError) -> T {
        T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
    }
}

extension [UInt8] {
    /// Appends `row` in the spill file's layout.
    mutating func appendSpillRow(_ row: WebAggregator.RowView) {
        appendSpillRowCounts(row)
        appendLittleEndian(UInt32(row.sketchBytes.count))
        append(contentsOf: row.sketchBytes)
    }

    /// Appends `row` in the spill file's layout with `sketch` serialized in place (`row.sketchBytes` unused).
    mutating func appendSpillRow(_ row: WebAggregator.RowView, sketch: HyperLogLog) {
        appendSpillRowCounts(row)
        let lengthOffset = count
        appendLittleEndian(UInt32(0))
        sketch.appendSerialized(to: &self)
        let length = UInt32(count - lengthOffset - 4)
        withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: lengthOffset, as: UInt32.self) }
    }

    /// A spill row up to its sketch's length: dimension, value length, value, hits, bytes, 4xx, 5xx. Sized
    /// once and stored through a pointer: eight appends made a capacity check and a copy call each.
    private mutating func appendSpillRowCounts(_ row: WebAggregator.RowView) {
        let start = count
        let valueCount = row.valueBytes.count
        append(contentsOf: repeatElement(0, count: 1 + 4 + valueCount + 4 * 8))
        withUnsafeMutableBytes { out in
            out[start] = UInt8(row.dimension.rawValue)
            out.storeBytes(of: UInt32(valueCount).littleEndian, toByteOffset: start + 1, as: UInt32.self)
            UnsafeMutableRawBufferPointer(rebasing: out[(start + 5)..<(start + 5 + valueCount)]).copyMemory(from: row.valueBytes)
            let counts = start + 5 + valueCount
            out.storeBytes(of: row.hits.littleEndian, toByteOffset: counts, as: Int64.self)
            out.storeBytes(of: row.bytes.littleEndian, toByteOffset: counts + 8, as: Int64.self)
            out.storeBytes(of: row.status4xx.littleEndian, toByteOffset: counts + 16, as: Int64.self)
            out.storeBytes(of: row.status5xx.littleEndian, toByteOffset: counts + 24, as: Int64.self)
        }
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension [UInt8] {
    /// Appends `record` in `CallSpillFile`'s layout.
    mutating func appendSpillRecord(_ record: CallTrendRecord) {
        append(UInt8(CallDimension(name: record.dimension)?.rawValue ?? Int(UInt8.max)))
        appendLittleEndian(UInt32(record.value.utf8.count))
        append(contentsOf: record.value.utf8)
        appendLittleEndian(record.calls)
        appendLittleEndian(record.answered)
        appendLittleEndian(record.talkSeconds)
        appendLittleEndian(UInt32(record.sketch.count))
        append(contentsOf: record.sketch)
        appendLittleEndian(UInt32(record.talkHistogram.count))
        append(contentsOf: record.talkHistogram)
    }
}
