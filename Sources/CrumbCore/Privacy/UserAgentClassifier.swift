#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What kind of client sent a request.
public enum AgentClass: String, Sendable, CaseIterable {
    /// A named browser whose major version was found.
    case browser
    /// A crawler, monitor, link previewer, feed service or scanner.
    case bot
    /// An HTTP library or command-line client (curl, python-requests, Dalvik, …).
    case tool
    /// Nothing recognised: an empty or `-` value, a fake, or a client not in the tables.
    case unknown
}

/// The kind of device a request came from, as far as the User-Agent tells.
public enum DeviceClass: String, Sendable, CaseIterable {
    case desktop, mobile, tablet, tv, console, bot, unknown
}

/// The coarse, privacy-safe reading of one User-Agent value: no model names, no build numbers, no minor versions.
public struct UserAgentInfo: Sendable, Equatable {
    public var agentClass: AgentClass
    /// A constant family name ("Chrome", "Googlebot", "curl", …) or "Other".
    public var family: String
    /// The leading run of ASCII digits of the family's version ("120"), or `nil` when there is none.
    public var majorVersion: String?
    /// A constant operating-system name ("Windows", "macOS", "iOS", "Android", …) or "Other".
    public var os: String
    public var device: DeviceClass

    public init(agentClass: AgentClass, family: String, majorVersion: String?, os: String, device: DeviceClass) {
        self.agentClass = agentClass
        self.family = family
        self.majorVersion = majorVersion
        self.os = os
        self.device = device
    }

    /// The reading of an empty or `-` value.
    static let unknown = UserAgentInfo(
        agentClass: .unknown, family: UserAgentClassifier.other, majorVersion: nil,
        os: UserAgentClassifier.other, device: .unknown)
}

/// Classifies User-Agent header values into an agent class, a family with its major version, an operating
/// system and a device class.
///
/// The rules are crumb's own compact subset of ua-parser's `regexes.yaml`
/// (https://github.com/ua-parser/uap-core/blob/master/regexes.yaml) and follow its ordering: bots before
/// browsers (Googlebot's smartphone agent also says Chrome), and browsers that embed a `Chrome/` token (Edge,
/// Opera, Samsung Internet, UC Browser, Yandex Browser, Android WebView) before Chrome, Chrome before Safari.
/// The token meanings are MDN's (https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/User-Agent and
/// https://developer.mozilla.org/en-US/docs/Web/HTTP/Browser_detection_using_the_user_agent): `Edg/`,
/// `OPR/`, `CriOS/`, `FxiOS/`, `Version/` for Safari, `Trident/7.0; rv:11` for IE 11, `Mobile` on Android
/// phones and not on tablets.
///
/// Accepted input: any bytes. The value is scanned for ASCII tokens only and never decoded, so non-UTF-8
/// bytes, control bytes and `\"` sequences left over from log quoting are ordinary bytes that match nothing.
/// Leading and trailing spaces and tabs are ignored; an empty value or `-` reads as `.unknown` with family and
/// os "Other". Nothing is rejected: a value that matches no rule reads as family "Other".
///
/// A `.browser` result always has a major version: a browser token without digits after it (a fake or a
/// truncated value) is not trusted and reads as `.unknown`, family "Other".
///
/// Complexity: O(n·k) for a value of n bytes and k tokens in the tables; meant to run once per distinct value
/// (callers cache), so the tables are plain ordered lists rather than an automaton.
public struct UserAgentClassifier: Sendable {
    public init() {}

    /// Classifies the raw bytes of one User-Agent header value.
    ///
    /// - Parameter bytes: the value without its surrounding log quotes; any bytes are accepted.
    /// - Returns: the reading; only `majorVersion` is built from the input, and only from ASCII digits.
    public func classify(_ bytes: UnsafeRawBufferPointer) -> UserAgentInfo {
        classify(bytes, screening: true)
    }

