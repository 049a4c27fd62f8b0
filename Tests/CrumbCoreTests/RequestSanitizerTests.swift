import CrumbCore
import Testing

/// Runs the sanitizer on `target` under the standard policy.
private func sanitize(_ target: String) -> (path: String, query: String, campaign: String, found: [String]) {
    var sanitizer = RequestSanitizer(detector: PersonalDataDetector(options: Policy.standard.detectorOptions), policy: .standard)
    var path: [UInt8] = [], query: [UInt8] = [], campaign: [UInt8] = []
    var found: [String] = []
    var copy = target
    copy.withUTF8 { bytes in
        sanitizer.sanitize(target: UnsafeRawBufferPointer(bytes), path: &path, query: &query, campaign: &campaign) {
            found.append("\($0.field.rawValue):\($0.kind.rawValue)")
        }
    }
    return (String(decoding: path, as: UTF8.self), String(decoding: query, as: UTF8.self),
            String(decoding: campaign, as: UTF8.self), found)
}

struct RequestSanitizerTests {
    static let pathCases: [(String, String, [String])] = [
        ("/", "/", []),
        ("", "/", []),
        ("/index.html", "/index.html", []),
        ("/page#section", "/page", []),
        ("http://proxy.example:8080/proxy/path?x=1", "/proxy/path", []),
        ("/users/jane.doe@example.com/profile", "/users/{email}/profile", ["path:email"]),
        ("/users/jane.doe%40example.com/profile", "/users/{email}/profile", ["path:email"]),
        ("/users/jane.doe%2540example.com/profile", "/users/{email}/profile", ["path:email"]),
        ("/call/+44-20-7946-0958", "/call/{phone}", ["path:phone"]),
        ("/call/%2B44%2020%207946%200958", "/call/{phone}", ["path:phone"]),
        ("/pay/4111111111111111/confirm", "/pay/{card}/confirm", ["path:card"]),
        ("/product/33719/64428", "/product/33719/64428", []),
        ("/static/js/app.3f9a8b7c1d2e4f60.js", "/static/js/app.3f9a8b7c1d2e4f60.js", []),
        ("/blog/2026/01/01/new-year", "/blog/2026/01/01/new-year", []),
        ("/image/20116", "/image/20116", []),
        ("/verify/219099999/status", "/verify/{number}/status", []),
        ("/order/100-234-567-8", "/order/{number}", []),
        ("/nl/p/secret-the/1002004005535223/", "/nl/p/secret-the/{number}/", []),
        ("/static/js/app.12345678.js", "/static/js/app.12345678.js", []),
    ]

    @Test(arguments: pathCases)
    func paths(_ target: String, _ expected: String, _ found: [String]) {
        let result = sanitize(target)
        #expect(result.path == expected)
        #expect(result.found == found)
    }

    @Test func queryKeepsAllowedCleanValuesOnly() {
        let result = sanitize("/search?q=red+shoes&utm_source=news&utm_campaign=spring+sale&email=jane%40example.com&page=2")
        #expect(result.path == "/search")
        #expect(result.query == "q=&utm_source=news&utm_campaign=spring+sale&email=&page=2")
        #expect(result.campaign == "spring sale")
        #expect(result.found == ["query:email"])
    }

    @Test func personalNamesAndValuesAreReported() {
        let named = sanitize("/signup?first_name=Quixotica&last_name=Doe")
        #expect(named.query == "first_name=&last_name=")
        #expect(named.found == ["query:named_field", "query:named_field"])
        let hidden = sanitize("/x?utm_source=jane.doe%40example.com&note=call+me+on+%2B44+20+7946+0958")
        #expect(hidden.query == "utm_source=&note=")
        #expect(hidden.found == ["query:email", "query:phone"])
        let personalName = sanitize("/x?jane.doe%40example.com=1")
        #expect(personalName.query == "")
        #expect(personalName.found == ["query:email"])
    }

    @Test func pathsAreCut() {
        let long = "/" + String(repeating: "a", count: 2_000)
        #expect(sanitize(long).path.utf8.count == RequestSanitizer.maxPathLength)
    }

    @Test func referrersAndFreeText() {
        var sanitizer = RequestSanitizer(detector: PersonalDataDetector(), policy: .standard)
        var found: [String] = []
        var referrer = "https://jane.doe%40example.com:pw@mail.example.com/inbox?to=jane.doe@example.com&phone=%2B15555550123"
        referrer.withUTF8 { bytes in
            sanitizer.scanReferrer(UnsafeRawBufferPointer(bytes)) { found.append("\($0.field.rawValue):\($0.kind.rawValue)") }
        }
        // The user info holds two addresses: jane.doe@example.com and pw@mail.example.com.
        #expect(found == ["referrer:email", "referrer:email", "referrer:email", "referrer:phone"])
        found.removeAll()
        var user = "jdoe"
        user.withUTF8 { bytes in
            sanitizer.scanText(UnsafeRawBufferPointer(bytes), field: .remoteUser, namedIfClean: true) { found.append($0.kind.rawValue) }
        }
        #expect(found == ["named_field"])
    }
}
