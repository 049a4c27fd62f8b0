import CrumbCore
import CrumbTestSupport
import Foundation
import Testing

/// A format in a test row: compiled when the row runs, so that a compile error fails that row only.
enum LogFormatUnderTest: Sendable, CustomStringConvertible {
    case apache(String)
    case nginx(String)
    case preset(String)

    func program() throws -> FormatProgram {
        switch self {
        case .apache(let format): return try FormatProgram.apache(format)
        case .nginx(let format): return try FormatProgram.nginx(format)
        case .preset(let name):
            guard let program = FormatPresets.program(named: name) else { throw PresetMissing(name: name) }
            return program
        }
    }

    var description: String {
        switch self {
        case .apache(let format): "apache:\(format)"
        case .nginx(let format): "nginx:\(format)"
        case .preset(let name): name
        }
    }

    struct PresetMissing: Error { var name: String }
}

/// A parsed line, with the buffer its ranges point into.
struct ParsedFormatLine: Equatable {
    var event: AccessLogEvent
    var buffer: [UInt8]
    var decoded: Bool

    func text(_ range: Range<Int>?) -> String? {
        range.map { String(decoding: buffer[$0], as: UTF8.self) }
    }

    /// Every field as text, keyed by a short name; absent fields have no key.
    var fields: [String: String] {
        var out: [String: String] = [
            "client": text(event.client)!, "user": text(event.remoteUser)!, "time": CivilTime.iso8601(event.time),
            "status": "\(event.status)", "bytes": "\(event.bytes)", "valid": "\(event.requestIsValid)",
            "combined": "\(event.isCombined)", "decoded": "\(decoded)", "dnt": "\(event.doNotTrack)",
            "gpc": "\(event.globalPrivacyControl)",
            "unmapped": event.unmapped.map { text($0.name)! + "=" + text($0.value)! }.joined(separator: "|"),
        ]
        if event.requestIsValid {
            out["method"] = text(event.method)
            out["target"] = text(event.target)
            out["proto"] = text(event.requestProtocol)
        }
        out["referrer"] = text(event.referrer)
        out["ua"] = text(event.userAgent)
        out["cookie"] = text(event.cookie)
        out["xff"] = text(event.forwardedFor)
        out["host"] = text(event.host)
        out["duration"] = event.durationMicros.map { "\($0)" }
        return out
    }
}

/// Parses one line with a fresh parser.
private func parseLine(_ program: FormatProgram, _ bytes: [UInt8]) -> Result<ParsedFormatLine, ParseFailure> {
    var parser = FormatStringParser(program)
    var decoded: [UInt8] = []
    return parseLine(&parser, bytes, decoded: &decoded)
}

/// Parses one line with `parser`, reusing `decoded`.
private func parseLine(_ parser: inout FormatStringParser, _ bytes: [UInt8], decoded: inout [UInt8]) -> Result<ParsedFormatLine, ParseFailure> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(ParseFailure) in
            switch try parser.parse(raw, decoded: &decoded) {
            case .event(let event): ParsedFormatLine(event: event, buffer: bytes, decoded: false)
            case .decodedEvent(let event): ParsedFormatLine(event: event, buffer: decoded, decoded: true)
            case .header: ParsedFormatLine(event: AccessLogEvent(), buffer: [], decoded: false)
            }
        }
    }
}

/// One accepted line: the format, the line, and the fields that must come out (`"nil"`: absent).
struct FormatVector: Sendable, CustomTestStringConvertible {
    var format: LogFormatUnderTest
    var line: String
    var expect: [String: String]

    init(_ format: LogFormatUnderTest, _ line: String, _ expect: [String: String]) {
        (self.format, self.line, self.expect) = (format, line, expect)
    }

    var testDescription: String { "\(format) ← \(line.prefix(60))" }
}

private let common = LogFormatUnderTest.preset("common")
private let combined = LogFormatUnderTest.preset("combined")
private let day = "[01/Jan/2026:00:00:00 +0000]"

struct FormatStringTests {
    // MARK: Apache

