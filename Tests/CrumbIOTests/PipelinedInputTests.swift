import CrumbIO
import CrumbTestSupport
import Crypto
import Foundation
import Testing

/// What one run of a `PipelinedInput` gave: every chunk as delivered, the error if any, and the results.
private struct InputRun {
    var chunks: [[UInt8]] = []
    var error: (any Error)?
    var encoding: InputEncoding?
    var rawBytes: Int64 = 0
    var decodedBytes: Int64 = 0
    var rawSHA256: SHA256Digest?
    var decodedSHA256: SHA256Digest?
    var decodedDigest: ContentDigest?

    var bytes: [UInt8] { chunks.flatMap { $0 } }
    var decodeError: DecodeError? { error as? DecodeError }
    var inputError: InputError? { error as? InputError }
}

private struct Stop: Error, Equatable {}

/// Runs `path` once through a `PipelinedInput`; `stopAfter` makes the body throw `Stop` on that chunk.
private func runInput(
    _ path: String, chunkSize: Int, pipelined: Bool, stopAfter: Int? = nil, progress: ProgressMeter? = nil
) throws -> InputRun {
    let input = try PipelinedInput(path: path, chunkSize: chunkSize, pipelined: pipelined, hashDecoded: true,
                                   progress: progress)
    defer { input.close() }
    #expect(input.isPipelined == pipelined)
    var run = InputRun()
    do {
        try input.forEachChunk { chunk in
            #expect(!chunk.isEmpty)
            #expect(chunk.count <= chunkSize)
            run.chunks.append(Array(chunk))
            if run.chunks.count == stopAfter { throw Stop() }
        }
    } catch {
        run.error = error
    }
    run.encoding = input.encoding
    run.rawBytes = input.rawBytes
    run.decodedBytes = input.decodedBytes
    run.rawSHA256 = input.rawSHA256
    run.decodedSHA256 = input.decodedSHA256
    run.decodedDigest = input.decodedDigest
    return run
}

/// Runs `path` in both modes and checks that they agree on everything; returns the pipelined run.
private func runBothModes(_ path: String, chunkSize: Int, _ note: String = "") throws -> InputRun {
    let inline = try runInput(path, chunkSize: chunkSize, pipelined: false)
    let pipelined = try runInput(path, chunkSize: chunkSize, pipelined: true)
    let label = Comment(rawValue: "\(note) chunk \(chunkSize)")
    #expect(pipelined.chunks == inline.chunks, label)
    #expect(pipelined.encoding == inline.encoding, label)
    #expect(pipelined.rawBytes == inline.rawBytes, label)
    #expect(pipelined.decodedBytes == inline.decodedBytes, label)
    #expect(pipelined.rawSHA256 == inline.rawSHA256, label)
    #expect(pipelined.decodedSHA256 == inline.decodedSHA256, label)
    #expect(pipelined.decodeError == inline.decodeError, label)
    #expect(pipelined.inputError == inline.inputError, label)
    #expect((pipelined.error == nil) == (inline.error == nil), label)
    // The digests are those of the bytes themselves. A fault may stop reading before the end of the file.
    let fileBytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data())
    if pipelined.error == nil {
        #expect(pipelined.rawBytes == Int64(fileBytes.count), label)
    }
    #expect(pipelined.rawSHA256 == SHA256.hash(data: fileBytes.prefix(Int(pipelined.rawBytes))), label)
    #expect(pipelined.decodedBytes == Int64(pipelined.bytes.count), label)
    #expect(pipelined.decodedSHA256 == SHA256.hash(data: pipelined.bytes), label)
    expectDigest(pipelined.decodedDigest, of: pipelined.bytes, label)
    expectDigest(inline.decodedDigest, of: inline.bytes, label)
    return pipelined
}

