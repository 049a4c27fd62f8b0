/// One personal value the generator can plant, in canonical form.
public struct PlantedValue: Sendable, Hashable, CustomStringConvertible {
    /// "email", "phone", "card", "ssn", "iban", "name", "dob", "address", "account" or "username".
    public var kind: String
    /// The value with formatting and encoding taken away: emails lower-case; phones as "+" and digits (national
    /// forms: digits only, leading 0 kept); cards, SSNs and dates of birth (yyyymmdd) as digits; IBANs and
    /// account numbers as upper-case letters and digits; names, addresses and usernames as written.
    public var canonical: String

    public init(kind: String, canonical: String) {
        self.kind = kind
        self.canonical = canonical
    }

    public var description: String { "\(kind):\(canonical)" }
}

extension AccessLogGenerator {
    /// Every value the generator can plant (the catalog), in canonical form.
    ///
    /// With `plantPersonalData`, the generator plants them in turn, kind by kind, so that every value appears
    /// within the first few thousand planted lines (50,000 lines of log plant about 750).
    public static var plantedCatalog: [PlantedValue] { PlantKind.catalog }
}

// MARK: - Kinds, values and the ways they are written

enum PlantKind: Int, CaseIterable, Sendable {
    case email, phone, card, ssn, iban, name, dob, address, account, username

    /// A value and the ways people write it (before any URL encoding); the first way is the most common one.
    struct Value: Sendable {
        var canonical: String
        var forms: [String]
    }

    static let catalog: [PlantedValue] = allCases.flatMap { kind in
        values[kind.rawValue].map { PlantedValue(kind: String(describing: kind), canonical: $0.canonical) }
    }

    /// Indexed by `rawValue`.
    static let values: [[Value]] = allCases.map { kind in
        switch kind {
        case .email:
            return SampleCorpus.emails.map { Value(canonical: $0, forms: [$0, $0.uppercased(), capitalized($0)]) }
        case .phone:
            return SampleCorpus.phones.map { Value(canonical: $0.canonical, forms: $0.forms) }
        case .card:
            return SampleCorpus.cards.map { card in
                let groups = card.count == 16 ? [4, 4, 4, 4] : card.count == 15 ? [4, 6, 5] : [4, 6, 4]
                return Value(canonical: card, forms: [card, grouped(card, groups, " "), grouped(card, groups, "-")])
            }
        case .ssn:
            return SampleCorpus.socialSecurityNumbers.map { ssn in
                let groups = [3, 2, 4]
                return Value(canonical: ssn, forms: [grouped(ssn, groups, "-"), grouped(ssn, groups, " "), ssn, grouped(ssn, groups, ".")])
            }
        case .iban:
            return SampleCorpus.ibans.map { iban in
                let groups = Array(repeating: 4, count: (iban.count + 3) / 4)
                return Value(canonical: iban, forms: [grouped(iban, groups, " "), iban, iban.lowercased(), grouped(iban, groups, "-")])
            }
        case .name:
            return (SampleCorpus.firstNames + SampleCorpus.lastNames).map {
                Value(canonical: $0, forms: [$0, $0.uppercased(), $0.lowercased()])
            }
        case .dob:
            return SampleCorpus.birthDates.map { date in
                let groups = [4, 2, 2]
                return Value(canonical: date, forms: [grouped(date, groups, "-"), grouped(date, groups, "."), date])
            }
        case .address:
            return SampleCorpus.addresses.map { Value(canonical: $0, forms: [$0, $0.uppercased(), $0.lowercased()]) }
        case .account:
            return SampleCorpus.accounts.map { Value(canonical: $0.canonical, forms: $0.forms) }
        case .username:
            return SampleCorpus.usernames.map { Value(canonical: $0, forms: [$0, $0.uppercased()]) }
        }
    }

    /// Kinds a detector can recognise anywhere; the others are personal only under a telling name.
    var isDetectable: Bool {
        switch self {
        case .email, .phone, .card, .ssn, .iban: true
        case .name, .dob, .address, .account, .username: false
        }
    }

    /// Query parameter and cookie names that announce the kind (names have their own, see `namedPair`).
    var parameterNames: [String] {
        switch self {
        case .email: ["email", "contact", "login", "user_email"]
        case .phone: ["phone", "tel", "mobile", "callback"]
        case .card: ["cc", "card_number", "pan", "cardnumber"]
        case .ssn: ["ssn", "social_security_number", "tax_id"]
        case .iban: ["iban", "bank_account"]
        case .name: ["name", "full_name"]
        case .dob: ["dob", "birthdate", "date_of_birth"]
        case .address: ["address", "street", "billing_address"]
        case .account: ["account", "account_no", "acct", "customer_account"]
        case .username: ["username", "user", "login"]
        }
    }

