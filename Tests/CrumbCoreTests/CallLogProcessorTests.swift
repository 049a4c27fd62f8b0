@testable import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

// MARK: - Fake parsers

/// Splits `line` at `separator`, outside double quotes when `quoted`; a quoted field's content is unescaped
/// (doubled quotes) into `decoded`, and every range points into `decoded`.
private func splitFields(_ line: UnsafeRawBufferPointer, separator: UInt8, quoted: Bool, decoded: inout [UInt8])
    throws(ParseFailure) -> [Range<Int>]
{
    decoded.removeAll(keepingCapacity: true)
    var fields: [Range<Int>] = []
    var index = 0
    while true {
        let start = decoded.count
        if quoted, index < line.count, line[index] == UInt8(ascii: "\"") {
            index += 1
            while true {
                guard index < line.count else { throw ParseFailure(.badQuoting, at: index) }
                if line[index] == UInt8(ascii: "\"") {
                    if index + 1 < line.count, line[index + 1] == UInt8(ascii: "\"") {
                        decoded.append(UInt8(ascii: "\""))
                        index += 2
                        continue
                    }
                    index += 1
                    break
                }
                decoded.append(line[index])
                index += 1
            }
        } else {
            while index < line.count, line[index] != separator {
                decoded.append(line[index])
                index += 1
            }
        }
        fields.append(start..<decoded.count)
        if index == line.count { return fields }
        guard line[index] == separator else { throw ParseFailure(.badQuoting, at: index) }
        index += 1
    }
}

private func integer(_ bytes: ArraySlice<UInt8>, _ code: RejectCode, at offset: Int) throws(ParseFailure) -> Int64 {
    guard !bytes.isEmpty, bytes.count < 19, bytes.allSatisfy(ASCII.isDigit) else { throw ParseFailure(code, at: offset) }
    return bytes.reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
}

/// Splits `"Name" <number>` (or a bare number) into the name's and the number's ranges in `decoded`.
private func splitCallerID(_ decoded: [UInt8], _ clid: Range<Int>, into event: inout CallEvent) {
    guard !clid.isEmpty else { return }
    event.callerID = clid
    if let open = decoded[clid].lastIndex(of: UInt8(ascii: "<")), let close = decoded[open...].firstIndex(of: UInt8(ascii: ">")),
       close < clid.upperBound {
        event.callerNumber = (open + 1)..<close
        var nameStart = clid.lowerBound, nameEnd = open
        while nameEnd > nameStart, decoded[nameEnd - 1] == UInt8(ascii: " ") { nameEnd -= 1 }
        if nameEnd - nameStart >= 2, decoded[nameStart] == UInt8(ascii: "\""), decoded[nameEnd - 1] == UInt8(ascii: "\"") {
            nameStart += 1
            nameEnd -= 1
        }
        event.callerName = nameStart..<nameEnd
    } else {
        event.callerNumber = clid
    }
}

/// A test format: 16 `|`-separated columns, times as epoch seconds.
///
/// `start|answer|duration|billsec|src|clid|dst|dcontext|channel|dstchannel|lastapp|lastdata|disposition|uniqueid|userfield|accountcode`
///
/// A line starting with `#` is a header. Every event is returned as `.decodedEvent` when the line starts
/// with `~` (the rest is the row), as `.event` otherwise.
private struct PipeCallParser: CallLineParser {
    var formatName: String { "test-pipe" }
    static let columns = 16

    mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult {
        if line.first == UInt8(ascii: "#") { return .header }
        let viaDecoded = line.first == UInt8(ascii: "~")
        // The ranges are offsets into the row: the line itself, or after `~` its copy in `decoded`.
        let bytes = Array(viaDecoded ? line.dropFirst() : line[...])
        var ranges: [Range<Int>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "|") {
            ranges.append(start..<index)
            start = index + 1
        }
        ranges.append(start..<bytes.count)
        guard ranges.count >= Self.columns else { throw ParseFailure(.missingColumn, at: line.count) }
        guard ranges.count == Self.columns else { throw ParseFailure(.extraColumns, at: ranges[Self.columns].lowerBound) }
        var event = CallEvent()
        func optional(_ index: Int) -> Range<Int>? { ranges[index].isEmpty ? nil : ranges[index] }
        event.start = try integer(bytes[ranges[0]], .badTimestamp, at: ranges[0].lowerBound)
        if !ranges[1].isEmpty { event.answer = try integer(bytes[ranges[1]], .badTimestamp, at: ranges[1].lowerBound) }
        event.duration = try integer(bytes[ranges[2]], .badNumber, at: ranges[2].lowerBound)
        event.billSeconds = try integer(bytes[ranges[3]], .badNumber, at: ranges[3].lowerBound)
        event.source = optional(4)
        splitCallerID(bytes, ranges[5], into: &event)
        event.destination = ranges[6]
        event.context = ranges[7]
        event.channel = optional(8)
        event.destinationChannel = optional(9)
        event.lastApplication = optional(10)
        event.lastData = optional(11)
        event.disposition = ranges[12]
        event.uniqueID = optional(13)
        event.userField = optional(14)
        event.accountCode = optional(15)
        guard viaDecoded else { return .event(event) }
        decoded.removeAll(keepingCapacity: true)
        decoded.append(contentsOf: bytes)
        return .decodedEvent(event)
    }
}

