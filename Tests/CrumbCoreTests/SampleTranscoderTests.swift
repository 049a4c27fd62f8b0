import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

@Suite("SampleTranscoder")
struct SampleTranscoderTests {
    static let options: AccessLogGenerator.Options = {
        var options = AccessLogGenerator.Options()
        options.lines = 12_000
        options.seed = 5
        options.distinctClients = 4_000
        options.distinctPaths = 3_000
        options.distinctUserAgents = 900
        return options
    }()
    static let combined = AccessLogGenerator.generate(options)
    static let w3c = SampleTranscoder.generate(options, format: .w3c)
    static let json = SampleTranscoder.generate(options, format: .json)
    fileprivate static let sourceReadings = TranscodedReading.all(of: combined, with: CombinedLogParser(mode: .combined))
    static let siteHost = Array(SampleTranscoder.siteHost.utf8)

    @Test("same options give the same bytes; streaming and generate agree; other seeds differ; combined is the generator's")
    func determinism() {
        #expect(SampleTranscoder.generate(Self.options, format: .w3c) == Self.w3c)
        #expect(SampleTranscoder.generate(Self.options, format: .json) == Self.json)
        #expect(SampleTranscoder.generate(Self.options, format: .combined) == Self.combined)

        for format in [SampleTranscoder.Format.w3c, .json] {
            var transcoder = SampleTranscoder(options: .init(format: format, generator: Self.options))
            var streamed = [UInt8]()
            for line in LogLines.split(Self.combined) {
                line.withUnsafeBytes { transcoder.append(combinedLine: $0, to: &streamed) }
            }
            #expect(streamed == (format == .w3c ? Self.w3c : Self.json), "\(format)")
        }

        var other = Self.options
        other.seed = 6
        #expect(SampleTranscoder.generate(other, format: .w3c) != Self.w3c)
        #expect(SampleTranscoder.generate(other, format: .json) != Self.json)
        #expect(SampleTranscoder.generate(AccessLogGenerator.Options.transcoderTest(lines: 0), format: .w3c).isEmpty)
    }

    @Test("every W3C line parses: 8 directives, no rejects, the source's events; the field set changes half-way")
    func w3cLinesParse() throws {
        let readings = TranscodedReading.all(of: Self.w3c, with: W3CExtendedParser())
        #expect(readings.filter { $0.kind == .header }.count == 8)
        let rejects = readings.filter { if case .reject = $0.kind { return true } else { return false } }
        #expect(rejects.isEmpty, "\(rejects.prefix(3))")
        let events = readings.filter { $0.kind == .event }
        try #require(events.count == Self.options.lines)
        try #require(Self.sourceReadings.allSatisfy { $0.kind == .event })

        // The second #Fields comes right before the source's middle line.
        let lines = LogLines.split(Self.w3c)
        let fields = lines.indices.filter { lines[$0].starts(with: "#Fields:".utf8) }
        #expect(fields == [3, Self.options.lines / 2 + 7], "4 directives, half the lines, 4 more directives")
        #expect(String(decoding: lines[fields[0]], as: UTF8.self) == "#Fields: " + SampleTranscoder.w3cFields)
        #expect(String(decoding: lines[fields[1]], as: UTF8.self) == "#Fields: " + SampleTranscoder.w3cFieldsAfterRestart)
        #expect(lines.first == Array("#Software: Microsoft Internet Information Services 10.0".utf8))
        #expect(lines[2].starts(with: "#Date: 2026-01-01 00:".utf8))

        var mismatches = 0
        for (index, (event, source)) in zip(events, Self.sourceReadings).enumerated() {
            let restarted = index >= Self.options.lines / 2
            let expected = TranscodedReading(
                kind: .event, time: source.time, status: source.status, bytes: source.bytes, client: source.client,
                remoteUser: source.remoteUser, method: source.method, target: TranscoderExpect.w3cTarget(source.target),
                userAgent: TranscoderExpect.w3cHeader(source.userAgent), referrer: TranscoderExpect.w3cPlain(source.referrer),
                cookie: restarted ? nil : TranscoderExpect.w3cHeader(source.cookie), host: restarted ? Self.siteHost : nil)
            var actual = event
            actual.duration = nil
            if actual != expected {
                mismatches += 1
                if mismatches <= 3 { Issue.record("line \(index): \(actual) ≠ \(expected)") }
            }
            #expect(event.duration.map { $0 >= 1_000 && $0 % 1_000 == 0 } == true)
        }
        #expect(mismatches == 0)
    }

