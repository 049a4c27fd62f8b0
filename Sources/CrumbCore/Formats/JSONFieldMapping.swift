/// Which JSON fields of a JSON Lines log carry which role of an `AccessLogEvent`: the `json` format's
/// field mapping, written in the policy file and compiled once into a table the parser consults per key.
///
/// Paths:
/// - dot-separated object keys from the line's top object: `request.headers.User-Agent`;
/// - a key that itself holds a `.` or a `\` is written with a backslash before it: `labels.app\.kubernetes\.io`
///   for the key `app.kubernetes.io`, `a\\b` for the key `a\b`; a backslash before anything else is an error;
/// - keys match exactly, byte for byte (case-sensitive), except directly under a key named `headers`,
///   where they match ASCII case-insensitively, since HTTP field names are case-insensitive (RFC 9110
///   §5.1): `request.headers.DNT` matches Caddy's `Dnt`;
/// - arrays are transparent: a path through an array applies to each of its elements, so an array value
///   at a mapped path yields its first (non-null) element (Caddy writes headers as `["value"]`) and
///   `events.name` reaches `{"events":[{"name":"x"}]}`.
///
/// Roles take their values as `JSONLineParser` documents. Several paths may carry the same role (a
/// fallback: Traefik's `ClientHost`, else `ClientAddr`): the one listed first that the line holds wins.
/// The `ignore` role reads a value (or a whole object) and discards it: it says that the mapping's author
/// vouches that it is server-side data, not personal. Every value no path names is personal until a
/// mapping says otherwise: the parser hands it on as `AccessLogEvent.unmapped`, to be scanned and counted,
/// never written.
///
/// Refused, with a `JSONMappingError` that names the path: an empty path or empty segment, a bad escape,
/// the same path twice, a path under another mapped path (`request` → ignore with `request.uri` → url:
/// an object's mapping covers its whole subtree), a mapping with no `time` path, and (from role names)
/// an unknown role.
public struct JSONFieldMapping: Sendable, Equatable {
    /// What a mapped value means. The raw values are the names the policy file uses.
    public enum Role: String, Sendable, CaseIterable {
        /// When it happened: epoch seconds (fraction allowed), milliseconds, microseconds or
        /// nanoseconds as a number or numeric string; ISO-8601 text; or Apache's `%t` text.
        case time
        /// The client's address; a trailing `:port` (`1.2.3.4:5678`, `[2001:db8::1]:443`) is cut.
        case clientIP = "client_ip"
        /// The authenticated user name (`%u`).
        case remoteUser = "remote_user"
        case method
        /// A full URL (sets the target, and the host when absolute) or an origin-form target (`/p?q=1`).
        case url
        /// The path alone; with `query`, the target is `path?query`.
        case path
        case query
        /// `HTTP/1.1`, `HTTP/2.0`.
        case requestProtocol = "protocol"
        /// A number or numeric string, 0...999.
        case status
        /// Response size: digits, or `-` for none.
        case bytes
        case referrer
        case userAgent = "user_agent"
        case cookie
        case forwardedFor = "forwarded_for"
        /// The virtual host served (wins over an absolute URL's host).
        case host
        /// Time taken, in the unit the name says.
        case durationSeconds = "duration_s"
        case durationMilliseconds = "duration_ms"
        case durationMicroseconds = "duration_us"
        case durationNanoseconds = "duration_ns"
        /// The beacon's event name (`page_view`).
        case event
        /// `DNT: 1` / `Sec-GPC: 1`: `1`, `"1"` or `true` raise the flag.
        case doNotTrack = "dnt"
        case globalPrivacyControl = "gpc"
        /// Read and discarded: server-side, not personal.
        case ignore
    }

    /// The mapping as written, in order (the first of several paths with one role wins): what a policy
    /// file extends (a preset's entries, then its own).
    public let entries: [(path: String, role: Role)]