/// Asterisk `cdr_csv` Master.csv, just enough for the shared real files: 18 quoted columns, times
/// `YYYY-MM-DD HH:MM:SS` read as UTC. Every event points into `decoded`.
private struct MiniAsteriskParser: CallLineParser {
    var formatName: String { "test-asterisk" }

    mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult {
        let fields = try splitFields(line, separator: UInt8(ascii: ","), quoted: true, decoded: &decoded)
        guard fields.count >= 16 else { throw ParseFailure(.missingColumn, at: line.count) }
        guard fields.count <= 18 else { throw ParseFailure(.extraColumns, at: line.count) }
        func optional(_ index: Int) -> Range<Int>? { index < fields.count && !fields[index].isEmpty ? fields[index] : nil }
        var event = CallEvent()
        event.accountCode = optional(0)
        event.source = optional(1)
        event.destination = fields[2]
        event.context = fields[3]
        splitCallerID(decoded, fields[4], into: &event)
        event.channel = optional(5)
        event.destinationChannel = optional(6)
        event.lastApplication = optional(7)
        event.lastData = optional(8)
        event.start = try Self.time(decoded[fields[9]])
        if !fields[10].isEmpty { event.answer = try Self.time(decoded[fields[10]]) }
        if !fields[11].isEmpty { event.end = try Self.time(decoded[fields[11]]) }
        event.duration = try integer(decoded[fields[12]], .badNumber, at: 0)
        event.billSeconds = try integer(decoded[fields[13]], .badNumber, at: 0)
        event.disposition = fields[14]
        event.amaFlags = optional(15)
        event.uniqueID = optional(16)
        event.userField = optional(17)
        return .decodedEvent(event)
    }

    static func time(_ text: ArraySlice<UInt8>) throws(ParseFailure) -> Int64 {
        let digits = Array(text)
        guard digits.count == 19 else { throw ParseFailure(.badTimestamp, at: 0) }
        func number(_ range: Range<Int>) throws(ParseFailure) -> Int64 { try integer(digits[range], .badTimestamp, at: 0) }
        let days = CivilTime.daysFromCivil(year: try number(0..<4), month: try number(5..<7), day: try number(8..<10))
        return days * 86_400 + (try number(11..<13)) * 3_600 + (try number(14..<16)) * 60 + (try number(17..<19))
    }
}

// MARK: - Running

private let keyring = try! Keyring(secret: Array("crumb-call-tests-secret-0123456789".utf8), rotation: .daily)
private let hour: Int64 = 1_767_272_400  // 2026-01-01T13:00:00Z

private struct Outcome: Equatable {
    var records: [CallTrendRecord]
    var counts: LineCounts
    var rejects: RejectTally
    var personal: PersonalDataTally
    var events: String
    var vault: String
}

private func policy(events: Bool = true, vault: Bool = true, minCount: Int = 0, _ change: (inout Policy) -> Void = { _ in }) -> Policy {
    var policy = Policy.standard
    policy.events = events
    policy.vault = vault
    policy.minCount = minCount
    change(&policy)
    return policy
}

private func makeProcessor(_ policy: Policy, parser: any CallLineParser = PipeCallParser()) -> CallLogProcessor {
    CallLogProcessor(configuration: CallLogConfiguration(policy: policy), parser: parser, keyring: keyring)
}

/// splitmix64, for random chunk sizes.
private func splitmix(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Feeds `bytes` through a line framer into `processor`, cut as `split` says.
private func feed(_ bytes: [UInt8], into processor: inout CallLogProcessor, split: ChunkingVerifier.Split = .whole) {
    var framer = LineFramer(maxLineLength: 512)
    var state: UInt64 = { if case .random(let seed, _) = split { seed } else { 0 } }()
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let size: Int
            switch split {
            case .whole: size = all.count
            case .bytes(let n): size = n
            case .random(_, let maxChunk): size = 1 + Int(splitmix(&state) % UInt64(maxChunk))
            }
            let end = min(all.count, offset + size)
            framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { processor.process($0) }
            offset = end
        }
        framer.finish { processor.process($0) }
    }
}

