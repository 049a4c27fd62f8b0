import CrumbCore
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything `crumb stream` needs, validated.
public struct StreamConfiguration: Sendable {
    /// `auto` (detect from the first lines), or a format name as `FormatSpec(parsing:)` reads it.
    public var format = "auto"
    /// The zone of the local times in call detail records.
    public var timeZone: LocalTimeZone = .utc
    /// The privacy policy, with the command line's overrides applied.
    public var policy: Policy = .standard
    public var keyring: Keyring
    /// How long after a bucket ends, in event time, its events are still counted (seconds, 0 or more).
    public var lateness: Int64 = 300
    /// Where `crumb.db` (upserted), `events.jsonl` and `vault.jsonl` (appended) go; nil: no files.
    public var outputDirectory: String?
    /// The descriptor that receives each closed bucket's rows as JSON Lines (standard output); nil: none.
    public var jsonLinesOutput: Int32? = STDOUT_FILENO
    public var maxLineLength = 64 * 1024
    /// With `auto`: the most lines, and bytes, held back to detect the format. With a given format: the
    /// non-blank lines after which a stream none of whose lines parse is given up.
    public var detectionLines = 100
    public var detectionBytes = 256 * 1024
    /// Reject samples kept for the summary.
    public var rejectSamples = 5
    /// Bytes asked of each `read(2)`.
    public var readSize = 64 * 1024

    public init(keyring: Keyring, policy: Policy = .standard) {
        self.keyring = keyring
        self.policy = policy
    }

    func formatChoice() throws(FormatSpecError) -> FormatChoice {
        if format == "auto" { return .detect(FormatDetector.standard(jsonMapping: policy.jsonMapping, timeZone: timeZone)) }
        return .given(try FormatSpec(parsing: format, jsonMapping: policy.jsonMapping))
    }
}

/// What a stream did, for the summary line and the exit code.
public struct StreamReport: Sendable {
    /// The format read (`unknown` when none was chosen), and why it was chosen.
    public var format = "unknown"
    public var formatReason = ""
    /// Lines read, parsed, rejected, blank, late...
    public var counts = LineCounts()
    public var rejectsByReason: [String: Int] = [:]
    public var rejectSamples: [RejectTally.Sample] = []
    /// Distinct buckets emitted, and their rows.
    public var bucketsEmitted = 0
    public var rowsEmitted = 0
    /// The signal that stopped the stream (SIGINT, SIGTERM); nil at end of input.
    public var stoppedBy: Int32?
    /// No format matches the stream's first lines, or none of them parse as the given one: the stream was
    /// given up (exit 65).
    public var formatError: String?
    /// Reading the input failed; everything read before was counted and emitted (exit 74).
    public var readError: String?
    /// Things the user should know that did not stop the stream.
    public var warnings: [String] = []
    /// The files written, in the output directory.
    public var outputs: [String] = []
}

/// A setting that cannot work, found before any input is read (the CLI exits 64).
public struct StreamSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `crumb stream`: reads an unbounded input (standard input), aggregates it into event-time buckets, and
/// emits each bucket once it closes.
///
/// Bytes go through format detection (`auto` holds back the first `detectionLines` lines or
/// `detectionBytes` bytes, or everything up to the end of input, then detects), `LineFramer` and the
/// processor of the format's channel. The processor's `EventTimeWatermark` (greatest event time minus
/// `lateness`) decides, event by event, which buckets are closed and which events are late: a late event is
/// counted in `counts.late` and otherwise ignored. After each chunk the closed buckets are drained from the
/// aggregator (k-anonymity with the policy's `minCount`) and emitted once: upserted into `crumb.db` in one
/// transaction (rows already there from an earlier stream are combined exactly), then written as JSON Lines
/// to `jsonLinesOutput`. `finish()` closes every bucket and emits it.
///
/// Memory holds the open buckets' rows only (values are bounded by the aggregator's value cap).
///
/// Not `Sendable`: one stream, one owner.
public final class StreamRunner {
    public let configuration: StreamConfiguration
    private var worker: Worker
    private let choice: FormatChoice
    private var spec: FormatSpec?
    private var formatReason = "given"
    private var framer: LineFramer
    /// Bytes held back for detection, and the newlines in them.
    private var held: [UInt8] = []
    private var heldLines = 0
    private var formatError: String?
    /// Buckets that start before this have been emitted.
    private var emittedBefore: Int64 = .min
    private var database: TrendDatabase?
    /// Held while the stream writes into its output directory: one writer at a time, `crumb run` included.
    private var lock: OutputLock?
    private var events: AppendedFile?
    private var vault: AppendedFile?
    private var jsonLines: Int32?
    private var bucketsEmitted = 0
    private var rowsEmitted = 0
    private var warnings: [String] = []
    private let onWarning: ((String) -> Void)?
    /// Lines held back for detection and never processed: the stream was given up.
    private var linesNotProcessed = 0
    private var finished = false
    private var scratch: [UInt8] = []

