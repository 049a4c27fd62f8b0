import Benchmark
import CrumbCore
import CrumbSamples
import Foundation

/// The data sets every suite reads, from crumb's own generator: made once per process, on first use (each
/// benchmark's `setup` touches what it reads, so that generating is never measured).
///
/// Sizes are part of the benchmarks' names and of the checked-in allocation thresholds: change one and
/// re-record the thresholds (`Benchmarks/README.md`).
package enum Fixtures {
    /// The keyring of every keyed benchmark: a fixed secret, so that runs compare.
    package static let keyring = try! Keyring(secret: Array(repeating: 42, count: 32))

    package static func webOptions(lines: Int, duration: Int64 = 3 * 86_400) -> AccessLogGenerator.Options {
        var options = AccessLogGenerator.Options()
        options.lines = lines
        options.duration = duration
        return options
    }

    // MARK: - Whole logs

    /// 200,000 `combined` lines over three days (with cookies, IPv6, planted personal data).
    package static let combined200k = AccessLogGenerator.generate(webOptions(lines: 200_000))
    /// 100,000 lines of each other web format, transcoded from the same generator.
    package static let w3c100k = SampleTranscoder.generate(webOptions(lines: 100_000), format: .w3c)
    package static let jsonBeacons100k = SampleTranscoder.generate(webOptions(lines: 100_000), format: .json)
    /// 100,000 Asterisk `cdr_csv` calls (one or two rows each) over 30 days.
    package static let asterisk100k: [UInt8] = {
        var options = CallRecordGenerator.Options()
        options.calls = 100_000
        options.duration = 30 * 86_400
        return CallRecordGenerator.generate(options).bytes
    }()

    // MARK: - Steady state

    /// The steady-state sets: 10,000 lines (rows) within six hours of one UTC day, so that replaying them
    /// crosses no key period (a new period empties the visitor and address caches) and opens no new
    /// time bucket.
    package static let steadyLines = 10_000
    package static let steadyCombined = AccessLogGenerator.generate(webOptions(lines: steadyLines, duration: 6 * 3_600))
    package static let steadyW3C = SampleTranscoder.generate(webOptions(lines: steadyLines, duration: 6 * 3_600), format: .w3c)
    package static let steadyJSONBeacons = SampleTranscoder.generate(webOptions(lines: steadyLines, duration: 6 * 3_600),
                                                                     format: .json)
    package static let steadyAsterisk: [UInt8] = {
        var options = CallRecordGenerator.Options()
        options.duration = 6 * 3_600
        options.calls = steadyLines
        // Calls are one or two rows: the first `steadyLines` rows.
        var generator = CallRecordGenerator(options: options)
        var bytes: [UInt8] = []
        while generator.rowCount < steadyLines { generator.appendCall(to: &bytes) }
        return Array(lines(of: bytes).prefix(steadyLines).joined())
    }()

    // MARK: - Field values

    /// The fields of the first 20,000 `combined` lines, each as its own byte array: what the detectors,
    /// anonymizers and hashers see from a real log.
    package static let fieldCount = 20_000
    package static let fields: Fields = Fields(Array(lines(of: combined200k).prefix(fieldCount)))

    package struct Fields: Sendable {
        package var targets: [[UInt8]] = []
        package var referrers: [[UInt8]] = []
        package var cookies: [[UInt8]] = []
        package var userAgents: [[UInt8]] = []
        package var distinctUserAgents: [[UInt8]] = []
        package var clients: [IPAddress] = []
        /// Visitor material as `WebLogProcessor` builds it without a tracking cookie: `a`, the address's
        /// 16 bytes, 0, the user agent.
        package var visitorMaterial: [[UInt8]] = []
        package var times: [Int64] = []
        package var statuses: [Int] = []
        package var sizes: [Int64] = []

        package init(_ lines: [[UInt8]]) {
            let parser = CombinedLogParser()
            var seenAgents = Set<[UInt8]>()
            for line in lines {
                line.withUnsafeBytes { line in
                    guard let event = try? parser.parse(UnsafeRawBufferPointer(rebasing: line.dropLast())) else { return }
                    func bytes(_ range: Range<Int>) -> [UInt8] { Array(line[range]) }
                    targets.append(bytes(event.target))
                    if let referrer = event.referrer { referrers.append(bytes(referrer)) }
                    if let cookie = event.cookie { cookies.append(bytes(cookie)) }
                    let agent = event.userAgent.map(bytes) ?? []
                    userAgents.append(agent)
                    if seenAgents.insert(agent).inserted { distinctUserAgents.append(agent) }
                    let address = IPAddress.parse(UnsafeRawBufferPointer(rebasing: line[event.client]))!
                    clients.append(address)
                    var material: [UInt8] = [UInt8(ascii: "a")]
                    withUnsafeBytes(of: address.high.bigEndian) { material.append(contentsOf: $0) }
                    withUnsafeBytes(of: address.low.bigEndian) { material.append(contentsOf: $0) }
                    material.append(0)
                    material.append(contentsOf: agent)
                    visitorMaterial.append(material)
                    times.append(event.time)
                    statuses.append(event.status)
                    sizes.append(event.bytes)
                }
            }
        }
    }

    /// The UTC day number of the field values' first line, for the keyed benchmarks.
    package static var firstDay: Int64 { CivilTime.dayNumber(of: fields.times[0]) }

    // MARK: - Helpers

    /// Each line of `bytes` with its "\n".
    package static func lines(of bytes: [UInt8]) -> [[UInt8]] {
        bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map { Array($0) + [10] }
    }
}

