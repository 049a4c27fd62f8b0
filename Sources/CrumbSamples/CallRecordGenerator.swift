import CrumbCore

/// A deterministic generator of realistic call detail records for a contact centre: Asterisk `cdr_csv`
/// (`Master.csv`, 16 to 21 columns) or FreeSWITCH `mod_cdr_csv` (the shipped `example` template, or the module's
/// built-in one), in the formats `AsteriskCDRParser` and `FreeSWITCHCDRParser` read.
///
/// Shape: a few service lines (freephone and national DIDs from Ofcom's drama ranges) feeding queues and IVRs;
/// calls over the window in time order, busiest in office hours (in the local zone) and quieter at weekends;
/// callers drawn from a Zipf pool (some call often), a third with a caller name; inbound calls answered by an
/// agent (sometimes after a first agent did not pick up, as a second row of the same call), abandoned in the
/// queue, served by the IVR, or not answered, busy, failed or congested; agent callbacks to customers; talk
/// times with a long right tail (median about three minutes, a few over an hour).
///
/// Personal data sits where real CDRs carry it: caller numbers (`src`, `clid`, `${caller_id_number}`) and names
/// (`"Name" <number>`, upper-case CNAM, `Last, First`, a nickname in quotes), numbers inside channel names
/// (`Local/+447700900123@callback-…`) and dial strings (`PJSIP/+44…@trunk-out`), and the number dialled by an
/// outbound callback. With `plantPersonalData`, values of `AccessLogGenerator.plantedCatalog` also go into
/// account codes, keypad input in `lastdata` (`SendDTMF`, `SayDigits`, an `AGI` script's arguments) and the
/// `userfield` (emails, cards, IBANs, phones, dates of birth...), in the ways people write them. Every caller
/// number and name, every dialled customer number and every catalogue value that was written is listed in
/// `planted`, so that a test can demand that none of them reaches an output.
///
/// The output depends only on the options (own PRNG, integer-only sampling, own calendar arithmetic).
public struct CallRecordGenerator: Sendable {
    /// Which switch writes the rows.
    public enum Dialect: Sendable, Equatable {
        /// Asterisk `cdr_csv` with these optional columns (`[.uniqueID, .userField]`: 18 columns).
        case asterisk(AsteriskCDRParser.Columns)
        /// FreeSWITCH `mod_cdr_csv` with `FreeSWITCHCDRParser.exampleTemplate` (15 columns).
        case freeSWITCH
        /// FreeSWITCH with `FreeSWITCHCDRParser.builtInTemplate` (13 columns).
        case freeSWITCHBuiltIn
    }

    public struct Options: Sendable {
        public var seed: UInt64 = 1
        public var dialect: Dialect = .asterisk([.uniqueID, .userField])
        /// Epoch seconds (UTC) of the start of the window; default 2026-01-05T00:00:00Z (a Monday).
        public var start: Int64 = 1_767_571_200
        /// Calls start in `[start, start + duration)`, in time order.
        public var duration: Int64 = 7 * 86_400
        /// Calls to generate; a call writes one row, or two when a first agent did not answer.
        public var calls: Int = 2_000
        /// The switch's zone, in which the rows' times are written; a fixed offset east of UTC.
        public var utcOffsetMinutes: Int = 60
        /// Size of the caller pool.
        public var distinctCallers: Int = 1_500
        /// Share of calls that are agents calling customers back.
        public var outboundShare: Double = 0.08
        /// Put names on callers and catalogue values into account codes, `lastdata` and `userfield`.
        public var plantPersonalData: Bool = true
        public init() {}
    }

    /// Every personal value written so far, each once, in the order first written: caller numbers (kind
    /// `phone`, canonical as written: `+447700900123`, `07700900123`), caller name parts (kind `name`) and the
    /// catalogue values planted (see `AccessLogGenerator.plantedCatalog`).
    public private(set) var planted: [PlantedValue] = []
    /// Rows written so far.
    public private(set) var rowCount = 0

