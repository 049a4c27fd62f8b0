/// Byte strings stored back to back in one array, addressed by index; built once, appended many times.
struct BytePool: Sendable {
    private(set) var bytes: [UInt8] = []
    private var ends: [Int] = []

    var count: Int { ends.count }

    mutating func add(_ string: String) {
        bytes.append(contentsOf: string.utf8)
        ends.append(bytes.count)
    }

    mutating func add(_ value: [UInt8]) {
        bytes.append(contentsOf: value)
        ends.append(bytes.count)
    }

    func range(_ index: Int) -> Range<Int> {
        (index == 0 ? 0 : ends[index - 1])..<ends[index]
    }

    @inline(__always)
    func write(_ index: Int, to line: inout LineWriter) {
        let range = range(index)
        bytes.withUnsafeBufferPointer { line.write(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

/// Zipf–Mandelbrot ranks: rank k (0-based) has weight 1/(k + 1 + offset), sampled in O(1) with Walker's alias
/// method (Vose's construction).
///
/// The weights are integers (2^40 / (k + 1 + offset)) and the alias table is built with integer arithmetic, so
/// sampling gives the same ranks on every platform; no `pow` or `log`, whose last bits differ between libms.
/// A binary search over cumulative weights was the generator's hottest spot (cache misses on 52k entries).
struct ZipfTable: Sendable {
    private struct Slot: Sendable {
        var threshold: UInt64  // keep this slot's own rank when the draw is below it
        var alias: Int
    }

    private let slots: [Slot]
    private let weights: [UInt64]
    /// Sum of all weights; each slot covers `total` units.
    let total: UInt64

    init(count: Int, offset: UInt64) {
        precondition(count > 0, "a Zipf table needs at least one rank")
        let weights = (0..<count).map { (1 << 40) / (UInt64($0) + 1 + offset) }
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * UInt64(count) }  // sums to count × total
        var slots = (0..<count).map { Slot(threshold: total, alias: $0) }
        var small = [Int]()
        var large = [Int]()
        for rank in (0..<count).reversed() {
            if scaled[rank] < total { small.append(rank) } else { large.append(rank) }
        }
        while let under = small.popLast() {
            guard let over = large.popLast() else { break }
            slots[under] = Slot(threshold: scaled[under], alias: over)
            scaled[over] -= total - scaled[under]
            if scaled[over] < total { small.append(over) } else { large.append(over) }
        }
        self.slots = slots
        self.weights = weights
        self.total = total
    }

    /// Weight of `rank`, in the table's integer units.
    func weight(_ rank: Int) -> UInt64 {
        weights[rank]
    }

    @inline(__always)
    func sample(_ rng: inout Xoshiro256StarStar) -> Int {
        let index = rng.below(slots.count)
        let slot = slots[index]
        let draw = rng.next().multipliedFullWidth(by: total).high  // uniform in 0..<total
        return draw < slot.threshold ? index : slot.alias
    }
}

/// A small categorical distribution over `0..<weights.count` with integer weights.
struct WeightedChoice: Sendable {
    private let cumulative: [UInt32]

    init(_ weights: [UInt32]) {
        var sum: UInt32 = 0
        cumulative = weights.map { sum += $0; return sum }
        precondition(sum > 0, "weights must not all be zero")
    }

    @inline(__always)
    func sample(_ rng: inout Xoshiro256StarStar) -> Int {
        let target = UInt32(rng.below(Int(cumulative[cumulative.count - 1])))
        var index = 0
        while cumulative[index] <= target { index &+= 1 }
        return index
    }
}

// MARK: - Writing a line

/// Assembles one line in caller-provided scratch memory, so that a line costs one append to the output buffer
/// instead of a dozen small ones (the first version appended piece by piece and spent a fifth of its time in
/// `memmove` calls and uniqueness checks).
///
/// Lines are bounded by construction (pool entries are short); exceeding `capacity` is a programming error.
struct LineWriter {
    static let capacity = 4_096

    private let base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0

    init(_ storage: UnsafeMutableBufferPointer<UInt8>) {
        precondition(storage.count >= Self.capacity, "line storage too small")
        // Safe to force-unwrap: a buffer of at least `capacity` bytes has a base address.
        base = storage.baseAddress!
    }

    var written: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base, count: count)
    }

    subscript(index: Int) -> UInt8 {
        get { precondition(index < count); return base[index] }
        set { precondition(index < count); base[index] = newValue }
    }

    mutating func truncate(to newCount: Int) {
        precondition(newCount <= count)
        count = newCount
    }

    @inline(__always)
    private mutating func reserve(_ extra: Int) -> UnsafeMutablePointer<UInt8> {
        precondition(count + extra <= Self.capacity, "line longer than LineWriter.capacity")
        defer { count += extra }
        return base + count
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        reserve(1).pointee = byte
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        reserve(bytes.count).update(from: source, count: bytes.count)
    }

    @inline(__always)
    mutating func write(_ string: StaticString) {
        string.withUTF8Buffer { write($0) }
    }

    @inline(__always)
    mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { write($0) }
    }

