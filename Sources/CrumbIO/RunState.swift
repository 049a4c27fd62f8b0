import CrumbCore
import Crypto
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What an output directory has counted so far: `state.db`, the file a rerun resumes from and
/// `crumb merge` combines.
///
/// It is a `crumb.db` (same tables) whose rows are the unfolded trends: no k-anonymity, every sketch and
/// histogram, so that later inputs and other outputs add to them exactly. Its `crumb_meta` adds the input
/// ledger (which content was counted, up to which byte, with what result), the settings the counts were
/// made under, and the committed lengths of the streamed outputs. It is written whole, beside its old version,
/// and renamed over it: that rename is the run's commit point. Everything else in the output directory is
/// derived from it, so a run killed at any moment leaves either the old state or the new one. Mode 0600:
/// its small rows are below the publication threshold.
public struct RunState: Sendable {
    public static let fileName = "state.db"
    /// The version of the meta keys below.
    static let formatVersion = "1"

    /// The rows, when loaded with them or saved from them; a run and a merge stream theirs bucket by bucket
    /// instead (`save(directory:streamingRows:)`).
    public var web: [WebTrendRecord]
    public var calls: [CallTrendRecord]
    public var ledger: [LedgerEntry]
    public var settings: Settings
    /// Per dimension name, the events counted under `(other)` because the dimension reached its value cap.
    public var capped: [String: Int64] = [:]
    /// Per dimension name (call dimensions as `call.` and the name), the distinct values the saved rows hold,
    /// `(other)` included: what the final passes of a run or a merge found (`PassSummary`). Nil in a state an
    /// earlier version wrote.
    public var valueCounts: [String: Int]?
    /// Committed lengths of `events.jsonl` and `vault.jsonl`.
    public var eventsBytes: Int64 = 0
    public var vaultBytes: Int64 = 0
    /// A new id at every commit; the published outputs record the one they were derived from, so that a
    /// rerun with nothing new can tell they are current.
    public var generation = UUID().uuidString
    /// Whether the saved web rows are stored in ascending bucket order (a state a run's final pass wrote),
    /// so that the next run's pass reads them as stored, without sorting them.
    public private(set) var webRowsInBucketOrder = false
    /// Whether the saved call rows are stored in ascending bucket order, as `webRowsInBucketOrder`.
    public private(set) var callRowsInBucketOrder = false
    /// Whether `web` and `calls` were read (a state loaded without its rows holds only the ledger and meta).
    public private(set) var hasRows = true

    /// The settings the counts were made under. Runs and merges refuse to combine counts made under others.
    public struct Settings: Codable, Sendable, Equatable {
        public var keyFingerprint: String
        public var keyEphemeral: Bool
        public var policySHA256: String
        public var bucket: String
        public var minCount: Int
        public var maxValues: Int
        /// The manifest's policy summary, for the manifest of a merge.
        public var policy: [String: String]

        enum CodingKeys: String, CodingKey {
            case keyFingerprint = "key_fingerprint", keyEphemeral = "key_ephemeral", policySHA256 = "policy_sha256"
            case bucket, minCount = "min_count", maxValues = "max_values", policy
        }
    }

    public init(web: [WebTrendRecord], calls: [CallTrendRecord], ledger: [LedgerEntry], settings: Settings) {
        self.web = web
        self.calls = calls
        self.ledger = ledger
        self.settings = settings
    }

