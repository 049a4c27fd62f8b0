/// The privacy policy crumb enforces: per field role, a class; how IPs, keys, query strings, cookies and
/// opt-out signals are handled; which detectors run; how trends are aggregated; which outputs are written.
///
/// A pure value (DESIGN.md, "Policy"). It is read from YAML by `PolicyLoader` (CrumbIO), checked once with
/// ``problems()``, and then consulted on the hot path through small methods such as
/// ``allowsQueryParameter(_:)``. ``standard`` is the built-in default and equals `samples/policy.yaml`, which
/// implements `seed/privacy-policy.md`.
///
/// The key itself never appears here: ``key`` only says where to read it from.
public struct Policy: Sendable, Equatable {
    /// What a field's content is, and therefore where it may go.
    public enum FieldClass: String, Sendable, CaseIterable {
        /// Interaction Data: may feed trends and the events output, after anonymization.
        case interaction
        /// Personal Information: never reaches trends or events; goes to the vault when it is on, else dropped.
        case personal
        /// Never written anywhere (card numbers, keypad digits); only counted.
        case sensitive
        /// Not read at all.
        case drop
    }

    /// The roles a log field can play.
    public enum Role: String, Sendable, CaseIterable {
        case clientIP = "client_ip"
        case remoteUser = "remote_user"
        case path
        case query
        case referrer
        case userAgent = "user_agent"
        case cookie
        case forwardedFor = "forwarded_for"
        case time
        case method
        case status
        case bytes
        /// The virtual host served (`%v`, `$host`, `cs-host`).
        case host
        /// Captured values no other role claims: unmapped JSON fields, extra request headers, extra CDR
        /// columns. Personal unless the policy says otherwise.
        case other
        // Telephony (call detail records).
        /// The caller's number (`src`, `${caller_id_number}`, the number in `clid`).
        case callerNumber = "caller_number"
        /// The caller's name (the name in `clid`, `${caller_id_name}`).
        case callerName = "caller_name"
        /// `accountcode`.
        case accountCode = "account_code"
        /// Channel names (`SIP/5551234-0000a`), which may embed numbers.
        case channel
        /// The dialled number or extension (`dst`, `${destination_number}`).
        case dialled
        /// The dialplan context (queue, IVR entry point).
        case context
        /// The dialplan application (`lastapp`): the IVR path is built from it.
        case application
        /// The application's arguments (`lastdata`): dial strings, prompts, keypad input.
        case applicationData = "app_data"
        /// `userfield`: free text set by the dialplan.
        case userField = "user_field"
        /// How the call ended (`disposition`, `${hangup_cause}`).
        case disposition
        /// Talk time (`billsec`) and duration.
        case talkTime = "talk_time"
    }

    /// A signal by which a visitor says "do not track me".
    public enum OptOutSignal: String, Sendable, CaseIterable {
        /// The `DNT: 1` request header.
        case dnt
        /// The `Sec-GPC: 1` request header (Global Privacy Control).
        case gpc
        /// The opt-out cookie (``Policy/optOutCookieName``).
        case cookie
    }

    /// Where the secret for keyed hashing comes from: `env:NAME` or `file:PATH`. Never the key itself.
    public struct KeySource: Sendable, Equatable {
        public enum Kind: String, Sendable {
            /// An environment variable.
            case env
            /// A file.
            case file
        }

        public var kind: Kind
        /// The variable's name or the file's path.
        public var name: String

        public init(kind: Kind, name: String) {
            self.kind = kind
            self.name = name
        }

        /// Parses `env:NAME` (NAME: a letter or `_`, then letters, digits or `_`) or `file:PATH` (PATH not
        /// empty, no control characters). Anything else is `nil`: a key source that is not one of these
        /// could only be key material, which never goes in the policy file.
        public init?(parsing text: String) {
            if text.hasPrefix("env:") {
                let name = String(text.dropFirst(4))
                guard Self.isEnvironmentName(name) else { return nil }
                self.init(kind: .env, name: name)
            } else if text.hasPrefix("file:") {
                let path = String(text.dropFirst(5))
                guard Self.isPath(path) else { return nil }
                self.init(kind: .file, name: path)
            } else {
                return nil
            }
        }

        /// `env:NAME` or `file:PATH`.
        public var text: String { kind.rawValue + ":" + name }

        /// Whether ``name`` is well formed for ``kind``.
        public var isValid: Bool {
            switch kind {
            case .env: Self.isEnvironmentName(name)
            case .file: Self.isPath(name)
            }
        }

        static func isEnvironmentName(_ name: String) -> Bool {
            func isLetterOrUnderscore(_ byte: UInt8) -> Bool {
                byte == UInt8(ascii: "_") || (byte | 0x20) &- UInt8(ascii: "a") < 26
            }
            guard let first = name.utf8.first, isLetterOrUnderscore(first) else { return false }
            return name.utf8.allSatisfy { isLetterOrUnderscore($0) || $0 &- UInt8(ascii: "0") < 10 }
        }

