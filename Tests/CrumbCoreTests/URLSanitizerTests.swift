import CrumbCore
import Testing

private func sanitizedPath(_ target: String) -> String {
    var out: [UInt8] = []
    var copy = target
    copy.withUTF8 { URLSanitizer.path(of: UnsafeRawBufferPointer($0), into: &out) }
    return String(decoding: out, as: UTF8.self)
}

private func referrer(_ text: String) -> String {
    var out: [UInt8] = []
    var copy = text
    let result = copy.withUTF8 { URLSanitizer.referrerHost(of: UnsafeRawBufferPointer($0), into: &out) }
    switch result {
    case .host: return String(decoding: out, as: UTF8.self)
    case .invalid: return "(invalid)"
    case .address(let address): return "ip:" + address.formatted
    }
}

struct URLSanitizerTests {
    static let pathCases: [(String, String)] = [
        ("/", "/"),
        ("/index.html", "/index.html"),
        ("/search?q=secret+thing&email=a%40b.c", "/search"),
        ("/page#section", "/page"),
        ("?only=query", "/"),
        ("", "/"),
        ("/a/b/", "/a/b/"),
        ("http://evil.example:8080/proxy/path?x=1", "/proxy/path"),
        ("http://evil.example", "/"),
        ("/users/jane.doe@example.com/profile", "/users/:redacted/profile"),
        ("/users/jane.doe%40example.com/profile", "/users/:redacted/profile"),
        ("/call/+44-20-7946-0958", "/call/:redacted"),
        ("/pay/4111111111111111/confirm", "/pay/:redacted/confirm"),
        ("/tel/555%20555%200123", "/tel/:redacted"),
        ("/product/33719/64428", "/product/33719/64428"),
        ("/static/js/app.3f9a8b7c1d2e4f60.js", "/static/js/app.3f9a8b7c1d2e4f60.js"),
        ("/image/20116", "/image/20116"),
        ("/blog/2026/01/01/new-year", "/blog/2026/01/01/new-year"),
    ]

    @Test(arguments: pathCases)
    func paths(_ target: String, _ expected: String) {
        #expect(sanitizedPath(target) == expected)
    }

    @Test func pathsAreCut() {
        let long = "/" + String(repeating: "a", count: 2_000)
        #expect(sanitizedPath(long).utf8.count == URLSanitizer.maxPathLength)
    }

    static let referrerCases: [(String, String)] = [
        ("http://semicomplete.com/presentations/logstash-monitorama-2013/", "semicomplete.com"),
        ("https://WWW.Google.COM/search?q=crumb", "www.google.com"),
        ("https://user:password@example.com:8443/x", "example.com"),
        ("https://jane%40example.com@example.com/", "example.com"),
        ("https://example.com.", "example.com"),
        ("android-app://com.google.android.gm", "com.google.android.gm"),
        ("http://203.0.113.7/admin", "ip:203.0.113.7"),
        ("http://[2001:db8::1]:8080/", "ip:2001:db8::1"),
        ("not a url", "(invalid)"),
        ("/relative/path", "(invalid)"),
        ("http://", "(invalid)"),
        ("http:///path", "(invalid)"),
        ("https://exa\"mple.com/", "(invalid)"),
    ]

    @Test(arguments: referrerCases)
    func referrers(_ text: String, _ expected: String) {
        #expect(referrer(text) == expected)
    }
}
