import CPrefetch

// Only for linking libm: on Linux `squareRoot()` and `rounded()` below compile to calls to sqrt and
// round, and a module that imports neither Foundation nor the C library does not link libm.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A HyperLogLog sketch of the number of distinct elements in a stream, at precision 14
/// (m = 16384 registers, standard error about 1.04 / √m ≈ 0.81 %).
///
/// The register scheme is HyperLogLog (Flajolet, Fusy, Gandouet, Meunier, "HyperLogLog: the analysis
/// of a near-optimal cardinality estimation algorithm", AofA 2007). Each element arrives as a
/// well-mixed 64-bit hash: its top 14 bits pick a register, and the register keeps the largest
/// rank seen, where the rank is the number of leading zeros of the remaining 50 bits plus one
/// (so ranks run from 1 to 51, and 0 means "never touched").
///
/// Small sketches are stored sparsely, as in HyperLogLog++ (Heule, Nunkesser, Hall, "HyperLogLog in
/// practice", EDBT 2013), but at the same precision as the dense form, so the two forms hold
/// exactly the same information: converting is lossless and `merge(_:)` is exact in every
/// combination. An empty sketch, or one of one or two touched registers, allocates nothing; a sketch
/// with a handful of elements costs 4 bytes per touched register; past `sparseLimit` touched
/// registers it becomes one byte per register (16 KiB). Which form a sketch uses depends only on its
/// register values, so equal sketches have equal representations and identical `serialized()` bytes.
///
/// The estimate is Otmar Ertl's improved raw estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017, arXiv:1702.01284), which needs no empirical bias tables
/// and is nearly unbiased from 0 up to the saturation of the 64-bit hash space.
public struct HyperLogLog: Sendable, Equatable {
    /// The number of hash bits that select a register.
    public static let precision = 14

    /// m, the number of registers.
    static let registerCount = 1 << precision
    /// q + 1 = 64 − p + 1: the largest rank a register can hold.
    static let maxRank = 64 - precision + 1
    /// The most touched registers kept in sparse form. A sparse insert searches and moves entries, a dense one
    /// raises one byte; past 512 entries the searching cost more than the 16 KiB of a dense sketch saved (the
    /// rows of a bucket's browsers, systems and top referrers, a few dozen). Which form is in memory does
    /// not show in the serialized bytes, which take the shorter layout whatever the form.
    static let sparseLimit = 512

    /// Registers in one of two equivalent forms.
    ///
    /// - `sparse`: the touched registers only, as `index << 6 | rank`, sorted by index, one entry
    ///   per index, rank in 1...51. At most `sparseLimit` entries.
    /// - `dense`: all `registerCount` registers, one byte each. More than `sparseLimit` are nonzero.
    enum Storage: Sendable {
        case sparse([UInt32])
        case dense([UInt8])
    }

    /// The registers, in the form `storage` describes, as two plain arrays rather than an enum: a register
    /// update then writes in place with no retain or release of the enum's payload (an insert is the
    /// aggregator's most frequent operation, ten per access-log line). Exactly one of the two is used: the
    /// touched entries while sparse (`dense` empty), all `registerCount` registers once dense (`sparse`
    /// empty). An empty sketch has both empty.
    ///
    /// While sparse, `sparse[..<sortedCount]` is sorted by index and the rest, at most `pendingLimit`
    /// entries, is newly touched registers in arrival order, each index once over the whole array. They are
    /// sorted and merged in one pass when the tail is full: inserting each into the sorted part would move
    /// on average half of it (up to 2 KiB) for every new register, which measured a tenth of a run.
    /// Everything that reads the sketch sees the canonical, fully sorted form (`storage`).
    ///
    /// One or two touched registers are kept inline instead (`inline`, both arrays empty): most of an
    /// aggregator's rows (a path in one hour) see one or two visitors, and need no allocation that way. Which
    /// of the three places holds the registers depends only on how many are touched.
    private var sparse: [UInt32] = []
    /// `sortedCount`, in 32 bits so that a sketch with its inline entries takes 32 bytes.
    private var sortedCount32: UInt32 = 0
    /// Up to two sparse entries, ascending by index; 0 is an empty place (an entry's rank is never 0).
    private var inline: (UInt32, UInt32) = (0, 0)
    private var dense: [UInt8] = []

    /// The sorted prefix of `sparse`.
    private var sortedCount: Int {
        get { Int(sortedCount32) }
        set { sortedCount32 = UInt32(truncatingIfNeeded: newValue) }
    }
    /// The most unsorted entries at the end of `sparse`.
    static let pendingLimit = 32
    /// Below this many entries a new register is inserted in place, keeping `sparse` sorted.
    static let sortedInsertLimit = 128

    /// The registers' canonical form, for code that is not on the hot path.
    var storage: Storage {
        guard dense.isEmpty else { return .dense(dense) }
        if sparse.isEmpty { return .sparse(inlineEntries) }
        guard sortedCount < sparse.count else { return .sparse(sparse) }
        var copy = self
        copy.mergePending()
        return .sparse(copy.sparse)
    }

    /// An empty sketch; it allocates nothing until the first `insert(hash:)`.
    public init() {}

