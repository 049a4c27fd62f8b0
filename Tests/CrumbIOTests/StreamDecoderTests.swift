import CrumbIO
import CrumbTestSupport
import Foundation
import Testing

/// What one run of a decoder over a file gave: every delivered byte, the fault if any, and the counters.
private struct DecodedInput {
    var bytes: [UInt8] = []
    var chunkCount = 0
    var error: (any Error)?
    var encoding: InputEncoding?
    var compressedBytesRead: Int64 = 0
    var decodedBytes: Int64 = 0

    var decodeError: DecodeError? { error as? DecodeError }
    var lineCount: Int { bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
}

private func decodeFile(_ path: String, chunkSize: Int = 1 << 20) throws -> DecodedInput {
    let decoder = StreamDecoder(reader: try InputReader(path: path), chunkSize: chunkSize)
    var result = DecodedInput()
    do {
        try decoder.forEachChunk { chunk in
            #expect(!chunk.isEmpty)
            result.bytes.append(contentsOf: chunk)
            result.chunkCount += 1
        }
    } catch {
        result.error = error
    }
    result.encoding = decoder.encoding
    result.compressedBytesRead = decoder.compressedBytesRead
    result.decodedBytes = decoder.decodedBytes
    return result
}

/// Runs `/bin/gzip` (or `gzip` on PATH) with `arguments` and returns its standard output; stderr is dropped.
func runGzip(_ arguments: [String]) throws -> [UInt8] {
    let process = Process()
    let gzip = FileManager.default.isExecutableFile(atPath: "/bin/gzip") ? "/bin/gzip" : "/usr/bin/gzip"
    process.executableURL = URL(fileURLWithPath: gzip)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return [UInt8](data)
}

/// A fresh temporary folder, removed when the test's `body` ends.
func withScratchDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("crumb-gz-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

func writeFile(_ bytes: [UInt8], to url: URL) throws -> String {
    try Data(bytes).write(to: url)
    return url.path
}

/// One gzip member holding `text`, made by /bin/gzip (`-n`: no name or time, so the bytes are reproducible).
func gzipMember(_ text: [UInt8], in directory: URL) throws -> [UInt8] {
    let source = directory.appendingPathComponent("member-\(UUID().uuidString).txt")
    try Data(text).write(to: source)
    return try runGzip(["-c", "-n", source.path])
}

/// Lines shaped like access-log lines, long enough to span several deflate blocks and small chunks.
func logLikeText(lines: Int, seed: Int) -> [UInt8] {
    var text = ""
    for index in 0..<lines {
        let n = index &* 2_654_435_761 &+ seed
        text += "10.\(n % 256).\((n >> 8) % 256).\((n >> 16) % 256) - - [01/Jan/2026:13:\(index % 60):00 +0000] "
        text += "\"GET /page/\(n % 9973)?utm_source=x HTTP/1.1\" \(200 + n % 4) \(n % 50_000)\n"
    }
    return Array(text.utf8)
}

private let decoderChunkSizes = [1, 7, 1 << 20]

// MARK: - Shared fixtures (../shared/data/gzip)

@Test(arguments: decoderChunkSizes)
func goodFileDecodesLikeGzip(chunkSize: Int) throws {
    guard let path = SharedData.path("gzip/good-file.gz") else {
        print(SharedData.missing("gzip/good-file.gz"))
        return
    }
    let decoded = try decodeFile(path, chunkSize: chunkSize)
    #expect(decoded.error == nil)
    #expect(decoded.encoding == .gzip)
    #expect(decoded.bytes.count == 14_877)
    #expect(decoded.lineCount == 733)
    #expect(decoded.bytes == (try runGzip(["-dc", path])))
    #expect(decoded.decodedBytes == 14_877)
    #expect(decoded.compressedBytesRead == 6_766)
}

@Test func multiGzEqualsMultiTxt() throws {
    guard let path = SharedData.path("gzip/multi.gz"), let textPath = SharedData.path("gzip/multi.txt") else {
        print(SharedData.missing("gzip/multi.gz"))
        return
    }
    for chunkSize in decoderChunkSizes {
        let decoded = try decodeFile(path, chunkSize: chunkSize)
        #expect(decoded.error == nil)
        #expect(decoded.bytes == Array("first\nsecond\n".utf8))
        #expect(decoded.bytes == [UInt8](try Data(contentsOf: URL(fileURLWithPath: textPath))))
    }
}

@Test func multimemberElasticApacheEqualsPlainLog() throws {
    guard let path = SharedData.path("gzip/multimember-elastic-apache.log.gz"),
        let plainPath = SharedData.path("web/elastic-apache_logs.log")
    else {
        print(SharedData.missing("gzip/multimember-elastic-apache.log.gz"))
        return
    }
    let decoded = try decodeFile(path)
    #expect(decoded.error == nil)
    #expect(decoded.lineCount == 10_000)
    #expect(decoded.bytes.count == 2_370_789)
    #expect(decoded.bytes == [UInt8](try Data(contentsOf: URL(fileURLWithPath: plainPath))))
    #expect(decoded.compressedBytesRead == 233_056)
}

/// zlib finds invalid deflate data ("invalid distance too far back") at byte 691, long before the trailer;
/// gzip(1)'s own inflater does not check that distance and reports a CRC and a length error instead.
@Test(arguments: decoderChunkSizes)
func corruptFileIsCorruptDeflateAfterDeliveringItsPrefix(chunkSize: Int) throws {
    guard let path = SharedData.path("gzip/corrupt-file.gz") else {
        print(SharedData.missing("gzip/corrupt-file.gz"))
        return
    }
    let decoded = try decodeFile(path, chunkSize: chunkSize)
    let error = try #require(decoded.decodeError)
    #expect(error.code == .corruptGzip)
    #expect(error.compressedOffset == 691)
    #expect(error.path == path)
    #expect(decoded.bytes.count == 1_151)
    #expect(decoded.lineCount == 64)
    // gzip(1) decodes the same bytes up to the fault.
    #expect(Array((try runGzip(["-dc", path])).prefix(1_151)) == decoded.bytes)
}

/// The header itself is valid RFC 1952 (deflate, no flags; XFL and OS are not checked); the deflate data after
/// it is not: zlib reports "invalid distance too far back" at byte 13 after decoding one byte.
@Test(arguments: decoderChunkSizes)
func brokenHeaderIsCorruptDeflate(chunkSize: Int) throws {
    guard let path = SharedData.path("gzip/broken-header.gz") else {
        print(SharedData.missing("gzip/broken-header.gz"))
        return
    }
    let decoded = try decodeFile(path, chunkSize: chunkSize)
    let error = try #require(decoded.decodeError)
    #expect(error.code == .corruptGzip)
    #expect(error.compressedOffset == 13)
    #expect(decoded.encoding == .gzip)
    #expect(decoded.bytes.count == 1)
}

@Test func truncatedAccessLogDeliversEverythingBeforeTheCut() throws {
    guard let path = SharedData.path("gzip/truncated-access.log.gz") else {
        print(SharedData.missing("gzip/truncated-access.log.gz"))
        return
    }
    let decoded = try decodeFile(path)
    let error = try #require(decoded.decodeError)
    #expect(error.code == .truncatedGzip)
    #expect(error.compressedOffset == 1_000_000)
    #expect(decoded.compressedBytesRead == 1_000_000)
    // `gzip -dc | wc` on the file: 34,620 newlines, 13,267,350 bytes, then "unexpected end of file".
    #expect(decoded.lineCount == 34_620)
    #expect(decoded.bytes.count == 13_267_350)
    #expect(decoded.bytes == (try runGzip(["-dc", path])))
}

// MARK: - Plain text

@Test(arguments: decoderChunkSizes)
func plainTextPassesThroughUnchanged(chunkSize: Int) throws {
    try withScratchDirectory { directory in
        // Named .gz on purpose: detection reads content, not names.
        let text = logLikeText(lines: 300, seed: 1)
        let path = try writeFile(text, to: directory.appendingPathComponent("plain.log.gz"))
        let decoded = try decodeFile(path, chunkSize: chunkSize)
        #expect(decoded.error == nil)
        #expect(decoded.encoding == .plain)
        #expect(decoded.bytes == text)
        #expect(decoded.decodedBytes == Int64(text.count))
        #expect(decoded.compressedBytesRead == Int64(text.count))
    }
}

@Test func emptyFileGivesNoChunksAndIsPlain() throws {
    try withScratchDirectory { directory in
        let path = try writeFile([], to: directory.appendingPathComponent("empty.log"))
        let decoder = StreamDecoder(reader: try InputReader(path: path))
        #expect(decoder.encoding == nil)
        var chunks = 0
        try decoder.forEachChunk { _ in chunks += 1 }
        #expect(chunks == 0)
        #expect(decoder.encoding == .plain)
        #expect(decoder.decodedBytes == 0)
    }
}

@Test(arguments: [
    [0x1F] as [UInt8],
    [0x1F, 0x00],
    [0x1F, 0x1F, 0x8B],
    [0x8B, 0x1F],
    Array("\u{1F}plain after a unit separator\n".utf8),
])
func inputsWithoutTheFullMagicArePlain(bytes: [UInt8]) throws {
    try withScratchDirectory { directory in
        let path = try writeFile(bytes, to: directory.appendingPathComponent("odd.bin"))
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            #expect(decoded.error == nil)
            #expect(decoded.encoding == .plain)
            #expect(decoded.bytes == bytes)
            #expect(decoded.decodedBytes == Int64(bytes.count))
        }
    }
}

// MARK: - Gzip made here

@Test func threeMembersDecodeToTheirConcatenation() throws {
    try withScratchDirectory { directory in
        let parts = (0..<3).map { logLikeText(lines: 200 + $0 * 50, seed: $0) }
        let gzip = try parts.flatMap { try gzipMember($0, in: directory) }
        let path = try writeFile(gzip, to: directory.appendingPathComponent("three.gz"))
        let expected = parts.flatMap { $0 }
        var outputs: [[UInt8]] = []
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            #expect(decoded.error == nil)
            #expect(decoded.encoding == .gzip)
            #expect(decoded.bytes == expected)
            #expect(decoded.compressedBytesRead == Int64(gzip.count))
            outputs.append(decoded.bytes)
        }
        #expect(Set(outputs).count == 1)
    }
}

