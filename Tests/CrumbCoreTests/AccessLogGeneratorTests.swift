import CrumbSamples
import CrumbTestSupport
import Foundation
import Testing

@Suite("AccessLogGenerator")
struct AccessLogGeneratorTests {
    @Test("same seed and options give identical bytes; appendLine and generate agree; other seeds differ")
    func determinism() {
        var options = AccessLogGenerator.Options()
        options.lines = 3_000
        let first = AccessLogGenerator.generate(options)
        let second = AccessLogGenerator.generate(options)
        #expect(first == second)

        var generator = AccessLogGenerator(options: options)
        var incremental = [UInt8]()
        for _ in 0..<options.lines { generator.appendLine(to: &incremental) }
        #expect(incremental == first)

        options.seed = 2
        #expect(AccessLogGenerator.generate(options) != first)
    }

    @Test("line count equals options.lines, every line ends with a newline", arguments: [0, 1, 7, 1_234])
    func lineCount(lines: Int) {
        var options = smallPoolOptions()
        options.lines = lines
        let log = AccessLogGenerator.generate(options)
        #expect(log.filter { $0 == 0x0A }.count == lines)
        #expect(log.last == (lines == 0 ? nil : 0x0A))
    }

    @Test("every default line is combined, optionally with one trailing quoted cookie field")
    func everyLineHasTheCombinedShape() {
        let lines = Fixture.defaultLines
        let failures = lines.filter { CombinedShape.parse($0) == nil }
        #expect(failures.isEmpty, "first bad line: \(failures.first.map { String(decoding: $0, as: UTF8.self) } ?? "")")
    }

    @Test("timestamps are non-decreasing in UTC and fall in [start, start + duration)")
    func timestampsAreOrderedAndInsideTheWindow() {
        let options = Fixture.defaultOptions
        let times = Fixture.defaultLines.compactMap { CombinedShape.parse($0)?.utc }
        #expect(times.count == options.lines)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(times.allSatisfy { $0 >= options.start && $0 < options.start + options.duration })
        // Spread over the window, not bunched at one end.
        #expect(times.first! < options.start + 3_600)
        #expect(times.last! >= options.start + options.duration - 3_600)
    }

    @Test(
        "the printed zone changes, the UTC instants do not",
        arguments: [
            (Int64(1_767_225_600), 60), (1_830_297_540, 330), (1_830_297_540, -480), (1_798_761_599, 840),
            (951_782_340, -60),
        ])
    func zonesMapToTheSameInstants(start: Int64, offsetMinutes: Int) {
        var options = AccessLogGenerator.Options()
        options.lines = 2_000
        options.start = start
        options.duration = 7_200
        options.distinctClients = 500
        options.distinctPaths = 300
        options.distinctUserAgents = 100
        options.utcOffsetMinutes = 0
        let utc = splitLines(of: AccessLogGenerator.generate(options)).map { CombinedShape.parse($0)?.utc }
        options.utcOffsetMinutes = offsetMinutes
        let zoned = splitLines(of: AccessLogGenerator.generate(options)).map { CombinedShape.parse($0) }
        #expect(zoned.allSatisfy { $0?.offsetMinutes == offsetMinutes })
        #expect(zoned.map { $0?.utc } == utc)
        #expect(utc.allSatisfy { $0 != nil && $0! >= start && $0! < start + 7_200 })
    }

