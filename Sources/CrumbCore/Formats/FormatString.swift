/// A log format string that could not be compiled: what is wrong, and at which character of the format.
///
/// The format is configuration text, not log data, so the message may quote it.
public struct FormatStringError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// The format reads no field at all (it is empty, or literal text only).
        case noFields
        /// An Apache directive mod_log_config does not define, or a parameter it does not take (`%Z`, `%{x}a`).
        case unknownDirective(String)
        /// An nginx variable crumb does not know (`$foo`).
        case unknownVariable(String)
        /// A strftime conversion inside `%{...}t` that crumb cannot read back (`%U`, `%E`).
        case unknownTimeConversion(String)
        /// A `%`, `$`, `%{` or `${` with nothing, or no closing brace, after it.
        case incompleteDirective(String)
        /// Two fields with nothing between them to tell where the first one ends (`%h%u`).
        case adjacentFields(String, String)
        /// The time fields give no calendar date (`%{%H:%M:%S}t` alone).
        case incompleteTime
    }

    public var problem: Problem
    /// 1-based character column in the format string.
    public var column: Int

    public init(_ problem: Problem, column: Int) {
        self.problem = problem
        self.column = column
    }

    public var description: String {
        let what: String
        switch problem {
        case .noFields: what = "the format reads no field"
        case .unknownDirective(let name): what = "unknown directive \(name)"
        case .unknownVariable(let name): what = "unknown variable $\(name)"
        case .unknownTimeConversion(let name): what = "unsupported time conversion \(name)"
        case .incompleteDirective(let text): what = "incomplete directive \(text)"
        case .adjacentFields(let first, let second):
            what = "\(second) directly follows \(first): nothing tells where \(first) ends"
        case .incompleteTime: what = "the time fields give no date"
        }
        return "column \(column): \(what)"
    }
}

/// A log format compiled once into a flat list of steps: literals to match and fields to read, each field
/// with its role in `AccessLogEvent` and the byte that ends it. `FormatStringParser` runs it over each line.
///
/// Built from an Apache `LogFormat` string (`apache(_:)`), an nginx `log_format` string (`nginx(_:)`) or a
/// preset (`FormatPresets`). Roles are resolved at compile time: when a format has several candidates for
/// one role, the best one reads it and the others are skipped (`%>s` over `%s`; `%b` over `%O`; `%D` over
/// `%{ms}T` over `%T`; `%r` over `%m %U%q %H`; `%h`/`%a` over `%{c}a`; a begin time over an `end:` time).
public struct FormatProgram: Sendable, Equatable, CustomStringConvertible {
    /// `apache`, `nginx`, or the preset's name.
    public internal(set) var name: String
    /// The format string it was compiled from; empty for presets built from steps.
    public let source: String
    /// Whether the format has the `combined` fields (referrer and user agent).
    public let isCombined: Bool

    let steps: [FormatStep]
    /// Literal bytes, which `.literal` steps slice.
    let literals: [UInt8]
    /// Names of captured values (headers, cookies, notes), which `.unmapped` and `.namedCookie` steps slice.
    let names: [UInt8]
    let nameRanges: [Range<Int>]
    /// Whether a step reads the full request line (`%r`, `$request`).
    let hasRequestLine: Bool
    /// Whether any step feeds the event's time.
    let hasTime: Bool
    /// Whether `%{NAME}C` or `$cookie_NAME` may need assembling into a Cookie value.
    let hasNamedCookies: Bool
    /// Whether the ALB/ELB processing times are summed into the duration.
    let sumsDurations: Bool

    /// One line per step, for `crumb formats` and tests: `field client`, `literal " "`, ...
    public var description: String {
        steps.map { step in
            switch step.op {
            case .literal:
                let bytes = literals[Int(step.a)..<Int(step.a + step.b)]
                return "literal " + String(reflecting: String(decoding: bytes, as: UTF8.self))
            case .unmapped, .namedCookie:
                return "\(step.op)(\(String(decoding: names[nameRanges[Int(step.a)]], as: UTF8.self)))"
                    + (step.store ? "" : " skipped")
            default:
                return "\(step.op)" + (step.isTime && !step.store ? " skipped" : "")
            }
        }.joined(separator: "\n")
    }