    /// Prepares the stream: checks the IP mode against the key and the format, and opens (or creates)
    /// `crumb.db` in the output directory. `onWarning` hears each warning when it arises (they are in the
    /// report too).
    ///
    /// - Throws: `StreamSetupError` (usage: a keyed IP mode without a key, a bad format, a database written
    ///   with another key), `OutputError` (the output directory or database cannot be written or is not a
    ///   crumb database).
    public init(_ configuration: StreamConfiguration, onWarning: ((String) -> Void)? = nil) throws {
        self.configuration = configuration
        self.onWarning = onWarning
        var policy = configuration.policy
        // Events and vault are written only to files: without a directory, the processors skip them.
        if configuration.outputDirectory == nil {
            policy.events = false
            policy.vault = false
        }
        let anonymizer: IPAnonymizer
        do {
            anonymizer = try IPAnonymizer(mode: policy.ipMode, keyring: configuration.keyring.isEphemeral ? nil : configuration.keyring)
        } catch {
            throw StreamSetupError(error.message)
        }
        do {
            choice = try configuration.formatChoice()
        } catch {
            throw StreamSetupError("--format: \(error.description)")
        }
        var web = WebLogConfiguration(policy: policy)
        web.rejectSamples = configuration.rejectSamples
        var calls = CallLogConfiguration(policy: policy)
        calls.rejectSamples = configuration.rejectSamples
        worker = Worker(
            web: WebLogProcessor(configuration: web, keyring: configuration.keyring, anonymizer: anonymizer),
            calls: CallLogProcessor(configuration: calls, parser: AsteriskCDRParser(timeZone: configuration.timeZone),
                                    keyring: configuration.keyring))
        let watermark = EventTimeWatermark(bucket: policy.bucket, lateness: configuration.lateness)
        worker.web.watermark = watermark
        worker.calls.watermark = watermark
        framer = LineFramer(maxLineLength: configuration.maxLineLength)
        jsonLines = configuration.jsonLinesOutput

        if let directory = configuration.outputDirectory {
            try AtomicFile.createDirectory(directory)
            do {
                lock = try OutputLock(directory: directory)
            } catch {
                throw StreamSetupError(error.message)
            }
            // A run's outputs are rebuilt from its state.db at every run: rows upserted here would be lost.
            if FileManager.default.fileExists(atPath: directory + "/" + RunState.fileName) {
                throw StreamSetupError("\(directory) holds the outputs of crumb run (state.db), which are rebuilt at every run: stream into another directory")
            }
            let (database, warning) = try TrendDatabase.open(
                path: directory + "/crumb.db", keyring: configuration.keyring, meta: [
                    ("crumb_version", CrumbVersion.current), ("bucket", policy.bucket.rawValue),
                    ("key_fingerprint", configuration.keyring.fingerprint),
                    ("key_ephemeral", String(configuration.keyring.isEphemeral)),
                    ("min_count", String(policy.minCount)),
                ])
            self.database = database
            if let warning { warn(warning) }
            if policy.events { events = AppendedFile(path: directory + "/" + PartFiles.eventsName, mode: 0o644) }
            if policy.vault { vault = AppendedFile(path: directory + "/" + PartFiles.vaultName, mode: 0o600) }
        }
        if case .given(let given) = choice { start(given) }
    }

