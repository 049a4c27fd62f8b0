/// How call detail records are turned into trends: validated once, then used on every row.
public struct CallLogConfiguration: Sendable {
    /// The privacy policy in force.
    public var policy: Policy
    /// Reject samples kept per input.
    public var rejectSamples = 5

    public init(policy: Policy = .standard) {
        self.policy = policy
    }
}

/// The policy's telephony field classes, resolved once into the questions the hot path asks.
struct CallFieldRules: Sendable {
    /// Personal fields read at all (scanned and counted): not `drop`.
    let readsCallerNumber, readsCallerName, readsAccountCode, readsChannel, readsApplicationData, readsUserField,
        readsOther: Bool
    /// Fields whose findings may go to the vault: classed personal.
    let vaultCallerNumber, vaultCallerName, vaultAccountCode, vaultChannel, vaultApplicationData, vaultUserField,
        vaultOther: Bool
    /// Fields that feed the trends and the events output: classed interaction.
    let dialledIsInteraction, contextIsInteraction, applicationIsInteraction, dispositionIsInteraction,
        talkTimeIsInteraction: Bool
    /// Whether caller numbers become keyed caller tokens: not when dropped, nor when sensitive (a token is
    /// derived from the number, and a sensitive field is only ever counted).
    let identifiesCaller: Bool

    init(_ policy: Policy) {
        func is_(_ role: Policy.Role, _ fieldClass: Policy.FieldClass) -> Bool { policy.fieldClass(of: role) == fieldClass }
        readsCallerNumber = !is_(.callerNumber, .drop)
        readsCallerName = !is_(.callerName, .drop)
        readsAccountCode = !is_(.accountCode, .drop)
        readsChannel = !is_(.channel, .drop)
        readsApplicationData = !is_(.applicationData, .drop)
        readsUserField = !is_(.userField, .drop)
        readsOther = !is_(.other, .drop)
        vaultCallerNumber = is_(.callerNumber, .personal)
        vaultCallerName = is_(.callerName, .personal)
        vaultAccountCode = is_(.accountCode, .personal)
        vaultChannel = is_(.channel, .personal)
        vaultApplicationData = is_(.applicationData, .personal)
        vaultUserField = is_(.userField, .personal)
        vaultOther = is_(.other, .personal)
        dialledIsInteraction = is_(.dialled, .interaction)
        contextIsInteraction = is_(.context, .interaction)
        applicationIsInteraction = is_(.application, .interaction)
        dispositionIsInteraction = is_(.disposition, .interaction)
        talkTimeIsInteraction = is_(.talkTime, .interaction)
        identifiesCaller = is_(.callerNumber, .personal) || is_(.callerNumber, .interaction)
    }
}

