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

    public init() {}
}
