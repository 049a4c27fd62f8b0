import CrumbCore
import CrumbTestSupport
import Foundation
import Testing

/// Every token of `bytes`, rendered as text (`{` `}` `[` `]` `k:name` `s:value` `n:text` `true` `false`
/// `null`), or the failure.
private func tokens(_ bytes: [UInt8], maxDepth: Int = 32, hex: Bool = false) -> Result<[String], ParseFailure> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(ParseFailure) -> [String] in
            var scanner = JSONScanner(raw, maxDepth: maxDepth, allowsHexEscapes: hex)
            var decoded: [UInt8] = []
            var out: [String] = []
            while true {
                let token = try scanner.next(into: &decoded)
                func text(_ range: Range<Int>) -> String { String(decoding: decoded[range], as: UTF8.self) }
                switch token {
                case .objectStart: out.append("{")
                case .objectEnd: out.append("}")
                case .arrayStart: out.append("[")
                case .arrayEnd: out.append("]")
                case .key(let range): out.append("k:" + text(range))
                case .string(let range): out.append("s:" + text(range))
                case .number(let range): out.append("n:" + text(range))
                case .bool(let value): out.append(value ? "true" : "false")
                case .null: out.append("null")
                case .end: return out
                }
            }
        }
    }
}

private func tokens(_ text: String, maxDepth: Int = 32, hex: Bool = false) -> Result<[String], ParseFailure> {
    tokens(Array(text.utf8), maxDepth: maxDepth, hex: hex)
}

/// The decoded bytes of the single string in `json` (a JSON string literal, quotes included).
private func decodedString(_ json: [UInt8], hex: Bool = false) -> Result<[UInt8], ParseFailure> {
    json.withUnsafeBytes { raw in
        Result { () throws(ParseFailure) -> [UInt8] in
            var scanner = JSONScanner(raw, allowsHexEscapes: hex)
            var decoded: [UInt8] = []
            guard case .string(let range) = try scanner.next(into: &decoded) else { return [] }
            #expect(try scanner.next(into: &decoded) == .end)
            return Array(decoded[range])
        }
    }
}