/// Parses, classifies, pseudonymizes and aggregates call detail records: the per-row hot path for
/// telephony.
///
/// For each row: parse into byte ranges; derive the keyed caller token; count the personal information of
/// the personal roles by kind (and send it to the vault buffer when the policy asks, never when
/// sensitive); count the call once in every enabled dimension; and, when asked, append a PI-free event.
///
/// - Caller: the keyed token (``VisitorHasher`` under the run's ``Keyring``, so it changes with the key
///   period) of the caller number normalised to its digits, with a leading `+` when written: `src`, else the
///   number in `clid`. A row without a caller is counted, but not in the callers sketch.
/// - Dimensions (`CallDimension`): `dialled` (`dst`), `context` (`dcontext`), `ivr_path`, `disposition`,
///   besides `total`. A value that is empty is `(none)`. Values are trimmed of spaces and tabs and cut at
///   64 bytes (32 for a disposition and an application).
/// - Dialled numbers are interaction data by the default policy, and a dialled value that the detectors
///   flag as a phone number stays a dimension value: per-dialled-number trends are what analysts ask for,
///   and k-anonymity (`CallAggregator.records(minCount:)`: fewer callers than `min_count` folds the row into
///   `(other)`) keeps a person's number out of published trends. The events output has no k-anonymity, so
///   there such a value (or any with 7 or more digits) is written as `{phone}`. A dialled or context value
///   holding any other kind (an email in a SIP URI) becomes `{kind}` everywhere.
/// - IVR path: the dialplan applications (`lastapp`) of one call joined with `>`. Consecutive rows sharing
///   `uniqueid` are the legs of one call; each row's value is the path of its call so far, with consecutive
///   repeats collapsed (`Answer>Playback>Queue`), so every row is still counted once. No application yet:
///   `(none)`. At most 8 applications, then `>…`. Application names keep only ASCII letters, digits, `_`,
///   `-` and `.` (other bytes become `_`).
/// - Disposition: the CSV's words, trimmed and upper-cased (`ANSWERED`, `NO ANSWER`, `NORMAL_CLEARING`).
/// - Personal roles (caller number and name, account code, channel, `app_data`, `user_field`, and `other`
///   for `CallEvent.unmapped`) are scanned with the detectors and counted by kind. A caller number or name
///   and an account code (account information, by the privacy policy) count as `named_field` when no
///   detector finds anything more specific. In channel names (`SIP/+4930123456-0000000a`: the peer between
///   the technology and the unique suffix) and dial strings (`SIP/+4930123456,30` in `lastdata`) an
///   address whose user part is 7 or more digits counts as a phone number even where the detectors, tuned
///   not to take web ids for phones, would not say so.
/// - Keypad input is sensitive: counted as `keypad`, never written anywhere, not even to the vault. The
///   `lastdata` of an application that reads or replays digits is keypad input when it holds a digit; so is
///   the `lastdata` of any application, or a `userfield`, that holds `=` and 4 or more digits (a variable set
///   from keypad input, `PIN=4711`). A field found to hold keypad input is not scanned further. See
///   ``keypadApplications``.
///
/// One processor per worker: it owns its aggregator, tallies, caches and output buffers; processors of
/// different workers merge with `mergeTrends(_:)`.
public struct CallLogProcessor: Sendable {
    public let configuration: CallLogConfiguration
    /// The current input's parser; `startInput(parser:)` sets a fresh one per input.
    public private(set) var parser: any CallLineParser
    public private(set) var aggregator: CallAggregator
    public private(set) var rejects: RejectTally
    public private(set) var counts = LineCounts()
    /// Personal information found in the current input, by kind and field (counts only).
    public var personal: PersonalDataTally { router.tally }
    /// A stream's event time (call start): with one, a row whose bucket is closed is counted in `counts.late`
    /// and otherwise ignored. Nil (a batch run) by default.
    public var watermark: EventTimeWatermark?
    /// Where a batch run moves the rows of closed buckets (`spillClosedBuckets()`), so that its memory stays
    /// flat however long the input; nil keeps every row until the end.
    public var spill: (any CallTrendSpill)?

    /// Events output (JSON Lines), filled when the policy asks for events; drained by the runner.
    public var eventBuffer: [UInt8] = []
    /// Vault output (JSON Lines), filled when the policy asks for the vault; drained by the runner.
    public var vaultBuffer: [UInt8] {
        get { router.vault }
        set { router.vault = newValue }
    }

    /// Applications whose `lastdata` is keypad input (digits a caller typed, or digits played back to them),
    /// compared case-insensitively: Asterisk's `Read`, `ReadExten`, `SendDTMF`, `ReceiveDTMF`,
    /// `Authenticate`, `VMAuthenticate`, `VoiceMailMain` (the mailbox a caller keys in), `DISA`, `SayDigits`,
    /// `SayNumber`, and FreeSWITCH's `read`, `play_and_get_digits`, `send_dtmf`. `Originate` is not listed:
    /// its arguments name a channel to call and are scanned like a dial string.
    public static let keypadApplications = [
        "Read", "ReadExten", "SendDTMF", "ReceiveDTMF", "Authenticate", "VMAuthenticate", "VoiceMailMain", "DISA",
        "SayDigits", "SayNumber", "play_and_get_digits", "send_dtmf",
    ]
    /// The most applications in an IVR path before it is cut with `>…`.
    public static let maxPathApplications = 8
    static let maxValueLength = 64
    static let maxWordLength = 32
    /// In a channel name or dial string, a user part of this many digits is a phone number.
    static let addressPhoneDigits = 7

    private var router = PersonalDataRouter(pseudonymPrefix: UInt8(ascii: "c"))
    private var decoded: [UInt8] = []
    private var callers: VisitorHasher
    private var sanitizer: RequestSanitizer
    private let rules: CallFieldRules
    private let enabled: [Bool]
    private let writeEvents: Bool
    private let writeVault: Bool
    private let keypadNames: [[UInt8]]

