import CrumbCore
import Foundation

/// `manifest.json`: what a run read, what it did with it, and under which settings. Key names follow the
/// output contract (schema v1) in DESIGN.md.
public struct Manifest: Codable, Sendable {
    public struct Input: Codable, Sendable {
        public var path: String
        public var bytes: Int64
        /// Bytes after decompression.
        public var decodedBytes: Int64
        public var sha256: String
        public var format: String
        public var encoding: String
        public var linesRead: Int
        public var linesParsed: Int
        public var linesRejected: Int
        public var linesBlank: Int
        public var rejectsByReason: [String: Int]
        /// Redacted: line number, code, offset and the line's shape, never its bytes.
        public var rejectSamples: [RejectTally.Sample]
        public var error: String?
        /// `web` or `calls`: which trends the input fed.
        public var channel: String = "web"
        /// How the format was chosen: `given` (--format) or the detector's reason.
        public var formatReason: String = "given"
        /// Directive and header lines (W3C `#Fields:`, a CSV's column names).
        public var linesHeader: Int = 0

        enum CodingKeys: String, CodingKey {
            case path, bytes, sha256, format, encoding, error, channel
            case formatReason = "format_reason", linesHeader = "lines_header"
            case decodedBytes = "decoded_bytes"
            case linesRead = "lines_read", linesParsed = "lines_parsed", linesRejected = "lines_rejected"
            case linesBlank = "lines_blank", rejectsByReason = "rejects_by_reason", rejectSamples = "reject_samples"
        }
    }

    public struct Totals: Codable, Sendable {
        public var inputs: Int
        public var bytes: Int64
        public var decodedBytes: Int64
        public var linesRead: Int
        public var linesParsed: Int
        public var linesRejected: Int
        public var linesBlank: Int
        /// Events with an opt-out signal (DNT, Sec-GPC or the opt-out cookie).
        public var linesOptedOut: Int
        public var rejectsByReason: [String: Int]
        public var inputsWithErrors: Int
        /// Directive and header lines.
        public var linesHeader: Int = 0

        enum CodingKeys: String, CodingKey {
            case inputs, bytes
            case linesHeader = "lines_header"
            case decodedBytes = "decoded_bytes"
            case linesRead = "lines_read", linesParsed = "lines_parsed", linesRejected = "lines_rejected"
            case linesBlank = "lines_blank", linesOptedOut = "lines_opted_out"
            case rejectsByReason = "rejects_by_reason", inputsWithErrors = "inputs_with_errors"
        }
    }

    public struct Timings: Codable, Sendable {
        public var startedAt: String
        public var finishedAt: String
        public var wallSeconds: Double
        public var processSeconds: Double
        public var writeSeconds: Double

        enum CodingKeys: String, CodingKey {
            case startedAt = "started_at", finishedAt = "finished_at", wallSeconds = "wall_seconds"
            case processSeconds = "process_seconds", writeSeconds = "write_seconds"
        }
    }

    public var version: String
    public var schema: Int
    public var command: String
    public var policySHA256: String
    /// The privacy settings in effect; `policy_sha256` is the digest of their canonical text.
    public var policy: [String: String]
    public var keyFingerprint: String
    /// True when no key was given: visitor ids and hashed addresses are valid within this run only.
    public var keyEphemeral: Bool
    public var bucket: String
    public var inputs: [Input]
    public var totals: Totals
    /// Personal information found, by kind (counts only, never values).
    public var personalFoundByKind: [String: Int]
    /// The same, by field and kind.
    public var personalFoundByField: [String: [String: Int]]
    /// Lines in which any personal information was found.
    public var linesWithPersonalData: Int
    public var outputs: [String]
    public var rows: [String: Int]
    /// True when the run exceeded the allowed reject ratio or an input failed: the outputs are partial.
    public var incomplete: Bool
    public var timings: Timings

    enum CodingKeys: String, CodingKey {
        case version, schema, command, policy, bucket, inputs, totals, outputs, rows, incomplete, timings
        case policySHA256 = "policy_sha256", keyFingerprint = "key_fingerprint", keyEphemeral = "key_ephemeral"
        case personalFoundByKind = "personal_found_by_kind", personalFoundByField = "personal_found_by_field"
        case linesWithPersonalData = "lines_with_personal_data"
    }

    /// Pretty, key-sorted JSON with a trailing newline.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}