@Test func emptyMembersAreAccepted() throws {
    try withScratchDirectory { directory in
        let empty = try gzipMember([], in: directory)
        let full = try gzipMember(Array("one line\n".utf8), in: directory)
        let path = try writeFile(empty + full + empty, to: directory.appendingPathComponent("empties.gz"))
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            #expect(decoded.error == nil)
            #expect(decoded.bytes == Array("one line\n".utf8))
        }
    }
}

@Test(arguments: [1, 512, 70_000])
func zeroPaddingAfterAMemberIsAccepted(zeros: Int) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 100, seed: 7)
        let member = try gzipMember(text, in: directory)
        let padded = member + [UInt8](repeating: 0, count: zeros)
        let path = try writeFile(padded, to: directory.appendingPathComponent("padded.gz"))
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            #expect(decoded.error == nil)
            #expect(decoded.bytes == text)
            #expect(decoded.compressedBytesRead == Int64(padded.count))
        }
        // Padding between members is skipped too.
        let twice = padded + member
        let twicePath = try writeFile(twice, to: directory.appendingPathComponent("twice.gz"))
        #expect(try decodeFile(twicePath, chunkSize: 7).bytes == text + text)
    }
}

/// Trailing bytes after a member that are neither zero padding nor `1f 8b`: `bad_gzip_header` at the first one.
@Test(arguments: [
    Array("garbage\n".utf8),
    [0x1F, 0x00, 0x00],
    [0x1F, 0x1F, 0x8B],
    [0x8B],
])
func garbageAfterAMemberIsABadHeaderAtItsStart(garbage: [UInt8]) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 50, seed: 3)
        let member = try gzipMember(text, in: directory)
        let path = try writeFile(member + garbage, to: directory.appendingPathComponent("garbage.gz"))
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            let error = try #require(decoded.decodeError)
            #expect(error.code == .badGzipHeader)
            #expect(error.compressedOffset == Int64(member.count))
            #expect(decoded.bytes == text)
        }
        // After zero padding, the offset is that of the first non-zero byte.
        let padded = member + [0, 0, 0] + garbage
        let paddedPath = try writeFile(padded, to: directory.appendingPathComponent("padded-garbage.gz"))
        let error = try #require(try decodeFile(paddedPath, chunkSize: 7).decodeError)
        #expect(error.code == .badGzipHeader)
        #expect(error.compressedOffset == Int64(member.count + 3))
    }
}

