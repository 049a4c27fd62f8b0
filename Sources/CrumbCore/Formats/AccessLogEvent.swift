/// One parsed access-log line: byte ranges into the line, one role per field, and the few values that are
/// cheaper to decode once (time, status, bytes). No `String` is made here.
public struct AccessLogEvent: Sendable, Equatable {
    /// `%h`: client address or host name.
    public var client: Range<Int> = 0..<0
    /// `%u`: remote user, `-` when absent. Personal.
    public var remoteUser: Range<Int> = 0..<0
    /// `%t` as epoch seconds, UTC.
    public var time: Int64 = 0
    /// `%r` split: method, request target, protocol. `requestIsValid` is false when `%r` is not of the
    /// form `METHOD SP TARGET [SP PROTOCOL]` (probes, TLS handshakes sent to a plain port, `-`).
    public var method: Range<Int> = 0..<0
    public var target: Range<Int> = 0..<0
    public var requestProtocol: Range<Int> = 0..<0
    public var requestIsValid: Bool = false
    /// `%>s`.
    public var status: Int = 0
    /// `%b`; 0 for `-`.
    public var bytes: Int64 = 0
    /// `%{Referer}i`, without quotes; nil for `common` lines and for `-`.
    public var referrer: Range<Int>? = nil
    /// `%{User-agent}i`, without quotes; nil for `common` lines and for `-`.
    public var userAgent: Range<Int>? = nil
    /// A trailing quoted Cookie field, when present and not `-`.
    public var cookie: Range<Int>? = nil
    /// A trailing quoted X-Forwarded-For field, when present and not `-`.
    public var forwardedFor: Range<Int>? = nil
    /// Whether the line had the `combined` fields (referrer and user agent).
    public var isCombined: Bool = false
    /// `%v`, `$host`, `cs-host`: the virtual host served; nil when the format has none or it is `-`.
    public var host: Range<Int>? = nil
    /// Time taken to serve the request, in microseconds (`%D`, `%T`, `$request_time`, `time-taken`); nil
    /// when the format has none.
    public var durationMicros: Int64? = nil
    /// The request carried `DNT: 1` (a captured `DNT` header).
    public var doNotTrack: Bool = false
    /// The request carried `Sec-GPC: 1` (a captured `Sec-GPC` header).
    public var globalPrivacyControl: Bool = false
    /// The event a beacon or tracking pixel reports (`page_view`, `click`...); nil for a plain request.
    public var eventName: Range<Int>? = nil
    /// Values the format captured but no role claims: JSON fields the mapping does not name, request
    /// headers other than the known ones. Personal until the policy says otherwise: they are scanned and
    /// counted, never written to trends or events. Empty (no allocation) for most lines.
    public var unmapped: [NamedRange] = []

    public init() {}
}

/// A captured value and the name it was captured under, as ranges into the same buffer as the event's.
/// `name` is empty when the format gives no name in the line (a format string's `%{X-Custom}i`).
public struct NamedRange: Sendable, Equatable {
    public var name: Range<Int>
    public var value: Range<Int>

    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}
