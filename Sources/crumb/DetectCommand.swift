import ArgumentParser
import CrumbCore
import CrumbIO

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the format crumb finds for each input, and why.",
        discussion: """
            Reads the first lines of each input (decompressed) and tries every format on them, as crumb run \
            does with --format auto. Prints counts and format names only, never a line of the input. Exits 65 \
            when an input matches no format.
            """
    )

    @Argument(help: "Log files, directories, glob patterns, or - for standard input.")
    var inputs: [String]

    @Option(help: ArgumentHelp("Privacy policy file (YAML), for its JSON field mapping and time zone.", valueName: "path"))
    var policy: String?

    @Option(help: ArgumentHelp("Zone of the local times in call detail records (see crumb run --help).", valueName: "zone"))
    var timezone: String?

    @Flag(name: .shortAndLong, help: "Also print how many sampled lines each format parsed.")
    var verbose = false

    func run() throws {
        var effective = Policy.standard
        if let policy {
            do {
                effective = try PolicyLoader.load(path: policy)
            } catch {
                printError(error.description)
                throw error.kind == .unreadable ? ExitStatus.ioError : ExitStatus.usage
            }
        }
        var configuration = RunConfiguration(inputs: inputs, outputDirectory: "", keyring: .ephemeral(), policy: effective)
        guard let zone = LocalTimeZone(named: timezone ?? effective.callTimeZone) else {
            throw ValidationError("--timezone: unknown zone '\(timezone ?? "")'")
        }
        configuration.timeZone = zone
        let results: [FormatSniffer.Result]
        do {
            results = try FormatSniffer.detect(inputs, configuration: configuration)
        } catch let error as InputError {
            printError("crumb: error: \(error.path): \(error.message)")
            throw ExitStatus.ioError
        }
        var unmatched = false
        for result in results {
            let detection = result.detection
            if let spec = detection.spec {
                print("\(result.path): \(spec.name) (\(spec.channel == .calls ? "call_trends" : "web_trends")): \(detection.reason)")
            } else {
                unmatched = true
                print("\(result.path): no known format: \(result.hint ?? detection.reason + ". Name it with --format (see crumb formats).")")
            }
            if verbose {
                for candidate in detection.tried {
                    print("  \(candidate.name): \(candidate.parsed) of \(detection.sampled)")
                }
            }
        }
        if unmatched { throw ExitStatus.dataError }
    }
}

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the input formats crumb reads.",
        discussion: "Any of these names can be given to --format; auto (the default) detects each input's format."
    )

    func run() {
        let catalog = FormatSpec.catalog
        let width = catalog.map(\.name.count).max() ?? 0
        for entry in catalog {
            print(entry.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + entry.description)
        }
    }
}
