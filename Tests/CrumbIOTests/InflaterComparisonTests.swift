import CZlib
@testable import CrumbIO
@testable import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

// `runGzip`, `withScratchDirectory`, `writeFile`, `gzipMember` and `logLikeText` are StreamDecoderTests'.

/// Everything one decoder made of one file: the bytes delivered, the fault, and the counters.
private struct Outcome: Equatable, CustomStringConvertible {
    var bytes: [UInt8] = []
    var failure: DecodeError?
    var encoding: InputEncoding?
    var compressedBytesRead: Int64 = 0
    var decodedBytes: Int64 = 0

    var description: String {
        "\(bytes.count) bytes, \(failure.map { "\($0.code.rawValue) at \($0.compressedOffset)" } ?? "no fault")"
    }

    // Byte arrays compared with memcmp: element by element, a debug build spends seconds on the big cases.
    static func == (lhs: Outcome, rhs: Outcome) -> Bool {
        lhs.failure == rhs.failure && lhs.encoding == rhs.encoding && lhs.compressedBytesRead == rhs.compressedBytesRead
            && lhs.decodedBytes == rhs.decodedBytes && lhs.bytes.count == rhs.bytes.count
            && isPrefix(lhs.bytes, of: rhs.bytes)
    }
}

/// Whether `prefix` is where `bytes` starts.
private func isPrefix(_ prefix: [UInt8], of bytes: [UInt8]) -> Bool {
    guard prefix.count <= bytes.count else { return false }
    return prefix.withUnsafeBytes { a in
        bytes.withUnsafeBytes { b in
            guard let a = a.baseAddress, let b = b.baseAddress else { return true }  // `prefix` is empty
            return memcmp(a, b, prefix.count) == 0
        }
    }
}

private func decode(_ path: String, with inflater: Inflater, chunkSize: Int) throws -> Outcome {
    let decoder = StreamDecoder(reader: try InputReader(path: path), chunkSize: chunkSize, inflater: inflater)
    #expect(decoder.inflater == inflater, "\(inflater) must run, not a fallback")
    var outcome = Outcome()
    do {
        try decoder.forEachChunk { outcome.bytes.append(contentsOf: $0) }
    } catch let error as DecodeError {
        outcome.failure = error
    }
    outcome.encoding = decoder.encoding
    outcome.compressedBytesRead = decoder.compressedBytesRead
    outcome.decodedBytes = decoder.decodedBytes
    #expect(outcome.decodedBytes == Int64(outcome.bytes.count))
    return outcome
}

/// The outcomes of zlib and ISA-L on one file with one chunk size.
private func decodeWithBoth(_ path: String, chunkSize: Int) throws -> (zlib: Outcome, isal: Outcome) {
    (try decode(path, with: .zlib, chunkSize: chunkSize), try decode(path, with: .isal, chunkSize: chunkSize))
}

/// Demands what the two inflaters guarantee for any input, and returns whether they agreed exactly.
///
/// Everything but invalid or cut deflate data is found by `StreamDecoder`'s own framing or by decoding valid
/// deflate data, which both libraries do alike: then the outcomes are identical, bytes, fault code and offset alike.
///
/// Deflate data cut by the end of the input is `truncated_gzip` at the input's length for both, but ISA-L decodes
/// up to three symbols per table lookup and backs off the whole lookup when its last symbol is cut, so it may
/// deliver up to two bytes fewer than zlib (the bytes it delivers are the same).
///
/// Invalid deflate data: both deliver every byte decoded before the fault and place the fault at the byte that
/// exposed it (ISA-L by replaying the failing input one byte per call; CIsal.h), and most faults they find at the
/// same symbol. Not all: inside a block's Huffman code description (RFC 1951 §3.2.7) each checks other things at
/// other points, and ISA-L accepts incomplete codes, which zlib rejects, so it may fail later, or with another code
/// (the data then decodes to something whose CRC-32 or length is wrong, or runs past the input's end). What holds:
/// when zlib finds the deflate data invalid, ISA-L fails too, and one delivered a prefix of what the other did
/// (both decode the same symbols up to their first fault). (A corruption that ISA-L's leniency decoded back to
/// data with the right CRC-32 and length would be the exception; no sweep here makes one.)
@discardableResult
private func expectConsistent(_ zlib: Outcome, _ isal: Outcome, _ label: String) -> Bool {
    let comment = Comment(rawValue: "\(label): zlib \(zlib), ISA-L \(isal)")
    switch zlib.failure?.code {
    case .corruptGzip:
        #expect(isal.failure != nil, comment)
        #expect(isPrefix(zlib.bytes, of: isal.bytes) || isPrefix(isal.bytes, of: zlib.bytes), comment)
        #expect(zlib.encoding == isal.encoding, comment)
    case .truncatedGzip:
        #expect(isal.failure == zlib.failure, comment)
        #expect(isPrefix(isal.bytes, of: zlib.bytes), comment)
        #expect(zlib.bytes.count - isal.bytes.count <= 2, comment)
        #expect(zlib.compressedBytesRead == isal.compressedBytesRead, comment)
        #expect(zlib.encoding == isal.encoding, comment)
    default:
        #expect(zlib == isal, comment)
    }
    return zlib == isal
}

