import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit raw logs for personal information: which kinds appear in which fields, and how often.",
        discussion: """
            Runs every detector (email, phone, card, SSN, IBAN, named fields) over every field crumb reads: \
            paths, query values, referrers, cookies, the remote user and user agents. Prints counts only, \
            never a value. Writes no output files.
            """
    )

    @Argument(help: "Log files, directories, glob patterns, or - for standard input.")
    var inputs: [String]

    @OptionGroup var formatOptions: FormatOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        // Everything personal is looked for; nothing is kept.
        var policy = Policy.standard
        policy.detectors = Set(Policy.allDetectors)
        policy.events = false
        policy.vault = false
        var configuration = RunConfiguration(inputs: inputs, outputDirectory: "", keyring: .ephemeral(), policy: policy)
        formatOptions.apply(to: &configuration)
        configuration.maxRejectRatio = 1
        let processed: BatchRunner.Processed
        do {
            processed = try BatchRunner.processInputs(configuration)
        } catch let error as InputError {
            printError("crumb: error: \(error.path): \(error.message)")
            throw ExitStatus.ioError
        }
        for input in processed.inputs {
            if let error = input.error { printError("crumb: error: \(error)") }
        }
        print(json ? ScanReport.json(processed) : ScanReport.table(processed), terminator: "")
        if processed.inputs.contains(where: { $0.error?.hasPrefix("io:") == true }) { throw ExitStatus.ioError }
    }
}

/// The scan's report: counts by field and kind.
enum ScanReport {
    static func table(_ processed: BatchRunner.Processed) -> String {
        let totals = processed.totals
        let personal = processed.personal
        var text = "lines read \(Summary.group(totals.linesRead)), parsed \(Summary.group(totals.linesParsed)), "
        text += "with personal information \(Summary.group(personal.lines))"
        if totals.linesParsed > 0 {
            text += " (" + Summary.decimal(100 * Double(personal.lines) / Double(totals.linesParsed), places: 2) + "%)"
        }
        text += "\n"
        guard personal.total > 0 else { return text + "no personal information found\n" }
        let kinds = PersonalDataKind.allCases
        let fieldWidth = 12
        let width = 13
        func pad(_ value: String, _ size: Int) -> String {
            String(repeating: " ", count: max(0, size - value.count)) + value
        }
        text += "field".padding(toLength: fieldWidth, withPad: " ", startingAt: 0)
        for kind in kinds { text += pad(kind.rawValue, width) }
        text += pad("total", width) + "\n"
        for field in PersonalDataField.allCases {
            guard let counts = personal.byField[field] else { continue }
            text += field.rawValue.padding(toLength: fieldWidth, withPad: " ", startingAt: 0)
            for kind in kinds { text += pad(Summary.group(counts[kind] ?? 0), width) }
            text += pad(Summary.group(counts.values.reduce(0, +)), width) + "\n"
        }
        text += "total".padding(toLength: fieldWidth, withPad: " ", startingAt: 0)
        for kind in kinds { text += pad(Summary.group(personal.byKind[kind] ?? 0), width) }
        text += pad(Summary.group(personal.total), width) + "\n"
        return text
    }

    static func json(_ processed: BatchRunner.Processed) -> String {
        let personal = processed.personal
        let report: [String: Any] = [
            "lines_read": processed.totals.linesRead,
            "lines_parsed": processed.totals.linesParsed,
            "lines_with_personal_data": personal.lines,
            "personal_found_by_kind": Dictionary(uniqueKeysWithValues: personal.byKind.map { ($0.key.rawValue, $0.value) }),
            "personal_found_by_field": Dictionary(uniqueKeysWithValues: personal.byField.map { field, kinds in
                (field.rawValue, Dictionary(uniqueKeysWithValues: kinds.map { ($0.key.rawValue, $0.value) }))
            }),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