/// `digest` is that of `bytes`, and its line-end digest that of `bytes` up to their last line feed.
private func expectDigest(_ digest: ContentDigest?, of bytes: [UInt8], _ label: Comment,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    let lineEnd = bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
    #expect(digest?.count == Int64(bytes.count), label, sourceLocation: sourceLocation)
    #expect(digest?.sha256 == SHA256.hash(data: bytes), label, sourceLocation: sourceLocation)
    #expect(digest?.throughLastLineFeed.count == Int64(lineEnd), label, sourceLocation: sourceLocation)
    #expect(digest?.throughLastLineFeed.sha256 == SHA256.hash(data: bytes.prefix(lineEnd)), label,
            sourceLocation: sourceLocation)
}

// `runGzip`, `withScratchDirectory`, `writeFile`, `gzipMember` and `logLikeText` are StreamDecoderTests'.

private let pipelineChunkSizes = [7, 4_096, 1 << 20]

// MARK: - Both modes agree

@Test(arguments: pipelineChunkSizes)
func pipelinedPlainTextMatchesInline(chunkSize: Int) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 300, seed: 1)
        let path = try writeFile(text, to: directory.appendingPathComponent("plain.log"))
        let run = try runBothModes(path, chunkSize: chunkSize, "plain")
        #expect(run.error == nil)
        #expect(run.encoding == .plain)
        #expect(run.bytes == text)
    }
}

@Test(arguments: pipelineChunkSizes)
func pipelinedGzipMatchesInline(chunkSize: Int) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 400, seed: 2)
        let path = try writeFile(try gzipMember(text, in: directory), to: directory.appendingPathComponent("one.gz"))
        let run = try runBothModes(path, chunkSize: chunkSize, "one member")
        #expect(run.error == nil)
        #expect(run.encoding == .gzip)
        #expect(run.bytes == text)
    }
}

@Test(arguments: pipelineChunkSizes)
func pipelinedMultiMemberGzipMatchesInline(chunkSize: Int) throws {
    try withScratchDirectory { directory in
        let parts = (0..<3).map { logLikeText(lines: 150 + $0 * 40, seed: $0) }
        let padding: [UInt8] = [0, 0, 0]
        let gzip = try parts.flatMap { try gzipMember($0, in: directory) } + padding
        let path = try writeFile(gzip, to: directory.appendingPathComponent("three.gz"))
        let run = try runBothModes(path, chunkSize: chunkSize, "three members")
        #expect(run.error == nil)
        #expect(run.bytes == parts.flatMap { $0 })
    }
}

@Test func pipelinedEmptyInputMatchesInline() throws {
    try withScratchDirectory { directory in
        let path = try writeFile([], to: directory.appendingPathComponent("empty.log"))
        for chunkSize in pipelineChunkSizes {
            let run = try runBothModes(path, chunkSize: chunkSize, "empty")
            #expect(run.error == nil)
            #expect(run.chunks.isEmpty)
            #expect(run.encoding == .plain)
            #expect(run.decodedSHA256 == SHA256.hash(data: [UInt8]()))
        }
    }
}

@Test func pipelinedTruncatedGzipMatchesInline() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 200, seed: 5)
        let member = try gzipMember(text, in: directory)
        for cut in [1, 2, 10, member.count / 2, member.count - 1] {
            let path = try writeFile(Array(member.prefix(cut)), to: directory.appendingPathComponent("cut-\(cut).gz"))
            for chunkSize in pipelineChunkSizes {
                let run = try runBothModes(path, chunkSize: chunkSize, "cut \(cut)")
                if cut == 1 {
                    // A lone 1f is plain text.
                    #expect(run.error == nil)
                    #expect(run.bytes == [0x1F])
                } else {
                    #expect(run.decodeError == DecodeError(code: .truncatedGzip, path: path, compressedOffset: Int64(cut)))
                    #expect(run.bytes == Array(text.prefix(run.bytes.count)))
                }
            }
        }
    }
}