private let isalMissing = Comment(
    rawValue: "skipped: ISA-L cannot be loaded here (\(Inflater.isalUnavailableReason ?? "")); install libisal2")

/// The chunk sizes every case runs with: single bytes, a size that splits every header and trailer, a small
/// page, and the default.
private let comparisonChunkSizes = [1, 7, 4_096, 1 << 20]

/// A gzip member for `text` with the header fields zlib skips or checks: FEXTRA, FNAME, FCOMMENT and, when
/// `headerCRC`, FHCRC (RFC 1952 §2.3.1), around /bin/gzip's deflate data and trailer.
private func memberWithOptionalFields(_ text: [UInt8], headerCRC: Bool, in directory: URL) throws -> [UInt8] {
    let plain = try gzipMember(text, in: directory)
    // gzip -n writes the 10-byte fixed header only.
    var header: [UInt8] = [0x1F, 0x8B, 8, 0x04 | 0x08 | 0x10 | (headerCRC ? 0x02 : 0), 1, 2, 3, 4, 0, 3]
    let extra: [UInt8] = [0x41, 0x70, 4, 0, 9, 8, 7, 6]
    header += [UInt8(extra.count), 0] + extra
    header += Array("access.log".utf8) + [0]
    header += Array("rotated at midnight".utf8) + [0]
    if headerCRC {
        let crc = header.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        header += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)]
    }
    return header + plain.dropFirst(10)
}

@Suite(.enabled(if: Inflater.isal.isAvailable, isalMissing))
struct InflaterComparisonTests {
    // MARK: Valid input

    @Test func sharedFixturesDecodeAlike() throws {
        let fixtures = [
            "gzip/good-file.gz", "gzip/multi.gz", "gzip/multimember-elastic-apache.log.gz",
            "gzip/truncated-access.log.gz", "gzip/broken-header.gz", "gzip/corrupt-file.gz",
        ]
        for fixture in fixtures {
            guard let path = SharedData.path(fixture) else {
                print(SharedData.missing(fixture))
                continue
            }
            // Single bytes only for the small ones: the big ones take seconds that way.
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            for chunkSize in comparisonChunkSizes where chunkSize > 1 || size < 50_000 {
                let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                expectConsistent(zlib, isal, "\(fixture) chunk \(chunkSize)")
            }
        }
    }

    /// zlib finds "invalid distance too far back" at byte 691 after 1,151 bytes. ISA-L's fast loop reports that
    /// match's 3 bytes as output and its bit buffer is 8 bytes further on; replayed one byte at a time from its
    /// checkpoint (CIsal.h), it finds the same distance at the same byte after the same bytes.
    @Test func corruptFixtureFailsAlike() throws {
        guard let path = SharedData.path("gzip/corrupt-file.gz") else {
            print(SharedData.missing("gzip/corrupt-file.gz"))
            return
        }
        for chunkSize in comparisonChunkSizes {
            let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
            #expect(zlib.failure?.code == .corruptGzip)
            #expect(zlib.failure?.compressedOffset == 691)
            #expect(zlib.bytes.count == 1_151)
            #expect(zlib == isal, "chunk \(chunkSize): zlib \(zlib), ISA-L \(isal)")
        }
    }

