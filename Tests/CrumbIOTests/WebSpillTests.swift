import CrumbCore
@testable import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

/// A processor the spill tests feed lines to and spill (web or call records).
protocol SpillingProcessor {
    mutating func process(_ frame: LineFramer.Frame)
    mutating func spillClosedBuckets()
}

extension WebLogProcessor: SpillingProcessor {}
extension CallLogProcessor: SpillingProcessor {}

/// Closed buckets moved out of memory during a run, and merged back bucket by bucket at its end, give
/// exactly the trends of one aggregator that kept every row.
struct WebSpillTests {
    /// A generated log over three days, with every 50th line moved 500 lines further on (a late event, some
    /// of them in a bucket already spilled) so that late rows meet spilled ones.
    static func lateLog() -> [UInt8] {
        var options = AccessLogGenerator.Options()
        options.lines = 12_000
        options.seed = 5
        options.malformedShare = 0.01
        return LogLines.delaying(every: 50, by: 500, in: AccessLogGenerator.generate(options))
    }

    static func processor(policy: Policy = .standard) throws -> WebLogProcessor {
        WebLogProcessor(configuration: WebLogConfiguration(policy: policy), keyring: testKeyring,
                        anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
    }

    /// Every row of `aggregator` as comparable text (sketch bytes in hex), sorted.
    static func rows(of aggregator: WebAggregator) -> [String] {
        var rows: [String] = []
        aggregator.forEachRow { rows.append(text($0)) }
        return rows.sorted()
    }

    static func text(_ row: WebAggregator.RowView) -> String {
        "\(row.bucketStart) \(row.dimension.name) \(row.value) \(row.hits) \(row.bytes) \(row.status4xx) \(row.status5xx) "
            + row.sketchBytes.map { String($0, radix: 16) }.joined(separator: ".")
    }

    /// Gives every line of `log` to both processors; `spilled` spills after every `linesPerRun` lines, and
    /// `afterSpill` sees it then.
    static func feed<Processor: SpillingProcessor>(_ log: [UInt8], _ whole: inout Processor, _ spilled: inout Processor,
                                                   linesPerRun: Int, afterSpill: (Processor) -> Void = { _ in }) {
        var framer = LineFramer(maxLineLength: 4_096)
        var lines = 0
        log.withUnsafeBytes { all in
            framer.feed(all) { frame in
                whole.process(frame)
                spilled.process(frame)
                lines += 1
                if lines % linesPerRun == 0 {
                    spilled.spillClosedBuckets()
                    afterSpill(spilled)
                }
            }
        }
    }

    @Test(arguments: [1, 40, 1_000])
    func spilledRunsMergeToTheRowsOfOneAggregator(linesPerRun: Int) throws {
        try Self.checkSpilledRuns(linesPerRun: linesPerRun, pieceBytes: WebSpillFile.defaultPieceBytes)
    }

    /// A bucket's rows written in many small pieces, several buckets' rows mixed in one spill (late events),
    /// read back as they were.
    @Test(arguments: [40, 1_000])
    func spilledPiecesMergeToTheRowsOfOneAggregator(linesPerRun: Int) throws {
        try Self.checkSpilledRuns(linesPerRun: linesPerRun, pieceBytes: 64)
    }

    static func checkSpilledRuns(linesPerRun: Int, pieceBytes: Int) throws {
        let log = Self.lateLog()
        var whole = try Self.processor()
        var spilled = try Self.processor()
        let directory = temporaryDirectory()
        let spill = try WebSpillFile(directory: directory, pieceBytes: pieceBytes)
        spilled.spill = spill
        var mostOpen = 0
        Self.feed(log, &whole, &spilled, linesPerRun: linesPerRun) { spilled in
            mostOpen = max(mostOpen, spilled.aggregator.openBucketStarts.count)
        }
        // Memory holds the latest event's bucket, the one before, and late rows until the next spill.
        #expect(spill.rowCount > 0)
        #expect(spilled.aggregator.rowCount < whole.aggregator.rowCount / 4)
        if linesPerRun == 1 { #expect(mostOpen <= 2) }
        spilled.spillAll()
        #expect(spilled.aggregator.rowCount == 0)
        #expect(spill.failure == nil)
        // Nothing is left in the directory: the spill has no name.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)

        for minCount in [0, 3] {
            let pass = WebFinalPass(spill: spill, bucket: .hour, valueCap: WebAggregator.defaultValueCap,
                                    minCount: minCount)
            var stateRows: [String] = []
            var published: [WebTrendRecord] = []
            var lastStart = Int64.min
            let capped = try pass.run(stateRow: { row in
                #expect(row.bucketStart >= lastStart, "rows come in bucket order")
                lastStart = row.bucketStart
                stateRows.append(Self.text(row))
            }, published: { published += $0 })
            #expect(stateRows.sorted() == Self.rows(of: whole.aggregator))
            #expect(published == whole.aggregator.records(minCount: minCount))
            #expect(capped.capped == whole.aggregator.cappedDimensions)
        }
    }

    /// A row written with its sketch serialized in place is byte for byte the row written from its view's
    /// serialized sketch, for sketches of every layout (inline, sparse, dense).
    @Test func rowsWrittenWithTheirSketchesMatchRowsWrittenFromTheirBytes() throws {
        var aggregator = WebAggregator(bucket: .hour)
        let ordinal = aggregator.bucketOrdinal(for: 1_767_225_600)
        for (index, visitors) in [0, 1, 2, 300, 6_000].enumerated() {
            let value = aggregator.valueID(.path, "/path/\(index)")
            for visitor in 0..<max(visitors, 1) {
                aggregator.add(bucket: ordinal, .path, value: value, bytes: Int64(visitor), status: 404,
                               visitor: visitors == 0 ? nil : HyperLogLog.mix(UInt64(visitor)))
            }
        }
        var fromBytes: [UInt8] = []
        aggregator.forEachRow { fromBytes.appendSpillRow($0) }
        var inPlace: [UInt8] = [7]
        aggregator.drainRowsWithSketches(where: { _ in true }) { inPlace.appendSpillRow($0, sketch: $1) }
        #expect(fromBytes.count > 12_000)
        #expect(inPlace == [7] + fromBytes)
        #expect(aggregator.rowCount == 0)
    }

    /// A value cap reached while spilling: the capped counts and the `(other)` rows are one aggregator's.
    @Test func cappedDimensionsSurviveTheSpill() throws {
        var policy = Policy.standard
        policy.maxValues = 50
        var options = AccessLogGenerator.Options()
        options.lines = 5_000
        options.seed = 8
        let log = AccessLogGenerator.generate(options)
        var whole = try Self.processor(policy: policy)
        var spilled = try Self.processor(policy: policy)
        let spill = try WebSpillFile(directory: temporaryDirectory())
        spilled.spill = spill
        Self.feed(log, &whole, &spilled, linesPerRun: 100)
        spilled.spillAll()
        var capped: [WebDimension: Int64] = [:]
        for dimension in WebDimension.allCases { capped[dimension] = spilled.aggregator.cappedEvents[dimension.rawValue] }
        #expect(!whole.aggregator.cappedDimensions.isEmpty)
        let pass = WebFinalPass(spill: spill, bucket: .hour, valueCap: 50, minCount: 0, capped: capped)
        var stateRows: [String] = []
        let result = try pass.run(stateRow: { stateRows.append(Self.text($0)) }, published: { _ in })
        #expect(stateRows.sorted() == Self.rows(of: whole.aggregator))
        #expect(result.capped == whole.aggregator.cappedDimensions)
    }

    /// A saved state's rows join the spilled ones bucket by bucket: sorted by SQLite when the state does not
    /// say they are in bucket order (a state `crumb merge` wrote), read as stored when it does; rows said to
    /// be in order that are not are refused, never counted twice.
    @Test func savedRowsMergeInBucketOrder() throws {
        var options = AccessLogGenerator.Options()
        options.lines = 3_000
        options.seed = 31
        let log = AccessLogGenerator.generate(options)
        var saved = try Self.processor()
        var whole = try Self.processor()
        var spilled = try Self.processor()
        let directory = temporaryDirectory()
        let spill = try WebSpillFile(directory: directory)
        spilled.spill = spill
        var framer = LineFramer(maxLineLength: 4_096)
        log.withUnsafeBytes { all in framer.feed(all) { saved.process($0) } }
        Self.feed(log, &whole, &spilled, linesPerRun: 200)
        spilled.spillAll()
        whole.mergeTrends(saved)

        // The saved rows, stored in reverse bucket order, as records.
        var records = saved.aggregator.records(minCount: 0, sorted: false) { _ in true }
        records.sort { $0.bucketStart > $1.bucketStart }
        let settings = RunState.Settings(keyFingerprint: "test", keyEphemeral: false, policySHA256: "test", bucket: "hour",
                                         minCount: 0, maxValues: WebAggregator.defaultValueCap, policy: [:])
        try RunState(web: records, calls: [], ledger: [], settings: settings).save(directory: directory)
        let state = directory + "/" + RunState.fileName
        #expect(try RunState.load(path: state, rows: false).webRowsInBucketOrder == false)

        let sorted = WebFinalPass(spill: spill, saved: [SavedState(path: state)], bucket: .hour,
                                  valueCap: WebAggregator.defaultValueCap, minCount: 0)
        var stateRows: [String] = []
        var published: [WebTrendRecord] = []
        _ = try sorted.run(stateRow: { stateRows.append(Self.text($0)) }, published: { published += $0 })
        #expect(stateRows.sorted() == Self.rows(of: whole.aggregator))
        #expect(published == whole.aggregator.records(minCount: 0))

        let misread = WebFinalPass(spill: spill, saved: [SavedState(path: state, webInBucketOrder: true, callsInBucketOrder: true)],
                                   bucket: .hour, valueCap: WebAggregator.defaultValueCap, minCount: 0)
        #expect(throws: StateError.self) { _ = try misread.run(stateRow: { _ in }, published: { _ in }) }
    }

    @Test func aSpillThatCannotBeCreatedNamesTheDirectory() {
        let missing = temporaryDirectory() + "/not/there"
        do {
            _ = try WebSpillFile(directory: missing)
            Issue.record("created a spill in a missing directory")
        } catch {
            #expect(error.path.hasPrefix(missing))
            #expect(error.message.hasPrefix("cannot create"))
        }
    }

    /// Segments of any size read back exactly through one buffer that a caller passes from bucket to bucket
    /// (grown, never cut), and once the contents are dropped the file is empty and a read says the file ended.
    @Test func segmentsReadThroughOneBufferAndDroppedContents() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try SpillFile(directory: directory, name: "test")
        let sizes = [1_000, 300_000, 10, 70_000, 300_001, 5]
        var written: [Int64: [[UInt8]]] = [:]
        for (index, size) in sizes.enumerated() {
            let bucket = Int64(index % 3)
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            file.append(bucket: bucket, bytes, rows: 1)
            written[bucket, default: []].append(bytes)
        }
        var buffer: [UInt8] = []
        for bucket in Int64(0)..<3 {
            var read: [[UInt8]] = []
            try file.forEachSegment(bucket: bucket, buffer: &buffer) { read.append(Array($0)) }
            #expect(read == written[bucket])
        }
        #expect(buffer.count == 300_001)
        #expect(file.size == Int64(sizes.reduce(0, +)))

        file.dropContents()
        #expect(file.size == 0)
        do {
            try file.forEachSegment(bucket: 1, buffer: &buffer) { _ in }
            Issue.record("read a dropped spill")
        } catch let error as OutputError {
            #expect(error.message.contains("file ended early"))
        }
    }

    /// A run over two files of the same days, which a worker reads one after the other (the second's events
    /// are all older than the first's latest), then a resumed run adding a third: the same outputs as one
    /// run over the three, and no spill left in the output directory.
    @Test func runsAndResumesOverSpilledBucketsCountLikeOneRun() throws {
        let directory = temporaryDirectory()
        var paths: [String] = []
        for seed in [UInt64(21), 22, 23] {
            var options = AccessLogGenerator.Options()
            options.lines = 4_000
            options.seed = seed
            let path = directory + "/access-\(seed).log"
            try AtomicFile.write(AccessLogGenerator.generate(options), to: path)
            paths.append(path)
        }
        func configuration(_ inputs: [String], out: String) -> RunConfiguration {
            var configuration = runConfiguration(inputs, out: out)
            configuration.jobs = 1
            return configuration
        }
        _ = try BatchRunner.run(configuration(Array(paths[0...1]), out: directory + "/resumed"))
        _ = try BatchRunner.run(configuration(paths, out: directory + "/resumed"))
        _ = try BatchRunner.run(configuration(paths, out: directory + "/once"))
        for name in ["web_trends.csv", "web_trends.jsonl"] {
            let resumed = try String(contentsOfFile: directory + "/resumed/" + name, encoding: .utf8)
            let once = try String(contentsOfFile: directory + "/once/" + name, encoding: .utf8)
            #expect(resumed == once, "\(name)")
            #expect(resumed.split(separator: "\n").count > 1_000)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: directory + "/resumed").filter { $0.hasPrefix(".") && $0 != ".crumb.lock" }
        #expect(left.isEmpty)
    }

    /// `crumb scan` drops the trends bucket by bucket (`DiscardedTrends`) and counts what a run counts: the
    /// same lines, and the same personal information by kind and field, web and call records alike.
    @Test func aScanCountsWhatARunCounts() throws {
        let directory = temporaryDirectory()
        try AtomicFile.write(Self.lateLog(), to: directory + "/access.log")
        try AtomicFile.write(CallSpillTests.lateRecords(calls: 1_000, seed: 5), to: directory + "/Master.csv")
        var configuration = runConfiguration([directory + "/access.log", directory + "/Master.csv"], out: directory + "/out")
        configuration.timeZone = CallSpillTests.zone
        let scanned = try BatchRunner.processInputs(configuration)
        let report = try BatchRunner.run(configuration)
        #expect(scanned.totals.linesParsed == report.manifest.totals.linesParsed)
        #expect(scanned.totals.linesParsed > 12_000)
        let personal = PersonalTally(scanned.personal)
        #expect(personal.byKind == report.manifest.personalFoundByKind)
        #expect(personal.byField == report.manifest.personalFoundByField)
        #expect(personal.lines == report.manifest.linesWithPersonalData)
        #expect(personal.lines > 0)
    }

    /// Values the saved state holds keep their own rows when this run's new values fill the value cap, even
    /// from an earlier bucket (merged first): the final pass interns the saved values before any bucket, as
    /// when the saved rows were all read before this run's. The state records its value counts, so that a
    /// run far below the cap does not read the saved values for this.
    @Test func savedValuesKeepTheirRowsWhenTheCapIsReached() throws {
        let directory = temporaryDirectory()
        func log(hour: String, paths: [String]) -> [UInt8] {
            Array(paths.map { path in
                "203.0.113.7 - - [05/Jan/2026:\(hour):15:00 +0000] \"GET \(path) HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n"
            }.joined().utf8)
        }
        try AtomicFile.write(log(hour: "10", paths: ["/a1", "/a2", "/a3", "/a4"]), to: directory + "/later.log")
        try AtomicFile.write(log(hour: "09", paths: ["/b1", "/b2", "/b3", "/b4"]), to: directory + "/earlier.log")
        func configuration(_ inputs: [String]) -> RunConfiguration {
            var configuration = runConfiguration(inputs.map { directory + "/" + $0 }, out: directory + "/out")
            configuration.policy.maxValues = 6
            configuration.policy.minCount = 0
            return configuration
        }
        _ = try BatchRunner.run(configuration(["later.log"]))
        let first = try RunState.load(path: directory + "/out/" + RunState.fileName, rows: false)
        #expect(first.valueCounts?["path"] == 5)
        let report = try BatchRunner.run(configuration(["later.log", "earlier.log"]))
        let csv = try String(contentsOfFile: directory + "/out/web_trends.csv", encoding: .utf8)
        let paths = csv.split(separator: "\n").filter { $0.contains(",path,") }.map { line in
            line.split(separator: ",").prefix(4).dropFirst(3).joined()
        }
        // (other), the four saved paths, and one slot left for the new ones: /b1, then (other) for the rest.
        #expect(paths.sorted() == ["(other)", "/a1", "/a2", "/a3", "/a4", "/b1"])
        #expect(report.manifest.cappedDimensions["path"] == 3)
        let second = try RunState.load(path: directory + "/out/" + RunState.fileName, rows: false)
        #expect(second.valueCounts?["path"] == 6)
    }

    /// Saved values are read first only where the values merged could pass the cap; a state that does not say
    /// how many it holds counts as full.
    @Test func savedValuesGoFirstOnlyWhereTheCapCanBeReached() {
        #expect(!savedValuesGoFirst(runValues: 4, savedValues: [2], cap: 6))
        #expect(savedValuesGoFirst(runValues: 4, savedValues: [5], cap: 6))
        #expect(!savedValuesGoFirst(runValues: 1, savedValues: [6], cap: 6), "a run with no values of its own")
        #expect(savedValuesGoFirst(runValues: 2, savedValues: [nil], cap: 6))
        #expect(!savedValuesGoFirst(runValues: 0, savedValues: [nil], cap: 6), "one state alone")
        #expect(!savedValuesGoFirst(runValues: 0, savedValues: [3, 4], cap: 6))
        #expect(savedValuesGoFirst(runValues: 0, savedValues: [3, 4, 2], cap: 6))
    }

    /// A worker's bound on its values counts those of processors merged into it whose rows were spilled
    /// before the merge (which keeps only the values of rows in memory): the run's check for the cap must not
    /// miss them.
    @Test func aWorkersValueBoundCountsSpilledValuesOfMergedProcessors() throws {
        func worker(_ lines: [(hour: String, path: String)]) throws -> Worker {
            var worker = Worker(web: try Self.processor(), calls: CallSpillTests.processor())
            worker.web.spill = DiscardedTrends()
            let log = lines.map { line in
                "203.0.113.7 - - [05/Jan/2026:\(line.hour):15:00 +0000] \"GET \(line.path) HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n"
            }.joined()
            var framer = LineFramer(maxLineLength: 4_096)
            Array(log.utf8).withUnsafeBytes { all in framer.feed(all) { worker.web.process($0) } }
            worker.web.spillClosedBuckets()
            return worker
        }
        var first = try worker([("09", "/a1")])
        let second = try worker([("06", "/b1"), ("06", "/b2"), ("06", "/b3"), ("09", "/a1")])
        let before = first.webValueBound(.path)
        first.merge(second)
        // (other), /a1, and the three spilled values.
        #expect(first.web.aggregator.valueCount(.path) == before)
        #expect(first.webValueBound(.path) >= 5)
    }
}
