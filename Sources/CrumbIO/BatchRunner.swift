import CrumbCore
import Crypto
import Foundation
import Synchronization

/// Everything `crumb run` needs, validated.
public struct RunConfiguration: Sendable {
    public var inputs: [String]
    public var outputDirectory: String
    /// `auto` (detect per input), or a format name as `FormatSpec(parsing:)` reads it.
    public var format = "auto"
    /// The zone of the local times in call detail records. (Web logs carry their own offsets.)
    public var timeZone: LocalTimeZone = .utc
    /// The privacy policy, with the command line's overrides applied.
    public var policy: Policy = .standard
    public var keyring: Keyring
    public var maxLineLength = 64 * 1024
    public var writeSQLite = true
    public var writeCSV = false
    public var writeJSONLines = false
    /// Above this share of rejected lines the run exits 65 (outputs are still written and marked).
    public var maxRejectRatio = 0.05
    /// Files processed at once.
    public var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Non-blank lines looked at before giving up on an input none of whose lines parse (given format),
    /// and the most lines the detector samples (auto).
    public var detectionLines = 100
    /// The most bytes held back to detect a format: a sample of long lines stops here.
    public var detectionBytes = 256 * 1024
    /// Reject samples kept per input.
    public var rejectSamples = 5
    /// Count every input again, ignoring (and replacing) what the output directory has counted.
    public var force = false
    /// Write an output meant for merging: trends keep the rows below `min_count` (k-anonymity is applied by
    /// the final `crumb merge`). `--shard` implies it.
    public var partial = false
    /// Read only the inputs of shard `index` (1-based) of `count`.
    public var shard: Shard?
    /// Draw a progress line on standard error while the run reads (the command line sets it on a terminal).
    public var showProgress = false
    /// Decode on one thread and parse on another when a worker would otherwise leave a core idle: a single
    /// large file, or the last files of a tree. Results are the same either way.
    public var pipelineDecoding = true
    /// When a file is pipelined, also share its lines between two parsing threads (the caller's and a
    /// helper's), for formats whose lines parse independently and runs that write no events or vault. Results
    /// are the same either way (but for the values a dimension past its value cap keeps).
    public var splitLines = true
    /// The smallest regular file that is pipelined (and split): a thread per small file is waste.
    public var pipelineMinimumBytes: Int64 = 4 << 20

    /// `--shard i/n`: a deterministic subset of the inputs, by a stable hash of each input's shard key.
    public struct Shard: Sendable, Equatable, CustomStringConvertible {
        public var index: Int
        public var count: Int

        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }

        /// `i/n` with 1 ≤ i ≤ n.
        public init?(parsing text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (1...count).contains(index) else {
                return nil
            }
            self.init(index: index, count: count)
        }

        /// Whether the input with `key` belongs to this shard: FNV-1a (64-bit) of its UTF-8 bytes, modulo the count.
        public func contains(_ key: String) -> Bool {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in key.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            return Int(hash % UInt64(count)) == index - 1
        }

        public var description: String { "\(index)/\(count)" }
    }

    public init(inputs: [String], outputDirectory: String, keyring: Keyring, policy: Policy = .standard) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.keyring = keyring
        self.policy = policy
    }

    /// Whether the run keeps a ledger and its rows for a later run or a merge to build on: only with a key.
    /// Without one, visitor ids are valid within the run alone, so nothing can continue it (a later run counts
    /// everything again, `crumb merge` refuses it): the decoded content gets no digest (`content_sha256`), and
    /// `state.db` holds the run's settings and no rows, so the rows below k-anonymity are not kept where nothing
    /// reads them.
    var keepsLedger: Bool { !keyring.isEphemeral }

    /// What the run's counts depend on: a state counted under other settings cannot be continued.
    var stateSettings: RunState.Settings {
        RunState.Settings(keyFingerprint: keyring.fingerprint, keyEphemeral: keyring.isEphemeral,
                          policySHA256: PolicyLoader.sha256(of: policy), bucket: policy.bucket.rawValue,
                          minCount: policy.minCount, maxValues: policy.maxValues, policy: policy.manifestSummary)
    }

    var webConfiguration: WebLogConfiguration {
        var web = WebLogConfiguration(policy: policy)
        web.rejectSamples = rejectSamples
        return web
    }

    var callConfiguration: CallLogConfiguration {
        var calls = CallLogConfiguration(policy: policy)
        calls.rejectSamples = rejectSamples
        return calls
    }

    /// How each input's format is chosen.
    func formatChoice() throws(FormatSpecError) -> FormatChoice {
        if format == "auto" { return .detect(FormatDetector.standard(jsonMapping: policy.jsonMapping, timeZone: timeZone)) }
        return .given(try FormatSpec(parsing: format, jsonMapping: policy.jsonMapping))
    }
}

/// A run's format: one given for every input, or detected per input.
enum FormatChoice: Sendable {
    case given(FormatSpec)
    case detect(FormatDetector)
}

/// The processors of one worker: one per channel, each fed the inputs of its kind.
struct Worker: Sendable {
    var web: WebLogProcessor
    var calls: CallLogProcessor
    /// The second web processor of inputs whose lines were split (`LineSplitter`), kept from one such input
    /// to the next; its trends join `web`'s in `foldHelper()`.
    var webHelper: WebLogProcessor?
    /// Per dimension, the values of the processors merged into this worker's, `(other)` left out: a merge
    /// keeps only the values of rows still in memory, and one spilled before must still count in the run's
    /// bound on its values (`webValueBound`, for `savedValuesGoFirst`).
    private var mergedWebValues = [Int](repeating: 0, count: WebDimension.allCases.count)
    private var mergedCallValues = [Int](repeating: 0, count: CallDimension.allCases.count)

    init(web: WebLogProcessor, calls: CallLogProcessor) {
        self.web = web
        self.calls = calls
    }

    mutating func merge(_ other: Worker) {
        for dimension in WebDimension.allCases {
            mergedWebValues[dimension.rawValue] += other.webValueBound(dimension) - 1
        }
        for dimension in CallDimension.allCases {
            mergedCallValues[dimension.rawValue] += other.callValueBound(dimension) - 1
        }
        web.mergeTrends(other.web)
        calls.mergeTrends(other.calls)
    }

    /// Merges the helper's trends into `web`'s, once the worker's last input is done.
    mutating func foldHelper() {
        if let helper = webHelper {
            for dimension in WebDimension.allCases {
                mergedWebValues[dimension.rawValue] += helper.aggregator.valueCount(dimension) - 1
            }
            web.mergeTrends(helper)
            webHelper = nil
        }
    }

    /// At least the distinct values of `dimension` this worker's processors counted, `(other)` included.
    func webValueBound(_ dimension: WebDimension) -> Int {
        web.aggregator.valueCount(dimension) + mergedWebValues[dimension.rawValue]
    }

    /// `webValueBound` for call trends.
    func callValueBound(_ dimension: CallDimension) -> Int {
        calls.aggregator.valueCount(dimension) + mergedCallValues[dimension.rawValue]
    }
}

/// What a run did, for the summary line, the manifest and the exit code.
public struct RunReport: Sendable {
    public var manifest: Manifest
    public var outputDirectory: String
    /// This run's reject ratio was over the limit, or an input could not be decoded or recognised.
    public var hasDataErrors: Bool
    /// An input could not be opened or read (I/O), as opposed to bad data in it.
    public var hasIOErrors: Bool
    /// Things the user should know that are not errors (a state started afresh, inputs skipped).
    public var notes: [String] = []
}

