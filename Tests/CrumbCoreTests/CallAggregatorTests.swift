@testable import CrumbCore
import Histogram
import Testing

/// splitmix64, for reproducible test data.
private struct Mixer {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
}

/// Talk times shaped like calls: mostly minutes, some long, a few zero, some past the 2047 s of unit
/// resolution, a few past the 7-day ceiling.
private func talkTimes(_ count: Int, seed: UInt64) -> [Int64] {
    var mixer = Mixer(state: seed)
    return (0..<count).map { _ in
        switch mixer.below(20) {
        case 0: 0
        case 1: Int64(mixer.below(200_000))
        case 2: Int64(700_000 + mixer.below(100_000))
        case 3...6: Int64(1_800 + mixer.below(3_000))
        default: Int64(1 + mixer.below(600))
        }
    }
}

/// The nearest-rank percentile of `values`, as HdrHistogram defines it: the smallest value such that at least
/// `percentile` % of the values are at or below it.
private func nearestRank(_ sorted: [Int64], _ percentile: Double) -> Int64 {
    let rank = max(1, Int((percentile.nextDown * Double(sorted.count) / 100).rounded(.up)))
    return sorted[rank - 1]
}

private let hour: Int64 = 1_767_272_400  // 2026-01-01T13:00:00Z

/// One call of a test table.
private struct Call {
    var time: Int64
    var dialled: String
    var context: String
    var answered: Bool
    var billSeconds: Int64
    var caller: UInt64?
}

private func randomCalls(_ count: Int, seed: UInt64) -> [Call] {
    var mixer = Mixer(state: seed)
    return (0..<count).map { _ in
        let answered = mixer.below(3) != 0
        return Call(
            time: hour + Int64(mixer.below(4 * 3_600)),
            dialled: "0800-\(mixer.below(30))",
            context: ["sales", "support", "billing", "(other)"][Int(mixer.below(4))],
            answered: answered,
            billSeconds: answered ? Int64(mixer.below(900)) : 0,
            caller: mixer.below(10) == 0 ? nil : HyperLogLog.mix(1 + mixer.below(60))
        )
    }
}

private func aggregate(_ calls: some Sequence<Call>, bucket: TimeBucket = .hour) -> CallAggregator {
    var aggregator = CallAggregator(bucket: bucket)
    let total = aggregator.valueID(.total, "all")
    for call in calls {
        let ordinal = aggregator.bucketOrdinal(for: call.time)
        let dialled = aggregator.valueID(.dialled, call.dialled)
        let context = aggregator.valueID(.context, call.context)
        for (dimension, value) in [(CallDimension.total, total), (.dialled, dialled), (.context, context)] {
            aggregator.add(bucket: ordinal, dimension, value: value, answered: call.answered,
                           billSeconds: call.billSeconds, caller: call.caller)
        }
    }
    return aggregator
}

@Suite struct CallAggregatorTests {
    @Test(arguments: [0, 1, 5, 40])
    func everyDimensionSumsToTheBucketTotal(minCount: Int) {
        let calls = randomCalls(3_000, seed: 7)
        let records = aggregate(calls).records(minCount: minCount)
        let totals = Dictionary(uniqueKeysWithValues: records.filter { $0.dimension == "total" }.map { ($0.bucketStart, $0) })
        #expect(totals.count == 4)
        #expect(totals.values.reduce(0) { $0 + $1.calls } == Int64(calls.count))
        for dimension in ["dialled", "context"] {
            for (start, total) in totals {
                let rows = records.filter { $0.dimension == dimension && $0.bucketStart == start }
                #expect(rows.reduce(0) { $0 + $1.calls } == total.calls, "\(dimension) calls")
                #expect(rows.reduce(0) { $0 + $1.answered } == total.answered, "\(dimension) answered")
                #expect(rows.reduce(0) { $0 + $1.talkSeconds } == total.talkSeconds, "\(dimension) talk seconds")
                if minCount > 1 {
                    #expect(rows.allSatisfy { $0.value == CallAggregator.otherValue || $0.callers >= minCount })
                    #expect(rows.filter { $0.value == CallAggregator.otherValue }.count <= 1)
                }
            }
        }
        // A context that reads "(other)" joins the fold instead of making a second row.
        if minCount > 1 {
            #expect(records.contains { $0.dimension == "context" && $0.value == "(other)" })
        }
        if minCount == 40 {
            // 60 callers at most, spread over 30 numbers: every dialled row folds.
            #expect(records.filter { $0.dimension == "dialled" }.allSatisfy { $0.value == "(other)" })
        }
    }

