import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Testing

/// One generated row as the parser saw it, with the values copied out.
struct GeneratedCDRRow {
    var event: CallEvent
    /// Every role's value as text, by column name (`dst`, `userfield`...).
    var values: [String: String]
}

/// Parses every row of `bytes` (no terminator left out) and counts the rejects.
private func parseAll(_ bytes: [UInt8], with parser: some CallLineParser) -> (calls: [GeneratedCDRRow], rejects: [String]) {
    var parser = parser
    var framer = LineFramer()
    var decoded: [UInt8] = []
    var calls: [GeneratedCDRRow] = []
    var rejects: [String] = []
    func text(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>?) -> String? {
        range.map { String(decoding: UnsafeRawBufferPointer(rebasing: buffer[$0]), as: UTF8.self) }
    }
    func record(_ event: CallEvent, _ buffer: UnsafeRawBufferPointer) {
        var values: [String: String] = [:]
        let named: [(String, Range<Int>?)] = [
            ("accountcode", event.accountCode), ("src", event.source), ("dst", event.destination),
            ("dcontext", event.context), ("clid", event.callerID), ("name", event.callerName),
            ("number", event.callerNumber), ("channel", event.channel), ("dstchannel", event.destinationChannel),
            ("lastapp", event.lastApplication), ("lastdata", event.lastData), ("disposition", event.disposition),
            ("amaflags", event.amaFlags), ("uniqueid", event.uniqueID), ("userfield", event.userField),
        ]
        for (name, range) in named { values[name] = text(buffer, range) }
        for pair in event.unmapped { values["unmapped." + (text(buffer, pair.name) ?? "")] = text(buffer, pair.value) }
        calls.append(GeneratedCDRRow(event: event, values: values))
    }
    func handle(_ frame: LineFramer.Frame) {
        guard case .line(let line, let number) = frame else {
            rejects.append("too long")
            return
        }
        do {
            switch try parser.parse(line, decoded: &decoded) {
            case .header: rejects.append("\(number): header")
            case .event(let event): record(event, line)
            case .decodedEvent(let event): decoded.withUnsafeBytes { record(event, $0) }
            }
        } catch {
            rejects.append("\(number): \(error.code.rawValue)@\(error.offset) " + String(decoding: line, as: UTF8.self))
        }
    }
    bytes.withUnsafeBytes { framer.feed($0, handle) }
    framer.finish(handle)
    return (calls, rejects)
}

private func options(_ dialect: CallRecordGenerator.Dialect, calls: Int = 3_000, seed: UInt64 = 7) -> CallRecordGenerator.Options {
    var options = CallRecordGenerator.Options()
    options.dialect = dialect
    options.calls = calls
    options.seed = seed
    return options
}

struct CallRecordGeneratorTests {
    static let allAsteriskLayouts: [AsteriskCDRParser.Columns] = (0..<8).map { AsteriskCDRParser.Columns(rawValue: $0) }

    @Test(arguments: [CallRecordGenerator.Dialect.asterisk([.uniqueID, .userField]), .asterisk([.newColumns]), .freeSWITCH, .freeSWITCHBuiltIn])
    func determinism(_ dialect: CallRecordGenerator.Dialect) {
        let first = CallRecordGenerator.generate(options(dialect, calls: 500))
        let second = CallRecordGenerator.generate(options(dialect, calls: 500))
        #expect(first.bytes == second.bytes)
        #expect(first.planted == second.planted)
        let other = CallRecordGenerator.generate(options(dialect, calls: 500, seed: 8))
        #expect(other.bytes != first.bytes)
        // Call by call gives the same bytes as all at once.
        var generator = CallRecordGenerator(options: options(dialect, calls: 500))
        var buffer: [UInt8] = []
        for _ in 0..<500 { generator.appendCall(to: &buffer) }
        #expect(buffer == first.bytes)
        #expect(generator.rowCount == first.bytes.filter { $0 == 0x0A }.count)
    }

    /// A fingerprint of the default output, so that an unintended change to the generator shows.
    @Test func stableOutput() {
        let output = CallRecordGenerator.generate(options(.asterisk([.uniqueID, .userField]), calls: 3))
        let rows = String(decoding: output.bytes, as: UTF8.self).split(separator: "\n")
        #expect(rows.count >= 3)
        #expect(rows.allSatisfy { $0.hasPrefix("\"") })
        #expect(rows.first?.contains("\"2026-01-05 ") == true)  // local time, the window's first day
    }

    @Test(arguments: allAsteriskLayouts)
    func asteriskRowsParseWithoutRejects(_ columns: AsteriskCDRParser.Columns) {
        let output = CallRecordGenerator.generate(options(.asterisk(columns), calls: 1_500))
        let fixed = parseAll(output.bytes, with: AsteriskCDRParser(timeZone: LocalTimeZone(named: "+01:00")!, layout: .fixed(columns)))
        #expect(fixed.rejects.isEmpty, "\(fixed.rejects.prefix(3))")
        #expect(fixed.calls.count >= 1_500)
        if AsteriskCDRParser.inferredColumns(count: columns.count) == columns {
            let inferred = parseAll(output.bytes, with: AsteriskCDRParser(timeZone: LocalTimeZone(named: "+01:00")!))
            #expect(inferred.rejects.isEmpty)
            #expect(inferred.calls.map(\.event) == fixed.calls.map(\.event))
        }
        if columns.contains(.newColumns) {
            #expect(fixed.calls.allSatisfy { $0.event.unmapped.count == 3 && $0.values["unmapped.linkedid"] != nil })
        }
    }

