@testable import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Testing

/// A processor that takes its lines in batches (`process(lines:in:)`, which parses one line ahead and fetches its
/// cache sets early) counts, rejects, tallies and writes exactly what it does taking them one by one.
struct BatchedLinesTests {
    /// A generated log with rejects, blank lines, comments and over-long lines, in the order given.
    static func lines() -> [[UInt8]] {
        var options = AccessLogGenerator.Options()
        options.lines = 4_000
        options.malformedShare = 0.03
        options.seed = 21
        var lines = LogLines.split(AccessLogGenerator.generate(options))
        for index in stride(from: 17, to: lines.count, by: 97) { lines[index] = [] }
        for index in stride(from: 40, to: lines.count, by: 211) { lines[index] = Array("# a comment".utf8) }
        for index in stride(from: 60, to: lines.count, by: 301) { lines[index] = Array("   \t ".utf8) }
        return lines
    }

    static func processor(events: Bool, parser: (any WebLineParser)? = nil) throws -> WebLogProcessor {
        var policy = Policy.standard
        policy.events = events
        policy.vault = events
        var processor = WebLogProcessor(
            configuration: WebLogConfiguration(policy: policy), keyring: try Keyring(secret: Array(repeating: 9, count: 32)),
            anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
        if let parser { processor.startInput(parser: parser) }
        return processor
    }

    /// Everything a processor produced for its input.
    struct Outcome: Equatable {
        var records: [WebTrendRecord]
        var counts: LineCounts
        var rejects: RejectTally
        var personal: PersonalDataTally
        var combinedLines: Int
        var events: [UInt8]
        var vault: [UInt8]

        /// The parts that differ from `other`'s, by name: a failure names them rather than printing both whole.
        func differences(from other: Outcome) -> [String] {
            var names: [String] = []
            if records != other.records { names.append("records") }
            if counts != other.counts { names.append("counts") }
            if rejects != other.rejects { names.append("rejects") }
            if personal != other.personal { names.append("personal") }
            if combinedLines != other.combinedLines { names.append("combinedLines") }
            if events != other.events { names.append("events") }
            if vault != other.vault { names.append("vault") }
            return names
        }

        init(_ processor: inout WebLogProcessor) {
            events = processor.eventBuffer
            vault = processor.vaultBuffer
            records = processor.aggregator.records()
            (counts, rejects, combinedLines, personal) = processor.finishInput()
        }
    }

    /// Lines one by one; line `tooLong` (when given) as a frame over the limit.
    static func oneByOne(_ lines: [[UInt8]], _ processor: inout WebLogProcessor, tooLong: Set<Int> = []) -> Outcome {
        for (index, line) in lines.enumerated() {
            if tooLong.contains(index) {
                processor.process(.tooLong(number: index + 1, length: line.count))
            } else {
                line.withUnsafeBytes { processor.process(.line($0, number: index + 1)) }
            }
        }
        return Outcome(&processor)
    }

    /// Lines in batches of `batch` lines, copied end to end as `LineSplitter` copies them.
    static func batched(_ lines: [[UInt8]], batch: Int, _ processor: inout WebLogProcessor, tooLong: Set<Int> = []) -> Outcome {
        for first in stride(from: 0, to: lines.count, by: batch) {
            var bytes: [UInt8] = []
            var frames: [FramedLine] = []
            for index in first..<min(first + batch, lines.count) {
                if tooLong.contains(index) {
                    frames.append(FramedLine(start: -1, length: lines[index].count, number: index + 1))
                } else {
                    frames.append(FramedLine(start: bytes.count, length: lines[index].count, number: index + 1))
                    bytes += lines[index]
                }
            }
            bytes.withUnsafeBytes { all in
                frames.withUnsafeBufferPointer { processor.process(lines: $0, in: all) }
            }
        }
        return Outcome(&processor)
    }

    @Test(arguments: [false, true], [1, 2, 7, 500, 5_000])
    func batchesCountWhatSingleLinesCount(events: Bool, batch: Int) throws {
        let lines = Self.lines()
        let tooLong: Set<Int> = [3, 1_001, 2_500]
        var single = try Self.processor(events: events)
        let expected = Self.oneByOne(lines, &single, tooLong: tooLong)
        #expect(expected.counts.read == lines.count)
        #expect(expected.counts.rejected > 100)
        #expect(expected.counts.blank > 40 && expected.counts.headers > 10)
        #expect(expected.personal.total > 0)
        #expect(expected.events.isEmpty != events)
        var batched = try Self.processor(events: events)
        #expect(Self.batched(lines, batch: batch, &batched, tooLong: tooLong).differences(from: expected) == [])
    }

    /// Combined lines, except that those of clients in 10.0.0.0/8 are copied into the parser's scratch first
    /// (as a JSON or W3C parser hands over decoded values), so the two kinds of event alternate.
    struct AlternatingParser: WebLineParser {
        var inner = CombinedLogParser(mode: .lenient)
        var scratch: [UInt8] = []
        var formatName: String { "combined-alternating" }

        mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult {
            guard line.starts(with: "10.".utf8) else { return try inner.parse(line, decoded: &decoded) }
            decoded.removeAll(keepingCapacity: true)
            decoded.append(contentsOf: line)
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: line.count, alignment: 1)
            defer { copy.deallocate() }
            copy.copyMemory(from: line)
            // Parsed from a copy: the event's ranges are offsets, the same in the line and in `decoded`.
            let result = try inner.parse(UnsafeRawBufferPointer(copy), decoded: &scratch)
            guard case .event(let event) = result else { return result }
            return .decodedEvent(event)
        }
    }

