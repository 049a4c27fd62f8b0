import Benchmark
import CrumbBenchmarkSupport
import CrumbCore

/// The privacy stages on their own, over the fields of 20,000 generated `combined` lines
/// (`Fixtures.fields`): the personal-data detectors as `WebLogProcessor` calls them (through
/// `RequestSanitizer`), the user-agent classifier, the IP anonymizers and the visitor hasher.
///
/// `_cold` runs start each pass with a new value (every cache empty: what the first minutes of a run cost);
/// `_warm` runs reuse one value warmed on the same data (every lookup a cache hit: the steady state, where
/// the target is zero allocations).
func registerPrivacyBenchmarks() {
    let count = Fixtures.fieldCount
    let policy = Policy.standard

    // MARK: Detectors

    Benchmark("detectPersonalData_scanTargets_20k", configuration: Settings.perItem(count),
              closure: { _ in
                  let detector = PersonalDataDetector(options: policy.detectorOptions)
                  var matches: [PersonalDataMatch] = []
                  matches.reserveCapacity(16)
                  var found = 0
                  for target in Fixtures.fields.targets {
                      matches.removeAll(keepingCapacity: true)
                      target.withUnsafeBytes { detector.scan($0, into: &matches) }
                      found += matches.count
                  }
                  blackHole(found)
              },
              setup: { _ = Fixtures.fields })

    let sanitizer = Shared(RequestSanitizer(detector: PersonalDataDetector(options: policy.detectorOptions), policy: policy))
    // The processor's buffers, kept between passes (three boxes: one box's fields cannot be passed `inout` together).
    let (path, query, campaign) = (Shared([UInt8]()), Shared([UInt8]()), Shared([UInt8]()))
    Benchmark("sanitizeRequestTargets_20k", configuration: Settings.perItem(count),
              closure: { _ in
                  var found = 0
                  for target in Fixtures.fields.targets {
                      target.withUnsafeBytes { target in
                          sanitizer.value.sanitize(target: target, path: &path.value, query: &query.value,
                                                   campaign: &campaign.value) { _ in found += 1 }
                      }
                  }
                  blackHole(found)
              },
              setup: { _ = Fixtures.fields })

    /// One field's values scanned one by one, the findings counted.
    func scanning(_ name: String, _ field: KeyPath<Fixtures.Fields, [[UInt8]]> & Sendable,
                  _ scan: @escaping @Sendable (UnsafeRawBufferPointer, (PersonalDataFinding) -> Void) -> Void) {
        Benchmark(name, configuration: Settings.perItem(count),
                  closure: { _ in
                      var found = 0
                      for value in Fixtures.fields[keyPath: field] {
                          value.withUnsafeBytes { scan($0) { _ in found += 1 } }
                      }
                      blackHole(found)
                  },
                  setup: { _ = Fixtures.fields })
    }
    scanning("scanReferrers_20k", \.referrers) { sanitizer.value.scanReferrer($0, found: $1) }
    let skipped = (policy.trackingCookies + [policy.optOutCookieName ?? ""]).map { Array($0.utf8) }
    scanning("scanCookies_20k", \.cookies) { sanitizer.value.scanCookies($0, skipping: skipped, found: $1) }
    scanning("scanUserAgents_20k", \.userAgents) {
        sanitizer.value.scanText($0, field: .userAgent, namedIfClean: false, found: $1)
    }

    Benchmark("classifyUserAgents_distinct", configuration: Settings.perItem(2_000),
              closure: { _ in
                  let classifier = UserAgentClassifier()
                  for agent in Fixtures.fields.distinctUserAgents {
                      agent.withUnsafeBytes { blackHole(classifier.classify($0)) }
                  }
              },
              setup: { _ = Fixtures.fields })

    // MARK: IP anonymizers

    for (name, mode) in [("truncate", IPMode.truncate(ipv4Prefix: 24, ipv6Prefix: 48)), ("hash", .hash),
                         ("prefixPreserving", .prefixPreserving)] {
        Benchmark("anonymizeIP_\(name)_cold_20k", configuration: Settings.perItem(count),
                  closure: { _ in
                      var anonymizer = try! IPAnonymizer(mode: mode, keyring: Fixtures.keyring)
                      let day = Fixtures.firstDay
                      for address in Fixtures.fields.clients { blackHole(anonymizer.anonymize(address, day: day)) }
                  },
                  setup: { _ = Fixtures.fields })

        let warm = Shared(try! IPAnonymizer(mode: mode, keyring: Fixtures.keyring))
        Benchmark("anonymizeIP_\(name)_warm_20k", configuration: Settings.perItem(count),
                  closure: { _ in
                      let day = Fixtures.firstDay
                      for address in Fixtures.fields.clients { blackHole(warm.value.anonymize(address, day: day)) }
                  },
                  setup: {
                      let day = Fixtures.firstDay
                      for address in Fixtures.fields.clients { _ = warm.value.anonymize(address, day: day) }
                  })
    }

    // MARK: Visitor ids

    Benchmark("visitorHash_cold_20k", configuration: Settings.perItem(count),
              closure: { _ in
                  var hasher = VisitorHasher(keyring: Fixtures.keyring)
                  let day = Fixtures.firstDay
                  for material in Fixtures.fields.visitorMaterial {
                      blackHole(material.withUnsafeBytes { hasher.visitor($0, day: day) })
                  }
              },
              setup: { _ = Fixtures.fields })

    let visitors = Shared(VisitorHasher(keyring: Fixtures.keyring))
    Benchmark("visitorHash_warm_20k", configuration: Settings.perItem(count),
              closure: { _ in
                  let day = Fixtures.firstDay
                  for material in Fixtures.fields.visitorMaterial {
                      blackHole(material.withUnsafeBytes { visitors.value.visitor($0, day: day) })
                  }
              },
              setup: {
                  let day = Fixtures.firstDay
                  for material in Fixtures.fields.visitorMaterial {
                      _ = material.withUnsafeBytes { visitors.value.visitor($0, day: day) }
                  }
              })
}
