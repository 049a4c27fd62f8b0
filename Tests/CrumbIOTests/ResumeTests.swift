import CrumbCore
@testable import CrumbIO
import Crypto
import CrumbSamples
import CrumbTestSupport
import Foundation
import GRDB
import Testing

/// A generated combined log: `lines` lines from `start`, seeded.
func generatedLog(seed: UInt64, lines: Int, start: Int64 = 1_767_225_600, hours: Int64 = 6) -> [UInt8] {
    var options = AccessLogGenerator.Options()
    options.seed = seed
    options.lines = lines
    options.start = start
    options.duration = hours * 3_600
    options.distinctPaths = 400
    options.distinctClients = 900
    options.distinctUserAgents = 200
    return AccessLogGenerator.generate(options)
}

/// The outputs two runs must agree on: the trend files, the events, and the manifest's counts.
struct RunOutputs: Equatable, CustomStringConvertible {
    var web: String
    var calls: String
    var events: String
    var totals: String

    init(_ directory: String) throws {
        func read(_ name: String) -> String {
            (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
        }
        web = read("web_trends.csv")
        calls = read("call_trends.csv")
        // Runs append their events in the order they read the content: compare them as a multiset.
        events = read("events.jsonl").split(separator: "\n").sorted().joined(separator: "\n")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")))
        let totals = manifest.totals
        self.totals = "\(totals.linesRead) \(totals.linesParsed) \(totals.linesRejected) \(totals.linesOptedOut) \(manifest.personalFoundByKind.sorted { $0.key < $1.key })"
    }

    var description: String { "web \(web.count) bytes \(web.hashValue), calls \(calls.count) bytes, events \(events.count) bytes \(events.hashValue), totals \(totals)" }
}

func write(_ bytes: [UInt8], to path: String) throws {
    try AtomicFile.write(bytes, to: path)
}

func appendBytes(_ bytes: [UInt8], to path: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(bytes))
    try handle.close()
}

