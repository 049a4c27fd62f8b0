/// Kinds of personal information crumb detects. `rawValue` is used in manifests (`personal_found_by_kind`).
public enum PersonalDataKind: String, Sendable, CaseIterable, Codable, Comparable {
    case email, phone, card, ssn, iban
    /// A value under a parameter or field whose name says it is personal (`email=`, `first_name=`, `dob=` ...).
    case namedField = "named_field"
    /// Digits a caller typed on the keypad (DTMF: account numbers, PINs, card numbers read into an IVR).
    /// Not found by a detector: the telephony classifier knows them by the dialplan application that read them.
    case keypad

    /// Card numbers and keypad input are sensitive (never persisted anywhere, not even a vault); the rest are
    /// personal.
    public var isSensitive: Bool { self == .card || self == .keypad }

    /// Declaration order.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.order < rhs.order }

    private var order: Int {
        switch self {
        case .email: 0
        case .phone: 1
        case .card: 2
        case .ssn: 3
        case .iban: 4
        case .namedField: 5
        case .keypad: 6
        }
    }
}

/// Where a detector found personal information: byte offsets into the scanned value.
public struct PersonalDataMatch: Sendable, Equatable {
    public var kind: PersonalDataKind
    public var range: Range<Int>

    public init(kind: PersonalDataKind, range: Range<Int>) {
        self.kind = kind
        self.range = range
    }
}

/// Finds personal information in decoded bytes: a path segment, a query value, a referrer, a cookie, free text.
///
/// The rules favour precision: web logs are full of numbers (ids, timestamps, versions, addresses, prices) and a
/// detector that flags them would drop the very paths that trends are made of. Each rule is documented on the
/// method that applies it; all share one boundary rule:
///
/// - A match is never part of a longer token: the byte before it and the byte after it are not ASCII letters or
///   digits. A number also does not start right after a digit and a `.` or `-` (`1.555-555-0123` is one token).
///   Bytes from 0x80 up (UTF-8 text) count as boundaries, so a number beside non-Latin words is still found.
///
/// `scan` first makes one cheap pass to learn which rules can apply at all (an `@`, a run of digits long enough
/// for the shortest rule, a letter-letter-digit-digit start); most path segments stop there.
public struct PersonalDataDetector: Sendable {
    public struct Options: Sendable, Equatable {
        public var email = true, phone = true, card = true, ssn = true, iban = true
        /// Parameter/field names that mark their value as personal, compared case-insensitively after removing
        /// '-', '_', '.', ' ' (so "firstName", "first-name", "FIRST_NAME" all match "first_name").
        public var namedFields: [String] = [
            "email", "e_mail", "mail", "phone", "tel", "telephone", "mobile", "msisdn", "name", "first_name",
            "firstname", "last_name", "lastname", "surname", "full_name", "fullname", "dob", "birthdate",
            "birthday", "date_of_birth", "address", "street", "postcode", "zip", "account", "account_number",
            "acct", "user", "username", "user_name", "login", "password", "pass", "pwd", "ssn", "iban", "card",
            "cc", "card_number", "cvv", "gender", "title", "organisation", "organization", "company",
        ]

        public init() {}
    }

    public let options: Options
    /// `options.namedFields`, normalized (lowercased, separators removed) and deduplicated.
    private let normalizedNames: [[UInt8]]
    private let longestName: Int

    public init(options: Options = Options()) {
        self.options = options
        var names: [[UInt8]] = []
        for name in options.namedFields {
            let normalized = name.utf8.filter { !Self.isNameSeparator($0) }.map(ASCII.lowercased)
            if !normalized.isEmpty, !names.contains(normalized) { names.append(normalized) }
        }
        normalizedNames = names
        longestName = names.map(\.count).max() ?? 0
    }

    // MARK: - Entry points

