/// Everything `AccessLogGenerator` draws from, built once from the options: clients, user agents, request targets,
/// referrers and the traffic curve, each as bytes ready to append.
///
/// Each table has its own stream derived from the seed, so changing one option (say `distinctPaths`) leaves the
/// other tables as they were. Sets are used for uniqueness checks only, never iterated.
final class GeneratorTables: Sendable {
    let clientIPs: BytePool
    let clientAgent: [Int32]
    let clientKeys: [UInt64]
    let clientHasSession: [Bool]
    /// Cookie pairs before `sid=` (each followed by "; "), and from `visitor_id=` to the end.
    let cookiePrefixes: BytePool
    let cookieSuffixes: BytePool
    let clientZipf: ZipfTable

    let agents: BytePool
    let agentClass: [AgentClass]
    let agentZipf: ZipfTable

    let paths: BytePool
    let pathKind: [PathKind]
    let pathBytes: [UInt32]
    let pathHasQuery: [Bool]
    let pathZipf: ZipfTable
    let pagePaths: [Int32]
    let pageZipf: ZipfTable

    let searchReferrers: BytePool
    let searchZipf: ZipfTable
    let socialReferrers: BytePool
    let socialZipf: ZipfTable

    let timeline: Timeline

    init(options: AccessLogGenerator.Options) {
        func streamSeed(_ salt: UInt64) -> UInt64 { SplitMix64.mix(options.seed &+ salt &* 0x9E37_79B9_7F4A_7C15) }

        let agentSet = AgentBuilder.build(count: max(1, options.distinctUserAgents), seed: streamSeed(1))
        agents = agentSet.pool
        agentClass = agentSet.classes
        agentZipf = ZipfTable(count: agents.count, offset: 2)

        let clientSet = ClientBuilder.build(
            count: max(1, options.distinctClients), ipv6Share: options.ipv6Share, agentZipf: agentZipf,
            seed: streamSeed(2))
        clientIPs = clientSet.ips
        clientAgent = clientSet.agents
        clientKeys = clientSet.keys
        clientHasSession = clientSet.hasSession
        cookiePrefixes = clientSet.cookiePrefixes
        cookieSuffixes = clientSet.cookieSuffixes
        clientZipf = clientSet.zipf

        let pathSet = PathBuilder.build(count: max(1, options.distinctPaths), seed: streamSeed(3))
        paths = pathSet.pool
        pathKind = pathSet.kinds
        pathBytes = pathSet.sizes
        pathHasQuery = pathSet.hasQuery
        pathZipf = ZipfTable(count: paths.count, offset: 1)
        pagePaths = pathSet.kinds.indices.compactMap { pathSet.kinds[$0] == .page ? Int32($0) : nil }
        pageZipf = ZipfTable(count: max(1, pagePaths.count), offset: 1)

        let referrerSet = ReferrerBuilder.build(seed: streamSeed(4))
        searchReferrers = referrerSet.search
        searchZipf = ZipfTable(count: searchReferrers.count, offset: 2)
        socialReferrers = referrerSet.social
        socialZipf = ZipfTable(count: socialReferrers.count, offset: 2)

        timeline = Timeline(start: options.start, duration: options.duration)
    }
}

// MARK: - Traffic curve

/// Hourly buckets over the window, each with a traffic rate per second that follows the audience's time of day
/// (quiet nights, an evening peak) and is a little lower at weekends.
///
/// The audience's zone is fixed (UTC+1, an imaginary European shop) rather than the printed server zone, so that
/// `utcOffsetMinutes` changes only how timestamps are printed, never which instants they denote.
struct Timeline: Sendable {
    static let audienceOffsetMinutes = 60

    /// Weight of all buckets before bucket h.
    let cumulative: [UInt64]
    /// Weight per second inside bucket h.
    let rate: [UInt64]
    let totalWeight: UInt64
    var bucketCount: Int { rate.count }

    private static let hourWeights: [UInt64] = [5, 3, 2, 2, 2, 3, 5, 9, 13, 15, 16, 17, 18, 17, 16, 16, 17, 18, 20, 22, 21, 17, 12, 8]

