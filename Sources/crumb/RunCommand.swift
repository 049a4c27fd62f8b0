import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

extension InputFormat: ExpressibleByArgument {}
extension TimeBucket: ExpressibleByArgument {}
extension Keyring.Rotation: ExpressibleByArgument {}

enum IPModeOption: String, CaseIterable, ExpressibleByArgument {
    case truncate, hash, drop
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read logs and write privacy-safe trends.",
        discussion: """
            INPUT is a file (gzip is detected by its magic bytes, not its name), a directory (read \
            recursively, rotated logs included), a glob pattern, or - for standard input.

            Outputs, in --out: crumb.db (table web_trends), web_trends.csv and web_trends.jsonl when asked, \
            and manifest.json. Each is written to a temporary file and renamed, so a failed run never \
            leaves a half-written output.
            """
    )

    @Argument(help: "Log files, directories, glob patterns, or - for standard input.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output directory.")
    var out: String = "crumb-out"

    @Option(help: "Input format: auto, combined or common.")
    var format: InputFormat = .auto

    @Option(help: "Trend bucket: hour or day (UTC).")
    var bucket: TimeBucket = .hour

    @Option(help: "Client IP handling: truncate, hash (needs a key) or drop.")
    var ipMode: IPModeOption = .truncate

    @Option(help: "IPv4 prefix length kept by --ip-mode truncate.")
    var ipv4Prefix: Int = 24

    @Option(help: "IPv6 prefix length kept by --ip-mode truncate.")
    var ipv6Prefix: Int = 48

    @Option(help: ArgumentHelp("File holding the secret key for keyed hashing (hex, base64 or raw bytes; at least 16 bytes).", discussion: "Without --key-file or CRUMB_KEY, a random key is drawn for the run and never written down: visitor ids are then valid within this run only.", valueName: "path"))
    var keyFile: String?

    @Option(help: "How often keyed tokens change: daily, monthly or never.")
    var keyRotation: Keyring.Rotation = .daily

    @Option(help: "Longest accepted line in bytes; longer lines are rejected as line_too_long.")
    var maxLineLength: Int = 64 * 1024

    @Option(help: "Largest share of rejected lines before the run exits 65.")
    var maxRejectRatio: Double = 0.05

    @Option(name: .customLong("visitor-cookie"), help: ArgumentHelp("Name of a tracking cookie that identifies a visitor (repeatable).", valueName: "name"))
    var visitorCookies: [String] = []

    @Flag(name: .customLong("csv"), help: "Also write web_trends.csv.")
    var writeCSV = false

    @Flag(name: .customLong("jsonl"), help: "Also write web_trends.jsonl.")
    var writeJSONLines = false

    @Flag(inversion: .prefixedNo, help: "Write crumb.db.")
    var sqlite = true

    @Option(help: "Files processed at once (default: the number of cores).")
    var jobs: Int?

    @Flag(name: .shortAndLong, help: "No summary line.")
    var quiet = false

    func validate() throws {
        guard (0...32).contains(ipv4Prefix) else { throw ValidationError("--ipv4-prefix must be between 0 and 32.") }
        guard (0...128).contains(ipv6Prefix) else { throw ValidationError("--ipv6-prefix must be between 0 and 128.") }
        guard maxLineLength >= 64, maxLineLength <= 64 << 20 else {
            throw ValidationError("--max-line-length must be between 64 bytes and 64 MiB.")
        }
        guard (0...1).contains(maxRejectRatio) else { throw ValidationError("--max-reject-ratio must be between 0 and 1.") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        guard sqlite || writeCSV || writeJSONLines else {
            throw ValidationError("--no-sqlite needs --csv or --jsonl: there would be no output.")
        }
        if ipMode == .hash, keyFile == nil, ProcessInfo.processInfo.environment["CRUMB_KEY"]?.isEmpty ?? true {
            throw ValidationError("--ip-mode hash needs a key: give --key-file or set CRUMB_KEY.")
        }
    }

    func run() throws {
        let keyring: Keyring
        do {
            if let keyFile {
                guard let contents = FileManager.default.contents(atPath: keyFile) else {
                    printError("crumb: error: \(keyFile): cannot read the key file")
                    throw ExitStatus.ioError
                }
                keyring = try Keyring(keyFileContents: Array(contents), rotation: keyRotation)
            } else if let key = ProcessInfo.processInfo.environment["CRUMB_KEY"], !key.isEmpty {
                keyring = try Keyring(keyFileContents: Array(key.utf8), rotation: keyRotation)
            } else {
                keyring = Keyring.ephemeral(rotation: keyRotation)
            }
        } catch let error as Keyring.KeyError {
            printError("crumb: error: key: \(error.message)")
            throw ExitStatus.usage
        }

        var configuration = RunConfiguration(inputs: inputs, outputDirectory: out, keyring: keyring)
        configuration.format = format
        configuration.web.bucket = bucket
        if !visitorCookies.isEmpty { configuration.web.visitorCookies = visitorCookies }
        switch ipMode {
        case .truncate: configuration.ipMode = .truncate(ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix)
        case .hash: configuration.ipMode = .hash
        case .drop: configuration.ipMode = .drop
        }
        configuration.maxLineLength = maxLineLength
        configuration.maxRejectRatio = maxRejectRatio
        configuration.writeSQLite = sqlite
        configuration.writeCSV = writeCSV
        configuration.writeJSONLines = writeJSONLines
        if let jobs { configuration.jobs = jobs }

        let report: RunReport
        do {
            report = try BatchRunner.run(configuration)
        } catch let error as InputError {
            printError("crumb: error: \(error.path): \(error.message)")
            throw ExitStatus.ioError
        } catch let error as OutputError {
            printError("crumb: error: \(error.path): \(error.message)")
            throw ExitStatus.ioError
        } catch let error as IPAnonymizer.ConfigurationError {
            printError("crumb: error: \(error.message)")
            throw ExitStatus.usage
        }
        for input in report.manifest.inputs {
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

/// The one-line summary on standard error.
enum Summary {
    static func line(_ report: RunReport) -> String {
        let totals = report.manifest.totals
        let seconds = max(report.manifest.timings.wallSeconds, 1e-6)
        let megabytes = Double(totals.bytes) / 1e6
        let decoded = Double(totals.decodedBytes) / 1e6
        var text = "crumb: \(group(totals.linesRead)) lines from \(totals.inputs) input\(totals.inputs == 1 ? "" : "s"): "
        text += "\(group(totals.linesParsed)) parsed, \(group(totals.linesRejected)) rejected"
        if !totals.rejectsByReason.isEmpty {
            text += " (" + totals.rejectsByReason.sorted { $0.key < $1.key }.map { "\($0.key) \(group($0.value))" }.joined(separator: ", ") + ")"
        }
        text += "; " + decimal(megabytes) + " MB read"
        if totals.decodedBytes != totals.bytes { text += ", " + decimal(decoded) + " MB decoded" }
        text += " in " + decimal(seconds, places: 2) + " s (" + decimal(decoded / seconds) + " MB/s, "
        text += group(Int(Double(totals.linesRead) / seconds)) + " lines/s)"
        text += " → \(report.outputDirectory)/\(report.manifest.outputs.first ?? "")"
        if report.manifest.incomplete { text += " [incomplete]" }
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
