import Foundation

/// The zone a log writes its local civil times in (`2026-03-29 02:30:00`, as Asterisk's `cdr_csv` and FreeSWITCH's
/// `mod_cdr_csv` write them), and the conversion of those times to epoch seconds UTC.
///
/// Three kinds: `.utc` (Asterisk's `usegmtime=yes`), a fixed offset (`+02:00`), and an IANA zone (`Europe/Berlin`),
/// whose rules come from Foundation's `TimeZone` (the system's tz database). For an IANA zone the offset of each
/// local hour is looked up once and kept in a small cache, so the hot path calls Foundation about once per local
/// hour of the input, not once per row.
///
/// Local times that a daylight-saving change makes ambiguous or impossible are resolved like RFC 5545 and
/// `java.time` resolve them:
/// - in an overlap (clocks set back: `02:30` occurs twice), the earlier instant, i.e. the offset before the
///   change;
/// - in a gap (clocks set forward: `02:30` never occurs), the offset before the change, which lands the time
///   after the gap by the gap's length (`02:30` CET becomes `01:30Z`, shown as `03:30` CEST).
///
/// A value holds its cache, so it is mutated by conversions: keep one per parser.
public struct LocalTimeZone: Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case fixed(seconds: Int64)
        case named(TimeZone)
    }

    let kind: Kind
    /// Direct-mapped cache for a named zone: local hour number → offset in seconds, `irregular` for an hour that
    /// holds a transition (those are resolved row by row).
    private var cachedHours: [Int64] = []
    private var cachedOffsets: [Int32] = []
    private static let cacheSize = 64
    private static let irregular = Int32.min

    private init(kind: Kind) {
        self.kind = kind
        if case .named = kind {
            cachedHours = [Int64](repeating: Int64.min, count: Self.cacheSize)
            cachedOffsets = [Int32](repeating: 0, count: Self.cacheSize)
        }
    }

    /// Coordinated Universal Time.
    public static let utc = LocalTimeZone(kind: .fixed(seconds: 0))

    /// A zone at a fixed offset east of UTC, in seconds (−18 h ... +18 h), or nil outside that range.
    public static func fixed(offsetSeconds: Int) -> LocalTimeZone? {
        guard abs(offsetSeconds) <= 18 * 3_600 else { return nil }
        return LocalTimeZone(kind: .fixed(seconds: Int64(offsetSeconds)))
    }

    /// Parses a zone as a user writes it:
    /// - `UTC`, `GMT`, `Z` (any case);
    /// - a fixed offset: `+02:00`, `-0530`, `+2`, optionally after `UTC` or `GMT` (`UTC+01:00`); hours ≤ 18,
    ///   minutes < 60;
    /// - an IANA zone name that the system's tz database knows (`Europe/Berlin`, `America/New_York`, `Etc/UTC`).
    ///
    /// Returns nil for anything else.
    public init?(named text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let upper = trimmed.uppercased()
        if upper == "UTC" || upper == "GMT" || upper == "Z" {
            self.init(kind: .fixed(seconds: 0))
            return
        }
        var offsetText = Substring(trimmed)
        if upper.hasPrefix("UTC") || upper.hasPrefix("GMT") { offsetText = offsetText.dropFirst(3) }
        if let first = offsetText.first, first == "+" || first == "-" {
            guard let seconds = Self.parseOffset(offsetText.dropFirst()) else { return nil }
            self.init(kind: .fixed(seconds: first == "-" ? -seconds : seconds))
            return
        }
        guard !trimmed.isEmpty, let zone = TimeZone(identifier: trimmed) else { return nil }
        self.init(kind: .named(zone))
    }

    /// `hh`, `h`, `hhmm` or `hh:mm` → seconds.
    private static func parseOffset(_ text: Substring) -> Int64? {
        let digits = text.filter { $0 != ":" }
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              text.filter({ $0 == ":" }).count <= 1
        else { return nil }
        if text.contains(":") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2 else { return nil }
        }
        let hours: Int64
        let minutes: Int64
        if digits.count <= 2 {
            hours = Int64(digits) ?? 99
            minutes = 0
        } else {
            guard digits.count == 4 else { return nil }
            hours = Int64(digits.prefix(2)) ?? 99
            minutes = Int64(digits.suffix(2)) ?? 99
        }
        guard hours <= 18, minutes < 60, hours * 60 + minutes <= 18 * 60 else { return nil }
        return hours * 3_600 + minutes * 60
    }

    /// `UTC`, `+02:00`, or the IANA name.
    public var description: String {
        switch kind {
        case .fixed(let seconds):
            if seconds == 0 { return "UTC" }
            let magnitude = abs(seconds) / 60
            let hours = magnitude / 60, minutes = magnitude % 60
            return (seconds < 0 ? "-" : "+") + (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "")
                + String(minutes)
        case .named(let zone):
            return zone.identifier
        }
    }

    public static func == (lhs: LocalTimeZone, rhs: LocalTimeZone) -> Bool {
        lhs.kind == rhs.kind
    }

    // MARK: - Conversion

    /// Epoch seconds UTC of the civil time `local`, given as seconds since 1970-01-01T00:00:00 on the zone's
    /// wall clock.
    @inlinable
    public mutating func epochSeconds(fromLocal local: Int64) -> Int64 {
        local - offset(atLocal: local)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS` (or with `T` between date and time: exactly 19 bytes) as a civil time in this
    /// zone and returns epoch seconds UTC; nil unless the text has that shape and names a real date and time
    /// (second 60 is accepted for a leap second and counts as the next second).
    public mutating func epochSeconds(parsing text: UnsafeRawBufferPointer) -> Int64? {
        guard let local = Self.civilSeconds(text) else { return nil }
        return epochSeconds(fromLocal: local)
    }

    /// `YYYY-MM-DD HH:MM:SS` (or `T` for the space) → seconds since 1970-01-01T00:00:00 on the same wall clock.
    public static func civilSeconds(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count == 19,
              text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
              text[10] == UInt8(ascii: " ") || text[10] == UInt8(ascii: "T"),
              text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":"),
              let year = ApacheTimestamp.digits(text, 0, 4), let month = ApacheTimestamp.digits(text, 5, 2),
              let day = ApacheTimestamp.digits(text, 8, 2), let hour = ApacheTimestamp.digits(text, 11, 2),
              let minute = ApacheTimestamp.digits(text, 14, 2), let second = ApacheTimestamp.digits(text, 17, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= ApacheTimestamp.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        return CivilTime.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    /// The offset (seconds east of UTC) that applies to the wall-clock time `local`.
    @usableFromInline
    mutating func offset(atLocal local: Int64) -> Int64 {
        switch kind {
        case .fixed(let seconds):
            return seconds
        case .named(let zone):
            let hour = local >= 0 ? local / 3_600 : (local - 3_599) / 3_600
            let slot = Int(truncatingIfNeeded: hour) & (Self.cacheSize - 1)
            if cachedHours[slot] == hour {
                let cached = cachedOffsets[slot]
                if cached != Self.irregular { return Int64(cached) }
                return Self.resolve(zone, local: local).offset
            }
            return fillCache(zone, hour: hour, slot: slot, local: local)
        }
    }

    /// Resolves the local hour `hour` once: if its first and last second map to one instant each with the same
    /// offset, no transition lies inside it and every time in it has that offset.
    private mutating func fillCache(_ zone: TimeZone, hour: Int64, slot: Int, local: Int64) -> Int64 {
        let first = Self.resolve(zone, local: hour * 3_600)
        let last = Self.resolve(zone, local: hour * 3_600 + 3_599)
        cachedHours[slot] = hour
        if first.isUnique, last.isUnique, first.offset == last.offset {
            cachedOffsets[slot] = Int32(truncatingIfNeeded: first.offset)
            return first.offset
        }
        cachedOffsets[slot] = Self.irregular
        return Self.resolve(zone, local: local).offset
    }

    /// The offset for the wall-clock time `local` in `zone`, and whether that time occurs exactly once.
    ///
    /// The offsets a day before and a day after are the only candidates (no zone changes its offset twice within
    /// two days); a candidate fits if the instant it gives has that offset. Two fit in an overlap (the larger
    /// offset gives the earlier instant), none in a gap (the offset before the gap is used).
    static func resolve(_ zone: TimeZone, local: Int64) -> (offset: Int64, isUnique: Bool) {
        func offset(atUTC seconds: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds))))
        }
        let before = offset(atUTC: local - 86_400)
        let after = offset(atUTC: local + 86_400)
        let beforeFits = offset(atUTC: local - before) == before
        if before == after { return (before, beforeFits) }
        let afterFits = offset(atUTC: local - after) == after
        switch (beforeFits, afterFits) {
        case (true, true): return (max(before, after), false)
        case (true, false): return (before, true)
        case (false, true): return (after, true)
        case (false, false): return (before, false)
        }
    }
}
