/// A tracking-pixel or beacon endpoint inside an access log: requests to it report a page view (or another
/// event) on some page, in their query parameters. Declared in the policy, or taken from a preset.
///
/// The pattern is matched against the request path (the target up to `?` or `#`), byte for byte: it is
/// exact unless it holds `*`, which matches any run of bytes, `/` included (`/b/ss/*`, `/tracking/*.gif`).
/// Parameter names are compared byte for byte, undecoded, and listed in order of preference.
public struct PixelEndpoint: Sendable, Equatable {
    /// A name for reports and the policy (`adobe`, `urchin`...).
    public var name: String
    /// The request path pattern: exact, or with `*` wildcards.
    public var pathPattern: String
    /// Bytes the query must start with for the endpoint to apply (Adobe's `AQB=1`); empty for any query.
    public var queryPrefix: String
    /// Parameters holding the page viewed: a full URL (Adobe's `g`, GA's `dl`) or a path (Urchin's `utmp`).
    public var pageParameters: [String]
    /// Parameters holding the page's host when the page parameter is a path (Urchin's `utmhn`, GA's `dh`).
    public var hostParameters: [String]
    /// Parameters holding the page's own referrer (`r`, `utmr`, `dr`, `urlref`).
    public var referrerParameters: [String]
    /// Parameters naming the event reported (`pe`, `events`, `utmt`, `t`, `en`, `e_a`).
    public var eventParameters: [String]
    /// The event when no event parameter has a value.
    public var defaultEvent: String

    public init(name: String, pathPattern: String, queryPrefix: String = "", pageParameters: [String],
                hostParameters: [String] = [], referrerParameters: [String], eventParameters: [String],
                defaultEvent: String = "page_view") {
        self.name = name
        self.pathPattern = pathPattern
        self.queryPrefix = queryPrefix
        self.pageParameters = pageParameters
        self.hostParameters = hostParameters
        self.referrerParameters = referrerParameters
        self.eventParameters = eventParameters
        self.defaultEvent = defaultEvent
    }
}

extension PixelEndpoint {
    /// Adobe Analytics (Omniture SiteCatalyst) image requests: `/b/ss/<report suite>/...`, and first-party
    /// `.gif` paths whose query starts with AppMeasurement's `AQB=1` (`/tracking/s…/bolpx01.gif?AQB=1&…`).
    /// Page `g` (the page URL); referrer `r`; event `pe` (link tracking: `lnk_o`, `lnk_d`, `lnk_e`), else
    /// the `events` list (`prodView,event1`), else `page_view`.
    /// <https://experienceleague.adobe.com/en/docs/analytics/implementation/validate/query-parameters>
    public static let adobe: [PixelEndpoint] = [
        PixelEndpoint(name: "adobe", pathPattern: "/b/ss/*", pageParameters: ["g"], referrerParameters: ["r"],
                      eventParameters: ["pe", "events"]),
        PixelEndpoint(name: "adobe", pathPattern: "*.gif", queryPrefix: "AQB=1", pageParameters: ["g"],
                      referrerParameters: ["r"], eventParameters: ["pe", "events"]),
    ]

    /// Urchin and classic Google Analytics (`ga.js`): `/__utm.gif`, page path `utmp` on host `utmhn`,
    /// referrer `utmr` (`-` or `0` for none), event `utmt` (`event`, `tran`, `item`, `var`), else `page_view`.
    public static let urchin: [PixelEndpoint] = [
        PixelEndpoint(name: "urchin", pathPattern: "/__utm.gif", pageParameters: ["utmp"], hostParameters: ["utmhn"],
                      referrerParameters: ["utmr"], eventParameters: ["utmt"]),
    ]

    /// Google Analytics Measurement Protocol: `/collect`, `/g/collect` (GA4), `/r/collect`. Page `dl` (URL)
    /// or `dp` (path, on host `dh`); referrer `dr`; event `en` (GA4) or `t` (Universal Analytics hit type).
    /// <https://developers.google.com/analytics/devguides/collection/protocol/v1/parameters>
    public static let googleAnalytics: [PixelEndpoint] = ["/collect", "/g/collect", "/r/collect"].map {
        PixelEndpoint(name: "google_analytics", pathPattern: $0, pageParameters: ["dl", "dp"], hostParameters: ["dh"],
                      referrerParameters: ["dr"], eventParameters: ["en", "t"])
    }

