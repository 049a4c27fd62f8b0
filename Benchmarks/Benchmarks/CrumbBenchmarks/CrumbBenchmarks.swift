import Benchmark
import CrumbCore
import CrumbIO
import CrumbSamples
import Foundation

/// End-to-end and per-stage benchmarks, named after their path. Allocation and instruction counts are the
/// stable figures; wall-clock ratios against zcat and GoAccess come from `scripts/compare.sh`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident, .instructions],
        maxDuration: .seconds(10), maxIterations: 20
    )

    var options = AccessLogGenerator.Options()
    options.lines = 200_000
    let plain = AccessLogGenerator.generate(options)
    let gzipped = try! GzipWriter.compress(plain)
    let directory = NSTemporaryDirectory() + "crumb-bench-\(getpid())"
    try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let gzipPath = directory + "/access.log.gz"
    let plainPath = directory + "/access.log"
    try! AtomicFile.write(gzipped, to: gzipPath)
    try! AtomicFile.write(plain, to: plainPath)
    let keyring = try! Keyring(secret: Array(repeating: 42, count: 32))

    Benchmark("parseCombined_200kLines", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let parser = CombinedLogParser()
        var framer = LineFramer()
        var parsed = 0
        for _ in benchmark.scaledIterations {
            plain.withUnsafeBytes { bytes in
                framer.feed(bytes) { frame in
                    if case .line(let line, _) = frame, (try? parser.parse(line)) != nil { parsed += 1 }
                }
            }
        }
        blackHole(parsed)
    }

    Benchmark("plainCombined_toAggregates") { _ in
        var processor = WebLogProcessor(
            configuration: WebLogConfiguration(), keyring: keyring,
            anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
        var framer = LineFramer()
        plain.withUnsafeBytes { bytes in framer.feed(bytes) { processor.process($0) } }
        framer.finish { processor.process($0) }
        blackHole(processor.aggregator.rowCount)
    }

    Benchmark("gzipCombined_toTrends") { _ in
        var configuration = RunConfiguration(inputs: [gzipPath], outputDirectory: directory + "/out", keyring: keyring)
        configuration.jobs = 1
        blackHole(try BatchRunner.run(configuration))
    }

    // The other formats, 100k lines each: parse only, then parse + classify + aggregate.
    options.lines = 100_000
    let w3c = SampleTranscoder.generate(options, format: .w3c)
    let beacons = SampleTranscoder.generate(options, format: .json)
    var calls = CallRecordGenerator.Options()
    calls.calls = 100_000
    calls.duration = 30 * 86_400
    let asterisk = CallRecordGenerator.generate(calls).bytes

    func parseAll(_ bytes: [UInt8], _ parser: inout some WebLineParser) -> Int {
        var framer = LineFramer()
        var decoded: [UInt8] = []
        var parsed = 0
        bytes.withUnsafeBytes { all in
            framer.feed(all) { frame in
                if case .line(let line, _) = frame, !line.isEmpty,
                   (try? parser.parse(line, decoded: &decoded)) != nil { parsed += 1 }
            }
        }
        return parsed
    }
    Benchmark("parseW3C_100kLines", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = W3CExtendedParser()
            blackHole(parseAll(w3c, &parser))
        }
    }
    Benchmark("parseJSONBeacon_100kLines", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
            blackHole(parseAll(beacons, &parser))
        }
    }
    Benchmark("parseAsteriskCDR_100kRows", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = AsteriskCDRParser()
            var framer = LineFramer()
            var decoded: [UInt8] = []
            var parsed = 0
            asterisk.withUnsafeBytes { all in
                framer.feed(all) { frame in
                    if case .line(let line, _) = frame, (try? parser.parse(line, decoded: &decoded)) != nil { parsed += 1 }
                }
            }
            blackHole(parsed)
        }
    }
    for (name, bytes, parser) in [("w3c", w3c, W3CExtendedParser() as any WebLineParser),
                                  ("jsonBeacon", beacons, JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!))] {
        Benchmark("plain_\(name)_toAggregates") { _ in
            var processor = WebLogProcessor(
                configuration: WebLogConfiguration(), keyring: keyring,
                anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
            processor.startInput(parser: parser)
            var framer = LineFramer()
            bytes.withUnsafeBytes { all in framer.feed(all) { processor.process($0) } }
            framer.finish { processor.process($0) }
            blackHole(processor.aggregator.rowCount)
        }
    }
    Benchmark("plainAsteriskCDR_toAggregates") { _ in
        var processor = CallLogProcessor(configuration: CallLogConfiguration(), keyring: keyring)
        var framer = LineFramer()
        asterisk.withUnsafeBytes { all in framer.feed(all) { processor.process($0) } }
        framer.finish { processor.process($0) }
        blackHole(processor.aggregator.rowCount)
    }

    Benchmark("gzipDecode_only") { _ in
        let reader = try InputReader(path: gzipPath)
        let decoder = StreamDecoder(reader: reader)
        var total = 0
        try decoder.forEachChunk { total += $0.count }
        reader.close()
        blackHole(total)
    }
}