    /// A node of the compiled path trie; node 0 is the line's top object.
    struct Node: Sendable, Equatable {
        var role: Role?
        /// The role's position in `Role.allCases`, for the parser's per-role table.
        var roleIndex = 0
        /// The entry's position in `entries`: lower wins when several paths carry one role.
        var priority: Int = Int.max
        /// Child keys are stored lowercased and must be looked up lowercased (the node is a `headers` key).
        var foldsChildKeys = false
        var hasChildren = false
    }

    /// One edge of the trie in an open-addressing table keyed by (parent node, key bytes).
    struct Slot: Sendable, Equatable {
        var hash: UInt64 = 0
        var parent: Int32 = -1
        /// -1 marks an empty slot.
        var child: Int32 = -1
        var keyStart: Int32 = 0
        var keyCount: Int32 = 0
    }

    let nodes: [Node]
    let slots: [Slot]
    let slotMask: Int
    let keyBytes: [UInt8]

    /// Compiles `entries`.
    ///
    /// - Throws: `JSONMappingError` naming the first bad path.
    /// - Complexity: O(n²) in the number of path segments, once; lookups are then O(key length).
    public init(_ entries: [(path: String, role: Role)]) throws(JSONMappingError) {
        var nodes = [Node()]
        /// The first entry path through each node, for error messages.
        var pathThrough = [""]
        var edges: [(parent: Int, key: [UInt8], child: Int)] = []
        for (priority, entry) in entries.enumerated() {
            var node = 0
            for var segment in try Self.segments(of: entry.path) {
                // The root never has a role; any other node with one is a leaf of the mapping.
                if nodes[node].role != nil { throw .nestedPath(entry.path, under: pathThrough[node]) }
                if nodes[node].foldsChildKeys { segment = segment.map(ASCII.lowercased) }
                if let edge = edges.first(where: { $0.parent == node && $0.key == segment }) {
                    node = edge.child
                    continue
                }
                let child = nodes.count
                nodes.append(Node(foldsChildKeys: segment.elementsEqual("headers".utf8)))
                pathThrough.append(entry.path)
                nodes[node].hasChildren = true
                edges.append((node, segment, child))
                node = child
            }
            if nodes[node].role != nil { throw .duplicatePath(entry.path) }
            if nodes[node].hasChildren { throw .nestedPath(pathThrough[node], under: entry.path) }
            nodes[node].role = entry.role
            nodes[node].roleIndex = Role.allCases.firstIndex(of: entry.role) ?? 0
            nodes[node].priority = priority
        }
        guard nodes.contains(where: { $0.role == .time }) else { throw .missingTime }

        var capacity = 8
        while capacity < edges.count * 2 { capacity *= 2 }
        var slots = [Slot](repeating: Slot(), count: capacity)
        var keyBytes: [UInt8] = []
        for edge in edges {
            let hash = edge.key.withUnsafeBytes { Self.hash($0, parent: Int32(edge.parent)) }
            var index = Int(truncatingIfNeeded: hash) & (capacity - 1)
            while slots[index].child >= 0 { index = (index + 1) & (capacity - 1) }
            slots[index] = Slot(hash: hash, parent: Int32(edge.parent), child: Int32(edge.child),
                                keyStart: Int32(keyBytes.count), keyCount: Int32(edge.key.count))
            keyBytes.append(contentsOf: edge.key)
        }
        self.entries = entries
        self.nodes = nodes
        self.slots = slots
        self.slotMask = capacity - 1
        self.keyBytes = keyBytes
    }

    /// Compiles a mapping whose roles are given by name, as the policy file writes them.
    ///
    /// - Throws: `.unknownRole` for a name that is not a `Role` raw value, or any error of `init(_:)`.
    public init(roleNames entries: [(path: String, role: String)]) throws(JSONMappingError) {
        var typed: [(path: String, role: Role)] = []
        for entry in entries {
            guard let role = Role(rawValue: entry.role) else { throw .unknownRole(entry.role, path: entry.path) }
            typed.append((entry.path, role))
        }
        try self.init(typed)
    }

