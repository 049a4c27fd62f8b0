@testable import CrumbCore
import CrumbSamples
import CrumbTestSupport
import Testing

struct TimeBucketTests {
    @Test func bucketsAlignToUTC() {
        #expect(TimeBucket.hour.start(of: 1_767_229_199) == 1_767_225_600)
        #expect(TimeBucket.hour.start(of: 1_767_229_200) == 1_767_229_200)
        #expect(TimeBucket.day.start(of: 1_767_311_999) == 1_767_225_600)
        #expect(TimeBucket.hour.start(of: -1) == -3_600)
    }

    @Test func iso8601() {
        #expect(CivilTime.iso8601(0) == "1970-01-01T00:00:00Z")
        #expect(CivilTime.iso8601(1_767_272_400) == "2026-01-01T13:00:00Z")
        #expect(CivilTime.iso8601(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(CivilTime.isoDate(day: 20_454) == "2026-01-01")
        #expect(CivilTime.iso8601(-1) == "1969-12-31T23:59:59Z")
        #expect(CivilTime.iso8601(253_402_300_799) == "9999-12-31T23:59:59Z")
    }

    @Test func civilRoundTrip() {
        for day in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CivilTime.civilFromDays(day)
            #expect(CivilTime.daysFromCivil(year: y, month: m, day: d) == day)
        }
    }
}