private func run(_ text: String, policy: Policy, split: ChunkingVerifier.Split = .whole,
                 parser: any CallLineParser = PipeCallParser()) -> Outcome {
    var processor = makeProcessor(policy, parser: parser)
    feed(Array(text.utf8), into: &processor, split: split)
    let (counts, rejects, personal) = processor.finishInput()
    return Outcome(records: processor.aggregator.records(minCount: policy.minCount), counts: counts, rejects: rejects,
                   personal: personal, events: String(decoding: processor.eventBuffer, as: UTF8.self),
                   vault: String(decoding: processor.vaultBuffer, as: UTF8.self))
}

/// A row of the pipe format.
private func row(
    start: Int64 = hour, answer: Int64? = nil, duration: Int64 = 0, billsec: Int64 = 0, src: String = "",
    clid: String = "", dst: String = "100", context: String = "sales", channel: String = "", dstChannel: String = "",
    app: String = "", data: String = "", disposition: String = "NO ANSWER", id: String = "", userField: String = "",
    account: String = ""
) -> String {
    [String(start), answer.map(String.init) ?? "", String(duration), String(billsec), src, clid, dst, context, channel,
     dstChannel, app, data, disposition, id, userField, account].joined(separator: "|")
}

private func values(_ outcome: Outcome, _ dimension: String) -> [String] {
    outcome.records.filter { $0.dimension == dimension }.map(\.value)
}

private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

/// Every text a published output holds: record values, events, and (when asked) the vault.
private func publishedText(_ outcome: Outcome) -> String {
    outcome.records.map { "\($0.dimension)=\($0.value)" }.joined(separator: "\n") + "\n" + outcome.events
}

// MARK: - Tests

@Suite struct CallLogProcessorTests {
    @Test func countsLinesHeadersBlanksAndRejects() {
        let text = [
            "# a header row",
            row(src: "2025550100", dst: "100", disposition: "ANSWERED"),
            "",
            "   \t ",
            "1767272400|x|0|0|||100|sales|||||NO ANSWER|||",
            row() + "|extra",
            "1767272400|",
            "notatime|||",
            "~" + row(src: "2025550101", dst: "200"),
            String(repeating: "9", count: 600),
        ].joined(separator: "\r\n")
        let outcome = run(text, policy: policy())
        #expect(outcome.counts.read == 10)
        #expect(outcome.counts.parsed == 2)
        #expect(outcome.counts.headers == 1)
        #expect(outcome.counts.blank == 2)
        #expect(outcome.counts.rejected == 5)
        #expect(outcome.rejects.counts == [.badTimestamp: 1, .extraColumns: 1, .missingColumn: 2, .lineTooLong: 1])
        // Samples are shapes: no digit of the line survives.
        #expect(outcome.rejects.samples.allSatisfy { !$0.shape.contains("1767") })
        #expect(outcome.rejects.samples.first?.line == 5)
        #expect(outcome.records.filter { $0.dimension == "total" }.map(\.calls) == [2])
        #expect(values(outcome, "dialled") == ["100", "200"])
    }

    @Test func chunkingDoesNotChangeTheResult() {
        var lines = ["# header"]
        for index in 0..<60 {
            let answered = index % 3 != 0
            let line = row(
                start: hour + Int64(index * 97), answer: answered ? hour + Int64(index * 97 + 5) : nil,
                duration: Int64(index * 7), billsec: answered ? Int64(index * 5) : 0,
                src: "+1 (202) 555-01\(10 + index % 17)", clid: "\"Caller \(index % 5)\" <202555\(1000 + index)>",
                dst: ["100", "0800-555", "+44 20 7946 0958"][index % 3], context: ["sales", "ivr"][index % 2],
                channel: "SIP/+49301234\(index % 10)56-0000000a", app: ["Answer", "Playback", "Read", "Queue"][index % 4],
                data: ["", "welcome", "4711", "support,t"][index % 4], disposition: answered ? "answered" : "no answer",
                id: "call-\(index / 3)", userField: index % 7 == 0 ? "mail jane.doe@example.com" : "",
                account: index % 4 == 0 ? "ACCT\(index)" : "")
            lines.append(index % 5 == 0 ? "~" + line : line)
            if index % 11 == 0 { lines.append("") }
            if index % 13 == 0 { lines.append("12|bad") }
        }
        let text = lines.joined(separator: "\n") + "\r\n" + row(src: "2025550199")
        let whole = run(text, policy: policy())
        #expect(whole.counts.parsed == 61)
        #expect(whole.counts.rejected == 5)
        #expect(!whole.events.isEmpty && !whole.vault.isEmpty && whole.personal.total > 0)
        for split in [ChunkingVerifier.Split.bytes(1), .bytes(7), .random(seed: 3, maxChunk: 40), .random(seed: 9, maxChunk: 300)] {
            #expect(run(text, policy: policy(), split: split) == whole, "\(split)")
        }
    }