    /// The number of steps: literals and fields.
    public var stepCount: Int { steps.count }
}

/// One compiled step. A flat value without references, so that running a program retains nothing.
struct FormatStep: Sendable, Equatable {
    /// What a step does. The order of the cases matters: `isNumber` and `isTime` test ranges of raw values.
    enum Op: UInt8, Sendable {
        // Structure.
        /// Match literal bytes: `a` is the offset in the program's literals, `b` the count.
        case literal
        /// Presets: accept any further fields (a space and anything after it), or nothing.
        case skipRest

        // Text fields, read up to their stop byte.
        case client, clientFallback, clientAddressPort, remoteUser
        case request, method, path, query, args, requestURI, requestProtocol
        case referrer, userAgent, cookieHeader, forwardedFor, host, doNotTrack, globalPrivacyControl
        /// A captured value no role claims; `a` indexes the program's names.
        case unmapped
        /// `%{NAME}C`, `$cookie_NAME`; `a` indexes the program's names.
        case namedCookie
        case ignored

        // Numbers, read up to their stop byte.
        case statusFinal, statusOriginal, bodyBytes, totalBytes
        case durationMicros, durationMillis, durationSeconds
        /// ALB/ELB processing times in decimal seconds, `-1` when not measured; summed.
        case durationSecondsPart

        // Time fields, self-delimiting.
        /// `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` (`a` = 1) or the same without brackets (`$time_local`).
        case apacheTime
        /// `yyyy-mm-ddTHH:MM:SS[.fraction][Z|±hh:mm|±hhmm]`.
        case iso8601
        case epochSeconds, epochMillis, epochMicros, epochDecimal
        /// Digits of a second's fraction, ignored (`%{msec_frac}t`).
        case fraction
        case year4, year2, month2, monthAbbrev, monthName, day2, daySpace, dayOfYear
        case hour24, hourSpace24, hour12, hourSpace12, minute, second, meridiem
        case zoneOffset, zoneName, weekdayName, weekdayDigit
        /// `$is_args`: `?` or nothing.
        case isArgs
    }

    /// No stop byte: the field runs to the end of the line.
    static let noStop: UInt16 = 0x100

    var op: Op
    /// `.literal`: offset in the program's literals; `.unmapped`, `.namedCookie`: index of the name;
    /// `.apacheTime`: 1 when bracketed.
    var a: Int32 = 0
    /// `.literal`: byte count.
    var b: Int32 = 0
    /// The byte that ends a text or number field (the first byte of what follows it), or `noStop`.
    var stop1: UInt16 = FormatStep.noStop
    /// A second stop byte, when the field is followed by a field that may be empty (`%U` in `%U%q`).
    var stop2: UInt16 = FormatStep.noStop
    /// The field is followed by a `"`: it ends at an unescaped `"` where the following literal matches.
    var quoted = false
    /// The following `"` is the last literal of the line: it must be followed by a space or the end of the
    /// line, and a field with no closing quote may run to the end of the line.
    var lastQuoted = false
    /// Time steps: feeds the event's time (false for `end:` times beside a begin time). Roles resolved
    /// away are turned into `.ignored` instead.
    var store = true

    var isTime: Bool { op.rawValue >= Op.apacheTime.rawValue && op.rawValue <= Op.weekdayDigit.rawValue }

    var isNumber: Bool { op.rawValue >= Op.statusFinal.rawValue && op.rawValue <= Op.durationSecondsPart.rawValue }

    /// Reads its own extent; needs no stop byte.
    var isSelfDelimiting: Bool { isTime || op == .isArgs }

    /// The byte a field always starts with, when there is one: it tells where a field before it ends.
    var leadByte: UInt8? {
        switch op {
        case .query, .isArgs: UInt8(ascii: "?")
        case .apacheTime where a == 1: UInt8(ascii: "[")
        default: nil
        }
    }
}

