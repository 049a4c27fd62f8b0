import CrumbCore
@testable import CrumbIO
import Foundation
import Testing

/// `web_trends.csv` and `.jsonl` written batch by batch, as a run's final pass gives them.
struct StreamedTrendFileTests {
    /// Enough rows (with quoting and escaping) to cross the megabyte the file buffers, several times.
    static let records: [WebTrendRecord] = (0..<30_000).map(record)

    static func record(_ index: Int) -> WebTrendRecord {
        let number = Int64(index)
        let start: Int64 = 1_767_225_600 + number / 1_000 * 3_600
        let value = "/item-" + String(index) + ",\"x\"\n\u{E9}"
        return WebTrendRecord(bucketStart: start, bucket: .hour, dimension: "path", value: value, hits: number,
                              bytes: number * 1_000, status4xx: 1, status5xx: 0, uniques: number % 97, sketch: [])
    }

    /// The line a format gives one record, written alone.
    static func encoded(_ records: [WebTrendRecord], _ format: StreamedTrendFile.Format) -> [UInt8] {
        var bucketStart = BucketStartText()
        var out = format == .csv ? TrendWriters.csvHeader : []
        for record in records {
            switch format {
            case .csv: TrendWriters.appendCSVLine(record, bucketStart: &bucketStart, to: &out)
            case .jsonLines: TrendWriters.appendJSONLine(record, bucketStart: &bucketStart, to: &out)
            }
        }
        return out
    }

    @Test(arguments: [StreamedTrendFile.Format.csv, .jsonLines])
    func batchesWriteWhatOnePassWrites(format: StreamedTrendFile.Format) throws {
        let directory = temporaryDirectory()
        let path = directory + "/web_trends.out"
        let file = try StreamedTrendFile(path: path, format: format)
        // Uneven batches, an empty one among them.
        var start = 0
        for size in [1, 0, 7_000, 13, 22_986] {
            try file.append(Array(Self.records[start..<(start + size)]))
            start += size
        }
        #expect(start == Self.records.count)
        // Nothing at the target until the commit.
        #expect(!FileManager.default.fileExists(atPath: path))
        try file.finish().commit()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written.count > 2 * StreamedTrendFile.flushBytes)
        #expect(written == Self.encoded(Self.records, format))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["web_trends.out"])
    }

    @Test func aDiscardedOrAbandonedFileLeavesNothing() throws {
        let directory = temporaryDirectory()
        let discarded = try StreamedTrendFile(path: directory + "/a.csv", format: .csv)
        try discarded.append(Self.records)
        discarded.discard()
        do {
            let abandoned = try StreamedTrendFile(path: directory + "/b.csv", format: .csv)
            try abandoned.append(Array(Self.records.prefix(10)))
        }
        let prepared = try StreamedTrendFile(path: directory + "/c.csv", format: .csv).finish()
        prepared.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func aFileThatCannotBeCreatedNamesItsTarget() {
        let path = temporaryDirectory() + "/missing/web_trends.csv"
        do {
            _ = try StreamedTrendFile(path: path, format: .csv)
            Issue.record("created a file in a missing directory")
        } catch {
            #expect(error.path == path)
            #expect(error.message.hasPrefix("cannot create temporary file"))
        }
    }

    /// A partial output's file is owner-only from the moment it exists, not only once committed: its rows
    /// include those below min_count. Call trend files take call records, with their own header.
    @Test func aRestrictedFileIsOwnerOnlyWhileItIsWritten() throws {
        let directory = temporaryDirectory()
        let path = directory + "/call_trends.csv"
        let file = try StreamedTrendFile(path: path, format: .csv, table: .calls, mode: 0o600)
        let record = CallTrendRecord(bucketStart: 1_767_225_600, bucket: .hour, dimension: "dialled", value: "+441134960000",
                                     calls: 1, answered: 1, callers: 1, talkSeconds: 60, talkP50: 60, talkP95: 60,
                                     sketch: [], talkHistogram: [])
        try file.append([record])
        let temporary = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first)
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/" + temporary)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try file.finish().commit()
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == CallTrendRecord.columns.joined(separator: ",")
            + "\n2026-01-01T00:00:00Z,hour,dialled,+441134960000,1,1,1,60,60,60\n")
    }
}
