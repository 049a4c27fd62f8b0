/// Counts rejected lines by reason and keeps the first few samples, redacted.
///
/// A reject sample is a log line and can hold personal information, so a sample never keeps the line's
/// bytes: it keeps the line number, the code, the offset, and the line's *shape* (`RejectTally.shape(of:)`).
public struct RejectTally: Sendable, Equatable {
    /// One kept sample.
    public struct Sample: Sendable, Equatable, Codable {
        public var line: Int
        public var code: RejectCode
        public var offset: Int
        /// The redacted shape of the line: letters become `a`/`A`, digits `9`, other bytes kept only when
        /// they are ASCII punctuation or space, everything else `?`; at most `shapeLimit` bytes.
        public var shape: String
    }

    public static let shapeLimit = 160

    public private(set) var counts: [RejectCode: Int] = [:]
    public private(set) var samples: [Sample] = []
    public let sampleLimit: Int

    public init(sampleLimit: Int = 5) {
        self.sampleLimit = sampleLimit
    }

    public var total: Int { counts.values.reduce(0, +) }

    /// Counts one rejected line; keeps a redacted sample while fewer than `sampleLimit` are kept.
    public mutating func record(_ code: RejectCode, line: Int, offset: Int, bytes: UnsafeRawBufferPointer?) {
        counts[code, default: 0] += 1
        if samples.count < sampleLimit {
            samples.append(Sample(line: line, code: code, offset: offset, shape: bytes.map(Self.shape(of:)) ?? ""))
        }
    }

    /// Adds `other`'s counts, and keeps the samples of the lowest line numbers of both: merging the tallies
    /// of two processors that each took some of one input's lines, in order, keeps the samples one processor
    /// taking every line would have kept.
    public mutating func merge(_ other: RejectTally) {
        for (code, count) in other.counts { counts[code, default: 0] += count }
        guard !other.samples.isEmpty else { return }
        samples = Array((samples + other.samples).sorted { $0.line < $1.line }.prefix(sampleLimit))
    }

    /// The redacted shape of `bytes`: no letter or digit of the original survives.
    public static func shape(of bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, shapeLimit))
        for byte in bytes.prefix(shapeLimit) {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): out.append(UInt8(ascii: "a"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(UInt8(ascii: "A"))
            case UInt8(ascii: "0")...UInt8(ascii: "9"): out.append(UInt8(ascii: "9"))
            case 0x20...0x7E: out.append(byte)
            default: out.append(UInt8(ascii: "?"))
            }
        }
        if bytes.count > shapeLimit { out.append(contentsOf: Array("...".utf8)) }
        return String(decoding: out, as: UTF8.self)
    }
}
