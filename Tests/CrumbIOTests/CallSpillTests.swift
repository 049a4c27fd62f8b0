import CrumbCore
@testable import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

/// Call trends of closed buckets moved out of memory during a run, and merged back bucket by bucket at its end,
/// are exactly those of one aggregator that kept every row (as `WebSpillTests` shows for web trends).
struct CallSpillTests {
    static let zone = LocalTimeZone(named: "+01:00")!

    /// Generated call records over three days, with every 40th row moved 300 rows further on (a late call,
    /// some of them in a bucket already spilled) so that late rows meet spilled ones.
    static func lateRecords(calls: Int = 6_000, seed: UInt64 = 3) -> [UInt8] {
        var options = CallRecordGenerator.Options()
        options.calls = calls
        options.seed = seed
        options.duration = 3 * 86_400
        return LogLines.delaying(every: 40, by: 300, in: CallRecordGenerator.generate(options).bytes)
    }

    static func processor(policy: Policy = .standard) -> CallLogProcessor {
        CallLogProcessor(configuration: CallLogConfiguration(policy: policy), parser: AsteriskCDRParser(timeZone: zone),
                         keyring: testKeyring)
    }

    /// What a state keeps of records, as comparable text, sorted: every stored field, the sketch and histogram
    /// bytes included (not the estimate and percentiles, which absorbing a record recomputes).
    static func text(_ records: [CallTrendRecord]) -> [String] {
        records.map { record in
            "\(record.bucketStart) \(record.dimension) \(record.value) \(record.calls) \(record.answered) "
                + "\(record.talkSeconds) \(record.sketch) \(record.talkHistogram)"
        }.sorted()
    }

    @Test(arguments: [1, 50, 2_000])
    func spilledRunsMergeToTheRowsOfOneAggregator(linesPerRun: Int) throws {
        let log = Self.lateRecords()
        var whole = Self.processor()
        var spilled = Self.processor()
        let directory = temporaryDirectory()
        let spill = try CallSpillFile(directory: directory, bucket: .hour)
        spilled.spill = spill
        var mostRows = 0
        WebSpillTests.feed(log, &whole, &spilled, linesPerRun: linesPerRun) { spilled in
            mostRows = max(mostRows, spilled.aggregator.rowCount)
        }
        #expect(whole.counts.parsed > 6_000)
        // Memory holds the latest call's bucket, the one before, and late rows until the next spill.
        #expect(spill.file.rowCount > 0)
        #expect(mostRows < whole.aggregator.rowCount / 4)
        spilled.spillAll()
        #expect(spilled.aggregator.rowCount == 0)
        #expect(spill.failure == nil)
        // Nothing is left in the directory: the spill has no name.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)

        for minCount in [0, 3] {
            let pass = CallFinalPass(spill: spill, bucket: .hour, valueCap: WebAggregator.defaultValueCap,
                                     minCount: minCount)
            var stateRecords: [CallTrendRecord] = []
            var published: [CallTrendRecord] = []
            var lastStart = Int64.min
            let capped = try pass.run(stateRecords: { records in
                for record in records {
                    #expect(record.bucketStart >= lastStart, "rows come in bucket order")
                    lastStart = record.bucketStart
                }
                stateRecords += records
            }, published: { published += $0 })
            #expect(Self.text(stateRecords) == Self.text(whole.aggregator.records(minCount: 0)))
            #expect(published == whole.aggregator.records(minCount: minCount))
            #expect(capped.capped == whole.aggregator.cappedDimensions)
        }
    }

    /// A value cap reached while spilling: the capped counts and the `(other)` rows are one aggregator's.
    @Test func cappedDimensionsSurviveTheSpill() throws {
        var policy = Policy.standard
        policy.maxValues = 12
        let log = Self.lateRecords(calls: 3_000, seed: 9)
        var whole = Self.processor(policy: policy)
        var spilled = Self.processor(policy: policy)
        let spill = try CallSpillFile(directory: temporaryDirectory(), bucket: .hour)
        spilled.spill = spill
        WebSpillTests.feed(log, &whole, &spilled, linesPerRun: 100)
        spilled.spillAll()
        var capped: [CallDimension: Int64] = [:]
        for dimension in CallDimension.allCases { capped[dimension] = spilled.aggregator.cappedEvents[dimension.rawValue] }
        #expect(!whole.aggregator.cappedDimensions.isEmpty)
        let pass = CallFinalPass(spill: spill, bucket: .hour, valueCap: 12, minCount: 0, capped: capped)
        var stateRecords: [CallTrendRecord] = []
        let result = try pass.run(stateRecords: { stateRecords += $0 }, published: { _ in })
        #expect(Self.text(stateRecords) == Self.text(whole.aggregator.records(minCount: 0)))
        #expect(result.capped == whole.aggregator.cappedDimensions)
    }