/// Collects literals and fields, then resolves roles and stop bytes into a `FormatProgram`.
struct FormatProgramBuilder {
    private(set) var steps: [FormatStep] = []
    private var columns: [Int] = []
    private var labels: [String] = []
    private var literals: [UInt8] = []
    private var names: [UInt8] = []
    private var nameRanges: [Range<Int>] = []

    mutating func literal(_ bytes: some Sequence<UInt8>) {
        let start = literals.count
        literals.append(contentsOf: bytes)
        let added = literals.count - start
        guard added > 0 else { return }
        if let last = steps.last, last.op == .literal, Int(last.a + last.b) == start {
            steps[steps.count - 1].b += Int32(added)
        } else {
            append(FormatStep(op: .literal, a: Int32(start), b: Int32(added)), column: 0, label: "literal")
        }
    }

    mutating func literal(_ text: String) { literal(text.utf8) }

    mutating func field(_ op: FormatStep.Op, column: Int, label: String, a: Int32 = 0, store: Bool = true) {
        append(FormatStep(op: op, a: a, store: store), column: column, label: label)
    }

    /// A field that carries a name (`.unmapped`, `.namedCookie`).
    mutating func field(_ op: FormatStep.Op, named name: some Sequence<UInt8>, column: Int, label: String) {
        let start = names.count
        names.append(contentsOf: name)
        nameRanges.append(start..<names.count)
        field(op, column: column, label: label, a: Int32(nameRanges.count - 1))
    }

    private mutating func append(_ step: FormatStep, column: Int, label: String) {
        steps.append(step)
        columns.append(column)
        labels.append(label)
    }

    /// Resolves roles, stop bytes and quoting, and checks that the program can be run.
    func finish(name: String, source: String) throws(FormatStringError) -> FormatProgram {
        var steps = steps
        guard steps.contains(where: { $0.op != .literal }) else { throw FormatStringError(.noFields, column: 1) }

        // One reader per role: the best-ranked candidate, first in the format among equals.
        Self.keepBest(&steps, [.client: 0, .clientAddressPort: 0, .clientFallback: 1])
        Self.keepBest(&steps, [.statusFinal: 0, .statusOriginal: 1])
        Self.keepBest(&steps, [.bodyBytes: 0, .totalBytes: 1])
        Self.keepBest(&steps, [.durationMicros: 0, .durationMillis: 1, .durationSeconds: 2])

        // Time: an `end:` time feeds the event only when the format has no begin time.
        if !steps.contains(where: { $0.isTime && $0.store }) {
            for i in steps.indices where steps[i].isTime { steps[i].store = true }
        }
        let stored = Set(steps.filter { $0.isTime && $0.store }.map(\.op))
        if let first = steps.firstIndex(where: { $0.isTime && $0.store }) {
            let complete = !stored.isDisjoint(with: [.apacheTime, .iso8601, .epochSeconds, .epochMillis, .epochMicros, .epochDecimal])
                || ((stored.contains(.year4) || stored.contains(.year2))
                    && (stored.contains(.dayOfYear)
                        || (!stored.isDisjoint(with: [.month2, .monthAbbrev, .monthName])
                            && !stored.isDisjoint(with: [.day2, .daySpace]))))
            guard complete else { throw FormatStringError(.incompleteTime, column: columns[first]) }
        }

        // Where each field ends.
        for i in steps.indices where steps[i].op != .literal && steps[i].op != .skipRest {
            guard i + 1 < steps.count else {
                // Last: a text field runs to the end of the line; a number ends at a space, so that what
                // follows it is trailing garbage rather than a bad number.
                if steps[i].isNumber { steps[i].stop1 = UInt16(UInt8(ascii: " ")) }
                continue
            }
            let next = steps[i + 1]
            if next.op == .literal {
                let first = literals[Int(next.a)]
                steps[i].stop1 = UInt16(first)
                if first == UInt8(ascii: "\""), !steps[i].isSelfDelimiting {
                    steps[i].quoted = true
                    steps[i].lastQuoted = next.b == 1 && (i + 2 == steps.count || steps[i + 2].op == .skipRest)
                }
                continue
            }
            if next.op == .skipRest {
                steps[i].stop1 = UInt16(UInt8(ascii: " "))
                continue
            }
            if steps[i].isSelfDelimiting { continue }
            guard let lead = next.leadByte else {
                throw FormatStringError(.adjacentFields(labels[i], labels[i + 1]), column: columns[i + 1])
            }
            steps[i].stop1 = UInt16(lead)
            // What ends the chain of fields that follows, in case those fields are empty.
            var j = i + 1
            while j < steps.count, steps[j].op != .literal, steps[j].op != .skipRest { j += 1 }
            if j < steps.count {
                steps[i].stop2 = steps[j].op == .literal ? UInt16(literals[Int(steps[j].a)]) : UInt16(UInt8(ascii: " "))
            }
        }

        let ops = Set(steps.map(\.op))
        return FormatProgram(
            name: name, source: source, isCombined: ops.contains(.referrer) && ops.contains(.userAgent),
            steps: steps, literals: literals, names: names, nameRanges: nameRanges,
            hasRequestLine: ops.contains(.request), hasTime: !stored.isEmpty,
            hasNamedCookies: ops.contains(.namedCookie), sumsDurations: ops.contains(.durationSecondsPart))
    }

