import Crypto

/// A running SHA-256 of a byte stream that also keeps the digest of the stream up to its last line feed: what
/// was counted when an input breaks off mid-line (a decode fault, or a live log's unfinished last line).
///
/// Each update hashes its bytes in at most two pieces and copies the hash state once, at the update's last
/// line feed, so the cost is SHA-256's own plus a backward scan to that line feed.
///
/// Made with `hashing: false`, it only counts (bytes, and bytes through the last line feed) and has no digest: what
/// a run that keeps no ledger needs (`RunConfiguration.keepsLedger`).
///
/// `@unchecked Sendable`: swift-crypto's `SHA256` is a value with copy-on-write storage (it copies its state before
/// updating a shared one, and finalizes a copy), so a copy handed to another thread is never written through;
/// it is only not declared `Sendable`.
public struct ContentDigest: @unchecked Sendable {
    private var whole = SHA256()
    private var toLineEnd = SHA256()
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0
    /// Bytes up to and including the last line feed hashed (0 before any).
    public private(set) var lineEndCount: Int64 = 0
    /// Whether the bytes are hashed, or only counted.
    public let isHashing: Bool

    public init(hashing: Bool = true) {
        isHashing = hashing
    }

    /// Hashes `bytes` (or only counts them), after everything before them.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let lineFeed = bytes.lastIndex(of: UInt8(ascii: "\n"))
        if isHashing {
            if let lineFeed {
                whole.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[...lineFeed]))
                toLineEnd = whole
                if lineFeed + 1 < bytes.count {
                    whole.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[(lineFeed + 1)...]))
                }
            } else {
                whole.update(bufferPointer: bytes)
            }
        }
        if let lineFeed { lineEndCount = count + Int64(lineFeed + 1) }
        count += Int64(bytes.count)
    }

    /// The SHA-256 of every byte hashed; nil when counting only.
    public var sha256: SHA256Digest? { isHashing ? whole.finalize() : nil }

    /// The SHA-256 of the bytes up to and including the last line feed (nil when counting only), and how many
    /// they are.
    public var throughLastLineFeed: (count: Int64, sha256: SHA256Digest?) {
        (lineEndCount, isHashing ? toLineEnd.finalize() : nil)
    }
}
