import CrumbCore
import CrumbIO
import CrumbTestSupport
import Testing

/// The policy file: samples/policy.yaml is Policy.standard, bad policies are refused at the right line and
/// column, and the policy's hot method and digest text behave.
struct PolicyLoaderTests {
    // MARK: - The default policy

    @Test func samplePolicyEqualsStandard() throws {
        let policy = try PolicyLoader.load(path: SharedData.sample("policy.yaml"))
        #expect(policy == Policy.standard)
        #expect(policy.canonicalText() == Policy.standard.canonicalText())
        #expect(Policy.standard.problems().isEmpty)
    }

    @Test func standardHasTheDocumentedDefaults() {
        let policy = Policy.standard
        #expect(policy.ipMode == .truncate(ipv4Prefix: 24, ipv6Prefix: 48))
        #expect(policy.key == Policy.KeySource(kind: .env, name: "CRUMB_KEY"))
        #expect(policy.rotation == .daily)
        #expect(policy.trackingCookies == ["visitor_id", "vid", "_ga", "_pk_id", "uid"])
        #expect(policy.optOutCookieName == "optout" && policy.optOutCookieValue == "1")
        #expect(policy.optOutSignals == [.dnt, .gpc, .cookie])
        #expect(policy.countOptedOutInTotals)
        #expect(policy.detectors == [.email, .phone, .card, .ssn, .iban, .namedField])
        #expect(policy.namedFields == nil)
        #expect(policy.bucket == .hour)
        #expect(policy.dimensions == WebDimension.allCases.filter { $0 != .total })
        #expect(policy.minCount == 5)
        #expect(!policy.events && !policy.vault)
        #expect(Set(policy.fields.keys) == Set(Policy.Role.allCases))
    }

    @Test func emptyFileIsStandard() throws {
        #expect(try PolicyLoader.parse(text: "", path: "empty.yaml") == Policy.standard)
        #expect(try PolicyLoader.parse(text: "# only a comment\n", path: "empty.yaml") == Policy.standard)
    }

    @Test func explanationStatesTheKeyFacts() {
        let text = Policy.standard.explanation()
        for fact in [
            "truncated to their /24 (IPv4) or /48 (IPv6) network", "CRUMB_KEY", "never goes in the policy file",
            "every UTC day", "utm_campaign", "every other parameter's value is dropped", "visitor_id",
            "DNT: 1", "Sec-GPC: 1", "optout=1", "still count in the anonymous totals", "Card numbers are never written",
            "personal: client_ip, remote_user, cookie, forwarded_for", "UTC hour", "fewer than 5 unique visitors",
            "the events output is off", "the vault is off",
        ] {
            #expect(text.contains(fact), "explanation lacks: \(fact)")
        }
        #expect(text.components(separatedBy: "\n\n").count == 11)
    }

    @Test func explanationFollowsTheSettings() throws {
        let policy = try PolicyLoader.parse(text: """
            ip: { mode: hash }
            keys: { source: "file:/etc/crumb/key", rotation: monthly }
            query: { allow: ["utm_*"] }
            opt_out: { signals: [gpc], count_in_totals: false }
            detectors: { phone: false, named_fields: [customer_no] }
            aggregation: { bucket: day, min_count: 0 }
            outputs: { events: true, vault: true }
            """)
        let text = policy.explanation()
        for fact in [
            "keyed pseudonyms (HMAC-SHA-256", "the file /etc/crumb/key", "calendar month",
            "utm_* keeps every name starting with utm_", "not counted in any total", "Off: phone numbers",
            "named fields customer_no", "UTC day", "k-anonymity is off", "the events output is on", "the vault is on",
        ] {
            #expect(text.contains(fact), "explanation lacks: \(fact)")
        }
        #expect(!text.contains("DNT"))
    }

    // MARK: - Partial policies take the defaults

    @Test func missingKeysTakeTheDefaults() throws {
        let policy = try PolicyLoader.parse(text: "outputs:\n  events: true\nip:\n  ipv6_prefix: 56\n")
        var expected = Policy.standard
        expected.events = true
        expected.ipMode = .truncate(ipv4Prefix: 24, ipv6Prefix: 56)
        #expect(policy == expected)
    }

