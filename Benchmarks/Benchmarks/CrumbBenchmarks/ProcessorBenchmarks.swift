import Benchmark
import CrumbBenchmarkSupport
import CrumbCore
import CrumbSamples

/// The per-line hot path of `crumb run`: a processor (parse, classify, anonymize, aggregate) over a plain
/// log, under the standard policy.
///
/// - `plain…_toAggregates`: a new processor per pass, so caches and rows fill as in a run's first pass.
/// - `steadyState_…`: one processor, warmed on a 10,000-line set in `setup`, fed the same lines again in
///   every measured pass. Every user agent, visitor id, address, value and row is then cached, so whatever
///   `mallocCountTotal` counts is allocated per line in steady state: divided by 10,000 it is the figure
///   the issue asks to be zero.
func registerProcessorBenchmarks() {
    Benchmark("plainCombined_toAggregates_200kLines", configuration: Settings.perItem(200_000),
              closure: { _ in
                  var processor = makeWebProcessor()
                  processor.feed(Fixtures.combined200k)
                  blackHole(processor.aggregator.rowCount)
              },
              setup: { _ = Fixtures.combined200k })

    let webFormats: [(name: String, lines: @Sendable () -> [UInt8], parser: @Sendable () -> any WebLineParser)] = [
        ("W3C", { Fixtures.w3c100k }, { W3CExtendedParser() }),
        ("JSONBeacon", { Fixtures.jsonBeacons100k }, { JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!) }),
    ]
    for format in webFormats {
        Benchmark("plain\(format.name)_toAggregates_100kLines", configuration: Settings.perItem(100_000),
                  closure: { _ in
                      var processor = makeWebProcessor()
                      processor.startInput(parser: format.parser())
                      processor.feed(format.lines())
                      blackHole(processor.aggregator.rowCount)
                  },
                  setup: { _ = format.lines() })
    }

    Benchmark("plainAsteriskCDR_toAggregates_100kCalls", configuration: Settings.perItem(100_000),
              closure: { _ in
                  var processor = CallLogProcessor(configuration: CallLogConfiguration(), keyring: Fixtures.keyring)
                  processor.feed(Fixtures.asterisk100k)
                  blackHole(processor.aggregator.rowCount)
              },
              setup: { _ = Fixtures.asterisk100k })

    // MARK: Steady state

    let steadyWeb: [(name: String, lines: @Sendable () -> [UInt8], parser: @Sendable () -> any WebLineParser)] = [
        ("combined", { Fixtures.steadyCombined }, { CombinedLogParser() }),
        ("W3C", { Fixtures.steadyW3C }, { W3CExtendedParser() }),
        ("JSONBeacon", { Fixtures.steadyJSONBeacons }, { JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!) }),
    ]
    for format in steadyWeb {
        let processor = Shared<WebLogProcessor?>(nil)
        // The replayed lines: the set without its directives (W3C's `#Version:`, `#Fields:`), which the
        // parser read once while warming and which a log does not repeat.
        let events = Shared<[UInt8]>([])
        Benchmark("steadyState_\(format.name)_10kLines", configuration: Settings.perItem(Fixtures.steadyLines, tolerance: 0.01),
                  closure: { _ in
                      processor.value!.feed(events.value)
                      blackHole(processor.value!.counts.parsed)
                  },
                  setup: {
                      var warmed = makeWebProcessor()
                      warmed.startInput(parser: format.parser())
                      warmed.feed(format.lines())
                      events.value = Fixtures.lines(of: format.lines()).filter { $0.first != UInt8(ascii: "#") }
                          .flatMap { $0 }
                      // Twice: the first pass after the directives is already the steady state, but a cache
                      // that only fills on a second sighting would show up here and not in the runs.
                      warmed.feed(events.value)
                      precondition(warmed.counts.rejected == 0, "the steady-state set must parse")
                      processor.value = warmed
                  })
    }

    let calls = Shared<CallLogProcessor?>(nil)
    Benchmark("steadyState_asteriskCDR_10kRows", configuration: Settings.perItem(Fixtures.steadyLines, tolerance: 0.01),
              closure: { _ in
                  calls.value!.feed(Fixtures.steadyAsterisk)
                  blackHole(calls.value!.counts.parsed)
              },
              setup: {
                  var warmed = CallLogProcessor(configuration: CallLogConfiguration(), keyring: Fixtures.keyring)
                  warmed.feed(Fixtures.steadyAsterisk)
                  warmed.feed(Fixtures.steadyAsterisk)
                  precondition(warmed.counts.rejected == 0, "the steady-state set must parse")
                  calls.value = warmed
              })
}

/// A web processor as `crumb run` makes one by default: standard policy, addresses truncated to /24 and /48.
func makeWebProcessor() -> WebLogProcessor {
    WebLogProcessor(configuration: WebLogConfiguration(), keyring: Fixtures.keyring,
                    anonymizer: try! IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
}

extension WebLogProcessor {
    /// Frames `bytes` into lines and processes each, as a runner does with one input.
    mutating func feed(_ bytes: [UInt8]) {
        var framer = LineFramer()
        bytes.withUnsafeBytes { all in framer.feed(all) { process($0) } }
        framer.finish { process($0) }
    }
}

extension CallLogProcessor {
    /// Frames `bytes` into rows and processes each, as a runner does with one input.
    mutating func feed(_ bytes: [UInt8]) {
        var framer = LineFramer()
        bytes.withUnsafeBytes { all in framer.feed(all) { process($0) } }
        framer.finish { process($0) }
    }
}