    /// Appends every match found in `value` (already decoded bytes) to `matches`.
    ///
    /// Fast path: a value with no `@` (nor `%40`), no run of 8 or more digits (the fewest any number rule
    /// accepts; `+ ( ) - .` and space allowed inside the run) and no letter-letter-digit-digit IBAN start at a
    /// word's beginning returns after one pass, without further work.
    ///
    /// Matches are appended rule by rule, each in order: emails, IBANs, then numbers (phone, card, SSN).
    /// An email may overlap a number (`555-555-0123@example.com`).
    /// - Complexity: O(`value.count`); allocates nothing but what appending to `matches` needs.
    public func scan(_ value: UnsafeRawBufferPointer, into matches: inout [PersonalDataMatch]) {
        let hints = Self.hints(value)
        if hints.contains(.at), options.email { scanEmails(value, into: &matches) }
        let firstIBAN = matches.count
        if hints.contains(.ibanStart), options.iban { scanIBANs(value, into: &matches) }
        if hints.contains(.longDigitRun), options.phone || options.card || options.ssn {
            // The digit groups of an IBAN are not numbers of their own.
            scanNumbers(value, skippingMatches: firstIBAN..<matches.count, into: &matches)
        }
    }

    /// Whether `name` (a query parameter, cookie or field name) is one of the named personal fields.
    ///
    /// Case-insensitive; `-`, `_`, `.` and space are ignored, so `firstName`, `first-name` and `FIRST_NAME`
    /// all match `first_name`. The name must match a whole entry: `username` matches `user`'s list entry
    /// `username`, but `users` or `filename` match nothing.
    public func isPersonalName(_ name: UnsafeRawBufferPointer) -> Bool {
        var length = 0
        for byte in name where !Self.isNameSeparator(byte) { length += 1 }
        guard length > 0, length <= longestName else { return false }
        for candidate in normalizedNames where candidate.count == length {
            var position = 0
            var equal = true
            for byte in name where !Self.isNameSeparator(byte) {
                if ASCII.lowercased(byte) != candidate[position] {
                    equal = false
                    break
                }
                position += 1
            }
            if equal { return true }
        }
        return false
    }

    /// The distinct kinds `scan` finds in `text` (scanned as is, not percent-decoded), in declaration order.
    /// Named fields are not reported: they need a field name, see `isPersonalName(_:)`.
    public func kinds(in text: String) -> [PersonalDataKind] {
        var matches: [PersonalDataMatch] = []
        var copy = text
        copy.withUTF8 { scan(UnsafeRawBufferPointer($0), into: &matches) }
        return Set(matches.map(\.kind)).sorted()
    }

    // MARK: - Pre-filter

    struct Hints: OptionSet {
        var rawValue: UInt8
        static let at = Hints(rawValue: 1)
        static let longDigitRun = Hints(rawValue: 2)
        static let ibanStart = Hints(rawValue: 4)
    }

    /// The fewest digits any number rule accepts: an E.164 number has at least 8.
    static let minimumNumberDigits = 8

    /// One pass over `value`: which rules can possibly match.
    static func hints(_ value: UnsafeRawBufferPointer) -> Hints {
        var hints: Hints = []
        var digitRun = 0
        let count = value.count
        for index in 0..<count {
            let byte = value[index]
            if ASCII.isDigit(byte) {
                digitRun += 1
                if digitRun >= minimumNumberDigits { hints.insert(.longDigitRun) }
                // Letter, letter, digit, digit: this is the second digit.
                if index >= 3, ASCII.isDigit(value[index - 1]), isLetter(value[index - 2]), isLetter(value[index - 3]),
                   index == 3 || !isAlphanumeric(value[index - 4]) {
                    hints.insert(.ibanStart)
                }
            } else if !isNumberPunctuation(byte) {
                digitRun = 0
                if byte == UInt8(ascii: "@")
                    || (byte == UInt8(ascii: "%") && index + 2 < count && value[index + 1] == UInt8(ascii: "4")
                        && value[index + 2] == UInt8(ascii: "0")) {
                    hints.insert(.at)
                }
            }
        }
        return hints
    }

    // MARK: - Email