    /// Home-made pixels: `/pixel.gif` and `/beacon`, page `url`, `u` or `page`; referrer `ref`, `referrer`
    /// or `r`; event `event`, `ev` or `e`.
    public static let generic: [PixelEndpoint] = ["/pixel.gif", "/beacon"].map {
        PixelEndpoint(name: "generic", pathPattern: $0, pageParameters: ["url", "u", "page"],
                      referrerParameters: ["ref", "referrer", "r"], eventParameters: ["event", "ev", "e"])
    }

    /// Matomo (Piwik) tracking requests: `/piwik.php`, `/matomo.php`; page `url`, referrer `urlref`, event
    /// action `e_a`, else `page_view`. <https://developer.matomo.org/api-reference/tracking-api>
    public static let matomo: [PixelEndpoint] = ["/piwik.php", "/matomo.php"].map {
        PixelEndpoint(name: "matomo", pathPattern: $0, pageParameters: ["url"], referrerParameters: ["urlref"],
                      eventParameters: ["e_a"])
    }
}

/// What a pixel request reports, in buffers that are reused from request to request. Meaningful only after
/// `PixelEndpoints.map(target:into:)` returned `true`.
public struct PixelHit: Sendable {
    /// The index of the endpoint that matched, in `PixelEndpoints.endpoints`.
    public internal(set) var endpoint: Int = -1
    /// The page viewed, as an origin-form target (`/path?query`, no fragment), percent-decoded once from
    /// its parameter; from a full URL, scheme, user information and host are dropped.
    public internal(set) var page: [UInt8] = []
    /// The page's host, lowercased, without user information or port: from the page URL, else from a host
    /// parameter; empty when neither gives one.
    public internal(set) var pageHost: [UInt8] = []
    /// The page's referrer, percent-decoded once; empty when absent, empty, `-` or `0`.
    public internal(set) var referrer: [UInt8] = []
    /// The event reported, percent-decoded once, or the endpoint's default event.
    public internal(set) var event: [UInt8] = []
    /// The pixel's query without the parameters mapped to page, host, referrer and event (still encoded, `&`
    /// between pairs, empty pairs dropped), for the caller to scan and sanitize like any query.
    public internal(set) var rest: [UInt8] = []

    public init() {}

    mutating func clear() {
        endpoint = -1
        page.removeAll(keepingCapacity: true)
        pageHost.removeAll(keepingCapacity: true)
        referrer.removeAll(keepingCapacity: true)
        event.removeAll(keepingCapacity: true)
        rest.removeAll(keepingCapacity: true)
    }
}

/// The tracking-pixel endpoints of a policy, compiled once; the web processor calls `map(target:into:)` on
/// each request target so that trends count the page a pixel reports, not the pixel.
///
/// A request is a pixel hit when its path matches an endpoint's pattern and its query starts with the
/// endpoint's `queryPrefix`; the first such endpoint decides. The hit is mapped when one of the page
/// parameters (in order of preference, first occurrence of each) holds a path starting with `/` or a URL
/// with a scheme (`http://host/path`) or a scheme-relative `//host/path`. An empty or other page value
/// (`Home Page`) is skipped for the next page parameter; when none is left the hit is not mapped and the
/// request stays what it is: a request for the pixel's own path. A parameter repeated counts by its first
/// occurrence: the later ones stay in `rest`, where they are scanned like any query value.
/// Malformed percent escapes (`%zz`, a trailing `%`) are kept as they are. Targets are taken in origin form
/// (`/path?query`); an absolute-form target can only match a pattern that starts with `*`.
public struct PixelEndpoints: Sendable {
    /// The presets a policy may name: `adobe`, `urchin`, `google_analytics`, `generic`, `matomo`.
    public static let presets: [String: [PixelEndpoint]] = [
        "adobe": PixelEndpoint.adobe, "urchin": PixelEndpoint.urchin,
        "google_analytics": PixelEndpoint.googleAnalytics, "generic": PixelEndpoint.generic,
        "matomo": PixelEndpoint.matomo,
    ]

