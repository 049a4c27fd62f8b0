/// Which trends an input feeds.
public enum Channel: String, Sendable {
    /// Web and beacon events → `web_trends`.
    case web
    /// Call detail records → `call_trends`.
    case calls
}

/// An input format, as named on the command line (`--format`), in the manifest and by `crumb detect`.
///
/// Names: `combined`, `common`, `w3c`, `json` (the policy's field mapping, else the `beacon` preset),
/// `json:PRESET`, `asterisk-cdr`, `freeswitch-cdr`, `apache:LOGFORMAT`, `nginx:LOG_FORMAT`, and the
/// presets of ``FormatPresets`` (`vhost_combined`, `aws_alb`, ...). A format string is compiled once, here.
public struct FormatSpec: Sendable {
    public enum Kind: Sendable {
        case combined, common, w3c
        case json(JSONFieldMapping, mappingName: String)
        case program(FormatProgram, description: String)
        case asteriskCDR, freeSWITCHCDR
    }

    public let kind: Kind
    /// The name shown to people and written to the manifest.
    public let name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    public var channel: Channel {
        switch kind {
        case .asteriskCDR, .freeSWITCHCDR: .calls
        default: .web
        }
    }

    /// A fresh parser for one input (parsers may keep state between lines), or nil for a call format.
    public func makeWebParser() -> (any WebLineParser)? {
        switch kind {
        case .combined: CombinedLogParser(mode: .lenient)
        case .common: CombinedLogParser(mode: .common)
        case .w3c: W3CExtendedParser()
        case .json(let mapping, _): JSONLineParser(mapping: mapping)
        case .program(let program, _): FormatStringParser(program)
        case .asteriskCDR, .freeSWITCHCDR: nil
        }
    }

    /// A fresh parser for one input, or nil for a web format. CDR times are local to `timeZone`.
    public func makeCallParser(timeZone: LocalTimeZone) -> (any CallLineParser)? {
        switch kind {
        case .asteriskCDR: AsteriskCDRParser(timeZone: timeZone)
        case .freeSWITCHCDR: FreeSWITCHCDRParser(timeZone: timeZone)
        default: nil
        }
    }

    /// Every fixed format name, with a line of description, for `crumb formats`.
    public static var catalog: [(name: String, description: String)] {
        var list: [(String, String)] = [
            ("auto", "detect each input's format from its first lines (the default)"),
            ("combined", "Apache/nginx combined, optionally followed by quoted Cookie and X-Forwarded-For fields"),
            ("common", "Apache common (NCSA): %h %l %u %t \"%r\" %>s %b"),
            ("w3c", "W3C extended (IIS, AWS CloudFront): columns from #Fields:, which may change mid-file"),
            ("json", "one JSON object per line (beacons, tracking pixels), mapped by the policy's formats.json"),
            ("asterisk-cdr", "Asterisk cdr_csv Master.csv, 16 to 21 columns; local times in --timezone"),
            ("freeswitch-cdr", "FreeSWITCH mod_cdr_csv, its default template; local times in --timezone"),
            ("apache:FORMAT", "any Apache LogFormat string, e.g. apache:'%h %l %u %t \"%r\" %>s %b \"%{Cookie}i\"'"),
            ("nginx:FORMAT", "any nginx log_format string, e.g. nginx:'$remote_addr - $remote_user [$time_local] \"$request\" $status'"),
        ]
        for preset in JSONFieldMapping.presetNames {
            list.append(("json:\(preset)", "JSON Lines with the \(preset) field mapping"))
        }
        for (preset, summary) in presetSummaries {
            list.append((preset, summary))
        }
        return list
    }

    /// The presets `crumb formats` lists (combined and common are listed above), with what they read.
    static let presetSummaries: [(String, String)] = [
        ("vhost_combined", "Apache's vhost_combined: %v:%p before combined"),
        ("combined_cookie", "combined followed by a quoted Cookie header"),
        ("common_vhost", "common with the virtual host first: %v %h %l %u %t \"%r\" %>s %b"),
        ("combined_vhost", "combined with the virtual host first"),
        ("nginx_combined", "nginx's default combined log_format"),
        ("aws_alb", "AWS Application Load Balancer access logs"),
        ("aws_elb", "AWS Classic Load Balancer access logs"),
        ("aws_s3", "Amazon S3 server access logs"),
    ]

    /// The presets `auto` tries: those no plain combined/common line also matches.
    static let detectedPresets = ["vhost_combined", "combined_vhost", "common_vhost", "aws_alb", "aws_elb", "aws_s3"]