/// A tree of rotated web logs (plain and gzip mixed) and call records, for the run tests.
func makeTree(_ root: String, files: Int = 6, lines: Int = 1_500) throws {
    try FileManager.default.createDirectory(atPath: root + "/web/old", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/pbx", withIntermediateDirectories: true)
    for index in 0..<files {
        let log = generatedLog(seed: UInt64(index + 1), lines: lines, start: 1_767_225_600 + Int64(index) * 21_600)
        if index == 0 {
            try write(log, to: root + "/web/access.log")
        } else if index % 2 == 0 {
            try write(log, to: root + "/web/old/access.log.\(index)")
        } else {
            try write(try GzipWriter.compress(log), to: root + "/web/old/access.log.\(index).gz")
        }
    }
    var calls = CallRecordGenerator.Options()
    calls.calls = 400
    try write(CallRecordGenerator.generate(calls).bytes, to: root + "/pbx/Master.csv")
}

func treeConfiguration(_ inputs: [String], out: String, jobs: Int = 2) -> RunConfiguration {
    var configuration = runConfiguration(inputs, out: out)
    configuration.jobs = jobs
    configuration.policy.events = true
    return configuration
}

struct ResumeTests {
    /// The same tree with 1, 2 and 8 workers: identical trends, events and counts.
    @Test func resultsDoNotDependOnTheNumberOfJobs() throws {
        let root = temporaryDirectory()
        try makeTree(root + "/logs")
        var outputs: [RunOutputs] = []
        for jobs in [1, 2, 8] {
            let report = try BatchRunner.run(treeConfiguration([root + "/logs"], out: root + "/out\(jobs)", jobs: jobs))
            #expect(!report.hasDataErrors)
            outputs.append(try RunOutputs(root + "/out\(jobs)"))
        }
        #expect(!outputs[0].web.isEmpty && !outputs[0].calls.isEmpty && !outputs[0].events.isEmpty)
        #expect(outputs[1] == outputs[0])
        #expect(outputs[2] == outputs[0])
    }

    /// A rerun over an unchanged tree reads nothing and changes nothing; a grown log is continued, not recounted;
    /// a new file is added. The end result equals one clean run over the final tree.
    @Test func rerunCountsOnlyWhatIsNew() throws {
        let root = temporaryDirectory()
        try makeTree(root + "/logs", files: 3)
        let out = root + "/out"
        let first = try BatchRunner.run(treeConfiguration([root + "/logs"], out: out))
        let firstOutputs = try RunOutputs(out)

        let again = try BatchRunner.run(treeConfiguration([root + "/logs"], out: out))
        #expect(again.manifest.thisRun?.linesRead == 0)
        #expect(again.manifest.thisRun?.inputsUnchanged == first.manifest.inputs.count)
        #expect(try RunOutputs(out) == firstOutputs)

        // Append 700 lines to the live log and add a file.
        let appended = generatedLog(seed: 99, lines: 700, start: 1_767_225_600 + 7 * 3_600, hours: 2)
        try appendBytes(appended, to: root + "/logs/web/access.log")
        try write(generatedLog(seed: 77, lines: 300, start: 1_767_300_000), to: root + "/logs/web/access.log.new")
        let third = try BatchRunner.run(treeConfiguration([root + "/logs"], out: out))
        let delta = try #require(third.manifest.thisRun)
        #expect(delta.linesRead == 700 + 300)
        #expect(delta.inputsContinued == 1)
        #expect(delta.inputsCounted == 1)
        let live = try #require(third.manifest.inputs.first { $0.path.hasSuffix("web/access.log") })
        #expect(live.status == "continued")
        #expect(live.linesRead == 1_500 + 700)

        _ = try BatchRunner.run(treeConfiguration([root + "/logs"], out: root + "/clean"))
        #expect(try RunOutputs(out) == RunOutputs(root + "/clean"))
    }

    /// Rotation: the live log grows, is renamed, then compressed, and a new live log starts. Content is known
    /// by what it decodes to, so nothing is counted twice and the grown part is counted once.
    @Test func rotatedAndCompressedLogsAreNotCountedTwice() throws {
        let root = temporaryDirectory()
        let logs = root + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let day1 = generatedLog(seed: 1, lines: 1_000, start: 1_767_225_600)
        let day1More = generatedLog(seed: 2, lines: 500, start: 1_767_225_600 + 7 * 3_600, hours: 1)
        let day2 = generatedLog(seed: 3, lines: 800, start: 1_767_312_000)
        try write(day1, to: logs + "/access.log")
        let out = root + "/out"
        _ = try BatchRunner.run(treeConfiguration([logs], out: out))

        // More lines, then logrotate with delaycompress: access.log → access.log.1, later gzipped.
        try appendBytes(day1More, to: logs + "/access.log")
        try FileManager.default.moveItem(atPath: logs + "/access.log", toPath: logs + "/access.log.1")
        try write(day2, to: logs + "/access.log")
        let second = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(second.manifest.thisRun?.linesRead == 500 + 800)

        let rotated = try Array(Data(contentsOf: URL(fileURLWithPath: logs + "/access.log.1")))
        try write(try GzipWriter.compress(rotated), to: logs + "/access.log.2.gz")
        try FileManager.default.removeItem(atPath: logs + "/access.log.1")
        let third = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(third.manifest.thisRun?.linesRead == 0)
        #expect(third.manifest.inputs.first { $0.path.hasSuffix("access.log.2.gz") }?.status == "unchanged")

        _ = try BatchRunner.run(treeConfiguration([logs], out: root + "/clean"))
        #expect(try RunOutputs(out) == RunOutputs(root + "/clean"))
        #expect(third.manifest.totals.linesRead == 2_300)
    }

    /// A grown gzip file (a member appended) is continued from where its decoded content was counted.
    @Test func appendedGzipMemberIsContinued() throws {
        let root = temporaryDirectory()
        let path = root + "/access.log.gz"
        try write(try GzipWriter.compress(generatedLog(seed: 5, lines: 900)), to: path)
        let out = root + "/out"
        _ = try BatchRunner.run(treeConfiguration([path], out: out))
        try appendBytes(try GzipWriter.compress(generatedLog(seed: 6, lines: 100, start: 1_767_225_600 + 6 * 3_600)), to: path)
        let second = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(second.manifest.thisRun?.linesRead == 100)
        #expect(second.manifest.inputs.first?.newFrom != nil)
        _ = try BatchRunner.run(treeConfiguration([path], out: root + "/clean"))
        #expect(try RunOutputs(out) == RunOutputs(root + "/clean"))
    }

    /// A gzip file cut short (still being written) is counted up to its last complete line; once complete,
    /// the rest is counted: the result equals one run over the complete file.
    @Test func truncatedGzipIsContinuedOnceComplete() throws {
        let root = temporaryDirectory()
        let path = root + "/access.log.gz"
        let complete = try GzipWriter.compress(generatedLog(seed: 21, lines: 3_000))
        try write(Array(complete.prefix(complete.count * 6 / 10)), to: path)
        let out = root + "/out"
        let first = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(first.hasDataErrors)
        let counted = first.manifest.totals.linesRead
        #expect(counted > 1_000 && counted < 3_000)
        try write(complete, to: path)
        let second = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(!second.hasDataErrors)
        #expect(second.manifest.thisRun?.linesRead == 3_000 - counted)
        #expect(second.manifest.inputs.first?.error == nil)
        _ = try BatchRunner.run(treeConfiguration([path], out: root + "/clean"))
        #expect(try RunOutputs(out) == RunOutputs(root + "/clean"))
    }

    /// A growing IIS log: the appended lines are read with the `#Fields:` of the part already counted.
    @Test func grownW3CLogKeepsItsFields() throws {
        let root = temporaryDirectory()
        let path = root + "/u_ex260101.log"
        func lines(_ range: Range<Int>) -> String {
            range.map { index in
                let second = index % 60, minute = index / 60 % 60, hour = index / 3_600
                let time = "\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute):\(second < 10 ? "0" : "")\(second)"
                return "2026-01-01 \(time) 10.0.0.1 GET /page/\(index % 40) - 443 - 192.0.2.\(index % 200) Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://www.example.com/ \(index % 17 == 0 ? 404 : 200) 0 0 \(index % 90)\n"
            }.joined()
        }
        let header = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2026-01-01 00:00:00\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
        try write(Array((header + lines(0..<600)).utf8), to: path)
        let out = root + "/out"
        let first = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(first.manifest.inputs.first?.format == "w3c")
        try appendBytes(Array(lines(600..<900).utf8), to: path)
        let second = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(second.manifest.thisRun?.linesParsed == 300)
        #expect(second.manifest.thisRun?.linesRejected == 0)
        _ = try BatchRunner.run(treeConfiguration([path], out: root + "/clean"))
        #expect(try RunOutputs(out).web == RunOutputs(root + "/clean").web)
    }

    /// A log that ends mid-line while it is being written: the cut line waits for the next run. One that ended
    /// mid-line long ago had its last line counted: the rest of that line, appended later, is not a new line.
    @Test func lineCutAtTheEndIsNotCountedTwice() throws {
        let root = temporaryDirectory()
        let path = root + "/access.log"
        var log = generatedLog(seed: 8, lines: 200)
        let last = log.dropLast().lastIndex(of: UInt8(ascii: "\n"))! + 1
        let tail = Array(log[(last + 20)...])
        log.removeSubrange((last + 20)...)
        try write(log, to: path)
        let out = root + "/out"
        // Just written: the cut line is left for the next run.
        let first = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(first.manifest.thisRun?.linesRead == 199)
        try appendBytes(tail + generatedLog(seed: 9, lines: 10, start: 1_767_225_600 + 6 * 3_600), to: path)
        let second = try BatchRunner.run(treeConfiguration([path], out: out))
        #expect(second.manifest.thisRun?.linesRead == 11)
        #expect(second.manifest.thisRun?.linesRejected == 0)

        // A log whose writer stopped mid-line: once it has not changed for a minute, the last line counts.
        let stopped = root + "/stopped.log"
        try write(log, to: stopped)
        let early = try BatchRunner.run(treeConfiguration([stopped], out: root + "/out-stopped"))
        #expect(early.manifest.thisRun?.linesRead == 199)
        #expect(early.notes.contains { $0.contains("unfinished last line") })
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3_600)], ofItemAtPath: stopped)
        let later = try BatchRunner.run(treeConfiguration([stopped], out: root + "/out-stopped"))
        #expect(later.manifest.thisRun?.linesRead == 1)

        // An old file that ends mid-line is finished: its last line is counted, and the rest of it, should
        // it ever come, is not a new line.
        let old = root + "/old.log"
        try write(log, to: old)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3_600)], ofItemAtPath: old)
        let third = try BatchRunner.run(treeConfiguration([old], out: root + "/out-old"))
        #expect(third.manifest.thisRun?.linesRead == 200)
        try appendBytes(tail + generatedLog(seed: 9, lines: 10, start: 1_767_225_600 + 6 * 3_600), to: old)
        let fourth = try BatchRunner.run(treeConfiguration([old], out: root + "/out-old"))
        #expect(fourth.manifest.thisRun?.linesRead == 10)
    }

    /// Content is matched against every length a run counted: a copy of an earlier, shorter version is known;
    /// a file that shares only its first bytes with counted content is new content, counted whole.
    @Test func copiesOfEarlierVersionsAndLookalikes() throws {
        let root = temporaryDirectory()
        let logs = root + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let first = generatedLog(seed: 11, lines: 400)
        let more = generatedLog(seed: 12, lines: 100, start: 1_767_225_600 + 7 * 3_600, hours: 1)
        try write(first, to: logs + "/access.log")
        let out = root + "/out"
        _ = try BatchRunner.run(treeConfiguration([logs], out: out))
        try appendBytes(more, to: logs + "/access.log")
        _ = try BatchRunner.run(treeConfiguration([logs], out: out))

        // A backup of the first version: already counted.
        try write(first, to: logs + "/access.log.bak")
        let third = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(third.manifest.thisRun?.linesRead == 0)
        #expect(third.manifest.thisRun?.inputsUnchanged == 2)

        // Same first 2 KiB, different afterwards: new content.
        var lookalike = Array(first.prefix(2_048))
        lookalike += Array(first.prefix(2_048)).map { $0 == UInt8(ascii: "G") ? UInt8(ascii: "P") : $0 }
        lookalike = Array(lookalike[..<(lookalike.lastIndex(of: UInt8(ascii: "\n"))! + 1)])
        try write(lookalike, to: logs + "/other.log")
        let lines = lookalike.filter { $0 == UInt8(ascii: "\n") }.count
        let fourth = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(fourth.manifest.thisRun?.linesRead == lines)
        #expect(fourth.manifest.inputs.first { $0.path.hasSuffix("other.log") }?.status == "counted")

        // Two counted contents now share their first bytes: each one's growth is still told apart.
        try appendBytes(generatedLog(seed: 13, lines: 50, start: 1_767_225_600 + 9 * 3_600, hours: 1), to: logs + "/access.log")
        try appendBytes(generatedLog(seed: 14, lines: 30, start: 1_767_225_600 + 9 * 3_600, hours: 1), to: logs + "/other.log")
        let fifth = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(fifth.manifest.thisRun?.linesRead == 80)
        #expect(fifth.manifest.thisRun?.inputsContinued == 2)
        let sixth = try BatchRunner.run(treeConfiguration([logs], out: out))
        #expect(sixth.manifest.thisRun?.linesRead == 0)
    }

    /// `--force` counts everything again; a different key or policy is refused rather than mixed in.
    @Test func forceAndRefusals() throws {
        let root = temporaryDirectory()
        try makeTree(root + "/logs", files: 2, lines: 300)
        let out = root + "/out"
        _ = try BatchRunner.run(treeConfiguration([root + "/logs"], out: out))
        let expected = try RunOutputs(out)

        var forced = treeConfiguration([root + "/logs"], out: out)
        forced.force = true
        let report = try BatchRunner.run(forced)
        #expect(report.manifest.thisRun?.fresh == true)
        #expect(report.manifest.thisRun?.linesRead == report.manifest.totals.linesRead)
        #expect(try RunOutputs(out) == expected)

        var otherKey = treeConfiguration([root + "/logs"], out: out)
        otherKey.keyring = try Keyring(secret: Array("another key for another purpose".utf8))
        #expect(throws: RunRefusal.self) { try BatchRunner.run(otherKey) }

        var otherPolicy = treeConfiguration([root + "/logs"], out: out)
        otherPolicy.policy.minCount = 2
        #expect(throws: RunRefusal.self) { try BatchRunner.run(otherPolicy) }

        // Without a key nothing can be continued: the run starts afresh and says so.
        var ephemeral = treeConfiguration([root + "/logs"], out: out)
        ephemeral.keyring = .ephemeral(rotation: .daily)
        let fresh = try BatchRunner.run(ephemeral)
        #expect(fresh.manifest.thisRun?.fresh == true)
        #expect(fresh.notes.contains { $0.contains("no key") })
    }

    /// A run without a key can be neither continued nor merged, so it keeps nothing for that: `state.db` holds
    /// its settings and run metadata, with no rows and no ledger, and the manifest gives each input's decoded
    /// length but no digest of it. What it counts and publishes is what a keyed run counts, a gzip file cut
    /// mid-member included (its content ends at the last line feed either way), read on a decode thread of its
    /// own or not. `crumb merge` refuses its output, alone or beside a keyed one.
    @Test(arguments: [false, true])
    func keylessRunKeepsNoRowsAndNoContentDigest(pipelined: Bool) throws {
        let root = temporaryDirectory()
        try makeTree(root + "/logs", files: 3, lines: 400)
        let whole = try GzipWriter.compress(generatedLog(seed: 9, lines: 300, start: 1_767_300_000))
        try write(Array(whole.prefix(whole.count * 2 / 3)), to: root + "/logs/web/cut.log.gz")
        var keyed = treeConfiguration([root + "/logs"], out: root + "/keyed")
        keyed.policy.minCount = 0
        if pipelined { keyed.pipelineMinimumBytes = 0 }
        var keyless = keyed
        keyless.outputDirectory = root + "/keyless"
        keyless.keyring = .ephemeral(rotation: .daily)
        let withKey = try BatchRunner.run(keyed)
        let withoutKey = try BatchRunner.run(keyless)

        let savedWithKey = try RunState.load(path: root + "/keyed/" + RunState.fileName, rows: true)
        #expect(!savedWithKey.web.isEmpty && !savedWithKey.calls.isEmpty && savedWithKey.ledger.count == 5)
        let saved = try RunState.load(path: root + "/keyless/" + RunState.fileName, rows: true)
        #expect(saved.settings.keyEphemeral)
        #expect(saved.web.isEmpty && saved.calls.isEmpty && saved.ledger.isEmpty)

        let inputs = Dictionary(uniqueKeysWithValues: withKey.manifest.inputs.map { ($0.path, $0) })
        #expect(withoutKey.manifest.inputs.count == 5)
        for input in withoutKey.manifest.inputs {
            let counted = try #require(inputs[input.path])
            #expect(input.contentSHA256 == nil, "\(input.path)")
            #expect(counted.contentSHA256?.count == 64, "\(input.path)")
            #expect(input.contentBytes == counted.contentBytes && input.contentBytes ?? 0 > 0, "\(input.path)")
            #expect(input.sha256 == counted.sha256 && input.linesParsed == counted.linesParsed, "\(input.path)")
        }
        let cut = try #require(withoutKey.manifest.inputs.first { $0.path.hasSuffix("cut.log.gz") })
        #expect(cut.error != nil && cut.contentBytes! < cut.decodedBytes)

        // Published trends alike but for the uniques (each run's visitor ids are its own), which end each line.
        func withoutUniques(_ directory: String) throws -> [Substring] {
            try String(contentsOfFile: directory + "/web_trends.csv", encoding: .utf8).split(separator: "\n")
                .map { $0[..<$0.lastIndex(of: ",")!] }
        }
        #expect(try withoutUniques(root + "/keyless") == withoutUniques(root + "/keyed"))
        #expect(try RunOutputs(root + "/keyless").totals == RunOutputs(root + "/keyed").totals)

        for outputs in [[root + "/keyless"], [root + "/keyed", root + "/keyless"]] {
            let merge = MergeConfiguration(outputs: outputs, outputDirectory: root + "/merged")
            #expect(throws: RunRefusal.self, "\(outputs.count)") { try MergeRunner.merge(merge) }
        }
    }

    /// Shards 1/3, 2/3 and 3/3, merged, equal the whole run: sums add, sketches merge, k-anonymity after.
    @Test func shardsMergeToTheWholeRun() throws {
        let root = temporaryDirectory()
        try makeTree(root + "/logs", files: 7, lines: 600)
        _ = try BatchRunner.run(treeConfiguration([root + "/logs"], out: root + "/whole"))
        var shardInputs = 0
        for index in 1...3 {
            var configuration = treeConfiguration([root + "/logs"], out: root + "/shard\(index)")
            configuration.shard = RunConfiguration.Shard(index: index, count: 3)
            configuration.partial = true
            let report = try BatchRunner.run(configuration)
            #expect(report.manifest.partial)
            shardInputs += report.manifest.inputs.count
        }
        #expect(shardInputs == 8)
        var merge = MergeConfiguration(outputs: (1...3).map { root + "/shard\($0)" }, outputDirectory: root + "/merged")
        merge.writeCSV = true
        _ = try MergeRunner.merge(merge)
        let merged = try RunOutputs(root + "/merged")
        let whole = try RunOutputs(root + "/whole")
        #expect(merged.web == whole.web)
        #expect(merged.calls == whole.calls)
        #expect(merged.totals == whole.totals)
        #expect(merged.events.split(separator: "\n").count == whole.events.split(separator: "\n").count)

        // Merging a shard twice would count it twice: refused.
        let twice = MergeConfiguration(outputs: [root + "/shard1", root + "/shard1"], outputDirectory: root + "/twice")
        #expect(throws: RunRefusal.self) { try MergeRunner.merge(twice) }

        // A damaged row, found only as the merge reads the rows: the error names its state, and the earlier
        // merge's outputs, the joined events included, are left as they were.
        let damaged = root + "/shard2/" + RunState.fileName
        try DatabaseQueue(path: damaged).write { db in
            try db.execute(sql: "UPDATE web_state SET sketch = x'FF' WHERE rowid = (SELECT max(rowid) FROM web_state)")
        }
        let kept = try ["events.jsonl", "state.db", "crumb.db"].map { try Data(contentsOf: URL(fileURLWithPath: root + "/merged/" + $0)) }
        // In another order, so that joined events would differ.
        var reordered = merge
        reordered.outputs.reverse()
        do {
            _ = try MergeRunner.merge(reordered)
            Issue.record("merged a damaged state")
        } catch let error as StateError {
            #expect(error.path == damaged)
        }
        let after = try ["events.jsonl", "state.db", "crumb.db"].map { try Data(contentsOf: URL(fileURLWithPath: root + "/merged/" + $0)) }
        #expect(after == kept)
    }

    /// Past `max_values` distinct values, a dimension counts new values as (other), and the manifest says so;
    /// every dimension still sums to the total.
    @Test func valueCapFoldsTheLongTail() throws {
        let root = temporaryDirectory()
        let path = root + "/access.log"
        try write(generatedLog(seed: 4, lines: 2_000), to: path)
        var configuration = treeConfiguration([path], out: root + "/out")
        configuration.policy.maxValues = 50
        configuration.policy.minCount = 0
        let report = try BatchRunner.run(configuration)
        let capped = try #require(report.manifest.cappedDimensions["path"])
        #expect(capped > 0)
        let rows = try String(contentsOfFile: root + "/out/web_trends.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        var totals: [String: Int] = [:], paths: [String: Int] = [:], distinct = Set<String>()
        for row in rows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            let hits = Int(fields[fields.count - 5])!
            if fields[2] == "total" { totals[String(fields[0]), default: 0] += hits }
            if fields[2] == "path" {
                paths[String(fields[0]), default: 0] += hits
                distinct.insert(String(fields[3...].dropLast(5).joined(separator: ",")))
            }
        }
        #expect(paths == totals)
        #expect(distinct.count <= 50)
        #expect(distinct.contains("(other)"))
    }

    /// A directory holding a stray binary file: it is skipped with a note, the logs are counted, exit is clean.
    @Test func binaryFilesInDirectoriesAreSkipped() throws {
        let root = temporaryDirectory()
        try write(generatedLog(seed: 1, lines: 100), to: root + "/access.log")
        var junk: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]
        for index in 0..<4_000 { junk.append(UInt8(truncatingIfNeeded: index &* 31)) }
        try write(junk, to: root + "/core.dump")
        let report = try BatchRunner.run(treeConfiguration([root], out: root + "-out"))
        #expect(!report.hasDataErrors)
        #expect(report.manifest.inputs.first { $0.path.hasSuffix("core.dump") }?.status == "skipped")
        #expect(report.notes.contains { $0.contains("core.dump") })
        #expect(report.manifest.totals.linesParsed == 100)
    }

    /// Shard membership is stable and partitions the inputs.
    @Test func shardsPartitionTheInputs() {
        let keys = (0..<200).map { "web/old/access.log.\($0).gz" }
        var seen = 0
        for index in 1...4 {
            let shard = RunConfiguration.Shard(index: index, count: 4)
            seen += keys.filter(shard.contains).count
        }
        #expect(seen == 200)
        #expect(RunConfiguration.Shard(parsing: "0/3") == nil)
        #expect(RunConfiguration.Shard(parsing: "4/3") == nil)
        #expect(RunConfiguration.Shard(parsing: "2/3") == RunConfiguration.Shard(index: 2, count: 3))
    }
}

