import Testing
@testable import CrumbCore

/// The hash of distinct element `element` in stream `stream`: splitmix64 over a counter. Distinct
/// (stream, element) pairs give distinct hashes, since `mix` is a bijection and the multipliers are odd.
private func elementHash(_ element: UInt64, stream: UInt64 = 0) -> UInt64 {
    HyperLogLog.mix((stream &+ 1) &* 0xD1B5_4A32_D192_ED03 &+ element &* 0x9E37_79B9_7F4A_7C15)
}

/// A sketch of elements `range` of `stream`.
private func sketch(of range: Range<UInt64>, stream: UInt64 = 0) -> HyperLogLog {
    var sketch = HyperLogLog()
    for element in range {
        sketch.insert(hash: elementHash(element, stream: stream))
    }
    return sketch
}

/// The number of registers a sketch has touched.
private func touchedRegisters(_ sketch: HyperLogLog) -> Int {
    switch sketch.storage {
    case .sparse(let entries): entries.count
    case .dense(let registers): registers.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }
    }
}

/// Slow reference: registers computed bit by bit, straight from the definition.
private func referenceRegisters(_ hashes: some Sequence<UInt64>) -> [UInt8] {
    var registers = [UInt8](repeating: 0, count: 16384)
    for hash in hashes {
        let index = Int(hash >> 50)
        var rank: UInt8 = 1
        var bit = 49
        while bit >= 0, hash & (1 << UInt64(bit)) == 0 {
            rank += 1
            bit -= 1
        }
        registers[index] = max(registers[index], min(rank, 51))
    }
    return registers
}

/// A sketch held densely whatever its size: not the canonical form, so it checks that equality,
/// estimates and serialization do not depend on the representation.
private func forcedDense(_ sketch: HyperLogLog) -> HyperLogLog {
    HyperLogLog(storage: .dense(sketch.registers))
}

/// A small deterministic generator for random byte strings.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return HyperLogLog.mix(state)
    }
    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

/// Decodes `bytes`, returning the thrown error or nil; anything but `SketchDecodingError` cannot
/// be thrown (typed throws), and a trap would fail the run.
private func decodingError(_ bytes: [UInt8]) -> SketchDecodingError? {
    do {
        let decoded = try HyperLogLog(serialized: bytes)
        // Whatever was accepted must survive its own round trip.
        #expect((try? HyperLogLog(serialized: decoded.serialized())) == decoded)
        return nil
    } catch {
        return error
    }
}

@Suite struct HyperLogLogTests {
    // MARK: Estimates

    @Test func emptySketchEstimatesZeroAndSerializesToFourBytes() {
        let empty = HyperLogLog()
        #expect(empty.estimate == 0)
        #expect(!empty.isDense)
        #expect(empty.serialized() == [1, 0, 0, 0])
        #expect(empty == HyperLogLog())
        #expect(forcedDense(empty).estimate == 0)
    }

    /// Up to 100 elements the estimate is within 2 of the truth, and up to 200 within 4, after
    /// every single insert. (Over 200 streams the worst error at n ≤ 100 was 3, in 4 of 20 000
    /// checks: two elements landing in one register are indistinguishable from one element.)
    @Test(arguments: 0..<UInt64(8))
    func smallCountsAreNearlyExact(stream: UInt64) {
        var sketch = HyperLogLog()
        for n in 1...200 {
            sketch.insert(hash: elementHash(UInt64(n), stream: stream))
            #expect(abs(sketch.estimate - n) <= (n <= 100 ? 2 : 4), "n = \(n), estimate \(sketch.estimate)")
        }
    }

    @Test(arguments: [10_000, 100_000, 1_000_000])
    func largeCountsAreWithinThreePercent(distinct: Int) {
        let estimate = sketch(of: 0..<UInt64(distinct), stream: 7).estimate
        let relativeError = abs(Double(estimate) / Double(distinct) - 1)
        #expect(relativeError < 0.03, "estimate \(estimate) for \(distinct)")
    }

