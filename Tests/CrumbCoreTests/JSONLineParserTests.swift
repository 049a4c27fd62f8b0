import CrumbCore
import CrumbTestSupport
import Foundation
import Testing

/// The fields of a parsed JSON line as text, under short names; ranges are read from `decoded`, which
/// must hold all of them. Absent optional fields are left out.
private func render(_ event: AccessLogEvent, _ decoded: [UInt8]) -> [String: String] {
    func text(_ range: Range<Int>) -> String {
        precondition(range.upperBound <= decoded.count, "a range points outside decoded")
        return String(decoding: decoded[range], as: UTF8.self)
    }
    var out: [String: String] = [
        "time": String(event.time), "client": text(event.client), "user": text(event.remoteUser),
        "method": text(event.method), "target": text(event.target), "proto": text(event.requestProtocol),
        "valid": String(event.requestIsValid), "status": String(event.status), "bytes": String(event.bytes),
        "dnt": String(event.doNotTrack), "gpc": String(event.globalPrivacyControl), "combined": String(event.isCombined),
    ]
    if let range = event.referrer { out["ref"] = text(range) }
    if let range = event.userAgent { out["ua"] = text(range) }
    if let range = event.cookie { out["cookie"] = text(range) }
    if let range = event.forwardedFor { out["xff"] = text(range) }
    if let range = event.host { out["host"] = text(range) }
    if let range = event.eventName { out["event"] = text(range) }
    if let micros = event.durationMicros { out["dur"] = String(micros) }
    if !event.unmapped.isEmpty {
        out["unmapped"] = event.unmapped.map { text($0.name) + "=" + text($0.value) }.joined(separator: "|")
    }
    return out
}

/// Parses `bytes` with `parser`; every event must be `.decodedEvent`.
private func parse(_ bytes: [UInt8], _ parser: inout JSONLineParser) -> Result<[String: String], ParseFailure> {
    var decoded: [UInt8] = []
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(ParseFailure) in try parser.parse(raw, decoded: &decoded) }
    }
    return result.map { parsed in
        guard case .decodedEvent(let event) = parsed else { return ["result": "not a decoded event"] }
        return render(event, decoded)
    }
}

private func parse(_ line: String, mapping: JSONFieldMapping = JSONFieldMapping.preset(named: "beacon")!) -> Result<[String: String], ParseFailure> {
    var parser = JSONLineParser(mapping: mapping)
    return parse(Array(line.utf8), &parser)
}

private func mapping(_ entries: [(String, JSONFieldMapping.Role)]) -> JSONFieldMapping {
    try! JSONFieldMapping(entries.map { (path: $0.0, role: $0.1) })
}

struct JSONLineParserTests {
    static let beacon = #"{"ts":"2026-01-01T12:00:00Z","event":"page_view","url":"https://shop.example/p/1?utm_source=x#top","referrer":"https://search.example/?q=shoes","ua":"Mozilla/5.0 (X11; Linux x86_64)","ip":"203.0.113.9","visitor":"v-1f3a","props":{"plan":"pro","email":"jane@example.com","items":[3,"x",true,null],"nested":{"deep":{"er":1.5e3}}}}"#

    @Test func beaconShape() throws {
        let fields = try parse(Self.beacon).get()
        #expect(fields["time"] == "1767268800")
        #expect(fields["event"] == "page_view")
        #expect(fields["host"] == "shop.example")
        #expect(fields["target"] == "/p/1?utm_source=x")
        #expect(fields["valid"] == "true")
        #expect(fields["method"] == "")
        #expect(fields["ref"] == "https://search.example/?q=shoes")
        #expect(fields["ua"] == "Mozilla/5.0 (X11; Linux x86_64)")
        #expect(fields["client"] == "203.0.113.9")
        #expect(fields["status"] == "0")
        #expect(fields["combined"] == "true")
        #expect(fields["unmapped"] == "visitor=v-1f3a|plan=pro|email=jane@example.com|items=3|items=x|items=true|er=1.5e3")
    }