    @Test("every JSON line parses with the beacon mapping, with the source's time, target, user agent and client")
    func jsonLinesParse() throws {
        let mapping = try #require(JSONFieldMapping.preset(named: "beacon"))
        let readings = TranscodedReading.all(of: Self.json, with: JSONLineParser(mapping: mapping))
        try #require(readings.count == Self.options.lines)
        let events = readings.filter { $0.kind == .event }
        #expect(events.count == readings.count, "\(readings.first { $0.kind != .event }.map(String.init(describing:)) ?? "")")
        let names: Set<String> = ["page_view", "click", "scroll", "share", "search", "add_to_cart", "purchase", "form_submit"]
        var seenNames = Set<String>()
        var mismatches = 0
        var plantedURLs = 0
        for (index, (event, source)) in zip(events, Self.sourceReadings).enumerated() {
            let optOut = source.cookie.map { String(decoding: $0, as: UTF8.self).contains("optout=1") } ?? false
            var actual = event
            actual.unmapped = []
            actual.eventName = nil
            let expected = TranscodedReading(
                kind: .event, time: source.time, client: source.client, target: TranscoderExpect.jsonTarget(source.target),
                userAgent: source.userAgent, referrer: source.referrer, host: Self.siteHost, gpc: optOut)
            if TranscoderExpect.isPlanted(actual.target, on: expected.target) {
                plantedURLs += 1
                actual.target = expected.target
            }
            if actual != expected {
                mismatches += 1
                if mismatches <= 3 { Issue.record("line \(index): \(actual) ≠ \(expected)") }
            }
            let name = String(decoding: event.eventName ?? [], as: UTF8.self)
            seenNames.insert(name)
            #expect(names.contains(name))
            let keys = event.unmapped.map { $0.prefix { $0 != "=" } }
            #expect(Array(keys.prefix(6)) == ["visitor", "session", "screen", "lang", "plan", "title"]
                || Array(keys.prefix(7)) == ["visitor", "session", "user_id", "screen", "lang", "plan", "title"])
            let hasUser = source.remoteUser != Array("-".utf8)
            #expect(keys.contains("user_id") == hasUser)
            if hasUser { #expect(event.unmapped.contains("user_id=" + String(decoding: source.remoteUser, as: UTF8.self))) }
        }
        #expect(mismatches == 0)
        #expect(plantedURLs > 20 && plantedURLs < Self.options.lines / 100, "\(plantedURLs) urls with a planted parameter")
        #expect(seenNames == names)
        // Sessions and visitors are stable per client.
        let visitors = Dictionary(grouping: events, by: \.client).mapValues { Set($0.map { $0.unmapped[0] }) }
        #expect(visitors.values.allSatisfy { $0.count == 1 })
    }