    @Test("about cookieFieldShare of the lines carry a cookie, each with the client's stable visitor_id",
          arguments: [0.5, 0.2, 0.0, 1.0])
    func cookieShare(share: Double) {
        var options = smallPoolOptions()
        options.lines = 6_000
        options.cookieFieldShare = share
        let parsed = splitLines(of: AccessLogGenerator.generate(options)).compactMap(CombinedShape.parse)
        #expect(parsed.count == options.lines)
        let cookies = parsed.compactMap(\.cookie)
        #expect(abs(Double(cookies.count) / Double(parsed.count) - share) <= 0.03)

        var visitorByClient = [String: String]()
        for line in parsed {
            guard let cookie = line.cookie else { continue }
            let visitor = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix("visitor_id=v-") }
            #expect(visitor != nil, "cookie without visitor_id: \(cookie)")
            if let visitor, let known = visitorByClient.updateValue(visitor, forKey: line.client) {
                #expect(known == visitor)
            }
        }
        if share > 0 {
            #expect(parsed.contains { $0.cookie?.contains("optout=1") == true })
        }
    }

    @Test("about ipv6Share of the lines come from IPv6 clients, in full and compressed forms",
          arguments: [0.05, 0.2])
    func ipv6Share(share: Double) {
        var options = smallPoolOptions()
        options.lines = 10_000
        options.ipv6Share = share
        let clients = splitLines(of: AccessLogGenerator.generate(options)).compactMap { CombinedShape.parse($0)?.client }
        let ipv6 = clients.filter { $0.contains(":") }
        #expect(abs(Double(ipv6.count) / Double(clients.count) - share) <= 0.02)
        #expect(ipv6.contains { $0.contains("::") })
        #expect(ipv6.contains { !$0.contains("::") })
    }

    @Test("average line length with defaults is about 310 bytes (250...380)")
    func averageLineLength() {
        let lines = Fixture.defaultLines
        let average = Double(Fixture.defaultLog.count) / Double(lines.count)
        #expect(average >= 250 && average <= 380, "average \(average)")
    }

    @Test("distinct clients, paths and user agents stay within the configured pools")
    func distinctCountsAreBounded() {
        var options = AccessLogGenerator.Options()
        options.lines = 4_000
        options.distinctClients = 60
        options.distinctPaths = 40
        options.distinctUserAgents = 25
        options.plantPersonalData = false
        let parsed = splitLines(of: AccessLogGenerator.generate(options)).compactMap(CombinedShape.parse)
        #expect(parsed.count == options.lines)
        #expect(Set(parsed.map(\.client)).count <= 60)
        #expect(Set(parsed.map(\.target)).count <= 40)
        #expect(Set(parsed.map(\.userAgent)).count <= 25)
        // Zipf-like: the busiest client is far busier than the median one.
        let hits = Dictionary(grouping: parsed, by: { $0.client }).values.map(\.count).sorted()
        #expect(hits.last! > 4 * hits[hits.count / 2])
    }

    @Test("planted personal data appears when enabled")
    func plantedPersonalData() {
        let lines = Fixture.defaultLines
        let withEmail = lines.filter { $0.contains(0x40) || containsASCII($0, "%40") }
        let withCard = lines.filter { luhnValidRuns(in: $0, lengths: 16...16) > 0 }
        #expect(withEmail.count > 20)
        #expect(withCard.count > 5)
        let share = Double(lines.filter(CombinedShape.looksPersonal).count) / Double(lines.count)
        #expect(share > 0.005 && share < 0.03, "share \(share)")
        #expect(lines.contains { CombinedShape.parse($0)?.user.contains("@") == true })
    }

    @Test("no planted personal data when disabled: no @, no Luhn-valid 13–19 digit run")
    func noPersonalDataWhenDisabled() {
        var options = smallPoolOptions()
        options.lines = 12_000
        options.plantPersonalData = false
        let lines = splitLines(of: AccessLogGenerator.generate(options))
        #expect(!lines.contains { $0.contains(0x40) || containsASCII($0, "%40") })
        #expect(!lines.contains { luhnValidRuns(in: $0, lengths: 13...19) > 0 })
        #expect(lines.allSatisfy { CombinedShape.parse($0)?.user == "-" })
    }

    @Test("malformedShare makes about that share of lines fail the shape check", arguments: [0.1, 0.3])
    func malformedLines(share: Double) {
        var options = smallPoolOptions()
        options.lines = 5_000
        options.malformedShare = share
        let log = AccessLogGenerator.generate(options)
        let lines = splitLines(of: log)
        #expect(lines.count == options.lines)
        let bad = lines.filter { CombinedShape.parse($0) == nil }.count
        #expect(abs(Double(bad) / Double(lines.count) - share) <= 0.02, "bad \(bad)")
        #expect(AccessLogGenerator.generate(options) == log)
    }
}

@Suite("Planted personal data")
struct PlantedPersonalDataTests {
    static let catalog = AccessLogGenerator.plantedCatalog
    static let checker = PrivacyChecker(catalog: catalog)

