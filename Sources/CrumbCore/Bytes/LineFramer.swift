#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a framed line lies in a buffer of lines copied end to end (a batch), for `WebLogProcessor.process(lines:in:)`.
public struct FramedLine: Sendable {
    /// The line's offset in the buffer; -1 for a line over the limit (`LineFramer.Frame.tooLong`).
    public var start: Int
    /// The line's length without its terminator (for a line over the limit, as `Frame.tooLong` gives it).
    public var length: Int
    /// 1-based, as the framer numbered it.
    public var number: Int

    public init(start: Int, length: Int, number: Int) {
        self.start = start
        self.length = length
        self.number = number
    }
}

/// Splits a stream of byte chunks into lines, across chunk boundaries, with a hard maximum line length.
///
/// Accepted: lines ended by LF (`\n`) or CRLF (`\r\n`; the `\r` is not part of the line); a last line with
/// no terminator, delivered by `finish(_:)`. Rejected: a line longer than `maxLineLength` bytes (not counting
/// its terminator) is reported as `.tooLong` once, when its end is seen, and its bytes are skipped, never
/// buffered: the framer holds at most `maxLineLength` bytes of a partial line at any time.
///
/// Lines that lie wholly inside one chunk are delivered without copying; only a line cut by a chunk boundary
/// is assembled in the framer's carry buffer. Modelled on swift-nio's `LineBasedFrameDecoder`.
public struct LineFramer: Sendable {
    /// What the framer hands to its caller.
    public enum Frame {
        /// A complete line without its terminator, valid only during the callback. `number` is 1-based.
        case line(UnsafeRawBufferPointer, number: Int)
        /// A line over the limit, skipped. `length` is its length in bytes (without terminator).
        case tooLong(number: Int, length: Int)
    }

    /// The longest line accepted, in bytes.
    public let maxLineLength: Int
    /// Lines framed so far, whatever their fate.
    public private(set) var lineCount: Int = 0

    private var carry: [UInt8] = []
    /// Bytes of the current over-long line seen so far; 0 when not discarding.
    private var discarded: Int = 0
    /// The last byte discarded, to tell a CRLF terminator from line content.
    private var lastDiscarded: UInt8 = 0

    public init(maxLineLength: Int = 64 * 1024) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// Frames `chunk`, calling `body` for every line completed by it.
    ///
    /// - Complexity: O(chunk.count); each byte is scanned once.
    @inlinable
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ body: (Frame) throws -> Void) rethrows {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        var start = 0
        let end = chunk.count
        while start < end {
            guard let newline = memchrOffset(base, from: start, to: end) else {
                appendPartial(UnsafeRawBufferPointer(start: base + start, count: end - start))
                return
            }
            try completeLine(UnsafeRawBufferPointer(start: base + start, count: newline - start), body)
            start = newline + 1
        }
    }

    /// Delivers the last line of the stream if it had no terminator, and resets the framer.
    public mutating func finish(_ body: (Frame) throws -> Void) rethrows {
        if discarded > 0 || !carry.isEmpty {
            try completeLine(UnsafeRawBufferPointer(start: nil, count: 0), body)
        }
        carry.removeAll(keepingCapacity: true)
        discarded = 0
    }

    /// Drops a partial last line without delivering it (the input ended by a fault, so the line is cut),
    /// and resets the framer. Returns whether there was one.
    public mutating func discardPartialLine() -> Bool {
        let hadPartial = discarded > 0 || !carry.isEmpty
        carry.removeAll(keepingCapacity: true)
        discarded = 0
        return hadPartial
    }

    @usableFromInline
    mutating func completeLine(_ tail: UnsafeRawBufferPointer, _ body: (Frame) throws -> Void) rethrows {
        lineCount += 1
        if discarded > 0 {
            let length = discarded + tail.count
            discarded = 0
            try body(.tooLong(number: lineCount, length: trimmedLength(length, lastByte: tail.last ?? lastDiscarded)))
            return
        }
        if carry.isEmpty {
            let length = trimCR(tail)
            if length > maxLineLength {
                try body(.tooLong(number: lineCount, length: length))
            } else {
                try body(.line(UnsafeRawBufferPointer(rebasing: tail[0..<length]), number: lineCount))
            }
            return
        }
        if carry.count + tail.count > maxLineLength + 1 {
            // +1 leaves room for a CR that is part of the terminator, not the line.
            let length = carry.count + tail.count
            carry.removeAll(keepingCapacity: true)
            try body(.tooLong(number: lineCount, length: trimmedLength(length, lastByte: tail.last)))
            return
        }
        carry.append(contentsOf: tail)
        defer { carry.removeAll(keepingCapacity: true) }
        let number = lineCount
        let limit = maxLineLength
        try carry.withUnsafeBytes { whole in
            let length = trimCR(whole)
            if length > limit {
                try body(.tooLong(number: number, length: length))
            } else {
                try body(.line(UnsafeRawBufferPointer(rebasing: whole[0..<length]), number: number))
            }
        }
    }

    @usableFromInline
    mutating func appendPartial(_ bytes: UnsafeRawBufferPointer) {
        if discarded > 0 {
            discarded += bytes.count
            if let last = bytes.last { lastDiscarded = last }
        } else if carry.count + bytes.count > maxLineLength + 1 {
            discarded = carry.count + bytes.count
            lastDiscarded = bytes.last ?? carry.last ?? 0
            carry.removeAll(keepingCapacity: true)
        } else {
            carry.append(contentsOf: bytes)
        }
    }

    @usableFromInline
    func trimCR(_ bytes: UnsafeRawBufferPointer) -> Int {
        bytes.count > 0 && bytes[bytes.count - 1] == UInt8(ascii: "\r") ? bytes.count - 1 : bytes.count
    }

    @usableFromInline
    func trimmedLength(_ length: Int, lastByte: UInt8?) -> Int {
        lastByte == UInt8(ascii: "\r") ? length - 1 : length
    }
}

/// The offset of the first LF in `base[from..<to]`, or nil.
@inlinable
func memchrOffset(_ base: UnsafeRawPointer, from: Int, to: Int) -> Int? {
    guard let hit = memchr(base + from, Int32(UInt8(ascii: "\n")), to - from) else { return nil }
    return UnsafeRawPointer(hit) - base
}
