import CrumbCore
import CrumbIO
import CrumbSamples
import CrumbTestSupport
import Foundation
import GRDB
import Testing

/// Plants known personal information in every field of a log and asserts that no output carries it.
struct PrivacyRegressionTests {
    static let planted = [
        "198.51.100.77", "2001:db8:77:1:2:3:4:5",  // client addresses
        "jane.doe@example.com", "jane.doe%40example.com", "jane.doe%2540example.com",
        "Jane", "Doe", "+44 20 7946 0958", "+442079460958", "4111111111111111", "4111-1111-1111-1111",
        "123-45-6789", "GB82WEST12345698765432", "secret-session-token", "hunter2", "v-7f3a9c",
        "203.0.113.77",  // X-Forwarded-For
        "198.51.100.200",  // IP-literal referrer host, before truncation
    ]

    static let log = [
        #"198.51.100.77 - jane.doe@example.com [01/Jan/2026:10:00:00 +0000] "GET /users/jane.doe@example.com/profile?email=jane.doe%40example.com&first_name=Jane&last_name=Doe HTTP/1.1" 200 512 "https://jane.doe%40example.com:hunter2@mail.example.com/inbox?to=jane.doe@example.com" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 jane.doe@example.com" "visitor_id=v-7f3a9c; email=jane.doe%40example.com; session=secret-session-token" "203.0.113.77""#,
        #"2001:db8:77:1:2:3:4:5 - - [01/Jan/2026:10:05:00 +0000] "GET /call/+44%2020%207946%200958 HTTP/1.1" 200 100 "http://198.51.100.200/admin?phone=+442079460958" "curl/8.5.0""#,
        #"2001:db8:77:1:2:3:4:5 - - [01/Jan/2026:10:06:00 +0000] "POST /pay/4111111111111111/confirm?cc=4111-1111-1111-1111&ssn=123-45-6789&iban=GB82WEST12345698765432 HTTP/1.1" 302 0 "-" "MyApp/1.0 (+442079460958; jane.doe@example.com)""#,
        #"198.51.100.77 - - [01/Jan/2026:10:07:00 +0000] "GET /+442079460958 HTTP/1.1" 404 0 "-" "Jane Doe's bot 4111111111111111""#,
        #"198.51.100.77 - - [01/Jan/2026:10:08:00 +0000] "GET /x HTTP/1.1" 2OO 0 "-" "jane.doe@example.com""#,
    ].joined(separator: "\n") + "\n"

