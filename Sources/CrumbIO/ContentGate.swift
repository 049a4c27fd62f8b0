import Crypto

/// Passes on only the decoded bytes of an input that no earlier run has counted: the exactly-once half of
/// a resumable run.
///
/// It holds the input's first `headLength` bytes, looks their digest up in the ledger, and then either lets
/// everything through (new content), or hashes without passing anything on until the input's prefix has
/// matched the longest counted checkpoint (the content was counted up to there; what follows is new). Every
/// byte is hashed, for the ledger's next checkpoint: by the gate itself, or, when the input's reader hashes what it
/// delivers (`sourceHashes`) and no checkpoint has to be checked on the way, by the reader alone
/// (`hashesContent` false), so that the bytes are not hashed a second time on the parsing thread.
///
/// When the prefix stops matching after bytes were held back (the file was rewritten in place, or is a
/// copy of a counted one cut short), the input has to be read again from the start with a known skip:
/// `consume` and `finish` throw `Restart`, before anything of the input was passed on.
struct ContentGate {
    /// Bytes hashed for the ledger's lookup key; a shorter content uses its whole length.
    static let headLength = 1024

    struct Restart: Error {
        /// Decoded bytes already counted (a matched checkpoint), to skip on the second reading.
        var skip: Int64
        var entry: Int?
    }

    /// How the input related to the ledger, once it is finished.
    enum Outcome: Equatable {
        case fresh
        case continued(entry: Int, from: Int64)
        case unchanged(entry: Int)
    }

    private enum Phase {
        case head
        case verify
        case pass
        case skip(remaining: Int64)
    }

    private let ledger: LedgerIndex?
    private let sourceHashes: Bool
    private var phase: Phase
    private var head: [UInt8] = []
    /// Whether this gate hashes the bytes it consumes; decided before the first byte is hashed. When it does not,
    /// the input's reader has hashed exactly the bytes consumed (`PipelinedInput.decodedDigest`).
    private(set) var hashesContent = true
    /// Every byte consumed so far, when `hashesContent` (only counted, without `digests`).
    private(set) var digest: ContentDigest
    private(set) var position: Int64 = 0
    /// Checkpoints still to check, ascending by length: (length, digest hex, entry).
    private var pending: [(bytes: Int64, sha256: String, entry: Int)] = []
    private var matched: (bytes: Int64, entry: Int)?
    /// The matched entry's content ended mid-line: drop the bytes up to the first line feed (the rest of
    /// that line, already counted).
    private var dropToLineFeed = false
    private(set) var lastByte: UInt8?
    /// The first `headLength` bytes consumed, for a new ledger entry's key.
    private var captured: [UInt8] = []

    /// The ledger key of this content: SHA-256 (hex) of its first bytes, and how many.
    var headKey: (sha256: String, length: Int) {
        (SHA256.hash(data: captured).hexString, captured.count)
    }

    /// A gate over `ledger` (nil: everything is new), or, after a `Restart`, one that skips `restart.skip`
    /// bytes without looking anything up.
    ///
    /// - Parameters:
    ///   - sourceHashes: The reader hashes every byte it delivers: the gate then leaves the content's digest to
    ///     it unless it has checkpoints to check (a counted input's prefix) or bytes to skip.
    ///   - digests: Whether the content gets a digest at all. Without (a run that keeps no ledger, so has none
    ///     either), the gate only counts what it passes on (`content(source:)` has no `sha256`).
    init(ledger: LedgerIndex?, restart: Restart? = nil, sourceHashes: Bool = false, digests: Bool = true) {
        precondition(digests || (ledger == nil && restart == nil), "a ledger's checkpoints are checked by their digests")
        self.ledger = ledger
        self.sourceHashes = sourceHashes && digests
        digest = ContentDigest(hashing: digests)
        if let restart {
            phase = .skip(remaining: restart.skip)
            if let entry = restart.entry {
                matched = (restart.skip, entry)
                dropToLineFeed = endsMidLine(entry: entry, at: restart.skip)
            }
        } else if ledger == nil {
            phase = .pass
            hashesContent = !self.sourceHashes
        } else {
            phase = .head
        }
    }

    /// Told with the first bytes passed on: the ledger entry being continued, and the directive lines
    /// (W3C `#Fields:`) of the part already counted, which the parser of the continued part needs.
    struct Start {
        var entry: Int?
        var directives: [[UInt8]]
    }

    private var started = false
    /// The last `#Fields:` line among the bytes held back, and the partial line being collected.
    private var lastDirective: [UInt8]?
    private var collecting: [UInt8]?
    private var atLineStart = true

    /// The relation to the ledger, valid after `finish`.
    var outcome: Outcome {
        guard let matched else { return .fresh }
        return position > matched.bytes ? .continued(entry: matched.entry, from: matched.bytes) : .unchanged(entry: matched.entry)
    }

    /// The digest of every byte consumed: the gate's own, or, when it left hashing to the reader, `source`, the
    /// reader's digest of the bytes it delivered (which are the bytes consumed).
    func content(source: ContentDigest?) -> ContentDigest {
        guard !hashesContent else { return digest }
        precondition(source?.count == position, "the reader hashed exactly the bytes the gate consumed")
        return source!
    }

