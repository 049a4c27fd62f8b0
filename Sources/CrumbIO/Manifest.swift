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
        /// SHA-256 of the decoded content counted (`content_bytes` of it): the content's identity, whatever
        /// the file's name or compression. `sha256` is the digest of the file's bytes as read.
        public var contentSHA256: String?
        public var contentBytes: Int64?
        /// What this run did with the input: `counted` (new content), `continued` (grown content: only the
        /// bytes after `new_from` were read), `unchanged` (already counted), `carried` (counted by an earlier
        /// run, not among this run's inputs), `skipped` (not a log: binary or compressed otherwise), `failed`.
        public var status: String?
        /// For a continued input, the decoded offset where this run's counting began.
        public var newFrom: Int64?

        enum CodingKeys: String, CodingKey {
            case path, bytes, sha256, format, encoding, error, channel, status
            case contentSHA256 = "content_sha256", contentBytes = "content_bytes", newFrom = "new_from"
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
    /// True for an output meant for merging (a shard, `--partial`): its trends keep the rows below
    /// `min_count`; k-anonymity is applied by the final merge.
    public var partial: Bool = false
    /// `--shard i/n`, when the run read one shard of its inputs.
    public var shard: String?
    /// Dimensions that reached `aggregation.max_values`, with the events counted under `(other)` for it.
    public var cappedDimensions: [String: Int64] = [:]
    /// What this run added, where `inputs` and `totals` describe everything the outputs hold.
    public var thisRun: RunDelta?
    /// For a merge: the outputs merged.
    public var mergedFrom: [String]?
    /// The `state.db` commit these outputs were derived from.
    public var stateGeneration: String?

    /// The work of one run, beside the cumulative totals.
    public struct RunDelta: Codable, Sendable {
        public var inputsCounted = 0
        public var inputsContinued = 0
        public var inputsUnchanged = 0
        public var inputsSkipped = 0
        public var inputsFailed = 0
        public var bytes: Int64 = 0
        public var decodedBytes: Int64 = 0
        public var linesRead = 0
        public var linesParsed = 0
        public var linesRejected = 0
        public var rejectsByReason: [String: Int] = [:]
        /// The state was started afresh: `--force`, no key (visitor ids of another run cannot be continued),
        /// or no earlier state.
        public var fresh = true

        public init() {}

        enum CodingKeys: String, CodingKey {
            case inputsCounted = "inputs_counted", inputsContinued = "inputs_continued"
            case inputsUnchanged = "inputs_unchanged", inputsSkipped = "inputs_skipped", inputsFailed = "inputs_failed"
            case bytes, decodedBytes = "decoded_bytes", linesRead = "lines_read", linesParsed = "lines_parsed"
            case linesRejected = "lines_rejected", rejectsByReason = "rejects_by_reason", fresh
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, schema, command, policy, bucket, inputs, totals, outputs, rows, incomplete, timings
        case partial, shard, cappedDimensions = "capped_dimensions", thisRun = "this_run", mergedFrom = "merged_from"
        case stateGeneration = "state_generation"
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
