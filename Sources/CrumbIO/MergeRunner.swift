import CrumbCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `crumb merge` combines and where it writes.
public struct MergeConfiguration: Sendable {
    /// Output directories of `crumb run` (shards, days, machines), or their `state.db` files.
    public var outputs: [String]
    public var outputDirectory: String
    public var writeSQLite = true
    public var writeCSV = false
    public var writeJSONLines = false
    /// Keep the rows below `min_count`, for a merge that will itself be merged.
    public var partial = false

    public init(outputs: [String], outputDirectory: String) {
        self.outputs = outputs
        self.outputDirectory = outputDirectory
    }
}

/// `crumb merge`: combines the states of several outputs into one, exactly as if their inputs had been run
/// together: counts add, visitor and caller sketches merge register by register, talk-time histograms bin by
/// bin, and k-anonymity is applied once, to the merged rows.
///
/// It refuses outputs that cannot be combined: counted under different keys (their visitor ids differ) or
/// policies or bucket sizes, without a key at all, or counting the same content twice.
public enum MergeRunner {
    public static func merge(_ configuration: MergeConfiguration) throws -> RunReport {
        let clock = ContinuousClock()
        let startInstant = clock.now
        let started = Date()
        guard !configuration.outputs.isEmpty else { throw RunRefusal("nothing to merge: name at least one output directory") }
        let target = URL(fileURLWithPath: configuration.outputDirectory).standardizedFileURL.path

        /// Each output as named, its state file, its state (without rows), and its directory (for the streamed
        /// outputs).
        var states: [(path: String, file: String, state: RunState, directory: String)] = []
        for output in configuration.outputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) else {
                throw RunRefusal("\(output): no such output directory")
            }
            let directory = isDirectory.boolValue ? output : (output as NSString).deletingLastPathComponent
            if URL(fileURLWithPath: directory).standardizedFileURL.path == target {
                throw RunRefusal("\(output): --out must be a directory other than the outputs merged")
            }
            // Only the ledger and meta: the rows are read bucket by bucket by the final passes.
            let path = isDirectory.boolValue ? output + "/" + RunState.fileName : output
            guard FileManager.default.fileExists(atPath: path) else {
                throw RunRefusal("\(output) has no \(RunState.fileName): crumb merge combines the state.db that crumb run writes in its output directory")
            }
            states.append((output, path, try RunState.load(path: path, rows: false), directory))
        }

        // Every state counted with a key, a lone one included: a state counted without one keeps no rows (nothing
        // could combine them with another's), so merging it would publish nothing.
        if let keyless = states.first(where: { $0.state.settings.keyEphemeral }) {
            throw RunRefusal("\(keyless.path) was counted without a key: its visitor ids are valid within its own run only, so it cannot be merged (run with --key-file)")
        }
        // The same settings everywhere, or the counts do not mean the same thing.
        let settings = states[0].state.settings
        for (path, _, state, _) in states.dropFirst() {
            if state.settings.bucket != settings.bucket {
                throw RunRefusal("\(path) has \(state.settings.bucket) buckets, \(states[0].path) has \(settings.bucket) buckets: merge outputs of the same bucket size")
            }
            if state.settings.keyFingerprint != settings.keyFingerprint {
                throw RunRefusal("\(path) was counted with key fingerprint \(state.settings.keyFingerprint), \(states[0].path) with \(settings.keyFingerprint): visitor ids under different keys cannot be combined")
            }
            if state.settings.policySHA256 != settings.policySHA256 {
                throw RunRefusal("\(path) and \(states[0].path) were counted under different policies (policy_sha256 \(state.settings.policySHA256.prefix(12))… and \(settings.policySHA256.prefix(12))…)")
            }
        }
        // Content counted in two outputs would be counted twice: the same head and a prefix digest in common.
        var byHead: [String: [(output: Int, entry: LedgerEntry)]] = [:]
        for (output, item) in states.enumerated() {
            for entry in item.state.ledger {
                let key = "\(entry.headLength):\(entry.headSHA256)"
                for other in byHead[key, default: []] where other.output != output {
                    let shared = Set(other.entry.checkpoints.map { "\($0.bytes):\($0.sha256)" })
                    if entry.checkpoints.contains(where: { shared.contains("\($0.bytes):\($0.sha256)") }) {
                        throw RunRefusal("\(entry.input.path) (in \(item.path)) and \(other.entry.input.path) (in \(states[other.output].path)) count the same content: merging them would count it twice")
                    }
                }
                byHead[key, default: []].append((output, entry))
            }
        }

        let bucket = TimeBucket(rawValue: settings.bucket) ?? .hour
        var merged = RunState(web: [], calls: [], ledger: [], settings: settings)
        var capped = CappedCounts()
        for (_, _, state, _) in states {
            capped.add(state.capped)
            merged.ledger += state.ledger
        }
        merged.capped = capped.unknown
        // The rows of every output, merged bucket by bucket (values past the cap in the merge itself count as
        // capped too). Where the cap could be reached, each output's values are taken in the order given, as
        // when the outputs were read one after the other.
        let minCount = configuration.partial ? 0 : settings.minCount
        let saved = states.map { SavedState(path: $0.file, $0.state) }
        let webPass = WebFinalPass(
            spill: nil, saved: saved, bucket: bucket, valueCap: settings.maxValues, minCount: minCount, capped: capped.web,
            savedValuesFirst: WebDimension.allCases.filter { dimension in
                savedValuesGoFirst(runValues: 0, savedValues: states.map { $0.state.valueCounts?[dimension.name] },
                                   cap: settings.maxValues)
            })
        let callPass = CallFinalPass(
            spill: nil, saved: saved, bucket: bucket, valueCap: settings.maxValues, minCount: minCount, capped: capped.calls,
            savedValuesFirst: CallDimension.allCases.filter { dimension in
                savedValuesGoFirst(runValues: 0, savedValues: states.map { $0.state.valueCounts?[dimension.stateName] },
                                   cap: settings.maxValues)
            })

        let directory = configuration.outputDirectory
        try AtomicFile.createDirectory(directory)
        let lock = try OutputLock(directory: directory)
        defer { lock.release() }
        OutputLock.removeLeftovers(in: directory)

        // The streamed outputs, joined in the order given under temporary names, put in place once the state
        // is committed: a merge that fails (a damaged row found by the final passes) leaves them as they were.
        let events = settings.policy["events"] == "true"
        let vault = settings.policy["vault"] == "true"
        var joined: [AtomicFile.Prepared] = []
        defer { for file in joined { file.discard() } }
        if events {
            let (file, bytes) = try concatenate(states.map { ($0.directory + "/events.jsonl", $0.state.eventsBytes) },
                                                to: directory + "/events.jsonl", mode: 0o644)
            joined.append(file)
            merged.eventsBytes = bytes
        }
        if vault {
            let (file, bytes) = try concatenate(states.map { ($0.directory + "/vault.jsonl", $0.state.vaultBytes) },
                                                to: directory + "/vault.jsonl", mode: 0o600)
            joined.append(file)
            merged.vaultBytes = bytes
        }

        var inputs: [Manifest.Input] = []
        var personal = PersonalTally()
        var optedOut = 0
        for entry in merged.ledger {
            var input = entry.input
            input.status = "merged"
            inputs.append(input)
            personal.add(entry.personal)
            optedOut += entry.optedOut
        }
        let totals = BatchRunner.totals(of: inputs, optedOut: optedOut)
        var manifest = Manifest(
            version: CrumbVersion.current, schema: CrumbVersion.schema, command: "merge",
            policySHA256: settings.policySHA256, policy: settings.policy,
            keyFingerprint: settings.keyFingerprint, keyEphemeral: settings.keyEphemeral,
            bucket: settings.bucket, inputs: inputs, totals: totals,
            personalFoundByKind: personal.byKind, personalFoundByField: personal.byField,
            linesWithPersonalData: personal.lines,
            outputs: [], rows: [:],
            incomplete: inputs.contains { $0.error != nil },
            timings: Manifest.Timings(startedAt: CivilTime.iso8601(Int64(started.timeIntervalSince1970)), finishedAt: "",
                                      wallSeconds: 0, processSeconds: BatchRunner.seconds(clock.now - startInstant), writeSeconds: 0)
        )
        manifest.partial = configuration.partial
        manifest.mergedFrom = configuration.outputs
        manifest.stateGeneration = merged.generation
        let writeStart = clock.now
        let hasCalls = inputs.contains { $0.channel == Channel.calls.rawValue }
        manifest = try BatchRunner.writeFinal(
            state: merged, manifest: manifest, webPass: webPass, callPass: callPass,
            publish: BatchRunner.PublishConfiguration(sqlite: configuration.writeSQLite, csv: configuration.writeCSV,
                                                      jsonLines: configuration.writeJSONLines, events: events, vault: vault,
                                                      keyFingerprint: settings.keyFingerprint),
            hasCalls: hasCalls, directory: directory, beforeCommit: { _ in },
            afterCommit: {
                for file in joined { try file.commit() }
                joined = []
            })
        let end = clock.now
        manifest.timings.writeSeconds = BatchRunner.seconds(end - writeStart)
        manifest.timings.wallSeconds = BatchRunner.seconds(end - startInstant)
        manifest.timings.finishedAt = CivilTime.iso8601(Int64(Date().timeIntervalSince1970))
        try AtomicFile.write(try manifest.encoded(), to: directory + "/manifest.json")
        return RunReport(manifest: manifest, outputDirectory: directory, hasDataErrors: false, hasIOErrors: false)
    }

    /// Joins the committed part of each source (its first `bytes` bytes; a missing file is empty) into a file
    /// prepared to replace `target`. Returns it and the joined length.
    static func concatenate(_ sources: [(path: String, bytes: Int64)], to target: String,
                            mode: mode_t) throws -> (AtomicFile.Prepared, Int64) {
        var total: Int64 = 0
        let prepared = try AtomicFile.prepare(target) { temporary in
            let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
            guard output >= 0 else { throw OutputError(path: target, message: String(cString: strerror(errno))) }
            defer { close(output) }
            fchmod(output, mode)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            for source in sources {
                let input = open(source.path, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { continue }
                defer { close(input) }
                var remaining = source.bytes
                while remaining > 0 {
                    let want = Int(min(Int64(buffer.count), remaining))
                    let got = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, want) }
                    if got < 0, errno == EINTR { continue }
                    guard got > 0 else { break }
                    try buffer.withUnsafeBytes { try writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<got]), path: target) }
                    remaining -= Int64(got)
                    total += Int64(got)
                }
            }
        }
        return (prepared, total)
    }
}
