@testable import CrumbCore
import Testing

/// The hot path's word-at-a-time scans and fixed-size caches agree with their plain definitions.
struct HotPathCacheTests {
    /// Bytes next to `"` (0x22) and `\` (0x5C) in value, and 0x80/0xFF, where a SWAR borrow could go wrong.
    static let alphabet: [UInt8] = [0x22, 0x5C, 0x21, 0x23, 0x5B, 0x5D, 0x01, 0x00, 0x80, 0xFF, 0xA2, 0xDC, 0x61, 0x20]

    @Test func quoteScanMatchesByteByByteScan() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let count = Int.random(in: 0...40, using: &random)
            let bytes = (0..<count).map { _ in
                Bool.random(using: &random) ? UInt8(ascii: "a") : Self.alphabet.randomElement(using: &random)!
            }
            bytes.withUnsafeBytes { buffer in
                for start in 0...count {
                    var expected = start
                    while expected < count, buffer[expected] != 0x22, buffer[expected] != 0x5C { expected += 1 }
                    #expect(ByteCursor.nextQuoteOrBackslash(in: buffer, from: start) == expected)
                }
            }
        }
    }

    /// The request line splits at its first and last spaces, found from either end, as a scan of every byte
    /// finds them: random requests of letters, spaces, dashes and slashes, with and without a protocol.
    @Test func requestSplitsAtItsFirstAndLastSpaces() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("GETa/ -".utf8)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...14, using: &random)
            let line = [UInt8(ascii: "\"")] + (0..<count).map { _ in alphabet.randomElement(using: &random)! } + [UInt8(ascii: "\"")]
            let request = 1..<(line.count - 1)
            line.withUnsafeBytes { bytes in
                var split = AccessLogEvent()
                CombinedLogParser.splitRequest(bytes, request, into: &split)
                // The definition: every space seen, the first and the last kept.
                let spaces = request.filter { bytes[$0] == UInt8(ascii: " ") }
                var expected = AccessLogEvent()
                if let first = spaces.first, let last = spaces.last, first > request.lowerBound,
                   request[request.lowerBound..<first].allSatisfy({ ASCII.isMethodByte(bytes[$0]) }),
                   !(first - request.lowerBound == 1 && bytes[request.lowerBound] == UInt8(ascii: "-")) {
                    let target = (first + 1)..<(last > first ? last : request.upperBound)
                    if !target.isEmpty {
                        expected.method = request.lowerBound..<first
                        expected.target = target
                        expected.requestProtocol = last > first ? (last + 1)..<request.upperBound : request.upperBound..<request.upperBound
                        expected.requestIsValid = true
                    }
                }
                #expect(split == expected, "\(String(decoding: line, as: UTF8.self))")
            }
        }
    }

    /// The vector byte search finds what a byte-by-byte scan finds, from every offset, with bytes that differ from
    /// the one wanted by one bit or by the high bit around it.
    @Test func byteSearchMatchesByteByByteScan() {
        var random = SystemRandomNumberGenerator()
        let near: [UInt8] = [0x3B, 0x3A, 0x3C, 0x3F, 0x33, 0xBB, 0x7B, 0x00, 0xFF, 0x80]
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...70, using: &random)
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<6, using: &random) == 0 ? near.randomElement(using: &random)! : UInt8(ascii: "x")
            }
            bytes.withUnsafeBytes { buffer in
                for start in 0...count {
                    var expected = start
                    while expected < count, buffer[expected] != 0x3B { expected += 1 }
                    #expect(ASCII.index(of: 0x3B, in: buffer, from: start) == expected)
                }
            }
        }
    }

    /// The two-lane hash is the two one-lane hashes, at every length around the eight-byte steps.
    @Test func twoSeedHashIsTwoHashes() {
        var bytes: [UInt8] = []
        var state: UInt64 = 7
        for length in 0...70 {
            bytes.withUnsafeBytes { view in
                let pair = ByteHash.hashes(view, seeds: 0x1234, 0xBB67_AE85_84CA_A73B)
                #expect(pair.0 == ByteHash.hash(view, seed: 0x1234), "length \(length)")
                #expect(pair.1 == ByteHash.hash(view, seed: 0xBB67_AE85_84CA_A73B), "length \(length)")
            }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 56))
        }
    }

    /// A string's last one to seven bytes as a word, by one overlapping load when it has eight bytes or more, is
    /// the word put together byte by byte.
    @Test func tailWordIsTheLastBytesLittleEndian() {
        var bytes: [UInt8] = []
        var state: UInt64 = 11
        for length in 1...70 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 56))
            bytes.withUnsafeBytes { view in
                for index in max(0, length - 7)..<length {
                    var expected: UInt64 = 0
                    for (shift, byte) in view[index...].enumerated() { expected |= UInt64(byte) << (8 * UInt64(shift)) }
                    #expect(ByteHash.tailWord(view, from: index) == expected, "length \(length), from \(index)")
                }
            }
        }
    }

    @Test func recentValuesReturnsWhatWasStoredAndForgetsOnlyByReplacement() {
        var cache = RecentValues(sets: 4)
        let strings = (0..<200).map { Array("value-\($0)".utf8) }
        func key(_ index: Int) -> RecentValues.Key { strings[index].withUnsafeBytes { RecentValues.key(for: $0) } }
        #expect(cache.value(for: key(0)) == nil)
        for index in 0..<8 { cache.insert(UInt64(index) * 3, for: key(index)) }
        // 4 sets × 4 ways hold 16 entries; whatever is still there has its own value.
        for index in 0..<8 {
            if let value = cache.value(for: key(index)) { #expect(value == UInt64(index) * 3) }
        }
        for index in 0..<200 { cache.insert(UInt64(index) + 1000, for: key(index)) }
        var kept = 0
        for index in 0..<200 {
            guard let value = cache.value(for: key(index)) else { continue }
            #expect(value == UInt64(index) + 1000)
            kept += 1
        }
        #expect(kept == 16)
        cache.removeAll()
        #expect((0..<200).allSatisfy { cache.value(for: key($0)) == nil })
    }

    @Test func visitorIdsAreStableAcrossCacheEvictions() throws {
        let keyring = try Keyring(secret: Array(repeating: 7, count: 32))
        var cached = VisitorHasher(keyring: keyring)
        // More distinct materials than the cache holds, twice over: every id must be the HMAC's, hit or miss.
        let materials = (0..<(VisitorHasher.setCount * 4 + 5_000)).map { Array("visitor-\($0 % 300_000)".utf8) }
        var first: [UInt64] = []
        for material in materials.prefix(5_000) { first.append(material.withUnsafeBytes { cached.visitor($0, day: 20_000) }) }
        for material in materials { _ = material.withUnsafeBytes { cached.visitor($0, day: 20_000) } }
        var fresh = VisitorHasher(keyring: keyring)
        for (index, material) in materials.prefix(5_000).enumerated() {
            let again = material.withUnsafeBytes { cached.visitor($0, day: 20_000) }
            let uncached = material.withUnsafeBytes { fresh.visitor($0, day: 20_000) }
            #expect(again == first[index])
            #expect(again == uncached)
        }
        #expect(Set(first).count == 5_000)
    }

    /// Sparse sketches buffer new registers unsorted: whatever the order of inserts and merges, the sketch reads,
    /// compares and serializes as the one built in order.
    @Test(arguments: [3, 31, 32, 33, 100, 1_000, 2_047, 2_100, 5_000])
    func sketchIsCanonicalWhateverTheInsertOrder(distinct: Int) {
        let hashes = (0..<UInt64(distinct)).map { HyperLogLog.mix($0 &+ 0x1234_5678) }
        var forward = HyperLogLog()
        for hash in hashes { forward.insert(hash: hash) }
        var shuffled = HyperLogLog()
        var random = SystemRandomNumberGenerator()
        var half = HyperLogLog()
        for (position, hash) in hashes.shuffled(using: &random).enumerated() {
            if position % 2 == 0 { shuffled.insert(hash: hash) } else { half.insert(hash: hash) }
            if position % 3 == 0 { shuffled.insert(hash: hash) }  // repeats change nothing
            if position == distinct / 2 { shuffled.merge(half); half = HyperLogLog() }
        }
        shuffled.merge(half)
        #expect(shuffled == forward)
        #expect(shuffled.serialized() == forward.serialized())
        #expect(shuffled.estimate == forward.estimate)
        #expect(shuffled.isDense == forward.isDense)
        var reference = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        for hash in hashes {
            let index = Int(hash >> (64 - HyperLogLog.precision))
            let rank = UInt8(((hash << HyperLogLog.precision) | (1 << (HyperLogLog.precision - 1))).leadingZeroBitCount + 1)
            reference[index] = max(reference[index], rank)
        }
        #expect(shuffled.registers == reference)
    }
}
