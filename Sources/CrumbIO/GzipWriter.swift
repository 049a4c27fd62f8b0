import CZlib

/// Compresses bytes into a gzip member (RFC 1952) with the system zlib, for `crumb generate --gzip`
/// and for tests that need gzip input.
public struct GzipWriter {
    public struct Failure: Error, Equatable, Sendable { public var code: Int32 }

    /// `bytes` as one gzip member at `level` (0...9).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 asks deflate for a gzip header and trailer.
        var status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw Failure(code: status) }
        defer { deflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count / 3 + 64)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try bytes.withUnsafeBufferPointer { (input) throws(Failure) in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { (out) throws(Failure) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = deflate(&stream, Z_FINISH)
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw Failure(code: status)
                    }
                    output.append(contentsOf: out[0..<(out.count - Int(stream.avail_out))])
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