/// A value shared between a benchmark's setup and its measured closure (a warmed processor, a cache).
package final class Shared<Value>: @unchecked Sendable {
    package var value: Value

    package init(_ value: Value) {
        self.value = value
    }
}

/// The benchmarks' configurations.
///
/// Every benchmark has the same metrics: wall clock and throughput (passes over its data set per second; the
/// name says how big a pass is), `mallocCountTotal` and `instructions`; end-to-end ones add
/// `peakMemoryResident`. Only `mallocCountTotal` is compared against checked-in thresholds (`Thresholds/`):
/// allocation counts are exact and repeat from run to run, wall time on a shared 2-core machine does not,
/// and instruction counts need a hardware counter (`perf_event_open`) that a VM may not have: where it is
/// missing the metric is left out of the results.
///
/// `CRUMB_BENCH_CI=1` (set by `.ci/run`) keeps every data set as it is, so that the thresholds still apply,
/// and measures `mallocCountTotal` alone in 3 iterations instead of up to 20: a count is the same in each.
package enum Settings {
    package static let ci = ProcessInfo.processInfo.environment["CRUMB_BENCH_CI"] == "1"

    package static let metrics: [BenchmarkMetric] = ci
        ? [.mallocCountTotal] : [.wallClock, .throughput, .mallocCountTotal, .instructions]
    package static let endToEndMetrics: [BenchmarkMetric] = ci
        ? [.mallocCountTotal] : [.wallClock, .throughput, .mallocCountTotal, .instructions, .peakMemoryResident]

    /// A configuration whose `mallocCountTotal` may exceed its threshold by at most `tolerance` allocations
    /// per item of a pass (line, value, event, sketch): by default a tenth, so that one more allocation per
    /// item fails the check and run-to-run noise of a few allocations per pass (threads, the harness) does
    /// not. The steady-state passes, whose target is zero, allow a hundredth.
    package static func perItem(_ items: Int, tolerance: Double = 0.1,
                                metrics: [BenchmarkMetric] = Settings.metrics) -> Benchmark.Configuration {
        .init(
            metrics: metrics,
            warmupIterations: 1,
            maxDuration: .seconds(ci ? 60 : 10),
            maxIterations: ci ? 3 : 20,
            thresholds: [.mallocCountTotal: .init(absolute: [.p90: max(Int(Double(items) * tolerance), 2)])]
        )
    }
}