    @Test func membersPaddingAndEmptyMembersDecodeAlike() throws {
        try withScratchDirectory { directory in
            let parts = (0..<3).map { logLikeText(lines: 150 + $0 * 60, seed: 20 + $0) }
            let members = try parts.map { try gzipMember($0, in: directory) }
            let empty = try gzipMember([], in: directory)
            let expected = parts.flatMap { $0 }
            let inputs: [(String, [UInt8])] = [
                ("three members", members.flatMap { $0 }),
                ("padded between and after", members[0] + [0, 0] + members[1] + [0] + members[2] + [0, 0, 0, 0]),
                ("empty members around", empty + members[0] + empty + members[1] + members[2] + empty),
                ("70,000 zeros after", members.flatMap { $0 } + [UInt8](repeating: 0, count: 70_000)),
            ]
            for (name, gzip) in inputs {
                let path = try writeFile(gzip, to: directory.appendingPathComponent("\(name).gz"))
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure == nil, "\(name)")
                    #expect(zlib.bytes == expected, "\(name)")
                    #expect(zlib.compressedBytesRead == Int64(gzip.count), "\(name)")
                    #expect(expectConsistent(zlib, isal, "\(name) chunk \(chunkSize)"))
                }
            }
        }
    }

    @Test func optionalHeaderFieldsDecodeAlike() throws {
        try withScratchDirectory { directory in
            let text = logLikeText(lines: 80, seed: 31)
            for headerCRC in [false, true] {
                let member = try memberWithOptionalFields(text, headerCRC: headerCRC, in: directory)
                // gzip(1) reads the same member the same way.
                let path = try writeFile(member + member, to: directory.appendingPathComponent("fields.gz"))
                #expect(try runGzip(["-dc", path]) == text + text)
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure == nil)
                    #expect(zlib.bytes == text + text)
                    #expect(expectConsistent(zlib, isal, "FHCRC \(headerCRC) chunk \(chunkSize)"))
                }
            }
        }
    }

    @Test func plainInputPassesThroughAlike() throws {
        try withScratchDirectory { directory in
            let text = logLikeText(lines: 200, seed: 4)
            for bytes in [text, [], [0x1F], [0x1F, 0x00] + text] {
                let path = try writeFile(bytes, to: directory.appendingPathComponent("plain.log"))
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.encoding == .plain)
                    #expect(zlib.bytes == bytes)
                    #expect(expectConsistent(zlib, isal, "plain \(bytes.count) chunk \(chunkSize)"))
                }
            }
        }
    }

    /// Several MiB in many chunks: window references across every chunk boundary, full output buffers, members
    /// ending mid-chunk.
    @Test func bigMultiMemberInputDecodesAlike() throws {
        try withScratchDirectory { directory in
            let parts = (0..<3).map { logLikeText(lines: 25_000 + $0 * 5_000, seed: 40 + $0) }
            let gzip = try parts.flatMap { try gzipMember($0, in: directory) }
            let expected = parts.flatMap { $0 }
            #expect(expected.count > 6 << 20)
            let path = try writeFile(gzip, to: directory.appendingPathComponent("big.gz"))
            for chunkSize in [4_096, 65_537, 1 << 20] {
                let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                #expect(zlib.failure == nil)
                #expect(zlib.bytes.count == expected.count && isPrefix(zlib.bytes, of: expected))
                #expect(expectConsistent(zlib, isal, "big chunk \(chunkSize)"))
            }
        }
    }

    // MARK: Faults found by the framing

    @Test func garbageAndLoneMagicAfterAMemberFailAlike() throws {
        try withScratchDirectory { directory in
            let member = try gzipMember(logLikeText(lines: 60, seed: 5), in: directory)
            let tails: [[UInt8]] = [
                Array("garbage\n".utf8), [0x1F, 0x00], [0x1F, 0x1F, 0x8B], [0x8B], [0, 0, 7],
                [0x1F], [0x1F, 0x8B], [0x1F, 0x8B, 0x08], [0x1F, 0x8B, 0x07, 0],
            ]
            for tail in tails {
                let path = try writeFile(member + tail, to: directory.appendingPathComponent("tail.gz"))
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure != nil, "\(tail)")
                    #expect(expectConsistent(zlib, isal, "tail \(tail) chunk \(chunkSize)"))
                }
            }
        }
    }

    @Test func headerFaultsFailAlike() throws {
        try withScratchDirectory { directory in
            let text = logLikeText(lines: 40, seed: 6)
            let member = try gzipMember(text, in: directory)
            let withCRC = try memberWithOptionalFields(text, headerCRC: true, in: directory)
            let hcrcEnd = withCRC.count - (member.count - 10) - 1
            var cases: [(String, [UInt8], DecodeFailureCode, Int)] = []
            for (name, index, value) in [("method", 2, 7 as UInt8), ("flags", 3, 0xE0), ("flag 5", 3, 0x20)] {
                var damaged = member
                damaged[index] = value
                cases.append((name, damaged, .badGzipHeader, 3))
            }
            for index in [hcrcEnd - 1, hcrcEnd] {
                var damaged = withCRC
                damaged[index] ^= 0x10
                cases.append(("header CRC byte \(index)", damaged, .badGzipHeader, hcrcEnd))
            }
            // A second member's header fault, at that member's offsets.
            var second = member
            second[3] = 0x80
            cases.append(("second member flags", member + second, .badGzipHeader, member.count + 3))
            for (name, bytes, code, offset) in cases {
                let path = try writeFile(bytes, to: directory.appendingPathComponent("header.gz"))
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure?.code == code, "\(name)")
                    #expect(zlib.failure?.compressedOffset == Int64(offset), "\(name)")
                    #expect(expectConsistent(zlib, isal, "\(name) chunk \(chunkSize)"))
                }
            }
        }
    }

    /// RFC 1952 §2.3.1: CRC32 then ISIZE, least significant byte first. Each of the eight bytes flipped alone.
    @Test func trailerFaultsFailAlike() throws {
        try withScratchDirectory { directory in
            let text = logLikeText(lines: 300, seed: 7)
            let member = try gzipMember(text, in: directory)
            let size = member.count
            for flipped in (size - 8)..<size {
                var damaged = member
                damaged[flipped] ^= 0x01
                let path = try writeFile(damaged + member, to: directory.appendingPathComponent("trailer.gz"))
                let isCRC = flipped < size - 4
                for chunkSize in comparisonChunkSizes {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure?.code == (isCRC ? .gzipChecksum : .gzipLength), "byte \(flipped)")
                    #expect(zlib.failure?.compressedOffset == Int64(isCRC ? size - 5 : size - 1), "byte \(flipped)")
                    #expect(zlib.bytes == text, "byte \(flipped)")
                    #expect(expectConsistent(zlib, isal, "trailer byte \(flipped) chunk \(chunkSize)"))
                }
            }
        }
    }

    // MARK: Truncation and corruption sweeps

    /// Every cut of a two-member file after its magic: in the header, the deflate data, the trailer, between
    /// members and in the second one.
    @Test func everyTruncationFailsAlike() throws {
        try withScratchDirectory { directory in
            let first = try gzipMember(logLikeText(lines: 30, seed: 8), in: directory)
            let second = try gzipMember(logLikeText(lines: 20, seed: 9), in: directory)
            let whole = first + [0, 0] + second
            let complete = first.count...(first.count + 2)
            for cut in 2..<whole.count {
                let path = try writeFile(Array(whole.prefix(cut)), to: directory.appendingPathComponent("cut.gz"))
                for chunkSize in [1, 7, 1 << 20] {
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                    #expect(zlib.failure?.code == (complete.contains(cut) ? nil : .truncatedGzip), "cut \(cut)")
                    // Members this small are one final block, which ISA-L decodes one symbol at a time: no difference.
                    #expect(expectConsistent(zlib, isal, "cut \(cut) chunk \(chunkSize)"))
                }
            }
        }
    }

    /// Cuts all over a member of many deflate blocks (a few hundred KiB, the size of a real log's member), where
    /// ISA-L decodes with its multi-symbol tables.
    @Test func truncationsOfALargeMemberFailAlike() throws {
        try withScratchDirectory { directory in
            let member = try gzipMember(logLikeText(lines: 12_000, seed: 11), in: directory)
            #expect(member.count > 100_000)
            var random = Xoshiro256StarStar(seed: 0x6372_756D_6200_0002)
            var identical = 0
            let rounds = 300
            for round in 0..<rounds {
                let cut = random.between(11...(member.count - 1))
                let path = try writeFile(Array(member.prefix(cut)), to: directory.appendingPathComponent("cut.gz"))
                let chunkSize = random.pick([4_096, 65_536, 1 << 20])
                let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                #expect(zlib.failure?.code == .truncatedGzip)
                if expectConsistent(zlib, isal, "round \(round) cut \(cut) chunk \(chunkSize)") { identical += 1 }
            }
            print("truncations of a large member: \(identical) of \(rounds) identical, the rest short by 1 or 2 bytes")
        }
    }

    /// Damaged deflate data: each byte of a member's deflate data in turn, with three different flips. The outcomes
    /// that differ are faults in the block's code description, found at other bytes.
    @Test func corruptDeflateBytesFailConsistently() throws {
        try withScratchDirectory { directory in
            let text = logLikeText(lines: 40, seed: 10)
            let member = try gzipMember(text, in: directory)
            var counts: [String: Int] = [:]
            for index in 10..<(member.count - 8) {
                for flip: UInt8 in [0x01, 0x40, 0xFF] {
                    var damaged = member
                    damaged[index] ^= flip
                    let path = try writeFile(damaged + member, to: directory.appendingPathComponent("flip.gz"))
                    let (zlib, isal) = try decodeWithBoth(path, chunkSize: 4_096)
                    let same = expectConsistent(zlib, isal, "byte \(index) ^ \(flip)")
                    let codes = [zlib, isal].map { $0.failure?.code.rawValue ?? "ok" }.joined(separator: "/")
                    counts[codes + (same ? "" : " (differ)"), default: 0] += 1
                }
            }
            print("corrupt deflate sweep (zlib/ISA-L):", counts.sorted { $0.key < $1.key })
        }
    }

    /// Random cuts and flips anywhere in a three-member file with padding, in random chunk sizes.
    @Test func randomCutsAndFlipsFailConsistently() throws {
        try withScratchDirectory { directory in
            let parts = (0..<3).map { logLikeText(lines: 40 + $0 * 30, seed: 50 + $0) }
            let members = try parts.map { try gzipMember($0, in: directory) }
            let whole = members[0] + members[1] + [0, 0, 0] + members[2]
            var random = Xoshiro256StarStar(seed: 0x6372_756D_6200_0001)
            var identical = 0
            let rounds = 600
            for round in 0..<rounds {
                var bytes = whole
                for _ in 0..<random.between(1...3) {
                    bytes[random.below(bytes.count)] ^= UInt8(random.between(1...255))
                }
                if random.chance(0.5) {
                    bytes.removeLast(random.below(bytes.count))
                }
                let chunkSize = random.pick([1, 2, 7, 64, 4_096, 1 << 20])
                let path = try writeFile(bytes, to: directory.appendingPathComponent("fuzz.gz"))
                let (zlib, isal) = try decodeWithBoth(path, chunkSize: chunkSize)
                if expectConsistent(zlib, isal, "round \(round) chunk \(chunkSize)") { identical += 1 }
            }
            print("random cuts and flips: \(identical) of \(rounds) identical")
        }
    }
}