    init(storage: Storage) {
        switch storage {
        case .sparse(let entries): sparse = entries; sortedCount = entries.count
        case .dense(let registers): dense = registers
        }
        moveInlineIfSmall()
    }

    /// The inline entries, in order.
    private var inlineEntries: [UInt32] {
        inline.0 == 0 ? [] : inline.1 == 0 ? [inline.0] : [inline.0, inline.1]
    }

    /// A sparse array of at most two entries moves inline, as the canonical placement wants.
    private mutating func moveInlineIfSmall() {
        guard dense.isEmpty, !sparse.isEmpty, sparse.count <= 2 else { return }
        mergePending()
        inline = (sparse[0], sparse.count == 2 ? sparse[1] : 0)
        sparse = []
        sortedCount = 0
    }

    /// Inline entries move to the sparse array (before code that works on the array).
    private mutating func moveInlineToArray() {
        guard inline.0 != 0 else { return }
        sparse = inlineEntries
        sortedCount = sparse.count
        inline = (0, 0)
    }

    // MARK: - Inserting

    /// Adds one element, given as a well-mixed 64-bit hash (the caller hashes; see `HyperLogLog.mix(_:)`).
    ///
    /// Inserting the same hash again changes nothing.
    ///
    /// - Complexity: O(1) when dense; O(log k) to find and O(k) to insert when sparse with k entries
    ///   (k ≤ `sparseLimit`).
    @inline(__always)
    public mutating func insert(hash: UInt64) {
        let index = Int(truncatingIfNeeded: hash >> (64 - Self.precision))
        // The sentinel bit just below the 50 remaining bits caps the rank at 51 when they are all zero.
        let rest = (hash << Self.precision) | (1 << (Self.precision - 1))
        let rank = UInt8(truncatingIfNeeded: rest.leadingZeroBitCount + 1)
        insert(entry: Self.entry(index: index, rank: rank))
    }

    /// Asks for the memory `insert(hash:)` of `hash` will read to be brought into the core's cache: the
    /// register, when the sketch is dense; where the search of the sorted entries starts, when it has many. A
    /// hint only: `mutating` although it changes nothing, so that a sketch in an array is read in place rather
    /// than copied (and its storage retained) for the call.
    @inline(__always)
    public mutating func prefetch(hash: UInt64) {
        let index = Int(truncatingIfNeeded: hash >> (64 - Self.precision))
        if !dense.isEmpty {
            dense.withUnsafeBufferPointer { crumb_prefetch($0.baseAddress! + index) }
        } else if sortedCount >= Self.guessedSearchMinimum {
            sparse.withUnsafeBufferPointer { crumb_prefetch($0.baseAddress! + Self.guessedPosition(of: index, amongSorted: sortedCount)) }
        }
    }

    /// Sorted entries from which a sparse insert starts its search at `guessedPosition` (and `prefetch` fetches
    /// there); below it, the search halves the whole sorted part.
    static let guessedSearchMinimum = 64

    /// Where register `index`'s entry should sit among `sorted` sorted entries: indices are uniform (the top bits
    /// of a mixed hash), so about index·n/m. Where a sparse insert starts its search, and what `prefetch` fetches.
    @inline(__always)
    private static func guessedPosition(of index: Int, amongSorted sorted: Int) -> Int {
        (index &* sorted) >> precision
    }

    /// Raises one register to an entry's rank, whatever the form.
    @inline(__always)
    private mutating func insert(entry: UInt32) {
        if !dense.isEmpty {
            let index = Int(entry >> 6)
            dense[index] = max(dense[index], UInt8(truncatingIfNeeded: entry & 0x3F))
        } else if sparse.isEmpty {
            insertInline(entry)
        } else {
            insertSparse(entry)
        }
    }

    /// Inserts into a sketch of at most two touched registers, held inline; a third moves them all to the
    /// sparse array.
    @inline(__always)
    private mutating func insertInline(_ entry: UInt32) {
        let index = entry >> 6
        if inline.0 == 0 {
            inline.0 = entry
        } else if inline.0 >> 6 == index {
            inline.0 = max(inline.0, entry)
        } else if inline.1 == 0 {
            // Entries of different indices order as their indices do.
            inline = inline.0 < entry ? (inline.0, entry) : (entry, inline.0)
        } else if inline.1 >> 6 == index {
            inline.1 = max(inline.1, entry)
        } else {
            // Most rows see a handful of elements: one allocation for the first eight, not regrowths.
            sparse.reserveCapacity(8)
            let (a, b) = inline
            if entry < a {
                sparse.append(entry); sparse.append(a); sparse.append(b)
            } else if entry < b {
                sparse.append(a); sparse.append(entry); sparse.append(b)
            } else {
                sparse.append(a); sparse.append(b); sparse.append(entry)
            }
            sortedCount = 3
            inline = (0, 0)
        }
    }

