import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

extension TimeBucket: ExpressibleByArgument {}
extension Keyring.Rotation: ExpressibleByArgument {}

enum IPModeOption: String, CaseIterable, ExpressibleByArgument {
    case truncate, hash, drop, keep
    case prefixPreserving = "prefix-preserving"

    /// The mode; truncate's prefixes come from the policy or the prefix flags.
    var mode: IPMode {
        switch self {
        case .truncate: .truncate(ipv4Prefix: 24, ipv6Prefix: 48)
        case .hash: .hash
        case .drop: .drop
        case .keep: .keep
        case .prefixPreserving: .prefixPreserving
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read logs and write privacy-safe trends.",
        discussion: """
            INPUT is a file (gzip is detected by its magic bytes, not its name), a directory (read \
            recursively, rotated logs included), a glob pattern, or - for standard input.

            Outputs, in --out: crumb.db (tables web_trends and call_trends), web_trends.csv and \
            web_trends.jsonl when asked (call_trends.csv and .jsonl too when an input holds call records), \
            manifest.json, and state.db. Each is written to a temporary file and renamed, so a failed run \
            never leaves a half-written output.

            Runs are resumable and count each input once: state.db records which content --out has counted \
            (by digest, whatever the file is called or however it is compressed). Run again over the same \
            tree and only new files, and what was appended to grown ones, are read; a run that was killed \
            is simply run again. --force counts everything again. Resuming needs the same key (--key-file) \
            and policy; without a key every run starts afresh.

            Scale-out: --shard i/n reads a deterministic share of the inputs and writes a partial output \
            (rows below --min-count kept); crumb merge combines the shards' outputs exactly.
            """
    )

    @Argument(help: "Log files, directories, glob patterns, or - for standard input.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output directory.")
    var out: String = "crumb-out"

    @OptionGroup var formatOptions: FormatOptions

    @Option(help: ArgumentHelp("Privacy policy file (YAML); the flags below override it.", discussion: "Without it, crumb applies its built-in default policy, the same as samples/policy.yaml. See crumb policy check.", valueName: "path"))
    var policy: String?

    @Option(help: "Trend bucket: hour or day (UTC). (default: the policy's, hour)")
    var bucket: TimeBucket?

    @Option(help: "Client IP handling: truncate, hash, prefix-preserving (both need a key), drop or keep. (default: the policy's, truncate)")
    var ipMode: IPModeOption?

    @Option(help: "IPv4 prefix length kept by --ip-mode truncate. (default: the policy's, 24)")
    var ipv4Prefix: Int?

    @Option(help: "IPv6 prefix length kept by --ip-mode truncate. (default: the policy's, 48)")
    var ipv6Prefix: Int?

    @Option(help: ArgumentHelp("File holding the secret key for keyed hashing (hex, base64 or raw bytes; at least 16 bytes).", discussion: "Without --key-file, CRUMB_KEY or a key source in the policy, a random key is drawn for the run and never written down: visitor ids are then valid within this run only.", valueName: "path"))
    var keyFile: String?

    @Option(help: "How often keyed tokens change: daily, monthly or never. (default: the policy's, daily)")
    var keyRotation: Keyring.Rotation?

    @Option(help: "k-anonymity: rows with fewer unique visitors are folded into (other). (default: the policy's)")
    var minCount: Int?

    @Option(help: "Longest accepted line in bytes; longer lines are rejected as line_too_long.")
    var maxLineLength: Int = 64 * 1024

    @Option(help: "Largest share of rejected lines before the run exits 65.")
    var maxRejectRatio: Double = 0.05

    @Option(name: .customLong("visitor-cookie"), help: ArgumentHelp("Name of a tracking cookie that identifies a visitor (repeatable; replaces the policy's list).", valueName: "name"))
    var visitorCookies: [String] = []

    @Flag(name: .customLong("csv"), help: "Also write web_trends.csv (and call_trends.csv for call records).")
    var writeCSV = false

    @Flag(name: .customLong("jsonl"), help: "Also write web_trends.jsonl (and call_trends.jsonl for call records).")
    var writeJSONLines = false

    @Flag(inversion: .prefixedNo, help: "Write crumb.db.")
    var sqlite = true

    @Flag(name: .customLong("events"), help: "Also write events.jsonl: one PI-free record per event.")
    var writeEvents = false

    @Flag(name: .customLong("vault"), help: "Also write vault.jsonl (mode 0600): the personal information found, keyed by visitor pseudonym.")
    var writeVault = false

    @Option(help: "Files processed at once (default: the number of cores).")
    var jobs: Int?

    @Flag(help: "Count every input again, replacing what --out has counted.")
    var force = false

    @Option(help: ArgumentHelp("Read only shard i of n of the inputs (1-based, by a stable hash of each file's path under its directory argument); implies --partial.", valueName: "i/n"))
    var shard: String?

    @Flag(help: "Write an output meant for crumb merge: keep the rows below --min-count (k-anonymity is applied by the final merge).")
    var partial = false

    @Option(help: "Distinct values kept per trend dimension; past it, new values count as (other). (default: the policy's, 100000)")
    var maxValues: Int?

    @Flag(name: .shortAndLong, help: "No summary line and no progress line.")
    var quiet = false

    func validate() throws {
        if let ipv4Prefix, !(0...32).contains(ipv4Prefix) { throw ValidationError("--ipv4-prefix must be between 0 and 32.") }
        if let ipv6Prefix, !(0...128).contains(ipv6Prefix) { throw ValidationError("--ipv6-prefix must be between 0 and 128.") }
        guard maxLineLength >= 64, maxLineLength <= 64 << 20 else {
            throw ValidationError("--max-line-length must be between 64 bytes and 64 MiB.")
        }
        guard (0...1).contains(maxRejectRatio) else { throw ValidationError("--max-reject-ratio must be between 0 and 1.") }
        if let minCount, minCount < 0 { throw ValidationError("--min-count must not be negative.") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        if let shard, RunConfiguration.Shard(parsing: shard) == nil {
            throw ValidationError("--shard takes i/n with 1 ≤ i ≤ n, such as 2/8; got '\(shard)'.")
        }
        if let maxValues, maxValues < 2 { throw ValidationError("--max-values must be at least 2.") }
        guard sqlite || writeCSV || writeJSONLines else {
            throw ValidationError("--no-sqlite needs --csv or --jsonl: there would be no trends output.")
        }
    }

    /// The policy file (or the built-in one) with this command's overrides.
    func effectivePolicy() throws -> Policy {
        try PolicyOverrides.effective(
            file: policy, bucket: bucket, ipMode: ipMode, ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix,
            keyRotation: keyRotation, minCount: minCount, maxValues: maxValues, visitorCookies: visitorCookies,
            events: writeEvents, vault: writeVault)
    }

    func run() throws {
        let policy = try effectivePolicy()
        let keyring = try KeyOptions.keyring(keyFile: keyFile, policy: policy)

        var configuration = RunConfiguration(inputs: inputs, outputDirectory: out, keyring: keyring, policy: policy)
        formatOptions.apply(to: &configuration)
        configuration.maxLineLength = maxLineLength
        configuration.maxRejectRatio = maxRejectRatio
        configuration.writeSQLite = sqlite
        configuration.writeCSV = writeCSV
        configuration.writeJSONLines = writeJSONLines
        if let jobs { configuration.jobs = jobs }
        configuration.force = force
        configuration.showProgress = ProgressReporter.shouldShow(quiet: quiet)
        configuration.shard = shard.flatMap(RunConfiguration.Shard.init(parsing:))
        configuration.partial = partial || configuration.shard != nil

        let report = try exitingOnKnownErrors { try BatchRunner.run(configuration) }
        for note in report.notes { printError("crumb: note: \(note)") }
        // Only what this run read: inputs carried from earlier runs were reported then.
        for input in report.manifest.inputs where input.status != "carried" && input.status != "unchanged" {
            if input.status == "skipped" { continue }
            if let error = input.error { printError("crumb: error: \(error)") }
            for sample in input.rejectSamples {
                printError("\(input.path):\(sample.line): error[\(sample.code.rawValue)] at byte \(sample.offset)")
            }
        }
        if !quiet { printError(Summary.line(report)) }
        if report.hasIOErrors { throw ExitStatus.ioError }
        if report.hasDataErrors { throw ExitStatus.dataError }
    }
}

/// The policy file (or the built-in one) with a command's overrides applied, validated. The commands that
/// read logs (`run`, `stream`) share it.
enum PolicyOverrides {
    static func effective(
        file: String?, bucket: TimeBucket?, ipMode: IPModeOption?, ipv4Prefix: Int? = nil, ipv6Prefix: Int? = nil,
        keyRotation: Keyring.Rotation? = nil, minCount: Int?, maxValues: Int? = nil, visitorCookies: [String] = [],
        events: Bool, vault: Bool
    ) throws -> Policy {
        var effective = Policy.standard
        if let file {
            do {
                effective = try PolicyLoader.load(path: file)
            } catch {
                printError(error.description)
                throw error.kind == .unreadable ? ExitStatus.ioError : ExitStatus.usage
            }
        }
        if let bucket { effective.bucket = bucket }
        if let ipMode {
            // `--ip-mode truncate` keeps the policy's prefixes when it already truncates.
            if ipMode == .truncate, case .truncate = effective.ipMode {} else { effective.ipMode = ipMode.mode }
        }
        if case .truncate(let v4, let v6) = effective.ipMode, ipv4Prefix != nil || ipv6Prefix != nil {
            effective.ipMode = .truncate(ipv4Prefix: ipv4Prefix ?? v4, ipv6Prefix: ipv6Prefix ?? v6)
        }
        if let keyRotation { effective.rotation = keyRotation }
        if let minCount { effective.minCount = minCount }
        if let maxValues { effective.maxValues = maxValues }
        if !visitorCookies.isEmpty { effective.trackingCookies = visitorCookies }
        if events { effective.events = true }
        if vault { effective.vault = true }
        // The flags may contradict the file (`--ip-mode keep` while client_ip is personal): refuse as a
        // policy error, naming the setting.
        if let problem = effective.problems().first {
            printError("crumb: error: policy: \(problem.setting): \(problem.message)")
            throw ExitStatus.usage
        }
        return effective
    }
}

/// Where the key comes from: `--key-file`, then `CRUMB_KEY`, then the policy's key source; without any, a
/// random key for the run.
enum KeyOptions {
    /// The keyring; refuses (exit 64) a keyed IP mode without a key.
    static func keyring(keyFile: String?, policy: Policy) throws -> Keyring {
        let keyring = try anyKeyring(keyFile: keyFile, policy: policy)
        if policy.ipMode.needsKey, keyring.isEphemeral {
            printError("crumb: error: --ip-mode \(policy.ipMode.name) needs a key: give --key-file or set CRUMB_KEY.")
            throw ExitStatus.usage
        }
        return keyring
    }

    private static func anyKeyring(keyFile: String?, policy: Policy) throws -> Keyring {
        var file = keyFile
        var variable = "CRUMB_KEY"
        if file == nil, ProcessInfo.processInfo.environment["CRUMB_KEY"]?.isEmpty ?? true, let source = policy.key {
            switch source.kind {
            case .file: file = source.name
            case .env: variable = source.name
            }
        }
        do {
            if let file {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    printError("crumb: error: \(file): cannot read the key file")
                    throw ExitStatus.ioError
                }
                warnIfShared(file)
                return try Keyring(keyFileContents: Array(contents), rotation: policy.rotation)
            }
            if let key = ProcessInfo.processInfo.environment[variable], !key.isEmpty {
                return try Keyring(keyFileContents: Array(key.utf8), rotation: policy.rotation)
            }
            return Keyring.ephemeral(rotation: policy.rotation)
        } catch let error as Keyring.KeyError {
            printError("crumb: error: key: \(error.message)")
            throw ExitStatus.usage
        }
    }

    /// Warns when the key file can be read by the group or others: the key links tokens to people.
    static func warnIfShared(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            printError("crumb: warning: key file \(path) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it")
        }
    }
}

