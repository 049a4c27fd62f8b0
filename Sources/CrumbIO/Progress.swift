import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A batch run's progress counters, shared by the workers that advance them and the reporter that reads them.
///
/// Each method is one relaxed atomic add: cheap enough to call once per chunk, too costly to call once per line
/// from many threads (the counters share cache lines).
public final class ProgressMeter: Sendable {
    /// The number of inputs in the run.
    public let totalFiles: Int
    /// The sum of the inputs' raw sizes as stored (compressed sizes for gzip files); 0 when unknown.
    public let totalBytes: Int64

    private let files = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let lines = Atomic<Int>(0)

    public init(totalFiles: Int, totalBytes: Int64) {
        self.totalFiles = totalFiles
        self.totalBytes = totalBytes
    }

    /// Counts `count` raw bytes read from an input.
    public func addBytes(_ count: Int) {
        bytes.add(count, ordering: .relaxed)
    }

    /// Counts `count` lines read.
    public func addLines(_ count: Int) {
        lines.add(count, ordering: .relaxed)
    }

    /// Counts one input finished, whether it succeeded or not.
    public func fileFinished() {
        files.add(1, ordering: .relaxed)
    }

    /// The counters now. Each is read on its own, so they may be a chunk apart: fine for display.
    public func snapshot() -> ProgressSnapshot {
        ProgressSnapshot(
            filesDone: files.load(ordering: .relaxed), totalFiles: totalFiles,
            bytesRead: Int64(bytes.load(ordering: .relaxed)), totalBytes: totalBytes,
            lines: lines.load(ordering: .relaxed))
    }
}

/// The counters of a `ProgressMeter` at one moment.
public struct ProgressSnapshot: Equatable, Sendable {
    public var filesDone: Int
    public var totalFiles: Int
    public var bytesRead: Int64
    /// 0 when unknown (standard input): the line then shows no total and no ETA.
    public var totalBytes: Int64
    public var lines: Int

    public init(filesDone: Int, totalFiles: Int, bytesRead: Int64, totalBytes: Int64, lines: Int) {
        self.filesDone = filesDone
        self.totalFiles = totalFiles
        self.bytesRead = bytesRead
        self.totalBytes = totalBytes
        self.lines = lines
    }

    /// The progress line for these counters after `elapsedSeconds`, such as
    /// `crumb: 3/20 files, 412 MB of 1.2 GB, 1.3M lines/s, ETA 0:42`.
    ///
    /// Sizes are decimal (1 MB = 10⁶ bytes, as in the run summary) and rates are averages since the start. The
    /// ETA extrapolates the byte rate; it is left out before one second, before 1% of the bytes, once every byte
    /// is read, and when the total is unknown.
    public func line(elapsedSeconds: Double) -> String {
        var text = "crumb: \(filesDone)/\(totalFiles) files, " + Self.size(bytesRead)
        if totalBytes > 0 {
            text += " of " + Self.size(totalBytes)
        }
        if elapsedSeconds > 0 {
            text += ", " + Self.count(Double(lines) / elapsedSeconds) + " lines/s"
        }
        if elapsedSeconds >= 1, totalBytes > 0, bytesRead < totalBytes, bytesRead * 100 >= totalBytes {
            let remaining = Double(totalBytes - bytesRead) * elapsedSeconds / Double(bytesRead)
            text += ", ETA " + Self.clock(remaining)
        }
        return text
    }

    /// `999 B`, `1.5 kB`, `412 MB`, `1.2 GB`: three significant digits at most, one decimal below 10.
    static func size(_ bytes: Int64) -> String {
        bytes < 1_000 ? "\(max(bytes, 0)) B" : scaled(Double(bytes), units: ["B", "kB", "MB", "GB", "TB", "PB"], separator: " ")
    }

    /// `950`, `12k`, `1.3M`: as `size`, without a unit.
    static func count(_ value: Double) -> String {
        scaled(value, units: ["", "k", "M", "G", "T"], separator: "")
    }

