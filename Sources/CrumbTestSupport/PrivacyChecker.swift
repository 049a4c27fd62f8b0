import CrumbSamples

/// Finds planted personal values in any text (a log, an output file, stderr), whatever form they take.
///
/// The text is percent-decoded, once or twice (`%40` and `%2540` become `@`; either case of hex), and read as two
/// derived streams, built in one pass:
/// - words: ASCII lower-cased, `+` read as a space. Emails, names, addresses and usernames with punctuation are
///   searched here, so `JANE.DOE@EXAMPLE.COM`, `jane.doe%2540example.com` and `10+Downing+Street` all match.
/// - compact: ASCII upper-cased letters and digits, with the separators people write inside numbers (space, `.`,
///   `-`, `(`, `)`, `+`) dropped and any other byte ending the run. Values that are letters and digits only
///   (phones without their `+`, cards, SSNs, IBANs, account numbers, dates of birth) are searched here, so
///   `4111-1111-1111-1111`, `+44 (20) 7946.0958` and `gb82 west 1234 5698 7654 32` match.
/// A value is found as a substring of its stream, wherever it starts: a planted number inside a longer run counts.
///
/// Complexity: O(n): one pass builds both streams, one pass over each looks every position up in a bit filter of
/// the needles' first four bytes. About 3 bytes of memory per input byte.
public struct PrivacyChecker: Sendable {
    /// Needles of one stream, looked up by their first four bytes.
    private struct Needles: Sendable {
        var needles: [(bytes: [UInt8], value: PlantedValue)] = []
        /// One bit per 16-bit hash of a 4-byte prefix: a cheap first test at every position.
        var filter = [UInt64](repeating: 0, count: 1 << 10)
        var byPrefix: [UInt32: [Int]] = [:]

        mutating func add(_ bytes: [UInt8], _ value: PlantedValue) {
            precondition(bytes.count >= 4, "a planted value is at least 4 bytes long once normalised: \(value)")
            let prefix = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let hash = Self.hash(prefix)
            filter[hash >> 6] |= 1 << (hash & 63)
            byPrefix[prefix, default: []].append(needles.count)
            needles.append((bytes, value))
        }

        @inline(__always)
        static func hash(_ prefix: UInt32) -> Int {
            Int(truncatingIfNeeded: (prefix &* 0x9E37_79B1) >> 16)
        }

        func count(in text: [UInt8], into findings: inout [PlantedValue: Int]) {
            guard !needles.isEmpty, text.count >= 4 else { return }
            text.withUnsafeBytes { raw in
                filter.withUnsafeBufferPointer { filter in
                    for start in 0...(raw.count - 4) {
                        let prefix = raw.loadUnaligned(fromByteOffset: start, as: UInt32.self)
                        let hash = Self.hash(prefix)
                        guard filter[hash >> 6] & (1 << (hash & 63)) != 0, let candidates = byPrefix[prefix] else {
                            continue
                        }
                        for index in candidates {
                            let needle = needles[index].bytes
                            if start + needle.count <= raw.count,
                               needle.indices.allSatisfy({ raw[start + $0] == needle[$0] }) {
                                findings[needles[index].value, default: 0] += 1
                            }
                        }
                    }
                }
            }
        }
    }

    private var words = Needles()
    private var compact = Needles()

    public init(catalog: [PlantedValue]) {
        for value in catalog {
            var bytes = Array(value.canonical.utf8)
            if bytes.first == 0x2B { bytes.removeFirst() }  // "+442079460958": the digits are the number
            let compactForm = bytes.map { Self.compactTable[Int($0)] }
            if compactForm.allSatisfy({ $0 > Self.separator }) {
                compact.add(compactForm, value)
            } else {
                words.add(bytes.map { Self.wordTable[Int($0)] }, value)
            }
        }
    }