    init(start: Int64, duration: Int64) {
        let duration = max(1, duration)
        let bucketCount = Int((duration + 3_599) / 3_600)
        var cumulative = [UInt64]()
        var rate = [UInt64]()
        cumulative.reserveCapacity(bucketCount)
        rate.reserveCapacity(bucketCount)
        var total: UInt64 = 0
        for bucket in 0..<bucketCount {
            let bucketStart = Int64(bucket) * 3_600
            let seconds = UInt64(min(3_600, duration - bucketStart))
            let local = start + bucketStart + Int64(Self.audienceOffsetMinutes) * 60
            let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
            let hour = Int((local - day * 86_400) / 3_600)
            let weekday = ((day % 7) + 7 + 4) % 7  // 0 = Sunday; 1970-01-01 was a Thursday
            let perSecond = Self.hourWeights[hour] * (weekday == 0 || weekday == 6 ? 4 : 5)
            cumulative.append(total)
            rate.append(perSecond)
            total += perSecond * seconds
        }
        self.cumulative = cumulative
        self.rate = rate
        self.totalWeight = total
    }
}

// MARK: - User agents

private enum AgentBuilder {
    static func build(count: Int, seed: UInt64) -> (pool: BytePool, classes: [AgentClass]) {
        var rng = Xoshiro256StarStar(seed: seed)
        var pool = BytePool()
        var classes = [AgentClass]()
        var seen = Set<String>()
        // Well-known agents at fixed popularity ranks.
        let fixed: [Int: (String, AgentClass)] = [
            3: (SampleCorpus.botAgents[0], .bot), 7: ("-", .none), 12: (SampleCorpus.botAgents[2], .bot),
            25: ("python-requests/2.31.0", .tool), 40: ("curl/8.5.0", .tool), 60: (SampleCorpus.botAgents[3], .bot),
        ]
        var attempts = 0
        while pool.count < count && attempts < count * 50 {
            attempts += 1
            var candidate = fixed[pool.count]
            if let known = candidate, seen.contains(known.0) { candidate = nil }
            let (agent, agentClass) = candidate ?? randomAgent(&rng)
            if seen.insert(agent).inserted {
                pool.add(agent)
                classes.append(agentClass)
            }
        }
        return (pool, classes)
    }

    private static let templateChoice = WeightedChoice([24, 9, 2, 17, 7, 4, 1, 1, 1, 5, 12, 3, 3, 3, 2, 1, 2, 2])
    private static let chromeBuilds: [Int] = [
        6099, 6167, 6261, 6312, 6367, 6422, 6478, 6533, 6613, 6668, 6723, 6778, 6834, 6943, 6998, 7049, 7103,
    ]
    private static let safariVersions = [
        "16.6", "17.0", "17.1", "17.2.1", "17.3", "17.4", "17.4.1", "17.5", "17.6", "18.0", "18.0.1", "18.1",
        "18.1.1", "18.2", "18.3", "18.3.1", "18.4",
    ]

    private static func chrome(_ rng: inout Xoshiro256StarStar, reduced: Bool) -> (major: Int, version: String) {
        let index = rng.below(chromeBuilds.count)
        let major = 120 + index
        if reduced { return (major, "\(major).0.0.0") }
        return (major, "\(major).0.\(chromeBuilds[index] + rng.below(4)).\(rng.below(230))")
    }

    private static func windows(_ rng: inout Xoshiro256StarStar) -> String {
        let roll = rng.below(100)
        return SampleCorpus.windowsTokens[roll < 92 ? 0 : roll < 97 ? 1 : 2]
    }

    private static func iOS(_ rng: inout Xoshiro256StarStar) -> (underscored: String, dotted: String) {
        let version = rng.pick(SampleCorpus.iosVersions)
        var dotted = String(version.map { $0 == "_" ? "." : $0 })
        if dotted.hasPrefix("18") { dotted = String(dotted.prefix(4)) }
        return (version, dotted)
    }