    /// The state in `directory`, or nil when there is none.
    ///
    /// - Throws: `StateError` when the file is there but unreadable or not a crumb state.
    public static func load(directory: String, rows: Bool = true) throws(StateError) -> RunState? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try load(path: path, rows: rows)
    }

    /// Reads the rows of a state loaded without them.
    public mutating func loadRows(directory: String) throws(StateError) {
        guard !hasRows else { return }
        let path = directory + "/" + Self.fileName
        do {
            let stored = try StoredTrends.read(path: path, rows: true)
            (web, calls, hasRows) = (stored.web, stored.calls, true)
        } catch {
            throw StateError(path: path, message: "cannot read: \(error.message)")
        }
    }

    public static func load(path: String, rows: Bool = true) throws(StateError) -> RunState {
        let stored: StoredTrends
        do {
            stored = try StoredTrends.read(path: path, rows: rows)
        } catch {
            throw StateError(path: path, message: "cannot read: \(error.message)")
        }
        let meta = stored.meta
        guard meta["state_format"] == formatVersion else {
            throw StateError(path: path, message: "not a crumb state (no state_format \(formatVersion) in crumb_meta)")
        }
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws(StateError) -> T {
            guard let text = meta[key], let value = try? decoder.decode(T.self, from: Data(text.utf8)) else {
                throw StateError(path: path, message: "damaged: crumb_meta.\(key) is missing or unreadable")
            }
            return value
        }
        var state = RunState(web: stored.web, calls: stored.calls, ledger: try decode([LedgerEntry].self, "ledger"),
                             settings: try decode(Settings.self, "settings"))
        state.capped = try decode([String: Int64].self, "capped")
        if meta["value_counts"] != nil { state.valueCounts = try decode([String: Int].self, "value_counts") }
        state.eventsBytes = Int64(meta["events_bytes"] ?? "0") ?? 0
        state.vaultBytes = Int64(meta["vault_bytes"] ?? "0") ?? 0
        state.generation = meta["generation"] ?? ""
        state.webRowsInBucketOrder = meta["web_rows_order"] == "bucket"
        state.callRowsInBucketOrder = meta["call_rows_order"] == "bucket"
        state.hasRows = rows
        return state
    }

    /// The tables of `state.db`: one row per trend key with its metrics, sketch and histogram, in no
    /// particular order and without indexes (the file is read whole), and the meta.
    static let schemaSQL = """
        CREATE TABLE web_state (
            bucket_start INTEGER NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,
            hits INTEGER NOT NULL, bytes INTEGER NOT NULL, status_4xx INTEGER NOT NULL, status_5xx INTEGER NOT NULL,
            sketch BLOB NOT NULL
        );
        CREATE TABLE call_state (
            bucket_start INTEGER NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,
            calls INTEGER NOT NULL, answered INTEGER NOT NULL, talk_seconds INTEGER NOT NULL,
            sketch BLOB NOT NULL, talk_histogram BLOB NOT NULL
        );
        CREATE TABLE crumb_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);
        """

    /// Writes the state to `directory/state.db` atomically (mode 0600): built beside it in one transaction,
    /// flushed, renamed over it.
    ///
    /// With `streamingRows`, the rows are those it gives, one web row or a batch of call records at a time,
    /// and neither `web` nor `calls` is written: a run's final passes produce them bucket by bucket while the
    /// state is written. It returns what the passes found (`PassSummary`): the capped counts, which join
    /// `capped`, and the value counts (known only once the rows are). Each table's rows must come in ascending
    /// bucket order: the state records that they do (`webRowsInBucketOrder`, `callRowsInBucketOrder`), and the
    /// next run's passes refuse rows that break it rather than count a bucket twice.
    public func save(directory: String, streamingRows: StreamingRows? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func text(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        func meta(capped: [String: Int64], valueCounts: [String: Int]?) throws -> [(String, String)] {
            (try valueCounts.map { [("value_counts", try text($0))] } ?? []) + [
                ("state_format", Self.formatVersion), ("crumb_version", CrumbVersion.current),
                ("bucket", settings.bucket), ("key_fingerprint", settings.keyFingerprint),
                ("settings", try text(settings)), ("ledger", try text(ledger)), ("capped", try text(capped)),
                ("events_bytes", String(eventsBytes)), ("vault_bytes", String(vaultBytes)), ("generation", generation),
            ] + (streamingRows == nil ? [] : [("web_rows_order", "bucket"), ("call_rows_order", "bucket")])
        }
        let path = directory + "/" + Self.fileName
        do {
            try AtomicFile.replace(path) { temporary in
                try SQLiteFile.build(at: temporary, mode: 0o600, reportingAs: path) {
                    let queue = try DatabaseQueue(path: temporary)
                    do {
                        try queue.writeWithoutTransaction { db in
                            // Nothing is lost by this: a failed build is deleted, and the rename is the commit.
                            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
                            try db.inTransaction(.exclusive) {
                                try db.execute(sql: Self.schemaSQL)
                                let streamed = try insertRows(into: db, streamingRows: streamingRows)
                                let setMeta = try SQLiteRowInserter(
                                    db, sql: "INSERT OR REPLACE INTO crumb_meta (key, value) VALUES (?, ?)")
                                for (key, value) in try meta(capped: capped.merging(streamed?.capped ?? [:]) { $1 },
                                                             valueCounts: streamed?.valueCounts ?? valueCounts) {
                                    setMeta.bind(1, key)
                                    setMeta.bind(2, value)
                                    try setMeta.step(db)
                                }
                                return .commit
                            }
                        }
                    } catch {
                        try? queue.close()
                        throw error
                    }
                    try queue.close()
                }
            }
        } catch let error as OutputError {
            throw error
        } catch let error as DatabaseError {
            throw OutputError(path: path, message: "SQLite: \(error.message ?? "error \(error.extendedResultCode.rawValue)")")
        }
    }

    /// The rows of a state written as a run's final passes give them (`save(directory:streamingRows:)`): called
    /// with an inserter of web rows and one of call records, it inserts every row through them and returns
    /// what the passes found.
    public typealias StreamingRows = (_ insertWeb: (WebAggregator.RowView) throws -> Void,
                                      _ insertCalls: ([CallTrendRecord]) throws -> Void) throws -> PassSummary

    /// Inserts the rows; returns what `streamingRows` gave (nil without it).
    private func insertRows(into db: Database, streamingRows: StreamingRows?) throws -> PassSummary? {
        var webRow = try SQLiteBatchInserter(db, table: "web_state", columns: 8)
        // The inserter goes in as a parameter: a nested function that captured the variable would box it, and
        // check exclusive access to it at run time, for every column of every row.
        func insertWeb(_ webRow: inout SQLiteBatchInserter, _ bucketStart: Int64, _ dimension: String,
                       _ value: UnsafeRawBufferPointer,
                       _ counts: (hits: Int64, bytes: Int64, status4xx: Int64, status5xx: Int64),
                       _ sketch: UnsafeRawBufferPointer) throws {
            webRow.bind(1, bucketStart)
            webRow.bind(2, dimension)
            webRow.bind(3, text: value)
            webRow.bind(4, counts.hits)
            webRow.bind(5, counts.bytes)
            webRow.bind(6, counts.status4xx)
            webRow.bind(7, counts.status5xx)
            webRow.bind(8, blob: sketch)
            try webRow.endRow(db)
        }
        let callRow = try SQLiteRowInserter(db, sql: "INSERT INTO call_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        func insertCalls(_ records: [CallTrendRecord]) throws {
            for record in records {
                callRow.bind(1, record.bucketStart)
                callRow.bind(2, record.dimension)
                callRow.bind(3, record.value)
                callRow.bind(4, record.calls)
                callRow.bind(5, record.answered)
                callRow.bind(6, record.talkSeconds)
                callRow.bind(7, blob: record.sketch)
                callRow.bind(8, blob: record.talkHistogram)
                try callRow.step(db)
            }
        }
        if let streamingRows {
            let summary = try streamingRows({ row in
                try insertWeb(&webRow, row.bucketStart, row.dimension.name, row.valueBytes,
                              (row.hits, row.bytes, row.status4xx, row.status5xx), row.sketchBytes)
            }, insertCalls)
            try webRow.finish(db)
            return summary
        }
        for record in web {
            var value = record.value
            try value.withUTF8 { value in
                try record.sketch.withUnsafeBytes { sketch in
                    try insertWeb(&webRow, record.bucketStart, record.dimension, UnsafeRawBufferPointer(value),
                                  (record.hits, record.bytes, record.status4xx, record.status5xx), sketch)
                }
            }
        }
        try webRow.finish(db)
        try insertCalls(calls)
        return nil
    }
}