    /// The planted values found in `text`, with how many times each occurs; values not found are absent.
    ///
    /// Searches every form a value can take: as is, in lower or upper case, percent-encoded once or twice,
    /// with `+` for spaces, and with separators inside numbers (`4111 1111 1111 1111`, `+44 (20) 7946.0958`).
    public func findings(in text: [UInt8]) -> [PlantedValue: Int] {
        let (wordStream, compactStream) = Self.streams(of: text)
        var findings: [PlantedValue: Int] = [:]
        words.count(in: wordStream, into: &findings)
        compact.count(in: compactStream, into: &findings)
        return findings
    }

    /// The same, for a String.
    public func findings(in text: String) -> [PlantedValue: Int] {
        findings(in: Array(text.utf8))
    }

    // MARK: - Bytes

    /// What a byte becomes in the words stream: ASCII lower-cased, `+` read as a space.
    private static let wordTable: [UInt8] = (0...255).map { byte in
        byte == 0x2B ? 0x20 : (0x41...0x5A).contains(byte) ? UInt8(byte) | 0x20 : UInt8(byte)
    }

    /// What a byte becomes in the compact stream: an ASCII letter (upper-cased) or digit; `separator` for what
    /// people put between the digits of a phone, card or IBAN (space . - ( ) +), dropped; `runBreak` otherwise.
    private static let compactTable: [UInt8] = (0...255).map { byte in
        switch byte {
        case 0x30...0x39, 0x41...0x5A: UInt8(byte)
        case 0x61...0x7A: UInt8(byte) & ~0x20
        case 0x20, 0x2E, 0x2D, 0x28, 0x29, 0x2B: separator
        default: runBreak
        }
    }
    private static let separator: UInt8 = 1
    private static let runBreak: UInt8 = 0

    /// The words and compact streams of `text`, percent-decoded on the way, in one pass.
    private static func streams(of text: [UInt8]) -> (words: [UInt8], compact: [UInt8]) {
        // Zero-filled then trimmed: a memset is far cheaper than appending byte by byte.
        var words = [UInt8](repeating: 0, count: text.count)
        var compact = [UInt8](repeating: 0, count: text.count)
        var wordCount = 0
        var compactCount = 0
        let wordTable = Self.wordTable
        let compactTable = Self.compactTable
        text.withUnsafeBufferPointer { input in
            words.withUnsafeMutableBufferPointer { words in
                compact.withUnsafeMutableBufferPointer { compact in
                    var runEnded = true  // the compact stream is empty or ends with a break
                    var index = 0
                    while index < input.count {
                        var byte = input[index]
                        if byte == 0x25, let (decoded, length) = percentEscape(in: input, at: index) {
                            byte = decoded
                            index += length
                        } else {
                            index += 1
                        }
                        words[wordCount] = wordTable[Int(byte)]
                        wordCount += 1
                        let compactByte = compactTable[Int(byte)]
                        if compactByte > separator {
                            compact[compactCount] = compactByte
                            compactCount += 1
                            runEnded = false
                        } else if compactByte == runBreak && !runEnded {
                            compact[compactCount] = runBreak
                            compactCount += 1
                            runEnded = true
                        }
                    }
                }
            }
        }
        words.removeLast(words.count - wordCount)
        compact.removeLast(compact.count - compactCount)
        return (words, compact)
    }

    /// The byte that the escape at `index` stands for, and its length: `%XX` (3 bytes, either case of hex) or,
    /// percent-encoded twice, `%25XX` (5 bytes). `nil` for a `%` that starts no escape.
    @inline(__always)
    private static func percentEscape(in input: UnsafeBufferPointer<UInt8>, at index: Int) -> (UInt8, Int)? {
        guard index + 2 < input.count, let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
        else { return nil }
        let byte = high << 4 | low
        if byte == 0x25, index + 4 < input.count, let high = hexValue(input[index + 3]),
           let low = hexValue(input[index + 4]) {
            return (high << 4 | low, 5)
        }
        return (byte, 3)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