    /// A saved state's call rows join the spilled ones bucket by bucket: sorted by SQLite when the state does
    /// not say they are in bucket order, read as stored when it does; rows said to be in order that are not
    /// are refused, never counted twice.
    @Test func savedRowsMergeInBucketOrder() throws {
        let log = Self.lateRecords(calls: 2_000, seed: 17)
        var saved = Self.processor()
        var whole = Self.processor()
        var spilled = Self.processor()
        let directory = temporaryDirectory()
        let spill = try CallSpillFile(directory: directory, bucket: .hour)
        spilled.spill = spill
        var framer = LineFramer(maxLineLength: 4_096)
        log.withUnsafeBytes { all in framer.feed(all) { saved.process($0) } }
        WebSpillTests.feed(log, &whole, &spilled, linesPerRun: 150)
        spilled.spillAll()
        whole.mergeTrends(saved)

        var records = saved.aggregator.records(minCount: 0, sorted: false) { _ in true }
        records.sort { $0.bucketStart > $1.bucketStart }
        let settings = RunState.Settings(keyFingerprint: "test", keyEphemeral: false, policySHA256: "test", bucket: "hour",
                                         minCount: 0, maxValues: WebAggregator.defaultValueCap, policy: [:])
        try RunState(web: [], calls: records, ledger: [], settings: settings).save(directory: directory)
        let state = directory + "/" + RunState.fileName
        #expect(try RunState.load(path: state, rows: false).callRowsInBucketOrder == false)

        let sorted = CallFinalPass(spill: spill, saved: [SavedState(path: state)], bucket: .hour,
                                   valueCap: WebAggregator.defaultValueCap, minCount: 0)
        var stateRecords: [CallTrendRecord] = []
        var published: [CallTrendRecord] = []
        _ = try sorted.run(stateRecords: { stateRecords += $0 }, published: { published += $0 })
        #expect(Self.text(stateRecords) == Self.text(whole.aggregator.records(minCount: 0)))
        #expect(published == whole.aggregator.records(minCount: 0))

        let misread = CallFinalPass(spill: spill, saved: [SavedState(path: state, webInBucketOrder: true, callsInBucketOrder: true)],
                                    bucket: .hour, valueCap: WebAggregator.defaultValueCap, minCount: 0)
        #expect(throws: StateError.self) { _ = try misread.run(stateRecords: { _ in }, published: { _ in }) }
    }

    /// A run over two record files of the same days, read one after the other, then a resumed run adding a
    /// third: the same call trend files as one run over the three, a state that says its rows are in bucket
    /// order, and no spill left in the output directory.
    @Test func runsAndResumesOverSpilledBucketsCountLikeOneRun() throws {
        let directory = temporaryDirectory()
        var paths: [String] = []
        for seed in [UInt64(41), 42, 43] {
            let path = directory + "/Master-\(seed).csv"
            try AtomicFile.write(Self.lateRecords(calls: 1_500, seed: seed), to: path)
            paths.append(path)
        }
        func configuration(_ inputs: [String], out: String) -> RunConfiguration {
            var configuration = runConfiguration(inputs, out: out)
            configuration.jobs = 1
            configuration.format = "asterisk-cdr"
            configuration.timeZone = Self.zone
            configuration.policy.minCount = 2
            return configuration
        }
        _ = try BatchRunner.run(configuration(Array(paths[0...1]), out: directory + "/resumed"))
        _ = try BatchRunner.run(configuration(paths, out: directory + "/resumed"))
        _ = try BatchRunner.run(configuration(paths, out: directory + "/once"))
        for name in ["call_trends.csv", "call_trends.jsonl"] {
            let resumed = try String(contentsOfFile: directory + "/resumed/" + name, encoding: .utf8)
            let once = try String(contentsOfFile: directory + "/once/" + name, encoding: .utf8)
            #expect(resumed == once, "\(name)")
            #expect(resumed.split(separator: "\n").count > 500)
        }
        let state = try RunState.load(path: directory + "/resumed/" + RunState.fileName, rows: true)
        #expect(state.callRowsInBucketOrder)
        #expect(state.calls.map(\.bucketStart) == state.calls.map(\.bucketStart).sorted())
        let left = try FileManager.default.contentsOfDirectory(atPath: directory + "/resumed").filter { $0.hasPrefix(".") && $0 != ".crumb.lock" }
        #expect(left.isEmpty)
    }
}