    /// Every output file's text, and the database's.
    static func outputsText(_ directory: String) throws -> [(String, String)] {
        var texts: [(String, String)] = []
        for name in ["web_trends.csv", "web_trends.jsonl", "manifest.json", "events.jsonl"]
        where FileManager.default.fileExists(atPath: directory + "/" + name) {
            texts.append((name, try String(contentsOfFile: directory + "/" + name, encoding: .utf8)))
        }
        let database = try DatabaseQueue(path: directory + "/crumb.db")
        let dump = try database.read { db in
            var lines: [String] = []
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table)") {
                    lines.append(row.description)
                    for value in row.databaseValues {
                        if case .blob(let data) = value.storage { lines.append(String(decoding: data, as: UTF8.self)) }
                    }
                }
            }
            return lines.joined(separator: "\n")
        }
        texts.append(("crumb.db", dump))
        return texts
    }

    @Test(arguments: ["truncate", "hash", "drop", "prefix-preserving"])
    func plantedValuesNeverReachAnOutput(ipMode: String) throws {
        let directory = temporaryDirectory(#function + ipMode)
        try AtomicFile.write(Array(Self.log.utf8), to: directory + "/pi.log")
        var configuration = runConfiguration([directory + "/pi.log"], out: directory + "/out")
        configuration.policy.ipMode = ipMode == "hash" ? .hash : ipMode == "drop" ? .drop : ipMode == "prefix-preserving" ? .prefixPreserving : .truncate(ipv4Prefix: 24, ipv6Prefix: 48)
        configuration.policy.events = true
        configuration.policy.vault = ipMode == "hash"
        let report = try BatchRunner.run(configuration)
        #expect(report.manifest.totals.linesParsed == 4)
        #expect(report.manifest.totals.linesRejected == 1)
        let outputs = try Self.outputsText(directory + "/out")
        #expect(outputs.map(\.0).contains("events.jsonl"))
        for (name, text) in outputs {
            for value in Self.planted {
                #expect(!text.lowercased().contains(value.lowercased()), "\(name) contains \(value)")
            }
        }
        // The vault, when on, holds the personal information (mode 0600), never a card number, and the
        // events then carry no IP-derived value next to the pseudonym that links to it.
        let vaultPath = directory + "/out/vault.jsonl"
        if configuration.policy.vault {
            let vault = try String(contentsOfFile: vaultPath, encoding: .utf8)
            #expect(vault.contains("jane.doe@example.com"))
            #expect(!vault.contains("4111"))
            let mode = try FileManager.default.attributesOfItem(atPath: vaultPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let events = try String(contentsOfFile: directory + "/out/events.jsonl", encoding: .utf8)
            #expect(!events.contains(#""client""#))
            #expect(events.contains(#""visitor":"v:"#))
        } else {
            #expect(!FileManager.default.fileExists(atPath: vaultPath))
        }
        #expect(report.manifest.personalFoundByKind["email"] ?? 0 > 0)
        #expect(report.manifest.personalFoundByKind["card"] ?? 0 > 0)
    }

    /// The generator's planted personal data (emails, long digit runs) and every client address are absent
    /// from the outputs.
    @Test func generatedLogLeaksNothing() throws {
        var options = AccessLogGenerator.Options()
        options.lines = 20_000
        options.seed = 42
        let log = AccessLogGenerator.generate(options)
        let directory = temporaryDirectory()
        try AtomicFile.write(log, to: directory + "/gen.log")
        _ = try BatchRunner.run(runConfiguration([directory + "/gen.log"], out: directory + "/out"))
        let text = String(decoding: log, as: UTF8.self)

        var secrets = Set<String>()
        let emails = try NSRegularExpression(pattern: #"[A-Za-z0-9._+-]+(@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#)
        let numbers = try NSRegularExpression(pattern: #"\d{9,19}"#)
        let range = NSRange(text.startIndex..., in: text)
        for match in emails.matches(in: text, range: range) { secrets.insert(String(text[Range(match.range, in: text)!])) }
        for match in numbers.matches(in: text, range: range) { secrets.insert(String(text[Range(match.range, in: text)!])) }
        #expect(secrets.count > 10, "the generator should plant personal data")
        var clients = Set<String>()
        for line in text.split(separator: "\n") {
            let client = String(line.prefix { $0 != " " })
            if !client.hasSuffix(".0"), !client.hasSuffix("::") { clients.insert(client) }
        }

        let csv = try String(contentsOfFile: directory + "/out/web_trends.csv", encoding: .utf8)
        var values = Set<String>()
        for line in csv.split(separator: "\n").dropFirst() {
            // value is the fourth field; quoted values hold no client address, so a plain split suffices here
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            if fields.count > 3 { values.insert(String(fields[3])) }
        }
        for client in clients { #expect(!values.contains(client), "a client address reached the trends") }
        // Searched by token, not by substring search over megabytes: no email shape at all may appear, and
        // no digit run of an output may contain a planted number.
        let digitSecrets = secrets.filter { $0.allSatisfy(\.isNumber) }
        for (name, output) in try Self.outputsText(directory + "/out") {
            let outputRange = NSRange(output.startIndex..., in: output)
            #expect(emails.firstMatch(in: output, range: outputRange) == nil, "\(name) contains an email address")
            var leaked = 0
            for match in try NSRegularExpression(pattern: #"\d{9,}"#).matches(in: output, range: outputRange) {
                let run = Array(output[Range(match.range, in: output)!])
                for length in 9...min(19, run.count) {
                    for start in 0...(run.count - length) where digitSecrets.contains(String(run[start..<(start + length)])) {
                        leaked += 1
                    }
                }
            }
            #expect(leaked == 0, "\(name) contains \(leaked) planted numbers")
        }
    }
}
