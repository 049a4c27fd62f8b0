import CrumbSamples
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
            userAgent: agent, cookie: cookie)
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
