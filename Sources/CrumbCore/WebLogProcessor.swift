/// How web access logs are turned into trends: validated once, then used on every line.
public struct WebLogConfiguration: Sendable {
    /// The privacy policy in force.
    public var policy: Policy = .standard
    public var parserMode: CombinedLogParser.Mode = .lenient
    /// Reject samples kept per input.
    public var rejectSamples = 5

    public init(policy: Policy = .standard) {
        self.policy = policy
    }

}

/// The policy's field classes, resolved once into the questions the hot path asks, so that no event
/// looks anything up in the policy's dictionaries.
struct FieldRules: Sendable {
    /// Fields read at all (not `drop`).
    let readsCookie, readsReferrer, readsRemoteUser, readsUserAgent, writesClient: Bool
    /// Fields written as interaction data (events output).
    let pathIsInteraction, queryIsInteraction, referrerIsInteraction, userAgentIsInteraction: Bool
    /// Fields whose findings may go to the vault (classed personal).
    let vaultPath, vaultQuery, vaultReferrer, vaultCookie, vaultRemoteUser, vaultClient, vaultForwardedFor, vaultOther: Bool
    /// Captured values no role claims are read (scanned and counted) unless the policy drops them.
    let readsOther: Bool
    let hostIsInteraction: Bool
    let honoursDNT, honoursGPC: Bool
    let countOptedOutInTotals: Bool
    let addressIdentifiesVisitor: Bool

    init(_ policy: Policy) {
        func is_(_ role: Policy.Role, _ fieldClass: Policy.FieldClass) -> Bool { policy.fields[role] == fieldClass }
        readsCookie = !is_(.cookie, .drop)
        readsReferrer = !is_(.referrer, .drop)
        readsRemoteUser = !is_(.remoteUser, .drop)
        readsUserAgent = !is_(.userAgent, .drop)
        writesClient = !is_(.clientIP, .drop)
        pathIsInteraction = is_(.path, .interaction)
        queryIsInteraction = is_(.query, .interaction)
        referrerIsInteraction = is_(.referrer, .interaction)
        userAgentIsInteraction = is_(.userAgent, .interaction)
        vaultPath = is_(.path, .personal)
        vaultQuery = is_(.query, .personal)
        vaultReferrer = is_(.referrer, .personal)
        vaultCookie = is_(.cookie, .personal)
        vaultRemoteUser = is_(.remoteUser, .personal)
        vaultClient = is_(.clientIP, .personal)
        vaultForwardedFor = is_(.forwardedFor, .personal)
        vaultOther = is_(.other, .personal)
        readsOther = !is_(.other, .drop)
        hostIsInteraction = is_(.host, .interaction)
        honoursDNT = policy.optOutSignals.contains(.dnt)
        honoursGPC = policy.optOutSignals.contains(.gpc)
        countOptedOutInTotals = policy.countOptedOutInTotals
        addressIdentifiesVisitor = policy.ipMode != .drop && !is_(.clientIP, .drop)
    }
}

/// Counters for one input or a whole run.
public struct LineCounts: Sendable, Equatable, Codable {
    public var read = 0
    public var parsed = 0
    public var rejected = 0
    public var blank = 0
    /// Lines that carry no event: directives and header rows (W3C `#Fields:`, a CSV's column names).
    public var headers = 0
    /// Parsed events that carried an opt-out signal.
    public var optedOut = 0
    /// Parsed events that came too late for a stream: their bucket had been emitted (`EventTimeWatermark`).
    public var late = 0

    public init() {}

    public mutating func add(_ other: LineCounts) {
        read += other.read
        parsed += other.parsed
        rejected += other.rejected
        blank += other.blank
        headers += other.headers
        optedOut += other.optedOut
        late += other.late
    }
}

/// Parses, classifies, anonymizes and aggregates access-log lines: the per-line hot path of `crumb run`.
///
/// For each line: parse into byte ranges; honour opt-out; derive the keyed visitor id; split the request
/// target, referrer, cookies and remote user into interaction data and personal information (counted by
/// kind; sent to the vault buffer when the policy asks, never when sensitive); count the interaction data in
/// every enabled dimension; and, when asked, append a PI-free event record.
///
/// One processor per worker. It owns its aggregator, tallies, caches (user agents, visitor ids, anonymized
/// addresses) and output buffers; processors of different workers merge with `mergeTrends(_:)`.
public struct WebLogProcessor: Sendable {
    public let configuration: WebLogConfiguration
    /// The current input's parser; `startInput(parser:)` sets it, the configuration's combined/common
    /// parser until then.
    public private(set) var parser: any WebLineParser
    /// Scratch for parsers that unescape or assemble values.
    private var decoded: [UInt8] = []
    public private(set) var aggregator: WebAggregator
    public private(set) var rejects: RejectTally
    public private(set) var counts = LineCounts()
    /// Personal information found in the current input, by kind and field (counts only).
    public var personal: PersonalDataTally { router.tally }
    /// Lines of the current input that had the `combined` fields.
    public private(set) var combinedLines = 0
    /// A stream's event time: with one, an event whose bucket is closed is counted in `counts.late` and
    /// otherwise ignored. Nil (a batch run) by default.
    public var watermark: EventTimeWatermark?
    /// Where a batch run moves the rows of closed buckets (`spillClosedBuckets()`), so that its memory stays
    /// flat however long the input; nil keeps every row until the end.
    public var spill: (any WebTrendSpill)?

    /// Events output (JSON Lines), filled when the policy asks for events; drained by the runner.
    public var eventBuffer: [UInt8] = []
    /// Vault output (JSON Lines), filled when the policy asks for the vault; drained by the runner.
    public var vaultBuffer: [UInt8] {
        get { router.vault }
        set { router.vault = newValue }
    }
    private var router = PersonalDataRouter()

    private var anonymizer: IPAnonymizer
    private var visitors: VisitorHasher
    private var sanitizer: RequestSanitizer
    private let classifier = UserAgentClassifier()
    private let enabled: [Bool]
    private let writeEvents: Bool
    private let writeVault: Bool
    private let rules: FieldRules