    /// Takes the next decoded bytes; calls `body` with those that are new.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Start?) throws -> Void) throws {
        var rest = bytes
        while !rest.isEmpty {
            switch phase {
            case .pass:
                hash(rest)
                try pass(rest, body)
                return
            case .skip(let remaining):
                let take = Int(min(Int64(rest.count), remaining))
                hash(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                noteDirectives(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                phase = remaining - Int64(take) == 0 ? .pass : .skip(remaining: remaining - Int64(take))
            case .head:
                let take = min(rest.count, Self.headLength - head.count)
                head.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if head.count == Self.headLength { try endHead(body) }
            case .verify:
                let next = pending[0].bytes
                let take = Int(min(Int64(rest.count), next - position))
                hash(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                noteDirectives(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if position == next { try checkpointReached() }
            }
        }
    }

    /// The input ended: settles what the held bytes were.
    mutating func finish(_ body: (UnsafeRawBufferPointer, Start?) throws -> Void) throws {
        if case .head = phase { try endHead(body) }
        if case .verify = phase {
            // The input is exactly a counted prefix (a copy of an earlier, shorter version): nothing is new.
            if let matched, matched.bytes == position {
                phase = .pass
                return
            }
            // The input ended between checkpoints: what follows the last match was held back, not counted.
            throw Restart(skip: matched?.bytes ?? 0, entry: matched?.entry)
        }
    }

    private mutating func endHead(_ body: (UnsafeRawBufferPointer, Start?) throws -> Void) throws {
        let held = head
        head = []
        let candidates = held.withUnsafeBytes { ledger?.candidates(head: $0) ?? [] }
        for index in candidates {
            for checkpoint in ledger!.entries[index].checkpoints {
                pending.append((checkpoint.bytes, checkpoint.sha256, index))
            }
        }
        pending.sort { $0.bytes < $1.bytes }
        phase = pending.isEmpty ? .pass : .verify
        // Checkpoints are checked against the gate's own digest as it reaches them.
        hashesContent = !pending.isEmpty || !sourceHashes
        try held.withUnsafeBytes { try consume($0, body) }
    }

    private mutating func checkpointReached() throws {
        // A gate with checkpoints to check hashes (`init`'s precondition).
        let here = digest.sha256!.hexString
        var diverged = Set<Int>()
        while let first = pending.first, first.bytes == position {
            pending.removeFirst()
            if first.sha256 == here {
                if matched?.bytes != position { matched = (position, first.entry) }
            } else {
                diverged.insert(first.entry)
            }
        }
        // A candidate that differs here cannot match further on; the others are still checked.
        if !diverged.isEmpty { pending.removeAll { diverged.contains($0.entry) } }
        guard pending.isEmpty else { return }
        guard let matched, matched.bytes == position else {
            // Bytes after the last match (if any) were held back: read again and skip to it.
            throw Restart(skip: matched?.bytes ?? 0, entry: matched?.entry)
        }
        phase = .pass
        dropToLineFeed = endsMidLine(entry: matched.entry, at: matched.bytes)
    }

    /// Whether the content counted as `entry` up to `bytes` ended without a line feed.
    private func endsMidLine(entry: Int, at bytes: Int64) -> Bool {
        guard let ledger else { return false }
        let counted = ledger.entries[entry]
        return counted.checkpoints.first { $0.bytes == bytes }?.endsMidLine ?? false
    }

    private mutating func hash(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if captured.count < Self.headLength {
            captured.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, Self.headLength - captured.count)]))
        }
        if hashesContent { digest.update(bytes) }
        position += Int64(bytes.count)
        lastByte = bytes[bytes.count - 1]
    }

    /// Keeps the last `#Fields:` line of bytes held back.
    private mutating func noteDirectives(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            if atLineStart {
                collecting = []
                atLineStart = false
            }
            let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            if let have = collecting?.count {
                // Compared before anything is copied: most lines are not directives, and are dropped at once.
                let segment = UnsafeRawBufferPointer(rebasing: bytes[index..<end])
                let prefixMatches: Bool
                if have < Self.directive.count {
                    let need = min(Self.directive.count - have, segment.count)
                    prefixMatches = segment.prefix(need).elementsEqual(Self.directive[have..<(have + need)])
                } else {
                    prefixMatches = true
                }
                if !prefixMatches || have + segment.count > 64 * 1024 {
                    collecting = nil
                } else {
                    collecting!.append(contentsOf: segment)
                }
            }
            if end < bytes.count {
                if var line = collecting, line.count >= Self.directive.count {
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    lastDirective = line
                }
                collecting = nil
                atLineStart = true
            }
            index = end + 1
        }
    }

    static let directive = Array("#Fields:".utf8)

    private mutating func pass(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Start?) throws -> Void) throws {
        var bytes = bytes
        if dropToLineFeed {
            guard let lineFeed = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return }
            dropToLineFeed = false
            bytes = UnsafeRawBufferPointer(rebasing: bytes[(lineFeed + 1)...])
        }
        guard !bytes.isEmpty else { return }
        if started {
            try body(bytes, nil)
        } else {
            started = true
            try body(bytes, Start(entry: matched?.entry, directives: lastDirective.map { [$0] } ?? []))
        }
    }
}
