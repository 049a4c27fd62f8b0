import CIsal
import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a compressed input could not be decoded to its end: a bounded code for counts and reports.
public enum DecodeFailureCode: String, Sendable {
    /// The input ends inside a gzip member: in its header, its deflate data or its 8-byte trailer.
    case truncatedGzip = "truncated_gzip"
    /// Bytes where a gzip member header must start are not one (RFC 1952 §2.3.1: magic, method, flags).
    case badGzipHeader = "bad_gzip_header"
    /// A member's CRC-32 does not match the bytes it decoded to (RFC 1952 §2.3.1, CRC32).
    case gzipChecksum = "gzip_crc_mismatch"
    /// A member's ISIZE does not match the number of bytes it decoded to, modulo 2³² (RFC 1952 §2.3.1).
    case gzipLength = "gzip_length_mismatch"
    /// The deflate data inside a member is invalid (RFC 1951): a bad block type, code or distance.
    case corruptGzip = "corrupt_gzip"
}

/// A compressed input that stopped decoding part way: the decode stage's failure.
///
/// It carries where the fault was found, never any of the input's bytes.
public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: DecodeFailureCode
    /// The input's path as given; `-` for standard input.
    public var path: String
    /// Offset in the compressed input (from the reader's start) at which the fault became certain: the last
    /// byte the inflater used for invalid deflate data; the last byte of a rejected header field, of a CRC-32 or
    /// of an ISIZE; the first byte of trailing bytes that are not a gzip member; the input's length when it is
    /// truncated.
    public var compressedOffset: Int64

    public init(code: DecodeFailureCode, path: String, compressedOffset: Int64) {
        self.code = code
        self.path = path
        self.compressedOffset = compressedOffset
    }

    public var description: String {
        "\(path): byte \(compressedOffset): error[\(code.rawValue)] \(summary)"
    }

    private var summary: String {
        switch code {
        case .truncatedGzip: "gzip input ends inside a member (truncated file?)"
        case .badGzipHeader: "not a gzip member header"
        case .gzipChecksum: "gzip CRC-32 does not match the decoded data"
        case .gzipLength: "gzip length (ISIZE) does not match the decoded data"
        case .corruptGzip: "invalid deflate data in gzip member"
        }
    }
}

/// How an input's bytes are stored, as detected from its first two bytes.
public enum InputEncoding: String, Sendable {
    case gzip, plain
}

/// The library that inflates a gzip member's deflate data (RFC 1951). The gzip framing around it is
/// `StreamDecoder`'s own, so both accept and reject the same members (see `StreamDecoder`).
public enum Inflater: String, Sendable, CaseIterable {
    /// zlib's `inflate` (https://zlib.net/manual.html), linked in: always available.
    case zlib
    /// ISA-L's `isal_inflate` (https://github.com/intel/isa-l, igzip_lib.h), loaded at run time from
    /// libisal.so.2 (Debian: libisal2) when present. It decodes the same bytes about twice as fast (2.1 times on
    /// a 2-million-line access log, decoding only).
    case isal

    /// Whether this inflater can run in this process: zlib always, ISA-L when its library loaded.
    public var isAvailable: Bool {
        switch self {
        case .zlib: true
        case .isal: crumb_isal_load() != 0
        }
    }

    /// Why ISA-L cannot run in this process (the loader's message), or `nil` when it can.
    public static var isalUnavailableReason: String? {
        crumb_isal_load() != 0 ? nil : String(cString: crumb_isal_load_failure())
    }

    /// The environment variable that forces an inflater: `zlib`, `isal`, or `auto` (the same as unset).
    public static let environmentVariable = "CRUMB_INFLATE"

    /// The inflater decoders use unless told otherwise, chosen once per process: the one `CRUMB_INFLATE` names,
    /// else ISA-L when it loads, else zlib.
    ///
    /// `CRUMB_INFLATE=isal` where ISA-L cannot be loaded falls back to zlib rather than failing every input (the
    /// output is the same, only slower), and so does an unknown value; either way a warning says so on standard
    /// error, once, and `selectionNote` keeps it for reports.
    public static var preferred: Inflater { selection.inflater }

    /// Why `preferred` is not what `CRUMB_INFLATE` asked for, or `nil` when it is (or nothing was asked).
    public static var selectionNote: String? { selection.note }