    /// Raw user agents seen recently → their slot in `userAgentValues`. Keyed by fingerprint like the other
    /// caches (no bytes kept, no bytes compared), 16,384 agents in 384 KiB; an agent pushed out of its set is
    /// classified again when it comes back, into a new slot.
    private var agentSlots = RecentValues(sets: 1 << 12)
    /// The most user-agent classifications kept at once, before the cache starts over.
    static let userAgentCacheLimit = 1 << 16
    /// The dimension values of each slot's user agent: what every line reads, 24 bytes a slot with nothing
    /// to retain, so that a line's read of its slot is one cache line and no reference counting.
    private var userAgentValues: [UserAgentValues] = []
    /// The rest of each slot's reading, read only for events and for an agent that holds personal data.
    private var userAgentDetails: [UserAgentDetails] = []
    private var noUserAgent: (values: UserAgentValues, details: UserAgentDetails)?
    /// Request targets that held no personal information → their path and campaign value ids (each
    /// `UInt32.max` when its dimension is off). Not used when events are written: those need the bytes.
    private var cleanTargets = RecentValues(sets: 1 << 14)
    /// Referrers that held no personal information → their host value id, or `noValue` when the value is
    /// not cached (an address host, anonymized per period, or a value not needed when it was seen).
    private var cleanReferrers = RecentValues(sets: 1 << 12)
    /// Cookie headers that held no personal information (value unused).
    private var cleanCookies = RecentValues(sets: 1 << 13)
    private static let noValue = UInt64(UInt32.max)
    /// (visitor, bucket, user agent, status class) already counted: the visitor is in the sketches of the
    /// bucket's total, user-agent and status rows, so a repeat visit skips those seven inserts (inserting a
    /// hash a sketch holds changes nothing). Exact keys, not fingerprints. Emptied whenever what a key
    /// stands for could change: the user-agent cache starts over, or a stream drains buckets. A batch run's
    /// spill keeps it: a visit it knows is in the spilled rows, which the final pass merges with any new ones.
    private var countedVisits = RecentValues(sets: 1 << 13)
    /// The user-agent cache slot of the current line (`userAgentCacheLimit` when it has none).
    private var agentSlot = 0
    private var statusValues: [Int] = []
    private var totalValue = 0
    private var noReferrer = 0
    private var invalidReferrer = 0
    private var droppedAddressReferrer = 0
    private var invalidRequest = 0
    private var noCampaign = 0
    private var plainRequest = 0
    /// Tracking-pixel endpoints from the policy, and the current hit's mapped values.
    private let pixels: PixelEndpoints
    private var pixelHit = PixelHit()
    /// The event name of the current event (pixel or beacon), scanned and capped.
    private var eventName: [UInt8] = []
    private var path: [UInt8] = []
    private var query: [UInt8] = []
    private var campaign: [UInt8] = []
    private var scratch: [UInt8] = []
    private var material: [UInt8] = []
    private var trackingCookies: [[UInt8]]
    private var optOutName: [UInt8]?
    private var optOutValue: [UInt8]?
    /// The cookies crumb reads itself (tracking, opt-out), which the PI scan skips.
    private var cookiesRead: [[UInt8]] = []

    /// A user agent's value ids in its five dimensions.
    struct UserAgentValues: Sendable {
        var family: Int32, version: Int32, os: Int32, device: Int32, agentClass: Int32
        /// Whether the agent holds personal data (`UserAgentDetails.personalKinds` is not empty).
        var holdsPersonalData: Bool
    }

    struct UserAgentDetails: Sendable {
        var info: UserAgentInfo
        var personalKinds: [PersonalDataKind]
    }

    public init(configuration: WebLogConfiguration, keyring: Keyring, anonymizer: IPAnonymizer) {
        let policy = configuration.policy
        self.configuration = configuration
        self.parser = CombinedLogParser(mode: configuration.parserMode)
        decoded.reserveCapacity(1024)
        self.anonymizer = anonymizer
        self.visitors = VisitorHasher(keyring: keyring)
        self.rejects = RejectTally(sampleLimit: configuration.rejectSamples)
        self.sanitizer = RequestSanitizer(detector: PersonalDataDetector(options: policy.detectorOptions), policy: policy)
        self.rules = FieldRules(policy)
        self.pixels = PixelEndpoints(policy.fieldClass(of: .path) == .interaction ? policy.pixelEndpoints : [])
        self.trackingCookies = rules.readsCookie ? policy.trackingCookies.map { Array($0.utf8) } : []
        if policy.optOutSignals.contains(.cookie), let name = policy.optOutCookieName {
            optOutName = Array(name.utf8)
            optOutValue = policy.optOutCookieValue.map { Array($0.utf8) }
        }
        cookiesRead = trackingCookies + (optOutName.map { [$0] } ?? [])
        // A dimension is counted when the policy lists it and the field it comes from is interaction data.
        let interaction = { (role: Policy.Role) in policy.fields[role] == .interaction }
        enabled = WebDimension.allCases.map { dimension in
            switch dimension {
            case .total: true
            case .path: policy.dimensions.contains(.path) && interaction(.path)
            case .referrerHost: policy.dimensions.contains(.referrerHost) && interaction(.referrer)
            case .uaFamily, .uaVersion, .os, .device, .agentClass:
                policy.dimensions.contains(dimension) && interaction(.userAgent)
            case .statusClass: policy.dimensions.contains(.statusClass) && interaction(.status)
            case .campaign: policy.dimensions.contains(.campaign) && interaction(.query)
            case .event: policy.dimensions.contains(.event)
            }
        }
        writeEvents = policy.events
        writeVault = policy.vault
        var aggregator = WebAggregator(bucket: policy.bucket, valueCap: policy.maxValues)
        totalValue = aggregator.valueID(.total, "all")
        statusValues = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"].map { aggregator.valueID(.statusClass, $0) }
        noReferrer = aggregator.valueID(.referrerHost, "(none)")
        invalidReferrer = aggregator.valueID(.referrerHost, "(invalid)")
        droppedAddressReferrer = aggregator.valueID(.referrerHost, "(ip address)")
        invalidRequest = aggregator.valueID(.path, "(invalid request)")
        noCampaign = aggregator.valueID(.campaign, "(none)")
        plainRequest = aggregator.valueID(.event, "(request)")
        self.aggregator = aggregator
    }

    /// Handles one frame from the line framer: counts it, and parses and aggregates a line.
    public mutating func process(_ frame: LineFramer.Frame) {
        switch frame {
        case .tooLong(let number, _):
            countTooLong(number: number)
        case .line(let bytes, let number):
            var decoded: [UInt8] = []
            swap(&decoded, &self.decoded)
            defer { swap(&decoded, &self.decoded) }
            var event = AccessLogEvent()
            switch parse(bytes, number: number, decoded: &decoded, into: &event) {
            case .event?:
                handleNow(&event, in: bytes)
            case .decodedEvent?:
                decoded.withUnsafeBytes { handleNow(&event, in: $0) }
            case .header?, nil:
                break
            }
        }
    }