    /// Keeps the best-ranked candidate for one role (the first in the format among equals) and turns every
    /// other candidate into `.ignored`. The runtime reads any of a role's ops into that role.
    private static func keepBest(_ steps: inout [FormatStep], _ ranks: [FormatStep.Op: Int]) {
        var best: Int?
        for i in steps.indices {
            guard let rank = ranks[steps[i].op] else { continue }
            if let current = best, ranks[steps[current].op]! <= rank { continue }  // safe: only ranked ops are kept
            best = i
        }
        for i in steps.indices where ranks[steps[i].op] != nil && i != best {
            steps[i].op = .ignored
        }
    }
}

// MARK: - Apache

extension FormatProgram {
    /// Compiles an Apache `LogFormat` string (mod_log_config,
    /// <https://httpd.apache.org/docs/current/mod/mod_log_config.html#formats>).
    ///
    /// Accepted directives: `%%`, `%a` `%{c}a`, `%A`, `%B`, `%b`, `%{NAME}C`, `%D`, `%{NAME}e`, `%f`, `%h` `%{c}h`,
    /// `%H`, `%{NAME}i`, `%k`, `%l`, `%L`, `%m`, `%{NAME}n`, `%{NAME}o`, `%p` `%{canonical|local|remote}p`, `%P`
    /// `%{pid|tid|hextid}P`, `%q`, `%r`, `%R`, `%s`, `%t`, `%{format}t` (`sec`, `msec`, `usec`, `msec_frac`,
    /// `usec_frac`, or a strftime pattern, each optionally prefixed `begin:` or `end:`), `%T` `%{ms|us|s}T`,
    /// `%u`, `%U`, `%v`, `%V`, `%X`, `%I`, `%O`, `%S`, and `%^ti` `%^to` `%{NAME}^ti` `%{NAME}^to` (skipped).
    /// Each may carry status conditions (`%400,501{User-agent}i`, `%!200,304{Referer}i`) and a `<` or `>`
    /// modifier; a condition that does not hold makes Apache write `-`, which reads as absent. Outside
    /// directives, `\n`, `\t`, `\"` and `\\` are the characters they name (as in a config file); everything
    /// else is literal.
    ///
    /// Roles: `%h` `%a` client; `%u` remote user; `%t` `%{...}t` time; `%r` request line, or `%m`, `%U%q`, `%H`;
    /// `%>s` (else `%s`) status; `%b` `%B` (else `%O`) bytes; `%{Referer}i`, `%{User-Agent}i`, `%{Cookie}i`,
    /// `%{X-Forwarded-For}i`, `%{Host}i`, `%{DNT}i`, `%{Sec-GPC}i` (names compare case-insensitively);
    /// `%{NAME}C` cookies, assembled as `NAME=value; ...` when there is no Cookie header field; `%v` `%V` host;
    /// `%D` `%T` `%{ms}T` duration; other request headers, environment variables and notes are `unmapped`;
    /// server-side fields (addresses, ports, pids, response headers, handler, file name) are skipped.
    ///
    /// - Throws: `FormatStringError` naming an unknown directive or an unreadable layout, with its column.
    public static func apache(_ format: String) throws(FormatStringError) -> FormatProgram {
        var builder = FormatProgramBuilder()
        let chars = Array(format)
        var i = 0
        while i < chars.count {
            let char = chars[i]
            if char == "\\", i + 1 < chars.count, let escaped = Self.configEscape(chars[i + 1]) {
                builder.literal(escaped)
                i += 2
                continue
            }
            guard char == "%" else {
                builder.literal(String(char))
                i += 1
                continue
            }
            let start = i
            i += 1
            if i < chars.count, chars[i] == "%" {
                builder.literal("%")
                i += 1
                continue
            }
            var parameter: String?
            var parameterColumn = 0
            var modifier: Character?
            var trailer = false
            while i < chars.count {
                let c = chars[i]
                if c == "!" || c == "," || c.isASCII && c.isNumber {
                    i += 1
                } else if c == "<" || c == ">" {
                    modifier = c
                    i += 1
                } else if c == "{" {
                    guard let close = chars[(i + 1)...].firstIndex(of: "}") else {
                        throw FormatStringError(.incompleteDirective(String(chars[start...])), column: start + 1)
                    }
                    parameter = String(chars[(i + 1)..<close])
                    parameterColumn = i + 2
                    i = close + 1
                } else if c == "^" {
                    guard i + 2 < chars.count, chars[i + 1] == "t", chars[i + 2] == "i" || chars[i + 2] == "o" else {
                        throw FormatStringError(
                            .unknownDirective(String(chars[start..<min(chars.count, i + 3)])), column: start + 1)
                    }
                    trailer = true
                    i += 2
                    break
                } else {
                    break
                }
            }
            guard i < chars.count else {
                throw FormatStringError(.incompleteDirective(String(chars[start...])), column: start + 1)
            }
            let letter = chars[i]
            i += 1
            let label = String(chars[start..<i])
            let column = start + 1
            if trailer {
                builder.field(.ignored, column: column, label: label)
                continue
            }
            try Self.apacheDirective(
                letter, parameter: parameter, parameterColumn: parameterColumn, modifier: modifier,
                label: label, column: column, into: &builder)
        }
        return try builder.finish(name: "apache", source: format)
    }