    private mutating func insertSparse(_ entry: UInt32) {
        let index = Int(entry >> 6)
        let key = entry & ~0x3F
        // Where the index is (an existing entry), or where it would go in the sorted part (`found` false).
        let (found, position): (Bool, Int) = sparse.withUnsafeBufferPointer { entries in
            let sorted = sortedCount
            var low = 0
            var high = sorted
            // Register indices are uniform (the top bits of a mixed hash), so the entry for `index` sits near
            // index·n/m: gallop outwards from there (a few probes in one or two cache lines) before the
            // binary search, instead of halving from the middle of up to 2 KiB.
            if sorted >= Self.guessedSearchMinimum {
                let guess = Self.guessedPosition(of: index, amongSorted: sorted)
                var step = 16
                if entries[guess] < key {
                    low = guess + 1
                    while low + step <= sorted, entries[low + step - 1] < key {
                        low += step
                        step <<= 1
                    }
                    high = min(low + step, sorted)
                } else {
                    high = guess
                    while high - step >= 0, entries[high - step] >= key {
                        high -= step
                        step <<= 1
                    }
                    low = max(high - step + 1, 0)
                }
            }
            low = Self.lowerBound(of: key, in: entries.baseAddress! + low, count: high - low) + low
            if low < sorted, entries[low] >> 6 == UInt32(index) { return (true, low) }
            if let pending = Self.firstIndex(of: UInt32(index), in: entries, from: sorted) { return (true, pending) }
            return (false, low)
        }
        if found {
            if entry > sparse[position] { sparse[position] = entry }
            return
        }
        if sortedCount == sparse.count, sortedCount < Self.sortedInsertLimit {
            // Small sketches, most of them, stay sorted: moving a few hundred bytes is cheap, and a sketch
            // that is always canonical needs no sorted copy when it is read.
            sparse.insert(entry, at: position)
            sortedCount += 1
            return
        }
        sparse.append(entry)
        if sparse.count - sortedCount >= Self.pendingLimit || sparse.count > Self.sparseLimit { mergePending() }
        if sparse.count > Self.sparseLimit {
            dense = Self.denseRegisters(from: sparse)
            sparse = []
            sortedCount = 0
        }
    }

    /// The first position in `entries[0..<count]` (sorted) whose entry is not below `key`; `count` when none.
    ///
    /// It halves the window down to 64 entries, then counts the entries below the key eight at a time with no
    /// branch on their values: where a key falls among its neighbours is as good as random, and a binary search
    /// to the end mispredicted about every other step, most of an insert's cost. Entries are below 2²⁰
    /// (`index << 6 | rank`), so the sign bit of a lane's difference says whether it is below.
    @inline(__always)
    static func lowerBound(of key: UInt32, in entries: UnsafePointer<UInt32>, count: Int) -> Int {
        var base = 0
        var length = count
        while length > 64 {
            let half = length >> 1
            if entries[base + half] < key { base += half }
            length -= half
        }
        var below = SIMD8<UInt32>(repeating: 0)
        let keys = SIMD8<UInt32>(repeating: key)
        let raw = UnsafeRawPointer(entries + base)
        var offset = 0
        while offset + 8 <= length {
            below &+= (raw.loadUnaligned(fromByteOffset: offset * 4, as: SIMD8<UInt32>.self) &- keys) &>> 31
            offset += 8
        }
        var total = Int(below.wrappedSum())
        while offset < length {
            total += entries[base + offset] < key ? 1 : 0
            offset += 1
        }
        return base + total
    }

    /// The position of the entry of register `index` among `entries[start...]` (unsorted): eight entries are
    /// checked at a time, and the eight that hold it are read one by one.
    @inline(__always)
    static func firstIndex(of index: UInt32, in entries: UnsafeBufferPointer<UInt32>, from start: Int) -> Int? {
        var position = start
        let wanted = SIMD8<UInt32>(repeating: index)
        let raw = UnsafeRawPointer(entries.baseAddress!)
        while position + 8 <= entries.count {
            // A lane is 0 where the index matches. Arithmetic, not `.==`: a SIMD comparison's mask compiles to a
            // loop over the lanes. Indices are below 2¹⁴, so only a 0 lane wraps to set bit 31 when decremented.
            let lanes = (raw.loadUnaligned(fromByteOffset: position * 4, as: SIMD8<UInt32>.self) &>> 6) ^ wanted
            if ((lanes &- 1) &>> 31).wrappedSum() != 0 { break }
            position += 8
        }
        while position < entries.count {
            if entries[position] >> 6 == index { return position }
            position += 1
        }
        return nil
    }