/// What a run's final passes found besides the rows, by state name (web dimensions by name, call dimensions as
/// `call.` and the name): the events counted under `(other)` because a dimension reached its value cap, and
/// the distinct values each dimension's rows hold.
public struct PassSummary: Sendable, Equatable {
    public var capped: [String: Int64] = [:]
    public var valueCounts: [String: Int] = [:]

    public init(capped: [String: Int64] = [:], valueCounts: [String: Int] = [:]) {
        self.capped = capped
        self.valueCounts = valueCounts
    }

    /// Adds a call pass's summary, whose names are the call dimensions' own: here they take the state's
    /// `call.` prefix (`CallDimension.stateName`).
    mutating func add(calls: PassSummary) {
        for (name, count) in calls.capped { capped[CallDimension.statePrefix + name] = count }
        for (name, count) in calls.valueCounts { valueCounts[CallDimension.statePrefix + name] = count }
    }
}

extension CallDimension {
    /// What a state's per-dimension counts (`capped`, `value_counts`) put before a call dimension's name; web
    /// dimensions go by their name alone.
    static let statePrefix = "call."

    /// This dimension's name in a state's per-dimension counts.
    var stateName: String { Self.statePrefix + name }
}

/// A state's capped counts (`RunState.capped`), by dimension: what a final pass starts from.
struct CappedCounts {
    var web: [WebDimension: Int64] = [:]
    var calls: [CallDimension: Int64] = [:]
    /// Names this version does not know, kept as they were counted.
    var unknown: [String: Int64] = [:]

