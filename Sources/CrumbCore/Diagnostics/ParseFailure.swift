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
    /// A delimited row (W3C, CSV) with fewer columns than its header declares.
    case missingColumn = "missing_column"
    /// A delimited row with more columns than its header declares.
    case extraColumns = "extra_columns"
    /// A W3C data line before any `#Fields:` directive.
    case noFieldsDirective = "no_fields_directive"
    /// A JSON line that is not one well-formed object.
    case badJSON = "bad_json"
    /// A numeric field (duration, size, seconds) that is not a number.
    case badNumber = "bad_number"

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
