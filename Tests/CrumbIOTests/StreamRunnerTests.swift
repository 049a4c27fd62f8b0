import CrumbCore
import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A combined-format line at `time` (`HH:MM` on 2026-01-01, UTC) for client `client`.
func streamLine(_ time: String, path: String = "/a", client: Int = 1, bytes: Int = 10, day: Int = 1) -> String {
    let dayText = day < 10 ? "0\(day)" : "\(day)"
    return "203.0.113.\(client) - - [\(dayText)/Jan/2026:\(time):00 +0000] \"GET \(path) HTTP/1.1\" 200 \(bytes) \"-\" \"curl/8.5.0\"\n"
}

/// One JSON line of the stream's output, the fields the tests look at.
struct EmittedRow: Equatable, Hashable {
    var bucketStart: String
    var dimension: String
    var value: String
    var hits: Int64

    init(_ line: Substring) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        bucketStart = try #require(object["bucket_start"] as? String)
        dimension = try #require(object["dimension"] as? String)
        value = try #require(object["value"] as? String)
        hits = try #require((object["hits"] ?? object["calls"]) as? NSNumber).int64Value
    }

    static func parse(_ text: String) throws -> [EmittedRow] {
        try text.split(separator: "\n").map(EmittedRow.init)
    }

    /// Hits per bucket of the `total` rows; fails when a bucket's total appears twice.
    static func totals(_ rows: [EmittedRow]) -> [String: Int64] {
        var totals: [String: Int64] = [:]
        for row in rows where row.dimension == "total" {
            #expect(totals[row.bucketStart] == nil, "bucket \(row.bucketStart) emitted twice")
            totals[row.bucketStart] = row.hits
        }
        return totals
    }
}

/// A stream runner writing its JSON Lines to a file, fed by the test.
final class StreamHarness {
    let directory: String
    let outputPath: String
    let descriptor: Int32
    let runner: StreamRunner

    init(name: String = #function, _ configure: (inout StreamConfiguration) -> Void = { _ in }) throws {
        directory = temporaryDirectory(name)
        outputPath = directory + "/stdout.jsonl"
        descriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var configuration = StreamConfiguration(keyring: testKeyring)
        configuration.format = "combined"
        configuration.lateness = 600
        configuration.policy.minCount = 0
        configuration.jsonLinesOutput = descriptor
        configure(&configuration)
        runner = try StreamRunner(configuration)
    }

    deinit { close(descriptor) }

    func feed(_ text: String) throws {
        try Array(text.utf8).withUnsafeBytes { try runner.feed($0) }
    }

    /// Feeds `bytes` in pieces: all at once (`nil`), byte by byte (1) or pieces of random sizes (0).
    func feed(_ bytes: [UInt8], pieces: Int?, seed: UInt64 = 7) throws {
        var generator = SplitMix(seed: seed)
        var offset = 0
        while offset < bytes.count {
            let size: Int
            switch pieces {
            case nil: size = bytes.count
            case 0?: size = 1 + Int(generator.next() % 97)
            case let fixed?: size = fixed
            }
            let end = min(bytes.count, offset + size)
            try bytes[offset..<end].withUnsafeBytes { try runner.feed($0) }
            offset = end
        }
    }