    /// Handles a run of framed lines that lie together in `bytes`, with the same result as `process(_:)` for
    /// each in turn. One line is parsed ahead: its cache sets are asked for (`prefetch(_:)`) before the line
    /// before it is handled, so that its lookups find them in the core's cache instead of each waiting for
    /// memory. Only lines whose event points into `bytes` are held back; one whose parser decoded it into
    /// scratch is handled at once, after the line held.
    public mutating func process(lines: UnsafeBufferPointer<FramedLine>, in bytes: UnsafeRawBufferPointer) {
        var decoded: [UInt8] = []
        swap(&decoded, &self.decoded)
        defer { swap(&decoded, &self.decoded) }
        // Two events and their keys, filled in turn: the line just parsed and the line held. Each is written
        // once, by its parse, and read in place (an event is 280 bytes and its keys 129; copying them about
        // cost several percent).
        withUnsafeTemporaryAllocation(of: AccessLogEvent.self, capacity: 2) { events in
            events.initialize(repeating: AccessLogEvent())
            defer { events.baseAddress!.deinitialize(count: 2) }
            withUnsafeTemporaryAllocation(of: LineKeys.self, capacity: 2) { keys in
                keys.initialize(repeating: LineKeys())
                defer { keys.baseAddress!.deinitialize(count: 2) }
                var next = 0
                var held: UnsafeRawBufferPointer?
                for frame in lines {
                    guard frame.start >= 0 else {
                        countTooLong(number: frame.number)
                        continue
                    }
                    let line = UnsafeRawBufferPointer(rebasing: bytes[frame.start..<(frame.start + frame.length)])
                    switch parse(line, number: frame.number, decoded: &decoded, into: &events[next]) {
                    case .event?:
                        lineKeys(&events[next], line, into: &keys[next])
                        prefetch(&keys[next])
                        if let held { handle(&events[1 - next], in: held, keys: &keys[1 - next]) }
                        held = line
                        next = 1 - next
                    case .decodedEvent?:
                        if let before = held {
                            held = nil
                            handle(&events[1 - next], in: before, keys: &keys[1 - next])
                        }
                        decoded.withUnsafeBytes { handleNow(&events[next], in: $0) }
                    case .header?, nil:
                        break
                    }
                }
                if let held { handle(&events[1 - next], in: held, keys: &keys[1 - next]) }
            }
        }
    }

    /// Handles an event that is not held back: its keys are worked out as it is handled.
    private mutating func handleNow(_ event: inout AccessLogEvent, in line: UnsafeRawBufferPointer) {
        var keys = LineKeys()
        lineKeys(&event, line, into: &keys)
        handle(&event, in: line, keys: &keys)
    }

    private mutating func countTooLong(number: Int) {
        counts.read += 1
        counts.rejected += 1
        rejects.record(.lineTooLong, line: number, offset: 0, bytes: nil)
    }