    /// Email addresses: a simplified RFC 5322 §3.4.1 `addr-spec`, `local@domain`.
    ///
    /// Accepted: a local part of ASCII letters, digits and `. _ % + -` (so `+tags`, dots and percent-encoded
    /// bytes), without leading dots; an `@`, or `%40` in text that was not decoded; a domain of two or more
    /// dot-separated labels of letters, digits and `-`, whose last label (the TLD) is 2 to 63 letters.
    /// Case is ignored. The match covers the local part, the `@` and the domain without a trailing dot.
    ///
    /// Rejected: a lone `@`, an empty local part, a domain without a dot (`a@b`, `user@localhost`), a numeric
    /// TLD (`pkg@1.2.3`, `react@18.2.0`), an empty label (`a@b..com`), and a TLD that is a file extension and
    /// not a delegated TLD (`icon@2x.png`, `app@3x.js`: retina image and bundle names are common in paths).
    func scanEmails(_ value: UnsafeRawBufferPointer, into matches: inout [PersonalDataMatch]) {
        let count = value.count
        var index = 0
        while index < count {
            let atWidth: Int
            if value[index] == UInt8(ascii: "@") {
                atWidth = 1
            } else if value[index] == UInt8(ascii: "%"), index + 2 < count, value[index + 1] == UInt8(ascii: "4"),
                      value[index + 2] == UInt8(ascii: "0") {
                atWidth = 3
            } else {
                index += 1
                continue
            }
            var localStart = index
            while localStart > 0, Self.isLocalPartByte(value[localStart - 1]) { localStart -= 1 }
            while localStart < index, value[localStart] == UInt8(ascii: ".") { localStart += 1 }
            let domainStart = index + atWidth
            if localStart < index, let domainEnd = Self.domainEnd(value, from: domainStart) {
                matches.append(PersonalDataMatch(kind: .email, range: localStart..<domainEnd))
                index = domainEnd
            } else {
                index = domainStart
            }
        }
    }

    /// The end of a valid email domain starting at `start`, or `nil`.
    static func domainEnd(_ value: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var end = start
        while end < value.count, isDomainByte(value[end]) { end += 1 }
        while end > start, value[end - 1] == UInt8(ascii: ".") { end -= 1 }
        // Labels: none empty, at least two.
        var labelStart = start
        var labels = 0
        for index in start...end where index == end || value[index] == UInt8(ascii: ".") {
            guard index > labelStart else { return nil }
            labels += 1
            if index < end { labelStart = index + 1 }
        }
        guard labels >= 2 else { return nil }
        let tld = UnsafeRawBufferPointer(rebasing: value[labelStart..<end])
        guard tld.count >= 2, tld.count <= 63, tld.allSatisfy(isLetter), !isFileExtension(tld) else { return nil }
        return end
    }

    /// Common file extensions that are not delegated TLDs.
    static let fileExtensions: [[UInt8]] = [
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "css", "js", "mjs", "json", "xml",
        "html", "htm", "php", "asp", "aspx", "jsp", "txt", "map", "pdf", "ttf", "eot", "woff",
    ].map { Array($0.utf8) }

    static func isFileExtension(_ tld: UnsafeRawBufferPointer) -> Bool {
        fileExtensions.contains { ext in
            ext.count == tld.count && zip(ext, tld).allSatisfy { $0 == ASCII.lowercased($1) }
        }
    }

    // MARK: - Numbers: phone, card, SSN

    /// Finds written numbers at token boundaries and tests each against the card, SSN and phone rules, in that
    /// order (their shapes do not overlap: a card has 13 or more digits and no `+`, an SSN exactly 9).
    ///
    /// A number is read as far as it goes; when the whole of it fits no rule and it holds spaces, the pieces
    /// between spaces are tried too (`4111111111111111 555-555-0123` is a card and a phone), longest first.
    ///
    /// - Parameter skipped: the indices in `matches` of IBANs found in `value`, in order: their bytes are skipped.
    func scanNumbers(
        _ value: UnsafeRawBufferPointer, skippingMatches skipped: Range<Int>, into matches: inout [PersonalDataMatch]
    ) {
        let count = value.count
        var index = 0
        var nextSkipped = skipped.lowerBound
        while index < count {
            if nextSkipped < skipped.upperBound, index >= matches[nextSkipped].range.lowerBound {
                index = max(index, matches[nextSkipped].range.upperBound)
                nextSkipped += 1
                continue
            }
            let byte = value[index]
            let startsNumber = ASCII.isDigit(byte)
                || ((byte == UInt8(ascii: "+") || byte == UInt8(ascii: "(")) && index + 1 < count
                    && ASCII.isDigit(value[index + 1]))
            guard startsNumber else {
                // Skip a whole word: a number inside it is not one.
                if Self.isAlphanumeric(byte) {
                    while index < count, Self.isAlphanumeric(value[index]) { index += 1 }
                } else {
                    index += 1
                }
                continue
            }
            guard Self.isNumberStart(value, at: index), var number = WrittenNumber(value, from: index, limit: count)
            else {
                index += 1
                while index < count, Self.isAlphanumeric(value[index]) { index += 1 }
                continue
            }
            if number.isUnbalanced, byte == UInt8(ascii: "("),
               let inner = WrittenNumber(value, from: index + 1, limit: count) {
                // The '(' opened a remark, not an area code: "(123-45-6789)".
                number = inner
            }
            let end = number.end
            if end == count || !Self.isAlphanumeric(value[end]) {
                if let kind = classify(number, in: value) {
                    matches.append(PersonalDataMatch(kind: kind, range: number.start..<end))
                } else if number.separators.contains(.space) {
                    findNumbersBetweenSpaces(value, in: number.start..<end, into: &matches)
                }
                index = end
            } else {
                // Part of a longer word ("150x150", "4111111111111111x"): skip the word.
                index = end
                while index < count, Self.isAlphanumeric(value[index]) { index += 1 }
            }
        }
    }