    /// 50,000 lines with and without planting, otherwise identical options.
    static let planted: [UInt8] = {
        var options = smallPoolOptions()
        options.lines = 50_000
        options.seed = 3
        return AccessLogGenerator.generate(options)
    }()
    static let unplanted: [UInt8] = {
        var options = smallPoolOptions()
        options.lines = 50_000
        options.seed = 3
        options.plantPersonalData = false
        return AccessLogGenerator.generate(options)
    }()
    /// The lines that planting changed (the planted lines), and the line count.
    static let (changedLines, lineCount): ([ArraySlice<UInt8>], Int) = {
        let planted = splitLines(of: Self.planted)
        let unplanted = splitLines(of: Self.unplanted)
        precondition(planted.count == unplanted.count, "planting must not change the line count")
        return (zip(planted, unplanted).filter { $0 != $1 }.map(\.0), planted.count)
    }()

    @Test("the catalog: 52 distinct reserved or test values of ten kinds, in canonical form")
    func catalogIsCanonical() {
        let catalog = Self.catalog
        #expect(catalog.count == 52)
        #expect(Set(catalog).count == catalog.count)
        #expect(Set(catalog.map(\.kind)) == ["email", "phone", "card", "ssn", "iban", "name", "dob", "address", "account", "username"])
        func values(_ kind: String) -> [String] { catalog.filter { $0.kind == kind }.map(\.canonical) }
        func all(_ text: String, _ allowed: (Character) -> Bool) -> Bool { text.allSatisfy(allowed) }
        #expect(values("email").allSatisfy { $0 == $0.lowercased() && $0.contains("@") && !$0.contains("%") })
        #expect(values("phone").allSatisfy { all($0.hasPrefix("+") ? String($0.dropFirst()) : $0, \.isASCIIDigit) })
        #expect(values("phone").contains { $0.hasPrefix("0") } && values("phone").contains { $0.hasPrefix("+1") })
        #expect(values("card").allSatisfy { all($0, \.isASCIIDigit) && (13...19).contains($0.count) && luhnValid($0) })
        #expect(values("ssn").allSatisfy { all($0, \.isASCIIDigit) && $0.count == 9 && !$0.hasPrefix("000") && !$0.hasPrefix("666") && !$0.hasPrefix("9") })
        #expect(values("iban").allSatisfy { all($0, { $0.isASCIIDigit || ("A"..."Z").contains($0) }) && ibanValid($0) })
        #expect(values("dob").allSatisfy { all($0, \.isASCIIDigit) && $0.count == 8 })
        #expect(catalog.allSatisfy { $0.canonical.utf8.count >= 5 })
    }

    @Test("50,000 lines plant every catalog value, and the checker finds them all")
    func everyValueIsPlanted() {
        let findings = Self.checker.findings(in: Self.planted)
        let missing = Self.catalog.filter { findings[$0] == nil }
        #expect(missing.isEmpty, "never planted: \(missing)")
        #expect(Set(findings.keys).isSubset(of: Set(Self.catalog)))
    }

    @Test("without planting, the checker finds nothing")
    func nothingWithoutPlanting() {
        #expect(Self.checker.findings(in: Self.unplanted).isEmpty)
    }

    @Test("planting changes only the planted lines (about 1.5%), and the checker finds something in each")
    func plantedLinesAreFound() {
        // Unchanged lines are covered by `nothingWithoutPlanting`.
        let share = Double(Self.changedLines.count) / Double(Self.lineCount)
        #expect(share > 0.012 && share < 0.018, "share \(share)")
        for line in Self.changedLines {
            #expect(!Self.checker.findings(in: Array(line)).isEmpty, "nothing found in \(String(decoding: line, as: UTF8.self))")
            #expect(CombinedShape.parse(line) != nil, "not combined: \(String(decoding: line, as: UTF8.self))")
        }
    }