    /// `classify(_:)`, with the pair screen that spares most token searches turned on or off: the tests
    /// check that it changes no reading.
    func classify(_ bytes: UnsafeRawBufferPointer, screening: Bool) -> UserAgentInfo {
        let trimmed = Text.trimmed(bytes)
        // The lowercased copy the case-insensitive searches read, and the pairs it holds; on the stack for
        // any usual value.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(trimmed.count, 1)) { buffer in
            for index in 0..<trimmed.count { buffer[index] = ASCII.lowercased(trimmed[index]) }
            let lowered = UnsafeRawBufferPointer(start: buffer.baseAddress, count: trimmed.count)
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: PairScreen.words) { words in
                let screen = PairScreen(words, lowered: lowered, enabled: screening)
                return classify(Text(bytes: trimmed, lowered: lowered, screen: screen))
            }
        }
    }

    private func classify(_ text: Text) -> UserAgentInfo {
        if text.isEmpty || text.isDash { return .unknown }
        let platform = text.platform()

        if let bot = text.firstMatch(in: Self.namedBots) {
            return UserAgentInfo(
                agentClass: .bot, family: bot.family, majorVersion: bot.version, os: platform.os, device: .bot)
        }
        if let tool = text.firstMatch(in: Self.namedTools) {
            return UserAgentInfo(
                agentClass: .tool, family: tool.family, majorVersion: tool.version, os: platform.os,
                device: tool.family == Family.dalvik ? text.deviceForAppStack(on: platform) : platform.device)
        }
        if text.hasBotKeyword() {
            return UserAgentInfo(
                agentClass: .bot, family: Self.other, majorVersion: nil, os: platform.os, device: .bot)
        }
        if let browser = text.browser(), let version = browser.version {
            return UserAgentInfo(
                agentClass: .browser, family: browser.family, majorVersion: version, os: platform.os,
                device: platform.device)
        }
        return UserAgentInfo(
            agentClass: .unknown, family: Self.other, majorVersion: nil, os: platform.os, device: platform.device)
    }

    /// Classifies a User-Agent value given as a string; the same as classifying its UTF-8 bytes.
    public func classify(_ string: String) -> UserAgentInfo {
        var string = string
        return string.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }

    /// The family and os of anything not in the tables.
    static let other = "Other"
}

// MARK: - Names

extension UserAgentClassifier {
    /// Family names, kept as constants so a classification never builds a family string from input bytes.
    fileprivate enum Family {
        static let chrome = "Chrome"
        static let chromium = "Chromium"
        static let firefox = "Firefox"
        static let safari = "Safari"
        static let edge = "Edge"
        static let opera = "Opera"
        static let operaMini = "Opera Mini"
        static let ie = "IE"
        static let samsung = "Samsung Internet"
        static let uc = "UC Browser"
        static let yandex = "Yandex Browser"
        static let vivaldi = "Vivaldi"
        static let midori = "Midori"
        static let comodoDragon = "Comodo Dragon"
        static let silk = "Amazon Silk"
        static let miui = "MIUI Browser"
        static let androidWebView = "Android WebView"
        static let androidBrowser = "Android Browser"
        static let dalvik = "Dalvik"
    }

    /// Operating-system names.
    fileprivate enum OperatingSystem {
        static let windows = "Windows"
        static let windowsPhone = "Windows Phone"
        static let macOS = "macOS"
        static let iOS = "iOS"
        static let tvOS = "tvOS"
        static let android = "Android"
        static let linux = "Linux"
        static let chromeOS = "Chrome OS"
        static let freeBSD = "FreeBSD"
        static let openBSD = "OpenBSD"
        static let netBSD = "NetBSD"
        static let kaiOS = "KaiOS"
        static let blackBerry = "BlackBerry"
        static let tizen = "Tizen"
        static let webOS = "webOS"
        static let roku = "Roku"
        static let playStation = "PlayStation"
        static let xbox = "Xbox"
        static let nintendo = "Nintendo"
    }

    /// One row of a name table: a token searched for (ASCII, case-insensitively) and the family it stands for.
    ///
    /// The version is read right after the token: an optional `/`, space or `:`, then ASCII digits.
    fileprivate struct NamedAgent: Sendable {
        /// The token with ASCII letters lowercased, searched for in the lowercased value.
        let token: [UInt8]
        let family: String

        init(_ token: StaticString, _ family: String) {
            self.token = token.withUTF8Buffer { $0.map(ASCII.lowercased) }
            self.family = family
        }
    }
}