    /// The character a config-file escape stands for (`\n`, `\t`, `\"`, `\\`, `\'`, `\r`), or nil.
    static func configEscape(_ char: Character) -> String? {
        switch char {
        case "n": "\n"
        case "t": "\t"
        case "r": "\r"
        case "\"": "\""
        case "'": "'"
        case "\\": "\\"
        default: nil
        }
    }

    private static func apacheDirective(
        _ letter: Character, parameter: String?, parameterColumn: Int, modifier: Character?, label: String,
        column: Int, into builder: inout FormatProgramBuilder
    ) throws(FormatStringError) {
        let unknown = FormatStringError(.unknownDirective(label), column: column)
        func plain(_ op: FormatStep.Op) throws(FormatStringError) {
            guard parameter == nil else { throw unknown }
            builder.field(op, column: column, label: label)
        }
        func named() throws(FormatStringError) -> String {
            guard let parameter, !parameter.isEmpty else { throw unknown }
            return parameter
        }
        switch letter {
        case "a", "h":
            switch parameter {
            case nil: builder.field(.client, column: column, label: label)
            case "c": builder.field(.clientFallback, column: column, label: label)
            default: throw unknown
            }
        case "A", "f", "k", "L", "R", "X", "I", "S": try plain(.ignored)
        case "l": try plain(.ignored)  // identd: almost always `-`, never used
        case "B", "b": try plain(.bodyBytes)
        case "O": try plain(.totalBytes)
        case "C": builder.field(.namedCookie, named: try named().utf8, column: column, label: label)
        case "D": try plain(.durationMicros)
        case "e", "n": builder.field(.unmapped, named: try named().utf8, column: column, label: label)
        case "H": try plain(.requestProtocol)
        case "i": Self.header(try named(), column: column, label: label, into: &builder)
        case "m": try plain(.method)
        case "o": _ = try named(); builder.field(.ignored, column: column, label: label)  // response header
        case "p":
            guard parameter == nil || ["canonical", "local", "remote"].contains(parameter!) else { throw unknown }
            builder.field(.ignored, column: column, label: label)
        case "P":
            guard parameter == nil || ["pid", "tid", "hextid"].contains(parameter!) else { throw unknown }
            builder.field(.ignored, column: column, label: label)
        case "q": try plain(.query)
        case "r": try plain(.request)
        case "s": try plain(modifier == ">" ? .statusFinal : .statusOriginal)
        case "t":
            guard let parameter else {
                builder.field(.apacheTime, column: column, label: label, a: 1)
                return
            }
            try Self.apacheTime(parameter, column: parameterColumn, label: label, into: &builder)
        case "T":
            switch parameter {
            case nil, "s": builder.field(.durationSeconds, column: column, label: label)
            case "ms": builder.field(.durationMillis, column: column, label: label)
            case "us": builder.field(.durationMicros, column: column, label: label)
            default: throw unknown
            }
        case "u": try plain(.remoteUser)
        case "U": try plain(.path)
        case "v", "V": try plain(.host)
        default: throw unknown
        }
    }

