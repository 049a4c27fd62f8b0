/// A log's lines as arrays of bytes, for tests that reorder or replace lines of a generated log.
public enum LogLines {
    /// The lines of `bytes` without their line feeds; a final line feed ends the last line (no empty line after it).
    public static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// `lines`, each ended by a line feed.
    public static func joined(_ lines: [[UInt8]]) -> [UInt8] {
        lines.flatMap { $0 + [UInt8(ascii: "\n")] }
    }

    /// `bytes` with every `every`th line, from the first, moved `by` lines further on: late events, some of
    /// them in a time bucket that a run has closed by then.
    public static func delaying(every: Int, by: Int, in bytes: [UInt8]) -> [UInt8] {
        var lines = split(bytes)
        var index = 0
        while index + by < lines.count {
            let late = lines.remove(at: index)
            lines.insert(late, at: index + by)
            index += every
        }
        return joined(lines)
    }
}