    /// The longest written number fits in this many bytes ("+1 (555) 555-0123", "4111 1111 1111 1111 123").
    static let longestWrittenNumber = 32

    /// Tries the pieces of `range` (a number that fits no rule) that start and end at its spaces.
    ///
    /// - Complexity: O(`range.count`): a piece is at most `longestWrittenNumber` bytes long.
    func findNumbersBetweenSpaces(
        _ value: UnsafeRawBufferPointer, in range: Range<Int>, into matches: inout [PersonalDataMatch]
    ) {
        var start = range.lowerBound
        while start < range.upperBound {
            var limit = min(range.upperBound, start + Self.longestWrittenNumber)
            // Back off to a space, unless the piece reaches the end of the number.
            if limit < range.upperBound { limit = Self.lastSpace(value, in: start..<limit) ?? start }
            var found = false
            while limit > start {
                if start != range.lowerBound || limit != range.upperBound,
                   Self.isNumberStart(value, at: start),
                   let piece = WrittenNumber(value, from: start, limit: limit), piece.end == limit,
                   let kind = classify(piece, in: value) {
                    matches.append(PersonalDataMatch(kind: kind, range: start..<limit))
                    start = limit
                    found = true
                    break
                }
                limit = Self.lastSpace(value, in: start..<limit) ?? start
            }
            // Next piece: after the next space.
            if !found { start += 1 }
            while start < range.upperBound, value[start] != UInt8(ascii: " ") { start += 1 }
            start += 1
        }
    }

    static func lastSpace(_ value: UnsafeRawBufferPointer, in range: Range<Int>) -> Int? {
        var index = range.upperBound
        while index > range.lowerBound {
            index -= 1
            if value[index] == UInt8(ascii: " ") { return index }
        }
        return nil
    }

    /// Whether a number may start at `index`: not inside a word, nor right after a digit and a `.` or `-`.
    static func isNumberStart(_ value: UnsafeRawBufferPointer, at index: Int) -> Bool {
        guard index > 0 else { return true }
        let previous = value[index - 1]
        if isAlphanumeric(previous) { return false }
        if previous == UInt8(ascii: ".") || previous == UInt8(ascii: "-"), index >= 2, ASCII.isDigit(value[index - 2]) {
            return false
        }
        return true
    }