    /// Adds counts by state name.
    mutating func add(_ byName: [String: Int64]) {
        for (name, count) in byName {
            if name.hasPrefix(CallDimension.statePrefix),
               let dimension = CallDimension(name: String(name.dropFirst(CallDimension.statePrefix.count))) {
                calls[dimension, default: 0] += count
            } else if let dimension = WebDimension(name: name) {
                web[dimension, default: 0] += count
            } else {
                unknown[name, default: 0] += count
            }
        }
    }
}

/// A state file that cannot be used.
public struct StateError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// One counted content in the ledger: an input's decoded bytes up to `contentBytes`, what they contributed,
/// and where they were last seen.
///
/// Content is identified by what it decodes to, not by its name: a log renamed by rotation, or compressed
/// after rotation, is the same content. `checkpoints` are the digests of the prefix counted by each run, so
/// that a copy of an earlier, shorter version is recognised too.
public struct LedgerEntry: Codable, Sendable {
    /// The cumulative manifest entry: counts add up over the runs that read this content.
    public var input: Manifest.Input
    /// SHA-256 (hex) of the first `headLength` decoded bytes: the lookup key.
    public var headSHA256: String
    public var headLength: Int
    /// Per run that counted a longer prefix: its length and SHA-256 (hex), ascending.
    public var checkpoints: [Checkpoint]
    public var personal: PersonalTally
    public var optedOut: Int
    /// Where the content was last seen, to skip an unchanged file without reading it.
    public var file: FileIdentity?

    public struct Checkpoint: Codable, Sendable, Equatable {
        public var bytes: Int64
        public var sha256: String
        /// The prefix ended without a line feed: an append continues its last line, which was counted.
        public var endsMidLine: Bool?

        enum CodingKeys: String, CodingKey {
            case bytes, sha256, endsMidLine = "ends_mid_line"
        }
    }

    /// Decoded bytes counted.
    public var contentBytes: Int64 { checkpoints.last?.bytes ?? 0 }

    enum CodingKeys: String, CodingKey {
        case input, headSHA256 = "head_sha256", headLength = "head_length", checkpoints
        case personal, optedOut = "opted_out", file
    }
}

/// `PersonalDataTally` in the manifest's words, storable.
public struct PersonalTally: Codable, Sendable, Equatable {
    public var byKind: [String: Int] = [:]
    public var byField: [String: [String: Int]] = [:]
    public var lines = 0

    public init() {}

    public init(_ tally: PersonalDataTally) {
        byKind = Dictionary(uniqueKeysWithValues: tally.byKind.map { ($0.key.rawValue, $0.value) })
        byField = Dictionary(uniqueKeysWithValues: tally.byField.map { field, kinds in
            (field.rawValue, Dictionary(uniqueKeysWithValues: kinds.map { ($0.key.rawValue, $0.value) }))
        })
        lines = tally.lines
    }

    public mutating func add(_ other: PersonalTally) {
        for (kind, count) in other.byKind { byKind[kind, default: 0] += count }
        for (field, kinds) in other.byField {
            for (kind, count) in kinds { byField[field, default: [:]][kind, default: 0] += count }
        }
        lines += other.lines
    }

    enum CodingKeys: String, CodingKey {
        case byKind = "by_kind", byField = "by_field", lines
    }
}

/// A file's identity on disk: unchanged identity and size mean unchanged content (as log shippers assume).
public struct FileIdentity: Codable, Sendable, Equatable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64

    /// The identity of the file at `path`, or nil (standard input, or a file that cannot be stat'ed).
    public static func of(_ path: String) -> FileIdentity? {
        guard path != "-" else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return of(info)
    }

    /// The identity of the open file `descriptor`: the file actually read, even if its name has moved since.
    public static func of(descriptor: Int32) -> FileIdentity? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return of(info)
    }

    private static func of(_ info: stat) -> FileIdentity? {
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        #if canImport(Darwin)
        let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                            modifiedNanoseconds: modified)
    }

    enum CodingKeys: String, CodingKey {
        case device, inode, size, modifiedNanoseconds = "modified_ns"
    }
}