    private let options: Options
    private let callers: [Caller]
    private let callerZipf: ZipfTable
    private let timeline: CallTimeline
    private var rng: Xoshiro256StarStar
    private var plantedSet: Set<PlantedValue> = []
    private var cursors = [Int](repeating: 0, count: PlantKind.allCases.count)
    private var produced = 0
    private var channelSequence: UInt64 = 0x1a2
    private var lastStart: Int64

    public init(options: Options) {
        self.options = options
        callers = Caller.pool(count: max(options.distinctCallers, 16), named: options.plantPersonalData,
                              seed: SplitMix64.mix(options.seed ^ 0x6361_6C6C_6572))
        callerZipf = ZipfTable(count: callers.count, offset: 3)
        timeline = CallTimeline(start: options.start, duration: max(options.duration, 1),
                                utcOffsetMinutes: options.utcOffsetMinutes)
        rng = Xoshiro256StarStar(seed: SplitMix64.mix(options.seed ^ 0x6364_7273))
        lastStart = options.start
    }

    /// All `options.calls` calls as one byte array, and the personal values written.
    public static func generate(_ options: Options) -> (bytes: [UInt8], planted: [PlantedValue]) {
        var generator = CallRecordGenerator(options: options)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(max(0, options.calls) * 260)
        for _ in 0..<max(0, options.calls) {
            generator.appendCall(to: &buffer)
        }
        return (buffer, generator.planted)
    }

    /// Appends the rows of the next call, each ended by "\n", to `buffer`. Calls past `options.calls` keep
    /// coming, all in the window's last stretch.
    public mutating func appendCall(to buffer: inout [UInt8]) {
        let start = nextStart()
        let call = nextCall(start: start)
        for leg in call.legs {
            appendRow(call, leg, to: &buffer)
            rowCount += 1
        }
    }

    // MARK: - Calls

    /// One call's facts, shared by its rows.
    private struct Call {
        var start: Int64
        var uniqueID: String
        var uuid: String
        var accountCode: String
        var source: String
        var callerName: String?
        var destination: String
        var context: String
        var channel: String
        var userField: String
        var legs: [Leg]
    }

    /// One row of a call: the party it rang and how that ended.
    private struct Leg {
        var destinationChannel: String
        var lastApplication: String
        var lastData: String
        var outcome: Outcome
        /// Seconds from the call's start to this leg's answer or end.
        var wait: Int64
        var talk: Int64
    }

    private enum Outcome {
        case answered, noAnswer, abandoned, busy, failed, congestion

        var asterisk: String {
            switch self {
            case .answered: "ANSWERED"
            case .noAnswer, .abandoned: "NO ANSWER"
            case .busy: "BUSY"
            case .failed: "FAILED"
            case .congestion: "CONGESTION"
            }
        }

        var hangupCause: String {
            switch self {
            case .answered: "NORMAL_CLEARING"
            case .noAnswer: "NO_ANSWER"
            case .abandoned: "ORIGINATOR_CANCEL"
            case .busy: "USER_BUSY"
            case .failed: "NO_ROUTE_DESTINATION"
            case .congestion: "NORMAL_TEMPORARY_FAILURE"
            }
        }
    }

    /// The service lines: DID (Ofcom drama ranges 0808 157 and 0306 999), dialplan context, queue.
    private static let services: [(did: String, context: String, queue: String, weight: UInt32)] = [
        ("+448081570100", "queue-sales", "sales", 30),
        ("+448081570200", "queue-support", "support", 35),
        ("+443069990300", "ivr-billing", "billing", 20),
        ("+443069990400", "queue-claims", "claims", 10),
        ("08081570500", "ivr-main", "general", 5),
    ]
    private static let serviceChoice = WeightedChoice(services.map(\.weight))
    private static let clientCodes = ["CLIENT-NORTHWIND", "CLIENT-CONTOSO", "CLIENT-FABRIKAM"]
    private static let trunks = ["PJSIP/trunk-gamma", "PJSIP/trunk-sipgate", "SIP/trunk-bt"]
    private static let agentTeams = ["Sales Desk", "Support Desk", "Billing Desk", "Claims Desk"]

