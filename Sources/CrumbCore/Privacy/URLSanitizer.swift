/// Reduces request targets and referrers to their privacy-safe parts, writing into a scratch buffer.
///
/// - A request target keeps its path only: the query string and fragment are removed (the policy engine
///   will later keep allowed parameters). An absolute-form target (`http://host/path`, sent to proxies)
///   keeps its path. A path segment that looks like it carries personal information, one with an `@`
///   (or `%40`) or a run of nine or more digits (phone, card and account numbers; separators ` -.()+` and
///   `%20` allowed inside the run), is replaced by `:redacted`. Paths are cut at `maxPathLength` bytes.
/// - A referrer keeps its host only, lowercased, without user info, port or trailing dot. A referrer that is
///   not an absolute URL is `(invalid)`.
public enum URLSanitizer {
    public static let maxPathLength = 512
    public static let redactedSegment: [UInt8] = Array(":redacted".utf8)

    /// Appends the sanitized path of `target` to `out` (which is cleared first).
    public static func path(of target: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var start = 0
        let count = target.count
        if let authorityEnd = afterScheme(target) {
            // Absolute form: skip the authority.
            var index = authorityEnd
            while index < count, target[index] != UInt8(ascii: "/"), target[index] != UInt8(ascii: "?"),
                  target[index] != UInt8(ascii: "#") { index += 1 }
            start = index
        }
        var end = start
        while end < count, target[end] != UInt8(ascii: "?"), target[end] != UInt8(ascii: "#") { end += 1 }
        if end == start {
            out.append(UInt8(ascii: "/"))
            return
        }
        // Segment by segment: copy each, or its redaction.
        var segmentStart = start
        while segmentStart <= end {
            var segmentEnd = segmentStart
            while segmentEnd < end, target[segmentEnd] != UInt8(ascii: "/") { segmentEnd += 1 }
            let segment = UnsafeRawBufferPointer(rebasing: target[segmentStart..<segmentEnd])
            if looksPersonal(segment) {
                out.append(contentsOf: redactedSegment)
            } else {
                out.append(contentsOf: segment)
            }
            if segmentEnd < end { out.append(UInt8(ascii: "/")) }
            if out.count >= maxPathLength { break }
            segmentStart = segmentEnd + 1
        }
        if out.count > maxPathLength { out.removeLast(out.count - maxPathLength) }
    }

    /// Whether a path segment carries an email-like `@` or a long digit run.
    static func looksPersonal(_ segment: UnsafeRawBufferPointer) -> Bool {
        var run = 0
        var index = 0
        let count = segment.count
        while index < count {
            let byte = segment[index]
            if byte == UInt8(ascii: "@") { return true }
            if byte == UInt8(ascii: "%"), index + 2 < count {
                let hi = segment[index + 1], lo = ASCII.lowercased(segment[index + 2])
                if hi == UInt8(ascii: "4"), lo == UInt8(ascii: "0") { return true }
                if hi == UInt8(ascii: "2"), lo == UInt8(ascii: "0") || lo == UInt8(ascii: "b") {
                    index += 3  // %20 or %2B inside a number
                    continue
                }
            }
            if ASCII.isDigit(byte) {
                run += 1
                if run >= 9 { return true }
            } else if !(byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")") || byte == UInt8(ascii: "+")) {
                run = 0
            }
            index += 1
        }
        return false
    }

    /// What a referrer reduces to.
    public enum Referrer: Equatable {
        /// The host, lowercased, in the scratch buffer.
        case host
        /// The host is an IP literal.
        case address(IPAddress)
        /// Not an absolute URL, or no host.
        case invalid
    }

    /// Reduces `referrer` to its host, written lowercased into `out` for `.host`.
    public static func referrerHost(of referrer: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Referrer {
        out.removeAll(keepingCapacity: true)
        guard let authorityStart = afterScheme(referrer) else { return .invalid }
        var authorityEnd = authorityStart
        let count = referrer.count
        while authorityEnd < count {
            let byte = referrer[authorityEnd]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#")
                || byte == UInt8(ascii: "\\") { break }
            authorityEnd += 1
        }
        var hostStart = authorityStart
        for index in authorityStart..<authorityEnd where referrer[index] == UInt8(ascii: "@") {
            hostStart = index + 1  // drop user info: it can hold a name or a password
        }
        var hostEnd = authorityEnd
        if hostStart < authorityEnd, referrer[hostStart] == UInt8(ascii: "[") {
            var close = hostStart
            while close < authorityEnd, referrer[close] != UInt8(ascii: "]") { close += 1 }
            guard close < authorityEnd,
                  let address = IPAddress.parse(UnsafeRawBufferPointer(rebasing: referrer[(hostStart + 1)..<close]))
            else { return .invalid }
            return .address(address)
        }
        for index in hostStart..<authorityEnd where referrer[index] == UInt8(ascii: ":") {
            hostEnd = index
            break
        }
        while hostEnd > hostStart, referrer[hostEnd - 1] == UInt8(ascii: ".") { hostEnd -= 1 }
        guard hostEnd > hostStart else { return .invalid }
        let host = UnsafeRawBufferPointer(rebasing: referrer[hostStart..<hostEnd])
        if let address = IPAddress.parse(host) { return .address(address) }
        for byte in host {
            // Host names are letters, digits, '-', '.', '_' (and percent-encoded IDNs); anything else is junk.
            guard byte > 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "<"), byte != UInt8(ascii: ">") else {
                out.removeAll(keepingCapacity: true)
                return .invalid
            }
            out.append(ASCII.lowercased(byte))
        }
        return .host
    }

    /// The offset just after `scheme://`, when `bytes` starts with a URI scheme (RFC 3986 §3.1) and `//`.
    static func afterScheme(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            if isLetter || (index > 0 && (ASCII.isDigit(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "."))) {
                index += 1
                continue
            }
            break
        }
        guard index > 0, index + 3 <= count, bytes[index] == UInt8(ascii: ":"),
              bytes[index + 1] == UInt8(ascii: "/"), bytes[index + 2] == UInt8(ascii: "/")
        else { return nil }
        return index + 3
    }
}
