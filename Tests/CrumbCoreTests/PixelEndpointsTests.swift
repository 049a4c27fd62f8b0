import CrumbCore
import CrumbTestSupport
import Foundation
import Testing

/// What `map(target:into:)` made of a target, as text (`nil` when it was not mapped).
private struct PixelResult: Equatable {
    var endpoint: Int
    var page: String
    var pageHost: String
    var referrer: String
    var event: String
    var rest: String

    init(_ hit: PixelHit) {
        endpoint = hit.endpoint
        page = String(decoding: hit.page, as: UTF8.self)
        pageHost = String(decoding: hit.pageHost, as: UTF8.self)
        referrer = String(decoding: hit.referrer, as: UTF8.self)
        event = String(decoding: hit.event, as: UTF8.self)
        rest = String(decoding: hit.rest, as: UTF8.self)
    }
}

private let allPresets = PixelEndpoints(
    PixelEndpoint.adobe + PixelEndpoint.urchin + PixelEndpoint.googleAnalytics + PixelEndpoint.generic + PixelEndpoint.matomo)

private func map(_ target: String, _ endpoints: PixelEndpoints = allPresets) -> PixelResult? {
    var hit = PixelHit()
    return map(target, endpoints, into: &hit)
}

private func map(_ target: String, _ endpoints: PixelEndpoints = allPresets, into hit: inout PixelHit) -> PixelResult? {
    var copy = target
    let mapped = copy.withUTF8 { endpoints.map(target: UnsafeRawBufferPointer($0), into: &hit) }
    return mapped ? PixelResult(hit) : nil
}

private func match(_ target: String, _ endpoints: PixelEndpoints) -> Int? {
    var copy = target
    return copy.withUTF8 { endpoints.match(target: UnsafeRawBufferPointer($0)) }
}

/// The request targets of an access log: what follows `"GET ` up to the next space (the omniture logs end
/// with a cookie and a number that `CombinedLogParser` does not take, so no parser is used here).
private func targets(ofLog relative: String) throws -> [String]? {
    guard let path = SharedData.path(relative) else {
        print(SharedData.missing(relative))
        return nil
    }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        let request = try #require(line.range(of: "\"GET "))
        return String(line[request.upperBound...].prefix { $0 != " " })
    }
}

struct PixelEndpointsTests {
    /// One row per case: pattern, path, whether it matches.
    static let patterns: [(String, String, Bool)] = [
        ("/__utm.gif", "/__utm.gif", true),
        ("/__utm.gif", "/__utm.gifx", false),
        ("/__utm.gif", "/x/__utm.gif", false),
        ("/b/ss/*", "/b/ss/suite/1/H.22.1/s123", true),
        ("/b/ss/*", "/b/ss/", true),
        ("/b/ss/*", "/b/s", false),
        ("*.gif", "/tracking/s1/bolpx01.gif", true),
        ("*.gif", "/tracking/s1/bolpx01.gif.png", false),
        ("/tracking/*.gif", "/tracking/a/b/c.gif", true),
        ("/tracking/*.gif", "/tracking.gif", false),
        ("/a*b*c", "/abc", true),
        ("/a*b*c", "/a-c-b", false),
        ("/a*b*c", "/axxbyybzc", true),
        ("/a*/a", "/a", false),
        ("*", "/anything", true),
        ("*", "", true),
        ("", "", true),
        ("", "/", false),
    ]

    @Test(arguments: patterns)
    func pathPatterns(_ pattern: String, _ path: String, _ matches: Bool) {
        let endpoints = PixelEndpoints([
            PixelEndpoint(name: "t", pathPattern: pattern, pageParameters: ["u"], referrerParameters: [], eventParameters: []),
        ])
        #expect((match(path, endpoints) != nil) == matches)
        #expect((match(path + "?u=/p#f", endpoints) != nil) == matches)
    }