    /// The mapping as one line of text, for the policy's digest: each entry in order (order decides
    /// between fallbacks) as its path, JSON-quoted, `=` and its role, joined by `,`:
    /// `"ts"=time,"request.headers.User-Agent"=user_agent`. Equal mappings give equal texts.
    public var canonicalText: String {
        var text: [UInt8] = []
        for (index, entry) in entries.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            var path = entry.path
            path.withUTF8 { JSONText.appendString(UnsafeRawBufferPointer($0), to: &text) }
            text.append(UInt8(ascii: "="))
            text.append(contentsOf: entry.role.rawValue.utf8)
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether some path carries `role`.
    public func maps(_ role: Role) -> Bool {
        entries.contains { $0.role == role }
    }

    /// Mappings are equal when their entries are: the compiled table follows from them.
    public static func == (lhs: JSONFieldMapping, rhs: JSONFieldMapping) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.path == $1.path && $0.role == $1.role }
    }

    // MARK: Lookup (the parser's hot path)

    /// The trie node reached from `parent` by `key`, or -1. When `foldsChildKeys(parent)`, `key` must
    /// already be lowercased.
    @inline(__always)
    func child(of parent: Int32, key: UnsafeRawBufferPointer) -> Int32 {
        let hash = Self.hash(key, parent: parent)
        var index = Int(truncatingIfNeeded: hash) & slotMask
        while true {
            let slot = slots[index]
            if slot.child < 0 { return -1 }
            if slot.hash == hash, slot.parent == parent, Int(slot.keyCount) == key.count,
               keyMatches(key, at: Int(slot.keyStart)) {
                return slot.child
            }
            index = (index + 1) & slotMask
        }
    }

    private func keyMatches(_ key: UnsafeRawBufferPointer, at start: Int) -> Bool {
        keyBytes.withUnsafeBytes { stored in
            for i in 0..<key.count where stored[start + i] != key[i] { return false }
            return true
        }
    }

    static func hash(_ key: UnsafeRawBufferPointer, parent: Int32) -> UInt64 {
        ByteHash.hash(key, seed: 0x9E37_79B9_7F4A_7C15 ^ UInt64(UInt32(bitPattern: parent)) &* 0xFF51_AFD7_ED55_8CCD)
    }

    // MARK: Path syntax

    /// Splits a path at unescaped dots, resolving `\.` and `\\`.
    static func segments(of path: String) throws(JSONMappingError) -> [[UInt8]] {
        var segments: [[UInt8]] = []
        var current: [UInt8] = []
        var bytes = Array(path.utf8).makeIterator()
        while let byte = bytes.next() {
            switch byte {
            case UInt8(ascii: "."):
                guard !current.isEmpty else { throw .emptySegment(path) }
                segments.append(current)
                current.removeAll()
            case UInt8(ascii: "\\"):
                guard let escaped = bytes.next(), escaped == UInt8(ascii: ".") || escaped == UInt8(ascii: "\\") else {
                    throw .badEscape(path)
                }
                current.append(escaped)
            default:
                current.append(byte)
            }
        }
        guard !current.isEmpty else { throw .emptySegment(path) }
        segments.append(current)
        return segments
    }
}

/// Why a field mapping was refused. Names the path as the policy file wrote it (never a log value).
public enum JSONMappingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An empty path, or two dots in a row, or a dot at either end.
    case emptySegment(String)
    /// A backslash not followed by `.` or `\`.
    case badEscape(String)
    /// The same path (after case folding under `headers`) twice.
    case duplicatePath(String)
    /// A path under another mapped path: the outer mapping already covers the whole subtree.
    case nestedPath(String, under: String)
    /// No path carries the `time` role, which every event needs.
    case missingTime
    /// A role name that `JSONFieldMapping.Role` does not know.
    case unknownRole(String, path: String)

    public var description: String {
        switch self {
        case .emptySegment(let path): "json field path '\(path)' has an empty segment"
        case .badEscape(let path): "json field path '\(path)' has a backslash not before '.' or '\\'"
        case .duplicatePath(let path): "json field path '\(path)' is mapped twice"
        case .nestedPath(let path, let outer): "json field path '\(path)' lies under the mapped path '\(outer)'"
        case .missingTime: "the json field mapping has no path with the role 'time'"
        case .unknownRole(let role, let path):
            "json field path '\(path)' has an unknown role '\(role)' (known: "
                + JSONFieldMapping.Role.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        }
    }
}