    /// Parses a `--format` value. `auto` is not a spec (see ``FormatDetector``).
    ///
    /// - Parameter jsonMapping: the policy's JSON mapping, used by plain `json`.
    public init(parsing text: String, jsonMapping: JSONFieldMapping? = nil) throws(FormatSpecError) {
        switch text {
        case "combined": self.init(kind: .combined, name: "combined")
        case "common": self.init(kind: .common, name: "common")
        case "w3c": self.init(kind: .w3c, name: "w3c")
        case "asterisk-cdr": self.init(kind: .asteriskCDR, name: "asterisk-cdr")
        case "freeswitch-cdr": self.init(kind: .freeSWITCHCDR, name: "freeswitch-cdr")
        case "json":
            if let jsonMapping {
                self.init(kind: .json(jsonMapping, mappingName: "policy"), name: "json")
            } else {
                self.init(kind: .json(JSONFieldMapping.preset(named: "beacon")!, mappingName: "beacon"), name: "json:beacon")
            }
        default:
            if text.hasPrefix("json:") {
                let preset = String(text.dropFirst(5))
                guard let mapping = JSONFieldMapping.preset(named: preset) else {
                    throw FormatSpecError("unknown JSON preset '\(preset)'; known: \(JSONFieldMapping.presetNames.joined(separator: ", "))")
                }
                self.init(kind: .json(mapping, mappingName: preset), name: text)
            } else if text.hasPrefix("apache:") {
                let format = String(text.dropFirst(7))
                do {
                    self.init(kind: .program(try FormatProgram.apache(format), description: format), name: "apache")
                } catch {
                    throw FormatSpecError("apache format: \(error)")
                }
            } else if text.hasPrefix("nginx:") {
                let format = String(text.dropFirst(6))
                do {
                    self.init(kind: .program(try FormatProgram.nginx(format), description: format), name: "nginx")
                } catch {
                    throw FormatSpecError("nginx format: \(error)")
                }
            } else if let program = FormatPresets.program(named: text) {
                self.init(kind: .program(program, description: text), name: text)
            } else {
                throw FormatSpecError("unknown format '\(text)'; see crumb formats")
            }
        }
    }
}

extension FormatDetector {
    /// A hint when `head` (an input's first bytes) is compressed data crumb does not decode, or nil.
    public static func compressionHint(_ head: some Collection<UInt8>) -> String? {
        let bytes = Array(head.prefix(6))
        func starts(_ magic: [UInt8]) -> Bool { bytes.starts(with: magic) }
        let tool: (name: String, command: String)? =
            starts(Array("BZh".utf8)) ? ("bzip2", "bunzip2 -c")
            : starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) ? ("xz", "xz -dc")
            : starts([0x28, 0xB5, 0x2F, 0xFD]) ? ("zstd", "zstd -dc")
            : starts([0x50, 0x4B, 0x03, 0x04]) ? ("zip", "unzip -p")
            : nil
        guard let tool else { return nil }
        return "it looks like \(tool.name)-compressed data, and crumb reads gzip and plain text: decompress it first, e.g. \(tool.command) FILE | crumb run -"
    }
}

/// A `--format` value that names no format or whose format string does not compile.
public struct FormatSpecError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Picks an input's format from its first lines: every candidate parses the sample with a fresh parser,
/// and the one that parses the most lines wins (ties go to the earlier candidate, the more specific).
///
/// A candidate must parse at least half of the sampled lines that are not directives or blank. The
/// reason given says how many lines each format parsed, so `crumb detect` can explain its choice and a
/// file that matches nothing stops early with the formats tried.
public struct FormatDetector: Sendable {
    /// What detection found.
    public struct Detection: Sendable {
        /// The format chosen, or nil when none parses enough of the sample.
        public var spec: FormatSpec?
        /// Lines sampled (not blank).
        public var sampled: Int
        /// Per candidate, in order: its name and how many sampled lines it parsed (headers included).
        public var tried: [(name: String, parsed: Int)]
        /// Why: "12 of 12 sampled lines parse as w3c (next best: combined, 0)".
        public var reason: String
    }

    public let candidates: [FormatSpec]
    public let timeZone: LocalTimeZone

    public init(candidates: [FormatSpec], timeZone: LocalTimeZone = .utc) {
        self.candidates = candidates
        self.timeZone = timeZone
    }