    private static func randomAgent(_ rng: inout Xoshiro256StarStar) -> (String, AgentClass) {
        let webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
        let mobileSafari = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
        switch templateChoice.sample(&rng) {
        case 0:
            let (_, version) = chrome(&rng, reduced: rng.below(100) < 70)
            return ("Mozilla/5.0 (\(windows(&rng))) \(webkit) Chrome/\(version) Safari/537.36", .browser)
        case 1:
            let (_, version) = chrome(&rng, reduced: rng.below(100) < 70)
            return ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \(webkit) Chrome/\(version) Safari/537.36", .browser)
        case 2:
            let (_, version) = chrome(&rng, reduced: rng.below(100) < 60)
            return ("Mozilla/5.0 (X11; Linux x86_64) \(webkit) Chrome/\(version) Safari/537.36", .browser)
        case 3:
            let reduced = rng.below(100) < 55
            let (_, version) = chrome(&rng, reduced: reduced)
            let device = reduced ? "Android 10; K" : "Android \(rng.between(11...15)); \(rng.pick(SampleCorpus.androidDevices))"
            return ("Mozilla/5.0 (Linux; \(device)) \(webkit) Chrome/\(version) Mobile Safari/537.36", .browser)
        case 4:
            let (major, _) = chrome(&rng, reduced: true)
            let edge = "\(major).0.\(rng.between(2000...3200)).\(rng.below(120))"
            return ("Mozilla/5.0 (\(windows(&rng))) \(webkit) Chrome/\(major).0.0.0 Safari/537.36 Edg/\(edge)", .browser)
        case 5, 6, 7:
            let version = rng.between(115...137)
            let platform: String
            switch rng.below(10) {
            case 0..<6: platform = "Windows NT 10.0; Win64; x64"
            case 6, 7: platform = "Macintosh; Intel Mac OS X 10.15"
            case 8: platform = "X11; Ubuntu; Linux x86_64"
            default: platform = "X11; Linux x86_64"
            }
            return ("Mozilla/5.0 (\(platform); rv:\(version).0) Gecko/20100101 Firefox/\(version).0", .browser)
        case 8:
            let version = rng.between(120...137)
            return ("Mozilla/5.0 (Android \(rng.between(11...15)); Mobile; rv:\(version).0) Gecko/\(version).0 Firefox/\(version).0", .browser)
        case 9:
            let version = rng.pick(safariVersions)
            return ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \(mobileSafari) Version/\(version) Safari/605.1.15", .browser)
        case 10:
            let (underscored, dotted) = iOS(&rng)
            return ("Mozilla/5.0 (iPhone; CPU iPhone OS \(underscored) like Mac OS X) \(mobileSafari) Version/\(dotted) Mobile/15E148 Safari/604.1", .browser)
        case 11:
            let (underscored, dotted) = iOS(&rng)
            return ("Mozilla/5.0 (iPad; CPU OS \(underscored) like Mac OS X) \(mobileSafari) Version/\(dotted) Mobile/15E148 Safari/604.1", .browser)
        case 12:
            let (underscored, _) = iOS(&rng)
            let (_, version) = chrome(&rng, reduced: false)
            return ("Mozilla/5.0 (iPhone; CPU iPhone OS \(underscored) like Mac OS X) \(mobileSafari) CriOS/\(version) Mobile/15E148 Safari/604.1", .browser)
        case 13:
            let (major, _) = chrome(&rng, reduced: true)
            let model = rng.pick(SampleCorpus.samsungModels)
            return ("Mozilla/5.0 (Linux; Android \(rng.between(12...15)); SAMSUNG \(model)) \(webkit) SamsungBrowser/\(rng.between(23...27)).\(rng.below(2)) Chrome/\(major - 8).0.0.0 Mobile Safari/537.36", .browser)
        case 14:
            let (major, _) = chrome(&rng, reduced: true)
            return ("Mozilla/5.0 (\(windows(&rng))) \(webkit) Chrome/\(major).0.0.0 Safari/537.36 OPR/\(major - 15).0.0.0", .browser)
        case 15:
            if rng.below(2) == 0 {
                let (_, version) = chrome(&rng, reduced: false)
                let device = rng.pick(SampleCorpus.androidDevices)
                let fbav = "\(rng.between(440...480)).0.0.\(rng.between(10...60)).\(rng.between(60...120))"
                return ("Mozilla/5.0 (Linux; Android \(rng.between(11...15)); \(device) Build/UP1A.\(rng.between(230_000...240_999)).00\(rng.below(10)); wv) \(webkit) Version/4.0 Chrome/\(version) Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/\(fbav);]", .browser)
            }
            let (underscored, _) = iOS(&rng)
            let instagram = "\(rng.between(300...360)).0.0.\(rng.between(10...40)).\(rng.between(70...120))"
            return ("Mozilla/5.0 (iPhone; CPU iPhone OS \(underscored) like Mac OS X) \(mobileSafari) Mobile/15E148 Instagram \(instagram) (iPhone\(rng.between(12...16)),\(rng.between(2...8)); iOS \(underscored); en_GB; en-GB; scale=3.00; 1170x2532; \(rng.between(500_000_000...699_999_999)))", .browser)
        case 16:
            if rng.below(4) == 0 {
                let (_, version) = chrome(&rng, reduced: false)
                return ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) \(webkit) Chrome/\(version) Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", .bot)
            }
            return (rng.pick(SampleCorpus.botAgents), .bot)
        default:
            switch rng.below(10) {
            case 0: return ("curl/8.\(rng.below(13)).\(rng.below(2))", .tool)
            case 1: return ("python-requests/2.\(rng.between(25...32)).\(rng.below(4))", .tool)
            case 2: return (rng.below(3) == 0 ? "Go-http-client/2.0" : "Go-http-client/1.1", .tool)
            case 3: return ("Wget/1.21.\(rng.between(1...4))", .tool)
            case 4: return ("okhttp/4.\(rng.between(9...12)).\(rng.below(4))", .tool)
            case 5: return ("Apache-HttpClient/4.5.\(rng.between(10...14)) (Java/17.0.\(rng.between(1...12)))", .tool)
            case 6: return ("axios/1.\(rng.between(4...8)).\(rng.below(10))", .tool)
            case 7: return ("PostmanRuntime/7.\(rng.between(36...43)).\(rng.below(4))", .tool)
            case 8: return ("kube-probe/1.\(rng.between(27...31))", .tool)
            default: return ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", .bot)
            }
        }
    }
}