    deinit {
        events?.close()
        vault?.close()
        database?.close()
        lock?.release()
    }

    /// The stream was given up: no format matches its first lines, or none of them parse.
    public var gaveUp: Bool { formatError != nil }

    /// The starts of the buckets still open (held in memory), ascending.
    public var openBucketStarts: [Int64] {
        spec?.channel == .calls ? worker.calls.aggregator.bucketStarts : worker.web.aggregator.bucketStarts
    }

    /// Trend rows held in memory: the open buckets'.
    public var rowsHeld: Int {
        spec?.channel == .calls ? worker.calls.aggregator.rowCount : worker.web.aggregator.rowCount
    }

    /// Feeds the next bytes of the stream, cut anywhere; emits the buckets they close.
    ///
    /// - Throws: `OutputError` when a sink fails (standard output only when no database is written).
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        // Event times more than a day past the wall clock do not advance the watermark.
        let horizon = Int64(Date().timeIntervalSince1970) + 86_400
        worker.web.watermark?.horizon = horizon
        worker.calls.watermark?.horizon = horizon
        guard !finished, formatError == nil, bytes.count > 0 else { return }
        if spec == nil, case .detect(let detector) = choice {
            held.append(contentsOf: bytes)
            heldLines += BatchRunner.newlineCount(Array(bytes))
            guard held.count >= configuration.detectionBytes || heldLines >= configuration.detectionLines else { return }
            detect(detector)
        } else {
            frame(bytes)
        }
        try afterInput()
    }

    /// Ends the stream: frames the last partial line, closes and emits every bucket, finishes the sinks.
    public func finish() throws -> StreamReport {
        guard !finished else { return StreamReport() }
        if formatError == nil {
            if spec == nil, case .detect(let detector) = choice,
               held.contains(where: { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: " ") }) {
                detect(detector)
            }
            switch spec?.channel {
            case .web?: framer.finish { worker.web.process($0) }
            case .calls?: framer.finish { worker.calls.process($0) }
            case nil: break
            }
        }
        worker.web.watermark?.closeAll()
        worker.calls.watermark?.closeAll()
        try afterInput(closingAll: true)
        finished = true
        events?.close()
        vault?.close()
        database?.close()

        var report = StreamReport()
        report.format = spec?.name ?? "unknown"
        report.formatReason = spec == nil ? "" : formatReason
        let rejects: RejectTally
        switch spec?.channel ?? .web {
        case .web:
            let done = worker.web.finishInput()
            (report.counts, rejects) = (done.counts, done.rejects)
        case .calls:
            let done = worker.calls.finishInput()
            (report.counts, rejects) = (done.counts, done.rejects)
        }
        report.counts.read += linesNotProcessed
        for (code, count) in rejects.counts { report.rejectsByReason[code.rawValue] = count }
        report.rejectSamples = rejects.samples
        report.bucketsEmitted = bucketsEmitted
        report.rowsEmitted = rowsEmitted
        report.formatError = formatError
        report.warnings = warnings
        if database != nil { report.outputs.append("crumb.db") }
        if events?.written == true { report.outputs.append(PartFiles.eventsName) }
        if vault?.written == true { report.outputs.append(PartFiles.vaultName) }
        return report
    }

    // MARK: - Input

    private func start(_ chosen: FormatSpec) {
        spec = chosen
        if let parser = chosen.makeWebParser() {
            worker.web.startInput(parser: parser)
        } else if let parser = chosen.makeCallParser(timeZone: configuration.timeZone) {
            worker.calls.startInput(parser: parser)
        }
    }

    private func frame(_ bytes: UnsafeRawBufferPointer) {
        switch spec?.channel {
        case .web?: framer.feed(bytes) { worker.web.process($0) }
        case .calls?: framer.feed(bytes) { worker.calls.process($0) }
        case nil: break
        }
    }

    /// Detects the format from the held bytes and feeds them; gives the stream up when nothing matches.
    private func detect(_ detector: FormatDetector) {
        let detection = detector.detect(lines: BatchRunner.sampleLines(
            held, limit: configuration.detectionLines, maxLineLength: configuration.maxLineLength))
        guard let chosen = detection.spec else {
            if let hint = FormatDetector.compressionHint(held) {
                formatError = "standard input: no known format matches its first lines: \(hint)"
            } else {
                formatError = "standard input: no known format matches its first lines: \(detection.reason); tried \(detection.tried.map(\.name).joined(separator: ", ")). Hint: name the format with --format (crumb formats lists them)"
            }
            linesNotProcessed = heldLines + (held.last.map { $0 == UInt8(ascii: "\n") ? 0 : 1 } ?? 0)
            held = []
            return
        }
        formatReason = detection.reason
        start(chosen)
        held.withUnsafeBytes { frame($0) }
        held = []
    }

    /// Gives up a stream none of whose first lines parse; emits the buckets closed by now; moves the
    /// events and vault buffers to their files.
    private func afterInput(closingAll: Bool = false) throws {
        let counts = spec?.channel == .calls ? worker.calls.counts : worker.web.counts
        if formatError == nil, let spec, counts.parsed == 0, counts.headers == 0,
           counts.read - counts.blank >= configuration.detectionLines {
            formatError = "standard input: none of the first \(configuration.detectionLines) lines parse as \(spec.name); check the format (crumb formats lists them, crumb detect explains what a file looks like)"
        }
        let closed = closingAll ? Int64.max
            : (spec?.channel == .calls ? worker.calls.watermark?.closedBefore : worker.web.watermark?.closedBefore) ?? .min
        if closed > emittedBefore {
            emittedBefore = closed
            switch spec?.channel ?? .web {
            case .web: try emit(worker.web.drainTrends(bucketsBefore: closed, minCount: configuration.policy.minCount))
            case .calls: try emit(worker.calls.drainTrends(bucketsBefore: closed, minCount: configuration.policy.minCount))
            }
        }
        if events != nil {
            try events!.append(&worker.web.eventBuffer)
            try events!.append(&worker.calls.eventBuffer)
        }
        if vault != nil {
            try vault!.append(&worker.web.vaultBuffer)
            try vault!.append(&worker.calls.vaultBuffer)
        }
    }

    // MARK: - Emission

    private func emit(_ records: [WebTrendRecord]) throws {
        guard !records.isEmpty else { return }
        count(records.map(\.bucketStart))
        try database?.upsert(records)
        guard jsonLines != nil else { return }
        scratch.removeAll(keepingCapacity: true)
        var bucketStart = BucketStartText()
        for record in records { TrendWriters.appendJSONLine(record, bucketStart: &bucketStart, to: &scratch) }
        try writeJSONLines()
    }

    private func emit(_ records: [CallTrendRecord]) throws {
        guard !records.isEmpty else { return }
        count(records.map(\.bucketStart))
        try database?.upsert(records)
        guard jsonLines != nil else { return }
        scratch.removeAll(keepingCapacity: true)
        var bucketStart = BucketStartText()
        for record in records { CallTrendWriters.appendJSONLine(record, bucketStart: &bucketStart, to: &scratch) }
        try writeJSONLines()
    }

    private func count(_ starts: [Int64]) {
        rowsEmitted += starts.count
        var previous: Int64?
        // Records come sorted by bucket start.
        for start in starts where start != previous {
            bucketsEmitted += 1
            previous = start
        }
    }

    /// Writes `scratch` to the JSON Lines descriptor. When the reader has gone (a closed pipe) and the
    /// database still receives every bucket, the stream goes on without it; otherwise that is an error.
    private func writeJSONLines() throws {
        guard let descriptor = jsonLines else { return }
        do {
            try scratch.withUnsafeBytes { try writeAll(descriptor, $0, path: "standard output") }
        } catch let error as OutputError {
            guard database != nil else { throw error }
            jsonLines = nil
            warn("standard output: \(error.message); rows go on to crumb.db only")
        }
    }

    private func warn(_ warning: String) {
        warnings.append(warning)
        onWarning?(warning)
    }
}

