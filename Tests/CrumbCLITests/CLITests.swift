import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

/// Runs the built `crumb` binary (built beside this test bundle) and returns its exit code and output.
func crumb(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = crumbBinary()
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["CRUMB_KEY"] = nil
    env["COLUMNS"] = "100"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
}

/// The built `crumb` binary: beside the test bundle, or in the package's debug build.
func crumbBinary() -> URL {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("crumb")
    return FileManager.default.fileExists(atPath: binary.path) ? binary : SharedData.projectRoot.appendingPathComponent(".build/debug/crumb")
}

func scratchDirectory(_ name: String = #function) -> String {
    let path = NSTemporaryDirectory() + "crumb-cli-\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct CLITests {
    /// The README's main command, on the bundled sample.
    @Test func runsTheBundledSample() throws {
        let out = scratchDirectory()
        let result = try crumb(["run", SharedData.sample("web/access.log.gz"), "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("crumb: "))
        #expect(result.stderr.contains(" parsed, 0 rejected"))
        #expect(FileManager.default.fileExists(atPath: out + "/crumb.db"))
        #expect(FileManager.default.fileExists(atPath: out + "/manifest.json"))
    }

    /// `crumb formats` lists every format; `crumb detect` names each input's format and says why, and exits 65
    /// for an input that matches nothing; bad `--format` and `--timezone` values are usage errors.
    @Test func formatsAndDetect() throws {
        let formats = try crumb(["formats"])
        #expect(formats.status == 0)
        for name in ["auto", "combined", "w3c", "json:caddy", "asterisk-cdr", "freeswitch-cdr", "apache:FORMAT", "nginx:FORMAT", "aws_alb"] {
            #expect(formats.stdout.contains(name), "crumb formats lacks \(name)")
        }

        let directory = scratchDirectory()
        var calls = CallRecordGenerator.Options()
        calls.calls = 50
        try Data(CallRecordGenerator.generate(calls).bytes).write(to: URL(fileURLWithPath: directory + "/Master.csv"))
        let line = #"203.0.113.5 - - [01/Jan/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8.5.0""# + "\n"
        try Data(line.utf8).write(to: URL(fileURLWithPath: directory + "/access.log"))
        try Data("just words\nand more\n".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))
        let detected = try crumb(["detect", directory + "/Master.csv", directory + "/access.log"])
        #expect(detected.status == 0, "\(detected.stderr)")
        #expect(detected.stdout.contains("Master.csv: asterisk-cdr (call_trends): 50 of 50 sampled lines parse as asterisk-cdr"))
        #expect(detected.stdout.contains("access.log: combined (web_trends)"))
        let unknown = try crumb(["detect", "--verbose", directory + "/notes.txt"])
        #expect(unknown.status == 65)
        #expect(unknown.stdout.contains("notes.txt: no known format"))
        #expect(unknown.stdout.contains("  w3c: 0 of 2"))
        #expect(!unknown.stdout.contains("just words"))

        let badFormat = try crumb(["run", directory + "/access.log", "--format", "apache:%h %Q"])
        #expect(badFormat.status == 64)
        #expect(badFormat.stderr.contains("--format: apache format: column 4: unknown directive %Q"))
        #expect(try crumb(["run", directory + "/access.log", "--format", "syslog"]).stderr.contains("unknown format 'syslog'"))
        #expect(try crumb(["run", directory + "/access.log", "--timezone", "Mars/Olympus"]).status == 64)
        // A given format is used as given: the CDR read as combined is all rejects.
        let forced = try crumb(["run", directory + "/Master.csv", "--format", "combined", "--out", directory + "/forced"])
        #expect(forced.status == 65)
        #expect(forced.stderr.contains("Master.csv:1: error["))
    }

    @Test func readsStandardInput() throws {
        let out = scratchDirectory()
        let line = #"203.0.113.5 - - [01/Jan/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8.5.0""# + "\n"
        let result = try crumb(["run", "-", "--out", out, "--csv", "--no-sqlite", "--min-count", "1"], stdin: Data((line + line).utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let csv = try String(contentsOfFile: out + "/web_trends.csv", encoding: .utf8)
        #expect(csv.contains("2026-01-01T10:00:00Z,hour,path,/a,2,20,0,0,1"))
        // With the default policy (k = 5), the single visitor's row is folded into (other).
        let folded = try crumb(["run", "-", "--out", out + "/k", "--csv", "--no-sqlite"], stdin: Data((line + line).utf8))
        #expect(folded.status == 0)
        let foldedCSV = try String(contentsOfFile: out + "/k/web_trends.csv", encoding: .utf8)
        #expect(foldedCSV.contains("2026-01-01T10:00:00Z,hour,path,(other),2,20,0,0,1"))
        #expect(!foldedCSV.contains(",path,/a,"))
    }

    @Test func exitCodes() throws {
        let out = scratchDirectory()
        // 74: an input that cannot be read.
        let missing = try crumb(["run", out + "/no-such-file.log", "--out", out])
        #expect(missing.status == 74)
        #expect(missing.stderr.contains("no-such-file.log"))
        // 64: usage errors.
        #expect(try crumb(["run", "x", "--bucket", "week"]).status == 64)
        #expect(try crumb(["run", "x", "--ipv4-prefix", "33"]).status == 64)
        let hash = try crumb(["run", "x", "--ip-mode", "hash"])
        #expect(hash.status == 64)
        #expect(hash.stderr.contains("needs a key"))
        // 65: bad data over the reject ratio; outputs still written and marked.
        let garbage = out + "/garbage.log"
        try Data("this is not a log line\nnor is this one\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let bad = try crumb(["run", garbage, "--format", "combined", "--out", out + "/bad"])
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("garbage.log:1: error["))
        #expect(bad.stderr.contains("garbage.log:2: error["))
        #expect(!bad.stderr.contains("this is not"))
        // Detected: no format matches, and the error says which were tried and what to do.
        let unknown = try crumb(["run", garbage, "--out", out + "/unknown"])
        #expect(unknown.status == 65)
        #expect(unknown.stderr.contains("garbage.log: no known format matches its first lines"))
        #expect(unknown.stderr.contains("tried json:beacon"))
        #expect(unknown.stderr.contains("crumb detect"))
        #expect(!unknown.stderr.contains("this is not"))
        let manifest = try String(contentsOfFile: out + "/bad/manifest.json", encoding: .utf8)
        #expect(manifest.contains(#""incomplete" : true"#))
    }

    @Test func hashModeWithAKey() throws {
        let out = scratchDirectory()
        let result = try crumb(["run", SharedData.sample("web/access.log.gz"), "--out", out, "--ip-mode", "hash"],
                               environment: ["CRUMB_KEY": "0123456789abcdef0123456789abcdef"])
        #expect(result.status == 0, "\(result.stderr)")
        let manifest = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
        #expect(manifest.contains(#""key_ephemeral" : false"#))
    }

    /// `--help` is part of the interface: snapshotted.
    @Test(arguments: [["--help"], ["run", "--help"], ["generate", "--help"]])
    func helpText(_ arguments: [String]) throws {
        let result = try crumb(arguments)
        #expect(result.status == 0)
        let name = arguments.dropLast().joined(separator: "-")
        let path = SharedData.projectRoot.appendingPathComponent("Tests/CrumbCLITests/Snapshots/help\(name.isEmpty ? "" : "-" + name).txt").path
        let outcome = GoldenFile.compare(Array(result.stdout.utf8), to: path)
        #expect(outcome == .match, "\(outcome)")
    }

    @Test func generateIsDeterministic() throws {
        let a = try crumb(["generate", "--lines", "200", "--seed", "9"])
        let b = try crumb(["generate", "--lines", "200", "--seed", "9"])
        #expect(a.status == 0)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.split(separator: "\n").count == 200)
    }
}

/// What crumb prints on standard error (errors, reject lines, the summary) never holds a planted value.
struct CLIPrivacyTests {
    @Test func standardErrorHoldsNoPlantedValue() throws {
        let out = scratchDirectory()
        let log = out + "/planted.log.gz"
        let generated = try crumb(["generate", "--lines", "20000", "--seed", "3", "--malformed-share", "0.02", "--gzip", "-o", log])
        #expect(generated.status == 0)
        let result = try crumb(["run", log, "--out", out + "/o", "--events", "--max-reject-ratio", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("error["))
        let checker = PrivacyChecker(catalog: AccessLogGenerator.plantedCatalog)
        #expect(checker.findings(in: result.stderr).isEmpty)
        #expect(checker.findings(in: result.stdout).isEmpty)
        let scan = try crumb(["scan", log])
        #expect(scan.status == 0)
        #expect(scan.stdout.contains("email"))
        #expect(checker.findings(in: scan.stdout + scan.stderr).isEmpty)
    }
}

struct PolicyCLITests {
    @Test func policyCheckExplainsTheDefaultPolicy() throws {
        let result = try crumb(["policy", "check", SharedData.sample("policy.yaml")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("truncated to their /24"))
        #expect(result.stdout.contains("policy OK"))
    }

    @Test func policyCheckRefusesWithLineAndColumn() throws {
        let directory = scratchDirectory()
        let path = directory + "/bad.yaml"
        try Data("version: 1\nip:\n  mode: keep\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = try crumb(["policy", "check", path])
        #expect(result.status == 64)
        #expect(result.stderr.contains(path + ":3:"))
        // The same file refuses a run, before any input is read.
        let run = try crumb(["run", SharedData.sample("web/bad-lines.log"), "--policy", path, "--out", directory + "/o"])
        #expect(run.status == 64)
        #expect(!FileManager.default.fileExists(atPath: directory + "/o/crumb.db"))
    }

    @Test func keyFilesReadableByOthersAreWarnedAbout() throws {
        let directory = scratchDirectory()
        let key = directory + "/crumb.key"
        try Data("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".utf8).write(to: URL(fileURLWithPath: key))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let shared = try crumb(["run", SharedData.sample("web/bad-lines.log"), "--key-file", key, "--ip-mode", "hash",
                                "--out", directory + "/a", "--max-reject-ratio", "1"])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(shared.stderr.contains("readable by others"))
        #expect(!shared.stderr.contains("0123456789abcdef"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
        let guarded = try crumb(["run", SharedData.sample("web/bad-lines.log"), "--key-file", key, "--ip-mode", "prefix-preserving",
                                 "--out", directory + "/b", "--max-reject-ratio", "1"])
        #expect(guarded.status == 0, "\(guarded.stderr)")
        #expect(!guarded.stderr.contains("readable by others"))
    }
}