    // Values seen before, classified once: raw bytes → trend value.
    /// Raw values already resolved to a trend value. Each cache starts over past `cacheLimit` values, so that
    /// memory stays flat whatever the number of distinct values.
    static let cacheLimit = 1 << 16
    private var dialledSeen = ByteInterner(capacity: 256)
    private var dialledValues: [(id: Int, isNumber: Bool)] = []
    private var contextSeen = ByteInterner(capacity: 64)
    private var contextValues: [Int] = []
    private var dispositionSeen = ByteInterner(capacity: 64)
    private var dispositionValues: [Int] = []
    private var applicationSeen = ByteInterner(capacity: 64)
    private var applications: [(name: [UInt8], isKeypad: Bool)] = []
    private let totalValue, noDialled, noContext, noDisposition, noPath: Int

    // The current call, for the IVR path.
    private var callID: [UInt8] = []
    private var inCall = false
    private var path: [UInt8] = []
    private var pathLength = 0
    private var lastApplication = -1
    private var pathCut = false

    private var scratch: [UInt8] = []
    private var material: [UInt8] = []

    /// A processor whose first input is read with `parser`: by default Asterisk `cdr_csv` with UTC times,
    /// until `startInput(parser:)` names the input's own.
    public init(configuration: CallLogConfiguration, parser: any CallLineParser = AsteriskCDRParser(), keyring: Keyring) {
        let policy = configuration.policy
        self.configuration = configuration
        self.parser = parser
        self.callers = VisitorHasher(keyring: keyring)
        self.rejects = RejectTally(sampleLimit: configuration.rejectSamples)
        self.sanitizer = RequestSanitizer(detector: PersonalDataDetector(options: policy.detectorOptions), policy: policy)
        let rules = CallFieldRules(policy)
        self.rules = rules
        enabled = CallDimension.allCases.map { dimension in
            switch dimension {
            case .total: true
            case .dialled: policy.callDimensions.contains(.dialled) && rules.dialledIsInteraction
            case .context: policy.callDimensions.contains(.context) && rules.contextIsInteraction
            case .ivrPath: policy.callDimensions.contains(.ivrPath) && rules.applicationIsInteraction
            case .disposition: policy.callDimensions.contains(.disposition) && rules.dispositionIsInteraction
            }
        }
        writeEvents = policy.events
        writeVault = policy.vault
        keypadNames = Self.keypadApplications.map { Array($0.utf8).map(ASCII.lowercased) }
        var aggregator = CallAggregator(bucket: policy.bucket, valueCap: policy.maxValues)
        totalValue = aggregator.valueID(.total, "all")
        noDialled = aggregator.valueID(.dialled, Self.noneValue)
        noContext = aggregator.valueID(.context, Self.noneValue)
        noDisposition = aggregator.valueID(.disposition, Self.noneValue)
        noPath = aggregator.valueID(.ivrPath, Self.noneValue)
        self.aggregator = aggregator
        decoded.reserveCapacity(1024)
    }

    /// The value of an empty field.
    public static let noneValue = "(none)"

    /// Starts an input read with `parser` (a fresh one per input: parsers may keep state between rows).
    public mutating func startInput(parser: any CallLineParser) {
        self.parser = parser
        endCall()
    }

