/// One published row of web trends: a (bucket, dimension, value) and its metrics.
///
/// Field names map one to one onto the output contract (schema v1) in DESIGN.md: `bucket_start`, `bucket`,
/// `dimension`, `value`, `hits`, `bytes`, `status_4xx`, `status_5xx`, `uniques`. `sketch` is the serialized
/// HyperLogLog of the row's visitors, kept so that outputs merge exactly; it is not a contract column of the
/// CSV and JSON Lines files.
public struct WebTrendRecord: Sendable, Equatable {
    /// Start of the bucket, epoch seconds UTC.
    public var bucketStart: Int64
    public var bucket: TimeBucket
    public var dimension: String
    public var value: String
    public var hits: Int64
    public var bytes: Int64
    public var status4xx: Int64
    public var status5xx: Int64
    /// The visitor sketch's estimate.
    public var uniques: Int64
    /// `HyperLogLog.serialized()` of the row's visitors.
    public var sketch: [UInt8]

    public init(
        bucketStart: Int64, bucket: TimeBucket, dimension: String, value: String,
        hits: Int64, bytes: Int64, status4xx: Int64, status5xx: Int64, uniques: Int64, sketch: [UInt8]
    ) {
        self.bucketStart = bucketStart
        self.bucket = bucket
        self.dimension = dimension
        self.value = value
        self.hits = hits
        self.bytes = bytes
        self.status4xx = status4xx
        self.status5xx = status5xx
        self.uniques = uniques
        self.sketch = sketch
    }

    /// The contract's column names, in order.
    public static let columns = [
        "bucket_start", "bucket", "dimension", "value", "hits", "bytes", "status_4xx", "status_5xx", "uniques",
    ]
}