    @Test(arguments: [5, 1_000, 30_000])
    func duplicatesChangeNothing(distinct: Int) {
        let once = sketch(of: 0..<UInt64(distinct))
        var thrice = HyperLogLog()
        for _ in 0..<3 {
            for element in 0..<UInt64(distinct) {
                thrice.insert(hash: elementHash(element))
            }
        }
        #expect(thrice == once)
        #expect(thrice.estimate == once.estimate)
    }

    @Test(arguments: [0, 1, 7, 2048, 2049, 5000, 200_000])
    func registersMatchSlowReference(distinct: Int) {
        let hashes = (0..<UInt64(distinct)).map { elementHash($0, stream: 3) }
        var sketch = HyperLogLog()
        for hash in hashes { sketch.insert(hash: hash) }
        #expect(sketch.registers == referenceRegisters(hashes))
    }

    @Test func rankFollowsTheTopFourteenBitsAndCapsAtFiftyOne() {
        var sketch = HyperLogLog()
        sketch.insert(hash: 3 << 50 | 1 << 45)  // index 3: four zeros, then a one → rank 5
        sketch.insert(hash: 16383 << 50)  // index 16383: fifty zeros → rank capped at 51
        sketch.insert(hash: 7 << 50 | 1 << 49)  // index 7: leading one → rank 1
        sketch.insert(hash: 3 << 50 | 1 << 48)  // index 3 again, rank 2: keeps 5
        let registers = sketch.registers
        #expect(registers[3] == 5)
        #expect(registers[7] == 1)
        #expect(registers[16383] == 51)
        #expect(touchedRegisters(sketch) == 3)
    }

    @Test func saturatedSketchReportsIntMaxInsteadOfTrapping() throws {
        // Every register at 51: only reachable from crafted bytes.
        let word: UInt32 = 51 | 51 << 6 | 51 << 12 | 51 << 18
        var bytes: [UInt8] = [1, 1]
        for _ in 0..<4096 {
            bytes += [UInt8(word & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word >> 16)]
        }
        let saturated = try HyperLogLog(serialized: bytes)
        #expect(saturated.estimate == Int.max)
    }

    @Test func mixIsSplitMix64() {
        // splitmix64 seeded with 0 first outputs 0xE220A8397B1DCDAF.
        #expect(HyperLogLog.mix(0x9E37_79B9_7F4A_7C15) == 0xE220_A839_7B1D_CDAF)
        #expect(HyperLogLog.mix(0) == 0)
    }

    // MARK: Sparse and dense forms

    @Test func sparseBecomesDenseJustPastTheLimitWithoutChangingAnything() {
        var sketch = HyperLogLog()
        var element: UInt64 = 0
        while touchedRegisters(sketch) < HyperLogLog.sparseLimit {
            sketch.insert(hash: elementHash(element))
            element += 1
            #expect(!sketch.isDense)
        }
        let before = sketch
        #expect(forcedDense(before) == before)
        #expect(forcedDense(before).estimate == before.estimate)

        // Insert until one more register is touched.
        while touchedRegisters(sketch) == HyperLogLog.sparseLimit {
            sketch.insert(hash: elementHash(element))
            element += 1
        }
        #expect(sketch.isDense)
        #expect(touchedRegisters(sketch) == HyperLogLog.sparseLimit + 1)
        #expect(sketch.registers == referenceRegisters((0..<element).map { elementHash($0) }))
        #expect(abs(sketch.estimate - Int(element)) <= Int(element) / 50)
    }

    /// Up to `sparseLimit` touched registers the sketch is sparse in memory, then dense; either way it equals,
    /// estimates and serializes (to the sparse layout, up to 4,095 registers) as its dense copy does.
    @Test(arguments: [1, 10, 500, 2048, 5000])
    func equalityAndEstimateIgnoreTheRepresentation(distinct: Int) {
        let sparse = sketch(of: 0..<UInt64(distinct))
        let dense = forcedDense(sparse)
        #expect(sparse.isDense == (touchedRegisters(sparse) > HyperLogLog.sparseLimit))
        #expect(dense.isDense)
        #expect(sparse == dense)
        #expect(dense == sparse)
        #expect(sparse.estimate == dense.estimate)
        #expect(sparse.serialized() == dense.serialized())

        var different = sparse
        different.insert(hash: elementHash(999_999, stream: 42))
        #expect(different != dense)
        #expect(dense != different)
    }