struct ByteInternerTests {
    @Test func internsDistinctValues() {
        var interner = ByteInterner(capacity: 4)
        var ids: [String: Int] = [:]
        for round in 0..<3 {
            for index in 0..<5_000 {
                let text = "value-\(index)"
                let id = interner.intern(text)
                if round == 0 { ids[text] = id } else { #expect(ids[text] == id) }
            }
        }
        #expect(interner.count == 5_000)
        #expect(interner.string(of: ids["value-4321"]!) == "value-4321")
        #expect(interner.intern("") == interner.intern(""))
    }

    @Test func rowIndexGrows() {
        var index = RowIndex(capacity: 2)
        for key in 0..<10_000 { #expect(index.row(for: UInt64(key) << 32) { key } == key) }
        for key in 0..<10_000 { #expect(index.row(for: UInt64(key) << 32) { -1 } == key) }
        #expect(index.count == 10_000)
    }

    /// Past `recentThreshold` the recent-keys cache answers first: every key still finds its own row, in
    /// any order, across the growth that turns the cache on, and with keys that share cache entries.
    @Test func rowIndexWithRecentKeysFindsEveryRow() {
        var index = RowIndex(capacity: 2)
        let count = RowIndex.recentThreshold * 2
        var random = SystemRandomNumberGenerator()
        let keys = (0..<count).map { _ in UInt64.random(in: 0...UInt64.max, using: &random) }
        var rows: [UInt64: Int] = [:]
        for key in keys where rows[key] == nil {
            let row = rows.count
            #expect(index.row(for: key) { row } == row)
            rows[key] = row
            // A recent key and an older one, alternately: both kinds of lookup.
            #expect(index.row(for: key) { -1 } == row)
            let older = keys[Int.random(in: 0..<rows.count, using: &random)]
            #expect(index.row(for: older) { -1 } == rows[older])
        }
        for key in keys.shuffled() { #expect(index.row(for: key) { -1 } == rows[key]) }
        #expect(index.count == rows.count)
    }
}

struct UTF8OrderTests {
    /// The byte order records are sorted in, against the standard library's: prefixes, empty strings, bytes above
    /// 0x7F (which a signed comparison would put first), small strings kept inline and long ones on the heap.
    @Test func utf8PrecedesIsTheOrderOfTheBytes() {
        let words = ["", "a", "ab", "abc", "b", "B", "/", "/index.html", "/index.htm", "é", "e\u{301}", "zz", "\u{7F}",
                     "ü-longer-than-fifteen-bytes/path", "ü-longer-than-fifteen-bytes/pat", "日本", "日本語", "(other)",
                     String(repeating: "x", count: 40), String(repeating: "x", count: 41)]
        for a in words {
            for b in words {
                #expect(a.utf8Precedes(b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a) vs \(b)")
            }
        }
        // A String made from a Substring compares by its bytes like any other.
        let sliced = String("x/abc".dropFirst(2))
        #expect(sliced.utf8Precedes("abd") && !"abd".utf8Precedes(sliced) && !sliced.utf8Precedes("abc"))
    }
}

struct RejectTallyTests {
    @Test func samplesKeepNoLetterOrDigit() {
        var tally = RejectTally(sampleLimit: 2)
        let line = Array("jane.doe@example.com 4111111111111111 [bad] ñ".utf8)
        line.withUnsafeBytes { tally.record(.badTimestamp, line: 7, offset: 3, bytes: $0) }
        line.withUnsafeBytes { tally.record(.badTimestamp, line: 8, offset: 3, bytes: $0) }
        line.withUnsafeBytes { tally.record(.badStatus, line: 9, offset: 3, bytes: $0) }
        #expect(tally.counts == [.badTimestamp: 2, .badStatus: 1])
        #expect(tally.samples.count == 2)
        #expect(tally.samples[0].shape == "aaaa.aaa@aaaaaaa.aaa 9999999999999999 [aaa] ??")
        #expect(tally.total == 3)
    }
}

struct ChunkingTests {
    /// The same log, cut any way, gives the same trends, counts and rejects.
    @Test func aggregatesDoNotDependOnChunking() throws {
        var options = AccessLogGenerator.Options()
        options.lines = 3_000
        options.malformedShare = 0.02
        options.seed = 7
        let log = AccessLogGenerator.generate(options)
        let keyring = try Keyring(secret: Array(repeating: 7, count: 32))
        let reference = try ChunkingVerifier.run(log, split: .whole, keyring: keyring)
        #expect(reference.counts.read == 3_000)
        #expect(reference.counts.rejected > 0)
        for split: ChunkingVerifier.Split in [.bytes(1), .bytes(13), .random(seed: 1, maxChunk: 4_096), .random(seed: 2, maxChunk: 300)] {
            let outcome = try ChunkingVerifier.run(log, split: split, keyring: keyring)
            #expect(outcome == reference, "\(split)")
        }
    }
}

struct WebAggregatorTests {
    /// Every event is counted once per dimension: each dimension's hits sum to the bucket's total.
    @Test func dimensionsSumToTotals() throws {
        let keyring = try Keyring(secret: Array(repeating: 1, count: 32))
        let outcome = try ChunkingVerifier.run(Self.log(lines: 5_000, seed: 11), split: .whole, keyring: keyring)
        var sums: [Int64: [String: (hits: Int64, bytes: Int64, e4: Int64, e5: Int64)]] = [:]
        for record in outcome.records {
            var entry = sums[record.bucketStart, default: [:]][record.dimension, default: (0, 0, 0, 0)]
            entry.hits += record.hits
            entry.bytes += record.bytes
            entry.e4 += record.status4xx
            entry.e5 += record.status5xx
            sums[record.bucketStart, default: [:]][record.dimension] = entry
        }
        #expect(sums.count > 24)
        var totalHits: Int64 = 0
        for (_, dimensions) in sums {
            let total = try #require(dimensions["total"])
            totalHits += total.hits
            #expect(dimensions.count == WebDimension.allCases.count)
            for (name, entry) in dimensions {
                #expect(entry.hits == total.hits, "\(name)")
                #expect(entry.bytes == total.bytes, "\(name)")
                #expect(entry.e4 == total.e4 && entry.e5 == total.e5, "\(name)")
            }
        }
        #expect(totalHits == Int64(outcome.counts.parsed))
    }

    /// k-anonymity folds rows seen by too few visitors into one `(other)` row per bucket and dimension; a value
    /// that itself reads `(other)` joins that row, however many visitors it had, rather than make a second one.
    @Test func valuesReadingOtherJoinTheFold() {
        var aggregator = WebAggregator(bucket: .hour)
        let ordinal = aggregator.bucketOrdinal(for: 1_767_225_600)
        let total = aggregator.valueID(.total, "all")
        for (path, visitors) in [("/popular", 5), ("(other)", 4), ("/rare", 1), ("/pair", 2)] {
            let value = aggregator.valueID(.path, path)
            for visitor in 0..<visitors {
                let hash = HyperLogLog.mix(UInt64(visitor) &+ UInt64(path.utf8.count) << 32)
                aggregator.add(bucket: ordinal, .path, value: value, bytes: 10, status: 200, visitor: hash)
                aggregator.add(bucket: ordinal, .total, value: total, bytes: 10, status: 200, visitor: hash)
            }
        }
        let paths = aggregator.records(minCount: 3).filter { $0.dimension == "path" }
        #expect(paths.map(\.value) == ["(other)", "/popular"])
        #expect(paths.map(\.hits) == [7, 5])
        #expect(aggregator.records(minCount: 0).filter { $0.dimension == "path" }.count == 4)
    }

    /// A generated log of `lines` lines.
    static func log(lines: Int, seed: UInt64) -> [UInt8] {
        var options = AccessLogGenerator.Options()
        options.lines = lines
        options.seed = seed
        return AccessLogGenerator.generate(options)
    }

    /// A processor that has taken every line of `bytes`.
    static func processed(_ bytes: ArraySlice<UInt8>, keyring: Keyring) throws -> WebLogProcessor {
        var processor = WebLogProcessor(configuration: WebLogConfiguration(), keyring: keyring,
                                        anonymizer: try IPAnonymizer(mode: .truncate(ipv4Prefix: 24, ipv6Prefix: 48), keyring: nil))
        var framer = LineFramer()
        Array(bytes).withUnsafeBytes { framer.feed($0) { processor.process($0) } }
        framer.finish { processor.process($0) }
        return processor
    }

    /// Splitting the input between two aggregators and merging gives exactly the single run's result.
    @Test func mergeIsExact() throws {
        let log = Self.log(lines: 4_000, seed: 5)
        let keyring = try Keyring(secret: Array(repeating: 3, count: 32))
        // Cut at a line boundary near the middle.
        let middle = log[(log.count / 2)...].firstIndex(of: UInt8(ascii: "\n"))! + 1
        var first = try Self.processed(log[..<middle], keyring: keyring)
        let second = try Self.processed(log[middle...], keyring: keyring)
        first.mergeTrends(second)
        let whole = try Self.processed(log[...], keyring: keyring)
        #expect(first.aggregator.records() == whole.aggregator.records())
    }

    /// A returning visitor is looked up by its address and a hash of its user agent, not by its material:
    /// every line must still get the id its material got when new. Visitors that share an address, an
    /// agent, or neither, an unparseable client and a line without an agent, each seen three times and
    /// counted by one processor, give the sketches of processors that each saw one line (no cache).
    @Test func returningVisitorsKeepTheirIds() throws {
        let keyring = try Keyring(secret: Array(repeating: 6, count: 32))
        let clients = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::1:0", "proxy.example", "192.0.2.10"]
        let agents = ["\"Mozilla/5.0 Firefox/120.0\"", "\"Mozilla/5.0 Firefox/121.0\"", "\"curl/8.5.0\"", "\"-\"", ""]
        var lines: [String] = []
        for client in clients {
            for agent in agents {
                let tail = agent.isEmpty ? "" : " \"-\" " + agent
                lines.append("\(client) - - [01/Jan/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 10" + tail + "\n")
            }
        }
        // Three times over, in a fixed scrambled order (7 is prime to the 90 lines).
        let all = lines + lines + lines
        let repeated = all.indices.map { all[($0 * 7) % all.count] }
        let whole = try Self.processed(Array(repeated.joined().utf8)[...], keyring: keyring)
        var merged = try Self.processed([][...], keyring: keyring)
        for line in repeated { merged.mergeTrends(try Self.processed(Array(line.utf8)[...], keyring: keyring)) }
        #expect(whole.counts.parsed == lines.count * 3)
        let records = whole.aggregator.records()
        // 24 visitors: an agent of `-` is no agent.
        let totals = records.filter { $0.dimension == "total" }.map { Int($0.uniques) }
        #expect(totals == [clients.count * 4])
        #expect(records == merged.aggregator.records())
    }

    /// More distinct user agents than the user-agent cache holds (16,384), each seen twice, the second
    /// time after most were pushed out: every line still counts under its own agent's values.
    @Test func userAgentsPushedOutOfTheCacheCountUnderTheirValues() throws {
        let versions = 20_000
        var log: [UInt8] = []
        for pass in 0..<2 {
            for index in 0..<versions {
                let version = pass == 0 ? index + 1 : versions - index
                log += Array("192.0.2.\(index % 200) - - [01/Jan/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:\(version).0) Gecko/20100101 Firefox/\(version).0\"\n".utf8)
            }
        }
        let processor = try Self.processed(log[...], keyring: try Keyring(secret: Array(repeating: 5, count: 32)))
        let records = processor.aggregator.records()
        let family = records.filter { $0.dimension == "ua_family" }
        #expect(family.map(\.value) == ["Firefox"])
        #expect(family.map(\.hits) == [Int64(2 * versions)])
        let byVersion = Dictionary(uniqueKeysWithValues: records.filter { $0.dimension == "ua_version" }.map { ($0.value, $0.hits) })
        #expect(byVersion.count == versions)
        #expect((1...versions).allSatisfy { byVersion["Firefox \($0)"] == 2 })
        #expect(records.filter { $0.dimension == "os" }.map(\.value) == ["Linux"])
    }

    /// The rows a state streams are the unsorted records before k-anonymity, one for one, in order.
    @Test func forEachRowShowsTheRecords() throws {
        let processor = try Self.processed(Self.log(lines: 3_000, seed: 9)[...],
                                           keyring: try Keyring(secret: Array(repeating: 4, count: 32)))
        var streamed: [WebTrendRecord] = []
        let bucket = processor.aggregator.bucket
        processor.aggregator.forEachRow { row in
            streamed.append(WebTrendRecord(
                bucketStart: row.bucketStart, bucket: bucket, dimension: row.dimension.name, value: row.value,
                hits: row.hits, bytes: row.bytes, status4xx: row.status4xx, status5xx: row.status5xx,
                uniques: 0, sketch: row.sketch))
        }
        var expected = processor.aggregator.records(minCount: 0, sorted: false) { _ in true }
        for index in expected.indices { expected[index].uniques = 0 }
        #expect(streamed.count > 1_000)
        #expect(streamed == expected)
    }

    /// `drainAll` gives what `forEachRow` then `drain(bucketsBefore: .max, minCount:)` give, and empties the
    /// aggregator: with k-anonymity folding most rows, and without.
    @Test func drainAllIsForEachRowThenDrain() throws {
        let processor = try Self.processed(Self.log(lines: 3_000, seed: 12)[...],
                                           keyring: try Keyring(secret: Array(repeating: 7, count: 32)))
        let bucket = processor.aggregator.bucket
        for minCount in [0, 5] {
            var expectedRows: [WebTrendRecord] = []
            var reference = processor.aggregator
            reference.forEachRow { expectedRows.append(Self.record($0, bucket: bucket)) }
            let expected = reference.drain(bucketsBefore: .max, minCount: minCount)
            var drained = processor.aggregator
            var rows: [WebTrendRecord] = []
            let records = drained.drainAll(minCount: minCount) { rows.append(Self.record($0, bucket: bucket)) }
            #expect(rows.count > 1_000)
            #expect(rows == expectedRows)
            #expect(records.count > 100)
            #expect(records == expected, "minCount \(minCount)")
            #expect(drained.rowCount == 0)
        }
    }

    /// Rows are found by each value's latest row while events stay in one bucket; once buckets are removed
    /// (a spill), the rows that stay are renumbered, and events counted after that, into a bucket kept and
    /// into new ones, land in the rows a single aggregator gives them.
    @Test func rowsAreFoundAgainAfterBucketsAreRemoved() throws {
        let start: Int64 = 1_767_225_600
        let paths = (0..<40).map { "/page/\($0)" }
        /// Counts 200 events in each of `hours`; hour h's paths are ten from path 5h on, so that some of an
        /// hour's values were last seen in an hour before it and some are new.
        func count(into aggregator: inout WebAggregator, hours: Range<Int>, round: Int) {
            for hour in hours {
                let ordinal = aggregator.bucketOrdinal(for: start + Int64(hour) * 3_600)
                for event in 0..<200 {
                    let path = aggregator.valueID(.path, paths[(hour * 5 + (event * 7 + round) % 10) % paths.count])
                    aggregator.add(bucket: ordinal, .path, value: path, bytes: Int64(event), status: 200 + event % 3 * 100,
                                   visitor: HyperLogLog.mix(UInt64(event % 50 + hour * 1_000)))
                }
            }
        }
        var spilled = WebAggregator(bucket: .hour)
        var whole = WebAggregator(bucket: .hour)
        var removed: [WebTrendRecord] = []
        for round in 0..<3 {
            // Hours 0-3, then 2-5, then 4-7: each round revisits the buckets of the round before.
            count(into: &spilled, hours: (round * 2)..<(round * 2 + 4), round: round)
            count(into: &whole, hours: (round * 2)..<(round * 2 + 4), round: round)
            let cut = start + Int64(round * 2 + 2) * 3_600
            removed += spilled.records(minCount: 0) { $0 < cut }
            spilled.removeRows { $0 < cut }
        }
        // What was removed and what stayed, merged row by row, is the single aggregator's result.
        var combined = WebAggregator(bucket: .hour)
        for record in removed + spilled.records(minCount: 0) { try combined.absorb(record) }
        #expect(combined.records(minCount: 0) == whole.records(minCount: 0))
        #expect(whole.records(minCount: 0).count == 8 * 10)
    }

    static func record(_ row: WebAggregator.RowView, bucket: TimeBucket) -> WebTrendRecord {
        WebTrendRecord(bucketStart: row.bucketStart, bucket: bucket, dimension: row.dimension.name, value: row.value,
                       hits: row.hits, bytes: row.bytes, status4xx: row.status4xx, status5xx: row.status5xx,
                       uniques: 0, sketch: row.sketch)
    }
}

/// One event stamped far in the future must not close every bucket of a stream.
@Test func watermarkIgnoresEventsPastTheHorizon() {
    var watermark = EventTimeWatermark(bucket: .hour, lateness: 600)
    watermark.horizon = 1_767_312_000  // 2026-01-02
    let first = watermark.admit(1_767_225_600 + 3_700)      // 01:01:40 on 2026-01-01
    let closed = watermark.closedBefore
    let future = watermark.admit(4_102_444_800)              // 2100: counted, but the watermark stays
    let stillOnTime = watermark.admit(1_767_225_600 + 3_900)
    let late = watermark.admit(1_767_225_600 - 10)            // a bucket already closed
    #expect(first && future && stillOnTime && !late)
    #expect(watermark.closedBefore == closed)
}
