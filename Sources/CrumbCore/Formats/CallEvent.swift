/// One call detail record: byte ranges into the row (or into the parser's decoded buffer), one role per
/// column, and the few values decoded once (times, durations). No `String` is made here.
///
/// The roles follow Asterisk's `cdr_csv` Master.csv (accountcode, src, dst, dcontext, clid, channel,
/// dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, uniqueid,
/// userfield) and map FreeSWITCH `mod_cdr_csv` template variables onto the same roles.
public struct CallEvent: Sendable, Equatable {
    /// `accountcode`. Personal.
    public var accountCode: Range<Int>? = nil
    /// `src` / `${caller_id_number}`: the caller's number. Personal.
    public var source: Range<Int>? = nil
    /// `dst` / `${destination_number}`: the dialled number or extension. Interaction data.
    public var destination: Range<Int> = 0..<0
    /// `dcontext` / `${context}`: the dialplan context (queue, IVR entry point). Interaction data.
    public var context: Range<Int> = 0..<0
    /// `clid` as written (`"Name" <number>`). Personal.
    public var callerID: Range<Int>? = nil
    /// The name part of the caller ID (`${caller_id_name}`, or parsed out of `clid`). Personal.
    public var callerName: Range<Int>? = nil
    /// The number part of the caller ID (parsed out of `clid`). Personal.
    public var callerNumber: Range<Int>? = nil
    /// `channel` / `dstchannel`: technology/peer names, which may embed numbers (`SIP/5551234-0000a`).
    public var channel: Range<Int>? = nil
    public var destinationChannel: Range<Int>? = nil
    /// `lastapp` / `${last_app}`: the last dialplan application (`Dial`, `Queue`, `Read`, `Playback`...).
    public var lastApplication: Range<Int>? = nil
    /// `lastdata` / `${last_arg}`: its arguments; free text (dial strings, keypad input). Scanned.
    public var lastData: Range<Int>? = nil
    /// `start`, as epoch seconds UTC (the CSV has local time in a configured zone).
    public var start: Int64 = 0
    /// `answer`, epoch seconds UTC; nil when the call was not answered (empty column).
    public var answer: Int64? = nil
    /// `end`, epoch seconds UTC; nil when empty.
    public var end: Int64? = nil
    /// `duration`: seconds from start to end.
    public var duration: Int64 = 0
    /// `billsec`: seconds from answer to end, the talk time.
    public var billSeconds: Int64 = 0
    /// `disposition` / `${hangup_cause}`: `ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `NORMAL_CLEARING`...
    public var disposition: Range<Int> = 0..<0
    /// `amaflags`.
    public var amaFlags: Range<Int>? = nil
    /// `uniqueid` / `${uuid}`: the call leg's id; rows of one call share it in Asterisk.
    public var uniqueID: Range<Int>? = nil
    /// `userfield`: free text set by the dialplan. Scanned; personal.
    public var userField: Range<Int>? = nil
    /// Columns no role claims (Asterisk's optional linkedid/peeraccount/sequence, a custom FreeSWITCH
    /// template's extra variables, with the variable name when the template gives one). Personal until the
    /// policy says otherwise.
    public var unmapped: [NamedRange] = []

    public init() {}

    /// Whether the call was answered: it has an answer time.
    public var isAnswered: Bool { answer != nil }
}

/// What a CDR parser made of one row.
public enum CallParseResult: Sendable, Equatable {
    /// A record whose ranges point into the row itself.
    case event(CallEvent)
    /// A record whose ranges all point into the `decoded` buffer (a quoted field held doubled quotes).
    case decodedEvent(CallEvent)
    /// A header row (column names), which carries no call.
    case header
}

/// A parser of one call-detail-record format into `CallEvent`s.
public protocol CallLineParser: Sendable {
    /// The format's name, as `crumb formats` and the manifest show it.
    var formatName: String { get }

    /// Parses one row, without its terminator.
    ///
    /// - Parameter decoded: scratch the parser may clear and fill; when it returns `.decodedEvent`, every
    ///   range of the event points into it.
    /// - Throws: `ParseFailure` with a code and the offset in `line` where parsing stopped.
    mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> CallParseResult
}