/// A run that must not go ahead: its counts would not add to what the output directory holds.
public struct RunRefusal: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// `crumb run`: reads every input, aggregates, writes the outputs; resumable and exactly-once.
///
/// Inputs are processed in parallel, one worker per file up to `jobs`; each worker owns its processor, and
/// processors merge at the end (no locks on the hot path). When fewer files are left than cores, a worker
/// decodes its file on a thread of its own and shares the file's lines with a second processor on another
/// (`LineSplitter`), so that one large file uses both cores. A bad line is counted and skipped; a decode or
/// read fault ends that input only, after everything decoded before it has been counted.
///
/// The output directory keeps what it has counted (`RunState`, `state.db`): a rerun reads only content that
/// no earlier run counted (new files, and the grown part of appended ones), adds it to the saved trends, and
/// commits the new state with one rename. The published outputs (crumb.db, CSV, JSON Lines, manifest) are
/// then derived from the state, so a run killed at any point leaves the old or the new state, and running
/// again gives what one clean run would have.
public enum BatchRunner {
    /// What reading every input produced, for `crumb scan`: counts and the personal information found, no trends.
    public struct Processed: Sendable {
        public var inputs: [Manifest.Input]
        public var totals: Manifest.Totals
        public var personal: PersonalDataTally
        public var seconds: Double
    }

    /// One input's result.
    struct InputResult: Sendable {
        var index: Int
        var input: Manifest.Input
        var personal: PersonalDataTally
        var optedOut: Int
        /// How the content relates to the ledger; nil when it was not read to a usable end (see `counted`).
        var outcome: ContentGate.Outcome?
        /// The decoded content's SHA-256 (hex), when the run keeps a ledger; else empty.
        var contentSHA256 = ""
        var contentBytes: Int64 = 0
        var head = (sha256: "", length: 0)
        var endsMidLine = false
        var file: FileIdentity?
        /// Not a log (binary, or compressed in a way crumb does not read), found in a directory: skipped.
        var skipped = false
        /// Could not be opened or read at all.
        var ioFailure = false
        /// Nothing was counted because no format matched.
        var unrecognized = false
        /// The last line had no line feed yet and the file is being written: it was left for the next run.
        var tailHeldBack = false
        /// Lines a second parsing thread took (`RunConfiguration.splitLines`).
        var helperLines = 0
    }

    /// Reads, decodes, parses and classifies every input, in parallel, for `crumb scan`: the counts and the
    /// personal information found. Trends are dropped bucket by bucket as they close (`DiscardedTrends`), so
    /// that a scan's memory stays flat too.
    public static func processInputs(_ configuration: RunConfiguration) throws -> Processed {
        let entries = try InputExpansion.entries(configuration.inputs)
        // No trends are kept: closed buckets are dropped as a run would spill them.
        let discarded = DiscardedTrends()
        let (results, _, seconds) = try process(entries: entries, configuration: configuration, ledger: nil,
                                                parts: PartFiles(directory: "", count: 0, events: false, vault: false),
                                                spill: discarded, callSpill: discarded)
        let inputs = results.map(\.input)
        var personal = PersonalDataTally()
        for result in results { personal.merge(result.personal) }
        return Processed(inputs: inputs, totals: totals(of: inputs, optedOut: results.reduce(0) { $0 + $1.optedOut }),
                         personal: personal, seconds: seconds)
    }