@Test func aLoneMagicByteAfterAMemberIsTruncated() throws {
    try withScratchDirectory { directory in
        let member = try gzipMember(Array("x\n".utf8), in: directory)
        for tail in [[0x1F], [0x1F, 0x8B], [0x1F, 0x8B, 0x08]] as [[UInt8]] {
            let path = try writeFile(member + tail, to: directory.appendingPathComponent("tail.gz"))
            for chunkSize in decoderChunkSizes {
                let decoded = try decodeFile(path, chunkSize: chunkSize)
                let error = try #require(decoded.decodeError)
                #expect(error.code == .truncatedGzip)
                #expect(error.compressedOffset == Int64(member.count + tail.count))
                #expect(decoded.bytes == Array("x\n".utf8))
            }
        }
    }
}

@Test func magicAloneIsTruncatedGzip() throws {
    try withScratchDirectory { directory in
        let path = try writeFile([0x1F, 0x8B], to: directory.appendingPathComponent("magic.gz"))
        for chunkSize in decoderChunkSizes {
            let decoded = try decodeFile(path, chunkSize: chunkSize)
            #expect(decoded.encoding == .gzip)
            #expect(decoded.decodeError == DecodeError(code: .truncatedGzip, path: path, compressedOffset: 2))
        }
    }
}

