import CrumbCore
import Foundation

/// A processor that takes framed lines: what `LineSplitter` shares lines out to.
protocol FrameProcessing: Sendable {
    mutating func process(_ frame: LineFramer.Frame)
    /// Takes a batch of lines, with the same result as `process(_:)` for each in turn.
    mutating func process(lines: UnsafeBufferPointer<FramedLine>, in bytes: UnsafeRawBufferPointer)
    /// Called between runs of lines: where a processor may move closed buckets out.
    mutating func runEnded()
}

extension FrameProcessing {
    mutating func process(lines: UnsafeBufferPointer<FramedLine>, in bytes: UnsafeRawBufferPointer) {
        for line in lines {
            if line.start < 0 {
                process(.tooLong(number: line.number, length: line.length))
            } else {
                process(.line(UnsafeRawBufferPointer(rebasing: bytes[line.start..<(line.start + line.length)]), number: line.number))
            }
        }
    }
}

extension WebLogProcessor: FrameProcessing {
    mutating func runEnded() { spillClosedBuckets() }
}

/// Shares the lines of one input between two processors: the caller's, on the caller's thread, and a helper
/// processor on a thread of its own. The second core parses while the first frames, hashes and parses.
///
/// Lines are framed once, by the caller's `LineFramer`, so every line keeps its number and an over-long line
/// is cut the same way. The helper's lines are copied into batches of about `batchBytes` and queued, and the
/// caller waits only when `queueDepth` batches are already queued; the caller's lines are copied too, into a
/// batch given to its processor when full and before `feed` returns. A processor takes a batch whole
/// (`FrameProcessing.process(lines:in:)`), which lets it parse one line ahead of the line it handles. Which
/// processor takes a line depends on the input alone, never on timing, so a run is repeatable:
/// - `.byClient`, for formats whose lines start with the client address (`WebLineParser.linesStartWithClient`):
///   a hash of the line's first field picks the processor, so a client's lines go to one of them, and each
///   visitor is hashed (a keyed HMAC per visitor and day), its user agent classified and its repeat visits
///   recognised by one processor instead of by both. A processor more than `maxLead` bytes ahead of the
///   other gives its next line to the other instead, so a client with most of the lines, or a first field
///   that is the same on every line, still leaves the two processors even.
/// - `.runs`, otherwise: runs of about `batchBytes` in turn, the even runs to the caller's processor, the
///   odd runs to the helper.
///
/// With processors whose lines are independent (`WebLogProcessor.linesAreIndependent`), the two processors'
/// counts, rejects and tallies add up (`absorbInput(of:)`) and their trends merge exactly to what one
/// processor taking every line counts, whichever lines each took. Only a dimension past its value cap can
/// keep other values, as it does when files are shared between workers.
///
/// One owner, which calls `take` and then `finish` exactly once; `@unchecked Sendable` so that the helper
/// thread can hold it: the queue and the flags are touched only under `condition`, a batch's bytes only by
/// the side that holds it (the caller while filling it, the helper between taking and returning it), and
/// `helper` only by the helper thread until it has said it is done, under the lock.
final class LineSplitter<Processor: FrameProcessing>: @unchecked Sendable {
    /// Bytes of lines per run, by default: large enough that a handoff (one lock, one wakeup) is rare
    /// against the work of parsing it, small enough that both threads start at once and the queue stays a
    /// few MB.
    static var defaultBatchBytes: Int { 256 << 10 }
    /// Batches queued for the helper at most, besides the one it works on. Deep enough to ride out either
    /// thread being descheduled for a while (with the decode thread, three threads share two cores): at 2,
    /// each side waited 0.3–0.5 s per 2M-line file, at 8 about half that; 9 batches are under 3 MB.
    static var queueDepth: Int { 8 }

    /// How lines are shared out.
    enum Sharing: CaseIterable, Sendable {
        /// By a hash of the line's first field, the client address.
        case byClient
        /// In alternate runs of `batchBytes`.
        case runs
    }

    /// A run of lines copied for one processor: their bytes end to end, and where each line is.
    struct Batch {
        var bytes: [UInt8] = []
        var frames: [FramedLine] = []

        init(capacity: Int) {
            bytes.reserveCapacity(capacity + (64 << 10))
            frames.reserveCapacity(capacity / 64)
        }

        mutating func append(_ frame: LineFramer.Frame) {
            switch frame {
            case .line(let line, let number):
                frames.append(FramedLine(start: bytes.count, length: line.count, number: number))
                bytes.append(contentsOf: line)
            case .tooLong(let number, let length):
                frames.append(FramedLine(start: -1, length: length, number: number))
            }
        }

        /// Has `processor` take every line, in order, and empties the batch (keeping its capacity).
        mutating func run(on processor: inout Processor) {
            guard !frames.isEmpty else { return }
            bytes.withUnsafeBytes { all in
                frames.withUnsafeBufferPointer { processor.process(lines: $0, in: all) }
            }
            bytes.removeAll(keepingCapacity: true)
            frames.removeAll(keepingCapacity: true)
        }
    }

    private let condition = NSCondition()
    private var queued: [Batch] = []
    private var spare: [Batch] = []
    private var closing = false
    private var helperDone = false
    private var helper: Processor
    /// Lines the helper took.
    private(set) var helperLines = 0