    /// One row per line: the fields it must yield (`"nil"`: must be absent).
    static let accepted: [(String, [String: String])] = [
        // epoch seconds with a fraction, milliseconds, microseconds (GA4), nanoseconds, numeric strings
        (#"{"ts":1767268800.999}"#, ["time": "1767268800", "valid": "false", "target": ""]),
        (#"{"ts":1767268800123}"#, ["time": "1767268800"]),
        (#"{"ts":1767268800123456}"#, ["time": "1767268800"]),
        (#"{"ts":1767268800123456789}"#, ["time": "1767268800"]),
        (#"{"ts":"1767268800"}"#, ["time": "1767268800"]),
        (#"{"ts":1.7672688e9}"#, ["time": "1767268800"]),
        // ISO-8601: zones, fractions, no zone (UTC), space separator, leap day; Apache %t with and without brackets
        (#"{"ts":"2026-01-01T13:30:00+01:30"}"#, ["time": "1767268800"]),
        (#"{"ts":"2026-01-01T07:00:00.123456789-0500"}"#, ["time": "1767268800"]),
        (#"{"ts":"2026-01-01T14:00:00+02"}"#, ["time": "1767268800"]),
        (#"{"ts":"2026-01-01 12:00:00"}"#, ["time": "1767268800"]),
        (#"{"ts":"2026-01-01t12:00:00,5z"}"#, ["time": "1767268800"]),
        (#"{"ts":"2024-02-29T00:00:00Z"}"#, ["time": "1709164800"]),
        (#"{"ts":"10/Oct/2000:13:55:36 -0700"}"#, ["time": "971211336"]),
        (#"{"ts":"[10/Oct/2000:13:55:36 -0700]"}"#, ["time": "971211336"]),
        // URL forms: no path, no path but a query, user info and port, origin-form, relative, fragment only
        (#"{"ts":0,"url":"https://shop.example"}"#, ["target": "/", "host": "shop.example", "valid": "true"]),
        (#"{"ts":0,"url":"https://shop.example?a=1#f"}"#, ["target": "/?a=1", "host": "shop.example"]),
        (#"{"ts":0,"url":"http://user:pw@shop.example:8080/x?y=1"}"#, ["target": "/x?y=1", "host": "shop.example"]),
        (#"{"ts":0,"url":"http://[2001:db8::1]:8080/v6"}"#, ["target": "/v6", "host": "2001:db8::1"]),
        (#"{"ts":0,"url":"/p/1?q=2#frag"}"#, ["target": "/p/1?q=2"]),
        (#"{"ts":0,"url":"p/relative"}"#, ["target": "p/relative", "valid": "true"]),
        (##"{"ts":0,"url":"#only"}"##, ["target": "", "valid": "false"]),
        (#"{"ts":0,"url":"https://a.example/","host":"b.example"}"#, ["host": "b.example", "target": "/"]),
        // addresses: port cut from IPv4 and bracketed IPv6, bare IPv6 kept, brackets without port
        (#"{"ts":0,"ip":"1.2.3.4:5678"}"#, ["client": "1.2.3.4"]),
        (#"{"ts":0,"ip":"[2001:db8::1]:443"}"#, ["client": "2001:db8::1"]),
        (#"{"ts":0,"ip":"2001:db8::1"}"#, ["client": "2001:db8::1"]),
        (#"{"ts":0,"ip":"[::1]"}"#, ["client": "::1"]),
        // escapes decode into the values
        (#"{"ts":0,"ua":"say \"hi\" \\ caf\u00e9 \ud83d\ude00"}"#, ["ua": #"say "hi" \ café 😀"#]),
        // absent values: "", "-", null, and a boolean where text is wanted
        (#"{"ts":0,"referrer":"-","ua":"","event":null,"ip":true}"#, ["client": "", "combined": "true", "ref": "nil", "ua": "nil", "event": "nil"]),
        // DNT / GPC: 1, "1", true; anything else leaves the flag down
        (#"{"ts":0,"dnt":1,"gpc":"1"}"#, ["dnt": "true", "gpc": "true"]),
        (#"{"ts":0,"dnt":true,"gpc":"0"}"#, ["dnt": "true", "gpc": "false"]),
        (#"{"ts":0,"dnt":"yes","gpc":false}"#, ["dnt": "false", "gpc": "false"]),
        // duplicate keys: the first wins for a role; unmapped duplicates are all kept
        (#"{"ts":0,"ua":"first","ua":"second","x":1,"x":2}"#, ["ua": "first", "unmapped": "x=1|x=2"]),
        (#"{"ts":"2026-01-01T12:00:00Z","ts":"garbage"}"#, ["time": "1767268800"]),
        // unmapped leaves at depth and inside arrays, named by their own key; empty containers yield nothing
        (#"{"ts":0,"a":{"b":[{"c":"d"},["e",{"f":false}]]},"g":{},"h":[]}"#, ["unmapped": "c=d|b=e|f=false"]),
        (#"{"ts":0,"props":{"url":"https://not-the-url.example/"}}"#, ["target": "", "unmapped": "url=https://not-the-url.example/"]),
        // non-UTF-8 and control escapes survive as bytes (rendered lossily here)
        (#"{"ts":0,"event":"tab\tnl\n"}"#, ["event": "tab\tnl\n"]),
    ]

    @Test(arguments: accepted)
    func accepts(_ line: String, _ expected: [String: String]) throws {
        let fields = try parse(line).get()
        for (key, value) in expected {
            #expect(fields[key] == (value == "nil" ? nil : value), "\(key) in \(line)")
        }
        if expected["unmapped"] == nil { #expect(fields["unmapped"] == nil, "\(line)") }
    }

    static let proxy = mapping([
        ("time", .time), ("status", .status), ("bytes", .bytes), ("d_s", .durationSeconds),
        ("d_ms", .durationMilliseconds), ("d_us", .durationMicroseconds), ("d_ns", .durationNanoseconds),
        ("path", .path), ("query", .query), ("method", .method), ("user", .remoteUser), ("proto", .requestProtocol),
        ("cookie", .cookie), ("xff", .forwardedFor), ("skip", .ignore),
    ])

    static let proxyLines: [(String, [String: String])] = [
        (#"{"time":0,"status":404,"bytes":"512","d_s":0.001335486}"#, ["status": "404", "bytes": "512", "dur": "1335"]),
        (#"{"time":0,"status":"200","bytes":"-","d_ms":0.008}"#, ["status": "200", "bytes": "0", "dur": "8"]),
        (#"{"time":0,"status":0,"d_us":"1234"}"#, ["status": "0", "dur": "1234"]),
        (#"{"time":0,"d_ns":10002425284}"#, ["dur": "10002425"]),
        (#"{"time":0,"d_s":1e-3}"#, ["dur": "1000"]),
        (#"{"time":0,"path":"/a/b","query":"x=1&y=2","method":"POST","proto":"HTTP/1.1"}"#,
         ["target": "/a/b?x=1&y=2", "method": "POST", "proto": "HTTP/1.1", "valid": "true", "combined": "false"]),
        (#"{"time":0,"query":"?x=1","path":"/a"}"#, ["target": "/a?x=1"]),
        (#"{"time":0,"path":"/a","query":""}"#, ["target": "/a"]),
        (#"{"time":0,"user":"frank","cookie":"sid=1; a=2","xff":"203.0.113.9, 10.0.0.1"}"#,
         ["user": "frank", "cookie": "sid=1; a=2", "xff": "203.0.113.9, 10.0.0.1"]),
        // an ignored value is skipped whole, whatever it holds
        (#"{"time":0,"skip":{"deep":[1,{"email":"jane@example.com"}],"s":"\u00e9"}}"#, [:]),
        (#"{"time":0,"skip":"x","skip":{"y":1}}"#, [:]),
    ]

    @Test(arguments: proxyLines)
    func readsNumbersAndRequests(_ line: String, _ expected: [String: String]) throws {
        let fields = try parse(line, mapping: Self.proxy).get()
        for (key, value) in expected {
            #expect(fields[key] == value, "\(key) in \(line)")
        }
        #expect(fields["unmapped"] == nil, "\(line)")
    }

    /// One row per bad line: the code and where it must be reported.
    static let rejected: [(String, RejectCode, Int)] = [
        ("", .badJSON, 0),
        ("[]", .badJSON, 0),
        (#""just a string""#, .badJSON, 0),
        (#"{"time":0"#, .badJSON, 9),
        (#"{"time":0} trailing"#, .badJSON, 11),
        (#"{"time":0}{"time":1}"#, .badJSON, 10),
        (#"{"time":0,"s":"\q"}"#, .badJSON, 15),
        (#"{"time":0,"s":"unterminated}"#, .badJSON, 14),
        (#"{"status":200}"#, .missingField, 14),
        (#"{"time":null}"#, .missingField, 13),
        (#"{"time":"-"}"#, .missingField, 12),
        (#"{"time":"yesterday"}"#, .badTimestamp, 8),
        (#"{"time":"2026-02-30T00:00:00Z"}"#, .badTimestamp, 8),
        (#"{"time":"2026-01-01T24:00:00Z"}"#, .badTimestamp, 8),
        (#"{"time":"2026-01-01T12:00:00+2"}"#, .badTimestamp, 8),
        (#"{"time":"2026-01-01T12:00:00Zjunk"}"#, .badTimestamp, 8),
        (#"{"time":"2026-01-01"}"#, .badTimestamp, 8),
        (#"{"time":true}"#, .badTimestamp, 8),
        (#"{"time":1e400}"#, .badTimestamp, 8),
        (#"{"time":0,"status":"OK"}"#, .badStatus, 19),
        (#"{"time":0,"status":2000}"#, .badStatus, 19),
        (#"{"time":0,"status":200.5}"#, .badStatus, 19),
        (#"{"time":0,"status":-1}"#, .badStatus, 19),
        (#"{"time":0,"bytes":-5}"#, .badBytes, 18),
        (#"{"time":0,"bytes":"1k"}"#, .badBytes, 18),
        (#"{"time":0,"bytes":false}"#, .badBytes, 18),
        (#"{"time":0,"d_s":"fast"}"#, .badNumber, 16),
        (#"{"time":0,"d_ms":-1}"#, .badNumber, 17),
        (#"{"time":0,"d_ns":true}"#, .badNumber, 17),
        (#"{"time":0,"d_s":1e30}"#, .badNumber, 16),
    ]

    @Test(arguments: rejected)
    func rejects(_ line: String, _ code: RejectCode, _ offset: Int) {
        #expect(throws: ParseFailure(code, at: offset)) { try parse(line, mapping: Self.proxy).get() }
    }

    @Test func rejectsNestingPastTheLimit() {
        let line = #"{"time":0,"a":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
        #expect(throws: ParseFailure(.badJSON, at: 45)) { try parse(line, mapping: Self.proxy).get() }
        var deep = JSONLineParser(mapping: Self.proxy, maxDepth: 64)
        #expect((try? parse(Array(line.utf8), &deep).get()) != nil)
    }

    @Test func keepsNonUTF8BytesAndNginxHexEscapes() throws {
        // A Latin-1 user agent written raw, and nginx's default escaping of a UTF-8 one.
        var raw = Array(#"{"ts":0,"ua":"caf"#.utf8) + [0xE9] + Array(#"","event":"\xC3\xA9t\xC3\xA9 \x22q\x22"}"#.utf8)
        var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
        var decoded: [UInt8] = []
        let result = try raw.withUnsafeBytes { try parser.parse($0, decoded: &decoded) }
        guard case .decodedEvent(let event) = result, let ua = event.userAgent, let name = event.eventName else {
            Issue.record("no event")
            return
        }
        #expect(Array(decoded[ua]) == Array("caf".utf8) + [0xE9])
        #expect(String(decoding: decoded[name], as: UTF8.self) == #"été "q""#)
        raw.removeLast(2)
        #expect(throws: ParseFailure(.badJSON, at: 28)) { try parse(raw, &parser).get() }
    }

    @Test func rangesPointIntoDecodedAndScratchIsReused() throws {
        var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
        var decoded: [UInt8] = []
        for line in [Self.beacon, #"{"ts":0,"url":"/x"}"#, Self.beacon] {
            let bytes = Array(line.utf8)
            let result = try bytes.withUnsafeBytes { try parser.parse($0, decoded: &decoded) }
            guard case .decodedEvent(let event) = result else { Issue.record("not decoded"); continue }
            var ranges = [event.client, event.remoteUser, event.method, event.target, event.requestProtocol]
            ranges += [event.referrer, event.userAgent, event.cookie, event.forwardedFor, event.host, event.eventName].compactMap { $0 }
            ranges += event.unmapped.flatMap { [$0.name, $0.value] }
            for range in ranges { #expect(range.upperBound <= decoded.count) }
        }
        // The same line parses to the same fields whatever came before it.
        #expect(try parse(Array(Self.beacon.utf8), &parser).get() == parse(Self.beacon).get())
    }

    @Test func anEventKeptByTheCallerSurvivesTheNextLine() throws {
        var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
        var first: [UInt8] = []
        var second: [UInt8] = []
        let kept = try Array(#"{"ts":0,"a":"x","b":"y"}"#.utf8).withUnsafeBytes { try parser.parse($0, decoded: &first) }
        _ = try Array(#"{"ts":0,"zzzz":"w"}"#.utf8).withUnsafeBytes { try parser.parse($0, decoded: &second) }
        guard case .decodedEvent(let event) = kept else { Issue.record("not decoded"); return }
        #expect(render(event, first)["unmapped"] == "a=x|b=y")
    }

    // MARK: Mapping

    @Test func mappingPathsEscapesAndHeaderCase() throws {
        let custom = mapping([
            ("t", .time), ("labels.app\\.kubernetes\\.io", .host), ("odd\\\\key", .event),
            ("request.headers.user-agent", .userAgent), ("request.Headers.Referer", .referrer),
            ("events.name", .url),
        ])
        let line = #"{"t":0,"labels":{"app.kubernetes.io":"shop","app":{"kubernetes":{"io":"no"}}},"odd\\key":"ev","#
            + #""request":{"headers":{"User-Agent":["UA 1","UA 2"]},"Headers":{"referer":"case kept outside headers"}},"#
            + #""events":[{"name":"/first"},{"name":"/second"}]}"#
        let fields = try parse(line, mapping: custom).get()
        #expect(fields["host"] == "shop")
        #expect(fields["event"] == "ev")
        #expect(fields["ua"] == "UA 1")
        #expect(fields["ref"] == nil)
        #expect(fields["target"] == "/first")
        #expect(fields["unmapped"] == "io=no|referer=case kept outside headers")
    }

    @Test func fallbackPathsFollowTheMappingOrder() throws {
        let fallback = mapping([("t", .time), ("a", .clientIP), ("b", .clientIP)])
        #expect(try parse(#"{"t":0,"b":"2.2.2.2","a":"1.1.1.1"}"#, mapping: fallback).get()["client"] == "1.1.1.1")
        #expect(try parse(#"{"t":0,"b":"2.2.2.2:80"}"#, mapping: fallback).get()["client"] == "2.2.2.2")
        #expect(try parse(#"{"t":0,"a":"-","b":"2.2.2.2"}"#, mapping: fallback).get()["client"] == "2.2.2.2")
        // A value that loses to a better path is dropped, not reported as unmapped.
        #expect(try parse(#"{"t":0,"a":"1.1.1.1","b":"2.2.2.2"}"#, mapping: fallback).get()["unmapped"] == nil)
    }

    static let badMappings: [([(String, JSONFieldMapping.Role)], JSONMappingError)] = [
        ([("t", .time), ("", .host)], .emptySegment("")),
        ([("t", .time), ("a..b", .host)], .emptySegment("a..b")),
        ([("t", .time), ("a.", .host)], .emptySegment("a.")),
        ([("t", .time), (".a", .host)], .emptySegment(".a")),
        ([("t", .time), ("a\\b", .host)], .badEscape("a\\b")),
        ([("t", .time), ("a\\", .host)], .badEscape("a\\")),
        ([("t", .time), ("a", .host), ("a", .ignore)], .duplicatePath("a")),
        ([("t", .time), ("h.headers.DNT", .doNotTrack), ("h.headers.dnt", .globalPrivacyControl)], .duplicatePath("h.headers.dnt")),
        ([("t", .time), ("request", .ignore), ("request.uri", .url)], .nestedPath("request.uri", under: "request")),
        ([("t", .time), ("request.uri", .url), ("request", .ignore)], .nestedPath("request.uri", under: "request")),
        ([("t.x", .time), ("t", .time)], .nestedPath("t.x", under: "t")),
        ([("ts", .host)], .missingTime),
        ([], .missingTime),
    ]

    @Test(arguments: badMappings)
    func refusesBadMappings(_ entries: [(String, JSONFieldMapping.Role)], _ error: JSONMappingError) {
        #expect(throws: error) { try JSONFieldMapping(entries.map { (path: $0.0, role: $0.1) }) }
        #expect(!error.description.isEmpty)
    }

    @Test func roleNamesAndPresets() throws {
        #expect(throws: JSONMappingError.unknownRole("useragent", path: "ua")) {
            try JSONFieldMapping(roleNames: [("ts", "time"), ("ua", "useragent")])
        }
        let named = try JSONFieldMapping(roleNames: [("ts", "time"), ("d", "duration_ms"), ("p", "protocol")])
        #expect(named.entries.map { $0.role } == [.time, .durationMilliseconds, .requestProtocol])
        #expect(JSONFieldMapping.Role.allCases.map(\.rawValue) == [
            "time", "client_ip", "remote_user", "method", "url", "path", "query", "protocol", "status", "bytes",
            "referrer", "user_agent", "cookie", "forwarded_for", "host", "duration_s", "duration_ms", "duration_us",
            "duration_ns", "event", "dnt", "gpc", "ignore",
        ])
        for name in JSONFieldMapping.presetNames {
            let preset = try #require(JSONFieldMapping.preset(named: name))
            #expect(preset.maps(.time))
            #expect(try JSONFieldMapping(preset.entries) == preset)
            #expect(try JSONFieldMapping(preset.entries + [("extra", .ignore)]) != preset)
        }
        #expect(JSONFieldMapping.preset(named: "nope") == nil)
        let quoted = mapping([("ts", .time), ("a\\.b,\"c\"=d", .ignore)])
        #expect(quoted.canonicalText == #""ts"=time,"a\\.b,\"c\"=d"=ignore"#)
        #expect(JSONFieldMapping.preset(named: "beacon")!.canonicalText.hasPrefix(#""ts"=time,"event"=event,"url"=url"#))
        #expect(JSONLineParser(mapping: JSONFieldMapping.preset(named: "caddy")!).formatName == "json")
    }

    // MARK: Real files and chunking

    /// The three Matomo JSON fixtures, each with its preset: every line parses, with these fields.
    static let fixtures: [(file: String, preset: String, lines: [[String: String]])] = [
        ("caddy_json.log", "caddy", [
            ["time": "1703373474", "client": "1.2.3.4", "method": "GET", "host": "example.com", "target": "/beta/",
             "proto": "HTTP/2.0", "status": "200", "bytes": "3609", "dur": "1335", "dnt": "true", "gpc": "true",
             "ua": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0", "user": "",
             "unmapped": "Te=trailers|Accept=text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/jxl,image/webp,*/*;q=0.8"
                + "|Upgrade-Insecure-Requests=1|Sec-Fetch-Mode=navigate|Sec-Fetch-Dest=document|Sec-Fetch-Site=none"
                + "|Sec-Fetch-User=?1|Accept-Language=en-IE|Accept-Encoding=gzip, deflate, br"],
            ["time": "1703373474", "target": "/beta/assets/index-mMaLXldj.css", "bytes": "34534", "dur": "1436",
             "ref": "https://example.com/beta/"],
            ["time": "1703373475", "target": "/beta/assets/index-HIcRLzdf.js", "bytes": "217912", "dur": "242570",
             "ref": "https://example.com/beta/", "dnt": "true", "gpc": "true"],
        ]),
        ("nginx_json.log", "nginx_json", [
            ["time": "1381416720", "client": "1.2.3.4", "host": "www.piwik.org", "status": "200", "bytes": "192",
             "dur": "8000", "ref": "http://clearcode.cc/", "method": "", "valid": "true",
             "ua": "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.17 (KHTML, like Gecko) Chrome/24.0.1312.57 Safari/537.17"],
            ["time": "1381416720", "status": "200"],
        ]),
        ("traefik_json.log", "traefik", [
            ["time": "1691753961", "client": "1.2.3.4", "user": "", "method": "GET", "target": "/my/app/auth?id=1234&user=dude",
             "proto": "HTTP/1.1", "host": "localhost", "status": "200", "bytes": "15", "dur": "10002425",
             "ua": "Prometheus/2.40.5", "ref": "www.example.com"],
        ]),
    ]

    @Test(arguments: fixtures.indices)
    func parsesTheMatomoFixtures(_ index: Int) throws {
        let fixture = Self.fixtures[index]
        guard let path = SharedData.path("matomo-fixtures/" + fixture.file) else {
            print(SharedData.missing("matomo-fixtures/" + fixture.file))
            return
        }
        var parser = JSONLineParser(mapping: try #require(JSONFieldMapping.preset(named: fixture.preset)))
        let results = try Self.parseFile(Array(Data(contentsOf: URL(fileURLWithPath: path))), with: &parser, split: .whole)
        #expect(results.count == fixture.lines.count)
        for (number, (result, expected)) in zip(results, fixture.lines).enumerated() {
            guard case .success(let fields) = result else {
                Issue.record("\(fixture.file):\(number + 1): \(result)")
                continue
            }
            for (key, value) in expected {
                #expect(fields[key] == value, "\(fixture.file):\(number + 1) \(key)")
            }
            if fixture.preset != "caddy" { #expect(fields["unmapped"] == nil, "\(fixture.file):\(number + 1)") }
        }
        // The nginx fixture's path is Matomo's tracker request: the whole request URI is the target.
        if fixture.preset == "nginx_json", case .success(let fields) = results[0] {
            #expect(fields["target"]?.hasPrefix("/piwik.php?action_name=Clearcode%20-%20Web") == true)
            #expect(fields["target"]?.hasSuffix("&res=1680x1050") == true)
        }
    }

    @Test func traefikClientAddrCarriesAPort() throws {
        guard let path = SharedData.path("matomo-fixtures/traefik_json.log") else {
            print(SharedData.missing("matomo-fixtures/traefik_json.log"))
            return
        }
        let line = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")[0]
        let addrOnly = mapping([("StartUTC", .time), ("ClientAddr", .clientIP)])
        let fields = try parse(String(line), mapping: addrOnly).get()
        #expect(fields["client"] == "172.20.0.1")
        #expect(fields["unmapped"]?.contains("ClientHost=1.2.3.4") == true)
        #expect(fields["unmapped"]?.contains("Host=apache:80") == true)
        #expect(fields["unmapped"]?.contains("|User=") == false)  // null is skipped
    }

    /// The same bytes through `LineFramer` whole, byte by byte and in random chunks parse identically.
    @Test func chunkingDoesNotChangeResults() throws {
        var text = [Self.beacon, #"{"ts":0,"event":"\u00e9\ud83d\ude00","url":"/a?b=c","ip":"[::1]:9"}"#,
                    #"{"ts":"bad"}"#, #"{"ts":0,"#, "", #"{"ts":1767268800123,"props":{"a":[1,[2,{"b":"c"}]]}}"#]
            .joined(separator: "\n") + "\r\n" + #"{"ts":0,"ua":"crlf"}"# + "\r\n"
        text += Self.fixtureText()
        let bytes = Array(text.utf8)
        var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "beacon")!)
        let whole = try Self.parseFile(bytes, with: &parser, split: .whole)
        #expect(whole.count >= 7)
        #expect(try Self.parseFile(bytes, with: &parser, split: .bytes(1)) == whole)
        for seed in [1, 2, 3, 42] as [UInt64] {
            #expect(try Self.parseFile(bytes, with: &parser, split: .random(seed: seed, maxChunk: 97)) == whole)
        }
    }

    static func fixtureText() -> String {
        ["caddy_json.log", "nginx_json.log", "traefik_json.log"].compactMap { name in
            SharedData.path("matomo-fixtures/" + name).flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        }.joined()
    }

    /// Frames `bytes` cut as `split` says and parses every line (fields, or the failure).
    static func parseFile(_ bytes: [UInt8], with parser: inout JSONLineParser,
                          split: ChunkingVerifier.Split) throws -> [Result<[String: String], ParseFailure>] {
        var framer = LineFramer()
        var results: [Result<[String: String], ParseFailure>] = []
        var decoded: [UInt8] = []
        var state: UInt64 = 0
        if case .random(let seed, _) = split { state = seed }
        func collect(_ frame: LineFramer.Frame) {
            guard case .line(let line, _) = frame else { return }
            let result = Result { () throws(ParseFailure) in try parser.parse(line, decoded: &decoded) }
            results.append(result.map { parsed in
                guard case .decodedEvent(let event) = parsed else { return [:] }
                return render(event, decoded)
            })
        }
        bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                var size = all.count
                switch split {
                case .whole: size = all.count
                case .bytes(let n): size = n
                case .random(_, let maxChunk):
                    state &+= 0x9E37_79B9_7F4A_7C15
                    size = 1 + Int((state ^ (state >> 31)) % UInt64(maxChunk))
                }
                let end = min(all.count, offset + size)
                framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), collect)
                offset = end
            }
            framer.finish(collect)
        }
        return results
    }
}
