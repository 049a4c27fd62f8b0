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
}
