#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Interns byte strings: each distinct byte string gets a dense id (0, 1, 2, …), stored once in an arena.
///
/// The aggregator keys its rows by these ids, so a value seen a million times is hashed a million times but
/// stored, and turned into a `String`, once. Open addressing with linear probing; a hit is confirmed by
/// comparing bytes, so the hash needs no cryptographic strength.
public struct ByteInterner: Sendable {
    private var arena: [UInt8] = []
    private var starts: [Int] = [0]
    /// Slots hold id + 1; 0 is empty.
    private var slots: [Int32]
    private var slotHashes: [UInt64]
    private var mask: Int

    public init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        slotHashes = Array(repeating: 0, count: size)
        mask = size - 1
    }

    /// Number of distinct byte strings.
    public var count: Int { starts.count - 1 }

    /// The id of `bytes`, adding it when new.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Int {
        intern(bytes, hash: ByteHash.hash(bytes))
    }

    /// The id of `bytes` whose `ByteHash.hash` is `hash`, adding it when new.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> Int {
        intern(bytes, hash: hash, limit: .max)!
    }

    /// The id of `bytes`, adding it when new and fewer than `limit` strings are interned; nil when it is new
    /// and the interner is full (nothing is stored then).
    @inline(__always)
    public mutating func intern(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Int? {
        intern(bytes, hash: ByteHash.hash(bytes), limit: limit)
    }

    /// `intern(_:limit:)` with the bytes' `ByteHash.hash` known.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer, hash: UInt64, limit: Int) -> Int? {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            if slotHashes[slot] == hash, equals(Int(entry) - 1, bytes) { return Int(entry) - 1 }
            slot = (slot + 1) & mask
        }
        guard count < limit else { return nil }
        let id = count
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        slots[slot] = Int32(id + 1)
        slotHashes[slot] = hash
        if count * 2 > slots.count { grow() }
        return id
    }

    /// The id of `string`'s UTF-8 bytes, adding it when new.
    public mutating func intern(_ string: String) -> Int {
        var copy = string
        return copy.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    /// Calls `body` with the bytes of `id`.
    public func withBytes<R>(of id: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try arena.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[starts[id]..<starts[id + 1]]))
        }
    }

    /// The bytes of every value, end to end, and where those of `id` lie in them: for a caller that hands the
    /// bytes to code it cannot see into. Around such a call, `withBytes` needs a copy of the whole interner (a
    /// retain and a release of each of its four arrays); this holds only the one array.
    public func storage(of id: Int) -> (arena: [UInt8], range: Range<Int>) {
        (arena, starts[id]..<starts[id + 1])
    }

    /// The bytes of `id` as a `String`; invalid UTF-8 is repaired with U+FFFD.
    public func string(of id: Int) -> String {
        withBytes(of: id) { String(decoding: $0, as: UTF8.self) }
    }

    private func equals(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = starts[id]
        let length = starts[id + 1] - start
        guard length == bytes.count else { return false }
        if length == 0 { return true }
        return arena.withUnsafeBytes { all in
            memcmp(all.baseAddress! + start, bytes.baseAddress!, length) == 0
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [Int32](repeating: 0, count: size)
        var newHashes = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        for (slot, entry) in slots.enumerated() where entry != 0 {
            var target = Int(truncatingIfNeeded: slotHashes[slot]) & newMask
            while newSlots[target] != 0 { target = (target + 1) & newMask }
            newSlots[target] = entry
            newHashes[target] = slotHashes[slot]
        }
        slots = newSlots
        slotHashes = newHashes
        mask = newMask
    }
}

/// A map from 64-bit keys to row indices, open addressing with linear probing. Keys are spread by
/// `ByteHash.fmix64`, so structured keys (bucket, dimension, id packed into bits) probe well.
///
/// Once the table is large (past `recentThreshold` slots, several MB), lookups go through a direct-mapped
/// cache of recent keys first: an aggregator's lines mostly hit the rows of the current time bucket, a few
/// thousand, which the cache holds in one cache line each, where the table would cost two misses (key and
/// row live in separate arrays) in memory far larger than the CPU's caches.
public struct RowIndex: Sendable {
    private var keys: [UInt64]
    /// Row index + 1; 0 is empty.
    private var values: [Int32]
    private var mask: Int
    public private(set) var count = 0
    /// Pairs (key, row + 1), a row of 0 being empty; empty until the table passes `recentThreshold`.
    private var recent: [UInt64] = []

    /// Table slots past which the recent-keys cache is used.
    static let recentThreshold = 1 << 16
    /// log2 of the recent-keys cache's entries (16 bytes each: 512 KiB).
    static let recentBits = 15

    public init(capacity: Int = 4096) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
        if size >= Self.recentThreshold { recent = Array(repeating: 0, count: 2 << Self.recentBits) }
    }

    /// The row for `key`, or the result of `make()` stored as its row when absent.
    @inline(__always)
    public mutating func row(for key: UInt64, orInsert make: () -> Int) -> Int {
        guard !recent.isEmpty else { return tableRow(for: key, orInsert: make) }
        let entry = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - Self.recentBits)) &* 2
        if recent[entry + 1] != 0, recent[entry] == key { return Int(recent[entry + 1]) - 1 }
        let row = tableRow(for: key, orInsert: make)
        recent[entry] = key
        recent[entry + 1] = UInt64(row + 1)
        return row
    }

    /// Empties the table, keeping its size (and its recent-keys cache's).
    public mutating func removeAll() {
        values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        recent.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        count = 0
    }

    private mutating func tableRow(for key: UInt64, orInsert make: () -> Int) -> Int {
        var slot = Int(truncatingIfNeeded: ByteHash.fmix64(key)) & mask
        while true {
            let value = values[slot]
            if value == 0 { break }
            if keys[slot] == key { return Int(value) - 1 }
            slot = (slot + 1) & mask
        }
        let row = make()
        keys[slot] = key
        values[slot] = Int32(row + 1)
        count += 1
        if count * 2 > values.count { grow() }
        return row
    }

    private mutating func grow() {
        let size = values.count * 2
        var newKeys = [UInt64](repeating: 0, count: size)
        var newValues = [Int32](repeating: 0, count: size)
        let newMask = size - 1
        for slot in 0..<values.count where values[slot] != 0 {
            var target = Int(truncatingIfNeeded: ByteHash.fmix64(keys[slot])) & newMask
            while newValues[target] != 0 { target = (target + 1) & newMask }
            newKeys[target] = keys[slot]
            newValues[target] = values[slot]
        }
        keys = newKeys
        values = newValues
        mask = newMask
        // Rows never move, so the cache stays valid as the table grows.
        if size >= Self.recentThreshold, recent.isEmpty { recent = Array(repeating: 0, count: 2 << Self.recentBits) }
    }
}