    func classify(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> PersonalDataKind? {
        if options.card, Self.isCardNumber(number, in: value) { return .card }
        if options.ssn, Self.isSSN(number, in: value) { return .ssn }
        if options.phone, Self.isPhoneNumber(number, in: value) { return .phone }
        return nil
    }

    /// Payment card numbers (PANs): issuer identification numbers and lengths after ISO/IEC 7812-1 and the
    /// networks' published ranges, and the Luhn (mod 10) check digit that ISO/IEC 7812-1 specifies.
    ///
    /// Accepted: 13 to 19 digits, either in one run or grouped by single spaces or single dashes (one kind per
    /// number) as printed on cards: 4-4-4-4 (and 4-4-4-1…4-4-4-4-3 for other lengths), 4-6-5 (Amex),
    /// 4-6-4 (Diners). The number must pass Luhn and start with a known issuer prefix, at a length that issuer
    /// uses: Visa 4 (13, 16, 19); Mastercard 51–55 and 2221–2720 (16); Amex 34, 37 (15); Discover 6011,
    /// 644–649, 65 (16–19); JCB 3528–3589 (16–19); Diners 300–305, 36, 38 (14–19); UnionPay 62 (16–19);
    /// Maestro 50, 56–69 (13–19).
    ///
    /// Rejected: a `+`, parentheses, dots, mixed separators, other groupings (`978-3-16-148410-0`), a failed
    /// Luhn check (`1234567890123456`), an unknown prefix (`9783161484100`, timestamps `1767225600123`), and
    /// runs longer than 19 digits (a card number inside a 24-digit id).
    static func isCardNumber(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> Bool {
        guard !number.hasPlus, !number.hasParentheses, 13...19 ~= number.digitCount,
              number.separators == [] || number.separators == .space || number.separators == .dash
        else { return false }
        if number.groupCount > 1, !isPrintedCardLayout(number) { return false }
        guard issuerAccepts(prefix: number.leadingDigits(4, in: value), length: number.digitCount) else {
            return false
        }
        return passesLuhn(number, in: value)
    }

    /// 4-4-4-… with a last group of 1 to 4 digits, 4-6-5 or 4-6-4.
    static func isPrintedCardLayout(_ number: WrittenNumber) -> Bool {
        let last = number.groupCount - 1
        if (0..<last).allSatisfy({ number.groupLength($0) == 4 }), 1...4 ~= number.groupLength(last) { return true }
        return number.groupCount == 3 && number.groupLength(0) == 4 && number.groupLength(1) == 6
            && 4...5 ~= number.groupLength(2)
    }

    /// Whether a card issuer uses numbers starting with the four digits `prefix` at `length` digits.
    static func issuerAccepts(prefix: Int, length: Int) -> Bool {
        let two = prefix / 100, three = prefix / 10
        switch two {
        case 40...49: return length == 13 || length == 16 || length == 19  // Visa
        case 51...55: return length == 16  // Mastercard
        case 22...27: return 2221...2720 ~= prefix && length == 16  // Mastercard 2-series
        case 34, 37: return length == 15  // Amex
        case 35: return 3528...3589 ~= prefix && 16...19 ~= length  // JCB
        case 30: return 300...305 ~= three && 14...19 ~= length  // Diners
        case 36, 38: return 14...19 ~= length  // Diners
        // Maestro (50, 56–69; 13–19 digits) covers Discover (6011, 644–649, 65; 16–19), UnionPay (62; 16–19).
        case 50, 56...69: return 13...19 ~= length
        default: return false
        }
    }

    /// The Luhn (mod 10) check over the digits of `number`.
    static func passesLuhn(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> Bool {
        var sum = 0
        var doubled = false
        var index = number.end
        while index > number.start {
            index -= 1
            guard let digit = ASCII.decimalValue(value[index]) else { continue }
            var term = Int(digit)
            if doubled {
                term *= 2
                if term > 9 { term -= 9 }
            }
            sum += term
            doubled.toggle()
        }
        return sum % 10 == 0
    }

    /// US Social Security numbers, less those the SSA never assigns (SSA, "Social Security Number
    /// Randomization", 2011, https://www.ssa.gov/employer/randomization.html).
    ///
    /// Accepted: `NNN-NN-NNNN`, `NNN NN NNNN` or `NNN.NN.NNNN`, one separator kind throughout.
    ///
    /// Rejected: nine bare digits (too many ids look like that; the policy's named fields catch `ssn=`),
    /// mixed or other separators, area 000, 666 or 900–999, group 00, serial 0000.
    static func isSSN(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> Bool {
        guard !number.hasPlus, !number.hasParentheses, number.groupCount == 3,
              number.groupLength(0) == 3, number.groupLength(1) == 2, number.groupLength(2) == 4,
              number.separators == .space || number.separators == .dash || number.separators == .dot
        else { return false }
        let digits = number.leadingDigits(9, in: value)
        let area = digits / 1_000_000, group = digits / 10_000 % 100, serial = digits % 10_000
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    /// Phone numbers, in three written forms (ITU-T E.164 for the international one, the North American
    /// Numbering Plan for the North American one).
    ///
    /// Accepted:
    /// - International (ITU-T E.164): `+`, a country code not starting with 0, 8 to 15 digits in all, single
    ///   separators (space, `.`, `-`) and one pair of parentheses around one group: `+44 20 7946 0958`,
    ///   `+1 (555) 555-0123`, `+4915112345678`. A value made of a space and such a number counts as having the
    ///   `+` (form decoding turns an unencoded `+` into a space).
    /// - North American (NANP numbering plan): 3-3-4 groups, optionally after a `1` trunk group
    ///   (`1-555-555-0123`), with the area code optionally in parentheses: `(555) 555-0123`, `555-555-0123`,
    ///   `555.555.0123`. Area code and exchange each start with 2–9.
    ///   Never bare digits: ten digits starting with 2–9 are as often an id (`revid=2113665764` in a search
    ///   referrer); `phone=`, `tel=` and the like are caught by their field names.
    /// - National forms that start with a single trunk `0` (most of Europe, and elsewhere): 10 to 12 digits,
    ///   every group 2 or more digits, the first optionally in parentheses: `020 7946 0958`, `030 12345678`,
    ///   `06 12 34 56 78`, `0151 1234 5678`. Bare digits only when they are the whole value.
    ///
    /// Rejected: bare digit runs other than the whole-value national form (order numbers, ids, timestamps such
    /// as `1767225600`), dotted versions and addresses (`10.0.19045`, `192.168.1.1`: no layout above fits),
    /// dates (`2026-01-01`), `00` starts, unbalanced parentheses.
    static func isPhoneNumber(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> Bool {
        guard !number.isUnbalanced else { return false }
        let isWholeValue = number.start == 0 && number.end == value.count
        let firstDigit = number.leadingDigits(1, in: value)
        // A value that is a space and then digits: form decoding turned the '+' of "tel=+44..." into a space.
        let lostPlus = number.start == 1 && value[0] == UInt8(ascii: " ")
        if number.hasPlus || lostPlus {
            return 8...15 ~= number.digitCount && firstDigit != 0
        }
        if isNANP(number, in: value) { return true }
        // National form with a trunk 0.
        guard firstDigit == 0, number.leadingDigits(2, in: value) != 0, 10...12 ~= number.digitCount,
              number.parenthesizedGroup == nil || number.parenthesizedGroup == 0,
              (0..<number.groupCount).allSatisfy({ number.groupLength($0) >= 2 })
        else { return false }
        return number.groupCount > 1 || isWholeValue
    }

    /// The North American form of `isPhoneNumber(_:in:)`: [1] NPA NXX XXXX in 3-3-4 groups.
    static func isNANP(_ number: WrittenNumber, in value: UnsafeRawBufferPointer) -> Bool {
        let trunk: Int
        switch (number.digitCount, number.leadingDigits(1, in: value)) {
        case (10, _): trunk = 0
        case (11, 1): trunk = 1
        default: return false
        }
        guard number.groupCount == 3 + trunk, number.groupLength(trunk) == 3, number.groupLength(trunk + 1) == 3,
              number.groupLength(trunk + 2) == 4,
              number.parenthesizedGroup == nil || number.parenthesizedGroup == trunk
        else { return false }
        // NPA and NXX both start with 2–9. The finer rules (no N9X area codes, no N11 service codes) are left
        // out: test and pseudonymised numbers break them, and 3-3-4 is a phone's shape whatever the digits.
        let tenDigits = number.leadingDigits(10 + trunk, in: value) % 10_000_000_000
        let area = tenDigits / 10_000_000, exchange = tenDigits / 10_000 % 1000
        return area >= 200 && exchange >= 200
    }

    // MARK: - IBAN

    /// International Bank Account Numbers: ISO 13616-1, check digits by ISO 7064 MOD 97-10.
    ///
    /// Accepted: a country code of two letters among those in the SWIFT IBAN registry (`ibanLengths`), two check
    /// digits, then letters and digits up to exactly that country's IBAN length (15 to 33 in all), either
    /// unbroken or in groups of four separated by single spaces (`DE89 3704 0044 0532 0130 00`); any case.
    /// The whole IBAN, moved to put the first four characters last with letters as 10…35, must be 1 mod 97.
    ///
    /// Rejected: an unknown country code, a wrong length for the country, a longer alphanumeric token, groups
    /// other than fours, a failed mod-97 check.
    func scanIBANs(_ value: UnsafeRawBufferPointer, into matches: inout [PersonalDataMatch]) {
        let count = value.count
        var index = 0
        while index + 4 <= count {
            guard Self.isLetter(value[index]), index == 0 || !Self.isAlphanumeric(value[index - 1]) else {
                index += 1
                continue
            }
            if Self.isLetter(value[index + 1]), ASCII.isDigit(value[index + 2]), ASCII.isDigit(value[index + 3]),
               let length = Self.ibanLength(value[index], value[index + 1]),
               let end = Self.ibanEnd(value, from: index, length: length) {
                matches.append(PersonalDataMatch(kind: .iban, range: index..<end))
                index = end
                continue
            }
            while index < count, Self.isAlphanumeric(value[index]) { index += 1 }
        }
    }

    /// The end of an IBAN of `length` characters at `start` that passes mod 97, or `nil`.
    static func ibanEnd(_ value: UnsafeRawBufferPointer, from start: Int, length: Int) -> Int? {
        let count = value.count
        // Grouped in fours when a space (or, as people also type it, a dash) follows the first four
        // characters; the same separator throughout.
        let separator: UInt8 = start + 4 < count ? value[start + 4] : 0
        let grouped = start + 5 < count && (separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-"))
            && isAlphanumeric(value[start + 5])
        var index = start
        var taken = 0
        var remainder = 0
        // The check digits and the country code are folded in last: remember them.
        var head = 0
        while taken < length {
            if grouped, taken > 0, taken % 4 == 0 {
                guard index < count, value[index] == separator else { return nil }
                index += 1
            }
            guard index < count, isAlphanumeric(value[index]) else { return nil }
            let byte = value[index]
            // Digits are themselves, letters 10…35.
            let number = ASCII.isDigit(byte) ? Int(byte - UInt8(ascii: "0")) : Int((byte | 0x20) - UInt8(ascii: "a")) + 10
            if taken < 4 {
                head = head * (number < 10 ? 10 : 100) + number
            } else {
                remainder = (remainder * (number < 10 ? 10 : 100) + number) % 97
            }
            index += 1
            taken += 1
        }
        guard index == count || !isAlphanumeric(value[index]) else { return nil }
        // Country letters are two digits each, check digits one each: six digits in all.
        remainder = (remainder * 1_000_000 + head) % 97
        return remainder == 1 ? index : nil
    }

    /// IBAN lengths by country, from the SWIFT IBAN registry (ISO 13616 registration authority): every European
    /// country that uses IBANs and the others in common use.
    static let ibanLengths: [(country: String, length: Int)] = [
        ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16), ("BG", 22), ("BH", 22),
        ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22), ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18), ("DO", 28),
        ("EE", 20), ("EG", 29), ("ES", 24), ("FI", 18), ("FO", 18), ("FR", 27), ("GB", 22), ("GE", 22), ("GI", 23),
        ("GL", 18), ("GR", 27), ("GT", 28), ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26),
        ("IT", 27), ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32), ("LI", 21), ("LT", 20), ("LU", 20),
        ("LV", 21), ("LY", 25), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MR", 27), ("MT", 31), ("MU", 30),
        ("NL", 18), ("NO", 15), ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22),
        ("SA", 24), ("SC", 31), ("SD", 18), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27), ("ST", 25), ("SV", 28),
        ("TL", 23), ("TN", 24), ("TR", 26), ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20),
    ]

    /// `ibanLengths` as a 26 × 26 table indexed by the two letters; 0 where no IBAN is used.
    static let ibanLengthTable: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 26 * 26)
        for (country, length) in ibanLengths {
            let letters = Array(country.utf8)
            table[Int(letters[0] - UInt8(ascii: "A")) * 26 + Int(letters[1] - UInt8(ascii: "A"))] = UInt8(length)
        }
        return table
    }()

    /// The IBAN length for a country code given as two letters in either case, or `nil`.
    static func ibanLength(_ first: UInt8, _ second: UInt8) -> Int? {
        let row = Int((first | 0x20) - UInt8(ascii: "a")), column = Int((second | 0x20) - UInt8(ascii: "a"))
        let length = ibanLengthTable[row * 26 + column]
        return length == 0 ? nil : Int(length)
    }

    // MARK: - Byte classes

    @inline(__always)
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- UInt8(ascii: "a") < 26 }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || ASCII.isDigit(byte) }

    @inline(__always)
    static func isNameSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: " ")
    }

    /// Bytes that may sit inside a written number: `+`, `(`, `)`, space, `-`, `.`.
    @inline(__always)
    static func isNumberPunctuation(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")") || byte == UInt8(ascii: "+")
    }

    @inline(__always)
    static func isLocalPartByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "%")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    @inline(__always)
    static func isDomainByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }
}

