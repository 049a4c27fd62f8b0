import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine the outputs of several runs (shards, days, machines) exactly.",
        discussion: """
            Each OUTPUT is the output directory of a crumb run (or its state.db). The merge adds the counts, \
            merges the visitor and caller sketches and the talk-time histograms, and applies k-anonymity \
            (min_count) once, to the merged rows: the result is what one run over all the inputs would have \
            written. Outputs counted with different keys, policies or bucket sizes, without a key, or that \
            counted the same content, are refused.

            The merged directory holds a state.db too: it can be merged again, or continued by crumb run.
            """
    )

    @Argument(help: "Output directories of crumb run (or their state.db files).")
    var outputs: [String]

    @Option(name: .shortAndLong, help: "Output directory of the merge.")
    var out: String = "crumb-merged"

    @Flag(name: .customLong("csv"), help: "Also write web_trends.csv (and call_trends.csv when there are call records).")
    var writeCSV = false

    @Flag(name: .customLong("jsonl"), help: "Also write web_trends.jsonl (and call_trends.jsonl).")
    var writeJSONLines = false

    @Flag(inversion: .prefixedNo, help: "Write crumb.db.")
    var sqlite = true

    @Flag(help: "Keep the rows below min_count, for a merge that will itself be merged.")
    var partial = false

    @Flag(name: .shortAndLong, help: "No summary line.")
    var quiet = false

    func validate() throws {
        guard sqlite || writeCSV || writeJSONLines else {
            throw ValidationError("--no-sqlite needs --csv or --jsonl: there would be no trends output.")
        }
    }

    func run() throws {
        var configuration = MergeConfiguration(outputs: outputs, outputDirectory: out)
        configuration.writeSQLite = sqlite
        configuration.writeCSV = writeCSV
        configuration.writeJSONLines = writeJSONLines
        configuration.partial = partial
        let report = try exitingOnKnownErrors { try MergeRunner.merge(configuration) }
        if !quiet {
            let totals = report.manifest.totals
            printError("crumb: merged \(outputs.count) output\(outputs.count == 1 ? "" : "s") (\(totals.inputs) inputs, \(Summary.group(totals.linesParsed)) lines parsed): \(Summary.group(report.manifest.rows["web_trends"] ?? 0)) web and \(Summary.group(report.manifest.rows["call_trends"] ?? 0)) call trend rows → \(out)/\(report.manifest.outputs.first ?? "")")
        }
    }
}