// MARK: Presets

extension JSONFieldMapping {
    /// The presets' names, for `--json-mapping NAME` and the policy's `json.preset`.
    public static let presetNames = ["beacon", "caddy", "nginx_json", "traefik"]

    /// A built-in mapping by name, or nil.
    public static func preset(named name: String) -> JSONFieldMapping? {
        switch name {
        case "beacon": beacon
        case "caddy": caddy
        case "nginx_json": nginxJSON
        case "traefik": traefik
        default: nil
        }
    }

    /// crumb's own beacon shape, one event per line as a collector endpoint writes it:
    ///
    /// ```json
    /// {"ts":"2026-01-01T12:00:00Z","event":"page_view","url":"https://shop.example/p/1?utm_source=x",
    ///  "referrer":"https://search.example/","ua":"Mozilla/5.0 ...","ip":"203.0.113.9",
    ///  "visitor":"v-1f3a","props":{"plan":"pro"}}
    /// ```
    ///
    /// - `ts` → time: ISO-8601 text, or epoch seconds / milliseconds / microseconds as a number (Snowplow's
    ///   `dtm` is milliseconds, GA4's `timestamp_micros` microseconds, Segment's `timestamp` ISO-8601).
    /// - `event` → event: the event name (Segment `event`, GA4 `events[].name`, Snowplow `e`).
    /// - `url` → url: the page URL (Snowplow `url`, Segment `context.page.url`); its host becomes the host.
    /// - `referrer` (Snowplow `refr`, Segment `context.page.referrer`), `ua` → user_agent (Snowplow `ua`,
    ///   Segment `context.userAgent`), `ip` → client_ip (Snowplow `ip`, Segment `context.ip`).
    /// - `host` → host, for collectors that record the site separately; `dnt` and `gpc` for collectors
    ///   that record `navigator.doNotTrack` and `navigator.globalPrivacyControl`.
    /// - Everything else — `visitor` (Snowplow `duid`, Segment `anonymousId`, GA4 `client_id`), user ids,
    ///   session ids, `props` (Segment `properties`, GA4 `params`) — stays unmapped: personal until the
    ///   policy maps it.
    static let beacon = compile([
        ("ts", .time),
        ("event", .event),
        ("url", .url),
        ("referrer", .referrer),
        ("ua", .userAgent),
        ("ip", .clientIP),
        ("host", .host),
        ("dnt", .doNotTrack),
        ("gpc", .globalPrivacyControl),
    ])

    /// Caddy's structured access log (`http.log.access`, <https://caddyserver.com/docs/caddyfile/directives/log>):
    /// `ts` epoch seconds, the request under `request` with headers as arrays, `duration` in seconds.
    /// `request.client_ip` (the client after trusted proxies) wins over `request.remote_ip`. TLS details,
    /// the response headers (Caddy writes `Set-Cookie` as `REDACTED` unless `log_credentials` is on, and
    /// ignored values are never written anyway) and the logger's own fields are ignored; the other request
    /// headers (`Accept-Language`...) stay unmapped.
    static let caddy = compile([
        ("ts", .time),
        ("request.client_ip", .clientIP),
        ("request.remote_ip", .clientIP),
        ("request.remote_port", .ignore),
        ("request.proto", .requestProtocol),
        ("request.method", .method),
        ("request.host", .host),
        ("request.uri", .url),
        ("request.headers.User-Agent", .userAgent),
        ("request.headers.Referer", .referrer),
        ("request.headers.Cookie", .cookie),
        ("request.headers.X-Forwarded-For", .forwardedFor),
        ("request.headers.DNT", .doNotTrack),
        ("request.headers.Sec-GPC", .globalPrivacyControl),
        ("request.tls", .ignore),
        ("user_id", .remoteUser),
        ("status", .status),
        ("size", .bytes),
        ("duration", .durationSeconds),
        ("bytes_read", .ignore),
        ("resp_headers", .ignore),
        ("level", .ignore),
        ("logger", .ignore),
        ("msg", .ignore),
    ])