/// The gate remembers the last `#Fields:` line of the part it skips, however the bytes are cut, and passes
/// on exactly the bytes after the skip.
@Test func gateKeepsTheLastFieldsDirectiveOfWhatItSkips() throws {
    let counted = "#Version: 1.0\r\n#Fields: date time cs-uri-stem\r\n2026-01-01 00:00:01 /a\n#Fields: date time cs-method cs-uri-stem\n2026-01-01 00:00:02 GET /b\n#Fieldsx: not one\n"
    let new = "2026-01-01 00:00:03 GET /c\n"
    let bytes = Array((counted + new).utf8)
    for chunk in [1, 3, 7, bytes.count] {
        var gate = ContentGate(ledger: LedgerIndex([]), restart: ContentGate.Restart(skip: Int64(counted.utf8.count), entry: nil))
        var passed: [UInt8] = []
        var directives: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let end = min(index + chunk, bytes.count)
            try bytes[index..<end].withUnsafeBytes { piece in
                try gate.consume(piece) { part, start in
                    passed += part
                    if let start { directives = start.directives }
                }
            }
            index = end
        }
        #expect(String(decoding: passed, as: UTF8.self) == new, "chunk \(chunk)")
        #expect(directives.map { String(decoding: $0, as: UTF8.self) } == ["#Fields: date time cs-method cs-uri-stem"], "chunk \(chunk)")
    }
}

