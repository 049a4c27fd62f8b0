/// Steps through a Cookie request header (RFC 6265 §4.2.1: `name=value; name=value`).
///
/// Accepted: pairs separated by `;` with optional spaces after it; a pair without `=` (a bare name) has an
/// empty value. Quotes around values are kept as part of the value. Nothing is copied.
public enum CookieHeader {
    /// Calls `body` with the name, the value and the whole `name=value` pair of each cookie, as ranges of
    /// offsets into `header`.
    @inlinable
    public static func forEachPair(
        _ header: UnsafeRawBufferPointer, _ body: (_ name: Range<Int>, _ value: Range<Int>, _ pair: Range<Int>) -> Void
    ) {
        var start = 0
        let count = header.count
        while start < count {
            while start < count, header[start] == UInt8(ascii: " ") { start += 1 }
            let end = ASCII.index(of: UInt8(ascii: ";"), in: header, from: start)
            var equals = start
            while equals < end, header[equals] != UInt8(ascii: "=") { equals += 1 }
            if end > start { body(start..<equals, min(equals + 1, end)..<end, start..<end) }
            start = end + 1
        }
    }
}