    /// Sketches of one or two registers are held inline, and a third register moves them to the sparse array:
    /// in every insert order, with registers seen again at lower and higher ranks, and merged from any two parts,
    /// they hold the registers the definition gives, serialize the same and round-trip.
    @Test func smallSketchesHoldTheSameRegistersWhereverTheyAreKept() throws {
        func hash(register: UInt64, rank: Int) -> UInt64 { register << 50 | 1 << UInt64(50 - rank) }
        let hashes = [hash(register: 5, rank: 3), hash(register: 9, rank: 1), hash(register: 5, rank: 7),
                      hash(register: 7, rank: 2), hash(register: 9, rank: 4), hash(register: 7, rank: 1),
                      hash(register: 16_000, rank: 50), hash(register: 5, rank: 2)]
        func sketch(_ hashes: ArraySlice<UInt64>) -> HyperLogLog {
            var sketch = HyperLogLog()
            for hash in hashes { sketch.insert(hash: hash) }
            return sketch
        }
        for rotation in 0..<hashes.count {
            let rotated = hashes[rotation...] + hashes[..<rotation]
            for count in 0...rotated.count {
                let part = rotated.prefix(count)
                let whole = sketch(part)
                let label = Comment(rawValue: "rotation \(rotation), \(count) hashes")
                #expect(whole.registers == referenceRegisters(part), label)
                #expect(whole.estimate == forcedDense(whole).estimate, label)
                #expect(whole == forcedDense(whole), label)
                #expect(try HyperLogLog(serialized: whole.serialized()) == whole, label)
                for cut in 0...count {
                    var merged = sketch(part.prefix(cut))
                    merged.merge(sketch(part.dropFirst(cut)))
                    #expect(merged.registers == whole.registers, label)
                    #expect(merged.serialized() == whole.serialized(), label)
                    // A larger sketch merged with a small one, both ways.
                    var large = sketch(ArraySlice((0..<UInt64(40)).map { elementHash($0) }))
                    large.merge(merged)
                    var small = merged
                    small.merge(sketch(ArraySlice((0..<UInt64(40)).map { elementHash($0) })))
                    #expect(large == small, label)
                }
            }
        }
    }

    /// Sketches of one or two registers, at every pair of ranks, estimate by table what the histogram gives for
    /// the same registers held densely, and decode from their bytes straight to the same inline sketch.
    @Test func oneAndTwoRegisterSketchesEstimateAndDecodeAsAnyOther() throws {
        func hash(register: UInt64, rank: Int) -> UInt64 { register << 50 | 1 << UInt64(50 - rank) }
        for first in 0...HyperLogLog.maxRank {
            for second in 0...HyperLogLog.maxRank {
                var sketch = HyperLogLog()
                // Rank 51 is any hash whose low 50 bits are zero.
                if first > 0 { sketch.insert(hash: first == 51 ? 300 << 50 : hash(register: 300, rank: first)) }
                if second > 0 { sketch.insert(hash: second == 51 ? 9_000 << 50 : hash(register: 9_000, rank: second)) }
                let label = Comment(rawValue: "ranks \(first), \(second)")
                #expect(sketch.estimate == forcedDense(sketch).estimate, label)
                let bytes = sketch.serialized()
                let decoded = try HyperLogLog(serialized: bytes)
                #expect(decoded == sketch, label)
                #expect(decoded.serialized() == bytes, label)
                #expect(decoded.estimate == sketch.estimate, label)
            }
        }
    }