    /// The candidates `auto` tries, most specific first: the policy's JSON mapping (when it has one) and the
    /// JSON presets, W3C, the CDR formats, the cloud and vhost presets, then combined/common.
    public static func standard(jsonMapping: JSONFieldMapping?, timeZone: LocalTimeZone) -> FormatDetector {
        var specs: [FormatSpec] = []
        if let jsonMapping { specs.append(FormatSpec(kind: .json(jsonMapping, mappingName: "policy"), name: "json")) }
        for preset in JSONFieldMapping.presetNames {
            if let mapping = JSONFieldMapping.preset(named: preset) {
                specs.append(FormatSpec(kind: .json(mapping, mappingName: preset), name: "json:\(preset)"))
            }
        }
        specs.append(FormatSpec(kind: .w3c, name: "w3c"))
        specs.append(FormatSpec(kind: .asteriskCDR, name: "asterisk-cdr"))
        specs.append(FormatSpec(kind: .freeSWITCHCDR, name: "freeswitch-cdr"))
        specs.append(FormatSpec(kind: .combined, name: "combined"))
        specs.append(FormatSpec(kind: .common, name: "common"))
        for preset in FormatSpec.detectedPresets {
            if let program = FormatPresets.program(named: preset) {
                specs.append(FormatSpec(kind: .program(program, description: preset), name: preset))
            }
        }
        return FormatDetector(candidates: specs, timeZone: timeZone)
    }

    /// Detects the format of `lines` (without terminators; blank lines are skipped).
    public func detect(lines: [[UInt8]]) -> Detection {
        let sample = lines.filter { line in !line.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") } }
        var tried: [(name: String, parsed: Int)] = []
        var best: (index: Int, parsed: Int, events: Int, unmapped: Int, combined: Int)?
        var decoded: [UInt8] = []
        for (index, spec) in candidates.enumerated() {
            var parsed = 0, events = 0, unmapped = 0, combined = 0
            if var parser = spec.makeWebParser() {
                for line in sample {
                    let result = line.withUnsafeBytes { bytes in try? parser.parse(bytes, decoded: &decoded) }
                    switch result {
                    case .event(let event)?, .decodedEvent(let event)?:
                        parsed += 1
                        events += 1
                        unmapped += event.unmapped.count
                        if event.isCombined { combined += 1 }
                    case .header?: parsed += 1
                    case nil: break
                    }
                }
            } else if var parser = spec.makeCallParser(timeZone: timeZone) {
                for line in sample {
                    let result = line.withUnsafeBytes { bytes in try? parser.parse(bytes, decoded: &decoded) }
                    switch result {
                    case .event?, .decodedEvent?:
                        parsed += 1
                        events += 1
                    case .header?: parsed += 1
                    case nil: break
                    }
                }
            }
            tried.append((spec.name, parsed))
            guard parsed > 0 else { continue }
            // More lines parsed wins; then a format that read events over one that only saw headers (a
            // W3C `#Fields:` directive is evidence, but rows are better); then fewer values left unmapped
            // (the closer JSON mapping).
            if let current = best {
                let score = (parsed, events > 0 ? 1 : 0, -unmapped)
                let currentScore = (current.parsed, current.events > 0 ? 1 : 0, -current.unmapped)
                guard score > currentScore else { continue }
            }
            best = (index, parsed, events, unmapped, combined)
        }
        let ranked = tried.enumerated().sorted { $0.element.parsed > $1.element.parsed || ($0.element.parsed == $1.element.parsed && $0.offset < $1.offset) }
        guard let best, best.parsed * 2 >= sample.count else {
            let top = ranked.prefix(3).filter { $0.element.parsed > 0 }.map { "\($0.element.name) \($0.element.parsed)" }
            let reason = sample.isEmpty ? "no non-blank lines to look at"
                : top.isEmpty ? "no format parses any of the \(sample.count) sampled lines"
                : "no format parses at least half of the \(sample.count) sampled lines (best: \(top.joined(separator: ", ")))"
            return Detection(spec: nil, sampled: sample.count, tried: tried, reason: reason)
        }
        var spec = candidates[best.index]
        // `combined` reads common lines too: name the format by what the sample held.
        if case .combined = spec.kind, best.combined * 2 < best.events { spec = FormatSpec(kind: .combined, name: "common") }
        let runnerUp = ranked.first { $0.offset != best.index && $0.element.parsed > 0 }
            .map { "; next best: \($0.element.name), \($0.element.parsed)" } ?? "; no other format parses any"
        return Detection(spec: spec, sampled: sample.count, tried: tried,
                         reason: "\(best.parsed) of \(sample.count) sampled lines parse as \(spec.name)\(runnerUp)")
    }
}
