/// The stage of the pipeline where a failure happened.
public enum Stage: String, Sendable, Codable {
    case decode, frame, parse, classify, aggregate, write
}

/// Why a line was rejected: a bounded set of codes, so counts can be reported and compared.
public enum RejectCode: String, Sendable, Codable, CaseIterable, Comparable {
    case lineTooLong = "line_too_long"
    case missingField = "missing_field"
    case badClient = "bad_client"
    case badTimestamp = "bad_timestamp"
    case badRequest = "bad_request"
    case badStatus = "bad_status"
    case badBytes = "bad_bytes"
    case badQuoting = "bad_quoting"
    case trailingGarbage = "trailing_garbage"

    public var stage: Stage { self == .lineTooLong ? .frame : .parse }

    public static func < (lhs: RejectCode, rhs: RejectCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A line that could not be parsed: the code and the byte offset in the line where parsing stopped.
/// Carries no bytes of the line itself.
public struct ParseFailure: Error, Equatable, Sendable {
    public var code: RejectCode
    public var offset: Int

    @inlinable
    public init(_ code: RejectCode, at offset: Int) {
        self.code = code
        self.offset = offset
    }
}