// MARK: - Choosing the inflater

@Test func crumbInflateSelectsTheInflater() {
    #expect(Inflater.select(setting: nil, isalLoads: true) == (.isal, nil))
    #expect(Inflater.select(setting: "", isalLoads: false) == (.zlib, nil))
    #expect(Inflater.select(setting: "auto", isalLoads: true) == (.isal, nil))
    #expect(Inflater.select(setting: "zlib", isalLoads: true) == (.zlib, nil))
    #expect(Inflater.select(setting: "isal", isalLoads: true) == (.isal, nil))
    // Forced but missing: zlib, with a note saying so; never a failed input.
    let missing = Inflater.select(setting: "isal", isalLoads: false)
    #expect(missing.inflater == .zlib)
    #expect(missing.note?.hasPrefix("CRUMB_INFLATE=isal, but ISA-L cannot be loaded") == true)
    let unknown = Inflater.select(setting: "fast", isalLoads: false)
    #expect(unknown.inflater == .zlib)
    #expect(unknown.note == "CRUMB_INFLATE must be zlib, isal or auto; inflating with zlib")
}

@Test func decoderRunsTheInflaterItWasGiven() throws {
    let preferred = Inflater.isal.isAvailable ? Inflater.isal : .zlib
    if ProcessInfo.processInfo.environment[Inflater.environmentVariable] == nil {
        #expect(Inflater.preferred == preferred)
        #expect(StreamDecoder.inflaterName == preferred.rawValue)
    }
    try withScratchDirectory { directory in
        let path = try writeFile([], to: directory.appendingPathComponent("empty"))
        #expect(StreamDecoder(reader: try InputReader(path: path), inflater: .zlib).inflater == .zlib)
        // ISA-L where it cannot be loaded means zlib.
        #expect(StreamDecoder(reader: try InputReader(path: path), inflater: .isal).inflater == preferred)
    }
    #expect((Inflater.isalUnavailableReason == nil) == Inflater.isal.isAvailable)
}