    /// Sorts the pending tail of `sparse` and merges it into the sorted part, in place, from the back.
    private mutating func mergePending() {
        guard sortedCount < sparse.count else { return }
        let total = sparse.count
        let sorted = sortedCount
        let tailCount = total - sorted
        // The tail is at most `pendingLimit` entries: a stack buffer holds it while the merge fills the array
        // from its end. Each pending entry, largest first, finds its place in the sorted part by binary search;
        // the sorted entries above it move up in one block (`update(from:count:)` copies overlapping memory
        // safely). The sorted part, up to `sparseLimit` entries, is moved a block at a time, not entry by entry.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.pendingLimit) { pending in
            sparse.withUnsafeMutableBufferPointer { entries in
                entries[sorted...].sort()
                for offset in 0..<tailCount { pending[offset] = entries[sorted + offset] }
                let base = entries.baseAddress!
                var write = total  // entries[write...] are final
                var placed = sorted  // entries[..<placed] of the sorted part have not moved yet
                for j in stride(from: tailCount - 1, through: 0, by: -1) {
                    let entry = pending[j]
                    // The first sorted entry above `entry` (no two entries share an index, so none is equal).
                    let low = Self.lowerBound(of: entry, in: UnsafePointer(base), count: placed)
                    let moving = placed - low
                    write -= moving
                    if moving > 0 { (base + write).update(from: base + low, count: moving) }
                    write -= 1
                    entries[write] = entry
                    placed = low
                }
            }
        }
        sortedCount = total
    }

    // MARK: - Merging

    /// Folds `other` in: afterwards self equals the sketch of the union, exactly as if every element had been inserted into one sketch.
    ///
    /// Each register becomes the larger of the two, so merging is commutative, associative and
    /// idempotent, whatever form either sketch is in.
    ///
    /// - Complexity: O(k₁ + k₂) for two sparse sketches, O(m) when either is dense.
    public mutating func merge(_ other: HyperLogLog) {
        if other.dense.isEmpty, other.sparse.isEmpty {
            // At most two registers, inline: inserting them is merging them (a register keeps the larger rank).
            if other.inline.0 != 0 { insert(entry: other.inline.0) }
            if other.inline.1 != 0 { insert(entry: other.inline.1) }
            return
        }
        // Merged as arrays. Other holds three registers or more, so the result does too: it stays an array.
        moveInlineToArray()
        mergePending()
        var other = other
        other.moveInlineToArray()
        other.mergePending()
        if !other.dense.isEmpty {
            if dense.isEmpty {
                var registers = other.dense
                Self.raise(&registers, to: sparse)
                dense = registers
                sparse = []
                sortedCount = 0
            } else {
                // Through pointers, with no branch per register: a loop the compiler vectorizes.
                other.dense.withUnsafeBufferPointer { theirs in
                    dense.withUnsafeMutableBufferPointer { ours in
                        for index in 0..<Self.registerCount { ours[index] = max(ours[index], theirs[index]) }
                    }
                }
            }
        } else if !other.sparse.isEmpty {
            if !dense.isEmpty {
                Self.raise(&dense, to: other.sparse)
            } else if sparse.isEmpty {
                sparse = other.sparse  // shares other's storage until one of them is written
                sortedCount = sparse.count
            } else {
                let union = Self.union(sparse, other.sparse)
                if union.count > Self.sparseLimit {
                    dense = Self.denseRegisters(from: union)
                    sparse = []
                    sortedCount = 0
                } else {
                    sparse = union
                    sortedCount = union.count
                }
            }
        }
    }

    // MARK: - Estimating

    /// Estimated number of distinct elements, rounded to Int.
    ///
    /// Ertl's improved estimator over the register histogram C₀…C₅₁ (arXiv:1702.01284):
    /// α∞·m² / (m·σ(C₀/m) + Σₖ Cₖ·2⁻ᵏ + m·τ(1 − C₅₁/m)·2⁻⁵⁰), with α∞ = 1/(2 ln 2). It is 0 for an empty
    /// sketch and exact to within a unit or two for the first hundred elements. A sketch whose
    /// every register is saturated (only reachable from crafted bytes) reports `Int.max`.
    ///
    /// - Complexity: O(k) when sparse, O(m) when dense.
    public var estimate: Int {
        // Most of a run's rows (a path in one hour) hold one or two registers: their estimates are looked up.
        if dense.isEmpty, sparse.isEmpty {
            return Self.smallEstimates[Int(inline.0 & 0x3F) * (Self.maxRank + 1) + Int(inline.1 & 0x3F)]
        }
        // The register histogram needs no sorted form, so sparse entries are read as they are (each index appears
        // once, pending or not), into a stack buffer: every row's estimate is taken at the end of a run.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.maxRank + 1) { histogram in
            histogram.initialize(repeating: 0)
            var highest = 0
            if dense.isEmpty {
                var touched = 0
                func count(_ entry: UInt32) {
                    let rank = Int(entry & 0x3F)
                    histogram[rank] += 1
                    highest = max(highest, rank)
                    touched += 1
                }
                if inline.0 != 0 { count(inline.0) }
                if inline.1 != 0 { count(inline.1) }
                for entry in sparse { count(entry) }
                histogram[0] = Self.registerCount - touched
            } else {
                // Counted into two histograms, by the register's parity, then added: most ranks are 1 or 2, and
                // each increment of one count waited on the one before (the dense estimate took 14.7 µs → 4.4 µs
                // for 2,000 touched registers, with `forEachTouched` reading 64 registers at a time).
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * 64) { counts in
                    counts.initialize(repeating: 0)
                    Self.forEachTouched(dense) { index, rank in counts[(index & 1) << 6 | Int(rank & 0x3F)] += 1 }
                    var touched = 0
                    for rank in 1...Self.maxRank {
                        histogram[rank] = counts[rank] + counts[64 + rank]
                        touched += histogram[rank]
                    }
                    histogram[0] = Self.registerCount - touched
                }
                highest = Self.maxRank
            }
            return Self.estimate(histogram: UnsafeBufferPointer(histogram), highestRank: highest)
        }
    }

    /// Ertl's estimate from the register histogram C₀…C₅₁, where no register's rank is above `highestRank`.
    ///
    /// Every row's estimate is taken at the end of a run, most of them of a handful of registers, so two things
    /// that do not change the result are skipped: the halvings of z above the highest rank (z is 0 there, with
    /// no saturated register, and stays 0), and σ of an empty-register share a sparse sketch can have, which is
    /// read from a table (the same function of the same value).
    private static func estimate(histogram: UnsafeBufferPointer<Int>, highestRank: Int) -> Int {
        let q = Self.maxRank - 1
        let m = Double(Self.registerCount)
        var z = m * Self.tau(1 - Double(histogram[q + 1]) / m)
        for k in stride(from: min(q, highestRank), through: 1, by: -1) {
            z = 0.5 * (z + Double(histogram[k]))
        }
        let empty = histogram[0]
        let untouched = Self.registerCount - empty
        z += untouched <= Self.sparseLimit ? Self.sparseSigmas[untouched] : m * Self.sigma(Double(empty) / m)

        let alphaInfinity = 0.721_347_520_444_481_703_7  // 1 / (2 ln 2)
        let estimate = alphaInfinity * m * m / z
        guard estimate < 0x1p63 else { return Int.max }
        return Int(estimate.rounded())
    }

    /// The estimate of a sketch of at most two touched registers, at `rank₁ · (maxRank + 1) + rank₂` (rank 0: not
    /// touched), worked out by `estimate(histogram:highestRank:)` as for any other sketch, once per process.
    static let smallEstimates: [Int] = (0...maxRank).flatMap { first in
        (0...maxRank).map { second in
            var histogram = [Int](repeating: 0, count: maxRank + 1)
            for rank in [first, second] where rank > 0 { histogram[rank] += 1 }
            histogram[0] = registerCount - histogram.dropFirst().reduce(0, +)
            return histogram.withUnsafeBufferPointer { estimate(histogram: $0, highestRank: max(first, second)) }
        }
    }

    /// m·σ(C₀/m) for each count of touched registers a sparse sketch can have (C₀ = m − touched), 0...`sparseLimit`.
    static let sparseSigmas: [Double] = (0...sparseLimit).map { touched in
        Double(registerCount) * sigma(Double(registerCount - touched) / Double(registerCount))
    }

    /// σ(x) = x + Σₖ≥₁ x^(2^k)·2^(k−1), the small-range correction for empty registers.
    static func sigma(_ x: Double) -> Double {
        guard x < 1 else { return .infinity }
        var x = x
        var y = 1.0
        var z = x
        while true {
            x *= x
            let previous = z
            z += x * y
            y += y
            if z == previous { return z }
        }
    }

    /// τ(x) = (1 − x − Σₖ≥₁ (1 − x^(2^−k))²·2^−k) / 3, the large-range correction for saturated registers.
    static func tau(_ x: Double) -> Double {
        guard x > 0, x < 1 else { return 0 }
        var x = x
        var y = 1.0
        var z = 1 - x
        while true {
            x = x.squareRoot()
            let previous = z
            y *= 0.5
            z -= (1 - x) * (1 - x) * y
            if z == previous { return z / 3 }
        }
    }

    // MARK: - Equality

    /// Sketches are equal when every register is equal, whatever form each is stored in.
    public static func == (lhs: HyperLogLog, rhs: HyperLogLog) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case (.sparse(let a), .sparse(let b)): a == b
        case (.dense(let a), .dense(let b)): a == b
        case (.sparse(let entries), .dense(let registers)), (.dense(let registers), .sparse(let entries)):
            Self.denseRegisters(from: entries) == registers
        }
    }

    // MARK: - Hashing helper

    /// A fast, well-mixed 64-bit finaliser (e.g. the splitmix64 / murmur3 fmix64 finaliser) for callers that have a 64-bit value to insert.
    ///
    /// This is the splitmix64 output function (Steele, Lea, Flood 2014, with Stafford's "Mix13"
    /// constants). It is a bijection, so distinct inputs never collide; it maps 0 to 0. It is not
    /// keyed: callers hashing attacker-chosen values should use a keyed hash instead.
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: - Representation helpers

    /// All m registers, one byte each, whatever the form.
    var registers: [UInt8] {
        switch storage {
        case .sparse(let entries): Self.denseRegisters(from: entries)
        case .dense(let registers): registers
        }
    }

    var isDense: Bool {
        if case .dense = storage { true } else { false }
    }

    static func entry(index: Int, rank: UInt8) -> UInt32 {
        UInt32(truncatingIfNeeded: index) << 6 | UInt32(rank)
    }

    /// Merges two sorted entry lists; where both touch a register, the larger rank wins.
    static func union(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count, j < b.count {
            let indexA = a[i] >> 6
            let indexB = b[j] >> 6
            if indexA < indexB {
                result.append(a[i]); i += 1
            } else if indexB < indexA {
                result.append(b[j]); j += 1
            } else {
                // Same index bits, so the larger entry is the larger rank.
                result.append(max(a[i], b[j])); i += 1; j += 1
            }
        }
        result.append(contentsOf: a[i...])
        result.append(contentsOf: b[j...])
        return result
    }

    static func denseRegisters(from entries: [UInt32]) -> [UInt8] {
        var registers = [UInt8](repeating: 0, count: registerCount)
        raise(&registers, to: entries)
        return registers
    }

    /// The registers of `registers` that are not 0, counted eight at a time (`nonzeroBytes`).
    static func touchedCount(_ registers: [UInt8]) -> Int {
        registers.withUnsafeBytes { raw in
            var count = 0
            for word in 0..<raw.count / 8 {
                count += nonzeroBytes(raw.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)).nonzeroBitCount
            }
            return count
        }
    }

    /// The high bit of each byte of `word` that is not 0, the other bits clear.
    @inline(__always)
    static func nonzeroBytes(_ word: UInt64) -> UInt64 {
        let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return (((word & low) &+ low) | word) & ~low
    }

    /// Calls `body` with the index and rank of every register of `registers` that is not 0, in index order.
    ///
    /// Sixty-four registers at a time: a bit for each that is not 0, eight words' `nonzeroBytes` gathered
    /// (`highBits`), then the set bits in order. A dense sketch is mostly a few per cent full, so whether a word
    /// of eight registers held any was a coin toss the processor mispredicted, and so was the end of each word's
    /// few: this has one loop end to mispredict per 64 registers (twice to three times as fast below 5,000
    /// touched registers).
    @inline(__always)
    static func forEachTouched(_ registers: [UInt8], _ body: (Int, UInt8) -> Void) {
        registers.withUnsafeBytes { raw in
            precondition(raw.count % 64 == 0, "registers come 64 to a block")
            for block in stride(from: 0, to: raw.count, by: 64) {
                var touched: UInt64 = 0
                for word in 0..<8 {
                    let value = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: block + word * 8, as: UInt64.self))
                    touched |= highBits(nonzeroBytes(value)) << UInt64(word * 8)
                }
                while touched != 0 {
                    let index = block + touched.trailingZeroBitCount
                    body(index, raw[index])
                    touched &= touched &- 1
                }
            }
        }
    }

    /// The high bit of each byte of `word`, as the eight low bits (byte i's as bit i); the other bits of `word`
    /// must be clear. One multiply moves each to its place in the top byte, with no two products overlapping.
    @inline(__always)
    static func highBits(_ word: UInt64) -> UInt64 {
        ((word >> 7) &* 0x0102_0408_1020_4080) >> 56
    }

    static func raise(_ registers: inout [UInt8], to entries: [UInt32]) {
        for entry in entries {
            let index = Int(entry >> 6)
            let rank = UInt8(truncatingIfNeeded: entry & 0x3F)
            if rank > registers[index] { registers[index] = rank }
        }
    }

    /// The canonical form of a full register array: sparse if few registers are touched.
    static func storage(forRegisters registers: [UInt8]) -> Storage {
        let touched = touchedCount(registers)
        guard touched <= sparseLimit else { return .dense(registers) }
        var entries: [UInt32] = []
        entries.reserveCapacity(touched)
        forEachTouched(registers) { index, rank in entries.append(entry(index: index, rank: rank)) }
        return .sparse(entries)
    }
}

