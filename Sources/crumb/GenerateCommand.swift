import ArgumentParser
import CrumbCore
import CrumbIO
import CrumbSamples
import Foundation

/// What `crumb generate` writes: the access log in one of its forms, or call detail records.
enum GeneratedFormat: String, CaseIterable, ExpressibleByArgument {
    case combined, w3c, json
    case asteriskCDR = "asterisk-cdr"
    case freeSWITCHCDR = "freeswitch-cdr"
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic, realistic log or call record file (for samples, tests and benchmarks).",
        discussion: """
            The same options always give the same bytes. Personal data is planted in about 1–2% of lines \
            (test emails, phone and card numbers) unless --no-personal-data is given; it uses reserved test \
            values only.

            --format w3c writes the same events as an IIS W3C extended log (its #Fields change half-way \
            through, as after a server restart); --format json writes them as JSON Lines beacons in crumb's \
            beacon shape, some with more planted values in fields the beacon mapping leaves unmapped. \
            --format asterisk-cdr and freeswitch-cdr write a contact centre's call detail records (Asterisk \
            Master.csv with uniqueid and userfield; FreeSWITCH's example template), one call per --lines, in \
            local time one hour ahead of UTC, with caller numbers and names, account codes, keypad input and \
            more planted.
            """
    )

    @Option(name: .shortAndLong, help: "Output file; - for standard output.")
    var output: String = "-"

    @Option(help: "Format: combined (Apache/nginx), w3c (IIS W3C extended), json (JSON Lines beacons), asterisk-cdr or freeswitch-cdr.")
    var format: GeneratedFormat = .combined

    @Option(help: "Number of lines.")
    var lines: Int = 10_000

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 1

    @Option(help: "First event, epoch seconds UTC (default 2026-01-01T00:00:00Z).")
    var start: Int64 = 1_767_225_600

    @Option(help: "Span of the events in hours.")
    var hours: Int64 = 72

    @Option(help: "Share of lines with a trailing Cookie field.")
    var cookieShare: Double = 0.5

    @Option(help: "Share of deliberately malformed lines.")
    var malformedShare: Double = 0

    @Flag(inversion: .prefixedNo, help: "Plant test personal data in some lines.")
    var personalData = true

    @Flag(help: "Compress the output with gzip.")
    var gzip = false

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("--lines must not be negative.") }
        guard hours > 0 else { throw ValidationError("--hours must be positive.") }
        guard (0...1).contains(cookieShare), (0...1).contains(malformedShare) else {
            throw ValidationError("shares must be between 0 and 1.")
        }
    }

    func run() throws {
        var options = AccessLogGenerator.Options()
        options.seed = seed
        options.start = start
        options.duration = hours * 3_600
        options.lines = lines
        options.cookieFieldShare = cookieShare
        options.malformedShare = malformedShare
        options.plantPersonalData = personalData
        var bytes: [UInt8]
        switch format {
        case .combined: bytes = SampleTranscoder.generate(options, format: .combined)
        case .w3c: bytes = SampleTranscoder.generate(options, format: .w3c)
        case .json: bytes = SampleTranscoder.generate(options, format: .json)
        case .asteriskCDR, .freeSWITCHCDR:
            var calls = CallRecordGenerator.Options()
            calls.seed = seed
            calls.start = start
            calls.duration = hours * 3_600
            calls.calls = lines
            calls.distinctCallers = max(1, lines * 3 / 4)
            calls.plantPersonalData = personalData
            calls.dialect = format == .asteriskCDR ? .asterisk([.uniqueID, .userField]) : .freeSWITCH
            bytes = CallRecordGenerator.generate(calls).bytes
        }
        if gzip {
            do {
                bytes = try GzipWriter.compress(bytes)
            } catch {
                printError("crumb: error: gzip failed (zlib status \(error.code))")
                throw ExitStatus.ioError
            }
        }
        if output == "-" {
            FileHandle.standardOutput.write(Data(bytes))
        } else {
            do {
                try AtomicFile.write(bytes, to: output)
            } catch {
                printError("crumb: error: \(error.path): \(error.message)")
                throw ExitStatus.ioError
            }
        }
    }
}