/// A written number: digit groups joined by single separators, as people write phone and card numbers.
///
/// Grammar: an optional `+`, then groups of digits; between two groups one of space, `-`, `.`, optionally
/// after a `)` that closes a `(` opened just before the previous group, and optionally followed by a `(`.
/// At most one pair of parentheses. The number ends after the last group followed by a digit-led separator;
/// a closing `)` right after it is included.
struct WrittenNumber {
    struct Separators: OptionSet {
        var rawValue: UInt8
        static let space = Separators(rawValue: 1)
        static let dash = Separators(rawValue: 2)
        static let dot = Separators(rawValue: 4)
    }

    /// Groups beyond this many are counted but their lengths are not kept; no rule accepts that many.
    static let keptGroups = 8

    var start: Int
    var end: Int
    var hasPlus = false
    var digitCount = 0
    var groupCount = 0
    /// Lengths of the first `keptGroups` groups, one byte each (capped at 255).
    private var packedGroupLengths: UInt64 = 0
    var separators: Separators = []
    /// The index of the group in parentheses.
    var parenthesizedGroup: Int?
    /// A `(` was never closed.
    var isUnbalanced = false

    var hasParentheses: Bool { parenthesizedGroup != nil }

    func groupLength(_ group: Int) -> Int {
        group < Self.keptGroups ? Int(truncatingIfNeeded: packedGroupLengths >> (8 * UInt64(group)) & 0xFF) : 0
    }

