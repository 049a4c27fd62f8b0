import CrumbCore
import CrumbTestSupport
import Foundation
import Testing

/// An event with its ranges resolved to bytes, so that results of different runs can be compared.
private struct W3CEvent: Equatable, CustomStringConvertible {
    var client: [UInt8] = []
    var remoteUser: [UInt8] = []
    var method: [UInt8] = []
    var target: [UInt8] = []
    var requestProtocol: [UInt8] = []
    var requestIsValid = false
    var time: Int64 = 0
    var status = 0
    var bytes: Int64 = 0
    var referrer: [UInt8]?
    var userAgent: [UInt8]?
    var cookie: [UInt8]?
    var forwardedFor: [UInt8]?
    var host: [UInt8]?
    var eventName: [UInt8]?
    var durationMicros: Int64?
    var isCombined = false
    var doNotTrack = false
    var globalPrivacyControl = false
    /// `name=value` for each unmapped column.
    var unmapped: [String] = []

    init(_ event: AccessLogEvent, in buffer: [UInt8]) {
        func bytes(_ range: Range<Int>?) -> [UInt8]? { range.map { Array(buffer[$0]) } }
        client = Array(buffer[event.client])
        remoteUser = Array(buffer[event.remoteUser])
        method = Array(buffer[event.method])
        target = Array(buffer[event.target])
        requestProtocol = Array(buffer[event.requestProtocol])
        requestIsValid = event.requestIsValid
        time = event.time
        status = event.status
        self.bytes = event.bytes
        referrer = bytes(event.referrer)
        userAgent = bytes(event.userAgent)
        cookie = bytes(event.cookie)
        forwardedFor = bytes(event.forwardedFor)
        host = bytes(event.host)
        eventName = bytes(event.eventName)
        durationMicros = event.durationMicros
        isCombined = event.isCombined
        doNotTrack = event.doNotTrack
        globalPrivacyControl = event.globalPrivacyControl
        unmapped = event.unmapped.map {
            String(decoding: buffer[$0.name], as: UTF8.self) + "=" + String(decoding: buffer[$0.value], as: UTF8.self)
        }
    }

    static func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    var description: String {
        "\(Self.text(client) ?? "") \(Self.text(method) ?? "") \(Self.text(target) ?? "") \(status) t=\(time)"
    }
}

private enum W3COutcome: Equatable {
    case header
    case event(W3CEvent)
    case rejected(RejectCode, offset: Int)

    var event: W3CEvent? {
        if case .event(let event) = self { return event }
        return nil
    }
}

/// Frames `bytes` with a `LineFramer` fed in chunks of the given sizes and parses every line with one parser.
private func parseAll(_ bytes: [UInt8], chunkSizes: (Int) -> Int = { $0 }) -> [W3COutcome] {
    var parser = W3CExtendedParser()
    var framer = LineFramer()
    var decoded: [UInt8] = []
    var outcomes: [W3COutcome] = []
    func handle(_ frame: LineFramer.Frame) {
        guard case .line(let line, _) = frame else {
            Issue.record("line too long")
            return
        }
        do {
            switch try parser.parse(line, decoded: &decoded) {
            case .header: outcomes.append(.header)
            case .decodedEvent(let event): outcomes.append(.event(W3CEvent(event, in: decoded)))
            case .event: Issue.record("W3C events always point into `decoded`")
            }
        } catch {
            outcomes.append(.rejected(error.code, offset: error.offset))
        }
    }
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + max(1, chunkSizes(all.count - offset)))
            framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), handle)
            offset = end
        }
        framer.finish(handle)
    }
    return outcomes
}

private func parseAll(_ text: String) -> [W3COutcome] { parseAll(Array(text.utf8)) }

/// The events of `text`, failing the test on any reject.
private func events(_ text: String) -> [W3CEvent] {
    let outcomes = parseAll(text)
    for case .rejected(let code, let offset) in outcomes { Issue.record("rejected: \(code) at \(offset)") }
    return outcomes.compactMap(\.event)
}