        static func isPath(_ path: String) -> Bool {
            !path.isEmpty && !path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        }
    }

    /// A setting that cannot be run, or that contradicts another setting.
    public struct Problem: Sendable, Equatable {
        /// The setting at fault, as a dotted path of policy-file keys, with `[i]` for a list item:
        /// `ip.mode`, `fields.client_ip`, `query.allow[2]`, `aggregation.dimensions[4]`.
        public var setting: String
        /// Other settings involved, most relevant first; a loader points at the first one the file spells out
        /// when ``setting`` itself was left to its default.
        public var related: [String]
        /// What is wrong and how to fix it, in plain words.
        public var message: String

        public init(setting: String, related: [String] = [], message: String) {
            self.setting = setting
            self.related = related
            self.message = message
        }
    }

    /// The only policy-file version this build understands.
    public static let currentVersion = 1

    /// The names the `named_field` detector looks for when the policy does not list its own: the
    /// detector's built-in list (``PersonalDataDetector/Options/namedFields``), parameter and field names
    /// that carry Personal Information (Platform Privacy Policy: name, organisation, email, phone, postal
    /// address, date of birth, gender, professional title, account information, user names, card numbers).
    public static var builtInNamedFields: [String] { PersonalDataDetector.Options().namedFields }

    /// Every detector, in a fixed order.
    public static let allDetectors: [PersonalDataKind] = [.email, .phone, .card, .ssn, .iban, .namedField]

    /// The policy-file version; only ``currentVersion`` is accepted.
    public var version: Int = 1
    /// The class of each role. Every role is present; a role missing from a hand-built dictionary counts as
    /// ``FieldClass/drop`` (see ``fieldClass(of:)``).
    public var fields: [Role: FieldClass]
    /// What happens to client IPs, and to every other IP crumb writes (X-Forwarded-For, IP-literal hosts).
    public var ipMode: IPMode
    /// Where the key for keyed hashing comes from; `nil` draws a random key for each run.
    public var key: KeySource?
    /// How often keyed tokens change.
    public var rotation: Keyring.Rotation
    /// Query parameter names whose values are kept; a trailing `*` makes a prefix pattern (`utm_*`). Every
    /// other parameter's value is dropped. Matched byte for byte, case-sensitively.
    public var queryAllow: [String] {
        didSet { queryAllowBytes = Self.patternBytes(queryAllow) }
    }
    /// Tracking cookies whose value identifies a visitor (it becomes a keyed pseudonym), in order of preference.
    public var trackingCookies: [String]
    /// The cookie that says "opted out"; `nil` when there is none.
    public var optOutCookieName: String?
    /// The value of ``optOutCookieName`` that means "opted out"; `nil`: any value does.
    public var optOutCookieValue: String?
    /// The opt-out signals that are honoured.
    public var optOutSignals: Set<OptOutSignal>
    /// Whether opted-out events still count in anonymous totals (hits, bytes, status). They are never in
    /// visitor sketches, visitor tokens or the events output.
    public var countOptedOutInTotals: Bool
    /// The detectors that run.
    public var detectors: Set<PersonalDataKind>
    /// The names the `named_field` detector looks for; `nil`: ``builtInNamedFields``.
    public var namedFields: [String]?
    /// The width of a trend bucket.
    public var bucket: TimeBucket
    /// The dimensions written besides `total`, which is always written.
    public var dimensions: [WebDimension]
    /// The call-trend dimensions written besides `total`.
    public var callDimensions: [CallDimension]
    /// k-anonymity: a published trend row whose unique count is below this is folded into `(other)`. 0 or 1: off.
    public var minCount: Int
    /// The most distinct values a trend dimension keeps (`aggregation.max_values`); past it, new values count
    /// under `(other)` and the manifest names the dimension. Bounds memory whatever the input's size.
    public var maxValues: Int = WebAggregator.defaultValueCap
    /// `formats.json`: how the fields of JSON inputs map to roles; nil: the built-in presets (detected) and
    /// `beacon` for `--format json`.
    public var jsonMapping: JSONFieldMapping?
    /// `formats.pixels`: tracking-pixel endpoints in access logs, whose hits count as the page they report.
    public var pixelEndpoints: [PixelEndpoint]
    /// `formats.timezone`: the zone of the local times in call detail records (`UTC`, `+02:00`,
    /// `Europe/Berlin`).
    public var callTimeZone: String
    /// Whether the events output (one PI-free record per event) is written.
    public var events: Bool
    /// Whether the vault (Personal Information under pseudonyms, mode 0600) is written.
    public var vault: Bool

    private var queryAllowBytes: [[UInt8]]