    /// Reads a number starting at `start` (a digit, or `+` or `(` before a digit) and ending by `limit`;
    /// `nil` if there is none.
    init?(_ value: UnsafeRawBufferPointer, from start: Int, limit: Int) {
        self.start = start
        self.end = start
        let count = limit
        var index = start
        if value[index] == UInt8(ascii: "+") {
            hasPlus = true
            index += 1
        }
        var parenOpen = false
        if index < count, value[index] == UInt8(ascii: "(") {
            parenOpen = true
            parenthesizedGroup = 0
            index += 1
        }
        guard index < count, ASCII.isDigit(value[index]) else { return nil }
        while true {
            let groupStart = index
            while index < count, ASCII.isDigit(value[index]) { index += 1 }
            addGroup(length: index - groupStart)
            end = index
            // A separator: [")"] [" " | "-" | "."] ["("], at least one byte, then a digit.
            var next = index
            var closes = false
            if parenOpen, parenthesizedGroup == groupCount - 1, next < count, value[next] == UInt8(ascii: ")") {
                closes = true
                next += 1
            }
            var separator: Separators = []
            if next < count {
                switch value[next] {
                case UInt8(ascii: " "): separator = .space
                case UInt8(ascii: "-"): separator = .dash
                case UInt8(ascii: "."): separator = .dot
                default: break
                }
                if separator != [] { next += 1 }
            }
            var opens = false
            if !parenOpen, parenthesizedGroup == nil, next < count, value[next] == UInt8(ascii: "(") {
                opens = true
                next += 1
            }
            guard next > index, next < count, ASCII.isDigit(value[next]) else {
                if closes {
                    end = index + 1
                    parenOpen = false
                }
                break
            }
            separators.formUnion(separator)
            if closes { parenOpen = false }
            if opens {
                parenOpen = true
                parenthesizedGroup = groupCount
            }
            index = next
        }
        isUnbalanced = parenOpen
    }

    private mutating func addGroup(length: Int) {
        if groupCount < Self.keptGroups {
            packedGroupLengths |= UInt64(min(length, 255)) << (8 * UInt64(groupCount))
        }
        groupCount += 1
        digitCount += length
    }

    /// The first `count` digits (at most 18) as a decimal number; fewer digits if the number has fewer.
    func leadingDigits(_ count: Int, in value: UnsafeRawBufferPointer) -> Int {
        var result = 0
        var taken = 0
        var index = start
        while taken < count, index < end {
            if let digit = ASCII.decimalValue(value[index]) {
                result = result * 10 + Int(digit)
                taken += 1
            }
            index += 1
        }
        return result
    }
}