// MARK: - Clients

private enum ClientBuilder {
    struct Result {
        var ips = BytePool()
        var agents = [Int32]()
        var keys = [UInt64]()
        var hasSession = [Bool]()
        var cookiePrefixes = BytePool()
        var cookieSuffixes = BytePool()
        var zipf: ZipfTable
    }

    /// Public first octets (none of 0, 10, 100.64/10, 127, 169.254, 172.16/12, 192.168, multicast or reserved).
    private static let firstOctets: [UInt32] = [
        2, 5, 23, 24, 31, 37, 45, 46, 47, 50, 62, 66, 67, 68, 69, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
        83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 98, 99, 104, 107, 108, 109, 136, 141, 145, 146, 151,
        152, 154, 156, 162, 164, 167, 173, 174, 176, 178, 185, 188, 193, 194, 195, 197, 199, 200, 201, 209, 212,
        213, 217, 220, 221, 222, 223,
    ]
    private static let ipv6Prefixes = ["2001:db8", "2a02", "2a01", "2600", "2603", "2409", "2406", "2c0f", "2804", "2003", "2a00"]
    private static let consents = [
        "all", "necessary", "necessary%2Canalytics", "analytics%2Cmarketing", "rejected", "v2%3Aall%3A1704067200",
    ]
    private static let languages = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "es-ES"]

    static func build(count: Int, ipv6Share: Double, agentZipf: ZipfTable, seed: UInt64) -> Result {
        var rng = Xoshiro256StarStar(seed: seed)
        var result = Result(zipf: ZipfTable(count: count, offset: 3))
        var seenIPv4 = Set<UInt32>()
        var seenIPv6 = Set<String>()
        var prefixes = [UInt32]()
        // IPv6 clients chosen by error diffusion over activity weights, so that about `ipv6Share` of the lines
        // (not merely of the clients) come from IPv6 addresses, whatever the heavy hitters turn out to be.
        var ipv6Weight = 0.0
        var weightSoFar = 0.0
        for rank in 0..<count {
            let weight = Double(result.zipf.weight(rank))
            weightSoFar += weight
            let isIPv6 = ipv6Weight + weight <= ipv6Share * weightSoFar + weight * 0.5
            if isIPv6 {
                ipv6Weight += weight
                result.ips.add(uniqueIPv6(&rng, seen: &seenIPv6))
            } else {
                result.ips.add(uniqueIPv4(&rng, seen: &seenIPv4, prefixes: &prefixes))
            }
            result.agents.append(Int32(agentZipf.sample(&rng)))
            let key = rng.next()
            result.keys.append(key)
            result.hasSession.append(rng.below(100) < 65)
            let (prefix, suffix) = cookies(&rng, key: key)
            result.cookiePrefixes.add(prefix)
            result.cookieSuffixes.add(suffix)
        }
        return result
    }

    private static func uniqueIPv4(_ rng: inout Xoshiro256StarStar, seen: inout Set<UInt32>, prefixes: inout [UInt32]) -> String {
        while true {
            let prefix: UInt32
            let reused = !prefixes.isEmpty && rng.below(100) < 22  // ISPs and offices: neighbours in one /24
            if reused {
                prefix = prefixes[rng.below(prefixes.count)]
            } else {
                let first = rng.pick(firstOctets)
                var second = UInt32(rng.below(256))
                if first == 198 && (second == 18 || second == 19 || second == 51) { second = 20 }
                prefix = first << 16 | second << 8 | UInt32(rng.below(256))
            }
            let address = prefix << 8 | UInt32(rng.between(1...254))
            if seen.insert(address).inserted {
                if !reused { prefixes.append(prefix) }
                return "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
            }
        }
    }

    private static func uniqueIPv6(_ rng: inout Xoshiro256StarStar, seen: inout Set<String>) -> String {
        while true {
            var groups = rng.pick(ipv6Prefixes).split(separator: ":").map { String($0) }
            if groups.count == 1 { groups.append(group(&rng)) }
            let address: String
            switch rng.below(100) {
            case 0..<45:  // full, leading zeros dropped: an address with a random interface id
                for _ in 0..<6 { groups.append(group(&rng)) }
                address = groups.joined(separator: ":")
            case 45..<80:  // compressed run of zero groups
                for _ in 0..<rng.between(1...2) { groups.append(group(&rng)) }
                let tail = (0..<rng.between(1...3)).map { _ in group(&rng) }
                address = groups.joined(separator: ":") + "::" + tail.joined(separator: ":")
            case 80..<90:  // fully expanded, zero-padded
                for _ in 0..<6 { groups.append(group(&rng)) }
                address = groups.map { String(repeating: "0", count: 4 - $0.count) + $0 }.joined(separator: ":")
            default:  // a router-style ::1
                groups.append(group(&rng))
                groups.append(group(&rng))
                address = groups.joined(separator: ":") + "::" + String(rng.between(1...15), radix: 16)
            }
            if seen.insert(address).inserted { return address }
        }
    }

    private static func group(_ rng: inout Xoshiro256StarStar) -> String {
        // Mostly full 16-bit groups, sometimes short ones as ISPs hand them out.
        let value = rng.below(100) < 80 ? rng.below(0x10000) : rng.below(0x100)
        return String(value, radix: 16)
    }

    private static func cookies(_ rng: inout Xoshiro256StarStar, key: UInt64) -> (prefix: String, suffix: String) {
        var prefix = ""
        if rng.below(100) < 70 {
            prefix += "_ga=GA1.2.\(rng.between(100_000_000...2_147_483_647)).\(rng.between(1_672_531_200...1_767_000_000)); "
        }
        if rng.below(100) < 22 {
            prefix += "_gid=GA1.2.\(rng.between(100_000_000...2_147_483_647)).\(rng.between(1_767_000_000...1_767_200_000)); "
        }
        if rng.below(100) < 10 {
            let uuid = [8, 4, 4, 4, 12].enumerated()
                .map { String.hexToken(seed: key &+ UInt64($0.offset) &* 7919, length: $0.element) }
            prefix += "_hjid=\(uuid.joined(separator: "-")); "
        }
        var suffix = "visitor_id=v-" + String.hexToken(seed: key ^ 0x7669_7369_746F_72, length: 16)
        if rng.below(100) < 70 { suffix += "; consent=" + rng.pick(consents) }
        if rng.below(100) < 20 { suffix += "; lang=" + rng.pick(languages) }
        if rng.below(100) < 12 { suffix += "; currency=" + (rng.below(3) == 0 ? "GBP" : "EUR") }
        if rng.below(100) < 3 { suffix += "; optout=1" }
        return (prefix, suffix)
    }
}