    /// The built-in policy: ``standard``.
    public init() {
        fields = [
            .clientIP: .personal, .remoteUser: .personal, .path: .interaction, .query: .interaction,
            .referrer: .interaction, .userAgent: .interaction, .cookie: .personal, .forwardedFor: .personal,
            .time: .interaction, .method: .interaction, .status: .interaction, .bytes: .interaction,
            .host: .interaction, .other: .personal,
            .callerNumber: .personal, .callerName: .personal, .accountCode: .personal, .channel: .personal,
            .dialled: .interaction, .context: .interaction, .application: .interaction, .applicationData: .personal,
            .userField: .personal, .disposition: .interaction, .talkTime: .interaction,
        ]
        ipMode = .truncate(ipv4Prefix: 24, ipv6Prefix: 48)
        key = KeySource(kind: .env, name: "CRUMB_KEY")
        rotation = .daily
        queryAllow = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "page", "lang"]
        queryAllowBytes = Self.patternBytes(queryAllow)
        trackingCookies = ["visitor_id", "vid", "_ga", "_pk_id", "uid"]
        optOutCookieName = "optout"
        optOutCookieValue = "1"
        optOutSignals = Set(OptOutSignal.allCases)
        countOptedOutInTotals = true
        detectors = Set(Self.allDetectors)
        namedFields = nil
        bucket = .hour
        dimensions = WebDimension.allCases.filter { $0 != .total }
        callDimensions = CallDimension.allCases.filter { $0 != .total }
        minCount = 5
        jsonMapping = nil
        pixelEndpoints = Self.defaultPixelPresets.flatMap { PixelEndpoints.presets[$0] ?? [] }
        callTimeZone = "UTC"
        events = false
        vault = false
    }

    /// The pixel presets of the built-in policy, in the order they are tried.
    public static let defaultPixelPresets = ["adobe", "urchin", "google_analytics", "matomo", "generic"]

    /// The built-in default policy; equal to `samples/policy.yaml`.
    public static let standard = Policy()

    /// The class of `role`; ``FieldClass/drop`` when `fields` lacks it.
    @inlinable
    public func fieldClass(of role: Role) -> FieldClass {
        fields[role] ?? .drop
    }

    /// The names the `named_field` detector looks for, or `[]` when that detector is off.
    public var effectiveNamedFields: [String] {
        detectors.contains(.namedField) ? (namedFields ?? Self.builtInNamedFields) : []
    }

    /// Whether k-anonymity suppression is on.
    public var suppressesSmallCounts: Bool { minCount > 1 }

    // MARK: - Query parameters

    /// Whether the value of the query parameter `name` is kept.
    ///
    /// `name` is the parameter name's bytes (the request sanitizer passes it percent-decoded). It matches an entry
    /// of ``queryAllow`` that is equal to it byte for byte, or an entry `prefix*` when it starts with
    /// `prefix`. Case-sensitive: `UTM_source` does not match `utm_*`.
    ///
    /// - Complexity: O(total length of the patterns); no allocation.
    public func allowsQueryParameter(_ name: UnsafeRawBufferPointer) -> Bool {
        for pattern in queryAllowBytes {
            if pattern.last == UInt8(ascii: "*") {
                let prefixLength = pattern.count - 1
                guard name.count >= prefixLength else { continue }
                var index = 0
                while index < prefixLength, name[index] == pattern[index] { index += 1 }
                if index == prefixLength { return true }
            } else if name.count == pattern.count {
                var index = 0
                while index < pattern.count, name[index] == pattern[index] { index += 1 }
                if index == pattern.count { return true }
            }
        }
        return false
    }

    /// ``allowsQueryParameter(_:)`` for a `String` name.
    public func allowsQueryParameter(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { allowsQueryParameter(UnsafeRawBufferPointer($0)) }
    }

    private static func patternBytes(_ patterns: [String]) -> [[UInt8]] {
        patterns.map { Array($0.utf8) }
    }

    /// Whether the allow-list pattern `pattern` keeps a parameter that the named-field detector knows as
    /// `name`. Both are compared the way the detector compares names: ASCII case ignored, and `-`, `_`,
    /// `.` and space removed (so `firstName` and `first-name` are `first_name`).
    static func pattern(_ pattern: String, keepsNamedField name: String) -> Bool {
        let isPrefix = pattern.hasSuffix("*")
        let pattern = normalizedName(isPrefix ? String(pattern.dropLast()) : pattern), name = normalizedName(name)
        return isPrefix ? name.hasPrefix(pattern) : pattern == name
    }

    /// `name` lowercased (ASCII) without `-`, `_`, `.` and spaces, as the named-field detector compares names.
    static func normalizedName(_ name: String) -> String {
        String(decoding: name.utf8.compactMap { byte -> UInt8? in
            switch byte {
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: " "): nil
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte | 0x20
            default: byte
            }
        }, as: UTF8.self)
    }

    // MARK: - Checks

    /// Every setting that is out of range or contradicts another one, in a fixed order (empty when the
    /// policy can be run). See ``Problem/setting`` for how settings are named.
    public func problems() -> [Problem] {
        var problems: [Problem] = []
        func refuse(_ setting: String, _ related: [String], _ message: String) {
            problems.append(Problem(setting: setting, related: related, message: message))
        }
        func refuse(_ setting: String, _ message: String) {
            refuse(setting, [], message)
        }

        if version != Self.currentVersion {
            refuse("version", "unsupported policy version \(version); this crumb understands version \(Self.currentVersion)")
        }
        for role in Role.allCases where fields[role] == nil {
            refuse("fields.\(role.rawValue)", "fields.\(role.rawValue) has no class")
        }

        // IPs.
        let clientIP = fieldClass(of: .clientIP)
        if case .truncate(let ipv4Prefix, let ipv6Prefix) = ipMode {
            if !(0...32).contains(ipv4Prefix) {
                refuse("ip.ipv4_prefix", "ip.ipv4_prefix must be between 0 and 32, got \(ipv4Prefix)")
            }
            if !(0...128).contains(ipv6Prefix) {
                refuse("ip.ipv6_prefix", "ip.ipv6_prefix must be between 0 and 128, got \(ipv6Prefix)")
            }
            if (ipv4Prefix == 32 || ipv6Prefix == 128), clientIP != .interaction {
                let setting = ipv4Prefix == 32 ? "ip.ipv4_prefix" : "ip.ipv6_prefix"
                refuse(setting, ["fields.client_ip"], "\(setting) \(ipv4Prefix == 32 ? 32 : 128) keeps whole addresses, but fields.client_ip is \(clientIP.rawValue); truncate to a network prefix, or class client_ip as interaction")
            }
        }
        if ipMode == .keep, clientIP != .interaction {
            refuse("ip.mode", ["fields.client_ip"], "ip.mode keep writes client IPs as they are, but fields.client_ip is \(clientIP.rawValue); use truncate, hash, prefix-preserving or drop, or class client_ip as interaction")
        }
        if clientIP == .drop, ipMode != .drop {
            refuse("fields.client_ip", ["ip.mode"], "fields.client_ip is drop but ip.mode is \(ipMode.name); set ip.mode: drop, or class client_ip as personal")
        }

        // Keys.
        if let key, !key.isValid {
            refuse("keys.source", "keys.source must be env:NAME or file:PATH; the key never goes in the policy file")
        }

        // Query strings.
        let namedFields = effectiveNamedFields
        for (index, pattern) in queryAllow.enumerated() {
            let setting = "query.allow[\(index)]"
            if let message = Self.patternProblem(pattern) {
                refuse(setting, message)
            } else if let name = namedFields.first(where: { Self.pattern(pattern, keepsNamedField: $0) }) {
                refuse(setting, ["detectors.named_fields"], "query.allow keeps '\(name)', which the detectors treat as personal")
            } else if queryAllow[..<index].contains(pattern) {
                refuse(setting, "query.allow lists '\(pattern)' twice")
            }
        }

        // Cookies and opt-out.
        for (index, name) in trackingCookies.enumerated() {
            if let message = Self.nameProblem(name, what: "a tracking cookie name") {
                refuse("cookies.tracking[\(index)]", message)
            } else if trackingCookies[..<index].contains(name) {
                refuse("cookies.tracking[\(index)]", "cookies.tracking lists '\(name)' twice")
            } else if name == optOutCookieName {
                refuse("cookies.tracking[\(index)]", ["cookies.opt_out.name"], "'\(name)' cannot be both a tracking cookie and the opt-out cookie")
            }
        }
        if let name = optOutCookieName, let message = Self.nameProblem(name, what: "the opt-out cookie name") {
            refuse("cookies.opt_out.name", message)
        }
        if optOutCookieName == nil, optOutCookieValue != nil {
            refuse("cookies.opt_out.value", "cookies.opt_out.value is set but there is no opt-out cookie name")
        }
        let cookie = fieldClass(of: .cookie)
        if cookie == .drop, !trackingCookies.isEmpty {
            refuse("fields.cookie", ["cookies.tracking"], "fields.cookie is drop, so the tracking cookies (\(trackingCookies.joined(separator: ", "))) can never be read; set cookies.tracking: [], or class cookie as personal")
        }
        if optOutSignals.contains(.cookie) {
            if optOutCookieName == nil {
                refuse("opt_out.signals", ["cookies.opt_out"], "opt_out.signals lists cookie but cookies.opt_out names no cookie")
            } else if cookie == .drop {
                refuse("fields.cookie", ["opt_out.signals"], "fields.cookie is drop, so the opt-out cookie could never be honoured; remove cookie from opt_out.signals, or class cookie as personal")
            }
        }

        // Detectors.
        if let names = self.namedFields {
            if names.isEmpty {
                refuse("detectors.named_fields", "detectors.named_fields is an empty list; use false to turn the named-field detector off")
            }
            for (index, name) in names.enumerated() {
                if let message = Self.nameProblem(name, what: "a named field") {
                    refuse("detectors.named_fields[\(index)]", message)
                }
            }
        }

        // Fields and aggregation.
        if fieldClass(of: .path) == .sensitive {
            refuse("fields.path", "fields.path cannot be sensitive: the path is the core of every trend, and the personal information in it (emails, long digit runs) is removed by the detectors; use interaction, or drop to leave paths out")
        }
        if fieldClass(of: .time) != .interaction {
            refuse("fields.time", "fields.time must be interaction: every trend is bucketed by time")
        }
        for (index, dimension) in dimensions.enumerated() {
            let setting = "aggregation.dimensions[\(index)]"
            if dimension == .total {
                refuse(setting, "aggregation.dimensions need not list total: it is always written")
            } else if dimensions[..<index].contains(dimension) {
                refuse(setting, "aggregation.dimensions lists \(dimension.name) twice")
            } else if let role = Self.sourceRole(of: dimension), fieldClass(of: role) != .interaction {
                refuse(setting, ["fields.\(role.rawValue)"], "dimension \(dimension.name) is built from \(role.rawValue), but fields.\(role.rawValue) is \(fieldClass(of: role).rawValue); remove the dimension, or class \(role.rawValue) as interaction")
            } else if dimension == .campaign, !allowsQueryParameter("utm_campaign") {
                refuse(setting, ["query.allow"], "dimension campaign needs query.allow to keep utm_campaign")
            }
        }
        for (index, dimension) in callDimensions.enumerated() {
            let setting = "aggregation.call_dimensions[\(index)]"
            if dimension == .total {
                refuse(setting, "aggregation.call_dimensions need not list total: it is always written")
            } else if callDimensions[..<index].contains(dimension) {
                refuse(setting, "aggregation.call_dimensions lists \(dimension.name) twice")
            } else if let role = Self.sourceRole(of: dimension), fieldClass(of: role) != .interaction {
                refuse(setting, ["fields.\(role.rawValue)"], "call dimension \(dimension.name) is built from \(role.rawValue), but fields.\(role.rawValue) is \(fieldClass(of: role).rawValue); remove the dimension, or class \(role.rawValue) as interaction")
            }
        }
        if maxValues < 2 {
            refuse("aggregation.max_values", "aggregation.max_values must be 2 or more, got \(maxValues)")
        }
        if minCount < 0 {
            refuse("aggregation.min_count", "aggregation.min_count must be 0 or more, got \(minCount) (0 or 1 turns k-anonymity off)")
        }

        // Formats.
        if LocalTimeZone(named: callTimeZone) == nil {
            refuse("formats.timezone", "formats.timezone '\(callTimeZone)' is not a zone: use UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin")
        }
        for (index, endpoint) in pixelEndpoints.enumerated() {
            let setting = "formats.pixels[\(index)]"
            if !endpoint.pathPattern.hasPrefix("/") && !endpoint.pathPattern.hasPrefix("*") {
                refuse(setting, "pixel endpoint \(endpoint.name): path must start with / or *, got '\(endpoint.pathPattern)'")
            } else if endpoint.pathPattern.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) {
                refuse(setting, "pixel endpoint \(endpoint.name): path cannot contain ?, # or spaces (use query_prefix for the query)")
            } else if endpoint.pageParameters.isEmpty {
                refuse(setting, "pixel endpoint \(endpoint.name) names no page parameter: its hits could never be mapped to a page")
            }
            for name in endpoint.pageParameters + endpoint.hostParameters + endpoint.referrerParameters + endpoint.eventParameters {
                if let message = Self.nameProblem(name, what: "a pixel parameter name") { refuse(setting, message) }
            }
        }

        // Outputs.
        if vault, !Role.allCases.contains(where: { fieldClass(of: $0) == .personal }) {
            refuse("outputs.vault", ["fields"], "outputs.vault is true but no field is personal: the vault would stay empty; set outputs.vault: false")
        }
        return problems
    }

    /// The role a dimension's values are derived from.
    static func sourceRole(of dimension: WebDimension) -> Role? {
        switch dimension {
        case .total: nil
        case .path: .path
        case .referrerHost: .referrer
        case .uaFamily, .uaVersion, .os, .device, .agentClass: .userAgent
        case .statusClass: .status
        case .campaign: .query
        case .event: nil
        }
    }

    /// The role a call dimension's values are derived from.
    static func sourceRole(of dimension: CallDimension) -> Role? {
        switch dimension {
        case .total: nil
        case .dialled: .dialled
        case .context: .context
        case .ivrPath: .application
        case .disposition: .disposition
        }
    }

    /// Why `pattern` is not a usable query allow-list entry, or `nil`.
    static func patternProblem(_ pattern: String) -> String? {
        if pattern.isEmpty { return "query.allow has an empty name" }
        if pattern == "*" { return "query.allow '*' would keep every parameter, which defeats the policy; list names or prefixes such as utm_*" }
        if pattern.dropLast().contains("*") { return "query.allow '\(pattern)': '*' may only end a pattern" }
        if let problem = nameProblem(String(pattern.hasSuffix("*") ? pattern.dropLast() : Substring(pattern)), what: "a query parameter name") {
            return problem
        }
        return nil
    }

    /// Why `name` is not usable as a parameter, cookie or field name, or `nil`.
    static func nameProblem(_ name: String, what: String) -> String? {
        if name.isEmpty { return "\(what) cannot be empty" }
        let forbidden = name.unicodeScalars.first {
            $0.value <= 0x20 || $0.value == 0x7F || "=&;,#?*\"".unicodeScalars.contains($0)
        }
        if let forbidden {
            let shown = forbidden.value <= 0x20 || forbidden.value == 0x7F ? "a space or control character" : "'\(forbidden)'"
            return "\(what) cannot contain \(shown): '\(name)'"
        }
        return nil
    }
}