    /// `0:42`, `12:05`, `1:02:03`: minutes and seconds, with hours when over an hour.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        let (hours, minutes, rest) = (total / 3_600, total / 60 % 60, total % 60)
        let paddedSeconds = rest < 10 ? "0\(rest)" : "\(rest)"
        guard hours > 0 else { return "\(minutes):\(paddedSeconds)" }
        return "\(hours):\(minutes < 10 ? "0" : "")\(minutes):\(paddedSeconds)"
    }

    private static func scaled(_ value: Double, units: [String], separator: String) -> String {
        var value = max(value, 0)
        var unit = 0
        // 999.5 rounds to 1000: show it as 1.0 of the next unit instead.
        while value >= 999.5 && unit < units.count - 1 {
            value /= 1_000
            unit += 1
        }
        let number: String
        if unit > 0 && value < 9.95 {
            let tenths = Int((value * 10).rounded())
            number = "\(tenths / 10).\(tenths % 10)"
        } else {
            number = "\(Int(value.rounded()))"
        }
        return number + separator + units[unit]
    }
}

/// Draws a `ProgressMeter`'s line in place on a terminal, from a thread of its own, until stopped.
///
/// Each redraw writes `\r`, the line, then `ESC [ K` (erase to the end of the line, ECMA-48 EL), in one `write(2)`;
/// `stop()` erases the line, so whatever is printed next starts on a clean line. Anything else written to the
/// same terminal while it runs shares the line: stop it first, or start such output with `\r ESC [ K`.
///
/// Not `Sendable`: one owner starts and stops it; the workers only touch the meter.
public final class ProgressReporter {
    private var ticker: Ticker?

    public init() {}

    deinit {
        stop()
    }

    /// Whether to show progress: not `quiet`, `fd` is a terminal, and `TERM` is not `dumb`.
    public static func shouldShow(quiet: Bool, fd: Int32 = 2) -> Bool {
        guard let term = getenv("TERM") else { return shouldShow(quiet: quiet, fd: fd, term: nil) }
        return shouldShow(quiet: quiet, fd: fd, term: String(cString: term))
    }

    static func shouldShow(quiet: Bool, fd: Int32, term: String?) -> Bool {
        !quiet && term != "dumb" && isatty(fd) != 0
    }

    /// Starts redrawing `meter`'s line on `fd` every `interval`, the first time one `interval` from now (a run
    /// shorter than that shows nothing).
    public func start(meter: ProgressMeter, fd: Int32 = 2, interval: Duration = .milliseconds(500)) {
        precondition(ticker == nil, "ProgressReporter started twice")
        let ticker = Ticker(meter: meter, fd: fd, interval: interval)
        self.ticker = ticker
        let thread = Thread { ticker.run() }
        thread.name = "crumb-progress"
        thread.start()
    }

    /// Stops the redraws, waits for the thread to end, and erases the line if one was drawn. Safe to call more
    /// than once, and without `start`.
    public func stop() {
        guard let ticker else { return }
        self.ticker = nil
        ticker.stop()
    }
}

/// The reporter thread's loop, and the semaphores that stop it and wait for it.
private final class Ticker: Sendable {
    private let meter: ProgressMeter
    private let fd: Int32
    private let interval: DispatchTimeInterval
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let drew = Atomic<Bool>(false)

    init(meter: ProgressMeter, fd: Int32, interval: Duration) {
        self.meter = meter
        self.fd = fd
        let (seconds, attoseconds) = interval.components
        self.interval = .nanoseconds(max(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000), 1))
    }

    func run() {
        let clock = ContinuousClock()
        let start = clock.now
        // `wait` succeeds before its timeout only when `stop()` signals.
        while wake.wait(timeout: .now() + interval) == .timedOut {
            let (seconds, attoseconds) = (clock.now - start).components
            let line = meter.snapshot().line(elapsedSeconds: Double(seconds) + Double(attoseconds) / 1e18)
            writeAll("\r" + line + "\u{1B}[K", to: fd)
            drew.store(true, ordering: .relaxed)
        }
        ended.signal()
    }

    /// Ends `run` and waits for it; then erases the line it drew, if any.
    func stop() {
        wake.signal()
        // Waiting on `ended` orders this after the thread's last write and its store to `drew`.
        ended.wait()
        if drew.load(ordering: .relaxed) {
            writeAll("\r\u{1B}[K", to: fd)
        }
    }
}

/// Writes all of `text`, retrying after a signal or a short write; gives up silently on any other error (a
/// progress line is not worth failing a run for).
private func writeAll(_ text: String, to fd: Int32) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