    @Test func omnitureLogsMapToThePagesTheyReport() throws {
        var pixels = 0
        for file in ["web/omniture.log", "web/omniture-sample.log", "web/omniture-access.log", "web/dual-format-access.log"] {
            guard let targets = try targets(ofLog: file) else { continue }
            var hit = PixelHit()
            for target in targets {
                let isPixel = target.contains("/b/ss/") || target.contains(".gif?AQB=1")
                guard let result = map(target, into: &hit) else {
                    #expect(!isPixel, "\(file): a pixel was not mapped")
                    continue
                }
                pixels += 1
                #expect(isPixel)
                #expect(result.page.hasPrefix("/nl/p/") && !result.page.contains(".gif"), "\(file)")
                #expect(result.pageHost == "www.bol.com")
                #expect(result.referrer.hasPrefix("http://www."))
                #expect(result.event.hasPrefix("prodView,event1,"))
                // The mapped parameters are gone from the rest; the others stay, still encoded.
                #expect(result.rest.hasPrefix("AQB=1&") && result.rest.hasSuffix("&AQE=1"))
                #expect(!result.rest.contains("&g=") && !result.rest.contains("&r=") && !result.rest.contains("&events="))
                #expect(result.rest.contains("&pageName=%2Fnl%2Fp%2F"))
            }
        }
        if pixels > 0 { #expect(pixels == 8) }  // 6 in omniture*.log, the /b/ss/ one twice

        if let targets = try targets(ofLog: "web/omniture.log") {
            let first = try #require(map(targets[0]))
            #expect(first.page == "/nl/p/secret-the/1002004005535223/?Referrer=ADVNLGOT002010100200499999999&Foo=Bar")
            // Decoded once: the referrer's own encoding (`%20`) stays.
            #expect(first.referrer == "http://www.google.nl/aclk?q=the%20dark%20secret%20of%20harvest%20home%20dvd&sa=L&ai=DummyValue&sig=DummyValue")
            #expect(first.event == "prodView,event1,event31")
            #expect(first.endpoint == 1)  // the first-party `*.gif` + `AQB=1` endpoint
        }
        if let targets = try targets(ofLog: "web/omniture-access.log") {
            let hit = try #require(map(targets[0]))
            #expect(hit.endpoint == 0)  // `/b/ss/*`
            #expect(hit.page.hasPrefix("/nl/p/fissler-speciaal-pannen-grillpan-28-x-28-cm/9200000002876066/?promo=koken-pannen_303_"))
            #expect(hit.page.hasSuffix("&bltg.slt_p"))
            #expect(hit.referrer == "http://www.bol.com/nl/m/koken-tafelen/koken-pannen/N/11766/index.html?blabla=blablawashere")
            #expect(hit.event == "prodView,event1,event2,event31")
            #expect(hit.rest.hasPrefix("AQB=1&pccr=true&vidn=27F07A1B85012045-4000011500517C43&ndh=1&"))  // `&&` dropped
        }
    }

    @Test func nonPixelTargetsAreUntouched() throws {
        var hit = PixelHit()
        let mapped = try #require(map("/__utm.gif?utmp=/kept&utmhn=a.example", into: &hit))
        for target in ["/1-500e-KWh?FoO=bAr%20BaR&bAr=fOo%20FoO", "/", "", "/images/logo.gif", "/images/logo.gif?v=2",
                       "/collect/more", "/b/s", "/piwik.php.bak?url=http%3A%2F%2Fx%2F", "/index.html?g=http%3A%2F%2Fx%2Fy"] {
            #expect(map(target, into: &hit) == nil, "\(target)")
            #expect(PixelResult(hit) == mapped, "\(target)")
        }
        #expect(match("/index.html", allPresets) == nil)
    }

    @Test func urchinAndGoogleAnalytics() throws {
        let urchin = try #require(map("/__utm.gif?utmwv=4&utmn=1&utmhn=WWW.Example.com&utmp=%2Fsearch%3Fq%3Da%2Bb&utmr=-&utmac=UA-1"))
        #expect(urchin.page == "/search?q=a+b" && urchin.pageHost == "www.example.com" && urchin.referrer == "")
        #expect(urchin.event == "page_view" && urchin.rest == "utmwv=4&utmn=1&utmac=UA-1")
        let urchinEvent = try #require(map("/__utm.gif?utmt=event&utmp=/a&utmr=0"))
        #expect(urchinEvent.event == "event" && urchinEvent.referrer == "" && urchinEvent.pageHost == "")

        // A URL page: user information and port never reach the host; the fragment is dropped.
        let universal = try #require(map("/collect?v=1&t=pageview&tid=UA-1&cid=555&dl=https%3A%2F%2Fjane%3Asecret%40Shop.Example.com%3A8443%2Fcart%3Fa%3D1%23frag&dr=https%3A%2F%2Fwww.google.com%2F"))
        #expect(universal.page == "/cart?a=1" && universal.pageHost == "shop.example.com")
        #expect(universal.referrer == "https://www.google.com/" && universal.event == "pageview")
        #expect(universal.rest == "v=1&tid=UA-1&cid=555")
        let ga4 = try #require(map("/g/collect?v=2&en=purchase&dl=https%3A%2F%2Fshop.example.com&dt=Cart"))
        #expect(ga4.page == "/" && ga4.event == "purchase" && ga4.rest == "v=2&dt=Cart")
        // `dl` empty: the next page parameter, `dp`, with the host from `dh`.
        let pathOnly = try #require(map("/r/collect?dl=&dp=%2Fabout&dh=example.org&t=event"))
        #expect(pathOnly.page == "/about" && pathOnly.pageHost == "example.org" && pathOnly.rest == "dl=")
        // IPv6 host and a query right after the authority.
        let ipv6 = try #require(map("/collect?dl=http%3A%2F%2F%5B2001%3Adb8%3A%3A1%5D%3A80%3Fx%3D1"))
        #expect(ipv6.page == "/?x=1" && ipv6.pageHost == "[2001:db8::1]")
    }

    @Test func adobeLinkTrackingAndQueryPrefix() throws {
        let link = try #require(map("/b/ss/suite/1/H.1/s1?AQB=1&pe=lnk_o&pev2=Download&g=http%3A%2F%2Fx.com&events=event9&AQE=1"))
        #expect(link.event == "lnk_o" && link.page == "/" && link.pageHost == "x.com")
        #expect(link.rest == "AQB=1&pev2=Download&events=event9&AQE=1")  // the event not used stays
        // First-party `.gif` only with AppMeasurement's `AQB=1` first.
        #expect(map("/t/px.gif?g=http%3A%2F%2Fx.com%2F&AQB=1") == nil)
        #expect(map("/t/px.gif?AQB=1&g=http%3A%2F%2Fx.com%2Fa")?.page == "/a")
    }

    @Test func malformedPercentEscapesAreKept() throws {
        let hit = try #require(map("/__utm.gif?utmp=/a%zz%2&utmr=http%3A%2F%2Fr%2F%E0%A4%A&utmhn=h%"))
        #expect(hit.page == "/a%zz%2" && hit.pageHost == "h%")
        var hitBytes = PixelHit()
        _ = map("/__utm.gif?utmp=/a&utmr=%E0%A4%A", into: &hitBytes)
        #expect(hitBytes.referrer == [0xE0, 0xA4, UInt8(ascii: "%"), UInt8(ascii: "A")])
    }

    @Test func repeatedParameterCountsByItsFirstOccurrence() throws {
        let hit = try #require(map("/__utm.gif?utmp=/first&utmp=/second&utmt=tran&utmt=item"))
        #expect(hit.page == "/first" && hit.event == "tran")
        // The later ones stay in the rest, where the caller scans them like any query value.
        #expect(hit.rest == "utmp=/second&utmt=item")
    }

    @Test func emptyOrUnusablePageIsNotMapped() {
        // No usable page: `map` returns false and the request is counted as what it is, a request for the
        // pixel's own path (`/__utm.gif`); its query is scanned and sanitized like any other.
        #expect(map("/__utm.gif?utmp=&utmr=http%3A%2F%2Fr%2F") == nil)
        #expect(map("/__utm.gif?utmp") == nil)
        #expect(map("/__utm.gif?utmr=x") == nil)
        #expect(map("/__utm.gif") == nil)
        #expect(map("/b/ss/s/1?AQB=1&g=Home%20Page") == nil)  // a page name, neither path nor URL
        #expect(map("/b/ss/s/1?AQB=1&g=mailto%3Ajane%40example.com") == nil)
        // The first endpoint that matches decides: the hit is not passed on to a later one.
        let overlapping = PixelEndpoints([
            PixelEndpoint(name: "first", pathPattern: "/p.gif", pageParameters: ["a"], referrerParameters: [], eventParameters: []),
            PixelEndpoint(name: "second", pathPattern: "/p.gif", pageParameters: ["b"], referrerParameters: [], eventParameters: []),
        ])
        #expect(map("/p.gif?b=/x", overlapping) == nil)
        #expect(map("/p.gif?a=/x", overlapping)?.endpoint == 0)
    }

    @Test func matomoRequestsFromTheNginxFixture() throws {
        var paths = [
            "/piwik.php?action_name=Home&idsite=1&rec=1&url=http%3A%2F%2Fclearcode.cc%2F&urlref=http%3A%2F%2Fclearcode.cc%2Fwelcome&_id=1da79fc743e8bcc4",
            "/matomo.php?idsite=1&rec=1&e_c=Video&e_a=Play&url=https%3A%2F%2Fexample.org%2Fvideos%2F1",
        ]
        if let file = SharedData.path("matomo-fixtures/nginx_json.log") {
            for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                paths.append(try #require(object?["path"] as? String))
            }
            #expect(paths.count == 4)
        } else {
            print(SharedData.missing("matomo-fixtures/nginx_json.log"))
        }
        let results = try paths.map { try #require(map($0)) }
        #expect(results[0].page == "/" && results[0].pageHost == "clearcode.cc" && results[0].referrer == "http://clearcode.cc/welcome")
        #expect(results[0].event == "page_view" && results[0].rest == "action_name=Home&idsite=1&rec=1&_id=1da79fc743e8bcc4")
        #expect(results[1].page == "/videos/1" && results[1].event == "Play" && results[1].referrer == "")
        if results.count == 4 {
            #expect(results[2].page == "/" && results[2].referrer == "http://clearcode.cc/welcome")
            #expect(results[3].page == "/case/adviserbrief-track-your-investments-and-plan-financial-future/")
            for result in results[2...] {
                #expect(result.pageHost == "clearcode.cc" && result.event == "page_view")
                // `_ref` (the visit's referrer) is not `urlref`: it stays, for the caller to scan.
                #expect(result.rest.contains("&_ref=http%3A%2F%2Fpiwik.org%2Fthank-you-all%2F&"))
                #expect(!result.rest.contains("&url=") && !result.rest.contains("urlref="))
            }
        }
    }

    @Test func presetsAreNamed() {
        #expect(Set(PixelEndpoints.presets.keys) == ["adobe", "urchin", "google_analytics", "generic", "matomo"])
        let generic = PixelEndpoints(PixelEndpoints.presets["generic"] ?? [])
        #expect(map("/pixel.gif?u=%2Fhome&ref=https%3A%2F%2Fsearch.example%2F&e=signup", generic)?.event == "signup")
        #expect(map("/beacon?url=https%3A%2F%2Fa.example%2Fx", generic)?.page == "/x")
        #expect(PixelEndpoints([]).isEmpty && map("/pixel.gif?u=/x", PixelEndpoints([])) == nil)
    }
}