// MARK: - Explanation and canonical text

extension Policy {
    /// The effective policy in plain words: one short paragraph per area (IPs, keys, query strings, cookies,
    /// opt-out, detectors, fields, aggregation, outputs), separated by blank lines. For `crumb policy check`.
    public func explanation() -> String {
        var paragraphs: [String] = []

        let otherIPs = "X-Forwarded-For addresses and every other IP address crumb writes follow the same rule."
        switch ipMode {
        case .drop:
            paragraphs.append("IP addresses: client IP addresses are dropped before any use and never written; visitors are told apart by tracking cookies only. \(otherIPs)")
        case .truncate(let ipv4Prefix, let ipv6Prefix):
            paragraphs.append("IP addresses: client IP addresses are truncated to their /\(ipv4Prefix) (IPv4) or /\(ipv6Prefix) (IPv6) network before any use; the full address is never written. \(otherIPs)")
        case .hash:
            paragraphs.append("IP addresses: client IP addresses become keyed pseudonyms (HMAC-SHA-256 under the period key) before any use; the address itself is never written. \(otherIPs)")
        case .prefixPreserving:
            paragraphs.append("IP addresses: client IP addresses are replaced by keyed prefix-preserving pseudonyms (CryptoPAn-style): addresses in one network share a pseudonym prefix, but no real address is written. \(otherIPs)")
        case .keep:
            paragraphs.append("IP addresses: client IP addresses are kept as they are, because fields.client_ip is classed interaction. \(otherIPs)")
        }

        let period = switch rotation {
        case .daily: "every UTC day, so tokens cannot be linked across days"
        case .monthly: "every UTC calendar month, so tokens cannot be linked across months"
        case .never: "never, so tokens link across the whole history"
        }
        let ephemeral = "each run draws a random key and never writes it down, so tokens and visitor counts are valid within that run only and cannot be merged across runs"
        switch key {
        case .some(let source) where source.kind == .env:
            paragraphs.append("Keys: keyed pseudonyms use the secret in the environment variable \(source.name); the key itself never goes in the policy file. The period key changes \(period). When \(source.name) is unset, \(ephemeral).")
        case .some(let source):
            paragraphs.append("Keys: keyed pseudonyms use the secret in the file \(source.name); the key itself never goes in the policy file. The period key changes \(period).")
        case .none:
            paragraphs.append("Keys: no key source is set: \(ephemeral). The period key changes \(period).")
        }

        if fieldClass(of: .query) != .interaction {
            paragraphs.append("Query strings: query strings are \(fieldClass(of: .query) == .drop ? "not read" : "classed \(fieldClass(of: .query).rawValue)"); no parameter reaches the trends or events.")
        } else if queryAllow.isEmpty {
            paragraphs.append("Query strings: every query parameter's value is dropped.")
        } else {
            let patterns = queryAllow.filter { $0.hasSuffix("*") }
            var text = "Query strings: only the values of \(Self.list(queryAllow)) are kept (names match exactly and case-sensitively"
            if !patterns.isEmpty {
                text += "; \(Self.list(patterns.map { "\($0) keeps every name starting with \($0.dropLast())" }))"
            }
            text += "); every other parameter's value is dropped, and a kept value that a detector flags is removed too."
            paragraphs.append(text)
        }

        if fieldClass(of: .cookie) == .drop {
            paragraphs.append("Cookies: cookies are not read.")
        } else if trackingCookies.isEmpty {
            paragraphs.append("Cookies: no cookie identifies a visitor; every cookie value is dropped.")
        } else {
            paragraphs.append("Cookies: the tracking cookies \(Self.list(trackingCookies)) become keyed visitor pseudonyms (the first present wins); every other cookie is dropped.")
        }

        if optOutSignals.isEmpty {
            paragraphs.append("Opt-out: no opt-out signal is honoured.")
        } else {
            var signals: [String] = []
            if optOutSignals.contains(.dnt) { signals.append("the DNT: 1 header") }
            if optOutSignals.contains(.gpc) { signals.append("the Sec-GPC: 1 header") }
            if optOutSignals.contains(.cookie), let name = optOutCookieName {
                signals.append(optOutCookieValue.map { "the cookie \(name)=\($0)" } ?? "the cookie \(name) (any value)")
            }
            let totals = countOptedOutInTotals
                ? "they still count in the anonymous totals (hits, bytes, status)"
                : "they are not counted in any total either"
            paragraphs.append("Opt-out: a visitor opts out with \(Self.list(signals, conjunction: "or")). Opted-out events are left out of visitor counts, visitor tokens and the events output; \(totals).")
        }

        let kinds: [(PersonalDataKind, String)] = [
            (.email, "email addresses"), (.phone, "phone numbers (E.164 and national forms)"),
            (.card, "payment card numbers (Luhn-checked)"), (.ssn, "US social security numbers"), (.iban, "IBANs"),
        ]
        var found = kinds.filter { detectors.contains($0.0) }.map(\.1)
        if detectors.contains(.namedField) {
            found.append(namedFields == nil
                ? "the values of fields with personal names (the built-in list of \(Self.builtInNamedFields.count) names: name, email, phone, dob, account, card_number…)"
                : "the values of the named fields \(Self.list(namedFields ?? []))")
        }
        if found.isEmpty {
            paragraphs.append("Detectors: no detector runs; only the field classes and the query allow-list protect personal information.")
        } else {
            let off = kinds.filter { !detectors.contains($0.0) }.map(\.1) + (detectors.contains(.namedField) ? [] : ["named fields"])
            var text = "Detectors: crumb looks for \(Self.list(found)) in paths, query strings, referrers, cookies and free text; what they find is removed wherever it appears and counted by kind only. Card numbers are never written anywhere."
            if !off.isEmpty { text += " Off: \(Self.list(off))." }
            paragraphs.append(text)
        }

        let classes = FieldClass.allCases.map { fieldClass -> String in
            let roles = Role.allCases.filter { self.fieldClass(of: $0) == fieldClass }.map(\.rawValue)
            return "\(fieldClass.rawValue): \(roles.isEmpty ? "none" : roles.joined(separator: ", "))"
        }
        paragraphs.append("Fields: \(classes.joined(separator: "; ")). Interaction data feeds the trends (and the events output) after anonymization; personal information never does; sensitive fields are only counted; dropped fields are not read.")

        var aggregation = "Aggregation: trends are bucketed by UTC \(bucket.rawValue), with the dimensions \(Self.list(dimensions.map(\.name))) besides total."
        if dimensions.isEmpty { aggregation = "Aggregation: trends are bucketed by UTC \(bucket.rawValue), with the total dimension only." }
        if suppressesSmallCounts {
            aggregation += " A published row with fewer than \(minCount) unique visitors is folded into (other) (k-anonymity, k = \(minCount)); partial outputs meant for merging keep small rows until the final merge."
        } else {
            aggregation += " k-anonymity is off: rows with few visitors are published as they are."
        }
        paragraphs.append(aggregation)

        var formats = "Formats: each input's format is detected from its first lines unless --format names it."
        if let jsonMapping {
            formats += " JSON inputs map \(jsonMapping.entries.count) paths to roles; every other JSON field is \(fieldClass(of: .other).rawValue)."
        } else {
            formats += " JSON inputs use the built-in mappings (caddy, nginx_json, traefik, beacon); every field they do not name is \(fieldClass(of: .other).rawValue)."
        }
        if pixelEndpoints.isEmpty {
            formats += " No tracking-pixel endpoint is declared: pixel requests count as requests for the pixel."
        } else {
            let names = pixelEndpoints.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            formats += " Tracking-pixel hits (\(Self.list(names))) count as the page they report, with its referrer and event; the pixel's other parameters are only scanned."
        }
        formats += " Call detail records are read in the \(callTimeZone) time zone."
        paragraphs.append(formats)

        let callPersonal = [Role.callerNumber, .callerName, .accountCode, .channel, .applicationData, .userField]
            .filter { fieldClass(of: $0) == .personal }.map(\.rawValue)
        var calls = "Calls: each call detail record counts as one call"
        calls += callDimensions.isEmpty ? " in the total only" : ", by \(Self.list(callDimensions.map(\.name)))"
        calls += "; unique callers are counted from a keyed token of the caller's number, never the number."
        if !callPersonal.isEmpty { calls += " Personal: \(Self.list(callPersonal))." }
        calls += " Digits typed on the keypad are sensitive: counted, never written."
        paragraphs.append(calls)

        let eventsText = events ? "the events output is on (one PI-free record per event)" : "the events output is off"
        let vaultText = vault
            ? "the vault is on: personal information is written under pseudonyms to a file of mode 0600, never card numbers or keypad digits"
            : "the vault is off, so personal information is dropped after being counted"
        paragraphs.append("Outputs: the trends, the manifest and the rejects summary are always written; \(eventsText); \(vaultText).")

        return paragraphs.joined(separator: "\n\n")
    }