@Test func pipelinedCorruptGzipMatchesInline() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 300, seed: 11)
        let member = try gzipMember(text, in: directory)
        var badCRC = member
        badCRC[member.count - 8] ^= 0xFF
        var badData = member
        badData[member.count / 2] ^= 0x55
        let cases: [(name: String, bytes: [UInt8])] = [
            ("crc", badCRC),
            ("data", badData),
            ("garbage", member + Array("garbage\n".utf8)),
            ("second-bad-header", member + ([0x1F, 0x8B, 0x07, 0x00] as [UInt8])),
        ]
        for item in cases {
            let path = try writeFile(item.bytes, to: directory.appendingPathComponent("\(item.name).gz"))
            for chunkSize in pipelineChunkSizes {
                let run = try runBothModes(path, chunkSize: chunkSize, item.name)
                #expect(run.decodeError != nil, "\(item.name)")
                if item.name != "data" {
                    #expect(run.bytes == text, "\(item.name)")
                }
            }
        }
    }
}

@Test func pipelinedReadFailureMatchesInline() throws {
    try withScratchDirectory { directory in
        let run = try runBothModes(directory.path, chunkSize: 4_096, "directory")
        #expect(run.inputError == InputError(path: directory.path, message: "Is a directory"))
        #expect(run.chunks.isEmpty)
    }
}

@Test func pipelinedSharedFixturesMatchInline() throws {
    for name in ["gzip/good-file.gz", "gzip/corrupt-file.gz", "gzip/truncated-access.log.gz",
                 "gzip/multimember-elastic-apache.log.gz"] {
        guard let path = SharedData.path(name) else {
            print(SharedData.missing(name))
            continue
        }
        let run = try runBothModes(path, chunkSize: 1 << 20, name)
        if name == "gzip/truncated-access.log.gz" {
            #expect(run.decodeError?.code == .truncatedGzip)
            #expect(run.bytes.count == 13_267_350)
        }
        if name == "gzip/corrupt-file.gz" {
            #expect(run.decodeError == DecodeError(code: .corruptGzip, path: path, compressedOffset: 691))
            #expect(run.bytes.count == 1_151)
        }
    }
}

// MARK: - Stopping, reruns, counters

@Test(arguments: [false, true])
func aThrowingBodyStopsTheInputWithItsOwnError(pipelined: Bool) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 2_000, seed: 3)
        let path = try writeFile(try gzipMember(text, in: directory), to: directory.appendingPathComponent("s.gz"))
        // Many rounds: a stop racing the producer at any point must neither hang nor leak.
        for round in 0..<50 {
            let chunkSize = round % 2 == 0 ? 7 : 64
            let input = try PipelinedInput(path: path, chunkSize: chunkSize, pipelined: pipelined, hashDecoded: true)
            var calls = 0
            var seen: [UInt8] = []
            #expect(throws: Stop.self) {
                try input.forEachChunk { chunk in
                    calls += 1
                    seen += chunk
                    if calls == 2 { throw Stop() }
                }
            }
            #expect(calls == 2)
            #expect(input.decodedBytes == Int64(seen.count))
            // The digest is of the chunks delivered, whatever the producer decoded ahead.
            expectDigest(input.decodedDigest, of: seen, "round \(round)")
            #expect(input.encoding == .gzip)
            // The input runs once: a later call delivers nothing and does not rethrow the body's error.
            var later = 0
            try input.forEachChunk { _ in later += 1 }
            #expect(later == 0)
            input.close()
        }
    }
}

@Test func bothModesStopAfterTheSameChunks() throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 500, seed: 4)
        let path = try writeFile(text, to: directory.appendingPathComponent("p.log"))
        let inline = try runInput(path, chunkSize: 7, pipelined: false, stopAfter: 2)
        let pipelined = try runInput(path, chunkSize: 7, pipelined: true, stopAfter: 2)
        #expect(inline.error is Stop)
        #expect(pipelined.error is Stop)
        #expect(inline.chunks == pipelined.chunks)
        #expect(pipelined.chunks.count == 2)
        #expect(pipelined.decodedBytes == inline.decodedBytes)
        // The producer reads ahead by at most the handoff's slots and the decoder's own buffer.
        #expect(pipelined.rawBytes <= Int64(7 * (PipelinedInput.slotCount + 3)))
    }
}