    /// Path templates (before, after the value) for the detectable kinds.
    var pathTemplates: [(String, String)] {
        switch self {
        case .email: [("/users/", "/profile"), ("/unsubscribe/", ""), ("/api/v1/customers/", "/orders")]
        case .phone: [("/call/", ""), ("/contact/callback/", ""), ("/api/v1/customers/by-phone/", "")]
        case .card: [("/pay/", "/confirm"), ("/checkout/card/", "")]
        case .ssn: [("/ssn/", ""), ("/verify/", "/status")]
        case .iban: [("/iban/", ""), ("/payouts/", "/edit")]
        case .name, .dob, .address, .account, .username: []
        }
    }

    private static func capitalized(_ text: String) -> String {
        text.prefix(1).uppercased() + text.dropFirst()
    }

    /// `text` cut into groups of the given sizes (the last may be shorter), joined by `separator`.
    private static func grouped(_ text: String, _ sizes: [Int], _ separator: String) -> String {
        var rest = Substring(text)
        var groups: [Substring] = []
        for size in sizes where !rest.isEmpty {
            groups.append(rest.prefix(size))
            rest = rest.dropFirst(size)
        }
        if !rest.isEmpty { groups.append(rest) }
        return groups.joined(separator: separator)
    }
}

// MARK: - Planting

/// A planted value, rendered for the one field of the line that carries it.
struct Plant: Sendable {
    enum Field: Sendable {
        /// `name=value`, appended to the request target's query string.
        case query
        /// A whole request target that replaces the line's path.
        case path
        /// A whole referrer URL.
        case referrer
        /// `name=value`, appended to the cookie field (only for lines that have one).
        case cookie
        /// The `%u` field.
        case remoteUser
    }

    var field: Field
    var text: String
}

/// Chooses and renders the personal data planted in a line: which kind (weighted), which value (each kind's
/// values in turn, so that all of them appear early), which way of writing it, which field and which encoding.
///
/// It draws from its own stream, never from the generator's, so that a log with planting and one without are
/// identical except on the planted lines. Rendered values hold no raw space, quote or control byte: every line
/// stays a valid combined line.
struct PersonalDataPlanter: Sendable {
    private enum Site: CaseIterable {
        case namedQuery, innocentQuery, path, namedReferrer, innocentReferrer, referrerPath, namedCookie
        case innocentCookie, remoteUser

        var weight: UInt32 {
            switch self {
            case .namedQuery: 3
            case .path, .namedCookie, .remoteUser, .innocentQuery: 2
            case .namedReferrer, .innocentReferrer, .referrerPath, .innocentCookie: 1
            }
        }
    }

    private enum Encoding: CaseIterable {
        /// Spaces as `+` (query, cookie) or `%20` (path); everything else as it is.
        case plain
        /// Every byte outside RFC 3986's unreserved set as `%XX`, upper-case hex.
        case percent
        /// The same with lower-case hex (`%2b`).
        case percentLowerHex
        /// Percent-encoded twice (`%2540`), as a value copied from one URL into another.
        case double

        var weight: UInt32 {
            switch self {
            case .plain: 3
            case .percent: 2
            case .percentLowerHex, .double: 1
            }
        }
    }

    private static let kindChoice = WeightedChoice(PlantKind.allCases.map { kind -> UInt32 in
        switch kind {
        case .email: 30
        case .card: 18
        case .phone: 12
        case .name: 8
        case .iban: 7
        case .account, .username: 6
        case .ssn: 5
        case .dob, .address: 4
        }
    })

    /// The sites each kind can occupy (indexed by `rawValue`), and a weighted choice among them.
    private static let sites: [(sites: [Site], choice: WeightedChoice)] = PlantKind.allCases.map { kind in
        let sites = Site.allCases.filter { site in
            switch site {
            case .namedQuery, .namedReferrer, .namedCookie: true
            case .innocentQuery, .path, .innocentReferrer, .referrerPath, .innocentCookie: kind.isDetectable
            case .remoteUser: kind == .email || kind == .username
            }
        }
        return (sites, WeightedChoice(sites.map(\.weight)))
    }

    private static let encodingChoice = WeightedChoice(Encoding.allCases.map(\.weight))
    private static let innocentQueryNames = ["q", "ref", "note", "msg", "utm_term", "utm_content"]
    private static let innocentCookieNames = ["prefill", "last_search", "ab_note"]
    private static let searchReferrers = ["https://www.google.com/search?q=", "https://www.bing.com/search?q=", "https://duckduckgo.com/?q="]
    private static let origins = [SampleCorpus.siteOrigin, "https://crm.example.net"]

