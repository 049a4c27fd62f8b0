import CrumbCore
import Crypto
import Foundation
import Synchronization

/// The input format a run is told to expect.
public enum InputFormat: String, Sendable, CaseIterable {
    case auto, combined, common

    var parserMode: CombinedLogParser.Mode {
        switch self {
        case .auto: .lenient
        case .combined: .combined
        case .common: .common
        }
    }
}

/// Everything `crumb run` needs, validated.
public struct RunConfiguration: Sendable {
    public var inputs: [String]
    public var outputDirectory: String
    public var format: InputFormat = .auto
    public var web = WebLogConfiguration()
    public var ipMode: IPMode = .truncate(ipv4Prefix: 24, ipv6Prefix: 48)
    public var keyring: Keyring
    public var maxLineLength = 64 * 1024
    public var writeSQLite = true
    public var writeCSV = false
    public var writeJSONLines = false
    /// Above this share of rejected lines the run exits 65 (outputs are still written and marked).
    public var maxRejectRatio = 0.05
    /// Files processed at once.
    public var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Non-blank lines looked at before giving up on an input none of whose lines parse.
    public var detectionLines = 100

    public init(inputs: [String], outputDirectory: String, keyring: Keyring) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.keyring = keyring
    }

    /// The privacy settings in effect, as canonical `key: value` pairs.
    public var policySettings: [String: String] {
        var settings: [String: String] = [
            "bucket": web.bucket.rawValue,
            "key_rotation": keyring.rotation.rawValue,
            "query_strings": "removed",
            "referrer": "host",
            "user_agent": "class,family,major,os,device",
            "visitor_cookies": web.visitorCookies.joined(separator: ","),
            "path_segments": "redact @ and 9+ digit runs",
        ]
        switch ipMode {
        case .drop: settings["ip"] = "drop"
        case .hash: settings["ip"] = "hash"
        case .truncate(let v4, let v6): settings["ip"] = "truncate /\(v4) /\(v6)"
        }
        return settings
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
/// read fault ends that input only, after everything decoded before it has been counted.
public enum BatchRunner {
    public static func run(_ configuration: RunConfiguration) throws -> RunReport {
        let started = Date()
        let clock = ContinuousClock()
        let startInstant = clock.now
        let files = try InputExpansion.expand(configuration.inputs)
        // Validates the IP mode against the key before any work.
        // An ephemeral keyring is no key: `hash` is refused without one.
        let anonymizer = try IPAnonymizer(mode: configuration.ipMode, keyring: configuration.keyring.isEphemeral ? nil : configuration.keyring)
        var web = configuration.web
        if case .drop = configuration.ipMode { web.addressIdentifiesVisitor = false }
        web.parserMode = configuration.format.parserMode
        let webConfiguration = web

        let results = Mutex<[(index: Int, input: Manifest.Input)]>([])
        let processors = Mutex<[WebLogProcessor]>([])
        let nextFile = Atomic<Int>(0)
        let workers = min(configuration.jobs, max(files.count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var processor = WebLogProcessor(configuration: webConfiguration, keyring: configuration.keyring, anonymizer: anonymizer)
            while true {
                let index = nextFile.add(1, ordering: .relaxed).oldValue
                guard index < files.count else { break }
                let input = process(file: files[index], with: &processor, configuration: configuration)
                results.withLock { $0.append((index, input)) }
            }
            processors.withLock { $0.append(processor) }
        }
        let processEnd = clock.now

        var merged = processors.withLock { list in list.removeFirst() }
        for other in processors.withLock({ $0 }) { merged.mergeTrends(other) }
        let inputs = results.withLock { $0 }.sorted { $0.index < $1.index }.map(\.input)

        var totals = Manifest.Totals(inputs: inputs.count, bytes: 0, decodedBytes: 0, linesRead: 0, linesParsed: 0, linesRejected: 0,
                                     linesBlank: 0, rejectsByReason: [:], inputsWithErrors: 0)
        for input in inputs {
            totals.bytes += input.bytes
            totals.decodedBytes += input.decodedBytes
            totals.linesRead += input.linesRead
            totals.linesParsed += input.linesParsed
            totals.linesRejected += input.linesRejected
            totals.linesBlank += input.linesBlank
            for (reason, count) in input.rejectsByReason { totals.rejectsByReason[reason, default: 0] += count }
            if input.error != nil { totals.inputsWithErrors += 1 }
        }
        let considered = totals.linesParsed + totals.linesRejected
        let overRatio = considered > 0 && Double(totals.linesRejected) / Double(considered) > configuration.maxRejectRatio
        let hasIOErrors = inputs.contains { $0.error?.hasPrefix("io:") == true }
        let hasDataErrors = overRatio || totals.inputsWithErrors > 0

        let records = merged.aggregator.records()
        let settings = configuration.policySettings
        let canonical = settings.keys.sorted().map { "\($0): \(settings[$0]!)\n" }.joined()
        var manifest = Manifest(
            version: CrumbVersion.current, schema: CrumbVersion.schema, command: "run",
            policySHA256: SHA256.hash(data: Array(canonical.utf8)).hexString, policy: settings,
            keyFingerprint: configuration.keyring.fingerprint, keyEphemeral: configuration.keyring.isEphemeral,
            bucket: webConfiguration.bucket.rawValue, inputs: inputs, totals: totals, personalFoundByKind: [:],
            outputs: [], rows: ["web_trends": records.count], incomplete: hasDataErrors,
            timings: Manifest.Timings(startedAt: "", finishedAt: "", wallSeconds: 0,
                                      processSeconds: seconds(processEnd - startInstant), writeSeconds: 0)
        )
        try AtomicFile.createDirectory(configuration.outputDirectory)
        let directory = URL(fileURLWithPath: configuration.outputDirectory)
        var outputs: [String] = []
        if configuration.writeSQLite { outputs.append("crumb.db") }
        if configuration.writeCSV { outputs.append("web_trends.csv") }
        if configuration.writeJSONLines { outputs.append("web_trends.jsonl") }
        outputs.append("manifest.json")
        manifest.outputs = outputs
        manifest.timings.startedAt = CivilTime.iso8601(Int64(started.timeIntervalSince1970))

        let writeStart = clock.now
        // The manifest inside the database is the one of this run, written before the timings are final.
        let manifestText = String(decoding: try manifest.encoded(), as: UTF8.self)
        if configuration.writeSQLite {
            try TrendWriters.writeSQLite(records, meta: [
                ("schema", String(CrumbVersion.schema)), ("crumb_version", CrumbVersion.current),
                ("bucket", webConfiguration.bucket.rawValue), ("key_fingerprint", configuration.keyring.fingerprint),
                ("manifest", manifestText),
            ], to: directory.appendingPathComponent("crumb.db").path)
        }
        if configuration.writeCSV {
            try TrendWriters.writeCSV(records, to: directory.appendingPathComponent("web_trends.csv").path)
        }
        if configuration.writeJSONLines {
            try TrendWriters.writeJSONLines(records, to: directory.appendingPathComponent("web_trends.jsonl").path)
        }
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
    static func process(file path: String, with processor: inout WebLogProcessor, configuration: RunConfiguration) -> Manifest.Input {
        var framer = LineFramer(maxLineLength: configuration.maxLineLength)
        var digest = SHA256()
        var failure: String?
        var size: Int64 = 0
        var decoded: Int64 = 0
        var encoding = InputEncoding.plain
        var gaveUp = false
        do {
            let reader = try InputReader(path: path)
            defer { reader.close() }
            reader.observer = { digest.update(bufferPointer: $0) }
            let decoder = StreamDecoder(reader: reader)
            do {
                try decoder.forEachChunk { chunk in
                    framer.feed(chunk) { processor.process($0) }
                    if processor.counts.parsed == 0,
                       processor.counts.read - processor.counts.blank >= configuration.detectionLines {
                        throw UnrecognizedFormat()
                    }
                }
                framer.finish { processor.process($0) }
            } catch is UnrecognizedFormat {
                gaveUp = true
            } catch let error as DecodeError {
                // The line the fault cut is incomplete: it is neither parsed nor counted.
                _ = framer.discardPartialLine()
                failure = error.description
            }
            encoding = decoder.encoding ?? .plain
            size = reader.bytesRead
            decoded = decoder.decodedBytes
        } catch let error as InputError {
            failure = "io: \(error.path): \(error.message)"
        } catch {
            failure = "\(path): \(error)"
        }
        let (counts, rejects, combinedLines) = processor.finishInput()
        let format: String
        switch configuration.format {
        case .combined: format = "combined"
        case .common: format = "common"
        case .auto: format = combinedLines * 2 >= counts.parsed && counts.parsed > 0 ? "combined" : (counts.parsed > 0 ? "common" : "unknown")
        }
        if gaveUp {
            failure = "\(path): none of the first \(configuration.detectionLines) lines parse as \(configuration.format == .auto ? "combined or common" : configuration.format.rawValue); check the format (crumb reads Apache/nginx combined and common logs; see crumb run --help)"
        }
        var byReason: [String: Int] = [:]
        for (code, count) in rejects.counts { byReason[code.rawValue] = count }
        return Manifest.Input(
            path: path, bytes: size, decodedBytes: decoded, sha256: digest.finalize().hexString, format: format, encoding: encoding.rawValue,
            linesRead: counts.read, linesParsed: counts.parsed, linesRejected: counts.rejected, linesBlank: counts.blank,
            rejectsByReason: byReason, rejectSamples: rejects.samples, error: failure
        )
    }

    struct UnrecognizedFormat: Error {}

    static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hex.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Digest {
    var hexString: String { Array(self).hexString }
}