private func s(_ bytes: [UInt8]?) -> String? { W3CEvent.text(bytes) }

private let iisFields = "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken\n"
private let cloudFrontFields = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields\n"

struct W3CExtendedParserTests {
    @Test func iisEntry() throws {
        let log = "#Software: Microsoft Internet Information Services 6.0\n#Version: 1.0\n#Date: 2012-04-01 00:00:13\n" + iisFields
            + #"2012-04-01 00:00:13 W3SVC834221556 PXQD1 5.6.7.8 GET /foo/bar topCat1=divinity&submit=Search 80 theuser 1.2.3.4 HTTP/1.1 Mozilla/5.0+(X11;+U;+Linux+i686;+en-US;+rv:1.9.2.7)+Gecko/20100722+Firefox/3.6.7 "ASP.NET_SessionId=sldfkjs; __utma=21468.206199.142713.144683.183.1; utmccn=(direct)|utmcsr=(direct)|utmcmd=(none)" - example.com 200 654 456 27028 214 1687"#
        let outcomes = parseAll(log)
        #expect(outcomes.prefix(4) == [.header, .header, .header, .header])
        let event = try #require(outcomes.last?.event)
        #expect(s(event.client) == "1.2.3.4")
        #expect(s(event.remoteUser) == "theuser")
        #expect(s(event.method) == "GET")
        #expect(s(event.target) == "/foo/bar?topCat1=divinity&submit=Search")
        #expect(s(event.requestProtocol) == "HTTP/1.1")
        #expect(event.requestIsValid)
        #expect(event.time == 1_333_238_413)  // 2012-04-01T00:00:13Z
        #expect(event.status == 200)
        #expect(event.bytes == 27028)
        #expect(event.durationMicros == 1_687_000)
        #expect(s(event.userAgent) == "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.2.7) Gecko/20100722 Firefox/3.6.7")
        #expect(s(event.cookie)?.hasPrefix("ASP.NET_SessionId=sldfkjs; __utma=") == true)
        #expect(event.referrer == nil)
        #expect(s(event.host) == "example.com")
        #expect(event.isCombined)
        #expect(event.unmapped.isEmpty)  // every column is mapped or server-side
    }

