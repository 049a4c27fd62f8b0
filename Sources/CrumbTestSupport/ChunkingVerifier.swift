import CrumbCore

/// Feeds the same bytes to a line framer and processor in different chunkings (all at once, byte by byte,
/// random splits) and returns what each produced, so a test can demand that they are identical. Modelled
/// on swift-nio's `ByteToMessageDecoderVerifier`.
public enum ChunkingVerifier {
    /// How to cut the input.
    public enum Split: Sendable, CustomStringConvertible {
        case whole
        case bytes(Int)
        case random(seed: UInt64, maxChunk: Int)

        public var description: String {
            switch self {
            case .whole: "whole"
            case .bytes(let size): "\(size)-byte chunks"
            case .random(let seed, let maxChunk): "random chunks ≤ \(maxChunk) (seed \(seed))"
            }
        }
    }

    /// The result of one chunking.
    public struct Outcome: Equatable, Sendable {
        public var records: [WebTrendRecord]
        public var counts: LineCounts
        public var rejects: [RejectCode: Int]
    }

    /// Runs `bytes` through a fresh framer and processor cut as `split` says.
    public static func run(
        _ bytes: [UInt8], split: Split, maxLineLength: Int = 64 * 1024,
        configuration: WebLogConfiguration = WebLogConfiguration(), keyring: Keyring
    ) throws -> Outcome {
        var processor = WebLogProcessor(
            configuration: configuration, keyring: keyring,
            anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
        var framer = LineFramer(maxLineLength: maxLineLength)
        var state = split.seedState
        bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let size: Int
                switch split {
                case .whole: size = all.count
                case .bytes(let n): size = n
                case .random(_, let maxChunk): size = 1 + Int(next(&state) % UInt64(maxChunk))
                }
                let end = min(all.count, offset + size)
                framer.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { processor.process($0) }
                offset = end
            }
            framer.finish { processor.process($0) }
        }
        let (counts, rejects, _, _) = processor.finishInput()
        return Outcome(records: processor.aggregator.records(), counts: counts, rejects: rejects.counts)
    }

    /// splitmix64.
    static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ChunkingVerifier.Split {
    var seedState: UInt64 {
        if case .random(let seed, _) = self { return seed }
        return 0
    }
}