    /// The nginx `log_format` that Matomo's log importer documents for JSON
    /// (<https://github.com/matomo-org/matomo-log-analytics#setup-nginx-logs>):
    /// `{"ip":"$remote_addr","host":"$host","path":"$request_uri","status":"$status",
    /// "referrer":"$http_referer","user_agent":"$http_user_agent","length":$bytes_sent,
    /// "generation_time_milli":$request_time,"date":"$time_iso8601"}`. Despite its name,
    /// `generation_time_milli` holds `$request_time`, which nginx writes in seconds (`0.008`): it maps to
    /// duration_s. `idsite` (a Matomo site id some setups add) is ignored; `method` and `protocol` are read
    /// when a setup adds them.
    static let nginxJSON = compile([
        ("date", .time),
        ("ip", .clientIP),
        ("host", .host),
        ("path", .url),
        ("method", .method),
        ("protocol", .requestProtocol),
        ("status", .status),
        ("referrer", .referrer),
        ("user_agent", .userAgent),
        ("length", .bytes),
        ("generation_time_milli", .durationSeconds),
        ("idsite", .ignore),
    ])

    /// Traefik's JSON access log (<https://doc.traefik.io/traefik/observability/access-logs/>): `StartUTC`
    /// (else `StartLocal`, else the logger's `time`), `ClientHost` (else `ClientAddr`, `ip:port`),
    /// `Duration` in nanoseconds, request headers as `request_<Name>`. Routing, origin and TLS fields are
    /// server-side and ignored; `downstream_*` and `origin_*` headers, when configured, stay unmapped.
    static let traefik = compile([
        ("StartUTC", .time),
        ("StartLocal", .time),
        ("time", .time),
        ("ClientHost", .clientIP),
        ("ClientAddr", .clientIP),
        ("ClientPort", .ignore),
        ("ClientUsername", .remoteUser),
        ("RequestMethod", .method),
        ("RequestPath", .url),
        ("RequestProtocol", .requestProtocol),
        ("RequestHost", .host),
        ("DownstreamStatus", .status),
        ("DownstreamContentSize", .bytes),
        ("Duration", .durationNanoseconds),
        ("request_User-Agent", .userAgent),
        ("request_Referer", .referrer),
        ("request_Cookie", .cookie),
        ("request_X-Forwarded-For", .forwardedFor),
        ("request_Dnt", .doNotTrack),
        ("request_Sec-Gpc", .globalPrivacyControl),
        ("RequestAddr", .ignore),
        ("RequestPort", .ignore),
        ("RequestScheme", .ignore),
        ("RequestContentSize", .ignore),
        ("RequestCount", .ignore),
        ("OriginContentSize", .ignore),
        ("OriginDuration", .ignore),
        ("OriginStatus", .ignore),
        ("Overhead", .ignore),
        ("RetryAttempts", .ignore),
        ("RouterName", .ignore),
        ("ServiceName", .ignore),
        ("ServiceAddr", .ignore),
        ("ServiceURL", .ignore),
        ("TLSVersion", .ignore),
        ("TLSCipher", .ignore),
        ("entryPointName", .ignore),
        ("level", .ignore),
        ("msg", .ignore),
    ])

    private static func compile(_ entries: [(path: String, role: Role)]) -> JSONFieldMapping {
        do {
            return try JSONFieldMapping(entries)
        } catch {
            // The presets are constants, each compiled by the tests.
            preconditionFailure("preset mapping refused: \(error)")
        }
    }
}
