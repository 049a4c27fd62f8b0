/// Reduces a referrer to its host, writing into a scratch buffer: lowercased, without user info, port or
/// trailing dot. A referrer that is not an absolute URL is `(invalid)`. (Request targets are split by
/// `RequestSanitizer`.)
public enum URLSanitizer {
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
            guard byte > 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "<"), byte != UInt8(ascii: ">"),
                  byte != UInt8(ascii: "("), byte != UInt8(ascii: ")") else {
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
