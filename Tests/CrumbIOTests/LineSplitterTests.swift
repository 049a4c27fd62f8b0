import CrumbCore
@testable import CrumbIO
import CrumbSamples
import Foundation
import Testing

/// Sharing one input's lines between two parsing threads counts exactly what one thread counts.
struct LineSplitterTests {
    /// A generated log with rejected lines, personal information, a few lines over the limit, and a last
    /// line without a line feed.
    static func mixedLog(lines: Int, seed: UInt64) -> [UInt8] {
        var options = AccessLogGenerator.Options()
        options.lines = lines
        options.seed = seed
        options.malformedShare = 0.03
        var log = AccessLogGenerator.generate(options)
        var withLong: [UInt8] = []
        var lineNumber = 0
        for byte in log {
            withLong.append(byte)
            if byte == UInt8(ascii: "\n") {
                lineNumber += 1
                if lineNumber % 997 == 0 { withLong += Array(repeating: UInt8(ascii: "x"), count: 3_000) + [UInt8(ascii: "\n")] }
            }
        }
        log = withLong
        log.removeLast()  // no line feed at the end
        return log
    }

    static func processor(rejectSamples: Int) throws -> WebLogProcessor {
        var configuration = WebLogConfiguration(policy: .standard)
        configuration.rejectSamples = rejectSamples
        return WebLogProcessor(configuration: configuration, keyring: testKeyring,
                               anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
    }

    /// Small runs, so that each processor takes many and the reject samples come from both: the merged
    /// counts, samples, tallies and trends are one processor's.
    @Test(arguments: [1, 700, 4_096, 65_536], LineSplitter<WebLogProcessor>.Sharing.allCases)
    func splitCountsWhatOneProcessorCounts(batchBytes: Int, sharing: LineSplitter<WebLogProcessor>.Sharing) throws {
        let log = Self.mixedLog(lines: 6_000, seed: 11)
        var single = try Self.processor(rejectSamples: 40)
        var framer = LineFramer(maxLineLength: 2_048)
        log.withUnsafeBytes { all in
            framer.feed(all) { single.process($0) }
            framer.finish { single.process($0) }
        }
        let expected = single.finishInput()

        var own = try Self.processor(rejectSamples: 40)
        #expect(own.linesAreIndependent)
        let splitter = LineSplitter(helper: own.sibling(), batchBytes: batchBytes, sharing: sharing)
        framer = LineFramer(maxLineLength: 2_048)
        var random = SystemRandomNumberGenerator()
        log.withUnsafeBytes { all in
            // Cut into random chunks: runs do not follow the chunks.
            var offset = 0
            while offset < all.count {
                let end = min(all.count, offset + 1 + Int.random(in: 0..<50_000, using: &random))
                splitter.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), framer: &framer, own: &own)
                offset = end
            }
            framer.finish { splitter.take($0, own: &own) }
        }
        var helper = splitter.finish(own: &own)
        #expect(splitter.helperLines > 0)
        #expect(splitter.helperLines < expected.counts.read)
        own.absorbInput(of: &helper)
        own.mergeTrends(helper)
        let merged = own.finishInput()