    @Test(arguments: [CallRecordGenerator.Dialect.freeSWITCH, .freeSWITCHBuiltIn])
    func freeSWITCHRowsParseWithoutRejects(_ dialect: CallRecordGenerator.Dialect) throws {
        let output = CallRecordGenerator.generate(options(dialect))
        let parsed = parseAll(output.bytes, with: FreeSWITCHCDRParser(timeZone: LocalTimeZone(named: "+01:00")!))
        #expect(parsed.rejects.isEmpty, "\(parsed.rejects.prefix(3))")
        #expect(parsed.calls.count >= 3_000)
        let template = dialect == .freeSWITCH ? FreeSWITCHCDRParser.exampleTemplate : FreeSWITCHCDRParser.builtInTemplate
        let strict = parseAll(output.bytes, with: try FreeSWITCHCDRParser(template: template, timeZone: LocalTimeZone(named: "+01:00")!))
        #expect(strict.rejects.isEmpty)
        #expect(strict.calls.map(\.event) == parsed.calls.map(\.event))
        // Nicknames in quotes arrive unescaped and still parse.
        #expect(parsed.calls.contains { $0.values["name"]?.contains("\"") == true })
        // What the list says was planted was written.
        let findings = PrivacyChecker(catalog: AccessLogGenerator.plantedCatalog).findings(in: output.bytes)
        let unwritten = output.planted.filter { AccessLogGenerator.plantedCatalog.contains($0) && findings[$0] == nil }
        #expect(unwritten.isEmpty, "\(unwritten)")
        let numbers = Set(parsed.calls.flatMap { [$0.values["src"], $0.values["dst"]].compactMap { $0 } })
        #expect(output.planted.filter { $0.kind == "phone" }.allSatisfy { numbers.contains($0.canonical) })
    }

    /// The records make sense: inside the window and in order, times consistent with durations, outcomes and
    /// talk times in contact-centre proportions.
    @Test(arguments: [CallRecordGenerator.Dialect.asterisk([.uniqueID, .userField]), .freeSWITCH])
    func realisticCalls(_ dialect: CallRecordGenerator.Dialect) throws {
        let settings = options(dialect, calls: 5_000)
        let output = CallRecordGenerator.generate(settings)
        let zone = LocalTimeZone(named: "+01:00")!
        let calls: [GeneratedCDRRow]
        if case .asterisk = dialect {
            calls = parseAll(output.bytes, with: AsteriskCDRParser(timeZone: zone)).calls
        } else {
            calls = parseAll(output.bytes, with: FreeSWITCHCDRParser(timeZone: zone)).calls
        }
        let windowEnd = settings.start + settings.duration
        var previous = settings.start
        var answered = 0
        var talk: [Int64] = []
        var dispositions: [String: Int] = [:]
        var hours = [Int](repeating: 0, count: 24)
        for call in calls {
            let event = call.event
            #expect(event.start >= previous && event.start < windowEnd)
            previous = event.start
            let end = try #require(event.end)
            #expect(end - event.start == event.duration)
            if let answer = event.answer {
                answered += 1
                #expect(end - answer == event.billSeconds)
                #expect(event.billSeconds > 0)
                talk.append(event.billSeconds)
            } else {
                #expect(event.billSeconds == 0)
            }
            dispositions[call.values["disposition"] ?? "", default: 0] += 1
            hours[Int((event.start + 3_600) % 86_400 / 3_600)] += 1
        }
        let share = Double(answered) / Double(calls.count)
        #expect(share > 0.6 && share < 0.85, "answered \(share)")
        talk.sort()
        #expect((100...300).contains(talk[talk.count / 2]), "median talk \(talk[talk.count / 2])")
        #expect(talk[talk.count * 99 / 100] > 1_200)
        #expect(dispositions.count >= 5, "\(dispositions)")
        // Office hours are busier than the night.
        #expect(hours[10] > 5 * hours[3])
        #expect(Set(calls.compactMap { $0.values["dcontext"] }).isSuperset(of: ["queue-sales", "queue-support", "ivr-billing", "from-internal"]))
    }

    @Test func someCallsHaveTwoRows() {
        let output = CallRecordGenerator.generate(options(.asterisk([.uniqueID, .userField])))
        let calls = parseAll(output.bytes, with: AsteriskCDRParser(timeZone: LocalTimeZone(named: "+01:00")!)).calls
        var rowsByID: [String: [GeneratedCDRRow]] = [:]
        for call in calls { rowsByID[call.values["uniqueid"] ?? "", default: []].append(call) }
        let pairs = rowsByID.values.filter { $0.count == 2 }
        #expect(pairs.count > 50)
        for pair in pairs {
            #expect(pair[0].event.start == pair[1].event.start)
            #expect(!pair[0].event.isAnswered && pair[1].event.isAnswered)
        }
        #expect(rowsByID.values.allSatisfy { $0.count <= 2 })
    }
}

