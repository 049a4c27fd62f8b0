/// What a web-format parser made of one line.
public enum WebParseResult: Sendable, Equatable {
    /// An event whose ranges point into the line itself.
    case event(AccessLogEvent)
    /// An event whose ranges all point into the `decoded` buffer the parser was given: some value had to be
    /// unescaped or assembled (W3C `+`-encoded user agents, JSON strings, a CSV's doubled quotes).
    case decodedEvent(AccessLogEvent)
    /// A line that carries no event: a directive or header (W3C `#Fields:`, a CSV header row).
    case header
}

/// A parser of one web log format into `AccessLogEvent`s: byte ranges, one role per field, no `String`.
///
/// A parser may keep state between lines (W3C's `#Fields:` directive can change mid-file), so one parser
/// serves one input at a time, lines in order.
public protocol WebLineParser: Sendable {
    /// The format's name, as `crumb formats` and the manifest show it.
    var formatName: String { get }

    /// Parses one line, without its terminator.
    ///
    /// - Parameter decoded: scratch the parser may clear and fill; when it returns `.decodedEvent`, every
    ///   range of the event points into it. Its capacity is reused from line to line.
    /// - Throws: `ParseFailure` with a code and the offset in `line` where parsing stopped.
    mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult

    /// Parses one line as `parse(_:decoded:)` does, into `event` (overwritten whole unless the line is a header
    /// or fails): for the hot path, which keeps its events in place rather than copying each through a
    /// result. The default goes through `parse(_:decoded:)`.
    mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8],
                        into event: inout AccessLogEvent) throws(ParseFailure) -> WebParseKind

    /// Whether a line parses the same whatever lines came before it: then copies of the parser may each take
    /// some of an input's lines. False for a format whose directives change how later lines read (W3C's
    /// `#Fields:`), and by default.
    var linesAreIndependent: Bool { get }

    /// Whether every line starts with its client address, up to the first space: then lines shared out
    /// between processors go by client (`LineSplitter`), so that each visitor is hashed, classified and
    /// counted by one processor rather than by both. False by default.
    var linesStartWithClient: Bool { get }
}

/// What `WebLineParser.parse(_:decoded:into:)` found: `WebParseResult` without its event.
public enum WebParseKind: Sendable {
    /// The event's ranges point into the line.
    case event
    /// The event's ranges point into the `decoded` buffer.
    case decodedEvent
    /// A directive or header; the event was not written.
    case header
}

extension WebLineParser {
    public var linesAreIndependent: Bool { false }
    public var linesStartWithClient: Bool { false }

    public mutating func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8],
                               into event: inout AccessLogEvent) throws(ParseFailure) -> WebParseKind {
        switch try parse(line, decoded: &decoded) {
        case .event(let parsed):
            event = parsed
            return .event
        case .decodedEvent(let parsed):
            event = parsed
            return .decodedEvent
        case .header:
            return .header
        }
    }
}

extension CombinedLogParser: WebLineParser {
    public var linesAreIndependent: Bool { true }
    /// `%h` comes first in common and combined lines.
    public var linesStartWithClient: Bool { true }

    public var formatName: String {
        switch mode {
        case .lenient: "combined"
        case .combined: "combined"
        case .common: "common"
        }
    }

    public func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8]) throws(ParseFailure) -> WebParseResult {
        .event(try parse(line))
    }

    public func parse(_ line: UnsafeRawBufferPointer, decoded: inout [UInt8],
                      into event: inout AccessLogEvent) throws(ParseFailure) -> WebParseKind {
        try parse(line, into: &event)
        return .event
    }
}
