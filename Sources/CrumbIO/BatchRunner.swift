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

    public init(inputs: [String], outputDirectory: String, keyring: Keyring, policy: Policy = .standard) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.keyring = keyring
        self.policy = policy
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

    mutating func merge(_ other: Worker) {
        web.mergeTrends(other.web)
        calls.mergeTrends(other.calls)
    }
}

/// What a run did, for the summary line, the manifest and the exit code.
public struct RunReport: Sendable {
    public var manifest: Manifest
    public var outputDirectory: String
    /// The reject ratio was over the limit, or an input could not be read or decoded.
    public var hasDataErrors: Bool
    /// An input could not be opened or read (I/O), as opposed to bad data in it.
    public var hasIOErrors: Bool
}

/// `crumb run`: reads every input, aggregates, writes the outputs atomically.
///
/// Inputs are processed in parallel, one worker per file up to `jobs`; each worker owns its processor, and
/// processors merge at the end (no locks on the hot path). A bad line is counted and skipped; a decode or
/// read fault ends that input only, after everything decoded before it has been counted. The events and
/// vault outputs, when the policy asks for them, are streamed to one temporary part per input and joined in
/// input order at the end.
public enum BatchRunner {
    /// What reading every input produced, before any output is written.
    public struct Processed: Sendable {
        public var inputs: [Manifest.Input]
        public var totals: Manifest.Totals
        public var personal: PersonalDataTally
        public var processor: WebLogProcessor
        public var calls: CallLogProcessor
        public var seconds: Double
    }

    /// Reads, decodes, parses, classifies and aggregates every input, in parallel; writes the streamed parts
    /// (events, vault) but no trends. `crumb scan` stops here.
    public static func processInputs(_ configuration: RunConfiguration) throws -> Processed {
        let files = try InputExpansion.expand(configuration.inputs)
        return try process(files: files, configuration: configuration,
                           parts: PartFiles(directory: "", count: 0, events: false, vault: false))
    }

