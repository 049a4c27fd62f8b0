import CrumbCore
import Crypto
import Foundation
import Yams

/// A policy file that cannot be used: where, and why.
public struct PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Why the policy was refused.
    public enum Kind: Sendable, Equatable {
        /// The file was read but is not a valid policy (exit 64).
        case invalid
        /// The file could not be read (exit 74).
        case unreadable
    }

    public var kind: Kind
    /// The policy file's path as given.
    public var path: String
    /// 1-based line; 0 when the error is about the whole file (it could not be read).
    public var line: Int
    /// 1-based column, in Unicode scalars; 0 when `line` is 0.
    public var column: Int
    /// What is wrong and, where it helps, how to fix it. Never contains key material.
    public var message: String

    public init(kind: Kind = .invalid, path: String, line: Int, column: Int, message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COLUMN: error: MESSAGE`, or `FILE: error: MESSAGE` without a position.
    public var description: String {
        line > 0 ? "\(path):\(line):\(column): error: \(message)" : "\(path): error: \(message)"
    }
}

/// Reads a policy file (YAML, the shape of `samples/policy.yaml`) into a ``Policy``, refusing anything it
/// does not understand with the line and column at fault.
///
/// Accepted: a mapping with any of the sections `version`, `ip`, `keys`, `fields`, `query`, `cookies`,
/// `opt_out`, `detectors`, `aggregation`, `outputs`; a missing section or key takes its value from
/// ``Policy/standard``; an empty file is ``Policy/standard``.
///
/// Refused: unknown keys at any depth (with the closest known key suggested), duplicate keys, values of the
/// wrong type (a quoted `"24"` is not a number), unknown enum values (the allowed ones are listed), YAML
/// syntax errors, a `keys.source` that is not `env:NAME` or `file:PATH` (the key never goes in the policy
/// file), and every problem ``Policy/problems()`` finds (ranges and contradictions between settings).
public enum PolicyLoader {
    /// A place in a policy file: 1-based line and column (columns count Unicode scalars, as libyaml does).
    struct Position: Equatable {
        var line: Int
        var column: Int

        init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }

        init(_ mark: Mark) {
            self.init(line: mark.line, column: mark.column)
        }
    }

    /// Reads and checks the policy file at `path`.
    ///
    /// - Throws: `PolicyError` of kind `.unreadable` when the file cannot be read or is not UTF-8, else of
    ///   kind `.invalid` for the first problem in file order.
    public static func load(path: String) throws(PolicyError) -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the policy file" : "no such policy file"
            throw PolicyError(kind: .unreadable, path: path, line: 0, column: 0, message: reason)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyError(kind: .unreadable, path: path, line: 0, column: 0, message: "the policy file is not UTF-8 text")
        }
        return try parse(text: text, path: path)
    }

    /// Parses and checks policy text; `path` names the file in errors.
    ///
    /// - Throws: `PolicyError` of kind `.invalid` for the first problem in file order.
    public static func parse(text: String, path: String = "<policy>") throws(PolicyError) -> Policy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw yamlError(error, text: text, path: path)
        }
        var reader = Reader(path: path)
        guard let root else { return Policy.standard }
        let policy = try reader.read(root)
        let problems = policy.problems()
        guard !problems.isEmpty else { return policy }
        // Report the problem that comes first in the file, so that fixing errors top-down converges; a
        // problem whose own setting is written out goes before one located through a related setting or
        // an enclosing section (a bad allow-list item before "campaign needs utm_campaign").
        let located = problems.enumerated().map { index, problem in
            let (mark, exact) = reader.mark(for: problem)
            return (rank: exact ? 0 : 1, index: index, mark: mark, message: problem.message)
        }
        let first = located.min {
            ($0.rank, $0.mark.line, $0.mark.column, $0.index) < ($1.rank, $1.mark.line, $1.mark.column, $1.index)
        }!  // safe: problems is not empty
        throw PolicyError(path: path, line: first.mark.line, column: first.mark.column, message: first.message)
    }

    /// The policy's digest for the manifest (`policy_sha256`): SHA-256 of ``Policy/canonicalText()`` as
    /// UTF-8, in lowercase hex.
    public static func sha256(of policy: Policy) -> String {
        ASCII.lowercaseHex(SHA256.hash(data: Array(policy.canonicalText().utf8)))
    }

    // MARK: - YAML errors

    private static func yamlError(_ error: any Error, text: String, path: String) -> PolicyError {
        func at(_ mark: Position, _ message: String) -> PolicyError {
            PolicyError(path: path, line: mark.line, column: mark.column, message: message)
        }
        guard let error = error as? YamlError else {
            return PolicyError(path: path, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text), line \($0.mark.line))" } ?? ""
            return at(Position(mark), "invalid YAML: \(problem)\(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            if let second = secondOccurrence(of: key, after: Position(context.mark), in: text) {
                return at(second, "duplicate key '\(key)'; it is already set on line \(context.mark.line)")
            }
            return at(Position(context.mark), "duplicate key '\(key)' in this mapping")
        case .reader(let problem, let offset, _, _):
            let mark = offset.map { position(ofUTF8Offset: $0, in: text) } ?? Position(line: 1, column: 1)
            return at(mark, "invalid YAML: \(problem)")
        default:
            return PolicyError(path: path, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
    }

    /// Where `key` is set again in the block mapping whose first `key` is at `first`: the next line at the
    /// same indentation that starts with `key:`, before the mapping ends. `nil` for flow mappings or when
    /// it cannot be found; the caller then points at the first occurrence.
    static func secondOccurrence(of key: String, after first: Position, in text: String) -> Position? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let indent = first.column - 1
        let firstLine = lines[first.line - 1].unicodeScalars
        // Only a block key: nothing but spaces (or "- " of a list item) before it.
        guard firstLine.prefix(indent).allSatisfy({ $0 == " " || $0 == "-" }) else { return nil }
        for number in first.line..<lines.count {
            let line = lines[number].unicodeScalars
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.first == "#" { continue }
            let lineIndent = line.count - content.count
            if lineIndent < indent { return nil }
            guard lineIndent == indent else { continue }
            let rest = String(String.UnicodeScalarView(content))
            guard rest.hasPrefix(key) else { continue }
            let after = rest.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
            if after.first == ":" { return Position(line: number + 1, column: indent + 1) }
        }
        return nil
    }

    private static func position(ofUTF8Offset offset: Int, in text: String) -> Position {
        var line = 1, column = 1, consumed = 0
        for scalar in text.unicodeScalars {
            if consumed >= offset { break }
            consumed += UTF8.width(scalar)
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return Position(line: line, column: column)
    }

    // MARK: - Reading the tree

    /// Walks the YAML tree, building the policy and remembering where each setting is written.
    struct Reader {
        let path: String
        /// Setting (`ip.mode`, `query.allow[2]`, `fields`) → where its value (or section key) is written.
        var marks: [String: Position] = [:]

        init(path: String) {
            self.path = path
        }

        static let sections = ["version", "ip", "keys", "fields", "query", "cookies", "opt_out", "detectors", "aggregation", "formats", "outputs"]

        mutating func read(_ root: Node) throws(PolicyError) -> Policy {
            var policy = Policy.standard
            for entry in try entries(of: root, name: "the policy", known: Self.sections, prefix: "") {
                switch entry.key {
                case "version":
                    let version = try integer(entry.value, name: "version")
                    guard version == Policy.currentVersion else {
                        throw error(at: entry.value, "unsupported policy version \(version); this crumb understands version \(Policy.currentVersion)")
                    }
                    policy.version = version
                case "ip": try readIP(entry.value, into: &policy)
                case "keys": try readKeys(entry.value, into: &policy)
                case "fields": try readFields(entry.value, into: &policy)
                case "query": try readQuery(entry.value, into: &policy)
                case "cookies": try readCookies(entry.value, into: &policy)
                case "opt_out": try readOptOut(entry.value, into: &policy)
                case "detectors": try readDetectors(entry.value, into: &policy)
                case "aggregation": try readAggregation(entry.value, into: &policy)
                case "formats": try readFormats(entry.value, into: &policy)
                case "outputs": try readOutputs(entry.value, into: &policy)
                default: break  // safe: entries(of:) refuses unknown keys
                }
            }
            return policy
        }

        mutating func readIP(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            let entries = try entries(of: node, name: "ip", known: ["mode", "ipv4_prefix", "ipv6_prefix"], prefix: "ip.")
            var mode = policy.ipMode.name
            var ipv4Prefix = 24, ipv6Prefix = 48
            if case .truncate(let four, let six) = policy.ipMode { (ipv4Prefix, ipv6Prefix) = (four, six) }
            var prefixNode: (key: String, node: Node)?
            for entry in entries {
                switch entry.key {
                case "mode":
                    mode = try choice(entry.value, name: "ip.mode", allowed: ["drop", "truncate", "hash", "prefix-preserving", "keep"])
                case "ipv4_prefix":
                    ipv4Prefix = try integer(entry.value, name: "ip.ipv4_prefix")
                    prefixNode = prefixNode ?? (entry.key, entry.keyNode)
                default:
                    ipv6Prefix = try integer(entry.value, name: "ip.ipv6_prefix")
                    prefixNode = prefixNode ?? (entry.key, entry.keyNode)
                }
            }
            switch mode {
            case "drop": policy.ipMode = .drop
            case "hash": policy.ipMode = .hash
            case "prefix-preserving": policy.ipMode = .prefixPreserving
            case "keep": policy.ipMode = .keep
            default: policy.ipMode = .truncate(ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix)
            }
            if mode != "truncate", let prefixNode {
                throw error(at: prefixNode.node, "ip.\(prefixNode.key) only applies to mode truncate, but ip.mode is \(mode)")
            }
        }

        mutating func readKeys(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "keys", known: ["source", "rotation"], prefix: "keys.") {
                switch entry.key {
                case "source":
                    if isNull(entry.value) {
                        policy.key = nil
                        continue
                    }
                    let text = try string(entry.value, name: "keys.source")
                    guard let source = Policy.KeySource(parsing: text) else {
                        // Never echo the value: it may be the key itself.
                        throw error(at: entry.value, "keys.source must be env:NAME or file:PATH (or null for a random key per run); the key never goes in the policy file")
                    }
                    policy.key = source
                default:
                    let name = try choice(entry.value, name: "keys.rotation", allowed: Keyring.Rotation.allCases.map(\.rawValue))
                    policy.rotation = Keyring.Rotation(rawValue: name)!  // safe: choice() returned an allowed name
                }
            }
        }

        mutating func readFields(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            let roles = Policy.Role.allCases.map(\.rawValue)
            for entry in try entries(of: node, name: "fields", known: roles, prefix: "fields.") {
                let name = try choice(entry.value, name: "fields.\(entry.key)", allowed: Policy.FieldClass.allCases.map(\.rawValue))
                // safe to force-unwrap: entries(of:) and choice() only return known names
                policy.fields[Policy.Role(rawValue: entry.key)!] = Policy.FieldClass(rawValue: name)!
            }
        }

        mutating func readQuery(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "query", known: ["allow"], prefix: "query.") where entry.key == "allow" {
                policy.queryAllow = try strings(entry.value, name: "query.allow")
            }
        }

        mutating func readCookies(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "cookies", known: ["tracking", "opt_out"], prefix: "cookies.") {
                if entry.key == "tracking" {
                    policy.trackingCookies = try strings(entry.value, name: "cookies.tracking")
                    continue
                }
                if isNull(entry.value) {
                    policy.optOutCookieName = nil
                    policy.optOutCookieValue = nil
                    continue
                }
                let parts = try self.entries(of: entry.value, name: "cookies.opt_out", known: ["name", "value"], prefix: "cookies.opt_out.")
                guard let name = parts.first(where: { $0.key == "name" }) else {
                    throw error(at: entry.value, "cookies.opt_out needs a name (or write cookies.opt_out: null for no opt-out cookie)")
                }
                policy.optOutCookieName = try string(name.value, name: "cookies.opt_out.name")
                // Without a value, any value of the cookie means "opted out".
                policy.optOutCookieValue = nil
                if let value = parts.first(where: { $0.key == "value" }), !isNull(value.value) {
                    policy.optOutCookieValue = try string(value.value, name: "cookies.opt_out.value")
                }
            }
        }

        mutating func readOptOut(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "opt_out", known: ["signals", "count_in_totals"], prefix: "opt_out.") {
                if entry.key == "count_in_totals" {
                    policy.countOptedOutInTotals = try boolean(entry.value, name: "opt_out.count_in_totals")
                    continue
                }
                var signals = Set<Policy.OptOutSignal>()
                for item in try items(entry.value, name: "opt_out.signals") {
                    let name = try choice(item.node, name: "opt_out.signals", allowed: Policy.OptOutSignal.allCases.map(\.rawValue))
                    // safe to force-unwrap: choice() returned an allowed name
                    guard signals.insert(Policy.OptOutSignal(rawValue: name)!).inserted else {
                        throw error(at: item.node, "opt_out.signals lists \(name) twice")
                    }
                }
                policy.optOutSignals = signals
            }
        }

        mutating func readDetectors(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            let kinds: [(String, PersonalDataKind)] = [("email", .email), ("phone", .phone), ("card", .card), ("ssn", .ssn), ("iban", .iban)]
            for entry in try entries(of: node, name: "detectors", known: kinds.map(\.0) + ["named_fields"], prefix: "detectors.") {
                if let kind = kinds.first(where: { $0.0 == entry.key })?.1 {
                    if try boolean(entry.value, name: "detectors.\(entry.key)") {
                        policy.detectors.insert(kind)
                    } else {
                        policy.detectors.remove(kind)
                    }
                    continue
                }
                // named_fields: true (the built-in list), false (off), or a list of names.
                if case .sequence = entry.value {
                    policy.namedFields = try strings(entry.value, name: "detectors.named_fields")
                    policy.detectors.insert(.namedField)
                } else if try boolean(entry.value, name: "detectors.named_fields", orList: true) {
                    policy.namedFields = nil
                    policy.detectors.insert(.namedField)
                } else {
                    policy.namedFields = nil
                    policy.detectors.remove(.namedField)
                }
            }
        }

        mutating func readAggregation(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "aggregation", known: ["bucket", "dimensions", "call_dimensions", "min_count", "max_values"], prefix: "aggregation.") {
                switch entry.key {
                case "bucket":
                    let name = try choice(entry.value, name: "aggregation.bucket", allowed: TimeBucket.allCases.map(\.rawValue))
                    policy.bucket = TimeBucket(rawValue: name)!  // safe: choice() returned an allowed name
                case "dimensions":
                    let allowed = WebDimension.allCases.filter { $0 != .total }
                    var dimensions: [WebDimension] = []
                    for item in try items(entry.value, name: "aggregation.dimensions") {
                        if item.node.scalar?.string == "total" {
                            throw error(at: item.node, "aggregation.dimensions need not list total: it is always written")
                        }
                        let name = try choice(item.node, name: "aggregation.dimensions", allowed: allowed.map(\.name))
                        dimensions.append(allowed.first { $0.name == name }!)  // safe: choice() returned an allowed name
                    }
                    policy.dimensions = dimensions
                case "call_dimensions":
                    let allowed = CallDimension.allCases.filter { $0 != .total }
                    var dimensions: [CallDimension] = []
                    for item in try items(entry.value, name: "aggregation.call_dimensions") {
                        if item.node.scalar?.string == "total" {
                            throw error(at: item.node, "aggregation.call_dimensions need not list total: it is always written")
                        }
                        let name = try choice(item.node, name: "aggregation.call_dimensions", allowed: allowed.map(\.name))
                        dimensions.append(allowed.first { $0.name == name }!)  // safe: choice() returned an allowed name
                    }
                    policy.callDimensions = dimensions
                case "max_values":
                    policy.maxValues = try integer(entry.value, name: "aggregation.max_values")
                default:
                    policy.minCount = try integer(entry.value, name: "aggregation.min_count")
                }
            }
        }

        /// `formats`: `timezone` (a zone name), `json` (`preset: NAME` and/or `fields: {path: role}`), and
        /// `pixels` (a list of preset names and endpoint mappings).
        mutating func readFormats(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "formats", known: ["timezone", "json", "pixels"], prefix: "formats.") {
                switch entry.key {
                case "timezone":
                    let zone = try string(entry.value, name: "formats.timezone")
                    guard LocalTimeZone(named: zone) != nil else {
                        throw error(at: entry.value, "formats.timezone '\(zone)' is not a zone: use UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin")
                    }
                    policy.callTimeZone = zone
                case "json":
                    if isNull(entry.value) {
                        policy.jsonMapping = nil
                        continue
                    }
                    policy.jsonMapping = try readJSONMapping(entry.value)
                default:
                    var endpoints: [PixelEndpoint] = []
                    for item in try items(entry.value, name: "formats.pixels") {
                        if case .scalar(let scalar) = item.node {
                            guard let preset = PixelEndpoints.presets[scalar.string] else {
                                throw error(at: item.node, "formats.pixels: unknown preset '\(scalar.string)'; known: \(PixelEndpoints.presets.keys.sorted().joined(separator: ", ")), or a mapping with name, path and page")
                            }
                            endpoints += preset
                        } else {
                            endpoints.append(try readPixelEndpoint(item.node, setting: "formats.pixels[\(item.index)]"))
                        }
                    }
                    policy.pixelEndpoints = endpoints
                }
            }
        }

        /// `{preset: NAME, fields: {path: role, ...}}`: the preset's entries, then the fields (a path listed
        /// in both takes the field's role).
        mutating func readJSONMapping(_ node: Node) throws(PolicyError) -> JSONFieldMapping {
            var entries: [(path: String, role: JSONFieldMapping.Role)] = []
            var fieldsNode: Node?
            for entry in try self.entries(of: node, name: "formats.json", known: ["preset", "fields"], prefix: "formats.json.") {
                if entry.key == "preset" {
                    let name = try choice(entry.value, name: "formats.json.preset", allowed: JSONFieldMapping.presetNames)
                    entries += JSONFieldMapping.preset(named: name)!.entries  // safe: choice() returned a preset name
                } else {
                    fieldsNode = entry.value
                }
            }
            if let fieldsNode {
                guard case .mapping(let mapping) = fieldsNode else {
                    throw error(at: fieldsNode, "formats.json.fields must be a mapping of JSON paths to roles, got \(Self.describe(fieldsNode))")
                }
                let roles = JSONFieldMapping.Role.allCases.map(\.rawValue)
                for (keyNode, value) in mapping {
                    guard case .scalar(let key) = keyNode else {
                        throw error(at: keyNode, "a key in formats.json.fields must be a JSON path, got \(Self.describe(keyNode))")
                    }
                    let role = try choice(value, name: "formats.json.fields.\(key.string)", allowed: roles)
                    entries.removeAll { $0.path == key.string }
                    entries.append((key.string, JSONFieldMapping.Role(rawValue: role)!))  // safe: choice() returned a role
                }
            }
            do {
                return try JSONFieldMapping(entries)
            } catch {
                throw self.error(at: fieldsNode ?? node, "formats.json: \(error)")
            }
        }

        /// One pixel endpoint: `name`, `path`, `page` (required); `query_prefix`, `host`, `referrer`, `event`,
        /// `default_event`. Parameter lists may be one name or a list.
        mutating func readPixelEndpoint(_ node: Node, setting: String) throws(PolicyError) -> PixelEndpoint {
            let known = ["name", "path", "query_prefix", "page", "host", "referrer", "event", "default_event"]
            var values: [String: Node] = [:]
            for entry in try entries(of: node, name: setting, known: known, prefix: setting + ".") {
                values[entry.key] = entry.value
            }
            func names(_ key: String) throws(PolicyError) -> [String] {
                guard let value = values[key] else { return [] }
                if case .scalar = value { return [try string(value, name: "\(setting).\(key)")] }
                return try strings(value, name: "\(setting).\(key)")
            }
            guard let path = values["path"], let page = values["page"] else {
                throw error(at: node, "\(setting) needs at least path and page (the parameter holding the page URL)")
            }
            _ = page
            return PixelEndpoint(
                name: try values["name"].map { node throws(PolicyError) in try string(node, name: "\(setting).name") } ?? "custom",
                pathPattern: try string(path, name: "\(setting).path"),
                queryPrefix: try values["query_prefix"].map { node throws(PolicyError) in try string(node, name: "\(setting).query_prefix") } ?? "",
                pageParameters: try names("page"), hostParameters: try names("host"),
                referrerParameters: try names("referrer"), eventParameters: try names("event"),
                defaultEvent: try values["default_event"].map { node throws(PolicyError) in try string(node, name: "\(setting).default_event") } ?? "page_view")
        }

        mutating func readOutputs(_ node: Node, into policy: inout Policy) throws(PolicyError) {
            for entry in try entries(of: node, name: "outputs", known: ["events", "vault"], prefix: "outputs.") {
                if entry.key == "events" {
                    policy.events = try boolean(entry.value, name: "outputs.events")
                } else {
                    policy.vault = try boolean(entry.value, name: "outputs.vault")
                }
            }
        }

        // MARK: Typed accessors

        struct Entry {
            var key: String
            var keyNode: Node
            var value: Node
        }

        /// The entries of mapping `node`, refusing a non-mapping, a non-string key and unknown keys, and
        /// remembering where each setting is written.
        mutating func entries(of node: Node, name: String, known: [String], prefix: String) throws(PolicyError) -> [Entry] {
            guard case .mapping(let mapping) = node else {
                throw error(at: node, "\(name) must be a mapping of \(known.joined(separator: ", ")), got \(Self.describe(node))")
            }
            var entries: [Entry] = []
            for (keyNode, value) in mapping {
                guard case .scalar(let scalar) = keyNode else {
                    throw error(at: keyNode, "a key in \(name) must be a plain name, got \(Self.describe(keyNode))")
                }
                let key = scalar.string
                guard known.contains(key) else {
                    var message = "unknown key '\(key)'"
                    if !prefix.isEmpty { message += " in \(prefix.dropLast())" }
                    if let suggestion = Self.closest(to: key, among: known) {
                        message += "; did you mean '\(suggestion)'?"
                    } else {
                        message += "; expected one of: \(known.joined(separator: ", "))"
                    }
                    throw error(at: keyNode, message)
                }
                let setting = prefix + key
                // A section is located by its key; a setting by its value.
                marks[setting] = ((Self.isCollection(value) ? keyNode.mark : value.mark) ?? keyNode.mark).map(Position.init)
                entries.append(Entry(key: key, keyNode: keyNode, value: value))
            }
            return entries
        }

        /// The items of list `node`, remembering where each is written as `name[i]`.
        mutating func items(_ node: Node, name: String) throws(PolicyError) -> [(index: Int, node: Node)] {
            guard case .sequence(let sequence) = node else {
                throw error(at: node, "\(name) must be a list, got \(Self.describe(node))")
            }
            var items: [(index: Int, node: Node)] = []
            for (index, item) in sequence.enumerated() {
                if let mark = item.mark { marks["\(name)[\(index)]"] = Position(mark) }
                items.append((index, item))
            }
            return items
        }

        /// A list of names (strings; a bare number such as `1` counts as its text).
        mutating func strings(_ node: Node, name: String) throws(PolicyError) -> [String] {
            var result: [String] = []
            for item in try items(node, name: name) {
                result.append(try string(item.node, name: "\(name) item"))
            }
            return result
        }

        /// A scalar's text. Plain scalars that YAML would read as numbers or booleans (`1`, `on`) count as
        /// their text, since names and cookie values are text; null, lists and mappings are refused.
        func string(_ node: Node, name: String) throws(PolicyError) -> String {
            guard case .scalar(let scalar) = node, !isNull(node) else {
                throw error(at: node, "\(name) must be a string, got \(Self.describe(node))")
            }
            return scalar.string
        }

        func integer(_ node: Node, name: String) throws(PolicyError) -> Int {
            guard case .scalar(let scalar) = node, Self.tag(node) == Tag.Name.int.rawValue, let value = Int(scalar.string) else {
                throw error(at: node, "\(name) must be a whole number, got \(Self.describe(node))")
            }
            return value
        }

        func boolean(_ node: Node, name: String, orList: Bool = false) throws(PolicyError) -> Bool {
            guard Self.tag(node) == Tag.Name.bool.rawValue, let value = node.bool else {
                throw error(at: node, "\(name) must be true or false\(orList ? " or a list of names" : ""), got \(Self.describe(node))")
            }
            return value
        }

        /// A scalar that must be one of `allowed`.
        func choice(_ node: Node, name: String, allowed: [String]) throws(PolicyError) -> String {
            guard case .scalar(let scalar) = node, !isNull(node) else {
                throw error(at: node, "\(name) must be one of \(allowed.joined(separator: ", ")), got \(Self.describe(node))")
            }
            let value = scalar.string
            guard allowed.contains(value) else {
                var message = "\(name) cannot be '\(value)'; allowed: \(allowed.joined(separator: ", "))"
                if let suggestion = Self.closest(to: value, among: allowed) { message += " (did you mean '\(suggestion)'?)" }
                throw error(at: node, message)
            }
            return value
        }

        func isNull(_ node: Node) -> Bool {
            Self.tag(node) == Tag.Name.null.rawValue
        }

        func error(at node: Node, _ message: String) -> PolicyError {
            let mark = node.mark.map(Position.init) ?? Position(line: 1, column: 1)
            return PolicyError(path: path, line: mark.line, column: mark.column, message: message)
        }

        /// Where the file writes `problem`'s setting, else one of its related settings, else the nearest
        /// enclosing section of either; line 1, column 1 when the file spells out none of them.
        /// `exact` says whether the file writes the problem's own setting.
        func mark(for problem: Policy.Problem) -> (mark: Position, exact: Bool) {
            if let mark = marks[problem.setting] { return (mark, true) }
            let candidates = [problem.setting] + problem.related
            for setting in candidates {
                if let mark = marks[setting] { return (mark, false) }
            }
            for setting in candidates {
                var parent = setting
                while let cut = parent.lastIndex(where: { $0 == "." || $0 == "[" }) {
                    parent = String(parent[..<cut])
                    if let mark = marks[parent] { return (mark, false) }
                }
            }
            return (Position(line: 1, column: 1), false)
        }

        /// The resolved tag of `node`, e.g. `tag:yaml.org,2002:int`.
        static func tag(_ node: Node) -> String {
            node.tag.rawValue
        }

        static func isCollection(_ node: Node) -> Bool {
            switch node {
            case .mapping, .sequence: true
            case .scalar, .alias: false
            }
        }

        static func describe(_ node: Node) -> String {
            switch node {
            case .mapping: return "a mapping"
            case .sequence: return "a list"
            case .alias: return "an alias"
            case .scalar(let scalar):
                switch tag(node) {
                case Tag.Name.null.rawValue: return "nothing (null)"
                case Tag.Name.bool.rawValue: return "a boolean (\(scalar.string))"
                case Tag.Name.int.rawValue, Tag.Name.float.rawValue: return "a number (\(scalar.string))"
                default: return "a string"
                }
            }
        }

        /// The known name closest to `word`: one that starts with it or that it starts with (at least two
        /// characters shared), else one within a small edit distance. `nil` when none is close.
        static func closest(to word: String, among known: [String]) -> String? {
            let lowered = word.lowercased()
            if let prefixed = known.filter({ lowered.count >= 2 && ($0.hasPrefix(lowered) || lowered.hasPrefix($0)) })
                .max(by: { $0.count < $1.count }) {
                return prefixed
            }
            let scored = known.map { ($0, editDistance(Array(lowered.unicodeScalars), Array($0.unicodeScalars))) }
            guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
            return best.1 <= max(1, min(3, best.0.count / 3)) ? best.0 : nil
        }

        static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
            if a.isEmpty { return b.count }
            var previous = Array(0...b.count)
            var current = previous
            for i in 1...a.count {
                current[0] = i
                for j in stride(from: 1, through: b.count, by: 1) {
                    current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                swap(&previous, &current)
            }
            return previous[b.count]
        }
    }
}