    static let apacheVectors: [FormatVector] = [
        FormatVector(common, #"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#, [
            "client": "1.2.3.4", "user": "frank", "time": "2000-10-10T20:55:36Z", "method": "GET",
            "target": "/apache_pb.gif", "proto": "HTTP/1.0", "status": "200", "bytes": "2326", "combined": "false",
            "referrer": "nil", "decoded": "false",
        ]),
        // every optional field `-`
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 304 - "-" "-""#, [
            "status": "304", "bytes": "0", "referrer": "nil", "ua": "nil", "combined": "true", "user": "-",
        ]),
        // escaped quotes and backslashes stay escaped in the ranges
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET /a\"b HTTP/1.1" 200 5 "http://x/\"y\"" "Mozilla \"q\" \\ UA""#, [
            "target": #"/a\"b"#, "referrer": #"http://x/\"y\""#, "ua": #"Mozilla \"q\" \\ UA"#,
        ]),
        FormatVector(combined, #"2001:db8::1 - - [05/Sep/2010:11:27:50 +0200] "GET /b HTTP/1.1" 200 1 "-" "UA""#, [
            "client": "2001:db8::1", "time": "2010-09-05T09:27:50Z",
        ]),
        // a user agent cut without its closing quote runs to the end of the line
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#, [
            "ua": "Mozilla/5.0 (compatible; Googlebot/2.1",
        ]),
        FormatVector(common, #"1.2.3.4 - "jane doe" \#(day) "GET / HTTP/1.1" 200 5"#, ["user": "jane doe"]),
        // leap day, a zone with minutes, crossing midnight
        FormatVector(common, #"1.2.3.4 - - [29/Feb/2024:23:30:00 -0130] "GET / HTTP/1.1" 200 5"#, ["time": "2024-03-01T01:00:00Z"]),
        FormatVector(common, #"1.2.3.4 - - \#(day) "\x16\x03\x01" 400 0"#, ["valid": "false", "status": "400"]),
        FormatVector(common, #"1.2.3.4 - - \#(day) "-" 408 -"#, ["valid": "false", "status": "408", "bytes": "0"]),
        // request headers: roles, opt-out signals, and an unmapped one
        FormatVector(.apache(#"%h %t "%r" %>s %b "%{Cookie}i" "%{X-Forwarded-For}i" %{DNT}i %{sec-gpc}i "%{X-Request-Id}i""#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 "a=1; b=2" "203.0.113.9, 10.0.0.1" 1 1 "req-42""#, [
            "cookie": "a=1; b=2", "xff": "203.0.113.9, 10.0.0.1", "dnt": "true", "gpc": "true", "unmapped": "=req-42",
            "combined": "false", "decoded": "false",
        ]),
        FormatVector(.apache(#"%h %t "%r" %>s %b "%{Cookie}i" "%{X-Forwarded-For}i" %{DNT}i %{sec-gpc}i "%{X-Request-Id}i""#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 "-" "-" - 0 "-""#, [
            "cookie": "nil", "xff": "nil", "dnt": "false", "gpc": "false", "unmapped": "",
        ]),
        // named cookies are assembled into a Cookie value
        FormatVector(.apache(#"%h %t "%r" %>s %b %{visitor}C %{session}C"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 abc s1"#, [
            "cookie": "visitor=abc; session=s1", "decoded": "true", "client": "1.2.3.4", "target": "/",
        ]),
        FormatVector(.apache(#"%h %t "%r" %>s %b %{visitor}C %{session}C"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 - -"#, [
            "cookie": "nil", "decoded": "false",
        ]),
        // ... unless the Cookie header itself is logged
        FormatVector(.apache(#"%h %t "%r" %>s %b "%{Cookie}i" %{visitor}C"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 "visitor=abc" abc"#, [
            "cookie": "visitor=abc", "decoded": "false",
        ]),
        // durations
        FormatVector(.apache("%h %t %D"), "1.2.3.4 \(day) 1234", ["duration": "1234"]),
        FormatVector(.apache("%h %t %D"), "1.2.3.4 \(day) -", ["duration": "nil"]),
        FormatVector(.apache("%h %t %T"), "1.2.3.4 \(day) 2", ["duration": "2000000"]),
        FormatVector(.apache("%h %t %{ms}T"), "1.2.3.4 \(day) 15", ["duration": "15000"]),
        FormatVector(.apache("%h %t %{us}T"), "1.2.3.4 \(day) 15", ["duration": "15"]),
        FormatVector(.apache("%h %t %T %D"), "1.2.3.4 \(day) 0 1234", ["duration": "1234"]),  // %D wins
        // hosts
        FormatVector(.preset("common_vhost"), #"www.example.com 1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5"#, ["host": "www.example.com"]),
        FormatVector(.apache(#"%h %t "%r" %>s %b "%{Host}i""#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 "shop.example""#, ["host": "shop.example"]),
        FormatVector(.preset("vhost_combined"), #"www.example.com:443 1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 "-" "UA""#, [
            "host": "www.example.com", "bytes": "5", "ua": "UA",
        ]),
        // the request from its parts
        FormatVector(.apache(#"%h %t "%m %U%q %H" %>s %b"#), #"1.2.3.4 \#(day) "GET /p?q=1 HTTP/1.1" 200 5"#, [
            "method": "GET", "target": "/p?q=1", "proto": "HTTP/1.1", "decoded": "false",
        ]),
        FormatVector(.apache(#"%h %t "%m %U%q %H" %>s %b"#), #"1.2.3.4 \#(day) "POST /p HTTP/1.1" 200 5"#, [
            "method": "POST", "target": "/p", "proto": "HTTP/1.1",
        ]),
        // absolute-form targets become origin-form; their host is used when no host field is set
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET http://Example.com:8080/a?b=1 HTTP/1.1" 200 5 "-" "UA""#, [
            "target": "/a?b=1", "host": "Example.com", "decoded": "false",
        ]),
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET https://[2001:db8::1]:443/x HTTP/2.0" 200 5 "-" "UA""#, [
            "target": "/x", "host": "[2001:db8::1]",
        ]),
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET http://example.com HTTP/1.1" 200 5 "-" "UA""#, [
            "target": "/", "host": "example.com", "decoded": "true", "client": "1.2.3.4",
        ]),
        FormatVector(combined, #"1.2.3.4 - - \#(day) "GET http://example.com?x=1 HTTP/1.1" 200 5 "-" "UA""#, [
            "target": "/?x=1", "host": "example.com", "decoded": "true",
        ]),
        FormatVector(.preset("common_vhost"), #"vhost.example 1.2.3.4 - - \#(day) "GET http://other.example/a HTTP/1.1" 200 5"#, [
            "target": "/a", "host": "vhost.example",
        ]),
        // status conditions and modifiers are accepted; a failed condition logs `-`
        FormatVector(.apache(#"%h %t "%r" %<s %>s %b "%400,501{User-agent}i" "%!200,304{Referer}i""#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 302 404 5 "UA" "-""#, ["status": "404", "ua": "UA", "referrer": "nil"]),
        // server-side fields are read and dropped
        FormatVector(.apache(#"%h %A %p %{remote}p %P %{tid}P %k %X %R %f %L %I %O %S %{Location}o %^ti %{X}^to %t "%r" %>s %b"#),
               #"1.2.3.4 10.0.0.1 80 51234 123 456 0 + handler /var/www/x ABC 300 400 700 /next - - \#(day) "GET / HTTP/1.1" 200 5"#, [
            "client": "1.2.3.4", "bytes": "5", "unmapped": "",
        ]),
        FormatVector(.apache(#"%h %t "%r" %>s %O"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 700"#, ["bytes": "700"]),
        // environment variables and notes are unmapped
        FormatVector(.apache(#"%h %t "%r" %>s %b %{UNIQUE_ID}e %{ratio}n"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 Zx9 42"#, [
            "unmapped": "=Zx9|=42",
        ]),
        // client: %a and %h win over %{c}a
        FormatVector(.apache("%{c}a %a %t"), "10.0.0.1 203.0.113.7 \(day)", ["client": "203.0.113.7"]),
        FormatVector(.apache("%{c}a %t"), "10.0.0.1 \(day)", ["client": "10.0.0.1"]),
        // config-file escapes in the format
        FormatVector(.apache(#"%h %t \"%r\" %>s %b"#), #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5"#, ["target": "/"]),
        FormatVector(.apache("%h\\t%t\\t%>s"), "1.2.3.4\t\(day)\t200", ["status": "200"]),
        FormatVector(.apache("%h %t 100%% %>s"), "1.2.3.4 \(day) 100% 200", ["status": "200"]),
    ]

    static let timeVectors: [FormatVector] = [
        FormatVector(.apache("%h [%{%Y-%m-%d %H:%M:%S}t] %>s"), "1.2.3.4 [2026-01-02 03:04:05] 200", ["time": "2026-01-02T03:04:05Z"]),
        FormatVector(.apache("%h %{%FT%T%z}t %>s"), "1.2.3.4 2026-01-02T03:04:05+0200 200", ["time": "2026-01-02T01:04:05Z"]),
        FormatVector(.apache("%h %{%FT%T%z}t %>s"), "1.2.3.4 2026-01-02T03:04:05-02:30 200", ["time": "2026-01-02T05:34:05Z"]),
        FormatVector(.apache("%h %{%FT%T%z}t %>s"), "1.2.3.4 2026-01-02T03:04:05Z 200", ["time": "2026-01-02T03:04:05Z"]),
        // the strftime spelling of %t gives what %t gives
        FormatVector(.apache("%h %{%d/%b/%Y:%H:%M:%S %z}t"), "1.2.3.4 10/Oct/2000:13:55:36 -0700", ["time": "2000-10-10T20:55:36Z"]),
        FormatVector(.apache("%h %{begin:%d/%b/%Y:%H:%M:%S %z}t"), "1.2.3.4 10/Oct/2000:13:55:36 -0700", ["time": "2000-10-10T20:55:36Z"]),
        FormatVector(.apache("%h %{sec}t"), "1.2.3.4 1700000000", ["time": "2023-11-14T22:13:20Z"]),
        FormatVector(.apache("%h %{msec}t"), "1.2.3.4 1700000000999", ["time": "2023-11-14T22:13:20Z"]),
        FormatVector(.apache("%h %{usec}t"), "1.2.3.4 1700000000999999", ["time": "2023-11-14T22:13:20Z"]),
        // mod_log_config's own example: the fraction and the zone from separate directives
        FormatVector(.apache("%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t]"), "1.2.3.4 [10/Oct/2000 13:55:36.123 -0700]", [
            "time": "2000-10-10T20:55:36Z",
        ]),
        // an end: time beside a begin time is read and not used; alone, it is the time
        FormatVector(.apache("%h %t %{end:sec}t"), "1.2.3.4 [10/Oct/2000:13:55:36 -0700] 1", ["time": "2000-10-10T20:55:36Z"]),
        FormatVector(.apache("%h %{end:sec}t"), "1.2.3.4 1700000000", ["time": "2023-11-14T22:13:20Z"]),
        FormatVector(.apache("%h %{%m/%d/%y %I:%M:%S %p}t"), "1.2.3.4 10/10/00 01:55:36 PM", ["time": "2000-10-10T13:55:36Z"]),
        FormatVector(.apache("%h %{%m/%d/%y %r}t"), "1.2.3.4 10/10/99 12:05:00 am", ["time": "1999-10-10T00:05:00Z"]),
        FormatVector(.apache("%h [%{%c}t]"), "1.2.3.4 [Fri Aug  3 14:55:02 2001]", ["time": "2001-08-03T14:55:02Z"]),
        FormatVector(.apache("%h %{%Y-%j %T}t"), "1.2.3.4 2024-060 10:00:00", ["time": "2024-02-29T10:00:00Z"]),
        FormatVector(.apache("%h %{%d %B %Y %H:%M:%S %Z}t"), "1.2.3.4 05 September 2010 11:27:50 UTC", ["time": "2010-09-05T11:27:50Z"]),
        FormatVector(.apache("%h %{%A %e.%m.%Y %k:%M}t"), "1.2.3.4 Sunday  5.09.2010  9:27", ["time": "2010-09-05T09:27:00Z"]),
        FormatVector(.nginx("$remote_addr $time_iso8601"), "1.2.3.4 2024-03-01T12:00:00+05:30", ["time": "2024-03-01T06:30:00Z"]),
        FormatVector(.nginx("$msec $remote_addr"), "1700000000.123 1.2.3.4", ["time": "2023-11-14T22:13:20Z"]),
        FormatVector(.nginx("$remote_addr [$time_local]"), "1.2.3.4 [01/Jan/2026:10:00:00 +0100]", ["time": "2026-01-01T09:00:00Z"]),
    ]

    // MARK: nginx

    static let nginxVectors: [FormatVector] = [
        FormatVector(.preset("nginx_combined"), #"203.0.113.5 - - [01/Jan/2026:10:00:00 +0100] "GET /x HTTP/2.0" 200 512 "https://ref/" "curl/8.0""#, [
            "client": "203.0.113.5", "time": "2026-01-01T09:00:00Z", "target": "/x", "status": "200", "bytes": "512",
            "referrer": "https://ref/", "ua": "curl/8.0", "combined": "true",
        ]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 0.123"#, ["duration": "123000"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 12"#, ["duration": "12000000"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 0.0005"#, ["duration": "500"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 5 -"#, ["duration": "nil"]),
        // headers, opt-out signals, a named cookie (assembled, so names of unmapped values are in the buffer)
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request" $status $bytes_sent "$http_x_forwarded_for" $http_dnt $http_sec_gpc "$cookie_uid" "$http_x_custom_id" $upstream_response_time $ssl_protocol"#),
               #"1.2.3.4 \#(day) "GET / HTTP/1.1" 200 900 "198.51.100.1" 1 1 "u-77" "c-1" 0.010 TLSv1.3"#, [
            "bytes": "900", "xff": "198.51.100.1", "dnt": "true", "gpc": "true", "cookie": "uid=u-77",
            "unmapped": "x-custom-id=c-1", "decoded": "true", "client": "1.2.3.4", "target": "/",
        ]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request_method $uri$is_args$args $server_protocol" $status"#),
               #"1.2.3.4 \#(day) "GET /p?a=1&b=2 HTTP/1.1" 200"#, ["method": "GET", "target": "/p?a=1&b=2", "proto": "HTTP/1.1", "decoded": "false"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request_method $uri$is_args$args $server_protocol" $status"#),
               #"1.2.3.4 \#(day) "GET /p HTTP/1.1" 200"#, ["target": "/p"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] $request_method $uri "$args" $status"#),
               #"1.2.3.4 \#(day) GET /p "x=1" 200"#, ["target": "/p?x=1", "decoded": "true"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] "$request_method $request_uri" $status"#),
               #"1.2.3.4 \#(day) "DELETE /r?id=2" 204"#, ["method": "DELETE", "target": "/r?id=2", "status": "204"]),
        FormatVector(.nginx("${remote_addr}x [$time_local] ${status}"), "1.2.3.4x \(day) 200", ["client": "1.2.3.4", "status": "200"]),
        FormatVector(.nginx(#"$remote_addr [$time_local] $host "$request" $status"#),
               #"1.2.3.4 \#(day) shop.example "GET http://cdn.example/a HTTP/1.1" 200"#, ["host": "shop.example", "target": "/a"]),
        // JSON-shaped formats: nginx's default escaping writes \x22, escape=json writes \"
        FormatVector(.nginx(#"{"ip":"$remote_addr","time":"$time_iso8601","req":"$request","status":$status,"ua":"$http_user_agent"}"#),
               #"{"ip":"1.2.3.4","time":"2024-03-01T12:00:00+00:00","req":"GET / HTTP/1.1","status":200,"ua":"say \x22hi\x22"}"#, [
            "client": "1.2.3.4", "ua": #"say \x22hi\x22"#, "status": "200", "time": "2024-03-01T12:00:00Z",
        ]),
        FormatVector(.nginx(#"{"ip":"$remote_addr","time":"$time_iso8601","req":"$request","status":$status,"ua":"$http_user_agent"}"#),
               #"{"ip":"1.2.3.4","time":"2024-03-01T12:00:00+00:00","req":"GET / HTTP/1.1","status":200,"ua":"say \"hi\", \"ok\""}"#, [
            "ua": #"say \"hi\", \"ok\""#,
        ]),
        FormatVector(.nginx(#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" "$arg_email""#),
               #"1.2.3.4 - bob \#(day) "GET /?email=x HTTP/1.1" 200 5 "-" "UA" "sid=1" "x""#, [
            "user": "bob", "cookie": "sid=1", "unmapped": "=x", "combined": "true",
        ]),
    ]

    @Test(arguments: apacheVectors + timeVectors + nginxVectors)
    func accepts(_ vector: FormatVector) throws {
        let parsed = try parseLine(vector.format.program(), Array(vector.line.utf8)).get()
        let fields = parsed.fields
        for (key, want) in vector.expect.sorted(by: { $0.key < $1.key }) {
            #expect(fields[key] ?? "nil" == want, "\(key)")
        }
    }

    @Test func nonUTF8BytesPassThroughAsBytes() throws {
        let program = try FormatProgram.apache(FormatPresets.combined)
        var line = Array(#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /caf"#.utf8)
        line += [0xE9, 0xFF]  // Latin-1 é and a byte that is never UTF-8
        line += Array(#" HTTP/1.1" 200 5 "-" "UA "#.utf8) + [0xC3, 0x28] + Array(#"""#.utf8)
        let parsed = try parseLine(program, line).get()
        #expect(Array(parsed.buffer[parsed.event.target]) == Array("/caf".utf8) + [0xE9, 0xFF])
        #expect(Array(parsed.buffer[parsed.event.userAgent!]) == Array("UA ".utf8) + [0xC3, 0x28])
    }

    // MARK: Rejects

    static let rejectedLines: [(LogFormatUnderTest, String, RejectCode)] = [
        (common, "", .missingField),
        (common, "1.2.3.4", .missingField),
        (common, #"1.2.3.4 - - [32/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (common, #"1.2.3.4 - - 01/Jan/2026:00:00:00 +0000 "GET / HTTP/1.1" 200 5"#, .badTimestamp),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 20 5"#, .badStatus),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" abc 5"#, .badStatus),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5x"#, .badBytes),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200"#, .missingField),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1 200 5"#, .badQuoting),
        (common, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 "-" "UA""#, .trailingGarbage),
        // missing trailing fields
        (combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5"#, .missingField),
        (combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 "-""#, .missingField),
        (combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 -UA "UA""#, .badQuoting),
        (combined, #"1.2.3.4 - - \#(day) "GET / HTTP/1.1" 200 5 "-" "UA" junk"#, .trailingGarbage),
        (.apache("%h %t %D"), "1.2.3.4 \(day) 12ms", .badNumber),
        (.apache("%h %t %{ms}T"), "1.2.3.4 \(day) 1.5", .badNumber),
        (.apache("%h %{sec}t"), "1.2.3.4 soon", .badTimestamp),
        (.apache("%h %{%Y-%m-%d}t"), "1.2.3.4 2026-13-01", .badTimestamp),
        (.apache("%h %{%Y-%m-%d}t"), "1.2.3.4 2026-02-29", .badTimestamp),
        (.apache("%h %{%Y-%m-%d %H:%M:%S %Z}t"), "1.2.3.4 2026-01-01 00:00:00 CET", .badTimestamp),
        (.apache("%h %{%m/%d/%y %I:%M %p}t"), "1.2.3.4 01/01/26 13:00 PM", .badTimestamp),
        (.nginx("$remote_addr $time_iso8601"), "1.2.3.4 2024-03-01 12:00:00", .badTimestamp),
        (.nginx("$remote_addr [$time_local] $request_time"), "1.2.3.4 \(day) 0.x", .badNumber),
        (.nginx("$remote_addr [$time_local] $request_time"), "1.2.3.4 \(day) 1.", .badNumber),
        (.nginx(#"{"ip":"$remote_addr","ua":"$http_user_agent"}"#), #"{"ip":"1.2.3.4","ua":"cut"#, .badQuoting),
        (.preset("aws_alb"), "# a comment", .badTimestamp),
    ]

    @Test(arguments: rejectedLines)
    func rejects(_ format: LogFormatUnderTest, _ line: String, _ code: RejectCode) throws {
        let result = parseLine(try format.program(), Array(line.utf8))
        guard case .failure(let failure) = result else {
            Issue.record("accepted \(line)")
            return
        }
        #expect(failure.code == code)
        #expect(failure.offset >= 0 && failure.offset <= line.utf8.count)
    }

    @Test func rejectOffsetsPointAtTheField() {
        let program = FormatPresets.program(named: "combined")!
        let line = #"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 2x0 5 "-" "-""#
        #expect(throws: ParseFailure(.badStatus, at: 58)) { try parseLine(program, Array(line.utf8)).get() }
    }

    /// Mutated lines (bytes replaced, dropped, duplicated, cut) never crash the parser: each is an event
    /// whose ranges lie inside its buffer, or a reject whose offset lies inside the line.
    @Test func mutatedLinesNeverCrash() throws {
        let seeds: [(LogFormatUnderTest, String)] = [
            (combined, #"1.2.3.4 - "j d" [01/Jan/2026:00:00:00 +0000] "GET http://h.example/a?b HTTP/1.1" 200 5 "-" "U\"A""#),
            (.apache(#"%h %{%FT%T%z}t [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%m %U%q %H" %D %{ms}T %{v}C %{X-A}i"#),
             #"1.2.3.4 2026-01-02T03:04:05+02:00 [10/Oct/2000 13:55:36.123 -0700] "GET /p?q HTTP/1.1" 12 3 abc x"#),
            (.nginx(#"{"ip":"$remote_addr","t":"$time_iso8601","r":"$request_method $uri$is_args$args","s":$status,"rt":$request_time,"c":"$cookie_v"}"#),
             #"{"ip":"::1","t":"2024-03-01T12:00:00+05:30","r":"GET /p?a=1","s":200,"rt":0.120,"c":"z"}"#),
            (.preset("aws_alb"), #"h2 2024-05-01T10:00:00.1Z app/x [::1]:443 - 0.001 -1 0.0 200 - 1 2 "GET http://a.example:80 HTTP/1.1" "UA" x y"#),
            (.preset("aws_s3"), #"o b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - R OP k "GET /b?x HTTP/1.1" 200 - 1 - 7 - "-" "UA" - z"#),
        ]
        let alphabet = Array(#"" \-[]:.?/%+0123456789aZ"#.utf8) + [0x00, 0x80, 0xFF, 0x09]
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        for (format, seed) in seeds {
            let program = try format.program()
            #expect(throws: Never.self) { try parseLine(program, Array(seed.utf8)).get() }
            for _ in 0..<3_000 {
                var line = Array(seed.utf8)
                for _ in 0..<(1 + next(3)) where !line.isEmpty {
                    let at = next(line.count)
                    switch next(4) {
                    case 0: line[at] = alphabet[next(alphabet.count)]
                    case 1: line.remove(at: at)
                    case 2: line.insert(contentsOf: line[at..<min(line.count, at + 1 + next(8))], at: at)
                    default: line.removeSubrange(at...)
                    }
                }
                switch parseLine(program, line) {
                case .success(let parsed):
                    let event = parsed.event
                    let ranges = [event.client, event.remoteUser, event.method, event.target, event.requestProtocol]
                        + [event.referrer, event.userAgent, event.cookie, event.forwardedFor, event.host].compactMap { $0 }
                        + event.unmapped.flatMap { [$0.name, $0.value] }
                    #expect(ranges.allSatisfy { $0.upperBound <= parsed.buffer.count }, "\(line)")
                case .failure(let failure):
                    #expect(failure.offset >= 0 && failure.offset <= line.count, "\(line)")
                }
            }
        }
    }

    // MARK: Compile errors

    static let badFormats: [(LogFormatUnderTest, FormatStringError.Problem, Int)] = [
        (.apache("%h %Z"), .unknownDirective("%Z"), 4),
        (.apache("é %Z"), .unknownDirective("%Z"), 3),  // columns count characters, not bytes
        (.apache("%h %{Referer i"), .incompleteDirective("%{Referer i"), 4),
        (.apache("%h %"), .incompleteDirective("%"), 4),
        (.apache("%h %{foo}a"), .unknownDirective("%{foo}a"), 4),
        (.apache("%h %{x}p"), .unknownDirective("%{x}p"), 4),
        (.apache("%h %{hours}T"), .unknownDirective("%{hours}T"), 4),
        (.apache("%h %{}i"), .unknownDirective("%{}i"), 4),
        (.apache("%h %^tx"), .unknownDirective("%^tx"), 4),
        (.apache("%h %{%Y-%m-%d %Q}t"), .unknownTimeConversion("%Q"), 15),
        (.apache("%h %{%Y-%m-%d %H:%M:%S %}t"), .incompleteDirective("%"), 24),
        (.apache("%h%u %t"), .adjacentFields("%h", "%u"), 3),
        (.apache("%h %{%H:%M}t"), .incompleteTime, 6),
        (.apache("just text"), .noFields, 1),
        (.apache(""), .noFields, 1),
        (.nginx("$remote_addr $foo"), .unknownVariable("foo"), 14),
        (.nginx("$remote_addr $http_"), .unknownVariable("http_"), 14),
        (.nginx("${remote_addr"), .incompleteDirective("${remote_addr"), 1),
        (.nginx("$remote_addr $ x"), .incompleteDirective("$"), 14),
        (.nginx("$remote_addr$remote_user"), .adjacentFields("$remote_addr", "$remote_user"), 13),
    ]

    @Test(arguments: badFormats)
    func compileErrors(_ format: LogFormatUnderTest, _ problem: FormatStringError.Problem, _ column: Int) {
        #expect(throws: FormatStringError(problem, column: column)) { try format.program() }
    }

    @Test func compileErrorsSayWhatAndWhere() {
        #expect(throws: FormatStringError(.unknownVariable("foo"), column: 14)) { try FormatProgram.nginx("$remote_addr $foo") }
        #expect(FormatStringError(.unknownVariable("foo"), column: 14).description == "column 14: unknown variable $foo")
        #expect(FormatStringError(.adjacentFields("%h", "%u"), column: 3).description.contains("%u directly follows %h"))
    }

    @Test func compilesIntoSteps() throws {
        let program = try FormatProgram.apache(#"%h "%m %U%q" %{X-Trace}i"#)
        #expect(program.description.split(separator: "\n") == [
            "client", #"literal " \"""#, "method", #"literal " ""#, "path", "query", #"literal "\" ""#, "unmapped(X-Trace)",
        ])
        #expect(program.stepCount == 8)
        #expect(program.name == "apache" && program.source == #"%h "%m %U%q" %{X-Trace}i"#)
        #expect(!program.isCombined)
        #expect(try FormatProgram.apache(FormatPresets.combined).isCombined)
        // Roles resolved at compile time: %>s over %s, %b over %O.
        let resolved = try FormatProgram.apache("%s %>s %O %b").description.split(separator: "\n")
        #expect(resolved.filter { !$0.hasPrefix("literal") } == ["ignored", "statusFinal", "ignored", "bodyBytes"])
        // A strftime pattern becomes one step per conversion.
        let time = try FormatProgram.apache("%{%Y-%m-%d}t %h").description.split(separator: "\n")
        #expect(time == ["year4", #"literal "-""#, "month2", #"literal "-""#, "day2", #"literal " ""#, "client"])
    }

    /// Lines are shared out by client only when the format opens with the client address and a space.
    @Test func linesStartWithClient() throws {
        #expect(FormatStringParser(try FormatProgram.apache(FormatPresets.combined)).linesStartWithClient)
        #expect(FormatStringParser(try FormatProgram.nginx(#"$remote_addr - $remote_user [$time_local] "$request" $status"#))
            .linesStartWithClient)
        #expect(!FormatStringParser(try FormatProgram.apache(#"%v %h %l %u %t "%r" %>s %b"#)).linesStartWithClient)
        #expect(!FormatStringParser(try FormatProgram.apache(#"%h|%t|"%r"|%>s"#)).linesStartWithClient)
        #expect(!FormatStringParser(try FormatProgram.apache("%{%Y-%m-%d}t %h")).linesStartWithClient)
        #expect(CombinedLogParser(mode: .common).linesStartWithClient)
        #expect(!W3CExtendedParser().linesStartWithClient)
    }

    // MARK: Presets

    @Test func presets() throws {
        #expect(FormatPresets.names.count == 10)
        for name in FormatPresets.names {
            let program = try #require(FormatPresets.program(named: name))
            #expect(program.name == name)
            #expect(FormatStringParser(program).formatName == name)
        }
        #expect(FormatPresets.program(named: "nope") == nil)
    }

    static let presetVectors: [FormatVector] = [
        FormatVector(.preset("aws_alb"), #"h2 2024-05-01T10:00:00.123456Z app/lb/abc [2001:db8::7]:443 10.0.0.1:80 0.001 0.020 0.000 201 201 300 4000 "POST https://api.example.com:443/v1/items?x=1 HTTP/2.0" "okhttp/4" ECDHE TLSv1.2 arn "Root=1" "api.example.com" "-" 0 2024-05-01T10:00:00.100000Z "forward" "-" "-" "10.0.0.1:80" "201" "-" "-" TID_1"#, [
            "client": "2001:db8::7", "time": "2024-05-01T10:00:00Z", "status": "201", "bytes": "4000", "method": "POST",
            "target": "/v1/items?x=1", "host": "api.example.com", "ua": "okhttp/4", "duration": "21000", "referrer": "nil",
        ]),
        FormatVector(.preset("aws_alb"), #"http 2019-10-11T15:01:12.376735Z app/lb/c86a 2001:db8::7:56398 - -1 -1 -1 460 - 125 0 "GET http://lb.example:80/ HTTP/1.1" "curl/7.58.0" - -"#, [
            "client": "2001:db8::7", "status": "460", "bytes": "0", "duration": "nil", "target": "/", "host": "lb.example",
        ]),
        // a line that ends right after the user agent
        FormatVector(.preset("aws_alb"), #"http 2019-10-11T15:01:12Z app/lb/c86a 1.2.3.4:5 - -1 -1 -1 400 - 0 0 "- - - " "-""#, [
            "client": "1.2.3.4", "valid": "false", "ua": "nil",
        ]),
        FormatVector(.preset("aws_elb"), #"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 0.000041 - - 82 305 "- - - " "-" - -"#, [
            "client": "192.168.131.39", "status": "0", "valid": "false", "bytes": "305", "duration": "1138", "ua": "nil",
        ]),
        FormatVector(.preset("aws_s3"), #"79a5 awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 arn:aws:iam::123:user/jane 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -"#, [
            "client": "192.0.2.3", "host": "awsexamplebucket1", "time": "2019-02-06T00:00:38Z", "status": "200",
            "bytes": "113", "duration": "7000", "target": "/awsexamplebucket1?versioning", "ua": "S3Console/0.4",
            "user": "", "unmapped": "",
        ]),
    ]

    @Test(arguments: presetVectors)
    func presetLines(_ vector: FormatVector) throws {
        try accepts(vector)
    }

    // MARK: Differential: the combined format string against CombinedLogParser

    @Test func combinedStringMatchesCombinedLogParser() throws {
        let relative = "web/elastic-apache_logs.log"
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let program = try FormatProgram.apache(#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#)
        var parser = FormatStringParser(program)
        let reference = CombinedLogParser(mode: .lenient)
        var decoded: [UInt8] = []
        var count = 0
        var differences: [Int] = []
        for line in try lines(of: path) {
            count += 1
            let ours = parseLine(&parser, line, decoded: &decoded)
            let theirs = line.withUnsafeBytes { raw in Result { () throws(ParseFailure) in try reference.parse(raw) } }
            switch (ours, theirs) {
            case (.success(let parsed), .success(let event)):
                if parsed.decoded || parsed.event != event { differences.append(count) }
            case (.failure(let a), .failure(let b)):
                if a.code != b.code { differences.append(count) }
            default:
                differences.append(count)
            }
        }
        #expect(count == 10_000)
        #expect(differences.isEmpty, "lines that differ: \(differences.prefix(10))")
    }

    // MARK: Chunking

    @Test func chunkingDoesNotChangeResults() throws {
        let program = try FormatProgram.apache(#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %{visitor}C"#)
        let rows = [
            #"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "UA" abc"#,
            #"1.2.3.4 - - [01/Jan/2026:00:00:01 +0000] "GET http://h.example HTTP/1.1" 200 5 "-" "U\"A" -"#,
            #"2001:db8::1 - "j d" [01/Jan/2026:00:00:02 +0000] "\x16\x03" 400 - "-" "-" -"#,
            #"bad line"#,
            "",
            #"1.2.3.4 - - [01/Jan/2026:00:00:03 +0000] "GET /b HTTP/1.1" 200 5 "http://r/" "UA" x"#,
        ]
        var input = Array(rows.joined(separator: "\r\n").utf8) + Array("\n".utf8)
        if let path = SharedData.path("web/elastic-apache_logs.log") {
            // The real file, with a cookie field added to every line.
            for line in try lines(of: path).prefix(2_000) { input += line + Array(" -\n".utf8) }
        }
        let whole = framed(input, program: program, chunk: { _ in input.count })
        #expect(whole.count >= rows.count)
        #expect(whole.filter { $0.hasPrefix("reject") }.count >= 2)
        #expect(framed(input, program: program, chunk: { _ in 1 }) == whole)
        var state: UInt64 = 42
        let random = framed(input, program: program, chunk: { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 1 + Int(state >> 33) % 97
        })
        #expect(random == whole)
    }

    /// Frames `input` in chunks of the sizes `chunk` gives, parses every line with one parser and one
    /// reused `decoded` buffer, and renders each result as text.
    private func framed(_ input: [UInt8], program: FormatProgram, chunk: (Int) -> Int) -> [String] {
        var parser = FormatStringParser(program)
        var decoded: [UInt8] = []
        var framer = LineFramer(maxLineLength: 64 * 1024)
        var out: [String] = []
        let handle: (LineFramer.Frame) -> Void = { frame in
            guard case .line(let line, let number) = frame else { return }
            switch parseLine(&parser, Array(line), decoded: &decoded) {
            case .success(let parsed): out.append("\(number) \(parsed.fields.sorted { $0.key < $1.key })")
            case .failure(let failure): out.append("reject \(number) \(failure)")
            }
        }
        input.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let end = min(all.count, offset + chunk(offset))
                framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), handle)
                offset = end
            }
            framer.finish(handle)
        }
        return out
    }

    // MARK: Real files

    /// A real file, the format it is written in, and the lines expected to be rejected, each with why.
    static let realFiles: [(String, LogFormatUnderTest, [Int: RejectCode])] = [
        ("matomo-fixtures/common.log", .preset("common"), [:]),
        ("matomo-fixtures/common_complete.log", .apache(#"%v %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#), [:]),
        ("matomo-fixtures/common_vhost.log", .preset("common_vhost"), [:]),
        ("matomo-fixtures/ncsa_extended.log", .preset("combined"), [:]),
        ("matomo-fixtures/alb.log", .preset("aws_alb"), [:]),
        // Line 2 is a comment the fixture's authors added ("# line below should be ignored ..."): no ELB
        // writes one. Line 3, the TCP connection, parses as an invalid request with status 0.
        ("matomo-fixtures/elb.log", .preset("aws_elb"), [2: .badTimestamp]),
        ("matomo-fixtures/s3.log", .preset("aws_s3"), [:]),
        ("w3c/application-lb-http.log", .preset("aws_alb"), [:]),
        ("web/omniture.log", .apache(FormatPresets.combinedCookie + " %T"), [:]),
        ("web/omniture-sample.log", .apache(FormatPresets.combinedCookie + " %T"), [:]),
        ("web/omniture-access.log", .preset("combined_cookie"), [:]),
        // Line 2 is written in `combined`, without the Cookie field: the file mixes two formats (hence its
        // name); `dualFormatFile` reads it with both.
        ("web/dual-format-access.log", .preset("combined_cookie"), [2: .missingField]),
        ("web/elastic-apache_logs.log", .preset("combined"), [:]),
    ]

    @Test(arguments: realFiles)
    func realFile(_ relative: String, _ format: LogFormatUnderTest, _ expectedRejects: [Int: RejectCode]) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        var parser = FormatStringParser(try format.program())
        var decoded: [UInt8] = []
        var rejects: [Int: RejectCode] = [:]
        var parsed = 0
        for (index, line) in try lines(of: path).enumerated() where !line.isEmpty {  // blank lines: the processor's
            switch parseLine(&parser, line, decoded: &decoded) {
            case .success(let result):
                parsed += 1
                #expect(result.event.time > 0, "\(relative):\(index + 1)")
                #expect(!result.event.client.isEmpty, "\(relative):\(index + 1)")
            case .failure(let failure): rejects[index + 1] = failure.code
            }
        }
        #expect(rejects == expectedRejects, "\(relative)")
        #expect(parsed > 0)
    }

    @Test func realFileValues() throws {
        func first(_ relative: String, _ format: LogFormatUnderTest) throws -> [String: String]? {
            guard let path = SharedData.path(relative) else {
                print(SharedData.missing(relative))
                return nil
            }
            return try parseLine(format.program(), try #require(lines(of: path).first)).get().fields
        }
        if let alb = try first("matomo-fixtures/alb.log", .preset("aws_alb")) {
            #expect(alb["client"] == "1.2.3.4" && alb["time"] == "2020-01-01T00:55:04Z" && alb["status"] == "200")
            #expect(alb["target"] == "/path/index.html" && alb["host"] == "www.example.com" && alb["bytes"] == "24950")
            #expect(alb["duration"] == "103000")
        }
        if let s3 = try first("matomo-fixtures/s3.log", .preset("aws_s3")) {
            #expect(s3["client"] == "1.2.3.4" && s3["time"] == "2012-02-10T21:42:07Z" && s3["target"] == "/index")
            #expect(s3["bytes"] == "368" && s3["duration"] == "10000" && s3["host"] == "www.example.com")
            #expect(s3["ua"]?.hasPrefix("Mozilla/5.0 (X11") == true && s3["referrer"] == nil)
        }
        if let vhost = try first("matomo-fixtures/common_vhost.log", .preset("common_vhost")) {
            #expect(vhost["host"] == "www.example.com" && vhost["user"] == "theuser" && vhost["status"] == "301")
        }
        if let omniture = try first("web/omniture.log", .apache(FormatPresets.combinedCookie + " %T")) {
            #expect(omniture["cookie"]?.hasPrefix("BUI=DummyValueBUI; __g_u=DummyValue; abt_aid=\\\"\\\"") == true)
            #expect(omniture["duration"] == "0" && omniture["time"] == "2013-04-02T22:00:11Z")
        }
    }

    @Test func dualFormatFile() throws {
        let relative = "web/dual-format-access.log"
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let rows = try lines(of: path)
        #expect(rows.count == 2)
        let withCookie = try parseLine(#require(FormatPresets.program(named: "combined_cookie")), rows[0]).get()
        #expect(withCookie.text(withCookie.event.cookie)?.hasPrefix("jquery-ui-theme=Eggplant") == true)
        let plain = try parseLine(#require(FormatPresets.program(named: "combined")), rows[1]).get()
        #expect(plain.text(plain.event.target) == "/1-500e-KWh?FoO=bAr%20BaR&bAr=fOo%20FoO")
    }

    /// The file's lines, without terminators (LF or CRLF).
    private func lines(of path: String) throws -> [[UInt8]] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var out: [[UInt8]] = []
        var framer = LineFramer(maxLineLength: 1 << 20)
        let collect: (LineFramer.Frame) -> Void = { frame in
            if case .line(let line, _) = frame { out.append(Array(line)) }
        }
        data.withUnsafeBytes { framer.feed($0, collect) }
        framer.finish(collect)
        return out
    }
}