/// Looks content up in a ledger: by file identity (no reading) and by the digest of its first bytes.
struct LedgerIndex: Sendable {
    let entries: [LedgerEntry]
    private let byFile: [FileIdentity: Int]
    private let byHead: [String: [Int]]
    /// The distinct head lengths, so that a new input's head is hashed once per length.
    let headLengths: [Int]

    init(_ entries: [LedgerEntry]) {
        self.entries = entries
        var byFile: [FileIdentity: Int] = [:]
        var byHead: [String: [Int]] = [:]
        for (index, entry) in entries.enumerated() {
            if let file = entry.file { byFile[file] = index }
            byHead[entry.headSHA256, default: []].append(index)
        }
        self.byFile = byFile
        self.byHead = byHead
        headLengths = Set(entries.map(\.headLength)).sorted()
    }

    /// The entry whose content was last seen as exactly this file, unchanged.
    func entry(for file: FileIdentity?) -> Int? {
        file.flatMap { byFile[$0] }
    }

    /// The entries whose head matches `head` (the input's first decoded bytes, up to `ContentGate.headLength`).
    func candidates(head: UnsafeRawBufferPointer) -> [Int] {
        var found: [Int] = []
        for length in headLengths where length <= head.count {
            let digest = SHA256.hash(data: UnsafeRawBufferPointer(rebasing: head[0..<length])).hexString
            if let indexes = byHead[digest] {
                found.append(contentsOf: indexes.filter { entries[$0].headLength == length })
            }
        }
        return found
    }
}

/// Rows and meta of a `state.db`: what `crumb merge` and a resuming run read.
struct StoredTrends {
    var web: [WebTrendRecord]
    var calls: [CallTrendRecord]
    var meta: [String: String]

    struct ReadError: Error {
        var message: String
    }

    static func read(path: String, rows: Bool, webRows: Bool = true) throws(ReadError) -> StoredTrends {
        do {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                var meta: [String: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT key, value FROM crumb_meta") {
                    meta[row["key"]] = row["value"]
                }
                guard let bucketName = meta["bucket"], let bucket = TimeBucket(rawValue: bucketName) else {
                    throw ReadError(message: "crumb_meta has no bucket size")
                }
                guard try db.tableExists("web_state"), try db.tableExists("call_state") else {
                    throw ReadError(message: "not a crumb state: no web_state and call_state tables")
                }
                guard rows else { return StoredTrends(web: [], calls: [], meta: meta) }
                var web: [WebTrendRecord] = []
                let webCursor = try Row.fetchCursor(db, sql: """
                    SELECT bucket_start, dimension, value, hits, bytes, status_4xx, status_5xx, sketch FROM web_state
                    """ + (webRows ? "" : " LIMIT 0"))
                while let row = try webCursor.next() {
                    let sketch: Data = row[7] ?? Data()
                    web.append(WebTrendRecord(
                        bucketStart: row[0], bucket: bucket, dimension: row[1], value: row[2], hits: row[3], bytes: row[4],
                        status4xx: row[5], status5xx: row[6], uniques: 0, sketch: Array(sketch)))
                }
                var calls: [CallTrendRecord] = []
                let callRows = try Row.fetchCursor(db, sql: """
                    SELECT bucket_start, dimension, value, calls, answered, talk_seconds, sketch, talk_histogram FROM call_state
                    """)
                while let row = try callRows.next() {
                    let sketch: Data = row[6] ?? Data()
                    let histogram: Data = row[7] ?? Data()
                    // Sketch and histogram are decoded where they are used (`CallAggregator.absorb`).
                    calls.append(CallTrendRecord(
                        bucketStart: row[0], bucket: bucket, dimension: row[1], value: row[2], calls: row[3], answered: row[4],
                        callers: 0, talkSeconds: row[5], talkP50: 0, talkP95: 0, sketch: Array(sketch),
                        talkHistogram: Array(histogram)))
                }
                return StoredTrends(web: web, calls: calls, meta: meta)
            }
        } catch let error as ReadError {
            throw error
        } catch let error as DatabaseError {
            throw ReadError(message: "SQLite: \(error.message ?? "error \(error.extendedResultCode.rawValue)")")
        } catch {
            throw ReadError(message: "\(type(of: error))")
        }
    }
}

