import Benchmark
import CrumbBenchmarkSupport
import CrumbCore
import CrumbSamples

/// Each parser over a whole generated log, framed by `LineFramer` as the runners frame it: bytes in, events
/// out, nothing classified. One iteration is one pass over the log.
func registerParserBenchmarks() {
    Benchmark("parseCombined_200kLines", configuration: Settings.perItem(200_000),
              closure: { _ in
                  let parser = CombinedLogParser()
                  var framer = LineFramer()
                  var parsed = 0
                  Fixtures.combined200k.withUnsafeBytes { bytes in
                      framer.feed(bytes) { frame in
                          if case .line(let line, _) = frame, (try? parser.parse(line)) != nil { parsed += 1 }
                      }
                  }
                  blackHole(parsed)
              },
              setup: { _ = Fixtures.combined200k })

    Benchmark("parseW3C_100kLines", configuration: Settings.perItem(100_000),
              closure: { _ in
                  var parser = W3CExtendedParser()
                  blackHole(parseAll(Fixtures.w3c100k, &parser))
              },
              setup: { _ = Fixtures.w3c100k })

    Benchmark("parseJSONBeacon_100kLines", configuration: Settings.perItem(100_000),
              closure: { _ in
                  var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
                  blackHole(parseAll(Fixtures.jsonBeacons100k, &parser))
              },
              setup: { _ = Fixtures.jsonBeacons100k })

    Benchmark("parseAsteriskCDR_100kCalls", configuration: Settings.perItem(100_000),
              closure: { _ in
                  var parser = AsteriskCDRParser()
                  var framer = LineFramer()
                  var decoded: [UInt8] = []
                  var parsed = 0
                  Fixtures.asterisk100k.withUnsafeBytes { all in
                      framer.feed(all) { frame in
                          if case .line(let line, _) = frame, (try? parser.parse(line, decoded: &decoded)) != nil {
                              parsed += 1
                          }
                      }
                  }
                  blackHole(parsed)
              },
              setup: { _ = Fixtures.asterisk100k })
}

/// Parses every non-empty line of `bytes` with `parser`; returns how many parsed.
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