        #expect(expected.counts.rejected > 100)
        #expect(expected.personal.total > 0)
        #expect(merged.counts == expected.counts)
        #expect(merged.rejects == expected.rejects)
        #expect(merged.combinedLines == expected.combinedLines)
        #expect(merged.personal == expected.personal)
        #expect(own.aggregator.records() == single.aggregator.records())
        // The helper starts afresh for its next input.
        #expect(helper.counts == LineCounts())
    }

    /// A processor that only notes the client field of each line it takes, and how many bytes.
    struct ClientRecorder: FrameProcessing {
        var clients: [String] = []
        var bytes = 0

        mutating func process(_ frame: LineFramer.Frame) {
            switch frame {
            case .line(let line, _):
                clients.append(String(decoding: line.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self))
                bytes += line.count + 1
            case .tooLong(_, let length):
                bytes += length + 1
            }
        }

        mutating func runEnded() {}
    }

    /// Shares `log`'s lines by client between two recorders: what each took.
    static func shareByClient(_ log: [UInt8], batchBytes: Int) -> (own: ClientRecorder, helper: ClientRecorder) {
        var own = ClientRecorder()
        let splitter = LineSplitter(helper: ClientRecorder(), batchBytes: batchBytes, sharing: .byClient)
        var framer = LineFramer(maxLineLength: 2_048)
        log.withUnsafeBytes { all in
            splitter.feed(all, framer: &framer, own: &own)
            framer.finish { splitter.take($0, own: &own) }
        }
        let helper = splitter.finish(own: &own)
        return (own, helper)
    }

    /// By client, a client's lines go to one processor, and the two take about half the bytes each; a log
    /// whose lines all start alike (one client) is still shared out evenly, within the lead allowed.
    @Test func sharingByClientKeepsClientsTogetherAndProcessorsEven() {
        let log = Self.mixedLog(lines: 20_000, seed: 21)
        let (own, helper) = Self.shareByClient(log, batchBytes: 16_384)
        #expect(own.clients.count + helper.clients.count == 20_000)  // and 20 lines over the limit
        let split = Set(own.clients).intersection(helper.clients)
        let clients = Set(own.clients).union(helper.clients)
        #expect(clients.count > 1_000)
        // Only a client whose line came when its processor was too far ahead goes to both.
        #expect(Double(split.count) < 0.05 * Double(clients.count), "\(split.count) of \(clients.count) clients split")
        let share = Double(own.bytes) / Double(own.bytes + helper.bytes)
        #expect(share > 0.4 && share < 0.6, "\(share)")

        let oneClient = Array(repeating: Array("192.0.2.7 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n".utf8),
                              count: 30_000).joined()
        let (first, second) = Self.shareByClient(Array(oneClient), batchBytes: 4_096)
        #expect(first.clients.count + second.clients.count == 30_000)
        #expect(abs(first.bytes - second.bytes) <= 4 * 4_096 + 80, "\(first.bytes) vs \(second.bytes)")
    }

    @Test func rejectSamplesKeepTheLowestLineNumbers() {
        var first = RejectTally(sampleLimit: 3)
        var second = RejectTally(sampleLimit: 3)
        for line in [4, 9, 30, 31] { first.record(.badStatus, line: line, offset: 0, bytes: nil) }
        for line in [1, 10, 11] { second.record(.badTimestamp, line: line, offset: 0, bytes: nil) }
        first.merge(second)
        #expect(first.samples.map(\.line) == [1, 4, 9])
        #expect(first.counts == [.badStatus: 4, .badTimestamp: 3])
    }

    @Test func onlyIndependentLinesAreSplit() throws {
        var processor = try Self.processor(rejectSamples: 5)
        #expect(processor.linesAreIndependent)
        processor.startInput(parser: W3CExtendedParser())
        #expect(!processor.linesAreIndependent)
        processor.startInput(parser: JSONLineParser(mapping: try #require(JSONFieldMapping.preset(named: "beacon"))))
        #expect(processor.linesAreIndependent)
        var policy = Policy.standard
        policy.events = true
        let events = WebLogProcessor(configuration: WebLogConfiguration(policy: policy), keyring: testKeyring,
                                     anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
        #expect(!events.linesAreIndependent)
    }

    /// What a whole run reports for `path`, with lines split or not: its inputs as JSON, and its trends.
    static func run(_ paths: [String], split: Bool, jobs: Int = 2, policy: Policy = .standard) throws
        -> (inputs: [String], personal: [PersonalDataTally], records: [WebTrendRecord], helperLines: Int) {
        var configuration = RunConfiguration(inputs: paths, outputDirectory: "", keyring: testKeyring, policy: policy)
        configuration.jobs = jobs
        configuration.splitLines = split
        configuration.pipelineMinimumBytes = 0
        configuration.maxLineLength = 2_048
        configuration.rejectSamples = 20
        let entries = try InputExpansion.entries(paths)
        let (results, worker, _) = try BatchRunner.process(
            entries: entries, configuration: configuration, ledger: nil,
            parts: PartFiles(directory: "", count: 0, events: false, vault: false))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let inputs = try results.map { String(decoding: try encoder.encode($0.input), as: UTF8.self) }
        return (inputs, results.map(\.personal), worker.web.aggregator.records(), results.reduce(0) { $0 + $1.helperLines })
    }

    /// End to end through `BatchRunner`: gzip and plain, whole and cut short, one file and several.
    @Test func runsWithSplitLinesMatchRunsWithout() throws {
        let directory = temporaryDirectory()
        let log = Self.mixedLog(lines: 9_000, seed: 5)
        try AtomicFile.write(log, to: directory + "/plain.log")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3_600)],
                                              ofItemAtPath: directory + "/plain.log")
        let gzip = try GzipWriter.compress(log)
        try AtomicFile.write(gzip, to: directory + "/whole.log.gz")
        try AtomicFile.write(Array(gzip.prefix(gzip.count * 2 / 3)), to: directory + "/cut.log.gz")

        for paths in [["whole.log.gz"], ["plain.log"], ["cut.log.gz"], ["whole.log.gz", "cut.log.gz", "plain.log"]] {
            let full = paths.map { directory + "/" + $0 }
            let one = try Self.run(full, split: false)
            let two = try Self.run(full, split: true)
            #expect(one.helperLines == 0)
            #expect(two.helperLines > 800, "\(paths)")
            #expect(two.inputs == one.inputs, "\(paths)")
            #expect(two.personal == one.personal, "\(paths)")
            #expect(two.records == one.records, "\(paths)")
            if paths.count > 1 {
                let serial = try Self.run(full, split: true, jobs: 1)
                #expect(serial.helperLines == 0)
                #expect(serial.records == one.records)
            }
        }
        let cut = try Self.run([directory + "/cut.log.gz"], split: true)
        #expect(cut.inputs[0].contains("truncated_gzip"))
    }

    /// Events are written in line order: an input that writes them is not split.
    @Test func runsWritingEventsAreNotSplit() throws {
        let directory = temporaryDirectory()
        try AtomicFile.write(Self.mixedLog(lines: 3_000, seed: 3), to: directory + "/access.log")
        var policy = Policy.standard
        policy.events = true
        let run = try Self.run([directory + "/access.log"], split: true, policy: policy)
        #expect(run.helperLines == 0)
    }
}