    static func process(files: [String], configuration: RunConfiguration, parts: PartFiles) throws -> Processed {
        let clock = ContinuousClock()
        let start = clock.now
        // Validates the IP mode against the key before any work: an ephemeral keyring is no key, and the
        // keyed modes are refused without one.
        let anonymizer = try IPAnonymizer(mode: configuration.policy.ipMode,
                                          keyring: configuration.keyring.isEphemeral ? nil : configuration.keyring)
        let webConfiguration = configuration.webConfiguration
        let callConfiguration = configuration.callConfiguration
        let choice = try configuration.formatChoice()

        let results = Mutex<[(index: Int, input: Manifest.Input, personal: PersonalDataTally, optedOut: Int)]>([])
        let finished = Mutex<[Worker]>([])
        let nextFile = Atomic<Int>(0)
        let workers = min(configuration.jobs, max(files.count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var worker = Worker(
                web: WebLogProcessor(configuration: webConfiguration, keyring: configuration.keyring, anonymizer: anonymizer),
                calls: CallLogProcessor(configuration: callConfiguration, parser: AsteriskCDRParser(timeZone: configuration.timeZone),
                                        keyring: configuration.keyring))
            while true {
                let index = nextFile.add(1, ordering: .relaxed).oldValue
                guard index < files.count else { break }
                let outcome = process(file: files[index], index: index, with: &worker, choice: choice, parts: parts,
                                      configuration: configuration)
                results.withLock { $0.append((index, outcome.input, outcome.personal, outcome.optedOut)) }
            }
            finished.withLock { $0.append(worker) }
        }

        var merged = finished.withLock { list in list.removeFirst() }
        for other in finished.withLock({ $0 }) { merged.merge(other) }
        let ordered = results.withLock { $0 }.sorted { $0.index < $1.index }
        let inputs = ordered.map(\.input)
        var personal = PersonalDataTally()
        for result in ordered { personal.merge(result.personal) }

        var totals = Manifest.Totals(inputs: inputs.count, bytes: 0, decodedBytes: 0, linesRead: 0, linesParsed: 0,
                                     linesRejected: 0, linesBlank: 0, linesOptedOut: 0, rejectsByReason: [:], inputsWithErrors: 0)
        for (input, result) in zip(inputs, ordered) {
            totals.bytes += input.bytes
            totals.decodedBytes += input.decodedBytes
            totals.linesRead += input.linesRead
            totals.linesParsed += input.linesParsed
            totals.linesRejected += input.linesRejected
            totals.linesBlank += input.linesBlank
            totals.linesHeader += input.linesHeader
            totals.linesOptedOut += result.optedOut
            for (reason, count) in input.rejectsByReason { totals.rejectsByReason[reason, default: 0] += count }
            if input.error != nil { totals.inputsWithErrors += 1 }
        }
        return Processed(inputs: inputs, totals: totals, personal: personal, processor: merged.web, calls: merged.calls,
                         seconds: seconds(clock.now - start))
    }

    public static func run(_ configuration: RunConfiguration) throws -> RunReport {
        let started = Date()
        let clock = ContinuousClock()
        let startInstant = clock.now
        let policy = configuration.policy
        let files = try InputExpansion.expand(configuration.inputs)
        try AtomicFile.createDirectory(configuration.outputDirectory)
        let directory = URL(fileURLWithPath: configuration.outputDirectory)
        let parts = PartFiles(directory: directory.path, count: files.count, events: policy.events, vault: policy.vault)
        defer { parts.removeParts() }
        let processed = try process(files: files, configuration: configuration, parts: parts)
        let inputs = processed.inputs
        let totals = processed.totals
        let personal = processed.personal
        let merged = processed.processor
        let processEnd = clock.now

        let considered = totals.linesParsed + totals.linesRejected
        let overRatio = considered > 0 && Double(totals.linesRejected) / Double(considered) > configuration.maxRejectRatio
        let hasIOErrors = inputs.contains { $0.error?.hasPrefix("io:") == true }
        let hasDataErrors = overRatio || totals.inputsWithErrors > 0

        let records = merged.aggregator.records(minCount: policy.minCount)
        let callRecords = processed.calls.aggregator.records(minCount: policy.minCount)
        // Call trend files are written when some input was a call record; crumb.db always has the tables.
        let hasCalls = inputs.contains { $0.channel == Channel.calls.rawValue }
        var manifest = Manifest(
            version: CrumbVersion.current, schema: CrumbVersion.schema, command: "run",
            policySHA256: PolicyLoader.sha256(of: policy),
            policy: policy.manifestSummary,
            keyFingerprint: configuration.keyring.fingerprint, keyEphemeral: configuration.keyring.isEphemeral,
            bucket: policy.bucket.rawValue, inputs: inputs, totals: totals,
            personalFoundByKind: Dictionary(uniqueKeysWithValues: personal.byKind.map { ($0.key.rawValue, $0.value) }),
            personalFoundByField: Dictionary(uniqueKeysWithValues: personal.byField.map { field, kinds in
                (field.rawValue, Dictionary(uniqueKeysWithValues: kinds.map { ($0.key.rawValue, $0.value) }))
            }),
            linesWithPersonalData: personal.lines,
            outputs: [], rows: ["web_trends": records.count, "call_trends": callRecords.count], incomplete: hasDataErrors,
            timings: Manifest.Timings(startedAt: "", finishedAt: "", wallSeconds: 0,
                                      processSeconds: seconds(processEnd - startInstant), writeSeconds: 0)
        )
        var outputs: [String] = []
        if configuration.writeSQLite { outputs.append("crumb.db") }
        if configuration.writeCSV { outputs.append("web_trends.csv") }
        if configuration.writeJSONLines { outputs.append("web_trends.jsonl") }
        if hasCalls, configuration.writeCSV { outputs.append("call_trends.csv") }
        if hasCalls, configuration.writeJSONLines { outputs.append("call_trends.jsonl") }
        if policy.events { outputs.append("events.jsonl") }
        if policy.vault { outputs.append("vault.jsonl") }
        outputs.append("manifest.json")
        manifest.outputs = outputs
        manifest.timings.startedAt = CivilTime.iso8601(Int64(started.timeIntervalSince1970))

        let writeStart = clock.now
        // The manifest inside the database is the one of this run, written before the timings are final.
        let manifestText = String(decoding: try manifest.encoded(), as: UTF8.self)
        if configuration.writeSQLite {
            try TrendWriters.writeSQLite(records, calls: callRecords, meta: [
                ("schema", String(CrumbVersion.schema)), ("crumb_version", CrumbVersion.current),
                ("bucket", policy.bucket.rawValue), ("key_fingerprint", configuration.keyring.fingerprint),
                ("min_count", String(policy.minCount)), ("manifest", manifestText),
            ], to: directory.appendingPathComponent("crumb.db").path)
        }
        if configuration.writeCSV {
            try TrendWriters.writeCSV(records, to: directory.appendingPathComponent("web_trends.csv").path)
        }
        if configuration.writeJSONLines {
            try TrendWriters.writeJSONLines(records, to: directory.appendingPathComponent("web_trends.jsonl").path)
        }
        if hasCalls, configuration.writeCSV {
            try CallTrendWriters.writeCSV(callRecords, to: directory.appendingPathComponent("call_trends.csv").path)
        }
        if hasCalls, configuration.writeJSONLines {
            try CallTrendWriters.writeJSONLines(callRecords, to: directory.appendingPathComponent("call_trends.jsonl").path)
        }
        try parts.join()
        let end = clock.now
        manifest.timings.writeSeconds = seconds(end - writeStart)
        manifest.timings.wallSeconds = seconds(end - startInstant)
        manifest.timings.finishedAt = CivilTime.iso8601(Int64(Date().timeIntervalSince1970))
        try AtomicFile.write(try manifest.encoded(), to: directory.appendingPathComponent("manifest.json").path)
        return RunReport(manifest: manifest, outputDirectory: configuration.outputDirectory,
                         hasDataErrors: hasDataErrors, hasIOErrors: hasIOErrors)
    }

    /// Reads, decodes, frames and processes one file. Never throws: a fault is recorded in the input's
    /// manifest entry after everything before it has been counted.
    ///
    /// With `auto`, the first decoded bytes (up to `detectionLines` lines or `detectionBytes`) are held back
    /// until the detector has chosen the format; then they and the rest of the input go to the processor of
    /// the format's channel. An input that matches no format stops there, with the formats tried.
    static func process(
        file path: String, index: Int, with worker: inout Worker, choice: FormatChoice, parts: PartFiles,
        configuration: RunConfiguration
    ) -> (input: Manifest.Input, personal: PersonalDataTally, optedOut: Int) {
        var framer = LineFramer(maxLineLength: configuration.maxLineLength)
        var digest = SHA256()
        var failure: String?
        var size: Int64 = 0
        var decoded: Int64 = 0
        var encoding = InputEncoding.plain
        var gaveUp = false
        var sink = parts.open(index)
        var spec: FormatSpec?
        var reason = "given"
        var held: [UInt8] = []

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
            case .web: framer.feed(bytes) { worker.web.process($0) }
            case .calls: framer.feed(bytes) { worker.calls.process($0) }
            }
        }
        func finishFraming(_ worker: inout Worker) {
            switch spec?.channel {
            case .web?: framer.finish { worker.web.process($0) }
            case .calls?: framer.finish { worker.calls.process($0) }
            case nil: break
            }
        }
        /// Detects the format from the held bytes, then feeds them. Throws when nothing matches.
        func detect(_ detector: FormatDetector, _ worker: inout Worker) throws {
            let detection = detector.detect(lines: sampleLines(held, limit: configuration.detectionLines,
                                                               maxLineLength: configuration.maxLineLength))
            guard let chosen = detection.spec else {
                if let hint = FormatDetector.compressionHint(held) {
                    failure = "\(path): no known format matches its first lines: \(hint)"
                    throw UnrecognizedFormat()
                }
                failure = "\(path): no known format matches its first lines: \(detection.reason); tried \(detection.tried.map(\.name).joined(separator: ", ")). Hint: run crumb detect on it, or name the format with --format (crumb formats lists them; apache:'...' and nginx:'...' take a LogFormat or log_format string)"
                throw UnrecognizedFormat()
            }
            reason = detection.reason
            start(chosen, &worker)
            held.withUnsafeBytes { feed($0, &worker) }
            held = []
        }
        if case .given(let given) = choice { start(given, &worker) }

