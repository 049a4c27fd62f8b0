import CrumbCore
import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import GRDB
import Testing

/// The privacy suite: the generator plants personal data of every kind in every position and encoding;
/// crumb runs under the default policy (events on); the checker must find every planted value in the raw
/// input, so that it can fail, and none in any output.
struct PrivacySuiteTests {
    @Test func noPlantedValueReachesAnyOutput() throws {
        var options = AccessLogGenerator.Options()
        options.lines = 50_000
        options.seed = 3
        options.malformedShare = 0.01  // reject samples are outputs too
        let log = AccessLogGenerator.generate(options)
        let checker = PrivacyChecker(catalog: AccessLogGenerator.plantedCatalog)

        // The checker sees every planted value in the raw input.
        let inInput = checker.findings(in: log)
        #expect(Set(inInput.keys) == Set(AccessLogGenerator.plantedCatalog), "the input must hold every planted value")

        let directory = temporaryDirectory()
        try AtomicFile.write(log, to: directory + "/planted.log")
        var configuration = runConfiguration([directory + "/planted.log"], out: directory + "/out")
        configuration.policy.events = true
        configuration.maxRejectRatio = 1
        let report = try BatchRunner.run(configuration)
        #expect(report.manifest.totals.linesRejected > 0)
        #expect(report.manifest.linesWithPersonalData > 0)
        for kind in ["email", "phone", "card", "ssn", "iban", "named_field"] {
            #expect((report.manifest.personalFoundByKind[kind] ?? 0) > 0, "no \(kind) found")
        }

        // Every output file, byte for byte, and every text and blob of the database.
        var outputs: [(String, [UInt8])] = []
        for name in ["web_trends.csv", "web_trends.jsonl", "manifest.json", "events.jsonl"] {
            outputs.append((name, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/out/" + name)))))
        }
        let database = try DatabaseQueue(path: directory + "/out/crumb.db")
        try database.read { db in
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                var bytes: [UInt8] = []
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table)") {
                    for value in row.databaseValues {
                        switch value.storage {
                        case .string(let text): bytes += Array(text.utf8) + [0x0A]
                        case .blob(let data): bytes += Array(data) + [0x0A]
                        default: break
                        }
                    }
                }
                outputs.append(("crumb.db:" + table, bytes))
            }
        }
        for (name, bytes) in outputs {
            let leaked = checker.findings(in: bytes)
            #expect(leaked.isEmpty, "\(name) holds planted values: \(leaked.keys.map(\.kind).sorted())")
        }
    }

    /// Call detail records of both PBXs, with caller numbers and names, account codes, numbers in channels and
    /// dial strings, keypad input and emails in user fields planted: none reaches the trends, the events or
    /// the manifest; the vault (on here) holds personal values only, never a card number.
    @Test(arguments: [
        CallRecordGenerator.Dialect.asterisk([.uniqueID, .userField]),
        CallRecordGenerator.Dialect.asterisk([.uniqueID, .userField, .newColumns]),
        CallRecordGenerator.Dialect.freeSWITCH,
    ])
    func noPlantedCallValueReachesAnyOutput(_ dialect: CallRecordGenerator.Dialect) throws {
        var options = CallRecordGenerator.Options()
        options.dialect = dialect
        options.calls = 1_500
        options.distinctCallers = 400
        options.seed = 11
        let (log, planted) = CallRecordGenerator.generate(options)
        let checker = PrivacyChecker(catalog: planted)
        #expect(Set(checker.findings(in: log).keys) == Set(planted), "the input must hold every planted value")

        let directory = temporaryDirectory()
        try AtomicFile.write(log, to: directory + "/Master.csv")
        var configuration = runConfiguration([directory + "/Master.csv"], out: directory + "/out")
        configuration.policy.events = true
        configuration.policy.vault = true
        let report = try BatchRunner.run(configuration)
        let input = try #require(report.manifest.inputs.first)
        #expect(input.channel == "calls")
        #expect(input.linesRejected == 0)
        #expect((report.manifest.personalFoundByKind["phone"] ?? 0) > 0)
        if case .asterisk = dialect {  // FreeSWITCH's template has no application data to type digits into
            #expect((report.manifest.personalFoundByKind["keypad"] ?? 0) > 0)
        }

        for (name, bytes) in try outputs(of: directory + "/out", files: ["call_trends.csv", "call_trends.jsonl", "manifest.json", "events.jsonl"]) {
            let leaked = checker.findings(in: bytes)
            #expect(leaked.isEmpty, "\(name) holds planted values: \(leaked.keys.map(\.description).sorted().prefix(5))")
        }
        let vault = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/out/vault.jsonl")))
        let inVault = checker.findings(in: vault)
        #expect(!inVault.isEmpty, "the vault keeps the personal values it is given")
        #expect(!inVault.keys.contains { $0.kind == "card" }, "a card number reached the vault")
    }

    /// The same events as JSON beacons (personal data also planted in unmapped fields: `props`, a `user`
    /// object, free text) and as an IIS W3C log: no planted value reaches any output.
    @Test(arguments: [SampleTranscoder.Format.json, .w3c])
    func noPlantedValueReachesAnyOutputFromOtherFormats(_ format: SampleTranscoder.Format) throws {
        var options = AccessLogGenerator.Options()
        options.lines = 20_000
        options.seed = 5
        let log = SampleTranscoder.generate(options, format: format)
        let checker = PrivacyChecker(catalog: SampleTranscoder.plantedCatalog)
        #expect(checker.findings(in: log).count > SampleTranscoder.plantedCatalog.count / 2, "the input must hold planted values")

        let directory = temporaryDirectory()
        try AtomicFile.write(log, to: directory + "/input")
        var configuration = runConfiguration([directory + "/input"], out: directory + "/out")
        configuration.policy.events = true
        let report = try BatchRunner.run(configuration)
        let input = try #require(report.manifest.inputs.first)
        #expect(input.format == (format == .json ? "json:beacon" : "w3c"))
        #expect(input.linesRejected == 0)
        if format == .json { #expect((report.manifest.personalFoundByField["other"]?.values.reduce(0, +) ?? 0) > 0) }
        for (name, bytes) in try outputs(of: directory + "/out", files: ["web_trends.csv", "web_trends.jsonl", "manifest.json", "events.jsonl"]) {
            let leaked = checker.findings(in: bytes)
            #expect(leaked.isEmpty, "\(name) holds planted values: \(leaked.keys.map(\.kind).sorted())")
        }
    }

    /// Every output file, byte for byte, and every text and blob of the database.
    func outputs(of directory: String, files: [String]) throws -> [(String, [UInt8])] {
        var outputs: [(String, [UInt8])] = []
        for name in files {
            outputs.append((name, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))))
        }
        let database = try DatabaseQueue(path: directory + "/crumb.db")
        try database.read { db in
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                var bytes: [UInt8] = []
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table)") {
                    for value in row.databaseValues {
                        switch value.storage {
                        case .string(let text): bytes += Array(text.utf8) + [0x0A]
                        case .blob(let data): bytes += Array(data) + [0x0A]
                        default: break
                        }
                    }
                }
                outputs.append(("crumb.db:" + table, bytes))
            }
        }
        return outputs
    }
}