extension RunState {
    /// Whether `directory` holds a `crumb.db` written by `crumb stream` (no state, and no run manifest in its
    /// meta): a run there would replace the stream's rows.
    static func holdsStreamOutput(_ directory: String) -> Bool {
        let database = directory + "/crumb.db"
        guard FileManager.default.fileExists(atPath: database),
              !FileManager.default.fileExists(atPath: directory + "/" + fileName) else { return false }
        var configuration = Configuration()
        configuration.readonly = true
        guard let queue = try? DatabaseQueue(path: database, configuration: configuration) else { return false }
        defer { try? queue.close() }
        let hasManifest = try? queue.read { db in
            try db.tableExists("crumb_meta")
                && (try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'manifest'")) != nil
        }
        return hasManifest == false
    }

    /// The error for a state whose rows cannot be read back.
    static func damaged(_ directory: String, _ error: SketchDecodingError) -> StateError {
        damaged(path: directory + "/" + fileName, error)
    }

    /// The error for the state (or spill) at `path` whose rows cannot be read back.
    static func damaged(path: String, _ error: SketchDecodingError) -> StateError {
        StateError(path: path, message: "damaged: a saved row does not decode (\(error.reason)); run with --force to count every input again")
    }
}

extension LedgerEntry {
    /// Adds what a run read after the counted prefix: counts add up, the file's latest bytes and digest
    /// replace the old ones, and the new prefix becomes a checkpoint.
    mutating func add(_ result: BatchRunner.InputResult, checkpoint: Checkpoint, sampleLimit: Int) {
        let new = result.input
        let linesBefore = input.linesRead
        input.path = new.path
        input.bytes = new.bytes
        input.decodedBytes = new.decodedBytes
        input.sha256 = new.sha256
        input.encoding = new.encoding
        input.linesRead += new.linesRead
        input.linesParsed += new.linesParsed
        input.linesRejected += new.linesRejected
        input.linesBlank += new.linesBlank
        input.linesHeader += new.linesHeader
        for (reason, count) in new.rejectsByReason { input.rejectsByReason[reason, default: 0] += count }
        // Line numbers of the new part count from the start of the content.
        let room = max(0, sampleLimit - input.rejectSamples.count)
        input.rejectSamples += new.rejectSamples.prefix(room).map { sample in
            var shifted = sample
            shifted.line += linesBefore
            return shifted
        }
        input.error = new.error
        input.contentSHA256 = checkpoint.sha256
        input.contentBytes = checkpoint.bytes
        if checkpoint.bytes > contentBytes { checkpoints.append(checkpoint) }
        personal.add(PersonalTally(result.personal))
        optedOut += result.optedOut
        file = result.file
    }
}

/// `CRUMB_FAULT`: a test hook that kills the process (SIGKILL, as `kill -9` would) at a named point of a
/// run, to prove that a killed run, run again, counts everything exactly once. Values: `after-inputs=N`,
/// `before-commit`, `after-commit`. Unset in normal use; it changes nothing else.
enum FaultInjection {
    enum Point: Equatable {
        case afterInputs(Int)
        case beforeCommit
        case afterCommit
    }

    static let armed: Point? = {
        guard let text = ProcessInfo.processInfo.environment["CRUMB_FAULT"] else { return nil }
        switch text {
        case "before-commit": return .beforeCommit
        case "after-commit": return .afterCommit
        default:
            guard text.hasPrefix("after-inputs="), let count = Int(text.dropFirst("after-inputs=".count)) else { return nil }
            return .afterInputs(count)
        }
    }()

    static func reached(_ point: Point) {
        guard let armed, armed == point else { return }
        kill(getpid(), SIGKILL)
    }
}

/// One run at a time per output directory: an exclusive `flock` on `DIR/.crumb.lock`, released by the
/// kernel when the process ends, however it ends.
struct OutputLock: ~Copyable {
    private let descriptor: Int32

    init(directory: String) throws(RunRefusal) {
        let path = directory + "/.crumb.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw RunRefusal("\(path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw RunRefusal("\(directory) is in use by another crumb run; wait for it, or use another --out")
        }
    }

    func release() {
        close(descriptor)
    }

    /// Removes temporary and part files a killed run left (`.NAME.tmp-PID-N`, `.NAME.part-PID-N`). Safe
    /// under the lock: no other run is writing them.
    static func removeLeftovers(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".") && (name.contains(".tmp-") || name.contains(".part-")) {
            unlink(directory + "/" + name)
        }
    }
}