    /// A captured request header, by its case-insensitive name.
    static func header(_ name: String, column: Int, label: String, into builder: inout FormatProgramBuilder) {
        switch name.lowercased() {
        case "referer", "referrer": builder.field(.referrer, column: column, label: label)
        case "user-agent": builder.field(.userAgent, column: column, label: label)
        case "cookie": builder.field(.cookieHeader, column: column, label: label)
        case "x-forwarded-for": builder.field(.forwardedFor, column: column, label: label)
        case "host": builder.field(.host, column: column, label: label)
        case "dnt": builder.field(.doNotTrack, column: column, label: label)
        case "sec-gpc": builder.field(.globalPrivacyControl, column: column, label: label)
        default: builder.field(.unmapped, named: name.utf8, column: column, label: label)
        }
    }

    /// `%{format}t`: a token (`sec`, `msec`, `usec`, `msec_frac`, `usec_frac`) or a strftime pattern, after an
    /// optional `begin:` or `end:`.
    private static func apacheTime(
        _ parameter: String, column: Int, label: String, into builder: inout FormatProgramBuilder
    ) throws(FormatStringError) {
        var pattern = Substring(parameter)
        var column = column
        var store = true
        if pattern.hasPrefix("begin:") {
            pattern = pattern.dropFirst(6)
            column += 6
        } else if pattern.hasPrefix("end:") {
            pattern = pattern.dropFirst(4)
            column += 4
            store = false
        }
        switch pattern {
        case "sec": builder.field(.epochSeconds, column: column, label: label, store: store)
        case "msec": builder.field(.epochMillis, column: column, label: label, store: store)
        case "usec": builder.field(.epochMicros, column: column, label: label, store: store)
        case "msec_frac", "usec_frac": builder.field(.fraction, column: column, label: label, store: store)
        default: try strftime(Array(pattern), column: column, store: store, into: &builder)
        }
    }