/// The one-line summary on standard error.
enum Summary {
    static func line(_ report: RunReport) -> String {
        let manifest = report.manifest
        let seconds = max(manifest.timings.wallSeconds, 1e-6)
        // This run's work; the manifest's totals are everything the outputs hold.
        let run = manifest.thisRun ?? Manifest.RunDelta()
        let inputsRead = manifest.inputs.filter { ["counted", "continued", "failed", "skipped"].contains($0.status ?? "") }.count
        let megabytes = Double(run.bytes) / 1e6
        let decoded = Double(run.decodedBytes) / 1e6
        var text = "crumb: \(group(run.linesRead)) lines from \(inputsRead) input\(inputsRead == 1 ? "" : "s"): "
        text += "\(group(run.linesParsed)) parsed, \(group(run.linesRejected)) rejected"
        if !run.rejectsByReason.isEmpty {
            text += " (" + run.rejectsByReason.sorted { $0.key < $1.key }.map { "\($0.key) \(group($0.value))" }.joined(separator: ", ") + ")"
        }
        text += "; " + decimal(megabytes) + " MB read"
        if run.decodedBytes != run.bytes { text += ", " + decimal(decoded) + " MB decoded" }
        text += " in " + decimal(seconds, places: 2) + " s (" + decimal(decoded / seconds) + " MB/s, "
        text += group(Int(Double(run.linesRead) / seconds)) + " lines/s)"
        if !run.fresh || run.inputsContinued + run.inputsUnchanged > 0 {
            var resumed: [String] = []
            if run.inputsContinued > 0 { resumed.append("\(run.inputsContinued) continued") }
            if run.inputsUnchanged > 0 { resumed.append("\(run.inputsUnchanged) already counted") }
            let carried = manifest.inputs.filter { $0.status == "carried" }.count
            if carried > 0 { resumed.append("\(carried) counted earlier") }
            if !resumed.isEmpty { text += "; " + resumed.joined(separator: ", ") }
        }
        text += " → \(report.outputDirectory)/\(manifest.outputs.first ?? "")"
        if manifest.incomplete { text += " [incomplete]" }
        return text
    }

    static func decimal(_ value: Double, places: Int = 1) -> String {
        let scale = places == 2 ? 100.0 : 10.0
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        return group(whole) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    static func group(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }
}