// MARK: - Reading standard input, stopping on signals

extension StreamRunner {
    /// Runs a stream over descriptor `input` until its end, SIGINT or SIGTERM, then finishes it: every bucket
    /// is emitted and the sinks are closed before this returns.
    ///
    /// SIGINT and SIGTERM are caught for the duration (and SIGPIPE ignored, so that a closed standard output
    /// is an error to handle, not death): the handler only records the signal and writes a byte to a pipe,
    /// which wakes the `poll(2)` this loop waits in. `read(2)` is not restarted after a signal.
    ///
    /// - Throws: what `init` and `feed` throw. A read failure is reported in `readError` after the flush.
    public static func run(_ configuration: StreamConfiguration, input: Int32 = STDIN_FILENO,
                           onWarning: ((String) -> Void)? = nil) throws -> StreamReport {
        let runner = try StreamRunner(configuration, onWarning: onWarning)
        let signals = try StopSignals.install()
        defer { StopSignals.uninstall(signals) }
        var buffer = [UInt8](repeating: 0, count: max(configuration.readSize, 1))
        var readError: String?
        while !runner.gaveUp, StopSignals.received == 0 {
            var descriptors = [
                pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                pollfd(fd: signals.wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                readError = "standard input: cannot poll: " + String(cString: strerror(errno))
                break
            }
            // The handler's byte: the loop condition sees the signal.
            if descriptors[1].revents != 0 { continue }
            guard descriptors[0].revents != 0 else { continue }
            let got = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                readError = "standard input: " + String(cString: strerror(errno))
                break
            }
            if got == 0 { break }
            try buffer.withUnsafeBytes { try runner.feed(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
        }
        var report = try runner.finish()
        let signal = StopSignals.received
        report.stoppedBy = signal == 0 ? nil : signal
        report.readError = readError
        return report
    }
}

/// The signal that asked the stream to stop (0: none), and the write end of the pipe that wakes its poll.
/// Written by the signal handler, so lock-free atomics only.
private let stopSignal = Atomic<Int32>(0)
private let wakeDescriptor = Atomic<Int32>(-1)

/// The handler of SIGINT and SIGTERM: async-signal-safe work only (atomic stores, `write(2)`).
private func recordStopSignal(_ signal: Int32) {
    let savedErrno = errno
    // A second signal while the first one's flush is under way (or blocked writing to a stalled pipe) ends
    // the process at once, as a shell user expects from a second Ctrl-C.
    if stopSignal.load(ordering: .sequentiallyConsistent) != 0 { _exit(128 + signal) }
    stopSignal.store(signal, ordering: .sequentiallyConsistent)
    let descriptor = wakeDescriptor.load(ordering: .sequentiallyConsistent)
    if descriptor >= 0 {
        var byte: UInt8 = 1
        _ = write(descriptor, &byte, 1)
    }
    errno = savedErrno
}

/// SIGINT and SIGTERM handling for `StreamRunner.run`.
enum StopSignals {
    struct Installed {
        var previous: [(signal: Int32, action: sigaction)]
        /// The thread's signal mask before.
        var blocked: sigset_t
        let wakeRead: Int32
        let wakeWrite: Int32
    }

    static let stopping: [Int32] = [SIGINT, SIGTERM]

    /// The signal received since `install()`, 0 when none.
    static var received: Int32 { stopSignal.load(ordering: .sequentiallyConsistent) }

    static func install() throws -> Installed {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw OutputError(path: "pipe", message: String(cString: strerror(errno)))
        }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        // Both globals are initialized here, before a handler can touch them.
        stopSignal.store(0, ordering: .sequentiallyConsistent)
        wakeDescriptor.store(ends[1], ordering: .sequentiallyConsistent)
        var previous: [(Int32, sigaction)] = []
        for signal in stopping {
            previous.append((signal, setHandler(signal, recordStopSignal)))
        }
        previous.append((SIGPIPE, setHandler(SIGPIPE, SIG_IGN)))
        // A blocked signal mask is inherited across exec (some launchers block SIGINT and SIGTERM in the
        // thread that spawns): unblock them here, or the handler would never run.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for signal in stopping { sigaddset(&unblocked, signal) }
        var blocked = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &unblocked, &blocked)
        return Installed(previous: previous, blocked: blocked, wakeRead: ends[0], wakeWrite: ends[1])
    }

