/// How web access logs are turned into trends: validated once, then used on every line.
public struct WebLogConfiguration: Sendable {
    public var bucket: TimeBucket = .hour
    public var parserMode: CombinedLogParser.Mode = .lenient
    /// Names of tracking cookies whose value identifies a visitor, in order of preference.
    public var visitorCookies: [String] = ["visitor_id", "vid", "_ga", "_pk_id", "uid"]
    /// Whether the client address may feed the visitor id (false when the IP mode is `drop`).
    public var addressIdentifiesVisitor = true
    /// Reject samples kept per input.
    public var rejectSamples = 5

    public init() {}
}

/// Counters for one input or a whole run.
public struct LineCounts: Sendable, Equatable, Codable {
    public var read = 0
    public var parsed = 0
    public var rejected = 0
    public var blank = 0

    public init() {}

    public mutating func add(_ other: LineCounts) {
        read += other.read
        parsed += other.parsed
        rejected += other.rejected
        blank += other.blank
    }
}

/// Parses, anonymizes and aggregates access-log lines: the per-line hot path of `crumb run`.
///
/// One processor per worker. It owns its aggregator, reject tally and caches (user agents, visitor ids,
/// anonymized addresses); processors of different workers are combined with `merge(_:)`.
public struct WebLogProcessor: Sendable {
    public let configuration: WebLogConfiguration
    public let parser: CombinedLogParser
    public private(set) var aggregator: WebAggregator
    public private(set) var rejects: RejectTally
    public private(set) var counts = LineCounts()

    private var anonymizer: IPAnonymizer
    private var visitors: VisitorHasher
    private let classifier = UserAgentClassifier()

    /// Distinct raw user agents → their dimension values, classified once.
    private var userAgents = ByteInterner(capacity: 4096)
    private var userAgentValues: [UserAgentValues] = []
    private var noUserAgent: UserAgentValues?
    private var statusValues: [Int] = []
    private var totalValue = 0
    private var noReferrer = 0
    private var invalidReferrer = 0
    private var droppedAddressReferrer = 0
    private var scratch: [UInt8] = []
    private var material: [UInt8] = []
    private var cookieNames: [[UInt8]]

    struct UserAgentValues: Sendable {
        var family: Int, version: Int, os: Int, device: Int, agentClass: Int
    }

    public init(configuration: WebLogConfiguration, keyring: Keyring, anonymizer: IPAnonymizer) {
        self.configuration = configuration
        self.parser = CombinedLogParser(mode: configuration.parserMode)
        self.anonymizer = anonymizer
        self.visitors = VisitorHasher(keyring: keyring)
        self.rejects = RejectTally(sampleLimit: configuration.rejectSamples)
        self.cookieNames = configuration.visitorCookies.map { Array($0.utf8) }
        var aggregator = WebAggregator(bucket: configuration.bucket)
        totalValue = aggregator.valueID(.total, "all")
        statusValues = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"].map { aggregator.valueID(.statusClass, $0) }
        noReferrer = aggregator.valueID(.referrerHost, "(none)")
        invalidReferrer = aggregator.valueID(.referrerHost, "(invalid)")
        droppedAddressReferrer = aggregator.valueID(.referrerHost, "(ip address)")
        self.aggregator = aggregator
    }

    /// Handles one frame from the line framer: counts it, and parses and aggregates a line.
    public mutating func process(_ frame: LineFramer.Frame) {
        switch frame {
        case .tooLong(let number, _):
            counts.read += 1
            counts.rejected += 1
            rejects.record(.lineTooLong, line: number, offset: 0, bytes: nil)
        case .line(let bytes, let number):
            counts.read += 1
            if bytes.isEmpty || (Self.isBlank(bytes[0]) && bytes.allSatisfy(Self.isBlank)) {
                counts.blank += 1
                return
            }
            do {
                let event = try parser.parse(bytes)
                counts.parsed += 1
                if event.isCombined { combinedLines += 1 }
                aggregate(event, in: bytes)
            } catch {
                counts.rejected += 1
                rejects.record(error.code, line: number, offset: error.offset, bytes: bytes)
            }
        }
    }

    /// Counts a parsed event once in every dimension.
    mutating func aggregate(_ event: AccessLogEvent, in line: UnsafeRawBufferPointer) {
        let ordinal = aggregator.bucketOrdinal(for: event.time)
        let day = CivilTime.dayNumber(of: event.time)
        let visitor = visitorID(event, line, day: day)
        let bytes = event.bytes
        let status = event.status

        aggregator.add(bucket: ordinal, .total, value: totalValue, bytes: bytes, status: status, visitor: visitor)

        let path: Int
        if event.requestIsValid {
            URLSanitizer.path(of: UnsafeRawBufferPointer(rebasing: line[event.target]), into: &scratch)
            path = scratch.withUnsafeBytes { aggregator.valueID(.path, $0) }
        } else {
            path = aggregator.valueID(.path, "(invalid request)")
        }
        aggregator.add(bucket: ordinal, .path, value: path, bytes: bytes, status: status, visitor: visitor)

        let referrer = referrerValue(event, line, day: day)
        aggregator.add(bucket: ordinal, .referrerHost, value: referrer, bytes: bytes, status: status, visitor: visitor)

        let agent = userAgentValues(event, line)
        aggregator.add(bucket: ordinal, .uaFamily, value: agent.family, bytes: bytes, status: status, visitor: visitor)
        aggregator.add(bucket: ordinal, .uaVersion, value: agent.version, bytes: bytes, status: status, visitor: visitor)
        aggregator.add(bucket: ordinal, .os, value: agent.os, bytes: bytes, status: status, visitor: visitor)
        aggregator.add(bucket: ordinal, .device, value: agent.device, bytes: bytes, status: status, visitor: visitor)
        aggregator.add(bucket: ordinal, .agentClass, value: agent.agentClass, bytes: bytes, status: status, visitor: visitor)

        let statusClass = status >= 100 && status < 600 ? statusValues[status / 100 - 1] : statusValues[5]
        aggregator.add(bucket: ordinal, .statusClass, value: statusClass, bytes: bytes, status: status, visitor: visitor)
    }

