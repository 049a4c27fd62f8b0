@testable import CrumbIO
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - The line

private let progressLineCases: [(snapshot: ProgressSnapshot, elapsed: Double, line: String)] = [
    (ProgressSnapshot(filesDone: 3, totalFiles: 20, bytesRead: 412_000_000, totalBytes: 1_200_000_000, lines: 13_000_000),
     10, "crumb: 3/20 files, 412 MB of 1.2 GB, 1.3M lines/s, ETA 0:20"),
    // No ETA before one second.
    (ProgressSnapshot(filesDone: 3, totalFiles: 20, bytesRead: 412_000_000, totalBytes: 1_200_000_000, lines: 13_000_000),
     0.5, "crumb: 3/20 files, 412 MB of 1.2 GB, 26M lines/s"),
    // No ETA before 1% of the bytes.
    (ProgressSnapshot(filesDone: 0, totalFiles: 20, bytesRead: 11_999_999, totalBytes: 1_200_000_000, lines: 50_000),
     5, "crumb: 0/20 files, 12 MB of 1.2 GB, 10k lines/s"),
    // Over an hour: h:mm:ss.
    (ProgressSnapshot(filesDone: 1, totalFiles: 400, bytesRead: 10_000_000, totalBytes: 1_000_000_000, lines: 60_000),
     60, "crumb: 1/400 files, 10 MB of 1.0 GB, 1.0k lines/s, ETA 1:39:00"),
    // Unknown total (standard input): no total, no ETA.
    (ProgressSnapshot(filesDone: 0, totalFiles: 1, bytesRead: 5_000_000, totalBytes: 0, lines: 200_000),
     2, "crumb: 0/1 files, 5.0 MB, 100k lines/s"),
    // Nothing yet.
    (ProgressSnapshot(filesDone: 0, totalFiles: 20, bytesRead: 0, totalBytes: 1_200_000_000, lines: 0),
     0, "crumb: 0/20 files, 0 B of 1.2 GB"),
    // Every byte read, files still finishing: no ETA.
    (ProgressSnapshot(filesDone: 19, totalFiles: 20, bytesRead: 1_200_000_000, totalBytes: 1_200_000_000, lines: 9_000_000),
     30, "crumb: 19/20 files, 1.2 GB of 1.2 GB, 300k lines/s"),
]

@Test(arguments: progressLineCases.indices)
func progressLineFormatsCounters(index: Int) {
    let item = progressLineCases[index]
    #expect(item.snapshot.line(elapsedSeconds: item.elapsed) == item.line)
}

@Test func sizesAreDecimalWithThreeSignificantDigits() {
    let cases: [(Int64, String)] = [
        (0, "0 B"), (999, "999 B"), (1_000, "1.0 kB"), (1_499, "1.5 kB"), (9_949, "9.9 kB"), (9_950, "10 kB"),
        (999_499, "999 kB"), (999_500, "1.0 MB"), (412_000_000, "412 MB"), (1_200_000_000, "1.2 GB"),
        (3_000_000_000_000, "3.0 TB"),
    ]
    for (bytes, text) in cases {
        #expect(ProgressSnapshot.size(bytes) == text, "\(bytes)")
    }
}

@Test func countsAndClocksAreShort() {
    let counts: [(Double, String)] = [(0, "0"), (950, "950"), (999.6, "1.0k"), (12_345, "12k"), (1_300_000, "1.3M")]
    for (value, text) in counts {
        #expect(ProgressSnapshot.count(value) == text, "\(value)")
    }
    let clocks: [(Double, String)] = [(0, "0:00"), (41.2, "0:42"), (42, "0:42"), (725, "12:05"), (3_599, "59:59"),
                                      (3_600, "1:00:00"), (3_723, "1:02:03"), (36_000, "10:00:00")]
    for (seconds, text) in clocks {
        #expect(ProgressSnapshot.clock(seconds) == text, "\(seconds)")
    }
}

// MARK: - The meter

@Test func meterCountsFromManyThreads() {
    let meter = ProgressMeter(totalFiles: 8, totalBytes: 8_000)
    DispatchQueue.concurrentPerform(iterations: 8) { _ in
        for _ in 0..<1_000 {
            meter.addBytes(1)
            meter.addLines(2)
        }
        meter.fileFinished()
    }
    #expect(meter.snapshot() == ProgressSnapshot(filesDone: 8, totalFiles: 8, bytesRead: 8_000, totalBytes: 8_000,
                                                 lines: 16_000))
}

// MARK: - The reporter

/// Everything written to a pipe's write end while `body` runs, which gets both ends; the write end is closed
/// afterwards.
private func capturePipe(_ body: (_ readEnd: Int32, _ writeEnd: Int32) throws -> Void) throws -> String {
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    try body(fds[0], fds[1])
    close(fds[1])
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4_096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if count <= 0 { break }
        output += buffer[0..<count]
    }
    close(fds[0])
    return String(decoding: output, as: UTF8.self)
}

@Test func reporterRedrawsTheLineAndErasesItWhenStopped() throws {
    let output = try capturePipe { readEnd, writeEnd in
        let meter = ProgressMeter(totalFiles: 5, totalBytes: 10_000_000)
        meter.fileFinished()
        meter.fileFinished()
        meter.addBytes(3_000_000)
        meter.addLines(1_000)
        let reporter = ProgressReporter()
        reporter.start(meter: meter, fd: writeEnd, interval: .milliseconds(10))
        // Waits for the first redraw (a loaded machine may take a while to run the thread), then a few more.
        var ready = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 30_000) == 1)
        Thread.sleep(forTimeInterval: 0.1)
        reporter.stop()
        reporter.stop()
    }
    let erase = "\r\u{1B}[K"
    #expect(output.hasPrefix("\rcrumb: 2/5 files, 3.0 MB of 10 MB, "))
    #expect(output.hasSuffix("\u{1B}[K" + erase))
    let draws = output.components(separatedBy: "\r").filter { $0.hasPrefix("crumb: ") }
    #expect(draws.count >= 1)
    #expect(draws.allSatisfy { $0.hasSuffix("\u{1B}[K") && $0.contains(" lines/s") })
}

@Test func aReporterStoppedBeforeItsFirstRedrawWritesNothing() throws {
    let output = try capturePipe { _, fd in
        let reporter = ProgressReporter()
        reporter.start(meter: ProgressMeter(totalFiles: 1, totalBytes: 1), fd: fd, interval: .seconds(30))
        reporter.stop()
    }
    #expect(output.isEmpty)
    ProgressReporter().stop()
}

@Test func progressShowsOnlyOnATerminal() throws {
    let output = try capturePipe { _, fd in
        #expect(!ProgressReporter.shouldShow(quiet: false, fd: fd))
        #expect(!ProgressReporter.shouldShow(quiet: false, fd: fd, term: "xterm"))
    }
    #expect(output.isEmpty)
    // A pseudo-terminal's master side is a terminal: isatty(3) says so.
    let terminal = open("/dev/ptmx", O_RDWR | O_NOCTTY)
    guard terminal >= 0 else {
        print("skipped: /dev/ptmx did not open (errno \(errno))")
        return
    }
    defer { close(terminal) }
    #expect(ProgressReporter.shouldShow(quiet: false, fd: terminal, term: "xterm-256color"))
    #expect(ProgressReporter.shouldShow(quiet: false, fd: terminal, term: nil))
    #expect(!ProgressReporter.shouldShow(quiet: false, fd: terminal, term: "dumb"))
    #expect(!ProgressReporter.shouldShow(quiet: true, fd: terminal, term: "xterm"))
}
