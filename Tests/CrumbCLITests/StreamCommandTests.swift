import CrumbTestSupport
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes a reader thread collects from a pipe, read while the process runs.
final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var ended = false

    func append(_ bytes: Data) { lock.withLock { data.append(bytes) } }
    func end() { lock.withLock { ended = true } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    var isEnded: Bool { lock.withLock { ended } }

    /// Reads `descriptor` on a thread of its own until end of file.
    static func reading(_ descriptor: Int32) -> CollectedOutput {
        let output = CollectedOutput()
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if got < 0, errno == EINTR { continue }
                guard got > 0 else { break }
                output.append(Data(buffer[0..<got]))
            }
            output.end()
        }.start()
        return output
    }
}

/// A running `crumb stream`: the test writes its standard input line by line and reads its standard output
/// while it runs.
final class StreamingCrumb {
    let process = Process()
    private let input = Pipe()
    let stdout: CollectedOutput
    let stderr: CollectedOutput

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = crumbBinary()
        process.arguments = ["stream"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["CRUMB_KEY"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        stdout = CollectedOutput.reading(out.fileHandleForReading.fileDescriptor)
        stderr = CollectedOutput.reading(err.fileHandleForReading.fileDescriptor)
    }

    func write(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits until standard output holds `text`; false after `seconds`.
    func waitForOutput(containing text: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stdout.text.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Waits for the process to exit (killing it after `seconds`) and for its outputs to end.
    func finish(seconds: Double = 30) -> (status: Int32, stdout: String, stderr: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("crumb stream did not exit within \(seconds) s")
        }
        process.waitUntilExit()
        closeInput()
        while !(stdout.isEnded && stderr.isEnded), Date() < deadline.addingTimeInterval(5) { Thread.sleep(forTimeInterval: 0.01) }
        return (process.terminationStatus, stdout.text, stderr.text)
    }
}

/// A combined-format line at `HH:MM` on 2026-01-01 (UTC).
private func line(_ time: String, path: String = "/a", client: Int = 1) -> String {
    "203.0.113.\(client) - - [01/Jan/2026:\(time):00 +0000] \"GET \(path) HTTP/1.1\" 200 10 \"-\" \"curl/8.5.0\"\n"
}

/// The `total` rows of JSON Lines output: hits per bucket start; a bucket emitted twice is an issue.
private func totals(_ text: String) throws -> [String: Int] {
    var result: [String: Int] = [:]
    for row in text.split(separator: "\n") {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
        guard object["dimension"] as? String == "total" else { continue }
        let start = try #require(object["bucket_start"] as? String)
        #expect(result[start] == nil, "bucket \(start) emitted twice")
        result[start] = try #require(object["hits"] as? Int)
    }
    return result
}

struct StreamCommandTests {
    /// The issue's streaming test: lines over four simulated hours, written with pauses; an early hour is on
    /// standard output before standard input is closed; a line late within the lateness is counted, one
    /// later than that is not; then SIGTERM (or SIGINT, or end of input) and every bucket appears once with
    /// the right counts, and crumb exits 0.
    @Test(arguments: ["SIGTERM", "SIGINT", "EOF"])
    func streamsHoursAndFlushesWhenStopped(_ stop: String) throws {
        let crumb = try StreamingCrumb(["--format", "combined", "--lateness", "10m", "--min-count", "0"])
        for time in ["10:05", "10:20", "10:40"] { crumb.write(line(time, client: Int(time.suffix(2))!)) }
        Thread.sleep(forTimeInterval: 0.1)
        crumb.write(line("11:05"))
        crumb.write(line("10:58", path: "/within"))  // 7 minutes late, within 10: counted in 10:00
        Thread.sleep(forTimeInterval: 0.1)
        crumb.write(line("11:15"))  // the watermark passes 11:00 + 0: 10:00 closes
        #expect(crumb.waitForOutput(containing: #""bucket_start":"2026-01-01T10:00:00Z","bucket":"hour","dimension":"total""#),
                "the 10:00 bucket was not emitted while the stream ran")
        #expect(!crumb.stdout.text.contains("2026-01-01T11:00:00Z"), "11:00 is still open")
        crumb.write(line("10:59", path: "/too-late"))  // its bucket is emitted: late
        for minute in [25, 50] { crumb.write(line("11:\(minute)")) }
        Thread.sleep(forTimeInterval: 0.1)
        for time in ["12:01", "12:02", "12:03", "12:30"] { crumb.write(line(time, client: Int(time.suffix(2))!)) }
        Thread.sleep(forTimeInterval: 0.1)
        for minute in [10, 45] { crumb.write(line("13:\(minute)")) }
        // 14:30 closes 13:00: once 13:00 is out, every line before it has been read, so the stop below
        // cannot overtake a line still in the pipe.
        crumb.write(line("14:30"))
        #expect(crumb.waitForOutput(containing: "2026-01-01T13:00:00Z"))
        switch stop {
        case "SIGTERM": crumb.send(SIGTERM)
        case "SIGINT": crumb.send(SIGINT)
        default: crumb.closeInput()
        }
        let result = crumb.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try totals(result.stdout) == [
            "2026-01-01T10:00:00Z": 4, "2026-01-01T11:00:00Z": 4, "2026-01-01T12:00:00Z": 4, "2026-01-01T13:00:00Z": 2,
            "2026-01-01T14:00:00Z": 1,
        ])
        #expect(result.stdout.contains(#""dimension":"path","value":"/within""#))
        #expect(!result.stdout.contains("/too-late"))
        #expect(result.stderr.contains("16 lines (combined): 16 parsed, 0 rejected, 1 late; 5 buckets emitted"), "\(result.stderr)")
        if stop != "EOF" { #expect(result.stderr.contains("crumb: stream stopped by \(stop):")) }
    }

    /// Two streams into the same --out add up in crumb.db; --no-stdout writes nothing on standard output.
    @Test func upsertsIntoCrumbDB() throws {
        let directory = scratchDirectory()
        let key = ["CRUMB_KEY": "0123456789abcdef0123456789abcdef"]
        for clients in [1...3, 3...6] {
            let crumb = try StreamingCrumb(["--format", "combined", "--min-count", "0", "--out", directory, "--no-stdout"],
                                           environment: key)
            for client in clients { crumb.write(line("10:1\(client)", client: client)) }
            crumb.write(line("11:30"))
            crumb.closeInput()
            let result = crumb.finish()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.contains("→ \(directory)/crumb.db"))
        }
        let queue = try DatabaseQueue(path: directory + "/crumb.db")
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT bucket_start, hits, uniques FROM web_trends WHERE dimension = 'total' ORDER BY bucket_start")
        }
        #expect(rows.map { [$0["bucket_start"] as String, String($0["hits"] as Int), String($0["uniques"] as Int)] } == [
            ["2026-01-01T10:00:00Z", "7", "6"], ["2026-01-01T11:00:00Z", "2", "1"],
        ])
    }

    @Test func usageErrors() throws {
        for arguments in [["--lateness", "5x"], ["--lateness", "-1m"], ["--lateness", "8d"], ["--no-stdout"],
                          ["--bucket", "week"], ["--ip-mode", "hash"], ["--format", "syslog"]] {
            let crumb = try StreamingCrumb(arguments)
            crumb.closeInput()
            let result = crumb.finish()
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
        }
        let missing = try StreamingCrumb(["--key-file", "/no/such/key"])
        #expect(missing.finish().status == 74)
    }

    /// `crumb stream --help` is part of the interface: snapshotted.
    @Test func helpText() throws {
        let result = try crumb(["stream", "--help"])
        #expect(result.status == 0)
        let path = SharedData.projectRoot.appendingPathComponent("Tests/CrumbCLITests/Snapshots/help-stream.txt").path
        let outcome = GoldenFile.compare(Array(result.stdout.utf8), to: path)
        #expect(outcome == .match, "\(outcome)")
    }
}
