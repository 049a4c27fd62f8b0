#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits one CSV row into field ranges, byte by byte, and unescapes doubled quotes only when a row holds some.
///
/// Follows RFC 4180 (<https://www.rfc-editor.org/rfc/rfc4180>) with a configurable delimiter:
/// - an unquoted field runs to the next delimiter or the end of the row; its bytes are kept as they are
///   (spaces included, any byte value, valid UTF-8 or not);
/// - a quoted field starts with `"` (spaces before the quote are skipped, as FreeSWITCH's built-in template
///   writes `", "`) and ends at a `"` followed by the delimiter or the end of the row; `""` inside stands for one
///   `"`. The field's range is its content, without the quotes.
///
/// Rejected with `bad_quoting` (the offset is where the problem was seen): a quoted field with no closing quote,
/// bytes between a closing quote and the next delimiter, and a `"` inside an unquoted field. With
/// `allowsStrayQuotes`, a `"` that neither closes a quoted field nor doubles another is taken as content, and so
/// is a `"` inside an unquoted field: FreeSWITCH's `mod_cdr_csv` pastes variables into its template without
/// escaping them, so a caller name holding a quote arrives that way. More than `maxFields` fields is
/// `extra_columns` at the delimiter that opens the first field too many.
///
/// A line break inside a quoted field cannot be seen here (the line framer has already cut the row there), so
/// such a row is rejected as an unterminated quote, and its second half as whatever it parses to.
///
/// The field table is kept between rows (its capacity is reused): one splitter serves one parser.
public struct CSVRow: Sendable {
    /// One field of the row.
    public struct Field: Sendable, Equatable {
        /// The field's content: inside the quotes for a quoted field. Points into the row, or into the decoded
        /// buffer after `decode(_:into:)`.
        public var range: Range<Int>
        /// Whether the field was quoted.
        public var isQuoted: Bool
        /// Whether the content holds `""` pairs that stand for one `"` each (only for quoted fields).
        public var hasDoubledQuotes: Bool

        public init(range: Range<Int>, isQuoted: Bool, hasDoubledQuotes: Bool) {
            self.range = range
            self.isQuoted = isQuoted
            self.hasDoubledQuotes = hasDoubledQuotes
        }
    }

    /// The byte between fields (`,` by default).
    public let delimiter: UInt8
    /// Whether a `"` that does not fit RFC 4180 is content rather than an error.
    public let allowsStrayQuotes: Bool
    /// The most fields a row may have.
    public let maxFields: Int

    /// The fields of the last row split.
    public private(set) var fields: [Field] = []
    /// Whether some field of the last row split holds doubled quotes, so that its ranges do not read as values.
    public private(set) var needsDecoding: Bool = false

    public init(delimiter: UInt8 = UInt8(ascii: ","), allowsStrayQuotes: Bool = false, maxFields: Int = 64) {
        precondition(delimiter != UInt8(ascii: "\"") && delimiter != UInt8(ascii: " "), "delimiter must not be a quote or a space")
        precondition(maxFields > 0, "maxFields must be positive")
        self.delimiter = delimiter
        self.allowsStrayQuotes = allowsStrayQuotes
        self.maxFields = maxFields
        fields.reserveCapacity(min(maxFields, 32))
    }

    /// Splits `line` (without its terminator) into `fields`. An empty line is one empty field.
    ///
    /// - Throws: `ParseFailure` with `bad_quoting` or `extra_columns`, and the offset where splitting stopped.
    /// - Complexity: O(line.count), one pass.
    public mutating func split(_ line: UnsafeRawBufferPointer) throws(ParseFailure) {
        fields.removeAll(keepingCapacity: true)
        needsDecoding = false
        let quote = UInt8(ascii: "\"")
        let end = line.count
        var index = 0
        while true {
            if fields.count == maxFields {
                throw ParseFailure(.extraColumns, at: index - 1)
            }
            var start = index
            while start < end && line[start] == UInt8(ascii: " ") { start += 1 }
            if start < end && line[start] == quote {
                index = try readQuoted(line, openingQuote: start)
            } else {
                start = index
                while index < end && line[index] != delimiter {
                    if line[index] == quote && !allowsStrayQuotes { throw ParseFailure(.badQuoting, at: index) }
                    index += 1
                }
                fields.append(Field(range: start..<index, isQuoted: false, hasDoubledQuotes: false))
            }
            // `index` is at a delimiter or at the end.
            if index >= end { return }
            index += 1
        }
    }

    /// Reads the quoted field whose opening quote is at `openingQuote`, appends it, and returns the offset just
    /// after its closing quote.
    private mutating func readQuoted(_ line: UnsafeRawBufferPointer, openingQuote: Int) throws(ParseFailure) -> Int {
        let quote = UInt8(ascii: "\"")
        let end = line.count
        let contentStart = openingQuote + 1
        var doubled = false
        var index = contentStart
        // Safe to force-unwrap: the row holds the opening quote, so it has a base address.
        let base = line.baseAddress!
        while index < end {
            // memchr: quoted values run to a few dozen bytes, and most hold no quote at all.
            guard let hit = memchr(base + index, Int32(quote), end - index) else { break }
            index = UnsafeRawPointer(hit) - base
            let next = index + 1
            if next == end || line[next] == delimiter {
                fields.append(Field(range: contentStart..<index, isQuoted: true, hasDoubledQuotes: doubled))
                if doubled { needsDecoding = true }
                return next
            }
            if line[next] == quote {
                doubled = true
                index += 2
                continue
            }
            guard allowsStrayQuotes else { throw ParseFailure(.badQuoting, at: next) }
            index += 1
        }
        throw ParseFailure(.badQuoting, at: openingQuote)
    }

    /// Copies the row into `decoded` (cleared first; its capacity is reused) and turns each `""` of a quoted
    /// field into `"` there, so that every field's range, pointing into `decoded` from then on, reads as its
    /// value. A field keeps its offset; one that held doubled quotes ends earlier.
    ///
    /// - Parameter line: the row last given to `split(_:)`.
    /// - Complexity: one copy of the row, and one pass over the fields that hold doubled quotes.
    public mutating func decode(_ line: UnsafeRawBufferPointer, into decoded: inout [UInt8]) {
        decoded.removeAll(keepingCapacity: true)
        decoded.append(contentsOf: repeatElement(0, count: line.count))
        decoded.withUnsafeMutableBytes { $0.copyMemory(from: line) }
        guard needsDecoding else { return }
        let quote = UInt8(ascii: "\"")
        decoded.withUnsafeMutableBufferPointer { bytes in
            for position in fields.indices where fields[position].hasDoubledQuotes {
                let range = fields[position].range
                var write = range.lowerBound
                var read = range.lowerBound
                while read < range.upperBound {
                    let byte = bytes[read]
                    bytes[write] = byte
                    write += 1
                    // Inside a quoted field a `"` is always the first of a `""` pair, or a stray quote.
                    read += byte == quote && read + 1 < range.upperBound && bytes[read + 1] == quote ? 2 : 1
                }
                fields[position].range = range.lowerBound..<write
            }
        }
    }
}