    /// Processes `entries` in parallel; results in input order, and the merged worker.
    static func process(entries: [InputExpansion.Entry], configuration: RunConfiguration, ledger: LedgerIndex?,
                        parts: PartFiles, progress: ProgressMeter? = nil,
                        spill: (any WebTrendSpill)? = nil,
                        callSpill: (any CallTrendSpill)? = nil) throws -> (results: [InputResult], worker: Worker, seconds: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        // Validates the IP mode against the key before any work: an ephemeral keyring is no key, and the
        // keyed modes are refused without one.
        let anonymizer = try IPAnonymizer(mode: configuration.policy.ipMode,
                                          keyring: configuration.keyring.isEphemeral ? nil : configuration.keyring)
        let webConfiguration = configuration.webConfiguration
        let callConfiguration = configuration.callConfiguration
        let choice = try configuration.formatChoice()

        let results = Mutex<[InputResult]>([])
        let finished = Mutex<[Worker]>([])
        let nextFile = Atomic<Int>(0)
        let doneFiles = Atomic<Int>(0)
        let workers = min(configuration.jobs, max(entries.count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var worker = Worker(
                web: WebLogProcessor(configuration: webConfiguration, keyring: configuration.keyring, anonymizer: anonymizer),
                calls: CallLogProcessor(configuration: callConfiguration, parser: AsteriskCDRParser(timeZone: configuration.timeZone),
                                        keyring: configuration.keyring))
            worker.web.spill = spill
            worker.calls.spill = callSpill
            while true {
                let index = nextFile.add(1, ordering: .relaxed).oldValue
                // After a failed spill (disk full) the run fails at the end whatever is read: stop reading.
                guard index < entries.count, spill?.hasFailed != true, callSpill?.hasFailed != true else { break }
                // A worker that would leave a core idle (fewer files left than workers) splits decoding off.
                let pipelined = configuration.pipelineDecoding && configuration.jobs > 1 && entries.count - index < configuration.jobs
                var result = process(entry: entries[index], index: index, with: &worker, choice: choice, ledger: ledger,
                                     parts: parts, configuration: configuration, pipelined: pipelined, progress: progress)
                result.index = index
                progress?.fileFinished()
                results.withLock { $0.append(result) }
                let done = doneFiles.add(1, ordering: .relaxed).newValue
                FaultInjection.reached(.afterInputs(done))
            }
            worker.foldHelper()
            finished.withLock { $0.append(worker) }
        }
        var merged = finished.withLock { list in list.removeFirst() }
        for other in finished.withLock({ $0 }) { merged.merge(other) }
        let ordered = results.withLock { $0 }.sorted { $0.index < $1.index }
        return (ordered, merged, seconds(clock.now - start))
    }

    /// The totals over `inputs`.
    static func totals(of inputs: [Manifest.Input], optedOut: Int) -> Manifest.Totals {
        var totals = Manifest.Totals(inputs: inputs.count, bytes: 0, decodedBytes: 0, linesRead: 0, linesParsed: 0,
                                     linesRejected: 0, linesBlank: 0, linesOptedOut: optedOut, rejectsByReason: [:],
                                     inputsWithErrors: 0)
        for input in inputs {
            totals.bytes += input.bytes
            totals.decodedBytes += input.decodedBytes
            totals.linesRead += input.linesRead
            totals.linesParsed += input.linesParsed
            totals.linesRejected += input.linesRejected
            totals.linesBlank += input.linesBlank
            totals.linesHeader += input.linesHeader
            for (reason, count) in input.rejectsByReason { totals.rejectsByReason[reason, default: 0] += count }
            if input.error != nil { totals.inputsWithErrors += 1 }
        }
        return totals
    }

    public static func run(_ configuration: RunConfiguration) throws -> RunReport {
        let started = Date()
        let clock = ContinuousClock()
        let startInstant = clock.now
        let policy = configuration.policy
        var entries = try InputExpansion.entries(configuration.inputs)
        if let shard = configuration.shard { entries = entries.filter { shard.contains($0.shardKey) } }
        let directory = configuration.outputDirectory
        try AtomicFile.createDirectory(directory)
        let lock = try OutputLock(directory: directory)
        defer { lock.release() }
        OutputLock.removeLeftovers(in: directory)
        if RunState.holdsStreamOutput(directory) {
            throw RunRefusal("\(directory) holds the crumb.db of crumb stream, which a run would replace: run into another directory")
        }

        // What the directory has counted, if it can be continued.
        var notes: [String] = []
        let settings = configuration.stateSettings
        // The rows are read only when something new is to be added to them.
        var previous = configuration.force ? nil : try RunState.load(directory: directory, rows: false)
        if let state = previous {
            if state.settings.keyEphemeral || settings.keyEphemeral {
                notes.append("counting every input again: \(state.settings.keyEphemeral ? "the earlier run" : "this run") had no key, and visitor ids of different runs cannot be combined (give --key-file to make runs resumable)")
                previous = nil
            } else if state.settings.keyFingerprint != settings.keyFingerprint {
                throw RunRefusal("\(directory) was counted with key fingerprint \(state.settings.keyFingerprint), and this run's key has \(settings.keyFingerprint): give the same key, or --force to count every input again under this key")
            } else if state.settings.policySHA256 != settings.policySHA256 {
                throw RunRefusal("\(directory) was counted under another policy (policy_sha256 \(state.settings.policySHA256.prefix(12))…, this run's is \(settings.policySHA256.prefix(12))…): use the same policy and flags, or --force to count every input again under this one")
            }
        }
        var ledger = previous?.ledger ?? []
        let index = LedgerIndex(ledger)

        // Inputs whose file is exactly as an earlier run counted it are not read at all.
        var toRead: [InputExpansion.Entry] = []
        var bytesToRead: Int64 = 0
        var unchangedByFile: [Int: String] = [:]
        for entry in entries {
            let file = FileIdentity.of(entry.path)
            if let known = index.entry(for: file) {
                unchangedByFile[known] = entry.path
            } else {
                toRead.append(entry)
                bytesToRead += file?.size ?? 0
            }
        }
        let parts = PartFiles(directory: directory, count: toRead.count, events: policy.events, vault: policy.vault)
        defer { parts.removeParts() }
        // Closed buckets leave memory as the inputs are read (`WebLogProcessor.spillClosedBuckets`,
        // `CallLogProcessor.spillClosedBuckets`).
        let spill = try WebSpillFile(directory: directory)
        let callSpill = try CallSpillFile(directory: directory, bucket: policy.bucket)
        var meter: ProgressMeter?
        let reporter = ProgressReporter()
        if configuration.showProgress {
            meter = ProgressMeter(totalFiles: toRead.count, totalBytes: bytesToRead)
            reporter.start(meter: meter!)
        }
        let results: [InputResult]
        // The processors, until their trends are taken: their caches are let go before the final pass.
        var finished: Worker?
        do {
            let processed = try process(entries: toRead, configuration: configuration, ledger: index, parts: parts,
                                        progress: meter, spill: spill, callSpill: callSpill)
            (results, finished) = (processed.results, processed.worker)
            reporter.stop()
        } catch {
            reporter.stop()
            throw error
        }
        let processEnd = clock.now

        // The ledger: new content added, grown content extended, moved content re-pointed.
        var status = Array(repeating: "carried", count: ledger.count)
        var newFrom: [Int: Int64] = [:]
        var continued = Set<Int>()
        for (entry, path) in unchangedByFile {
            status[entry] = "unchanged"
            ledger[entry].input.path = path
        }
        /// Inputs listed in this run's manifest but not in the ledger: failed, skipped, empty.
        var unledgered: [Manifest.Input] = []
        var delta = Manifest.RunDelta()
        delta.fresh = previous == nil
        delta.inputsUnchanged = unchangedByFile.count
        var optedOutNow = 0
        for result in results {
            delta.bytes += result.input.bytes
            delta.decodedBytes += result.input.decodedBytes
            delta.linesRead += result.input.linesRead
            delta.linesParsed += result.input.linesParsed
            delta.linesRejected += result.input.linesRejected
            for (reason, count) in result.input.rejectsByReason { delta.rejectsByReason[reason, default: 0] += count }
            optedOutNow += result.optedOut
            guard let outcome = result.outcome, !result.skipped, !result.unrecognized else {
                var input = result.input
                input.status = result.skipped ? "skipped" : "failed"
                if result.skipped { delta.inputsSkipped += 1 } else { delta.inputsFailed += 1 }
                unledgered.append(input)
                continue
            }
            if result.contentBytes == 0 {
                // Empty, or a fault before the first line: listed, but there is no content to remember.
                var input = result.input
                input.status = input.error == nil ? "counted" : "failed"
                unledgered.append(input)
                if input.error == nil { delta.inputsCounted += 1 } else { delta.inputsFailed += 1 }
                continue
            }
            let checkpoint = LedgerEntry.Checkpoint(bytes: result.contentBytes, sha256: result.contentSHA256,
                                                    endsMidLine: result.endsMidLine)
            func newEntry(checkpoints: [LedgerEntry.Checkpoint]) {
                var input = result.input
                input.contentSHA256 = result.contentSHA256.isEmpty ? nil : result.contentSHA256
                input.contentBytes = result.contentBytes
                ledger.append(LedgerEntry(input: input, headSHA256: result.head.sha256, headLength: result.head.length,
                                          checkpoints: checkpoints,
                                          personal: PersonalTally(result.personal), optedOut: result.optedOut, file: result.file))
            }
            switch outcome {
            case .fresh:
                newEntry(checkpoints: [checkpoint])
                status.append("counted")
                delta.inputsCounted += 1
            case .continued(let entry, let from) where from == ledger[entry].contentBytes && !continued.contains(entry):
                ledger[entry].add(result, checkpoint: checkpoint, sampleLimit: configuration.rejectSamples)
                continued.insert(entry)
                status[entry] = "continued"
                newFrom[entry] = from
                delta.inputsContinued += 1
            case .continued(let entry, let from):
                // A branch: the content shares a counted prefix (up to `from`) with another, then differs, or
                // two inputs grew from the same prefix. It is its own entry from here on, its prefix known, so
                // that neither branch's growth is taken for the other's.
                newEntry(checkpoints: ledger[entry].checkpoints.filter { $0.bytes <= from } + [checkpoint])
                status.append("continued")
                newFrom[ledger.count - 1] = from
                delta.inputsContinued += 1
            case .unchanged(let entry):
                ledger[entry].input.path = result.input.path
                ledger[entry].file = result.file
                if status[entry] == "carried" { status[entry] = "unchanged" }
                delta.inputsUnchanged += 1
            }
        }

        // Nothing read, nothing moved, and the outputs derived from this very state: only the manifest changes.
        if let previous, results.isEmpty, unchangedByFile.allSatisfy({ previous.ledger[$0.key].input.path == $0.value }),
           var manifest = try? JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))),
           manifest.stateGeneration == previous.generation, manifest.partial == configuration.partial,
           manifest.shard == configuration.shard?.description {
            let hasCalls = manifest.inputs.contains { $0.channel == Channel.calls.rawValue }
            let wanted = publishedNames(PublishConfiguration(configuration), hasCalls: hasCalls)
            // Each output must have been written from this state: listed by the manifest that recorded it.
            if wanted.allSatisfy({ manifest.outputs.contains($0) && FileManager.default.fileExists(atPath: directory + "/" + $0) }) {
                var inputs: [Manifest.Input] = []
                for (position, entry) in ledger.enumerated() {
                    var input = entry.input
                    input.status = status[position]
                    inputs.append(input)
                }
                manifest.inputs = inputs + unledgered
                manifest.thisRun = delta
                manifest.incomplete = false
                manifest.outputs = wanted + [RunState.fileName, "manifest.json"]
                manifest.timings = Manifest.Timings(startedAt: CivilTime.iso8601(Int64(started.timeIntervalSince1970)), finishedAt: CivilTime.iso8601(Int64(Date().timeIntervalSince1970)),
                                                    wallSeconds: seconds(clock.now - startInstant), processSeconds: seconds(processEnd - startInstant), writeSeconds: 0)
                try AtomicFile.write(try manifest.encoded(), to: directory + "/manifest.json")
                return RunReport(manifest: manifest, outputDirectory: directory, hasDataErrors: false, hasIOErrors: false, notes: notes)
            }
        }
        // Trends: the rows still in memory join the closed buckets in the spills; the final passes below merge
        // them with the saved ones bucket by bucket, as the state is written.
        finished!.web.spillAll()
        finished!.calls.spillAll()
        if let failure = spill.failure ?? callSpill.failure { throw failure }
        // What the processors folded into (other), and what the saved state had.
        var capped = CappedCounts()
        capped.add(previous?.capped ?? [:])
        for dimension in WebDimension.allCases {
            capped.web[dimension, default: 0] += finished!.web.aggregator.cappedEvents[dimension.rawValue]
        }
        for dimension in CallDimension.allCases {
            capped.calls[dimension, default: 0] += finished!.calls.aggregator.cappedEvents[dimension.rawValue]
        }
        // Which dimensions could reach their value cap in the final pass, so that the saved values go first.
        let savedCounts = previous?.valueCounts
        let webValuesFirst = previous == nil ? [] : WebDimension.allCases.filter { dimension in
            savedValuesGoFirst(runValues: finished!.webValueBound(dimension),
                               savedValues: [savedCounts?[dimension.name]], cap: policy.maxValues)
        }
        let callValuesFirst = previous == nil ? [] : CallDimension.allCases.filter { dimension in
            savedValuesGoFirst(runValues: finished!.callValueBound(dimension),
                               savedValues: [savedCounts?[dimension.stateName]], cap: policy.maxValues)
        }
        finished = nil
        #if canImport(Glibc)
        // Gives the processors' freed caches back to the system: the final pass allocates on other threads'
        // arenas, and memory freed in this one would otherwise stay resident through the end of the run.
        _ = systemMallocTrim(0)
        #endif

        let minCount = configuration.partial ? 0 : policy.minCount
        let saved = previous.map { [SavedState(path: directory + "/" + RunState.fileName, $0)] } ?? []
        let finalPass = WebFinalPass(spill: spill, saved: saved, bucket: policy.bucket, valueCap: policy.maxValues,
                                     minCount: minCount, capped: capped.web, savedValuesFirst: webValuesFirst)
        let callPass = CallFinalPass(spill: callSpill, saved: saved, bucket: policy.bucket, valueCap: policy.maxValues,
                                     minCount: minCount, capped: capped.calls, savedValuesFirst: callValuesFirst)

        var state = RunState(web: [], calls: [], ledger: ledger, settings: settings)
        state.capped = capped.unknown

        // What the manifest says follows from the ledger and this state, known before the state is written.
        var inputs: [Manifest.Input] = []
        var personal = PersonalTally()
        var optedOut = 0
        for (position, entry) in ledger.enumerated() {
            var input = entry.input
            input.status = status[position]
            input.newFrom = newFrom[position]
            inputs.append(input)
            personal.add(entry.personal)
            optedOut += entry.optedOut
        }
        inputs.append(contentsOf: unledgered)
        let totals = totals(of: inputs, optedOut: optedOut)

        let considered = delta.linesParsed + delta.linesRejected
        let overRatio = considered > 0 && Double(delta.linesRejected) / Double(considered) > configuration.maxRejectRatio
        let hasIOErrors = results.contains { $0.ioFailure }
        let hasDataErrors = overRatio || results.contains { !$0.skipped && !$0.ioFailure && $0.input.error != nil }
        let unfinished = results.filter(\.tailHeldBack)
        if !unfinished.isEmpty {
            let until = configuration.keepsLedger ? "for the next run" : "uncounted (a run without a key is not continued)"
            notes.append("left the unfinished last line of \(unfinished.count) file\(unfinished.count == 1 ? "" : "s") being written \(until): " + unfinished.prefix(3).map(\.input.path).joined(separator: ", ") + (unfinished.count > 3 ? ", …" : ""))
        }
        let skipped = results.filter(\.skipped)
        if !skipped.isEmpty {
            notes.append("skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") found in directories that \(skipped.count == 1 ? "is" : "are") not logs: " + skipped.prefix(3).map(\.input.path).joined(separator: ", ") + (skipped.count > 3 ? ", …" : ""))
        }
        // Call trend files are written when some input was a call record; crumb.db always has the tables.
        let hasCalls = inputs.contains { $0.channel == Channel.calls.rawValue }
        var manifest = Manifest(
            version: CrumbVersion.current, schema: CrumbVersion.schema, command: "run",
            policySHA256: settings.policySHA256, policy: settings.policy,
            keyFingerprint: settings.keyFingerprint, keyEphemeral: settings.keyEphemeral,
            bucket: policy.bucket.rawValue, inputs: inputs, totals: totals,
            personalFoundByKind: personal.byKind, personalFoundByField: personal.byField,
            linesWithPersonalData: personal.lines,
            outputs: [], rows: [:], incomplete: hasDataErrors,
            timings: Manifest.Timings(startedAt: CivilTime.iso8601(Int64(started.timeIntervalSince1970)), finishedAt: "",
                                      wallSeconds: 0, processSeconds: seconds(processEnd - startInstant), writeSeconds: 0)
        )
        manifest.partial = configuration.partial
        manifest.shard = configuration.shard?.description
        manifest.thisRun = delta
        manifest.stateGeneration = state.generation

        let writeStart = clock.now
        manifest = try writeFinal(
            state: state, manifest: manifest, webPass: finalPass, callPass: callPass,
            publish: PublishConfiguration(configuration), hasCalls: hasCalls, directory: directory,
            beforeCommit: { state in
                // Streamed outputs first (appended after the committed length), then the commit.
                (state.eventsBytes, state.vaultBytes) = try parts.append(after: (previous?.eventsBytes ?? 0, previous?.vaultBytes ?? 0))
                FaultInjection.reached(.beforeCommit)
            },
            afterCommit: { FaultInjection.reached(.afterCommit) })
        let end = clock.now
        manifest.timings.writeSeconds = seconds(end - writeStart)
        manifest.timings.wallSeconds = seconds(end - startInstant)
        manifest.timings.finishedAt = CivilTime.iso8601(Int64(Date().timeIntervalSince1970))
        try AtomicFile.write(try manifest.encoded(), to: directory + "/manifest.json")
        return RunReport(manifest: manifest, outputDirectory: configuration.outputDirectory,
                         hasDataErrors: hasDataErrors, hasIOErrors: hasIOErrors, notes: notes)
    }

    /// The end of a run or a merge: the final passes (web, then calls) merge each bucket and hand its unfolded
    /// rows to this thread, which writes the state, and its published rows (k-anonymous, sorted) to a third,
    /// which builds crumb.db, and the CSV and JSON Lines files asked for, under temporary names. They are put in
    /// place once the state is committed, so that they never show counts the state does not hold.
    ///
    /// A state without a key (`RunConfiguration.keepsLedger`) is saved without rows or ledger: nothing could
    /// continue them (and its ledger's entries have no content digests).
    ///
    /// `beforeCommit` runs on this thread once the passes have started, and may change the state (the
    /// streamed outputs' committed lengths); `afterCommit` right after the commit. Returns the manifest with
    /// its row counts and capped dimensions, which the passes find, once everything but the manifest is in
    /// place.
    static func writeFinal(state: RunState, manifest: Manifest, webPass: WebFinalPass, callPass: CallFinalPass,
                           publish publishConfiguration: PublishConfiguration, hasCalls: Bool, directory: String,
                           beforeCommit: (inout RunState) throws -> Void, afterCommit: () throws -> Void) throws -> Manifest {
        // The pass thread finishes every channel on every way out.
        struct Publication: Sendable {
            var manifest: Manifest
            var database: AtomicFile.Prepared?
            /// web_trends.csv and .jsonl, written as the batches came; call_trends' likewise.
            var webFiles: [AtomicFile.Prepared] = []
            var callFiles: [AtomicFile.Prepared] = []
            var failure: (any Error)?
        }
        let publication = Mutex(Publication(manifest: manifest))
        let passOutcome = Mutex<Result<PassSummary, any Error>>(.success(PassSummary()))
        let stateSegments = BatchChannel<(bucketStart: Int64, rows: [UInt8])>(depth: 4)
        let stateCalls = BatchChannel<[CallTrendRecord]>(depth: 4)
        let publishedBatches = BatchChannel<[WebTrendRecord]>(depth: 4)
        let publishedCalls = BatchChannel<[CallTrendRecord]>(depth: 4)
        let passDone = DispatchSemaphore(value: 0)
        let publishingDone = DispatchSemaphore(value: 0)
        Thread {
            var result = publication.withLock { $0 }
            var webCount = 0
            var callCount = 0
            var webFiles: [StreamedTrendFile] = []
            var callFiles: [StreamedTrendFile] = []
            // A partial output's rows include those below min_count: only its owner may read them, from the start.
            let mode: mode_t = result.manifest.partial ? 0o600 : 0o644
            do {
                for (format, suffix) in [(StreamedTrendFile.Format.csv, "csv"), (.jsonLines, "jsonl")]
                where format == .csv ? publishConfiguration.csv : publishConfiguration.jsonLines {
                    webFiles.append(try StreamedTrendFile(path: directory + "/web_trends." + suffix, format: format, mode: mode))
                    if hasCalls {
                        callFiles.append(try StreamedTrendFile(path: directory + "/call_trends." + suffix, format: format,
                                                               table: .calls, mode: mode))
                    }
                }
                result.database = try preparePublished(
                    manifest: &result.manifest,
                    streaming: { emit in
                        while let batch = publishedBatches.next() {
                            webCount += batch.count
                            for file in webFiles { try file.append(batch) }
                            try emit(batch)
                        }
                    },
                    calls: { emit in
                        while let batch = publishedCalls.next() {
                            callCount += batch.count
                            for file in callFiles { try file.append(batch) }
                            try emit(batch)
                        }
                    },
                    hasCalls: hasCalls, configuration: publishConfiguration, directory: directory,
                    complete: { manifest in
                        manifest.rows = ["web_trends": webCount, "call_trends": callCount]
                        // Read once the batches are all in, so after the passes have recorded their outcome.
                        manifest.cappedDimensions = (try? passOutcome.withLock { try $0.get() })?.capped ?? [:]
                    })
                result.webFiles = try webFiles.map { try $0.finish() }
                result.callFiles = try callFiles.map { try $0.finish() }
            } catch {
                result.failure = error
                publishedBatches.abandon()
                publishedCalls.abandon()
                for file in webFiles + callFiles { file.discard() }
            }
            publication.withLock { $0 = result }
            publishingDone.signal()
        }.start()
        let keepsRows = !state.settings.keyEphemeral
        Thread {
            var segment: [UInt8] = []
            var segmentStart: Int64 = 0
            let outcome = Result { () throws -> PassSummary in
                var summary: PassSummary
                do {
                    // The web channels end with the web pass: their readers go on to the call channels.
                    defer {
                        stateSegments.finish()
                        publishedBatches.finish()
                    }
                    summary = try webPass.run(stateRow: { row in
                        guard keepsRows else { return }
                        segmentStart = row.bucketStart
                        segment.appendSpillRow(row)
                    }, published: { records in
                        if keepsRows {
                            stateSegments.send((segmentStart, segment))
                            segment = []
                        }
                        publishedBatches.send(records)
                    })
                }
                let calls = try callPass.run(stateRecords: { if keepsRows { stateCalls.send($0) } },
                                             published: { publishedCalls.send($0) })
                summary.add(calls: calls)
                return summary
            }
            passOutcome.withLock { $0 = outcome }
            for channel in [stateSegments.finish, stateCalls.finish, publishedBatches.finish, publishedCalls.finish] { channel() }
            // Every spilled row is merged: the spills' disk space and pages go back now, on this thread, beside
            // the writers' last work, rather than last of all when the run lets go of them (6 ms for 61 MB).
            webPass.spill?.file.dropContents()
            callPass.spill?.file.dropContents()
            passDone.signal()
        }.start()
        // Joined on every way out, so that no thread outlives the run; outputs not put in place are removed.
        var publishingJoined = false
        var databaseCommitted = false
        defer {
            if !publishingJoined { publishingDone.wait() }
            if !databaseCommitted {
                publication.withLock { done in
                    done.database?.discard()
                    for file in done.webFiles + done.callFiles { file.discard() }
                }
            }
        }
        var passJoined = false
        defer {
            // Runs first: a pass this thread stopped listening to does not wait for it.
            if !passJoined {
                stateSegments.abandon()
                stateCalls.abandon()
                passDone.wait()
            }
        }

        var state = state
        if !keepsRows { state.ledger = [] }
        try beforeCommit(&state)
        try state.save(directory: directory) { insertWeb, insertCalls in
            while let segment = stateSegments.next() {
                try segment.rows.withUnsafeBytes { bytes in
                    var rows = SpillRowReader(bytes: bytes, path: directory + "/(final pass)")
                    while let row = try rows.next(bucketStart: segment.bucketStart) { try insertWeb(row) }
                }
            }
            while let records = stateCalls.next() { try insertCalls(records) }
            passDone.wait()
            passJoined = true
            return try passOutcome.withLock { try $0.get() }
        }
        try afterCommit()

        // Everything below is derived from the state.
        publishingDone.wait()
        publishingJoined = true
        let done = publication.withLock { $0 }
        if let failure = done.failure { throw failure }
        databaseCommitted = true
        try finishPublished(database: done.database, manifest: done.manifest, web: .streamed(done.webFiles),
                            calls: .streamed(done.callFiles), hasCalls: hasCalls, configuration: publishConfiguration,
                            directory: directory)
        return done.manifest
    }

    /// The trend files (CSV, JSON Lines) of web or call trends a publication puts in place: written from these
    /// records, or already written (`StreamedTrendFile`) and only to be committed.
    enum PublishedFiles<Record> {
        case records([Record])
        case streamed([AtomicFile.Prepared])
    }

    /// Which published outputs to write.
    struct PublishConfiguration {
        var sqlite: Bool
        var csv: Bool
        var jsonLines: Bool
        var events: Bool
        var vault: Bool
        var keyFingerprint: String

        init(sqlite: Bool, csv: Bool, jsonLines: Bool, events: Bool, vault: Bool, keyFingerprint: String) {
            self.sqlite = sqlite
            self.csv = csv
            self.jsonLines = jsonLines
            self.events = events
            self.vault = vault
            self.keyFingerprint = keyFingerprint
        }

        init(_ configuration: RunConfiguration) {
            self.init(sqlite: configuration.writeSQLite, csv: configuration.writeCSV, jsonLines: configuration.writeJSONLines,
                      events: configuration.policy.events, vault: configuration.policy.vault,
                      keyFingerprint: configuration.keyring.fingerprint)
        }
    }

    /// The outputs a run writes besides `state.db` and `manifest.json`, in the manifest's order.
    static func publishedNames(_ configuration: PublishConfiguration, hasCalls: Bool) -> [String] {
        var outputs: [String] = []
        if configuration.sqlite { outputs.append("crumb.db") }
        if configuration.csv { outputs.append("web_trends.csv") }
        if configuration.jsonLines { outputs.append("web_trends.jsonl") }
        if hasCalls, configuration.csv { outputs.append("call_trends.csv") }
        if hasCalls, configuration.jsonLines { outputs.append("call_trends.jsonl") }
        if configuration.events { outputs.append("events.jsonl") }
        if configuration.vault { outputs.append("vault.jsonl") }
        return outputs
    }

    /// Writes crumb.db, the CSV and JSON Lines files asked for, and fills in the manifest's outputs (the
    /// manifest itself is written by the caller, last).
    static func writePublished(manifest: inout Manifest, web records: [WebTrendRecord], calls callRecords: [CallTrendRecord],
                               hasCalls: Bool, configuration: PublishConfiguration, directory: String) throws {
        let database = try preparePublished(manifest: &manifest, web: records, calls: callRecords, hasCalls: hasCalls,
                                            configuration: configuration, directory: directory)
        try finishPublished(database: database, manifest: manifest, web: .records(records), calls: .records(callRecords), hasCalls: hasCalls,
                            configuration: configuration, directory: directory)
    }

    /// The first half of `writePublished`: fills in the manifest's outputs and builds crumb.db (when asked)
    /// under a temporary name, for `finishPublished` to put in place.
    static func preparePublished(manifest: inout Manifest, web records: [WebTrendRecord], calls callRecords: [CallTrendRecord],
                                 hasCalls: Bool, configuration: PublishConfiguration, directory: String) throws -> AtomicFile.Prepared? {
        try preparePublished(manifest: &manifest, streaming: { emit in try emit(records) }, calls: { emit in try emit(callRecords) },
                             hasCalls: hasCalls, configuration: configuration, directory: directory, complete: { _ in })
    }

    /// `preparePublished` with the web records given in batches by `source`, then the call records by `calls`
    /// (see `TrendWriters.prepareSQLite(streaming:)`); `complete` finishes the manifest once they are all in,
    /// before crumb.db records it. Without crumb.db, the batches are taken and dropped.
    static func preparePublished(manifest: inout Manifest, streaming source: (([WebTrendRecord]) throws -> Void) throws -> Void,
                                 calls: (([CallTrendRecord]) throws -> Void) throws -> Void, hasCalls: Bool,
                                 configuration: PublishConfiguration,
                                 directory: String, complete: (inout Manifest) -> Void) throws -> AtomicFile.Prepared? {
        var outputs = publishedNames(configuration, hasCalls: hasCalls)
        outputs.append(RunState.fileName)
        outputs.append("manifest.json")
        manifest.outputs = outputs
        guard configuration.sqlite else {
            try source { _ in }
            try calls { _ in }
            complete(&manifest)
            return nil
        }
        return try TrendWriters.prepareSQLite(streaming: source, calls: calls, meta: {
            complete(&manifest)
            // The manifest inside the database is the one of this run, written before the timings are final.
            let manifestText = String(decoding: try manifest.encoded(), as: UTF8.self)
            return [
                ("schema", String(CrumbVersion.schema)), ("crumb_version", CrumbVersion.current),
                ("bucket", manifest.bucket), ("key_fingerprint", configuration.keyFingerprint),
                ("min_count", manifest.partial ? "0" : manifest.policy["min_count"] ?? ""), ("partial", String(manifest.partial)),
                ("manifest", manifestText),
            ]
        }, to: directory + "/crumb.db", mode: manifest.partial ? 0o600 : 0o644)
    }

    /// The second half of `writePublished`: puts crumb.db in place, writes the CSV and JSON Lines files.
    static func finishPublished(database: AtomicFile.Prepared?, manifest: Manifest, web: PublishedFiles<WebTrendRecord>,
                                calls: PublishedFiles<CallTrendRecord>, hasCalls: Bool, configuration: PublishConfiguration,
                                directory: String) throws {
        try database?.commit()
        switch web {
        case .records(let records):
            if configuration.csv { try TrendWriters.writeCSV(records, to: directory + "/web_trends.csv") }
            if configuration.jsonLines { try TrendWriters.writeJSONLines(records, to: directory + "/web_trends.jsonl") }
        case .streamed(let files):
            for file in files { try file.commit() }
        }
        switch calls {
        case .records(let records):
            if hasCalls, configuration.csv { try CallTrendWriters.writeCSV(records, to: directory + "/call_trends.csv") }
            if hasCalls, configuration.jsonLines { try CallTrendWriters.writeJSONLines(records, to: directory + "/call_trends.jsonl") }
        case .streamed(let files):
            for file in files { try file.commit() }
        }
        // A partial output keeps the rows below min_count (a dialled number one caller used, a rare path): it
        // is for crumb merge, not for analysts, and only its owner may read it.
        if manifest.partial {
            for name in manifest.outputs where name.hasSuffix(".db") || name.contains("_trends.") {
                chmod(directory + "/" + name, 0o600)
            }
        }
    }

    /// Reads, decodes, frames and processes one input, reading it a second time when the ledger needs that
    /// (`ContentGate.Restart`). Never throws: a fault is recorded in the input's manifest entry after
    /// everything before it has been counted.
    static func process(
        entry: InputExpansion.Entry, index: Int, with worker: inout Worker, choice: FormatChoice, ledger: LedgerIndex?,
        parts: PartFiles, configuration: RunConfiguration, pipelined: Bool = false, progress: ProgressMeter? = nil
    ) -> InputResult {
        // Standard input has no identity to continue from, and cannot be read twice: it is always new. The reader
        // hashes what it delivers (on its own thread when pipelined; for plain text, with the raw bytes' hash),
        // so the gate hashes only what it must check against the ledger. A run that keeps no ledger has no
        // digest of the content to make: the gate counts the bytes.
        let keepsLedger = configuration.keepsLedger
        var gate = ContentGate(ledger: entry.path == "-" || !keepsLedger ? nil : ledger, sourceHashes: true,
                               digests: keepsLedger)
        while true {
            do {
                return try process(file: entry, index: index, with: &worker, gate: &gate, choice: choice, ledger: ledger,
                                   parts: parts, configuration: configuration, pipelined: pipelined, progress: progress)
            } catch {
                gate = ContentGate(ledger: ledger, restart: error)
            }
        }
    }

    /// One reading of an input through `gate`. Throws only `ContentGate.Restart`, before anything of the
    /// input reached a processor.
    ///
    /// With `auto`, the first new decoded bytes (up to `detectionLines` lines or `detectionBytes`) are held
    /// back until the detector has chosen the format; then they and the rest of the input go to the
    /// processor of the format's channel. An input that matches no format stops there, with the formats tried.
    static func process(
        file entry: InputExpansion.Entry, index: Int, with worker: inout Worker, gate: inout ContentGate, choice: FormatChoice,
        ledger: LedgerIndex?, parts: PartFiles, configuration: RunConfiguration, pipelined: Bool, progress: ProgressMeter?
    ) throws(ContentGate.Restart) -> InputResult {
        let path = entry.path
        var framer = LineFramer(maxLineLength: configuration.maxLineLength)
        var failure: String?
        var size: Int64 = 0
        var decoded: Int64 = 0
        var rawDigest = ""
        var decodedDigest: ContentDigest?
        var encoding = InputEncoding.plain
        var gaveUp = false
        var ioFailure = false
        var binary = false
        var decodeFault = false
        var readFault = false
        var tailHeldBack = false
        var identity: FileIdentity?
        var sink = parts.open(index)
        var spec: FormatSpec?
        var reason = "given"
        var held: [UInt8] = []
        /// Whether the input may be split between two parsing threads once its format is known.
        var splitAllowed = false
        var splitter: LineSplitter<WebLogProcessor>?
        var helperLines = 0

        /// Starts the input on the processor of `chosen`'s channel.
        // The helpers take the worker as an argument rather than capturing the inout parameter: a capture
        // made the compiler copy the processors (and their buffers, copy-on-write) around every chunk.
        func start(_ chosen: FormatSpec, _ worker: inout Worker) {
            spec = chosen
            if let parser = chosen.makeWebParser() {
                worker.web.startInput(parser: parser)
            } else if let parser = chosen.makeCallParser(timeZone: configuration.timeZone) {
                worker.calls.startInput(parser: parser)
            }
        }
        func feed(_ bytes: UnsafeRawBufferPointer, _ worker: inout Worker) {
            guard let spec else { return }
            switch spec.channel {
            case .web:
                if let splitter {
                    splitter.feed(bytes, framer: &framer, own: &worker.web)
                } else {
                    framer.feed(bytes) { worker.web.process($0) }
                }
            case .calls: framer.feed(bytes) { worker.calls.process($0) }
            }
        }
        func finishFraming(_ worker: inout Worker) {
            switch spec?.channel {
            case .web?:
                if let splitter {
                    framer.finish { splitter.take($0, own: &worker.web) }
                } else {
                    framer.finish { worker.web.process($0) }
                }
            case .calls?: framer.finish { worker.calls.process($0) }
            case nil: break
            }
        }
        /// Starts sharing lines with a helper processor: once the input's lines are known to parse (so
        /// that giving up on its format is no longer a question), when its lines are independent.
        func startSplit(_ worker: inout Worker) {
            guard splitAllowed, splitter == nil, spec?.channel == .web, worker.web.counts.parsed > 0,
                  worker.web.linesAreIndependent else { return }
            var helper = worker.webHelper ?? worker.web.sibling()
            worker.webHelper = nil
            helper.startInput(parser: worker.web.parser)
            splitter = LineSplitter(helper: helper, sharing: worker.web.parser.linesStartWithClient ? .byClient : .runs)
        }
        /// Waits for the helper's lines and adds its counts to the worker's processor.
        func endSplit(_ worker: inout Worker) {
            guard let active = splitter else { return }
            splitter = nil
            var helper = active.finish(own: &worker.web)
            helperLines += active.helperLines
            worker.web.absorbInput(of: &helper)
            worker.webHelper = helper
        }
        /// Detects the format from the held bytes, then feeds them. Throws when nothing matches.
        func detect(_ detector: FormatDetector, _ worker: inout Worker) throws {
            let detection = detector.detect(lines: sampleLines(held, limit: configuration.detectionLines,
                                                               maxLineLength: configuration.maxLineLength))
            guard let chosen = detection.spec else {
                binary = looksBinary(held)
                if let hint = FormatDetector.compressionHint(held) {
                    binary = true
                    failure = "\(path): no known format matches its first lines: \(hint)"
                    throw UnrecognizedFormat()
                }
                failure = binary
                    ? "\(path): not a log: its first bytes are binary data"
                    : "\(path): no known format matches its first lines: \(detection.reason); tried \(detection.tried.map(\.name).joined(separator: ", ")). Hint: run crumb detect on it, or name the format with --format (crumb formats lists them; apache:'...' and nginx:'...' take a LogFormat or log_format string)"
                throw UnrecognizedFormat()
            }
            reason = detection.reason
            start(chosen, &worker)
            held.withUnsafeBytes { feed($0, &worker) }
            held = []
        }
        /// Takes new bytes (those the gate passes on): held for detection, or fed. A continued input keeps
        /// the format it was counted in, and its parser gets the directives of the part already counted.
        func take(_ chunk: UnsafeRawBufferPointer, _ resumed: ContentGate.Start?, _ worker: inout Worker) throws {
            if let resumed, let entry = resumed.entry, spec == nil, let ledger {
                let counted = ledger.entries[entry].input.format
                if let known = try? FormatSpec(parsing: counted == "common" ? "combined" : counted,
                                               jsonMapping: configuration.policy.jsonMapping) {
                    start(known, &worker)
                    reason = "continued as counted"
                    if known.channel == .web {
                        for directive in resumed.directives { directive.withUnsafeBytes { worker.web.primeInput(directive: $0) } }
                    }
                }
            }
            if spec == nil {
                switch choice {
                case .given(let given):
                    start(given, &worker)
                case .detect(let detector):
                    held.append(contentsOf: chunk)
                    guard held.count >= configuration.detectionBytes
                        || newlineCount(held) >= configuration.detectionLines else { return }
                    try detect(detector, &worker)
                    return
                }
            }
            feed(chunk, &worker)
        }

        do {
            // Pipelined only for a regular file of some size: a thread per small file is waste, and a pipe's
            // producer could not be stopped while it waits in read(2).
            let fileSize = FileIdentity.of(path)?.size ?? 0
            let isPipelined = pipelined && fileSize >= configuration.pipelineMinimumBytes
            splitAllowed = isPipelined && configuration.splitLines
            let input = try PipelinedInput(path: path, pipelined: isPipelined, hashDecoded: configuration.keepsLedger,
                                           progress: progress)
            defer {
                // On every way out: the digest of exactly the bytes the gate consumed.
                decodedDigest = input.decodedDigest
                input.close()
            }
            identity = input.identity
            var linesSeen = 0
            do {
                try input.forEachChunk { chunk in
                    try gate.consume(chunk) { try take($0, $1, &worker) }
                    worker.web.spillClosedBuckets()
                    worker.calls.spillClosedBuckets()
                    try sink.drain(&worker.web)
                    try sink.drain(&worker.calls)
                    let counts = spec?.channel == .calls ? worker.calls.counts : worker.web.counts
                    if let progress {
                        progress.addLines(framer.lineCount - linesSeen)
                        linesSeen = framer.lineCount
                    }
                    startSplit(&worker)
                    if counts.parsed == 0, counts.headers == 0,
                       counts.read - counts.blank >= configuration.detectionLines {
                        throw UnrecognizedFormat()
                    }
                }
                try gate.finish { try take($0, $1, &worker) }
                if spec == nil, case .detect(let detector) = choice, !held.isEmpty { try detect(detector, &worker) }
                if gate.lastByte != UInt8(ascii: "\n"), input.encoding == .plain, identity.map(Self.isBeingWritten) == true {
                    // A live log read mid-write: its last line is not finished. It is left for the next run,
                    // which continues from the last line feed.
                    _ = framer.discardPartialLine()
                    tailHeldBack = true
                } else {
                    finishFraming(&worker)
                }
            } catch is UnrecognizedFormat {
                gaveUp = true
            } catch let error where error is DecodeError || error is InputError {
                // A fault part-way: what was decoded before it is counted, up to its last complete line. Bytes
                // the gate still held are settled first (passed on, or a restart to skip what was counted).
                do {
                    try gate.finish { try take($0, $1, &worker) }
                } catch let restart as ContentGate.Restart {
                    throw restart
                } catch {}
                // The line the fault cut is incomplete: it is neither parsed nor counted. Bytes held back for
                // detection are complete lines up to the fault: detect on them and count them.
                if spec == nil, case .detect(let detector) = choice, !held.isEmpty {
                    let cut = held.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                    held.removeSubrange(cut...)
                    if (try? detect(detector, &worker)) != nil { finishFraming(&worker) } else { gaveUp = true }
                } else {
                    _ = framer.discardPartialLine()
                }
                if let error = error as? InputError {
                    failure = "io: \(error.path): \(error.message)"
                    readFault = true
                } else {
                    failure = (error as? DecodeError)?.description ?? "\(path): \(error)"
                }
                decodeFault = true
            }
            try sink.drain(&worker.web)
            try sink.drain(&worker.calls)
            encoding = input.encoding ?? .plain
            size = input.rawBytes
            decoded = input.decodedBytes
            rawDigest = input.rawSHA256.hexString
        } catch let restart as ContentGate.Restart {
            endSplit(&worker)
            sink.close()
            throw restart
        } catch let error as InputError {
            failure = "io: \(error.path): \(error.message)"
            ioFailure = true
        } catch let error as OutputError {
            failure = "io: \(error.path): \(error.message)"
            ioFailure = true
        } catch {
            failure = "\(path): \(error)"
        }
        // On every path: the helper's lines are counted before the input's results are taken.
        endSplit(&worker)
        sink.close()

        let channel = spec?.channel ?? .web
        let counts: LineCounts
        let rejects: RejectTally
        let personal: PersonalDataTally
        var format = spec?.name ?? "unknown"
        switch channel {
        case .web:
            let finished = worker.web.finishInput()
            (counts, rejects, personal) = (finished.counts, finished.rejects, finished.personal)
            // `combined` reads common lines too; name the format by what the lines held.
            if case .combined = spec?.kind, counts.parsed > 0 {
                format = finished.combinedLines * 2 < counts.parsed ? "common" : "combined"
            }
        case .calls:
            let finished = worker.calls.finishInput()
            (counts, rejects, personal) = (finished.counts, finished.rejects, finished.personal)
        }
        if gaveUp, failure == nil {
            failure = "\(path): none of the first \(configuration.detectionLines) lines parse as \(format); check the format (crumb formats lists them, crumb detect explains what a file looks like)"
        }
        var byReason: [String: Int] = [:]
        for (code, count) in rejects.counts { byReason[code.rawValue] = count }
        let input = Manifest.Input(
            path: path, bytes: size, decodedBytes: decoded, sha256: rawDigest, format: format,
            encoding: encoding.rawValue, linesRead: counts.read, linesParsed: counts.parsed,
            linesRejected: counts.rejected, linesBlank: counts.blank, rejectsByReason: byReason,
            rejectSamples: rejects.samples, error: failure, channel: channel.rawValue, formatReason: reason,
            linesHeader: counts.headers
        )
        var result = InputResult(index: index, input: input, personal: personal, optedOut: counts.optedOut)
        // A file whose last line was left is read again next time, even if it has not changed by then.
        result.file = tailHeldBack ? nil : identity
        result.tailHeldBack = tailHeldBack
        result.helperLines = helperLines
        result.ioFailure = ioFailure || readFault
        result.unrecognized = gaveUp
        result.skipped = gaveUp && binary && entry.foundInDirectory
        // Counted (possibly up to a fault): the ledger learns what; not opened, or no format: nothing counted.
        if !ioFailure, !gaveUp {
            result.outcome = gate.outcome
            result.head = gate.headKey
            let content = gate.content(source: decodedDigest)
            if decodeFault || tailHeldBack {
                // The line the fault cut (or the writer has not finished) was dropped: the content counted ends at the last line feed, and a
                // repaired or grown file is continued from there.
                let complete = content.throughLastLineFeed
                (result.contentBytes, result.contentSHA256) = (complete.count, complete.sha256?.hexString ?? "")
            } else {
                result.contentSHA256 = content.sha256?.hexString ?? ""
                result.contentBytes = gate.position
                result.endsMidLine = gate.lastByte.map { $0 != UInt8(ascii: "\n") } ?? false
            }
        }
        return result
    }

    /// Whether `file` (as it was when opened) had been modified in the last minute: a log still being written.
    static func isBeingWritten(_ file: FileIdentity) -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        return now - file.modifiedNanoseconds < 60 * 1_000_000_000
    }

    /// Whether `bytes` look like binary data rather than text: a NUL byte, or many control bytes.
    static func looksBinary(_ bytes: [UInt8]) -> Bool {
        let sample = bytes.prefix(4096)
        guard !sample.isEmpty else { return false }
        var control = 0
        for byte in sample {
            if byte == 0 { return true }
            if byte < 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D, byte != 0x0C { control += 1 }
        }
        return control * 10 > sample.count
    }

    /// Newlines in `bytes`.
    static func newlineCount(_ bytes: [UInt8]) -> Int {
        var count = 0
        for byte in bytes where byte == UInt8(ascii: "\n") { count += 1 }
        return count
    }

    /// The first `limit` lines of `bytes` for the detector: complete lines, without terminators, each cut
    /// at `maxLineLength`. A last line without a newline is included (the input may end there).
    static func sampleLines(_ bytes: [UInt8], limit: Int, maxLineLength: Int) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var framer = LineFramer(maxLineLength: maxLineLength)
        bytes.withUnsafeBytes { all in
            framer.feed(all) { frame in
                if lines.count < limit, case .line(let line, _) = frame { lines.append(Array(line)) }
            }
            framer.finish { frame in
                if lines.count < limit, case .line(let line, _) = frame { lines.append(Array(line)) }
            }
        }
        return lines
    }

    struct UnrecognizedFormat: Error {}

    static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

extension Policy {
    /// The settings in force, in the manifest's words.
    var manifestSummary: [String: String] {
        [
            "ip": ipModeDescription,
            "key_rotation": rotation.rawValue,
            "query_allow": queryAllow.joined(separator: ","),
            "tracking_cookies": trackingCookies.joined(separator: ","),
            "opt_out": optOutSignals.map(\.rawValue).sorted().joined(separator: ","),
            "detectors": detectors.map(\.rawValue).sorted().joined(separator: ","),
            "min_count": String(minCount),
            "bucket": bucket.rawValue,
            "events": String(events),
            "vault": String(vault),
        ]
    }

    var ipModeDescription: String {
        switch ipMode {
        case .truncate(let v4, let v6): "truncate /\(v4) /\(v6)"
        default: ipMode.name
        }
    }
}

extension Digest {
    var hexString: String { ASCII.lowercaseHex(self) }
}

#if canImport(Glibc)
/// glibc's `malloc_trim(3)`, which the Glibc module does not export (it is declared in `<malloc.h>`): returns
/// freed memory to the system. Called where a run has just freed a lot (a spill, the processors at the end).
@_silgen_name("malloc_trim")
func systemMallocTrim(_ pad: Int) -> Int32
#endif