    /// The endpoints, in the order they are tried.
    public let endpoints: [PixelEndpoint]
    private let compiled: [Compiled]
    /// No target shorter than this can match any pattern.
    private let shortestMatch: Int

    public init(_ endpoints: [PixelEndpoint]) {
        self.endpoints = endpoints
        compiled = endpoints.map(Compiled.init)
        shortestMatch = compiled.map(\.minimumLength).min() ?? Int.max
    }

    public var isEmpty: Bool { endpoints.isEmpty }

    /// The index of the endpoint that handles `target` (an origin-form request target), or nil.
    ///
    /// - Complexity: a length check, then a scan for the end of the path and, per endpoint, its fixed
    ///   prefix and suffix compared before anything else: a few byte compares for most targets. (A table of
    ///   first bytes would not help: every origin-form target starts with `/`.) Allocates nothing.
    public func match(target: UnsafeRawBufferPointer) -> Int? {
        matchWithQuery(target)?.index
    }

    private func matchWithQuery(_ target: UnsafeRawBufferPointer) -> (index: Int, query: UnsafeRawBufferPointer)? {
        guard target.count >= shortestMatch else { return nil }
        let (pathEnd, queryRange) = Self.split(target)
        let path = UnsafeRawBufferPointer(rebasing: target[0..<pathEnd])
        let query = UnsafeRawBufferPointer(rebasing: target[queryRange])
        for index in compiled.indices where compiled[index].matches(path: path) && compiled[index].acceptsQuery(query) {
            return (index, query)
        }
        return nil
    }

    /// Maps a pixel request to the page, referrer and event it reports.
    ///
    /// - Parameters:
    ///   - target: the request target (`/b/ss/suite/1/H.22.1/s123?AQB=1&g=...`).
    ///   - hit: filled when this returns `true`; left untouched when the target is not a pixel, and
    ///     meaningless when a pixel's hit is not mapped.
    /// - Returns: whether `target` is a pixel request with a usable page.
    /// - Complexity: as `match(target:)` when the target is not a pixel; else O(query length × parameter
    ///   names). Allocates nothing once `hit`'s buffers have grown.
    public func map(target: UnsafeRawBufferPointer, into hit: inout PixelHit) -> Bool {
        guard let (index, query) = matchWithQuery(target) else { return false }
        return compiled[index].map(query: query, endpoint: index, into: &hit)
    }

    /// The end of the path (the first `?` or `#`) and the query's range (empty when there is none).
    static func split(_ target: UnsafeRawBufferPointer) -> (pathEnd: Int, query: Range<Int>) {
        var index = 0
        while index < target.count, target[index] != UInt8(ascii: "?"), target[index] != UInt8(ascii: "#") { index += 1 }
        guard index < target.count, target[index] == UInt8(ascii: "?") else { return (index, index..<index) }
        var end = index + 1
        while end < target.count, target[end] != UInt8(ascii: "#") { end += 1 }
        return (index, (index + 1)..<end)
    }
}

extension PixelEndpoints {
    /// One endpoint with its pattern cut into literals and its names as bytes.
    struct Compiled: Sendable {
        /// The pattern's literals between `*`s.
        let literals: [[UInt8]]
        /// Whether the first literal must start the path (the pattern does not start with `*`) and the last
        /// must end it.
        let anchoredStart: Bool
        let anchoredEnd: Bool
        let minimumLength: Int
        let queryPrefix: [UInt8]
        let page: [[UInt8]]
        let host: [[UInt8]]
        let referrer: [[UInt8]]
        let event: [[UInt8]]
        let defaultEvent: [UInt8]