        do {
            let reader = try InputReader(path: path)
            defer { reader.close() }
            reader.observer = { digest.update(bufferPointer: $0) }
            let decoder = StreamDecoder(reader: reader)
            do {
                try decoder.forEachChunk { chunk in
                    if spec == nil, case .detect(let detector) = choice {
                        held.append(contentsOf: chunk)
                        guard held.count >= configuration.detectionBytes
                            || newlineCount(held) >= configuration.detectionLines else { return }
                        try detect(detector, &worker)
                    } else {
                        feed(chunk, &worker)
                    }
                    try sink.drain(&worker.web)
                    try sink.drain(&worker.calls)
                    let counts = spec?.channel == .calls ? worker.calls.counts : worker.web.counts
                    if counts.parsed == 0, counts.headers == 0,
                       counts.read - counts.blank >= configuration.detectionLines {
                        throw UnrecognizedFormat()
                    }
                }
                if spec == nil, case .detect(let detector) = choice { try detect(detector, &worker) }
                finishFraming(&worker)
            } catch is UnrecognizedFormat {
                gaveUp = true
            } catch let error as DecodeError {
                // The line the fault cut is incomplete: it is neither parsed nor counted. Bytes held back for
                // detection are complete lines up to the fault: detect on them and count them.
                if spec == nil, case .detect(let detector) = choice, !held.isEmpty {
                    let cut = held.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                    held.removeSubrange(cut...)
                    if (try? detect(detector, &worker)) != nil { finishFraming(&worker) }
                } else {
                    _ = framer.discardPartialLine()
                }
                failure = error.description
            }
            try sink.drain(&worker.web)
            try sink.drain(&worker.calls)
            encoding = decoder.encoding ?? .plain
            size = reader.bytesRead
            decoded = decoder.decodedBytes
        } catch let error as InputError {
            failure = "io: \(error.path): \(error.message)"
        } catch let error as OutputError {
            failure = "io: \(error.path): \(error.message)"
        } catch {
            failure = "\(path): \(error)"
        }
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
            path: path, bytes: size, decodedBytes: decoded, sha256: digest.finalize().hexString, format: format,
            encoding: encoding.rawValue, linesRead: counts.read, linesParsed: counts.parsed,
            linesRejected: counts.rejected, linesBlank: counts.blank, rejectsByReason: byReason,
            rejectSamples: rejects.samples, error: failure, channel: channel.rawValue, formatReason: reason,
            linesHeader: counts.headers
        )
        return (input, personal, counts.optedOut)
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