/// RFC 1952 §2.3.1: the trailer is CRC32 then ISIZE, both little-endian. zlib checks the CRC first.
@Test func trailerMismatchesAreReported() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 400, seed: 11)
        let member = try gzipMember(text, in: directory)
        let size = member.count
        let cases: [(name: String, flip: Range<Int>, code: DecodeFailureCode, offset: Int)] = [
            ("all-eight", (size - 8)..<size, .gzipChecksum, size - 5),
            ("crc", (size - 8)..<(size - 7), .gzipChecksum, size - 5),
            ("isize", (size - 1)..<size, .gzipLength, size - 1),
        ]
        for item in cases {
            var damaged = member
            for index in item.flip { damaged[index] ^= 0xFF }
            let path = try writeFile(damaged, to: directory.appendingPathComponent("\(item.name).gz"))
            for chunkSize in decoderChunkSizes {
                let decoded = try decodeFile(path, chunkSize: chunkSize)
                let error = try #require(decoded.decodeError, "\(item.name) chunk \(chunkSize)")
                #expect(error.code == item.code, "\(item.name) chunk \(chunkSize)")
                #expect(error.compressedOffset == Int64(item.offset), "\(item.name) chunk \(chunkSize)")
                // The data itself is intact: all of it is delivered before the trailer is checked.
                #expect(decoded.bytes == text, "\(item.name) chunk \(chunkSize)")
            }
        }
    }
}

@Test func headerFaultsZlibRejectsAreBadGzipHeader() throws {
    try withScratchDirectory { directory in
        let member = try gzipMember(Array("hello\n".utf8), in: directory)
        var method = member
        method[2] = 0x07  // CM must be 8 (deflate)
        var flags = member
        flags[3] = 0xE0  // reserved FLG bits must be zero
        for (name, damaged) in [("method", method), ("flags", flags)] {
            let path = try writeFile(damaged, to: directory.appendingPathComponent("\(name).gz"))
            for chunkSize in decoderChunkSizes {
                let decoded = try decodeFile(path, chunkSize: chunkSize)
                let error = try #require(decoded.decodeError)
                #expect(error.code == .badGzipHeader, "\(name)")
                #expect(error.compressedOffset == 3, "\(name)")
                #expect(decoded.bytes.isEmpty)
            }
        }
    }
}

@Test func truncationAnywhereInAMemberIsTruncatedGzip() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 100, seed: 5)
        let member = try gzipMember(text, in: directory)
        for cut in [3, 10, member.count / 2, member.count - 8, member.count - 1] {
            let path = try writeFile(Array(member.prefix(cut)), to: directory.appendingPathComponent("cut-\(cut).gz"))
            let decoded = try decodeFile(path, chunkSize: 7)
            #expect(decoded.decodeError == DecodeError(code: .truncatedGzip, path: path, compressedOffset: Int64(cut)))
            #expect(decoded.bytes == Array(text.prefix(decoded.bytes.count)))
            if cut >= member.count - 8 {
                #expect(decoded.bytes == text)
            }
        }
    }
}