    // The caller's side.
    let batchBytes: Int
    let sharing: Sharing
    /// `.byClient`: how far, in bytes of lines, one processor may get ahead of the other before its lines
    /// go to the other: four batches, about what the helper's queue holds.
    let maxLead: Int
    private var filling: Batch
    /// The caller's lines not yet given to its processor.
    private var owned: Batch
    /// `.runs`: whether the current run goes to the caller's processor (else it is being copied for the helper).
    private var direct = true
    /// Bytes of lines in the current run (`.runs`) or in the batch being filled (`.byClient`).
    private var runBytes = 0
    /// `.byClient`: bytes of lines each processor has taken.
    private var ownBytes = 0
    private var helperBytes = 0

    /// Starts the helper thread with `helper`, which `finish` gives back.
    init(helper: Processor, batchBytes: Int = LineSplitter.defaultBatchBytes, sharing: Sharing = .runs) {
        precondition(batchBytes > 0, "a run holds at least one byte")
        self.helper = helper
        self.batchBytes = batchBytes
        self.sharing = sharing
        maxLead = 4 * batchBytes
        filling = Batch(capacity: batchBytes)
        owned = Batch(capacity: batchBytes)
        queued.reserveCapacity(Self.queueDepth)
        spare.reserveCapacity(Self.queueDepth + 1)
        for _ in 0...Self.queueDepth { spare.append(Batch(capacity: batchBytes)) }
        let thread = Thread { [self] in helperLoop() }
        thread.name = "crumb-parse"
        thread.start()
    }

    /// Frames `chunk` with `framer` and shares its lines out. The caller's lines are given to `own` in batches
    /// (`FrameProcessing.process(lines:in:)`), all before this returns: between chunks the caller's processor
    /// has counted every line it took (its buckets can be spilled, its outputs drained).
    func feed(_ chunk: UnsafeRawBufferPointer, framer: inout LineFramer, own: inout Processor) {
        framer.feed(chunk) { take($0, own: &own) }
        owned.run(on: &own)
    }

    /// Gives `frame` to `own`'s batch or copies it for the helper: `feed(_:framer:own:)` calls it for every line
    /// it frames; after the last chunk, the framer's `finish` calls it (and `finish(own:)` runs the batch).
    @inline(__always)
    func take(_ frame: LineFramer.Frame, own: inout Processor) {
        let size: Int
        switch frame {
        case .line(let line, _): size = line.count + 1
        case .tooLong(_, let length): size = length + 1
        }
        if sharing == .byClient {
            takeByClient(frame, size: size, own: &own)
            return
        }
        if direct {
            keep(frame, own: &own)
        } else {
            filling.append(frame)
        }
        runBytes += size
        if runBytes >= batchBytes {
            runBytes = 0
            if !direct { send() }
            direct.toggle()
        }
    }

    /// `.byClient`: the client's processor takes the line, unless it is `maxLead` bytes ahead of the other.
    /// An over-long line (no client to read) goes to the caller's.
    @inline(__always)
    private func takeByClient(_ frame: LineFramer.Frame, size: Int, own: inout Processor) {
        var toHelper = false
        if case .line(let line, _) = frame { toHelper = Self.clientKey(of: line) >> 63 == 1 }
        if toHelper ? helperBytes - ownBytes >= maxLead : ownBytes - helperBytes >= maxLead { toHelper.toggle() }
        if toHelper {
            filling.append(frame)
            helperBytes += size
            runBytes += size
            if runBytes >= batchBytes {
                runBytes = 0
                send()
            }
        } else {
            keep(frame, own: &own)
            ownBytes += size
        }
    }

    /// Copies `frame` into the caller's batch, which goes to `own` when full. (Reading the caller's lines in
    /// place from the chunk instead measured no faster: the copy brings them into the core's cache.)
    @inline(__always)
    private func keep(_ frame: LineFramer.Frame, own: inout Processor) {
        owned.append(frame)
        if owned.bytes.count >= batchBytes { owned.run(on: &own) }
    }

    /// A hash of a line's first field (up to its first space, or its first 64 bytes): the client address,
    /// when the format starts with it. A scan and a hash of a few dozen bytes, on the line as framed.
    static func clientKey(of line: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = line.baseAddress else { return 0 }
        let limit = min(line.count, 64)
        let end = memchr(base, Int32(UInt8(ascii: " ")), limit).map { UnsafeRawPointer($0) - base } ?? limit
        return ByteHash.hash(UnsafeRawBufferPointer(rebasing: line[..<end]), seed: 0xC11E_47C1_11E4_7C11)
    }

    /// Has `own` take the lines not yet sent (`.runs`) or sends the helper its last batch (`.byClient`), waits
    /// for the helper to finish its queue, and returns its processor. Called once, on every path out of the
    /// input (a fault too), after the last `take`.
    func finish(own: inout Processor) -> Processor {
        owned.run(on: &own)
        if sharing == .byClient {
            if !filling.frames.isEmpty { send() }
        } else {
            filling.run(on: &own)
        }
        condition.lock()
        closing = true
        condition.broadcast()
        while !helperDone { condition.wait() }
        condition.unlock()
        return helper
    }

    /// Queues the filled batch for the helper, waiting while the queue is full, and takes a spare to fill.
    private func send() {
        condition.lock()
        while spare.isEmpty { condition.wait() }
        var next = spare.removeLast()
        swap(&next, &filling)
        queued.append(next)
        condition.broadcast()
        condition.unlock()
    }

    private func helperLoop() {
        var processor = helper
        while true {
            condition.lock()
            while queued.isEmpty && !closing { condition.wait() }
            if queued.isEmpty {
                helper = processor
                helperDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            var batch = queued.removeFirst()
            condition.unlock()

            let lines = batch.frames.count
            batch.run(on: &processor)
            processor.runEnded()

            condition.lock()
            helperLines += lines
            spare.append(batch)
            condition.broadcast()
            condition.unlock()
        }
    }
}