    var emitted: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct StreamRunnerTests {
    /// Four simulated hours (3, 5, 2 and 4 lines): whatever the chunking, each bucket is emitted exactly
    /// once with its hits, and the output is byte for byte the same.
    @Test(arguments: [nil, 1, 0] as [Int?])
    func emitsEachBucketOnceWhateverTheChunking(pieces: Int?) throws {
        var text = ""
        let perHour = [10: 3, 11: 5, 12: 2, 13: 4]
        for (hour, count) in perHour.sorted(by: { $0.key < $1.key }) {
            for minute in 0..<count { text += streamLine("\(hour):\(10 + minute * 7)", client: minute) }
        }
        let harness = try StreamHarness()
        try harness.feed(Array(text.utf8), pieces: pieces)
        // Before the end: 10:00, 11:00 and 12:00 are closed by 13:31 - 10 minutes; 13:00 is open.
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == [
            "2026-01-01T10:00:00Z": 3, "2026-01-01T11:00:00Z": 5, "2026-01-01T12:00:00Z": 2,
        ])
        #expect(harness.runner.openBucketStarts.count == 1)
        let report = try harness.runner.finish()
        let rows = try EmittedRow.parse(harness.emitted)
        #expect(EmittedRow.totals(rows) == [
            "2026-01-01T10:00:00Z": 3, "2026-01-01T11:00:00Z": 5, "2026-01-01T12:00:00Z": 2, "2026-01-01T13:00:00Z": 4,
        ])
        #expect(Set(rows).count == rows.count, "a row was emitted twice")
        #expect(report.counts.parsed == 14)
        #expect(report.counts.late == 0)
        #expect(report.bucketsEmitted == 4)
        #expect(report.rowsEmitted == rows.count)

        // Every chunking gives the same bytes as all at once.
        let whole = try StreamHarness(name: "whole")
        try whole.feed(text)
        _ = try whole.runner.finish()
        #expect(harness.emitted == whole.emitted)
    }

    /// A bucket is emitted as soon as an event at least the lateness past its end is read, and not before.
    @Test func emitsABucketWhenTheWatermarkPassesItsEnd() throws {
        let harness = try StreamHarness()
        try harness.feed(streamLine("10:30") + streamLine("11:05"))
        #expect(harness.emitted.isEmpty)
        try harness.feed(streamLine("11:09"))
        #expect(harness.emitted.isEmpty, "11:09 - 10m is before 11:00")
        try harness.feed(streamLine("11:10"))
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == ["2026-01-01T10:00:00Z": 1])
    }

    /// A line late within the allowed lateness is counted in its bucket; a line whose bucket has been
    /// emitted is counted as late and left out; an on-time line older than the watermark is counted.
    @Test func lateLines() throws {
        let harness = try StreamHarness()
        try harness.feed(streamLine("10:50") + streamLine("11:05"))
        try harness.feed(streamLine("10:58"))  // 7 minutes late, within 10: counted in 10:00
        try harness.feed(streamLine("11:20"))  // watermark 11:10 closes 10:00
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == ["2026-01-01T10:00:00Z": 2])
        try harness.feed(streamLine("10:59", path: "/late"))  // its bucket is emitted: late
        try harness.feed(streamLine("11:02", path: "/b"))  // before the watermark, but 11:00 is open
        let report = try harness.runner.finish()
        let rows = try EmittedRow.parse(harness.emitted)
        #expect(EmittedRow.totals(rows) == ["2026-01-01T10:00:00Z": 2, "2026-01-01T11:00:00Z": 3])
        #expect(!rows.contains { $0.value == "/late" })
        #expect(rows.contains { $0.value == "/b" && $0.bucketStart == "2026-01-01T11:00:00Z" })
        #expect(report.counts.parsed == 6)
        #expect(report.counts.late == 1)
        #expect(report.bucketsEmitted == 2)
    }

    /// With lateness 0, a bucket closes with the first event of the next one.
    @Test func zeroLateness() throws {
        let harness = try StreamHarness { $0.lateness = 0 }
        try harness.feed(streamLine("10:59") + streamLine("11:00"))
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == ["2026-01-01T10:00:00Z": 1])
        try harness.feed(streamLine("10:59"))
        #expect(try harness.runner.finish().counts.late == 1)
    }

    /// End of input emits the open buckets, and a last line without a newline is counted.
    @Test func finishEmitsOpenBuckets() throws {
        let harness = try StreamHarness()
        var text = streamLine("10:01") + streamLine("10:02") + streamLine("10:59")
        text.removeLast()
        try harness.feed(text)
        #expect(harness.emitted.isEmpty)
        let report = try harness.runner.finish()
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == ["2026-01-01T10:00:00Z": 3])
        #expect(report.counts.read == 3)
        #expect(harness.runner.openBucketStarts.isEmpty)
        #expect(harness.runner.rowsHeld == 0)
    }

    /// Rejected lines are counted, never fatal; k-anonymity applies to each emitted bucket.
    @Test func rejectsAndKAnonymity() throws {
        let harness = try StreamHarness { $0.policy.minCount = 2 }
        try harness.feed(streamLine("10:01", path: "/a", client: 1) + "not a log line\n"
                         + streamLine("10:02", path: "/b", client: 2) + streamLine("10:03", path: "/b", client: 3))
        let report = try harness.runner.finish()
        #expect(report.counts.rejected == 1)
        let paths = try EmittedRow.parse(harness.emitted).filter { $0.dimension == "path" }
        #expect(Set(paths.map(\.value)) == ["/b", "(other)"])
        #expect(paths.map(\.hits).reduce(0, +) == 3)
    }

    /// `auto` holds the first lines back, detects, and goes on; a short stream is detected at its end.
    @Test func detectsTheFormat() throws {
        let harness = try StreamHarness { $0.format = "auto" }
        var text = ""
        for minute in 0..<5 { text += streamLine("10:1\(minute)") }
        text += streamLine("11:30")
        try harness.feed(text)
        #expect(harness.emitted.isEmpty, "held back for detection")
        let report = try harness.runner.finish()
        #expect(report.format == "combined")
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)) == ["2026-01-01T10:00:00Z": 5, "2026-01-01T11:00:00Z": 1])

        let long = try StreamHarness(name: "long") { $0.format = "auto"; $0.detectionLines = 10 }
        var many = ""
        for minute in 0..<12 { many += streamLine("10:\(10 + minute)") }
        many += streamLine("11:30")
        try long.feed(many)
        #expect(EmittedRow.totals(try EmittedRow.parse(long.emitted)) == ["2026-01-01T10:00:00Z": 12])

        let garbage = try StreamHarness(name: "garbage") { $0.format = "auto" }
        try garbage.feed("just words\nand more\n")
        let refused = try garbage.runner.finish()
        #expect(refused.formatError?.contains("no known format matches") == true)
        #expect(garbage.emitted.isEmpty)
    }

    /// Constant memory: over 48 simulated hours the aggregator never holds rows of more than 2 buckets.
    @Test func memoryHoldsOpenBucketsOnly() throws {
        let harness = try StreamHarness { $0.lateness = 300 }
        var mostBuckets = 0
        var mostRows = 0
        for hour in 0..<48 {
            var text = ""
            for minute in stride(from: 0, to: 60, by: 3) {
                text += streamLine(String(format: "%02d:%02d", hour % 24, minute), path: "/p\(minute % 7)", client: minute,
                                   day: 1 + hour / 24)
            }
            try harness.feed(text)
            mostBuckets = max(mostBuckets, harness.runner.openBucketStarts.count)
            mostRows = max(mostRows, harness.runner.rowsHeld)
        }
        let report = try harness.runner.finish()
        #expect(mostBuckets <= 2)
        #expect(mostRows < 2 * 40)
        #expect(report.bucketsEmitted == 48)
        #expect(report.counts.parsed == 48 * 20)
        #expect(EmittedRow.totals(try EmittedRow.parse(harness.emitted)).values.allSatisfy { $0 == 20 })
    }

    /// Two streams into the same crumb.db add up exactly to one batch run over both inputs: counts add,
    /// sketches merge (the uniques are those of the union).
    @Test func upsertIntoAnExistingDatabaseIsExact() throws {
        let directory = temporaryDirectory()
        var first = "", second = ""
        for minute in 0..<30 { first += streamLine("10:\(10 + minute)", path: "/p\(minute % 3)", client: minute % 4) }
        for minute in 0..<20 { first += streamLine("11:\(10 + minute)", path: "/q", client: minute % 2) }
        for minute in 0..<25 { second += streamLine("10:\(20 + minute)", path: "/p\(minute % 5)", client: 2 + minute % 6) }
        for minute in 0..<10 { second += streamLine("12:\(10 + minute)", path: "/r", client: minute) }
        for text in [first, second] {
            let harness = try StreamHarness { $0.outputDirectory = directory + "/stream" }
            try harness.feed(text)
            let report = try harness.runner.finish()
            #expect(report.outputs == ["crumb.db"])
            #expect(report.warnings.isEmpty)
        }
        // A second stream opens the database the first created, and the batch run over both is the reference.
        try Data((first + second).utf8).write(to: URL(fileURLWithPath: directory + "/all.log"))
        var batch = RunConfiguration(inputs: [directory + "/all.log"], outputDirectory: directory + "/batch", keyring: testKeyring)
        batch.policy.minCount = 0
        _ = try BatchRunner.run(batch)

        func rows(_ path: String, _ sql: String) throws -> [[DatabaseValue]] {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return try queue.read { db in try Row.fetchAll(db, sql: sql).map { Array($0.databaseValues) } }
        }
        for sql in [
            "SELECT * FROM web_trends ORDER BY bucket_start, dimension, value",
            "SELECT * FROM web_trend_sketches ORDER BY bucket_start, dimension, value",
        ] {
            let streamed = try rows(directory + "/stream/crumb.db", sql)
            #expect(!streamed.isEmpty)
            #expect(streamed == (try rows(directory + "/batch/crumb.db", sql)), "\(sql)")
        }
        // The same schema as crumb run's.
        let schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
        #expect(try rows(directory + "/stream/crumb.db", schema) == rows(directory + "/batch/crumb.db", schema))
        let overlap = try rows(directory + "/stream/crumb.db",
                               "SELECT hits, uniques FROM web_trends WHERE bucket_start = '2026-01-01T10:00:00Z' AND dimension = 'total'")
        #expect(overlap == [[55.databaseValue, 8.databaseValue]])
    }

    /// Call trends upsert exactly too: counts add, caller sketches and talk-time histograms merge, and the
    /// percentiles are those of the merged histogram.
    @Test func callTrendsUpsertExactly() throws {
        let directory = temporaryDirectory()
        var options = CallRecordGenerator.Options()
        options.calls = 300
        options.duration = 86_400
        options.plantPersonalData = false
        let bytes = CallRecordGenerator.generate(options).bytes
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let half = lines.count / 2
        let parts = [Array(lines[..<half].joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")],
                     Array(lines[half...].joined(separator: [UInt8(ascii: "\n")]))]
        let zone = try #require(LocalTimeZone(named: "+01:00"))
        for part in parts {
            let harness = try StreamHarness {
                $0.format = "asterisk-cdr"
                $0.timeZone = zone
                $0.lateness = 3_600
                $0.outputDirectory = directory + "/stream"
            }
            try harness.feed(part, pieces: 0)
            #expect(try harness.runner.finish().counts.late == 0)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/Master.csv"))
        var batch = RunConfiguration(inputs: [directory + "/Master.csv"], outputDirectory: directory + "/batch", keyring: testKeyring)
        batch.policy.minCount = 0
        batch.format = "asterisk-cdr"
        batch.timeZone = zone
        _ = try BatchRunner.run(batch)

        // The IVR path of a call whose legs fall either side of the cut is a stream's own business.
        let sql = "SELECT * FROM call_trends WHERE dimension != 'ivr_path' ORDER BY bucket_start, dimension, value"
        let sketches = """
            SELECT s.* FROM call_trend_sketches s WHERE dimension != 'ivr_path' ORDER BY bucket_start, dimension, value
            """
        for query in [sql, sketches] {
            let streamed = try DatabaseQueue(path: directory + "/stream/crumb.db").read { try Row.fetchAll($0, sql: query) }
            let batched = try DatabaseQueue(path: directory + "/batch/crumb.db").read { try Row.fetchAll($0, sql: query) }
            #expect(streamed.count > 24)
            #expect(streamed == batched)
        }
    }

    /// Events and the vault are appended to across streams; the vault is private.
    @Test func eventsAndVaultAreAppended() throws {
        let directory = temporaryDirectory()
        for _ in 0..<2 {
            let harness = try StreamHarness {
                $0.outputDirectory = directory
                $0.policy.events = true
                $0.policy.vault = true
            }
            try harness.feed(streamLine("10:01", path: "/a?email=jane.doe@example.com") + streamLine("10:02"))
            let report = try harness.runner.finish()
            #expect(report.outputs == ["crumb.db", "events.jsonl", "vault.jsonl"])
        }
        let events = try String(contentsOfFile: directory + "/events.jsonl", encoding: .utf8)
        #expect(events.split(separator: "\n").count == 4)
        #expect(!events.contains("jane.doe"))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/vault.jsonl")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    /// `run` reads a descriptor to its end, then flushes.
    @Test func runReadsToTheEndOfInput() throws {
        let directory = temporaryDirectory()
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let output = open(directory + "/out.jsonl", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(output) }
        let writeEnd = ends[1]
        let writer = Thread {
            let text = Array((streamLine("10:01") + streamLine("11:30") + streamLine("11:31")).utf8)
            text.withUnsafeBytes { _ = write(writeEnd, $0.baseAddress, $0.count) }
            close(writeEnd)
        }
        writer.start()
        var configuration = StreamConfiguration(keyring: testKeyring)
        configuration.format = "combined"
        configuration.policy.minCount = 0
        configuration.jsonLinesOutput = output
        let report = try StreamRunner.run(configuration, input: ends[0])
        close(ends[0])
        #expect(report.stoppedBy == nil)
        #expect(report.counts.parsed == 3)
        let text = try String(contentsOfFile: directory + "/out.jsonl", encoding: .utf8)
        #expect(EmittedRow.totals(try EmittedRow.parse(text)) == ["2026-01-01T10:00:00Z": 1, "2026-01-01T11:00:00Z": 2])
    }

    /// The watermark decides event by event.
    @Test func watermark() {
        let ten: Int64 = 36_000, eleven: Int64 = 39_600
        var watermark = EventTimeWatermark(bucket: .hour, lateness: 600)
        var admitted: [Bool] = []
        admitted.append(watermark.admit(ten + 3_000))  // 10:50: watermark 10:40, nothing closed before 10:00
        #expect(watermark.closedBefore == ten)
        admitted.append(watermark.admit(ten + 100))  // older than the watermark, bucket open
        admitted.append(watermark.admit(eleven + 600))  // 11:10: watermark 11:00 closes 10:00
        #expect(watermark.closedBefore == eleven)
        #expect(watermark.latestEventTime == eleven + 600)
        admitted.append(watermark.admit(eleven - 1))
        admitted.append(watermark.admit(eleven))
        admitted.append(watermark.admit(.min))
        watermark.closeAll()
        admitted.append(watermark.admit(.max - 1))
        #expect(admitted == [true, true, true, false, true, false, false])
    }
}