    @Test("W3C and JSON output read the same whole, byte by byte and in random chunks",
          arguments: [SampleTranscoder.Format.w3c, .json])
    func chunking(format: SampleTranscoder.Format) throws {
        var options = Self.options
        options.lines = 1_500
        options.malformedShare = 0.05
        let bytes = SampleTranscoder.generate(options, format: format)
        func read(_ split: TranscodedReading.Split) throws -> [TranscodedReading] {
            if format == .w3c { return TranscodedReading.all(of: bytes, with: W3CExtendedParser(), split: split) }
            return TranscodedReading.all(of: bytes, with: JSONLineParser(mapping: try #require(JSONFieldMapping.preset(named: "beacon"))), split: split)
        }
        let whole = try read(.whole)
        #expect(whole.filter { $0.kind == .event }.count > 1_300)
        #expect(try read(.bytes) == whole)
        #expect(try read(.random(seed: 11)) == whole)
        #expect(try read(.random(seed: 12)) == whole)
    }

    @Test(
        "awkward user agents survive: escapes, quotes, control bytes, non-ASCII and non-UTF-8",
        arguments: [
            // (as the combined line writes it, what the beacon reads back, what the W3C log reads back)
            (#"Mozilla/5.0 (X11; Linux x86_64)"#, "Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)"),
            (#"say \"hi\" now"#, #"say "hi" now"#, #"say "hi" now"#),
            (#"\"quoted\" agent"#, #""quoted" agent"#, #"%22quoted" agent"#),
            (#"back\\slash \\"#, #"back\slash \"#, #"back\slash \"#),
            (#"tab\there\x01\x1f"#, "tab\there\u{01}\u{1F}", "tab%09here%01%1F"),
            (#"line\nbreak\r"#, "line\nbreak\r", "line%0Abreak%0D"),
            (#"del\x7f"#, "del\u{7F}", "del%7F"),
            ("Zo\u{EB} \u{2615} \u{1D11E}", "Zo\u{EB} \u{2615} \u{1D11E}", "Zo\u{EB} \u{2615} \u{1D11E}"),
            (#"caf\xc3\xa9"#, "caf\u{E9}", "caf\u{E9}"),
            (#"bot (+http://bot.example/)"#, "bot (+http://bot.example/)", "bot ( http://bot.example/)"),
            (#"-"#, "", ""),
        ] as [(String, String, String)])
    func userAgentEscaping(written: String, beacon: String, iis: String) throws {
        let line = Array(#"203.0.113.9 - - [01/Jan/2026:10:00:00 +0100] "GET /p?q=1 HTTP/1.1" 200 12 "-" ""#.utf8)
            + Array(written.utf8) + [0x22]
        let (w3cEvent, jsonEvent) = try Self.transcodeOne(line)
        #expect(jsonEvent.userAgent == (beacon.isEmpty ? nil : Array(beacon.utf8)))
        #expect(w3cEvent.userAgent == (iis.isEmpty ? nil : Array(iis.utf8)))
        #expect(jsonEvent.time == 1_767_258_000 && w3cEvent.time == 1_767_258_000)
        #expect(jsonEvent.target == Array("/p?q=1".utf8) && w3cEvent.target == Array("/p?q=1".utf8))
    }

    @Test("non-UTF-8 bytes: copied into the W3C log, U+FFFD in the beacon")
    func nonUTF8() throws {
        let line = Array(#"203.0.113.9 - - [01/Jan/2026:10:00:00 +0000] "GET /caf"#.utf8) + [0xE9]
            + Array(#" HTTP/1.1" 200 12 "https://ex.test/\#u{E9}" "agent "#.utf8) + [0xFF, 0xC3] + Array(#"""#.utf8)
        let (w3cEvent, jsonEvent) = try Self.transcodeOne(line)
        #expect(w3cEvent.target == Array("/caf".utf8) + [0xE9])
        #expect(w3cEvent.userAgent == Array("agent ".utf8) + [0xFF, 0xC3])
        #expect(jsonEvent.target == Array("/caf\u{FFFD}".utf8))
        #expect(jsonEvent.userAgent == Array("agent \u{FFFD}\u{FFFD}".utf8))
        #expect(jsonEvent.referrer == Array("https://ex.test/\u{E9}".utf8))
    }

    @Test(
        "targets, users, referrers and cookies as each format carries them",
        arguments: [
            // (request, user, referrer, cookie, W3C target, beacon target, W3C referrer, W3C cookie)
            ("GET /a?b=1&c=%20 HTTP/1.1", "-", "-", nil, "/a?b=1&c=%20", "/a?b=1&c=%20", nil, nil),
            ("GET /a? HTTP/1.1", "-", "-", nil, "/a", "/a?", nil, nil),
            (#"GET /a\x20b?q=x\x20y HTTP/1.1"#, "-", "-", nil, "/a%20b?q=x%20y", "/a b?q=x y", nil, nil),
            ("OPTIONS * HTTP/1.1", "-", "-", nil, "*", "*", nil, nil),
            ("GET /x#frag HTTP/1.1", "-", "-", nil, "/x#frag", "/x", nil, nil),
            ("\\x16\\x03\\x01", "-", "-", nil, nil, nil, nil, nil),
            ("GET /u HTTP/1.1", "\"jane doe\"", "https://r.test/a b", "a=1; b=x+y", "/u", "/u", "https://r.test/a+b", "a=1; b=x y"),
            ("GET /u HTTP/1.1", "wrenfield7", "-", "visitor_id=v-1; optout=1", "/u", "/u", nil, "visitor_id=v-1; optout=1"),
        ] as [(String, String, String, String?, String?, String?, String?, String?)])
    func fieldsByFormat(request: String, user: String, referrer: String, cookie: String?, w3cTarget: String?,
                        beaconTarget: String?, w3cReferrer: String?, w3cCookie: String?) throws {
        var text = #"198.51.100.7 - \#(user) [01/Jan/2026:10:00:00 +0000] "\#(request)" 200 12 "\#(referrer)" "UA""#
        if let cookie { text += #" "\#(cookie)""# }
        let (w3cEvent, jsonEvent) = try Self.transcodeOne(Array(text.utf8))
        #expect(w3cEvent.target == w3cTarget.map { Array($0.utf8) })
        #expect(jsonEvent.target == beaconTarget.map { Array($0.utf8) })
        #expect(w3cEvent.referrer == w3cReferrer.map { Array($0.utf8) })
        #expect(w3cEvent.cookie == w3cCookie.map { Array($0.utf8) })
        let unquotedUser = user.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        #expect(w3cEvent.remoteUser == Array(unquotedUser.replacingOccurrences(of: " ", with: "+").utf8))
        #expect(jsonEvent.unmapped.contains("user_id=" + unquotedUser) == (user != "-"))
        #expect(jsonEvent.referrer == (referrer == "-" ? nil : Array(referrer.utf8)))
        #expect(jsonEvent.gpc == (cookie?.contains("optout=1") ?? false))
        #expect(jsonEvent.host == Self.siteHost || beaconTarget == nil || beaconTarget == "*")
    }

    @Test("a line that is not combined passes through, and stays a reject in either format",
          arguments: ["garbage here", "#Fields: date", "1.2.3.4 - - [01/Jan/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200"])
    func passThrough(line: String) throws {
        for format in [SampleTranscoder.Format.w3c, .json] {
            var transcoder = SampleTranscoder(options: .init(format: format, generator: .transcoderTest(lines: 10)))
            var output = [UInt8]()
            let good = Array(#"1.2.3.4 - - [01/Jan/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "UA""#.utf8)
            good.withUnsafeBytes { transcoder.append(combinedLine: $0, to: &output) }
            Array(line.utf8).withUnsafeBytes { transcoder.append(combinedLine: $0, to: &output) }
            let written = LogLines.split(output).last ?? []
            let expected = line.hasPrefix("#") && format == .w3c ? "?" + line.dropFirst() : line
            #expect(written == Array(expected.utf8))
            let readings = format == .w3c
                ? TranscodedReading.all(of: output, with: W3CExtendedParser())
                : TranscodedReading.all(of: output, with: JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!))
            #expect(readings.filter { $0.kind == .event }.count == 1)
            #expect(readings.last.map { if case .reject = $0.kind { true } else { false } } == true, "\(format)")
        }
    }

    @Test("malformed source lines are the only rejects, the same ones in both formats", arguments: [0.02, 0.1])
    func malformedLines(share: Double) {
        var options = Self.options
        options.lines = 6_000
        options.malformedShare = share
        let sourceRejects = TranscodedReading.all(of: AccessLogGenerator.generate(options), with: CombinedLogParser(mode: .combined))
            .filter { $0.kind != .event }.count
        #expect(Double(sourceRejects) > Double(options.lines) * share * 0.6)
        #expect(Double(sourceRejects) < Double(options.lines) * share * 1.4)
        let w3c = TranscodedReading.all(of: SampleTranscoder.generate(options, format: .w3c), with: W3CExtendedParser())
        let json = TranscodedReading.all(of: SampleTranscoder.generate(options, format: .json),
                               with: JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!))
        func rejects(_ readings: [TranscodedReading]) -> Int {
            readings.filter { if case .reject = $0.kind { true } else { false } }.count
        }
        #expect(rejects(w3c) == sourceRejects)
        #expect(rejects(json) == sourceRejects)
        #expect(w3c.filter { $0.kind == .event }.count == options.lines - sourceRejects)
        #expect(json.count == options.lines)
    }

    // MARK: - Helpers

    /// The event that one combined line becomes in W3C and in JSON, read back by their parsers.
    fileprivate static func transcodeOne(_ line: [UInt8]) throws -> (w3c: TranscodedReading, json: TranscodedReading) {
        var results: [TranscodedReading] = []
        for format in [SampleTranscoder.Format.w3c, .json] {
            var transcoder = SampleTranscoder(options: .init(format: format, generator: .transcoderTest(lines: 1)))
            var output = [UInt8]()
            line.withUnsafeBytes { transcoder.append(combinedLine: $0, to: &output) }
            let readings = format == .w3c
                ? TranscodedReading.all(of: output, with: W3CExtendedParser())
                : TranscodedReading.all(of: output, with: JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!))
            let events = readings.filter { $0.kind != .header }
            try #require(events.count == 1 && events[0].kind == .event,
                         "\(format): \(String(decoding: output, as: UTF8.self)) → \(readings)")
            results.append(events[0])
        }
        return (results[0], results[1])
    }
}

@Suite("SampleTranscoder planting")
struct SampleTranscoderPlantingTests {
    static let checker = PrivacyChecker(catalog: SampleTranscoder.plantedCatalog)
    static let w3cPlanted = make(.w3c, planted: true)
    static let w3cUnplanted = make(.w3c, planted: false)
    static let jsonPlanted = make(.json, planted: true)
    static let jsonUnplanted = make(.json, planted: false)

    static func generate(_ format: SampleTranscoder.Format, planted: Bool) -> [UInt8] {
        switch (format, planted) {
        case (.w3c, true): w3cPlanted
        case (.w3c, false): w3cUnplanted
        case (.json, true): jsonPlanted
        default: jsonUnplanted
        }
    }

    static func make(_ format: SampleTranscoder.Format, planted: Bool) -> [UInt8] {
        var options = AccessLogGenerator.Options()
        options.lines = 50_000
        options.seed = 3
        options.distinctClients = 5_000
        options.distinctPaths = 4_000
        options.distinctUserAgents = 1_000
        options.plantPersonalData = planted
        return SampleTranscoder.generate(options, format: format)
    }

    @Test("every catalogue value appears in 50,000 lines of either format; none without planting",
          arguments: [SampleTranscoder.Format.w3c, .json])
    func everyValueIsPlanted(format: SampleTranscoder.Format) {
        let planted = Self.generate(format, planted: true)
        let findings = Self.checker.findings(in: planted)
        let missing = SampleTranscoder.plantedCatalog.filter { findings[$0] == nil }
        #expect(missing.isEmpty, "never planted: \(missing)")

        let unplanted = Self.generate(format, planted: false)
        #expect(Self.checker.findings(in: unplanted).isEmpty)

        // Planting changes only the planted lines, and each holds a value the checker finds.
        let plantedLines = LogLines.split(planted)
        let unplantedLines = LogLines.split(unplanted)
        #expect(plantedLines.count == unplantedLines.count)
        let changed = zip(plantedLines, unplantedLines).filter { $0 != $1 }.map(\.0)
        let share = Double(changed.count) / 50_000
        let expectedShare: ClosedRange<Double> = format == .json ? 0.025...0.035 : 0.012...0.018
        #expect(expectedShare.contains(share), "share \(share)")
        #expect(changed.allSatisfy { !Self.checker.findings(in: $0).isEmpty })
    }

    @Test("beacons carry planted values in props, a user object, free text and the url's query string")
    func beaconSites() throws {
        let lines = LogLines.split(Self.generate(.json, planted: true)).map { String(decoding: $0, as: UTF8.self) }
        let unplanted = LogLines.split(Self.generate(.json, planted: false)).map { String(decoding: $0, as: UTF8.self) }
        let own = zip(lines, unplanted).filter { $0 != $1 }.map(\.0)
        for marker in [#","user":{"name":""#, #","user":{"email":""#, #","user":{"phone":""#, #","user":{"username":""#,
                       #","message":""#, #"\n"#, "\u{2014}", #","email":""#, #","card_number":""#, #","iban":""#,
                       #","dob":""#, #","address":""#] {
            #expect(own.contains { $0.contains(marker) }, "no planted beacon contains \(marker)")
        }
        // Planted values in the url's query string (the source's and the beacon's own).
        let mapping = try #require(JSONFieldMapping.preset(named: "beacon"))
        let urls = TranscodedReading.all(of: Array((own.joined(separator: "\n") + "\n").utf8), with: JSONLineParser(mapping: mapping))
        let withQueryPlant = urls.filter { reading in
            guard let target = reading.target, let question = target.firstIndex(of: 0x3F) else { return false }
            return !Self.checker.findings(in: Array(target[question...])).isEmpty
        }
        #expect(withQueryPlant.count > 100, "\(withQueryPlant.count)")
    }
}

@Suite("SampleTranscoder on real logs")
struct SampleTranscoderRealDataTests {
    @Test("every line of the shared combined logs that parses comes back from W3C and JSON with its values",
          arguments: ["web/elastic-apache_logs.log", "web/hackers-access.log", "web/zanbil-short-access.log",
                      "web/lnav-shop_access_log.0", "web/lnav-bad_access_log.0", "web/omniture-access.log",
                      "web/dual-format-access.log"])
    func realLogs(relative: String) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let source = TranscodedReading.all(of: bytes, with: CombinedLogParser(mode: .combined))
        let sourceEvents = source.filter { $0.kind == .event }
        let raw = TranscodedReading.rawLines(of: bytes)
        #expect(raw.count == source.count)

        for format in [SampleTranscoder.Format.w3c, .json] {
            var transcoder = SampleTranscoder(options: .init(format: format, generator: .transcoderTest(lines: raw.count)))
            var output = [UInt8]()
            for line in raw { line.withUnsafeBytes { transcoder.append(combinedLine: $0, to: &output) } }
            let readings = format == .w3c
                ? TranscodedReading.all(of: output, with: W3CExtendedParser())
                : TranscodedReading.all(of: output, with: JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!))
            let events = readings.filter { $0.kind == .event }
            #expect(events.count == sourceEvents.count, "\(format)")
            var mismatches = 0
            for (event, original) in zip(events, sourceEvents) {
                var expected = TranscodedReading(kind: .event, time: original.time, client: original.client)
                var actual = TranscodedReading(kind: .event, time: event.time, client: event.client)
                if format == .w3c {
                    expected.status = original.status
                    actual.status = event.status
                    expected.target = TranscoderExpect.w3cTarget(original.target.map(TranscoderExpect.unescape))
                    actual.target = event.target
                    expected.userAgent = TranscoderExpect.w3cHeader(original.userAgent.map(TranscoderExpect.unescape))
                    actual.userAgent = event.userAgent
                    expected.referrer = TranscoderExpect.w3cPlain(original.referrer.map(TranscoderExpect.unescape))
                    actual.referrer = event.referrer
                } else {
                    expected.target = TranscoderExpect.utf8(TranscoderExpect.jsonTarget(original.target.map(TranscoderExpect.unescape)))
                    actual.target = TranscoderExpect.utf8(event.target)
                    if TranscoderExpect.isPlanted(actual.target, on: expected.target) { actual.target = expected.target }
                    expected.userAgent = TranscoderExpect.utf8(original.userAgent.map(TranscoderExpect.unescape))
                    actual.userAgent = TranscoderExpect.utf8(event.userAgent)
                    expected.referrer = TranscoderExpect.utf8(original.referrer.map(TranscoderExpect.unescape))
                    actual.referrer = TranscoderExpect.utf8(event.referrer)
                }
                if actual != expected {
                    mismatches += 1
                    if mismatches <= 3 { Issue.record("\(relative) \(format): \(actual) ≠ \(expected)") }
                }
            }
            #expect(mismatches == 0)
            print("\(relative) → \(format): \(events.count) events, \(source.count - sourceEvents.count) source lines not combined")
        }
    }
}

// MARK: - What a parser made of a line, in comparable form

private struct TranscodedReading: Equatable, Sendable, CustomStringConvertible {
    enum Kind: Equatable, Sendable {
        case header, event, tooLong
        case reject(RejectCode)
    }

    var kind: Kind
    var time: Int64 = 0
    var status = 0
    var bytes: Int64 = 0
    var client: [UInt8] = []
    var remoteUser: [UInt8] = []
    var method: [UInt8] = []
    /// nil when the request is not valid.
    var target: [UInt8]?
    var userAgent: [UInt8]?
    var referrer: [UInt8]?
    var cookie: [UInt8]?
    var host: [UInt8]?
    var eventName: [UInt8]?
    var gpc = false
    var duration: Int64?
    /// `name=value`, in order.
    var unmapped: [String] = []

    var description: String {
        func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self).debugDescription } ?? "nil" }
        return "\(kind) t=\(time) s=\(status) b=\(bytes) c=\(text(client)) u=\(text(remoteUser)) m=\(text(method)) "
            + "target=\(text(target)) ua=\(text(userAgent)) ref=\(text(referrer)) cookie=\(text(cookie)) "
            + "host=\(text(host)) gpc=\(gpc) unmapped=\(unmapped)"
    }

    init(kind: Kind, time: Int64 = 0, status: Int = 0, bytes: Int64 = 0, client: [UInt8] = [], remoteUser: [UInt8] = [],
         method: [UInt8] = [], target: [UInt8]? = nil, userAgent: [UInt8]? = nil, referrer: [UInt8]? = nil,
         cookie: [UInt8]? = nil, host: [UInt8]? = nil, gpc: Bool = false) {
        self.kind = kind
        self.time = time
        self.status = status
        self.bytes = bytes
        self.client = client
        self.remoteUser = remoteUser
        self.method = method
        self.target = target
        self.userAgent = userAgent
        self.referrer = referrer
        self.cookie = cookie
        self.host = host
        self.gpc = gpc
    }

    init(_ event: AccessLogEvent, in buffer: UnsafeRawBufferPointer) {
        func bytes(_ range: Range<Int>) -> [UInt8] { Array(buffer[range]) }
        kind = .event
        time = event.time
        status = event.status
        self.bytes = event.bytes
        client = bytes(event.client)
        remoteUser = bytes(event.remoteUser)
        method = bytes(event.method)
        target = event.requestIsValid ? bytes(event.target) : nil
        userAgent = event.userAgent.map(bytes)
        referrer = event.referrer.map(bytes)
        cookie = event.cookie.map(bytes)
        host = event.host.map(bytes)
        eventName = event.eventName.map(bytes)
        gpc = event.globalPrivacyControl
        duration = event.durationMicros
        unmapped = event.unmapped.map {
            String(decoding: bytes($0.name), as: UTF8.self) + "=" + String(decoding: bytes($0.value), as: UTF8.self)
        }
    }

    enum Split {
        case whole, bytes
        case random(seed: UInt64)
    }

    /// Frames `bytes` with `LineFramer`, fed in chunks as `split` says, and parses every line.
    static func all(of bytes: [UInt8], with parser: some WebLineParser, split: Split = .whole) -> [TranscodedReading] {
        var parser = parser
        var framer = LineFramer()
        var decoded: [UInt8] = []
        var readings: [TranscodedReading] = []
        var state: UInt64 = { if case .random(let seed) = split { return seed } else { return 0 } }()
        func handle(_ frame: LineFramer.Frame) {
            guard case .line(let line, _) = frame else {
                readings.append(TranscodedReading(kind: .tooLong))
                return
            }
            do {
                switch try parser.parse(line, decoded: &decoded) {
                case .header: readings.append(TranscodedReading(kind: .header))
                case .event(let event): readings.append(TranscodedReading(event, in: line))
                case .decodedEvent(let event): decoded.withUnsafeBytes { readings.append(TranscodedReading(event, in: $0)) }
                }
            } catch {
                readings.append(TranscodedReading(kind: .reject(error.code)))
            }
        }
        bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                var size: Int
                switch split {
                case .whole: size = all.count
                case .bytes: size = 1
                case .random:
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    size = 1 + Int((state >> 33) % 700)
                }
                size = min(size, all.count - offset)
                framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + size)]), handle)
                offset += size
            }
            framer.finish(handle)
        }
        return readings
    }

    /// The lines of `bytes` as `LineFramer` delivers them (no terminator, no CR).
    static func rawLines(of bytes: [UInt8]) -> [[UInt8]] {
        var framer = LineFramer()
        var lines: [[UInt8]] = []
        func handle(_ frame: LineFramer.Frame) {
            if case .line(let line, _) = frame { lines.append(Array(line)) } else { lines.append([]) }
        }
        bytes.withUnsafeBytes { framer.feed($0, handle) }
        framer.finish(handle)
        return lines
    }
}

// MARK: - What each format should read back, written out independently of the transcoder

private enum TranscoderExpect {
    /// Apache's and nginx's backslash escapes undone (`\"`, `\\`, `\xHH`, `\b`, `\n`, `\r`, `\t`, `\v`).
    static func unescape(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < raw.count {
            guard raw[i] == 0x5C, i + 1 < raw.count else {
                out.append(raw[i])
                i += 1
                continue
            }
            let next = raw[i + 1]
            let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x62: 0x08, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x76: 0x0B]
            if let byte = simple[next] {
                out.append(byte)
                i += 2
            } else if next == 0x78, i + 3 < raw.count, let high = ASCII.hexValue(raw[i + 2]), let low = ASCII.hexValue(raw[i + 3]) {
                out.append(high << 4 | low)
                i += 4
            } else {
                out += [raw[i], next]
                i += 2
            }
        }
        return out
    }

    /// `%XX` for control bytes, DEL and a leading `"`; spaces as `space`.
    static func w3cEncoded(_ value: [UInt8], space: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for (offset, byte) in value.enumerated() {
            if byte == 0x20 {
                out += space
            } else if byte < 0x20 || byte == 0x7F || (offset == 0 && byte == 0x22) {
                out += Array(String(format: "%%%02X", byte).utf8)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// A user agent or cookie: written with `+` for spaces, read back with every `+` a space.
    static func w3cHeader(_ value: [UInt8]?) -> [UInt8]? {
        guard let value, !value.isEmpty else { return nil }
        return w3cEncoded(value, space: [0x2B]).map { $0 == 0x2B ? 0x20 : $0 }
    }

    /// A referrer: written with `+` for spaces, read back as written.
    static func w3cPlain(_ value: [UInt8]?) -> [UInt8]? {
        guard let value, !value.isEmpty else { return nil }
        return w3cEncoded(value, space: [0x2B])
    }

    /// The target split at its first `?` into stem and query and joined again (an empty query is lost).
    static func w3cTarget(_ target: [UInt8]?) -> [UInt8]? {
        guard let target else { return nil }
        let question = target.firstIndex(of: 0x3F) ?? target.endIndex
        let stem = w3cEncoded(Array(target[..<question]), space: Array("%20".utf8))
        let query = w3cEncoded(Array(target[min(question + 1, target.endIndex)...]), space: Array("%20".utf8))
        guard !stem.isEmpty, stem != [0x2D] else { return nil }
        return query.isEmpty || query == [0x2D] ? stem : stem + [0x3F] + query
    }

    /// The beacon's url read back as a target: the fragment dropped; an absolute-form target's path.
    static func jsonTarget(_ target: [UInt8]?) -> [UInt8]? {
        guard var target, !target.isEmpty else { return nil }
        if let hash = target.firstIndex(of: 0x23) { target = Array(target[..<hash]) }
        guard let first = target.first, first != 0x2F, (0x41...0x5A).contains(first & ~0x20), let colon = target.firstIndex(of: 0x3A),
              target[colon...].starts(with: "://".utf8),
              target[..<colon].allSatisfy({ ASCII.isDigit($0) || (0x41...0x5A).contains($0 & ~0x20) || [0x2B, 0x2D, 0x2E].contains($0) })
        else { return target.isEmpty ? nil : target }
        let authority = colon + 3
        let end = target[authority...].firstIndex { $0 == 0x2F || $0 == 0x3F } ?? target.endIndex
        if end < target.endIndex, target[end] == 0x2F { return Array(target[end...]) }
        return [0x2F] + target[end...]
    }

    static let checker = PrivacyChecker(catalog: SampleTranscoder.plantedCatalog)

    /// Whether `actual` is `expected` with a planted query parameter appended (`?name=value` or `&name=value`).
    static func isPlanted(_ actual: [UInt8]?, on expected: [UInt8]?) -> Bool {
        guard let actual, let expected, actual.count > expected.count, actual.starts(with: expected) else { return false }
        let rest = Array(actual[expected.count...])
        return (rest.first == 0x3F || rest.first == 0x26) && !checker.findings(in: rest).isEmpty
    }

    /// Text as JSON carries it: ill-formed UTF-8 replaced by U+FFFD.
    static func utf8(_ bytes: [UInt8]?) -> [UInt8]? {
        bytes.map { Array(String(decoding: $0, as: UTF8.self).utf8) }
    }
}

private extension AccessLogGenerator.Options {
    static func transcoderTest(lines: Int) -> Self {
        var options = Self()
        options.lines = lines
        return options
    }
}