    @Test func alternativeSpellings() throws {
        let policy = try PolicyLoader.parse(text: """
            keys: { source: null }
            cookies: { opt_out: null }
            opt_out: { signals: [dnt, gpc] }
            detectors: { named_fields: false, ssn: false }
            fields: { client_ip: drop }
            ip: { mode: drop }
            """)
        #expect(policy.key == nil)
        #expect(policy.optOutCookieName == nil && policy.optOutCookieValue == nil)
        #expect(!policy.detectors.contains(.namedField) && !policy.detectors.contains(.ssn))
        #expect(policy.effectiveNamedFields.isEmpty)
        #expect(policy.ipMode == .drop)
        // With the named-field detector off, a parameter called email may be kept (the email detector
        // still removes addresses from its value).
        #expect(try PolicyLoader.parse(text: "detectors: { named_fields: false }\nquery: { allow: [utm_campaign, email] }").queryAllow == ["utm_campaign", "email"])
        // An opt-out cookie without a value: any value opts out.
        let anyValue = try PolicyLoader.parse(text: "cookies: { opt_out: { name: no_track } }")
        #expect(anyValue.optOutCookieName == "no_track" && anyValue.optOutCookieValue == nil)
        // Prefix-preserving and keep.
        #expect(try PolicyLoader.parse(text: "ip: { mode: prefix-preserving }").ipMode == .prefixPreserving)
        #expect(try PolicyLoader.parse(text: "ip: { mode: keep }\nfields: { client_ip: interaction }").ipMode == .keep)
    }

    // MARK: - Refused policies

