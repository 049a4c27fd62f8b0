/// How far a stream's event time has got, and which of its buckets are closed (`crumb stream`).
///
/// The watermark is the greatest event time admitted minus the allowed lateness. A bucket `[s, s + width)`
/// is closed once the watermark reaches `s + width`; as buckets are aligned, that is every bucket that starts
/// before `closedBefore`, the start of the bucket holding the watermark. An event in a closed bucket is late;
/// an event older than the watermark whose bucket is still open is on time.
///
/// The decision is made event by event, in input order, so it does not depend on how the input was cut
/// into chunks.
public struct EventTimeWatermark: Sendable, Equatable {
    public let bucket: TimeBucket
    /// The allowed lateness, seconds (0 or more).
    public let lateness: Int64
    /// The greatest event time admitted so far; `Int64.min` before the first event.
    public private(set) var latestEventTime: Int64 = .min
    /// Buckets that start before this are closed; `Int64.min` before the first event, `Int64.max` once
    /// `closeAll()` has been called.
    public private(set) var closedBefore: Int64 = .min
    /// Event times past this do not move the watermark (the events still count): one line stamped in the far
    /// future, by a wrong clock or on purpose, must not close every bucket. The stream keeps it at the wall
    /// clock plus a day; `Int64.max` (no limit) by default.
    public var horizon: Int64 = .max

    public init(bucket: TimeBucket, lateness: Int64) {
        precondition(lateness >= 0, "lateness must not be negative")
        self.bucket = bucket
        self.lateness = lateness
    }

    /// Admits an event at `time` (epoch seconds UTC): false when its bucket is closed (the event is late);
    /// otherwise true, and the watermark advances when `time` is the latest yet.
    @inline(__always)
    public mutating func admit(_ time: Int64) -> Bool {
        if time < closedBefore { return false }
        if time > latestEventTime, time <= horizon {
            latestEventTime = time
            // A time near Int64.min (never from a real log) closes nothing rather than overflow.
            let (watermark, overflow) = time.subtractingReportingOverflow(lateness)
            if !overflow, watermark > Int64.min + bucket.seconds {
                closedBefore = max(closedBefore, bucket.start(of: watermark))
            }
        }
        return true
    }

    /// Closes every bucket, at the end of a stream: any later event is late.
    public mutating func closeAll() {
        closedBefore = .max
    }
}