// MARK: - Request targets

private enum PathBuilder {
    struct Result {
        var pool = BytePool()
        var kinds = [PathKind]()
        var sizes = [UInt32]()
        var hasQuery = [Bool]()
        var seen = Set<String>()

        mutating func add(_ path: String, _ kind: PathKind, _ size: Int) {
            guard seen.insert(path).inserted else { return }
            pool.add(path)
            kinds.append(kind)
            sizes.append(UInt32(size))
            hasQuery.append(path.utf8.contains(0x3F))
        }
    }

    static func build(count: Int, seed: UInt64) -> Result {
        var rng = Xoshiro256StarStar(seed: seed)
        var result = Result()
        func hash(_ rng: inout Xoshiro256StarStar) -> String { String.hexToken(seed: rng.next(), length: 8) }

        let head: [(String, PathKind, Int)] = [
            ("/", .page, 48_211),
            ("/static/js/app.\(hash(&rng)).js", .asset, 312_408),
            ("/static/css/main.\(hash(&rng)).css", .asset, 84_120),
            ("/favicon.ico", .image, 15_086),
            ("/api/v1/events", .api, 120),
            ("/static/js/vendor.\(hash(&rng)).js", .asset, 541_977),
            ("/images/logo.svg", .image, 6_204),
            ("/robots.txt", .asset, 412),
            ("/products", .page, 61_305),
            ("/cart", .page, 22_018),
            ("/static/js/runtime.\(hash(&rng)).js", .asset, 4_810),
            ("/api/v1/cart", .api, 904),
            ("/sale", .page, 70_442),
            ("/static/fonts/inter-var.\(hash(&rng)).woff2", .asset, 98_300),
            ("/account/login", .page, 18_470),
            ("/sitemap.xml", .asset, 140_221),
            ("/api/v1/recommendations", .api, 4_130),
        ]
        for (path, kind, size) in head where result.pool.count < count {
            result.add(path, kind, size)
        }
        var attempts = 0
        while result.pool.count < count && attempts < count * 30 {
            attempts += 1
            let (path, kind, size) = randomPath(&rng, hash: hash)
            result.add(path, kind, size)
        }
        return result
    }