@Test(arguments: [false, true])
func aDecodeFaultIsRethrownByALaterRun(pipelined: Bool) throws {
    try withScratchDirectory { directory in
        let path = try writeFile([0x1F, 0x8B, 0x08], to: directory.appendingPathComponent("short.gz"))
        let input = try PipelinedInput(path: path, pipelined: pipelined, hashDecoded: false)
        let expected = DecodeError(code: .truncatedGzip, path: path, compressedOffset: 3)
        #expect(throws: expected) { try input.forEachChunk { _ in } }
        #expect(throws: expected) { try input.forEachChunk { _ in } }
        #expect(input.decodedSHA256 == nil)
        #expect(input.rawSHA256 == SHA256.hash(data: [0x1F, 0x8B, 0x08] as [UInt8]))
    }
}

@Test(arguments: [false, true])
func closingFromTheBodyWaitsForTheRunToEnd(pipelined: Bool) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 300, seed: 8)
        let path = try writeFile(text, to: directory.appendingPathComponent("c.log"))
        let input = try PipelinedInput(path: path, chunkSize: 64, pipelined: pipelined, hashDecoded: true)
        var bytes: [UInt8] = []
        try input.forEachChunk { chunk in
            if bytes.isEmpty { input.close() }
            bytes.append(contentsOf: chunk)
        }
        #expect(bytes == text)
        #expect(input.decodedSHA256 == SHA256.hash(data: text))
        input.close()
    }
}

@Test(arguments: [false, true])
func rawBytesReachTheProgressMeter(pipelined: Bool) throws {
    try withScratchDirectory { directory in
        let text = logLikeText(lines: 300, seed: 6)
        let gzip = try gzipMember(text, in: directory)
        let path = try writeFile(gzip, to: directory.appendingPathComponent("m.gz"))
        let meter = ProgressMeter(totalFiles: 1, totalBytes: Int64(gzip.count))
        let input = try PipelinedInput(path: path, chunkSize: 100, pipelined: pipelined, hashDecoded: false,
                                       progress: meter)
        #expect(input.fileSize == Int64(gzip.count))
        try input.forEachChunk { _ in }
        #expect(meter.snapshot().bytesRead == Int64(gzip.count))
        #expect(input.rawBytes == Int64(gzip.count))
        #expect(input.decodedBytes == Int64(text.count))
        #expect(input.decodedSHA256 == nil)
    }
}

@Test func openingAMissingFileIsAnInputError() {
    let path = "/nonexistent-\(UUID().uuidString)/access.log"
    #expect(throws: InputError(path: path, message: "No such file or directory")) {
        _ = try PipelinedInput(path: path, pipelined: true, hashDecoded: true)
    }
}

@Test func plainTextStartingWithTheGzipMagicsFirstByteHasTheDigestsOfItsBytes() throws {
    try withScratchDirectory { directory in
        // The leading 1f is held back while sniffing and delivered alone: the read then holds more than was
        // delivered, so the decoded digest cannot be the raw one for this chunk.
        let text: [UInt8] = [0x1F] + logLikeText(lines: 300, seed: 12) + Array("no line feed at the end".utf8)
        let path = try writeFile(text, to: directory.appendingPathComponent("magic.log"))
        for chunkSize in [1, 2, 7, 4_096, 1 << 20] {
            let run = try runBothModes(path, chunkSize: chunkSize, "leading 1f")
            #expect(run.encoding == .plain)
            #expect(run.bytes == text)
        }
    }
}