@Suite("Personal data in generated CDRs")
struct CallRecordPlantingTests {
    static let output = CallRecordGenerator.generate(options(.asterisk([.uniqueID, .userField]), calls: 6_000, seed: 11))
    /// Every planted value, caller numbers included (slow on big inputs: many needles share a prefix).
    static let checker = PrivacyChecker(catalog: output.planted)
    /// The catalogue's values only.
    static let catalogueChecker = PrivacyChecker(catalog: AccessLogGenerator.plantedCatalog)
    static let calls = parseAll(output.bytes, with: AsteriskCDRParser(timeZone: LocalTimeZone(named: "+01:00")!)).calls

    @Test func plantedListsCallersAndCatalogueValues() {
        let planted = Self.output.planted
        #expect(Set(planted).count == planted.count)
        let kinds = Set(planted.map(\.kind))
        #expect(kinds.isSuperset(of: ["phone", "name", "email", "card", "iban", "ssn", "dob", "address", "account", "username"]), "\(kinds)")
        #expect(planted.filter { $0.kind == "phone" }.count > 500)
        // Every catalogue value of the kinds CDRs carry is planted within 6,000 calls.
        let catalogue = Set(AccessLogGenerator.plantedCatalog)
        #expect(catalogue.isSubset(of: Set(planted)), "\(catalogue.subtracting(planted))")
    }

    @Test func everyPlantedValueIsInTheRows() {
        let catalogue = Set(AccessLogGenerator.plantedCatalog)
        let findings = Self.catalogueChecker.findings(in: Self.output.bytes)
        let missing = Self.output.planted.filter { catalogue.contains($0) && findings[$0] == nil }
        #expect(missing.isEmpty, "never written: \(missing.prefix(5))")
        // The other numbers are callers': each is some row's caller or, for a callback, its dialled number.
        let numbers = Set(Self.calls.flatMap { [$0.values["src"], $0.values["dst"]].compactMap { $0 } })
        let absent = Self.output.planted.filter { $0.kind == "phone" && !catalogue.contains($0) && !numbers.contains($0.canonical) }
        #expect(absent.isEmpty, "never written: \(absent.prefix(5))")
    }

    /// Personal data only in the personal columns: the columns that are interaction data (the dialled number of
    /// an inbound call, the context, the application, the disposition, the AMA flags) hold none.
    @Test func interactionColumnsHoldNoPersonalData() {
        var interaction: [UInt8] = []
        for call in Self.calls {
            var columns = ["dcontext", "lastapp", "disposition", "amaflags"]
            if call.values["dcontext"] != "from-internal" { columns.append("dst") }
            for column in columns {
                interaction += Array((call.values[column] ?? "").utf8) + [0x0A]
            }
        }
        #expect(Self.checker.findings(in: interaction).isEmpty)
    }

    /// Each place CDRs leak personal data carries some.
    @Test func personalColumnsCarryPlantedValues() {
        func found(_ column: String, where filter: (GeneratedCDRRow) -> Bool = { _ in true }) -> Set<String> {
            var text: [UInt8] = []
            for call in Self.calls where filter(call) { text += Array((call.values[column] ?? "").utf8) + [0x0A] }
            return Set(Self.catalogueChecker.findings(in: text).keys.map(\.kind))
        }
        #expect(found("src").contains("phone"))
        #expect(found("clid").isSuperset(of: ["phone", "name"]))
        #expect(found("name") == ["name"])
        #expect(found("accountcode") == ["account"])
        #expect(found("channel").contains("phone"))
        #expect(found("lastdata").isSuperset(of: ["phone", "card", "dob", "ssn"]))
        #expect(found("userfield").isSuperset(of: ["email", "card", "iban", "phone", "address", "username"]))
        #expect(found("dst") { $0.values["dcontext"] == "from-internal" }.contains("phone"))
        // Keypad input sits in the arguments of keypad applications.
        let keypad = Self.calls.filter { ["SendDTMF", "SayDigits", "AGI"].contains($0.values["lastapp"] ?? "") }
        #expect(keypad.count > 50)
    }

    @Test func withoutPlantingOnlyCallerNumbersRemain() {
        var settings = options(.asterisk([.uniqueID, .userField]), calls: 2_000, seed: 11)
        settings.plantPersonalData = false
        let output = CallRecordGenerator.generate(settings)
        #expect(Set(output.planted.map(\.kind)) == ["phone"])
        let catalogue = PrivacyChecker(catalog: AccessLogGenerator.plantedCatalog.filter { $0.kind != "phone" })
        #expect(catalogue.findings(in: output.bytes).isEmpty)
        let calls = parseAll(output.bytes, with: AsteriskCDRParser()).calls
        #expect(calls.allSatisfy { $0.values["name"] == nil || $0.values["name"] == "Anonymous" || $0.values["dcontext"] == "from-internal" })
    }
}