    /// Outcomes of an inbound call, in tenths of a percent.
    private static let inboundChoice = WeightedChoice([620, 90, 100, 90, 50, 35, 15])

    /// Talk time in seconds: ranges and weights, a long right tail (median about 3 minutes).
    private static let talkRanges: [ClosedRange<Int>] = [
        3...30, 31...60, 61...120, 121...240, 241...420, 421...720, 721...1_200, 1_201...2_400, 2_401...5_400,
    ]
    private static let talkChoice = WeightedChoice([8, 10, 18, 24, 18, 12, 6, 3, 1])
    /// Queue wait before an agent answers, in seconds.
    private static let waitRanges: [ClosedRange<Int>] = [2...10, 11...30, 31...90, 91...240, 241...600]
    private static let waitChoice = WeightedChoice([30, 30, 22, 13, 5])

    private mutating func nextCall(start: Int64) -> Call {
        produced += 1
        let sequence = produced
        let uniqueID = String(start) + "." + String(sequence)
        let uuid = Self.uuid(SplitMix64.mix(options.seed ^ UInt64(sequence) &* 0x9E37_79B9_7F4A_7C15))
        let caller = callers[callerZipf.sample(&rng)]
        let isOutbound = rng.chance(options.outboundShare) && caller.number != "anonymous"
        let service = Self.services[Self.serviceChoice.sample(&rng)]
        let agent = 2_001 + rng.below(40)

        var call = Call(
            start: start, uniqueID: uniqueID, uuid: uuid, accountCode: "", source: caller.number,
            callerName: caller.name, destination: service.did, context: service.context,
            channel: rng.pick(Self.trunks) + "-" + nextChannelSuffix(), userField: "", legs: [])
        if rng.below(10) < 3 { call.accountCode = Self.clientCodes[rng.below(Self.clientCodes.count)] }
        if options.plantPersonalData && rng.below(100) < 8 {
            call.accountCode = plantForm(.account).replacingOccurrences(of: " ", with: "-")
        }
        if isOutbound {
            // Only the number is written: the agent's desk name stands in the caller ID.
            caller.planted.first.map { record($0) }
            // An agent calls the customer back: the customer's number is dialled, and sits in the dial string and,
            // for a callback originated through a Local channel, in the channel name.
            call.source = String(agent)
            call.callerName = Self.agentTeams[rng.below(Self.agentTeams.count)]
            call.destination = caller.number
            call.context = "from-internal"
            call.channel = rng.below(3) == 0
                ? "Local/" + caller.number + "@callback-" + nextChannelSuffix() + ";1"
                : "PJSIP/" + String(agent) + "-" + nextChannelSuffix()
            let roll = rng.below(100)
            let outcome: Outcome = roll < 70 ? .answered : roll < 88 ? .noAnswer : roll < 96 ? .busy : .failed
            call.legs = [leg(outcome, application: "Dial", data: "PJSIP/" + caller.number + "@trunk-out,60,tT",
                             channel: "PJSIP/trunk-out-" + nextChannelSuffix())]
        } else {
            for value in caller.planted { record(value) }
            let queueData = service.queue + ",tT,,,300"
            switch Self.inboundChoice.sample(&rng) {
            case 0:
                let agentChannel = "PJSIP/" + String(agent) + "-" + nextChannelSuffix()
                if rng.below(10) == 0 {
                    // A first agent rang out; the queue moved on to a second one, in the same CDR's next row.
                    let first = leg(.noAnswer, application: "Queue", data: queueData,
                                    channel: "PJSIP/" + String(2_001 + rng.below(40)) + "-" + nextChannelSuffix())
                    var second = leg(.answered, application: "Queue", data: queueData, channel: agentChannel)
                    second.wait += first.wait
                    call.legs = [first, second]
                } else {
                    call.legs = [leg(.answered, application: "Queue", data: queueData, channel: agentChannel)]
                }
            case 1:
                call.legs = [leg(.abandoned, application: "Queue", data: queueData, channel: "")]
            case 2:
                call.context = service.context == "ivr-main" ? "ivr-main" : "ivr-billing"
                let (application, data) = ivrStep()
                call.legs = [leg(.answered, application: application, data: data, channel: "")]
            case 3:
                call.legs = [leg(.noAnswer, application: "Dial", data: "PJSIP/2001&PJSIP/2002&PJSIP/2003,30,tT",
                                 channel: "PJSIP/2002-" + nextChannelSuffix())]
            case 4:
                call.legs = [leg(.busy, application: "Dial", data: "PJSIP/" + String(agent) + ",30,tT",
                                 channel: "PJSIP/" + String(agent) + "-" + nextChannelSuffix())]
            case 5:
                call.legs = [leg(.failed, application: "Dial", data: "PJSIP/" + String(agent) + ",30,tT", channel: "")]
            default:
                call.legs = [leg(.congestion, application: "Dial", data: "PJSIP/trunk-overflow/" + service.did, channel: "")]
            }
        }
        if case .asterisk(let columns) = options.dialect, columns.contains(.userField) {
            call.userField = nextUserField(queue: service.queue)
        }
        return call
    }

