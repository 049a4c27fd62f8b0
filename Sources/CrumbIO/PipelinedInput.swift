import Crypto
import Foundation

/// One input read, decoded and hashed chunk by chunk, either on the caller's thread or on a producer thread of
/// its own that runs ahead of the caller by a few chunks.
///
/// It wraps `InputReader` and `StreamDecoder` and accepts and rejects exactly what they do: gzip by content, any
/// other bytes as plain text, `-` for standard input. Alongside, it keeps a SHA-256 of the raw bytes read and, when
/// asked, one of the decoded bytes delivered (with its state at the last line feed, `ContentDigest`). For plain
/// text the decoded bytes are the raw ones, so the raw digest serves as both and nothing is hashed twice.
///
/// Pipelined, reading, inflating and both digests run on a producer thread; the decoder writes each chunk straight
/// into one of `slotCount` buffers of `chunkSize` bytes, allocated once per run (a plain input is read into them),
/// and the chunk is handed to the caller's thread under a condition lock, with the decoded digest as it stood
/// after the chunk: the producer sleeps while every buffer is full, the caller while none is. Unpipelined,
/// everything runs on the caller's thread. Both modes deliver the same chunks, in the same order, with the same
/// counts, digests and errors.
///
/// Not `Sendable`: one input has one owner, which runs it once and then closes it.
public final class PipelinedInput {
    /// How many decoded chunks the producer may hold ahead of the caller: enough to ride out a slow chunk on
    /// either side, few enough that memory stays at `slotCount × chunkSize` per input.
    public static let slotCount = 4

    /// The input's path as given; `-` for standard input.
    public let path: String
    /// The size of the input from `fstat(2)` when it is a regular file, taken when it was opened; `nil` otherwise.
    public let fileSize: Int64?
    /// The identity of the file opened, taken when it was opened (before any byte was read).
    public let identity: FileIdentity?
    /// The largest chunk `forEachChunk`'s body sees.
    public let chunkSize: Int
    /// Whether reading and decoding run on a producer thread.
    public let isPipelined: Bool

    /// The input's encoding, once `forEachChunk` has run; `nil` before.
    public private(set) var encoding: InputEncoding?
    /// Raw bytes read from the input (compressed bytes, for a gzip input), once `forEachChunk` has run. After the
    /// body stopped the run, a pipelined input may have read a few chunks further than an unpipelined one.
    public private(set) var rawBytes: Int64 = 0
    /// Decoded bytes delivered to `forEachChunk`'s body so far, counting a chunk before its call.
    public private(set) var decodedBytes: Int64 = 0
    /// The SHA-256 of the `rawBytes` bytes read, once `forEachChunk` has run (of no bytes before).
    public private(set) var rawSHA256: SHA256Digest = SHA256().finalize()
    /// The digest of every decoded byte delivered to `forEachChunk`'s body so far, the chunk in its call included
    /// (a pipelined producer's digest of chunks decoded ahead is not); `nil` without `hashDecoded`. It is a
    /// digest of no bytes before the first chunk.
    public private(set) var decodedDigest: ContentDigest?
    /// The SHA-256 of every decoded byte delivered (`decodedDigest`'s); `nil` without `hashDecoded`.
    public var decodedSHA256: SHA256Digest? { decodedDigest?.sha256 }

    private let source: DecodingSource
    private var outcome: Outcome?
    private var isRunning = false
    private var closeRequested = false

    /// Opens `path` for reading; `-` means standard input, which `close()` leaves open.
    ///
    /// - Parameters:
    ///   - path: The input, as `InputReader` takes it.
    ///   - chunkSize: The size of the read buffer, of the decoded-output buffer and of each handoff buffer; at
    ///     least 1.
    ///   - pipelined: Run reading and decoding on a producer thread. A thread and `slotCount × chunkSize` bytes
    ///     per run are cheap against a large input and wasted on a tiny one.
    ///   - hashDecoded: Also compute `decodedSHA256`.
    ///   - progress: Receives the count of raw bytes of each read, from whichever thread reads.
    /// - Throws: `InputError` with the system's text when the input cannot be opened.
    public init(
        path: String, chunkSize: Int = 1 << 19, pipelined: Bool, hashDecoded: Bool, progress: ProgressMeter? = nil
    ) throws(InputError) {
        precondition(chunkSize > 0, "PipelinedInput needs a chunk size of at least 1 byte")
        let reader = try InputReader(path: path)
        self.path = path
        fileSize = reader.fileSize
        identity = reader.identity
        self.chunkSize = chunkSize
        isPipelined = pipelined
        source = DecodingSource(reader: reader, chunkSize: chunkSize, hashDecoded: hashDecoded, progress: progress)
        decodedDigest = hashDecoded ? ContentDigest() : nil
    }

