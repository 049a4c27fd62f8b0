import CrumbCore
import CrumbSamples
import Foundation
import Testing

private func parse(_ line: String, mode: CombinedLogParser.Mode = .lenient) -> Result<AccessLogEvent, ParseFailure> {
    var copy = line
    return copy.withUTF8 { bytes in
        Result { () throws(ParseFailure) in try CombinedLogParser(mode: mode).parse(UnsafeRawBufferPointer(bytes)) }
    }
}

private func text(_ line: String, _ range: Range<Int>?) -> String? {
    guard let range else { return nil }
    return String(decoding: Array(line.utf8)[range], as: UTF8.self)
}

struct CombinedLogParserTests {
    static let elastic = #"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#

    @Test func combinedLine() throws {
        let event = try parse(Self.elastic).get()
        #expect(text(Self.elastic, event.client) == "83.149.9.216")
        #expect(event.time == 1_431_857_103)  // 2015-05-17T10:05:03Z
        #expect(text(Self.elastic, event.method) == "GET")
        #expect(text(Self.elastic, event.target) == "/presentations/logstash-monitorama-2013/images/kibana-search.png")
        #expect(text(Self.elastic, event.requestProtocol) == "HTTP/1.1")
        #expect(event.status == 200)
        #expect(event.bytes == 203_023)
        #expect(text(Self.elastic, event.referrer) == "http://semicomplete.com/presentations/logstash-monitorama-2013/")
        #expect(text(Self.elastic, event.userAgent)?.hasPrefix("Mozilla/5.0 (Macintosh") == true)
        #expect(event.isCombined)
        #expect(event.cookie == nil && event.forwardedFor == nil)
    }