    static func uninstall(_ installed: Installed) {
        var blocked = installed.blocked
        pthread_sigmask(SIG_SETMASK, &blocked, nil)
        for (signal, action) in installed.previous {
            var action = action
            sigaction(signal, &action, nil)
        }
        wakeDescriptor.store(-1, ordering: .sequentiallyConsistent)
        close(installed.wakeRead)
        close(installed.wakeWrite)
    }

    /// Sets `handler` for `signal` without `SA_RESTART` (a blocked `read(2)` returns `EINTR`); returns the
    /// previous action.
    private static func setHandler(_ signal: Int32, _ handler: (@convention(c) (Int32) -> Void)?) -> sigaction {
        var action = sigaction()
        #if canImport(Darwin)
        action.__sigaction_u.__sa_handler = handler
        #else
        action.__sigaction_handler.sa_handler = handler
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var old = sigaction()
        sigaction(signal, &action, &old)
        return old
    }
}

// MARK: - Sinks

/// A file the stream appends to (events, vault), created with `mode` on first write; the mode is set again
/// on open, so a vault left readable by someone is made private.
struct AppendedFile {
    let path: String
    let mode: mode_t
    private var descriptor: Int32 = -1
    private(set) var written = false

    init(path: String, mode: mode_t) {
        self.path = path
        self.mode = mode
    }