    private mutating func referrerValue(_ event: AccessLogEvent, _ line: UnsafeRawBufferPointer, day: Int64) -> Int {
        guard let range = event.referrer else { return noReferrer }
        switch URLSanitizer.referrerHost(of: UnsafeRawBufferPointer(rebasing: line[range]), into: &scratch) {
        case .host:
            return scratch.withUnsafeBytes { aggregator.valueID(.referrerHost, $0) }
        case .invalid:
            return invalidReferrer
        case .address(let address):
            // Every IP found elsewhere in a line follows the run's IP rule.
            guard let text = anonymizer.anonymize(address, day: day) else { return droppedAddressReferrer }
            return aggregator.valueID(.referrerHost, text)
        }
    }

    private mutating func userAgentValues(_ event: AccessLogEvent, _ line: UnsafeRawBufferPointer) -> UserAgentValues {
        guard let range = event.userAgent else {
            if let noUserAgent { return noUserAgent }
            let values = classify(UnsafeRawBufferPointer(start: nil, count: 0))
            noUserAgent = values
            return values
        }
        let raw = UnsafeRawBufferPointer(rebasing: line[range])
        let id = userAgents.intern(raw)
        if id < userAgentValues.count { return userAgentValues[id] }
        let values = classify(raw)
        userAgentValues.append(values)
        return values
    }

    private mutating func classify(_ raw: UnsafeRawBufferPointer) -> UserAgentValues {
        let info = classifier.classify(raw)
        let version = info.majorVersion.map { "\(info.family) \($0)" } ?? info.family
        return UserAgentValues(
            family: aggregator.valueID(.uaFamily, info.family),
            version: aggregator.valueID(.uaVersion, version),
            os: aggregator.valueID(.os, info.os),
            device: aggregator.valueID(.device, info.device.rawValue),
            agentClass: aggregator.valueID(.agentClass, info.agentClass.rawValue)
        )
    }

    /// The keyed visitor id: a tracking cookie when present, else (client address, user agent); nil when
    /// neither may be used.
    private mutating func visitorID(_ event: AccessLogEvent, _ line: UnsafeRawBufferPointer, day: Int64) -> UInt64? {
        material.removeAll(keepingCapacity: true)
        if let cookie = event.cookie, appendTrackingCookie(UnsafeRawBufferPointer(rebasing: line[cookie])) {
            return material.withUnsafeBytes { visitors.visitor($0, day: day) }
        }
        guard configuration.addressIdentifiesVisitor else { return nil }
        material.append(UInt8(ascii: "a"))
        let client = UnsafeRawBufferPointer(rebasing: line[event.client])
        if let address = IPAddress.parse(client) {
            withUnsafeBytes(of: address.high.bigEndian) { material.append(contentsOf: $0) }
            withUnsafeBytes(of: address.low.bigEndian) { material.append(contentsOf: $0) }
        } else {
            material.append(contentsOf: client)
        }
        material.append(0)
        if let agent = event.userAgent { material.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[agent])) }
        return material.withUnsafeBytes { visitors.visitor($0, day: day) }
    }

    /// Finds the first configured tracking cookie in a Cookie header (`name=value; name=value`) and writes
    /// `c name=value` into `material`.
    private mutating func appendTrackingCookie(_ header: UnsafeRawBufferPointer) -> Bool {
        var best: (rank: Int, range: Range<Int>)?
        var start = 0
        let count = header.count
        while start < count {
            while start < count, header[start] == UInt8(ascii: " ") { start += 1 }
            var end = start
            while end < count, header[end] != UInt8(ascii: ";") { end += 1 }
            var equals = start
            while equals < end, header[equals] != UInt8(ascii: "=") { equals += 1 }
            if equals < end, equals + 1 < end {
                let name = UnsafeRawBufferPointer(rebasing: header[start..<equals])
                for (rank, wanted) in cookieNames.enumerated() where rank < (best?.rank ?? Int.max) {
                    if wanted.elementsEqual(name) {
                        best = (rank, start..<end)
                        break
                    }
                }
            }
            start = end + 1
        }
        guard let best else { return false }
        material.append(UInt8(ascii: "c"))
        material.append(contentsOf: UnsafeRawBufferPointer(rebasing: header[best.range]))
        return true
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Returns the current input's counts and rejects and starts afresh for the next input; the trends
    /// go on accumulating.
    public mutating func finishInput() -> (counts: LineCounts, rejects: RejectTally, combinedLines: Int) {
        defer {
            counts = LineCounts()
            rejects = RejectTally(sampleLimit: configuration.rejectSamples)
            combinedLines = 0
        }
        return (counts, rejects, combinedLines)
    }

    /// Adds another worker's trends to this one's.
    public mutating func mergeTrends(_ other: WebLogProcessor) {
        aggregator.merge(other.aggregator)
    }

    /// Lines of the current input that had the `combined` fields.
    public private(set) var combinedLines = 0
}