    /// Calls `body` with each chunk of decoded bytes, in order, until the end of the input.
    ///
    /// The contract is `StreamDecoder.forEachChunk`'s: a chunk is valid only during its call and is never empty;
    /// every byte decoded before a fault is delivered before the fault is thrown; the input runs once, and a later
    /// call delivers nothing (and rethrows the input's own fault). Pipelined, `body` still runs on the caller's
    /// thread, and the producer thread has ended by the time this returns or throws.
    ///
    /// - Parameter body: Receives each chunk; may throw to stop early, and its error is rethrown as is once the
    ///   producer has stopped.
    /// - Throws: `DecodeError` for undecodable gzip data, `InputError` when reading fails, or `body`'s error.
    /// - Complexity: O(n) in the input's raw and decoded sizes. Pipelined, the decoder writes into the handoff's
    ///   buffers, so the decoded bytes are not copied again (but for the first read of a plain input).
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let outcome {
            if case .fault(let fault) = outcome { throw fault }
            return
        }
        isRunning = true
        let ending = isPipelined ? runPipelined(body) : runInline(body)
        isRunning = false
        outcome = ending
        collectResults()
        if closeRequested {
            source.reader.close()
        }
        switch ending {
        case .completed: return
        case .fault(let error), .stopped(let error): throw error
        }
    }

    /// Closes the input's file descriptor (never standard input's). Safe to call more than once. Called from
    /// `forEachChunk`'s body, it takes effect once the run has ended, so the producer never reads a closed file.
    public func close() {
        if isRunning {
            closeRequested = true
        } else {
            source.reader.close()
        }
    }

    /// Everything on the caller's thread: the decoder calls `body` directly.
    private func runInline(_ body: (UnsafeRawBufferPointer) throws -> Void) -> Outcome {
        var bodyError: (any Error)?
        do {
            try source.run { chunk, digest in
                decodedBytes += Int64(chunk.count)
                if let digest { decodedDigest = digest }
                do {
                    try body(chunk)
                } catch {
                    bodyError = error
                    throw error
                }
            }
        } catch {
            return bodyError.map(Outcome.stopped) ?? .fault(error)
        }
        return .completed
    }

    /// Reading and decoding on a producer thread; `body` on this one, fed through the handoff's buffers.
    private func runPipelined(_ body: (UnsafeRawBufferPointer) throws -> Void) -> Outcome {
        let handoff = ChunkHandoff(slotCount: Self.slotCount, chunkSize: chunkSize)
        let transfer = SourceTransfer(source: source)
        let producer = Thread {
            var fault: (any Error)?
            do {
                let nextSlot = {
                    guard let slot = handoff.freeSlot() else { throw ProducerStopped() }
                    return slot
                }
                try transfer.source.run(decodingInto: nextSlot) { chunk, digest in
                    guard handoff.put(chunk, digest: digest) else { throw ProducerStopped() }
                }
            } catch is ProducerStopped {
            } catch {
                fault = error
            }
            // The producer's last touch of `transfer.source`: `finish` publishes it to the caller.
            handoff.finish(fault: fault)
        }
        producer.name = "crumb-decode"
        producer.start()
        while let (chunk, digest) = handoff.take() {
            decodedBytes += Int64(chunk.count)
            if let digest { decodedDigest = digest }
            do {
                try body(chunk)
            } catch {
                handoff.cancel()
                _ = handoff.waitForProducer()
                return .stopped(error)
            }
            handoff.release()
        }
        guard let fault = handoff.waitForProducer() else { return .completed }
        return .fault(fault)
    }

    /// Copies the source's counters and raw digest out; the producer thread, if any, has finished with them.
    private func collectResults() {
        encoding = source.decoder.encoding
        rawBytes = source.reader.bytesRead
        rawSHA256 = source.rawDigest.sha256!  // made hashing, in `DecodingSource`
    }
}