@Test func chunkSizesGiveIdenticalOutputOnASharedFixture() throws {
    guard let path = SharedData.path("gzip/multimember-elastic-apache.log.gz") else {
        print(SharedData.missing("gzip/multimember-elastic-apache.log.gz"))
        return
    }
    let whole = try decodeFile(path)
    for chunkSize in [7, 4096, 65_537] {
        let decoded = try decodeFile(path, chunkSize: chunkSize)
        #expect(decoded.error == nil)
        #expect(decoded.bytes == whole.bytes, "chunk \(chunkSize)")
        #expect(decoded.chunkCount >= whole.bytes.count / chunkSize)
    }
}

// MARK: - Decoding into the caller's buffers

/// Every chunk, and the fault, of one run; with `buffers`, through `forEachChunk(decodingInto:_:)`, handing out
/// `buffers` of `size` bytes in turn and scribbling over each one once its chunk is delivered, so that a decoder
/// leaning on what it wrote earlier would go wrong. Also counts the chunks delivered from the buffer handed out last.
private func chunks(
    of path: String, inflater: Inflater, chunkSize: Int, buffers: Int?
) throws -> (chunks: [[UInt8]], failure: DecodeError?, inPlace: Int) {
    let decoder = StreamDecoder(reader: try InputReader(path: path), chunkSize: chunkSize, inflater: inflater)
    var chunks: [[UInt8]] = []
    var failure: DecodeError?
    var inPlace = 0
    let pool = (0..<(buffers ?? 0)).map { _ in
        UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
    }
    defer { pool.forEach { $0.deallocate() } }
    var next = 0
    var handedOut: UnsafeMutableRawBufferPointer?
    let body = { (chunk: UnsafeRawBufferPointer) in
        chunks.append(Array(chunk))
        if let buffer = handedOut, chunk.baseAddress == UnsafeRawPointer(buffer.baseAddress) {
            inPlace += 1
            buffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
            next += 1
            handedOut = nil
        }
    }
    do {
        if buffers == nil {
            try decoder.forEachChunk(body)
        } else {
            try decoder.forEachChunk(decodingInto: {
                let buffer = handedOut ?? pool[next % pool.count]
                handedOut = buffer
                return buffer
            }, body)
        }
    } catch let error as DecodeError {
        failure = error
    }
    return (chunks, failure, inPlace)
}

@Test(arguments: [Inflater.zlib, .isal].filter(\.isAvailable))
func decodingIntoTheCallersBuffersGivesTheSameChunks(inflater: Inflater) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 3_000, seed: 9)
        let members = try gzipMember(Array(text.prefix(70_000)), in: directory)
            + gzipMember(Array(text.dropFirst(70_000)), in: directory)
        var corrupt = members
        corrupt[members.count / 3] ^= 0x5A
        let inputs: [(String, [UInt8])] = [
            ("two members", members),
            ("cut short", Array(members.prefix(members.count - 100))),
            ("corrupt", corrupt),
            ("plain", text),
            ("plain after 1f", [0x1F] + text),
        ]
        for (name, bytes) in inputs {
            let path = try writeFile(bytes, to: directory.appendingPathComponent("\(name).in"))
            for chunkSize in [7, 4_096] {
                let label = Comment(rawValue: "\(name), \(inflater), chunk \(chunkSize)")
                let own = try chunks(of: path, inflater: inflater, chunkSize: chunkSize, buffers: nil)
                let theirs = try chunks(of: path, inflater: inflater, chunkSize: chunkSize, buffers: 3)
                #expect(theirs.chunks == own.chunks, label)
                #expect(theirs.failure == own.failure, label)
                // All but the first read of plain text (and its held `1f`) is decoded or read in place.
                #expect(theirs.inPlace >= own.chunks.count - 2, label)
                #expect(theirs.inPlace > 0, label)
            }
        }
    }
}

// MARK: - Driving and errors