extension UserAgentClassifier {
    /// Named bots, most specific first ("Googlebot-Image" before "Googlebot"). Scanners and crawling
    /// frameworks count as bots: they are automated, not people.
    fileprivate static let namedBots: [NamedAgent] = [
        NamedAgent("Googlebot-Image", "Googlebot-Image"),
        NamedAgent("Googlebot-Mobile", "Googlebot-Mobile"),
        NamedAgent("Googlebot", "Googlebot"),
        NamedAgent("AdsBot-Google", "AdsBot-Google"),
        NamedAgent("Mediapartners-Google", "Mediapartners-Google"),
        // Feedly's value ends "like FeedFetcher-Google", so it goes first.
        NamedAgent("Feedly", "Feedly"),
        NamedAgent("Feedfetcher-Google", "Feedfetcher-Google"),
        NamedAgent("Google-InspectionTool", "Google-InspectionTool"),
        NamedAgent("bingbot", "bingbot"),
        NamedAgent("BingPreview", "BingPreview"),
        NamedAgent("msnbot", "msnbot"),
        NamedAgent("YandexBot", "YandexBot"),
        NamedAgent("YandexImages", "YandexImages"),
        NamedAgent("Baiduspider", "Baiduspider"),
        NamedAgent("AhrefsBot", "AhrefsBot"),
        NamedAgent("SemrushBot", "SemrushBot"),
        NamedAgent("DotBot", "DotBot"),
        NamedAgent("MJ12bot", "MJ12bot"),
        NamedAgent("Applebot", "Applebot"),
        NamedAgent("DuckDuckBot", "DuckDuckBot"),
        NamedAgent("PetalBot", "PetalBot"),
        NamedAgent("facebookexternalhit", "facebookexternalhit"),
        NamedAgent("Facebot", "Facebot"),
        NamedAgent("Twitterbot", "Twitterbot"),
        NamedAgent("LinkedInBot", "LinkedInBot"),
        NamedAgent("Slackbot", "Slackbot"),
        NamedAgent("Discordbot", "Discordbot"),
        NamedAgent("TelegramBot", "TelegramBot"),
        NamedAgent("WhatsApp", "WhatsApp"),
        NamedAgent("Pinterestbot", "Pinterestbot"),
        NamedAgent("Yahoo! Slurp", "Slurp"),
        NamedAgent("Slurp", "Slurp"),
        NamedAgent("Sogou web spider", "Sogou"),
        NamedAgent("Sogou inst spider", "Sogou"),
        NamedAgent("Exabot", "Exabot"),
        NamedAgent("ia_archiver", "ia_archiver"),
        NamedAgent("archive.org_bot", "archive.org_bot"),
        NamedAgent("SeznamBot", "SeznamBot"),
        NamedAgent("BLEXBot", "BLEXBot"),
        NamedAgent("Barkrowler", "Barkrowler"),
        NamedAgent("Ezooms", "Ezooms"),
        NamedAgent("rogerbot", "rogerbot"),
        NamedAgent("CCBot", "CCBot"),
        NamedAgent("GPTBot", "GPTBot"),
        NamedAgent("ClaudeBot", "ClaudeBot"),
        NamedAgent("Bytespider", "Bytespider"),
        NamedAgent("Mail.RU_Bot", "Mail.RU_Bot"),
        NamedAgent("Embedly", "Embedly"),
        NamedAgent("Xenu Link Sleuth", "Xenu Link Sleuth"),
        NamedAgent("Amazonbot", "Amazonbot"),
        NamedAgent("UptimeRobot", "UptimeRobot"),
        NamedAgent("Pingdom", "Pingdom"),
        NamedAgent("FeedBurner", "FeedBurner"),
        NamedAgent("Feedbin", "Feedbin"),
        NamedAgent("Digg Feed Fetcher", "Digg Feed Fetcher"),
        NamedAgent("FlipboardProxy", "FlipboardProxy"),
        NamedAgent("Spinn3r", "Spinn3r"),
        NamedAgent("LiveJournal.com", "LiveJournal"),
        NamedAgent("Tiny Tiny RSS", "Tiny Tiny RSS"),
        NamedAgent("NewsBlur", "NewsBlur"),
        NamedAgent("HeadlessChrome", "HeadlessChrome"),
        NamedAgent("Chrome-Lighthouse", "Lighthouse"),
        NamedAgent("PhantomJS", "PhantomJS"),
        NamedAgent("Scrapy", "Scrapy"),
        NamedAgent("masscan", "masscan"),
        NamedAgent("zgrab", "zgrab"),
        NamedAgent("Nmap", "Nmap"),
        NamedAgent("sqlmap", "sqlmap"),
        NamedAgent("Nikto", "Nikto"),
    ]