@available(*, unavailable)
extension PipelinedInput: Sendable {}

/// How a run ended.
private enum Outcome {
    /// The input was decoded to its end.
    case completed
    /// The input's own fault (`DecodeError` or `InputError`), after every chunk before it was delivered.
    case fault(any Error)
    /// The body's error.
    case stopped(any Error)
}

/// Thrown inside the producer's decode loop once the caller has stopped: ends the decoder's run early.
private struct ProducerStopped: Error {}

/// The reading and decoding half of an input: everything the producer thread touches while it runs.
private final class DecodingSource {
    let reader: InputReader
    let decoder: StreamDecoder
    let hashDecoded: Bool
    /// Every raw byte read. For plain text it is also the decoded bytes' digest, so they are not hashed again.
    var rawDigest = ContentDigest()
    /// The decoded bytes, when they are not the raw ones (gzip; or plain text whose first chunk was not a whole
    /// read, which only a lone leading `1f` gives).
    private var decodedDigest = ContentDigest()
    /// Decided at the first chunk: whether decoded bytes are hashed apart from the raw ones.
    private var hashesApart: Bool?

    init(reader: InputReader, chunkSize: Int, hashDecoded: Bool, progress: ProgressMeter?) {
        self.reader = reader
        decoder = StreamDecoder(reader: reader, chunkSize: chunkSize)
        self.hashDecoded = hashDecoded
        // Unowned: the reader, and so this closure, lives exactly as long as this source.
        reader.observer = { [unowned self] bytes in
            rawDigest.update(bytes)
            progress?.addBytes(bytes.count)
        }
    }

    /// Decodes the input to its end and passes each chunk to `deliver`, with the digest of every decoded byte up
    /// to the chunk's end when asked to hash them (`nil` when not).
    ///
    /// - Parameter nextBuffer: Where the decoder writes, as `StreamDecoder.forEachChunk(decodingInto:_:)` takes
    ///   it; `nil`: into the decoder's own buffers.
    func run(
        decodingInto nextBuffer: (() throws -> UnsafeMutableRawBufferPointer)? = nil,
        _ deliver: (UnsafeRawBufferPointer, ContentDigest?) throws -> Void
    ) throws {
        guard let nextBuffer else { return try decoder.forEachChunk { try hash($0, deliver) } }
        try decoder.forEachChunk(decodingInto: nextBuffer) { try hash($0, deliver) }
    }

    /// Hashes a decoded chunk when asked to, and passes it on with the digest after it.
    private func hash(
        _ chunk: UnsafeRawBufferPointer, _ deliver: (UnsafeRawBufferPointer, ContentDigest?) throws -> Void
    ) throws {
        guard hashDecoded else { return try deliver(chunk, nil) }
        // A plain chunk is the rest of the read just hashed, so the raw digest is the decoded one, unless the
        // first chunk is the `1f` held back while sniffing (then the read holds more than was delivered).
        let apart = hashesApart ?? (decoder.encoding != .plain || decoder.decodedBytes != reader.bytesRead)
        hashesApart = apart
        if apart {
            decodedDigest.update(chunk)
            try deliver(chunk, decodedDigest)
        } else {
            assert(decoder.decodedBytes == reader.bytesRead, "a plain chunk is a whole read")
            try deliver(chunk, rawDigest)
        }
    }
}

/// Moves a `DecodingSource` to the producer thread.
///
/// `@unchecked`: the caller hands the source over when it starts the thread and does not touch it until
/// `ChunkHandoff.waitForProducer()` returns, which happens after the producer's last use of it (`finish`), under
/// the same lock.
private struct SourceTransfer: @unchecked Sendable {
    let source: DecodingSource
}