    /// Compiles a strftime(3) pattern into time steps and literals, conversions as the C locale writes them.
    ///
    /// Accepted: `%a %A %b %h %B %c %d %D %e %F %H %I %j %k %l %m %M %n %p %r %R %s %S %t %T %u %w %x %X %y %Y
    /// %z %Z %%`. Others (`%U %V %W %G %g %E… %O…`) cannot be read back into a
    /// time and are errors.
    static func strftime(
        _ pattern: [Character], column: Int, store: Bool, into builder: inout FormatProgramBuilder
    ) throws(FormatStringError) {
        var i = 0
        while i < pattern.count {
            guard pattern[i] == "%" else {
                builder.literal(String(pattern[i]))
                i += 1
                continue
            }
            guard i + 1 < pattern.count else {
                throw FormatStringError(.incompleteDirective("%"), column: column + i)
            }
            let conversion = pattern[i + 1]
            let at = column + i
            let label = "%" + String(conversion)
            func step(_ op: FormatStep.Op) { builder.field(op, column: at, label: label, store: store) }
            func expand(_ text: String) throws(FormatStringError) {
                try strftime(Array(text), column: at, store: store, into: &builder)
            }
            switch conversion {
            case "a", "A": step(.weekdayName)
            case "b", "h": step(.monthAbbrev)
            case "B": step(.monthName)
            case "c": try expand("%a %b %e %H:%M:%S %Y")
            case "d": step(.day2)
            case "D", "x": try expand("%m/%d/%y")
            case "e": step(.daySpace)
            case "F": try expand("%Y-%m-%d")
            case "H": step(.hour24)
            case "I": step(.hour12)
            case "j": step(.dayOfYear)
            case "k": step(.hourSpace24)
            case "l": step(.hourSpace12)
            case "m": step(.month2)
            case "M": step(.minute)
            case "n": builder.literal("\n")
            case "p": step(.meridiem)
            case "r": try expand("%I:%M:%S %p")
            case "R": try expand("%H:%M")
            case "s": step(.epochSeconds)
            case "S": step(.second)
            case "t": builder.literal("\t")
            case "T", "X": try expand("%H:%M:%S")
            case "u", "w": step(.weekdayDigit)
            case "y": step(.year2)
            case "Y": step(.year4)
            case "z": step(.zoneOffset)
            case "Z": step(.zoneName)
            case "%": builder.literal("%")
            default: throw FormatStringError(.unknownTimeConversion(label), column: at)
            }
            i += 2
        }
    }
}

// MARK: - nginx