    /// Large sparse sketches take new registers in a pending tail that is merged into the sorted part: at
    /// every step the canonical form is strictly sorted and holds the registers the definition gives.
    @Test(arguments: [129, 300, HyperLogLog.sparseLimit])
    func pendingRegistersMergeIntoTheSortedPart(distinct: Int) {
        var sketch = HyperLogLog()
        var hashes: [UInt64] = []
        var element: UInt64 = 0
        while touchedRegisters(sketch) < distinct {
            let hash = elementHash(element, stream: 77)
            // Every fifth element comes back with another rank on the same register.
            let again = element % 5 == 4 ? hash ^ (1 << UInt64(element % 40)) : hash
            sketch.insert(hash: again)
            hashes.append(again)
            element += 1
            if element % 37 == 0 || touchedRegisters(sketch) == distinct {
                guard case .sparse(let entries) = sketch.storage else { break }
                #expect(zip(entries, entries.dropFirst()).allSatisfy { $0 >> 6 < $1 >> 6 }, "after \(element)")
                #expect(sketch.registers == referenceRegisters(hashes), "after \(element)")
            }
        }
        #expect(!sketch.isDense)
    }

    @Test func sparseSearchesAgreeWithPlainScans() {
        var random = SplitMix64(state: 14)
        for count in Array(0...130) + [200, 511, 1_000, 2_048] {
            // Sorted, distinct entries as the sparse form holds them: index << 6 | rank, indices below 2¹⁴.
            var indices = Set<UInt32>()
            while indices.count < count { indices.insert(UInt32(random.next(below: 1 << 14))) }
            let entries = indices.sorted().map { $0 << 6 | UInt32(1 + random.next(below: 51)) }
            // An empty array may have no storage: the search is given a pointer it must not read.
            (entries.isEmpty ? [0] : entries).withUnsafeBufferPointer { buffer in
                for _ in 0..<40 {
                    let index = UInt32(random.next(below: 1 << 14))
                    let key = index << 6
                    let expected = entries.firstIndex { $0 >= key } ?? count
                    #expect(HyperLogLog.lowerBound(of: key, in: buffer.baseAddress!, count: count)
                            == expected, "count \(count), index \(index)")
                }
                // In an unsorted tail: every index present is found where it is, an absent one not at all.
                let start = count / 3
                let shuffled = Array(entries[..<start]) + entries[start...].shuffled(using: &random)
                shuffled.withUnsafeBufferPointer { tail in
                    for position in start..<count {
                        #expect(HyperLogLog.firstIndex(of: shuffled[position] >> 6, in: tail, from: start) == position)
                    }
                    let absent = (0..<UInt32(1 << 14)).first { !indices.contains($0) }!
                    #expect(HyperLogLog.firstIndex(of: absent, in: tail, from: start) == nil)
                }
            }
        }
    }

    /// The estimate's shortcuts (no halvings above the highest rank, σ from a table for sparse sketches) give
    /// the very value of Ertl's formula taken in full over the register histogram.
    @Test(arguments: [0, 1, 2, 3, 40, 129, 2_048, 2_049, 6_000, 300_000])
    func estimateEqualsTheFullFormula(distinct: Int) {
        let sketch = sketch(of: 0..<UInt64(distinct), stream: 21)
        var histogram = [Int](repeating: 0, count: 52)
        for rank in sketch.registers { histogram[Int(rank)] += 1 }
        let m = 16384.0
        var z = m * HyperLogLog.tau(1 - Double(histogram[51]) / m)
        for k in stride(from: 50, through: 1, by: -1) { z = 0.5 * (z + Double(histogram[k])) }
        z += m * HyperLogLog.sigma(Double(histogram[0]) / m)
        let full = 0.721_347_520_444_481_703_7 * m * m / z
        #expect(sketch.estimate == Int(full.rounded()))
        #expect(forcedDense(sketch).estimate == sketch.estimate)
    }

    // MARK: Merging

    /// (elements in a, elements in b, how many of b's are also in a), covering every combination of forms.
    @Test(arguments: [
        (0, 0, 0), (0, 12, 0), (12, 0, 0),  // empty
        (10, 20, 5),  // sparse + sparse → sparse
        (1_500, 1_500, 200),  // sparse + sparse → dense
        (10, 50_000, 10), (50_000, 10, 3),  // sparse + dense, dense + sparse
        (30_000, 40_000, 10_000),  // dense + dense
    ])
    func mergeEqualsTheSketchOfTheUnion(countA: Int, countB: Int, overlap: Int) {
        let rangeA = 0..<UInt64(countA)
        let rangeB = UInt64(countA - overlap)..<UInt64(countA - overlap + countB)
        let a = sketch(of: rangeA)
        let b = sketch(of: rangeB)
        let union = sketch(of: 0..<max(rangeA.upperBound, rangeB.upperBound))

        var ab = a
        ab.merge(b)
        var ba = b
        ba.merge(a)
        #expect(ab == union)
        #expect(ba == union)
        #expect(ab.registers == union.registers)
        #expect(ab.isDense == union.isDense)
        #expect(ab.serialized() == union.serialized())
        #expect(ab.estimate == union.estimate)

        // Merging into or from a forced-dense copy gives the same registers.
        var denseA = forcedDense(a)
        denseA.merge(b)
        var aDenseB = a
        aDenseB.merge(forcedDense(b))
        #expect(denseA.registers == union.registers)
        #expect(aDenseB.registers == union.registers)
    }

    @Test(arguments: [(5, 9, 40), (3, 3_000, 80_000), (20_000, 1_000, 7)])
    func mergeIsCommutativeAssociativeAndIdempotent(countA: Int, countB: Int, countC: Int) {
        let a = sketch(of: 0..<UInt64(countA), stream: 1)
        let b = sketch(of: 0..<UInt64(countB), stream: 2)
        let c = sketch(of: 0..<UInt64(countC), stream: 3)
        func merged(_ x: HyperLogLog, _ y: HyperLogLog) -> HyperLogLog {
            var result = x
            result.merge(y)
            return result
        }
        #expect(merged(a, b) == merged(b, a))
        #expect(merged(merged(a, b), c) == merged(a, merged(b, c)))
        #expect(merged(a, a) == a)
        #expect(merged(merged(a, b), b) == merged(a, b))
        #expect(merged(a, HyperLogLog()) == a)
        #expect(merged(HyperLogLog(), a) == a)
    }

    @Test func mergeLeavesTheOtherSketchAlone() {
        var a = sketch(of: 0..<10)
        let b = sketch(of: 100..<110)
        let bBefore = b.serialized()
        a.merge(b)
        a.insert(hash: elementHash(5_000))
        #expect(b.serialized() == bBefore)

        var empty = HyperLogLog()
        empty.merge(b)  // takes b's storage by reference
        empty.insert(hash: elementHash(6_000))
        #expect(b.serialized() == bBefore)
    }

    // MARK: Serialized form

    @Test(arguments: [0, 1, 10, 2_048, 2_049, 3_000, 5_000, 100_000])
    func roundTripGivesTheSameSketchAndBytes(distinct: Int) throws {
        let original = sketch(of: 0..<UInt64(distinct))
        let bytes = original.serialized()
        let decoded = try HyperLogLog(serialized: bytes)
        #expect(decoded == original)
        #expect(decoded.isDense == original.isDense)
        #expect(decoded.registers == original.registers)
        #expect(decoded.serialized() == bytes)
        #expect(decoded.estimate == original.estimate)

        let touched = touchedRegisters(original)
        #expect(bytes[0] == 1)
        if touched <= 4_095 {
            #expect(bytes[1] == 0)
            #expect(bytes.count == 4 + 3 * touched)
        } else {
            #expect(bytes[1] == 1)
            #expect(bytes.count == 12_290)
        }
    }

    @Test func decodingAcceptsSlicesAndOtherCollections() throws {
        let original = sketch(of: 0..<50)
        let bytes = [0xEE] + original.serialized() + [0xEE]
        #expect(try HyperLogLog(serialized: bytes.dropFirst().dropLast()) == original)
        #expect(try HyperLogLog(serialized: ContiguousArray(original.serialized())) == original)
    }

    @Test func sparseBytesAreExactlyAsDocumented() throws {
        var sketch = HyperLogLog()
        sketch.insert(hash: 0x0123 << 50 | 1 << 45)  // index 0x123, rank 5
        sketch.insert(hash: 3 << 50 | 1 << 49)  // index 3, rank 1
        let bytes: [UInt8] = [1, 0, 2, 0, 0x03, 0x00, 1, 0x23, 0x01, 5]
        #expect(sketch.serialized() == bytes)
        #expect(try HyperLogLog(serialized: bytes) == sketch)
    }

    @Test func denseBytesAreExactlyAsDocumented() throws {
        // Registers 0...3 = 1, 2, 3, 51 and register 16383 = 7, the rest 0: packed little-endian.
        var bytes: [UInt8] = [1, 1] + [UInt8](repeating: 0, count: 12_288)
        let word: UInt32 = 1 | 2 << 6 | 3 << 12 | 51 << 18
        bytes[2] = UInt8(word & 0xFF)
        bytes[3] = UInt8(word >> 8 & 0xFF)
        bytes[4] = UInt8(word >> 16)
        bytes[12_289] = 7 << 2  // register 16383 is the top 6 bits of the last 3-byte group
        let decoded = try HyperLogLog(serialized: bytes)
        let registers = decoded.registers
        #expect(Array(registers[0..<4]) == [1, 2, 3, 51])
        #expect(registers[16383] == 7)
        #expect(touchedRegisters(decoded) == 5)
        // Five registers are canonically sparse, in memory and in bytes.
        #expect(!decoded.isDense)
        #expect(decoded.serialized() == [1, 0, 5, 0, 0, 0, 1, 1, 0, 2, 2, 0, 3, 3, 0, 51, 0xFF, 0x3F, 7])

        // And a large sketch written densely packs its registers the same way.
        let large = sketch(of: 0..<100_000)
        let denseBytes = large.serialized()
        let largeRegisters = large.registers
        for group in [0, 1, 2_000, 4_095] {
            let packed = UInt32(denseBytes[2 + 3 * group]) | UInt32(denseBytes[3 + 3 * group]) << 8
                | UInt32(denseBytes[4 + 3 * group]) << 16
            for lane in 0..<4 {
                #expect(UInt8(packed >> (6 * UInt32(lane)) & 0x3F) == largeRegisters[4 * group + lane])
            }
        }
    }

    @Test func nonCanonicalLayoutsAreAcceptedAndNormalised() throws {
        // A sparse layout with more entries than the in-memory sparse limit decodes to dense.
        let medium = sketch(of: 0..<3_000)
        #expect(medium.isDense)
        let mediumBytes = medium.serialized()
        #expect(mediumBytes[1] == 0)  // written sparse: it is shorter
        let decodedMedium = try HyperLogLog(serialized: mediumBytes)
        #expect(decodedMedium.isDense)
        #expect(decodedMedium == medium)
    }

    @Test func everyPrefixOfAValidFormIsTruncated() {
        for distinct in [0, 1, 40, 100_000] {
            let bytes = sketch(of: 0..<UInt64(distinct)).serialized()
            for length in 0..<bytes.count {
                #expect(decodingError(Array(bytes[..<length])) == .truncated, "\(distinct) elements, \(length) bytes")
            }
        }
    }

    /// One row per rejection: bytes, expected error.
    @Test(arguments: [
        ([], SketchDecodingError.truncated),
        ([1], .truncated),
        ([0, 0, 0, 0], .badVersion),
        ([2, 0, 0, 0], .badVersion),
        ([0xFF], .badVersion),
        ([1, 2, 0, 0], .badMode),
        ([1, 0xFF], .badMode),
        ([1, 0, 0], .truncated),
        ([1, 0, 0, 0, 0], .trailingBytes),
        ([1, 0, 1, 0, 5, 0, 1, 9], .trailingBytes),
        ([1, 0, 2, 0, 5, 0, 1], .truncated),
        ([1, 0, 0x01, 0x40], .badCount),  // 16385 entries
        ([1, 0, 0xFF, 0xFF], .badCount),
        ([1, 0, 1, 0, 5, 0, 0], .badRegister),  // rank 0
        ([1, 0, 1, 0, 5, 0, 52], .badRegister),  // rank 52
        ([1, 0, 1, 0, 0x00, 0x40, 1], .badRegister),  // index 16384
        ([1, 0, 2, 0, 5, 0, 1, 5, 0, 2], .unsortedEntries),  // repeated index
        ([1, 0, 2, 0, 6, 0, 1, 5, 0, 2], .unsortedEntries),  // decreasing index
    ] as [([UInt8], SketchDecodingError)])
    func malformedBytesAreRejected(bytes: [UInt8], expected: SketchDecodingError) {
        #expect(decodingError(bytes) == expected)
    }

    /// Dense rows, built here so that the 12 KiB byte strings stay out of the test names.
    @Test func malformedDenseBytesAreRejected() {
        let header: [UInt8] = [1, 1]
        let zeros = [UInt8](repeating: 0, count: 12_288)
        #expect(decodingError(header + zeros.dropLast()) == .truncated)
        #expect(decodingError(header + zeros + [0]) == .trailingBytes)
        #expect(decodingError(header + [52] + zeros.dropFirst()) == .badRegister)  // register 0 = 52
        #expect(decodingError(header + zeros.dropLast() + [52 << 2]) == .badRegister)  // register 16383 = 52
        #expect(decodingError(header + [UInt8](repeating: 0xFF, count: 12_288)) == .badRegister)  // all 63
        #expect(decodingError(header + zeros) == nil)  // all zero: the empty sketch
        #expect((try? HyperLogLog(serialized: header + zeros)) == HyperLogLog())
    }

    /// Past the sparse limit, sparse entries are decoded straight into registers: the same checks, wherever in
    /// the layout the bad entry is.
    @Test func malformedLongSparseBytesAreRejected() throws {
        let count = HyperLogLog.sparseLimit + 88
        // Every 20th register, ranks 1...51 in turn.
        func entry(_ place: Int, index: Int? = nil, rank: Int? = nil) -> [UInt8] {
            let index = index ?? place * 20
            return [UInt8(index & 0xFF), UInt8(index >> 8), UInt8(rank ?? (1 + place % 51))]
        }
        func layout(_ change: (Int) -> [UInt8]? = { _ in nil }) -> [UInt8] {
            [1, 0, UInt8(count & 0xFF), UInt8(count >> 8)] + (0..<count).flatMap { change($0) ?? entry($0) }
        }
        let decoded = try HyperLogLog(serialized: layout())
        #expect(decoded.isDense)
        #expect(decoded.registers.enumerated().allSatisfy { index, rank in
            index % 20 == 0 && index / 20 < count ? Int(rank) == 1 + index / 20 % 51 : rank == 0
        })
        #expect(decoded.serialized() == layout())
        for place in [0, count / 2, count - 1] {
            #expect(decodingError(layout { $0 == place ? entry(place, rank: 0) : nil }) == .badRegister)
            #expect(decodingError(layout { $0 == place ? entry(place, rank: 52) : nil }) == .badRegister)
            #expect(decodingError(layout { $0 == place ? entry(place, index: 16_384) : nil }) == .badRegister)
        }
        for place in [1, count / 2, count - 1] {
            #expect(decodingError(layout { $0 == place ? entry(place - 1) : nil }) == .unsortedEntries)
        }
        #expect(decodingError(layout().dropLast()) == .truncated)
    }

    @Test func randomBytesNeverTrap() {
        var random = SplitMix64(state: 2024)
        let known: Set<String> = [
            "bad_version", "bad_mode", "truncated", "trailing_bytes", "bad_count", "bad_register",
            "unsorted_entries",
        ]
        // Random strings, mostly with a valid version byte and mode so decoding gets past the header.
        for _ in 0..<5_000 {
            var bytes = (0..<random.next(below: 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if bytes.count >= 2, random.next(below: 4) != 0 {
                bytes[0] = 1
                bytes[1] = UInt8(random.next(below: 2))
                if bytes.count >= 4, bytes[1] == 0 {
                    bytes[2] = UInt8((bytes.count - 4) / 3)
                    bytes[3] = 0
                }
            }
            if let error = decodingError(bytes) {
                #expect(known.contains(error.reason))
            }
        }
        // Random one-byte corruptions of valid sparse and dense forms.
        for original in [sketch(of: 0..<300).serialized(), sketch(of: 0..<50_000).serialized()] {
            for _ in 0..<100 {
                var bytes = original
                bytes[random.next(below: bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                if let error = decodingError(bytes) {
                    #expect(known.contains(error.reason))
                }
            }
        }
    }
}