    /// The policy as canonical text: one `key=value` line per setting, in a fixed order, lists in a fixed
    /// order where order has no meaning (query allow-list, signals, detectors, dimensions) and as given where
    /// it does (tracking cookies, by preference). `policy_sha256` in the manifest is the SHA-256 of its UTF-8.
    ///
    /// Two policies that treat data the same way have the same text, whatever the YAML looked like. The key
    /// source is left out on purpose: where the key is read from changes no output (the manifest's key
    /// fingerprint identifies the key itself), and shards that read one key from different paths must merge.
    public func canonicalText() -> String {
        var lines = ["crumb-policy-canonical=1", "version=\(version)"]
        switch ipMode {
        case .truncate(let ipv4Prefix, let ipv6Prefix):
            lines += ["ip.mode=truncate", "ip.ipv4_prefix=\(ipv4Prefix)", "ip.ipv6_prefix=\(ipv6Prefix)"]
        default:
            lines.append("ip.mode=\(ipMode.name)")
        }
        lines.append("keys.rotation=\(rotation.rawValue)")
        lines.append("keys.ephemeral=\(key == nil)")
        for role in Role.allCases {
            lines.append("fields.\(role.rawValue)=\(fieldClass(of: role).rawValue)")
        }
        lines.append("query.allow=\(Self.quoted(Set(queryAllow).sorted()))")
        lines.append("cookies.tracking=\(Self.quoted(trackingCookies))")
        lines.append("cookies.opt_out.name=\(optOutCookieName.map { Self.quoted([$0]) } ?? "null")")
        lines.append("cookies.opt_out.value=\(optOutCookieValue.map { Self.quoted([$0]) } ?? "null")")
        lines.append("opt_out.signals=\(OptOutSignal.allCases.filter(optOutSignals.contains).map(\.rawValue).joined(separator: ","))")
        lines.append("opt_out.count_in_totals=\(countOptedOutInTotals)")
        lines.append("detectors=\(Self.allDetectors.filter(detectors.contains).map(\.rawValue).joined(separator: ","))")
        lines.append("detectors.named_fields=\(namedFields.map { Self.quoted(Set($0).sorted()) } ?? "builtin")")
        lines.append("aggregation.bucket=\(bucket.rawValue)")
        lines.append("aggregation.dimensions=\(WebDimension.allCases.filter(dimensions.contains).map(\.name).joined(separator: ","))")
        lines.append("aggregation.call_dimensions=\(CallDimension.allCases.filter(callDimensions.contains).map(\.name).joined(separator: ","))")
        lines.append("aggregation.min_count=\(suppressesSmallCounts ? minCount : 0)")
        // Written only when set, so that the digest of every policy from before the setting is unchanged.
        if maxValues != WebAggregator.defaultValueCap { lines.append("aggregation.max_values=\(maxValues)") }
        lines.append("formats.timezone=\(callTimeZone)")
        lines.append("formats.json=\(jsonMapping.map(\.canonicalText) ?? "presets")")
        for endpoint in pixelEndpoints {
            lines.append("formats.pixel=\(Self.quoted([endpoint.name, endpoint.pathPattern, endpoint.queryPrefix]))"
                + ";page=\(Self.quoted(endpoint.pageParameters));host=\(Self.quoted(endpoint.hostParameters))"
                + ";referrer=\(Self.quoted(endpoint.referrerParameters));event=\(Self.quoted(endpoint.eventParameters))"
                + ";default=\(Self.quoted([endpoint.defaultEvent]))")
        }
        lines.append("outputs.events=\(events)")
        lines.append("outputs.vault=\(vault)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `["a", "b"]` as `"a","b"`, with `"`, `\` and control characters escaped.
    private static func quoted(_ items: [String]) -> String {
        items.map { item in
            var out = "\""
            for scalar in item.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }.joined(separator: ",")
    }

    /// "a", "a and b", "a, b and c".
    private static func list(_ items: [String], conjunction: String = "and") -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " \(conjunction) " + items[items.count - 1]
        }
    }
}