    /// Named HTTP libraries and command-line clients. Tokens carry their `/` so "Java/1.8" matches and
    /// "JavaScript" does not.
    fileprivate static let namedTools: [NamedAgent] = [
        NamedAgent("curl/", "curl"),
        NamedAgent("Wget/", "Wget"),
        NamedAgent("python-requests/", "python-requests"),
        NamedAgent("Python-urllib/", "Python-urllib"),
        NamedAgent("aiohttp/", "aiohttp"),
        NamedAgent("Go-http-client/", "Go-http-client"),
        NamedAgent("Apache-HttpClient/", "Apache-HttpClient"),
        NamedAgent("okhttp/", "okhttp"),
        NamedAgent("libwww-perl/", "libwww-perl"),
        NamedAgent("PostmanRuntime/", "PostmanRuntime"),
        NamedAgent("axios/", "axios"),
        NamedAgent("node-fetch/", "node-fetch"),
        NamedAgent("Dalvik/", Family.dalvik),
        NamedAgent("CFNetwork/", "CFNetwork"),
        NamedAgent("UniversalFeedParser/", "UniversalFeedParser"),
        NamedAgent("Chef Client/", "Chef Client"),
        NamedAgent("Java/", "Java"),
    ]

    /// Words that mark an automated client when no named bot matched (matched case-insensitively); "bot"
    /// itself is `Text.hasBotWord()`, which knows one look-alike.
    fileprivate static let botKeywords: [[UInt8]] = [
        "crawl", "spider", "slurp", "archiver", "indexer", "scraper", "fetcher", "facebookexternalhit",
        "mediapartners", "lighthouse", "headless", "monitor", "preview", "subscribers", "+http",
    ].map { Array($0.utf8) }

    /// "bot" and "kaios", lowercased, for the case-insensitive searches outside the tables.
    fileprivate static let botWord = Array("bot".utf8)
    fileprivate static let kaiOSToken = Array("kaios".utf8)
}

// MARK: - Scanning