    @Test("every kind is planted in every field it applies to, and in no other")
    func kindsByField() {
        var seen = Set<String>()
        for line in Self.changedLines {
            guard let shape = CombinedShape.parse(line) else { continue }
            let question = shape.target.firstIndex(of: "?")
            let fields = [
                ("path", String(shape.target[..<(question ?? shape.target.endIndex)])),
                ("query", question.map { String(shape.target[$0...]) } ?? ""),
                ("referrer", shape.referrer), ("cookie", shape.cookie ?? ""), ("user", shape.user),
            ]
            for (field, text) in fields where !text.isEmpty {
                for value in Self.checker.findings(in: text).keys { seen.insert("\(value.kind) in \(field)") }
            }
        }
        var expected = Set<String>()
        for kind in ["email", "phone", "card", "ssn", "iban"] {
            for field in ["path", "query", "referrer", "cookie"] { expected.insert("\(kind) in \(field)") }
        }
        for kind in ["name", "dob", "address", "account", "username"] {
            for field in ["query", "referrer", "cookie"] { expected.insert("\(kind) in \(field)") }
        }
        expected.formUnion(["email in user", "username in user"])
        #expect(expected.subtracting(seen).isEmpty, "missing: \(expected.subtracting(seen).sorted())")
        #expect(seen.subtracting(expected).isEmpty, "unexpected: \(seen.subtracting(expected).sorted())")
    }

    @Test(
        "the planted lines use every encoding and way of writing",
        arguments: [
            "%40", "%2540", "%2B", "%2b", "%20", "%2520", "%28", "Janelle+Quixotica", "@EXAMPLE.", "Jane.", "+news@",
            "%2Bnews%40", "1111-1111", "1111+1111", "+WEST+", "-05-1120", "Downing%20", "ACC-1048576", "/users/",
            "/call/", "/pay/", "/ssn/", "/iban/", "?to=", "?tel=", "; prefill=",
            "; last_search=", "utm_term=", "msg=", "note=",
        ])
    func encodings(marker: String) {
        let found = Self.changedLines.contains { containsASCII($0, marker) }
        #expect(found, "no planted line contains \(marker)")
    }

    @Test(
        "the checker finds each form of a value",
        arguments: [
            ("jane.doe@example.com", "jane.doe@example.com"), ("JANE.DOE@EXAMPLE.COM", "jane.doe@example.com"),
            ("email=jane.doe%40example.com", "jane.doe@example.com"), ("to=jane.doe%2540example.com", "jane.doe@example.com"),
            ("x=jane.doe%2540EXAMPLE.com", "jane.doe@example.com"), ("jane%2bnews%40example.com", "jane+news@example.com"),
            ("u=jane+news@example.com", "jane+news@example.com"), ("/users/jane%252Bnews%2540example.com/", "jane+news@example.com"),
            ("4111 1111 1111 1111", "4111111111111111"), ("4111-1111-1111-1111", "4111111111111111"),
            ("cc=4111%201111%201111%201111", "4111111111111111"), ("cc=4111+1111+1111+1111", "4111111111111111"),
            ("+44 (20) 7946.0958", "+442079460958"), ("%2B44%2020%207946%200958", "+442079460958"),
            ("tel:0044-20-7946-0958", "+442079460958"), ("%252B44%252020%25207946%25200958", "+442079460958"),
            ("(020) 7946 0958", "02079460958"), ("078 05 1120", "078051120"), ("ssn=078-05-1120&x=1", "078051120"),
            ("gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"), ("GB82-WEST-1234-5698-7654-32", "GB82WEST12345698765432"),
            ("first_name=JANELLE", "Janelle"), ("name=Janelle+Quixotica", "Quixotica"), ("name=janelle%2520quixotica", "Quixotica"),
            ("dob=1980-04-01", "19800401"), ("dob=1980.04.01", "19800401"), ("address=10+Downing+Street", "10 Downing Street"),
            ("address=10%20DOWNING%20STREET", "10 Downing Street"), ("acct=acc-1048576", "ACC1048576"),
            ("- wrenfield7 [", "wrenfield7"), ("user=KESTREL_OPS", "kestrel_ops"),
        ])
    func checkerFindsForms(text: String, canonical: String) {
        let found = Self.checker.findings(in: text)
        #expect(found.keys.contains { $0.canonical == canonical }, "\(text) → \(found.keys.map(\.canonical))")
    }