        init(_ endpoint: PixelEndpoint) {
            let pattern = Array(endpoint.pathPattern.utf8)
            literals = pattern.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: true).map(Array.init)
            anchoredStart = pattern.first != UInt8(ascii: "*")
            anchoredEnd = pattern.last != UInt8(ascii: "*")
            minimumLength = literals.reduce(0) { $0 + $1.count }
            queryPrefix = Array(endpoint.queryPrefix.utf8)
            page = endpoint.pageParameters.map { Array($0.utf8) }
            host = endpoint.hostParameters.map { Array($0.utf8) }
            referrer = endpoint.referrerParameters.map { Array($0.utf8) }
            event = endpoint.eventParameters.map { Array($0.utf8) }
            defaultEvent = Array(endpoint.defaultEvent.utf8)
        }

        /// Whether `path` matches the pattern: anchored literals first, then the middle ones leftmost.
        func matches(path: UnsafeRawBufferPointer) -> Bool {
            guard path.count >= minimumLength else { return false }
            if literals.isEmpty { return !(anchoredStart && anchoredEnd) || path.isEmpty }
            var low = 0
            var high = path.count
            var first = 0
            var last = literals.count
            if anchoredStart {
                guard Self.equal(path, at: 0, literals[0]) else { return false }
                if literals.count == 1, anchoredEnd { return path.count == literals[0].count }
                low = literals[0].count
                first = 1
            }
            if anchoredEnd, last > first {
                let suffix = literals[last - 1]
                guard Self.equal(path, at: path.count - suffix.count, suffix) else { return false }
                high = path.count - suffix.count
                last -= 1
            }
            guard low <= high else { return false }
            for index in first..<last {
                let literal = literals[index]
                var found = -1
                var at = low
                while at + literal.count <= high {
                    if Self.equal(path, at: at, literal) {
                        found = at
                        break
                    }
                    at += 1
                }
                guard found >= 0 else { return false }
                low = found + literal.count
            }
            return true
        }

        func acceptsQuery(_ query: UnsafeRawBufferPointer) -> Bool {
            queryPrefix.isEmpty || Self.equal(query, at: 0, queryPrefix)
        }

        /// Fills `hit` from the pixel's query; false when no page parameter holds a usable page.
        func map(query: UnsafeRawBufferPointer, endpoint: Int, into hit: inout PixelHit) -> Bool {
            hit.clear()
            var pagePair: Int?
            for name in page {
                guard let (pair, value) = Self.firstParameter(name, in: query) else { continue }
                Self.decode(value, in: query, into: &hit.page)
                if Self.makeOriginForm(&hit.page, host: &hit.pageHost) {
                    pagePair = pair
                    break
                }
                hit.pageHost.removeAll(keepingCapacity: true)
            }
            guard let pagePair else {
                hit.clear()
                return false
            }
            hit.endpoint = endpoint
            var hostPair = -1
            if hit.pageHost.isEmpty {
                for name in host {
                    guard let (pair, value) = Self.firstParameter(name, in: query), !value.isEmpty else { continue }
                    Self.decode(value, in: query, into: &hit.pageHost)
                    for index in hit.pageHost.indices { hit.pageHost[index] = ASCII.lowercased(hit.pageHost[index]) }
                    hostPair = pair
                    break
                }
            }
            var referrerPair = -1
            for name in referrer {
                guard let (pair, value) = Self.firstParameter(name, in: query) else { continue }
                Self.decode(value, in: query, into: &hit.referrer)
                if hit.referrer.count == 1, hit.referrer[0] == UInt8(ascii: "-") || hit.referrer[0] == UInt8(ascii: "0") {
                    hit.referrer.removeAll(keepingCapacity: true)
                }
                referrerPair = pair
                break
            }
            var eventPair = -1
            for name in event {
                guard let (pair, value) = Self.firstParameter(name, in: query), !value.isEmpty else { continue }
                Self.decode(value, in: query, into: &hit.event)
                eventPair = pair
                break
            }
            if eventPair < 0 { hit.event.append(contentsOf: defaultEvent) }

            // The rest of the query: every pair but the mapped ones.
            var start = 0
            while start <= query.count {
                var end = start
                while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
                if end > start, start != pagePair, start != hostPair, start != referrerPair, start != eventPair {
                    if !hit.rest.isEmpty { hit.rest.append(UInt8(ascii: "&")) }
                    hit.rest.append(contentsOf: UnsafeRawBufferPointer(rebasing: query[start..<end]))
                }
                start = end + 1
            }
            return true
        }