    struct Bad: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var line: Int
        var column: Int
        var fragment: String
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        // Unknown keys, at every depth, with a suggestion.
        Bad(name: "unknown top-level key", yaml: "ip_mod:\n  mode: drop\n", line: 1, column: 1,
            fragment: "unknown key 'ip_mod'; did you mean 'ip'?"),
        Bad(name: "unknown key in a section", yaml: "fields:\n  client_ipp: personal\n", line: 2, column: 3,
            fragment: "unknown key 'client_ipp' in fields; did you mean 'client_ip'?"),
        Bad(name: "unknown key two levels down", yaml: "cookies:\n  opt_out:\n    nam: optout\n", line: 3, column: 5,
            fragment: "unknown key 'nam' in cookies.opt_out; did you mean 'name'?"),
        Bad(name: "unknown key with no close match", yaml: "outputs:\n  zzz: true\n", line: 2, column: 3,
            fragment: "expected one of: events, vault"),
        // Types.
        Bad(name: "quoted number", yaml: "ip:\n  ipv4_prefix: \"24\"\n", line: 2, column: 16,
            fragment: "ip.ipv4_prefix must be a whole number, got a string"),
        Bad(name: "section given as a scalar", yaml: "query: utm_source\n", line: 1, column: 8,
            fragment: "query must be a mapping"),
        Bad(name: "number for a boolean", yaml: "outputs:\n  events: 1\n", line: 2, column: 11,
            fragment: "outputs.events must be true or false, got a number (1)"),
        Bad(name: "scalar for a list", yaml: "cookies:\n  tracking: vid\n", line: 2, column: 13,
            fragment: "cookies.tracking must be a list"),
        Bad(name: "root is a list", yaml: "- ip\n", line: 1, column: 1, fragment: "the policy must be a mapping"),
        // Enum values list the allowed ones.
        Bad(name: "bad ip mode", yaml: "ip:\n  mode: trunc\n", line: 2, column: 9,
            fragment: "ip.mode cannot be 'trunc'; allowed: drop, truncate, hash, prefix-preserving, keep (did you mean 'truncate'?)"),
        Bad(name: "bad field class", yaml: "fields: { path: public }", line: 1, column: 17,
            fragment: "allowed: interaction, personal, sensitive, drop"),
        Bad(name: "bad rotation", yaml: "keys:\n  rotation: weekly\n", line: 2, column: 13,
            fragment: "allowed: daily, monthly, never"),
        Bad(name: "bad dimension", yaml: "aggregation:\n  dimensions: [path, browser]\n", line: 2, column: 22,
            fragment: "aggregation.dimensions cannot be 'browser'"),
        Bad(name: "bad signal", yaml: "opt_out: { signals: [dnt, sec-gpc] }", line: 1, column: 27,
            fragment: "allowed: dnt, gpc, cookie"),
        // Ranges and version.
        Bad(name: "ipv4 prefix over 32", yaml: "ip:\n  ipv4_prefix: 33\n", line: 2, column: 16,
            fragment: "ip.ipv4_prefix must be between 0 and 32, got 33"),
        Bad(name: "ipv6 prefix over 128", yaml: "ip:\n  ipv6_prefix: 129\n", line: 2, column: 16,
            fragment: "ip.ipv6_prefix must be between 0 and 128, got 129"),
        Bad(name: "negative min_count", yaml: "aggregation:\n  min_count: -1\n", line: 2, column: 14,
            fragment: "aggregation.min_count must be 0 or more"),
        Bad(name: "version 2", yaml: "version: 2\n", line: 1, column: 10, fragment: "unsupported policy version 2"),
        Bad(name: "prefix without truncate", yaml: "ip:\n  mode: hash\n  ipv4_prefix: 24\n", line: 3, column: 3,
            fragment: "ip.ipv4_prefix only applies to mode truncate, but ip.mode is hash"),
        // Duplicate keys point at the second one.
        Bad(name: "duplicate nested key", yaml: "ip:\n  mode: drop\n  # why not\n  mode: hash\n", line: 4, column: 3,
            fragment: "duplicate key 'mode'; it is already set on line 2"),
        Bad(name: "duplicate section", yaml: "version: 1\noutputs: {}\nversion: 1\n", line: 3, column: 1,
            fragment: "duplicate key 'version'"),
        Bad(name: "duplicate key in a flow mapping", yaml: "outputs: { vault: false, vault: true }", line: 1, column: 12,
            fragment: "duplicate key 'vault'"),
        // YAML syntax.
        Bad(name: "unclosed list", yaml: "query:\n  allow: [page, lang\n", line: 3, column: 1, fragment: "invalid YAML"),
        // Contradictions.
        Bad(name: "keep while client_ip is personal", yaml: "ip:\n  mode: keep\n", line: 2, column: 9,
            fragment: "ip.mode keep writes client IPs as they are, but fields.client_ip is personal"),
        Bad(name: "truncate to /32 while client_ip is personal", yaml: "ip: { ipv4_prefix: 32 }", line: 1, column: 20,
            fragment: "keeps whole addresses"),
        Bad(name: "client_ip drop with the default ip mode", yaml: "fields:\n  client_ip: drop\n", line: 2, column: 14,
            fragment: "fields.client_ip is drop but ip.mode is truncate; set ip.mode: drop"),
        Bad(name: "client_ip drop with ip mode hash", yaml: "ip: { mode: hash }\nfields: { client_ip: drop }\n", line: 2, column: 22,
            fragment: "fields.client_ip is drop but ip.mode is hash"),
        Bad(name: "cookie drop with tracking cookies", yaml: "fields:\n  cookie: drop\n", line: 2, column: 11,
            fragment: "fields.cookie is drop, so the tracking cookies (visitor_id, vid, _ga, _pk_id, uid) can never be read"),
        Bad(name: "cookie drop with the opt-out cookie signal", yaml: "fields: { cookie: drop }\ncookies: { tracking: [] }\n", line: 1, column: 19,
            fragment: "the opt-out cookie could never be honoured"),
        Bad(name: "cookie signal without an opt-out cookie", yaml: "cookies:\n  opt_out: null\n", line: 2, column: 12,
            fragment: "opt_out.signals lists cookie but cookies.opt_out names no cookie"),
        Bad(name: "vault with no personal field", yaml: """
            ip: { mode: drop }
            fields: { client_ip: drop, remote_user: drop, cookie: drop, forwarded_for: drop, other: drop, caller_number: drop, caller_name: drop, account_code: drop, channel: drop, app_data: drop, user_field: drop }
            cookies: { tracking: [] }
            opt_out: { signals: [dnt, gpc] }
            outputs: { vault: true }
            """, line: 5, column: 19, fragment: "outputs.vault is true but no field is personal"),
        Bad(name: "sensitive path", yaml: "fields:\n  path: sensitive\n", line: 2, column: 9,
            fragment: "fields.path cannot be sensitive"),
        Bad(name: "dimension without its field", yaml: "fields: { user_agent: drop }\naggregation: { dimensions: [path, os] }\n", line: 2, column: 35,
            fragment: "dimension os is built from user_agent, but fields.user_agent is drop"),
        Bad(name: "time not interaction", yaml: "fields: { time: drop }", line: 1, column: 17,
            fragment: "fields.time must be interaction"),
        Bad(name: "dimension listed twice", yaml: "aggregation:\n  dimensions: [path, os, path]\n", line: 2, column: 26,
            fragment: "aggregation.dimensions lists path twice"),
        Bad(name: "total listed", yaml: "aggregation:\n  dimensions: [total, path]\n", line: 2, column: 16,
            fragment: "need not list total"),
        Bad(name: "campaign without utm_campaign", yaml: "query:\n  allow: [page]\n", line: 2, column: 3,
            fragment: "dimension campaign needs query.allow to keep utm_campaign"),
        Bad(name: "allow-list star alone", yaml: "query:\n  allow: [page, '*']\n", line: 2, column: 17,
            fragment: "'*' would keep every parameter, which defeats the policy"),
        Bad(name: "allow-list empty name", yaml: "query:\n  allow: [\"\", page]\n", line: 2, column: 11,
            fragment: "query.allow has an empty name"),
        Bad(name: "allow-list star inside", yaml: "query:\n  allow: [u*m]\n", line: 2, column: 11,
            fragment: "'*' may only end a pattern"),
        Bad(name: "allow-list keeps a built-in named field", yaml: "query:\n  allow: [utm_campaign, email]\n", line: 2, column: 25,
            fragment: "query.allow keeps 'email', which the detectors treat as personal"),
        Bad(name: "allow-list prefix covers a named field", yaml: "query:\n  allow: [utm_campaign, 'phone*']\n", line: 2, column: 25,
            fragment: "query.allow keeps 'phone'"),
        Bad(name: "allow-list keeps a listed named field",
            yaml: "detectors:\n  named_fields: [customer_no]\nquery:\n  allow: [utm_campaign, Customer_No]\n", line: 4, column: 25,
            fragment: "query.allow keeps 'customer_no'"),
        Bad(name: "allow-list keeps a named field spelled differently", yaml: "query: { allow: [utm_campaign, firstName] }", line: 1, column: 32,
            fragment: "query.allow keeps 'first_name'"),
        Bad(name: "tracking cookie is also the opt-out cookie", yaml: "cookies: { tracking: [vid, optout] }", line: 1, column: 28,
            fragment: "'optout' cannot be both a tracking cookie and the opt-out cookie"),
        Bad(name: "empty named-field list", yaml: "detectors: { named_fields: [] }", line: 1, column: 14,
            fragment: "use false to turn the named-field detector off"),
        // Formats and calls.
        Bad(name: "unknown time zone", yaml: "formats:\n  timezone: Mars/Olympus\n", line: 2, column: 13,
            fragment: "formats.timezone 'Mars/Olympus' is not a zone"),
        Bad(name: "unknown pixel preset", yaml: "formats: { pixels: [adobe, omniture] }", line: 1, column: 28,
            fragment: "unknown preset 'omniture'"),
        Bad(name: "pixel without page", yaml: "formats:\n  pixels:\n    - { name: shop, path: /px.gif }\n", line: 3, column: 7,
            fragment: "needs at least path and page"),
        Bad(name: "pixel path with a query", yaml: "formats:\n  pixels:\n    - { path: '/px.gif?a=1', page: u }\n", line: 3, column: 7,
            fragment: "path cannot contain ?"),
        Bad(name: "unknown JSON role", yaml: "formats:\n  json:\n    fields: { ts: time, who: person }\n", line: 3, column: 30,
            fragment: "formats.json.fields.who"),
        Bad(name: "JSON mapping without time", yaml: "formats:\n  json:\n    fields: { url: url }\n", line: 3, column: 13,
            fragment: "formats.json"),
        Bad(name: "call dimension from a personal field", yaml: "fields: { dialled: personal }\naggregation: { call_dimensions: [dialled] }\n",
            line: 2, column: 34, fragment: "call dimension dialled is built from dialled, but fields.dialled is personal"),
        // Key material never goes in the policy file.
        Bad(name: "raw key as source", yaml: "keys:\n  source: 6a1f0c9e2b7d4a8f9c3e5b1d7f2a4c6e\n", line: 2, column: 11,
            fragment: "the key never goes in the policy file"),
        Bad(name: "env source without a name", yaml: "keys: { source: \"env:\" }", line: 1, column: 17,
            fragment: "keys.source must be env:NAME or file:PATH"),
        Bad(name: "unknown source scheme", yaml: "keys: { source: \"base64:c2VjcmV0c2VjcmV0c2VjcmV0\" }", line: 1, column: 17,
            fragment: "the key never goes in the policy file"),
    ]

    @Test func readsTheFormatsSection() throws {
        let policy = try PolicyLoader.parse(text: """
            formats:
              timezone: Europe/Berlin
              json:
                preset: beacon
                fields: { "props.plan": ignore, "page.title": ignore }
              pixels:
                - urchin
                - { name: shop, path: /px.gif, page: u, referrer: [r, ref], event: e, default_event: view }
            aggregation:
              call_dimensions: [context, disposition]
            """, path: "formats.yaml")
        #expect(policy.callTimeZone == "Europe/Berlin")
        let mapping = try #require(policy.jsonMapping)
        #expect(mapping.entries.contains { $0.path == "props.plan" && $0.role == .ignore })
        #expect(mapping.entries.contains { $0.path == "ts" && $0.role == .time })
        #expect(policy.pixelEndpoints.map(\.name) == ["urchin", "shop"])
        let shop = try #require(policy.pixelEndpoints.last)
        #expect(shop.pathPattern == "/px.gif" && shop.pageParameters == ["u"] && shop.referrerParameters == ["r", "ref"])
        #expect(shop.eventParameters == ["e"] && shop.defaultEvent == "view")
        #expect(policy.callDimensions == [.context, .disposition])
        #expect(policy.problems().isEmpty)
        // Each setting changes the digest.
        #expect(policy.canonicalText() != Policy.standard.canonicalText())
        for line in ["formats.timezone=Europe/Berlin", "aggregation.call_dimensions=context,disposition"] {
            #expect(policy.canonicalText().contains(line))
        }
    }

    @Test(arguments: bad)
    func refusesBadPolicy(_ bad: Bad) {
        do {
            let policy = try PolicyLoader.parse(text: bad.yaml, path: "bad.yaml")
            Issue.record("accepted: \(policy.canonicalText())")
        } catch {
            #expect(error.kind == .invalid)
            #expect(error.path == "bad.yaml")
            #expect(error.message.contains(bad.fragment), "message: \(error.message)")
            #expect(error.line == bad.line && error.column == bad.column, "at \(error.line):\(error.column): \(error.message)")
            #expect(error.description == "bad.yaml:\(error.line):\(error.column): error: \(error.message)")
        }
    }

    @Test func keyMaterialIsNeverEchoed() {
        let secret = "6a1f0c9e2b7d4a8f9c3e5b1d7f2a4c6e"
        #expect(throws: PolicyError.self) { try PolicyLoader.parse(text: "keys: { source: \(secret) }") }
        do {
            _ = try PolicyLoader.parse(text: "keys: { source: \(secret) }")
        } catch {
            #expect(!error.description.contains(secret))
        }
    }

    @Test func unreadableFile() {
        do {
            _ = try PolicyLoader.load(path: "/nonexistent/policy.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.kind == .unreadable)
            #expect(error.description == "/nonexistent/policy.yaml: error: no such policy file")
        }
    }

    @Test func firstProblemInFileOrderIsReported() {
        // Two problems: the dimension on line 1 and the prefix on line 2; line 1 wins.
        let yaml = "aggregation: { dimensions: [os, os] }\nip: { ipv6_prefix: 200 }\n"
        #expect(throws: PolicyError(path: "<policy>", line: 1, column: 33, message: "aggregation.dimensions lists os twice")) {
            try PolicyLoader.parse(text: yaml)
        }
    }

    @Test func detectorOptionsFollowThePolicy() throws {
        #expect(Policy.standard.detectorOptions == PersonalDataDetector.Options())
        let policy = try PolicyLoader.parse(text: "detectors: { card: false, named_fields: [customer_no] }")
        let options = policy.detectorOptions
        #expect(!options.card && options.email && options.phone && options.ssn && options.iban)
        #expect(options.namedFields == ["customer_no"])
        let off = try PolicyLoader.parse(text: "detectors: { named_fields: false }")
        #expect(off.detectorOptions.namedFields.isEmpty)
    }

    // MARK: - Query allow-list

    @Test(arguments: [
        ("utm_source", true), ("utm_", true), ("utm_campaign", true), ("xutm_source", false), ("utm", false),
        ("UTM_source", false), ("page", true), ("pages", false), ("pag", false), ("Page", false), ("lang", true),
        ("", false), ("email", false),
    ])
    func allowsQueryParameter(_ name: String, _ expected: Bool) {
        var policy = Policy.standard
        policy.queryAllow = ["utm_*", "page", "lang"]
        #expect(policy.allowsQueryParameter(name) == expected)
        var bytes = Array(name.utf8)
        let viaBytes = bytes.withUnsafeMutableBytes { policy.allowsQueryParameter(UnsafeRawBufferPointer($0)) }
        #expect(viaBytes == expected)
    }

    @Test func standardAllowList() {
        let policy = Policy.standard
        #expect(policy.allowsQueryParameter("utm_campaign"))
        #expect(!policy.allowsQueryParameter("utm_id"))
        #expect(!policy.allowsQueryParameter("email"))
        var empty = policy
        empty.queryAllow = []
        #expect(!empty.allowsQueryParameter("page"))
    }

    // MARK: - Canonical text

    @Test func canonicalTextIsStable() throws {
        let text = Policy.standard.canonicalText()
        #expect(text == Policy.standard.canonicalText())
        #expect(text.hasPrefix("crumb-policy-canonical=1\nversion=1\nip.mode=truncate\nip.ipv4_prefix=24\n"))
        #expect(text.contains("\nfields.client_ip=personal\n"))
        #expect(text.contains("\naggregation.min_count=5\n"))
        // Order of unordered lists and the key's location do not change it.
        let reordered = try PolicyLoader.parse(text: """
            outputs: { vault: false, events: false }
            query: { allow: [lang, page, utm_content, utm_term, utm_campaign, utm_medium, utm_source] }
            opt_out: { signals: [cookie, gpc, dnt] }
            keys: { source: "file:/etc/crumb.key" }
            """)
        #expect(reordered.canonicalText() == text)
        #expect(PolicyLoader.sha256(of: reordered) == PolicyLoader.sha256(of: Policy.standard))
        #expect(PolicyLoader.sha256(of: Policy.standard).count == 64)
    }

    @Test func canonicalTextChangesWithEverySetting() throws {
        let variants = [
            "ip: { mode: hash }", "ip: { ipv4_prefix: 16 }", "keys: { rotation: never }", "keys: { source: null }",
            "fields: { method: drop }", "query: { allow: [utm_campaign] }", "cookies: { tracking: [vid, visitor_id, _ga, _pk_id, uid] }",
            "cookies: { opt_out: { name: optout, value: yes } }", "opt_out: { signals: [dnt, cookie] }",
            "opt_out: { count_in_totals: false }", "detectors: { iban: false }", "detectors: { named_fields: [account] }",
            "aggregation: { bucket: day }", "aggregation: { dimensions: [path] }", "aggregation: { min_count: 10 }",
            "outputs: { events: true }", "outputs: { vault: true }",
        ]
        var texts: Set<String> = [Policy.standard.canonicalText()]
        for variant in variants {
            let policy = try PolicyLoader.parse(text: variant, path: variant)
            #expect(policy != Policy.standard, "\(variant)")
            #expect(texts.insert(policy.canonicalText()).inserted, "\(variant) did not change the canonical text")
        }
        // min_count 0 and 1 both mean "off".
        let zero = try PolicyLoader.parse(text: "aggregation: { min_count: 0 }")
        let one = try PolicyLoader.parse(text: "aggregation: { min_count: 1 }")
        #expect(zero.canonicalText() == one.canonicalText())
    }
}