    /// For cold paths (planted personal data, malformed lines).
    mutating func write(utf8 string: String) {
        for byte in string.utf8 { write(byte) }
    }

    /// Decimal digits of `value`, no padding.
    @inline(__always)
    mutating func writeDecimal(_ value: UInt64) {
        var digitCount = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digitCount += 1
        }
        let digits = reserve(digitCount)
        rest = value
        for index in stride(from: digitCount - 1, through: 0, by: -1) {
            digits[index] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }

    /// Exactly two digits, zero-padded (0...99).
    @inline(__always)
    mutating func writeTwoDigits(_ value: Int) {
        let digits = reserve(2)
        digits[0] = 0x30 &+ UInt8(truncatingIfNeeded: value / 10)
        digits[1] = 0x30 &+ UInt8(truncatingIfNeeded: value % 10)
    }

    /// `length` characters of `[a-z0-9]` derived from `seed`, never more than `maxDigitRun` digits in a row, so
    /// that no token can look like a card number.
    mutating func writeToken(seed: UInt64, length: Int, maxDigitRun: Int = 6) {
        var state = SplitMix64(seed: seed)
        var bits: UInt64 = 0
        var digitRun = 0
        let out = reserve(length)
        for position in 0..<length {
            if position % 10 == 0 { bits = state.next() }
            let symbol = Int(bits % 36)
            bits /= 36
            if symbol >= 26 && digitRun < maxDigitRun {
                out[position] = 0x30 &+ UInt8(symbol - 26)
                digitRun += 1
            } else {
                out[position] = 0x61 &+ UInt8(symbol % 26)
                digitRun = 0
            }
        }
    }

    /// `length` lowercase hex digits derived from `seed`, with a letter forced after `maxDigitRun` digits.
    mutating func writeHexToken(seed: UInt64, length: Int, maxDigitRun: Int = 6) {
        var state = SplitMix64(seed: seed)
        var bits: UInt64 = 0
        var digitRun = 0
        let out = reserve(length)
        for position in 0..<length {
            if position % 16 == 0 { bits = state.next() }
            var nibble = UInt8(truncatingIfNeeded: bits & 0xF)
            bits >>= 4
            if nibble < 10 && digitRun >= maxDigitRun { nibble = 10 + nibble % 6 }
            if nibble < 10 {
                out[position] = 0x30 &+ nibble
                digitRun += 1
            } else {
                out[position] = 0x61 &+ nibble - 10
                digitRun = 0
            }
        }
    }
}

extension String {
    /// Writes with a `LineWriter` and returns the result as a String, for building pools at init time.
    static func written(_ body: (inout LineWriter) -> Void) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: LineWriter.capacity) { storage in
            var writer = LineWriter(storage)
            body(&writer)
            return String(decoding: writer.written, as: UTF8.self)
        }
    }

    /// Hex token as a String (see `LineWriter.writeHexToken`).
    static func hexToken(seed: UInt64, length: Int) -> String {
        written { $0.writeHexToken(seed: seed, length: length) }
    }

    /// `[a-z0-9]` token as a String (see `LineWriter.writeToken`).
    static func token(seed: UInt64, length: Int) -> String {
        written { $0.writeToken(seed: seed, length: length) }
    }
}