/// A bounded queue of decoded chunks between one producer thread and one consumer thread.
///
/// `slotCount` buffers of `chunkSize` bytes in one allocation, used as a ring: a slot is free (the producer may
/// fill it) or full (the consumer may read it). Both sides block on one condition, never spin.
///
/// `@unchecked Sendable`: every mutable field is read and written with `condition` held. A slot's bytes are
/// written only by the producer while the slot is free and read only by the consumer while it is full; the lock
/// taken to publish and to release a slot orders those accesses.
private final class ChunkHandoff: @unchecked Sendable {
    private let condition = NSCondition()
    private let storage: UnsafeMutableRawBufferPointer
    private let slotCount: Int
    private let chunkSize: Int
    private var lengths: [Int]
    /// The decoded digest after each slot's chunk, when the producer hashes.
    private var digests: [ContentDigest?]
    /// The oldest full slot: the consumer's next.
    private var first = 0
    private var fullCount = 0
    private var isCancelled = false
    private var isFinished = false
    private var fault: (any Error)?

    init(slotCount: Int, chunkSize: Int) {
        self.slotCount = slotCount
        self.chunkSize = chunkSize
        storage = .allocate(byteCount: slotCount * chunkSize, alignment: 16)
        lengths = Array(repeating: 0, count: slotCount)
        digests = Array(repeating: nil, count: slotCount)
    }

    deinit {
        storage.deallocate()
    }

    // MARK: Producer

    /// The next free slot, for the producer to decode into before it `put`s the chunk there, waiting while every
    /// slot is full. It stays the next free slot until that `put`: the consumer only ever frees slots, which moves
    /// `first` and `fullCount` together.
    ///
    /// - Returns: `nil` once the consumer has cancelled.
    func freeSlot() -> UnsafeMutableRawBufferPointer? {
        guard let slot = waitForFreeSlot() else { return nil }
        let start = slot * chunkSize
        return UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + chunkSize)])
    }

    /// Publishes `chunk` as the next free slot's, with the digest after it, waiting while every slot is full. A
    /// chunk decoded into that slot (`freeSlot()`) is published where it is; any other is copied there.
    ///
    /// - Returns: `false`, without copying, once the consumer has cancelled.
    func put(_ chunk: UnsafeRawBufferPointer, digest: ContentDigest?) -> Bool {
        precondition(chunk.count <= chunkSize, "a decoded chunk is at most chunkSize bytes")
        guard let slot = waitForFreeSlot() else { return false }
        let start = slot * chunkSize
        let target = UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + chunk.count)])
        if UnsafeRawPointer(target.baseAddress) != chunk.baseAddress {
            target.copyMemory(from: chunk)
        }

        condition.lock()
        lengths[slot] = chunk.count
        digests[slot] = digest
        fullCount += 1
        condition.broadcast()
        condition.unlock()
        return true
    }

    /// The index of the next free slot, once there is one; `nil` once the consumer has cancelled. The slot stays
    /// the producer's after the lock is released.
    private func waitForFreeSlot() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while fullCount == slotCount && !isCancelled {
            condition.wait()
        }
        return isCancelled ? nil : (first + fullCount) % slotCount
    }

    /// Ends production; `fault` follows the last full slot. The producer touches nothing shared after this.
    func finish(fault: (any Error)?) {
        condition.lock()
        self.fault = fault
        isFinished = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Consumer

    /// The oldest full slot's bytes and digest, waiting while none is full; `nil` once production has finished
    /// and every slot has been read. The bytes are valid until `release()`.
    func take() -> (UnsafeRawBufferPointer, ContentDigest?)? {
        condition.lock()
        defer { condition.unlock() }
        while fullCount == 0 && !isFinished {
            condition.wait()
        }
        guard fullCount > 0 else { return nil }
        let start = first * chunkSize
        return (UnsafeRawBufferPointer(rebasing: storage[start..<(start + lengths[first])]), digests[first])
    }

    /// Frees the slot `take()` returned.
    func release() {
        condition.lock()
        first = (first + 1) % slotCount
        fullCount -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Tells the producer to stop: its waiting or next `put` returns `false`.
    func cancel() {
        condition.lock()
        isCancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the producer has called `finish`, and returns the fault it gave.
    func waitForProducer() -> (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        while !isFinished {
            condition.wait()
        }
        return fault
    }
}
