import CrumbCore
import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import GRDB
import Testing

/// A fresh temporary directory for one test.
func temporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "crumb-tests-\(safe)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let testKeyring = try! Keyring(secret: Array("crumb test key, never for production".utf8))

func runConfiguration(_ inputs: [String], out: String) -> RunConfiguration {
    var configuration = RunConfiguration(inputs: inputs, outputDirectory: out, keyring: testKeyring)
    configuration.writeCSV = true
    configuration.writeJSONLines = true
    return configuration
}

struct BatchRunnerTests {
    /// The issue's acceptance check: the elastic sample, gzipped here, parses whole, and the hourly totals
    /// equal an independent count of its timestamps.
    @Test func elasticApacheLogHourlyTotals() throws {
        guard let source = SharedData.path("web/elastic-apache_logs.log") else {
            print(SharedData.missing("web/elastic-apache_logs.log"))
            return
        }
        let directory = temporaryDirectory()
        let plain = try Array(Data(contentsOf: URL(fileURLWithPath: source)))
        let gzipped = directory + "/access.log.gz"
        try AtomicFile.write(try GzipWriter.compress(plain), to: gzipped)

        let report = try BatchRunner.run(runConfiguration([gzipped], out: directory + "/out"))
        let input = try #require(report.manifest.inputs.first)
        #expect(input.encoding == "gzip")
        #expect(input.format == "combined")
        #expect(input.linesParsed == 10_000)
        #expect(input.linesRejected == 0)
        #expect(input.error == nil)
        #expect(!report.hasDataErrors)

        // Independent count: Foundation's date parser over the raw text, one bucket per UTC hour.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss Z"
        var expected: [String: Int64] = [:]
        let iso = ISO8601DateFormatter()
        iso.timeZone = TimeZone(identifier: "UTC")
        for line in String(decoding: plain, as: UTF8.self).split(separator: "\n") {
            let open = try #require(line.firstIndex(of: "["))
            let close = try #require(line.firstIndex(of: "]"))
            let date = try #require(formatter.date(from: String(line[line.index(after: open)..<close])))
            let hour = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3_600).rounded(.down) * 3_600)
            expected[iso.string(from: hour), default: 0] += 1
        }
        let database = try DatabaseQueue(path: directory + "/out/crumb.db")
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT bucket_start, hits FROM web_trends WHERE dimension = 'total' ORDER BY bucket_start")
        }
        var actual: [String: Int64] = [:]
        for row in rows { actual[row["bucket_start"]] = row["hits"] }
        #expect(actual == expected)
        #expect(actual.values.reduce(0, +) == 10_000)
        // Each dimension's hits sum to the same totals.
        let perDimension = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT dimension, SUM(hits) AS hits FROM web_trends GROUP BY dimension")
        }
        for row in perDimension { #expect(row["hits"] as Int64 == 10_000, "\(row["dimension"] as String)") }
    }

    @Test func zanbilLongLog() throws {
        guard let source = SharedData.path("web/zanbil-long-access.log.gz") else {
            print(SharedData.missing("web/zanbil-long-access.log.gz"))
            return
        }
        let directory = temporaryDirectory()
        let report = try BatchRunner.run(runConfiguration([source], out: directory))
        #expect(report.manifest.totals.linesRead == 100_000)
        #expect(report.manifest.totals.linesParsed == 100_000)
        #expect(report.manifest.totals.linesRejected == 0)
        #expect(report.manifest.inputs.first?.sha256.count == 64)
    }

    @Test func multimemberGzip() throws {
        guard let source = SharedData.path("gzip/multimember-elastic-apache.log.gz") else {
            print(SharedData.missing("gzip/multimember-elastic-apache.log.gz"))
            return
        }
        let report = try BatchRunner.run(runConfiguration([source], out: temporaryDirectory()))
        #expect(report.manifest.totals.linesParsed == 10_000)
        #expect(report.manifest.totals.linesRejected == 0)
    }

    /// A cut gzip stream: the fault names the file and the compressed offset; every line decoded before
    /// it is still counted and written.
    @Test func truncatedGzipKeepsWhatWasDecoded() throws {
        guard let source = SharedData.path("gzip/truncated-access.log.gz") else {
            print(SharedData.missing("gzip/truncated-access.log.gz"))
            return
        }
        let directory = temporaryDirectory()
        let report = try BatchRunner.run(runConfiguration([source], out: directory))
        let input = try #require(report.manifest.inputs.first)
        let error = try #require(input.error)
        #expect(error.contains("truncated_gzip"))
        #expect(error.contains(source))
        // `zcat` delivers 34,620 complete lines before the cut; the cut line itself is not counted.
        #expect(input.linesRead == 34_620)
        #expect(input.linesParsed == 34_620)
        #expect(error.contains("byte 1000000"))
        #expect(report.hasDataErrors)
        #expect(report.manifest.incomplete)
        #expect(FileManager.default.fileExists(atPath: directory + "/crumb.db"))
    }

    @Test func rejectsAreCountedByReasonAndRedacted() throws {
        let directory = temporaryDirectory()
        let lines = [
            #"203.0.113.5 - - [01/Jan/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8.5.0""#,
            #"jane.doe@example.com - - [41/Jan/2026:10:00:00 +0000] "GET /b HTTP/1.1" 200 10 "-" "curl/8.5.0""#,
            #"203.0.113.6 - - [01/Jan/2026:10:00:00 +0000] "GET /c HTTP/1.1" 2O0 10 "-" "curl/8.5.0""#,
            String(repeating: "x", count: 5_000),
            "",
            #"203.0.113.7 - - [01/Jan/2026:10:59:59 +0000] "GET /a?email=jane.doe%40example.com HTTP/1.1" 404 0 "-" "curl/8.5.0""#,
        ]
        try AtomicFile.write(Array(lines.joined(separator: "\n").utf8), to: directory + "/mixed.log")
        // A finished file (not written in the last minute): its last line, without a line feed, is counted.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3_600)], ofItemAtPath: directory + "/mixed.log")
        var configuration = runConfiguration([directory + "/mixed.log"], out: directory + "/out")
        configuration.maxLineLength = 1_024
        configuration.policy.minCount = 0
        let report = try BatchRunner.run(configuration)
        let input = try #require(report.manifest.inputs.first)
        #expect(input.linesRead == 6)
        #expect(input.linesParsed == 2)
        #expect(input.linesBlank == 1)
        #expect(input.rejectsByReason == ["bad_timestamp": 1, "bad_status": 1, "line_too_long": 1])
        #expect(input.rejectSamples.map(\.line) == [2, 3, 4])
        #expect(report.hasDataErrors)  // 3 of 5 lines rejected is over the default 5%
        let manifest = try String(contentsOfFile: directory + "/out/manifest.json", encoding: .utf8)
        #expect(!manifest.contains("jane"))
        #expect(!manifest.contains("203.0.113"))
        let csv = try String(contentsOfFile: directory + "/out/web_trends.csv", encoding: .utf8)
        #expect(csv.contains(",path,/a,2,10,1,0,"))
    }

    @Test func plainTextAndDirectoriesAndGlobs() throws {
        let directory = temporaryDirectory()
        var options = AccessLogGenerator.Options()
        options.lines = 500
        try FileManager.default.createDirectory(atPath: directory + "/logs/old", withIntermediateDirectories: true)
        try AtomicFile.write(AccessLogGenerator.generate(options), to: directory + "/logs/access.log")
        options.seed = 2
        try AtomicFile.write(try GzipWriter.compress(AccessLogGenerator.generate(options)), to: directory + "/logs/old/access.log.1")
        let viaDirectory = try BatchRunner.run(runConfiguration([directory + "/logs"], out: directory + "/a"))
        #expect(viaDirectory.manifest.inputs.map(\.encoding) == ["plain", "gzip"])
        #expect(viaDirectory.manifest.totals.linesParsed == 1_000)
        let viaGlob = try BatchRunner.run(runConfiguration([directory + "/logs/*.log"], out: directory + "/b"))
        #expect(viaGlob.manifest.inputs.count == 1)
        #expect(throws: InputError.self) { try BatchRunner.run(runConfiguration([directory + "/nothing-here"], out: directory + "/c")) }
    }

    /// Parallel workers give exactly the single worker's trends.
    @Test func parallelRunsMatchSerialRuns() throws {
        let directory = temporaryDirectory()
        var paths: [String] = []
        for seed in 1...4 {
            var options = AccessLogGenerator.Options()
            options.lines = 2_000
            options.seed = UInt64(seed)
            let path = directory + "/part\(seed).log"
            try AtomicFile.write(AccessLogGenerator.generate(options), to: path)
            paths.append(path)
        }
        var serial = runConfiguration(paths, out: directory + "/serial")
        serial.jobs = 1
        var parallel = runConfiguration(paths, out: directory + "/parallel")
        parallel.jobs = 3
        _ = try BatchRunner.run(serial)
        _ = try BatchRunner.run(parallel)
        let a = try Data(contentsOf: URL(fileURLWithPath: directory + "/serial/web_trends.jsonl"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory + "/parallel/web_trends.jsonl"))
        #expect(a == b)
    }

    @Test func hashModeNeedsAKey() throws {
        var configuration = RunConfiguration(inputs: [], outputDirectory: temporaryDirectory(), keyring: .ephemeral())
        configuration.policy.ipMode = .hash
        #expect(throws: IPAnonymizer.ConfigurationError.self) { try BatchRunner.run(configuration) }
    }
}