    @Test(
        "the checker ignores near misses and other values",
        arguments: [
            "jane.doe@example.co", "jane.doe(at)example.com", "4111 1111 1111 1112", "4111/1111/1111/1111",
            "+44 20 7946 0959", "078-05-1121", "GB82 WEST 1234 5698 7654 33", "Janell", "1980-04-02",
            "10 Downing St", "ACC-1048577", "GET /products/123456 HTTP/1.1",
        ])
    func checkerIgnoresNearMisses(text: String) {
        #expect(Self.checker.findings(in: text).isEmpty)
    }

    @Test("the checker counts every occurrence, in every stream")
    func checkerCounts() {
        let text = "a=jane.doe@example.com&b=JANE.DOE%40EXAMPLE.COM&c=4111-1111-1111-1111 4111111111111111\n"
        let found = Self.checker.findings(in: text)
        #expect(found[PlantedValue(kind: "email", canonical: "jane.doe@example.com")] == 2)
        #expect(found[PlantedValue(kind: "card", canonical: "4111111111111111")] == 2)
        #expect(found.count == 2)
        #expect(Self.checker.findings(in: "").isEmpty && Self.checker.findings(in: "abc").isEmpty)
    }
}

private func luhnValid(_ digits: String) -> Bool {
    var sum = 0
    for (position, character) in digits.reversed().enumerated() {
        let digit = Int(String(character))!
        let value = position % 2 == 1 ? digit * 2 : digit
        sum += value > 9 ? value - 9 : value
    }
    return sum % 10 == 0
}

