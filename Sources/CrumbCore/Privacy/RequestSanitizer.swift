/// Where in a log line personal information was found.
public enum PersonalDataField: String, Sendable, CaseIterable, Codable, Comparable {
    case path, query, referrer, cookie
    case remoteUser = "remote_user"
    case userAgent = "user_agent"
    /// A captured value no role claims (an unmapped JSON field, an extra request header or CDR column).
    case other
    // Telephony.
    case callerNumber = "caller_number"
    case callerName = "caller_name"
    case accountCode = "account_code"
    case channel
    case applicationData = "app_data"
    case userField = "user_field"

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Counts of personal information found, by kind and by field: counts only, never values.
public struct PersonalDataTally: Sendable, Equatable {
    public private(set) var byKind: [PersonalDataKind: Int] = [:]
    public private(set) var byField: [PersonalDataField: [PersonalDataKind: Int]] = [:]
    /// Lines with at least one finding.
    public var lines = 0

    public init() {}

    public mutating func record(_ kind: PersonalDataKind, in field: PersonalDataField) {
        byKind[kind, default: 0] += 1
        byField[field, default: [:]][kind, default: 0] += 1
    }

    public mutating func merge(_ other: PersonalDataTally) {
        for (kind, count) in other.byKind { byKind[kind, default: 0] += count }
        for (field, kinds) in other.byField {
            for (kind, count) in kinds { byField[field, default: [:]][kind, default: 0] += count }
        }
        lines += other.lines
    }

    public var total: Int { byKind.values.reduce(0, +) }
}

/// One piece of personal information found in a line: its kind, where, under which name, and its decoded
/// bytes (valid only during the callback). Only the vault ever keeps the bytes.
public struct PersonalDataFinding {
    public var kind: PersonalDataKind
    public var field: PersonalDataField
    public var name: UnsafeRawBufferPointer
    public var value: UnsafeRawBufferPointer
}

/// Splits request targets, referrers and cookies into what the policy keeps and what is personal.
///
/// - Path: cut at `?`/`#`; an absolute-form target keeps its path. Each segment is percent-decoded and run
///   through the detectors; a segment with a match is replaced by a placeholder naming the kind
///   (`/users/{email}/profile`), so trends stay useful, and a segment holding a run of nine or more digits
///   by `{number}`. Paths are cut at `maxPathLength` bytes.
/// - Query: each `name=value` pair is decoded (percent, `+` as space, repeatedly). Its value is kept only
///   when the policy allows the name, neither the name (a personal field name such as `email`) nor the
///   value holds personal information, and the value has fewer than nine digits; otherwise only the name is kept (`email=`), and nothing at all when
///   the name itself is personal (`jane@example.com=1`). `utm_campaign`, when kept, is the campaign.
/// - Referrer and cookies: only scanned here (the referrer's host and the tracking cookie are taken
///   elsewhere); findings are reported, nothing is kept.
public struct RequestSanitizer: Sendable {
    public static let maxPathLength = 512
    public static let maxCampaignLength = 128

    public let detector: PersonalDataDetector
    public let policy: Policy
    private var decoded: [UInt8] = []
    private var decodedName: [UInt8] = []
    private var matches: [PersonalDataMatch] = []
    /// What the scan-only entry points (`scanReferrer`, `scanCookies`, `scanQuery`, `scanNamedValue`) would
    /// keep, thrown away after each call; see `withIgnoredOutput`.
    private var ignoredKeep: [UInt8] = []
    private var ignoredCampaign: [UInt8] = []

    public init(detector: PersonalDataDetector, policy: Policy) {
        self.detector = detector
        self.policy = policy
    }

    /// Writes the sanitized path of `target` into `path`, the kept query into `query` (without `?`) and the
    /// campaign into `campaign`; reports each finding to `found`.
    public mutating func sanitize(
        target: UnsafeRawBufferPointer, path: inout [UInt8], query: inout [UInt8], campaign: inout [UInt8],
        found: (PersonalDataFinding) -> Void
    ) {
        path.removeAll(keepingCapacity: true)
        query.removeAll(keepingCapacity: true)
        campaign.removeAll(keepingCapacity: true)
        let count = target.count
        var start = 0
        if let authorityEnd = URLSanitizer.afterScheme(target) {
            var index = authorityEnd
            while index < count, target[index] != UInt8(ascii: "/"), target[index] != UInt8(ascii: "?"),
                  target[index] != UInt8(ascii: "#") { index += 1 }
            start = index
        }
        var end = start
        while end < count, target[end] != UInt8(ascii: "?"), target[end] != UInt8(ascii: "#") { end += 1 }
        sanitizePath(UnsafeRawBufferPointer(rebasing: target[start..<end]), into: &path, field: .path, found: found)
        if end < count, target[end] == UInt8(ascii: "?") {
            var queryEnd = end + 1
            while queryEnd < count, target[queryEnd] != UInt8(ascii: "#") { queryEnd += 1 }
            filterQuery(UnsafeRawBufferPointer(rebasing: target[(end + 1)..<queryEnd]), keep: &query,
                        campaign: &campaign, field: .query, found: found)
        }
    }