    private mutating func leg(_ outcome: Outcome, application: String, data: String, channel: String) -> Leg {
        let wait: Int64
        let talk: Int64
        switch outcome {
        case .answered:
            wait = application == "Queue" ? Int64(rng.between(Self.waitRanges[Self.waitChoice.sample(&rng)]))
                : Int64(rng.between(0...8))
            talk = Int64(rng.between(Self.talkRanges[Self.talkChoice.sample(&rng)]))
        case .noAnswer:
            wait = Int64(rng.between(8...45))
            talk = 0
        case .abandoned:
            wait = Int64(rng.between(Self.waitRanges[Self.waitChoice.sample(&rng)]))
            talk = 0
        case .busy:
            wait = Int64(rng.between(1...6))
            talk = 0
        case .failed, .congestion:
            wait = Int64(rng.between(0...3))
            talk = 0
        }
        return Leg(destinationChannel: channel, lastApplication: application, lastData: data, outcome: outcome,
                   wait: wait, talk: talk)
    }

    /// The last dialplan step of a call the IVR served; with planting, often keypad input in its arguments.
    private mutating func ivrStep() -> (String, String) {
        // Only Asterisk's rows have a `lastdata` column to carry it.
        if case .asterisk = options.dialect, options.plantPersonalData, rng.below(2) == 0 {
            // Digits-only values: what a caller can key in.
            let kinds: [PlantKind] = [.card, .card, .dob, .ssn]
            let digits = plantCanonical(kinds[rng.below(kinds.count)])
            switch rng.below(3) {
            case 0: return ("SendDTMF", digits + "#")
            case 1: return ("SayDigits", digits)
            default: return ("AGI", "payment-verify.agi," + digits + ",1")
            }
        }
        switch rng.below(5) {
        case 0: return ("Read", "ACCTNO,custom/enter-account-number,10,,3,5")
        case 1: return ("Read", "CHOICE,custom/billing-menu,1,,2,4")
        case 2: return ("Playback", "custom/balance-info&custom/goodbye")
        case 3: return ("BackGround", "custom/ivr-main-menu")
        default: return ("Hangup", "")
        }
    }

    /// The `userfield`: mostly empty or operational, with planting sometimes a note holding personal data.
    private mutating func nextUserField(queue: String) -> String {
        let roll = rng.below(100)
        if options.plantPersonalData && roll < 14 {
            let kinds: [PlantKind] = [.email, .email, .card, .phone, .iban, .ssn, .dob, .address, .name, .username]
            let kind = kinds[rng.below(kinds.count)]
            let form = plantForm(kind)
            switch kind {
            case .email: return rng.below(2) == 0 ? "email=" + form : "contact " + form + ", wants reply"
            case .card: return "card=" + form
            case .phone: return "cb=" + form
            case .iban: return "iban=" + form
            case .ssn: return "ssn=" + form
            case .dob: return "dob=" + form
            case .address: return "addr=" + form
            case .name: return "note=VIP, asked for \"" + form + "\""
            case .username: return "portal user " + form
            case .account: return "acct=" + form
            }
        }
        if roll < 40 { return "queue=" + queue + ";wait_sla=" + (rng.below(4) == 0 ? "missed" : "met") }
        return ""
    }

