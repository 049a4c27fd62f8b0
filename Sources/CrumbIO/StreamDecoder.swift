import CZlib

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
    /// byte inflate consumed for invalid data, a checksum or a length; the first byte of trailing bytes that
    /// are not a gzip member; the input's length when it is truncated.
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

/// Decodes one input to its plain bytes, chunk by chunk: gzip when it starts with the gzip magic, else as is.
///
/// Detection looks at content, never at the file name: an input whose first two bytes are `1f 8b`
/// (RFC 1952 §2.3.1, ID1 ID2) is gzip; anything else, including an empty input and a lone `1f`, is plain text
/// and passes through unchanged.
///
/// A gzip input is a series of members (RFC 1952 §2.2), each inflated by zlib (`inflateInit2` with
/// `windowBits` 15 + 16: gzip wrapper only, 32 KiB window; see the zlib manual, https://zlib.net/manual.html).
/// zlib checks each member's header, its deflate data, its CRC-32 and its ISIZE. After a member's trailer:
/// - end of input: done;
/// - zero bytes are skipped as padding (some tape and block-device writers pad with zeros), then end of input
///   is accepted;
/// - `1f 8b` starts the next member: the stream is reset with `inflateReset` (zlib manual: same as
///   `inflateEnd` then `inflateInit`, without freeing and reallocating) and decoding goes on;
/// - any other byte is `bad_gzip_header` at that byte's offset (`1f` then end of input is `truncated_gzip`).
///
/// Failures: `truncated_gzip` when the input ends inside a member, `bad_gzip_header` for a member header zlib
/// rejects (method other than deflate, reserved flags, header CRC), `gzip_crc_mismatch` and
/// `gzip_length_mismatch` for a trailer that disagrees with the data, `corrupt_gzip` for invalid deflate data.
///
/// Memory is fixed: one input buffer and one output buffer of `chunkSize` bytes each and one `z_stream`
/// (about 7 KiB, plus zlib's 32 KiB window), allocated once; no allocation per chunk.
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
        /// Inside a gzip member: bytes go to inflate.
        case member
        /// After a member's trailer: zero padding, the next member's magic, or end of input.
        case betweenMembers
        /// After a member: `1f` seen at `offset`, `8b` must follow.
        case nextMagic(offset: Int64)
        /// End of input reached, or a fault (or the caller's error) stopped decoding.
        case finished
    }

    private let reader: InputReader
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private let stream: UnsafeMutablePointer<z_stream>
    private var inflateReady = false
    private var phase = Phase.start
    private var fault: (any Error)?

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
    public init(reader: InputReader, chunkSize: Int = 1 << 20) {
        precondition(chunkSize > 0, "StreamDecoder needs a chunk size of at least 1 byte")
        self.reader = reader
        input = .allocate(byteCount: chunkSize, alignment: 16)
        output = .allocate(byteCount: chunkSize, alignment: 16)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
    }

    deinit {
        if inflateReady {
            inflateEnd(stream)
        }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
        output.deallocate()
    }

    /// Calls `body` with each chunk of decoded bytes, in order, until the end of the input.
    ///
    /// A chunk is valid only during its call and is never empty. Every byte decoded before a fault is delivered
    /// before the fault is thrown, so a truncated archive still yields all its complete lines. The decoder runs
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
                let count = try reader.read(into: input)
                if count == 0 {
                    try finish(body)
                } else {
                    try consume(UnsafeRawBufferPointer(rebasing: input[0..<count]), at: offset, body)
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

    /// Routes one buffer of raw input by the current phase; `offset` is the input offset of `bytes`' first byte.
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
                    startInflate()
                    try inflateHeldMagic(at: offset + Int64(index) - 1, body)
                } else {
                    encoding = .plain
                    phase = .plain
                    try deliverHeldMagic(body)
                }
            case .plain:
                try deliver(UnsafeRawBufferPointer(rebasing: bytes[index...]), body)
                index = bytes.count
            case .member:
                index += try inflate(UnsafeRawBufferPointer(rebasing: bytes[index...]), at: offset + Int64(index), body)
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
                // Cannot fail: the stream is initialised and was not left in an error state.
                let status = inflateReset(stream)
                assert(status == Z_OK)
                try inflateHeldMagic(at: magicOffset, body)
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
        case .member, .nextMagic:
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

    /// Starts a member by giving inflate the `1f` held back while checking that `8b` follows it.
    ///
    /// The `1f` may lie in an earlier read buffer, so it is fed from a constant rather than from the input.
    private func inflateHeldMagic(at magicOffset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        phase = .member
        let magic: UInt8 = 0x1F
        let consumed = try withUnsafeBytes(of: magic) { try inflate($0, at: magicOffset, body) }
        assert(consumed == 1 && phase == .member)
    }

    private func startInflate() {
        guard !inflateReady else { return }
        // 15 + 16: a 32 KiB window and the gzip wrapper only (zlib manual, inflateInit2). It fails only when
        // malloc does or when zlib's header and library disagree: neither is a fault of the input.
        let status = inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "zlib inflateInit2 failed (\(status))")
        inflateReady = true
    }

    /// Inflates `bytes`, delivering output as it fills, until the input is used up or the member ends.
    ///
    /// - Returns: How many bytes of `bytes` inflate consumed; fewer than all only when the member ended.
    private func inflate(
        _ bytes: UnsafeRawBufferPointer, at offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        let z = stream
        // inflate never writes through next_in; zlib declares it mutable only when built without z_const.
        z.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(bytes.count)
        defer {
            z.pointee.next_in = nil
            z.pointee.avail_in = 0
        }
        // Safe to force-unwrap: `output` is allocated with at least one byte.
        let out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        while true {
            z.pointee.next_out = out
            z.pointee.avail_out = uInt(output.count)
            let status = CZlib.inflate(z, Z_NO_FLUSH)
            let produced = output.count - Int(z.pointee.avail_out)
            if produced > 0 {
                try deliver(UnsafeRawBufferPointer(rebasing: output[0..<produced]), body)
            }
            let consumed = bytes.count - Int(z.pointee.avail_in)
            switch status {
            case Z_STREAM_END:
                phase = .betweenMembers
                return consumed
            case Z_OK, Z_BUF_ERROR:
                // A full output buffer may hide more output; otherwise inflate has used all it was given.
                if z.pointee.avail_out == 0 && status == Z_OK { continue }
                assert(z.pointee.avail_in == 0, "inflate stopped with input left and output room")
                return consumed
            case Z_DATA_ERROR, Z_NEED_DICT:
                let faultOffset = offset + Int64(max(consumed - 1, 0))
                throw DecodeError(code: Self.failureCode(z.pointee.msg), path: reader.path, compressedOffset: faultOffset)
            default:
                // Z_MEM_ERROR (the window allocation failed) or Z_STREAM_ERROR (a bug here): not the input's fault.
                preconditionFailure("zlib inflate failed (\(status))")
            }
        }
    }

    /// Maps zlib's `msg` for a `Z_DATA_ERROR` to a code; the texts are those of zlib's inflate.c since 1.2.
    private static func failureCode(_ message: UnsafeMutablePointer<CChar>?) -> DecodeFailureCode {
        guard let message else { return .corruptGzip }
        switch String(cString: message) {
        case "incorrect header check", "unknown compression method", "unknown header flags set",
            "header crc mismatch":
            return .badGzipHeader
        case "incorrect data check":
            return .gzipChecksum
        case "incorrect length check":
            return .gzipLength
        default:
            return .corruptGzip
        }
    }
}