@Test func aThrowingBodyStopsDecodingAndItsErrorIsRethrown() throws {
    struct Stop: Error {}
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 100, seed: 2)
        let path = try writeFile(try gzipMember(text, in: directory), to: directory.appendingPathComponent("s.gz"))
        let decoder = StreamDecoder(reader: try InputReader(path: path), chunkSize: 64)
        var calls = 0
        var seen = 0
        #expect(throws: Stop.self) {
            try decoder.forEachChunk { chunk in
                calls += 1
                seen += chunk.count
                if calls == 3 { throw Stop() }
            }
        }
        #expect(calls == 3)
        #expect(decoder.decodedBytes == Int64(seen))
        #expect(seen < text.count)
        var later = 0
        try decoder.forEachChunk { _ in later += 1 }
        #expect(later == 0)
    }
}

@Test func aDecodeFaultIsRethrownByALaterCall() throws {
    try withScratchDirectory { directory in
        let path = try writeFile([0x1F, 0x8B, 0x08], to: directory.appendingPathComponent("short.gz"))
        let decoder = StreamDecoder(reader: try InputReader(path: path))
        let expected = DecodeError(code: .truncatedGzip, path: path, compressedOffset: 3)
        #expect(throws: expected) { try decoder.forEachChunk { _ in } }
        #expect(throws: expected) { try decoder.forEachChunk { _ in } }
    }
}

@Test func decodeErrorDescriptionNamesPathOffsetAndCode() {
    let error = DecodeError(code: .gzipChecksum, path: "logs/a.gz", compressedOffset: 1_234)
    #expect(error.description.hasPrefix("logs/a.gz: byte 1234: error[gzip_crc_mismatch] "))
    #expect(DecodeFailureCode.truncatedGzip.rawValue == "truncated_gzip")
    #expect(DecodeFailureCode.badGzipHeader.rawValue == "bad_gzip_header")
    #expect(DecodeFailureCode.gzipLength.rawValue == "gzip_length_mismatch")
    #expect(DecodeFailureCode.corruptGzip.rawValue == "corrupt_gzip")
}

// MARK: - InputReader

@Test func missingFileIsAnInputErrorWithTheSystemText() throws {
    let path = "/nonexistent-\(UUID().uuidString)/access.log"
    #expect(throws: InputError(path: path, message: "No such file or directory")) {
        _ = try InputReader(path: path)
    }
}

@Test func readingADirectoryIsAnInputError() throws {
    try withScratchDirectory { directory in
        let reader = try InputReader(path: directory.path)
        #expect(reader.fileSize == nil)
        let decoder = StreamDecoder(reader: reader)
        #expect(throws: InputError(path: directory.path, message: "Is a directory")) {
            try decoder.forEachChunk { _ in }
        }
    }
}

@Test func readerCountsBytesAndReportsTheFileSize() throws {
    try withScratchDirectory { directory in
        let bytes = [UInt8](repeating: 0x41, count: 10_000)
        let path = try writeFile(bytes, to: directory.appendingPathComponent("a.txt"))
        let reader = try InputReader(path: path)
        #expect(reader.path == path)
        #expect(reader.fileSize == 10_000)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4_096, alignment: 1)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            #expect(count <= 4_096)
            total += count
            #expect(reader.bytesRead == Int64(total))
        }
        #expect(total == 10_000)
        #expect(try reader.read(into: buffer) == 0)
        #expect(reader.bytesRead == 10_000)
        reader.close()
        reader.close()
        #expect(reader.fileSize == nil)
        #expect(throws: InputError.self) { _ = try reader.read(into: buffer) }
    }
}

@Test func observerSeesEveryRawByteOnce() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 200, seed: 9)
        let gzip = try gzipMember(text, in: directory)
        let path = try writeFile(gzip, to: directory.appendingPathComponent("o.gz"))
        let reader = try InputReader(path: path)
        var observed: [UInt8] = []
        reader.observer = { observed.append(contentsOf: $0) }
        let decoder = StreamDecoder(reader: reader, chunkSize: 7)
        var decoded: [UInt8] = []
        try decoder.forEachChunk { decoded.append(contentsOf: $0) }
        #expect(observed == gzip)
        #expect(decoded == text)
        #expect(decoder.compressedBytesRead == Int64(gzip.count))
    }
}
