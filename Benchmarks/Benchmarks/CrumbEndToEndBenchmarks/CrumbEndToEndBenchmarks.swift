import Benchmark
import CrumbBenchmarkSupport
import CrumbCore
import CrumbIO
import Foundation

/// A whole `crumb run` from a gzip file to written trends (SQLite), and the decoding it starts with.
///
/// A target of its own: it needs CrumbIO (GRDB, Yams, zlib), which the per-stage suites in
/// `CrumbBenchmarks` do not, so that `.ci/run` builds only what its allocation check runs.
let benchmarks: @Sendable () -> Void = {
    Benchmark("gzipCombined_toTrends_200kLines", configuration: Settings.perItem(200_000, metrics: Settings.endToEndMetrics),
              closure: { _ in
                  var configuration = RunConfiguration(inputs: [EndToEnd.gzipPath], outputDirectory: EndToEnd.directory + "/out",
                                                       keyring: Fixtures.keyring)
                  configuration.jobs = 1
                  // Without it every pass after the first finds the input counted and reads nothing.
                  configuration.force = true
                  blackHole(try! BatchRunner.run(configuration))
              },
              setup: { _ = EndToEnd.gzipPath })

    Benchmark("gzipDecode_only_200kLines", configuration: Settings.perItem(200_000, metrics: Settings.endToEndMetrics),
              closure: { _ in
                  let reader = try! InputReader(path: EndToEnd.gzipPath)
                  let decoder = StreamDecoder(reader: reader)
                  var total = 0
                  try! decoder.forEachChunk { total += $0.count }
                  reader.close()
                  blackHole(total)
              },
              setup: { _ = EndToEnd.gzipPath })
}

/// `Fixtures.combined200k` as a gzip file in a scratch directory.
enum EndToEnd {
    static let directory: String = {
        let directory = NSTemporaryDirectory() + "crumb-bench-\(getpid())"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }()
    static let gzipPath: String = {
        let path = directory + "/access.log.gz"
        try! AtomicFile.write(try! GzipWriter.compress(Fixtures.combined200k), to: path)
        return path
    }()
}
