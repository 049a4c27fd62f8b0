import CrumbCore
import CrumbIO
import CrumbTestSupport
import Foundation
import Testing

/// The committed samples against their expected trends, byte for byte. Re-record with
/// `CRUMB_RECORD_GOLDEN=1 swift test` (the run then fails on purpose) and commit the change.
struct GoldenSampleTests {
    /// Every committed sample, under `samples/`: one per format family.
    static let samples = [
        "web/access.log.gz", "web/bad-lines.log", "w3c/u_ex260101.log.gz", "json/beacons.jsonl.gz",
        "telephony/Master.csv", "telephony/freeswitch.csv",
    ]

    @Test(arguments: samples)
    func sampleTrendsMatchGoldenFiles(_ sample: String) throws {
        let name = String(sample.split(separator: "/").last!)
        let keyText = try String(contentsOfFile: SharedData.sample("keys/sample.key"), encoding: .utf8)
        let keyring = try Keyring(keyFileContents: Array(keyText.utf8))
        let out = temporaryDirectory(#function + name)
        var configuration = RunConfiguration(inputs: [SharedData.sample(sample)], outputDirectory: out, keyring: keyring)
        configuration.timeZone = try #require(LocalTimeZone(named: "Europe/Berlin"))  // the CDR samples' PBX
        configuration.writeCSV = true
        configuration.writeSQLite = false
        configuration.maxRejectRatio = 1
        let report = try BatchRunner.run(configuration)

        let input = try #require(report.manifest.inputs.first)
        let table = input.channel == "calls" ? "call_trends" : "web_trends"
        let csv = try Array(Data(contentsOf: URL(fileURLWithPath: out + "/\(table).csv")))
        let trends = GoldenFile.compare(csv, to: SharedData.sample("expected/\(name).\(table).csv"))
        #expect(trends == .match, "\(trends)")

        // Line counts, rejects by reason and the redacted reject samples.
        var summary = "lines_read \(input.linesRead)\nlines_parsed \(input.linesParsed)\nlines_rejected \(input.linesRejected)\n"
        summary += "lines_blank \(input.linesBlank)\nformat \(input.format)\nencoding \(input.encoding)\n"
        if input.linesHeader > 0 { summary += "lines_header \(input.linesHeader)\n" }
        for (reason, count) in input.rejectsByReason.sorted(by: { $0.key < $1.key }) { summary += "reject \(reason) \(count)\n" }
        for sample in input.rejectSamples { summary += "sample \(sample.line) \(sample.code.rawValue) @\(sample.offset) \(sample.shape)\n" }
        summary += "lines_opted_out \(report.manifest.totals.linesOptedOut)\n"
        summary += "lines_with_personal_data \(report.manifest.linesWithPersonalData)\n"
        for (field, kinds) in report.manifest.personalFoundByField.sorted(by: { $0.key < $1.key }) {
            for (kind, count) in kinds.sorted(by: { $0.key < $1.key }) { summary += "personal \(field) \(kind) \(count)\n" }
        }
        let counts = GoldenFile.compare(Array(summary.utf8), to: SharedData.sample("expected/\(name).summary.txt"))
        #expect(counts == .match, "\(counts)")
    }
}