/// A gate over fresh content leaves hashing to the reader when the reader hashes; a gate that has bytes to skip
/// or checkpoints to check hashes everything itself. Either way the content's digest is that of every byte.
@Test func gateLeavesHashingToTheReaderOnlyWhenItChecksNothing() throws {
    let bytes = Array(String(repeating: "2026-01-01 00:00:01 GET /a\n", count: 100).utf8) + Array("cut".utf8)
    var source = ContentDigest()
    bytes.withUnsafeBytes { source.update($0) }
    let gates: [(String, ContentGate, hashes: Bool)] = [
        ("no ledger", ContentGate(ledger: nil, sourceHashes: true), false),
        ("no entry", ContentGate(ledger: LedgerIndex([]), sourceHashes: true), false),
        ("reader does not hash", ContentGate(ledger: LedgerIndex([]), sourceHashes: false), true),
        ("restart", ContentGate(ledger: LedgerIndex([]), restart: ContentGate.Restart(skip: 27, entry: nil),
                                sourceHashes: true), true),
    ]
    for (label, start, hashes) in gates {
        var gate = start
        var passed = 0
        for piece in stride(from: 0, to: bytes.count, by: 500) {
            try bytes[piece..<min(piece + 500, bytes.count)].withUnsafeBytes { chunk in
                try gate.consume(chunk) { part, _ in passed += part.count }
            }
        }
        try gate.finish { part, _ in passed += part.count }
        #expect(gate.hashesContent == hashes, "\(label)")
        let content = gate.content(source: hashes ? nil : source)
        #expect(content.sha256 == SHA256.hash(data: bytes), "\(label)")
        #expect(content.throughLastLineFeed.count == Int64(bytes.count - 3), "\(label)")
        #expect(content.throughLastLineFeed.sha256 == SHA256.hash(data: bytes.dropLast(3)), "\(label)")
        #expect(passed == (label == "restart" ? bytes.count - 27 : bytes.count), "\(label)")
    }
}

