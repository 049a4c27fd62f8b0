import CrumbCore
import Testing

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