    private var rng: Xoshiro256StarStar
    private var cursors = [Int](repeating: 0, count: PlantKind.allCases.count)

    init(seed: UInt64) {
        rng = Xoshiro256StarStar(seed: SplitMix64.mix(seed ^ 0x706C_616E_74))
    }

    /// The next plant. A cookie plant for a line without a cookie field moves to the query string.
    mutating func next(hasCookie: Bool) -> Plant {
        let kind = PlantKind.allCases[Self.kindChoice.sample(&rng)]
        let (sites, choice) = Self.sites[kind.rawValue]
        var site = sites[choice.sample(&rng)]
        if !hasCookie && (site == .namedCookie || site == .innocentCookie) {
            site = site == .namedCookie ? .namedQuery : .innocentQuery
        }
        let values = PlantKind.values[kind.rawValue]
        let index = cursors[kind.rawValue] % values.count
        cursors[kind.rawValue] += 1
        // The first form is the most common way of writing the value: twice as likely as each other one.
        let forms = values[index].forms
        let form = forms[max(0, rng.below(forms.count + 1) - 1)]
        let encoding = site == .remoteUser ? .plain : Encoding.allCases[Self.encodingChoice.sample(&rng)]

        switch site {
        case .namedQuery:
            return Plant(field: .query, text: namedPair(kind, index: index, form: form, encoding: encoding))
        case .innocentQuery:
            return Plant(field: .query, text: rng.pick(Self.innocentQueryNames) + "=" + Self.encode(form, encoding))
        case .path:
            let (before, after) = rng.pick(kind.pathTemplates)
            return Plant(field: .path, text: before + Self.encode(form, encoding, inPath: true) + after)
        case .namedReferrer:
            let special = kind == .email ? "https://mail.example.com/compose?to=" : kind == .phone ? "https://crm.example.net/dial?tel=" : nil
            if let special, rng.below(2) == 0 {
                return Plant(field: .referrer, text: special + Self.encode(form, encoding))
            }
            let pair = namedPair(kind, index: index, form: form, encoding: encoding)
            return Plant(field: .referrer, text: SampleCorpus.siteOrigin + "/account/settings?" + pair)
        case .innocentReferrer:
            return Plant(field: .referrer, text: rng.pick(Self.searchReferrers) + Self.encode(form, encoding))
        case .referrerPath:
            let (before, after) = rng.pick(kind.pathTemplates)
            return Plant(field: .referrer, text: rng.pick(Self.origins) + before + Self.encode(form, encoding, inPath: true) + after)
        case .namedCookie:
            return Plant(field: .cookie, text: namedPair(kind, index: index, form: form, encoding: encoding))
        case .innocentCookie:
            return Plant(field: .cookie, text: rng.pick(Self.innocentCookieNames) + "=" + Self.encode(form, encoding))
        case .remoteUser:
            return Plant(field: .remoteUser, text: form)
        }
    }

    /// `name=value` under a name that announces the kind. A name goes under `first_name` or `last_name` alone,
    /// or under `name` with its partner (`name=Janelle+Quixotica`).
    private mutating func namedPair(_ kind: PlantKind, index: Int, form: String, encoding: Encoding) -> String {
        guard kind == .name else {
            return rng.pick(kind.parameterNames) + "=" + Self.encode(form, encoding)
        }
        let firstCount = SampleCorpus.firstNames.count
        if rng.below(3) == 0 {
            let pair = index % firstCount
            let full = SampleCorpus.firstNames[pair] + " " + SampleCorpus.lastNames[pair]
            return rng.pick(kind.parameterNames) + "=" + Self.encode(full, encoding)
        }
        let names = index < firstCount ? ["first_name", "firstname", "given_name"] : ["last_name", "surname", "family_name"]
        return rng.pick(names) + "=" + Self.encode(form, encoding)
    }

    private static func encode(_ text: String, _ encoding: Encoding, inPath: Bool = false) -> String {
        let hex = Array((encoding == .percentLowerHex ? "0123456789abcdef" : "0123456789ABCDEF").utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch (encoding, byte) {
            case (.plain, 0x20):
                out += inPath ? Array("%20".utf8) : [0x2B]
            case (.plain, 0x21...0x7E) where byte != 0x22 && byte != 0x25:
                out.append(byte)
            case (_, 0x30...0x39), (_, 0x41...0x5A), (_, 0x61...0x7A), (_, 0x2D), (_, 0x2E), (_, 0x5F), (_, 0x7E):
                out.append(byte)
            default:
                out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                if encoding == .double { out.insert(contentsOf: [0x32, 0x35], at: out.count - 2) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