    private static func slug(_ rng: inout Xoshiro256StarStar, words: [String], count: ClosedRange<Int>) -> String {
        (0..<rng.between(count)).map { _ in rng.pick(words) }.joined(separator: "-")
    }

    private static func randomPath(
        _ rng: inout Xoshiro256StarStar, hash: (inout Xoshiro256StarStar) -> String
    ) -> (String, PathKind, Int) {
        let roll = rng.below(100)
        switch roll {
        case 0..<26:
            let id = rng.between(10_000...999_999)
            var path = rng.below(2) == 0 ? "/products/\(id)" : "/products/\(slug(&rng, words: SampleCorpus.productWords, count: 2...4))-\(id)"
            if rng.below(100) < 18 { path += "?" + query(&rng) }
            return (path, .page, rng.between(38_000...140_000))
        case 26..<36:
            let (category, subs) = rng.pick(SampleCorpus.categories)
            var path = "/category/\(category)/\(rng.pick(subs))"
            if rng.below(100) < 75 { path += "?" + query(&rng) }
            return (path, .page, rng.between(50_000...180_000))
        case 36..<43:
            var path = "/blog/\(rng.between(2019...2026))/\(slug(&rng, words: SampleCorpus.blogWords, count: 3...7))"
            if rng.below(100) < 20 { path += "?" + query(&rng) }
            return (path, .page, rng.between(30_000...95_000))
        case 43..<48:
            switch rng.below(3) {
            case 0: return ("/static/js/\(rng.pick(SampleCorpus.jsChunks)).\(hash(&rng)).js", .asset, rng.between(2_000...700_000))
            case 1: return ("/static/css/\(rng.pick(SampleCorpus.cssFiles)).\(hash(&rng)).css", .asset, rng.between(4_000...120_000))
            default: return ("/static/fonts/\(rng.pick(SampleCorpus.fonts)).\(hash(&rng)).woff2", .asset, rng.between(20_000...120_000))
            }
        case 48..<72:
            let type = rng.pick(SampleCorpus.imageTypes)
            switch rng.below(4) {
            case 0, 1:
                return ("/images/products/\(rng.between(10_000...999_999))-\(rng.pick(SampleCorpus.imageSizes))\(type)", .image, rng.between(3_000...450_000))
            case 2:
                return ("/images/blog/\(rng.between(2019...2026))/\(slug(&rng, words: SampleCorpus.blogWords, count: 2...4))\(type)", .image, rng.between(20_000...600_000))
            default:
                return ("/img/banners/\(slug(&rng, words: SampleCorpus.productWords, count: 1...3))-\(rng.pick(SampleCorpus.imageSizes))\(type)", .image, rng.between(10_000...350_000))
            }
        case 72..<82:
            let resource = rng.pick(SampleCorpus.apiResources)
            let id = rng.between(10_000...999_999)
            switch rng.below(5) {
            case 0: return ("/api/v1/\(resource)/\(id)", .api, rng.between(200...6_000))
            case 1: return ("/api/v1/\(resource)?product_id=\(id)", .api, rng.between(200...12_000))
            case 2: return ("/api/v2/\(resource)/\(id)?fields=price,stock", .api, rng.between(80...900))
            case 3: return ("/api/v1/\(resource)?product=\(id)&page=\(rng.between(1...12))", .api, rng.between(900...12_000))
            default: return ("/api/v1/search?q=\(encode(rng.pick(SampleCorpus.searchTerms), rng: &rng))&limit=20", .api, rng.between(2_000...20_000))
            }
        case 82..<86:
            var path = "/search?q=" + encode(searchPhrase(&rng), rng: &rng)
            if rng.below(100) < 30 { path += "&page=\(rng.between(2...9))" }
            if rng.below(100) < 20 { path += "&sort=\(rng.pick(SampleCorpus.sortOrders))" }
            return (path, .page, rng.between(30_000...120_000))
        case 86..<94:
            var path = rng.pick(SampleCorpus.miscPaths)
            if rng.below(100) < 60 { path += "?" + query(&rng) }
            let kind: PathKind = path.hasSuffix(".xml") || path.hasSuffix(".js") || path.hasSuffix(".json") || path.hasSuffix(".txt")
                ? .asset : path.hasSuffix(".png") ? .image : .page
            return (path, kind, rng.between(800...60_000))
        case 94..<97:
            var path = rng.pick(SampleCorpus.probePaths)
            if rng.below(3) == 0 { path = "/\(rng.pick(["wordpress", "wp", "blog", "old", "new", "backup", "test"]))\(path)" }
            return (path, .probe, 0)
        default:
            let id = rng.between(10_000...999_999)
            return ("/products/\(id)?" + utm(&rng), .page, rng.between(38_000...140_000))
        }
    }