    // MARK: - Planting

    /// The next value of `kind` from the catalogue (each in turn), written one of its ways, and noted as planted.
    private mutating func plantForm(_ kind: PlantKind) -> String {
        let value = nextValue(kind)
        let forms = value.forms
        return forms[max(0, rng.below(forms.count + 1) - 1)]
    }

    /// The next value of `kind`, in canonical form, noted as planted.
    private mutating func plantCanonical(_ kind: PlantKind) -> String {
        nextValue(kind).canonical
    }

    private mutating func nextValue(_ kind: PlantKind) -> PlantKind.Value {
        let values = PlantKind.values[kind.rawValue]
        let value = values[cursors[kind.rawValue] % values.count]
        cursors[kind.rawValue] += 1
        record(PlantedValue(kind: String(describing: kind), canonical: value.canonical))
        return value
    }

    private mutating func record(_ value: PlantedValue) {
        if plantedSet.insert(value).inserted { planted.append(value) }
    }

    // MARK: - Time and identifiers

    private mutating func nextStart() -> Int64 {
        let index = produced
        var time = timeline.instant(index: index, of: max(options.calls, 1), rng: &rng)
        if time < lastStart { time = lastStart }
        lastStart = time
        return time
    }

    private mutating func nextChannelSuffix() -> String {
        channelSequence &+= UInt64(1 + rng.below(7))
        let hex = String(channelSequence, radix: 16)
        return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    /// A version-4-shaped UUID whose hex never runs more than six digits (so it cannot look like a number).
    private static func uuid(_ seed: UInt64) -> String {
        let hex = String.hexToken(seed: seed, length: 32)
        let bytes = Array(hex.utf8)
        func part(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        return part(0..<8) + "-" + part(8..<12) + "-4" + part(13..<16) + "-a" + part(17..<20) + "-" + part(20..<32)
    }

    // MARK: - Rows

    private mutating func appendRow(_ call: Call, _ leg: Leg, to buffer: inout [UInt8]) {
        let answered = leg.outcome == .answered
        let answer: Int64? = answered ? call.start + leg.wait : nil
        let end = call.start + leg.wait + leg.talk
        let offset = Int64(options.utcOffsetMinutes) * 60
        switch options.dialect {
        case .asterisk(let columns):
            var row = CSVWriter(quotes: .doubled)
            row.quoted(call.accountCode)
            row.quoted(call.source)
            row.quoted(call.destination)
            row.quoted(call.context)
            row.quoted(Self.callerID(name: call.callerName, number: call.source))
            row.quoted(call.channel)
            row.quoted(leg.destinationChannel)
            row.quoted(leg.lastApplication)
            row.quoted(leg.lastData)
            row.quoted(Self.civil(call.start + offset))
            if let answer { row.quoted(Self.civil(answer + offset)) } else { row.bare("") }
            row.quoted(Self.civil(end + offset))
            row.bare(String(end - call.start))
            row.bare(String(leg.talk))
            row.quoted(leg.outcome.asterisk)
            row.quoted("DOCUMENTATION")
            if columns.contains(.uniqueID) { row.quoted(call.uniqueID) }
            if columns.contains(.userField) { row.quoted(call.userField) }
            if columns.contains(.newColumns) {
                row.quoted("")
                row.quoted(call.uniqueID)
                row.bare(String(produced * 3 + (leg.outcome == .answered ? 1 : 0)))
            }
            row.finish(into: &buffer)
        case .freeSWITCH, .freeSWITCHBuiltIn:
            var row = CSVWriter(quotes: .pasted)
            row.quoted(call.callerName ?? call.source)
            row.quoted(call.source)
            row.quoted(call.destination)
            row.quoted(call.context)
            row.quoted(Self.civil(call.start + offset))
            row.quoted(answer.map { Self.civil($0 + offset) } ?? "")
            row.quoted(Self.civil(end + offset))
            row.quoted(String(end - call.start))
            row.quoted(String(leg.talk))
            row.quoted(leg.outcome.hangupCause)
            row.quoted(call.uuid)
            row.quoted(leg.destinationChannel.isEmpty ? "" : Self.uuid(SplitMix64.mix(UInt64(bitPattern: end) ^ 0x626C_6567)))
            if options.dialect == .freeSWITCHBuiltIn {
                row.quoted(call.accountCode, spaced: true)
            } else {
                row.quoted(call.accountCode)
                let codec = answered ? ["PCMA", "PCMU", "G722", "opus"][Int(call.start % 4)] : ""
                row.quoted(codec)
                row.quoted(codec)
            }
            row.finish(into: &buffer)
        }
    }

    /// `"Name" <number>` as Asterisk's `ast_callerid_merge` writes it, or the bare number.
    private static func callerID(name: String?, number: String) -> String {
        guard let name else { return number }
        return "\"" + name + "\" <" + number + ">"
    }

    /// `YYYY-MM-DD HH:MM:SS` of `local` seconds.
    private static func civil(_ local: Int64) -> String {
        let days = CivilTime.dayNumber(of: local)
        let second = local - days * 86_400
        let (year, month, day) = CivilTime.civilFromDays(days)
        func two(_ value: Int64) -> String { value < 10 ? "0" + String(value) : String(value) }
        return String(year) + "-" + two(month) + "-" + two(day) + " " + two(second / 3_600) + ":" + two(second / 60 % 60)
            + ":" + two(second % 60)
    }
}

/// Assembles one CSV row.
private struct CSVWriter {
    enum Quotes {
        /// `"` doubled inside a quoted value (Asterisk's `append_string`, RFC 4180).
        case doubled
        /// Pasted as they are (FreeSWITCH expands its template without escaping).
        case pasted
    }

    let quotes: Quotes
    private var bytes: [UInt8] = []

    init(quotes: Quotes) {
        self.quotes = quotes
        bytes.reserveCapacity(320)
    }

    private mutating func separate() {
        if !bytes.isEmpty { bytes.append(UInt8(ascii: ",")) }
    }

    /// `"value"`; with `spaced`, `, "value"`, as FreeSWITCH's built-in template writes its last column.
    mutating func quoted(_ value: String, spaced: Bool = false) {
        separate()
        if spaced { bytes.append(UInt8(ascii: " ")) }
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            if byte == UInt8(ascii: "\"") && quotes == .doubled { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func bare(_ value: String) {
        separate()
        bytes.append(contentsOf: value.utf8)
    }

    func finish(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: "\n"))
    }
}

// MARK: - Callers

/// A caller of the pool: the number as the switch writes it, perhaps a name, and the personal values they are.
private struct Caller: Sendable {
    var number: String
    var name: String?
    var planted: [PlantedValue]

    /// `count` callers: the catalogue's phones first (so that they call often), then numbers from the ranges
    /// regulators reserve for fiction (Ofcom 07700 900xxx, 0113 496 0xxx, 0161 496 0xxx, 020 7946 0xxx; US
    /// NXX-555-01xx; ARCEP 01 99 00 xx xx), each unique. With `named`, about a third carry a caller name made of
    /// the catalogue's invented first and last names.
    static func pool(count: Int, named: Bool, seed: UInt64) -> [Caller] {
        var rng = Xoshiro256StarStar(seed: seed)
        var numbers: [String] = PlantKind.values[PlantKind.phone.rawValue].map(\.canonical)
        var seen = Set(numbers)
        let areaCodes = ["202", "312", "415", "617", "718"]
        var attempts = 0
        while numbers.count < count && attempts < count * 50 {
            attempts += 1
            let suffix = rng.below(1_000)
            func padded(_ value: Int, _ width: Int) -> String {
                let text = String(value)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            let number: String
            switch rng.below(10) {
            case 0...3: number = (rng.below(3) == 0 ? "07700" : "+447700") + "900" + padded(suffix, 3)
            case 4: number = "+44113496" + padded(suffix, 4)
            case 5: number = "01614960" + padded(suffix, 3)
            case 6: number = "+44207946" + padded(suffix, 4)
            case 7, 8: number = "+1" + areaCodes[rng.below(areaCodes.count)] + "55501" + padded(suffix % 100, 2)
            default: number = "+3319900" + padded(rng.below(10_000), 4)
            }
            if seen.insert(number).inserted { numbers.append(number) }
        }
        let firsts = SampleCorpus.firstNames
        let lasts = SampleCorpus.lastNames
        return numbers.enumerated().map { index, number in
            var planted = [PlantedValue(kind: "phone", canonical: number)]
            let withheld = index >= 8 && rng.below(25) == 0
            if withheld {
                return Caller(number: "anonymous", name: "Anonymous", planted: [])
            }
            guard named && rng.below(3) == 0 else { return Caller(number: number, name: nil, planted: planted) }
            let first = firsts[rng.below(firsts.count)]
            let last = lasts[rng.below(lasts.count)]
            planted += [PlantedValue(kind: "name", canonical: first), PlantedValue(kind: "name", canonical: last)]
            let name: String
            switch rng.below(6) {
            case 0, 1: name = first + " " + last
            case 2: name = (last + " " + first).uppercased()
            case 3: name = last + ", " + first
            case 4: name = first + " \"" + String(first.prefix(3)) + "\" " + last
            default: name = first.prefix(1) + ". " + last
            }
            return Caller(number: number, name: name, planted: planted)
        }
    }
}

// MARK: - Traffic curve

/// Hourly buckets over the window, weighted by a contact centre's day in the local zone: closed-ish nights, a
/// morning peak, a lunch dip, an afternoon peak; weekends at a third.
private struct CallTimeline: Sendable {
    let start: Int64
    let end: Int64
    let cumulative: [Int64]
    let weights: [Int64]

    init(start: Int64, duration: Int64, utcOffsetMinutes: Int) {
        self.start = start
        end = start + duration
        let hourly: [Int64] = [1, 1, 1, 1, 1, 1, 2, 4, 9, 14, 15, 13, 10, 10, 13, 13, 11, 8, 5, 3, 2, 2, 1, 1]
        let hours = Int((duration + 3_599) / 3_600)
        var weights: [Int64] = []
        var cumulative: [Int64] = [0]
        for hour in 0..<hours {
            let local = start + Int64(hour) * 3_600 + Int64(utcOffsetMinutes) * 60
            let days = CivilTime.dayNumber(of: local)
            let weekday = (days + 3) % 7  // 0 = Monday (1970-01-01 was a Thursday)
            var weight = hourly[Int((local - days * 86_400) / 3_600)] * 3
            if weekday >= 5 { weight /= 3 }
            weights.append(weight)
            cumulative.append(cumulative[cumulative.count - 1] + weight)
        }
        self.weights = weights
        self.cumulative = cumulative
    }

    /// The start of call `index` of `count`: at position (index + r)/count of the total weight, r uniform in
    /// [0, 1), so that starts never decrease.
    func instant(index: Int, of count: Int, rng: inout Xoshiro256StarStar) -> Int64 {
        let total = cumulative[cumulative.count - 1]
        let scale: Int64 = 3_600
        let clamped = Int64(min(index, count - 1))
        let position = (clamped * total * scale + Int64(rng.below(Int(total * scale)))) / Int64(count)
        var low = 0
        var high = weights.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if cumulative[middle] * scale <= position { low = middle } else { high = middle - 1 }
        }
        let within = (position - cumulative[low] * scale) / weights[low]
        return min(start + Int64(low) * 3_600 + min(within, 3_599), end - 1)
    }
}