    @Test func recordsAreSortedAndCarryTheirMetrics() throws {
        var aggregator = CallAggregator(bucket: .hour)
        let total = aggregator.valueID(.total, "all")
        let busy = aggregator.valueID(.disposition, "BUSY")
        let answered = aggregator.valueID(.disposition, "ANSWERED")
        let later = aggregator.bucketOrdinal(for: hour + 3_600)
        let first = aggregator.bucketOrdinal(for: hour + 59)
        aggregator.add(bucket: later, .total, value: total, answered: true, billSeconds: 30, caller: 1)
        aggregator.add(bucket: first, .disposition, value: busy, answered: false, billSeconds: 0, caller: 2)
        aggregator.add(bucket: first, .disposition, value: answered, answered: true, billSeconds: 61, caller: 3)
        aggregator.add(bucket: first, .disposition, value: answered, answered: true, billSeconds: 120, caller: 3)
        aggregator.add(bucket: first, .disposition, value: answered, answered: false, billSeconds: nil, caller: nil)
        aggregator.add(bucket: first, .total, value: total, answered: false, billSeconds: 0, caller: nil)
        let records = aggregator.records()
        #expect(records.map { "\($0.bucketStart - hour) \($0.dimension) \($0.value)" }
            == ["0 total all", "0 disposition ANSWERED", "0 disposition BUSY", "3600 total all"])
        let row = records[1]
        #expect(row.calls == 3 && row.answered == 2 && row.callers == 1 && row.talkSeconds == 181)
        #expect(row.talkP50 == 61 && row.talkP95 == 120)
        #expect(records[0].calls == 1 && records[0].callers == 0 && records[0].talkP50 == 0 && records[0].talkP95 == 0)
        #expect(records[0].talkHistogram == [1, 0], "an empty histogram")
        #expect(try TalkTimeHistogram(serialized: row.talkHistogram).count == 2)
        #expect(try HyperLogLog(serialized: row.sketch).estimate == 1)
    }

    @Test func rowsWithoutCallersAreJudgedByTheirCalls() {
        var aggregator = CallAggregator(bucket: .day)
        let total = aggregator.valueID(.total, "all")
        let few = aggregator.valueID(.context, "few")
        let many = aggregator.valueID(.context, "many")
        let day = aggregator.bucketOrdinal(for: hour)
        for index in 0..<7 {
            aggregator.add(bucket: day, .total, value: total, answered: false, billSeconds: 0, caller: nil)
            aggregator.add(bucket: day, .context, value: index < 2 ? few : many, answered: false, billSeconds: 0, caller: nil)
        }
        let contexts = aggregator.records(minCount: 3).filter { $0.dimension == "context" }
        #expect(contexts.map(\.value) == ["(other)", "many"])
        #expect(contexts.map(\.calls) == [2, 5])
        #expect(contexts.allSatisfy { $0.callers == 0 })
    }

    @Test(arguments: [0, 5])
    func mergeEqualsTheWhole(minCount: Int) {
        let calls = randomCalls(4_000, seed: 11)
        let whole = aggregate(calls)
        var left = aggregate(calls.prefix(1_234))
        let right = aggregate(calls.dropFirst(1_234))
        left.merge(right)
        #expect(left.records(minCount: minCount) == whole.records(minCount: minCount))
        #expect(left.rowCount == whole.rowCount)
    }

    @Test func percentilesMatchSortedValuesWithinThePrecision() {
        for seed in 1...5 as ClosedRange<UInt64> {
            let values = talkTimes(300 + Int(seed) * 37, seed: seed)
            var histogram = TalkTimeHistogram()
            for value in values { histogram.record(seconds: value) }
            let sorted = values.map { min(max($0, 0), Int64(TalkTimeHistogram.highestTrackableSeconds)) }.sorted()
            for percentile in [50.0, 95.0, 0.0, 1.0, 99.0, 100.0] {
                let exact = nearestRank(sorted, percentile)
                let measured = histogram.value(atPercentile: percentile)
                // HdrHistogram answers with the highest value of the exact value's bin, at most 0.1 % above it.
                #expect(measured >= exact && measured - exact <= exact / 1_000, "p\(percentile) seed \(seed)")
            }
        }
    }

    @Test func unitResolutionBelow2048SecondsIsExact() {
        let values: [Int64] = (1...200).map { ($0 * 7) % 2_000 }
        var histogram = TalkTimeHistogram()
        for value in values { histogram.record(seconds: value) }
        let sorted = values.sorted()
        #expect(histogram.value(atPercentile: 50) == nearestRank(sorted, 50))
        #expect(histogram.value(atPercentile: 95) == nearestRank(sorted, 95))
    }

    @Test func valuesAreClampedToTheTrackableRange() {
        var histogram = TalkTimeHistogram()
        histogram.record(seconds: -5)
        histogram.record(seconds: 9_000_000)
        histogram.record(seconds: .max)
        #expect(histogram.count == 3)
        #expect(histogram.value(atPercentile: 0) == 0)
        #expect(histogram.value(atPercentile: 50) == 604_800)
        #expect(histogram.value(atPercentile: 100) == 604_800)
        #expect(TalkTimeHistogram().value(atPercentile: 95) == 0)
    }

    /// The sparse form must answer exactly as the library's histogram does, and switch to it transparently.
    @Test func sparseAndDenseFormsAnswerAsTheLibraryDoes() {
        let percentiles = [0.0, 0.1, 1, 25, 50, 66.6, 90, 95, 99, 99.9, 100]
        for seed in 1...60 as ClosedRange<UInt64> {
            var mixer = Mixer(state: seed)
            let count = Int(1 + mixer.below(seed < 40 ? 60 : 600))
            let range: UInt64 = [5, 3_000, 70_000, 604_801][Int(seed % 4)]
            let values = (0..<count).map { _ in mixer.below(range) }
            var library = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
            var ours = TalkTimeHistogram()
            for value in values {
                library.record(value)
                ours.record(seconds: Int64(value))
            }
            for percentile in percentiles {
                #expect(ours.value(atPercentile: percentile) == Int64(library.valueAtPercentile(percentile)),
                        "p\(percentile) of \(count) values below \(range)")
            }
            #expect(ours.dense() == library)
        }
    }

    @Test func theSparseFormTurnsDensePastItsLimit() {
        var histogram = TalkTimeHistogram()
        for value in 0..<Int64(TalkTimeHistogram.sparseLimit) { histogram.record(seconds: value) }
        guard case .sparse = histogram.storage else {
            Issue.record("still sparse at the limit")
            return
        }
        histogram.record(seconds: 5_000)
        guard case .dense = histogram.storage else {
            Issue.record("dense past the limit")
            return
        }
        #expect(histogram.count == UInt64(TalkTimeHistogram.sparseLimit) + 1)
        #expect(histogram.value(atPercentile: 100) == 5_000)
    }

    @Test func mergeIsExactInEveryCombination() {
        for (leftCount, rightCount) in [(0, 5), (5, 0), (10, 20), (10, 500), (500, 10), (400, 400), (1, 1)] {
            let values = talkTimes(leftCount + rightCount, seed: UInt64(leftCount * 1_000 + rightCount))
            var left = TalkTimeHistogram(), right = TalkTimeHistogram(), whole = TalkTimeHistogram()
            for (index, value) in values.enumerated() {
                if index < leftCount { left.record(seconds: value) } else { right.record(seconds: value) }
                whole.record(seconds: value)
            }
            left.merge(right)
            #expect(left == whole, "\(leftCount) + \(rightCount)")
            #expect(left.serialized() == whole.serialized())
            for percentile in [50.0, 95.0] {
                #expect(left.value(atPercentile: percentile) == whole.value(atPercentile: percentile))
            }
        }
    }

    @Test func serializedHistogramsRoundTrip() throws {
        for count in [0, 1, 2, 3, 100, 129, 2_000] {
            var histogram = TalkTimeHistogram()
            for value in talkTimes(count, seed: UInt64(count)) { histogram.record(seconds: value) }
            let bytes = histogram.serialized()
            let decoded = try TalkTimeHistogram(serialized: bytes)
            #expect(decoded == histogram)
            #expect(decoded.serialized() == bytes)
            for percentile in [0.0, 50, 95, 100] {
                #expect(decoded.value(atPercentile: percentile) == histogram.value(atPercentile: percentile))
            }
        }
        // Two values in one bin keep their extremes: 3000 and 3001 share a bin 2 wide.
        var pair = TalkTimeHistogram()
        pair.record(seconds: 3_001)
        pair.record(seconds: 3_000)
        #expect(pair.serialized() == [1, 2, 0xB8, 0x17, 1, 1, 1])
        #expect(try TalkTimeHistogram(serialized: pair.serialized()).value(atPercentile: 0) == 3_000)
        #expect(pair.value(atPercentile: 100) == 3_001)
    }

    @Test(arguments: [
        ([], "truncated"),
        ([2, 0], "bad_version"),
        ([1], "truncated"),
        ([1, 1, 5], "truncated"),
        ([1, 1, 5, 0], "bad_count"),
        ([1, 2, 5, 1, 0, 1], "unsorted_entries"),
        ([1, 1, 0x81, 0xF5, 0x24, 1], "bad_register"),  // 604_801
        ([1, 0, 0], "trailing_bytes"),
        ([1, 1, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "bad_count"),
        ([1, 2, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 1, 2], "bad_count"),
        ([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0], "truncated"),
    ] as [([UInt8], String)])
    func malformedHistogramsAreRejected(bytes: [UInt8], reason: String) {
        #expect(throws: SketchDecodingError(reason: reason)) { try TalkTimeHistogram(serialized: bytes) }
    }
}