extension FormatProgram {
    /// Compiles an nginx `log_format` string (<https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format>,
    /// variables from <https://nginx.org/en/docs/varindex.html>).
    ///
    /// Variables are `$name` (letters, digits, `_`) or `${name}`; everything else is literal, with the
    /// config-file escapes `\"`, `\'`, `\\`, `\n`, `\r`, `\t`. Known variables: `$remote_addr`,
    /// `$realip_remote_addr`, `$proxy_protocol_addr` (client; the last two only when `$remote_addr` is
    /// absent), `$remote_user`, `$time_local`, `$time_iso8601`, `$msec`, `$request`, `$request_method`,
    /// `$request_uri`, `$uri`, `$document_uri`, `$args`, `$query_string`, `$is_args`, `$server_protocol`,
    /// `$status`, `$body_bytes_sent`, `$bytes_sent`, `$request_time`, `$host`, `$server_name`, `$http_<name>`
    /// (any request header, `_` for `-`), `$cookie_<name>`, `$arg_<name>`, `$request_body`, `$content_type`,
    /// `$content_length`, `$proxy_add_x_forwarded_for`; skipped: `$upstream_*`, `$ssl_*`, `$sent_http_*`,
    /// `$sent_trailer_*`, `$request_length`, `$scheme`, `$https`, `$connection`, `$connection_requests`,
    /// `$pipe`, `$gzip_ratio`, `$remote_port`, `$server_addr`, `$server_port`, `$hostname`, `$pid`,
    /// `$request_id`, `$request_completion`, `$nginx_version` and a few more server-side values. Any other
    /// name is an error (`$date_local` and `$date_gmt`, for one, exist only in SSI).
    ///
    /// - Throws: `FormatStringError` naming an unknown variable or an unreadable layout, with its column.
    public static func nginx(_ format: String) throws(FormatStringError) -> FormatProgram {
        var builder = FormatProgramBuilder()
        let chars = Array(format)
        var i = 0
        while i < chars.count {
            let char = chars[i]
            if char == "\\", i + 1 < chars.count, let escaped = Self.configEscape(chars[i + 1]) {
                builder.literal(escaped)
                i += 2
                continue
            }
            guard char == "$" else {
                builder.literal(String(char))
                i += 1
                continue
            }
            let start = i
            var name: String
            if i + 1 < chars.count, chars[i + 1] == "{" {
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                    throw FormatStringError(.incompleteDirective(String(chars[start...])), column: start + 1)
                }
                name = String(chars[(i + 2)..<close])
                i = close + 1
            } else {
                var end = i + 1
                while end < chars.count, chars[end].isASCII, chars[end].isLetter || chars[end].isNumber || chars[end] == "_" {
                    end += 1
                }
                name = String(chars[(i + 1)..<end])
                i = end
            }
            guard !name.isEmpty else {
                throw FormatStringError(.incompleteDirective(String(chars[start..<max(i, start + 1)])), column: start + 1)
            }
            try Self.nginxVariable(name, label: String(chars[start..<i]), column: start + 1, into: &builder)
        }
        return try builder.finish(name: "nginx", source: format)
    }

    private static func nginxVariable(
        _ name: String, label: String, column: Int, into builder: inout FormatProgramBuilder
    ) throws(FormatStringError) {
        func step(_ op: FormatStep.Op, a: Int32 = 0) { builder.field(op, column: column, label: label, a: a) }
        switch name {
        case "remote_addr": step(.client)
        case "realip_remote_addr", "proxy_protocol_addr": step(.clientFallback)
        case "remote_user": step(.remoteUser)
        case "time_local": step(.apacheTime)
        case "time_iso8601": step(.iso8601)
        case "msec": step(.epochDecimal)
        case "request": step(.request)
        case "request_method": step(.method)
        case "request_uri": step(.requestURI)
        case "uri", "document_uri": step(.path)
        case "args", "query_string": step(.args)
        case "is_args": step(.isArgs)
        case "server_protocol": step(.requestProtocol)
        case "status": step(.statusFinal)
        case "body_bytes_sent": step(.bodyBytes)
        case "bytes_sent": step(.totalBytes)
        case "request_time": step(.durationSeconds)
        case "host", "server_name": step(.host)
        case "proxy_add_x_forwarded_for": step(.forwardedFor)
        case "request_body", "content_type", "content_length":
            builder.field(.unmapped, named: name.utf8, column: column, label: label)
        case "request_length", "scheme", "https", "connection", "connection_requests", "connection_time", "pipe",
            "gzip_ratio", "remote_port", "server_addr", "server_port", "hostname", "pid", "request_id",
            "request_completion", "nginx_version", "proxy_protocol_port", "proxy_host", "proxy_port", "binary_remote_addr",
            "document_root", "realpath_root", "request_filename", "limit_rate", "http2", "http3", "invalid_referer",
            "tcpinfo_rtt", "tcpinfo_rttvar", "tcpinfo_snd_cwnd", "tcpinfo_rcv_space":
            step(.ignored)
        default:
            if name.hasPrefix("http_"), name.count > 5 {
                let header = String(name.dropFirst(5).map { $0 == "_" ? "-" : $0 })
                Self.header(header, column: column, label: label, into: &builder)
            } else if name.hasPrefix("cookie_"), name.count > 7 {
                builder.field(.namedCookie, named: name.utf8.dropFirst(7), column: column, label: label)
            } else if name.hasPrefix("arg_"), name.count > 4 {
                builder.field(.unmapped, named: name.utf8.dropFirst(4), column: column, label: label)
            } else if ["upstream_", "ssl_", "sent_http_", "sent_trailer_"].contains(where: { name.hasPrefix($0) }) {
                step(.ignored)
            } else {
                throw FormatStringError(.unknownVariable(name), column: column)
            }
        }
    }
}