    private static func searchPhrase(_ rng: inout Xoshiro256StarStar) -> String {
        switch rng.below(3) {
        case 0: return rng.pick(SampleCorpus.searchTerms)
        case 1: return "\(rng.pick(SampleCorpus.productWords)) \(rng.pick(SampleCorpus.productWords))"
        default: return "\(rng.pick(SampleCorpus.colours)) \(rng.pick(SampleCorpus.productWords)) \(rng.pick(SampleCorpus.sizes))"
        }
    }

    static func utm(_ rng: inout Xoshiro256StarStar) -> String {
        var query = "utm_source=\(rng.pick(SampleCorpus.utmSources))&utm_medium=\(rng.pick(SampleCorpus.utmMediums))"
            + "&utm_campaign=\(rng.pick(SampleCorpus.campaigns))"
        if rng.below(4) == 0 { query += "&utm_content=banner_\(rng.between(1...40))" }
        return query
    }

    private static func query(_ rng: inout Xoshiro256StarStar) -> String {
        switch rng.below(10) {
        case 0, 1: return utm(&rng)
        case 2: return "page=\(rng.between(2...40))"
        case 3: return "sort=\(rng.pick(SampleCorpus.sortOrders))"
        case 4: return "page=\(rng.between(2...20))&sort=\(rng.pick(SampleCorpus.sortOrders))"
        case 5: return "color=\(rng.pick(SampleCorpus.colours))&size=\(rng.pick(SampleCorpus.sizes))"
        case 6: return "id=\(rng.between(1...99_999))"
        case 7: return "ref=\(rng.pick(["homepage", "nav", "footer", "email", "related", "recently-viewed"]))"
        case 8: return "gclid=Cj0KCQiA" + String.token(seed: rng.next(), length: 30)
        default: return "fbclid=IwAR" + String.token(seed: rng.next(), length: 30)
        }
    }

