/// The width of a trend bucket. Buckets are aligned to UTC: an hour bucket starts at `HH:00:00Z`, a day
/// bucket at `00:00:00Z`.
public enum TimeBucket: String, Sendable, CaseIterable, Codable {
    case hour
    case day

    /// The bucket's width in seconds.
    public var seconds: Int64 {
        switch self {
        case .hour: 3_600
        case .day: 86_400
        }
    }

    /// The start (epoch seconds, UTC) of the bucket holding `epochSeconds`.
    @inlinable
    public func start(of epochSeconds: Int64) -> Int64 {
        let width = seconds
        // Floor division, so that instants before 1970 land in the right bucket too.
        let quotient = epochSeconds >= 0 ? epochSeconds / width : (epochSeconds - width + 1) / width
        return quotient * width
    }
}

/// Civil-calendar arithmetic in UTC, without Foundation: the hot path turns log timestamps into epoch
/// seconds, and the writers turn bucket starts back into ISO-8601 text.
///
/// The algorithms are Howard Hinnant's `days_from_civil` and `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html>), exact over the proleptic Gregorian calendar.
public enum CivilTime {
    /// Days since 1970-01-01 of the civil date `year-month-day` (month 1...12, day 1...31).
    @inlinable
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date (year, month 1...12, day 1...31) of `days` since 1970-01-01.
    @inlinable
    public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }

    /// The UTC day number (days since 1970-01-01) holding `epochSeconds`.
    @inlinable
    public static func dayNumber(of epochSeconds: Int64) -> Int64 {
        epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
    }

    /// `epochSeconds` as ISO-8601 UTC text with a `Z` suffix, e.g. `2026-01-01T13:00:00Z`.
    public static func iso8601(_ epochSeconds: Int64) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(20)
        appendISO8601(epochSeconds, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends `epochSeconds` as ISO-8601 UTC text (`2026-01-01T13:00:00Z`) to `out`, without making a
    /// `String`: the events output writes one per event.
    public static func appendISO8601(_ epochSeconds: Int64, to out: inout [UInt8]) {
        let days = dayNumber(of: epochSeconds)
        let secondOfDay = epochSeconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); out.append(UInt8(ascii: "-")); digits(month, 2); out.append(UInt8(ascii: "-")); digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3_600, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2); out.append(UInt8(ascii: "Z"))
    }

    /// `days` since 1970-01-01 as `yyyy-mm-dd`.
    public static func isoDate(day days: Int64) -> String {
        let (year, month, day) = civilFromDays(days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// Numbers the buckets an aggregator has seen, in order of first appearance, so that rows are keyed by a
/// small ordinal instead of a timestamp. Logs are mostly in time order, so the last bucket is checked first.
struct BucketIndex: Sendable {
    let bucket: TimeBucket
    /// Bucket starts (epoch seconds UTC), by ordinal.
    private(set) var starts: [Int64] = []
    private var ordinals: [Int64: Int] = [:]
    private var lastStart: Int64 = .min
    private var lastOrdinal = 0

    /// The start of the bucket asked for last (the latest event's), or nil before the first.
    var currentStart: Int64? { lastStart == .min ? nil : lastStart }

    init(bucket: TimeBucket) {
        self.bucket = bucket
    }

    /// The ordinal of the bucket holding `time` (epoch seconds UTC).
    @inline(__always)
    mutating func ordinal(for time: Int64) -> Int {
        let start = bucket.start(of: time)
        if start == lastStart { return lastOrdinal }
        let ordinal: Int
        if let known = ordinals[start] {
            ordinal = known
        } else {
            ordinal = starts.count
            starts.append(start)
            ordinals[start] = ordinal
        }
        lastStart = start
        lastOrdinal = ordinal
        return ordinal
    }
}

/// Numbers the k-anonymity folds of one `records` pass, one per (bucket ordinal, dimension) key, in the order
/// they first appear, so that each fold is merged into in place in an array.
struct FoldSlots {
    private var slots: [UInt64: Int] = [:]

    /// The slot of `key`, and whether this is its first row (the caller then appends the fold).
    mutating func slot(for key: UInt64) -> (slot: Int, isNew: Bool) {
        if let existing = slots[key] { return (existing, false) }
        let slot = slots.count
        slots[key] = slot
        return (slot, true)
    }
}
