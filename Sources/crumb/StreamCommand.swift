import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

/// A duration on the command line: a whole number with a unit, `s`, `m`, `h` or `d` (`30s`, `10m`, `1h`);
/// a bare number is seconds. Rejected: a negative or fractional number, another unit, more than 7 days.
struct DurationArgument: ExpressibleByArgument, Equatable {
    var seconds: Int64

    static let longest: Int64 = 7 * 86_400

    init(seconds: Int64) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(argument)
        var unit: Int64 = 1
        if let last = digits.last, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let number = Int64(digits), number <= Self.longest / unit else { return nil }
        seconds = number * unit
    }

    var defaultValueDescription: String {
        if seconds % 3_600 == 0, seconds > 0 { return "\(seconds / 3_600)h" }
        if seconds % 60 == 0, seconds > 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

struct Stream: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a live log from standard input and emit each bucket as it closes.",
        discussion: """
            For tail -F access.log | crumb stream. Buckets are in event time (the log's timestamps): a \
            bucket closes when an event at least --lateness past its end has been read, and its rows are \
            then emitted once: as JSON Lines on standard output (the fields of web_trends.jsonl or \
            call_trends.jsonl), and with --out upserted into crumb.db (rows already there from an earlier \
            stream are combined exactly). An event whose bucket has closed is late: counted, not added.

            At end of input, SIGINT or SIGTERM every open bucket is emitted, the outputs are closed, a \
            summary goes to standard error and crumb exits 0; a second signal ends it at once. Memory \
            holds the open buckets only.
            """
    )

    @OptionGroup var formatOptions: FormatOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Output directory: crumb.db is created or updated there, events.jsonl and vault.jsonl appended to when the policy asks for them.", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("no-stdout"), help: "Write no JSON Lines to standard output (needs --out).")
    var noStdout = false

    @Option(help: ArgumentHelp("How long after a bucket ends, in event time, its events are still counted: 30s, 10m, 1h. Later events are counted as late and left out.", valueName: "duration"))
    var lateness = DurationArgument(seconds: 300)

    @Option(help: ArgumentHelp("Privacy policy file (YAML); the flags below override it.", discussion: "Without it, crumb applies its built-in default policy, the same as samples/policy.yaml. See crumb policy check.", valueName: "path"))
    var policy: String?

    @Option(help: "Trend bucket: hour or day (UTC). (default: the policy's, hour)")
    var bucket: TimeBucket?

    @Option(help: "Client IP handling: truncate, hash, prefix-preserving (both need a key), drop or keep. (default: the policy's, truncate)")
    var ipMode: IPModeOption?

    @Option(help: ArgumentHelp("File holding the secret key for keyed hashing (hex, base64 or raw bytes; at least 16 bytes).", discussion: "Without --key-file, CRUMB_KEY or a key source in the policy, a random key is drawn for the stream and never written down: visitor ids are then valid within this stream only.", valueName: "path"))
    var keyFile: String?

    @Option(help: "k-anonymity: rows with fewer unique visitors are folded into (other). (default: the policy's)")
    var minCount: Int?

    @Option(help: "Longest accepted line in bytes; longer lines are rejected as line_too_long.")
    var maxLineLength: Int = 64 * 1024

    @Flag(name: .customLong("events"), help: "Also append to events.jsonl in --out: one PI-free record per event.")
    var writeEvents = false

    @Flag(name: .customLong("vault"), help: "Also append to vault.jsonl in --out (mode 0600): the personal information found, keyed by visitor pseudonym.")
    var writeVault = false

    @Flag(name: .shortAndLong, help: "No summary line.")
    var quiet = false

    func validate() throws {
        guard maxLineLength >= 64, maxLineLength <= 64 << 20 else {
            throw ValidationError("--max-line-length must be between 64 bytes and 64 MiB.")
        }
        if let minCount, minCount < 0 { throw ValidationError("--min-count must not be negative.") }
        if noStdout, out == nil { throw ValidationError("--no-stdout needs --out: there would be no output.") }
    }

    /// The policy file (or the built-in one) with this command's overrides.
    func effectivePolicy() throws -> Policy {
        try PolicyOverrides.effective(file: policy, bucket: bucket, ipMode: ipMode, minCount: minCount,
                                      events: writeEvents, vault: writeVault)
    }

    func run() throws {
        let policy = try effectivePolicy()
        let keyring = try KeyOptions.keyring(keyFile: keyFile, policy: policy)
        if out == nil, policy.events || policy.vault {
            let what = [policy.events ? "events" : nil, policy.vault ? "vault" : nil].compactMap { $0 }.joined(separator: " and ")
            printError("crumb: note: the policy asks for \(what); a stream writes them only with --out, so they are not written")
        }

        var configuration = StreamConfiguration(keyring: keyring, policy: policy)
        configuration.format = formatOptions.format
        if let zone = LocalTimeZone(named: formatOptions.timezone ?? policy.callTimeZone) { configuration.timeZone = zone }
        configuration.lateness = lateness.seconds
        configuration.outputDirectory = out
        configuration.jsonLinesOutput = noStdout ? nil : STDOUT_FILENO
        configuration.maxLineLength = maxLineLength

        let report = try exitingOnKnownErrors {
            try StreamRunner.run(configuration) { printError("crumb: warning: \($0)") }
        }
        if let error = report.formatError { printError("crumb: error: \(error)") }
        if let error = report.readError { printError("crumb: error: \(error)") }
        for sample in report.rejectSamples {
            printError("-:\(sample.line): error[\(sample.code.rawValue)] at byte \(sample.offset)")
        }
        if !quiet { printError(StreamSummary.line(report, outputDirectory: out)) }
        if report.readError != nil { throw ExitStatus.ioError }
        if report.formatError != nil { throw ExitStatus.dataError }
    }
}

/// The stream's one-line summary on standard error.
enum StreamSummary {
    static func line(_ report: StreamReport, outputDirectory: String?) -> String {
        let counts = report.counts
        let group = Summary.group
        var text = "crumb: stream"
        if let signal = report.stoppedBy { text += " stopped by \(signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)")" }
        text += ": \(group(counts.read)) line\(counts.read == 1 ? "" : "s") (\(report.format)): \(group(counts.parsed)) parsed, \(group(counts.rejected)) rejected"
        if !report.rejectsByReason.isEmpty {
            text += " (" + report.rejectsByReason.sorted { $0.key < $1.key }.map { "\($0.key) \(group($0.value))" }.joined(separator: ", ") + ")"
        }
        text += ", \(group(counts.late)) late; \(group(report.bucketsEmitted)) bucket\(report.bucketsEmitted == 1 ? "" : "s") emitted"
        text += " (\(group(report.rowsEmitted)) rows)"
        if let outputDirectory, let first = report.outputs.first { text += " → \(outputDirectory)/\(first)" }
        return text
    }
}