    @Test(arguments: [1, 3, 64])
    func decodedEventsBetweenHeldLinesKeepTheirOrder(batch: Int) throws {
        var lines: [[UInt8]] = []
        for index in 0..<600 {
            let client = index % 3 == 0 ? "10.1.\(index % 7).\(index % 250)" : "192.0.2.\(index % 250)"
            let path = index % 5 == 0 ? "/signup?email=someone\(index)@example.com" : "/page/\(index % 40)"
            lines.append(Array("""
                \(client) - - [01/Jan/2026:10:\(index / 60 < 10 ? "0" : "")\(index / 60):00 +0000] "GET \(path) HTTP/1.1" \
                \(index % 11 == 0 ? 404 : 200) \(100 + index) "https://ref\(index % 9).example/" "Mozilla/5.0 Firefox/\(100 + index % 13).0"
                """.utf8))
        }
        var single = try Self.processor(events: true, parser: AlternatingParser())
        let expected = Self.oneByOne(lines, &single)
        #expect(expected.counts.parsed == 600)
        #expect(expected.personal.total >= 120)
        var batched = try Self.processor(events: true, parser: AlternatingParser())
        #expect(Self.batched(lines, batch: batch, &batched).differences(from: expected) == [])
    }

    /// Many events in one bucket through `add(bucket:rows:...)` give the rows that one `add` per row gives,
    /// with sketches past the sparse limit (prefetched as dense) and rows that leave the visitor out.
    @Test func eventRowsCountAsSingleRows() {
        var rowwise = WebAggregator(bucket: .hour)
        var together = WebAggregator(bucket: .hour)
        // The same ids in both: interned in the same order.
        var ids: (total: Int, paths: [Int], statuses: [Int]) = (0, [], [])
        for aggregator in [0, 1] {
            func intern(_ aggregator: inout WebAggregator) -> (Int, [Int], [Int]) {
                (aggregator.valueID(.total, "all"), (0..<16).map { aggregator.valueID(.path, "/p\($0)") },
                 ["2xx", "3xx", "4xx", "5xx"].map { aggregator.valueID(.statusClass, $0) })
            }
            ids = aggregator == 0 ? intern(&rowwise) : intern(&together)
        }
        var state: UInt64 = 3
        for event in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let visitor: UInt64? = event % 9 == 0 ? nil : HyperLogLog.mix(state >> 40)
            let ordinal = rowwise.bucketOrdinal(for: 1_767_225_600 + Int64(event % 3) * 3_600)
            _ = together.bucketOrdinal(for: 1_767_225_600 + Int64(event % 3) * 3_600)
            let status = [200, 404, 503, 302][event % 4]
            var rows = [
                WebAggregator.EventRow(dimension: .total, value: ids.total, countsVisitor: event % 2 == 0),
                WebAggregator.EventRow(dimension: .path, value: ids.paths[Int(state >> 60)], countsVisitor: true),
                WebAggregator.EventRow(dimension: .statusClass, value: ids.statuses[status / 100 - 2], countsVisitor: event % 3 != 0),
            ]
            for row in rows {
                rowwise.add(bucket: ordinal, row.dimension, value: row.value, bytes: Int64(event), status: status,
                            visitor: row.countsVisitor ? visitor : nil)
            }
            rows.withUnsafeMutableBufferPointer {
                together.add(bucket: ordinal, rows: $0, bytes: Int64(event), status: status, visitor: visitor)
            }
        }
        let records = together.records()
        let expected = rowwise.records()
        #expect(records.count == expected.count)
        var differing: [String] = []
        for (record, wanted) in zip(records, expected) where record != wanted {
            differing.append(record.dimension + " " + record.value)
        }
        #expect(differing == [])
        #expect(records.contains { $0.uniques > 2_000 })
    }
}
