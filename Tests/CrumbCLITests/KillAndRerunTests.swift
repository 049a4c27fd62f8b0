import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

/// Runs the built `crumb` binary and, after `killAfter` seconds, sends it SIGKILL (if it is still running).
/// Returns how it ended.
func crumbKilled(_ arguments: [String], environment: [String: String] = [:], killAfter: Double? = nil) throws -> (status: Int32, signalled: Bool) {
    let process = Process()
    process.executableURL = crumbBinary()
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["CRUMB_KEY"] = nil
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    if let killAfter {
        Thread.sleep(forTimeInterval: killAfter)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
}

/// What a killed-then-rerun output must share with a clean one.
func comparableOutputs(_ directory: String) throws -> [String] {
    func read(_ name: String) -> String { (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "(missing)" }
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")))
    return [
        read("web_trends.csv"), read("call_trends.csv"),
        read("events.jsonl").split(separator: "\n").sorted().joined(separator: "\n"),
        "\(manifest.totals.linesRead) \(manifest.totals.linesParsed) \(manifest.totals.inputs)",
    ]
}

struct KillAndRerunTests {
    /// A run over a multi-file tree, killed with SIGKILL at several points (after some inputs, just before
    /// and just after the commit, and at timed moments), then run again, gives exactly the outputs of one
    /// clean run: nothing lost, nothing twice. The tree is first half-counted by an earlier run, so the killed
    /// run is a resuming one.
    @Test func killedRunsRerunToTheCleanResult() throws {
        let root = scratchDirectory()
        let tree = root + "/logs"
        try FileManager.default.createDirectory(atPath: tree + "/early", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree + "/late", withIntermediateDirectories: true)
        for index in 0..<8 {
            var options = AccessLogGenerator.Options()
            options.seed = UInt64(index + 1)
            options.lines = 1_200
            options.start = 1_767_225_600 + Int64(index) * 14_400
            options.duration = 14_400
            options.distinctPaths = 300
            options.distinctClients = 800
            let bytes = AccessLogGenerator.generate(options)
            let folder = index < 3 ? "early" : "late"
            let path = tree + "/\(folder)/access.log.\(index)" + (index % 2 == 0 ? ".gz" : "")
            try AtomicFile.write(index % 2 == 0 ? try GzipWriter.compress(bytes) : bytes, to: path)
        }
        let keyFile = root + "/key"
        try AtomicFile.write(Array("a test key that is long enough for crumb".utf8), to: keyFile)
        let common = ["--key-file", keyFile, "--csv", "--events", "--jobs", "2", "--quiet"]

        let clean = try crumbKilled(["run", tree, "--out", root + "/clean"] + common)
        #expect(clean.status == 0)
        let expected = try comparableOutputs(root + "/clean")
        #expect(!expected[0].isEmpty && expected[2].count > 1_000)

        let points: [(name: String, environment: [String: String], delay: Double?)] = [
            ("after 2 inputs", ["CRUMB_FAULT": "after-inputs=2"], nil),
            ("after 5 inputs", ["CRUMB_FAULT": "after-inputs=5"], nil),
            ("before the commit", ["CRUMB_FAULT": "before-commit"], nil),
            ("after the commit", ["CRUMB_FAULT": "after-commit"], nil),
            ("at 0.2 s", [:], 0.2),
            ("at 0.8 s", [:], 0.8),
        ]
        for point in points {
            let out = root + "/out-\(point.name.filter(\.isLetter))\(point.name.filter(\.isNumber))"
            let first = try crumbKilled(["run", tree + "/early", "--out", out] + common)
            #expect(first.status == 0, "\(point.name): the first run failed")
            let killed = try crumbKilled(["run", tree, "--out", out] + common, environment: point.environment, killAfter: point.delay)
            if point.delay == nil {
                #expect(killed.signalled && killed.status == SIGKILL, "\(point.name): the run was not killed")
            }
            let rerun = try crumbKilled(["run", tree, "--out", out] + common)
            #expect(rerun.status == 0, "\(point.name): the rerun failed")
            #expect(try comparableOutputs(out) == expected, "\(point.name): the rerun differs from a clean run")
            // No temporary or part file is left behind.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains(".tmp-") || $0.contains(".part-") }
            #expect(leftovers.isEmpty, "\(point.name): \(leftovers)")
        }
    }

    /// `crumb run --shard i/n` three times, then `crumb merge`, equals one run; a second run of the merge
    /// over the same shards is refused when it would count a shard twice.
    @Test func shardAndMergeFromTheCommandLine() throws {
        let root = scratchDirectory()
        try FileManager.default.createDirectory(atPath: root + "/logs", withIntermediateDirectories: true)
        for index in 0..<6 {
            var options = AccessLogGenerator.Options()
            options.seed = UInt64(index + 10)
            options.lines = 500
            options.start = 1_767_225_600 + Int64(index) * 7_200
            options.duration = 7_200
            try AtomicFile.write(AccessLogGenerator.generate(options), to: root + "/logs/access.log.\(index)")
        }
        let keyFile = root + "/key"
        try AtomicFile.write(Array("a test key that is long enough for crumb".utf8), to: keyFile)
        let common = ["--key-file", keyFile, "--csv", "--quiet"]
        #expect(try crumb(["run", root + "/logs", "--out", root + "/whole"] + common).status == 0)
        for index in 1...3 {
            let shard = try crumb(["run", root + "/logs", "--shard", "\(index)/3", "--out", root + "/s\(index)"] + common)
            #expect(shard.status == 0, "\(shard.stderr)")
        }
        let merge = try crumb(["merge", root + "/s1", root + "/s2", root + "/s3", "--out", root + "/merged", "--csv"])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.stderr.contains("merged 3 outputs"))
        #expect(try String(contentsOfFile: root + "/merged/web_trends.csv", encoding: .utf8)
            == String(contentsOfFile: root + "/whole/web_trends.csv", encoding: .utf8))

        let twice = try crumb(["merge", root + "/s1", root + "/s1", "--out", root + "/twice"])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("count the same content"))
        let badShard = try crumb(["run", root + "/logs", "--shard", "4/3", "--out", root + "/bad"])
        #expect(badShard.status == 64)
    }
}