    /// Percent-encodes a query value: space as `+` or `%20`, non-ASCII as UTF-8 `%XX`.
    static func encode(_ text: String, rng: inout Xoshiro256StarStar) -> String {
        let plusForSpace = rng.below(3) != 0
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x20:
                out += plusForSpace ? "+" : "%20"
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}

// MARK: - Referrers

private enum ReferrerBuilder {
    static func build(seed: UInt64) -> (search: BytePool, social: BytePool) {
        var rng = Xoshiro256StarStar(seed: seed)
        var search = BytePool()
        var seen = Set<String>()
        for engine in SampleCorpus.searchEngines where seen.insert(engine).inserted {
            search.add(engine)
        }
        for _ in 0..<1_200 {
            var phrase = rng.pick(SampleCorpus.searchTerms)
            if rng.below(3) == 0 { phrase = "example shop " + phrase }
            if rng.below(4) == 0 { phrase = rng.pick(SampleCorpus.productWords) + " " + phrase }
            let q = PathBuilder.encode(phrase, rng: &rng)
            let referrer: String
            switch rng.below(10) {
            case 0..<5: referrer = "https://www.google.com/search?q=\(q)" + (rng.below(3) == 0 ? "&hl=en" : "")
            case 5: referrer = "https://www.google.de/search?q=\(q)"
            case 6, 7: referrer = "https://www.bing.com/search?q=\(q)&form=QBLH"
            case 8: referrer = "https://duckduckgo.com/?q=\(q)"
            default: referrer = "https://search.yahoo.com/search?p=\(q)"
            }
            if seen.insert(referrer).inserted { search.add(referrer) }
        }

        var social = BytePool()
        for site in SampleCorpus.socialReferrers where seen.insert(site).inserted {
            social.add(site)
        }
        for _ in 0..<600 {
            let referrer: String
            switch rng.below(6) {
            case 0, 1: referrer = "https://t.co/" + String.token(seed: rng.next(), length: 10)
            case 2:
                referrer = "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.example-shop.test%2F&h=AT"
                    + String.token(seed: rng.next(), length: 24)
            case 3:
                referrer = "https://www.reddit.com/r/\(rng.pick(["CampingGear", "running", "BuyItForLife", "Ultralight", "bicycling"]))/comments/"
                    + String.token(seed: rng.next(), length: 7) + "/"
            case 4: referrer = "https://www.youtube.com/watch?v=" + String.token(seed: rng.next(), length: 11)
            default: referrer = "https://www.linkedin.com/feed/update/urn:li:activity:" + String.token(seed: rng.next(), length: 12)
            }
            if seen.insert(referrer).inserted { social.add(referrer) }
        }
        return (search, social)
    }
}