/// A gate of a run that keeps no ledger counts what it passes on, through the last line feed too, and makes no
/// digest; a `ContentDigest` made not to hash counts as one that hashes.
@Test func gateWithoutDigestsOnlyCounts() throws {
    let bytes = Array(String(repeating: "2026-01-01 00:00:01 GET /a\n", count: 100).utf8) + Array("cut".utf8)
    var gate = ContentGate(ledger: nil, sourceHashes: true, digests: false)
    var hashing = ContentDigest()
    var counting = ContentDigest(hashing: false)
    var passed = 0
    for piece in stride(from: 0, to: bytes.count, by: 500) {
        try bytes[piece..<min(piece + 500, bytes.count)].withUnsafeBytes { chunk in
            hashing.update(chunk)
            counting.update(chunk)
            try gate.consume(chunk) { part, _ in passed += part.count }
        }
    }
    try gate.finish { part, _ in passed += part.count }
    #expect(passed == bytes.count)
    let content = gate.content(source: nil)
    #expect(content.sha256 == nil && content.throughLastLineFeed.sha256 == nil)
    #expect(content.count == Int64(bytes.count) && content.throughLastLineFeed.count == Int64(bytes.count - 3))
    #expect(counting.count == hashing.count && counting.lineEndCount == hashing.lineEndCount)
    #expect(counting.sha256 == nil && hashing.sha256 == SHA256.hash(data: bytes))
}

/// A stream's directory and a run's directory are not shared either way: each would replace the other's rows.
@Test func streamAndRunDirectoriesAreKeptApart() throws {
    let root = temporaryDirectory()
    var stream = StreamConfiguration(keyring: testKeyring)
    stream.format = "combined"
    stream.outputDirectory = root + "/live"
    stream.jsonLinesOutput = nil
    let runner = try StreamRunner(stream)
    try Array(generatedLog(seed: 3, lines: 50)).withUnsafeBytes { try runner.feed($0) }
    _ = try runner.finish()

    let log = root + "/access.log"
    try write(generatedLog(seed: 4, lines: 50), to: log)
    #expect(throws: RunRefusal.self) { try BatchRunner.run(treeConfiguration([log], out: root + "/live")) }

    _ = try BatchRunner.run(treeConfiguration([log], out: root + "/batch"))
    stream.outputDirectory = root + "/batch"
    #expect(throws: StreamSetupError.self) { try StreamRunner(stream) }
}