    /// Reports the personal information in a referrer: its user info, path and query.
    public mutating func scanReferrer(_ referrer: UnsafeRawBufferPointer, found: (PersonalDataFinding) -> Void) {
        var split = 0
        while split < referrer.count, referrer[split] != UInt8(ascii: "?") { split += 1 }
        _ = firstKind(in: UnsafeRawBufferPointer(rebasing: referrer[0..<split]), plusAsSpace: true, field: .referrer,
                      name: emptyBytes, found: found)
        if split < referrer.count {
            withIgnoredOutput { sanitizer, keep, campaign in
                sanitizer.filterQuery(UnsafeRawBufferPointer(rebasing: referrer[(split + 1)...]), keep: &keep,
                                      campaign: &campaign, field: .referrer, found: found)
            }
        }
    }

    /// Reports the personal information in a Cookie header's values (and names), skipping the cookies crumb
    /// itself reads (`skipping`: the tracking and opt-out cookies). Nothing of a cookie is kept.
    public mutating func scanCookies(_ header: UnsafeRawBufferPointer, skipping: [[UInt8]], found: (PersonalDataFinding) -> Void) {
        withIgnoredOutput { sanitizer, keep, campaign in
            CookieHeader.forEachPair(header) { name, value, _ in
                let nameBytes = UnsafeRawBufferPointer(rebasing: header[name])
                guard !skipping.contains(where: { $0.elementsEqual(nameBytes) }) else { return }
                sanitizer.filterParameter(name: nameBytes, value: UnsafeRawBufferPointer(rebasing: header[value]),
                                          keep: &keep, campaign: &campaign, field: .cookie, found: found)
                keep.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Reports the personal information in a free-text value (a remote user, a user agent).
    ///
    /// With `namedIfClean`, a value with no detector match is reported as a named field (the remote user
    /// field is personal by definition).
    public mutating func scanText(_ text: UnsafeRawBufferPointer, field: PersonalDataField, namedIfClean: Bool,
                                  found: (PersonalDataFinding) -> Void) {
        let kind = firstKind(in: text, plusAsSpace: false, field: field, name: emptyBytes, found: found)
        if namedIfClean, kind == nil {
            found(PersonalDataFinding(kind: .namedField, field: field, name: emptyBytes, value: text))
        }
    }

    /// Reports the personal information in a query string (`a=1&b=2`, without `?`); nothing is kept.
    public mutating func scanQuery(_ query: UnsafeRawBufferPointer, field: PersonalDataField,
                                   found: (PersonalDataFinding) -> Void) {
        withIgnoredOutput { sanitizer, keep, campaign in
            sanitizer.filterQuery(query, keep: &keep, campaign: &campaign, field: field, found: found)
        }
    }

    /// Reports the personal information in one named value that no role claims (an unmapped JSON field, an
    /// extra request header or CDR column): the detectors over the name and the value, and `named_field` when
    /// the name says the value is personal. Nothing is kept.
    public mutating func scanNamedValue(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, field: PersonalDataField,
                                        found: (PersonalDataFinding) -> Void) {
        withIgnoredOutput { sanitizer, keep, campaign in
            sanitizer.filterParameter(name: name, value: value, keep: &keep, campaign: &campaign, field: field, found: found)
        }
    }

    /// Runs `body` with the scanners' throwaway kept-query and campaign buffers, moved out of `self` for the
    /// call (so `body` may mutate `self` too) and back, emptied, afterwards: scanning a value allocates nothing
    /// once the buffers have grown.
    private mutating func withIgnoredOutput(_ body: (inout Self, inout [UInt8], inout [UInt8]) -> Void) {
        var keep: [UInt8] = []
        var campaign: [UInt8] = []
        swap(&keep, &ignoredKeep)
        swap(&campaign, &ignoredCampaign)
        body(&self, &keep, &campaign)
        keep.removeAll(keepingCapacity: true)
        campaign.removeAll(keepingCapacity: true)
        swap(&keep, &ignoredKeep)
        swap(&campaign, &ignoredCampaign)
    }

    private mutating func sanitizePath(_ path: UnsafeRawBufferPointer, into out: inout [UInt8], field: PersonalDataField,
                                       found: (PersonalDataFinding) -> Void) {
        if path.isEmpty {
            out.append(UInt8(ascii: "/"))
            return
        }
        var segmentStart = 0
        while segmentStart <= path.count {
            var segmentEnd = segmentStart
            while segmentEnd < path.count, path[segmentEnd] != UInt8(ascii: "/") { segmentEnd += 1 }
            let segment = UnsafeRawBufferPointer(rebasing: path[segmentStart..<segmentEnd])
            if let kind = firstKind(in: segment, plusAsSpace: false, field: field, name: emptyBytes, found: found) {
                out.append(UInt8(ascii: "{"))
                out.append(contentsOf: kind.rawValue.utf8)
                out.append(UInt8(ascii: "}"))
            } else if hasLongNumber(segment) {
                out.append(contentsOf: Self.numberPlaceholder)
            } else {
                out.append(contentsOf: segment)
            }
            if segmentEnd < path.count { out.append(UInt8(ascii: "/")) }
            if out.count >= Self.maxPathLength { break }
            segmentStart = segmentEnd + 1
        }
        if out.count > Self.maxPathLength { out.removeLast(out.count - Self.maxPathLength) }
    }

    private mutating func filterQuery(_ query: UnsafeRawBufferPointer, keep: inout [UInt8], campaign: inout [UInt8],
                                      field: PersonalDataField, found: (PersonalDataFinding) -> Void) {
        var start = 0
        while start < query.count {
            var end = start
            while end < query.count, query[end] != UInt8(ascii: "&"), query[end] != UInt8(ascii: ";") { end += 1 }
            var equals = start
            while equals < end, query[equals] != UInt8(ascii: "=") { equals += 1 }
            let rawName = UnsafeRawBufferPointer(rebasing: query[start..<equals])
            let rawValue = UnsafeRawBufferPointer(rebasing: query[min(equals + 1, end)..<end])
            if !rawName.isEmpty || !rawValue.isEmpty {
                filterParameter(name: rawName, value: rawValue, keep: &keep, campaign: &campaign, field: field, found: found)
            }
            start = end + 1
        }
    }

    private mutating func filterParameter(
        name rawName: UnsafeRawBufferPointer, value rawValue: UnsafeRawBufferPointer,
        keep: inout [UInt8], campaign: inout [UInt8], field: PersonalDataField, found: (PersonalDataFinding) -> Void
    ) {
        decodedName.removeAll(keepingCapacity: true)
        if !PercentDecoding.decode(rawName, plusAsSpace: true, into: &decodedName) {
            decodedName.append(contentsOf: rawName)
        }
        let name = decodedName
        name.withUnsafeBytes { name in
            // A name can itself be personal (`jane@example.com=1`): then nothing of the pair is kept.
            if firstKind(in: name, plusAsSpace: false, field: field, name: emptyBytes, found: found) != nil { return }
            let personalName = detector.isPersonalName(name)
            let valueKind = firstKind(in: rawValue, plusAsSpace: true, field: field, name: name, found: found)
            if personalName, valueKind == nil, !rawValue.isEmpty {
                withDecoded(rawValue, plusAsSpace: true) { value in
                    // `name=photo.jpg` names a file, not a person (seen thousands of times in real logs).
                    if !Self.isFileName(value) {
                        found(PersonalDataFinding(kind: .namedField, field: field, name: name, value: value))
                    }
                }
            }
            // The name stays (it says which parameters were sent); the value only when allowed and clean.
            if !keep.isEmpty { keep.append(UInt8(ascii: "&")) }
            keep.append(contentsOf: rawName)
            keep.append(UInt8(ascii: "="))
            guard !personalName, valueKind == nil, policy.allowsQueryParameter(name) else { return }
            // A kept value is a word or a label (`spring_sale`); one carrying a long number (a bare account,
            // social security or phone number no detector can tell from an id) is not kept.
            var digits = 0
            withDecoded(rawValue, plusAsSpace: true) { digits = Self.digitCount($0) }
            guard digits < Self.maxDigitsInKeptValue else { return }
            keep.append(contentsOf: rawValue)
            if name.elementsEqual("utm_campaign".utf8) {
                withDecoded(rawValue, plusAsSpace: true) { value in
                    campaign.removeAll(keepingCapacity: true)
                    campaign.append(contentsOf: value.prefix(Self.maxCampaignLength))
                }
            }
        }
    }

    /// A path segment with a run of this many digits is replaced by `{number}`: a bare account, customer,
    /// social security or phone number cannot be told from an id, and the privacy policy counts account
    /// numbers as personal information.
    public static let longNumberDigits = 9
    static let numberPlaceholder = Array("{number}".utf8)

    /// Whether the decoded `segment` holds a run of `longNumberDigits` digits (single ` `, `-` or `.`
    /// between digits allowed).
    private mutating func hasLongNumber(_ segment: UnsafeRawBufferPointer) -> Bool {
        var longest = 0
        withDecoded(segment, plusAsSpace: false) { value in
            var run = 0
            var index = 0
            while index < value.count {
                let byte = value[index]
                if ASCII.isDigit(byte) {
                    run += 1
                    longest = max(longest, run)
                } else if run > 0, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "."),
                          index + 1 < value.count, ASCII.isDigit(value[index + 1]) {
                    // a separator inside a number
                } else {
                    run = 0
                }
                index += 1
            }
        }
        return longest >= Self.longNumberDigits
    }

    /// Kept query values hold fewer digits than this.
    public static let maxDigitsInKeptValue = 9

    static func digitCount(_ value: UnsafeRawBufferPointer) -> Int {
        var count = 0
        for byte in value where ASCII.isDigit(byte) { count += 1 }
        return count
    }

    /// Whether `value` ends in a common file extension (`.jpg`, `.png`, `.pdf`, ...).
    static func isFileName(_ value: UnsafeRawBufferPointer) -> Bool {
        guard let dot = value.lastIndex(of: UInt8(ascii: ".")), dot > 0 else { return false }
        var extensionBytes: [UInt8] = []
        for byte in value[(dot + 1)...] {
            guard extensionBytes.count < 5 else { return false }
            extensionBytes.append(ASCII.lowercased(byte))
        }
        return fileExtensions.contains(extensionBytes)
    }

    static let fileExtensions: Set<[UInt8]> = Set(
        ["jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "bmp", "css", "js", "pdf", "mp4", "webm", "mp3", "zip", "txt", "xml", "json"]
            .map { Array($0.utf8) })

    /// Decodes `raw` (when it needs it), scans it, reports every match, and returns the first kind.
    private mutating func firstKind(
        in raw: UnsafeRawBufferPointer, plusAsSpace: Bool, field: PersonalDataField, name: UnsafeRawBufferPointer,
        found: (PersonalDataFinding) -> Void
    ) -> PersonalDataKind? {
        // The match list is moved out for the scan, so that the closures below touch no part of `self`
        // that is being modified.
        var matches: [PersonalDataMatch] = []
        swap(&matches, &self.matches)
        defer { swap(&matches, &self.matches) }
        matches.removeAll(keepingCapacity: true)
        let detector = self.detector
        var first: PersonalDataKind?
        func scan(_ value: UnsafeRawBufferPointer) {
            detector.scan(value, into: &matches)
            for match in matches {
                if first == nil { first = match.kind }
                found(PersonalDataFinding(kind: match.kind, field: field, name: name,
                                          value: UnsafeRawBufferPointer(rebasing: value[match.range])))
            }
        }
        decoded.removeAll(keepingCapacity: true)
        if PercentDecoding.decode(raw, plusAsSpace: plusAsSpace, into: &decoded) {
            decoded.withUnsafeBytes { scan($0) }
        } else {
            scan(raw)
        }
        return first
    }

    /// Calls `body` with `raw` percent-decoded (repeatedly, `+` as space when asked), or with `raw` itself
    /// when there is nothing to decode.
    private mutating func withDecoded(_ raw: UnsafeRawBufferPointer, plusAsSpace: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        decoded.removeAll(keepingCapacity: true)
        if PercentDecoding.decode(raw, plusAsSpace: plusAsSpace, into: &decoded) {
            let copy = decoded
            copy.withUnsafeBytes(body)
        } else {
            body(raw)
        }
    }
}

nonisolated(unsafe) private let emptyBytes = UnsafeRawBufferPointer(start: nil, count: 0)

extension Policy {
    /// The detector switches and named fields this policy asks for.
    public var detectorOptions: PersonalDataDetector.Options {
        var options = PersonalDataDetector.Options()
        options.email = detectors.contains(.email)
        options.phone = detectors.contains(.phone)
        options.card = detectors.contains(.card)
        options.ssn = detectors.contains(.ssn)
        options.iban = detectors.contains(.iban)
        if !detectors.contains(.namedField) {
            options.namedFields = []
        } else if let namedFields {
            options.namedFields = namedFields
        }
        return options
    }
}