    /// Handles one frame from the line framer: counts it, and parses and aggregates a row.
    public mutating func process(_ frame: LineFramer.Frame) {
        switch frame {
        case .tooLong(let number, _):
            counts.read += 1
            counts.rejected += 1
            rejects.record(.lineTooLong, line: number, offset: 0, bytes: nil)
        case .line(let bytes, let number):
            counts.read += 1
            if bytes.isEmpty || bytes.allSatisfy(Self.isBlank) {
                counts.blank += 1
                return
            }
            // Moved out for the parse, so that the parser fills it without copying.
            var decoded: [UInt8] = []
            swap(&decoded, &self.decoded)
            defer { swap(&decoded, &self.decoded) }
            do {
                switch try parser.parse(bytes, decoded: &decoded) {
                case .event(let event):
                    counts.parsed += 1
                    handle(event, in: bytes)
                case .decodedEvent(let event):
                    counts.parsed += 1
                    decoded.withUnsafeBytes { handle(event, in: $0) }
                case .header:
                    counts.headers += 1
                }
            } catch {
                counts.rejected += 1
                rejects.record(error.code, line: number, offset: error.offset, bytes: bytes)
            }
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Classifies one call and counts it once in every enabled dimension.
    mutating func handle(_ event: CallEvent, in line: UnsafeRawBufferPointer) {
        // A stream's late row: its bucket has been emitted. Counted, and nothing else.
        if watermark?.admit(event.start) == false {
            counts.late += 1
            return
        }
        let day = CivilTime.dayNumber(of: event.start)
        let caller = rules.identifiesCaller ? callerToken(event, line, day: day) : nil

        // Personal information: counted always, kept only in the vault when the policy routes it there.
        // The router is moved out of `self` for the row, so that the scanners' callbacks capture it alone.
        var router = PersonalDataRouter(pseudonymPrefix: UInt8(ascii: "c"))
        swap(&router, &self.router)
        defer { swap(&router, &self.router) }
        router.begin(vaultVisitor: writeVault ? caller : nil, day: day)
        scanPersonalData(event, line, into: &router)
        router.end()

        // Trends.
        let ordinal = aggregator.bucketOrdinal(for: event.start)
        let answered = event.isAnswered
        let billSeconds: Int64? = rules.talkTimeIsInteraction ? max(0, event.billSeconds) : nil
        aggregator.add(bucket: ordinal, .total, value: totalValue, answered: answered, billSeconds: billSeconds, caller: caller)
        let dialled = enabled[CallDimension.dialled.rawValue] || (writeEvents && rules.dialledIsInteraction)
            ? dialledValue(bytes(line, event.destination)) : nil
        if enabled[CallDimension.dialled.rawValue], let dialled {
            aggregator.add(bucket: ordinal, .dialled, value: dialled.id, answered: answered, billSeconds: billSeconds, caller: caller)
        }
        let context = enabled[CallDimension.context.rawValue] || (writeEvents && rules.contextIsInteraction)
            ? contextValue(bytes(line, event.context)) : nil
        if enabled[CallDimension.context.rawValue], let context {
            aggregator.add(bucket: ordinal, .context, value: context, answered: answered, billSeconds: billSeconds, caller: caller)
        }
        var application = -1
        if let range = event.lastApplication,
           enabled[CallDimension.ivrPath.rawValue] || (writeEvents && rules.applicationIsInteraction) {
            application = applicationID(bytes(line, range))
        }
        if enabled[CallDimension.ivrPath.rawValue] {
            let value = pathValue(callID: event.uniqueID.map { bytes(line, $0) }, application: application)
            aggregator.add(bucket: ordinal, .ivrPath, value: value, answered: answered, billSeconds: billSeconds, caller: caller)
        }
        let disposition = enabled[CallDimension.disposition.rawValue] || (writeEvents && rules.dispositionIsInteraction)
            ? dispositionValue(bytes(line, event.disposition)) : nil
        if enabled[CallDimension.disposition.rawValue], let disposition {
            aggregator.add(bucket: ordinal, .disposition, value: disposition, answered: answered, billSeconds: billSeconds, caller: caller)
        }

        if writeEvents {
            appendEvent(event, dialled: dialled, context: context, application: application, disposition: disposition,
                        caller: caller)
        }
    }

    @inline(__always)
    private func bytes(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[range])
    }

    // MARK: - Caller

    /// The keyed caller token of the row's caller number (`src`, else the number in `clid`), normalised to
    /// its digits with a leading `+` when written; nil when neither holds a digit.
    private mutating func callerToken(_ event: CallEvent, _ line: UnsafeRawBufferPointer, day: Int64) -> UInt64? {
        guard normalizeCaller(event.source, line) || normalizeCaller(event.callerNumber, line) else { return nil }
        return material.withUnsafeBytes { callers.visitor($0, day: day) }
    }

    /// Writes the caller material of `range` into `material`: a tag (so that it can never equal a web
    /// visitor's material), a `+` when the number starts with one, and its digits (at most 32). Returns
    /// whether there was a digit.
    private mutating func normalizeCaller(_ range: Range<Int>?, _ line: UnsafeRawBufferPointer) -> Bool {
        guard let range else { return false }
        material.removeAll(keepingCapacity: true)
        material.append(UInt8(ascii: "n"))
        let number = Self.trimmed(bytes(line, range))
        if number.first == UInt8(ascii: "+") { material.append(UInt8(ascii: "+")) }
        var digits = 0
        for byte in number where ASCII.isDigit(byte) && digits < 32 {
            material.append(byte)
            digits += 1
        }
        return digits > 0
    }

    /// The caller's pseudonym in events and vault: `c:` and 16 hex digits of the keyed caller token. It
    /// changes with the key period, like the token.
    static func appendPseudonym(_ caller: UInt64, to out: inout [UInt8]) {
        PersonalDataRouter.appendPseudonym(caller, prefix: UInt8(ascii: "c"), to: &out)
    }

    // MARK: - Personal information

    private mutating func scanPersonalData(_ event: CallEvent, _ line: UnsafeRawBufferPointer, into sink: inout PersonalDataRouter) {
        let rules = self.rules
        if rules.readsCallerNumber {
            let source = event.source.map { Self.trimmed(bytes(line, $0)) }
            if let source, !source.isEmpty {
                sanitizer.scanText(source, field: .callerNumber, namedIfClean: true) { sink.report($0, toVault: rules.vaultCallerNumber) }
            }
            // The number in `clid` is usually `src` again: counted once.
            if let range = event.callerNumber {
                let number = Self.trimmed(bytes(line, range))
                if !number.isEmpty, source.map({ !$0.elementsEqual(number) }) ?? true {
                    sanitizer.scanText(number, field: .callerNumber, namedIfClean: true) { sink.report($0, toVault: rules.vaultCallerNumber) }
                }
            }
        }
        if rules.readsCallerName {
            // A `clid` the parser could not split is scanned whole, as a name.
            let name = event.callerName ?? (event.callerNumber == nil ? event.callerID : nil)
            if let name {
                let text = Self.trimmed(bytes(line, name))
                if !text.isEmpty {
                    sanitizer.scanText(text, field: .callerName, namedIfClean: true) { sink.report($0, toVault: rules.vaultCallerName) }
                }
            }
        }
        if rules.readsAccountCode, let range = event.accountCode {
            let code = Self.trimmed(bytes(line, range))
            if !code.isEmpty {
                sanitizer.scanText(code, field: .accountCode, namedIfClean: true) { sink.report($0, toVault: rules.vaultAccountCode) }
            }
        }
        if rules.readsChannel {
            if let range = event.channel {
                scanAddress(Self.channelPeer(bytes(line, range)), field: .channel, toVault: rules.vaultChannel, sink: &sink)
            }
            if let range = event.destinationChannel {
                scanAddress(Self.channelPeer(bytes(line, range)), field: .channel, toVault: rules.vaultChannel, sink: &sink)
            }
        }
        if rules.readsApplicationData, let range = event.lastData {
            let data = Self.trimmed(bytes(line, range))
            if !data.isEmpty {
                var readsKeypad = false
                if let application = event.lastApplication {
                    readsKeypad = isKeypadApplication(Self.trimmed(bytes(line, application)))
                }
                if Self.holdsKeypadEntry(data) || (readsKeypad && data.contains(where: ASCII.isDigit)) {
                    sink.count(.keypad, in: .applicationData)
                } else {
                    scanDialString(data, sink: &sink)
                }
            }
        }
        if rules.readsUserField, let range = event.userField {
            let text = Self.trimmed(bytes(line, range))
            if Self.holdsKeypadEntry(text) {
                sink.count(.keypad, in: .userField)
            } else if !text.isEmpty {
                sanitizer.scanText(text, field: .userField, namedIfClean: false) { sink.report($0, toVault: rules.vaultUserField) }
            }
        }
        if rules.readsOther {
            for value in event.unmapped where !value.value.isEmpty {
                sanitizer.scanNamedValue(name: bytes(line, value.name), value: bytes(line, value.value), field: .other) {
                    sink.report($0, toVault: rules.vaultOther)
                }
            }
        }
    }

    /// Reports the personal information in `lastdata` read as a dial string or argument list: split at
    /// `,` `&` `|` `(` `)`, each argument is scanned; an argument with a `/` (`SIP/+4930123456`,
    /// `DAHDI/g0/0301234567`, `PJSIP/5551234@trunk`) is a dial target whose parts after the technology are
    /// addresses (see `scanAddress`).
    private mutating func scanDialString(_ data: UnsafeRawBufferPointer, sink: inout PersonalDataRouter) {
        let vault = rules.vaultApplicationData
        var start = 0
        while start <= data.count {
            var end = start
            while end < data.count, !Self.isArgumentSeparator(data[end]) { end += 1 }
            let argument = Self.trimmed(UnsafeRawBufferPointer(rebasing: data[start..<end]))
            if let slash = argument.firstIndex(of: UInt8(ascii: "/")) {
                var partStart = slash + 1
                while partStart <= argument.count {
                    var partEnd = partStart
                    while partEnd < argument.count, argument[partEnd] != UInt8(ascii: "/") { partEnd += 1 }
                    scanAddress(UnsafeRawBufferPointer(rebasing: argument[partStart..<partEnd]), field: .applicationData,
                                toVault: vault, sink: &sink)
                    partStart = partEnd + 1
                }
            } else if !argument.isEmpty {
                sanitizer.scanText(argument, field: .applicationData, namedIfClean: false) { sink.report($0, toVault: vault) }
            }
            start = end + 1
        }
    }

    private static func isArgumentSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "|")
            || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")")
    }

    /// Reports the personal information in one address of a channel name or dial string (`+4930123456`,
    /// `jane@example.com`, `5551234@from-internal`): what the detectors find, or else the user part (before
    /// `@`) as a phone number when it is `addressPhoneDigits` or more digits, after an optional `+`.
    private mutating func scanAddress(_ address: UnsafeRawBufferPointer, field: PersonalDataField, toVault: Bool,
                                      sink: inout PersonalDataRouter) {
        guard !address.isEmpty else { return }
        var found = false
        sanitizer.scanText(address, field: field, namedIfClean: false) {
            found = true
            sink.report($0, toVault: toVault)
        }
        guard !found else { return }
        let user = UnsafeRawBufferPointer(rebasing: address[..<(address.firstIndex(of: UInt8(ascii: "@")) ?? address.count)])
        let digits = user.first == UInt8(ascii: "+") ? UnsafeRawBufferPointer(rebasing: user.dropFirst()) : user
        if digits.count >= Self.addressPhoneDigits, digits.allSatisfy(ASCII.isDigit) {
            sink.report(PersonalDataFinding(kind: .phone, field: field, name: UnsafeRawBufferPointer(start: nil, count: 0),
                                            value: user), toVault: toVault)
        }
    }

    /// The peer of an Asterisk channel name: `SIP/+4930123456-0000000a` → `+4930123456`,
    /// `Local/5551234@from-internal-00000001;1` → `5551234@from-internal`. The technology (up to the first
    /// `/`) and the unique suffix (a last `-` followed by hex digits, and a `;n` after it) are cut; a name
    /// without `/` (`NOT_AVAILABLE`) is kept whole.
    static func channelPeer(_ channel: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let name = trimmed(channel)
        var end = name.count
        if let semicolon = name.lastIndex(of: UInt8(ascii: ";")),
           name[(semicolon + 1)...].allSatisfy(ASCII.isDigit) {
            end = semicolon
        }
        let start = (name.firstIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        if let dash = name[start..<end].lastIndex(of: UInt8(ascii: "-")), dash + 1 < end,
           name[(dash + 1)..<end].allSatisfy({ ASCII.hexValue($0) != nil }) {
            end = dash
        }
        return UnsafeRawBufferPointer(rebasing: name[start..<max(start, end)])
    }

    /// Whether `data` holds `=` followed by 4 or more digits (`*` and `#` may sit between them): a
    /// variable set from keypad input (`PIN=4711`, `ACCOUNT=12345678`).
    static func holdsKeypadEntry(_ data: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < data.count {
            guard data[index] == UInt8(ascii: "=") else {
                index += 1
                continue
            }
            index += 1
            var digits = 0
            while index < data.count,
                  ASCII.isDigit(data[index]) || data[index] == UInt8(ascii: "*") || data[index] == UInt8(ascii: "#") {
                if ASCII.isDigit(data[index]) { digits += 1 }
                index += 1
            }
            if digits >= 4 { return true }
        }
        return false
    }

    private func isKeypadApplication(_ name: UnsafeRawBufferPointer) -> Bool {
        keypadNames.contains { keypad in
            keypad.count == name.count && zip(keypad, name).allSatisfy { $0 == ASCII.lowercased($1) }
        }
    }

    // MARK: - Dimension values

    /// The dialled value: its trend value id, and whether the events output must hide it as `{phone}`.
    private mutating func dialledValue(_ raw: UnsafeRawBufferPointer) -> (id: Int, isNumber: Bool) {
        let value = Self.trimmed(raw, limit: Self.maxValueLength)
        guard !value.isEmpty else { return (noDialled, false) }
        if dialledSeen.count >= Self.cacheLimit {
            dialledSeen = ByteInterner(capacity: 256)
            dialledValues.removeAll(keepingCapacity: true)
        }
        let seen = dialledSeen.intern(value)
        if seen < dialledValues.count { return dialledValues[seen] }
        let kinds = personalKinds(in: value)
        let result: (id: Int, isNumber: Bool)
        if let kind = kinds.first(where: { $0 != .phone }) {
            result = (aggregator.valueID(.dialled, Self.placeholder(kind)), false)
        } else {
            let digits = value.reduce(0) { $0 + (ASCII.isDigit($1) ? 1 : 0) }
            result = (aggregator.valueID(.dialled, value), kinds.contains(.phone) || digits >= Self.addressPhoneDigits)
        }
        dialledValues.append(result)
        return result
    }

    /// The context value's id: `{kind}` when the detectors find personal information in it.
    private mutating func contextValue(_ raw: UnsafeRawBufferPointer) -> Int {
        let value = Self.trimmed(raw, limit: Self.maxValueLength)
        guard !value.isEmpty else { return noContext }
        if contextSeen.count >= Self.cacheLimit {
            contextSeen = ByteInterner(capacity: 256)
            contextValues.removeAll(keepingCapacity: true)
        }
        let seen = contextSeen.intern(value)
        if seen < contextValues.count { return contextValues[seen] }
        let id = personalKinds(in: value).first.map { aggregator.valueID(.context, Self.placeholder($0)) }
            ?? aggregator.valueID(.context, value)
        contextValues.append(id)
        return id
    }

    /// The disposition value's id: trimmed and upper-cased (ASCII).
    private mutating func dispositionValue(_ raw: UnsafeRawBufferPointer) -> Int {
        let value = Self.trimmed(raw, limit: Self.maxWordLength)
        guard !value.isEmpty else { return noDisposition }
        if dispositionSeen.count >= Self.cacheLimit {
            dispositionSeen = ByteInterner(capacity: 256)
            dispositionValues.removeAll(keepingCapacity: true)
        }
        let seen = dispositionSeen.intern(value)
        if seen < dispositionValues.count { return dispositionValues[seen] }
        scratch.removeAll(keepingCapacity: true)
        for byte in value { scratch.append(byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte) }
        let id = scratch.withUnsafeBytes { upper in
            personalKinds(in: upper).first.map { aggregator.valueID(.disposition, Self.placeholder($0)) }
                ?? aggregator.valueID(.disposition, upper)
        }
        dispositionValues.append(id)
        return id
    }

    /// The id of an application (`lastapp`) among those seen; -1 when empty. Its name keeps ASCII letters,
    /// digits, `_`, `-` and `.`; other bytes become `_`.
    private mutating func applicationID(_ raw: UnsafeRawBufferPointer) -> Int {
        let value = Self.trimmed(raw, limit: Self.maxWordLength)
        guard !value.isEmpty else { return -1 }
        let seen = applicationSeen.intern(value)
        if seen < applications.count { return seen }
        var name = value.map { byte -> UInt8 in
            PersonalDataDetector.isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") ? byte : UInt8(ascii: "_")
        }
        if let kind = name.withUnsafeBytes({ personalKinds(in: $0).first }) { name = Array(Self.placeholder(kind).utf8) }
        applications.append((name, isKeypadApplication(value)))
        return seen
    }

    /// The IVR path value of a row of call `callID` whose application is `application` (-1: none).
    private mutating func pathValue(callID id: UnsafeRawBufferPointer?, application: Int) -> Int {
        // Another leg of the same call goes on with its path.
        let sameCall = id.map { inCall && callID.elementsEqual($0) } ?? false
        if !sameCall {
            endCall()
            if let id {
                callID.append(contentsOf: id)
                inCall = true
            }
        }
        if application >= 0, application != lastApplication {
            lastApplication = application
            if pathLength < Self.maxPathApplications {
                if pathLength > 0 { path.append(UInt8(ascii: ">")) }
                path.append(contentsOf: applications[application].name)
                pathLength += 1
            } else if !pathCut {
                path.append(contentsOf: Self.pathCutMark)
                pathCut = true
            }
        }
        return path.isEmpty ? noPath : path.withUnsafeBytes { aggregator.valueID(.ivrPath, $0) }
    }

    /// `>…`: more applications than `maxPathApplications`.
    static let pathCutMark = Array(">\u{2026}".utf8)

    private mutating func endCall() {
        callID.removeAll(keepingCapacity: true)
        inCall = false
        path.removeAll(keepingCapacity: true)
        pathLength = 0
        lastApplication = -1
        pathCut = false
    }

    /// The kinds the detectors find in a value, in order.
    private func personalKinds(in value: UnsafeRawBufferPointer) -> [PersonalDataKind] {
        var matches: [PersonalDataMatch] = []
        sanitizer.detector.scan(value, into: &matches)
        return matches.map(\.kind)
    }

    /// `{kind}`, the value that stands for personal information in a dimension or event.
    static func placeholder(_ kind: PersonalDataKind) -> String { "{" + kind.rawValue + "}" }

    /// `bytes` without leading and trailing spaces and tabs, cut at `limit` bytes.
    static func trimmed(_ bytes: UnsafeRawBufferPointer, limit: Int = .max) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + min(limit, end - start))])
    }

    // MARK: - Events

    /// One PI-free event: start time, dialled value (`{phone}` for a number), context, application,
    /// disposition, answered, `billsec`, `duration`, and the caller pseudonym; each field only when its role
    /// is interaction data. Never the caller's number, name, account code, channel or `lastdata`.
    private mutating func appendEvent(_ event: CallEvent, dialled: (id: Int, isNumber: Bool)?, context: Int?,
                                      application: Int, disposition: Int?, caller: UInt64?) {
        // Moved out and back, so that appending never copies the buffer.
        var out: [UInt8] = []
        swap(&out, &eventBuffer)
        defer { swap(&out, &eventBuffer) }
        out.append(contentsOf: #"{"time":""#.utf8)
        CivilTime.appendISO8601(event.start, to: &out)
        out.append(UInt8(ascii: "\""))
        func key(_ name: String) {
            out.append(contentsOf: #",""#.utf8)
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: #"":"#.utf8)
        }
        if let dialled {
            key("dialled")
            if dialled.isNumber {
                out.append(contentsOf: #""{phone}""#.utf8)
            } else {
                aggregator.withValueBytes(.dialled, dialled.id) { JSONText.appendString($0, to: &out) }
            }
        }
        if let context {
            key("context")
            aggregator.withValueBytes(.context, context) { JSONText.appendString($0, to: &out) }
        }
        if rules.applicationIsInteraction, application >= 0 {
            key("application")
            applications[application].name.withUnsafeBytes { JSONText.appendString($0, to: &out) }
        }
        if let disposition {
            key("disposition")
            aggregator.withValueBytes(.disposition, disposition) { JSONText.appendString($0, to: &out) }
        }
        key("answered")
        out.append(contentsOf: (event.isAnswered ? "true" : "false").utf8)
        if rules.talkTimeIsInteraction {
            key("billsec")
            JSONText.appendDecimal(max(0, event.billSeconds), to: &out)
            key("duration")
            JSONText.appendDecimal(max(0, event.duration), to: &out)
        }
        if let caller {
            key("caller")
            Self.appendPseudonym(caller, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
    }

    // MARK: - Inputs and workers

    /// Returns the current input's counts, rejects and PI tally, and starts afresh for the next input; the
    /// trends go on accumulating.
    public mutating func finishInput() -> (counts: LineCounts, rejects: RejectTally, personal: PersonalDataTally) {
        defer {
            counts = LineCounts()
            rejects = RejectTally(sampleLimit: configuration.rejectSamples)
            router.tally = PersonalDataTally()
            endCall()
        }
        return (counts, rejects, router.tally)
    }

    /// Removes the buckets that start before `start` from the trends and returns their records (k-anonymity
    /// applied with `minCount`): a stream's closed buckets.
    public mutating func drainTrends(bucketsBefore start: Int64, minCount: Int) -> [CallTrendRecord] {
        aggregator.drain(bucketsBefore: start, minCount: minCount)
    }

    /// Moves the rows of every bucket but the latest call's and the one before it to `spill`, when there are
    /// any: the runner calls this between runs of lines. Call records are written in about the order the
    /// calls started (a record is written when its call ends), so those buckets are closed; a late call opens
    /// a new row, which the run's final pass adds to the spilled one exactly.
    public mutating func spillClosedBuckets() {
        guard let spill, let current = aggregator.currentBucketStart else { return }
        let open = (current - aggregator.bucket.seconds)...current
        guard aggregator.holdsRows(inBucketWhere: { !open.contains($0) }) else { return }
        spill.spill(&aggregator) { !open.contains($0) }
    }

    /// Moves every row to `spill`, at the end of a batch run.
    public mutating func spillAll() {
        spill?.spill(&aggregator) { _ in true }
    }

    /// Adds another worker's trends to this one's.
    public mutating func mergeTrends(_ other: CallLogProcessor) {
        aggregator.merge(other.aggregator)
    }
}