    /// Counts a line and parses it into `event`: `.event` or `.decodedEvent` (where its ranges point), or nil
    /// for a blank line, a comment, a header or a reject (each counted).
    private mutating func parse(_ bytes: UnsafeRawBufferPointer, number: Int, decoded: inout [UInt8],
                                into event: inout AccessLogEvent) -> WebParseKind? {
        counts.read += 1
        if bytes.isEmpty || (Self.isBlank(bytes[0]) && bytes.allSatisfy(Self.isBlank)) {
            counts.blank += 1
            return nil
        }
        // `#` starts a comment in the line-per-request formats (Matomo's importer and many tools write
        // them); W3C's directives are its parser's business.
        if bytes[0] == UInt8(ascii: "#"), !(parser is W3CExtendedParser) {
            counts.headers += 1
            return nil
        }
        let found: WebParseKind
        do {
            found = try parser.parse(bytes, decoded: &decoded, into: &event)
        } catch {
            counts.rejected += 1
            rejects.record(error.code, line: number, offset: error.offset, bytes: bytes)
            return nil
        }
        if found == .header {
            counts.headers += 1
            return nil
        }
        counts.parsed += 1
        if event.isCombined { combinedLines += 1 }
        return found
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// What a line's lookups are keyed by, worked out from its event before any cache is touched, so that a
    /// line parsed ahead can have its cache sets fetched (`prefetch(_:)`) while the line before it is handled.
    struct LineKeys {
        /// The request target's, when it may be looked up in `cleanTargets` (valid, and no events written).
        var target: RecentValues.Key?
        /// The cookie header's, when cookies are read.
        var cookie: RecentValues.Key?
        var referrer: RecentValues.Key?
        var agent: RecentValues.Key?
        /// The preferred tracking cookie (`name=value`, offsets in the line).
        var tracking: Range<Int>?
        /// The line carries an opt-out signal the policy honours.
        var optedOut = false
        /// The visitor's cache probe (`VisitorHasher`); nil when the line has no visitor (opted out, or neither
        /// a tracking cookie nor the address may be used).
        var visitorProbe: UInt64?
    }

    /// Sets `keys` to those of a parsed line: hashes of its fields, its cookies read for tracking and opt-out,
    /// and its visitor probe. Reads no cache. The event is `inout` although it is only read, as in `handle`: it
    /// is then passed by address, where a read of the batch's event slot made a copy of its 280 bytes.
    private mutating func lineKeys(_ event: inout AccessLogEvent, _ line: UnsafeRawBufferPointer, into keys: inout LineKeys) {
        keys = LineKeys()
        if let cookie = event.cookie {
            (keys.tracking, keys.optedOut) = inspectCookies(UnsafeRawBufferPointer(rebasing: line[cookie]), base: cookie.lowerBound)
            if rules.readsCookie { keys.cookie = RecentValues.key(for: UnsafeRawBufferPointer(rebasing: line[cookie])) }
        }
        if (event.doNotTrack && rules.honoursDNT) || (event.globalPrivacyControl && rules.honoursGPC) {
            keys.optedOut = true
        }
        if !writeEvents, event.requestIsValid {
            keys.target = RecentValues.key(for: UnsafeRawBufferPointer(rebasing: line[event.target]))
        }
        keys.referrer = event.referrer.map { RecentValues.key(for: UnsafeRawBufferPointer(rebasing: line[$0])) }
        // The user agent's key finds the agent's values, and its hash is half of what the visitor is looked
        // up by.
        keys.agent = event.userAgent.map { RecentValues.key(for: UnsafeRawBufferPointer(rebasing: line[$0])) }
        if !keys.optedOut {
            keys.visitorProbe = visitorProbe(client: event.client, userAgent: event.userAgent, line, tracking: keys.tracking,
                                             agentHash: keys.agent?.hash)
        }
    }

    /// Asks for the cache sets a line's lookups will read (`RecentValues.prefetch(_:)`); `keys` is only read
    /// (`inout`: passed by address, not copied).
    private mutating func prefetch(_ keys: inout LineKeys) {
        if let key = keys.target { cleanTargets.prefetch(key) }
        if let key = keys.cookie { cleanCookies.prefetch(key) }
        if let key = keys.referrer { cleanReferrers.prefetch(key) }
        if let key = keys.agent { agentSlots.prefetch(key) }
        if let probe = keys.visitorProbe { visitors.prefetch(probe: probe) }
    }

    /// Classifies one event and counts it once in every enabled dimension.
    ///
    /// The steps it calls take the event's fields they read, not the event: an event passed by value is copied
    /// (280 bytes) for each call.
    ///
    /// - Parameters:
    ///   - event: only read; `inout` so that it is passed by address, not copied (see `lineKeys`).
    ///   - keys: the line's `lineKeys(_:_:into:)`; only read, and `inout` for the same reason.
    mutating func handle(_ event: inout AccessLogEvent, in line: UnsafeRawBufferPointer, keys: inout LineKeys) {
        // A stream's late event: its bucket has been emitted. Counted, and nothing else.
        if watermark?.admit(event.time) == false {
            counts.late += 1
            return
        }
        let rules = self.rules
        let day = CivilTime.dayNumber(of: event.time)

        // Opt-out first: an opted-out event is never tracked, and counted anonymously only if allowed.
        let optedOut = keys.optedOut
        if optedOut {
            counts.optedOut += 1
            if !rules.countOptedOutInTotals { return }
        }

        // The visitor first (its cache set was fetched with the line's): the set of its counted visits depends on
        // it alone, and is fetched now, so that it has arrived when the trends are counted.
        let visitor = visitorID(client: event.client, userAgent: event.userAgent, line, tracking: keys.tracking,
                                probe: keys.visitorProbe, day: day)
        if let visitor { countedVisits.prefetch(RecentValues.Key(exactly: 1, visitor)) }

        // The request target, cookie header and referrer as seen before, if they were clean: the three caches
        // are probed together, before the work between their uses. Their sets lie far apart and are rarely in
        // the core's cache (unless fetched ahead); independent loads issued together wait for memory about
        // once, not three times. A clean target seen before gives the path and campaign value ids
        // (`targetValueIDs()`) straight away: most lines repeat a request another line made. Only targets that
        // are not pixels are cached.
        let target = event.requestIsValid ? UnsafeRawBufferPointer(rebasing: line[event.target])
            : UnsafeRawBufferPointer(start: nil, count: 0)
        var targetValues = keys.target.flatMap { cleanTargets.value(for: $0) }
        let cookieHeader = rules.readsCookie ? event.cookie.map { UnsafeRawBufferPointer(rebasing: line[$0]) } : nil
        let cookieSeenClean = keys.cookie.map { cleanCookies.value(for: $0) != nil } ?? false
        let referrerBytes = event.referrer.map { UnsafeRawBufferPointer(rebasing: line[$0]) }
        let cachedReferrer = keys.referrer.flatMap { cleanReferrers.value(for: $0) }

        let agent = userAgentValues(event.userAgent, line, key: keys.agent)

        // Personal information: counted always, kept only in the vault when the policy routes it there.
        // The router is moved out of `self` for the event, so that the scanners' callbacks capture it alone.
        var router = PersonalDataRouter()
        swap(&router, &self.router)
        defer { swap(&router, &self.router) }
        router.begin(vaultVisitor: writeVault ? visitor : nil, day: day)

        // Request target → path (placeholders for PI), kept query, campaign, unless the target was a cache hit
        // (which is never a pixel). A tracking pixel counts as the page it reports: its page URL becomes the
        // target, its referrer parameter the referrer; the rest of its query is only scanned.
        let isPixel = targetValues == nil && event.requestIsValid && !pixels.isEmpty
            && pixels.map(target: target, into: &pixelHit)

        if isPixel {
            pixelHit.page.withUnsafeBytes { page in
                sanitizer.sanitize(target: page, path: &path, query: &query, campaign: &campaign) { finding in
                    router.report(finding, toVault: finding.field == .path ? rules.vaultPath : rules.vaultQuery)
                }
            }
            pixelHit.rest.withUnsafeBytes { rest in
                sanitizer.scanQuery(rest, field: .query) { router.report($0, toVault: rules.vaultQuery) }
            }
            if rules.readsReferrer, !pixelHit.referrer.isEmpty {
                pixelHit.referrer.withUnsafeBytes { referrer in
                    sanitizer.scanReferrer(referrer) { router.report($0, toVault: rules.vaultReferrer) }
                }
            }
        } else if event.requestIsValid {
            if targetValues == nil {
                var clean = true
                sanitizer.sanitize(target: target, path: &path, query: &query, campaign: &campaign) { finding in
                    clean = false
                    router.report(finding, toVault: finding.field == .path ? rules.vaultPath : rules.vaultQuery)
                }
                if let targetKey = keys.target, clean {
                    let values = targetValueIDs()
                    cleanTargets.insert(values, for: targetKey)
                    targetValues = values
                }
            }
        } else {
            path.removeAll(keepingCapacity: true)
            query.removeAll(keepingCapacity: true)
            campaign.removeAll(keepingCapacity: true)
        }
        if let header = cookieHeader, let key = keys.cookie, !cookieSeenClean {
            var clean = true
            sanitizer.scanCookies(header, skipping: cookiesRead) {
                clean = false
                router.report($0, toVault: rules.vaultCookie)
            }
            if clean { cleanCookies.insert(0, for: key) }
        }
        // The referrer host is worked out once, for the trends and the events alike.
        let eventReferrer = writeEvents && !optedOut && rules.referrerIsInteraction
        let needsReferrer = enabled[WebDimension.referrerHost.rawValue] || eventReferrer
        var lineReferrer: Int?
        if let raw = referrerBytes, let key = keys.referrer {
            if let cached = cachedReferrer {
                if cached != Self.noValue { lineReferrer = Int(cached) }
            } else {
                var clean = true
                if rules.readsReferrer {
                    sanitizer.scanReferrer(raw) {
                        clean = false
                        router.report($0, toVault: rules.vaultReferrer)
                    }
                }
                // A pixel's referrer is its parameter, not this one: its value is not interned here.
                if clean, !isPixel {
                    var cached = Self.noValue
                    if needsReferrer {
                        let (value, sameEveryDay) = referrerValue(raw, day: day)
                        lineReferrer = value
                        if sameEveryDay { cached = UInt64(value) }
                    }
                    cleanReferrers.insert(cached, for: key)
                }
            }
        }
        let user = UnsafeRawBufferPointer(rebasing: line[event.remoteUser])
        if !user.isEmpty, !(user.count == 1 && user[0] == UInt8(ascii: "-")), rules.readsRemoteUser {
            sanitizer.scanText(user, field: .remoteUser, namedIfClean: true) {
                router.report($0, toVault: rules.vaultRemoteUser)
            }
        }
        // The event reported (pixel or beacon): kept when no detector flags it, else its kind as placeholder.
        eventName.removeAll(keepingCapacity: true)
        if isPixel {
            pixelHit.event.withUnsafeBytes { name in
                sanitizeEventName(name) { router.report($0, toVault: false) }
            }
        } else if let range = event.eventName {
            sanitizeEventName(UnsafeRawBufferPointer(rebasing: line[range])) { router.report($0, toVault: false) }
        }
        if agent.holdsPersonalData {
            for kind in agentDetails(slot: agentSlot).personalKinds { router.count(kind, in: .userAgent) }
        }
        if rules.readsOther {
            for value in event.unmapped {
                sanitizer.scanNamedValue(name: UnsafeRawBufferPointer(rebasing: line[value.name]),
                                         value: UnsafeRawBufferPointer(rebasing: line[value.value]), field: .other) {
                    router.report($0, toVault: rules.vaultOther)
                }
            }
        }
        if rules.vaultClient {
            router.vaultAddress(UnsafeRawBufferPointer(rebasing: line[event.client]), field: "client_ip")
        }
        if rules.vaultForwardedFor, let forwarded = event.forwardedFor {
            router.vaultAddress(UnsafeRawBufferPointer(rebasing: line[forwarded]), field: "forwarded_for")
        }
        router.end()

        // Trends.
        let ordinal = aggregator.bucketOrdinal(for: event.time)
        let status = event.status
        let statusIndex = status >= 100 && status < 600 ? status / 100 - 1 : 5
        var visitKnown = false
        if let visitor {
            // Bucket ordinal (32 bits), agent slot (≤ 2¹⁶) and status class (3 bits), plus one so it is never 0.
            let context = UInt64(truncatingIfNeeded: ordinal) << 32 | UInt64(agentSlot) << 3 | UInt64(statusIndex)
            let key = RecentValues.Key(exactly: context &+ 1, visitor)
            visitKnown = countedVisits.value(for: key) != nil
            if !visitKnown { countedVisits.insert(0, for: key) }
        }
        var referrer: Int?
        let pathValue = !enabled[WebDimension.path.rawValue] ? 0 : !event.requestIsValid ? invalidRequest
            : targetValues.map { Int(truncatingIfNeeded: $0 & Self.noValue) }
            ?? path.withUnsafeBytes { aggregator.valueID(.path, $0) }
        if needsReferrer {
            if isPixel {
                referrer = pixelHit.referrer.isEmpty ? noReferrer
                    : pixelHit.referrer.withUnsafeBytes { referrerValue($0, day: day).value }
            } else if let range = event.referrer {
                referrer = lineReferrer ?? referrerValue(UnsafeRawBufferPointer(rebasing: line[range]), day: day).value
            } else {
                referrer = noReferrer
            }
        }
        let campaignValue = !enabled[WebDimension.campaign.rawValue] ? 0
            : targetValues.map { Int(truncatingIfNeeded: $0 >> 32) } ?? campaignValueID()
        let eventValue = !enabled[WebDimension.event.rawValue] ? 0
            : eventName.isEmpty ? plainRequest : eventName.withUnsafeBytes { aggregator.valueID(.event, $0) }

        // The event's row in every enabled dimension, counted together (`WebAggregator.add(bucket:rows:...)`).
        // The rows this visit already reached (`countedVisits`) leave the visitor out; hits and bytes still count.
        let newVisit = !visitKnown
        withUnsafeTemporaryAllocation(of: WebAggregator.EventRow.self, capacity: WebDimension.allCases.count) { rows in
            var count = 0
            func row(_ dimension: WebDimension, _ value: Int, visitor: Bool) {
                guard enabled[dimension.rawValue] else { return }
                rows.initializeElement(at: count, to: WebAggregator.EventRow(dimension: dimension, value: value, countsVisitor: visitor))
                count += 1
            }
            row(.total, totalValue, visitor: newVisit)
            row(.path, pathValue, visitor: true)
            if let referrer { row(.referrerHost, referrer, visitor: true) }
            row(.uaFamily, Int(agent.family), visitor: newVisit)
            row(.uaVersion, Int(agent.version), visitor: newVisit)
            row(.os, Int(agent.os), visitor: newVisit)
            row(.device, Int(agent.device), visitor: newVisit)
            row(.agentClass, Int(agent.agentClass), visitor: newVisit)
            row(.statusClass, statusValues[statusIndex], visitor: newVisit)
            row(.campaign, campaignValue, visitor: true)
            row(.event, eventValue, visitor: true)
            aggregator.add(bucket: ordinal, rows: UnsafeMutableBufferPointer(rebasing: rows[..<count]), bytes: event.bytes,
                           status: status, visitor: visitor)
            rows.baseAddress!.deinitialize(count: count)
        }

        if writeEvents, !optedOut {
            appendEvent(event, line, agent: agent, referrer: eventReferrer ? referrer : nil, visitor: visitor, day: day,
                        pixel: isPixel)
        }
    }

    /// The longest event name kept; longer ones are cut.
    static let maxEventNameLength = 64

    /// Copies an event name into `eventName`, or the placeholder of the first kind a detector finds in it.
    private mutating func sanitizeEventName(_ name: UnsafeRawBufferPointer, found: (PersonalDataFinding) -> Void) {
        var kind: PersonalDataKind?
        sanitizer.scanText(name, field: .query, namedIfClean: false) { finding in
            if kind == nil { kind = finding.kind }
            found(finding)
        }
        if let kind {
            eventName.append(UInt8(ascii: "{"))
            eventName.append(contentsOf: kind.rawValue.utf8)
            eventName.append(UInt8(ascii: "}"))
        } else {
            eventName.append(contentsOf: name.prefix(Self.maxEventNameLength))
        }
    }

    /// The path and campaign value ids of the target just sanitized into `path` and `campaign`, packed for
    /// `cleanTargets`: path in the low 32 bits, campaign in the high; `UInt32.max` for a dimension that is off.
    private mutating func targetValueIDs() -> UInt64 {
        let pathID = enabled[WebDimension.path.rawValue]
            ? UInt64(path.withUnsafeBytes { aggregator.valueID(.path, $0) }) : Self.noValue
        let campaignID = enabled[WebDimension.campaign.rawValue] ? UInt64(campaignValueID()) : Self.noValue
        return campaignID << 32 | pathID
    }

    private mutating func campaignValueID() -> Int {
        campaign.isEmpty ? noCampaign : campaign.withUnsafeBytes { aggregator.valueID(.campaign, $0) }
    }

    /// The referrer host value of a referrer, and whether it is the same on every day: a host and `(invalid)`
    /// are (`cleanReferrers` keeps them); an address host follows the IP rule, whose keys change by period.
    private mutating func referrerValue(_ referrer: UnsafeRawBufferPointer, day: Int64) -> (value: Int, sameEveryDay: Bool) {
        switch URLSanitizer.referrerHost(of: referrer, into: &scratch) {
        case .host:
            return (scratch.withUnsafeBytes { aggregator.valueID(.referrerHost, $0) }, true)
        case .invalid:
            return (invalidReferrer, true)
        case .address(let address):
            // Every IP found elsewhere in a line follows the run's IP rule.
            guard let text = anonymizer.anonymize(address, day: day) else { return (droppedAddressReferrer, false) }
            return (aggregator.valueID(.referrerHost, text), false)
        }
    }

    /// The dimension values of the line's user agent, from the cache or classified now, and its slot
    /// (`agentSlot`).
    ///
    /// - Parameters:
    ///   - range: the line's user agent (`AccessLogEvent.userAgent`).
    ///   - key: the user agent's `RecentValues.key`, when the line has one.
    private mutating func userAgentValues(_ range: Range<Int>?, _ line: UnsafeRawBufferPointer,
                                          key: RecentValues.Key?) -> UserAgentValues {
        guard let range, let key else {
            agentSlot = Self.userAgentCacheLimit
            if let noUserAgent { return noUserAgent.values }
            let reading = classify(UnsafeRawBufferPointer(start: nil, count: 0))
            noUserAgent = reading
            return reading.values
        }
        if let slot = agentSlots.value(for: key) {
            agentSlot = Int(truncatingIfNeeded: slot)
            return userAgentValues[agentSlot]
        }
        // The slots start over past the limit: bots with random user agents must not grow memory. What a
        // counted visit's slot stood for is gone with them.
        if userAgentValues.count >= Self.userAgentCacheLimit {
            agentSlots.removeAll()
            countedVisits.removeAll()
            userAgentValues.removeAll(keepingCapacity: true)
            userAgentDetails.removeAll(keepingCapacity: true)
        }
        let reading = classify(UnsafeRawBufferPointer(rebasing: line[range]))
        agentSlot = userAgentValues.count
        userAgentValues.append(reading.values)
        userAgentDetails.append(reading.details)
        agentSlots.insert(UInt64(agentSlot), for: key)
        return reading.values
    }

    /// The details of the user agent in `slot`; `userAgentCacheLimit` is the slot of a line without one.
    private func agentDetails(slot: Int) -> UserAgentDetails {
        slot == Self.userAgentCacheLimit ? noUserAgent!.details : userAgentDetails[slot]
    }

    /// Classifies a user agent once, and scans it once for personal information (bots often carry a
    /// contact address; apps sometimes an account).
    private mutating func classify(_ raw: UnsafeRawBufferPointer) -> (values: UserAgentValues, details: UserAgentDetails) {
        let info = classifier.classify(raw)
        let version = info.majorVersion.map { "\(info.family) \($0)" } ?? info.family
        var kinds: [PersonalDataKind] = []
        if rules.readsUserAgent {
            sanitizer.scanText(raw, field: .userAgent, namedIfClean: false) { kinds.append($0.kind) }
        }
        // Value ids fit 32 bits: a dimension holds at most 2²⁷ values (`RowKey.valueBits`).
        let values = UserAgentValues(
            family: Int32(aggregator.valueID(.uaFamily, info.family)),
            version: Int32(aggregator.valueID(.uaVersion, version)),
            os: Int32(aggregator.valueID(.os, info.os)),
            device: Int32(aggregator.valueID(.device, info.device.rawValue)),
            agentClass: Int32(aggregator.valueID(.agentClass, info.agentClass.rawValue)),
            holdsPersonalData: !kinds.isEmpty
        )
        return (values, UserAgentDetails(info: info, personalKinds: kinds))
    }

    /// Finds the preferred tracking cookie and the opt-out cookie in a Cookie header
    /// (`name=value; name=value`). Ranges are offsets in the line (`base` is the header's offset).
    ///
    /// `mutating` although it changes nothing: the processor holds an existential (its parser), so a
    /// non-mutating call from `handle` would copy the whole processor for every line.
    private mutating func inspectCookies(_ header: UnsafeRawBufferPointer, base: Int) -> (Range<Int>?, Bool) {
        var best: (rank: Int, range: Range<Int>)?
        var optedOut = false
        CookieHeader.forEachPair(header) { name, value, pair in
            let nameBytes = UnsafeRawBufferPointer(rebasing: header[name])
            if let optOutName, optOutName.elementsEqual(nameBytes) {
                let valueBytes = UnsafeRawBufferPointer(rebasing: header[value])
                if optOutValue.map({ $0.elementsEqual(valueBytes) }) ?? true { optedOut = true }
            }
            guard !value.isEmpty else { return }
            for (rank, wanted) in trackingCookies.enumerated() where rank < (best?.rank ?? Int.max) {
                if wanted.elementsEqual(nameBytes) {
                    best = (rank, (base + pair.lowerBound)..<(base + pair.upperBound))
                    break
                }
            }
        }
        return (best?.range, optedOut)
    }

    /// The visitor's cache probe: of a tracking cookie when present, else of (client address, user agent); nil
    /// when neither may be used. The probe stands for the material `visitorID` hashes on a miss.
    ///
    /// - Parameter agentHash: the hash of the line's user agent (`RecentValues.Key.hash`), when it has one.
    private mutating func visitorProbe(client clientRange: Range<Int>, userAgent: Range<Int>?, _ line: UnsafeRawBufferPointer,
                                       tracking: Range<Int>?, agentHash: UInt64?) -> UInt64? {
        if tracking != nil {
            fillMaterial(client: clientRange, userAgent: userAgent, line, tracking: tracking)
            return material.withUnsafeBytes { visitors.probe(material: $0) }
        }
        guard rules.addressIdentifiesVisitor else { return nil }
        let client = UnsafeRawBufferPointer(rebasing: line[clientRange])
        // Looked up by the address (or a hash of the client text) and the hash the user-agent cache takes of
        // the agent: a returning visitor costs no material and no hash of it. The words say which kind each
        // is, so that the probe stands for the material alone.
        let clientWords = IPAddress.parse(client).map { ($0.high, $0.low, UInt64(1)) } ?? (ByteHash.hash(client), 0, 2)
        let agentWords = agentHash.map { ($0, UInt64(4)) } ?? (0, 0)
        return visitors.probe((clientWords.0, clientWords.1, clientWords.2 | agentWords.1, agentWords.0))
    }

    /// The keyed visitor id of the line whose `visitorProbe` is `probe`: cached, or an HMAC of its material
    /// (the tracking cookie, or the address and user agent), with the period key of `day`.
    private mutating func visitorID(client: Range<Int>, userAgent: Range<Int>?, _ line: UnsafeRawBufferPointer,
                                    tracking: Range<Int>?, probe: UInt64?, day: Int64) -> UInt64? {
        guard let probe else { return nil }
        if let id = visitors.cachedVisitor(probe: probe, day: day) { return id }
        fillMaterial(client: client, userAgent: userAgent, line, tracking: tracking)
        return material.withUnsafeBytes { visitors.newVisitor(probe: probe, material: $0) }
    }

    /// Puts a line's visitor material in `material`: `c` and the tracking cookie (`name=value`) when there is
    /// one, else `a`, the address (or the client text when it is none), a 0 and the user agent.
    private mutating func fillMaterial(client clientRange: Range<Int>, userAgent: Range<Int>?, _ line: UnsafeRawBufferPointer,
                                       tracking: Range<Int>?) {
        material.removeAll(keepingCapacity: true)
        if let tracking {
            material.append(UInt8(ascii: "c"))
            material.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[tracking]))
            return
        }
        let client = UnsafeRawBufferPointer(rebasing: line[clientRange])
        material.append(UInt8(ascii: "a"))
        if let address = IPAddress.parse(client) {
            withUnsafeBytes(of: address.high.bigEndian) { material.append(contentsOf: $0) }
            withUnsafeBytes(of: address.low.bigEndian) { material.append(contentsOf: $0) }
        } else {
            material.append(contentsOf: client)
        }
        material.append(0)
        if let userAgent { material.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[userAgent])) }
    }

    /// The visitor's pseudonym in events and vault: `v:` and 16 hex digits of the keyed visitor id. It
    /// changes with the key period, like the id.
    static func appendPseudonym(_ visitor: UInt64, to out: inout [UInt8]) {
        PersonalDataRouter.appendPseudonym(visitor, prefix: UInt8(ascii: "v"), to: &out)
    }

    /// One PI-free event: time, request (sanitized path, kept query), status, bytes, referrer host, user
    /// agent classes, the client per the IP mode, and the visitor pseudonym. When the vault is on, no
    /// IP-derived value is written next to the pseudonym that links to it.
    private mutating func appendEvent(_ event: AccessLogEvent, _ line: UnsafeRawBufferPointer, agent: UserAgentValues,
                                      referrer: Int?, visitor: UInt64?, day: Int64, pixel: Bool) {
        let rules = self.rules
        // Moved out and back, so that appending never copies the buffer.
        var out: [UInt8] = []
        swap(&out, &eventBuffer)
        defer { swap(&out, &eventBuffer) }
        out.append(contentsOf: #"{"time":""#.utf8)
        CivilTime.appendISO8601(event.time, to: &out)
        out.append(UInt8(ascii: "\""))
        func string(_ key: String, _ bytes: UnsafeRawBufferPointer) {
            out.append(UInt8(ascii: ","))
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
            JSONText.appendString(bytes, to: &out)
        }
        if event.requestIsValid {
            string("method", UnsafeRawBufferPointer(rebasing: line[event.method]))
            if rules.pathIsInteraction { path.withUnsafeBytes { string("path", $0) } }
            if rules.queryIsInteraction, !query.isEmpty { query.withUnsafeBytes { string("query", $0) } }
        }
        out.append(contentsOf: #","status":"#.utf8)
        JSONText.appendDecimal(Int64(event.status), to: &out)
        out.append(contentsOf: #","bytes":"#.utf8)
        JSONText.appendDecimal(event.bytes, to: &out)
        if let referrer {
            aggregator.withValueBytes(.referrerHost, referrer) { string("referrer_host", $0) }
        }
        if !eventName.isEmpty { eventName.withUnsafeBytes { string("event", $0) } }
        if rules.hostIsInteraction {
            // A host that is an address is an address: it follows the IP rule, so it is left out here.
            if pixel, !pixelHit.pageHost.isEmpty {
                pixelHit.pageHost.withUnsafeBytes { host in
                    if IPAddress.parse(host) == nil { string("host", host) }
                }
            } else if let range = event.host {
                let host = UnsafeRawBufferPointer(rebasing: line[range])
                if IPAddress.parse(host) == nil { string("host", host) }
            }
        }
        if rules.userAgentIsInteraction {
            aggregator.withValueBytes(.agentClass, Int(agent.agentClass)) { string("agent_class", $0) }
            aggregator.withValueBytes(.uaFamily, Int(agent.family)) { string("ua_family", $0) }
            var major = agentDetails(slot: agentSlot).info.majorVersion ?? ""
            major.withUTF8 { string("ua_major", UnsafeRawBufferPointer($0)) }
            aggregator.withValueBytes(.os, Int(agent.os)) { string("os", $0) }
            aggregator.withValueBytes(.device, Int(agent.device)) { string("device", $0) }
        }
        if !writeVault, rules.writesClient,
           let address = IPAddress.parse(UnsafeRawBufferPointer(rebasing: line[event.client])),
           var text = anonymizer.anonymize(address, day: day) {
            text.withUTF8 { string("client", UnsafeRawBufferPointer($0)) }
        }
        if let visitor {
            out.append(contentsOf: #","visitor":"#.utf8)
            Self.appendPseudonym(visitor, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
    }

    /// Starts an input read with `parser` (a fresh one per input: some keep state between lines).
    public mutating func startInput(parser: any WebLineParser) {
        self.parser = parser
    }

    /// Gives the parser a directive line from the part of the input an earlier run counted (W3C
    /// `#Fields:`), so that it reads the continued part as it would have; the line is not counted again.
    public mutating func primeInput(directive line: UnsafeRawBufferPointer) {
        _ = try? parser.parse(line, decoded: &decoded)
    }

    /// Returns the current input's counts, rejects and PI tally, and starts afresh for the next input; the
    /// trends go on accumulating.
    public mutating func finishInput() -> (counts: LineCounts, rejects: RejectTally, combinedLines: Int, personal: PersonalDataTally) {
        defer {
            counts = LineCounts()
            rejects = RejectTally(sampleLimit: configuration.rejectSamples)
            combinedLines = 0
            router.tally = PersonalDataTally()
        }
        return (counts, rejects, combinedLines, router.tally)
    }

    /// Whether the current input's lines may be shared out between this processor and copies of it (each
    /// started with this parser), with the same counts and trends as one processor taking them all: the
    /// parser reads every line on its own, and no line writes an ordered output (events, vault) or is
    /// judged against a stream's watermark.
    public var linesAreIndependent: Bool {
        parser.linesAreIndependent && !writeEvents && !writeVault && watermark == nil
    }

    /// A processor with this one's configuration, key, address anonymizer and parser, and nothing counted:
    /// a second processor for the same run, whose trends merge into this one's.
    public func sibling() -> WebLogProcessor {
        var copy = WebLogProcessor(configuration: configuration, keyring: visitors.keyring, anonymizer: anonymizer)
        copy.parser = parser
        copy.spill = spill
        return copy
    }

    /// Moves the rows of every bucket but the latest event's and the one before it to `spill`, when there
    /// are any: the runner calls this between runs of lines. Logs are written in time order, give or take
    /// the requests in flight, so those buckets are closed; a late event for one opens a new row, which the
    /// run's final pass adds to the spilled one exactly (counts add, sketches merge). The counted-visits
    /// cache is kept: a visit it knows is in a spilled sketch, which the final pass merges in.
    public mutating func spillClosedBuckets() {
        guard let spill, let current = aggregator.currentBucketStart else { return }
        let open = (current - aggregator.bucket.seconds)...current
        // Checked between every run of lines: no array is made for it.
        guard aggregator.holdsRows(inBucketWhere: { !open.contains($0) }) else { return }
        spill.spill(&aggregator) { !open.contains($0) }
    }

    /// Moves every row to `spill`, at the end of a batch run.
    public mutating func spillAll() {
        spill?.spill(&aggregator) { _ in true }
    }

    /// Adds the current input's counts, rejects, combined lines and personal-information tally of `other`,
    /// which took some of this input's lines, to this processor's, and starts `other` afresh for its next
    /// input. The reject samples kept are those of the lowest line numbers. Trends are not touched: they
    /// merge once, with `mergeTrends(_:)`.
    public mutating func absorbInput(of other: inout WebLogProcessor) {
        let part = other.finishInput()
        counts.add(part.counts)
        rejects.merge(part.rejects)
        combinedLines += part.combinedLines
        router.tally.merge(part.personal)
    }

    /// Removes the buckets that start before `start` from the trends and returns their records (k-anonymity
    /// applied with `minCount`): a stream's closed buckets.
    public mutating func drainTrends(bucketsBefore start: Int64, minCount: Int) -> [WebTrendRecord] {
        countedVisits.removeAll()
        return aggregator.drain(bucketsBefore: start, minCount: minCount)
    }

    /// Adds another worker's trends to this one's.
    public mutating func mergeTrends(_ other: WebLogProcessor) {
        aggregator.merge(other.aggregator)
    }
}

/// Counts personal information by kind and field, and writes what the policy routes to the vault.
///
/// The vault keeps, per pseudonym and day, the field, the parameter name, the kind and the value; never a
/// sensitive kind (card numbers, keypad input), never a field the policy does not class as personal, and
/// each (pseudonym, day, field, value) once per run. Web logs key it by visitor (`v:…`), call records by
/// caller (`c:…`). An empty router costs no allocation, so one can be swapped in and
/// out of the processor for every event.
struct PersonalDataRouter: Sendable {
    /// The letter before the pseudonym's hex digits: `v` (visitor) or `c` (caller).
    let pseudonymPrefix: UInt8
    var tally = PersonalDataTally()
    var vault: [UInt8] = []
    private var vaultSeen = Set<UInt64>()
    private var vaultVisitor: UInt64?
    private var day: Int64 = 0
    private var foundAny = false

    init(pseudonymPrefix: UInt8 = UInt8(ascii: "v")) {
        self.pseudonymPrefix = pseudonymPrefix
    }

    /// `"P:` and 16 hex digits of `id`, then `"`: a pseudonym as events and vault write it.
    static func appendPseudonym(_ id: UInt64, prefix: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(prefix)
        out.append(UInt8(ascii: ":"))
        withUnsafeBytes(of: id.bigEndian) { ASCII.appendLowercaseHex($0, to: &out) }
        out.append(UInt8(ascii: "\""))
    }

    /// Starts an event; `vaultVisitor` is nil when nothing of it may go to the vault.
    mutating func begin(vaultVisitor: UInt64?, day: Int64) {
        self.vaultVisitor = vaultVisitor
        self.day = day
        foundAny = false
    }

    mutating func end() {
        if foundAny { tally.lines += 1 }
    }

    mutating func count(_ kind: PersonalDataKind, in field: PersonalDataField) {
        foundAny = true
        tally.record(kind, in: field)
    }

    /// Counts a finding; writes it to the vault when `toVault` (its field is classed personal), the event has
    /// a vault visitor, and the kind is not sensitive.
    mutating func report(_ finding: PersonalDataFinding, toVault: Bool) {
        count(finding.kind, in: finding.field)
        guard toVault, let visitor = vaultVisitor, !finding.kind.isSensitive else { return }
        append(field: finding.field.rawValue, name: finding.name, kind: finding.kind.rawValue, value: finding.value,
               visitor: visitor)
    }

    /// A raw address (the client's, an X-Forwarded-For list), when the policy classes its field as personal
    /// and the vault is on.
    mutating func vaultAddress(_ address: UnsafeRawBufferPointer, field: String) {
        guard let visitor = vaultVisitor else { return }
        append(field: field, name: UnsafeRawBufferPointer(start: nil, count: 0), kind: "ip_address",
               value: address, visitor: visitor)
    }

    private mutating func append(field: String, name: UnsafeRawBufferPointer, kind: String,
                                 value: UnsafeRawBufferPointer, visitor: UInt64) {
        var seed = visitor ^ ByteHash.fmix64(UInt64(bitPattern: day))
        for byte in field.utf8 { seed = ByteHash.fmix64(seed ^ UInt64(byte)) }
        guard vaultSeen.insert(ByteHash.hash(value, seed: seed)).inserted else { return }
        vault.append(contentsOf: #"{"visitor":"#.utf8)
        Self.appendPseudonym(visitor, prefix: pseudonymPrefix, to: &vault)
        vault.append(contentsOf: #","day":""#.utf8)
        vault.append(contentsOf: CivilTime.isoDate(day: day).utf8)
        vault.append(contentsOf: #"","field":""#.utf8)
        vault.append(contentsOf: field.utf8)
        vault.append(UInt8(ascii: "\""))
        if !name.isEmpty {
            vault.append(contentsOf: #","name":"#.utf8)
            JSONText.appendString(name, to: &vault)
        }
        vault.append(contentsOf: #","kind":""#.utf8)
        vault.append(contentsOf: kind.utf8)
        vault.append(contentsOf: #"","value":"#.utf8)
        JSONText.appendString(value, to: &vault)
        vault.append(contentsOf: "}\n".utf8)
    }
}