    private static let selection: (inflater: Inflater, note: String?) = {
        let setting = getenv(environmentVariable).map { String(cString: $0) }
        let selection = select(setting: setting, isalLoads: Inflater.isal.isAvailable)
        if let note = selection.note {
            let line = Array("crumb: warning: \(note)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        return selection
    }()

    /// The choice `preferred` makes for a `CRUMB_INFLATE` value, and a note when it cannot honour it.
    static func select(setting: String?, isalLoads: Bool) -> (inflater: Inflater, note: String?) {
        let automatic: Inflater = isalLoads ? .isal : .zlib
        switch setting {
        case nil, "", "auto":
            return (automatic, nil)
        case "zlib":
            return (.zlib, nil)
        case "isal":
            guard isalLoads else {
                let reason = isalUnavailableReason ?? "it is not available"
                let note = "\(environmentVariable)=isal, but ISA-L cannot be loaded (\(reason)); inflating with zlib"
                return (.zlib, note)
            }
            return (.isal, nil)
        default:
            let note = "\(environmentVariable) must be zlib, isal or auto; inflating with \(automatic.rawValue)"
            return (automatic, note)
        }
    }
}

/// Decodes one input to its plain bytes, chunk by chunk: gzip when it starts with the gzip magic, else as is.
///
/// Detection looks at content, never at the file name: an input whose first two bytes are `1f 8b`
/// (RFC 1952 §2.3.1, ID1 ID2) is gzip; anything else, including an empty input and a lone `1f`, is plain text
/// and passes through unchanged.
///
/// A gzip input is a series of members (RFC 1952 §2.2). The decoder reads each member's header and trailer
/// itself and hands the deflate data between them to an `Inflater` in raw mode: zlib (`inflateInit2` with
/// `windowBits` -15) or ISA-L (`crc_flag` `ISAL_GZIP_NO_HDR`, which also keeps the data's CRC-32). Framing here
/// rather than in each library keeps one set of rules and one set of fault offsets for both, and ISA-L's own gzip
/// mode could not serve: it reports a CRC and an ISIZE mismatch as one error and does not reject reserved flags.
/// The rules, fault offsets included, are those of zlib's own gzip inflate (`windowBits` 15 + 16):
/// - header (RFC 1952 §2.3.1): CM must be 8 (deflate) and the reserved FLG bits 5–7 zero, else
///   `bad_gzip_header` at FLG's offset; FEXTRA, FNAME and FCOMMENT are skipped; with FHCRC, the stored CRC16
///   must match the header's CRC-32 (low 16 bits), else `bad_gzip_header` at its last byte; MTIME, XFL and OS
///   are not checked;
/// - trailer: CRC32 must match the CRC-32 of the member's data, else `gzip_crc_mismatch` at its last byte (checked
///   before ISIZE is read); ISIZE must match the data's length modulo 2³², else `gzip_length_mismatch` at its
///   last byte;
/// - invalid deflate data is `corrupt_gzip` at the last byte the inflater used, after every byte it decoded before
///   the fault. (ISA-L's fast loop may report a bad match's bytes as output before it checks the match's distance;
///   on a fault, the input buffer is decoded again from a checkpoint one byte per call, on ISA-L's careful path,
///   which also places the fault at the byte that exposed it, as zlib does. See CIsal.h.) The two inflaters still
///   differ where they validate differently: inside a block's Huffman code description (RFC 1951 §3.2.7) each
///   checks other things at other points, and ISA-L accepts incomplete codes, which zlib rejects, so it may find
///   the fault later or as another fault. What either delivers is then a prefix of what the other does.
///
/// After a member's trailer:
/// - end of input: done;
/// - zero bytes are skipped as padding (some tape and block-device writers pad with zeros), then end of input
///   is accepted;
/// - `1f 8b` starts the next member, in the same inflater (`inflateReset`, `isal_inflate_init`: no reallocation);
/// - any other byte is `bad_gzip_header` at that byte's offset (`1f` then end of input is `truncated_gzip`).
///
/// An input that ends inside a member (header, deflate data or trailer) is `truncated_gzip` at its length, after
/// everything decodable from its bytes was delivered. One exception: ISA-L decodes up to three symbols per table
/// lookup and backs off the whole lookup when its last symbol is cut, so inside deflate data of more than one
/// block it may deliver up to two bytes fewer than zlib (about a third of cut points in the tests); a member cut
/// inside its header or trailer decodes to the same bytes with either.
///
/// Memory is fixed: one input buffer and one output buffer of `chunkSize` bytes each (or the caller's buffers, with
/// `forEachChunk(decodingInto:_:)`), plus the inflater's state,
/// allocated at the first member: zlib's `z_stream` and state (about 7 KiB) and its 32 KiB window, or ISA-L's
/// `inflate_state` (about 85 KiB, window included) and a checkpoint copy of it, refreshed once per read buffer.
/// Nothing is allocated per chunk or per member.
///
/// Not `Sendable`: one decoder has one owner.
public final class StreamDecoder {
    private enum Phase: Equatable {
        /// Nothing read yet.
        case start
        /// The first byte was `1f`; the second decides gzip or plain.
        case startMagic
        /// Plain text: bytes pass through.
        case plain
        /// Inside a member's header, after its magic.
        case header
        /// Inside a member's deflate data: bytes go to the inflater.
        case deflate
        /// Inside a member's 8-byte trailer.
        case trailer
        /// After a member's trailer: zero padding, the next member's magic, or end of input.
        case betweenMembers
        /// After a member: `1f` seen at `offset`, `8b` must follow.
        case nextMagic(offset: Int64)
        /// End of input reached, or a fault (or the caller's error) stopped decoding.
        case finished
    }

    /// The inflater this decoder uses: the one asked for, or zlib when ISA-L was asked for and cannot be loaded.
    public let inflater: Inflater

    /// The name of the inflater decoders use in this process (`Inflater.preferred`), for reports.
    public static var inflaterName: String { Inflater.preferred.rawValue }

    private let reader: InputReader
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    /// During `forEachChunk(decodingInto:_:)`, what hands out the buffer each inflate step and each plain read
    /// writes into; `nil` otherwise, when `output` (inflate) and `input` (plain) are used.
    private var nextBuffer: (() throws -> UnsafeMutableRawBufferPointer)?
    private var engine: (any RawInflater)?
    private var phase = Phase.start
    private var fault: (any Error)?

    // The member being decoded.
    private var header = MemberHeaderReader()
    /// Offset of the member's first deflate byte.
    private var deflateOffset: Int64 = 0
    /// The member's decoded length modulo 2³², for ISIZE.
    private var memberLength: UInt32 = 0
    /// The trailer's bytes read so far, little-endian (RFC 1952 §2.1: least significant byte first).
    private var trailer: UInt64 = 0
    private var trailerCount = 0

    /// The input's encoding, known once its first bytes are read (or its end is, for an empty input); `nil` before.
    public private(set) var encoding: InputEncoding?
    /// Decoded bytes delivered to `forEachChunk`'s body so far.
    public private(set) var decodedBytes: Int64 = 0

    /// Raw bytes consumed from the reader so far (compressed bytes, for a gzip input).
    public var compressedBytesRead: Int64 { reader.bytesRead }

    /// Creates a decoder that reads `reader` through buffers of `chunkSize` bytes.
    ///
    /// - Parameters:
    ///   - reader: The source; the decoder reads it to its end but does not close it.
    ///   - chunkSize: The size of the read buffer and of the decoded-output buffer, so the largest chunk the
    ///     body sees; at least 1. The default, 1 MiB, keeps system calls and body calls rare.
    ///   - inflater: The library that inflates gzip members; `Inflater.preferred` unless a test or benchmark
    ///     compares them. ISA-L where it cannot be loaded means zlib (`inflater` tells which one runs).
    public init(reader: InputReader, chunkSize: Int = 1 << 20, inflater: Inflater = .preferred) {
        precondition(chunkSize > 0, "StreamDecoder needs a chunk size of at least 1 byte")
        self.reader = reader
        self.inflater = inflater.isAvailable ? inflater : .zlib
        input = .allocate(byteCount: chunkSize, alignment: 16)
        output = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Calls `body` with each chunk of decoded bytes, in order, until the end of the input.
    ///
    /// A chunk is valid only during its call and is never empty. Every byte decoded before a fault is delivered
    /// before the fault is thrown, so a truncated archive still yields all its complete lines (but for the one or
    /// two bytes ISA-L may hold back at a cut inside deflate data; see the type's notes). The decoder runs
    /// once: after this returns or throws, another call delivers nothing (and rethrows the decoder's own fault).
    ///
    /// - Parameter body: Receives each chunk; may throw to stop early, and its error is rethrown as is.
    /// - Throws: `DecodeError` for undecodable gzip data, `InputError` when reading fails, or `body`'s error.
    /// - Complexity: O(n) in the input's compressed and decoded sizes.
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let fault { throw fault }
        do {
            while phase != .finished {
                let offset = reader.bytesRead
                // Plain bytes are delivered from the buffer they were read into: the caller's, when it gave one.
                let target = try phase == .plain && nextBuffer != nil ? outputBuffer() : input
                let count = try reader.read(into: target)
                if count == 0 {
                    try finish(body)
                } else {
                    try consume(UnsafeRawBufferPointer(rebasing: target[0..<count]), at: offset, body)
                }
            }
        } catch {
            phase = .finished
            if error is DecodeError || error is InputError {
                fault = error
            }
            throw error
        }
    }

    /// `forEachChunk(_:)`, decoding into buffers the caller hands out, so that a caller that keeps chunks (a
    /// queue to another thread) need not copy them: every inflate step, and every read of plain text after the
    /// first, writes into the buffer `nextBuffer` returns just before it. A chunk delivered from such a buffer
    /// starts at the buffer's first byte; the chunks themselves (boundaries, bytes, errors) are exactly those of
    /// `forEachChunk(_:)`. A few chunks still come from the decoder's own memory (the first read of plain text, the
    /// held `1f` of a plain input that starts with one), so the caller copies any chunk that is not at the start of
    /// the buffer it handed out last.
    ///
    /// - Parameters:
    ///   - nextBuffer: Returns a buffer of exactly the decoder's chunk size (so that chunks end where they would in
    ///     its own buffers): the same one until the chunk written into it has been delivered, then any buffer the
    ///     caller has done with. It may throw to stop, as `body` may.
    ///   - body: As for `forEachChunk(_:)`.
    public func forEachChunk(
        decodingInto nextBuffer: () throws -> UnsafeMutableRawBufferPointer,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try withoutActuallyEscaping(nextBuffer) { nextBuffer in
            self.nextBuffer = nextBuffer
            defer { self.nextBuffer = nil }
            try forEachChunk(body)
        }
    }

    /// The buffer the next inflate step, or plain read, writes into.
    private func outputBuffer() throws -> UnsafeMutableRawBufferPointer {
        guard let nextBuffer else { return output }
        let buffer = try nextBuffer()
        precondition(buffer.count == output.count, "StreamDecoder decodes into buffers of its chunk size")
        return buffer
    }

    /// Routes raw input by the current phase; `offset` is the input offset of `bytes`' first byte.
    private func consume(
        _ bytes: UnsafeRawBufferPointer, at offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var index = 0
        while index < bytes.count {
            switch phase {
            case .start:
                if bytes[index] == 0x1F {
                    phase = .startMagic
                    index += 1
                } else {
                    encoding = .plain
                    phase = .plain
                }
            case .startMagic:
                if bytes[index] == 0x8B {
                    encoding = .gzip
                    startMember()
                    index += 1
                } else {
                    encoding = .plain
                    phase = .plain
                    try deliverHeldMagic(body)
                }
            case .plain:
                try deliver(UnsafeRawBufferPointer(rebasing: bytes[index...]), body)
                index = bytes.count
            case .header:
                switch header.read(bytes[index]) {
                case .needsMore:
                    break
                case .complete:
                    startDeflate(at: offset + Int64(index) + 1)
                case .rejected:
                    throw DecodeError(code: .badGzipHeader, path: reader.path, compressedOffset: offset + Int64(index))
                }
                index += 1
            case .deflate:
                index += try inflate(UnsafeRawBufferPointer(rebasing: bytes[index...]), at: offset + Int64(index), body)
            case .trailer:
                try readTrailer(bytes[index], at: offset + Int64(index))
                index += 1
            case .betweenMembers:
                let byte = bytes[index]
                if byte == 0 {
                    index += 1
                } else if byte == 0x1F {
                    phase = .nextMagic(offset: offset + Int64(index))
                    index += 1
                } else {
                    throw DecodeError(code: .badGzipHeader, path: reader.path, compressedOffset: offset + Int64(index))
                }
            case .nextMagic(let magicOffset):
                guard bytes[index] == 0x8B else {
                    throw DecodeError(code: .badGzipHeader, path: reader.path, compressedOffset: magicOffset)
                }
                startMember()
                index += 1
            case .finished:
                return
            }
        }
    }

    /// Handles the end of the input for the current phase.
    private func finish(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch phase {
        case .start:
            encoding = .plain
        case .startMagic:
            encoding = .plain
            try deliverHeldMagic(body)
        case .header, .deflate, .trailer, .nextMagic:
            throw DecodeError(code: .truncatedGzip, path: reader.path, compressedOffset: reader.bytesRead)
        case .plain, .betweenMembers, .finished:
            break
        }
        phase = .finished
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        decodedBytes += Int64(bytes.count)
        try body(bytes)
    }

    /// Delivers the `1f` held back while detecting, for an input that turned out to be plain.
    private func deliverHeldMagic(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let magic: UInt8 = 0x1F
        try withUnsafeBytes(of: magic) { try deliver($0, body) }
    }

    /// Starts a member whose magic, `1f 8b`, was just read.
    private func startMember() {
        header = MemberHeaderReader()
        phase = .header
    }

    /// Starts a member's deflate data at `offset`, its header having ended just before.
    private func startDeflate(at offset: Int64) {
        if engine == nil {
            switch inflater {
            case .zlib:
                engine = ZlibInflater()
            case .isal:
                // `inflater` is `.isal` only when the library loaded; then only malloc can fail, and zlib decodes
                // the same bytes.
                engine = IsalInflater() ?? ZlibInflater()
            }
        }
        engine?.start()
        deflateOffset = offset
        memberLength = 0
        trailer = 0
        trailerCount = 0
        phase = .deflate
    }

    /// Inflates `bytes`, delivering output as it fills, until the input is used up or the deflate data ends.
    ///
    /// - Returns: How many bytes of `bytes` the inflater took; fewer than all only when the deflate data ended.
    private func inflate(
        _ bytes: UnsafeRawBufferPointer, at offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        // Safe to force-unwrap: the phase is `.deflate` only after `startDeflate` made the engine.
        let engine = engine!
        engine.checkpoint()
        var taken = 0
        var delivered = 0
        while true {
            let output = try outputBuffer()
            let step = engine.inflate(UnsafeRawBufferPointer(rebasing: bytes[taken...]), into: output)
            taken += step.consumed
            if step.status == .invalidData && engine.replaysFaults {
                try replayToFault(bytes, at: offset, skipping: delivered, body)
            }
            if step.produced > 0 {
                memberLength &+= UInt32(truncatingIfNeeded: step.produced)
                delivered += step.produced
                try deliver(UnsafeRawBufferPointer(rebasing: output[0..<step.produced]), body)
            }
            switch step.status {
            case .outputFull:
                continue
            case .needsInput:
                if taken == bytes.count { return taken }
                // Neither library stops with input left and room for output (zlib manual: inflate "decompresses as
                // much data as possible"; igzip_lib.h: isal_inflate returns when "the input buffer is empty, the
                // output buffer is full, invalid data is found"). Should one ever do so without progress, calling
                // it again would loop: the data is then treated as undecodable.
                if step.consumed == 0 && step.produced == 0 {
                    throw DecodeError(code: .corruptGzip, path: reader.path, compressedOffset: offset + Int64(taken))
                }
            case .streamEnd:
                phase = .trailer
                // ISA-L may have taken the trailer's first bytes into its bit buffer: they are read from its copy,
                // at their own offsets, before the bytes that follow them in `bytes`.
                let after = engine.bytesAfterStream
                if !after.isEmpty {
                    try consume(after, at: offset + Int64(taken - after.count), body)
                }
                return taken
            case .invalidData:
                throw corruptData(lastUsed: offset + Int64(taken) - 1)
            }
        }
    }

    /// Decodes `bytes` again from the inflater's checkpoint, one byte per call, after it found invalid data in them,
    /// and throws the fault: for an inflater whose output before a fault may not be real (ISA-L; see
    /// `crumb_isal_checkpoint`). Output already delivered from `bytes` is skipped; the rest, up to the fault, is
    /// delivered. The fault's offset is that of the byte whose arrival exposed it.
    private func replayToFault(
        _ bytes: UnsafeRawBufferPointer, at offset: Int64, skipping delivered: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Never {
        // Safe to force-unwrap: called from `inflate`, which has the engine.
        let engine = engine!
        engine.rewind()
        var taken = 0
        var skip = delivered
        while true {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[taken..<min(taken + 1, bytes.count)])
            let output = try outputBuffer()
            let step = engine.inflate(piece, into: output)
            taken += step.consumed
            // Fed one byte, ISA-L writes only what it decoded, even in the call that finds the fault.
            if step.produced > skip {
                memberLength &+= UInt32(truncatingIfNeeded: step.produced - skip)
                try deliver(UnsafeRawBufferPointer(rebasing: output[skip..<step.produced]), body)
            }
            skip = max(skip - step.produced, 0)
            if step.status == .invalidData {
                throw corruptData(lastUsed: offset + Int64(taken) - 1)
            }
            let stalled = step.consumed == 0 && step.produced == 0
            if step.status != .outputFull && (taken == bytes.count || stalled) { break }
        }
        // Decoding is deterministic, so the replay meets the same fault. Were it ever not to, what it delivered is
        // still real, and the fault is placed at the end of `bytes`.
        throw corruptData(lastUsed: offset + Int64(bytes.count) - 1)
    }

    /// `corrupt_gzip` for invalid deflate data found with the byte at `lastUsed` (never before the data's start).
    private func corruptData(lastUsed: Int64) -> DecodeError {
        DecodeError(code: .corruptGzip, path: reader.path, compressedOffset: max(lastUsed, deflateOffset))
    }

    /// Reads one trailer byte (RFC 1952 §2.3.1: CRC32, then ISIZE, each four bytes, least significant first) and
    /// checks each field as soon as it is complete, as zlib does.
    private func readTrailer(_ byte: UInt8, at offset: Int64) throws {
        trailer |= UInt64(byte) << (8 * trailerCount)
        trailerCount += 1
        if trailerCount == 4 {
            // Safe to force-unwrap: a trailer follows deflate data, which made the engine.
            guard UInt32(truncatingIfNeeded: trailer) == engine!.checksum else {
                throw DecodeError(code: .gzipChecksum, path: reader.path, compressedOffset: offset)
            }
        } else if trailerCount == 8 {
            guard UInt32(truncatingIfNeeded: trailer >> 32) == memberLength else {
                throw DecodeError(code: .gzipLength, path: reader.path, compressedOffset: offset)
            }
            phase = .betweenMembers
        }
    }
}

// MARK: - Member header

/// Reads a gzip member header (RFC 1952 §2.3.1) after its magic, one byte at a time, with zlib's checks.
///
/// Accepted: CM 8 with FLG bits 5–7 zero, then MTIME, XFL and OS as they come, then the optional fields FLG
/// announces, in RFC order: FEXTRA (XLEN, then XLEN bytes), FNAME and FCOMMENT (each up to a zero byte), FHCRC
/// (two bytes). Rejected: any other CM or a reserved flag (zlib reads CM and FLG together and fails at FLG), and
/// a CRC16 other than the low 16 bits of the CRC-32 of every header byte before it (zlib 1.2.12 and later check
/// it; RFC 1952 §2.3.1, "CRC16").
private struct MemberHeaderReader {
    enum Outcome {
        case needsMore, complete, rejected
    }

    private enum Field {
        /// A byte of the fixed part, by its offset in the member: 2 CM, 3 FLG, 4–7 MTIME, 8 XFL, 9 OS.
        case fixed(Int)
        /// XLEN's first (0) or second (1) byte.
        case extraLength(Int)
        case extra
        case name
        case comment
        /// CRC16's first (0) or second (1) byte.
        case headerCRC(Int)
    }

    // RFC 1952 §2.3.1, FLG.
    private static let fhcrc: UInt8 = 0x02
    private static let fextra: UInt8 = 0x04
    private static let fname: UInt8 = 0x08
    private static let fcomment: UInt8 = 0x10
    private static let reservedFlags: UInt8 = 0xE0
    private static let deflateMethod: UInt8 = 8

    private var field = Field.fixed(2)
    private var method: UInt8 = 0
    private var flags: UInt8 = 0
    /// XLEN while it is read, then the FEXTRA bytes left.
    private var extraLeft = 0
    private var storedCRC: UInt16 = 0
    /// The CRC-32 of the header so far, magic included, for FHCRC.
    private var crc: UInt32 = Self.crc(of: 0x8B, after: Self.crc(of: 0x1F, after: 0))

    mutating func read(_ byte: UInt8) -> Outcome {
        // CRC16 covers every header byte before it.
        switch field {
        case .headerCRC: break
        default: crc = Self.crc(of: byte, after: crc)
        }
        switch field {
        case .fixed(let index):
            if index == 2 {
                method = byte
            } else if index == 3 {
                flags = byte
                guard method == Self.deflateMethod, flags & Self.reservedFlags == 0 else { return .rejected }
            }
            guard index == 9 else {
                field = .fixed(index + 1)
                return .needsMore
            }
            return advance(past: 0)
        case .extraLength(let index):
            extraLeft |= Int(byte) << (8 * index)
            guard index == 1 else {
                field = .extraLength(1)
                return .needsMore
            }
            field = .extra
            return extraLeft > 0 ? .needsMore : advance(past: Self.fextra)
        case .extra:
            extraLeft -= 1
            return extraLeft > 0 ? .needsMore : advance(past: Self.fextra)
        case .name:
            return byte != 0 ? .needsMore : advance(past: Self.fname)
        case .comment:
            return byte != 0 ? .needsMore : advance(past: Self.fcomment)
        case .headerCRC(let index):
            storedCRC |= UInt16(byte) << (8 * index)
            guard index == 1 else {
                field = .headerCRC(1)
                return .needsMore
            }
            return storedCRC == UInt16(truncatingIfNeeded: crc) ? .complete : .rejected
        }
    }

    /// Moves to the first optional field after `done` that FLG announces (fields in RFC order: FEXTRA, FNAME,
    /// FCOMMENT, FHCRC; `done` is the flag of the field just finished, or lower than all of them).
    private mutating func advance(past done: UInt8) -> Outcome {
        if done < Self.fextra, flags & Self.fextra != 0 {
            field = .extraLength(0)
        } else if done < Self.fname, flags & Self.fname != 0 {
            field = .name
        } else if done < Self.fcomment, flags & Self.fcomment != 0 {
            field = .comment
        } else if flags & Self.fhcrc != 0 {
            field = .headerCRC(0)
        } else {
            return .complete
        }
        return .needsMore
    }

    /// zlib's `crc32` of one more byte.
    private static func crc(of byte: UInt8, after crc: UInt32) -> UInt32 {
        withUnsafeBytes(of: byte) {
            UInt32(truncatingIfNeeded: crc32(uLong(crc), $0.baseAddress?.assumingMemoryBound(to: Bytef.self), 1))
        }
    }
}

// MARK: - Inflaters

/// What one call to a raw inflater did.
private struct InflateStep {
    enum Status {
        /// All input taken, room left for output: more input needed.
        case needsInput
        /// The output is full; there may be more.
        case outputFull
        /// The final deflate block ended and all of its output was written.
        case streamEnd
        /// The deflate data is invalid.
        case invalidData
    }

    var status: Status
    /// Input bytes taken by the call.
    var consumed: Int
    /// Output bytes written by the call.
    var produced: Int
}

/// A raw-deflate (RFC 1951) inflater that keeps the CRC-32 of its output: one gzip member's data at a time.
private protocol RawInflater: AnyObject {
    /// Readies the inflater for a new deflate stream, keeping the memory it holds.
    func start()
    /// Inflates from `input` into `output` until the input is used up, the output is full, the stream ends, or
    /// the data is invalid.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep
    /// The CRC-32 (RFC 1952 §8) of the bytes written since `start`.
    var checksum: UInt32 { get }
    /// After `.streamEnd`: the input bytes after the stream that the inflater had already taken (at most 8, the
    /// start of the trailer), valid until the next call. Empty for zlib, which stops at the stream's last byte.
    var bytesAfterStream: UnsafeRawBufferPointer { get }
    /// Whether a call that found invalid data may have reported output it never decoded, so that the input since
    /// `checkpoint()` must be fed again after `rewind()`, one byte per call (ISA-L; see `crumb_isal_checkpoint`).
    var replaysFaults: Bool { get }
    /// Saves the inflater's state, for `rewind()`, when it `replaysFaults`.
    func checkpoint()
    /// Restores the state `checkpoint()` saved.
    func rewind()
}

/// zlib's inflate in raw mode.
private final class ZlibInflater: RawInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private(set) var checksum: UInt32 = 0

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // -15: raw deflate with a 32 KiB window, no wrapper (zlib manual, inflateInit2). It fails only when malloc
        // does or when zlib's header and library disagree: neither is a fault of the input.
        let status = inflateInit2_(stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "zlib inflateInit2 failed (\(status))")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    var bytesAfterStream: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    // zlib delivers exactly what it decoded before a fault (zlib manual: "Z_DATA_ERROR if the input data was
    // corrupted"; next_out and avail_out are updated as for any call).
    var replaysFaults: Bool { false }

    func checkpoint() {}

    func rewind() {}

    func start() {
        // inflateReset: the same as inflateEnd then inflateInit, without freeing and reallocating (zlib manual).
        // It cannot fail on a stream inflateInit2 set up.
        let status = inflateReset(stream)
        assert(status == Z_OK)
        checksum = 0
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep {
        let z = stream
        let inputCount = uInt(clamping: input.count)
        let outputCount = uInt(clamping: output.count)
        // inflate never writes through next_in; zlib declares it mutable only when built without z_const.
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = inputCount
        let out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        z.pointee.next_out = out
        z.pointee.avail_out = outputCount
        let status = CZlib.inflate(z, Z_NO_FLUSH)
        let consumed = Int(inputCount - z.pointee.avail_in)
        let produced = Int(outputCount - z.pointee.avail_out)
        let outputFull = z.pointee.avail_out == 0
        z.pointee.next_in = nil
        z.pointee.avail_in = 0
        z.pointee.next_out = nil
        z.pointee.avail_out = 0
        if produced > 0 {
            checksum = UInt32(truncatingIfNeeded: crc32(uLong(checksum), out, uInt(produced)))
        }
        let result: InflateStep.Status
        switch status {
        case Z_STREAM_END:
            result = .streamEnd
        case Z_OK, Z_BUF_ERROR:
            result = outputFull ? .outputFull : .needsInput
        case Z_DATA_ERROR:
            result = .invalidData
        default:
            // Z_MEM_ERROR (the window allocation failed) or Z_STREAM_ERROR (a bug here); Z_NEED_DICT is for zlib
            // streams only. None is the input's fault.
            preconditionFailure("zlib inflate failed (\(status))")
        }
        return InflateStep(status: result, consumed: consumed, produced: produced)
    }
}

/// ISA-L's inflate in raw mode, through CIsal (which loads the library at run time).
private final class IsalInflater: RawInflater {
    private let state: OpaquePointer
    private let after = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
    private var afterCount = 0

    /// `nil` when ISA-L is not loaded or its state cannot be allocated.
    init?() {
        guard let state = crumb_isal_create() else {
            after.deallocate()
            return nil
        }
        self.state = state
    }

    deinit {
        crumb_isal_destroy(state)
        after.deallocate()
    }

    var checksum: UInt32 { crumb_isal_crc32(state) }

    var bytesAfterStream: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: after[0..<afterCount]) }

    var replaysFaults: Bool { true }

    func checkpoint() {
        crumb_isal_checkpoint(state)
    }

    func rewind() {
        crumb_isal_rewind(state)
        afterCount = 0
    }

    func start() {
        crumb_isal_start(state)
        afterCount = 0
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep {
        var step = crumb_isal_step()
        crumb_isal_inflate(
            state, input.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(clamping: input.count),
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(clamping: output.count), &step)
        let status: InflateStep.Status
        switch step.status {
        case CRUMB_ISAL_NEEDS_INPUT: status = .needsInput
        case CRUMB_ISAL_OUTPUT_FULL: status = .outputFull
        case CRUMB_ISAL_STREAM_END: status = .streamEnd
        default: status = .invalidData
        }
        afterCount = 0
        if status == .streamEnd {
            afterCount = Int(step.buffered)
            withUnsafeBytes(of: step.after_stream) { after.copyMemory(from: $0) }
        }
        return InflateStep(status: status, consumed: Int(step.consumed), produced: Int(step.produced))
    }
}