/// ISO 13616: move the first four characters to the end, letters to 10...35, the number mod 97 is 1.
private func ibanValid(_ iban: String) -> Bool {
    let rearranged = iban.dropFirst(4) + iban.prefix(4)
    var remainder = 0
    for character in rearranged {
        let value = character.isASCIIDigit ? Int(String(character))! : Int(character.asciiValue! - 55)
        remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97
    }
    return remainder == 1
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

// MARK: - Helpers (an independent reading of the combined format, written for the tests)

/// Smaller pools than the defaults: building the default tables takes most of a second in debug builds.
private func smallPoolOptions() -> AccessLogGenerator.Options {
    var options = AccessLogGenerator.Options()
    options.distinctClients = 4_000
    options.distinctPaths = 2_000
    options.distinctUserAgents = 800
    return options
}

private enum Fixture {
    static let defaultOptions = AccessLogGenerator.Options()
    static let defaultLog = AccessLogGenerator.generate(defaultOptions)
    static let defaultLines = splitLines(of: defaultLog)
}

private func splitLines(of log: [UInt8]) -> [ArraySlice<UInt8>] {
    log.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { $0 }
}

private func containsASCII(_ line: ArraySlice<UInt8>, _ needle: String) -> Bool {
    let needle = Array(needle.utf8)
    var index = line.startIndex
    while let first = line[index...].firstIndex(of: needle[0]) {
        if line[first...].starts(with: needle) { return true }
        index = first + 1
    }
    return false
}

/// Number of maximal digit runs with a length in `lengths` that pass the Luhn check.
private func luhnValidRuns(in line: ArraySlice<UInt8>, lengths: ClosedRange<Int>) -> Int {
    var found = 0
    var runStart = line.startIndex
    var index = line.startIndex
    while index <= line.endIndex {
        let isDigit = index < line.endIndex && line[index] >= 0x30 && line[index] <= 0x39
        if isDigit {
            index += 1
            continue
        }
        if lengths.contains(index - runStart) {
            var sum = 0
            for (position, byte) in line[runStart..<index].reversed().enumerated() {
                let digit = Int(byte - 0x30)
                let value = position % 2 == 1 ? digit * 2 : digit
                sum += value > 9 ? value - 9 : value
            }
            if sum % 10 == 0 { found += 1 }
        }
        index += 1
        runStart = index
    }
    return found
}

private struct CombinedShape: Equatable {
    var client: String
    var user: String
    var utc: Int64
    var offsetMinutes: Int
    var target: String
    var referrer: String
    var userAgent: String
    var cookie: String?

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "PATCH"]
    static let protocols: Set<String> = ["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"]

    /// `IP - USER [dd/Mon/yyyy:HH:MM:SS +hhmm] "METHOD TARGET PROTO" STATUS BYTES "REF" "UA"` + optional ` "COOKIE"`.
    static func parse(_ bytes: ArraySlice<UInt8>) -> CombinedShape? {
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        var rest = Substring(String(decoding: bytes, as: UTF8.self))

        func token() -> String? {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            let value = rest[..<space]
            rest = rest[rest.index(after: space)...]
            return value.isEmpty || value.contains("\"") ? nil : String(value)
        }
        func expect(_ literal: String) -> Bool {
            guard rest.hasPrefix(literal) else { return false }
            rest = rest.dropFirst(literal.count)
            return true
        }
        func quoted() -> String? {
            guard expect("\""), let close = rest.firstIndex(of: "\"") else { return nil }
            let value = String(rest[..<close])
            rest = rest[rest.index(after: close)...]
            return value
        }

        guard let client = token(), isIP(client), token() == "-", let user = token(), expect("[") else { return nil }
        guard rest.count > 27, let (utc, offset) = timestamp(String(rest.prefix(26))) else { return nil }
        rest = rest.dropFirst(26)
        guard expect("] "), let request = quoted(), expect(" ") else { return nil }
        let parts = request.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, methods.contains(String(parts[0])), parts[1].hasPrefix("/"),
              protocols.contains(String(parts[2]))
        else { return nil }
        guard let status = token(), status.count == 3, let code = Int(status), (100...599).contains(code),
              let size = token(), size == "-" || (size.allSatisfy(\.isASCII) && UInt64(size) != nil)
        else { return nil }
        guard let referrer = quoted(), !referrer.isEmpty, expect(" "), let agent = quoted(), !agent.isEmpty
        else { return nil }
        var cookie: String?
        if !rest.isEmpty {
            guard expect(" "), let value = quoted(), !value.isEmpty, rest.isEmpty else { return nil }
            cookie = value
        }
        return CombinedShape(
            client: client, user: user, utc: utc, offsetMinutes: offset, target: String(parts[1]),
            referrer: referrer, userAgent: agent, cookie: cookie)
    }

    static func isIP(_ text: String) -> Bool {
        if text.contains(":") {
            let groups = text.split(separator: ":", omittingEmptySubsequences: false)
            return groups.count >= 3 && groups.count <= 8 && text.components(separatedBy: "::").count <= 2
                && groups.allSatisfy { $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }
        }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { $0.count <= 3 && Int($0).map { $0 <= 255 } == true }
    }

    /// `dd/Mon/yyyy:HH:MM:SS +hhmm` → (UTC epoch seconds, zone offset in minutes). Counts days year by year
    /// (deliberately not the generator's civil-from-days arithmetic); years from 1970.
    static func timestamp(_ text: String) -> (Int64, Int)? {
        let chars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in chars[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard chars.count == 26, chars[2] == 0x2F, chars[6] == 0x2F, chars[11] == 0x3A, chars[14] == 0x3A,
              chars[17] == 0x3A, chars[20] == 0x20, chars[21] == 0x2B || chars[21] == 0x2D,
              let day = number(0..<2), let month = months.firstIndex(of: String(decoding: chars[3..<6], as: UTF8.self)),
              let year = number(7..<11), let hour = number(12..<14), let minute = number(15..<17),
              let second = number(18..<20), let zoneHours = number(22..<24), let zoneMinutes = number(24..<26),
              year >= 1970, hour <= 23, minute <= 59, second <= 59, zoneMinutes <= 59
        else { return nil }
        func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }
        let monthLengths = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1 && day <= monthLengths[month] else { return nil }
        var days = 0
        for earlier in 1970..<year { days += isLeap(earlier) ? 366 : 365 }
        days += monthLengths[..<month].reduce(0, +) + day - 1
        let local = Int64(days) * 86_400 + Int64(hour * 3_600 + minute * 60 + second)
        let offset = (chars[21] == 0x2D ? -1 : 1) * (zoneHours * 60 + zoneMinutes)
        return (local - Int64(offset) * 60, offset)
    }

    /// A rough detector for the planted kinds, to check their share.
    static func looksPersonal(_ line: ArraySlice<UInt8>) -> Bool {
        line.contains(0x40) || luhnValidRuns(in: line, lengths: 13...19) > 0
            || ["%40", "name=", "account=", "account_no=", "acct=", "phone", "tel=", "mobile=", "callback"]
                .contains { containsASCII(line, $0) }
    }
}