    @Test func cloudFrontEntry() throws {
        let line = ["2022-11-15", "08:43:04", "SEA19-C2", "10157", "81.2.69.143", "GET", "d111111abcdef8.cloudfront.net",
                    "/getApplications", "000", "https://test.com/global",
                    "Mozilla/5.0%2520(X11;%2520Linux%2520x86_64)%20HeadlessChrome/100.0", "a=1&b=%2F", "session%3Dabc%253D",
                    "Miss", "hrsHM5OM6sTIXUleC1G20YtDxMf5Cq0Jbz0pwhVpod2kgEn_W6akCQ==", "test.com", "https", "1057", "0.238",
                    "81.2.69.142, 216.160.83.56", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Miss", "HTTP/1.1", "-", "-"]
        let event = try #require(events("#Version: 1.0\n" + cloudFrontFields + line.joined(separator: "\t")).first)
        #expect(event.time == 1_668_501_784)  // 2022-11-15T08:43:04Z
        #expect(event.status == 0)
        #expect(event.bytes == 10157)
        #expect(s(event.target) == "/getApplications?a=1&b=%2F")
        #expect(s(event.requestProtocol) == "HTTP/1.1")
        #expect(s(event.userAgent) == "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/100.0")  // %2520 decoded fully
        #expect(s(event.cookie) == "session=abc%3D")  // CloudFront's encoding undone once, the cookie's own kept
        #expect(s(event.forwardedFor) == "81.2.69.142, 216.160.83.56")  // a space inside a tab-separated value
        #expect(s(event.host) == "test.com")  // x-host-header, not the distribution's cs(Host)
        #expect(event.durationMicros == 238_000)
        #expect(s(event.referrer) == "https://test.com/global")
        #expect(event.unmapped.isEmpty)
    }

    @Test func viewerHostWinsWhateverTheColumnOrder() throws {
        let log = "#Fields: date time x-host-header cs(Host) cs-uri-stem\n2024-01-01 00:00:00 www.example.com d1.cloudfront.net /\n"
            + "#Fields: date time cs-host cs-uri-stem\n2024-01-01 00:00:00 plain.example.com /\n"
        #expect(events(log).map { s($0.host) } == ["www.example.com", "plain.example.com"])
    }

    @Test func directivesAndBlankLinesAreHeaders() {
        let log = "\u{FEFF}#Software: Microsoft HTTP Server API 2.0\n#Version: 1.0   // a comment\n#Remark: anything at all\n"
            + "#Start-Date: 2014-11-18 00:00:00.128\n#End-Date: 2014-11-19 00:00:00\n#GMT-Offset: -0800\n#Unknown\n\n   \n\t\n"
            + "#Fields: date time c-ip\n"
        #expect(parseAll(log) == Array(repeating: .header, count: 11))
    }

    @Test func dataBeforeFieldsIsRejected() {
        let log = "#Version: 1.0\n2012-04-01 00:00:13 1.2.3.4\n\u{FEFF}2012-04-01 00:00:13 1.2.3.4\n"
        #expect(parseAll(log) == [.header, .rejected(.noFieldsDirective, offset: 0), .rejected(.noFieldsDirective, offset: 3)])
    }

    @Test func fieldsChangeMidFile() throws {
        let log = """
            #Fields: date time c-ip cs-uri-stem sc-status
            2020-02-29 23:59:59 1.1.1.1 /a 200
            #Fields: sc-status c-ip date time cs-method cs-uri-stem cs-uri-query cs(User-Agent) cs(Referer)
            404 2.2.2.2 2020-03-01 00:00:00 POST /b x=1 UA+1 http://r/
            2020-03-01 00:00:01 3.3.3.3 /c 200
            """
        let outcomes = parseAll(log)
        #expect(outcomes.count == 5)
        let first = try #require(outcomes[1].event)
        #expect(s(first.client) == "1.1.1.1" && s(first.target) == "/a" && first.status == 200)
        #expect(first.time == 1_583_020_799 && !first.isCombined && first.userAgent == nil)
        #expect(s(first.method) == "" && first.requestIsValid)  // no method column: the target still counts
        let second = try #require(outcomes[3].event)
        #expect(s(second.client) == "2.2.2.2" && s(second.method) == "POST" && s(second.target) == "/b?x=1")
        #expect(second.status == 404 && second.time == 1_583_020_800 && second.isCombined)
        #expect(s(second.userAgent) == "UA 1" && s(second.referrer) == "http://r/")
        // The old mapping is gone: "2020-03-01" is not a status under the new one.
        #expect(outcomes[4] == .rejected(.badStatus, offset: 0))
    }

    /// One row per case: the `#Fields:` list, a data line, and `field=value` checks (`|` between checks).
    static let accepted: [(String, String, String)] = [
        // W3C strings: `""` inside, spaces inside, quoted client
        ("c-ip cs(User-Agent) date time", #""70.95.0.0" "a ""quoted"" UA" 2012-08-15 17:00:00.363"#,
         #"client=70.95.0.0|ua=a "quoted" UA|time=1345050000"#),
        // a quoted value followed by a quoted value with garbage-looking content (lnav-logfile_w3c.3)
        ("date time sc-status sc-win32-status cs(X-Note)", #"2012-08-15 17:00:00 404 " ""garbage"" w/ spaces " "x""#,
         #"status=404|unmapped=cs(X-Note)=x"#),
        // runs of spaces separate, as in Oracle Web Cache and the CloudFront RTMP sample
        ("date  time   c-ip", "2001-10-31     00:00:18      64.103.37.2", "client=64.103.37.2|time=1004486418"),
        // trailing whitespace after the last column
        ("date time c-ip", "2001-10-31 00:00:18 1.2.3.4   \t ", "client=1.2.3.4"),
        // tab-separated: an empty value between two tabs is absent; spaces are content
        ("date time c-ip cs(Referer) cs(User-Agent)", "2024-01-01\t00:00:00\t1.2.3.4\t\tcurl/8.0 (x)",
         "ref=nil|ua=curl/8.0 (x)|combined"),
        // a tab-separated line whose last column is empty
        ("date time c-ip cs(Referer)", "2024-01-01\t00:00:00\t1.2.3.4\t", "ref=nil"),
        // all optional values absent: `-` client and user, status 0, no target
        ("date time c-ip cs-username cs-method cs-uri-stem cs-uri-query sc-status sc-bytes time-taken",
         "2024-01-01 00:00:00 - - - - - - - -", "client=-|user=-|status=0|bytes=0|duration=nil|invalid-request"),
        // Incapsula: everything quoted, `""` is absent, `cs-uri` is `host/path`
        ("date time c-ip cs-uri cs-uri-query sc-status cs-vid", #""2017-06-28" "07:26:35" "1.2.3.4" "www.example.com/page.php" "variable=test" "" """#,
         "target=/page.php?variable=test|host=www.example.com|status=0|time=1498634795"),
        // cs-uri with its own query is not given a second one
        ("date time cs-uri cs-uri-query", "2024-01-01 00:00:00 /a?b=1 c=2", "target=/a?b=1"),
        // an absolute cs-uri (CloudFront RTMP) is kept as it is
        ("date time cs-uri-stem cs-uri-query x-event c-user-agent x-cf-client-id",
         "2010-03-12 23:51:20 rtmp://s.cloudfront.net/cfx/st key=value play LNX%2010,0,32,18 bfd8a98b",
         "target=rtmp://s.cloudfront.net/cfx/st?key=value|event=play|ua=LNX%2010,0,32,18|unmapped=x-cf-client-id=bfd8a98b"),
        // time-taken: IIS milliseconds, a fraction means seconds, TimeTakenMS
        ("date time time-taken", "2024-01-01 00:00:00 1405", "duration=1405000"),
        ("date time time-taken", "2024-01-01 00:00:00 0.001", "duration=1000"),
        ("date time TimeTakenMS", "2024-01-01 00:00:00 359", "duration=359000"),
        ("date time time-taken", "2024-01-01 00:00:00 12.3456789", "duration=12345678"),
        // DNT and Sec-GPC headers
        ("date time cs(DNT) cs(Sec-GPC)", "2024-01-01 00:00:00 1 1", "dnt|gpc"),
        ("date time cs(DNT) cs(Sec-GPC)", "2024-01-01 00:00:00 0 -", "no-dnt|no-gpc"),
        // client-side columns crumb does not know go to `unmapped`; server-side ones are dropped
        ("date time c-dns cs(X-Api-Key) s-ip sc(Content-Type) x-edge-location x-custom-id fle-status ssl-cipher",
         "2024-01-01 00:00:00 host.isp.example k3y 10.0.0.1 text/html LAX1 42 - TLS",
         "unmapped=c-dns=host.isp.example,cs(X-Api-Key)=k3y,x-custom-id=42"),
        // IIS FTP log: time only, the day comes from #Date (lnav-logfile_w3c.2); `[2]USER` is no HTTP method
        ("time c-ip cs-method cs-uri-stem sc-status", "16:44:49 1.1.1.1 [2]USER anonymous 331",
         "time=971109889|invalid-request|status=331"),
        // a date only: midnight (ex031118.log)
        ("date c-ip cs-uri-stem", "2003-11-18 192.168.1.101 /Default.htm", "time=1069113600"),
        // neither date nor time: the directive's time
        ("c-ip cs-uri-stem", "1.2.3.4 /", "time=971109889"),
        // local date and time are taken as they are, having no offset
        ("date-local time-local c-ip", "2012-08-15 17:00:00.660 10.10.28.140", "time=1345050000"),
        // a single datetime column with a zone
        ("datetime c-ip", "2024-01-01T01:30:00+01:30 1.2.3.4", "time=1704067200"),
        ("datetime c-ip", "2024-01-01T00:00:00.5Z 1.2.3.4", "time=1704067200"),
        // Oracle Web Cache: c-auth-id is the user, `bytes` the size, cs(Referrer) the referrer
        ("c-ip c-auth-id bytes cs(Referrer) cs-uri date time", "1.2.3.4 DMS.user 350 \"http://x/\" /a 2001-10-31 00:00:18",
         "user=DMS.user|bytes=350|ref=http://x/|target=/a"),
        // X-Forwarded-For header column
        ("date time cs(X-Forwarded-For)", "2024-01-01 00:00:00 203.0.113.9,10.0.0.1", "xff=203.0.113.9,10.0.0.1"),
        // names are case-insensitive
        ("DATE Time C-IP CS(USER-AGENT)", "2024-01-01 00:00:00 1.2.3.4 A+B", "client=1.2.3.4|ua=A B"),
    ]

    @Test(arguments: accepted)
    func accepts(_ fields: String, _ line: String, _ expectation: String) throws {
        let log = "#Date: 2000-10-09 16:44:49\n#Fields: \(fields)\n\(line)"
        let outcomes = parseAll(log)
        let event = try #require(outcomes.last?.event, "\(outcomes)")
        for check in expectation.split(separator: "|").map(String.init) {
            let parts = check.split(separator: "=", maxSplits: 1).map(String.init)
            let want = parts.count > 1 ? parts[1] : ""
            switch parts[0] {
            case "client": #expect(s(event.client) == want)
            case "user": #expect(s(event.remoteUser) == want)
            case "target": #expect(s(event.target) == want)
            case "host": #expect(s(event.host) == want)
            case "ua": #expect(s(event.userAgent) == want)
            case "ref": #expect(s(event.referrer) == (want == "nil" ? nil : want))
            case "xff": #expect(s(event.forwardedFor) == want)
            case "event": #expect(s(event.eventName) == want)
            case "status": #expect(event.status == Int(want))
            case "bytes": #expect(event.bytes == Int64(want))
            case "time": #expect(event.time == Int64(want))
            case "duration": #expect(event.durationMicros == (want == "nil" ? nil : Int64(want)))
            case "unmapped": #expect(event.unmapped == want.split(separator: ",").map(String.init))
            case "invalid-request": #expect(!event.requestIsValid)
            case "combined": #expect(event.isCombined)
            case "dnt": #expect(event.doNotTrack)
            case "no-dnt": #expect(!event.doNotTrack)
            case "gpc": #expect(event.globalPrivacyControl)
            case "no-gpc": #expect(!event.globalPrivacyControl)
            default: Issue.record("unknown check \(check)")
            }
        }
    }

    /// One row per case: the `#Fields:` list, a data line, the code and the offset where parsing stopped.
    static let rejected: [(String, String, RejectCode, Int)] = [
        ("date time c-ip sc-status", "2024-01-01 00:00:00 1.2.3.4", .missingColumn, 27),
        ("date time c-ip", "2024-01-01 00:00:00 1.2.3.4 extra", .extraColumns, 28),
        ("date\ttime\tc-ip", "2024-01-01\t00:00:00\t1.2.3.4\t\t-", .extraColumns, 29),
        ("date time cs(User-Agent)", #"2024-01-01 00:00:00 "unterminated UA"#, .badQuoting, 20),
        ("date time cs(User-Agent) c-ip", #"2024-01-01 00:00:00 "UA"x 1.2.3.4"#, .badQuoting, 24),
        ("date time c-ip", "2024-13-01 00:00:00 1.2.3.4", .badTimestamp, 0),
        ("date time c-ip", "2023-02-29 00:00:00 1.2.3.4", .badTimestamp, 0),
        ("date time c-ip", "2024-01-01 24:00:00 1.2.3.4", .badTimestamp, 11),
        ("date time c-ip", "2024-01-01 00:00 1.2.3.4", .badTimestamp, 11),
        ("date time c-ip", "- 00:00:00 1.2.3.4", .badTimestamp, 0),
        ("date time c-ip", "2024-01-01 - 1.2.3.4", .badTimestamp, 0),
        ("datetime c-ip", "2024-01-01T00:00:00+25:00 1.2.3.4", .badTimestamp, 0),
        ("date time sc-status", "2024-01-01 00:00:00 20x", .badStatus, 20),
        ("date time sc-status", "2024-01-01 00:00:00 2000", .badStatus, 20),
        ("date time sc-bytes", "2024-01-01 00:00:00 12a", .badBytes, 20),
        ("date time sc-bytes", "2024-01-01 00:00:00 1234567890123456789", .badBytes, 20),
        ("date time time-taken", "2024-01-01 00:00:00 1.2.3", .badNumber, 20),
        ("date time time-taken", "2024-01-01 00:00:00 .5", .badNumber, 20),
        ("date time time-taken", "2024-01-01 00:00:00 -5", .badNumber, 20),
    ]

    @Test(arguments: rejected)
    func rejects(_ fields: String, _ line: String, _ code: RejectCode, _ offset: Int) {
        #expect(parseAll("#Fields: \(fields)\n\(line)").last == .rejected(code, offset: offset))
    }

    @Test func timeOnlyWithoutDateDirectiveIsRejected() {
        #expect(parseAll("#Fields: time c-ip\n16:44:49 1.1.1.1").last == .rejected(.badTimestamp, offset: 0))
        #expect(parseAll("#Fields: c-ip\n1.1.1.1").last == .rejected(.badTimestamp, offset: 0))
    }

    @Test func dateDirectiveChangesTheDay() {
        let log = "#Date: 2000-10-09 16:44:49\n#Fields: time c-ip\n16:44:49 1.1.1.1\n#Date: 2000-10-10 00:00:00\n16:44:49 1.1.1.1\n"
        #expect(events(log).map(\.time) == [971_109_889, 971_196_289])
    }

    @Test func nonUTF8BytesAreKeptAsBytes() throws {
        var log = Array("#Fields: date time c-ip cs(User-Agent) cs-uri-stem\n2024-01-01 00:00:00 1.2.3.4 ".utf8)
        log += [0xFF, 0xFE, 0x2B, 0xC3, 0x28, 0x80]  // invalid UTF-8 and a `+`
        log += Array(" /caf".utf8) + [0xE9]
        let event = try #require(parseAll(log).last?.event)
        #expect(event.userAgent == [0xFF, 0xFE, 0x20, 0xC3, 0x28, 0x80])
        #expect(event.target == Array("/caf".utf8) + [0xE9])
    }

    @Test func decodingIsPerWriter() throws {
        // IIS: `+` is a space, percent signs stay; CloudFront (x-edge- columns): percent-decoding, `+` stays.
        let iis = try #require(events("#Fields: date time cs(User-Agent) cs(Cookie)\n2024-01-01 00:00:00 A+B%20C a=1;+b=2").first)
        #expect(s(iis.userAgent) == "A B%20C" && s(iis.cookie) == "a=1; b=2")
        let cloudFront = try #require(events("#Fields: date time x-edge-location cs(User-Agent) cs(Cookie)\n2024-01-01\t00:00:00\tLAX1\tA+B%20C%252F\ta%3D1;%20b%3D%252F").first)
        #expect(s(cloudFront.userAgent) == "A+B C/" && s(cloudFront.cookie) == "a=1; b=%2F")
        // A quoted value is a W3C string: only `""` is undone.
        let quoted = try #require(events("#Fields: date time cs(User-Agent)\n2024-01-01 00:00:00 \"A+B \"\"%20\"\"\"").first)
        #expect(s(quoted.userAgent) == #"A+B "%20""#)
    }

    @Test func chunkingGivesIdenticalResults() throws {
        var corpus = Array(("#Software: Microsoft Internet Information Services 6.0\r\n" + iisFields).utf8)
        corpus += Array(#"2012-04-01 00:00:13 W3SVC1 PX 5.6.7.8 GET /foo/bar a=1 80 - 1.2.3.4 HTTP/1.1 Mozilla/5.0+(X11) "c=""1""" - example.com 200 0 0 27028 214 1687"#.utf8) + [13, 10]
        corpus += Array(("#Version: 1.0\n" + cloudFrontFields).utf8)
        corpus += Array("2019-12-04\t21:02:31\tLAX1\t392\t89.160.20.112\tGET\td1.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows)\t-\t-\tHit\tSOX4==\td1.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE\tHit\tHTTP/2.0\t-\t-\n".utf8)
        corpus += Array("2019-12-04\t21:02:31\tLAX1\t392\n\n".utf8) + [0xFF, 0x0A]
        var sharedFiles = 0
        for file in Self.realFiles.map(\.path) {
            guard let path = SharedData.path(file) else {
                print(SharedData.missing(file))
                continue
            }
            corpus += try Array(Data(contentsOf: URL(fileURLWithPath: path))) + [0x0A]
            sharedFiles += 1
        }
        let whole = parseAll(corpus)
        // Nine results from the lines above; the shared logs, when they are beside the clone, add their own.
        #expect(whole.count >= 9)
        if sharedFiles > 0 { #expect(whole.count > 10) }
        #expect(parseAll(corpus, chunkSizes: { _ in 1 }) == whole)
        for seed: UInt64 in [1, 2, 3] {
            var state = seed
            let random = parseAll(corpus) { _ in
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return 1 + Int((z ^ (z >> 31)) % 97)
            }
            #expect(random == whole, "seed \(seed)")
        }
    }

    /// The real files: how many headers, events and rejects each must give, and why each reject is one.
    static let realFiles: [(path: String, headers: Int, events: Int, rejects: [Int: RejectCode])] = [
        // Not W3C extended: IIS's older comma-separated "IIS log file format" (no #Fields:, local time).
        ("w3c/ex010320.log", 0, 0, [1: .noFieldsDirective, 2: .noFieldsDirective]),
        // Fields "date c-ip cs-uri-stem cs-bytes": line 7 lacks its cs-bytes column.
        ("w3c/ex031118.log", 4, 3, [7: .missingColumn]),
        ("w3c/ex960101.log", 1, 5, [:]),
        ("w3c/lnav-logfile_w3c.0", 4, 1, [:]),
        // Oracle Web Cache: runs of spaces, quoted values, c-dns, c-auth-id.
        ("w3c/lnav-logfile_w3c.1", 6, 1, [:]),
        // IIS FTP: time only, the day from #Date, which changes half-way.
        ("w3c/lnav-logfile_w3c.2", 8, 14, [:]),
        // IIS Advanced Logging: blank lines between directives, local time, quoted values, TimeTakenMS.
        ("w3c/lnav-logfile_w3c.3", 7, 3, [:]),
        // The #Fields: line declares 6 columns, the entry has 17 (a fixture for a truncated header).
        ("w3c/lnav-logfile_w3c.5", 1, 0, [2: .extraColumns]),
        ("w3c/lnav-logfile_w3c.6", 4, 1, [:]),
        ("w3c/lnav-logfile_w3c_big.0", 44, 210, [:]),
        // Its last line has 31 of the 33 declared columns (sc-range-start and sc-range-end are missing).
        ("w3c/test-cloudfront.log", 2, 11, [14: .missingColumn]),
        ("matomo-fixtures/iis.log", 4, 1, [:]),
        ("matomo-fixtures/iis_custom.log", 7, 3, [:]),
        ("matomo-fixtures/amazon_cloudfront_web.log", 2, 1, [:]),
        // RTMP: space-separated (copied from AWS's documentation), a zero-width space after x-page-url.
        ("matomo-fixtures/amazon_cloudfront_rtmp.log", 2, 2, [:]),
        // Incapsula: every value quoted, `""` for empty, an unparseable #Date (not needed: date column).
        ("matomo-fixtures/incapsula_w3c.log", 4, 2, [:]),
    ]

    @Test(arguments: realFiles.indices)
    func realFile(_ index: Int) throws {
        let file = Self.realFiles[index]
        guard let path = SharedData.path(file.path) else {
            print(SharedData.missing(file.path))
            return
        }
        let outcomes = parseAll(try Array(Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(outcomes.filter { $0 == .header }.count == file.headers, "\(file.path)")
        #expect(outcomes.compactMap(\.event).count == file.events, "\(file.path)")
        var rejects: [Int: RejectCode] = [:]
        for (number, outcome) in zip(1..., outcomes) {
            if case .rejected(let code, _) = outcome { rejects[number] = code }
        }
        #expect(rejects == file.rejects, "\(file.path)")
        for event in outcomes.compactMap(\.event) {
            #expect(event.time > 800_000_000 && event.time < 1_800_000_000, "\(file.path): \(event)")
            #expect(!event.client.isEmpty && !event.remoteUser.isEmpty)
        }
    }

    @Test func realFileDetails() throws {
        if let path = SharedData.path("matomo-fixtures/amazon_cloudfront_rtmp.log") {
            let rtmp = parseAll(try Array(Data(contentsOf: URL(fileURLWithPath: path)))).compactMap(\.event)
            #expect(rtmp.map { s($0.eventName) } == ["connect", "play"])
            #expect(rtmp.map { s($0.userAgent) } == ["LNX 10,0,32,18", "LNX 10,0,32,18"])
            #expect(rtmp[1].unmapped.contains("x-sname=myvideo"))
        } else {
            print(SharedData.missing("matomo-fixtures/amazon_cloudfront_rtmp.log"))
        }
        if let path = SharedData.path("matomo-fixtures/incapsula_w3c.log") {
            let incapsula = parseAll(try Array(Data(contentsOf: URL(fileURLWithPath: path)))).compactMap(\.event)
            #expect(incapsula.map { s($0.target) } == ["/page.php?variable=test", "/rss/news"])
            #expect(incapsula.map { s($0.host) } == ["www.example.com", "www.example.com"])
            #expect(incapsula.map(\.status) == [200, 0])
            // Location and visitor ids are client-side: unmapped, so they are scanned and never written.
            #expect(incapsula[0].unmapped.contains("cs-lat=32.0000"))
            #expect(incapsula[0].unmapped.contains("cs-vid=a1f36498-c34a-45b9-b3a5-ee0bd00f91b6"))
        } else {
            print(SharedData.missing("matomo-fixtures/incapsula_w3c.log"))
        }
        if let path = SharedData.path("w3c/lnav-logfile_w3c.1") {
            let oracle = try #require(parseAll(try Array(Data(contentsOf: URL(fileURLWithPath: path)))).compactMap(\.event).first)
            #expect(s(oracle.remoteUser) == "DMS.user" && oracle.bytes == 350 && oracle.isCombined)
            #expect(s(oracle.userAgent) == "Mozilla/4.5 [en] (WinNT; I)")
            #expect(oracle.unmapped == ["c-dns=client_joaz7"])
        } else {
            print(SharedData.missing("w3c/lnav-logfile_w3c.1"))
        }
    }
}