extension UserAgentClassifier {
    /// A User-Agent value with its surrounding blanks trimmed, and the token searches the rules are written in.
    ///
    /// All searches are naive left-to-right scans over ASCII tokens: values are short (a few hundred bytes) and
    /// each distinct value is classified once.
    fileprivate struct Text {
        // Extensions of a nested type do not see the enclosing type's names; these bring them in.
        typealias Family = UserAgentClassifier.Family
        typealias OperatingSystem = UserAgentClassifier.OperatingSystem
        typealias Platform = UserAgentClassifier.Platform

        let bytes: UnsafeRawBufferPointer
        /// `bytes` with ASCII letters lowercased, for the case-insensitive searches.
        private let lowered: UnsafeRawBufferPointer
        /// The byte pairs `lowered` holds: a search whose token has a pair not in it cannot match.
        private let screen: PairScreen

        init(bytes: UnsafeRawBufferPointer, lowered: UnsafeRawBufferPointer, screen: PairScreen) {
            precondition(bytes.count == lowered.count, "the lowercased copy has the value's length")
            self.bytes = bytes
            self.lowered = lowered
            self.screen = screen
        }

        /// `raw` without its surrounding blanks.
        static func trimmed(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            var start = 0
            var end = raw.count
            while start < end, raw[start] == UInt8(ascii: " ") || raw[start] == UInt8(ascii: "\t") { start += 1 }
            while end > start, raw[end - 1] == UInt8(ascii: " ") || raw[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            return UnsafeRawBufferPointer(rebasing: raw[start..<end])
        }

        var isEmpty: Bool { bytes.isEmpty }
        var isDash: Bool { bytes.count == 1 && bytes[0] == UInt8(ascii: "-") }

        /// The offset just past the first occurrence of `token` at or after `start`, or `nil`.
        ///
        /// - Complexity: O(value × token) at worst, about linear in the value's length in practice. (A value
        ///   is classified once; a classification makes some 150 searches.)
        func end(of token: StaticString, from start: Int = 0) -> Int? {
            token.withUTF8Buffer { token in
                let needle = UnsafeRawBufferPointer(token)
                guard screen.mayHold(needle) else { return nil }
                return Self.search(bytes, from: start, for: needle)
            }
        }

        /// The offset just past the first occurrence of `token`, already lowercased, at or after `start` in
        /// the lowercased value: a search that ignores the case of ASCII letters.
        func endIgnoringCase(ofLowercased token: [UInt8], from start: Int = 0) -> Int? {
            token.withUnsafeBytes { needle in
                guard screen.mayHold(needle) else { return nil }
                return Self.search(lowered, from: start, for: needle)
            }
        }

        /// The offset just past the first occurrence of `needle` in `text` at or after `start`: `memchr` finds
        /// each place the first byte occurs, `memcmp` compares the rest.
        private static func search(_ text: UnsafeRawBufferPointer, from start: Int, for needle: UnsafeRawBufferPointer) -> Int? {
            guard needle.count > 0, start >= 0, text.count - start >= needle.count,
                  let base = text.baseAddress, let pattern = needle.baseAddress else { return nil }
            let length = needle.count
            let first = Int32(needle[0])
            var at = start
            // The last offset where the needle still fits.
            let last = text.count - length
            while at <= last {
                guard let hit = memchr(base + at, first, last - at + 1) else { return nil }
                at = UnsafeRawPointer(hit) - base
                if length == 1 || memcmp(base + at + 1, pattern + 1, length - 1) == 0 { return at + length }
                at += 1
            }
            return nil
        }

        func contains(_ token: StaticString) -> Bool {
            end(of: token) != nil
        }

        /// The major version right after `token`'s first occurrence, or `nil` when the token or the digits are
        /// missing.
        func version(after token: StaticString) -> String? {
            guard let end = end(of: token) else { return nil }
            return version(at: end)
        }

        /// The run of ASCII digits at `offset`, after at most one `/`, space or `:`; `nil` when empty or longer
        /// than 8 digits (a date or a build number, not a version).
        func version(at offset: Int) -> String? {
            var start = offset
            if start < bytes.count, [UInt8(ascii: "/"), UInt8(ascii: " "), UInt8(ascii: ":")].contains(bytes[start]) {
                start += 1
            }
            var end = start
            while end < bytes.count, bytes[end] >= UInt8(ascii: "0"), bytes[end] <= UInt8(ascii: "9") { end += 1 }
            guard end > start, end - start <= 8 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }

        /// The first row of `table` whose token occurs (case-insensitively), with the version after it.
        func firstMatch(in table: [NamedAgent]) -> (family: String, version: String?)? {
            for row in table {
                if let end = endIgnoringCase(ofLowercased: row.token) {
                    return (row.family, version(at: end))
                }
            }
            return nil
        }

        /// Whether a generic bot word occurs.
        func hasBotKeyword() -> Bool {
            UserAgentClassifier.botKeywords.contains { endIgnoringCase(ofLowercased: $0) != nil } || hasBotWord()
        }

        /// Whether "bot" occurs other than inside "Cubot", a phone maker whose model names appear in Android
        /// values.
        private func hasBotWord() -> Bool {
            var from = 0
            while let end = endIgnoringCase(ofLowercased: UserAgentClassifier.botWord, from: from) {
                let start = end - 3
                let isCubot = start >= 2 && lowered[start - 2] == UInt8(ascii: "c") && lowered[start - 1] == UInt8(ascii: "u")
                if !isCubot { return true }
                from = end
            }
            return false
        }
    }
}

extension UserAgentClassifier {
    /// Which pairs of adjacent bytes a lowercased value holds, as a 4096-bit set: a token with its first or
    /// last pair missing cannot occur, in any case, so its search is skipped. A classification makes some
    /// 150 token searches and a usual value holds a few of the tokens; `memchr` and `memcmp` over every
    /// place a token's first letter occurs took most of the 36,000 instructions of a classification.
    ///
    /// Pairs are folded to 6 bits a byte, so unlike pairs can share a bit: the screen only ever lets a search
    /// through that could have been skipped, never skips one that could match.
    fileprivate struct PairScreen {
        static let words = 64
        private let bits: UnsafeMutableBufferPointer<UInt64>
        private let enabled: Bool

        /// Fills `bits` (`words` long, any contents) from `lowered`.
        init(_ bits: UnsafeMutableBufferPointer<UInt64>, lowered: UnsafeRawBufferPointer, enabled: Bool) {
            precondition(bits.count >= Self.words, "the screen has its 4096 bits")
            self.bits = bits
            self.enabled = enabled
            bits.update(repeating: 0)
            guard lowered.count >= 2 else { return }
            for index in 1..<lowered.count {
                let pair = Self.pair(lowered[index - 1], lowered[index])
                bits[pair >> 6] |= 1 << UInt64(pair & 63)
            }
        }

        /// The bit of a pair, from bytes lowercased or not.
        @inline(__always)
        private static func pair(_ first: UInt8, _ second: UInt8) -> Int {
            Int(ASCII.lowercased(first) & 0x3F) << 6 | Int(ASCII.lowercased(second) & 0x3F)
        }

        @inline(__always)
        private func holds(_ first: UInt8, _ second: UInt8) -> Bool {
            let pair = Self.pair(first, second)
            return bits[pair >> 6] & (1 << UInt64(pair & 63)) != 0
        }

        /// Whether `token` may occur in the value, in any case: false only when it surely does not.
        func mayHold(_ token: UnsafeRawBufferPointer) -> Bool {
            guard enabled, token.count >= 2 else { return true }
            let last = token.count - 1
            return holds(token[0], token[1]) && holds(token[last - 1], token[last])
        }
    }
}

// MARK: - Browsers

extension UserAgentClassifier.Text {
    /// The browser family and its major version, in ua-parser's order; `nil` when no browser token occurs.
    func browser() -> (family: String, version: String?)? {
        // Browsers built on Chromium also send `Chrome/`, so they come first.
        for token: StaticString in ["Edg/", "Edge/", "EdgA/", "EdgiOS/"] where contains(token) {
            return (Family.edge, version(after: token))
        }
        if contains("OPR/") { return (Family.opera, version(after: "OPR/")) }
        if contains("Opera Mini/") { return (Family.operaMini, version(after: "Opera Mini/")) }
        if contains("Opera") {
            // Presto Opera 10+ froze `Opera/9.80` and moved the real version to `Version/`.
            return (Family.opera, version(after: "Version/") ?? version(after: "Opera"))
        }
        if contains("SamsungBrowser/") { return (Family.samsung, version(after: "SamsungBrowser/")) }
        if contains("UCBrowser/") { return (Family.uc, version(after: "UCBrowser/")) }
        if contains("YaBrowser/") { return (Family.yandex, version(after: "YaBrowser/")) }
        if contains("Midori/") { return (Family.midori, version(after: "Midori/")) }
        if contains("Vivaldi/") { return (Family.vivaldi, version(after: "Vivaldi/")) }
        if contains("Dragon/") { return (Family.comodoDragon, version(after: "Dragon/")) }
        if contains("Silk/") { return (Family.silk, version(after: "Silk/")) }
        if contains("MiuiBrowser/") { return (Family.miui, version(after: "MiuiBrowser/")) }
        if contains("CriOS/") { return (Family.chrome, version(after: "CriOS/")) }
        if contains("FxiOS/") { return (Family.firefox, version(after: "FxiOS/")) }
        // IE before anything else that old IE values mention (`Trident/` values may say `like Gecko`).
        if contains("MSIE ") { return (Family.ie, version(after: "MSIE ")) }
        if contains("Trident/"), let end = end(of: "rv:") { return (Family.ie, version(at: end)) }
        if contains("Android") {
            // An app's embedded Chromium says `; wv)` (Lollipop and later) or keeps the stock browser's
            // `Version/4.0` next to `Chrome/`; the stock browser has `Version/` and no `Chrome/`.
            if contains("Chrome/"), contains("; wv)") || contains("Version/") {
                return (Family.androidWebView, version(after: "Chrome/"))
            }
            if !contains("Chrome/"), !contains("Firefox/"), contains("Version/"), contains("Safari/") {
                return (Family.androidBrowser, version(after: "Version/"))
            }
        }
        if contains("Chromium/") { return (Family.chromium, version(after: "Chromium/")) }
        if contains("Chrome/") { return (Family.chrome, version(after: "Chrome/")) }
        if contains("Firefox/") { return (Family.firefox, version(after: "Firefox/")) }
        if contains("Safari/") || contains("Mobile/"), contains("AppleWebKit/"), contains("Version/") {
            return (Family.safari, version(after: "Version/"))
        }
        return nil
    }
}

// MARK: - Platforms

extension UserAgentClassifier {
    /// An operating system and the device class it implies.
    fileprivate struct Platform {
        let os: String
        let device: DeviceClass
    }
}

extension UserAgentClassifier.Text {
    /// The operating system and device class. Consoles and TVs come first because their values also name
    /// Windows, Linux or Android; Windows Phone before Windows and Android; Android before Linux; iPhone and
    /// iPad before macOS (they say `like Mac OS X`); Chrome OS before Linux (it says `X11`).
    func platform() -> Platform {
        if contains("PlayStation") { return Platform(os: OperatingSystem.playStation, device: .console) }
        if contains("Xbox") { return Platform(os: OperatingSystem.xbox, device: .console) }
        if contains("Nintendo") { return Platform(os: OperatingSystem.nintendo, device: .console) }
        if contains("AppleTV") || contains("Apple TV") { return Platform(os: OperatingSystem.tvOS, device: .tv) }
        if contains("Roku") { return Platform(os: OperatingSystem.roku, device: .tv) }
        if contains("Web0S") { return Platform(os: OperatingSystem.webOS, device: .tv) }
        let tv = isTV()
        if contains("Tizen") { return Platform(os: OperatingSystem.tizen, device: tv ? .tv : .mobile) }
        if contains("Windows Phone") || contains("Windows Mobile") || contains("IEMobile") {
            return Platform(os: OperatingSystem.windowsPhone, device: .mobile)
        }
        if contains("Windows") || contains("WinNT") || contains("Win64") || contains("Win98") || contains("Win95") {
            return Platform(os: OperatingSystem.windows, device: tv ? .tv : .desktop)
        }
        if contains("Silk/") || contains("Kindle") {
            // Fire OS is Android; Kindle Fire values say only `Linux` (or nothing) next to the Silk browser.
            return Platform(os: OperatingSystem.android, device: .tablet)
        }
        if endIgnoringCase(ofLowercased: UserAgentClassifier.kaiOSToken) != nil { return Platform(os: OperatingSystem.kaiOS, device: .mobile) }
        if contains("Android") {
            let device: DeviceClass =
                tv ? .tv : contains("Tablet") ? .tablet : contains("Mobile") ? .mobile : .tablet
            return Platform(os: OperatingSystem.android, device: device)
        }
        if contains("BlackBerry") || contains("BB10") {
            return Platform(os: OperatingSystem.blackBerry, device: .mobile)
        }
        if contains("iPad") { return Platform(os: OperatingSystem.iOS, device: .tablet) }
        if contains("iPhone") || contains("iPod") { return Platform(os: OperatingSystem.iOS, device: .mobile) }
        if contains("CrOS") { return Platform(os: OperatingSystem.chromeOS, device: .desktop) }
        if contains("Macintosh") || contains("Mac OS X") {
            return Platform(os: OperatingSystem.macOS, device: .desktop)
        }
        if contains("FreeBSD") { return Platform(os: OperatingSystem.freeBSD, device: .desktop) }
        if contains("OpenBSD") { return Platform(os: OperatingSystem.openBSD, device: .desktop) }
        if contains("NetBSD") { return Platform(os: OperatingSystem.netBSD, device: .desktop) }
        if contains("Linux") || contains("X11") {
            return Platform(os: OperatingSystem.linux, device: tv ? .tv : .desktop)
        }
        if contains("Darwin/") {
            // Apple's CFNetwork stack names only the kernel; a Mac says so, and apps on iOS are the common case.
            if contains("Mac") || contains("x86_64") { return Platform(os: OperatingSystem.macOS, device: .desktop) }
            return Platform(os: OperatingSystem.iOS, device: .unknown)
        }
        return Platform(os: UserAgentClassifier.other, device: tv ? .tv : .unknown)
    }

    /// The device for an Android app's own HTTP stack (Dalvik), which never sends `Mobile`, so the browsers'
    /// "Android without Mobile is a tablet" rule does not hold: a phone, unless the value says `Tablet`.
    func deviceForAppStack(on platform: Platform) -> DeviceClass {
        platform.device == .tablet && !contains("Tablet") ? .mobile : platform.device
    }

    /// Whether a smart-TV or streaming-stick marker occurs.
    private func isTV() -> Bool {
        for token: StaticString in [
            "SmartTV", "SMART-TV", "Smart-TV", "SmartTv", "Tizen TV", "BRAVIA", "HbbTV", "GoogleTV", "Android TV",
            "CrKey", "NetCast", "AFTB", "AFTM", "AFTT", "AFTS",
        ] where contains(token) {
            return true
        }
        return false
    }
}