    /// One row per case: the line, and what must come out (field checks) or the rejection code.
    static let accepted: [(String, String)] = [
        // all optional fields "-"
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 304 - "-" "-""#, "status=304 bytes=0 ref=nil ua=nil"),
        // common format
        (#"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#, "time=971211336 common"),
        // IPv6 client
        (#"2001:980:91c0:1:8d31:a232:25e5:85d - - [05/Sep/2010:11:27:50 +0200] "GET /b HTTP/1.1" 200 1 "-" "UA""#, "client=2001:980:91c0:1:8d31:a232:25e5:85d time=1283678870"),
        // escaped quotes in the user agent and request
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a\"b HTTP/1.1" 200 5 "-" "Mozilla \"quoted\" UA""#, "target=/a\\\"b ua=Mozilla \\\"quoted\\\" UA"),
        // trailing X-Forwarded-For "-" (zanbil)
        (#"5.202.214.160 - - [26/Jan/2019:19:45:25 +0330] "GET / HTTP/1.1" 200 30975 "https://www.zanbil.ir/" "Mozilla/5.0" "-""#, "time=1548519325 xff=nil cookie=nil"),
        // trailing cookie field
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "UA" "a=1; visitor_id=v-1""#, "cookie=a=1; visitor_id=v-1"),
        // trailing XFF with addresses
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "UA" "203.0.113.9, 10.0.0.1""#, "xff=203.0.113.9, 10.0.0.1"),
        // invalid request line still counts
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-""#, "invalid-request status=400"),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "-" 408 0 "-" "-""#, "invalid-request"),
        // quoted remote user
        (#"1.2.3.4 - "jane doe" [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#, "user=jane doe"),
        // leap-year date, negative zone crossing midnight
        (#"1.2.3.4 - - [29/Feb/2024:23:30:00 -0130] "GET / HTTP/1.1" 200 5"#, "time=1709254800"),
        // a user agent cut without its closing quote (elastic-apache_logs.log line 8899)
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#, "ua=Mozilla/5.0 (compatible; Googlebot/2.1"),
        // HTTP/0.9 style request without protocol
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /old" 200 5"#, "target=/old"),
    ]

    @Test(arguments: accepted)
    func accepts(_ line: String, _ expectation: String) throws {
        let event = try parse(line).get()
        for check in expectation.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            switch check {
            case "common": #expect(!event.isCombined)
            case "invalid-request": #expect(!event.requestIsValid)
            case "ref=nil": #expect(event.referrer == nil)
            case "ua=nil": #expect(event.userAgent == nil)
            case "xff=nil": #expect(event.forwardedFor == nil)
            case "cookie=nil": #expect(event.cookie == nil)
            default:
                let parts = check.split(separator: "=", maxSplits: 1).map(String.init)
                let want = expectation.components(after: parts[0] + "=")
                switch parts[0] {
                case "status": #expect(event.status == Int(parts[1]))
                case "bytes": #expect(event.bytes == Int64(parts[1]))
                case "time": #expect(event.time == Int64(parts[1]))
                case "client": #expect(text(line, event.client) == parts[1])
                case "target": #expect(text(line, event.target) == parts[1])
                case "ua": #expect(text(line, event.userAgent) == want)
                case "user": #expect(text(line, event.remoteUser) == want)
                case "cookie": #expect(text(line, event.cookie) == want)
                case "xff": #expect(text(line, event.forwardedFor) == want)
                default: break
                }
            }
        }
    }

    static let rejected: [(String, RejectCode)] = [
        ("", .missingField),
        ("1.2.3.4", .missingField),
        (#"1.2.3.4 - - [32/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - [01/Foo/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - [01/Jan/2026:24:00:00 +0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - [29/Feb/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - 01/Jan/2026:00:00:00 +0000 "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1 200 5"#, .badQuoting),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 20 5"#, .badStatus),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" abc 5"#, .badStatus),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5x"#, .badBytes),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200"#, .missingField),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 -UA "UA""#, .badQuoting),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "http://x/ "UA""#, .missingField),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 junk"#, .badQuoting),
        (#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-""#, .missingField),
    ]

    @Test(arguments: rejected)
    func rejects(_ line: String, _ code: RejectCode) {
        guard case .failure(let failure) = parse(line) else {
            Issue.record("accepted \(line)")
            return
        }
        #expect(failure.code == code)
        #expect(failure.offset >= 0 && failure.offset <= line.utf8.count)
    }

    @Test func strictModes() {
        let common = #"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#
        #expect(throws: ParseFailure(.missingField, at: common.utf8.count)) { try parse(common, mode: .combined).get() }
        #expect(throws: ParseFailure(.trailingGarbage, at: common.utf8.count)) {
            try parse(common + #" "-" "UA""#, mode: .common).get()
        }
        #expect((try? parse(common, mode: .common).get()) != nil)
    }

    @Test func timestampsMatchAnIndependentConversion() {
        // Every day of 2024 at 13:45:07 in +0530 equals the UTC instant computed from day counts.
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        var dayOfYear: Int64 = 0
        let start2024: Int64 = 1_704_067_200
        for (month, length) in zip(months, lengths) {
            for day in 1...length {
                var text = (day < 10 ? "0\(day)" : "\(day)") + "/\(month)/2024:13:45:07 +0530"
                let parsed = text.withUTF8 { ApacheTimestamp.parse(UnsafeRawBufferPointer($0)) }
                #expect(parsed == start2024 + dayOfYear * 86_400 + 13 * 3_600 + 45 * 60 + 7 - 19_800, "\(text)")
                dayOfYear += 1
            }
        }
    }

    /// Parsing into an event the processor keeps gives the event `parse(_:)` returns, whatever that event held
    /// before (another line's fields, trailing values), and the same failures.
    @Test func parsingIntoAKeptEventOverwritesItWhole() {
        var options = AccessLogGenerator.Options()
        options.lines = 3_000
        options.malformedShare = 0.05
        options.seed = 3
        var lines = AccessLogGenerator.generate(options).split(separator: UInt8(ascii: "\n")).map(Array.init)
        lines.append(Array((Self.elastic + #" "a=1; b=2" "1" "x.example" "extra""#).utf8))
        lines.append(Array("192.0.2.1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 5".utf8))
        var parser: any WebLineParser = CombinedLogParser()
        var kept = AccessLogEvent()
        var decoded: [UInt8] = []
        var failures = 0
        for line in lines + lines.reversed() {
            line.withUnsafeBytes { bytes in
                let expected = Result { () throws(ParseFailure) in try CombinedLogParser().parse(bytes) }
                let kind = Result { () throws(ParseFailure) in try parser.parse(bytes, decoded: &decoded, into: &kept) }
                switch (expected, kind) {
                case (.success(let event), .success(let kind)):
                    #expect(kind == .event)
                    #expect(kept == event)
                case (.failure(let wanted), .failure(let failure)):
                    #expect(failure == wanted)
                    failures += 1
                default:
                    Issue.record("parse(_:) and parse(_:decoded:into:) disagree on \(String(decoding: line, as: UTF8.self))")
                }
            }
        }
        #expect(failures > 100)
    }
}

extension String {
    fileprivate func components(after marker: String) -> String {
        guard let range = range(of: marker) else { return "" }
        let rest = self[range.upperBound...]
        // Values run to the next " key=" or the end.
        for key in [" status=", " bytes=", " time=", " client=", " target=", " ua=", " user=", " cookie=", " xff=", " ref=", " common", " invalid-request"] {
            if let next = rest.range(of: key) { return String(rest[..<next.lowerBound]) }
        }
        return String(rest)
    }
}