    @Test func ivrPathFollowsTheLegsOfOneCall() {
        let apps = ["Answer", "Playback", "Playback", "Queue"]
        var lines = apps.map { row(app: $0, id: "1497955026.13") }
        lines += [
            row(app: "", id: "1497955026.13"),  // no application on this leg: the path so far
            row(app: "Dial", id: "1497955099.1"),  // a new call
            row(app: "", id: "1497955100.2"),  // a call without applications
            row(app: "Hangup"),  // no uniqueid: a call of its own
            row(app: "Hangup"),
        ]
        lines += ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"].map { row(app: $0, id: "long") }
        var processor = makeProcessor(policy(events: false, vault: false))
        for line in lines {
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBytes { processor.process(.line(UnsafeRawBufferPointer($0), number: 1)) }
        }
        let final = Dictionary(uniqueKeysWithValues: processor.aggregator.records().filter { $0.dimension == "ivr_path" }.map { ($0.value, $0.calls) })
        #expect(final == [
            "Answer": 1, "Answer>Playback": 2, "Answer>Playback>Queue": 2, "Dial": 1, "(none)": 1, "Hangup": 2,
            "A": 1, "A>B": 1, "A>B>C": 1, "A>B>C>D": 1, "A>B>C>D>E": 1, "A>B>C>D>E>F": 1, "A>B>C>D>E>F>G": 1,
            "A>B>C>D>E>F>G>H": 1, "A>B>C>D>E>F>G>H>\u{2026}": 2,
        ])
        #expect(final.values.reduce(0, +) == Int64(lines.count), "every row counted once")
    }

    @Test func dimensionValuesAreNormalised() {
        let text = [
            row(dst: " 100 ", context: "", disposition: " no answer "),
            row(dst: "", context: "from-external", disposition: "Answered"),
            row(dst: "sip:jane.doe@example.com", context: "ivr jane.doe@example.com", disposition: ""),
            row(dst: "+44 20 7946 0958", context: "queue-1", disposition: "NORMAL_CLEARING"),
        ].joined(separator: "\n")
        let outcome = run(text, policy: policy())
        #expect(values(outcome, "dialled") == ["(none)", "+44 20 7946 0958", "100", "{email}"])
        #expect(values(outcome, "context") == ["(none)", "from-external", "queue-1", "{email}"])
        #expect(values(outcome, "disposition") == ["(none)", "ANSWERED", "NO ANSWER", "NORMAL_CLEARING"])
        #expect(values(outcome, "ivr_path") == ["(none)"])
        #expect(values(outcome, "total") == ["all"])
        let events = (try? jsonLines(outcome.events)) ?? []
        #expect(events.map { $0["dialled"] as? String } == ["100", "(none)", "{email}", "{phone}"])
    }

    @Test func nonUTF8BytesStayWellFormedInEveryOutput() throws {
        let text = row(start: hour, answer: hour, billsec: 9, src: "2025550100", clid: "\"Jo\u{A7}\" <2025550100>",
                       dst: "10\u{A7}0", context: "ctx\u{A7}", app: "Pl\u{A7}y", data: "x\u{A7}", disposition: "bu\u{A7}y",
                       id: "\u{A7}", userField: "\u{A7}jane.doe@example.com\u{A7}")
        // "\u{A7}" is C2 A7 in UTF-8: keep only the A7, a continuation byte with no lead.
        var bytes: [UInt8] = []
        for byte in Array(text.utf8) where byte != 0xC2 { bytes.append(byte) }
        var processor = makeProcessor(policy())
        feed(bytes, into: &processor)
        let (counts, _, personal) = processor.finishInput()
        #expect(counts.parsed == 1)
        let records = processor.aggregator.records()
        #expect(Set(records.map(\.value)) == ["all", "10\u{FFFD}0", "ctx\u{FFFD}", "Pl_y", "BU\u{FFFD}Y"])
        let events = try jsonLines(String(decoding: processor.eventBuffer, as: UTF8.self))
        #expect(events.first?["dialled"] as? String == "10\u{FFFD}0")
        #expect(String(validating: processor.eventBuffer, as: UTF8.self) != nil)
        #expect(String(validating: processor.vaultBuffer, as: UTF8.self) != nil)
        let vault = try jsonLines(String(decoding: processor.vaultBuffer, as: UTF8.self))
        #expect(vault.contains { $0["value"] as? String == "jane.doe@example.com" })
        #expect(vault.contains { $0["value"] as? String == "Jo\u{FFFD}" })
        #expect(personal.byField[.userField] == [.email: 1])
    }

    @Test func eventsAreFreeOfPersonalInformation() throws {
        let text = row(
            start: hour + 5, answer: hour + 12, duration: 70, billsec: 63, src: "+44 20 7946 0958",
            clid: "\"Jane Doe\" <+44 20 7946 0958>", dst: "0800123", context: "support", channel: "SIP/jane-0000000a",
            app: "Queue", data: "support,t", disposition: "ANSWERED", id: "1.2", userField: "jane.doe@example.com",
            account: "ACCT-99817")
        let outcome = run(text + "\n" + text.replacingOccurrences(of: "+44 20 7946 0958", with: "+442079460958"), policy: policy())
        let events = try jsonLines(outcome.events)
        #expect(events.count == 2)
        let event = events[0]
        #expect(Set(event.keys) == ["time", "dialled", "context", "application", "disposition", "answered", "billsec", "duration", "caller"])
        #expect(event["time"] as? String == "2026-01-01T13:00:05Z")
        #expect(event["dialled"] as? String == "{phone}", "seven digits")
        #expect(event["context"] as? String == "support")
        #expect(event["application"] as? String == "Queue")
        #expect(event["disposition"] as? String == "ANSWERED")
        #expect(event["answered"] as? Bool == true)
        #expect(event["billsec"] as? Int == 63 && event["duration"] as? Int == 70)
        let caller = try #require(event["caller"] as? String)
        #expect(caller.hasPrefix("c:") && caller.count == 18 && caller.dropFirst(2).allSatisfy(\.isHexDigit))
        #expect(events[1]["caller"] as? String == caller, "one caller however the number is written")
        for leak in ["7946", "Jane", "jane", "ACCT", "99817"] { #expect(!outcome.events.contains(leak)) }
        // The vault holds the personal fields under the same pseudonym.
        let vault = try jsonLines(outcome.vault)
        #expect(vault.allSatisfy { $0["visitor"] as? String == caller })
        let fields = Set(vault.map { "\($0["field"] as? String ?? "")/\($0["kind"] as? String ?? "")" })
        #expect(fields == ["caller_number/phone", "caller_name/named_field", "account_code/named_field", "user_field/email"])
        #expect(vault.filter { $0["field"] as? String == "caller_number" }.count == 2, "each way of writing it, once")
    }

    @Test func keypadInputIsCountedAndNeverWritten() throws {
        let text = [
            row(src: "2025550100", app: "Read", data: "47114711"),
            row(src: "2025550100", app: "SENDDTMF", data: "55129988#"),
            row(src: "2025550100", app: "Set", data: "PIN=86420864"),
            row(src: "2025550100", app: "Playback", data: "custom/welcome"),
            row(src: "2025550100", app: "Read", data: "ACCOUNT,enter-account"),
        ].joined(separator: "\n")
        let outcome = run(text, policy: policy())
        #expect(outcome.personal.byField[.applicationData] == [.keypad: 3])
        #expect(outcome.personal.byKind[.keypad] == 3)
        for digits in ["47114711", "55129988", "86420864"] {
            #expect(!outcome.vault.contains(digits) && !outcome.events.contains(digits) && !publishedText(outcome).contains(digits))
        }
        #expect(values(outcome, "ivr_path").contains("Read"))
        #expect(values(outcome, "ivr_path").contains("SENDDTMF"))
    }

    @Test(arguments: [
        ("SIP/+4930123456-0000000a", "+4930123456"),
        ("SIP/5551234-0000a", "5551234"),
        ("PJSIP/trunk-provider-00000012", "trunk-provider"),
        ("Local/5551234@from-internal-00000001;2", "5551234@from-internal"),
        ("DAHDI/1-1", "1"),
        ("NOT_AVAILABLE", "NOT_AVAILABLE"),
        ("SIP/jane.doe@example.com-00ab", "jane.doe@example.com"),
        ("  IAX2/peer  ", "peer"),
        ("SIP/-0001", ""),
        ("", ""),
    ])
    func channelPeers(channel: String, peer: String) {
        var bytes = Array(channel.utf8)
        let found = bytes.withUnsafeMutableBytes { String(decoding: CallLogProcessor.channelPeer(UnsafeRawBufferPointer($0)), as: UTF8.self) }
        #expect(found == peer)
    }

    @Test(arguments: [
        ("PIN=4711", true), ("ACCOUNT=12*34#56", true), ("x=1,y=2", false), ("timeout=30", false), ("4711", false),
        ("A=123,B=4567", true), ("=", false), ("", false),
    ])
    func keypadEntries(data: String, isKeypad: Bool) {
        var bytes = Array(data.utf8)
        #expect(bytes.withUnsafeMutableBytes { CallLogProcessor.holdsKeypadEntry(UnsafeRawBufferPointer($0)) } == isKeypad)
    }

    @Test func personalInformationIsFoundInEveryPersonalField() {
        let text = [
            row(src: "555-555-0123", clid: "\"Jane Doe\" <555-555-0123>", channel: "SIP/+4930123456-0000000a",
                dstChannel: "Local/0301234567@from-internal-0001;1", app: "Dial", data: "SIP/+4915112345678,30,tT&PJSIP/07700900123@trunk",
                userField: "card 4111 1111 1111 1111 jane.doe@example.com", account: "ACCT-99817"),
            row(src: "anonymous", clid: "\"Restricted\" <anonymous>"),
        ].joined(separator: "\n")
        let outcome = run(text, policy: policy())
        let byField = outcome.personal.byField
        #expect(byField[.callerNumber] == [.phone: 1, .namedField: 1])
        #expect(byField[.callerName] == [.namedField: 2])
        #expect(byField[.accountCode] == [.namedField: 1])
        #expect(byField[.channel] == [.phone: 2])
        #expect(byField[.applicationData] == [.phone: 2])
        #expect(byField[.userField] == [.card: 1, .email: 1])
        #expect(outcome.personal.lines == 2)
        // The card is sensitive: counted, never in the vault.
        #expect(!outcome.vault.contains("4111"))
        #expect(outcome.vault.contains("+4915112345678") && outcome.vault.contains("jane.doe@example.com"))
    }

    /// Planted personal values never reach the trends or the events; in the vault only under a personal field.
    @Test func plantedPersonalInformationNeverReachesTheTrendsOrEvents() throws {
        let numbers = ["+442079460958", "+4930123456", "+15555550123", "+4915112345678"]
        let names = ["Jane Doe", "Marget Biernacki", "Bentlee McVicker"]
        let emails = ["jane.doe@example.com", "m.biernacki@example.org"]
        let accounts = ["ACCT99817", "CUST4455667"]
        let keypad = ["47114711", "86420864"]
        let cards = ["4111111111111111"]
        var lines: [String] = []
        for index in 0..<40 {
            let number = numbers[index % numbers.count]
            lines.append(row(
                start: hour + Int64(index * 60), answer: hour + Int64(index * 60 + 3), duration: 100, billsec: 97,
                src: number, clid: "\"\(names[index % names.count])\" <\(number)>",
                dst: index % 2 == 0 ? numbers[(index + 1) % numbers.count] : "100", context: "sales",
                channel: "SIP/\(number)-0000000a", app: index % 3 == 0 ? "Read" : "Dial",
                data: index % 3 == 0 ? keypad[index % 2] : "SIP/\(numbers[(index + 2) % numbers.count]),30",
                disposition: "ANSWERED", id: "id\(index)",
                userField: index % 4 == 0 ? "\(emails[index % 2]) \(cards[0])" : "PIN=\(keypad[(index + 1) % 2])",
                account: accounts[index % 2]))
        }
        let outcome = run(lines.joined(separator: "\n"), policy: policy(minCount: 5))
        var catalog = numbers.map { PlantedValue(kind: "phone", canonical: $0) }
        catalog += names.map { PlantedValue(kind: "name", canonical: $0) }
        catalog += emails.map { PlantedValue(kind: "email", canonical: $0) }
        catalog += accounts.map { PlantedValue(kind: "account", canonical: $0) }
        let sensitive = keypad.map { PlantedValue(kind: "keypad", canonical: $0) } + cards.map { PlantedValue(kind: "card", canonical: $0) }
        let checker = PrivacyChecker(catalog: catalog + sensitive)
        #expect(checker.findings(in: publishedText(outcome)).isEmpty)
        // Each record's sketches are bytes, never text of the log.
        #expect(outcome.records.allSatisfy { try! HyperLogLog(serialized: $0.sketch).estimate == Int($0.callers) })
        for line in try jsonLines(outcome.vault) {
            let field = try #require(line["field"] as? String)
            #expect(["caller_number", "caller_name", "account_code", "channel", "app_data", "user_field", "other"].contains(field))
            let findings = checker.findings(in: (line["value"] as? String) ?? "")
            #expect(findings.keys.allSatisfy { $0.kind != "keypad" && $0.kind != "card" }, "\(field)")
        }
        let vaultFindings = checker.findings(in: outcome.vault)
        #expect(Set(vaultFindings.keys.map(\.kind)) == ["phone", "name", "email", "account"])
        // Dialled phone numbers are dimension values; each has fewer than 5 callers here, so all fold.
        #expect(values(outcome, "dialled").allSatisfy { $0 == "(other)" || $0 == "100" })
    }

    @Test func vaultIsEmptyWhenOff() {
        let outcome = run(row(src: "555-555-0123", clid: "\"Jane Doe\" <555-555-0123>", userField: "jane.doe@example.com"),
                          policy: policy(vault: false))
        #expect(outcome.vault.isEmpty)
        #expect(outcome.personal.total == 3)
        #expect(!outcome.events.isEmpty)
    }

    @Test func callersAreEstimatedWithin2Percent() {
        var lines: [String] = []
        for index in 0..<1_000 {
            let digits = String(1_000_000 + index * 7_919)
            lines.append(row(start: hour + Int64(index), src: "+1 202 \(digits)"))
            // The same caller again, written differently: the same token.
            lines.append(row(start: hour + Int64(index), src: "", clid: "\"X\" <+1202\(digits)>"))
        }
        let outcome = run(lines.joined(separator: "\n"), policy: policy(events: false, vault: false))
        let total = try! #require(outcome.records.first { $0.dimension == "total" })
        #expect(total.calls == 2_000)
        #expect(abs(total.callers - 1_000) <= 20, "\(total.callers)")
    }

    @Test func callerTokensRotateWithTheKeyPeriod() throws {
        let text = [row(start: hour, src: "2025550100"), row(start: hour + 86_400, src: "2025550100")].joined(separator: "\n")
        let events = try jsonLines(run(text, policy: policy()).events)
        #expect(events.count == 2)
        #expect(events[0]["caller"] as? String != events[1]["caller"] as? String)
    }

    @Test func mergeEqualsTheWhole() {
        let lines: [String] = (0..<300).map { (index: Int) -> String in
            let start = hour + Int64(index * 37)
            let answered = index % 2 == 0
            return row(start: start, answer: answered ? start + 2 : nil, billsec: answered ? Int64(index) : 0,
                       src: "20255501\(index % 40)", dst: String(100 + index % 9), context: answered ? "a" : "b",
                       app: answered ? "Answer" : "Queue", id: "u\(index / 2)")
        }
        // Split at a call boundary: the IVR path follows consecutive rows within one input.
        let whole = run(lines.joined(separator: "\n"), policy: policy(events: false, vault: false))
        var left = makeProcessor(policy(events: false, vault: false))
        var right = makeProcessor(policy(events: false, vault: false))
        feed(Array(lines[..<150].joined(separator: "\n").utf8), into: &left)
        feed(Array(lines[150...].joined(separator: "\n").utf8), into: &right)
        left.mergeTrends(right)
        #expect(left.aggregator.records() == whole.records)
        #expect(left.aggregator.records(minCount: 5) == run(lines.joined(separator: "\n"), policy: policy(events: false, vault: false, minCount: 5)).records)
    }

    @Test func policyClassesDecideWhatIsRead() throws {
        let text = row(answer: hour, duration: 30, billsec: 20, src: "2025550100", dst: "100", app: "Queue", disposition: "ANSWERED")
        // No caller numbers: no callers, no caller pseudonym.
        let noCallers = run(text, policy: policy { $0.fields[.callerNumber] = .drop })
        #expect(noCallers.records.allSatisfy { $0.callers == 0 })
        #expect(!noCallers.events.contains("caller"))
        #expect(noCallers.personal.byField[.callerNumber] == nil)
        // Talk time not interaction: no talk seconds, no percentiles, no billsec in events.
        let noTalk = run(text, policy: policy { $0.fields[.talkTime] = .personal })
        #expect(noTalk.records.allSatisfy { $0.talkSeconds == 0 && $0.talkP50 == 0 && $0.answered == 1 })
        #expect(!noTalk.events.contains("billsec"))
        // A dimension whose role is not interaction is not counted, nor written in events.
        let noDialled = run(text, policy: policy { $0.fields[.dialled] = .personal; $0.fields[.application] = .drop })
        #expect(values(noDialled, "dialled").isEmpty && values(noDialled, "ivr_path").isEmpty)
        #expect(!noDialled.events.contains("dialled") && !noDialled.events.contains("application"))
        // Dimensions the policy leaves out.
        let totalOnly = run(text, policy: policy { $0.callDimensions = [] })
        #expect(totalOnly.records.map(\.dimension) == ["total"])
        #expect(try jsonLines(totalOnly.events).first?["dialled"] as? String == "100", "events still carry interaction data")
    }

    @Test func finishInputStartsAfresh() {
        var processor = makeProcessor(policy())
        feed(Array((row(src: "555-555-0123", app: "Queue", id: "same") + "\nbad").utf8), into: &processor)
        let first = processor.finishInput()
        #expect(first.counts.parsed == 1 && first.counts.rejected == 1 && first.personal.total == 1)
        processor.startInput(parser: PipeCallParser())
        feed(Array(row(app: "Dial", id: "same").utf8), into: &processor)
        let second = processor.finishInput()
        #expect(second.counts.parsed == 1 && second.counts.rejected == 0 && second.personal.total == 0)
        // A new input starts a new call even when the uniqueid repeats.
        #expect(Set(processor.aggregator.records().filter { $0.dimension == "ivr_path" }.map(\.value)) == ["Queue", "Dial"])
    }

    /// The shared real CDRs, through this file's small reader and through `AsteriskCDRParser`.
    @Test(arguments: ["telephony/cdr.csv", "telephony/smallcdr.csv", "telephony/smallcdr_wo_parallelcalls.csv"], [false, true])
    func sharedRealCallRecords(relative: String, realParser: Bool) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let lineCount = bytes.filter { $0 == UInt8(ascii: "\n") }.count + (bytes.last == UInt8(ascii: "\n") ? 0 : 1)
        let standard = policy(events: true, vault: true, minCount: Policy.standard.minCount)
        var processor = makeProcessor(standard, parser: realParser ? AsteriskCDRParser() as any CallLineParser : MiniAsteriskParser())
        feed(bytes, into: &processor)
        let (counts, rejects, personal) = processor.finishInput()
        #expect(counts.rejected == 0 && rejects.total == 0)
        #expect(counts.parsed == lineCount)
        let records = processor.aggregator.records(minCount: standard.minCount)
        let totals = records.filter { $0.dimension == "total" }
        #expect(totals.reduce(0) { $0 + $1.calls } == Int64(lineCount))
        for dimension in ["dialled", "context", "ivr_path", "disposition"] {
            for total in totals {
                let rows = records.filter { $0.dimension == dimension && $0.bucketStart == total.bucketStart }
                #expect(rows.reduce(0) { $0 + $1.calls } == total.calls)
                #expect(rows.reduce(0) { $0 + $1.talkSeconds } == total.talkSeconds)
            }
        }
        // Every caller number and name of the file, straight from the CSV.
        var numbers = Set<String>(), names = Set<String>()
        var parser = MiniAsteriskParser()
        var decoded: [UInt8] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let result = try line.withUnsafeBytes { try parser.parse($0, decoded: &decoded) }
            guard case .decodedEvent(let event) = result else { continue }
            if let source = event.source { numbers.insert(String(decoding: decoded[source], as: UTF8.self)) }
            if let name = event.callerName, name.count > 2 { names.insert(String(decoding: decoded[name], as: UTF8.self)) }
        }
        let published = Set(records.filter { $0.dimension == "dialled" }.map(\.value))
        let catalog = numbers.subtracting(published).map { PlantedValue(kind: "phone", canonical: $0.filter(\.isNumber)) }
            + names.map { PlantedValue(kind: "name", canonical: $0) }
        let checker = PrivacyChecker(catalog: catalog)
        let events = String(decoding: processor.eventBuffer, as: UTF8.self)
        #expect(checker.findings(in: records.map { "\($0.dimension)=\($0.value)" }.joined(separator: "\n")).isEmpty)
        #expect(checker.findings(in: events).isEmpty)
        // A dialled number is published only with enough callers.
        #expect(records.filter { $0.dimension == "dialled" && $0.value != "(other)" && $0.value != "(none)" }
            .allSatisfy { $0.callers >= standard.minCount })
        #expect((personal.byField[.callerNumber]?[.phone] ?? 0) > 0)
        let answered: Int64 = totals.reduce(0) { $0 + $1.answered }
        let p95: Int64 = totals.map(\.talkP95).max() ?? 0
        let kinds: [String] = personal.byKind.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }
        let vaultLines = processor.vaultBuffer.filter { $0 == UInt8(ascii: "\n") }.count
        print("\(relative) (\(realParser ? "AsteriskCDRParser" : "test reader")): \(counts.parsed) rows, \(totals.count) hours, \(answered) answered, \(records.count) rows published, max hourly p95 \(p95) s, PI by kind \(kinds.joined(separator: " ")), vault lines \(vaultLines)")
    }
}