        /// The first `name=value` pair with this name: the pair's start and the value's range.
        static func firstParameter(_ name: [UInt8], in query: UnsafeRawBufferPointer) -> (Int, Range<Int>)? {
            var start = 0
            while start < query.count {
                var end = start
                while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
                let nameEnd = start + name.count
                if nameEnd <= end, equal(query, at: start, name), nameEnd == end || query[nameEnd] == UInt8(ascii: "=") {
                    return (start, min(nameEnd + 1, end)..<end)
                }
                start = end + 1
            }
            return nil
        }

        /// Percent-decodes a parameter value once (`+` is a space) into `out`.
        static func decode(_ value: Range<Int>, in query: UnsafeRawBufferPointer, into out: inout [UInt8]) {
            let bytes = UnsafeRawBufferPointer(rebasing: query[value])
            if !PercentDecoding.decode(bytes, plusAsSpace: true, rounds: 1, into: &out) {
                out.append(contentsOf: bytes)
            }
        }

        /// Turns a decoded page value into an origin-form target in place, writing the host of a URL to `host`.
        /// False when the value is neither a path nor a URL.
        static func makeOriginForm(_ page: inout [UInt8], host: inout [UInt8]) -> Bool {
            guard let first = page.first else { return false }
            if let fragment = page.firstIndex(of: UInt8(ascii: "#")) { page.removeSubrange(fragment...) }
            let isSchemeRelative = page.count >= 2 && page[0] == UInt8(ascii: "/") && page[1] == UInt8(ascii: "/")
            if first == UInt8(ascii: "/"), !isSchemeRelative { return true }
            var authorityStart: Int
            if isSchemeRelative {
                authorityStart = 2
            } else {
                guard let colon = page.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon + 2 < page.count,
                      page[colon + 1] == UInt8(ascii: "/"), page[colon + 2] == UInt8(ascii: "/"),
                      isSchemeStart(page[0]), page[1..<colon].allSatisfy(isSchemeByte)
                else { return false }
                authorityStart = colon + 3
            }
            var authorityEnd = authorityStart
            while authorityEnd < page.count, page[authorityEnd] != UInt8(ascii: "/"), page[authorityEnd] != UInt8(ascii: "?") {
                authorityEnd += 1
            }
            // User information (`user:password@`) is personal: it never reaches the host.
            if let at = page[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) { authorityStart = at + 1 }
            var hostEnd = authorityEnd
            if authorityStart < authorityEnd, page[authorityStart] == UInt8(ascii: "[") {
                if let bracket = page[authorityStart..<authorityEnd].firstIndex(of: UInt8(ascii: "]")) { hostEnd = bracket + 1 }
            } else if let colon = page[authorityStart..<authorityEnd].firstIndex(of: UInt8(ascii: ":")) {
                hostEnd = colon
            }
            host.removeAll(keepingCapacity: true)
            for byte in page[authorityStart..<hostEnd] { host.append(ASCII.lowercased(byte)) }
            page.removeSubrange(0..<authorityEnd)
            // At least 3 bytes (`://` or `//`) were removed, so this insert needs no new storage.
            if page.first != UInt8(ascii: "/") { page.insert(UInt8(ascii: "/"), at: 0) }
            return true
        }

        static func isSchemeStart(_ byte: UInt8) -> Bool {
            let lower = ASCII.lowercased(byte)
            return lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")
        }

        static func isSchemeByte(_ byte: UInt8) -> Bool {
            isSchemeStart(byte) || ASCII.isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".")
        }

        @inline(__always)
        static func equal(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ literal: [UInt8]) -> Bool {
            guard offset >= 0, offset + literal.count <= bytes.count else { return false }
            for index in literal.indices where bytes[offset + index] != literal[index] { return false }
            return true
        }
    }
}