// MARK: - Serialized form

extension HyperLogLog {
    /// The first byte of every serialized sketch; version 1 means precision 14, 6-bit ranks.
    static let formatVersion: UInt8 = 1
    /// The second byte: which layout the data that follows uses.
    static let sparseMode: UInt8 = 0
    static let denseMode: UInt8 = 1
    /// Bytes of packed registers in the dense layout: four 6-bit registers in every 3 bytes.
    static let packedRegisterByteCount = registerCount / 4 * 3

    /// Versioned binary form (first byte a format version, then a mode byte sparse|dense, then data). Sparse for small sets, dense (one byte per register, or 6-bit packed) for large.
    ///
    /// Format version 1, all integers little-endian:
    ///
    /// ```
    /// sparse:  0x01 0x00  count:UInt16  count × (index:UInt16 rank:UInt8)    4 + 3·count bytes
    /// dense:   0x01 0x01  4096 × (r₀ | r₁<<6 | r₂<<12 | r₃<<18 as 3 bytes)  12 290 bytes
    /// ```
    ///
    /// Sparse entries are the touched registers (rank 1...51) in strictly increasing index order
    /// (index < 16384). Dense packs registers 4i…4i+3 into bytes 3i…3i+2 of the data, each 0...51.
    /// The sparse layout is written whenever it is the shorter one (up to 4095 touched registers),
    /// so the bytes depend only on the register values: equal sketches serialize identically.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(into: &bytes)
        return bytes
    }

    /// Writes `serialized()`'s bytes into `bytes`, replacing what it held: a caller serializing many sketches
    /// reuses one buffer. A sketch of one or two registers, or a sorted sparse one, is written without any
    /// other allocation.
    public func serialize(into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        appendSerialized(to: &bytes)
    }

    /// Appends `serialized()`'s bytes to `bytes`, after what it holds: a writer that lays rows end to end
    /// serializes each sketch where it goes, not into a buffer it then copies.
    public func appendSerialized(to bytes: inout [UInt8]) {
        if dense.isEmpty, sparse.isEmpty {
            let count = inline.0 == 0 ? 0 : inline.1 == 0 ? 1 : 2
            Self.appendSparseHeader(count, to: &bytes)
            if count > 0 { Self.appendEntry(inline.0, to: &bytes) }
            if count > 1 { Self.appendEntry(inline.1, to: &bytes) }
            return
        }
        if dense.isEmpty, sortedCount == sparse.count {
            Self.appendSparse(sparse, to: &bytes)
            return
        }
        switch storage {
        case .sparse(let sparse):
            Self.appendSparse(sparse, to: &bytes)
        case .dense(let registers):
            let touched = Self.touchedCount(registers)
            guard 4 + 3 * touched < 2 + Self.packedRegisterByteCount else {
                Self.appendDense(registers, to: &bytes)
                return
            }
            // The sparse layout straight from the registers, skipping words of zeros.
            Self.appendSparse(count: touched, to: &bytes) { write in
                Self.forEachTouched(registers) { index, rank in write(Self.entry(index: index, rank: rank)) }
            }
        }
    }

    /// The sparse layout of `entries` (sorted by index).
    private static func appendSparse(_ entries: [UInt32], to bytes: inout [UInt8]) {
        appendSparse(count: entries.count, to: &bytes) { write in
            for entry in entries { write(entry) }
        }
    }

    /// The sparse layout of the `count` entries `body` passes to its `write` function, in index order: the
    /// bytes are sized first and written through a pointer, not appended one by one (a capacity check each).
    private static func appendSparse(count: Int, to bytes: inout [UInt8],
                                     _ body: ((UInt32) -> Void) -> Void) {
        appendSparseHeader(count, to: &bytes)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 3 * count))
        bytes.withUnsafeMutableBufferPointer { target in
            var offset = start
            body { entry in
                precondition(offset + 3 <= target.count, "HyperLogLog: more sparse entries than counted")
                let index = entry >> 6
                target[offset] = UInt8(truncatingIfNeeded: index)
                target[offset + 1] = UInt8(truncatingIfNeeded: index >> 8)
                target[offset + 2] = UInt8(truncatingIfNeeded: entry & 0x3F)
                offset += 3
            }
        }
    }

    private static func appendSparseHeader(_ count: Int, to bytes: inout [UInt8]) {
        bytes.reserveCapacity(4 + 3 * count)
        bytes.append(formatVersion)
        bytes.append(sparseMode)
        bytes.append(UInt8(truncatingIfNeeded: count))
        bytes.append(UInt8(truncatingIfNeeded: count >> 8))
    }

    @inline(__always)
    private static func appendEntry(_ entry: UInt32, to bytes: inout [UInt8]) {
        let index = entry >> 6
        bytes.append(UInt8(truncatingIfNeeded: index))
        bytes.append(UInt8(truncatingIfNeeded: index >> 8))
        bytes.append(UInt8(truncatingIfNeeded: entry & 0x3F))
    }

    private static func appendDense(_ registers: [UInt8], to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 2 + packedRegisterByteCount)
        bytes.append(formatVersion)
        bytes.append(denseMode)
        let start = bytes.count
        // Sized first, then packed through pointers: 12 KiB appended byte by byte cost a capacity check each.
        bytes.append(contentsOf: repeatElement(0, count: packedRegisterByteCount))
        registers.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBufferPointer { target in
                var offset = start
                for group in stride(from: 0, to: registerCount, by: 4) {
                    let word = UInt32(source[group]) | UInt32(source[group + 1]) << 6
                        | UInt32(source[group + 2]) << 12 | UInt32(source[group + 3]) << 18
                    target[offset] = UInt8(truncatingIfNeeded: word)
                    target[offset + 1] = UInt8(truncatingIfNeeded: word >> 8)
                    target[offset + 2] = UInt8(truncatingIfNeeded: word >> 16)
                    offset += 3
                }
            }
        }
    }

    /// Decodes the bytes written by `serialized()`.
    ///
    /// Accepts exactly the format documented on `serialized()`, in either layout whatever the
    /// number of touched registers (the result is normalised to the canonical in-memory form).
    /// Rejects, without trapping on any input:
    /// - `bad_version`: the first byte is not 1;
    /// - `bad_mode`: the second byte is neither 0 (sparse) nor 1 (dense);
    /// - `truncated`: fewer bytes than the header and entry count call for (including empty input);
    /// - `trailing_bytes`: more bytes than that;
    /// - `bad_count`: a sparse entry count above 16384;
    /// - `bad_register`: an index ≥ 16384, a sparse rank outside 1...51 or a dense register above 51;
    /// - `unsorted_entries`: sparse indices not strictly increasing.
    ///
    /// - Complexity: O(n) in the number of bytes.
    public init(serialized bytes: some Collection<UInt8>) throws(SketchDecodingError) {
        // Read in place when the bytes are contiguous (an array, a buffer from SQLite or a spill), else copied.
        let decoded = bytes.withContiguousStorageIfAvailable(Self.decode)
            ?? Array(bytes).withUnsafeBufferPointer(Self.decode)
        self = try decoded.get()
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<HyperLogLog, SketchDecodingError> {
        do throws(SketchDecodingError) {
            return .success(try HyperLogLog(decoding: bytes))
        } catch {
            return .failure(error)
        }
    }

    private init(decoding bytes: UnsafeBufferPointer<UInt8>) throws(SketchDecodingError) {
        guard let version = bytes.first else { throw .truncated }
        guard version == Self.formatVersion else { throw .badVersion }
        guard bytes.count >= 2 else { throw .truncated }

        switch bytes[1] {
        case Self.sparseMode:
            guard bytes.count >= 4 else { throw .truncated }
            let count = Int(bytes[2]) | Int(bytes[3]) << 8
            guard count <= Self.registerCount else { throw .badCount }
            let expectedCount = 4 + 3 * count
            guard bytes.count >= expectedCount else { throw .truncated }
            guard bytes.count == expectedCount else { throw .trailingBytes }

            // One or two registers (most saved rows) go inline, where the canonical form keeps them, with no array.
            // A loop of its own: one loop for both cases, choosing per entry, ran 0.5% more instructions a run.
            if count <= 2 {
                self.init()
                var previousIndex = -1
                for (place, offset) in stride(from: 4, to: expectedCount, by: 3).enumerated() {
                    let entry = try Self.sparseEntry(in: bytes, at: offset, after: &previousIndex)
                    if place == 0 { inline.0 = entry } else { inline.1 = entry }
                }
                return
            }

            var previousIndex = -1
            // Past the sparse limit (a sketch that is dense in memory, written in the shorter layout), the entries
            // go straight to their registers: each index comes once, so each is a plain store.
            guard count <= Self.sparseLimit else {
                var registers = [UInt8](repeating: 0, count: Self.registerCount)
                try registers.withUnsafeMutableBufferPointer { target throws(SketchDecodingError) in
                    for offset in stride(from: 4, to: expectedCount, by: 3) {
                        let entry = try Self.sparseEntry(in: bytes, at: offset, after: &previousIndex)
                        target[Int(entry >> 6)] = UInt8(truncatingIfNeeded: entry & 0x3F)
                    }
                }
                self.init(storage: .dense(registers))
                return
            }
            var entries: [UInt32] = []
            entries.reserveCapacity(count)
            for offset in stride(from: 4, to: expectedCount, by: 3) {
                entries.append(try Self.sparseEntry(in: bytes, at: offset, after: &previousIndex))
            }
            self.init(storage: .sparse(entries))

        case Self.denseMode:
            let expectedCount = 2 + Self.packedRegisterByteCount
            guard bytes.count >= expectedCount else { throw .truncated }
            guard bytes.count == expectedCount else { throw .trailingBytes }

            // Unpacked in one pass through pointers, the highest rank kept on the way: the register checks
            // come after, as one comparison.
            var highest: UInt8 = 0
            let registers = [UInt8](unsafeUninitializedCapacity: Self.registerCount) { target, initialized in
                var offset = 2
                for group in stride(from: 0, to: Self.registerCount, by: 4) {
                    let word = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    offset += 3
                    for lane in 0..<4 {
                        let rank = UInt8(truncatingIfNeeded: (word >> (6 * UInt32(lane))) & 0x3F)
                        target[group + lane] = rank
                        highest = max(highest, rank)
                    }
                }
                initialized = Self.registerCount
            }
            guard Int(highest) <= Self.maxRank else { throw .badRegister }
            self.init(storage: Self.storage(forRegisters: registers))

        default:
            throw .badMode
        }
    }

    /// The sparse layout's entry at `offset` (index, little-endian, then rank), checked: its index must come after
    /// `previousIndex`, which it then becomes.
    @inline(__always)
    private static func sparseEntry(in bytes: UnsafeBufferPointer<UInt8>, at offset: Int,
                                    after previousIndex: inout Int) throws(SketchDecodingError) -> UInt32 {
        let index = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
        let rank = bytes[offset + 2]
        guard index < registerCount, rank >= 1, Int(rank) <= maxRank else { throw .badRegister }
        guard index > previousIndex else { throw .unsortedEntries }
        previousIndex = index
        return entry(index: index, rank: rank)
    }
}

/// Why `HyperLogLog(serialized:)` rejected its bytes; `reason` is one of the bounded codes listed
/// there, so rejections can be counted and compared.
public struct SketchDecodingError: Error, Equatable, Sendable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public static let badVersion = SketchDecodingError(reason: "bad_version")
    public static let badMode = SketchDecodingError(reason: "bad_mode")
    public static let truncated = SketchDecodingError(reason: "truncated")
    public static let trailingBytes = SketchDecodingError(reason: "trailing_bytes")
    public static let badCount = SketchDecodingError(reason: "bad_count")
    public static let badRegister = SketchDecodingError(reason: "bad_register")
    public static let unsortedEntries = SketchDecodingError(reason: "unsorted_entries")
}