    /// Appends `buffer` and empties it.
    mutating func append(_ buffer: inout [UInt8]) throws {
        guard !buffer.isEmpty else { return }
        if descriptor < 0 {
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode)
            guard opened >= 0 else { throw OutputError(path: path, message: "cannot open: " + String(cString: strerror(errno))) }
            fchmod(opened, mode)
            descriptor = opened
        }
        try buffer.withUnsafeBytes { try writeAll(descriptor, $0, path: path) }
        buffer.removeAll(keepingCapacity: true)
        written = true
    }

    mutating func close() {
        if descriptor >= 0 { _ = SystemCall.close(descriptor) }
        descriptor = -1
    }
}

/// `crumb.db` as a stream keeps it: the schema of `crumb run`'s (schema v1), created when the file is new,
/// and rows upserted as buckets close. A row already there (from an earlier stream, or a run) is combined
/// exactly: counts add, sketches (and talk-time histograms) merge, and the estimates and percentiles are
/// recomputed from the merged ones.
final class TrendDatabase {
    let path: String
    private var queue: DatabaseQueue?

    private init(path: String, queue: DatabaseQueue) {
        self.path = path
        self.queue = queue
    }

    /// Opens `path`, creating the schema (and `meta` in `crumb_meta`) when it holds no tables; returns a
    /// warning when the database was written with another key (uniques of combined rows may then count a
    /// visitor twice).
    ///
    /// - Throws: `OutputError` when the file cannot be opened or is not a crumb database of schema v1;
    ///   `StreamSetupError` when both this stream's key and the database's are real keys that differ.
    static func open(path: String, keyring: Keyring, meta: [(String, String)]) throws -> (TrendDatabase, String?) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw outputError(path, error)
        }
        let database = TrendDatabase(path: path, queue: queue)
        var warning: String?
        do {
            try queue.write { db in
                let tables = try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if tables.isEmpty {
                    try db.execute(sql: TrendWriters.schemaSQL)
                    try db.execute(sql: "PRAGMA user_version = \(TrendWriters.schemaVersion)")
                    try db.execute(sql: TrendWriters.indexSQL)
                    try CallTrendWriters.insertTables([], into: db)
                    let setMeta = try db.makeStatement(sql: "INSERT OR REPLACE INTO crumb_meta (key, value) VALUES (?, ?)")
                    for (key, value) in meta where key != "schema" { try setMeta.execute(arguments: [key, value]) }
                    try setMeta.execute(arguments: ["schema", TrendWriters.schemaVersion])
                    return
                }
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let needed: Set<String> = ["web_trends", "web_trend_sketches", "call_trends", "call_trend_sketches", "crumb_meta"]
                guard String(version) == TrendWriters.schemaVersion, needed.isSubset(of: tables) else {
                    throw OutputError(path: path, message: "not a crumb database of schema v\(TrendWriters.schemaVersion); give another --out")
                }
                let stored = try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'key_fingerprint'")
                guard let stored, stored != keyring.fingerprint else { return }
                if !keyring.isEphemeral, try !Self.writtenWithEphemeralKey(db) {
                    throw StreamSetupError("\(path) was written with another key (fingerprint \(stored)); give the same key, or another --out")
                }
                warning = "\(path) was written with another key: rows combined with earlier ones may count a visitor twice in uniques"
            }
        } catch let error as OutputError {
            try? queue.close()
            throw error
        } catch let error as StreamSetupError {
            try? queue.close()
            throw error
        } catch {
            try? queue.close()
            throw outputError(path, error)
        }
        return (database, warning)
    }

    /// Whether the database says its key was drawn for one run (`key_ephemeral` in `crumb_meta`, or in the
    /// manifest a run stored there).
    private static func writtenWithEphemeralKey(_ db: Database) throws -> Bool {
        if let flag = try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'key_ephemeral'") {
            return flag == "true"
        }
        guard let manifest = try String.fetchOne(db, sql: "SELECT value FROM crumb_meta WHERE key = 'manifest'"),
              let object = try? JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any] else { return false }
        return object["key_ephemeral"] as? Bool ?? false
    }

    /// Upserts web rows in one transaction.
    func upsert(_ records: [WebTrendRecord]) throws {
        try write { db in
            var bucketStart = BucketStartText()
            for record in records {
                let start = bucketStart.text(for: record.bucketStart)
                let key: StatementArguments = [start, record.bucket.rawValue, record.dimension, record.value]
                var merged = record
                if let row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT t.hits, t.bytes, t.status_4xx, t.status_5xx, s.sketch
                    FROM web_trends t LEFT JOIN web_trend_sketches s
                        ON s.bucket_start = t.bucket_start AND s.bucket = t.bucket AND s.dimension = t.dimension AND s.value = t.value
                    WHERE t.bucket_start = ? AND t.bucket = ? AND t.dimension = ? AND t.value = ?
                    """), arguments: key) {
                    var sketch = try HyperLogLog(serialized: record.sketch)
                    sketch.merge(try Self.sketch(row[4]))
                    merged.hits += row[0] as Int64
                    merged.bytes += row[1] as Int64
                    merged.status4xx += row[2] as Int64
                    merged.status5xx += row[3] as Int64
                    merged.uniques = Int64(sketch.estimate)
                    merged.sketch = sketch.serialized()
                }
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO web_trends
                        (bucket_start, bucket, dimension, value, hits, bytes, status_4xx, status_5xx, uniques)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: key + [merged.hits, merged.bytes, merged.status4xx, merged.status5xx, merged.uniques])
                // An empty `Data` binds as NULL: store an empty blob instead, as the batch writer does.
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO web_trend_sketches (bucket_start, bucket, dimension, value, sketch)
                    VALUES (?, ?, ?, ?, ifnull(?, x''))
                    """).execute(arguments: key + [Data(merged.sketch)])
            }
        }
    }

    /// Upserts call rows in one transaction.
    func upsert(_ records: [CallTrendRecord]) throws {
        try write { db in
            var bucketStart = BucketStartText()
            for record in records {
                let start = bucketStart.text(for: record.bucketStart)
                let key: StatementArguments = [start, record.bucket.rawValue, record.dimension, record.value]
                var merged = record
                if let row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT t.calls, t.answered, t.talk_seconds, s.sketch, s.talk_histogram
                    FROM call_trends t LEFT JOIN call_trend_sketches s
                        ON s.bucket_start = t.bucket_start AND s.bucket = t.bucket AND s.dimension = t.dimension AND s.value = t.value
                    WHERE t.bucket_start = ? AND t.bucket = ? AND t.dimension = ? AND t.value = ?
                    """), arguments: key) {
                    var sketch = try HyperLogLog(serialized: record.sketch)
                    sketch.merge(try Self.sketch(row[3]))
                    var talkTimes = try Self.histogram(record.talkHistogram)
                    talkTimes.merge(try Self.histogram(Self.bytes(row[4])))
                    merged = CallTrendRecord(
                        bucketStart: record.bucketStart, bucket: record.bucket, dimension: record.dimension,
                        value: record.value, calls: record.calls + (row[0] as Int64),
                        answered: record.answered + (row[1] as Int64), callers: Int64(sketch.estimate),
                        talkSeconds: record.talkSeconds + (row[2] as Int64), talkTimes: talkTimes,
                        sketch: sketch.serialized())
                }
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO call_trends
                        (bucket_start, bucket, dimension, value, calls, answered, callers, talk_seconds, talk_p50, talk_p95)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: key + [merged.calls, merged.answered, merged.callers, merged.talkSeconds,
                                                   merged.talkP50, merged.talkP95])
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO call_trend_sketches (bucket_start, bucket, dimension, value, sketch, talk_histogram)
                    VALUES (?, ?, ?, ?, ifnull(?, x''), ifnull(?, x''))
                    """).execute(arguments: key + [Data(merged.sketch), Data(merged.talkHistogram)])
            }
        }
    }

    func close() {
        try? queue?.close()
        queue = nil
    }

    private func write(_ body: (Database) throws -> Void) throws {
        guard let queue else { throw OutputError(path: path, message: "the database is closed") }
        do {
            try queue.write(body)
        } catch let error as OutputError {
            throw error
        } catch {
            throw Self.outputError(path, error)
        }
    }

    private static func bytes(_ value: DatabaseValue) -> [UInt8] {
        (Data.fromDatabaseValue(value)).map { Array($0) } ?? []
    }

    /// A stored sketch; an empty blob (or none) is an empty sketch.
    private static func sketch(_ value: DatabaseValue) throws -> HyperLogLog {
        let stored = bytes(value)
        return stored.isEmpty ? HyperLogLog() : try HyperLogLog(serialized: stored)
    }

    private static func histogram(_ stored: [UInt8]) throws -> TalkTimeHistogram {
        stored.isEmpty ? TalkTimeHistogram() : try TalkTimeHistogram(serialized: stored)
    }

    /// SQLite's message (never row data), or the error's type.
    private static func outputError(_ path: String, _ error: any Error) -> OutputError {
        if let error = error as? DatabaseError {
            return OutputError(path: path, message: "SQLite: \(error.message ?? "error \(error.extendedResultCode.rawValue)")")
        }
        if let error = error as? SketchDecodingError {
            return OutputError(path: path, message: "a stored sketch does not decode (\(error.reason))")
        }
        return OutputError(path: path, message: "cannot write database: \(type(of: error))")
    }
}