struct JSONScannerTests {
    static let accepted: [(String, [String])] = [
        (#"{}"#, ["{", "}"]),
        (#"[]"#, ["[", "]"]),
        (#"  { "a" : 1 , "b":[true,false,null] }  "#, ["{", "k:a", "n:1", "k:b", "[", "true", "false", "null", "]", "}"]),
        (#"{"a":{"b":{"c":[{"d":"e"},[]]}}}"#, ["{", "k:a", "{", "k:b", "{", "k:c", "[", "{", "k:d", "s:e", "}", "[", "]", "]", "}", "}", "}"]),
        (#"[-0,0.5,-12.25e+3,1E-7,10,1e0]"#, ["[", "n:-0", "n:0.5", "n:-12.25e+3", "n:1E-7", "n:10", "n:1e0", "]"]),
        ("\t[\r\n1 ]\r\n", ["[", "n:1", "]"]),
        (#""top-level string""#, ["s:top-level string"]),
        (#"42"#, ["n:42"]),
        (#"{"":""}"#, ["{", "k:", "s:", "}"]),
        (#"{"a":1,"a":2}"#, ["{", "k:a", "n:1", "k:a", "n:2", "}"]),
    ]

    @Test(arguments: accepted)
    func tokenizes(_ text: String, _ expected: [String]) throws {
        #expect(try tokens(text).get() == expected)
    }

    /// One row per bad text: where it must break.
    static let rejected: [(String, Int)] = [
        ("", 0),
        ("   ", 3),
        ("{", 1),
        (#"{"a"}"#, 4),
        (#"{"a":}"#, 5),
        (#"{"a":1,}"#, 7),
        (#"[1,]"#, 3),
        (#"[1 2]"#, 3),
        (#"{"a":1 "b":2}"#, 7),
        (#"{a:1}"#, 1),
        (#"{1:1}"#, 1),
        (#"[1}"#, 2),
        (#"{"a":1]"#, 6),
        (#"]"#, 0),
        (#"{}}"#, 2),
        (#"{} x"#, 3),
        (#"{}{}"#, 2),
        (#"[01]"#, 2),
        (#"[1.]"#, 1),
        (#"[.5]"#, 1),
        (#"[+1]"#, 1),
        (#"[1e]"#, 1),
        (#"[-]"#, 1),
        (#"[tru]"#, 1),
        (#"[nul]"#, 1),
        (#"[True]"#, 1),
        (#"["abc]"#, 1),
        (#"["a\"]"#, 1),
        (#"["\q"]"#, 2),
        (#"["\u12"]"#, 2),
        (#"["\u12G4"]"#, 2),
        (#"["\x41"]"#, 2),
        ("[\"tab\there\"]", 5),
        ("[\"new\nline\"]", 5),
        (#"{"a":1}garbage"#, 7),
    ]

    @Test(arguments: rejected)
    func rejects(_ text: String, _ offset: Int) {
        #expect(throws: ParseFailure(.badJSON, at: offset)) { try tokens(text).get() }
    }

    /// One row per string literal: the bytes it decodes to.
    static let strings: [(String, [UInt8])] = [
        (#""plain""#, Array("plain".utf8)),
        (#""say \"hi\"""#, Array(#"say "hi""#.utf8)),
        (#""back\\slash\/""#, Array(#"back\slash/"#.utf8)),
        (#""\b\f\n\r\t""#, [0x08, 0x0C, 0x0A, 0x0D, 0x09]),
        (#""caf\u00e9""#, Array("café".utf8)),
        (#""\u00E9\u20AC""#, Array("é€".utf8)),
        (#""\u0000""#, [0]),
        (#""\uD83D\uDE00""#, Array("😀".utf8)),
        (#""a\uD83Db""#, Array("a\u{FFFD}b".utf8)),
        (#""\uDE00""#, Array("\u{FFFD}".utf8)),
        (#""\uD83D\u0041""#, Array("\u{FFFD}A".utf8)),
        (#""\uD83D\n""#, Array("\u{FFFD}\n".utf8)),
        (#""héllo""#, Array("héllo".utf8)),
    ]

    @Test(arguments: strings)
    func decodesEscapes(_ literal: String, _ expected: [UInt8]) throws {
        #expect(try decodedString(Array(literal.utf8)).get() == expected)
    }

    @Test func skipsALeadingByteOrderMarkOnly() throws {
        #expect(try tokens([0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)).get() == ["{", "k:a", "n:1", "}"])
        #expect(throws: ParseFailure(.badJSON, at: 2)) { try tokens(Array("{}".utf8) + [0xEF, 0xBB, 0xBF]).get() }
        #expect(throws: ParseFailure(.badJSON, at: 1)) { try tokens([0x20, 0xEF, 0xBB, 0xBF] + Array("{}".utf8)).get() }
    }

    @Test func keepsNonUTF8BytesAsTheyAre() throws {
        // Latin-1 é (0xE9), a stray continuation byte, a truncated 3-byte lead, an overlong form.
        let raw: [UInt8] = [0x22, 0x63, 0x61, 0x66, 0xE9, 0x80, 0xE2, 0x82, 0xC0, 0xAF, 0x22]
        #expect(try decodedString(raw).get() == Array(raw[1..<(raw.count - 1)]))
    }

    @Test func hexEscapesOnlyWhenAllowed() throws {
        let literal = Array(#""\x22quoted\x22 \xC3\xA9""#.utf8)
        #expect(try decodedString(literal, hex: true).get() == Array(#""quoted" é"#.utf8))
        #expect(throws: ParseFailure(.badJSON, at: 1)) { try decodedString(literal).get() }
        #expect(throws: ParseFailure(.badJSON, at: 1)) { try decodedString(Array(#""\x4""#.utf8), hex: true).get() }
    }

    @Test func limitsDepth() throws {
        let deepest = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try tokens(deepest).get().count == 64)
        let tooDeep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(throws: ParseFailure(.badJSON, at: 32)) { try tokens(tooDeep).get() }
        let objects = String(repeating: #"{"a":"#, count: 4) + "1" + String(repeating: "}", count: 4)
        #expect(throws: ParseFailure(.badJSON, at: 15)) { try tokens(objects, maxDepth: 3).get() }
        #expect(try tokens(objects, maxDepth: 4).get().count == 13)
        // A megabyte of brackets is refused at the limit, not by exhausting the stack.
        let hostile = String(repeating: "[", count: 1 << 20)
        #expect(throws: ParseFailure(.badJSON, at: 64)) { try tokens(hostile, maxDepth: 64).get() }
    }

    @Test func skipsAValueWholeWithoutDecodingIt() throws {
        let text = Array(#"{"skip":{"a":["x\u00e9",{"b":null}],"c":"\"}"},"keep":"v","also":12}"#.utf8)
        try text.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            var decoded: [UInt8] = []
            #expect(try scanner.next(into: &decoded) == .objectStart)
            guard case .key = try scanner.next(into: &decoded) else { Issue.record("no key"); return }
            let before = decoded.count
            try scanner.skipValue()
            #expect(decoded.count == before)
            #expect(scanner.depth == 1)
            guard case .key(let key) = try scanner.next(into: &decoded) else { Issue.record("no key"); return }
            #expect(String(decoding: decoded[key], as: UTF8.self) == "keep")
            try scanner.skipValue()
            guard case .key = try scanner.next(into: &decoded) else { Issue.record("no key"); return }
            try scanner.skipValue()
            #expect(try scanner.next(into: &decoded) == .objectEnd)
            #expect(try scanner.next(into: &decoded) == .end)
        }
        // Skipping still checks syntax.
        let broken = Array(#"{"skip":[1,2,}"#.utf8)
        #expect(throws: ParseFailure(.badJSON, at: 13)) {
            try broken.withUnsafeBytes { raw in
                var scanner = JSONScanner(raw)
                var decoded: [UInt8] = []
                _ = try scanner.next(into: &decoded)
                _ = try scanner.next(into: &decoded)
                try scanner.skipValue()
            }
        }
    }

    /// Mutated JSON never crashes the scanner, every failure's offset lies inside the text, and on
    /// well-formed UTF-8 without `\u` escapes it accepts exactly what Foundation's strict parser accepts.
    @Test func survivesMutatedInput() throws {
        let seeds: [String] = [
            #"{"ts":"2026-01-01T12:00:00Z","event":"page_view","url":"https://shop.example/p/1?utm_source=x","ua":"Mozilla/5.0","ip":"203.0.113.9","props":{"plan":"pro","n":[1,2.5,-3e2,true,false,null]}}"#,
            #"{"a":{"b":[{"c":"d\"e\\f"},[],{}]},"x":-0.0e-0,"y":"tab\tnl\n"}"#,
            #"[[[[{"k":[1,{"l":null}]}]]]]"#,
        ] + JSONScannerTests.fixtureLines()
        var rng = Mixer(state: 0x6A73_6F6E)
        let structural = Array(#"{}[]",:\-.0123456789eEtrufalsn "#.utf8)
        var compared = 0
        for round in 0..<6_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0...(Int(rng.next() % 4)) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 6 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(structural[Int(rng.next() % UInt64(structural.count))], at: at)
                case 3: bytes[at] = structural[Int(rng.next() % UInt64(structural.count))]
                case 4: bytes.removeSubrange(at...)
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 8)], at: at)
                }
            }
            let ours = tokens(bytes, maxDepth: 64)
            if case .failure(let failure) = ours {
                #expect(failure.code == .badJSON)
                #expect((0...bytes.count).contains(failure.offset))
            }
            // A JSON line parser on the same bytes must not crash either.
            var parser = JSONLineParser(mapping: JSONFieldMapping.preset(named: "caddy")!)
            var decoded: [UInt8] = []
            _ = bytes.withUnsafeBytes { try? parser.parse($0, decoded: &decoded) }

            guard String(validating: bytes, as: UTF8.self) != nil, !bytes.contains(UInt8(ascii: "\\")) else { continue }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            let accepted = (try? ours.get()) != nil
            #expect(accepted == foundation, "\(String(decoding: bytes, as: UTF8.self))")
            compared += 1
        }
        #expect(compared > 1_000)
    }

    /// The JSON fixtures' lines, when the shared data is present.
    static func fixtureLines() -> [String] {
        var lines: [String] = []
        for name in ["caddy_json.log", "nginx_json.log", "traefik_json.log"] {
            guard let path = SharedData.path("matomo-fixtures/" + name),
                  let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            lines += text.split(separator: "\n").map(String.init)
        }
        return lines
    }
}

/// splitmix64, for reproducible mutations.
private struct Mixer {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
