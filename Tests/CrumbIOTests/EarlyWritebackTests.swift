@testable import CrumbIO
import Foundation
import Testing

#if os(Linux)
@Suite struct EarlyWritebackTests {
    /// The writeback asked for follows the file as it grows, a margin behind its end, and only in steps of at
    /// least the margin; each request succeeds; the file's bytes are untouched.
    @Test func asksForAllButTheLastMarginInStepsOfAtLeastTheMargin() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/file"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        // No thread: the test polls.
        let writeback = try #require(EarlyWriteback(path: path, margin: 1 << 20, startsThread: false))
        #expect(writeback.poll() == nil)
        #expect(writeback.requested == 0)

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let chunk = Data((0..<(1 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var written: [Data] = []
        func write(_ halves: Int) throws {
            for _ in 0..<halves { try handle.write(contentsOf: chunk); written.append(chunk) }
        }
        try write(3)  // 1.5 MiB: the margin leaves 0.5 MiB, less than a step
        #expect(writeback.poll() == nil)
        #expect(writeback.requested == 0)
        try write(5)  // 4 MiB
        #expect(writeback.poll() == 0)
        #expect(writeback.requested == 3 << 20)
        try write(1)  // 4.5 MiB: 0.5 MiB more, less than a step
        #expect(writeback.poll() == nil)
        #expect(writeback.requested == 3 << 20)
        try write(3)  // 6 MiB
        #expect(writeback.poll() == 0)
        #expect(writeback.requested == 5 << 20)
        writeback.stop()
        try handle.synchronize()
        try handle.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == written.reduce(Data(), +))
    }

    /// Once `stop` returns, the thread asks for nothing more, however the file grows; a second `stop` returns too.
    @Test func stoppingEndsTheThreadAndCanBeRepeated() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/file"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 8 << 20)))
        // Polled every millisecond: stopped while it runs (whether it had made its first request or not).
        let writeback = try #require(EarlyWriteback(path: path, margin: 1 << 20, interval: 0.001))
        Thread.sleep(forTimeInterval: 0.005)
        writeback.stop()
        let atStop = writeback.requested
        #expect(atStop == 0 || atStop == 7 << 20)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(count: 4 << 20))
        try handle.close()
        Thread.sleep(forTimeInterval: 0.02)
        #expect(writeback.requested == atStop)
        writeback.stop()
    }

    @Test func aFileThatCannotBeOpenedGetsNone() {
        #expect(EarlyWriteback(path: temporaryDirectory() + "/missing/file") == nil)
    }
}
#endif
