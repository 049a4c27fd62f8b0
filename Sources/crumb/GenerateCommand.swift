import ArgumentParser
import CrumbCore
import CrumbIO
import CrumbSamples
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic, realistic combined access log (for samples, tests and benchmarks).",
        discussion: """
            The same options always give the same bytes. Personal data is planted in about 1–2% of lines \
            (test emails, phone and card numbers) unless --no-personal-data is given; it uses reserved test \
            values only.
            """
    )

    @Option(name: .shortAndLong, help: "Output file; - for standard output.")
    var output: String = "-"

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
        var bytes = AccessLogGenerator.generate(options)
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
